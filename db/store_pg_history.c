/*
 * The history on PostgreSQL: session rows, their per-file rows, batched
 * check-ins, and the queries luaotactl history runs.  See store.h for the
 * contracts, store_pg.h for the helpers.
 */
#include "store_pg.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Appends text to a growing buffer; -1 when out of memory. */
static int append(char **buf, size_t *len, size_t *cap, const char *text,
		  size_t n)
{
	if (*len + n + 1 > *cap) {
		size_t want = (*cap + n + 1) * 2;
		char *grown = realloc(*buf, want);

		if (grown == NULL)
			return -1;
		*buf = grown;
		*cap = want;
	}
	memcpy(*buf + *len, text, n);
	*len += n;
	(*buf)[*len] = '\0';
	return 0;
}

/* An array literal of n texts (field at offset off of each row; NULL as
 * NULL), every element quoted and escaped: {"a","b\"c",NULL}. */
static char *text_array(const struct store_checkin *rows, size_t n, size_t off)
{
	char *buf = NULL;
	size_t len = 0, cap = 0, i;
	const char *t;

	if (append(&buf, &len, &cap, "{", 1) != 0)
		return NULL;
	for (i = 0; i < n; i++) {
		memcpy(&t, (const char *)&rows[i] + off, sizeof(t));
		if (i > 0 && append(&buf, &len, &cap, ",", 1) != 0)
			goto fail;
		if (t == NULL) {
			if (append(&buf, &len, &cap, "NULL", 4) != 0)
				goto fail;
			continue;
		}
		if (append(&buf, &len, &cap, "\"", 1) != 0)
			goto fail;
		for (; *t != '\0'; t++)
			if (((*t == '"' || *t == '\\') &&
			     append(&buf, &len, &cap, "\\", 1) != 0) ||
			    append(&buf, &len, &cap, t, 1) != 0)
				goto fail;
		if (append(&buf, &len, &cap, "\"", 1) != 0)
			goto fail;
	}
	if (append(&buf, &len, &cap, "}", 1) == 0)
		return buf;
fail:
	free(buf);
	return NULL;
}

static char *int_array(const struct store_checkin *rows, size_t n, int ended)
{
	char *buf = NULL, num[24];
	size_t len = 0, cap = 0, i;

	if (append(&buf, &len, &cap, "{", 1) != 0)
		return NULL;
	for (i = 0; i < n; i++) {
		int w = snprintf(
		    num, sizeof(num), "%s%lld", i > 0 ? "," : "",
		    (long long)(ended ? rows[i].ended_ms : rows[i].started_ms));

		if (append(&buf, &len, &cap, num, (size_t)w) != 0) {
			free(buf);
			return NULL;
		}
	}
	if (append(&buf, &len, &cap, "}", 1) == 0)
		return buf;
	free(buf);
	return NULL;
}

/*
 * The whole batch in one statement, so one round trip however many
 * check-ins it holds (a statement is atomic: all rows or none).  A chip
 * checking in twice in a batch is first seen at its first, last at its
 * latest, as one by one would.
 */
