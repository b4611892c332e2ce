/*
 * What a store backend provides (private to db/): one table of
 * operations, the store.h functions without their "store_" prefix.
 * store.c dispatches each store.h call through the table of the store it
 * is given; a backend's struct store starts with a pointer to its table.
 * SQLite (store_sqlite*.c) is the embedded default; PostgreSQL
 * (store_pg*.c) serves several daemons from one inventory.
 */
#ifndef LUAOTA_STORE_BACKEND_H
#define LUAOTA_STORE_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

/* clang-format off */
struct store_ops {
	const char *name; /* "sqlite", "postgresql" */
	/* Records a message for store_errmsg(st) and returns code. */
	int (*fail)(struct store *st, int code, const char *message);
	void (*close)(struct store *st);
	const char *(*errmsg)(const struct store *st);
	void (*set_busy_timeout)(struct store *st, int ms);
	int (*schema_version)(struct store *st);
	int (*check)(struct store *st);
	int (*repo_add)(struct store *st, const char *name, const char *path, const char *ref);
	int (*repo_get)(struct store *st, const char *name, struct store_repo *out);
	int (*repo_get_id)(struct store *st, int64_t id, struct store_repo *out);
	int (*repo_find)(struct store *st, const char *path, const char *ref, struct store_repo *out);
	int (*group_add)(struct store *st, const struct store_group *g);
	int (*group_get)(struct store *st, const char *name, struct store_group *out);
	int (*group_get_id)(struct store *st, int64_t id, struct store_group *out);
	int (*chip_add)(struct store *st, const char *id, const char *group, const char *secret, const char *label);
	int (*chip_add_v2)(struct store *st, const char *id, const char *group, const char *secret, const char *label, const char *v2_key);
	int (*chip_v2_seen)(struct store *st, const char *id);
	int (*v2_release_latest)(struct store *st, const char *chip_id, struct store_v2_release *out);
	int (*v2_release_add)(struct store *st, const char *chip_id, const struct store_v2_release *r);
	int (*chip_get)(struct store *st, const char *id, struct store_chip *out);
	int (*data_version)(struct store *st, uint64_t *version);
	int (*chip_get_at)(struct store *st, const char *id, struct store_chip *out, uint64_t *version);
	int (*chip_foreach)(struct store *st, int (*fn)(const struct store_chip *, void *), void *arg);
	int (*chip_seen)(struct store *st, const char *id, const char *addr, int64_t now);
	int (*held_get)(struct store *st, const char *id, struct store_held_file **out, size_t *n);
	int (*held_set)(struct store *st, const char *id, const char *chk, const char *revision, const struct store_held_file *files, size_t n);
	int (*session_begin)(struct store *st, const char *chip_id, const char *peer, int64_t started_ms, int64_t *session_id);
	int (*session_file)(struct store *st, int64_t session_id, const struct store_session_file *f);
	int (*session_end)(struct store *st, int64_t session_id, enum store_outcome outcome, const char *reason, const char *revision, int64_t files_sent, int64_t bytes_sent, int64_t ended_ms);
	int (*checkins_current)(struct store *st, const struct store_checkin *rows, size_t n);
	int (*session_record)(struct store *st, const struct store_session_record *r, int *written, size_t *skipped);
	int (*sessions_interrupt)(struct store *st, int64_t now_ms, int *count);
	int (*session_list)(struct store *st, const char *chip_id, int limit, struct store_session **out, size_t *n);
	int (*session_files)(struct store *st, int64_t session_id, struct store_session_file **out, size_t *n);
	int (*group_list)(struct store *st, struct store_group **out, size_t *n);
	int (*group_update)(struct store *st, const struct store_group *g);
	int (*group_chips)(struct store *st, int64_t group_id, int64_t *count);
	int (*group_remove)(struct store *st, const char *name);
	int (*repo_list)(struct store *st, struct store_repo **out, size_t *n);
	int (*chip_remove)(struct store *st, const char *id);
	int (*chip_update)(struct store *st, const struct store_chip *c);
	int (*chip_reprovision)(struct store *st, const char *id);
	int (*session_get)(struct store *st, int64_t id, struct store_session *out);
	int (*session_query)(struct store *st, const struct store_session_filter *f, struct store_session **out, size_t *n);
	int (*integrity_check)(struct store *st, char **report);
	int (*backup)(struct store *st, const char *path);
	int (*pull_add)(struct store *st, const char *chip_id, const char *name, int64_t now, int64_t *id);
	int (*pull_pending)(struct store *st, const char *chip_id, struct store_pull **out, size_t *n);
	int (*pull_any_pending)(struct store *st, int *any);
	int (*pull_list)(struct store *st, const char *chip_id, struct store_pull **out, size_t *n);
	int (*pull_get)(struct store *st, int64_t id, struct store_pull *out);
	int (*pull_finish)(struct store *st, int64_t id, const char *state, const uint8_t *data, size_t len, const char *reason, int64_t now);
	int (*group_set_release)(struct store *st, const char *name, const char *revision);
	int (*group_chip_ids)(struct store *st, int64_t group_id, char ***ids, size_t *n);
	int (*snapshot_add)(struct store *st, int64_t group_id, const char *revision, const struct store_snapshot_file *files, size_t n);
	int (*snapshot_get)(struct store *st, int64_t group_id, const char *revision, struct store_snapshot_file **files, size_t *n);
	int (*rollout_add)(struct store *st, const struct store_rollout *r, store_rollout_waves_fn waves_fn, void *arg, int64_t *id);
	int (*rollout_get)(struct store *st, int64_t id, struct store_rollout *out);
	int (*rollout_active)(struct store *st, int64_t group_id, struct store_rollout *out);
	int (*rollout_list_active)(struct store *st, struct store_rollout **out, size_t *n);
	int (*rollout_list)(struct store *st, int64_t group_id, struct store_rollout **out, size_t *n);
	int (*rollout_move)(struct store *st, int64_t id, enum store_rollout_state from, int wave, enum store_rollout_state to, int new_wave, const char *reason, int64_t now_ms);
	int (*group_sessions_since)(struct store *st, int64_t group_id, int64_t since_ms, struct store_session **out, size_t *n);
	int (*group_sessions_after)(struct store *st, int64_t group_id, int64_t since_ms, int64_t after_id, struct store_session **out, size_t *n);
	int (*chip_sessions_since)(struct store *st, const char *chip_id, int64_t since_ms, struct store_session **out, size_t *n);
	int (*chip_outcome_counts)(struct store *st, int (*fn)(const char *outcome, int64_t count, void *arg), void *arg);
	int (*token_add)(struct store *st, const char *name, const char *hash, enum store_token_scope scope, int64_t created);
	int (*token_find)(struct store *st, const char *hash, struct store_token *out);
	int (*token_used)(struct store *st, int64_t id, int64_t when);
	int (*token_list)(struct store *st, struct store_token **out, size_t *n);
	int (*token_remove)(struct store *st, const char *name);
	int (*set_owner)(struct store *st, const char *owner);
	int (*rollout_slot_take)(struct store *st, int64_t rollout_id,
				 int64_t max, int64_t now_ms,
				 int64_t stale_before_ms, int64_t *slot);
	int (*rollout_slot_release)(struct store *st, int64_t slot);
	int (*rejection_first)(struct store *st, const char *addr,
			       const char *reason, int64_t window_start_ms,
			       int64_t forget_before_ms, int *first);
};
/* clang-format on */

/* The names the schema stores for outcomes and actions, by enum value:
 * one vocabulary for every backend (store.c). */
#define STORE_OUTCOMES (STORE_OUTCOME_INTERRUPTED + 1)
#define STORE_ACTIONS (STORE_ACTION_CM + 1)
extern const char *const store_outcome_names[STORE_OUTCOMES];
extern const char *const store_action_names[STORE_ACTIONS];

/* The outcome / action / rollout state a stored name means (unknown:
 * failed / auto / aborted, the schema's CHECKs admitting no other). */
enum store_outcome store_outcome_parse(const char *name);
enum store_action store_action_parse(const char *name);
enum store_rollout_state store_rollout_state_parse(const char *name);

/* Why the last store_open failed, for store_errmsg(NULL). */
extern _Thread_local char store_open_errmsg[256];

/* The backends' openers (store_open picks one by the path's scheme). */
struct store *store_sqlite_open(const char *path, int flags);
struct store *store_pg_open(const char *url, int flags);

#endif /* LUAOTA_STORE_BACKEND_H */
