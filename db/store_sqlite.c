/*
 * The store over SQLite: see store.h.  This file holds the connection:
 * the statement table, opening and migrating, transactions, errors and
 * the row helpers every entity file (store_sqlite_*.c) uses through
 * store_sqlite.h.  One connection per struct store, used by one thread.
 */
#include "store_sqlite.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "migrations.h" /* store_migrations[], from the .sql files */
#include "proto/protocol.h"

/* How long a call waits for another process's lock unless told. */
#define STORE_DEFAULT_BUSY_MS 5000

/* The columns the entity files' row readers expect, in order. */
#define REPO_COLUMNS "id, name, path, ref FROM repositories"
#define GROUP_COLUMNS                                                          \
	"g.id, g.name, g.repo_id, r.name, g.config_json, g.max_file_size, "    \
	"g.lua_version, g.release FROM groups g "                              \
	"JOIN repositories r ON r.id = g.repo_id"
#define CHIP_COLUMNS                                                           \
	"c.id, c.label, c.secret, c.group_id, g.name, c.config_json, "         \
	"c.protocol, c.enabled, c.created, c.first_seen, c.last_seen, "        \
	"c.last_addr, c.last_outcome, c.chk, c.revision, c.v2_key, "           \
	"c.v2_seen FROM chips c JOIN groups g ON g.id = c.group_id"
#define PULL_COLUMNS "id, chip_id, name, requested, state, done, size, reason"
#define ROLLOUT_COLUMNS                                                        \
	"o.id, o.group_id, g.name, o.from_revision, o.to_revision, o.state, "  \
	"o.plan, o.waves, o.wave, o.max_failures, o.max_failures_pct, "        \
	"o.max_inflight, o.soak, o.deadline, o.loop_checkins, "                \
	"o.loop_window, o.started_ms, o.wave_started_ms, o.ended_ms, "         \
	"o.reason FROM rollouts o JOIN groups g ON g.id = o.group_id"
#define SESSION_COLUMNS                                                        \
	"id, chip_id, peer, started_ms, ended_ms, outcome, reason, revision, " \
	"files_sent, bytes_sent FROM sessions"