int pg_checkins_current(struct store *st, const struct store_checkin *rows,
			size_t n)
{
	struct pg_params p = { .n = 0 };
	char *arrays[6];
	size_t i;
	int rc;

	if (n == 0)
		return 0;
	if ((rc = pg_writable(st)) != 0)
		return rc;
	arrays[0] =
	    text_array(rows, n, offsetof(struct store_checkin, chip_id));
	arrays[1] = text_array(rows, n, offsetof(struct store_checkin, peer));
	arrays[2] = text_array(rows, n, offsetof(struct store_checkin, addr));
	arrays[3] =
	    text_array(rows, n, offsetof(struct store_checkin, revision));
	arrays[4] = int_array(rows, n, 0);
	arrays[5] = int_array(rows, n, 1);
	for (i = 0; i < 6; i++)
		pg_text(&p, arrays[i]);
	for (i = 0; i < 6; i++)
		if (arrays[i] == NULL) {
			rc = pg_set_error(st, -1, "out of memory");
			goto out;
		}
	rc = pg_query(
	    st, "recording check-ins",
	    "WITH v AS (SELECT * FROM unnest($1::text[], $2::text[], "
	    "$3::text[], $4::text[], $5::bigint[], $6::bigint[]) AS v (chip, "
	    "peer, addr, rev, started, ended)), "
	    "latest AS (SELECT chip, min(ended) AS first, max(ended) AS last, "
	    "(array_agg(addr ORDER BY ended DESC))[1] AS addr FROM v GROUP BY "
	    "chip), "
	    "seen AS (UPDATE chips c SET last_seen = l.last / 1000, "
	    "first_seen = CASE c.first_seen WHEN 0 THEN l.first / 1000 ELSE "
	    "c.first_seen END, last_addr = l.addr, last_outcome = 'current' "
	    "FROM latest l WHERE c.id = l.chip) "
	    "INSERT INTO sessions (chip_id, peer, started_ms, ended_ms, "
	    "outcome, revision) SELECT chip, peer, started, ended, 'current', "
	    "rev FROM v",
	    &p, NULL);
out:
	for (i = 0; i < 6; i++)
		free(arrays[i]);
	return rc;
}

int pg_session_begin(struct store *st, const char *chip_id, const char *peer,
		     int64_t started_ms, int64_t *session_id)
{
	struct pg_params p = { .n = 0 };
	PGresult *res;
	int rc;

	if ((rc = pg_writable(st)) != 0)
		return rc;
	pg_text(&p, chip_id);
	pg_text(&p, peer);
	pg_int(&p, started_ms);
	pg_text(&p, st->owner);
	if ((rc = pg_query(st, "opening a history row",
			   "INSERT INTO sessions (chip_id, peer, started_ms, "
			   "daemon) VALUES ($1, $2, $3, $4) RETURNING id",
			   &p, &res)) != 0)
		return rc;
	*session_id = pg_col_int(res, 0, 0);
	PQclear(res);
	return 0;
}

static int file_insert(struct store *st, int64_t session_id,
		       const struct store_session_file *f)
{
	struct pg_params p = { .n = 0 };

	pg_int(&p, session_id);
	pg_text(&p, f->name);
	pg_text(&p, f->action);
	pg_int(&p, f->bytes);
	pg_text(&p, f->result);
	pg_int(&p, f->lcsize);
	return pg_query(
	    st, "recording a file",
	    "INSERT INTO session_files (session_id, name, action, "
	    "bytes, result, lcsize) VALUES ($1, $2, $3, $4, $5, $6)",
	    &p, NULL);
}

int pg_session_file(struct store *st, int64_t session_id,
		    const struct store_session_file *f)
{
	int rc;

	if ((rc = pg_writable(st)) != 0)
		return rc;
	rc = file_insert(st, session_id, f);
	/* The session row must exist: the foreign key says it does not. */
	if (rc == STORE_NOTFOUND)
		rc = pg_set_error(st, STORE_NOTFOUND, "session %lld: not found",
				  (long long)session_id);
	return rc;
}

/* Closes row id with what r says, and notes the chip's outcome. */
static int session_close_row(struct store *st, int64_t id, const char *chip_id,
			     enum store_outcome outcome, const char *reason,
			     const char *revision, int64_t files_sent,
			     int64_t bytes_sent, int64_t ended_ms)
{
	struct pg_params p = { .n = 0 };
	int rc;

	pg_int(&p, id);
	pg_text(&p, store_outcome_names[outcome]);
	pg_text(&p, reason);
	pg_text(&p, revision);
	pg_int(&p, files_sent);
	pg_int(&p, bytes_sent);
	pg_int(&p, ended_ms);
	if ((rc = pg_query(st, "closing a history row",
			   "UPDATE sessions SET outcome = $2, reason = $3, "
			   "revision = coalesce($4, revision), files_sent = "
			   "$5, bytes_sent = $6, ended_ms = $7 WHERE id = $1",
			   &p, NULL)) != 0)
		return rc;
	if (chip_id == NULL)
		return 0;
	/* A rejected unknown chip has no row: nothing changes. */
	p.n = 0;
	pg_text(&p, chip_id);
	pg_text(&p, store_outcome_names[outcome]);
	return pg_query(st, "noting the outcome",
			"UPDATE chips SET last_outcome = $2 WHERE id = $1", &p,
			NULL);
}

