/*
 * The history: session rows, their per-file rows, batched check-ins, and
 * the queries luaotactl history runs. See store.h for the contracts,
 * store_sqlite.h for the helpers.
 */
#include "store_sqlite.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One current check-in inside the caller's transaction. */
static int checkin_row(struct store *st, const struct store_checkin *c)
{
	sqlite3_stmt *s;
	int rc;

	if ((s = sq_stmt(st, ST_CHECKIN_CHIP)) == NULL)
		return -1;
	sq_bind_text(s, 1, c->chip_id);
	sqlite3_bind_int64(s, 2, c->ended_ms / 1000);
	sq_bind_text(s, 3, c->addr);
	if ((rc = sq_run(st, s, "noting a check-in")) != 0)
		return rc;
	if ((s = sq_stmt(st, ST_CHECKIN_ROW)) == NULL)
		return -1;
	sq_bind_text(s, 1, c->chip_id);
	sq_bind_text(s, 2, c->peer);
	sqlite3_bind_int64(s, 3, c->started_ms);
	sqlite3_bind_int64(s, 4, c->ended_ms);
	sq_bind_text(s, 5, c->revision);
	return sq_run(st, s, "recording a check-in");
}

int sqlite_checkins_current(struct store *st, const struct store_checkin *rows,
			    size_t n)
{
	size_t i;
	int rc;

	if (n == 0)
		return 0;
	if (st->readonly)
		return sq_set_error(st, -1, "the database is open read-only");
	if ((rc = sq_tx_write(st)) != 0)
		return rc;
	for (i = 0; i < n; i++)
		if ((rc = checkin_row(st, &rows[i])) != 0)
			goto fail;
	if ((rc = sq_tx_commit(st)) != 0)
		goto fail;
	return 0;
fail:
	sq_tx_rollback(st);
	return rc;
}

int sqlite_session_begin(struct store *st, const char *chip_id,
			 const char *peer, int64_t started_ms,
			 int64_t *session_id)
{
	sqlite3_stmt *s = sq_stmt(st, ST_SESSION_BEGIN);
	int rc;

	if (s == NULL)
		return -1;
	if (st->readonly)
		return sq_set_error(st, -1, "the database is open read-only");
	sq_bind_text(s, 1, chip_id);
	sq_bind_text(s, 2, peer);
	sqlite3_bind_int64(s, 3, started_ms);
	sq_bind_text(s, 4, st->owner);
	if ((rc = sq_run(st, s, "opening a history row")) != 0)
		return rc;
	*session_id = sqlite3_last_insert_rowid(st->db);
	return 0;
}

int sqlite_session_file(struct store *st, int64_t session_id,
			const struct store_session_file *f)
{
	sqlite3_stmt *s = sq_stmt(st, ST_SESSION_FILE);
	int rc;

	if (s == NULL)
		return -1;
	if (st->readonly)
		return sq_set_error(st, -1, "the database is open read-only");
	sqlite3_bind_int64(s, 1, session_id);
	sq_bind_text(s, 2, f->name);
	sq_bind_text(s, 3, f->action);
	sqlite3_bind_int64(s, 4, f->bytes);
	sq_bind_text(s, 5, f->result);
	sqlite3_bind_int64(s, 6, f->lcsize);
	rc = sq_run(st, s, "recording a file");
	if (rc == STORE_NOTFOUND)
		sq_set_error(st, rc, "session %lld: not found",
			     (long long)session_id);
	return rc;
}

int sqlite_session_end(struct store *st, int64_t session_id,
		       enum store_outcome outcome, const char *reason,
		       const char *revision, int64_t files_sent,
		       int64_t bytes_sent, int64_t ended_ms)
{
	sqlite3_stmt *s;
	char *chip_id = NULL;
	int rc;

	if ((unsigned)outcome >= STORE_OUTCOMES)
		return sq_set_error(st, -1, "session %lld: bad outcome %d",
				    (long long)session_id, (int)outcome);
	if ((rc = sq_tx_write(st)) != 0)
		return rc;
	if ((s = sq_stmt(st, ST_SESSION_CHIP)) == NULL) {
		rc = -1;
		goto fail;
	}
	sqlite3_bind_int64(s, 1, session_id);
	if ((rc = sq_step_row(st, s, "session")) != 0)
		goto fail;
	rc = sq_column_text(st, s, 0, &chip_id);
	sqlite3_reset(s);
	if (rc != 0)
		goto fail;
	if ((s = sq_stmt(st, ST_SESSION_END)) == NULL) {
		rc = -1;
		goto fail;
	}
	sqlite3_bind_int64(s, 1, session_id);
	sq_bind_text(s, 2, store_outcome_names[outcome]);
	sq_bind_text(s, 3, reason);
	sq_bind_text(s, 4, revision);
	sqlite3_bind_int64(s, 5, files_sent);
	sqlite3_bind_int64(s, 6, bytes_sent);
	sqlite3_bind_int64(s, 7, ended_ms);
	if ((rc = sq_run(st, s, "closing a history row")) != 0)
		goto fail;
	if (chip_id != NULL) {
		/* A rejected unknown chip has no row here: nothing changes. */
		if ((s = sq_stmt(st, ST_CHIP_OUTCOME)) == NULL) {
			rc = -1;
			goto fail;
		}
		sq_bind_text(s, 1, chip_id);
		sq_bind_text(s, 2, store_outcome_names[outcome]);
		if ((rc = sq_run(st, s, "noting the outcome")) != 0)
			goto fail;
	}
	if ((rc = sq_tx_commit(st)) != 0)
		goto fail;
	free(chip_id);
	return 0;
fail:
	sq_tx_rollback(st);
	free(chip_id);
	return rc;
}

