/*
 * Groups on PostgreSQL: their repository, files, config overrides and
 * size policy.  See store.h for the contracts, store_pg.h for the
 * helpers.
 */
#include "store_pg.h"

#include <stdlib.h>
#include <string.h>

#include "proto/protocol.h"

#define GROUP_COLUMNS                                                          \
	"SELECT g.id, g.name, g.repo_id, r.name, g.config_json, "              \
	"g.max_file_size, g.lua_version, g.release FROM groups g "             \
	"JOIN repositories r ON r.id = g.repo_id "

/* The id of the repository g names (by name, else by id). */
static int repo_of(struct store *st, const struct store_group *g,
		   int64_t *repo_id)
{
	struct store_repo repo;
	int rc = g->repo_name != NULL
		     ? store_repo_get(st, g->repo_name, &repo)
		     : store_repo_get_id(st, g->repo_id, &repo);

	*repo_id = repo.id;
	store_repo_free(&repo);
	if (rc == STORE_NOTFOUND)
		pg_set_error(st, rc, "group %s: no such repository", g->name);
	return rc;
}

/* Writes g's file list under group_id, inside the caller's transaction. */
static int files_write(struct store *st, int64_t group_id,
		       const struct store_group *g)
{
	struct pg_params p;
	size_t i;
	int rc;

	for (i = 0; i < g->nfiles; i++) {
		if ((unsigned)g->files[i].action >= STORE_ACTIONS)
			return pg_set_error(st, -1,
					    "group %s: file %s: bad action",
					    g->name, g->files[i].name);
		p.n = 0;
		pg_int(&p, group_id);
		pg_int(&p, (int64_t)i);
		pg_text(&p, g->files[i].name);
		pg_text(&p, store_action_names[g->files[i].action]);
		rc = pg_query(st, "adding group file",
			      "INSERT INTO group_files (group_id, position, "
			      "name, action) VALUES ($1, $2, $3, $4)",
			      &p, NULL);
		if (rc == STORE_EXISTS)
			pg_set_error(st, rc, "group %s: file %s listed twice",
				     g->name, g->files[i].name);
		if (rc != 0)
			return rc;
	}
	return 0;
}

int pg_group_add(struct store *st, const struct store_group *g)
{
	struct pg_params p = { .n = 0 };
	PGresult *res;
	int64_t repo_id;
	int rc;

	if ((rc = pg_writable(st)) != 0 || (rc = pg_begin(st)) != 0)
		return rc;
	if ((rc = repo_of(st, g, &repo_id)) != 0)
		goto fail;
	pg_text(&p, g->name);
	pg_int(&p, repo_id);
	pg_text(&p, g->config_json);
	pg_int(&p, g->max_file_size);
	pg_int(&p, g->lua_version != 0 ? g->lua_version : LUAOTA_LUA_51);
	rc = pg_query(st, "adding group",
		      "INSERT INTO groups (name, repo_id, config_json, "
		      "max_file_size, lua_version) VALUES ($1, $2, $3, $4, $5) "
		      "RETURNING id",
		      &p, &res);
	if (rc == STORE_EXISTS)
		pg_set_error(st, rc, "group %s already exists", g->name);
	if (rc != 0)
		goto fail;
	rc = files_write(st, pg_col_int(res, 0, 0), g);
	PQclear(res);
	if (rc != 0 || (rc = pg_commit(st)) != 0)
		goto fail;
	return 0;
fail:
	pg_rollback(st);
	return rc;
}

/* Row row of a GROUP_COLUMNS result, then its files, into out. */
static int group_read(struct store *st, const PGresult *res, int row,
		      struct store_group *out)
{
	struct pg_params p = { .n = 0 };
	PGresult *files;
	int rc, i;

	memset(out, 0, sizeof(*out));
	out->id = pg_col_int(res, row, 0);
	out->repo_id = pg_col_int(res, row, 2);
	out->max_file_size = pg_col_int(res, row, 5);
	out->lua_version = (int)pg_col_int(res, row, 6);
	if (pg_col_text(st, res, row, 1, &out->name) != 0 ||
	    pg_col_text(st, res, row, 3, &out->repo_name) != 0 ||
	    pg_col_text(st, res, row, 4, &out->config_json) != 0 ||
	    pg_col_text(st, res, row, 7, &out->release) != 0)
		goto fail;
	pg_int(&p, out->id);
	if ((rc = pg_query(st, "reading group files",
			   "SELECT name, action FROM group_files WHERE "
			   "group_id = $1 ORDER BY position",
			   &p, &files)) != 0) {
		store_group_free(out);
		return rc;
	}
	if (PQntuples(files) > 0 &&
	    (out->files = calloc((size_t)PQntuples(files),
				 sizeof(*out->files))) == NULL) {
		PQclear(files);
		goto fail;
	}
	for (i = 0; i < PQntuples(files); i++) {
		if (pg_col_text(st, files, i, 0, &out->files[i].name) != 0) {
			PQclear(files);
			goto fail;
		}
		out->files[i].action =
		    store_action_parse(PQgetvalue(files, i, 1));
		out->nfiles++;
	}
	PQclear(files);
	return 0;
fail:
	store_group_free(out);
	return pg_set_error(st, -1, "out of memory");
}

/* Reads one group by a GROUP_COLUMNS query, in one snapshot. */
static int group_get(struct store *st, const char *where,
		     const struct pg_params *p, struct store_group *out)
{
	char sql[512];
	PGresult *res;
	int rc, own = !st->in_tx;

	memset(out, 0, sizeof(*out));
	snprintf(sql, sizeof(sql), "%s%s", GROUP_COLUMNS, where);
	if (own &&
	    (rc = pg_query(st, "BEGIN", "BEGIN ISOLATION LEVEL REPEATABLE READ",
			   NULL, NULL)) != 0)
		return rc;
	st->in_tx = 1;
	if ((rc = pg_query_row(st, "group", sql, p, &res)) == 0) {
		rc = group_read(st, res, 0, out);
		PQclear(res);
	}
	if (own) {
		if (rc == 0)
			rc = pg_commit(st);
		else
			pg_rollback(st);
	}
	if (rc != 0)
		store_group_free(out);
	return rc;
}