int pg_session_end(struct store *st, int64_t session_id,
		   enum store_outcome outcome, const char *reason,
		   const char *revision, int64_t files_sent, int64_t bytes_sent,
		   int64_t ended_ms)
{
	struct pg_params p = { .n = 0 };
	PGresult *res;
	char *chip_id = NULL;
	int rc;

	if ((unsigned)outcome >= STORE_OUTCOMES)
		return pg_set_error(st, -1, "session %lld: bad outcome %d",
				    (long long)session_id, (int)outcome);
	if ((rc = pg_writable(st)) != 0 || (rc = pg_begin(st)) != 0)
		return rc;
	pg_int(&p, session_id);
	if ((rc = pg_query_row(st, "session",
			       "SELECT chip_id FROM sessions WHERE id = $1 "
			       "FOR UPDATE",
			       &p, &res)) != 0)
		goto fail;
	rc = pg_col_text(st, res, 0, 0, &chip_id);
	PQclear(res);
	if (rc != 0 ||
	    (rc = session_close_row(st, session_id, chip_id, outcome, reason,
				    revision, files_sent, bytes_sent,
				    ended_ms)) != 0 ||
	    (rc = pg_commit(st)) != 0)
		goto fail;
	free(chip_id);
	return 0;
fail:
	pg_rollback(st);
	free(chip_id);
	return rc;
}

/*
 * The row r stands for, locked, inside the caller's transaction: its id
 * in *id (0 when there is none) and whether it is still open in *open.
 * A row id must also match chip and peer: a record replayed into another
 * database must not complete a stranger's row.
 */
static int record_row(struct store *st, const struct store_session_record *r,
		      int64_t *id, int *open)
{
	struct pg_params p = { .n = 0 };
	PGresult *res;
	const char *outcome;
	int rc;

	*id = 0;
	*open = 0;
	pg_text(&p, r->chip_id);
	pg_text(&p, r->peer);
	if (r->id != 0) {
		pg_int(&p, r->id);
		rc = pg_query(st, "finding a history row",
			      "SELECT id, outcome FROM sessions WHERE id = $3 "
			      "AND chip_id IS NOT DISTINCT FROM $1 AND peer = "
			      "$2 FOR UPDATE",
			      &p, &res);
	} else {
		pg_int(&p, r->started_ms);
		pg_text(&p, store_outcome_names[r->outcome]);
		pg_text(&p, r->reason);
		pg_int(&p, r->ended_ms);
		rc = pg_query(st, "finding a history row",
			      "SELECT id, outcome FROM sessions WHERE chip_id "
			      "IS NOT DISTINCT FROM $1 AND started_ms = $3 AND "
			      "peer = $2 AND (outcome IN ('started', "
			      "'interrupted') OR (outcome = $4 AND reason IS "
			      "NOT DISTINCT FROM $5 AND ended_ms = $6)) ORDER "
			      "BY outcome IN ('started', 'interrupted'), id "
			      "LIMIT 1 FOR UPDATE",
			      &p, &res);
	}
	if (rc != 0)
		return rc;
	if (PQntuples(res) > 0) {
		*id = pg_col_int(res, 0, 0);
		outcome = PQgetvalue(res, 0, 1);
		*open = strcmp(outcome, "started") == 0 ||
			strcmp(outcome, "interrupted") == 0;
	}
	PQclear(res);
	return 0;
}

