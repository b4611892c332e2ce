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

static int group_pin(struct ctl *ctl, const struct ctl_args *args)
{
	const struct policy_settings *settings = ctl_settings(ctl);
	char revision[PLAN_REVISION_MAX];
	struct admin_result res;
	struct store *st;
	int rc = CTL_EXIT_OK;

	if (settings == NULL)
		return CTL_EXIT_ERROR;
	if ((st = ctl_open_store(ctl, 0)) == NULL)
		return CTL_EXIT_ERROR;
	if (admin_group_pin(st, settings, args->argv[0],
			    args->argc > 1 ? args->argv[1] : NULL, revision,
			    &res) != 0)
		rc = ctl_report(ctl, &res);
	else
		printf("%s\n", revision);
	store_close(st);
	return rc;
}

static int group_unpin(struct ctl *ctl, const struct ctl_args *args)
{
	struct admin_result res;
	struct store *st;
	int rc = CTL_EXIT_OK;

	if ((st = ctl_open_store(ctl, 0)) == NULL)
		return CTL_EXIT_ERROR;
	if (admin_group_unpin(st, args->argv[0], &res) != 0)
		rc = ctl_report(ctl, &res);
	store_close(st);
	return rc;
}

static int show_rollout(struct store *st, const struct store_rollout *r,
			int json, int chips);

static int rollout_start(struct ctl *ctl, const struct ctl_args *args)
{
	const struct policy_settings *settings = ctl_settings(ctl);
	const struct admin_rollout_request req = {
		.group = args->argv[0],
		.to = ctl_arg_get(args, OPT_TO),
		.canary = ctl_arg_get(args, OPT_CANARY),
		.steps = ctl_arg_get(args, OPT_STEPS),
		.max_failures = ctl_arg_get(args, OPT_MAX_FAILURES),
		.max_inflight = ctl_arg_get(args, OPT_MAX_INFLIGHT),
		.soak = ctl_arg_get(args, OPT_SOAK),
		.deadline = ctl_arg_get(args, OPT_DEADLINE),
		.loop = ctl_arg_get(args, OPT_LOOP),
		.loop_window = ctl_arg_get(args, OPT_LOOP_WINDOW),
	};
	struct store_rollout made = { 0 };
	struct admin_result res;
	struct store *st;
	int64_t id;
	int rc;

	if (settings == NULL)
		return CTL_EXIT_ERROR;
	if ((st = ctl_open_store(ctl, 0)) == NULL)
		return CTL_EXIT_ERROR;
	if (admin_rollout_start(st, settings, &req, wall_ms(), &id, &res) !=
	    0) {
		rc = ctl_report(ctl, &res);
	} else if (store_rollout_get(st, id, &made) != 0) {
		rc = ctl_error("rollout %" PRId64 " started, but cannot be "
			       "read back: %s",
			       id, store_errmsg(st));
	} else {
		rc = show_rollout(st, &made, ctl_arg_has(args, OPT_JSON), 0);
		store_rollout_free(&made);
	}
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
		ctl_print_json(o);
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
		rc = ctl_report(ctl, &res);
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
			json_object_array_add(
			    array, admin_rollout_json(&rows[i], NULL, 0));
		ctl_print_json(array);
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
