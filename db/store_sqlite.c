/*
 * The store over SQLite: see store.h.  The only file that includes
 * sqlite3.h.  One connection per struct store, used by one thread.
 */
#include "store.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "migrations.h" /* store_migrations[], from the .sql files */
#include "proto/protocol.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* How long a call waits for another process's lock unless told. */
#define STORE_DEFAULT_BUSY_MS 5000

/* Every statement the store runs, prepared once and kept. */
enum stmt_id {
	ST_BEGIN_READ,
	ST_BEGIN_WRITE,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_USER_VERSION,
	ST_REPO_ADD,
	ST_REPO_GET,
	ST_REPO_GET_ID,
	ST_REPO_FIND,
	ST_GROUP_ADD,
	ST_GROUP_FILE_ADD,
	ST_GROUP_GET,
	ST_GROUP_GET_ID,
	ST_GROUP_FILES,
	ST_GROUP_ID,
	ST_CHIP_ADD,
	ST_CHIP_GET,
	ST_DATA_VERSION,
	ST_CHIP_ALL,
	ST_CHIP_SEEN,
	ST_HELD_GET,
	ST_HELD_CLEAR,
	ST_HELD_ADD,
	ST_CHIP_SET_HELD,
	ST_SESSION_BEGIN,
	ST_SESSION_FILE,
	ST_SESSION_CHIP,
	ST_SESSION_END,
	ST_CHIP_OUTCOME,
	ST_CHIP_V2_SEEN,
	ST_INTERRUPT_CHIPS,
	ST_INTERRUPT,
	ST_SESSION_LIST_ALL,
	ST_SESSION_LIST_CHIP,
	ST_SESSION_FILES,
	ST_GROUP_UPDATE,
	ST_GROUP_FILES_CLEAR,
	ST_GROUP_ALL,
	ST_GROUP_CHIPS,
	ST_GROUP_REMOVE,
	ST_REPO_ALL,
	ST_CHIP_REMOVE,
	ST_CHIP_UPDATE,
	ST_CHIP_REPROVISION,
	ST_SESSION_GET,
	ST_SESSION_QUERY,
	ST_PULL_ADD,
	ST_PULL_PENDING,
	ST_PULL_ANY,
	ST_PULL_FINISH,
	ST_PULL_LIST_ALL,
	ST_PULL_LIST_CHIP,
	ST_PULL_GET,
	ST_CHECKIN_ROW,
	ST_V2_RELEASE_LATEST,
	ST_V2_RELEASE_ADD,
	ST_CHECKIN_CHIP,
	ST_SESSION_FIND,
	ST_SESSION_STATE,
	ST_COUNT
};

#define REPO_COLUMNS "id, name, path, ref FROM repositories"
#define GROUP_COLUMNS                                                          \
	"g.id, g.name, g.repo_id, r.name, g.config_json, g.max_file_size, "    \
	"g.lua_version FROM groups g JOIN repositories r ON r.id = g.repo_id"
#define CHIP_COLUMNS                                                           \
	"c.id, c.label, c.secret, c.group_id, g.name, c.config_json, "         \
	"c.protocol, c.enabled, c.created, c.first_seen, c.last_seen, "        \
	"c.last_addr, c.last_outcome, c.chk, c.revision, c.v2_key, "           \
	"c.v2_seen FROM chips c JOIN groups g ON g.id = c.group_id"
#define PULL_COLUMNS "id, chip_id, name, requested, state, done, size, reason"
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
	[ST_SESSION_BEGIN] = "INSERT INTO sessions (chip_id, peer, started_ms) "
			     "VALUES (?1, ?2, ?3)",
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
};

struct store {
	sqlite3 *db;
	int readonly;
	char errmsg[256];
	sqlite3_stmt *stmts[ST_COUNT];
};

static const char *const outcome_names[] = {
	[STORE_OUTCOME_STARTED] = "started",
	[STORE_OUTCOME_CURRENT] = "current",
	[STORE_OUTCOME_UPDATED] = "updated",
	[STORE_OUTCOME_PARTIAL] = "partial",
	[STORE_OUTCOME_FAILED] = "failed",
	[STORE_OUTCOME_REJECTED] = "rejected",
	[STORE_OUTCOME_INTERRUPTED] = "interrupted",
};

static const char *const action_names[] = {
	[STORE_ACTION_AUTO] = "auto",
	[STORE_ACTION_DL] = "dl",
	[STORE_ACTION_CM] = "cm",
};

/* Why the last store_open() of this thread failed. */
static _Thread_local char open_errmsg[256] = "no error";

static int set_error(struct store *st, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Records a message for store_errmsg() and returns code. */
static int set_error(struct store *st, int code, const char *fmt, ...)
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
static int sql_error(struct store *st, int rc, const char *what)
{
	int code = -1;

	/* Every flavour of BUSY and LOCKED (the low byte is the primary code).
	 */
	if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED)
		return set_error(st, STORE_BUSY, "%s: database is locked",
				 what);
	/* Transient too: the writer may retry once space or the disk is back.
	 */
	if ((rc & 0xff) == SQLITE_FULL || (rc & 0xff) == SQLITE_IOERR)
		return set_error(st, STORE_FULL, "%s: %s", what,
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
	return set_error(st, code, "%s: %s", what, sqlite3_errmsg(st->db));
}

/* The cached statement id, reset and ready to bind; NULL on error. */
static sqlite3_stmt *stmt(struct store *st, enum stmt_id id)
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
		sql_error(st, rc, "prepare");
		return NULL;
	}
	st->stmts[id] = s;
	return s;
}

/* Runs a statement that returns no rows; resets it either way. */
static int run(struct store *st, sqlite3_stmt *s, const char *what)
{
	int rc = sqlite3_step(s);

	sqlite3_reset(s);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return sql_error(st, rc, what);
	return 0;
}

/* Runs one of the fixed transaction statements. */
static int run_id(struct store *st, enum stmt_id id, const char *what)
{
	sqlite3_stmt *s = stmt(st, id);

	if (s == NULL)
		return -1;
	return run(st, s, what);
}

/*
 * Starts a write transaction: BEGIN IMMEDIATE takes the write lock now
 * (waiting up to the busy timeout), so a read-then-write cannot fail
 * half way on a lock another writer took in between.
 */
static int tx_write(struct store *st)
{
	if (st->readonly)
		return set_error(st, -1, "the database is open read-only");
	return run_id(st, ST_BEGIN_WRITE, "begin");
}

/*
 * Opens a read snapshot so that a multi-statement read is consistent,
 * unless a transaction is already open (a store_chip_foreach callback
 * reading more); *own says whether tx_read_end must close it.
 */
static int tx_read(struct store *st, int *own)
{
	*own = sqlite3_get_autocommit(st->db);
	if (!*own)
		return 0;
	return run_id(st, ST_BEGIN_READ, "begin");
}

static void tx_rollback(struct store *st);

/* Closes what tx_read opened; returns rc, or the commit's failure. */
static int tx_read_end(struct store *st, int own, int rc)
{
	if (!own)
		return rc;
	if (rc != 0) {
		tx_rollback(st);
		return rc;
	}
	if ((rc = run_id(st, ST_COMMIT, "commit")) != 0)
		tx_rollback(st);
	return rc;
}

static int tx_commit(struct store *st)
{
	return run_id(st, ST_COMMIT, "commit");
}

/* Abandons the open transaction, if any; keeps the first error message. */
static void tx_rollback(struct store *st)
{
	sqlite3_stmt *s;

	if (sqlite3_get_autocommit(st->db))
		return;
	s = stmt(st, ST_ROLLBACK);
	if (s != NULL) {
		sqlite3_step(s);
		sqlite3_reset(s);
	}
}

/* Copies a text column (NULL stays NULL) into *out; -1 when out of memory. */
static int column_text(struct store *st, sqlite3_stmt *s, int col, char **out)
{
	const unsigned char *text;

	*out = NULL;
	if (sqlite3_column_type(s, col) == SQLITE_NULL)
		return 0;
	/* Non-NULL value but no text: SQLite ran out of memory. */
	if ((text = sqlite3_column_text(s, col)) == NULL ||
	    (*out = strdup((const char *)text)) == NULL)
		return set_error(st, -1, "out of memory");
	return 0;
}

static int bind_text(sqlite3_stmt *s, int i, const char *text)
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
		return set_error(st, -1, "out of memory");
	*items = bigger;
	*cap = want;
	return 0;
}