/* The steps of store_session_record once its row is known and open. */
static int record_write(struct store *st, const struct store_session_record *r,
			int64_t id, size_t *skipped)
{
	struct pg_params p = { .n = 0 };
	size_t i;
	int rc;

	for (i = 0; i < r->nfiles; i++) {
		/* A row the schema refuses is one statement undone, not all:
		 * a failed statement would abort the whole transaction. */
		if ((rc = pg_query(st, "recording a file", "SAVEPOINT file",
				   NULL, NULL)) != 0)
			return rc;
		rc = file_insert(st, id, &r->files[i]);
		if (rc == STORE_BUSY || rc == STORE_FULL)
			return rc;
		if (rc != 0) {
			(*skipped)++;
			rc = pg_query(st, "recording a file",
				      "ROLLBACK TO SAVEPOINT file", NULL, NULL);
		} else {
			rc = pg_query(st, "recording a file",
				      "RELEASE SAVEPOINT file", NULL, NULL);
		}
		if (rc != 0)
			return rc;
	}
	if (r->seen_addr != NULL && r->chip_id != NULL) {
		pg_text(&p, r->chip_id);
		pg_int(&p, r->seen_s);
		pg_text(&p, r->seen_addr);
		/* A chip removed meanwhile changes nothing: not an error. */
		if ((rc = pg_query(st, "noting a check-in",
				   "UPDATE chips SET last_seen = $2, "
				   "first_seen = CASE first_seen WHEN 0 THEN "
				   "$2 ELSE first_seen END, last_addr = $3 "
				   "WHERE id = $1",
				   &p, NULL)) != 0)
			return rc;
	}
	return session_close_row(st, id, r->chip_id, r->outcome, r->reason,
				 r->revision, r->files_sent, r->bytes_sent,
				 r->ended_ms);
}

int pg_session_record(struct store *st, const struct store_session_record *r,
		      int *written, size_t *skipped)
{
	struct pg_params p = { .n = 0 };
	PGresult *res;
	int64_t id;
	int open, rc;

	if (written != NULL)
		*written = 0;
	*skipped = 0;
	if (r->outcome == STORE_OUTCOME_STARTED ||
	    (unsigned)r->outcome >= STORE_OUTCOMES)
		return pg_set_error(st, -1, "history record: bad outcome %d",
				    (int)r->outcome);
	if ((rc = pg_writable(st)) != 0 || (rc = pg_begin(st)) != 0)
		return rc;
	if ((rc = record_row(st, r, &id, &open)) != 0)
		goto fail;
	if (id != 0 && !open) {
		/* Already recorded (a replay): nothing to do. */
		pg_rollback(st);
		return 0;
	}
	if (id == 0) {
		pg_text(&p, r->chip_id);
		pg_text(&p, r->peer);
		pg_int(&p, r->started_ms);
		pg_text(&p, st->owner);
		if ((rc = pg_query(st, "opening a history row",
				   "INSERT INTO sessions (chip_id, peer, "
				   "started_ms, daemon) VALUES ($1, $2, $3, "
				   "$4) RETURNING id",
				   &p, &res)) != 0)
			goto fail;
		id = pg_col_int(res, 0, 0);
		PQclear(res);
	}
	if ((rc = record_write(st, r, id, skipped)) != 0 ||
	    (rc = pg_commit(st)) != 0)
		goto fail;
	if (written != NULL)
		*written = 1;
	return 0;
fail:
	pg_rollback(st);
	*skipped = 0;
	return rc;
}

/*
 * Rows left open become interrupted.  With several daemons on one
 * database, only rows older than stale_ms can be another's crash: a
 * session lasts at most its deadline, far less than that.
 */
