/*
 * Groups: their repository, files, config overrides and size policy. See
 * store.h for the contracts, store_sqlite.h for the helpers.
 */
#include "store_sqlite.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/protocol.h"

int sqlite_group_add(struct store *st, const struct store_group *g)
{
	sqlite3_stmt *s;
	struct store_repo repo;
	int64_t repo_id = g->repo_id, group_id;
	size_t i;
	int rc;

	if ((rc = sq_tx_write(st)) != 0)
		return rc;
	if (g->repo_name != NULL) {
		rc = store_repo_get(st, g->repo_name, &repo);
		repo_id = repo.id;
		store_repo_free(&repo);
	} else {
		rc = store_repo_get_id(st, repo_id, &repo);
		store_repo_free(&repo);
	}
	if (rc == STORE_NOTFOUND)
		sq_set_error(st, rc, "group %s: no such repository", g->name);
	if (rc != 0)
		goto fail;
	if ((s = sq_stmt(st, ST_GROUP_ADD)) == NULL) {
		rc = -1;
		goto fail;
	}
	sq_bind_text(s, 1, g->name);
	sqlite3_bind_int64(s, 2, repo_id);
	sq_bind_text(s, 3, g->config_json);
	sqlite3_bind_int64(s, 4, g->max_file_size);
	sqlite3_bind_int(s, 5,
			 g->lua_version != 0 ? g->lua_version : LUAOTA_LUA_51);
	if ((rc = sq_run(st, s, "adding group")) != 0) {
		if (rc == STORE_EXISTS)
			sq_set_error(st, rc, "group %s already exists",
				     g->name);
		goto fail;
	}
	group_id = sqlite3_last_insert_rowid(st->db);
	for (i = 0; i < g->nfiles; i++) {
		if ((s = sq_stmt(st, ST_GROUP_FILE_ADD)) == NULL) {
			rc = -1;
			goto fail;
		}
		if ((unsigned)g->files[i].action >= STORE_ACTIONS) {
			rc = sq_set_error(st, -1,
					  "group %s: file %s: bad action",
					  g->name, g->files[i].name);
			goto fail;
		}
		sqlite3_bind_int64(s, 1, group_id);
		sqlite3_bind_int64(s, 2, (int64_t)i);
		sq_bind_text(s, 3, g->files[i].name);
		sq_bind_text(s, 4, store_action_names[g->files[i].action]);
		if ((rc = sq_run(st, s, "adding group file")) != 0) {
			if (rc == STORE_EXISTS)
				sq_set_error(st, rc,
					     "group %s: file %s listed "
					     "twice",
					     g->name, g->files[i].name);
			goto fail;
		}
	}
	if ((rc = sq_tx_commit(st)) != 0)
		goto fail;
	return 0;
fail:
	sq_tx_rollback(st);
	return rc;
}

/* Reads one ST_GROUP_FILES row into a struct store_group_file. */
static int group_file_read(struct store *st, sqlite3_stmt *s, void *row)
{
	struct store_group_file *f = row;
	char *action;

	if (sq_column_text(st, s, 0, &f->name) != 0 ||
	    sq_column_text(st, s, 1, &action) != 0)
		return -1;
	f->action = store_action_parse(action);
	free(action);
	return 0;
}

static void group_file_row_free(void *row)
{
	free(((struct store_group_file *)row)->name);
}

/* Reads a group's file list into out. */
static int group_files_read(struct store *st, struct store_group *out)
{
	sqlite3_stmt *s = sq_stmt(st, ST_GROUP_FILES);

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, out->id);
	return sq_read_list(st, s, "reading group files", group_file_read,
			    group_file_row_free, sizeof(*out->files),
			    (void **)&out->files, &out->nfiles);
}

/* Runs a bound GROUP_COLUMNS query, then reads the group's files. */
static int group_query(struct store *st, sqlite3_stmt *s,
		       struct store_group *out)
{
	int rc;

