/* luaotactl history: what chips were sent, when, and how it ended. */
#include "cmd_history.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "admin/admin.h"
#include "admin/views.h"

#include "proto/chipid.h"

#define HISTORY_DEFAULT_LIMIT 20
#define HISTORY_MAX_LIMIT 1000000

enum {
	OPT_JSON = 'j',
	OPT_LIMIT = 'n',
	OPT_SINCE = 's',
	OPT_FAILED = 'f',
};

static const struct option history_options[] = {
	{ "json", no_argument, NULL, OPT_JSON },
	{ "limit", required_argument, NULL, OPT_LIMIT },
	{ "since", required_argument, NULL, OPT_SINCE },
	{ "failed", no_argument, NULL, OPT_FAILED },
	CTL_HELP_OPTION,
	{ NULL, 0, NULL, 0 },
};

static int print_json(struct store *st, const struct store_session *rows,
		      size_t n)
{
	struct json_object *array = json_object_new_array(), *o;
	size_t i;

	if (array == NULL)
		return ctl_error("out of memory");
	for (i = 0; i < n; i++) {
		if ((o = admin_session_json(st, &rows[i])) == NULL ||
		    json_object_array_add(array, o) != 0) {
			json_object_put(o);
			json_object_put(array);
			return ctl_error("cannot read the history: %s",
					 store_errmsg(st));
		}
	}
	printf("%s\n", json_object_to_json_string_ext(
			   array, JSON_C_TO_STRING_PRETTY |
				      JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(array);
	return CTL_EXIT_OK;
}

#define HISTORY_COLUMNS(when, session, chip, peer, outcome, files, bytes,      \
			duration, revision, reason)                            \
	ctl_cell(when, 20);                                                    \
	ctl_cell(session, 7);                                                  \
	ctl_cell(chip, LUAOTA_CHIPID_MAX);                                     \
	ctl_cell(peer, 21);                                                    \
	ctl_cell(outcome, 11);                                                 \
	ctl_cell(files, 5);                                                    \
	ctl_cell(bytes, 9);                                                    \
	ctl_cell(duration, 8);                                                 \
	ctl_cell(revision, 12);                                                \
	ctl_cell(reason, 0)

/* Digits of a commit id the table shows; --json and show have it all. */
#define REVISION_SHOWN 12

static void print_human(const struct store_session *rows, size_t n)
{
	char when[32], session[24], files[24], bytes[24], duration[32];
	char revision[REVISION_SHOWN + 1];
	size_t i;

	HISTORY_COLUMNS("TIME", "SESSION", "CHIP", "PEER", "OUTCOME", "FILES",
			"BYTES", "DURATION", "REVISION", "REASON");
	for (i = 0; i < n; i++) {
		const struct store_session *s = &rows[i];

		ctl_format_time(s->started_ms / 1000, when, sizeof(when));
		snprintf(session, sizeof(session), "%" PRId64, s->id);
		snprintf(files, sizeof(files), "%" PRId64, s->files_sent);
		snprintf(bytes, sizeof(bytes), "%" PRId64, s->bytes_sent);
		if (s->ended_ms != 0)
			snprintf(duration, sizeof(duration), "%.3fs",
				 (double)(s->ended_ms - s->started_ms) / 1000);
		else
			snprintf(duration, sizeof(duration), "-");
		snprintf(revision, sizeof(revision), "%s",
			 s->revision != NULL ? s->revision : "-");
		HISTORY_COLUMNS(when, session, s->chip_id, s->peer,
				store_outcome_name(s->outcome), files, bytes,
				duration, revision, s->reason);
	}
}

/*
 * Whether a chip with no history rows is unknown altogether (a removed
 * chip keeps its history, so rows alone make it known): CTL_EXIT_OK, or
 * CTL_EXIT_ERROR after saying so.
 */
static int chip_known(struct store *st, const char *id)
{
	struct store_chip c;
	int rc = store_chip_get(st, id, &c);

	if (rc == 0) {
		store_chip_free(&c);
		return CTL_EXIT_OK;
	}
	if (rc == STORE_NOTFOUND)
		return ctl_error("cannot show the history of %s: no such chip",
				 id);
	return ctl_error("cannot read the history: %s", store_errmsg(st));
}

static int history(struct ctl *ctl, const struct ctl_args *args)
{
	const char *limit_arg = ctl_arg_get(args, OPT_LIMIT);
	const char *since = ctl_arg_get(args, OPT_SINCE);
	struct store_session_filter filter = {
		.failed_only = ctl_arg_has(args, OPT_FAILED),
	};
	char id[LUAOTA_CHIPID_MAX + 1];
	const char *chip = NULL;
	struct store_session *rows;
	struct store *st;
	int64_t limit = HISTORY_DEFAULT_LIMIT, since_s;
	size_t n;
	int rc;

	if (args->argc == 1) {
		if (luaota_chipid_normalize(LUAOTA_JSON_STRING, args->argv[0],
					    strlen(args->argv[0]), id) != 0)
			return ctl_usage_error(ctl, "bad chip id '%s'",
					       args->argv[0]);
		chip = id;
	}
	if (limit_arg != NULL &&
	    ctl_parse_int(limit_arg, 0, HISTORY_MAX_LIMIT, &limit) != 0)
		return ctl_usage_error(ctl,
				       "bad --limit '%s' (0 to %d; 0: all)",
				       limit_arg, HISTORY_MAX_LIMIT);
	if (since != NULL) {
		if (ctl_parse_time(since, &since_s) != 0)
			return ctl_usage_error(ctl,
					       "bad --since '%s' (ISO 8601 "
					       "UTC, or an age: 30m, 12h, "
					       "7d)",
					       since);
		filter.since_ms = since_s * 1000;
		/* With a start given, the default cap would hide rows. */
		if (limit_arg == NULL)
			limit = 0;
	}
	filter.chip_id = chip;
	filter.limit = (int)limit;
	if ((st = ctl_open_store(ctl, STORE_READONLY)) == NULL)
		return CTL_EXIT_ERROR;
	if (store_session_query(st, &filter, &rows, &n) != 0) {
		rc = ctl_error("cannot read the history: %s", store_errmsg(st));
		store_close(st);
		return rc;
	}
	rc = CTL_EXIT_OK;
	if (n == 0 && chip != NULL)
		rc = chip_known(st, chip);
	if (rc == CTL_EXIT_OK && ctl_arg_has(args, OPT_JSON))
		rc = print_json(st, rows, n);
	else if (rc == CTL_EXIT_OK)
		print_human(rows, n);
	store_session_list_free(rows, n);
	store_close(st);
	return rc;
}

const struct ctl_cmd cmd_history_entry = {
	.name = "history",
	.usage = "[CHIPID] [--since TIME] [--failed] [--limit N] [--json]",
	.summary = "sessions newest first (all chips, or one): time, "
		   "session, peer, outcome, files, bytes, duration, revision, "
		   "reason; --failed: failed, "
		   "rejected or interrupted only; --limit 0: all (default 20, "
		   "none with --since)",
	.optstring = "h",
	.options = history_options,
	.min_args = 0,
	.max_args = 1,
	.handler = history,
};

static const struct option show_options[] = {
	{ "json", no_argument, NULL, OPT_JSON },
	CTL_HELP_OPTION,
	{ NULL, 0, NULL, 0 },
};

static int history_show(struct ctl *ctl, const struct ctl_args *args)
{
	struct store_session s;
	struct store_session_file *files = NULL;
	struct json_object *o;
	struct store *st;
	char when[40], lcsize[24];
	int64_t id;
	size_t n = 0, i;
	int rc = CTL_EXIT_ERROR, got;

	if (ctl_parse_int(args->argv[0], 1, INT64_MAX, &id) != 0)
		return ctl_usage_error(ctl, "bad session id '%s'",
				       args->argv[0]);
	if ((st = ctl_open_store(ctl, STORE_READONLY)) == NULL)
		return CTL_EXIT_ERROR;
	got = store_session_get(st, id, &s);
	if (got == STORE_NOTFOUND) {
		ctl_error("cannot show session %s: no such session",
			  args->argv[0]);
		goto out;
	}
	if (got != 0) {
		ctl_error("cannot show session %s: %s", args->argv[0],
			  store_errmsg(st));
		goto out;
	}
	if (ctl_arg_has(args, OPT_JSON)) {
		if ((o = admin_session_json(st, &s)) == NULL) {
			ctl_error("cannot show session %s: %s", args->argv[0],
				  store_errmsg(st));
			goto free_session;
		}
		printf("%s\n", json_object_to_json_string_ext(
				   o, JSON_C_TO_STRING_PRETTY |
					  JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(o);
		rc = CTL_EXIT_OK;
		goto free_session;
	}
	if (store_session_files(st, id, &files, &n) != 0) {
		ctl_error("cannot show session %s: %s", args->argv[0],
			  store_errmsg(st));
		goto free_session;
	}
	admin_format_ms(s.started_ms, when, sizeof(when));
	printf("%-10s%" PRId64 "\n", "session:", s.id);
	printf("%-10s%s\n", "chip:", s.chip_id ? s.chip_id : "-");
	printf("%-10s%s\n", "peer:", s.peer);
	printf("%-10s%s\n", "started:", when);
	if (s.ended_ms != 0)
		printf("%-10s%.3fs\n",
		       "duration:", (double)(s.ended_ms - s.started_ms) / 1000);
	printf("%-10s%s%s%s\n", "outcome:", store_outcome_name(s.outcome),
	       s.reason ? ": " : "", s.reason ? s.reason : "");
	printf("%-10s%s\n", "revision:", s.revision ? s.revision : "-");
	printf("%-10s%" PRId64 " files, %" PRId64 " bytes\n",
	       "sent:", s.files_sent, s.bytes_sent);
	if (n > 0) {
		printf("\n");
		ctl_cell("FILE", 31);
		ctl_cell("ACTION", 6);
		ctl_cell("BYTES", 8);
		ctl_cell("LCSIZE", 6);
		ctl_cell("RESULT", 0);
	}
	for (i = 0; i < n; i++) {
		snprintf(when, sizeof(when), "%" PRId64, files[i].bytes);
		snprintf(lcsize, sizeof(lcsize), "%" PRId64, files[i].lcsize);
		ctl_cell(files[i].name, 31);
		ctl_cell(files[i].action, 6);
		ctl_cell(when, 8);
		ctl_cell(files[i].lcsize >= 0 ? lcsize : "-", 6);
		ctl_cell(files[i].result, 0);
	}
	rc = CTL_EXIT_OK;
free_session:
	store_session_files_free(files, n);
	store_session_free(&s);
out:
	store_close(st);
	return rc;
}

const struct ctl_cmd cmd_history_show_entry = {
	.name = "history show",
	.usage = "SESSION [--json]",
	.summary = "one session in full, file by file",
	.optstring = "h",
	.options = show_options,
	.min_args = 1,
	.max_args = 1,
	.handler = history_show,
};