/*
 * The row r stands for, inside the caller's transaction: its id in *id
 * (0 when there is none) and whether it is still open in *open.  A row
 * id must also match chip and peer: a record replayed into another
 * database must not complete a stranger's row.
 */
static int record_row(struct store *st, const struct store_session_record *r,
		      int64_t *id, int *open)
{
	sqlite3_stmt *s;
	char *outcome = NULL;
	int rc;

	*id = 0;
	*open = 0;
	if ((s = sq_stmt(st, r->id != 0 ? ST_SESSION_STATE
					: ST_SESSION_FIND)) == NULL)
		return -1;
	sq_bind_text(s, 1, r->chip_id);
	sq_bind_text(s, 3, r->peer);
	if (r->id != 0) {
		sqlite3_bind_int64(s, 4, r->id);
	} else {
		sqlite3_bind_int64(s, 2, r->started_ms);
		sq_bind_text(s, 5, store_outcome_names[r->outcome]);
		sq_bind_text(s, 6, r->reason);
		sqlite3_bind_int64(s, 7, r->ended_ms);
	}
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE) {
		sqlite3_reset(s);
		return 0;
	}
	if (rc != SQLITE_ROW) {
		sqlite3_reset(s);
		return sq_sql_error(st, rc, "finding a history row");
	}
	*id = sqlite3_column_int64(s, 0);
	rc = sq_column_text(st, s, 1, &outcome);
	sqlite3_reset(s);
	if (rc != 0)
		return rc;
	*open = outcome != NULL && (strcmp(outcome, "started") == 0 ||
				    strcmp(outcome, "interrupted") == 0);
	free(outcome);
	return 0;
}

/* The steps of store_session_record once its row is known and open. */
static int record_write(struct store *st, const struct store_session_record *r,
			int64_t id, size_t *skipped)
{
	sqlite3_stmt *s;
	size_t i;
	int rc;

	for (i = 0; i < r->nfiles; i++) {
		const struct store_session_file *f = &r->files[i];

		if ((s = sq_stmt(st, ST_SESSION_FILE)) == NULL)
			return -1;
		sqlite3_bind_int64(s, 1, id);
		sq_bind_text(s, 2, f->name);
		sq_bind_text(s, 3, f->action);
		sqlite3_bind_int64(s, 4, f->bytes);
		sq_bind_text(s, 5, f->result);
		sqlite3_bind_int64(s, 6, f->lcsize);
		rc = sq_run(st, s, "recording a file");
		/* A row the schema refuses is one statement undone, not all. */
		if (rc == STORE_BUSY || rc == STORE_FULL)
			return rc;
		if (rc != 0)
			(*skipped)++;
	}
	if (r->seen_addr != NULL && r->chip_id != NULL) {
		if ((s = sq_stmt(st, ST_CHIP_SEEN)) == NULL)
			return -1;
		sq_bind_text(s, 1, r->chip_id);
		sqlite3_bind_int64(s, 2, r->seen_s);
		sq_bind_text(s, 3, r->seen_addr);
		/* A chip removed meanwhile changes nothing: not an error. */
		if ((rc = sq_run(st, s, "noting a check-in")) != 0)
			return rc;
	}
	if ((s = sq_stmt(st, ST_SESSION_END)) == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, id);
	sq_bind_text(s, 2, store_outcome_names[r->outcome]);
	sq_bind_text(s, 3, r->reason);
	sq_bind_text(s, 4, r->revision);
	sqlite3_bind_int64(s, 5, r->files_sent);
	sqlite3_bind_int64(s, 6, r->bytes_sent);
	sqlite3_bind_int64(s, 7, r->ended_ms);
	if ((rc = sq_run(st, s, "closing a history row")) != 0)
		return rc;
	if (r->chip_id == NULL)
		return 0;
	if ((s = sq_stmt(st, ST_CHIP_OUTCOME)) == NULL)
		return -1;
	sq_bind_text(s, 1, r->chip_id);
	sq_bind_text(s, 2, store_outcome_names[r->outcome]);
	return sq_run(st, s, "noting the outcome");
}

