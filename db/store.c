/*
 * The store.h entry points: each picks the backend of the store it is
 * given (store_backend.h).  What a backend leaves out is refused with a
 * message naming the operation, never done half way.
 */
#include "store_backend.h"

#include <stdio.h>
#include <string.h>

_Thread_local char store_open_errmsg[256] = "no error";

const char *const store_outcome_names[STORE_OUTCOMES] = {
	[STORE_OUTCOME_STARTED] = "started",
	[STORE_OUTCOME_CURRENT] = "current",
	[STORE_OUTCOME_UPDATED] = "updated",
	[STORE_OUTCOME_PARTIAL] = "partial",
	[STORE_OUTCOME_FAILED] = "failed",
	[STORE_OUTCOME_REJECTED] = "rejected",
	[STORE_OUTCOME_INTERRUPTED] = "interrupted",
};

const char *const store_action_names[STORE_ACTIONS] = {
	[STORE_ACTION_AUTO] = "auto",
	[STORE_ACTION_DL] = "dl",
	[STORE_ACTION_CM] = "cm",
};

static const char *const rollout_state_names[] = {
	[STORE_ROLLOUT_RUNNING] = "running",
	[STORE_ROLLOUT_PAUSED] = "paused",
	[STORE_ROLLOUT_HALTED] = "halted",
	[STORE_ROLLOUT_ABORTED] = "aborted",
	[STORE_ROLLOUT_DONE] = "done",
};

#define ROLLOUT_STATES                                                         \
	(sizeof(rollout_state_names) / sizeof(rollout_state_names[0]))

const char *store_outcome_name(enum store_outcome o)
{
	if ((unsigned)o >= STORE_OUTCOMES)
		return "unknown";
	return store_outcome_names[o];
}

const char *store_rollout_state_name(enum store_rollout_state s)
{
	if ((unsigned)s >= ROLLOUT_STATES)
		return "unknown";
	return rollout_state_names[s];
}

enum store_outcome store_outcome_parse(const char *name)
{
	size_t i;

	for (i = 0; name != NULL && i < STORE_OUTCOMES; i++)
		if (strcmp(store_outcome_names[i], name) == 0)
			return (enum store_outcome)i;
	return STORE_OUTCOME_FAILED;
}

enum store_action store_action_parse(const char *name)
{
	size_t i;

	for (i = 0; name != NULL && i < STORE_ACTIONS; i++)
		if (strcmp(store_action_names[i], name) == 0)
			return (enum store_action)i;
	return STORE_ACTION_AUTO;
}

enum store_rollout_state store_rollout_state_parse(const char *name)
{
	size_t i;

	for (i = 0; name != NULL && i < ROLLOUT_STATES; i++)
		if (strcmp(rollout_state_names[i], name) == 0)
			return (enum store_rollout_state)i;
	return STORE_ROLLOUT_ABORTED;
}

/* A backend's struct store begins with its table (store_backend.h). */
static const struct store_ops *ops_of(const struct store *st)
{
	return *(const struct store_ops *const *)(const void *)st;
}

static int store_unsupported(struct store *st, const char *what)
{
	char message[128];

	snprintf(message, sizeof(message), "the %s store cannot %s",
		 ops_of(st)->name, what);
	return ops_of(st)->fail(st, -1, message);
}

int store_path_is_pg(const char *path)
{
	return strncmp(path, "postgresql://", 13) == 0 ||
	       strncmp(path, "postgres://", 11) == 0;
}

void store_path_redact(const char *path, char *out, size_t len)
{
	const char *scheme = strstr(path, "://"), *at, *colon, *q;

	snprintf(out, len, "%s", path);
	if (!store_path_is_pg(path) || scheme == NULL)
		return;
	/* user:password@host: the userinfo ends at the last '@' before the
	 * path; a password may hold '@' and ':' itself. */
	scheme += 3;
	at = NULL;
	for (q = scheme; *q != '\0' && *q != '/' && *q != '?'; q++)
		if (*q == '@')
			at = q;
	colon = at != NULL ? memchr(scheme, ':', (size_t)(at - scheme)) : NULL;
	if (colon != NULL)
		snprintf(out, len, "%.*s:***%s", (int)(colon - path), path, at);
	/* ?password=... too. */
	if ((q = strstr(out, "password=")) != NULL) {
		size_t keep = (size_t)(q - out) + strlen("password=");
		const char *rest = strchr(q, '&');
		char tail[256];

		snprintf(tail, sizeof(tail), "%s", rest != NULL ? rest : "");
		if (keep < len)
			snprintf(out + keep, len - keep, "***%s", tail);
	}
}