/* Reads the current row of a list query into row (zeroed beforehand). */
typedef int (*row_reader)(struct store *st, sqlite3_stmt *s, void *row);

/*
 * Steps the bound list query s to its end, appending one element of size
 * bytes per row to *items (*n of them; empty on entry), each zeroed and
 * then filled by read_row; resets s.  On failure the rows read so far,
 * the last perhaps half filled, stay for the caller's free function.
 */
static int read_list(struct store *st, sqlite3_stmt *s, const char *what,
		     row_reader read_row, size_t size, void **items, size_t *n)
{
	size_t cap = 0;
	void *row;
	int rc;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if ((rc = grow(st, items, &cap, *n, size)) != 0)
			goto fail;
		row = (char *)*items + *n * size;
		memset(row, 0, size);
		(*n)++;
		if ((rc = read_row(st, s, row)) != 0)
			goto fail;
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		return sql_error(st, rc, what);
	return 0;
fail:
	sqlite3_reset(s);
	return rc;
}

static int user_version(struct store *st, int *version)
{
	sqlite3_stmt *s = stmt(st, ST_USER_VERSION);
	int rc;

	if (s == NULL)
		return -1;
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(s);
		return sql_error(st, rc, "reading the schema version");
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
		return sql_error(st, rc, "reading the schema");
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		rc = sql_error(st, rc, "reading the schema");
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
		return sql_error(st, rc, sql);
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		rc = sql_error(st, rc, sql);
		sqlite3_finalize(s);
		return rc;
	}
	got = sqlite3_column_text(s, 0);
	ok = got != NULL && strcmp((const char *)got, expect) == 0;
	sqlite3_finalize(s);
	if (!ok)
		return set_error(st, -1, "%s: did not take effect", sql);
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

	if ((rc = tx_write(st)) != 0)
		return rc;
	if ((rc = user_version(st, &version)) != 0)
		goto fail;
	if (version > latest) {
		rc = set_error(st, -1,
			       "%s: a newer program moved the schema to "
			       "version %d meanwhile",
			       path, version);
		goto fail;
	}
	for (; version < latest; version++) {
		if (sqlite3_exec(st->db, store_migrations[version], NULL, NULL,
				 &err) != SQLITE_OK) {
			rc = set_error(st, -1,
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
			rc = sql_error(st, sqlite3_extended_errcode(st->db),
				       "setting the schema version");
			goto fail;
		}
	}
	if ((rc = tx_commit(st)) != 0)
		goto fail;
	return 0;
fail:
	tx_rollback(st);
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
		return set_error(st, -1, "%s: not a usable database: %s", path,
				 sqlite3_errmsg(st->db));
	if (version > latest)
		return set_error(st, -1,
				 "%s: schema version %d is newer than this "
				 "program knows (%d): refusing to use it",
				 path, version, latest);
	if (version == 0) {
		if (count_tables(st, &tables) != 0)
			return -1;
		if (tables > 0)
			return set_error(st, -1,
					 "%s: holds tables but no luaota "
					 "schema: refusing to touch it",
					 path);
		if (!(flags & STORE_CREATE) || (flags & STORE_READONLY))
			return set_error(st, -1,
					 "%s: the database is empty (not "
					 "initialised)",
					 path);
	}
	if (version < latest && (flags & STORE_READONLY))
		return set_error(st, -1,
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
		return sql_error(st, sqlite3_extended_errcode(st->db),
				 "PRAGMA synchronous");
	return 0;
}

struct store *store_open(const char *path, int flags)
{
	struct store *st;
	int oflags, rc, i, needs_migration = 0;

	st = calloc(1, sizeof(*st));
	if (st == NULL) {
		snprintf(open_errmsg, sizeof(open_errmsg), "%s: out of memory",
			 path);
		return NULL;
	}
	st->readonly = (flags & STORE_READONLY) != 0;
	if (st->readonly)
		oflags = SQLITE_OPEN_READONLY;
	else
		oflags = SQLITE_OPEN_READWRITE |
			 ((flags & STORE_CREATE) ? SQLITE_OPEN_CREATE : 0);
	rc = sqlite3_open_v2(path, &st->db, oflags, NULL);
	if (rc != SQLITE_OK) {
		set_error(st, -1, "%s: cannot open: %s", path,
			  st->db != NULL ? sqlite3_errmsg(st->db)
					 : sqlite3_errstr(rc));
		goto fail;
	}
	sqlite3_extended_result_codes(st->db, 1);
	sqlite3_busy_timeout(st->db, STORE_DEFAULT_BUSY_MS);
	if (sqlite3_exec(st->db, "PRAGMA foreign_keys = ON", NULL, NULL,
			 NULL) != SQLITE_OK) {
		set_error(st, -1, "%s: not a usable database: %s", path,
			  sqlite3_errmsg(st->db));
		goto fail;
	}
	if (pragma_expect(st, "PRAGMA foreign_keys", "1") != 0)
		goto fail;
	/* Ready now, so that a ROLLBACK never fails for want of memory. */
	for (i = ST_BEGIN_READ; i <= ST_ROLLBACK; i++) {
		if (stmt(st, (enum stmt_id)i) == NULL)
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
		set_error(st, -1, "%s: PRAGMA cache_size: %s", path,
			  sqlite3_errmsg(st->db));
		goto fail;
	}
	return st;
fail:
	snprintf(open_errmsg, sizeof(open_errmsg), "%s", st->errmsg);
	store_close(st);
	return NULL;
}

void store_close(struct store *st)
{
	size_t i;

	if (st == NULL)
		return;
	for (i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(st->stmts[i]);
	sqlite3_close(st->db);
	free(st);
}

const char *store_errmsg(const struct store *st)
{
	return st != NULL ? st->errmsg : open_errmsg;
}

int store_check(struct store *st)
{
	sqlite3_stmt *s = NULL;
	const unsigned char *got;
	int rc;

	rc = sqlite3_prepare_v2(st->db, "PRAGMA quick_check", -1, &s, NULL);
	if (rc != SQLITE_OK)
		return sql_error(st, rc, "integrity check");
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		rc = sql_error(st, rc, "integrity check");
		sqlite3_finalize(s);
		return rc;
	}
	got = sqlite3_column_text(s, 0);
	if (got != NULL && strcmp((const char *)got, "ok") == 0) {
		sqlite3_finalize(s);
		return 0;
	}
	/* SQLite's report names pages and tables, never row contents. */
	set_error(st, -1, "integrity check failed: %.200s",
		  got != NULL ? (const char *)got : "?");
	sqlite3_finalize(s);
	for (char *c = st->errmsg; *c != '\0'; c++)
		if (*c == '\n')
			*c = ' '; /* one log line */
	return -1;
}

void store_set_busy_timeout(struct store *st, int ms)
{
	sqlite3_busy_timeout(st->db, ms);
}

int store_schema_version(struct store *st)
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

const char *store_outcome_name(enum store_outcome o)
{
	if ((unsigned)o >= ARRAY_LEN(outcome_names))
		return "unknown";
	return outcome_names[o];
}

/* The outcome a stored name stands for (an unknown one reads as failed). */
static enum store_outcome outcome_parse(const char *name)
{
	size_t i;

	for (i = 0; name != NULL && i < ARRAY_LEN(outcome_names); i++)
		if (strcmp(outcome_names[i], name) == 0)
			return (enum store_outcome)i;
	return STORE_OUTCOME_FAILED;
}

static enum store_action action_parse(const char *name)
{
	size_t i;

	for (i = 0; name != NULL && i < ARRAY_LEN(action_names); i++)
		if (strcmp(action_names[i], name) == 0)
			return (enum store_action)i;
	return STORE_ACTION_AUTO;
}

/* Steps a single-row query: 0 with the row ready, STORE_NOTFOUND, or -1. */
static int step_row(struct store *st, sqlite3_stmt *s, const char *what)
{
	int rc = sqlite3_step(s);

	if (rc == SQLITE_ROW)
		return 0;
	sqlite3_reset(s);
	if (rc == SQLITE_DONE)
		return set_error(st, STORE_NOTFOUND, "%s: not found", what);
	return sql_error(st, rc, what);
}

/* Repositories. */

int store_repo_add(struct store *st, const char *name, const char *path,
		   const char *ref)
{
	sqlite3_stmt *s = stmt(st, ST_REPO_ADD);
	int rc;

	if (s == NULL)
		return -1;
	if (st->readonly)
		return set_error(st, -1, "the database is open read-only");
	bind_text(s, 1, name);
	bind_text(s, 2, path);
	bind_text(s, 3, ref);
	rc = run(st, s, "adding repository");
	if (rc == STORE_EXISTS)
		set_error(st, rc, "repository %s already exists", name);
	return rc;
}

/* Reads the current row of a REPO_COLUMNS query into a struct store_repo. */
static int repo_read(struct store *st, sqlite3_stmt *s, void *row)
{
	struct store_repo *out = row;

	out->id = sqlite3_column_int64(s, 0);
	if (column_text(st, s, 1, &out->name) != 0 ||
	    column_text(st, s, 2, &out->path) != 0 ||
	    column_text(st, s, 3, &out->ref) != 0) {
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
	if ((rc = step_row(st, s, what)) != 0)
		return rc;
	rc = repo_read(st, s, out);
	sqlite3_reset(s);
	return rc;
}

int store_repo_get(struct store *st, const char *name, struct store_repo *out)
{
	sqlite3_stmt *s = stmt(st, ST_REPO_GET);

	memset(out, 0, sizeof(*out));
	if (s == NULL)
		return -1;
	bind_text(s, 1, name);
	return repo_query(st, s, "repository", out);
}

int store_repo_get_id(struct store *st, int64_t id, struct store_repo *out)
{
	sqlite3_stmt *s = stmt(st, ST_REPO_GET_ID);

	memset(out, 0, sizeof(*out));
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, id);
	return repo_query(st, s, "repository", out);
}

int store_repo_find(struct store *st, const char *path, const char *ref,
		    struct store_repo *out)
{
	sqlite3_stmt *s = stmt(st, ST_REPO_FIND);

	memset(out, 0, sizeof(*out));
	if (s == NULL)
		return -1;
	bind_text(s, 1, path);
	bind_text(s, 2, ref);
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

/* Groups. */

int store_group_add(struct store *st, const struct store_group *g)
{
	sqlite3_stmt *s;
	struct store_repo repo;
	int64_t repo_id = g->repo_id, group_id;
	size_t i;
	int rc;

	if ((rc = tx_write(st)) != 0)
		return rc;
	if (g->repo_name != NULL) {
		rc = store_repo_get(st, g->repo_name, &repo);
		repo_id = repo.id;
		store_repo_free(&repo);
	} else {
		rc = store_repo_get_id(st, repo_id, &repo);
		store_repo_free(&repo);
	}
	if (rc == STORE_NOTFOUND)
		set_error(st, rc, "group %s: no such repository", g->name);
	if (rc != 0)
		goto fail;
	if ((s = stmt(st, ST_GROUP_ADD)) == NULL) {
		rc = -1;
		goto fail;
	}
	bind_text(s, 1, g->name);
	sqlite3_bind_int64(s, 2, repo_id);
	bind_text(s, 3, g->config_json);
	sqlite3_bind_int64(s, 4, g->max_file_size);
	sqlite3_bind_int(s, 5,
			 g->lua_version != 0 ? g->lua_version : LUAOTA_LUA_51);
	if ((rc = run(st, s, "adding group")) != 0) {
		if (rc == STORE_EXISTS)
			set_error(st, rc, "group %s already exists", g->name);
		goto fail;
	}
	group_id = sqlite3_last_insert_rowid(st->db);
	for (i = 0; i < g->nfiles; i++) {
		if ((s = stmt(st, ST_GROUP_FILE_ADD)) == NULL) {
			rc = -1;
			goto fail;
		}
		if ((unsigned)g->files[i].action >= ARRAY_LEN(action_names)) {
			rc = set_error(st, -1, "group %s: file %s: bad action",
				       g->name, g->files[i].name);
			goto fail;
		}
		sqlite3_bind_int64(s, 1, group_id);
		sqlite3_bind_int64(s, 2, (int64_t)i);
		bind_text(s, 3, g->files[i].name);
		bind_text(s, 4, action_names[g->files[i].action]);
		if ((rc = run(st, s, "adding group file")) != 0) {
			if (rc == STORE_EXISTS)
				set_error(st, rc,
					  "group %s: file %s listed "
					  "twice",
					  g->name, g->files[i].name);
			goto fail;
		}
	}
	if ((rc = tx_commit(st)) != 0)
		goto fail;
	return 0;
fail:
	tx_rollback(st);
	return rc;
}

/* Reads one ST_GROUP_FILES row into a struct store_group_file. */
static int group_file_read(struct store *st, sqlite3_stmt *s, void *row)
{
	struct store_group_file *f = row;
	char *action;

	if (column_text(st, s, 0, &f->name) != 0 ||
	    column_text(st, s, 1, &action) != 0)
		return -1;
	f->action = action_parse(action);
	free(action);
	return 0;
}

/* Reads a group's file list into out. */
static int group_files_read(struct store *st, struct store_group *out)
{
	sqlite3_stmt *s = stmt(st, ST_GROUP_FILES);

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, out->id);
	return read_list(st, s, "reading group files", group_file_read,
			 sizeof(*out->files), (void **)&out->files,
			 &out->nfiles);
}

/* Runs a bound GROUP_COLUMNS query, then reads the group's files. */
static int group_query(struct store *st, sqlite3_stmt *s,
		       struct store_group *out)
{
	int rc;

	if ((rc = step_row(st, s, "group")) != 0)
		return rc;
	out->id = sqlite3_column_int64(s, 0);
	out->repo_id = sqlite3_column_int64(s, 2);
	out->max_file_size = sqlite3_column_int64(s, 5);
	out->lua_version = sqlite3_column_int(s, 6);
	if (column_text(st, s, 1, &out->name) != 0 ||
	    column_text(st, s, 3, &out->repo_name) != 0 ||
	    column_text(st, s, 4, &out->config_json) != 0) {
		sqlite3_reset(s);
		return -1;
	}
	sqlite3_reset(s);
	return group_files_read(st, out);
}

/* Reads one group by name (name non-NULL) or id, in one snapshot. */
static int group_get(struct store *st, const char *name, int64_t id,
		     struct store_group *out)
{
	sqlite3_stmt *s;
	int rc, own;

	memset(out, 0, sizeof(*out));
	if ((rc = tx_read(st, &own)) != 0)
		return rc;
	s = stmt(st, name != NULL ? ST_GROUP_GET : ST_GROUP_GET_ID);
	if (s == NULL) {
		rc = -1;
	} else {
		if (name != NULL)
			bind_text(s, 1, name);
		else
			sqlite3_bind_int64(s, 1, id);
		rc = group_query(st, s, out);
	}
	if ((rc = tx_read_end(st, own, rc)) != 0)
		store_group_free(out);
	return rc;
}

int store_group_get(struct store *st, const char *name, struct store_group *out)
{
	return group_get(st, name, 0, out);
}

int store_group_get_id(struct store *st, int64_t id, struct store_group *out)
{
	return group_get(st, NULL, id, out);
}

void store_group_free(struct store_group *g)
{
	size_t i;

	if (g == NULL)
		return;
	for (i = 0; i < g->nfiles; i++)
		free(g->files[i].name);
	free(g->files);
	free(g->name);
	free(g->repo_name);
	free(g->config_json);
	memset(g, 0, sizeof(*g));
}

/* Chips. */

/* Adds a chip speaking legacy (v2_key NULL) or v2. */
static int chip_add(struct store *st, const char *id, const char *group,
		    const char *secret, const char *label, const char *v2_key)
{
	sqlite3_stmt *s;
	int64_t group_id;
	int rc;

	if (secret == NULL || secret[0] == '\0')
		return set_error(st, -1, "chip %s: empty secret", id);
	if (v2_key != NULL && strlen(v2_key) != 64)
		return set_error(st, -1, "chip %s: a v2 key is 64 hex digits",
				 id);
	if ((rc = tx_write(st)) != 0)
		return rc;
	if ((s = stmt(st, ST_GROUP_ID)) == NULL) {
		rc = -1;
		goto fail;
	}
	bind_text(s, 1, group);
	if ((rc = step_row(st, s, "group")) != 0) {
		if (rc == STORE_NOTFOUND)
			set_error(st, rc, "chip %s: no such group: %s", id,
				  group);
		goto fail;
	}
	group_id = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	if ((s = stmt(st, ST_CHIP_ADD)) == NULL) {
		rc = -1;
		goto fail;
	}
	bind_text(s, 1, id);
	bind_text(s, 2, label);
	bind_text(s, 3, secret);
	sqlite3_bind_int64(s, 4, group_id);
	sqlite3_bind_int(
	    s, 5, v2_key != NULL ? LUAOTA_PROTO_V2 : LUAOTA_PROTO_LEGACY);
	bind_text(s, 6, v2_key);
	if ((rc = run(st, s, "adding chip")) != 0) {
		if (rc == STORE_EXISTS)
			set_error(st, rc, "chip %s already exists", id);
		goto fail;
	}
	if ((rc = tx_commit(st)) != 0)
		goto fail;
	return 0;
fail:
	tx_rollback(st);
	return rc;
}

int store_chip_add(struct store *st, const char *id, const char *group,
		   const char *secret, const char *label)
{
	return chip_add(st, id, group, secret, label, NULL);
}

int store_chip_add_v2(struct store *st, const char *id, const char *group,
		      const char *secret, const char *label, const char *v2_key)
{
	if (v2_key == NULL)
		return set_error(st, -1, "chip %s: no v2 key", id);
	return chip_add(st, id, group, secret, label, v2_key);
}

int store_chip_v2_seen(struct store *st, const char *id)
{
	sqlite3_stmt *s = stmt(st, ST_CHIP_V2_SEEN);

	if (s == NULL)
		return -1;
	bind_text(s, 1, id);
	return run(st, s, "marking a v2 session");
}

int store_v2_release_latest(struct store *st, const char *chip_id,
			    struct store_v2_release *out)
{
	sqlite3_stmt *s = stmt(st, ST_V2_RELEASE_LATEST);
	const unsigned char *mh;
	int rc;

	memset(out, 0, sizeof(*out));
	if (s == NULL)
		return -1;
	bind_text(s, 1, chip_id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE) {
		sqlite3_reset(s);
		return STORE_NOTFOUND;
	}
	if (rc != SQLITE_ROW) {
		sqlite3_reset(s);
		return sql_error(st, rc, "reading the chip's v2 release");
	}
	out->rc = sqlite3_column_int64(s, 0);
	out->issued = sqlite3_column_int64(s, 3);
	mh = sqlite3_column_text(s, 1);
	if (mh != NULL)
		snprintf(out->mh, sizeof(out->mh), "%s", (const char *)mh);
	rc = column_text(st, s, 2, &out->manifest);
	sqlite3_reset(s);
	if (rc != 0 || out->manifest == NULL) {
		store_v2_release_free(out);
		return set_error(st, -1, "reading the chip's v2 release");
	}
	return 0;
}

int store_v2_release_add(struct store *st, const char *chip_id,
			 const struct store_v2_release *r)
{
	sqlite3_stmt *s = stmt(st, ST_V2_RELEASE_ADD);
	int rc;

	if (s == NULL)
		return -1;
	bind_text(s, 1, chip_id);
	sqlite3_bind_int64(s, 2, r->rc);
	bind_text(s, 3, r->mh);
	bind_text(s, 4, r->manifest);
	sqlite3_bind_int64(s, 5, r->issued);
	rc = run(st, s, "recording a v2 release");
	if (rc == STORE_EXISTS)
		set_error(st, rc, "release %lld of chip %s already exists",
			  (long long)r->rc, chip_id);
	return rc;
}

void store_v2_release_free(struct store_v2_release *r)
{
	free(r->manifest);
	r->manifest = NULL;
}

/* Reads the current row of a CHIP_COLUMNS query into out. */
static int chip_read(struct store *st, sqlite3_stmt *s, struct store_chip *out)
{
	memset(out, 0, sizeof(*out));
	out->group_id = sqlite3_column_int64(s, 3);
	out->protocol = sqlite3_column_int(s, 6);
	out->enabled = sqlite3_column_int(s, 7);
	out->created = sqlite3_column_int64(s, 8);
	out->first_seen = sqlite3_column_int64(s, 9);
	out->last_seen = sqlite3_column_int64(s, 10);
	out->v2_seen = sqlite3_column_int(s, 16);
	if (column_text(st, s, 0, &out->id) != 0 ||
	    column_text(st, s, 1, &out->label) != 0 ||
	    column_text(st, s, 2, &out->secret) != 0 ||
	    column_text(st, s, 4, &out->group_name) != 0 ||
	    column_text(st, s, 5, &out->config_json) != 0 ||
	    column_text(st, s, 11, &out->last_addr) != 0 ||
	    column_text(st, s, 12, &out->last_outcome) != 0 ||
	    column_text(st, s, 13, &out->chk) != 0 ||
	    column_text(st, s, 14, &out->revision) != 0 ||
	    column_text(st, s, 15, &out->v2_key) != 0) {
		store_chip_free(out);
		return -1;
	}
	return 0;
}

int store_chip_get(struct store *st, const char *id, struct store_chip *out)
{
	sqlite3_stmt *s = stmt(st, ST_CHIP_GET);
	int rc;

	memset(out, 0, sizeof(*out));
	if (s == NULL)
		return -1;
	bind_text(s, 1, id);
	if ((rc = step_row(st, s, "chip")) != 0)
		return rc;
	rc = chip_read(st, s, out);
	sqlite3_reset(s);
	return rc;
}

/* Reads the data version into *version, inside the caller's snapshot. */
static int data_version(struct store *st, uint64_t *version)
{
	sqlite3_stmt *s = stmt(st, ST_DATA_VERSION);
	int rc;

	if (s == NULL)
		return -1;
	if ((rc = step_row(st, s, "data version")) != 0)
		return rc;
	*version = (uint64_t)sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return 0;
}

int store_data_version(struct store *st, uint64_t *version)
{
	return data_version(st, version);
}

int store_chip_get_at(struct store *st, const char *id, struct store_chip *out,
		      uint64_t *version)
{
	int rc, own;

	memset(out, 0, sizeof(*out));
	if ((rc = tx_read(st, &own)) != 0)
		return rc;
	rc = data_version(st, version);
	if (rc == 0)
		rc = store_chip_get(st, id, out);
	/* NOTFOUND is an answer, read in a snapshot like any other. */
	if (rc == STORE_NOTFOUND) {
		(void)tx_read_end(st, own, 0);
		return rc;
	}
	if ((rc = tx_read_end(st, own, rc)) != 0)
		store_chip_free(out);
	return rc;
}

int store_pull_any_pending(struct store *st, int *any)
{
	sqlite3_stmt *s = stmt(st, ST_PULL_ANY);
	int rc;

	if (s == NULL)
		return -1;
	if ((rc = step_row(st, s, "pending pulls")) != 0)
		return rc;
	*any = sqlite3_column_int(s, 0) != 0;
	sqlite3_reset(s);
	return 0;
}

void store_chip_free(struct store_chip *c)
{
	if (c == NULL)
		return;
	free(c->id);
	free(c->label);
	if (c->secret != NULL)
		explicit_bzero(c->secret, strlen(c->secret));
	free(c->secret);
	if (c->v2_key != NULL)
		explicit_bzero(c->v2_key, strlen(c->v2_key));
	free(c->v2_key);
	free(c->group_name);
	free(c->config_json);
	free(c->last_addr);
	free(c->last_outcome);
	free(c->chk);
	free(c->revision);
	memset(c, 0, sizeof(*c));
}

int store_chip_foreach(struct store *st,
		       int (*fn)(const struct store_chip *, void *), void *arg)
{
	struct store_chip chip;
	sqlite3_stmt *s;
	int rc, own, stop = 0;

	/* One snapshot for the whole list; fn may read the store (not
	 * this list again, nor write: the snapshot holds no write lock). */
	if ((rc = tx_read(st, &own)) != 0)
		return rc;
	if ((s = stmt(st, ST_CHIP_ALL)) == NULL)
		return tx_read_end(st, own, -1);
	while (!stop && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (chip_read(st, s, &chip) != 0) {
			sqlite3_reset(s);
			return tx_read_end(st, own, -1);
		}
		stop = fn(&chip, arg);
		store_chip_free(&chip);
	}
	sqlite3_reset(s);
	if (!stop && rc != SQLITE_DONE)
		return tx_read_end(st, own, sql_error(st, rc, "listing chips"));
	rc = tx_read_end(st, own, 0);
	return rc != 0 ? rc : stop;
}

int store_chip_seen(struct store *st, const char *id, const char *addr,
		    int64_t now)
{
	sqlite3_stmt *s = stmt(st, ST_CHIP_SEEN);
	int rc;

	if (s == NULL)
		return -1;
	if (st->readonly)
		return set_error(st, -1, "the database is open read-only");
	bind_text(s, 1, id);
	sqlite3_bind_int64(s, 2, now);
	bind_text(s, 3, addr);
	if ((rc = run(st, s, "noting a check-in")) != 0)
		return rc;
	if (sqlite3_changes(st->db) == 0)
		return set_error(st, STORE_NOTFOUND, "chip %s: not found", id);
	return 0;
}

/* Held files. */

/* Reads one ST_HELD_GET row into a struct store_held_file. */
static int held_read(struct store *st, sqlite3_stmt *s, void *row)
{
	struct store_held_file *f = row;

	if (column_text(st, s, 0, &f->name) != 0 ||
	    column_text(st, s, 1, &f->token) != 0)
		return -1;
	return 0;
}

int store_held_get(struct store *st, const char *id,
		   struct store_held_file **out, size_t *n)
{
	sqlite3_stmt *s = stmt(st, ST_HELD_GET);
	int rc;

	*out = NULL;
	*n = 0;
	if (s == NULL)
		return -1;
	bind_text(s, 1, id);
	rc = read_list(st, s, "reading held files", held_read, sizeof(**out),
		       (void **)out, n);
	if (rc != 0) {
		store_held_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	return rc;
}

void store_held_free(struct store_held_file *files, size_t n)
{
	size_t i;

	for (i = 0; files != NULL && i < n; i++) {
		free(files[i].name);
		free(files[i].token);
	}
	free(files);
}

int store_held_set(struct store *st, const char *id, const char *chk,
		   const char *revision, const struct store_held_file *files,
		   size_t n)
{
	sqlite3_stmt *s;
	size_t i;
	int rc;

	if ((rc = tx_write(st)) != 0)
		return rc;
	if ((s = stmt(st, ST_CHIP_SET_HELD)) == NULL) {
		rc = -1;
		goto fail;
	}
	bind_text(s, 1, id);
	bind_text(s, 2, chk);
	bind_text(s, 3, revision);
	if ((rc = run(st, s, "recording held files")) != 0)
		goto fail;
	if (sqlite3_changes(st->db) == 0) {
		rc = set_error(st, STORE_NOTFOUND, "chip %s: not found", id);
		goto fail;
	}
	if ((s = stmt(st, ST_HELD_CLEAR)) == NULL) {
		rc = -1;
		goto fail;
	}
	bind_text(s, 1, id);
	if ((rc = run(st, s, "recording held files")) != 0)
		goto fail;
	for (i = 0; i < n; i++) {
		if ((s = stmt(st, ST_HELD_ADD)) == NULL) {
			rc = -1;
			goto fail;
		}
		bind_text(s, 1, id);
		bind_text(s, 2, files[i].name);
		bind_text(s, 3, files[i].token);
		if ((rc = run(st, s, "recording held files")) != 0) {
			if (rc == STORE_EXISTS)
				set_error(st, rc,
					  "chip %s: file %s listed "
					  "twice",
					  id, files[i].name);
			goto fail;
		}
	}
	if ((rc = tx_commit(st)) != 0)
		goto fail;
	return 0;
fail:
	tx_rollback(st);
	return rc;
}

/* History. */

/* One current check-in inside the caller's transaction. */
static int checkin_row(struct store *st, const struct store_checkin *c)
{
	sqlite3_stmt *s;
	int rc;

	if ((s = stmt(st, ST_CHECKIN_CHIP)) == NULL)
		return -1;
	bind_text(s, 1, c->chip_id);
	sqlite3_bind_int64(s, 2, c->ended_ms / 1000);
	bind_text(s, 3, c->addr);
	if ((rc = run(st, s, "noting a check-in")) != 0)
		return rc;
	if ((s = stmt(st, ST_CHECKIN_ROW)) == NULL)
		return -1;
	bind_text(s, 1, c->chip_id);
	bind_text(s, 2, c->peer);
	sqlite3_bind_int64(s, 3, c->started_ms);
	sqlite3_bind_int64(s, 4, c->ended_ms);
	bind_text(s, 5, c->revision);
	return run(st, s, "recording a check-in");
}

int store_checkins_current(struct store *st, const struct store_checkin *rows,
			   size_t n)
{
	size_t i;
	int rc;

	if (n == 0)
		return 0;
	if (st->readonly)
		return set_error(st, -1, "the database is open read-only");
	if ((rc = tx_write(st)) != 0)
		return rc;
	for (i = 0; i < n; i++)
		if ((rc = checkin_row(st, &rows[i])) != 0)
			goto fail;
	if ((rc = tx_commit(st)) != 0)
		goto fail;
	return 0;
fail:
	tx_rollback(st);
	return rc;
}

int store_session_begin(struct store *st, const char *chip_id, const char *peer,
			int64_t started_ms, int64_t *session_id)
{
	sqlite3_stmt *s = stmt(st, ST_SESSION_BEGIN);
	int rc;

	if (s == NULL)
		return -1;
	if (st->readonly)
		return set_error(st, -1, "the database is open read-only");
	bind_text(s, 1, chip_id);
	bind_text(s, 2, peer);
	sqlite3_bind_int64(s, 3, started_ms);
	if ((rc = run(st, s, "opening a history row")) != 0)
		return rc;
	*session_id = sqlite3_last_insert_rowid(st->db);
	return 0;
}

int store_session_file(struct store *st, int64_t session_id,
		       const struct store_session_file *f)
{
	sqlite3_stmt *s = stmt(st, ST_SESSION_FILE);
	int rc;

	if (s == NULL)
		return -1;
	if (st->readonly)
		return set_error(st, -1, "the database is open read-only");
	sqlite3_bind_int64(s, 1, session_id);
	bind_text(s, 2, f->name);
	bind_text(s, 3, f->action);
	sqlite3_bind_int64(s, 4, f->bytes);
	bind_text(s, 5, f->result);
	sqlite3_bind_int64(s, 6, f->lcsize);
	rc = run(st, s, "recording a file");
	if (rc == STORE_NOTFOUND)
		set_error(st, rc, "session %lld: not found",
			  (long long)session_id);
	return rc;
}

int store_session_end(struct store *st, int64_t session_id,
		      enum store_outcome outcome, const char *reason,
		      const char *revision, int64_t files_sent,
		      int64_t bytes_sent, int64_t ended_ms)
{
	sqlite3_stmt *s;
	char *chip_id = NULL;
	int rc;

	if ((unsigned)outcome >= ARRAY_LEN(outcome_names))
		return set_error(st, -1, "session %lld: bad outcome %d",
				 (long long)session_id, (int)outcome);
	if ((rc = tx_write(st)) != 0)
		return rc;
	if ((s = stmt(st, ST_SESSION_CHIP)) == NULL) {
		rc = -1;
		goto fail;
	}
	sqlite3_bind_int64(s, 1, session_id);
	if ((rc = step_row(st, s, "session")) != 0)
		goto fail;
	rc = column_text(st, s, 0, &chip_id);
	sqlite3_reset(s);
	if (rc != 0)
		goto fail;
	if ((s = stmt(st, ST_SESSION_END)) == NULL) {
		rc = -1;
		goto fail;
	}
	sqlite3_bind_int64(s, 1, session_id);
	bind_text(s, 2, outcome_names[outcome]);
	bind_text(s, 3, reason);
	bind_text(s, 4, revision);
	sqlite3_bind_int64(s, 5, files_sent);
	sqlite3_bind_int64(s, 6, bytes_sent);
	sqlite3_bind_int64(s, 7, ended_ms);
	if ((rc = run(st, s, "closing a history row")) != 0)
		goto fail;
	if (chip_id != NULL) {
		/* A rejected unknown chip has no row here: nothing changes. */
		if ((s = stmt(st, ST_CHIP_OUTCOME)) == NULL) {
			rc = -1;
			goto fail;
		}
		bind_text(s, 1, chip_id);
		bind_text(s, 2, outcome_names[outcome]);
		if ((rc = run(st, s, "noting the outcome")) != 0)
			goto fail;
	}
	if ((rc = tx_commit(st)) != 0)
		goto fail;
	free(chip_id);
	return 0;
fail:
	tx_rollback(st);
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
	if ((s = stmt(st, r->id != 0 ? ST_SESSION_STATE : ST_SESSION_FIND)) ==
	    NULL)
		return -1;
	bind_text(s, 1, r->chip_id);
	bind_text(s, 3, r->peer);
	if (r->id != 0) {
		sqlite3_bind_int64(s, 4, r->id);
	} else {
		sqlite3_bind_int64(s, 2, r->started_ms);
		bind_text(s, 5, outcome_names[r->outcome]);
		bind_text(s, 6, r->reason);
		sqlite3_bind_int64(s, 7, r->ended_ms);
	}
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE) {
		sqlite3_reset(s);
		return 0;
	}
	if (rc != SQLITE_ROW) {
		sqlite3_reset(s);
		return sql_error(st, rc, "finding a history row");
	}
	*id = sqlite3_column_int64(s, 0);
	rc = column_text(st, s, 1, &outcome);
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

		if ((s = stmt(st, ST_SESSION_FILE)) == NULL)
			return -1;
		sqlite3_bind_int64(s, 1, id);
		bind_text(s, 2, f->name);
		bind_text(s, 3, f->action);
		sqlite3_bind_int64(s, 4, f->bytes);
		bind_text(s, 5, f->result);
		sqlite3_bind_int64(s, 6, f->lcsize);
		rc = run(st, s, "recording a file");
		/* A row the schema refuses is one statement undone, not all. */
		if (rc == STORE_BUSY || rc == STORE_FULL)
			return rc;
		if (rc != 0)
			(*skipped)++;
	}
	if (r->seen_addr != NULL && r->chip_id != NULL) {
		if ((s = stmt(st, ST_CHIP_SEEN)) == NULL)
			return -1;
		bind_text(s, 1, r->chip_id);
		sqlite3_bind_int64(s, 2, r->seen_s);
		bind_text(s, 3, r->seen_addr);
		/* A chip removed meanwhile changes nothing: not an error. */
		if ((rc = run(st, s, "noting a check-in")) != 0)
			return rc;
	}
	if ((s = stmt(st, ST_SESSION_END)) == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, id);
	bind_text(s, 2, outcome_names[r->outcome]);
	bind_text(s, 3, r->reason);
	bind_text(s, 4, r->revision);
	sqlite3_bind_int64(s, 5, r->files_sent);
	sqlite3_bind_int64(s, 6, r->bytes_sent);
	sqlite3_bind_int64(s, 7, r->ended_ms);
	if ((rc = run(st, s, "closing a history row")) != 0)
		return rc;
	if (r->chip_id == NULL)
		return 0;
	if ((s = stmt(st, ST_CHIP_OUTCOME)) == NULL)
		return -1;
	bind_text(s, 1, r->chip_id);
	bind_text(s, 2, outcome_names[r->outcome]);
	return run(st, s, "noting the outcome");
}

