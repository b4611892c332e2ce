/* Rollout state moves: the operator's pause, resume and abort. */
#include "rollouts.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bsd/string.h>

#include "plan/plan.h"
#include "policy/rollout.h"

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

/* A duration field: "90" (seconds), "90s", "10m", "1h". */
static int duration_arg(const char *text, const char *name, int64_t fallback,
			int64_t min, int64_t *out, struct admin_result *res)
{
	*out = fallback;
	if (text == NULL)
		return 0;
	if ((admin_parse_int(text, 0, INT32_MAX, out) != 0 &&
	     admin_parse_duration(text, out) != 0) ||
	    *out < min || *out > INT32_MAX)
		return admin_fail(res, ADMIN_INVALID,
				  "--%s %s: not a duration of at least "
				  "%" PRId64 " s (90, 90s, 10m, 1h)",
				  name, text, min);
	return 0;
}

/* The group's specification, for resolving and snapshotting revisions. */
static int load_group(struct store *st, const struct policy_settings *settings,
		      const char *name, struct store_group *g,
		      struct store_repo *r, struct policy_group *pg,
		      struct admin_result *res)
{
	int rc = store_group_get(st, name, g);

	if (rc == STORE_NOTFOUND)
		return admin_fail(res, ADMIN_NOTFOUND, "no such group: %s",
				  name);
	if (rc != 0 || store_repo_get_id(st, g->repo_id, r) != 0)
		return admin_fail(res, ADMIN_FAILED, "cannot read group %s: %s",
				  name, store_errmsg(st));
	if (policy_group_spec(g, r, settings, 0, pg) != 0)
		return admin_fail(res, ADMIN_FAILED, "out of memory");
	return 0;
}

/*
 * Names what the group's repository holds now, or at ask (a ref or
 * commit of a git repository; for a directory, the digest of a kept
 * snapshot, or of the files as they are now): a commit id, or the
 * directory's digest (its files kept as a snapshot).
 */
static int resolve_revision(struct store *st, const struct store_group *g,
			    const struct store_repo *r, struct policy_group *pg,
			    const char *ask, char out[PLAN_REVISION_MAX],
			    struct admin_result *res)
{
	struct plan_snapshot snap;
	struct store_snapshot_file *kept = NULL;
	struct plan_spec spec = pg->spec;
	char err[512];
	size_t n = 0, i;
	int rc;

	if (r->ref != NULL) {
		spec.repo_ref = ask != NULL ? ask : r->ref;
		if (plan_revision(NULL, &spec, out, err, sizeof(err)) != 0)
			return admin_fail(res, ADMIN_REFUSED, "group %s: %s",
					  g->name, err);
		return 0;
	}
	if (ask != NULL && plan_is_snapshot_revision(ask)) {
		rc = store_snapshot_get(st, g->id, ask, &kept, &n);
		store_snapshot_free(kept, n);
		if (rc == 0) {
			strlcpy(out, ask, PLAN_REVISION_MAX);
			return 0;
		}
		if (rc != STORE_NOTFOUND)
			return admin_fail(res, ADMIN_FAILED, "group %s: %s",
					  g->name, store_errmsg(st));
	}
	spec.snapshot = NULL;
	if (plan_snapshot_take(&spec, &snap, err, sizeof(err)) != 0)
		return admin_fail(res, ADMIN_FAILED,
				  "group %s: cannot read its directory: %s",
				  g->name, err);
	if (ask != NULL && strcmp(ask, snap.revision) != 0) {
		plan_snapshot_free(&snap);
		return admin_fail(res, ADMIN_REFUSED,
				  "group %s: revision %s is neither kept nor "
				  "what the directory holds now",
				  g->name, ask);
	}
	kept = snap.nfiles > 0 ? calloc(snap.nfiles, sizeof(*kept)) : NULL;
	if (snap.nfiles > 0 && kept == NULL) {
		plan_snapshot_free(&snap);
		return admin_fail(res, ADMIN_FAILED, "out of memory");
	}
	for (i = 0; i < snap.nfiles; i++)
		kept[i] = (struct store_snapshot_file){
			.name = snap.files[i].name,
			.data = snap.files[i].data,
			.len = snap.files[i].len,
		};
	rc = store_snapshot_add(st, g->id, snap.revision, kept, snap.nfiles);
	free(kept);
	strlcpy(out, snap.revision, PLAN_REVISION_MAX);
	plan_snapshot_free(&snap);
	if (rc != 0)
		return admin_fail(res, ADMIN_FAILED,
				  "group %s: cannot keep its files: %s",
				  g->name, store_errmsg(st));
	return 0;
}

/*
 * Refuses to serve a revision chips would be refused at: a missing file,
 * a compile error, a file over the size policy.
 */