struct store *store_open(const char *path, int flags)
{
	if (store_path_is_pg(path))
		return store_pg_open(path, flags);
	return store_sqlite_open(path, flags);
}

void store_close(struct store *st)
{
	if (st != NULL)
		ops_of(st)->close(st);
}

const char *store_errmsg(const struct store *st)
{
	return st != NULL ? ops_of(st)->errmsg(st) : store_open_errmsg;
}

void store_set_busy_timeout(struct store *st, int ms)
{
	ops_of(st)->set_busy_timeout(st, ms);
}

int store_schema_version(struct store *st)
{
	const struct store_ops *ops = ops_of(st);

	if (ops->schema_version == NULL)
		return store_unsupported(st, "schema_version");
	return ops->schema_version(st);
}

int store_check(struct store *st)
{
	const struct store_ops *ops = ops_of(st);

	if (ops->check == NULL)
		return store_unsupported(st, "check");
	return ops->check(st);
}

int store_repo_add(struct store *st, const char *name, const char *path,
		   const char *ref)
{
	const struct store_ops *ops = ops_of(st);

	if (ops->repo_add == NULL)
		return store_unsupported(st, "repo_add");
	return ops->repo_add(st, name, path, ref);
}

int store_repo_get(struct store *st, const char *name, struct store_repo *out)
{
	const struct store_ops *ops = ops_of(st);

	if (ops->repo_get == NULL)
		return store_unsupported(st, "repo_get");
	return ops->repo_get(st, name, out);
}

int store_repo_get_id(struct store *st, int64_t id, struct store_repo *out)
{
	const struct store_ops *ops = ops_of(st);

	if (ops->repo_get_id == NULL)
		return store_unsupported(st, "repo_get_id");
	return ops->repo_get_id(st, id, out);
}

int store_repo_find(struct store *st, const char *path, const char *ref,
		    struct store_repo *out)
{
	const struct store_ops *ops = ops_of(st);

	if (ops->repo_find == NULL)
		return store_unsupported(st, "repo_find");
	return ops->repo_find(st, path, ref, out);
}

int store_group_add(struct store *st, const struct store_group *g)
{
	const struct store_ops *ops = ops_of(st);

	if (ops->group_add == NULL)
		return store_unsupported(st, "group_add");
	return ops->group_add(st, g);
}

int store_group_get(struct store *st, const char *name, struct store_group *out)
{
	const struct store_ops *ops = ops_of(st);

	if (ops->group_get == NULL)
		return store_unsupported(st, "group_get");
	return ops->group_get(st, name, out);
}

int store_group_get_id(struct store *st, int64_t id, struct store_group *out)
{
	const struct store_ops *ops = ops_of(st);

	if (ops->group_get_id == NULL)
		return store_unsupported(st, "group_get_id");
	return ops->group_get_id(st, id, out);
}

int store_chip_add(struct store *st, const char *id, const char *group,
		   const char *secret, const char *label)
{
	const struct store_ops *ops = ops_of(st);

	if (ops->chip_add == NULL)
		return store_unsupported(st, "chip_add");
	return ops->chip_add(st, id, group, secret, label);
}

int store_chip_add_v2(struct store *st, const char *id, const char *group,
		      const char *secret, const char *label, const char *v2_key)
{
	const struct store_ops *ops = ops_of(st);

	if (ops->chip_add_v2 == NULL)
		return store_unsupported(st, "chip_add_v2");
	return ops->chip_add_v2(st, id, group, secret, label, v2_key);
}

int store_chip_v2_seen(struct store *st, const char *id)
{
	const struct store_ops *ops = ops_of(st);

	if (ops->chip_v2_seen == NULL)
		return store_unsupported(st, "chip_v2_seen");
	return ops->chip_v2_seen(st, id);
}

int store_v2_release_latest(struct store *st, const char *chip_id,
			    struct store_v2_release *out)
{
	const struct store_ops *ops = ops_of(st);

	if (ops->v2_release_latest == NULL)
		return store_unsupported(st, "v2_release_latest");
	return ops->v2_release_latest(st, chip_id, out);
}

