/*
 * Pulls: files an operator asked a chip to upload at its next check-in.
 * See store.h for the contracts, store_sqlite.h for the helpers.
 */
#include "store_sqlite.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int sqlite_pull_any_pending(struct store *st, int *any)
{
	sqlite3_stmt *s = sq_stmt(st, ST_PULL_ANY);
	int rc;

	if (s == NULL)
		return -1;
	if ((rc = sq_step_row(st, s, "pending pulls")) != 0)
		return rc;
	*any = sqlite3_column_int(s, 0) != 0;
	sqlite3_reset(s);
	return 0;
}

/* Pulls. */

int sqlite_pull_add(struct store *st, const char *chip_id, const char *name,
		    int64_t now, int64_t *id)
{
	sqlite3_stmt *s = sq_stmt(st, ST_PULL_ADD);
	int rc;

	if (s == NULL)
		return -1;
	if (st->readonly)
		return sq_set_error(st, -1, "the database is open read-only");
	sq_bind_text(s, 1, chip_id);
	sq_bind_text(s, 2, name);
	sqlite3_bind_int64(s, 3, now);
	if ((rc = sq_run(st, s, "adding a pull")) != 0) {
		if (rc == STORE_NOTFOUND)
			sq_set_error(st, rc, "no such chip: %s", chip_id);
		return rc;
	}
	*id = sqlite3_last_insert_rowid(st->db);
	return 0;
}

/* Reads the current row of a PULL_COLUMNS query (data column 8) into a
 * struct store_pull. */
static int pull_read(struct store *st, sqlite3_stmt *s, void *row)
{
	struct store_pull *out = row;
	const void *blob;

	memset(out, 0, sizeof(*out));
	out->id = sqlite3_column_int64(s, 0);
	out->requested = sqlite3_column_int64(s, 3);
	out->done = sqlite3_column_int64(s, 5);
	out->size = sqlite3_column_int64(s, 6);
	if (sq_column_text(st, s, 1, &out->chip_id) != 0 ||
	    sq_column_text(st, s, 2, &out->name) != 0 ||
	    sq_column_text(st, s, 4, &out->state) != 0 ||
	    sq_column_text(st, s, 7, &out->reason) != 0)
		return -1;
	if (sqlite3_column_type(s, 8) == SQLITE_BLOB) {
		size_t len = (size_t)sqlite3_column_bytes(s, 8);

		blob = sqlite3_column_blob(s, 8);
		if ((out->data = malloc(len + 1)) == NULL)
			return sq_set_error(st, -1, "out of memory");
		if (len > 0)
			memcpy(out->data, blob, len);
		out->data_len = len;
	}
	return 0;
}

static void pull_row_free(void *row)
{
	store_pull_free(row);
}

/* Runs a bound pull query into an array. */
static int pull_rows(struct store *st, sqlite3_stmt *s, struct store_pull **out,
		     size_t *n)
{
	return sq_read_list(st, s, "listing pulls", pull_read, pull_row_free,
			    sizeof(**out), (void **)out, n);
}

int sqlite_pull_pending(struct store *st, const char *chip_id,
			struct store_pull **out, size_t *n)
{
	sqlite3_stmt *s = sq_stmt(st, ST_PULL_PENDING);

	*out = NULL;
	*n = 0;
	if (s == NULL)
		return -1;
	sq_bind_text(s, 1, chip_id);
	return pull_rows(st, s, out, n);
}

int sqlite_pull_list(struct store *st, const char *chip_id,
		     struct store_pull **out, size_t *n)
{
	sqlite3_stmt *s =
	    sq_stmt(st, chip_id != NULL ? ST_PULL_LIST_CHIP : ST_PULL_LIST_ALL);

	*out = NULL;
	*n = 0;
	if (s == NULL)
		return -1;
	if (chip_id != NULL)
		sq_bind_text(s, 1, chip_id);
	return pull_rows(st, s, out, n);
}

int sqlite_pull_get(struct store *st, int64_t id, struct store_pull *out)
{
	sqlite3_stmt *s = sq_stmt(st, ST_PULL_GET);
	int rc;

	memset(out, 0, sizeof(*out));
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, id);
	if ((rc = sq_step_row(st, s, "pull")) != 0) {
		if (rc == STORE_NOTFOUND)
			sq_set_error(st, rc, "no such pull: %lld",
				     (long long)id);
		return rc;
	}
	rc = pull_read(st, s, out);
	sqlite3_reset(s);
	if (rc != 0)
		store_pull_free(out);
	return rc;
}

int sqlite_pull_finish(struct store *st, int64_t id, const char *state,
		       const uint8_t *data, size_t len, const char *reason,
		       int64_t now)
{
	sqlite3_stmt *s = sq_stmt(st, ST_PULL_FINISH);
	int rc;

	if (s == NULL)
		return -1;
	if (st->readonly)
		return sq_set_error(st, -1, "the database is open read-only");
	sqlite3_bind_int64(s, 1, id);
	sq_bind_text(s, 2, state);
	if (data != NULL)
		sqlite3_bind_blob64(s, 3, data, len, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, data != NULL ? (int64_t)len : -1);
	sq_bind_text(s, 5, reason);
	sqlite3_bind_int64(s, 6, now);
	if ((rc = sq_run(st, s, "finishing a pull")) != 0)
		return rc;
	if (sqlite3_changes(st->db) == 0)
		return sq_set_error(st, STORE_NOTFOUND, "no pending pull %lld",
				    (long long)id);
	return 0;
}

void store_pull_free(struct store_pull *p)
{
	if (p == NULL)
		return;
	free(p->chip_id);
	free(p->name);
	free(p->state);
	free(p->reason);
	free(p->data);
	memset(p, 0, sizeof(*p));
}

void store_pull_list_free(struct store_pull *p, size_t n)
{
	sq_list_free(p, n, sizeof(*p), pull_row_free);
}