int pg_sessions_interrupt(struct store *st, int64_t now_ms, int *count)
{
	struct pg_params p = { .n = 0 };
	PGresult *res;
	int rc;

	*count = 0;
	if ((rc = pg_writable(st)) != 0 || (rc = pg_begin(st)) != 0)
		return rc;
	pg_int(&p, now_ms - PG_SESSION_STALE_MS);
	pg_text(&p, st->owner);
	if ((rc = pg_query(st, "interrupting sessions",
			   "UPDATE chips SET last_outcome = 'interrupted' "
			   "WHERE id IN (SELECT chip_id FROM sessions WHERE "
			   "outcome = 'started' AND (started_ms < $1 OR "
			   "daemon = $2::text))",
			   &p, NULL)) != 0)
		goto fail;
	p.n = 0;
	pg_int(&p, now_ms);
	pg_int(&p, now_ms - PG_SESSION_STALE_MS);
	pg_text(&p, st->owner);
	if ((rc = pg_query(st, "interrupting sessions",
			   "UPDATE sessions SET outcome = 'interrupted', "
			   "ended_ms = $1 WHERE outcome = 'started' AND "
			   "(started_ms < $2 OR daemon = $3::text)",
			   &p, &res)) != 0)
		goto fail;
	*count = atoi(PQcmdTuples(res));
	PQclear(res);
	/* The update slots its sessions held went with them. */
	p.n = 0;
	pg_text(&p, st->owner);
	if ((rc = pg_query(st, "giving back rollout slots",
			   "DELETE FROM rollout_slots WHERE daemon = $1::text",
			   &p, NULL)) != 0)
		goto fail;
	if ((rc = pg_commit(st)) != 0) {
		*count = 0;
		goto fail;
	}
	return 0;
fail:
	pg_rollback(st);
	return rc;
}

static int session_read(struct store *st, const PGresult *res, int row,
			void *dest)
{
	struct store_session *out = dest;

	memset(out, 0, sizeof(*out));
	out->id = pg_col_int(res, row, 0);
	out->started_ms = pg_col_int(res, row, 3);
	out->ended_ms = pg_col_int(res, row, 4);
	out->files_sent = pg_col_int(res, row, 8);
	out->bytes_sent = pg_col_int(res, row, 9);
	out->outcome = store_outcome_parse(PQgetvalue(res, row, 5));
	if (pg_col_text(st, res, row, 1, &out->chip_id) != 0 ||
	    pg_col_text(st, res, row, 2, &out->peer) != 0 ||
	    pg_col_text(st, res, row, 6, &out->reason) != 0 ||
	    pg_col_text(st, res, row, 7, &out->revision) != 0) {
		store_session_free(out);
		return -1;
	}
	return 0;
}

static void session_row_free(void *row)
{
	store_session_free(row);
}

int pg_session_rows(struct store *st, const char *sql,
		    const struct pg_params *p, struct store_session **out,
		    size_t *n)
{
	PGresult *res;
	int rc;

	*out = NULL;
	*n = 0;
	if ((rc = pg_query(st, "listing sessions", sql, p, &res)) != 0)
		return rc;
	return pg_read_list(st, res, sizeof(**out), session_read,
			    session_row_free, (void **)out, n);
}

int pg_session_list(struct store *st, const char *chip_id, int limit,
		    struct store_session **out, size_t *n)
{
	struct pg_params p = { .n = 0 };

	pg_text(&p, chip_id);
	if (limit > 0)
		pg_int(&p, limit);
	else
		pg_text(&p, NULL); /* LIMIT NULL: no limit */
	return pg_session_rows(st,
			       PG_SESSION_COLUMNS "WHERE $1::text IS NULL OR "
						  "chip_id = $1 ORDER BY "
						  "started_ms DESC, id DESC "
						  "LIMIT $2::bigint",
			       &p, out, n);
}

int pg_session_files(struct store *st, int64_t session_id,
		     struct store_session_file **out, size_t *n)
{
	struct pg_params p = { .n = 0 };
	PGresult *res;
	int rc, rows, i;