int store_v2_release_add(struct store *st, const char *chip_id,
			 const struct store_v2_release *r)
{
	const struct store_ops *ops = ops_of(st);

	if (ops->v2_release_add == NULL)
		return store_unsupported(st, "v2_release_add");
	return ops->v2_release_add(st, chip_id, r);
}

int store_chip_get(struct store *st, const char *id, struct store_chip *out)
{
	const struct store_ops *ops = ops_of(st);

	if (ops->chip_get == NULL)
		return store_unsupported(st, "chip_get");
	return ops->chip_get(st, id, out);
}

int store_data_version(struct store *st, uint64_t *version)
{
	const struct store_ops *ops = ops_of(st);

	if (ops->data_version == NULL)
		return store_unsupported(st, "data_version");
	return ops->data_version(st, version);
}

int store_chip_get_at(struct store *st, const char *id, struct store_chip *out,
		      uint64_t *version)
{
	const struct store_ops *ops = ops_of(st);

	if (ops->chip_get_at == NULL)
		return store_unsupported(st, "chip_get_at");
	return ops->chip_get_at(st, id, out, version);
}

int store_chip_foreach(struct store *st,
		       int (*fn)(const struct store_chip *, void *), void *arg)
{
	const struct store_ops *ops = ops_of(st);

	if (ops->chip_foreach == NULL)
		return store_unsupported(st, "chip_foreach");
	return ops->chip_foreach(st, fn, arg);
}

int store_chip_seen(struct store *st, const char *id, const char *addr,
		    int64_t now)
{
	const struct store_ops *ops = ops_of(st);

	if (ops->chip_seen == NULL)
		return store_unsupported(st, "chip_seen");
	return ops->chip_seen(st, id, addr, now);
}

int store_held_get(struct store *st, const char *id,
		   struct store_held_file **out, size_t *n)
{
	const struct store_ops *ops = ops_of(st);

	if (ops->held_get == NULL)
		return store_unsupported(st, "held_get");
	return ops->held_get(st, id, out, n);
}

int store_held_set(struct store *st, const char *id, const char *chk,
		   const char *revision, const struct store_held_file *files,
		   size_t n)
{
	const struct store_ops *ops = ops_of(st);

	if (ops->held_set == NULL)
		return store_unsupported(st, "held_set");
	return ops->held_set(st, id, chk, revision, files, n);
}

int store_session_begin(struct store *st, const char *chip_id, const char *peer,
			int64_t started_ms, int64_t *session_id)
{
	const struct store_ops *ops = ops_of(st);

	if (ops->session_begin == NULL)
		return store_unsupported(st, "session_begin");
	return ops->session_begin(st, chip_id, peer, started_ms, session_id);
}

int store_session_file(struct store *st, int64_t session_id,
		       const struct store_session_file *f)
{
	const struct store_ops *ops = ops_of(st);

	if (ops->session_file == NULL)
		return store_unsupported(st, "session_file");
	return ops->session_file(st, session_id, f);
}

int store_session_end(struct store *st, int64_t session_id,
		      enum store_outcome outcome, const char *reason,
		      const char *revision, int64_t files_sent,
		      int64_t bytes_sent, int64_t ended_ms)
{
	const struct store_ops *ops = ops_of(st);

	if (ops->session_end == NULL)
		return store_unsupported(st, "session_end");
	return ops->session_end(st, session_id, outcome, reason, revision,
				files_sent, bytes_sent, ended_ms);
}

int store_checkins_current(struct store *st, const struct store_checkin *rows,
			   size_t n)
{
	const struct store_ops *ops = ops_of(st);

	if (ops->checkins_current == NULL)
		return store_unsupported(st, "checkins_current");
	return ops->checkins_current(st, rows, n);
}

int store_session_record(struct store *st, const struct store_session_record *r,
			 int *written, size_t *skipped)
{
	const struct store_ops *ops = ops_of(st);

	if (ops->session_record == NULL)
		return store_unsupported(st, "session_record");
	return ops->session_record(st, r, written, skipped);
}

int store_sessions_interrupt(struct store *st, int64_t now_ms, int *count)
{
	const struct store_ops *ops = ops_of(st);

	if (ops->sessions_interrupt == NULL)
		return store_unsupported(st, "sessions_interrupt");
	return ops->sessions_interrupt(st, now_ms, count);
}

