/*
 * API tokens, and the per-outcome chip counts luaotad's metrics report.
 * See store.h for the contracts, store_sqlite.h for the helpers.
 */
#include "store_sqlite.h"

#include <stdlib.h>
#include <string.h>

const char *store_token_scope_name(enum store_token_scope s)
{
	return s == STORE_TOKEN_WRITE ? "write" : "read";
}

int sqlite_token_add(struct store *st, const char *name, const char *hash,
		     enum store_token_scope scope, int64_t created)
{
	sqlite3_stmt *s = sq_stmt(st, ST_TOKEN_ADD);
	int rc;

	if (s == NULL)
		return -1;
	if (st->readonly)
		return sq_set_error(st, -1, "the database is open read-only");
	sq_bind_text(s, 1, name);
	sq_bind_text(s, 2, hash);
	sq_bind_text(s, 3, store_token_scope_name(scope));
	sqlite3_bind_int64(s, 4, created);
	rc = sq_run(st, s, "adding token");
	if (rc == STORE_EXISTS)
		sq_set_error(st, rc, "token %s already exists", name);
	return rc;
}

static int token_read(struct store *st, sqlite3_stmt *s, void *row)
{
	struct store_token *t = row;
	const unsigned char *scope;

	t->id = sqlite3_column_int64(s, 0);
	if (sq_column_text(st, s, 1, &t->name) != 0)
		return -1;
	scope = sqlite3_column_text(s, 2);
	/* The schema's CHECK admits only these two; unknown grants least. */
	t->scope = scope != NULL && strcmp((const char *)scope, "write") == 0
		       ? STORE_TOKEN_WRITE
		       : STORE_TOKEN_READ;
	t->created = sqlite3_column_int64(s, 3);
	t->last_used = sqlite3_column_int64(s, 4);
	return 0;
}

static void token_free_row(void *row)
{
	store_token_free(row);
}

void store_token_free(struct store_token *t)
{
	if (t == NULL)
		return;
	free(t->name);
	t->name = NULL;
}

void store_token_list_free(struct store_token *t, size_t n)
{
	sq_list_free(t, n, sizeof(*t), token_free_row);
}

int sqlite_token_find(struct store *st, const char *hash,
		      struct store_token *out)
{
	sqlite3_stmt *s = sq_stmt(st, ST_TOKEN_FIND);
	int rc;

	memset(out, 0, sizeof(*out));
	if (s == NULL)
		return -1;
	sq_bind_text(s, 1, hash);
	rc = sq_step_row(st, s, "token");
	if (rc == 0 && token_read(st, s, out) != 0) {
		store_token_free(out);
		rc = -1;
	}
	sqlite3_reset(s);
	return rc;
}

int sqlite_token_used(struct store *st, int64_t id, int64_t when)
{
	sqlite3_stmt *s = sq_stmt(st, ST_TOKEN_USED);

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_int64(s, 2, when);
	return sq_run(st, s, "noting token use");
}

int sqlite_token_list(struct store *st, struct store_token **out, size_t *n)
{
	sqlite3_stmt *s = sq_stmt(st, ST_TOKEN_LIST);

	*out = NULL;
	*n = 0;
	if (s == NULL)
		return -1;
	return sq_read_list(st, s, "listing tokens", token_read, token_free_row,
			    sizeof(**out), (void **)out, n);
}

int sqlite_token_remove(struct store *st, const char *name)
{
	sqlite3_stmt *s = sq_stmt(st, ST_TOKEN_REMOVE);
	int rc;

	if (s == NULL)
		return -1;
	if (st->readonly)
		return sq_set_error(st, -1, "the database is open read-only");
	sq_bind_text(s, 1, name);
	if ((rc = sq_run(st, s, "removing token")) != 0)
		return rc;
	if (sqlite3_changes(st->db) == 0)
		return sq_set_error(st, STORE_NOTFOUND, "no such token: %s",
				    name);
	return 0;
}

int sqlite_chip_outcome_counts(struct store *st,
			       int (*fn)(const char *outcome, int64_t count,
					 void *arg),
			       void *arg)
{
	sqlite3_stmt *s = sq_stmt(st, ST_CHIP_OUTCOMES);
	int rc;

	if (s == NULL)
		return -1;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const unsigned char *o = sqlite3_column_text(s, 0);

		if (fn(o != NULL ? (const char *)o : "never",
		       sqlite3_column_int64(s, 1), arg) != 0) {
			sqlite3_reset(s);
			return 0;
		}
	}
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : sq_sql_error(st, rc, "counting chips");
}
