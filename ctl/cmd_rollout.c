/*
 * luaotactl group pin|unpin and rollout start|status|pause|resume|abort|
 * list.  The operator states the rollout; luaotad serves its waves and
 * advances, completes or halts it from what it sees (policy/rollout.h),
 * and these commands show the same judgement.
 */
#include "cmd_rollout.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <bsd/string.h>
#include <json-c/json.h>

#include "admin/rollouts.h"
#include "admin/views.h"

#include "plan/plan.h"
#include "policy/rollout.h"

enum {
	OPT_TO = 't',
	OPT_CANARY = 'C',
	OPT_STEPS = 's',
	OPT_MAX_FAILURES = 'F',
	OPT_MAX_INFLIGHT = 'i',
	OPT_SOAK = 'k',
	OPT_DEADLINE = 'd',
	OPT_LOOP = 'L',
	OPT_LOOP_WINDOW = 'W',
	OPT_JSON = 'j',
	OPT_CHIPS = 'c',
};

static const struct option start_options[] = {
	{ "to", required_argument, NULL, OPT_TO },
	{ "canary", required_argument, NULL, OPT_CANARY },
	{ "steps", required_argument, NULL, OPT_STEPS },
	{ "max-failures", required_argument, NULL, OPT_MAX_FAILURES },
	{ "max-inflight", required_argument, NULL, OPT_MAX_INFLIGHT },
	{ "soak", required_argument, NULL, OPT_SOAK },
	{ "deadline", required_argument, NULL, OPT_DEADLINE },
	{ "loop", required_argument, NULL, OPT_LOOP },
	{ "loop-window", required_argument, NULL, OPT_LOOP_WINDOW },
	{ "json", no_argument, NULL, OPT_JSON },
	CTL_HELP_OPTION,
	{ NULL, 0, NULL, 0 },
};

static const struct option json_options[] = {
	{ "json", no_argument, NULL, OPT_JSON },
	CTL_HELP_OPTION,
	{ NULL, 0, NULL, 0 },
};

static const struct option status_options[] = {
	{ "json", no_argument, NULL, OPT_JSON },
	{ "chips", no_argument, NULL, OPT_CHIPS },
	CTL_HELP_OPTION,
	{ NULL, 0, NULL, 0 },
};

