/*
 * Repositories on PostgreSQL.  See store.h for the contracts,
 * store_pg.h for the helpers.
 */
#include "store_pg.h"

#include <stdlib.h>
#include <string.h>

#define REPO_COLUMNS "SELECT id, name, path, ref FROM repositories "

int pg_repo_add(struct store *st, const char *name, const char *path,
		const char *ref)
{
	struct pg_params p = { .n = 0 };
	int rc;

	if ((rc = pg_writable(st)) != 0)
		return rc;
	pg_text(&p, name);
	pg_text(&p, path);
	pg_text(&p, ref);
	rc = pg_query(st, "adding repository",
		      "INSERT INTO repositories (name, path, ref) "
		      "VALUES ($1, $2, $3)",
		      &p, NULL);
	if (rc == STORE_EXISTS)
		pg_set_error(st, rc, "repository %s already exists", name);
	return rc;
}

/* Row row of a REPO_COLUMNS result into out; -1 when out of memory. */
static int repo_read(struct store *st, const PGresult *res, int row, void *dest)
{
	struct store_repo *out = dest;

	out->id = pg_col_int(res, row, 0);
	if (pg_col_text(st, res, row, 1, &out->name) != 0 ||
	    pg_col_text(st, res, row, 2, &out->path) != 0 ||
	    pg_col_text(st, res, row, 3, &out->ref) != 0) {
		store_repo_free(out);
		return -1;
	}
	return 0;
}

static int repo_one(struct store *st, const char *sql,
		    const struct pg_params *p, struct store_repo *out)
{
	PGresult *res;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = pg_query_row(st, "repository", sql, p, &res)) != 0)
		return rc;
	rc = repo_read(st, res, 0, out);
	PQclear(res);
	return rc;
}

int pg_repo_get(struct store *st, const char *name, struct store_repo *out)
{
	struct pg_params p = { .n = 0 };

	pg_text(&p, name);
	return repo_one(st, REPO_COLUMNS "WHERE name = $1", &p, out);
}

int pg_repo_get_id(struct store *st, int64_t id, struct store_repo *out)
{
	struct pg_params p = { .n = 0 };

	pg_int(&p, id);
	return repo_one(st, REPO_COLUMNS "WHERE id = $1", &p, out);
}

int pg_repo_find(struct store *st, const char *path, const char *ref,
		 struct store_repo *out)
{
	struct pg_params p = { .n = 0 };

	pg_text(&p, path);
	pg_text(&p, ref);
	return repo_one(st,
			REPO_COLUMNS "WHERE path = $1 AND ref IS NOT DISTINCT "
				     "FROM $2 ORDER BY id LIMIT 1",
			&p, out);
}

static void repo_row_free(void *row)
{
	store_repo_free(row);
}

int pg_repo_list(struct store *st, struct store_repo **out, size_t *n)
{
	PGresult *res;
	int rc;

	*out = NULL;
	*n = 0;
	if ((rc = pg_query(st, "listing repositories",
			   REPO_COLUMNS "ORDER BY name", NULL, &res)) != 0)
		return rc;
	return pg_read_list(st, res, sizeof(**out), repo_read, repo_row_free,
			    (void **)out, n);
}