int sqlite_session_record(struct store *st,
			  const struct store_session_record *r, int *written,
			  size_t *skipped)
{
	sqlite3_stmt *s;
	int64_t id;
	int open, rc;

	if (written != NULL)
		*written = 0;
	*skipped = 0;
	if (r->outcome == STORE_OUTCOME_STARTED ||
	    (unsigned)r->outcome >= STORE_OUTCOMES)
		return sq_set_error(st, -1, "history record: bad outcome %d",
				    (int)r->outcome);
	if ((rc = sq_tx_write(st)) != 0)
		return rc;
	if ((rc = record_row(st, r, &id, &open)) != 0)
		goto fail;
	if (id != 0 && !open) {
		/* Already recorded (a replay): nothing to do. */
		sq_tx_rollback(st);
		return 0;
	}
	if (id == 0) {
		if ((s = sq_stmt(st, ST_SESSION_BEGIN)) == NULL) {
			rc = -1;
			goto fail;
		}
		sq_bind_text(s, 1, r->chip_id);
		sq_bind_text(s, 2, r->peer);
		sqlite3_bind_int64(s, 3, r->started_ms);
		sq_bind_text(s, 4, st->owner);
		if ((rc = sq_run(st, s, "opening a history row")) != 0)
			goto fail;
		id = sqlite3_last_insert_rowid(st->db);
	}
	if ((rc = record_write(st, r, id, skipped)) != 0)
		goto fail;
	if ((rc = sq_tx_commit(st)) != 0)
		goto fail;
	if (written != NULL)
		*written = 1;
	return 0;
fail:
	sq_tx_rollback(st);
	*skipped = 0;
	return rc;
}

int sqlite_sessions_interrupt(struct store *st, int64_t now_ms, int *count)
{
	sqlite3_stmt *s;
	int rc;

	*count = 0;
	if ((rc = sq_tx_write(st)) != 0)
		return rc;
	if ((rc = sq_run_id(st, ST_INTERRUPT_CHIPS, "interrupting sessions")) !=
	    0)
		goto fail;
	if ((s = sq_stmt(st, ST_INTERRUPT)) == NULL) {
		rc = -1;
		goto fail;
	}
	sqlite3_bind_int64(s, 1, now_ms);
	if ((rc = sq_run(st, s, "interrupting sessions")) != 0)
		goto fail;
	*count = sqlite3_changes(st->db);
	if ((rc = sq_tx_commit(st)) != 0) {
		*count = 0;
		goto fail;
	}
	return 0;
fail:
	sq_tx_rollback(st);
	return rc;
}

/* Reads the current row of a SESSION_COLUMNS query into a store_session. */
static int session_read(struct store *st, sqlite3_stmt *s, void *row)
{
	struct store_session *out = row;
	char *outcome = NULL;

	out->id = sqlite3_column_int64(s, 0);
	out->started_ms = sqlite3_column_int64(s, 3);
	out->ended_ms = sqlite3_column_int64(s, 4);
	out->files_sent = sqlite3_column_int64(s, 8);
	out->bytes_sent = sqlite3_column_int64(s, 9);
	if (sq_column_text(st, s, 1, &out->chip_id) != 0 ||
	    sq_column_text(st, s, 2, &out->peer) != 0 ||
	    sq_column_text(st, s, 5, &outcome) != 0 ||
	    sq_column_text(st, s, 6, &out->reason) != 0 ||
	    sq_column_text(st, s, 7, &out->revision) != 0)
		return -1;
	out->outcome = store_outcome_parse(outcome);
	free(outcome);
	return 0;
}

static void session_row_free(void *row)
{
	store_session_free(row);
}

/* Runs a bound SESSION_COLUMNS query into an array. */
int sq_session_rows(struct store *st, sqlite3_stmt *s,
		    struct store_session **out, size_t *n)
{
	return sq_read_list(st, s, "listing sessions", session_read,
			    session_row_free, sizeof(**out), (void **)out, n);
}

int sqlite_session_list(struct store *st, const char *chip_id, int limit,
			struct store_session **out, size_t *n)
{
	sqlite3_stmt *s;

	*out = NULL;
	*n = 0;
	s = sq_stmt(st, chip_id != NULL ? ST_SESSION_LIST_CHIP
					: ST_SESSION_LIST_ALL);
	if (s == NULL)
		return -1;
	if (chip_id != NULL)
		sq_bind_text(s, 1, chip_id);
	/* LIMIT -1: no limit. */
	sqlite3_bind_int(s, chip_id != NULL ? 2 : 1, limit > 0 ? limit : -1);
	return sq_session_rows(st, s, out, n);
}