int store_session_list(struct store *st, const char *chip_id, int limit,
		       struct store_session **out, size_t *n)
{
	const struct store_ops *ops = ops_of(st);

	if (ops->session_list == NULL)
		return store_unsupported(st, "session_list");
	return ops->session_list(st, chip_id, limit, out, n);
}

int store_session_files(struct store *st, int64_t session_id,
			struct store_session_file **out, size_t *n)
{
	const struct store_ops *ops = ops_of(st);

	if (ops->session_files == NULL)
		return store_unsupported(st, "session_files");
	return ops->session_files(st, session_id, out, n);
}

int store_group_list(struct store *st, struct store_group **out, size_t *n)
{
	const struct store_ops *ops = ops_of(st);

	if (ops->group_list == NULL)
		return store_unsupported(st, "group_list");
	return ops->group_list(st, out, n);
}

int store_group_update(struct store *st, const struct store_group *g)
{
	const struct store_ops *ops = ops_of(st);

	if (ops->group_update == NULL)
		return store_unsupported(st, "group_update");
	return ops->group_update(st, g);
}

int store_group_chips(struct store *st, int64_t group_id, int64_t *count)
{
	const struct store_ops *ops = ops_of(st);

	if (ops->group_chips == NULL)
		return store_unsupported(st, "group_chips");
	return ops->group_chips(st, group_id, count);
}

int store_group_remove(struct store *st, const char *name)
{
	const struct store_ops *ops = ops_of(st);

	if (ops->group_remove == NULL)
		return store_unsupported(st, "group_remove");
	return ops->group_remove(st, name);
}

int store_repo_list(struct store *st, struct store_repo **out, size_t *n)
{
	const struct store_ops *ops = ops_of(st);

	if (ops->repo_list == NULL)
		return store_unsupported(st, "repo_list");
	return ops->repo_list(st, out, n);
}

int store_chip_remove(struct store *st, const char *id)
{
	const struct store_ops *ops = ops_of(st);

	if (ops->chip_remove == NULL)
		return store_unsupported(st, "chip_remove");
	return ops->chip_remove(st, id);
}

int store_chip_update(struct store *st, const struct store_chip *c)
{
	const struct store_ops *ops = ops_of(st);

	if (ops->chip_update == NULL)
		return store_unsupported(st, "chip_update");
	return ops->chip_update(st, c);
}

int store_chip_reprovision(struct store *st, const char *id)
{
	const struct store_ops *ops = ops_of(st);

	if (ops->chip_reprovision == NULL)
		return store_unsupported(st, "chip_reprovision");
	return ops->chip_reprovision(st, id);
}

int store_session_get(struct store *st, int64_t id, struct store_session *out)
{
	const struct store_ops *ops = ops_of(st);

	if (ops->session_get == NULL)
		return store_unsupported(st, "session_get");
	return ops->session_get(st, id, out);
}

int store_session_query(struct store *st, const struct store_session_filter *f,
			struct store_session **out, size_t *n)
{
	const struct store_ops *ops = ops_of(st);

	if (ops->session_query == NULL)
		return store_unsupported(st, "session_query");
	return ops->session_query(st, f, out, n);
}

int store_integrity_check(struct store *st, char **report)
{
	const struct store_ops *ops = ops_of(st);

	if (ops->integrity_check == NULL)
		return store_unsupported(st, "integrity_check");
	return ops->integrity_check(st, report);
}

int store_backup(struct store *st, const char *path)
{
	const struct store_ops *ops = ops_of(st);

	if (ops->backup == NULL)
		return store_unsupported(st, "backup");
	return ops->backup(st, path);
}

int store_pull_add(struct store *st, const char *chip_id, const char *name,
		   int64_t now, int64_t *id)
{
	const struct store_ops *ops = ops_of(st);

	if (ops->pull_add == NULL)
		return store_unsupported(st, "pull_add");
	return ops->pull_add(st, chip_id, name, now, id);
}

int store_pull_pending(struct store *st, const char *chip_id,
		       struct store_pull **out, size_t *n)
{
	const struct store_ops *ops = ops_of(st);

	if (ops->pull_pending == NULL)
		return store_unsupported(st, "pull_pending");
	return ops->pull_pending(st, chip_id, out, n);
}

