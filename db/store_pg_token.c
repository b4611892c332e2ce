/*
 * API tokens and the per-outcome chip counts on PostgreSQL.  See store.h
 * for the contracts, store_pg.h for the helpers.
 */
#include "store_pg.h"

#include <stdlib.h>
#include <string.h>

#define TOKEN_COLUMNS                                                          \
	"SELECT id, name, scope, created, last_used FROM api_tokens "

int pg_token_add(struct store *st, const char *name, const char *hash,
		 enum store_token_scope scope, int64_t created)
{
	struct pg_params p = { .n = 0 };
	int rc;

	if ((rc = pg_writable(st)) != 0)
		return rc;
	pg_text(&p, name);
	pg_text(&p, hash);
	pg_text(&p, store_token_scope_name(scope));
	pg_int(&p, created);
	rc = pg_query(st, "adding token",
		      "INSERT INTO api_tokens (name, hash, scope, created) "
		      "VALUES ($1, $2, $3, $4)",
		      &p, NULL);
	if (rc == STORE_EXISTS)
		pg_set_error(st, rc, "token %s already exists", name);
	return rc;
}

static int token_read(struct store *st, const PGresult *res, int row,
		      void *dest)
{
	struct store_token *t = dest;

	t->id = pg_col_int(res, row, 0);
	if (pg_col_text(st, res, row, 1, &t->name) != 0)
		return -1;
	/* The schema's CHECK admits only these two; unknown grants least. */
	t->scope = strcmp(PQgetvalue(res, row, 2), "write") == 0
		       ? STORE_TOKEN_WRITE
		       : STORE_TOKEN_READ;
	t->created = pg_col_int(res, row, 3);
	t->last_used = pg_col_int(res, row, 4);
	return 0;
}

int pg_token_find(struct store *st, const char *hash, struct store_token *out)
{
	struct pg_params p = { .n = 0 };
	PGresult *res;
	int rc;

	memset(out, 0, sizeof(*out));
	pg_text(&p, hash);
	if ((rc = pg_query_row(st, "token", TOKEN_COLUMNS "WHERE hash = $1", &p,
			       &res)) != 0)
		return rc;
	rc = token_read(st, res, 0, out);
	PQclear(res);
	return rc;
}

int pg_token_used(struct store *st, int64_t id, int64_t when)
{
	struct pg_params p = { .n = 0 };

	pg_int(&p, id);
	pg_int(&p, when);
	return pg_query(st, "noting token use",
			"UPDATE api_tokens SET last_used = $2 WHERE id = $1",
			&p, NULL);
}

static void token_row_free(void *row)
{
	store_token_free(row);
}

int pg_token_list(struct store *st, struct store_token **out, size_t *n)
{
	PGresult *res;
	int rc;

	*out = NULL;
	*n = 0;
	if ((rc = pg_query(st, "listing tokens", TOKEN_COLUMNS "ORDER BY name",
			   NULL, &res)) != 0)
		return rc;
	return pg_read_list(st, res, sizeof(**out), token_read, token_row_free,
			    (void **)out, n);
}

int pg_token_remove(struct store *st, const char *name)
{
	struct pg_params p = { .n = 0 };
	PGresult *res;
	int rc;

	if ((rc = pg_writable(st)) != 0)
		return rc;
	pg_text(&p, name);
	if ((rc = pg_query(st, "removing token",
			   "DELETE FROM api_tokens WHERE name = $1", &p,
			   &res)) != 0)
		return rc;
	rc = strcmp(PQcmdTuples(res), "0") == 0
		 ? pg_set_error(st, STORE_NOTFOUND, "no such token: %s", name)
		 : 0;
	PQclear(res);
	return rc;
}

int pg_chip_outcome_counts(struct store *st,
			   int (*fn)(const char *outcome, int64_t count,
				     void *arg),
			   void *arg)
{
	PGresult *res;
	int rc, i;

	/* NULLS FIRST: the order SQLite gives ("never" first). */
	if ((rc = pg_query(st, "counting chips",
			   "SELECT last_outcome, count(*) FROM chips GROUP BY "
			   "last_outcome ORDER BY last_outcome NULLS FIRST",
			   NULL, &res)) != 0)
		return rc;
	for (i = 0; i < PQntuples(res); i++)
		if (fn(PQgetisnull(res, i, 0) ? "never" : PQgetvalue(res, i, 0),
		       pg_col_int(res, i, 1), arg) != 0)
			break;
	PQclear(res);
	return 0;
}