static const char *const stmt_sql[ST_COUNT] = {
	[ST_BEGIN_READ] = "BEGIN",
	[ST_BEGIN_WRITE] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_USER_VERSION] = "PRAGMA user_version",
	[ST_REPO_ADD] = "INSERT INTO repositories (name, path, ref) "
			"VALUES (?1, ?2, ?3)",
	[ST_REPO_GET] = "SELECT " REPO_COLUMNS " WHERE name = ?1",
	[ST_REPO_GET_ID] = "SELECT " REPO_COLUMNS " WHERE id = ?1",
	[ST_REPO_FIND] = "SELECT " REPO_COLUMNS
			 " WHERE path = ?1 AND ref IS ?2 ORDER BY id LIMIT 1",
	[ST_GROUP_ADD] = "INSERT INTO groups (name, repo_id, config_json, "
			 "max_file_size, lua_version) "
			 "VALUES (?1, ?2, ?3, ?4, ?5)",
	[ST_GROUP_FILE_ADD] = "INSERT INTO group_files "
			      "(group_id, position, name, action) "
			      "VALUES (?1, ?2, ?3, ?4)",
	[ST_GROUP_GET] = "SELECT " GROUP_COLUMNS " WHERE g.name = ?1",
	[ST_GROUP_GET_ID] = "SELECT " GROUP_COLUMNS " WHERE g.id = ?1",
	[ST_GROUP_FILES] = "SELECT name, action FROM group_files "
			   "WHERE group_id = ?1 ORDER BY position",
	[ST_GROUP_ID] = "SELECT id FROM groups WHERE name = ?1",
	[ST_CHIP_ADD] = "INSERT INTO chips (id, label, secret, group_id, "
			"protocol, v2_key, created) VALUES (?1, ?2, ?3, ?4, "
			"?5, ?6, CAST(strftime('%s', 'now') AS INTEGER))",
	[ST_CHIP_GET] = "SELECT " CHIP_COLUMNS " WHERE c.id = ?1",
	[ST_DATA_VERSION] = "PRAGMA data_version",
	[ST_CHIP_ALL] = "SELECT " CHIP_COLUMNS " ORDER BY c.id",
	[ST_CHIP_SEEN] = "UPDATE chips SET last_seen = ?2, first_seen = "
			 "CASE first_seen WHEN 0 THEN ?2 ELSE first_seen END, "
			 "last_addr = ?3 WHERE id = ?1",
	[ST_HELD_GET] = "SELECT name, token FROM held_files "
			"WHERE chip_id = ?1 ORDER BY name",
	[ST_HELD_CLEAR] = "DELETE FROM held_files WHERE chip_id = ?1",
	[ST_HELD_ADD] = "INSERT INTO held_files (chip_id, name, token) "
			"VALUES (?1, ?2, ?3)",
	[ST_CHIP_SET_HELD] = "UPDATE chips SET chk = ?2, revision = ?3 "
			     "WHERE id = ?1",
	[ST_SESSION_BEGIN] = "INSERT INTO sessions (chip_id, peer, started_ms, "
			     "daemon) VALUES (?1, ?2, ?3, ?4)",
	[ST_SESSION_FILE] = "INSERT INTO session_files (session_id, name, "
			    "action, bytes, result, lcsize) "
			    "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[ST_SESSION_CHIP] = "SELECT chip_id FROM sessions WHERE id = ?1",
	[ST_SESSION_END] = "UPDATE sessions SET outcome = ?2, reason = ?3, "
			   "revision = coalesce(?4, revision), "
			   "files_sent = ?5, bytes_sent = ?6, ended_ms = ?7 "
			   "WHERE id = ?1",
	[ST_CHIP_OUTCOME] = "UPDATE chips SET last_outcome = ?2 WHERE id = ?1",
	[ST_CHECKIN_ROW] = "INSERT INTO sessions (chip_id, peer, started_ms, "
			   "ended_ms, outcome, revision) "
			   "VALUES (?1, ?2, ?3, ?4, 'current', ?5)",
	[ST_V2_RELEASE_LATEST] = "SELECT rc, mh, manifest, issued "
				 "FROM v2_releases WHERE chip_id = ?1 "
				 "ORDER BY rc DESC LIMIT 1",
	[ST_V2_RELEASE_ADD] = "INSERT INTO v2_releases (chip_id, rc, mh, "
			      "manifest, issued) VALUES (?1, ?2, ?3, ?4, ?5)",
	/* ST_CHIP_SEEN and ST_CHIP_OUTCOME in one row update. */
	[ST_CHECKIN_CHIP] = "UPDATE chips SET last_seen = ?2, first_seen = "
			    "CASE first_seen WHEN 0 THEN ?2 ELSE first_seen "
			    "END, last_addr = ?3, last_outcome = 'current' "
			    "WHERE id = ?1",
	[ST_CHIP_V2_SEEN] = "UPDATE chips SET v2_seen = 1 WHERE id = ?1 "
			    "AND protocol = 2",
	[ST_INTERRUPT_CHIPS] = "UPDATE chips SET last_outcome = 'interrupted' "
			       "WHERE id IN (SELECT chip_id FROM sessions "
			       "WHERE outcome = 'started')",
	[ST_INTERRUPT] = "UPDATE sessions SET outcome = 'interrupted', "
			 "ended_ms = ?1 WHERE outcome = 'started'",
	[ST_SESSION_LIST_ALL] = "SELECT " SESSION_COLUMNS
				" ORDER BY started_ms DESC, id DESC LIMIT ?1",
	[ST_SESSION_LIST_CHIP] = "SELECT " SESSION_COLUMNS " WHERE chip_id = ?1"
				 " ORDER BY started_ms DESC, id DESC LIMIT ?2",
	[ST_SESSION_FILES] = "SELECT name, action, bytes, result, lcsize "
			     "FROM session_files WHERE session_id = ?1 "
			     "ORDER BY id",
	[ST_GROUP_UPDATE] = "UPDATE groups SET repo_id = ?2, config_json = ?3, "
			    "max_file_size = ?4, lua_version = ?5 "
			    "WHERE id = ?1",
	[ST_GROUP_FILES_CLEAR] = "DELETE FROM group_files WHERE group_id = ?1",
	[ST_GROUP_ALL] = "SELECT g.id FROM groups g ORDER BY g.name",
	[ST_GROUP_CHIPS] = "SELECT count(*) FROM chips WHERE group_id = ?1",
	[ST_GROUP_REMOVE] = "DELETE FROM groups WHERE id = ?1",
	[ST_REPO_ALL] = "SELECT " REPO_COLUMNS " ORDER BY name",
	[ST_CHIP_REMOVE] = "DELETE FROM chips WHERE id = ?1",
	[ST_CHIP_UPDATE] = "UPDATE chips SET label = ?2, group_id = ?3, "
			   "enabled = ?4, config_json = ?5 WHERE id = ?1",
	[ST_CHIP_REPROVISION] = "UPDATE chips SET chk = NULL WHERE id = ?1",
	[ST_SESSION_GET] = "SELECT " SESSION_COLUMNS " WHERE id = ?1",
	/* ?3: only sessions that went wrong. */
	[ST_SESSION_QUERY] =
	    "SELECT " SESSION_COLUMNS " WHERE (?1 IS NULL OR chip_id = ?1) "
	    "AND started_ms >= ?2 AND (?3 = 0 OR outcome IN "
	    "('failed', 'rejected', 'interrupted')) "
	    "AND (?5 = 0 OR (started_ms, id) < "
	    "(SELECT started_ms, id FROM sessions WHERE id = ?5)) "
	    "ORDER BY started_ms DESC, id DESC LIMIT ?4",
	[ST_PULL_ADD] = "INSERT INTO pulls (chip_id, name, requested) "
			"VALUES (?1, ?2, ?3)",
	[ST_PULL_PENDING] = "SELECT " PULL_COLUMNS ", NULL FROM pulls "
			    "WHERE chip_id = ?1 AND state = 'pending' "
			    "ORDER BY id",
	/* Answered from the partial index pulls_pending. */
	[ST_PULL_ANY] = "SELECT EXISTS (SELECT 1 FROM pulls "
			"WHERE state = 'pending')",
	[ST_PULL_FINISH] = "UPDATE pulls SET state = ?2, data = ?3, size = ?4, "
			   "reason = ?5, done = ?6 WHERE id = ?1 "
			   "AND state = 'pending'",
	[ST_PULL_LIST_ALL] = "SELECT " PULL_COLUMNS ", NULL FROM pulls "
			     "ORDER BY id DESC",
	[ST_PULL_LIST_CHIP] = "SELECT " PULL_COLUMNS ", NULL FROM pulls "
			      "WHERE chip_id = ?1 ORDER BY id DESC",
	[ST_PULL_GET] =
	    "SELECT " PULL_COLUMNS ", data FROM pulls WHERE id = ?1",
	/* An open row of that start, or this very record already ended
	 * (an ended row of the same start is otherwise another session's,
	 * such as a rejection summary). */
	[ST_SESSION_FIND] =
	    "SELECT id, outcome FROM sessions "
	    "WHERE chip_id IS ?1 AND started_ms = ?2 AND peer = ?3 "
	    "AND (outcome IN ('started', 'interrupted') OR (outcome = ?5 "
	    "AND reason IS ?6 AND ended_ms = ?7)) "
	    "ORDER BY outcome IN ('started', 'interrupted'), id LIMIT 1",
	[ST_SESSION_STATE] = "SELECT id, outcome FROM sessions WHERE id = ?4 "
			     "AND chip_id IS ?1 AND peer = ?3",
	[ST_GROUP_SET_RELEASE] = "UPDATE groups SET release = ?2 "
				 "WHERE name = ?1",
	[ST_GROUP_RELEASE_ID] = "UPDATE groups SET release = ?2 WHERE id = ?1",
	[ST_GROUP_CHIP_IDS] = "SELECT id FROM chips WHERE group_id = ?1 "
			      "ORDER BY id",
	[ST_SNAPSHOT_FILE_ADD] = "INSERT OR IGNORE INTO snapshot_files "
				 "(group_id, revision, position, name, data) "
				 "VALUES (?1, ?2, ?3, ?4, ?5)",
	[ST_SNAPSHOT_GET] = "SELECT name, data FROM snapshot_files "
			    "WHERE group_id = ?1 AND revision = ?2 "
			    "ORDER BY position",
	[ST_SNAPSHOT_HAS] = "SELECT EXISTS (SELECT 1 FROM snapshot_files "
			    "WHERE group_id = ?1 AND revision = ?2)",
	[ST_ROLLOUT_NEXT_ID] = "SELECT coalesce(max(id), 0) + 1 FROM rollouts",
	[ST_ROLLOUT_ADD] =
	    "INSERT INTO rollouts (group_id, from_revision, to_revision, "
	    "plan, waves, max_failures, max_failures_pct, max_inflight, "
	    "soak, deadline, loop_checkins, loop_window, started_ms, "
	    "wave_started_ms, id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, "
	    "?10, ?11, ?12, ?13, ?13, ?14)",
	[ST_ROLLOUT_GET] = "SELECT " ROLLOUT_COLUMNS " WHERE o.id = ?1",
	[ST_ROLLOUT_ACTIVE] =
	    "SELECT " ROLLOUT_COLUMNS " WHERE o.group_id = ?1 "
	    "AND o.state IN ('running', 'paused')",
	[ST_ROLLOUT_LIST_ACTIVE] =
	    "SELECT " ROLLOUT_COLUMNS " WHERE o.state IN ('running', 'paused') "
	    "ORDER BY o.id",
	[ST_ROLLOUT_LIST_ALL] = "SELECT " ROLLOUT_COLUMNS " ORDER BY o.id DESC",
	[ST_ROLLOUT_LIST_GROUP] = "SELECT " ROLLOUT_COLUMNS
				  " WHERE o.group_id = ?1 ORDER BY o.id DESC",
	[ST_ROLLOUT_MOVE] =
	    "UPDATE rollouts SET state = ?4, wave = ?5, reason = "
	    "coalesce(?6, reason), wave_started_ms = CASE WHEN wave = ?5 "
	    "THEN wave_started_ms ELSE ?7 END, ended_ms = CASE WHEN ?4 IN "
	    "('halted', 'aborted', 'done') THEN ?7 ELSE 0 END "
	    "WHERE id = ?1 AND state = ?2 AND wave = ?3",
	[ST_GROUP_SESSIONS_AFTER] =
	    "SELECT " SESSION_COLUMNS " WHERE id > ?3 AND started_ms >= ?2 "
	    "AND chip_id IN (SELECT id FROM chips WHERE group_id = ?1) "
	    "ORDER BY id",
	[ST_CHIP_SESSIONS_SINCE] = "SELECT " SESSION_COLUMNS
				   " WHERE chip_id = ?1 AND started_ms >= ?2 "
				   "ORDER BY started_ms, id",
	[ST_GROUP_SESSIONS_SINCE] =
	    "SELECT " SESSION_COLUMNS " WHERE started_ms >= ?2 AND chip_id IN "
	    "(SELECT id FROM chips WHERE group_id = ?1) "
	    "ORDER BY started_ms, id",
	[ST_TOKEN_ADD] = "INSERT INTO api_tokens (name, hash, scope, created) "
			 "VALUES (?1, ?2, ?3, ?4)",
	[ST_TOKEN_FIND] = "SELECT id, name, scope, created, last_used "
			  "FROM api_tokens WHERE hash = ?1",
	[ST_TOKEN_USED] = "UPDATE api_tokens SET last_used = ?2 WHERE id = ?1",
	[ST_TOKEN_LIST] = "SELECT id, name, scope, created, last_used "
			  "FROM api_tokens ORDER BY name",
	[ST_TOKEN_REMOVE] = "DELETE FROM api_tokens WHERE name = ?1",
	[ST_CHIP_OUTCOMES] = "SELECT last_outcome, count(*) FROM chips "
			     "GROUP BY last_outcome ORDER BY last_outcome",
	[ST_REJECTION_FORGET] = "DELETE FROM rejection_windows "
				"WHERE window_start_ms < ?1",
	[ST_REJECTION_CLAIM] = "INSERT OR IGNORE INTO rejection_windows "
			       "(addr, reason, window_start_ms) "
			       "VALUES (?1, ?2, ?3)",
};