int store_pull_any_pending(struct store *st, int *any)
{
	const struct store_ops *ops = ops_of(st);

	if (ops->pull_any_pending == NULL)
		return store_unsupported(st, "pull_any_pending");
	return ops->pull_any_pending(st, any);
}

int store_pull_list(struct store *st, const char *chip_id,
		    struct store_pull **out, size_t *n)
{
	const struct store_ops *ops = ops_of(st);

	if (ops->pull_list == NULL)
		return store_unsupported(st, "pull_list");
	return ops->pull_list(st, chip_id, out, n);
}

int store_pull_get(struct store *st, int64_t id, struct store_pull *out)
{
	const struct store_ops *ops = ops_of(st);

	if (ops->pull_get == NULL)
		return store_unsupported(st, "pull_get");
	return ops->pull_get(st, id, out);
}

int store_pull_finish(struct store *st, int64_t id, const char *state,
		      const uint8_t *data, size_t len, const char *reason,
		      int64_t now)
{
	const struct store_ops *ops = ops_of(st);

	if (ops->pull_finish == NULL)
		return store_unsupported(st, "pull_finish");
	return ops->pull_finish(st, id, state, data, len, reason, now);
}

int store_group_set_release(struct store *st, const char *name,
			    const char *revision)
{
	const struct store_ops *ops = ops_of(st);

	if (ops->group_set_release == NULL)
		return store_unsupported(st, "group_set_release");
	return ops->group_set_release(st, name, revision);
}

int store_group_chip_ids(struct store *st, int64_t group_id, char ***ids,
			 size_t *n)
{
	const struct store_ops *ops = ops_of(st);

	if (ops->group_chip_ids == NULL)
		return store_unsupported(st, "group_chip_ids");
	return ops->group_chip_ids(st, group_id, ids, n);
}

int store_snapshot_add(struct store *st, int64_t group_id, const char *revision,
		       const struct store_snapshot_file *files, size_t n)
{
	const struct store_ops *ops = ops_of(st);

	if (ops->snapshot_add == NULL)
		return store_unsupported(st, "snapshot_add");
	return ops->snapshot_add(st, group_id, revision, files, n);
}

int store_snapshot_get(struct store *st, int64_t group_id, const char *revision,
		       struct store_snapshot_file **files, size_t *n)
{
	const struct store_ops *ops = ops_of(st);

	if (ops->snapshot_get == NULL)
		return store_unsupported(st, "snapshot_get");
	return ops->snapshot_get(st, group_id, revision, files, n);
}

int store_rollout_add(struct store *st, const struct store_rollout *r,
		      store_rollout_waves_fn waves_fn, void *arg, int64_t *id)
{
	const struct store_ops *ops = ops_of(st);

	if (ops->rollout_add == NULL)
		return store_unsupported(st, "rollout_add");
	return ops->rollout_add(st, r, waves_fn, arg, id);
}

int store_rollout_get(struct store *st, int64_t id, struct store_rollout *out)
{
	const struct store_ops *ops = ops_of(st);

	if (ops->rollout_get == NULL)
		return store_unsupported(st, "rollout_get");
	return ops->rollout_get(st, id, out);
}

int store_rollout_active(struct store *st, int64_t group_id,
			 struct store_rollout *out)
{
	const struct store_ops *ops = ops_of(st);

	if (ops->rollout_active == NULL)
		return store_unsupported(st, "rollout_active");
	return ops->rollout_active(st, group_id, out);
}

int store_rollout_list_active(struct store *st, struct store_rollout **out,
			      size_t *n)
{
	const struct store_ops *ops = ops_of(st);

	if (ops->rollout_list_active == NULL)
		return store_unsupported(st, "rollout_list_active");
	return ops->rollout_list_active(st, out, n);
}

int store_rollout_list(struct store *st, int64_t group_id,
		       struct store_rollout **out, size_t *n)
{
	const struct store_ops *ops = ops_of(st);

	if (ops->rollout_list == NULL)
		return store_unsupported(st, "rollout_list");
	return ops->rollout_list(st, group_id, out, n);
}

int store_rollout_move(struct store *st, int64_t id,
		       enum store_rollout_state from, int wave,
		       enum store_rollout_state to, int new_wave,
		       const char *reason, int64_t now_ms)
{
	const struct store_ops *ops = ops_of(st);

	if (ops->rollout_move == NULL)
		return store_unsupported(st, "rollout_move");
	return ops->rollout_move(st, id, from, wave, to, new_wave, reason,
				 now_ms);
}