int store_session_record(struct store *st, const struct store_session_record *r,
			 int *written, size_t *skipped)
{
	sqlite3_stmt *s;
	int64_t id;
	int open, rc;

	if (written != NULL)
		*written = 0;
	*skipped = 0;
	if (r->outcome == STORE_OUTCOME_STARTED ||
	    (unsigned)r->outcome >= ARRAY_LEN(outcome_names))
		return set_error(st, -1, "history record: bad outcome %d",
				 (int)r->outcome);
	if ((rc = tx_write(st)) != 0)
		return rc;
	if ((rc = record_row(st, r, &id, &open)) != 0)
		goto fail;
	if (id != 0 && !open) {
		/* Already recorded (a replay): nothing to do. */
		tx_rollback(st);
		return 0;
	}
	if (id == 0) {
		if ((s = stmt(st, ST_SESSION_BEGIN)) == NULL) {
			rc = -1;
			goto fail;
		}
		bind_text(s, 1, r->chip_id);
		bind_text(s, 2, r->peer);
		sqlite3_bind_int64(s, 3, r->started_ms);
		if ((rc = run(st, s, "opening a history row")) != 0)
			goto fail;
		id = sqlite3_last_insert_rowid(st->db);
	}
	if ((rc = record_write(st, r, id, skipped)) != 0)
		goto fail;
	if ((rc = tx_commit(st)) != 0)
		goto fail;
	if (written != NULL)
		*written = 1;
	return 0;
fail:
	tx_rollback(st);
	*skipped = 0;
	return rc;
}