	*out = NULL;
	*n = 0;
	pg_int(&p, session_id);
	/* One statement: the session must exist, its files may be none. */
	if ((rc = pg_query(st, "reading session files",
			   "SELECT f.name, f.action, f.bytes, f.result, "
			   "f.lcsize, s.id FROM sessions s LEFT JOIN "
			   "session_files f ON f.session_id = s.id WHERE s.id "
			   "= $1 ORDER BY f.id",
			   &p, &res)) != 0)
		return rc;
	rows = PQntuples(res);
	if (rows == 0) {
		PQclear(res);
		return pg_set_error(st, STORE_NOTFOUND, "session: not found");
	}
	if (PQgetisnull(res, 0, 0))
		rows = 0; /* the session, with no file rows */
	if (rows > 0 && (*out = calloc((size_t)rows, sizeof(**out))) == NULL) {
		PQclear(res);
		return pg_set_error(st, -1, "out of memory");
	}
	for (i = 0; i < rows; i++) {
		struct store_session_file *f = &(*out)[i];

		f->bytes = pg_col_int(res, i, 2);
		f->lcsize = pg_col_int(res, i, 4);
		if (pg_col_text(st, res, i, 0, &f->name) != 0 ||
		    pg_col_text(st, res, i, 1, &f->action) != 0 ||
		    pg_col_text(st, res, i, 3, &f->result) != 0) {
			store_session_files_free(*out, (size_t)i + 1);
			*out = NULL;
			PQclear(res);
			return -1;
		}
	}
	*n = (size_t)rows;
	PQclear(res);
	return 0;
}

int pg_session_get(struct store *st, int64_t id, struct store_session *out)
{
	struct pg_params p = { .n = 0 };
	PGresult *res;
	int rc;

	memset(out, 0, sizeof(*out));
	pg_int(&p, id);
	rc = pg_query_row(st, "session", PG_SESSION_COLUMNS "WHERE id = $1", &p,
			  &res);
	if (rc == STORE_NOTFOUND)
		return pg_set_error(st, rc, "no such session: %lld",
				    (long long)id);
	if (rc != 0)
		return rc;
	rc = session_read(st, res, 0, out);
	PQclear(res);
	return rc;
}

int pg_session_query(struct store *st, const struct store_session_filter *f,
		     struct store_session **out, size_t *n)
{
	struct pg_params p = { .n = 0 };

	pg_text(&p, f->chip_id);
	pg_int(&p, f->since_ms);
	pg_int(&p, f->failed_only ? 1 : 0);
	if (f->limit > 0)
		pg_int(&p, f->limit);
	else
		pg_text(&p, NULL);
	pg_int(&p, f->before_id);
	return pg_session_rows(
	    st,
	    PG_SESSION_COLUMNS
	    "WHERE ($1::text IS NULL OR chip_id = $1) AND "
	    "started_ms >= $2 AND ($3 = 0 OR outcome IN "
	    "('failed', 'rejected', 'interrupted')) AND ($5 = "
	    "0 OR (started_ms, id) < (SELECT started_ms, id "
	    "FROM sessions WHERE id = $5)) ORDER BY started_ms "
	    "DESC, id DESC LIMIT $4::bigint",
	    &p, out, n);
}

int pg_rejection_first(struct store *st, const char *addr, const char *reason,
		       int64_t window_start_ms, int64_t forget_before_ms,
		       int *first)
{
	struct pg_params p = { .n = 0 };
	PGresult *res;
	int rc;

	*first = 0;
	if ((rc = pg_writable(st)) != 0)
		return rc;
	pg_int(&p, forget_before_ms);
	if ((rc = pg_query(st, "forgetting rejection windows",
			   "DELETE FROM rejection_windows WHERE "
			   "window_start_ms < $1",
			   &p, NULL)) != 0)
		return rc;
	p.n = 0;
	pg_text(&p, addr);
	pg_text(&p, reason);
	pg_int(&p, window_start_ms);
	/* The key decides: one daemon's INSERT takes it, any other's finds
	 * it taken. */
	if ((rc =
		 pg_query(st, "claiming a rejection window",
			  "INSERT INTO rejection_windows (addr, reason, "
			  "window_start_ms) VALUES ($1, $2, $3) ON CONFLICT DO "
			  "NOTHING",
			  &p, &res)) != 0)
		return rc;
	*first = strcmp(PQcmdTuples(res), "1") == 0;
	PQclear(res);
	return 0;
}
