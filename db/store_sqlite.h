/*
 * What the SQLite store's files share (private to db/): the statement
 * table's ids, the connection, transactions, error mapping and the row
 * helpers.  store_sqlite.c holds the connection and the SQL text of every
 * statement; each store_sqlite_<entity>.c implements one entity's part of
 * store.h with these.  A second backend follows the same shape.
 */
#ifndef LUAOTA_STORE_SQLITE_H
#define LUAOTA_STORE_SQLITE_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "store_backend.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

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
	ST_GROUP_SET_RELEASE,
	ST_GROUP_RELEASE_ID,
	ST_GROUP_CHIP_IDS,
	ST_SNAPSHOT_FILE_ADD,
	ST_SNAPSHOT_GET,
	ST_SNAPSHOT_HAS,
	ST_ROLLOUT_NEXT_ID,
	ST_ROLLOUT_ADD,
	ST_ROLLOUT_GET,
	ST_ROLLOUT_ACTIVE,
	ST_ROLLOUT_LIST_ACTIVE,
	ST_ROLLOUT_LIST_ALL,
	ST_ROLLOUT_LIST_GROUP,
	ST_ROLLOUT_MOVE,
	ST_GROUP_SESSIONS_SINCE,
	ST_GROUP_SESSIONS_AFTER,
	ST_CHIP_SESSIONS_SINCE,
	ST_TOKEN_ADD,
	ST_TOKEN_FIND,
	ST_TOKEN_USED,
	ST_TOKEN_LIST,
	ST_TOKEN_REMOVE,
	ST_CHIP_OUTCOMES,
	ST_REJECTION_FORGET,
	ST_REJECTION_CLAIM,
	ST_COUNT
};

struct store {
	const struct store_ops *ops; /* first: store.c dispatches by it */
	char *owner;		     /* store_set_owner; NULL: none */
	sqlite3 *db;
	int readonly;
	char errmsg[256];
	sqlite3_stmt *stmts[ST_COUNT];
};