int store_sessions_interrupt(struct store *st, int64_t now_ms, int *count)
{
	sqlite3_stmt *s;
	int rc;

	*count = 0;
	if ((rc = tx_write(st)) != 0)
		return rc;
	if ((rc = run_id(st, ST_INTERRUPT_CHIPS, "interrupting sessions")) != 0)
		goto fail;
	if ((s = stmt(st, ST_INTERRUPT)) == NULL) {
		rc = -1;
		goto fail;
	}
	sqlite3_bind_int64(s, 1, now_ms);
	if ((rc = run(st, s, "interrupting sessions")) != 0)
		goto fail;
	*count = sqlite3_changes(st->db);
	if ((rc = tx_commit(st)) != 0) {
		*count = 0;
		goto fail;
	}
	return 0;
fail:
	tx_rollback(st);
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
	if (column_text(st, s, 1, &out->chip_id) != 0 ||
	    column_text(st, s, 2, &out->peer) != 0 ||
	    column_text(st, s, 5, &outcome) != 0 ||
	    column_text(st, s, 6, &out->reason) != 0 ||
	    column_text(st, s, 7, &out->revision) != 0)
		return -1;
	out->outcome = outcome_parse(outcome);
	free(outcome);
	return 0;
}

/* Runs a bound SESSION_COLUMNS query into an array. */
static int session_rows(struct store *st, sqlite3_stmt *s,
			struct store_session **out, size_t *n)
{
	int rc = read_list(st, s, "listing sessions", session_read,
			   sizeof(**out), (void **)out, n);