int pg_group_get(struct store *st, const char *name, struct store_group *out)
{
	struct pg_params p = { .n = 0 };

	pg_text(&p, name);
	return group_get(st, "WHERE g.name = $1", &p, out);
}

int pg_group_get_id(struct store *st, int64_t id, struct store_group *out)
{
	struct pg_params p = { .n = 0 };

	pg_int(&p, id);
	return group_get(st, "WHERE g.id = $1", &p, out);
}

/* The id of group name into *id, inside the caller's transaction. */
int pg_group_id_of(struct store *st, const char *name, int64_t *id)
{
	struct pg_params p = { .n = 0 };
	PGresult *res;
	int rc;

	pg_text(&p, name);
	rc = pg_query_row(st, "group", "SELECT id FROM groups WHERE name = $1",
			  &p, &res);
	if (rc == STORE_NOTFOUND)
		pg_set_error(st, rc, "no such group: %s", name);
	if (rc != 0)
		return rc;
	*id = pg_col_int(res, 0, 0);
	PQclear(res);
	return 0;
}

int pg_group_update(struct store *st, const struct store_group *g)
{
	struct pg_params p = { .n = 0 };
	int64_t group_id, repo_id;
	int rc;

	if ((rc = pg_writable(st)) != 0 || (rc = pg_begin(st)) != 0)
		return rc;
	/* The row first, locked: a concurrent change waits for this one. */
	if ((rc = pg_group_id_of(st, g->name, &group_id)) != 0 ||
	    (rc = repo_of(st, g, &repo_id)) != 0)
		goto fail;
	pg_int(&p, group_id);
	pg_int(&p, repo_id);
	pg_text(&p, g->config_json);
	pg_int(&p, g->max_file_size);
	pg_int(&p, g->lua_version != 0 ? g->lua_version : LUAOTA_LUA_51);
	if ((rc = pg_query(st, "changing group",
			   "UPDATE groups SET repo_id = $2, config_json = $3, "
			   "max_file_size = $4, lua_version = $5 WHERE id = $1",
			   &p, NULL)) != 0)
		goto fail;
	p.n = 0;
	pg_int(&p, group_id);
	if ((rc = pg_query(st, "changing group",
			   "DELETE FROM group_files WHERE group_id = $1", &p,
			   NULL)) != 0 ||
	    (rc = files_write(st, group_id, g)) != 0 ||
	    (rc = pg_commit(st)) != 0)
		goto fail;
	return 0;
fail:
	pg_rollback(st);
	return rc;
}

int pg_group_list(struct store *st, struct store_group **out, size_t *n)
{
	PGresult *res;
	int rc, rows, i;

	*out = NULL;
	*n = 0;
	if ((rc = pg_query(st, "BEGIN", "BEGIN ISOLATION LEVEL REPEATABLE READ",
			   NULL, NULL)) != 0)
		return rc;
	st->in_tx = 1;
	if ((rc = pg_query(st, "listing groups",
			   GROUP_COLUMNS "ORDER BY g.name", NULL, &res)) != 0)
		goto fail;
	rows = PQntuples(res);
	if ((*out = calloc((size_t)rows + 1, sizeof(**out))) == NULL) {
		PQclear(res);
		rc = pg_set_error(st, -1, "out of memory");
		goto fail;
	}
	for (i = 0; i < rows; i++) {
		if ((rc = group_read(st, res, i, &(*out)[i])) != 0) {
			PQclear(res);
			store_group_list_free(*out, (size_t)i);
			*out = NULL;
			goto fail;
		}
	}
	PQclear(res);
	if ((rc = pg_commit(st)) != 0) {
		store_group_list_free(*out, (size_t)rows);
		*out = NULL;
		return rc;
	}
	*n = (size_t)rows;
	return 0;
fail:
	pg_rollback(st);
	return rc;
}

int pg_group_chips(struct store *st, int64_t group_id, int64_t *count)
{
	struct pg_params p = { .n = 0 };
	PGresult *res;
	int rc;

	pg_int(&p, group_id);
	if ((rc = pg_query_row(st, "counting chips",
			       "SELECT count(*) FROM chips WHERE group_id = $1",
			       &p, &res)) != 0)
		return rc;
	*count = pg_col_int(res, 0, 0);
	PQclear(res);
	return 0;
}

int pg_group_remove(struct store *st, const char *name)
{
	struct pg_params p = { .n = 0 };
	int64_t group_id, chips;
	int rc;

	if ((rc = pg_writable(st)) != 0 || (rc = pg_begin(st)) != 0)
		return rc;
	if ((rc = pg_group_id_of(st, name, &group_id)) != 0 ||
	    (rc = pg_group_chips(st, group_id, &chips)) != 0)
		goto fail;
	if (chips > 0) {
		rc =
		    pg_set_error(st, STORE_INUSE, "group %s has %lld chip%s",
				 name, (long long)chips, chips == 1 ? "" : "s");
		goto fail;
	}
	pg_int(&p, group_id);
	/* A chip added meanwhile makes the foreign key refuse: in use. */
	if ((rc = pg_query(st, "removing group",
			   "DELETE FROM groups WHERE id = $1", &p, NULL)) !=
		0 ||
	    (rc = pg_commit(st)) != 0)
		goto fail;
	return 0;
fail:
	pg_rollback(st);
	return rc;
}