/* Why the last store_open() of this thread failed. */

/* Records a message for store_errmsg() and returns code. */
int sq_set_error(struct store *st, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(st->errmsg, sizeof(st->errmsg), fmt, ap);
	va_end(ap);
	return code;
}

/*
 * Maps an SQLite result to a store code, with a message.  SQLite's own
 * messages name tables and columns, never bound values, so no secret
 * can leak through them.
 */
int sq_sql_error(struct store *st, int rc, const char *what)
{
	int code = -1;

	/* Every flavour of BUSY and LOCKED (the low byte is the primary code).
	 */
	if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED)
		return sq_set_error(st, STORE_BUSY, "%s: database is locked",
				    what);
	/* Transient too: the writer may retry once space or the disk is back.
	 */
	if ((rc & 0xff) == SQLITE_FULL || (rc & 0xff) == SQLITE_IOERR)
		return sq_set_error(st, STORE_FULL, "%s: %s", what,
				    sqlite3_errmsg(st->db));
	switch (rc) {
	case SQLITE_CONSTRAINT_PRIMARYKEY:
	case SQLITE_CONSTRAINT_UNIQUE:
		code = STORE_EXISTS;
		break;
	case SQLITE_CONSTRAINT_FOREIGNKEY:
		code = STORE_NOTFOUND;
		break;
	}
	return sq_set_error(st, code, "%s: %s", what, sqlite3_errmsg(st->db));
}

