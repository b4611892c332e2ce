/*
 * Pulls on PostgreSQL: files an operator asked a chip to upload at its
 * next check-in.  See store.h for the contracts, store_pg.h for the
 * helpers.
 */
#include "store_pg.h"

#include <stdlib.h>
#include <string.h>

#define PULL_COLUMNS                                                           \
	"SELECT id, chip_id, name, requested, state, done, size, reason"

int pg_pull_any_pending(struct store *st, int *any)
{
	PGresult *res;
	int rc;

	if ((rc = pg_query_row(st, "pending pulls",
			       "SELECT EXISTS (SELECT 1 FROM pulls WHERE state "
			       "= 'pending')",
			       NULL, &res)) != 0)
		return rc;
	*any = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return 0;
}

int pg_pull_add(struct store *st, const char *chip_id, const char *name,
		int64_t now, int64_t *id)
{
	struct pg_params p = { .n = 0 };
	PGresult *res;
	int rc;

	if ((rc = pg_writable(st)) != 0)
		return rc;
	pg_text(&p, chip_id);
	pg_text(&p, name);
	pg_int(&p, now);
	rc = pg_query(st, "adding a pull",
		      "INSERT INTO pulls (chip_id, name, requested) VALUES "
		      "($1, $2, $3) RETURNING id",
		      &p, &res);
	/* The chip the foreign key refers to is not there. */
	if (rc == STORE_NOTFOUND)
		return pg_set_error(st, STORE_NOTFOUND, "no such chip: %s",
				    chip_id);
	if (rc != 0)
		return rc;
	*id = pg_col_int(res, 0, 0);
	PQclear(res);
	return 0;
}

/* Row row of a PULL_COLUMNS result (data: column 8, if selected). */
static int pull_read(struct store *st, const PGresult *res, int row, void *dest)
{
	struct store_pull *out = dest;

	memset(out, 0, sizeof(*out));
	out->id = pg_col_int(res, row, 0);
	out->requested = pg_col_int(res, row, 3);
	out->done = pg_col_int(res, row, 5);
	out->size = pg_col_int(res, row, 6);
	if (pg_col_text(st, res, row, 1, &out->chip_id) != 0 ||
	    pg_col_text(st, res, row, 2, &out->name) != 0 ||
	    pg_col_text(st, res, row, 4, &out->state) != 0 ||
	    pg_col_text(st, res, row, 7, &out->reason) != 0)
		goto fail;
	if (PQnfields(res) > 8 && !PQgetisnull(res, row, 8)) {
		size_t len;
		unsigned char *bytes = PQunescapeBytea(
		    (const unsigned char *)PQgetvalue(res, row, 8), &len);

		if (bytes == NULL || (out->data = malloc(len + 1)) == NULL) {
			PQfreemem(bytes);
			goto fail;
		}
		memcpy(out->data, bytes, len);
		out->data_len = len;
		PQfreemem(bytes);
	}
	return 0;
fail:
	store_pull_free(out);
	return pg_set_error(st, -1, "out of memory");
}

static void pull_row_free(void *row)
{
	store_pull_free(row);
}

static int pull_rows(struct store *st, const char *sql,
		     const struct pg_params *p, struct store_pull **out,
		     size_t *n)
{
	PGresult *res;
	int rc;

	*out = NULL;
	*n = 0;
	if ((rc = pg_query(st, "listing pulls", sql, p, &res)) != 0)
		return rc;
	return pg_read_list(st, res, sizeof(**out), pull_read, pull_row_free,
			    (void **)out, n);
}

int pg_pull_pending(struct store *st, const char *chip_id,
		    struct store_pull **out, size_t *n)
{
	struct pg_params p = { .n = 0 };

	pg_text(&p, chip_id);
	return pull_rows(st,
			 PULL_COLUMNS " FROM pulls WHERE chip_id = $1 AND "
				      "state = 'pending' ORDER BY id",
			 &p, out, n);
}

int pg_pull_list(struct store *st, const char *chip_id, struct store_pull **out,
		 size_t *n)
{
	struct pg_params p = { .n = 0 };

	pg_text(&p, chip_id);
	return pull_rows(st,
			 PULL_COLUMNS " FROM pulls WHERE $1::text IS NULL OR "
				      "chip_id = $1 ORDER BY id DESC",
			 &p, out, n);
}

int pg_pull_get(struct store *st, int64_t id, struct store_pull *out)
{
	struct pg_params p = { .n = 0 };
	PGresult *res;
	int rc;

	memset(out, 0, sizeof(*out));
	pg_int(&p, id);
	rc = pg_query_row(st, "pull",
			  PULL_COLUMNS ", data FROM pulls WHERE id = $1", &p,
			  &res);
	if (rc == STORE_NOTFOUND)
		return pg_set_error(st, rc, "no such pull: %lld",
				    (long long)id);
	if (rc != 0)
		return rc;
	rc = pull_read(st, res, 0, out);
	PQclear(res);
	return rc;
}

int pg_pull_finish(struct store *st, int64_t id, const char *state,
		   const uint8_t *data, size_t len, const char *reason,
		   int64_t now)
{
	struct pg_params p = { .n = 0 };
	unsigned char *hex = NULL;
	PGresult *res;
	size_t hex_len;
	int rc;

	if ((rc = pg_writable(st)) != 0)
		return rc;
	/* bytea's hex text form ("\x..."): a text parameter like the rest. */
	if (data != NULL &&
	    (hex = PQescapeByteaConn(st->conn, data, len, &hex_len)) == NULL)
		return pg_set_error(st, -1, "out of memory");
	pg_int(&p, id);
	pg_text(&p, state);
	pg_text(&p, (const char *)hex);
	pg_int(&p, data != NULL ? (int64_t)len : -1);
	pg_text(&p, reason);
	pg_int(&p, now);
	rc = pg_query(st, "finishing a pull",
		      "UPDATE pulls SET state = $2, data = $3::bytea, size = "
		      "$4, reason = $5, done = $6 WHERE id = $1 AND state = "
		      "'pending'",
		      &p, &res);
	PQfreemem(hex);
	if (rc != 0)
		return rc;
	rc = strcmp(PQcmdTuples(res), "0") == 0
		 ? pg_set_error(st, STORE_NOTFOUND, "no pending pull %lld",
				(long long)id)
		 : 0;
	PQclear(res);
	return rc;
}
