/* Rollout state moves: the operator's pause, resume and abort. */
#include "rollouts.h"

#include <inttypes.h>

const char *admin_rollout_verb(enum store_rollout_state to)
{
	return to == STORE_ROLLOUT_PAUSED    ? "pause"
	       : to == STORE_ROLLOUT_RUNNING ? "resume"
					     : "abort";
}

int admin_rollout_move(struct store *st, int64_t id,
		       enum store_rollout_state to, int64_t now_ms,
		       struct admin_result *res)
{
	struct store_rollout r;
	enum store_rollout_state from;
	const char *verb = admin_rollout_verb(to);
	int rc = store_rollout_get(st, id, &r);

	if (rc == STORE_NOTFOUND)
		return admin_fail(res, ADMIN_NOTFOUND,
				  "no such rollout: %" PRId64, id);
	if (rc != 0)
		return admin_fail(res, ADMIN_FAILED,
				  "cannot read rollout %" PRId64 ": %s", id,
				  store_errmsg(st));
	from = r.state;
	if ((to == STORE_ROLLOUT_PAUSED && from != STORE_ROLLOUT_RUNNING) ||
	    (to == STORE_ROLLOUT_RUNNING && from != STORE_ROLLOUT_PAUSED) ||
	    (to == STORE_ROLLOUT_ABORTED && from != STORE_ROLLOUT_RUNNING &&
	     from != STORE_ROLLOUT_PAUSED)) {
		store_rollout_free(&r);
		return admin_fail(res, ADMIN_CONFLICT,
				  "rollout %" PRId64 " is %s: cannot %s it", id,
				  store_rollout_state_name(from), verb);
	}
	rc = store_rollout_move(
	    st, id, from, r.wave, to, r.wave,
	    to == STORE_ROLLOUT_ABORTED ? "aborted by the operator" : NULL,
	    now_ms);
	store_rollout_free(&r);
	if (rc == STORE_NOTFOUND)
		/* luaotad moved it meanwhile: the caller shows where it is. */
		return admin_fail(res, ADMIN_CONFLICT,
				  "rollout %" PRId64 " changed meanwhile: %s",
				  id, store_errmsg(st));
	if (rc != 0)
		return admin_fail(res, ADMIN_FAILED,
				  "cannot %s rollout %" PRId64 ": %s", verb, id,
				  store_errmsg(st));
	res->status = ADMIN_OK;
	res->message[0] = '\0';
	return 0;
}
