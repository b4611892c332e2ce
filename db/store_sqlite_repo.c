/*
 * Repositories: a directory, and the git ref served from it (or none). See
 * store.h for the contracts, store_sqlite.h for the helpers.
 */
#include "store_sqlite.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int sqlite_repo_add(struct store *st, const char *name, const char *path,
		    const char *ref)
{
	sqlite3_stmt *s = sq_stmt(st, ST_REPO_ADD);
	int rc;

	if (s == NULL)
		return -1;
	if (st->readonly)
		return sq_set_error(st, -1, "the database is open read-only");
	sq_bind_text(s, 1, name);
	sq_bind_text(s, 2, path);
	sq_bind_text(s, 3, ref);
	rc = sq_run(st, s, "adding repository");
	if (rc == STORE_EXISTS)
		sq_set_error(st, rc, "repository %s already exists", name);
	return rc;
}

/* Reads the current row of a REPO_COLUMNS query into a struct store_repo. */
static int repo_read(struct store *st, sqlite3_stmt *s, void *row)
{
	struct store_repo *out = row;

	out->id = sqlite3_column_int64(s, 0);
	if (sq_column_text(st, s, 1, &out->name) != 0 ||
	    sq_column_text(st, s, 2, &out->path) != 0 ||
	    sq_column_text(st, s, 3, &out->ref) != 0) {
		store_repo_free(out);
		return -1;
	}
	return 0;
}

/* Runs a bound repository query expected to return one row. */
static int repo_query(struct store *st, sqlite3_stmt *s, const char *what,
		      struct store_repo *out)
{
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = sq_step_row(st, s, what)) != 0)
		return rc;
	rc = repo_read(st, s, out);
	sqlite3_reset(s);
	return rc;
}

int sqlite_repo_get(struct store *st, const char *name, struct store_repo *out)
{
	sqlite3_stmt *s = sq_stmt(st, ST_REPO_GET);

	memset(out, 0, sizeof(*out));
	if (s == NULL)
		return -1;
	sq_bind_text(s, 1, name);
	return repo_query(st, s, "repository", out);
}

int sqlite_repo_get_id(struct store *st, int64_t id, struct store_repo *out)
{
	sqlite3_stmt *s = sq_stmt(st, ST_REPO_GET_ID);

	memset(out, 0, sizeof(*out));
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, id);
	return repo_query(st, s, "repository", out);
}

int sqlite_repo_find(struct store *st, const char *path, const char *ref,
		     struct store_repo *out)
{
	sqlite3_stmt *s = sq_stmt(st, ST_REPO_FIND);

	memset(out, 0, sizeof(*out));
	if (s == NULL)
		return -1;
	sq_bind_text(s, 1, path);
	sq_bind_text(s, 2, ref);
	return repo_query(st, s, "repository", out);
}

void store_repo_free(struct store_repo *r)
{
	if (r == NULL)
		return;
	free(r->name);
	free(r->path);
	free(r->ref);
	memset(r, 0, sizeof(*r));
}

static void repo_row_free(void *row)
{
	store_repo_free(row);
}

int sqlite_repo_list(struct store *st, struct store_repo **out, size_t *n)
{
	sqlite3_stmt *s = sq_stmt(st, ST_REPO_ALL);

	*out = NULL;
	*n = 0;
	if (s == NULL)
		return -1;
	return sq_read_list(st, s, "listing repositories", repo_read,
			    repo_row_free, sizeof(**out), (void **)out, n);
}

void store_repo_list_free(struct store_repo *r, size_t n)
{
	sq_list_free(r, n, sizeof(*r), repo_row_free);
}
