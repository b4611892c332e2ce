/* Rollout operations shared by luaotactl rollout ... and the HTTP API. */
#ifndef LUAOTA_ADMIN_ROLLOUTS_H
#define LUAOTA_ADMIN_ROLLOUTS_H

#include <stdint.h>

#include "admin.h"
#include "db/store.h"

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

#endif /* LUAOTA_ADMIN_ROLLOUTS_H */