/* Records a message for store_errmsg() and returns code. */
int sq_set_error(struct store *st, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Maps an SQLite result to a store code (STORE_BUSY, ...) with a message. */
int sq_sql_error(struct store *st, int rc, const char *what);

/* The cached statement id, reset and ready to bind; NULL on error. */
sqlite3_stmt *sq_stmt(struct store *st, enum stmt_id id);

/* Runs a statement that returns no rows; resets it either way. */
int sq_run(struct store *st, sqlite3_stmt *s, const char *what);

/* Runs one of the fixed statements (BEGIN, COMMIT, ...). */
int sq_run_id(struct store *st, enum stmt_id id, const char *what);

/* BEGIN IMMEDIATE: the write lock now, so a read-then-write cannot fail
 * half way. */
int sq_tx_write(struct store *st);

/* A read snapshot unless a transaction is open; *own: sq_tx_read_end
 * closes it. */
int sq_tx_read(struct store *st, int *own);

/* Closes what sq_tx_read opened; returns rc, or the commit's failure. */
int sq_tx_read_end(struct store *st, int own, int rc);

/* Commits the open transaction. */
int sq_tx_commit(struct store *st);

/* Abandons the open transaction, if any; keeps the first error message. */
void sq_tx_rollback(struct store *st);

/* Steps s to its row: 0, STORE_NOTFOUND (what names it), or an error. */
int sq_step_row(struct store *st, sqlite3_stmt *s, const char *what);

/* Copies a text column (NULL stays NULL) into *out; -1 when out of memory. */
int sq_column_text(struct store *st, sqlite3_stmt *s, int col, char **out);

/* Binds text, which must outlive the statement's step. */
int sq_bind_text(sqlite3_stmt *s, int i, const char *text);

/* Reads the current row of a list query into row (zeroed beforehand). */
typedef int (*row_reader)(struct store *st, sqlite3_stmt *s, void *row);

/* Frees what one element of a list owns (not the element itself). */
typedef void (*row_freer)(void *row);

/*
 * Steps the bound list query s to its end into a new array of one
 * element of size bytes per row, each zeroed and then filled by read_row;
 * resets s.  0 with *items (NULL when none) and *n, or an error with
 * nothing left allocated (free_row frees the rows read so far).
 */
int sq_read_list(struct store *st, sqlite3_stmt *s, const char *what,
		 row_reader read_row, row_freer free_row, size_t size,
		 void **items, size_t *n);

/* Frees n elements of size bytes with free_row, then the array. */
void sq_list_free(void *items, size_t n, size_t size, row_freer free_row);

/* The inventory's data version (PRAGMA data_version): changes whenever
 * another connection commits. */
int sq_data_version(struct store *st, uint64_t *version);

/* Runs a bound SESSION_COLUMNS query into an array (store_sqlite_history.c). */
int sq_session_rows(struct store *st, sqlite3_stmt *s,
		    struct store_session **out, size_t *n);

/* The id of group name into *id, inside the caller's transaction. */
int sq_group_id_of(struct store *st, const char *name, int64_t *id);

/* The SQLite backend's table, and its operations by store.h name. */
extern const struct store_ops store_sqlite_ops;
/* clang-format off */
void sqlite_close(struct store *st);
const char *sqlite_errmsg(const struct store *st);
void sqlite_set_busy_timeout(struct store *st, int ms);
int sqlite_schema_version(struct store *st);
int sqlite_check(struct store *st);
int sqlite_repo_add(struct store *st, const char *name, const char *path, const char *ref);
int sqlite_repo_get(struct store *st, const char *name, struct store_repo *out);
int sqlite_repo_get_id(struct store *st, int64_t id, struct store_repo *out);
int sqlite_repo_find(struct store *st, const char *path, const char *ref, struct store_repo *out);
int sqlite_group_add(struct store *st, const struct store_group *g);
int sqlite_group_get(struct store *st, const char *name, struct store_group *out);
int sqlite_group_get_id(struct store *st, int64_t id, struct store_group *out);
int sqlite_chip_add(struct store *st, const char *id, const char *group, const char *secret, const char *label);
int sqlite_chip_add_v2(struct store *st, const char *id, const char *group, const char *secret, const char *label, const char *v2_key);
int sqlite_chip_v2_seen(struct store *st, const char *id);
int sqlite_v2_release_latest(struct store *st, const char *chip_id, struct store_v2_release *out);
int sqlite_v2_release_add(struct store *st, const char *chip_id, const struct store_v2_release *r);
int sqlite_chip_get(struct store *st, const char *id, struct store_chip *out);
int sqlite_data_version(struct store *st, uint64_t *version);
int sqlite_chip_get_at(struct store *st, const char *id, struct store_chip *out, uint64_t *version);
int sqlite_chip_foreach(struct store *st, int (*fn)(const struct store_chip *, void *), void *arg);
int sqlite_chip_seen(struct store *st, const char *id, const char *addr, int64_t now);
int sqlite_held_get(struct store *st, const char *id, struct store_held_file **out, size_t *n);
int sqlite_held_set(struct store *st, const char *id, const char *chk, const char *revision, const struct store_held_file *files, size_t n);
int sqlite_session_begin(struct store *st, const char *chip_id, const char *peer, int64_t started_ms, int64_t *session_id);
int sqlite_session_file(struct store *st, int64_t session_id, const struct store_session_file *f);
int sqlite_session_end(struct store *st, int64_t session_id, enum store_outcome outcome, const char *reason, const char *revision, int64_t files_sent, int64_t bytes_sent, int64_t ended_ms);
int sqlite_checkins_current(struct store *st, const struct store_checkin *rows, size_t n);
int sqlite_session_record(struct store *st, const struct store_session_record *r, int *written, size_t *skipped);
int sqlite_sessions_interrupt(struct store *st, int64_t now_ms, int *count);
int sqlite_session_list(struct store *st, const char *chip_id, int limit, struct store_session **out, size_t *n);
int sqlite_session_files(struct store *st, int64_t session_id, struct store_session_file **out, size_t *n);
int sqlite_group_list(struct store *st, struct store_group **out, size_t *n);
int sqlite_group_update(struct store *st, const struct store_group *g);
int sqlite_group_chips(struct store *st, int64_t group_id, int64_t *count);
int sqlite_group_remove(struct store *st, const char *name);
int sqlite_repo_list(struct store *st, struct store_repo **out, size_t *n);
int sqlite_chip_remove(struct store *st, const char *id);
int sqlite_chip_update(struct store *st, const struct store_chip *c);
int sqlite_chip_reprovision(struct store *st, const char *id);
int sqlite_session_get(struct store *st, int64_t id, struct store_session *out);
int sqlite_session_query(struct store *st, const struct store_session_filter *f, struct store_session **out, size_t *n);
int sqlite_integrity_check(struct store *st, char **report);
int sqlite_backup(struct store *st, const char *path);
int sqlite_pull_add(struct store *st, const char *chip_id, const char *name, int64_t now, int64_t *id);
int sqlite_pull_pending(struct store *st, const char *chip_id, struct store_pull **out, size_t *n);
int sqlite_pull_any_pending(struct store *st, int *any);
int sqlite_pull_list(struct store *st, const char *chip_id, struct store_pull **out, size_t *n);
int sqlite_pull_get(struct store *st, int64_t id, struct store_pull *out);
int sqlite_pull_finish(struct store *st, int64_t id, const char *state, const uint8_t *data, size_t len, const char *reason, int64_t now);
int sqlite_group_set_release(struct store *st, const char *name, const char *revision);
int sqlite_group_chip_ids(struct store *st, int64_t group_id, char ***ids, size_t *n);
int sqlite_snapshot_add(struct store *st, int64_t group_id, const char *revision, const struct store_snapshot_file *files, size_t n);
int sqlite_snapshot_get(struct store *st, int64_t group_id, const char *revision, struct store_snapshot_file **files, size_t *n);
int sqlite_rollout_add(struct store *st, const struct store_rollout *r, store_rollout_waves_fn waves_fn, void *arg, int64_t *id);
int sqlite_rollout_get(struct store *st, int64_t id, struct store_rollout *out);
int sqlite_rollout_active(struct store *st, int64_t group_id, struct store_rollout *out);
int sqlite_rollout_list_active(struct store *st, struct store_rollout **out, size_t *n);
int sqlite_rollout_list(struct store *st, int64_t group_id, struct store_rollout **out, size_t *n);
int sqlite_rollout_move(struct store *st, int64_t id, enum store_rollout_state from, int wave, enum store_rollout_state to, int new_wave, const char *reason, int64_t now_ms);
int sqlite_group_sessions_since(struct store *st, int64_t group_id, int64_t since_ms, struct store_session **out, size_t *n);
int sqlite_group_sessions_after(struct store *st, int64_t group_id, int64_t since_ms, int64_t after_id, struct store_session **out, size_t *n);
int sqlite_chip_sessions_since(struct store *st, const char *chip_id, int64_t since_ms, struct store_session **out, size_t *n);
int sqlite_chip_outcome_counts(struct store *st, int (*fn)(const char *outcome, int64_t count, void *arg), void *arg);
int sqlite_token_add(struct store *st, const char *name, const char *hash, enum store_token_scope scope, int64_t created);
int sqlite_token_find(struct store *st, const char *hash, struct store_token *out);
int sqlite_token_used(struct store *st, int64_t id, int64_t when);
int sqlite_token_list(struct store *st, struct store_token **out, size_t *n);
int sqlite_token_remove(struct store *st, const char *name);
int sqlite_set_owner(struct store *st, const char *owner);
int sqlite_rejection_first(struct store *st, const char *addr,
			   const char *reason, int64_t window_start_ms,
			   int64_t forget_before_ms, int *first);
/* clang-format on */

#endif /* LUAOTA_STORE_SQLITE_H */