/* The cached statement id, reset and ready to bind; NULL on error. */
sqlite3_stmt *sq_stmt(struct store *st, enum stmt_id id)
{
	sqlite3_stmt *s = st->stmts[id];
	int rc;

	if (s != NULL) {
		sqlite3_reset(s);
		sqlite3_clear_bindings(s);
		return s;
	}
	rc = sqlite3_prepare_v3(st->db, stmt_sql[id], -1,
				SQLITE_PREPARE_PERSISTENT, &s, NULL);
	if (rc == SQLITE_OK && s == NULL)
		rc = SQLITE_MISUSE; /* no SQL text for id: a bug */
	if (rc != SQLITE_OK) {
		sq_sql_error(st, rc, "prepare");
		return NULL;
	}
	st->stmts[id] = s;
	return s;
}

/* Runs a statement that returns no rows; resets it either way. */
int sq_run(struct store *st, sqlite3_stmt *s, const char *what)
{
	int rc = sqlite3_step(s);

	sqlite3_reset(s);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return sq_sql_error(st, rc, what);
	return 0;
}

/* Runs one of the fixed transaction statements. */
int sq_run_id(struct store *st, enum stmt_id id, const char *what)
{
	sqlite3_stmt *s = sq_stmt(st, id);

	if (s == NULL)
		return -1;
	return sq_run(st, s, what);
}

/*
 * Starts a write transaction: BEGIN IMMEDIATE takes the write lock now
 * (waiting up to the busy timeout), so a read-then-write cannot fail
 * half way on a lock another writer took in between.
 */
int sq_tx_write(struct store *st)
{
	if (st->readonly)
		return sq_set_error(st, -1, "the database is open read-only");
	return sq_run_id(st, ST_BEGIN_WRITE, "begin");
}

/*
 * Opens a read snapshot so that a multi-statement read is consistent,
 * unless a transaction is already open (a store_chip_foreach callback
 * reading more); *own says whether tx_read_end must close it.
 */
