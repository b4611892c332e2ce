/*
 * What the PostgreSQL store's files share (private to db/): the
 * connection, the SQL helpers, transactions and error mapping.  As
 * store_sqlite.h for SQLite; store_pg.c holds the connection and the
 * schema, each store_pg_<entity>.c one entity's part of store.h.
 */
#ifndef LUAOTA_STORE_PG_H
#define LUAOTA_STORE_PG_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "store_backend.h"

#define PG_PARAMS_MAX 16
/* Several daemons share the history: a row left "started" is another
 * daemon's crash only when older than any session may last (the longest
 * deadline luaotad.conf admits is 600 s). */
#define PG_SESSION_STALE_MS (15 * 60 * 1000)

struct store {
	const struct store_ops *ops; /* first: store.c dispatches by it */
	PGconn *conn;
	int readonly;
	int in_tx;   /* a transaction of ours is open */
	char *owner; /* store_set_owner; NULL: none */
	char errmsg[256];
};

/* Query parameters, as text (NULL: SQL NULL). */
struct pg_params {
	const char *values[PG_PARAMS_MAX];
	char numbers[PG_PARAMS_MAX][24];
	int n;
};

void pg_text(struct pg_params *p, const char *text);
void pg_int(struct pg_params *p, int64_t value);

/* Records a message for store_errmsg() and returns code. */
int pg_set_error(struct store *st, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Runs sql with p (NULL: none): 0 with *res (PQclear it; NULL to drop
 * it), or a store code with the error recorded (what: for the message).
 * Unique violations are STORE_EXISTS, foreign keys STORE_INUSE, lock
 * waits STORE_BUSY; a lost connection or a full disk STORE_FULL (may
 * pass later: the history spools).
 */
int pg_query(struct store *st, const char *what, const char *sql,
	     const struct pg_params *p, PGresult **res);

/* Runs sql with p and wants exactly one row: STORE_NOTFOUND otherwise. */
int pg_query_row(struct store *st, const char *what, const char *sql,
		 const struct pg_params *p, PGresult **res);

/* A text column (NULL stays NULL) into *out; -1 when out of memory. */
int pg_col_text(struct store *st, const PGresult *res, int row, int col,
		char **out);
int64_t pg_col_int(const PGresult *res, int row, int col);

/* Reads row row of a result into out (zeroed); -1, with out freed. */
typedef int (*pg_row_reader)(struct store *st, const PGresult *res, int row,
			     void *out);
/* Frees what one element of a list owns (not the element itself). */
typedef void (*pg_row_freer)(void *row);

/*
 * Every row of res (cleared here) into a new array of elements of size
 * bytes: 0 with *items (NULL when none) and *n, or -1 with nothing left
 * allocated.
 */
int pg_read_list(struct store *st, PGresult *res, size_t size,
		 pg_row_reader read_row, pg_row_freer free_row, void **items,
		 size_t *n);

/* The history's columns, read by pg_session_rows. */
#define PG_SESSION_COLUMNS                                                     \
	"SELECT id, chip_id, peer, started_ms, ended_ms, outcome, reason, "    \
	"revision, files_sent, bytes_sent FROM sessions "

/* BEGIN / COMMIT / ROLLBACK of the one transaction of ours. */
int pg_begin(struct store *st);
int pg_commit(struct store *st);
void pg_rollback(struct store *st);

/* Refuses writes on a store opened read-only. */
int pg_writable(struct store *st);

extern const struct store_ops store_pg_ops;

/* The operations of the entity files (store.h names without store_). */
int pg_repo_add(struct store *st, const char *name, const char *path,
		const char *ref);
int pg_repo_get(struct store *st, const char *name, struct store_repo *out);
int pg_repo_get_id(struct store *st, int64_t id, struct store_repo *out);
int pg_repo_find(struct store *st, const char *path, const char *ref,
		 struct store_repo *out);
int pg_repo_list(struct store *st, struct store_repo **out, size_t *n);
int pg_group_add(struct store *st, const struct store_group *g);
int pg_group_get(struct store *st, const char *name, struct store_group *out);
int pg_group_get_id(struct store *st, int64_t id, struct store_group *out);
int pg_group_update(struct store *st, const struct store_group *g);
int pg_group_list(struct store *st, struct store_group **out, size_t *n);
int pg_group_chips(struct store *st, int64_t group_id, int64_t *count);
int pg_group_remove(struct store *st, const char *name);
/* The id of group name, inside the caller's transaction. */
int pg_group_id_of(struct store *st, const char *name, int64_t *id);
int pg_chip_add(struct store *st, const char *id, const char *group,
		const char *secret, const char *label);
int pg_chip_add_v2(struct store *st, const char *id, const char *group,
		   const char *secret, const char *label, const char *v2_key);
int pg_chip_v2_seen(struct store *st, const char *id);
int pg_chip_get(struct store *st, const char *id, struct store_chip *out);
int pg_chip_get_at(struct store *st, const char *id, struct store_chip *out,
		   uint64_t *version);
int pg_chip_foreach(struct store *st,
		    int (*fn)(const struct store_chip *, void *), void *arg);
int pg_chip_seen(struct store *st, const char *id, const char *addr,
		 int64_t now);
int pg_chip_remove(struct store *st, const char *id);
int pg_chip_reprovision(struct store *st, const char *id);
int pg_chip_update(struct store *st, const struct store_chip *c);
int pg_checkins_current(struct store *st, const struct store_checkin *rows,
			size_t n);
int pg_session_begin(struct store *st, const char *chip_id, const char *peer,
		     int64_t started_ms, int64_t *session_id);
int pg_session_file(struct store *st, int64_t session_id,
		    const struct store_session_file *f);
int pg_session_end(struct store *st, int64_t session_id,
		   enum store_outcome outcome, const char *reason,
		   const char *revision, int64_t files_sent, int64_t bytes_sent,
		   int64_t ended_ms);
int pg_session_record(struct store *st, const struct store_session_record *r,
		      int *written, size_t *skipped);
int pg_sessions_interrupt(struct store *st, int64_t now_ms, int *count);
int pg_session_list(struct store *st, const char *chip_id, int limit,
		    struct store_session **out, size_t *n);
int pg_session_files(struct store *st, int64_t session_id,
		     struct store_session_file **out, size_t *n);
int pg_session_get(struct store *st, int64_t id, struct store_session *out);
int pg_session_query(struct store *st, const struct store_session_filter *f,
		     struct store_session **out, size_t *n);
int pg_held_get(struct store *st, const char *id, struct store_held_file **out,
		size_t *n);
int pg_held_set(struct store *st, const char *id, const char *chk,
		const char *revision, const struct store_held_file *files,
		size_t n);
int pg_v2_release_latest(struct store *st, const char *chip_id,
			 struct store_v2_release *out);
int pg_v2_release_add(struct store *st, const char *chip_id,
		      const struct store_v2_release *r);
int pg_pull_any_pending(struct store *st, int *any);
int pg_pull_add(struct store *st, const char *chip_id, const char *name,
		int64_t now, int64_t *id);
int pg_pull_pending(struct store *st, const char *chip_id,
		    struct store_pull **out, size_t *n);
int pg_pull_list(struct store *st, const char *chip_id, struct store_pull **out,
		 size_t *n);
int pg_pull_get(struct store *st, int64_t id, struct store_pull *out);
int pg_pull_finish(struct store *st, int64_t id, const char *state,
		   const uint8_t *data, size_t len, const char *reason,
		   int64_t now);
int pg_group_set_release(struct store *st, const char *name,
			 const char *revision);
int pg_group_chip_ids(struct store *st, int64_t group_id, char ***ids,
		      size_t *n);
int pg_snapshot_add(struct store *st, int64_t group_id, const char *revision,
		    const struct store_snapshot_file *files, size_t n);
int pg_snapshot_get(struct store *st, int64_t group_id, const char *revision,
		    struct store_snapshot_file **files, size_t *n);
int pg_rollout_add(struct store *st, const struct store_rollout *r,
		   store_rollout_waves_fn waves_fn, void *arg, int64_t *id);
int pg_rollout_get(struct store *st, int64_t id, struct store_rollout *out);
int pg_rollout_active(struct store *st, int64_t group_id,
		      struct store_rollout *out);
int pg_rollout_list_active(struct store *st, struct store_rollout **out,
			   size_t *n);
int pg_rollout_list(struct store *st, int64_t group_id,
		    struct store_rollout **out, size_t *n);
int pg_rollout_move(struct store *st, int64_t id, enum store_rollout_state from,
		    int wave, enum store_rollout_state to, int new_wave,
		    const char *reason, int64_t now_ms);
int pg_group_sessions_since(struct store *st, int64_t group_id,
			    int64_t since_ms, struct store_session **out,
			    size_t *n);
int pg_group_sessions_after(struct store *st, int64_t group_id,
			    int64_t since_ms, int64_t after_id,
			    struct store_session **out, size_t *n);
int pg_chip_sessions_since(struct store *st, const char *chip_id,
			   int64_t since_ms, struct store_session **out,
			   size_t *n);
int pg_integrity_check(struct store *st, char **report);
int pg_rollout_slot_take(struct store *st, int64_t rollout_id, int64_t max,
			 int64_t now_ms, int64_t stale_before_ms,
			 int64_t *slot);
int pg_rollout_slot_release(struct store *st, int64_t slot);
int pg_rejection_first(struct store *st, const char *addr, const char *reason,
		       int64_t window_start_ms, int64_t forget_before_ms,
		       int *first);
int pg_backup(struct store *st, const char *path);
/* Runs a SESSION_COLUMNS query into an array (store_pg_history.c). */
int pg_session_rows(struct store *st, const char *sql,
		    const struct pg_params *p, struct store_session **out,
		    size_t *n);
/* The inventory's data version (store_pg.c). */
int pg_data_version_of(struct store *st, uint64_t *version);
int pg_token_add(struct store *st, const char *name, const char *hash,
		 enum store_token_scope scope, int64_t created);
int pg_token_find(struct store *st, const char *hash, struct store_token *out);
int pg_token_used(struct store *st, int64_t id, int64_t when);
int pg_token_list(struct store *st, struct store_token **out, size_t *n);
int pg_token_remove(struct store *st, const char *name);
int pg_chip_outcome_counts(struct store *st,
			   int (*fn)(const char *outcome, int64_t count,
				     void *arg),
			   void *arg);

#endif /* LUAOTA_STORE_PG_H */
