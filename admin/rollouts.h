/* Rollout operations shared by luaotactl rollout ... and the HTTP API. */
#ifndef LUAOTA_ADMIN_ROLLOUTS_H
#define LUAOTA_ADMIN_ROLLOUTS_H

#include <stdint.h>

#include "admin.h"
#include "db/store.h"
#include "plan/types.h"
#include "policy/policy.h"

/*
 * A rollout as the operator states it; each field is text as given on
 * luaotactl's command line or in the API's JSON, NULL for the default.
 */
struct admin_rollout_request {
	const char *group;
	const char *to; /* a revision; NULL: what the repository holds now */
	const char *canary;
	const char *steps;
	const char *max_failures;
	const char *max_inflight;
	const char *soak;
	const char *deadline;
	const char *loop;
	const char *loop_window;
};

/*
 * Starts the rollout req states, from the group's release (or what it
 * serves) to req->to: validated, the revision checked sendable, the waves
 * planned.  0 with *id, or -1 with res saying why (ADMIN_INVALID for a
 * malformed request, ADMIN_CONFLICT when there is nothing to roll out or
 * one is under way).
 */
int admin_rollout_start(struct store *st,
			const struct policy_settings *settings,
			const struct admin_rollout_request *req, int64_t now_ms,
			int64_t *id, struct admin_result *res);

/*
 * Pins group name to revision ask (NULL: what its repository holds now),
 * once it is sendable; 0 with the revision in out, or -1 with res.
 */
int admin_group_pin(struct store *st, const struct policy_settings *settings,
		    const char *name, const char *ask,
		    char out[PLAN_REVISION_MAX], struct admin_result *res);

/* "pause", "resume" or "abort": the verb that moves a rollout to. */
const char *admin_rollout_verb(enum store_rollout_state to);

/*
 * Pauses (to PAUSED), resumes (RUNNING) or aborts (ABORTED) rollout id,
 * if its state allows; 0, or -1 with res saying why (ADMIN_NOTFOUND,
 * ADMIN_CONFLICT when its state forbids it or luaotad moved it
 * meanwhile).
 */
int admin_rollout_move(struct store *st, int64_t id,
		       enum store_rollout_state to, int64_t now_ms,
		       struct admin_result *res);

/* Lets group name follow its repository again (none under a rollout). */
int admin_group_unpin(struct store *st, const char *name,
		      struct admin_result *res);

#endif /* LUAOTA_ADMIN_ROLLOUTS_H */