	if (rc != 0) {
		store_session_list_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	return rc;
}

int store_session_list(struct store *st, const char *chip_id, int limit,
		       struct store_session **out, size_t *n)
{
	sqlite3_stmt *s;

	*out = NULL;
	*n = 0;
	s = stmt(st,
		 chip_id != NULL ? ST_SESSION_LIST_CHIP : ST_SESSION_LIST_ALL);
	if (s == NULL)
		return -1;
	if (chip_id != NULL)
		bind_text(s, 1, chip_id);
	/* LIMIT -1: no limit. */
	sqlite3_bind_int(s, chip_id != NULL ? 2 : 1, limit > 0 ? limit : -1);
	return session_rows(st, s, out, n);
}

void store_session_list_free(struct store_session *s, size_t n)
{
	size_t i;

	for (i = 0; s != NULL && i < n; i++) {
		free(s[i].chip_id);
		free(s[i].peer);
		free(s[i].reason);
		free(s[i].revision);
	}
	free(s);
}

/* Reads one ST_SESSION_FILES row into a struct store_session_file. */
static int session_file_read(struct store *st, sqlite3_stmt *s, void *row)
{
	struct store_session_file *f = row;

	f->bytes = sqlite3_column_int64(s, 2);
	f->lcsize = sqlite3_column_int64(s, 4);
	if (column_text(st, s, 0, &f->name) != 0 ||
	    column_text(st, s, 1, &f->action) != 0 ||
	    column_text(st, s, 3, &f->result) != 0)
		return -1;
	return 0;
}

/* Reads the per-file rows of a session known to exist into rows. */
static int session_files_read(struct store *st, int64_t session_id,
			      struct store_session_file **rows, size_t *count)
{
	sqlite3_stmt *s = stmt(st, ST_SESSION_FILES);

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, session_id);
	return read_list(st, s, "reading session files", session_file_read,
			 sizeof(**rows), (void **)rows, count);
}