static int64_t wall_ms(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static void print_json(struct json_object *o)
{
	printf("%s\n", json_object_to_json_string_ext(
			   o, JSON_C_TO_STRING_PRETTY |
				  JSON_C_TO_STRING_NOSLASHESCAPE));
}

/* A duration option: "90" (seconds), "90s", "10m", "1h". */
static int duration_arg(const struct ctl *ctl, const struct ctl_args *args,
			int key, const char *name, int64_t fallback,
			int64_t min, int64_t *out)
{
	const char *text = ctl_arg_get(args, key);

	*out = fallback;
	if (text == NULL)
		return 0;
	if ((ctl_parse_int(text, 0, INT32_MAX, out) != 0 &&
	     ctl_parse_duration(text, out) != 0) ||
	    *out < min || *out > INT32_MAX)
		return ctl_usage_error(ctl,
				       "--%s %s: not a duration of at least "
				       "%" PRId64 " s (90, 90s, 10m, 1h)",
				       name, text, min);
	return 0;
}

/*
 * The group's specification, for resolving and snapshotting revisions;
 * 0, or CTL_EXIT_ERROR after saying why.
 */
static int load_group(struct ctl *ctl, struct store *st, const char *name,
		      struct store_group *g, struct store_repo *r,
		      struct policy_group *pg)
{
	const struct policy_settings *settings = ctl_settings(ctl);
	int rc;

	if (settings == NULL)
		return CTL_EXIT_ERROR;
	rc = store_group_get(st, name, g);
	if (rc == STORE_NOTFOUND)
		return ctl_error("no such group: %s", name);
	if (rc != 0 || store_repo_get_id(st, g->repo_id, r) != 0)
		return ctl_error("cannot read group %s: %s", name,
				 store_errmsg(st));
	if (policy_group_spec(g, r, settings, 0, pg) != 0)
		return ctl_error("out of memory");
	return 0;
}

/*
 * Names what the group's repository holds now, or at ask (a ref or
 * commit of a git repository; for a directory, the digest of a kept
 * snapshot, or of the files as they are now): a commit id, or the
 * directory's digest (its files kept as a snapshot).  0, or
 * CTL_EXIT_ERROR after saying why.
 */
static int resolve_revision(struct store *st, const struct store_group *g,
			    const struct store_repo *r, struct policy_group *pg,
			    const char *ask, char out[PLAN_REVISION_MAX])
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
			return ctl_error("group %s: %s", g->name, err);
		return 0;
	}
	if (ask != NULL && plan_is_snapshot_revision(ask)) {
		rc = store_snapshot_get(st, g->id, ask, &kept, &n);
		store_snapshot_free(kept, n);
		if (rc == 0) {
			snprintf(out, PLAN_REVISION_MAX, "%s", ask);
			return 0;
		}
		if (rc != STORE_NOTFOUND)
			return ctl_error("group %s: %s", g->name,
					 store_errmsg(st));
	}
	spec.snapshot = NULL;
	if (plan_snapshot_take(&spec, &snap, err, sizeof(err)) != 0)
		return ctl_error("group %s: cannot read its directory: %s",
				 g->name, err);
	if (ask != NULL && strcmp(ask, snap.revision) != 0) {
		plan_snapshot_free(&snap);
		return ctl_error("group %s: revision %s is neither kept nor "
				 "what the directory holds now",
				 g->name, ask);
	}
	kept = snap.nfiles > 0 ? calloc(snap.nfiles, sizeof(*kept)) : NULL;
	if (snap.nfiles > 0 && kept == NULL) {
		plan_snapshot_free(&snap);
		return ctl_error("out of memory");
	}
	for (i = 0; i < snap.nfiles; i++)
		kept[i] = (struct store_snapshot_file){
			.name = snap.files[i].name,
			.data = snap.files[i].data,
			.len = snap.files[i].len,
		};
	rc = store_snapshot_add(st, g->id, snap.revision, kept, snap.nfiles);
	free(kept);
	snprintf(out, PLAN_REVISION_MAX, "%s", snap.revision);
	plan_snapshot_free(&snap);
	if (rc != 0)
		return ctl_error("group %s: cannot keep its files: %s", g->name,
				 store_errmsg(st));
	return 0;
}

/*
 * Refuses to serve a revision chips would be refused at: a missing file,
 * a compile error, a file over the size policy.
 */
static int check_sendable(struct store *st, const struct store_group *g,
			  const struct store_repo *r, struct policy_group *pg,
			  const char *revision)
{
	struct plan_cache *cache = plan_cache_new();
	struct plan_manifest *m = NULL;
	struct policy_group pinned = *pg;
	char why[512];
	int rc = 0;

	memset(&pinned.snapshot, 0, sizeof(pinned.snapshot));
	pinned.wants = NULL; /* borrowed from pg */
	if (cache == NULL)
		return ctl_error("out of memory");
	if (policy_group_pin(&pinned, st, g, r, revision, why, sizeof(why)) !=
	    0)
		rc = ctl_error("%s", why);
	else if (plan_manifest_resolve(cache, &pinned.spec, &m) != 0)
		rc = ctl_error("group %s at %s: %s", g->name, revision,
			       strerror(errno));
	else if (m->error != NULL)
		rc = ctl_error("group %s at %s would not be sent: %s", g->name,
			       revision, m->error);
	plan_manifest_free(m);
	policy_group_free(&pinned);
	plan_cache_free(cache);
	return rc;
}

static int group_pin(struct ctl *ctl, const struct ctl_args *args)
{
	const char *name = args->argv[0];
	const char *ask = args->argc > 1 ? args->argv[1] : NULL;
	struct store_group g = { 0 };
	struct store_repo r = { 0 };
	struct policy_group pg = { 0 };
	struct store_rollout active;
	char revision[PLAN_REVISION_MAX];
	struct store *st;
	int rc;

	if ((st = ctl_open_store(ctl, 0)) == NULL)
		return CTL_EXIT_ERROR;
	if ((rc = load_group(ctl, st, name, &g, &r, &pg)) != 0)
		goto out;
	if (store_rollout_active(st, g.id, &active) == 0) {
		rc = ctl_error("group %s is under rollout %" PRId64
			       ": abort it first",
			       name, active.id);
		store_rollout_free(&active);
		goto out;
	}
	if ((rc = resolve_revision(st, &g, &r, &pg, ask, revision)) != 0 ||
	    (rc = check_sendable(st, &g, &r, &pg, revision)) != 0)
		goto out;
	if (store_group_set_release(st, name, revision) != 0) {
		rc = ctl_error("cannot pin group %s: %s", name,
			       store_errmsg(st));
		goto out;
	}
	printf("%s\n", revision);
out:
	policy_group_free(&pg);
	store_group_free(&g);
	store_repo_free(&r);
	store_close(st);
	return rc;
}