int sq_tx_read(struct store *st, int *own)
{
	*own = sqlite3_get_autocommit(st->db);
	if (!*own)
		return 0;
	return sq_run_id(st, ST_BEGIN_READ, "begin");
}

/* Closes what tx_read opened; returns rc, or the commit's failure. */
int sq_tx_read_end(struct store *st, int own, int rc)
{
	if (!own)
		return rc;
	if (rc != 0) {
		sq_tx_rollback(st);
		return rc;
	}
	if ((rc = sq_run_id(st, ST_COMMIT, "commit")) != 0)
		sq_tx_rollback(st);
	return rc;
}

int sq_tx_commit(struct store *st)
{
	return sq_run_id(st, ST_COMMIT, "commit");
}

/* Abandons the open transaction, if any; keeps the first error message. */
void sq_tx_rollback(struct store *st)
{
	sqlite3_stmt *s;

	if (sqlite3_get_autocommit(st->db))
		return;
	s = sq_stmt(st, ST_ROLLBACK);
	if (s != NULL) {
		sqlite3_step(s);
		sqlite3_reset(s);
	}
}

/* Copies a text column (NULL stays NULL) into *out; -1 when out of memory. */
int sq_column_text(struct store *st, sqlite3_stmt *s, int col, char **out)
{
	const unsigned char *text;

	*out = NULL;
	if (sqlite3_column_type(s, col) == SQLITE_NULL)
		return 0;
	/* Non-NULL value but no text: SQLite ran out of memory. */
	if ((text = sqlite3_column_text(s, col)) == NULL ||
	    (*out = strdup((const char *)text)) == NULL)
		return sq_set_error(st, -1, "out of memory");
	return 0;
}

int sq_bind_text(sqlite3_stmt *s, int i, const char *text)
{
	return sqlite3_bind_text(s, i, text, -1, SQLITE_STATIC);
}

/* Grows *items (of size each) so that index n fits; -1 when out of memory. */
static int grow(struct store *st, void **items, size_t *cap, size_t n,
		size_t size)
{
	void *bigger;
	size_t want;

	if (n < *cap)
		return 0;
	want = *cap != 0 ? *cap * 2 : 8;
	bigger = reallocarray(*items, want, size);
	if (bigger == NULL)
		return sq_set_error(st, -1, "out of memory");
	*items = bigger;
	*cap = want;
	return 0;
}

int sq_read_list(struct store *st, sqlite3_stmt *s, const char *what,
		 row_reader read_row, row_freer free_row, size_t size,
		 void **items, size_t *n)
{
	size_t cap = 0;
	void *row;
	int rc;

	*items = NULL;
	*n = 0;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if ((rc = grow(st, items, &cap, *n, size)) != 0)
			goto fail;
		row = (char *)*items + *n * size;
		memset(row, 0, size);
		(*n)++;
		if ((rc = read_row(st, s, row)) != 0)
			goto fail;
	}
	if (rc == SQLITE_DONE) {
		sqlite3_reset(s);
		return 0;
	}
	rc = sq_sql_error(st, rc, what);
fail:
	sqlite3_reset(s);
	sq_list_free(*items, *n, size, free_row);
	*items = NULL;
	*n = 0;
	return rc;
}

void sq_list_free(void *items, size_t n, size_t size, row_freer free_row)
{
	size_t i;

	for (i = 0; items != NULL && free_row != NULL && i < n; i++)
		free_row((char *)items + i * size);
	free(items);
}

static int user_version(struct store *st, int *version)
{
	sqlite3_stmt *s = sq_stmt(st, ST_USER_VERSION);
	int rc;

	if (s == NULL)
		return -1;
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(s);
		return sq_sql_error(st, rc, "reading the schema version");
	}
	*version = sqlite3_column_int(s, 0);
	sqlite3_reset(s);
	return 0;
}

/* Counts the tables already in the file (another program's, if any). */
static int count_tables(struct store *st, int *count)
{
	sqlite3_stmt *s = NULL;
	int rc;

	rc = sqlite3_prepare_v2(st->db,
				"SELECT count(*) FROM sqlite_master "
				"WHERE type = 'table'",
				-1, &s, NULL);
	if (rc != SQLITE_OK)
		return sq_sql_error(st, rc, "reading the schema");
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		rc = sq_sql_error(st, rc, "reading the schema");
		sqlite3_finalize(s);
		return rc;
	}
	*count = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return 0;
}

/* Runs a pragma whose single-row answer must read expect. */
static int pragma_expect(struct store *st, const char *sql, const char *expect)
{
	sqlite3_stmt *s = NULL;
	const unsigned char *got;
	int rc, ok;

	rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
	if (rc != SQLITE_OK)
		return sq_sql_error(st, rc, sql);
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		rc = sq_sql_error(st, rc, sql);
		sqlite3_finalize(s);
		return rc;
	}
	got = sqlite3_column_text(s, 0);
	ok = got != NULL && strcmp((const char *)got, expect) == 0;
	sqlite3_finalize(s);
	if (!ok)
		return sq_set_error(st, -1, "%s: did not take effect", sql);
	return 0;
}