static int check_sendable(struct store *st, const struct store_group *g,
			  const struct store_repo *r, struct policy_group *pg,
			  const char *revision, struct admin_result *res)
{
	struct plan_cache *cache = plan_cache_new();
	struct plan_manifest *m = NULL;
	struct policy_group pinned = *pg;
	char why[512];
	int rc = 0;

	memset(&pinned.snapshot, 0, sizeof(pinned.snapshot));
	pinned.wants = NULL; /* borrowed from pg */
	if (cache == NULL)
		return admin_fail(res, ADMIN_FAILED, "out of memory");
	if (policy_group_pin(&pinned, st, g, r, revision, why, sizeof(why)) !=
	    0)
		rc = admin_fail(res, ADMIN_REFUSED, "%s", why);
	else if (plan_manifest_resolve(cache, &pinned.spec, &m) != 0)
		rc = admin_fail(res, ADMIN_FAILED, "group %s at %s: %s",
				g->name, revision, strerror(errno));
	else if (m->error != NULL)
		rc = admin_fail(res, ADMIN_REFUSED,
				"group %s at %s would not be sent: %s", g->name,
				revision, m->error);
	plan_manifest_free(m);
	policy_group_free(&pinned);
	plan_cache_free(cache);
	return rc;
}

int admin_group_pin(struct store *st, const struct policy_settings *settings,
		    const char *name, const char *ask,
		    char out[PLAN_REVISION_MAX], struct admin_result *res)
{
	struct store_group g = { 0 };
	struct store_repo r = { 0 };
	struct policy_group pg = { 0 };
	struct store_rollout active;
	int rc;

	if ((rc = load_group(st, settings, name, &g, &r, &pg, res)) != 0)
		goto out;
	if (store_rollout_active(st, g.id, &active) == 0) {
		rc = admin_fail(res, ADMIN_CONFLICT,
				"group %s is under rollout %" PRId64
				": abort it first",
				name, active.id);
		store_rollout_free(&active);
		goto out;
	}
	if ((rc = resolve_revision(st, &g, &r, &pg, ask, out, res)) != 0 ||
	    (rc = check_sendable(st, &g, &r, &pg, out, res)) != 0)
		goto out;
	if (store_group_set_release(st, name, out) != 0)
		rc = admin_fail(res, ADMIN_FAILED, "cannot pin group %s: %s",
				name, store_errmsg(st));
out:
	policy_group_free(&pg);
	store_group_free(&g);
	store_repo_free(&r);
	return rc;
}

int admin_group_unpin(struct store *st, const char *name,
		      struct admin_result *res)
{
	struct store_group g = { 0 };
	struct store_rollout active;
	int rc = store_group_get(st, name, &g);

	if (rc == STORE_NOTFOUND)
		return admin_fail(res, ADMIN_NOTFOUND, "no such group: %s",
				  name);
	if (rc != 0)
		return admin_fail(res, ADMIN_FAILED, "cannot read group %s: %s",
				  name, store_errmsg(st));
	rc = 0;
	if (store_rollout_active(st, g.id, &active) == 0) {
		rc = admin_fail(res, ADMIN_CONFLICT,
				"group %s is under rollout %" PRId64
				": abort it first",
				name, active.id);
		store_rollout_free(&active);
	} else if (store_group_set_release(st, name, NULL) != 0) {
		rc = admin_fail(res, ADMIN_FAILED, "cannot unpin group %s: %s",
				name, store_errmsg(st));
	} else {
		res->status = ADMIN_OK;
		res->message[0] = '\0';
	}
	store_group_free(&g);
	return rc;
}

/* What rollout start hands the store to plan the waves with. */
struct waves_arg {
	int64_t group_id;
	const struct rollout_waves_spec *spec;
};

static int plan_waves(struct store *st, int64_t id, void *arg, char **waves)
{
	struct waves_arg *wa = arg;
	char **ids = NULL;
	size_t n = 0;
	int rc;

	if (store_group_chip_ids(st, wa->group_id, &ids, &n) != 0)
		return -1;
	rc = rollout_waves_plan(id, ids, n, wa->spec, waves);
	store_ids_free(ids, n);
	return rc;
}