static int group_unpin(struct ctl *ctl, const struct ctl_args *args)
{
	const char *name = args->argv[0];
	struct store_group g = { 0 };
	struct store_rollout active;
	struct store *st;
	int rc = CTL_EXIT_OK, got;

	if ((st = ctl_open_store(ctl, 0)) == NULL)
		return CTL_EXIT_ERROR;
	got = store_group_get(st, name, &g);
	if (got == STORE_NOTFOUND)
		rc = ctl_error("no such group: %s", name);
	else if (got != 0)
		rc = ctl_error("cannot read group %s: %s", name,
			       store_errmsg(st));
	else if (store_rollout_active(st, g.id, &active) == 0) {
		rc = ctl_error("group %s is under rollout %" PRId64
			       ": abort it first",
			       name, active.id);
		store_rollout_free(&active);
	} else if (store_group_set_release(st, name, NULL) != 0)
		rc = ctl_error("cannot unpin group %s: %s", name,
			       store_errmsg(st));
	store_group_free(&g);
	store_close(st);
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

static int show_rollout(struct store *st, const struct store_rollout *r,
			int json, int chips);

static int rollout_start(struct ctl *ctl, const struct ctl_args *args)
{
	const char *name = args->argv[0];
	const char *canary = ctl_arg_get(args, OPT_CANARY);
	const char *steps = ctl_arg_get(args, OPT_STEPS);
	const char *failures = ctl_arg_get(args, OPT_MAX_FAILURES);
	struct rollout_waves_spec spec;
	struct rollout_amount max_failures;
	struct store_group g = { 0 };
	struct store_repo r = { 0 };
	struct policy_group pg = { 0 };
	struct store_rollout ro = { 0 }, made = { 0 };
	struct waves_arg wa;
	char from[PLAN_REVISION_MAX], to[PLAN_REVISION_MAX], why[256];
	char plan[512];
	struct store *st = NULL;
	int64_t id;
	size_t i, used = 0;
	int rc;

	if (steps == NULL)
		steps = ROLLOUT_DEFAULT_STEPS;
	if (rollout_waves_spec_parse(canary, steps, &spec, why, sizeof(why)) !=
	    0)
		return ctl_usage_error(ctl, "%s", why);
	if (failures == NULL)
		failures = ROLLOUT_DEFAULT_MAX_FAILURES;
	if (rollout_amount_parse(failures, &max_failures) != 0)
		return ctl_usage_error(ctl,
				       "--max-failures %s: not a count (N) "
				       "or share (PCT%%)",
				       failures);
	ro.max_failures = max_failures.value;
	ro.max_failures_pct = max_failures.pct;
	if (ctl_arg_get(args, OPT_MAX_INFLIGHT) != NULL &&
	    ctl_parse_int(ctl_arg_get(args, OPT_MAX_INFLIGHT), 0, INT32_MAX,
			  &ro.max_inflight) != 0)
		return ctl_usage_error(ctl, "--max-inflight %s: not a count",
				       ctl_arg_get(args, OPT_MAX_INFLIGHT));
	ro.loop_checkins = ROLLOUT_DEFAULT_LOOP_CHECKINS;
	if (ctl_arg_get(args, OPT_LOOP) != NULL &&
	    ctl_parse_int(ctl_arg_get(args, OPT_LOOP), 2, 1000,
			  &ro.loop_checkins) != 0)
		return ctl_usage_error(ctl,
				       "--loop %s: not a count of check-ins "
				       "from 2 to 1000",
				       ctl_arg_get(args, OPT_LOOP));
	if ((rc = duration_arg(ctl, args, OPT_LOOP_WINDOW, "loop-window",
			       ROLLOUT_DEFAULT_LOOP_WINDOW, 1,
			       &ro.loop_window)) != 0 ||
	    (rc = duration_arg(ctl, args, OPT_SOAK, "soak",
			       ctl_arg_get(args, OPT_SOAK) == NULL &&
				       ro.loop_window > ROLLOUT_DEFAULT_SOAK
				   ? ro.loop_window
				   : ROLLOUT_DEFAULT_SOAK,
			       0, &ro.soak)) != 0 ||
	    (rc = duration_arg(ctl, args, OPT_DEADLINE, "deadline",
			       ROLLOUT_DEFAULT_DEADLINE, 1, &ro.deadline)) != 0)
		return rc;
	/* A chip declared healthy could otherwise still be in a loop. */
	if (ro.soak < ro.loop_window)
		return ctl_usage_error(ctl,
				       "--soak (%" PRId64
				       " s) must be at least --loop-window "
				       "(%" PRId64 " s)",
				       ro.soak, ro.loop_window);
	for (i = 0; i < spec.nwaves && used < sizeof(plan); i++)
		used += (size_t)snprintf(plan + used, sizeof(plan) - used,
					 "%s%" PRId64 "%s", i > 0 ? "," : "",
					 spec.waves[i].value,
					 spec.waves[i].pct ? "%" : "");

	if ((st = ctl_open_store(ctl, 0)) == NULL)
		return CTL_EXIT_ERROR;
	if ((rc = load_group(ctl, st, name, &g, &r, &pg)) != 0)
		goto out;
	/* From: the release the group is pinned to, else what it serves. */
	if (g.release != NULL)
		strlcpy(from, g.release, sizeof(from));
	else if ((rc = resolve_revision(st, &g, &r, &pg, NULL, from)) != 0)
		goto out;
	if ((rc = resolve_revision(st, &g, &r, &pg, ctl_arg_get(args, OPT_TO),
				   to)) != 0)
		goto out;
	if (strcmp(from, to) == 0) {
		if (g.release == NULL && r.ref == NULL)
			rc = ctl_error(
			    "group %s follows its directory, which holds "
			    "%s: pin it first (luaotactl group pin %s) while "
			    "it holds what the chips run, then change the "
			    "files and start the rollout",
			    name, to, name);
		else
			rc = ctl_error("nothing to roll out: group %s "
				       "already serves %s",
				       name, to);
		goto out;
	}
	if ((rc = check_sendable(st, &g, &r, &pg, to)) != 0)
		goto out;
	ro.group_id = g.id;
	ro.from_revision = from;
	ro.to_revision = to;
	ro.plan = plan;
	ro.started_ms = wall_ms();
	wa.group_id = g.id;
	wa.spec = &spec;
	switch (store_rollout_add(st, &ro, plan_waves, &wa, &id)) {
	case 0:
		break;
	case STORE_EXISTS:
		rc = ctl_error("group %s has a rollout under way: see "
			       "luaotactl rollout status %s",
			       name, name);
		goto out;
	default:
		rc =
		    ctl_error("cannot start the rollout: %s", store_errmsg(st));
		goto out;
	}
	if (store_rollout_get(st, id, &made) != 0) {
		rc = ctl_error("rollout %" PRId64 " started, but cannot be "
			       "read back: %s",
			       id, store_errmsg(st));
		goto out;
	}
	rc = show_rollout(st, &made, ctl_arg_has(args, OPT_JSON), 0);
	store_rollout_free(&made);
out:
	policy_group_free(&pg);
	store_group_free(&g);
	store_repo_free(&r);
	store_close(st);
	return rc;
}

/*
 * The rollout arg names: a rollout id, or a group (its rollout under
 * way, else its newest).  0, or CTL_EXIT_ERROR after saying why.
 */
static int find_rollout(struct store *st, const char *arg,
			struct store_rollout *out)
{
	struct store_group g = { 0 };
	struct store_rollout *rows = NULL;
	size_t n = 0;
	int64_t id;
	int rc = store_group_get(st, arg, &g);

	memset(out, 0, sizeof(*out));
	if (rc == STORE_NOTFOUND) {
		if (ctl_parse_int(arg, 1, INT64_MAX, &id) != 0)
			return ctl_error("no such group or rollout: %s", arg);
		rc = store_rollout_get(st, id, out);
		if (rc == STORE_NOTFOUND)
			return ctl_error("no such rollout: %s", arg);
		return rc == 0 ? 0
			       : ctl_error("cannot read rollout %s: %s", arg,
					   store_errmsg(st));
	}
	if (rc != 0)
		return ctl_error("cannot read group %s: %s", arg,
				 store_errmsg(st));
	rc = store_rollout_list(st, g.id, &rows, &n);
	store_group_free(&g);
	if (rc != 0)
		return ctl_error("cannot list rollouts: %s", store_errmsg(st));
	if (n == 0) {
		store_rollout_list_free(rows, n);
		return ctl_error("group %s has no rollout", arg);
	}
	/* Newest first: at most one is under way, and it is the newest. */
	*out = rows[0];
	memset(&rows[0], 0, sizeof(rows[0]));
	store_rollout_list_free(rows, n);
	return 0;
}

/* Seconds as "90s", "10m", "2h" when whole, else seconds. */
static void format_duration(int64_t s, char *buf, size_t len)
{
	if (s >= 3600 && s % 3600 == 0)
		snprintf(buf, len, "%" PRId64 "h", s / 3600);
	else if (s >= 60 && s % 60 == 0)
		snprintf(buf, len, "%" PRId64 "m", s / 60);
	else
		snprintf(buf, len, "%" PRId64 "s", s);
}



static void rollout_text(const struct store_rollout *r,
			 const struct rollout_report *rep, int chips)
{
	char when[32], label[32], soak[24], deadline[24], window[24], num[24];
	size_t i;

	ctl_format_time(r->started_ms / 1000, when, sizeof(when));
	format_duration(r->soak, soak, sizeof(soak));
	format_duration(r->deadline, deadline, sizeof(deadline));
	format_duration(r->loop_window, window, sizeof(window));
	printf("rollout:       %" PRId64 "\n", r->id);
	printf("group:         %s\n", r->group_name);
	printf("state:         %s, wave %d of %zu\n",
	       store_rollout_state_name(r->state), r->wave + 1, rep->nwaves);
	printf("from:          %s\n", r->from_revision);
	printf("to:            %s\n", r->to_revision);
	printf("started:       %s\n", when);
	if (r->ended_ms != 0) {
		ctl_format_time(r->ended_ms / 1000, when, sizeof(when));
		printf("ended:         %s\n", when);
	}
	if (r->reason != NULL)
		printf("reason:        %s\n", r->reason);
	printf("failures:      %zu of %zu chips served (halts above %" PRId64
	       ")\n",
	       rep->failed, rep->served, rep->failure_limit);
	printf("health:        soak %s, back within %s, a loop is %" PRId64
	       " check-ins within %s\n",
	       soak, deadline, r->loop_checkins, window);
	if (r->max_inflight > 0)
		printf("max inflight:  %" PRId64 "\n", r->max_inflight);
	printf("waves:\n");
	ctl_cell("  WAVE", 6);
	ctl_cell("PLAN", 6);
	ctl_cell("CHIPS", 6);
	ctl_cell("WAITING", 8);
	ctl_cell("SOAKING", 8);
	ctl_cell("HEALTHY", 8);
	ctl_cell("FAILED", 0);
	for (i = 0; i < rep->nwaves; i++) {
		const struct rollout_wave_report *w = &rep->waves[i];

		snprintf(num, sizeof(num), "%s%zu",
			 i == (size_t)r->wave ? "* " : "  ", i + 1);
		ctl_cell(num, 6);
		ctl_cell(admin_wave_label(r, i, label, sizeof(label)), 6);
		snprintf(num, sizeof(num), "%zu", w->members);
		ctl_cell(num, 6);
		snprintf(num, sizeof(num), "%zu", w->waiting);
		ctl_cell(num, 8);
		snprintf(num, sizeof(num), "%zu", w->soaking);
		ctl_cell(num, 8);
		snprintf(num, sizeof(num), "%zu", w->healthy);
		ctl_cell(num, 8);
		snprintf(num, sizeof(num), "%zu", w->failed);
		ctl_cell(num, 0);
	}
	for (i = 0; i < rep->nchips; i++) {
		const struct rollout_chip *c = &rep->chips[i];

		if (!chips && c->state != ROLLOUT_CHIP_FAILED)
			continue;
		printf("chip %s (wave %zu): %s%s%s\n", c->id, c->wave + 1,
		       rollout_chip_state_name(c->state),
		       c->state == ROLLOUT_CHIP_FAILED ? ": " : "",
		       c->state == ROLLOUT_CHIP_FAILED ? c->reason : "");
	}
}

static int show_rollout(struct store *st, const struct store_rollout *r,
			int json, int chips)
{
	struct rollout_report rep;
	struct json_object *o;

	if (rollout_assess(st, r, wall_ms(), &rep) != 0)
		return ctl_error("cannot judge rollout %" PRId64 ": %s", r->id,
				 errno == EINVAL ? "malformed waves"
						 : store_errmsg(st));
	if (json) {
		o = admin_rollout_json(r, &rep, chips);
		print_json(o);
		json_object_put(o);
	} else {
		rollout_text(r, &rep, chips);
	}
	rollout_report_free(&rep);
	return CTL_EXIT_OK;
}

static int rollout_status(struct ctl *ctl, const struct ctl_args *args)
{
	struct store_rollout r;
	struct store *st;
	int rc;

	if ((st = ctl_open_store(ctl, STORE_READONLY)) == NULL)
		return CTL_EXIT_ERROR;
	if ((rc = find_rollout(st, args->argv[0], &r)) == 0)
		rc = show_rollout(st, &r, ctl_arg_has(args, OPT_JSON),
				  ctl_arg_has(args, OPT_CHIPS) ||
				      ctl_arg_has(args, OPT_JSON));
	store_rollout_free(&r);
	store_close(st);
	return rc;
}

/* pause, resume, abort: one move of the rollout's state. */
static int rollout_move(struct ctl *ctl, const struct ctl_args *args,
			enum store_rollout_state to)
{
	struct store_rollout r, after;
	struct admin_result res;
	struct store *st;
	int rc;

	if ((st = ctl_open_store(ctl, 0)) == NULL)
		return CTL_EXIT_ERROR;
	if ((rc = find_rollout(st, args->argv[0], &r)) != 0)
		goto out;
	if (admin_rollout_move(st, r.id, to, wall_ms(), &res) != 0) {
		rc = ctl_error("%s", res.message);
		goto out;
	}
	if (store_rollout_get(st, r.id, &after) != 0) {
		rc = ctl_error("cannot read rollout %" PRId64 ": %s", r.id,
			       store_errmsg(st));
		goto out;
	}
	rc = show_rollout(st, &after, ctl_arg_has(args, OPT_JSON), 0);
	store_rollout_free(&after);
out:
	store_rollout_free(&r);
	store_close(st);
	return rc;
}

static int rollout_pause(struct ctl *ctl, const struct ctl_args *args)
{
	return rollout_move(ctl, args, STORE_ROLLOUT_PAUSED);
}

static int rollout_resume(struct ctl *ctl, const struct ctl_args *args)
{
	return rollout_move(ctl, args, STORE_ROLLOUT_RUNNING);
}

static int rollout_abort(struct ctl *ctl, const struct ctl_args *args)
{
	return rollout_move(ctl, args, STORE_ROLLOUT_ABORTED);
}

static int rollout_list(struct ctl *ctl, const struct ctl_args *args)
{
	struct store_rollout *rows = NULL;
	struct store_group g = { 0 };
	struct json_object *array;
	struct store *st;
	char num[24], when[32];
	size_t n = 0, i;
	int rc = CTL_EXIT_OK, got;

	if ((st = ctl_open_store(ctl, STORE_READONLY)) == NULL)
		return CTL_EXIT_ERROR;
	if (args->argc == 1) {
		got = store_group_get(st, args->argv[0], &g);
		if (got != 0) {
			rc = got == STORE_NOTFOUND
				 ? ctl_error("no such group: %s", args->argv[0])
				 : ctl_error("cannot read group %s: %s",
					     args->argv[0], store_errmsg(st));
			goto out;
		}
	}
	if (store_rollout_list(st, g.id, &rows, &n) != 0) {
		rc = ctl_error("cannot list rollouts: %s", store_errmsg(st));
		goto out;
	}
	if (ctl_arg_has(args, OPT_JSON)) {
		array = json_object_new_array();
		for (i = 0; i < n; i++)
			json_object_array_add(array,
					      admin_rollout_json(&rows[i], NULL, 0));
		print_json(array);
		json_object_put(array);
		goto out;
	}
	ctl_cell("ID", 6);
	ctl_cell("GROUP", 16);
	ctl_cell("STATE", 8);
	ctl_cell("WAVE", 5);
	ctl_cell("STARTED", 21);
	ctl_cell("TO", 0);
	for (i = 0; i < n; i++) {
		snprintf(num, sizeof(num), "%" PRId64, rows[i].id);
		ctl_cell(num, 6);
		ctl_cell(rows[i].group_name, 16);
		ctl_cell(store_rollout_state_name(rows[i].state), 8);
		snprintf(num, sizeof(num), "%d", rows[i].wave + 1);
		ctl_cell(num, 5);
		ctl_format_time(rows[i].started_ms / 1000, when, sizeof(when));
		ctl_cell(when, 21);
		ctl_cell(rows[i].to_revision, 0);
	}
out:
	store_rollout_list_free(rows, n);
	store_group_free(&g);
	store_close(st);
	return rc;
}

const struct ctl_cmd cmd_group_pin_entry = {
	.name = "group pin",
	.usage = "NAME [REVISION]",
	.summary = "serve the group one revision (default: what its "
		   "repository holds now; a directory's files are kept) "
		   "until a rollout moves it",
	.optstring = "h",
	.options = json_options,
	.min_args = 1,
	.max_args = 2,
	.handler = group_pin,
};

const struct ctl_cmd cmd_group_unpin_entry = {
	.name = "group unpin",
	.usage = "NAME",
	.summary = "let the group follow its repository again: every change "
		   "reaches every chip at its next boot",
	.optstring = "h",
	.options = json_options,
	.min_args = 1,
	.max_args = 1,
	.handler = group_unpin,
};

const struct ctl_cmd cmd_rollout_start_entry = {
	.name = "rollout start",
	.usage = "GROUP [--to REVISION] [--canary N|PCT%] "
		 "[--steps PCT%,...] [--max-failures N|PCT%] "
		 "[--max-inflight N] [--soak DURATION] [--deadline DURATION] "
		 "[--loop N] [--loop-window DURATION] [--json]",
	.summary = "roll the group out to a revision (default: what its "
		   "repository holds now) in waves that halt and revert on "
		   "their own",
	.optstring = "h",
	.options = start_options,
	.min_args = 1,
	.max_args = 1,
	.handler = rollout_start,
};

const struct ctl_cmd cmd_rollout_status_entry = {
	.name = "rollout status",
	.usage = "GROUP|ID [--chips] [--json]",
	.summary = "a rollout's waves and their health (a group: its "
		   "rollout under way, else its last)",
	.optstring = "h",
	.options = status_options,
	.min_args = 1,
	.max_args = 1,
	.handler = rollout_status,
};

const struct ctl_cmd cmd_rollout_pause_entry = {
	.name = "rollout pause",
	.usage = "GROUP|ID [--json]",
	.summary = "hold the rollout at its wave (it still halts on failures)",
	.optstring = "h",
	.options = json_options,
	.min_args = 1,
	.max_args = 1,
	.handler = rollout_pause,
};

const struct ctl_cmd cmd_rollout_resume_entry = {
	.name = "rollout resume",
	.usage = "GROUP|ID [--json]",
	.summary = "let a paused rollout advance again",
	.optstring = "h",
	.options = json_options,
	.min_args = 1,
	.max_args = 1,
	.handler = rollout_resume,
};

const struct ctl_cmd cmd_rollout_abort_entry = {
	.name = "rollout abort",
	.usage = "GROUP|ID [--json]",
	.summary = "stop the rollout: every chip is served the previous "
		   "revision again",
	.optstring = "h",
	.options = json_options,
	.min_args = 1,
	.max_args = 1,
	.handler = rollout_abort,
};

const struct ctl_cmd cmd_rollout_list_entry = {
	.name = "rollout list",
	.usage = "[GROUP] [--json]",
	.summary = "rollouts, newest first",
	.optstring = "h",
	.options = json_options,
	.min_args = 0,
	.max_args = 1,
	.handler = rollout_list,
};