void store_session_list_free(struct store_session *s, size_t n)
{
	sq_list_free(s, n, sizeof(*s), session_row_free);
}

static void session_file_row_free(void *row)
{
	struct store_session_file *f = row;

	free(f->name);
	free(f->action);
	free(f->result);
}

/* Reads one ST_SESSION_FILES row into a struct store_session_file. */
static int session_file_read(struct store *st, sqlite3_stmt *s, void *row)
{
	struct store_session_file *f = row;

	f->bytes = sqlite3_column_int64(s, 2);
	f->lcsize = sqlite3_column_int64(s, 4);
	if (sq_column_text(st, s, 0, &f->name) != 0 ||
	    sq_column_text(st, s, 1, &f->action) != 0 ||
	    sq_column_text(st, s, 3, &f->result) != 0)
		return -1;
	return 0;
}

/* Reads the per-file rows of a session known to exist into rows. */
static int session_files_read(struct store *st, int64_t session_id,
			      struct store_session_file **rows, size_t *count)
{
	sqlite3_stmt *s = sq_stmt(st, ST_SESSION_FILES);

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, session_id);
	return sq_read_list(st, s, "reading session files", session_file_read,
			    session_file_row_free, sizeof(**rows),
			    (void **)rows, count);
}

int sqlite_session_files(struct store *st, int64_t session_id,
			 struct store_session_file **out, size_t *n)
{
	struct store_session_file *rows = NULL;
	size_t count = 0;
	sqlite3_stmt *s;
	int rc, own;

	*out = NULL;
	*n = 0;
	if ((rc = sq_tx_read(st, &own)) != 0)
		return rc;
	if ((s = sq_stmt(st, ST_SESSION_CHIP)) == NULL) {
		rc = -1;
	} else {
		sqlite3_bind_int64(s, 1, session_id);
		if ((rc = sq_step_row(st, s, "session")) == 0) {
			sqlite3_reset(s);
			rc = session_files_read(st, session_id, &rows, &count);
		}
	}
	if ((rc = sq_tx_read_end(st, own, rc)) != 0) {
		store_session_files_free(rows, count);
		return rc;
	}
	*out = rows;
	*n = count;
	return 0;
}

void store_session_files_free(struct store_session_file *f, size_t n)
{
	sq_list_free(f, n, sizeof(*f), session_file_row_free);
}

int sqlite_session_get(struct store *st, int64_t id, struct store_session *out)
{
	sqlite3_stmt *s = sq_stmt(st, ST_SESSION_GET);
	int rc;

	memset(out, 0, sizeof(*out));
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, id);
	if ((rc = sq_step_row(st, s, "session")) != 0) {
		if (rc == STORE_NOTFOUND)
			sq_set_error(st, rc, "no such session: %lld",
				     (long long)id);
		return rc;
	}
	rc = session_read(st, s, out);
	sqlite3_reset(s);
	if (rc != 0)
		store_session_free(out);
	return rc;
}

void store_session_free(struct store_session *s)
{
	if (s == NULL)
		return;
	free(s->chip_id);
	free(s->peer);
	free(s->reason);
	free(s->revision);
	memset(s, 0, sizeof(*s));
}

int sqlite_session_query(struct store *st, const struct store_session_filter *f,
			 struct store_session **out, size_t *n)
{
	sqlite3_stmt *s = sq_stmt(st, ST_SESSION_QUERY);

	*out = NULL;
	*n = 0;
	if (s == NULL)
		return -1;
	sq_bind_text(s, 1, f->chip_id);
	sqlite3_bind_int64(s, 2, f->since_ms);
	sqlite3_bind_int(s, 3, f->failed_only ? 1 : 0);
	sqlite3_bind_int(s, 4, f->limit > 0 ? f->limit : -1);
	sqlite3_bind_int64(s, 5, f->before_id);
	return sq_session_rows(st, s, out, n);
}

int sqlite_rejection_first(struct store *st, const char *addr,
			   const char *reason, int64_t window_start_ms,
			   int64_t forget_before_ms, int *first)
{
	sqlite3_stmt *s;
	int rc;

	*first = 0;
	if (st->readonly)
		return sq_set_error(st, -1, "the database is open read-only");
	if ((s = sq_stmt(st, ST_REJECTION_FORGET)) == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, forget_before_ms);
	if ((rc = sq_run(st, s, "forgetting rejection windows")) != 0)
		return rc;
	if ((s = sq_stmt(st, ST_REJECTION_CLAIM)) == NULL)
		return -1;
	sq_bind_text(s, 1, addr);
	sq_bind_text(s, 2, reason);
	sqlite3_bind_int64(s, 3, window_start_ms);
	if ((rc = sq_run(st, s, "claiming a rejection window")) != 0)
		return rc;
	*first = sqlite3_changes(st->db) == 1;
	return 0;
}