/*
 * Brings the schema from its version to the latest, one migration after
 * another, in one write transaction.  The version is read again under the
 * lock: another process may have migrated meanwhile.
 */
static int migrate(struct store *st, const char *path)
{
	int version = 0, latest = (int)ARRAY_LEN(store_migrations), rc;
	char *err = NULL;
	char sql[64];

	if ((rc = sq_tx_write(st)) != 0)
		return rc;
	if ((rc = user_version(st, &version)) != 0)
		goto fail;
	if (version > latest) {
		rc = sq_set_error(st, -1,
				  "%s: a newer program moved the schema to "
				  "version %d meanwhile",
				  path, version);
		goto fail;
	}
	for (; version < latest; version++) {
		if (sqlite3_exec(st->db, store_migrations[version], NULL, NULL,
				 &err) != SQLITE_OK) {
			rc = sq_set_error(st, -1,
					  "%s: migration to schema version %d "
					  "failed: %s",
					  path, version + 1,
					  err != NULL ? err : "?");
			sqlite3_free(err);
			goto fail;
		}
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d",
			 version + 1);
		if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
			rc = sq_sql_error(st, sqlite3_extended_errcode(st->db),
					  "setting the schema version");
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

/*
 * Checks what the file holds before anything writes to it: a file that
 * is no database, another program's database, or a newer schema is
 * refused, never repaired.  An older or empty one needs migration.
 */
static int check_schema(struct store *st, const char *path, int flags,
			int *needs_migration)
{
	int latest = (int)ARRAY_LEN(store_migrations);
	int version = 0, tables = 0;

	if (user_version(st, &version) != 0)
		return sq_set_error(st, -1, "%s: not a usable database: %s",
				    path, sqlite3_errmsg(st->db));
	if (version > latest)
		return sq_set_error(st, -1,
				    "%s: schema version %d is newer than this "
				    "program knows (%d): refusing to use it",
				    path, version, latest);
	if (version == 0) {
		if (count_tables(st, &tables) != 0)
			return -1;
		if (tables > 0)
			return sq_set_error(st, -1,
					    "%s: holds tables but no luaota "
					    "schema: refusing to touch it",
					    path);
		if (!(flags & STORE_CREATE) || (flags & STORE_READONLY))
			return sq_set_error(st, -1,
					    "%s: the database is empty (not "
					    "initialised)",
					    path);
	}
	if (version < latest && (flags & STORE_READONLY))
		return sq_set_error(st, -1,
				    "%s: schema version %d is older than %d: "
				    "open it read-write once to migrate",
				    path, version, latest);
	if (version < latest)
		*needs_migration = 1;
	return 0;
}

/* WAL, so that the CLI reads while the daemon writes; then durability. */
static int set_journal(struct store *st)
{
	if (pragma_expect(st, "PRAGMA journal_mode = WAL", "wal") != 0)
		return -1;
	/* In WAL mode NORMAL never corrupts; a power cut may only lose the
	 * last commits. */
	if (sqlite3_exec(st->db, "PRAGMA synchronous = NORMAL", NULL, NULL,
			 NULL) != SQLITE_OK)
		return sq_sql_error(st, sqlite3_extended_errcode(st->db),
				    "PRAGMA synchronous");
	return 0;
}

static int sqlite_fail(struct store *st, int code, const char *message)
{
	return sq_set_error(st, code, "%s", message);
}

/* clang-format off */
const struct store_ops store_sqlite_ops = {
	.name = "SQLite",
	.fail = sqlite_fail,
	.close = sqlite_close,
	.errmsg = sqlite_errmsg,
	.set_busy_timeout = sqlite_set_busy_timeout,
	.schema_version = sqlite_schema_version,
	.check = sqlite_check,
	.repo_add = sqlite_repo_add,
	.repo_get = sqlite_repo_get,
	.repo_get_id = sqlite_repo_get_id,
	.repo_find = sqlite_repo_find,
	.group_add = sqlite_group_add,
	.group_get = sqlite_group_get,
	.group_get_id = sqlite_group_get_id,
	.chip_add = sqlite_chip_add,
	.chip_add_v2 = sqlite_chip_add_v2,
	.chip_v2_seen = sqlite_chip_v2_seen,
	.v2_release_latest = sqlite_v2_release_latest,
	.v2_release_add = sqlite_v2_release_add,
	.chip_get = sqlite_chip_get,
	.data_version = sqlite_data_version,
	.chip_get_at = sqlite_chip_get_at,
	.chip_foreach = sqlite_chip_foreach,
	.chip_seen = sqlite_chip_seen,
	.held_get = sqlite_held_get,
	.held_set = sqlite_held_set,
	.session_begin = sqlite_session_begin,
	.session_file = sqlite_session_file,
	.session_end = sqlite_session_end,
	.checkins_current = sqlite_checkins_current,
	.session_record = sqlite_session_record,
	.sessions_interrupt = sqlite_sessions_interrupt,
	.session_list = sqlite_session_list,
	.session_files = sqlite_session_files,
	.group_list = sqlite_group_list,
	.group_update = sqlite_group_update,
	.group_chips = sqlite_group_chips,
	.group_remove = sqlite_group_remove,
	.repo_list = sqlite_repo_list,
	.chip_remove = sqlite_chip_remove,
	.chip_update = sqlite_chip_update,
	.chip_reprovision = sqlite_chip_reprovision,
	.session_get = sqlite_session_get,
	.session_query = sqlite_session_query,
	.integrity_check = sqlite_integrity_check,
	.backup = sqlite_backup,
	.pull_add = sqlite_pull_add,
	.pull_pending = sqlite_pull_pending,
	.pull_any_pending = sqlite_pull_any_pending,
	.pull_list = sqlite_pull_list,
	.pull_get = sqlite_pull_get,
	.pull_finish = sqlite_pull_finish,
	.group_set_release = sqlite_group_set_release,
	.group_chip_ids = sqlite_group_chip_ids,
	.snapshot_add = sqlite_snapshot_add,
	.snapshot_get = sqlite_snapshot_get,
	.rollout_add = sqlite_rollout_add,
	.rollout_get = sqlite_rollout_get,
	.rollout_active = sqlite_rollout_active,
	.rollout_list_active = sqlite_rollout_list_active,
	.rollout_list = sqlite_rollout_list,
	.rollout_move = sqlite_rollout_move,
	.group_sessions_since = sqlite_group_sessions_since,
	.group_sessions_after = sqlite_group_sessions_after,
	.chip_sessions_since = sqlite_chip_sessions_since,
	.chip_outcome_counts = sqlite_chip_outcome_counts,
	.token_add = sqlite_token_add,
	.token_find = sqlite_token_find,
	.token_used = sqlite_token_used,
	.token_list = sqlite_token_list,
	.token_remove = sqlite_token_remove,
	.set_owner = sqlite_set_owner,
	.rejection_first = sqlite_rejection_first,
};
/* clang-format on */

struct store *store_sqlite_open(const char *path, int flags)
{
	struct store *st;
	int oflags, rc, i, needs_migration = 0;

	st = calloc(1, sizeof(*st));
	if (st == NULL) {
		snprintf(store_open_errmsg, sizeof(store_open_errmsg),
			 "%s: out of memory", path);
		return NULL;
	}
	st->ops = &store_sqlite_ops;
	st->readonly = (flags & STORE_READONLY) != 0;
	if (st->readonly)
		oflags = SQLITE_OPEN_READONLY;
	else
		oflags = SQLITE_OPEN_READWRITE |
			 ((flags & STORE_CREATE) ? SQLITE_OPEN_CREATE : 0);
	rc = sqlite3_open_v2(path, &st->db, oflags, NULL);
	if (rc != SQLITE_OK) {
		sq_set_error(st, -1, "%s: cannot open: %s", path,
			     st->db != NULL ? sqlite3_errmsg(st->db)
					    : sqlite3_errstr(rc));
		goto fail;
	}
	sqlite3_extended_result_codes(st->db, 1);
	sqlite3_busy_timeout(st->db, STORE_DEFAULT_BUSY_MS);
	if (sqlite3_exec(st->db, "PRAGMA foreign_keys = ON", NULL, NULL,
			 NULL) != SQLITE_OK) {
		sq_set_error(st, -1, "%s: not a usable database: %s", path,
			     sqlite3_errmsg(st->db));
		goto fail;
	}
	if (pragma_expect(st, "PRAGMA foreign_keys", "1") != 0)
		goto fail;
	/* Ready now, so that a ROLLBACK never fails for want of memory. */
	for (i = ST_BEGIN_READ; i <= ST_ROLLBACK; i++) {
		if (sq_stmt(st, (enum stmt_id)i) == NULL)
			goto fail;
	}
	if (check_schema(st, path, flags, &needs_migration) != 0)
		goto fail;
	/* The journal mode first: the migration itself runs in WAL. */
	if (!st->readonly && set_journal(st) != 0)
		goto fail;
	if (needs_migration && migrate(st, path) != 0)
		goto fail;
	/*
	 * Room for a large fleet's chip rows in SQLite's own page cache (it
	 * grows only as pages are read): a check-in then reads its chip
	 * without a system call, however many chips there are.  Not mmap: an
	 * I/O error there is a signal, not an error code.
	 */
	if (sqlite3_exec(st->db, "PRAGMA cache_size = -32768", NULL, NULL,
			 NULL) != SQLITE_OK) {
		sq_set_error(st, -1, "%s: PRAGMA cache_size: %s", path,
			     sqlite3_errmsg(st->db));
		goto fail;
	}
	return st;
fail:
	snprintf(store_open_errmsg, sizeof(store_open_errmsg), "%s",
		 st->errmsg);
	store_close(st);
	return NULL;
}

void sqlite_close(struct store *st)
{
	size_t i;

	if (st == NULL)
		return;
	for (i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(st->stmts[i]);
	sqlite3_close(st->db);
	free(st->owner);
	free(st);
}

int sqlite_set_owner(struct store *st, const char *owner)
{
	char *copy = owner != NULL ? strdup(owner) : NULL;

	if (owner != NULL && copy == NULL)
		return sq_set_error(st, -1, "out of memory");
	free(st->owner);
	st->owner = copy;
	return 0;
}

const char *sqlite_errmsg(const struct store *st)
{
	return st != NULL ? st->errmsg : store_open_errmsg;
}

int sqlite_check(struct store *st)
{
	sqlite3_stmt *s = NULL;
	const unsigned char *got;
	int rc;

	rc = sqlite3_prepare_v2(st->db, "PRAGMA quick_check", -1, &s, NULL);
	if (rc != SQLITE_OK)
		return sq_sql_error(st, rc, "integrity check");
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		rc = sq_sql_error(st, rc, "integrity check");
		sqlite3_finalize(s);
		return rc;
	}
	got = sqlite3_column_text(s, 0);
	if (got != NULL && strcmp((const char *)got, "ok") == 0) {
		sqlite3_finalize(s);
		return 0;
	}
	/* SQLite's report names pages and tables, never row contents. */
	sq_set_error(st, -1, "integrity check failed: %.200s",
		     got != NULL ? (const char *)got : "?");
	sqlite3_finalize(s);
	for (char *c = st->errmsg; *c != '\0'; c++)
		if (*c == '\n')
			*c = ' '; /* one log line */
	return -1;
}

void sqlite_set_busy_timeout(struct store *st, int ms)
{
	sqlite3_busy_timeout(st->db, ms);
}

int sqlite_schema_version(struct store *st)
{
	int version = 0;

	if (user_version(st, &version) != 0)
		return -1;
	return version;
}

int store_schema_latest(void)
{
	return (int)ARRAY_LEN(store_migrations);
}

/* The outcome a stored name stands for (an unknown one reads as failed). */
/* Steps a single-row query: 0 with the row ready, STORE_NOTFOUND, or -1. */
int sq_step_row(struct store *st, sqlite3_stmt *s, const char *what)
{
	int rc = sqlite3_step(s);

	if (rc == SQLITE_ROW)
		return 0;
	sqlite3_reset(s);
	if (rc == SQLITE_DONE)
		return sq_set_error(st, STORE_NOTFOUND, "%s: not found", what);
	return sq_sql_error(st, rc, what);
}

/* Reads the data version into *version, inside the caller's snapshot. */
int sq_data_version(struct store *st, uint64_t *version)
{
	sqlite3_stmt *s = sq_stmt(st, ST_DATA_VERSION);
	int rc;

	if (s == NULL)
		return -1;
	if ((rc = sq_step_row(st, s, "data version")) != 0)
		return rc;
	*version = (uint64_t)sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return 0;
}

int sqlite_data_version(struct store *st, uint64_t *version)
{
	return sq_data_version(st, version);
}

int sqlite_integrity_check(struct store *st, char **report)
{
	sqlite3_stmt *s = NULL;
	size_t len = 0;
	char *text = NULL;
	int rc;

	*report = NULL;
	rc = sqlite3_prepare_v2(st->db, "PRAGMA integrity_check", -1, &s, NULL);
	if (rc != SQLITE_OK)
		return sq_sql_error(st, rc, "integrity check");
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *line = (const char *)sqlite3_column_text(s, 0);
		size_t add = line != NULL ? strlen(line) : 0;
		char *bigger = realloc(text, len + add + 2);

		if (bigger == NULL) {
			free(text);
			sqlite3_finalize(s);
			return sq_set_error(st, -1, "out of memory");
		}
		text = bigger;
		memcpy(text + len, line != NULL ? line : "", add);
		len += add;
		text[len++] = '\n';
		text[len] = '\0';
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE) {
		free(text);
		return sq_sql_error(st, rc, "integrity check");
	}
	*report = text;
	return 0;
}

int sqlite_backup(struct store *st, const char *path)
{
	sqlite3_backup *b;
	sqlite3 *dest = NULL;
	int rc;

	rc = sqlite3_open_v2(path, &dest,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
	if (rc != SQLITE_OK) {
		sq_set_error(st, -1, "%s: cannot open: %s", path,
			     dest != NULL ? sqlite3_errmsg(dest)
					  : sqlite3_errstr(rc));
		sqlite3_close(dest);
		return -1;
	}
	b = sqlite3_backup_init(dest, "main", st->db, "main");
	if (b == NULL) {
		sq_set_error(st, -1, "%s: %s", path, sqlite3_errmsg(dest));
		sqlite3_close(dest);
		return -1;
	}
	/* All pages in one step: one consistent snapshot of the source,
	 * taken under a read lock that never blocks the daemon (WAL). */
	rc = sqlite3_backup_step(b, -1);
	sqlite3_backup_finish(b);
	if (rc != SQLITE_DONE) {
		sqlite3_close(dest);
		return sq_sql_error(st, rc, "backup");
	}
	if (sqlite3_close(dest) != SQLITE_OK)
		return sq_set_error(st, -1, "%s: cannot close", path);
	return 0;
}