int store_group_sessions_since(struct store *st, int64_t group_id,
			       int64_t since_ms, struct store_session **out,
			       size_t *n)
{
	const struct store_ops *ops = ops_of(st);

	if (ops->group_sessions_since == NULL)
		return store_unsupported(st, "group_sessions_since");
	return ops->group_sessions_since(st, group_id, since_ms, out, n);
}

int store_group_sessions_after(struct store *st, int64_t group_id,
			       int64_t since_ms, int64_t after_id,
			       struct store_session **out, size_t *n)
{
	const struct store_ops *ops = ops_of(st);

	if (ops->group_sessions_after == NULL)
		return store_unsupported(st, "group_sessions_after");
	return ops->group_sessions_after(st, group_id, since_ms, after_id, out,
					 n);
}

int store_chip_sessions_since(struct store *st, const char *chip_id,
			      int64_t since_ms, struct store_session **out,
			      size_t *n)
{
	const struct store_ops *ops = ops_of(st);

	if (ops->chip_sessions_since == NULL)
		return store_unsupported(st, "chip_sessions_since");
	return ops->chip_sessions_since(st, chip_id, since_ms, out, n);
}

int store_chip_outcome_counts(struct store *st,
			      int (*fn)(const char *outcome, int64_t count,
					void *arg),
			      void *arg)
{
	const struct store_ops *ops = ops_of(st);

	if (ops->chip_outcome_counts == NULL)
		return store_unsupported(st, "chip_outcome_counts");
	return ops->chip_outcome_counts(st, fn, arg);
}

int store_token_add(struct store *st, const char *name, const char *hash,
		    enum store_token_scope scope, int64_t created)
{
	const struct store_ops *ops = ops_of(st);

	if (ops->token_add == NULL)
		return store_unsupported(st, "token_add");
	return ops->token_add(st, name, hash, scope, created);
}

int store_token_find(struct store *st, const char *hash,
		     struct store_token *out)
{
	const struct store_ops *ops = ops_of(st);

	if (ops->token_find == NULL)
		return store_unsupported(st, "token_find");
	return ops->token_find(st, hash, out);
}

int store_token_used(struct store *st, int64_t id, int64_t when)
{
	const struct store_ops *ops = ops_of(st);

	if (ops->token_used == NULL)
		return store_unsupported(st, "token_used");
	return ops->token_used(st, id, when);
}

int store_token_list(struct store *st, struct store_token **out, size_t *n)
{
	const struct store_ops *ops = ops_of(st);

	if (ops->token_list == NULL)
		return store_unsupported(st, "token_list");
	return ops->token_list(st, out, n);
}

int store_token_remove(struct store *st, const char *name)
{
	const struct store_ops *ops = ops_of(st);

	if (ops->token_remove == NULL)
		return store_unsupported(st, "token_remove");
	return ops->token_remove(st, name);
}

int store_set_owner(struct store *st, const char *owner)
{
	const struct store_ops *ops = ops_of(st);

	if (ops->set_owner == NULL)
		return store_unsupported(st, "set_owner");
	return ops->set_owner(st, owner);
}

int store_rejection_first(struct store *st, const char *addr,
			  const char *reason, int64_t window_start_ms,
			  int64_t forget_before_ms, int *first)
{
	const struct store_ops *ops = ops_of(st);

	if (ops->rejection_first == NULL)
		return store_unsupported(st, "rejection_first");
	return ops->rejection_first(st, addr, reason, window_start_ms,
				    forget_before_ms, first);
}

int store_rollout_slot_take(struct store *st, int64_t rollout_id, int64_t max,
			    int64_t now_ms, int64_t stale_before_ms,
			    int64_t *slot)
{
	const struct store_ops *ops = ops_of(st);

	if (ops->rollout_slot_take == NULL)
		return store_unsupported(st, "rollout_slot_take");
	return ops->rollout_slot_take(st, rollout_id, max, now_ms,
				      stale_before_ms, slot);
}

int store_rollout_slot_release(struct store *st, int64_t slot)
{
	const struct store_ops *ops = ops_of(st);

	if (ops->rollout_slot_release == NULL)
		return store_unsupported(st, "rollout_slot_release");
	return ops->rollout_slot_release(st, slot);
}