	if ((rc = sq_step_row(st, s, "group")) != 0)
		return rc;
	out->id = sqlite3_column_int64(s, 0);
	out->repo_id = sqlite3_column_int64(s, 2);
	out->max_file_size = sqlite3_column_int64(s, 5);
	out->lua_version = sqlite3_column_int(s, 6);
	if (sq_column_text(st, s, 1, &out->name) != 0 ||
	    sq_column_text(st, s, 3, &out->repo_name) != 0 ||
	    sq_column_text(st, s, 4, &out->config_json) != 0 ||
	    sq_column_text(st, s, 7, &out->release) != 0) {
		sqlite3_reset(s);
		return -1;
	}
	sqlite3_reset(s);
	return group_files_read(st, out);
}

/* Reads one group by name (name non-NULL) or id, in one snapshot. */
static int group_get(struct store *st, const char *name, int64_t id,
		     struct store_group *out)
{
	sqlite3_stmt *s;
	int rc, own;

	memset(out, 0, sizeof(*out));
	if ((rc = sq_tx_read(st, &own)) != 0)
		return rc;
	s = sq_stmt(st, name != NULL ? ST_GROUP_GET : ST_GROUP_GET_ID);
	if (s == NULL) {
		rc = -1;
	} else {
		if (name != NULL)
			sq_bind_text(s, 1, name);
		else
			sqlite3_bind_int64(s, 1, id);
		rc = group_query(st, s, out);
	}
	if ((rc = sq_tx_read_end(st, own, rc)) != 0)
		store_group_free(out);
	return rc;
}

int sqlite_group_get(struct store *st, const char *name,
		     struct store_group *out)
{
	return group_get(st, name, 0, out);
}

int sqlite_group_get_id(struct store *st, int64_t id, struct store_group *out)
{
	return group_get(st, NULL, id, out);
}

void store_group_free(struct store_group *g)
{
	size_t i;

	if (g == NULL)
		return;
	for (i = 0; i < g->nfiles; i++)
		free(g->files[i].name);
	free(g->files);
	free(g->name);
	free(g->repo_name);
	free(g->config_json);
	free(g->release);
	memset(g, 0, sizeof(*g));
}

/* The id of group name into *id, inside the caller's transaction. */
int sq_group_id_of(struct store *st, const char *name, int64_t *id)
{
	sqlite3_stmt *s = sq_stmt(st, ST_GROUP_ID);
	int rc;

	if (s == NULL)
		return -1;
	sq_bind_text(s, 1, name);
	if ((rc = sq_step_row(st, s, "group")) != 0) {
		if (rc == STORE_NOTFOUND)
			sq_set_error(st, rc, "no such group: %s", name);
		return rc;
	}
	*id = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return 0;
}

/* Inserts g's file list under group_id, inside the caller's transaction. */
static int group_files_write(struct store *st, int64_t group_id,
			     const struct store_group *g)
{
	sqlite3_stmt *s;
	size_t i;
	int rc;

	for (i = 0; i < g->nfiles; i++) {
		if ((s = sq_stmt(st, ST_GROUP_FILE_ADD)) == NULL)
			return -1;
		if ((unsigned)g->files[i].action >= STORE_ACTIONS)
			return sq_set_error(st, -1,
					    "group %s: file %s: bad action",
					    g->name, g->files[i].name);
		sqlite3_bind_int64(s, 1, group_id);
		sqlite3_bind_int64(s, 2, (int64_t)i);
		sq_bind_text(s, 3, g->files[i].name);
		sq_bind_text(s, 4, store_action_names[g->files[i].action]);
		if ((rc = sq_run(st, s, "adding group file")) != 0) {
			if (rc == STORE_EXISTS)
				sq_set_error(st, rc,
					     "group %s: file %s listed twice",
					     g->name, g->files[i].name);
			return rc;
		}
	}
	return 0;
}