/* The request's settings into ro and spec; the plan text into plan. */
static int parse_request(const struct admin_rollout_request *req,
			 struct store_rollout *ro,
			 struct rollout_waves_spec *spec, char *plan,
			 size_t plan_len, struct admin_result *res)
{
	const char *steps =
	    req->steps != NULL ? req->steps : ROLLOUT_DEFAULT_STEPS;
	const char *failures = req->max_failures != NULL
				   ? req->max_failures
				   : ROLLOUT_DEFAULT_MAX_FAILURES;
	struct rollout_amount max_failures;
	char why[256];
	size_t i, used = 0;

	if (rollout_waves_spec_parse(req->canary, steps, spec, why,
				     sizeof(why)) != 0)
		return admin_fail(res, ADMIN_INVALID, "%s", why);
	if (rollout_amount_parse(failures, &max_failures) != 0)
		return admin_fail(res, ADMIN_INVALID,
				  "--max-failures %s: not a count (N) "
				  "or share (PCT%%)",
				  failures);
	ro->max_failures = max_failures.value;
	ro->max_failures_pct = max_failures.pct;
	if (req->max_inflight != NULL &&
	    admin_parse_int(req->max_inflight, 0, INT32_MAX,
			    &ro->max_inflight) != 0)
		return admin_fail(res, ADMIN_INVALID,
				  "--max-inflight %s: not a count",
				  req->max_inflight);
	ro->loop_checkins = ROLLOUT_DEFAULT_LOOP_CHECKINS;
	if (req->loop != NULL &&
	    admin_parse_int(req->loop, 2, 1000, &ro->loop_checkins) != 0)
		return admin_fail(res, ADMIN_INVALID,
				  "--loop %s: not a count of check-ins "
				  "from 2 to 1000",
				  req->loop);
	if (duration_arg(req->loop_window, "loop-window",
			 ROLLOUT_DEFAULT_LOOP_WINDOW, 1, &ro->loop_window,
			 res) != 0 ||
	    duration_arg(req->soak, "soak",
			 req->soak == NULL &&
				 ro->loop_window > ROLLOUT_DEFAULT_SOAK
			     ? ro->loop_window
			     : ROLLOUT_DEFAULT_SOAK,
			 0, &ro->soak, res) != 0 ||
	    duration_arg(req->deadline, "deadline", ROLLOUT_DEFAULT_DEADLINE, 1,
			 &ro->deadline, res) != 0)
		return -1;
	/* A chip declared healthy could otherwise still be in a loop. */
	if (ro->soak < ro->loop_window)
		return admin_fail(res, ADMIN_INVALID,
				  "--soak (%" PRId64
				  " s) must be at least --loop-window "
				  "(%" PRId64 " s)",
				  ro->soak, ro->loop_window);
	for (i = 0; i < spec->nwaves && used < plan_len; i++)
		used += (size_t)snprintf(plan + used, plan_len - used,
					 "%s%" PRId64 "%s", i > 0 ? "," : "",
					 spec->waves[i].value,
					 spec->waves[i].pct ? "%" : "");
	return 0;
}

int admin_rollout_start(struct store *st,
			const struct policy_settings *settings,
			const struct admin_rollout_request *req, int64_t now_ms,
			int64_t *id, struct admin_result *res)
{
	const char *name = req->group;
	struct rollout_waves_spec spec;
	struct store_group g = { 0 };
	struct store_repo r = { 0 };
	struct policy_group pg = { 0 };
	struct store_rollout ro = { 0 };
	struct waves_arg wa;
	char from[PLAN_REVISION_MAX], to[PLAN_REVISION_MAX], plan[512];
	int rc;

	if (name == NULL)
		return admin_fail(res, ADMIN_INVALID, "no group given");
	if (parse_request(req, &ro, &spec, plan, sizeof(plan), res) != 0)
		return -1;
	if ((rc = load_group(st, settings, name, &g, &r, &pg, res)) != 0)
		goto out;
	/* From: the release the group is pinned to, else what it serves. */
	if (g.release != NULL)
		strlcpy(from, g.release, sizeof(from));
	else if ((rc = resolve_revision(st, &g, &r, &pg, NULL, from, res)) != 0)
		goto out;
	if ((rc = resolve_revision(st, &g, &r, &pg, req->to, to, res)) != 0)
		goto out;
	if (strcmp(from, to) == 0) {
		if (g.release == NULL && r.ref == NULL)
			rc = admin_fail(
			    res, ADMIN_CONFLICT,
			    "group %s follows its directory, which holds "
			    "%s: pin it first (luaotactl group pin %s) while "
			    "it holds what the chips run, then change the "
			    "files and start the rollout",
			    name, to, name);
		else
			rc = admin_fail(res, ADMIN_CONFLICT,
					"nothing to roll out: group %s "
					"already serves %s",
					name, to);
		goto out;
	}
	if ((rc = check_sendable(st, &g, &r, &pg, to, res)) != 0)
		goto out;
	ro.group_id = g.id;
	ro.from_revision = from;
	ro.to_revision = to;
	ro.plan = plan;
	ro.started_ms = now_ms;
	wa.group_id = g.id;
	wa.spec = &spec;
	switch (store_rollout_add(st, &ro, plan_waves, &wa, id)) {
	case 0:
		res->status = ADMIN_OK;
		res->message[0] = '\0';
		break;
	case STORE_EXISTS:
		rc = admin_fail(res, ADMIN_CONFLICT,
				"group %s has a rollout under way: see "
				"luaotactl rollout status %s",
				name, name);
		break;
	default:
		rc = admin_fail(res, ADMIN_FAILED,
				"cannot start the rollout: %s",
				store_errmsg(st));
	}
out:
	policy_group_free(&pg);
	store_group_free(&g);
	store_repo_free(&r);
	return rc;
}