int store_session_files(struct store *st, int64_t session_id,
			struct store_session_file **out, size_t *n)
{
	struct store_session_file *rows = NULL;
	size_t count = 0;
	sqlite3_stmt *s;
	int rc, own;

	*out = NULL;
	*n = 0;
	if ((rc = tx_read(st, &own)) != 0)
		return rc;
	if ((s = stmt(st, ST_SESSION_CHIP)) == NULL) {
		rc = -1;
	} else {
		sqlite3_bind_int64(s, 1, session_id);
		if ((rc = step_row(st, s, "session")) == 0) {
			sqlite3_reset(s);
			rc = session_files_read(st, session_id, &rows, &count);
		}
	}
	if ((rc = tx_read_end(st, own, rc)) != 0) {
		store_session_files_free(rows, count);
		return rc;
	}
	*out = rows;
	*n = count;
	return 0;
}

void store_session_files_free(struct store_session_file *f, size_t n)
{
	size_t i;

	for (i = 0; f != NULL && i < n; i++) {
		free(f[i].name);
		free(f[i].action);
		free(f[i].result);
	}
	free(f);
}

/* Inventory changes and queries the CLI needs. */

/* The id of group name into *id, inside the caller's transaction. */
static int group_id_of(struct store *st, const char *name, int64_t *id)
{
	sqlite3_stmt *s = stmt(st, ST_GROUP_ID);
	int rc;

	if (s == NULL)
		return -1;
	bind_text(s, 1, name);
	if ((rc = step_row(st, s, "group")) != 0) {
		if (rc == STORE_NOTFOUND)
			set_error(st, rc, "no such group: %s", name);
		return rc;
	}
	*id = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return 0;
}