int sqlite_group_update(struct store *st, const struct store_group *g)
{
	struct store_repo repo;
	sqlite3_stmt *s;
	int64_t group_id, repo_id = g->repo_id;
	int rc;

	if ((rc = sq_tx_write(st)) != 0)
		return rc;
	if ((rc = sq_group_id_of(st, g->name, &group_id)) != 0)
		goto fail;
	if (g->repo_name != NULL)
		rc = store_repo_get(st, g->repo_name, &repo);
	else
		rc = store_repo_get_id(st, repo_id, &repo);
	repo_id = repo.id;
	store_repo_free(&repo);
	if (rc == STORE_NOTFOUND)
		sq_set_error(st, rc, "group %s: no such repository", g->name);
	if (rc != 0)
		goto fail;
	if ((s = sq_stmt(st, ST_GROUP_UPDATE)) == NULL) {
		rc = -1;
		goto fail;
	}
	sqlite3_bind_int64(s, 1, group_id);
	sqlite3_bind_int64(s, 2, repo_id);
	sq_bind_text(s, 3, g->config_json);
	sqlite3_bind_int64(s, 4, g->max_file_size);
	sqlite3_bind_int(s, 5,
			 g->lua_version != 0 ? g->lua_version : LUAOTA_LUA_51);
	if ((rc = sq_run(st, s, "changing group")) != 0)
		goto fail;
	if ((s = sq_stmt(st, ST_GROUP_FILES_CLEAR)) == NULL) {
		rc = -1;
		goto fail;
	}
	sqlite3_bind_int64(s, 1, group_id);
	if ((rc = sq_run(st, s, "changing group files")) != 0 ||
	    (rc = group_files_write(st, group_id, g)) != 0 ||
	    (rc = sq_tx_commit(st)) != 0)
		goto fail;
	return 0;
fail:
	sq_tx_rollback(st);
	return rc;
}

/* Reads an id (column 0) into an int64_t. */
static int id_read(struct store *st, sqlite3_stmt *s, void *row)
{
	(void)st;
	*(int64_t *)row = sqlite3_column_int64(s, 0);
	return 0;
}

int sqlite_group_list(struct store *st, struct store_group **out, size_t *n)
{
	struct store_group *groups = NULL;
	int64_t *ids = NULL;
	size_t count = 0, i;
	sqlite3_stmt *s;
	int rc, own;

	*out = NULL;
	*n = 0;
	if ((rc = sq_tx_read(st, &own)) != 0)
		return rc;
	if ((s = sq_stmt(st, ST_GROUP_ALL)) == NULL)
		return sq_tx_read_end(st, own, -1);
	if ((rc = sq_read_list(st, s, "listing groups", id_read, NULL,
			       sizeof(*ids), (void **)&ids, &count)) != 0)
		goto done;
	if ((groups = calloc(count + 1, sizeof(*groups))) == NULL) {
		rc = sq_set_error(st, -1, "out of memory");
		goto done;
	}
	for (i = 0; i < count && rc == 0; i++)
		rc = group_get(st, NULL, ids[i], &groups[i]);
done:
	free(ids);
	if ((rc = sq_tx_read_end(st, own, rc)) != 0) {
		store_group_list_free(groups, count);
		return rc;
	}
	*out = groups;
	*n = count;
	return 0;
}

static void group_row_free(void *row)
{
	store_group_free(row);
}

void store_group_list_free(struct store_group *g, size_t n)
{
	sq_list_free(g, n, sizeof(*g), group_row_free);
}

/* How many chips belong to group_id, inside the caller's snapshot. */
static int group_chips(struct store *st, int64_t group_id, int64_t *count)
{
	sqlite3_stmt *s = sq_stmt(st, ST_GROUP_CHIPS);
	int rc;

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, group_id);
	if ((rc = sq_step_row(st, s, "counting chips")) != 0)
		return rc;
	*count = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return 0;
}

int sqlite_group_chips(struct store *st, int64_t group_id, int64_t *count)
{
	return group_chips(st, group_id, count);
}

int sqlite_group_remove(struct store *st, const char *name)
{
	sqlite3_stmt *s;
	int64_t group_id, chips;
	int rc;

	if ((rc = sq_tx_write(st)) != 0)
		return rc;
	if ((rc = sq_group_id_of(st, name, &group_id)) != 0 ||
	    (rc = group_chips(st, group_id, &chips)) != 0)
		goto fail;
	if (chips > 0) {
		rc =
		    sq_set_error(st, STORE_INUSE, "group %s has %lld chip%s",
				 name, (long long)chips, chips == 1 ? "" : "s");
		goto fail;
	}
	if ((s = sq_stmt(st, ST_GROUP_REMOVE)) == NULL) {
		rc = -1;
		goto fail;
	}
	sqlite3_bind_int64(s, 1, group_id);
	if ((rc = sq_run(st, s, "removing group")) != 0 ||
	    (rc = sq_tx_commit(st)) != 0)
		goto fail;
	return 0;
fail:
	sq_tx_rollback(st);
	return rc;
}