/* Inserts g's file list under group_id, inside the caller's transaction. */
static int group_files_write(struct store *st, int64_t group_id,
			     const struct store_group *g)
{
	sqlite3_stmt *s;
	size_t i;
	int rc;

	for (i = 0; i < g->nfiles; i++) {
		if ((s = stmt(st, ST_GROUP_FILE_ADD)) == NULL)
			return -1;
		if ((unsigned)g->files[i].action >= ARRAY_LEN(action_names))
			return set_error(st, -1,
					 "group %s: file %s: bad action",
					 g->name, g->files[i].name);
		sqlite3_bind_int64(s, 1, group_id);
		sqlite3_bind_int64(s, 2, (int64_t)i);
		bind_text(s, 3, g->files[i].name);
		bind_text(s, 4, action_names[g->files[i].action]);
		if ((rc = run(st, s, "adding group file")) != 0) {
			if (rc == STORE_EXISTS)
				set_error(st, rc,
					  "group %s: file %s listed twice",
					  g->name, g->files[i].name);
			return rc;
		}
	}
	return 0;
}

int store_group_update(struct store *st, const struct store_group *g)
{
	struct store_repo repo;
	sqlite3_stmt *s;
	int64_t group_id, repo_id = g->repo_id;
	int rc;

	if ((rc = tx_write(st)) != 0)
		return rc;
	if ((rc = group_id_of(st, g->name, &group_id)) != 0)
		goto fail;
	if (g->repo_name != NULL)
		rc = store_repo_get(st, g->repo_name, &repo);
	else
		rc = store_repo_get_id(st, repo_id, &repo);
	repo_id = repo.id;
	store_repo_free(&repo);
	if (rc == STORE_NOTFOUND)
		set_error(st, rc, "group %s: no such repository", g->name);
	if (rc != 0)
		goto fail;
	if ((s = stmt(st, ST_GROUP_UPDATE)) == NULL) {
		rc = -1;
		goto fail;
	}
	sqlite3_bind_int64(s, 1, group_id);
	sqlite3_bind_int64(s, 2, repo_id);
	bind_text(s, 3, g->config_json);
	sqlite3_bind_int64(s, 4, g->max_file_size);
	sqlite3_bind_int(s, 5,
			 g->lua_version != 0 ? g->lua_version : LUAOTA_LUA_51);
	if ((rc = run(st, s, "changing group")) != 0)
		goto fail;
	if ((s = stmt(st, ST_GROUP_FILES_CLEAR)) == NULL) {
		rc = -1;
		goto fail;
	}
	sqlite3_bind_int64(s, 1, group_id);
	if ((rc = run(st, s, "changing group files")) != 0 ||
	    (rc = group_files_write(st, group_id, g)) != 0 ||
	    (rc = tx_commit(st)) != 0)
		goto fail;
	return 0;
fail:
	tx_rollback(st);
	return rc;
}

/* Reads an id (column 0) into an int64_t. */
static int id_read(struct store *st, sqlite3_stmt *s, void *row)
{
	(void)st;
	*(int64_t *)row = sqlite3_column_int64(s, 0);
	return 0;
}

int store_group_list(struct store *st, struct store_group **out, size_t *n)
{
	struct store_group *groups = NULL;
	int64_t *ids = NULL;
	size_t count = 0, i;
	sqlite3_stmt *s;
	int rc, own;

	*out = NULL;
	*n = 0;
	if ((rc = tx_read(st, &own)) != 0)
		return rc;
	if ((s = stmt(st, ST_GROUP_ALL)) == NULL)
		return tx_read_end(st, own, -1);
	if ((rc = read_list(st, s, "listing groups", id_read, sizeof(*ids),
			    (void **)&ids, &count)) != 0)
		goto done;
	if ((groups = calloc(count + 1, sizeof(*groups))) == NULL) {
		rc = set_error(st, -1, "out of memory");
		goto done;
	}
	for (i = 0; i < count && rc == 0; i++)
		rc = group_get(st, NULL, ids[i], &groups[i]);
done:
	free(ids);
	if ((rc = tx_read_end(st, own, rc)) != 0) {
		store_group_list_free(groups, count);
		return rc;
	}
	*out = groups;
	*n = count;
	return 0;
}

void store_group_list_free(struct store_group *g, size_t n)
{
	size_t i;

	for (i = 0; g != NULL && i < n; i++)
		store_group_free(&g[i]);
	free(g);
}

/* How many chips belong to group_id, inside the caller's snapshot. */
static int group_chips(struct store *st, int64_t group_id, int64_t *count)
{
	sqlite3_stmt *s = stmt(st, ST_GROUP_CHIPS);
	int rc;

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, group_id);
	if ((rc = step_row(st, s, "counting chips")) != 0)
		return rc;
	*count = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return 0;
}

int store_group_chips(struct store *st, int64_t group_id, int64_t *count)
{
	return group_chips(st, group_id, count);
}

int store_group_remove(struct store *st, const char *name)
{
	sqlite3_stmt *s;
	int64_t group_id, chips;
	int rc;

	if ((rc = tx_write(st)) != 0)
		return rc;
	if ((rc = group_id_of(st, name, &group_id)) != 0 ||
	    (rc = group_chips(st, group_id, &chips)) != 0)
		goto fail;
	if (chips > 0) {
		rc = set_error(st, STORE_INUSE, "group %s has %lld chip%s",
			       name, (long long)chips, chips == 1 ? "" : "s");
		goto fail;
	}
	if ((s = stmt(st, ST_GROUP_REMOVE)) == NULL) {
		rc = -1;
		goto fail;
	}
	sqlite3_bind_int64(s, 1, group_id);
	if ((rc = run(st, s, "removing group")) != 0 ||
	    (rc = tx_commit(st)) != 0)
		goto fail;
	return 0;
fail:
	tx_rollback(st);
	return rc;
}

int store_repo_list(struct store *st, struct store_repo **out, size_t *n)
{
	sqlite3_stmt *s = stmt(st, ST_REPO_ALL);
	int rc;

	*out = NULL;
	*n = 0;
	if (s == NULL)
		return -1;
	rc = read_list(st, s, "listing repositories", repo_read, sizeof(**out),
		       (void **)out, n);
	if (rc != 0) {
		store_repo_list_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	return rc;
}

void store_repo_list_free(struct store_repo *r, size_t n)
{
	size_t i;

	for (i = 0; r != NULL && i < n; i++)
		store_repo_free(&r[i]);
	free(r);
}

/* Runs a one-chip statement (?1 = id); STORE_NOTFOUND when no row changed. */
static int chip_change(struct store *st, enum stmt_id id_stmt, const char *id,
		       const char *what)
{
	sqlite3_stmt *s = stmt(st, id_stmt);
	int rc;

	if (s == NULL)
		return -1;
	if (st->readonly)
		return set_error(st, -1, "the database is open read-only");
	bind_text(s, 1, id);
	if ((rc = run(st, s, what)) != 0)
		return rc;
	if (sqlite3_changes(st->db) == 0)
		return set_error(st, STORE_NOTFOUND, "no such chip: %s", id);
	return 0;
}

int store_chip_remove(struct store *st, const char *id)
{
	return chip_change(st, ST_CHIP_REMOVE, id, "removing chip");
}

int store_chip_reprovision(struct store *st, const char *id)
{
	return chip_change(st, ST_CHIP_REPROVISION, id, "forgetting chk");
}

int store_chip_update(struct store *st, const struct store_chip *c)
{
	sqlite3_stmt *s;
	int64_t group_id = c->group_id;
	int rc;

	if ((rc = tx_write(st)) != 0)
		return rc;
	if (c->group_name != NULL &&
	    (rc = group_id_of(st, c->group_name, &group_id)) != 0)
		goto fail;
	if ((s = stmt(st, ST_CHIP_UPDATE)) == NULL) {
		rc = -1;
		goto fail;
	}
	bind_text(s, 1, c->id);
	bind_text(s, 2, c->label);
	sqlite3_bind_int64(s, 3, group_id);
	sqlite3_bind_int(s, 4, c->enabled ? 1 : 0);
	bind_text(s, 5, c->config_json);
	if ((rc = run(st, s, "changing chip")) != 0)
		goto fail;
	if (sqlite3_changes(st->db) == 0) {
		rc = set_error(st, STORE_NOTFOUND, "no such chip: %s", c->id);
		goto fail;
	}
	if ((rc = tx_commit(st)) != 0)
		goto fail;
	return 0;
fail:
	tx_rollback(st);
	return rc;
}

int store_session_get(struct store *st, int64_t id, struct store_session *out)
{
	sqlite3_stmt *s = stmt(st, ST_SESSION_GET);
	int rc;

	memset(out, 0, sizeof(*out));
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, id);
	if ((rc = step_row(st, s, "session")) != 0) {
		if (rc == STORE_NOTFOUND)
			set_error(st, rc, "no such session: %lld",
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

int store_session_query(struct store *st, const struct store_session_filter *f,
			struct store_session **out, size_t *n)
{
	sqlite3_stmt *s = stmt(st, ST_SESSION_QUERY);

	*out = NULL;
	*n = 0;
	if (s == NULL)
		return -1;
	bind_text(s, 1, f->chip_id);
	sqlite3_bind_int64(s, 2, f->since_ms);
	sqlite3_bind_int(s, 3, f->failed_only ? 1 : 0);
	sqlite3_bind_int(s, 4, f->limit > 0 ? f->limit : -1);
	return session_rows(st, s, out, n);
}

int store_integrity_check(struct store *st, char **report)
{
	sqlite3_stmt *s = NULL;
	size_t len = 0;
	char *text = NULL;
	int rc;

	*report = NULL;
	rc = sqlite3_prepare_v2(st->db, "PRAGMA integrity_check", -1, &s, NULL);
	if (rc != SQLITE_OK)
		return sql_error(st, rc, "integrity check");
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *line = (const char *)sqlite3_column_text(s, 0);
		size_t add = line != NULL ? strlen(line) : 0;
		char *bigger = realloc(text, len + add + 2);

		if (bigger == NULL) {
			free(text);
			sqlite3_finalize(s);
			return set_error(st, -1, "out of memory");
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
		return sql_error(st, rc, "integrity check");
	}
	*report = text;
	return 0;
}

int store_backup(struct store *st, const char *path)
{
	sqlite3_backup *b;
	sqlite3 *dest = NULL;
	int rc;

	rc = sqlite3_open_v2(path, &dest,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
	if (rc != SQLITE_OK) {
		set_error(st, -1, "%s: cannot open: %s", path,
			  dest != NULL ? sqlite3_errmsg(dest)
				       : sqlite3_errstr(rc));
		sqlite3_close(dest);
		return -1;
	}
	b = sqlite3_backup_init(dest, "main", st->db, "main");
	if (b == NULL) {
		set_error(st, -1, "%s: %s", path, sqlite3_errmsg(dest));
		sqlite3_close(dest);
		return -1;
	}
	/* All pages in one step: one consistent snapshot of the source,
	 * taken under a read lock that never blocks the daemon (WAL). */
	rc = sqlite3_backup_step(b, -1);
	sqlite3_backup_finish(b);
	if (rc != SQLITE_DONE) {
		sqlite3_close(dest);
		return sql_error(st, rc, "backup");
	}
	if (sqlite3_close(dest) != SQLITE_OK)
		return set_error(st, -1, "%s: cannot close", path);
	return 0;
}

/* Pulls. */

int store_pull_add(struct store *st, const char *chip_id, const char *name,
		   int64_t now, int64_t *id)
{
	sqlite3_stmt *s = stmt(st, ST_PULL_ADD);
	int rc;

	if (s == NULL)
		return -1;
	if (st->readonly)
		return set_error(st, -1, "the database is open read-only");
	bind_text(s, 1, chip_id);
	bind_text(s, 2, name);
	sqlite3_bind_int64(s, 3, now);
	if ((rc = run(st, s, "adding a pull")) != 0) {
		if (rc == STORE_NOTFOUND)
			set_error(st, rc, "no such chip: %s", chip_id);
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
	if (column_text(st, s, 1, &out->chip_id) != 0 ||
	    column_text(st, s, 2, &out->name) != 0 ||
	    column_text(st, s, 4, &out->state) != 0 ||
	    column_text(st, s, 7, &out->reason) != 0)
		return -1;
	if (sqlite3_column_type(s, 8) == SQLITE_BLOB) {
		size_t len = (size_t)sqlite3_column_bytes(s, 8);

		blob = sqlite3_column_blob(s, 8);
		if ((out->data = malloc(len + 1)) == NULL)
			return set_error(st, -1, "out of memory");
		if (len > 0)
			memcpy(out->data, blob, len);
		out->data_len = len;
	}
	return 0;
}

/* Runs a bound pull query into an array. */
static int pull_rows(struct store *st, sqlite3_stmt *s, struct store_pull **out,
		     size_t *n)
{
	int rc = read_list(st, s, "listing pulls", pull_read, sizeof(**out),
			   (void **)out, n);

	if (rc != 0) {
		store_pull_list_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	return rc;
}

int store_pull_pending(struct store *st, const char *chip_id,
		       struct store_pull **out, size_t *n)
{
	sqlite3_stmt *s = stmt(st, ST_PULL_PENDING);

	*out = NULL;
	*n = 0;
	if (s == NULL)
		return -1;
	bind_text(s, 1, chip_id);
	return pull_rows(st, s, out, n);
}

int store_pull_list(struct store *st, const char *chip_id,
		    struct store_pull **out, size_t *n)
{
	sqlite3_stmt *s =
	    stmt(st, chip_id != NULL ? ST_PULL_LIST_CHIP : ST_PULL_LIST_ALL);

	*out = NULL;
	*n = 0;
	if (s == NULL)
		return -1;
	if (chip_id != NULL)
		bind_text(s, 1, chip_id);
	return pull_rows(st, s, out, n);
}

int store_pull_get(struct store *st, int64_t id, struct store_pull *out)
{
	sqlite3_stmt *s = stmt(st, ST_PULL_GET);
	int rc;

	memset(out, 0, sizeof(*out));
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, id);
	if ((rc = step_row(st, s, "pull")) != 0) {
		if (rc == STORE_NOTFOUND)
			set_error(st, rc, "no such pull: %lld", (long long)id);
		return rc;
	}
	rc = pull_read(st, s, out);
	sqlite3_reset(s);
	if (rc != 0)
		store_pull_free(out);
	return rc;
}

int store_pull_finish(struct store *st, int64_t id, const char *state,
		      const uint8_t *data, size_t len, const char *reason,
		      int64_t now)
{
	sqlite3_stmt *s = stmt(st, ST_PULL_FINISH);
	int rc;

	if (s == NULL)
		return -1;
	if (st->readonly)
		return set_error(st, -1, "the database is open read-only");
	sqlite3_bind_int64(s, 1, id);
	bind_text(s, 2, state);
	if (data != NULL)
		sqlite3_bind_blob64(s, 3, data, len, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, data != NULL ? (int64_t)len : -1);
	bind_text(s, 5, reason);
	sqlite3_bind_int64(s, 6, now);
	if ((rc = run(st, s, "finishing a pull")) != 0)
		return rc;
	if (sqlite3_changes(st->db) == 0)
		return set_error(st, STORE_NOTFOUND, "no pending pull %lld",
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
	size_t i;

	for (i = 0; p != NULL && i < n; i++)
		store_pull_free(&p[i]);
	free(p);
}
