/*
 * luaotactl pull, pulls, pulls show.  A pull is queued in the inventory;
 * luaotad reads the file with ul at the chip's next check-in (the chip
 * then restarts once, unchanged) and stores the bytes there.
 */
#include "cmd_pull.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "plan/plan.h"
#include "proto/chipid.h"

enum {
	OPT_JSON = 'j',
	OPT_OUTPUT = 'o',
};

static const struct option plain_options[] = {
	CTL_HELP_OPTION,
	{ NULL, 0, NULL, 0 },
};

static const struct option json_options[] = {
	{ "json", no_argument, NULL, OPT_JSON },
	CTL_HELP_OPTION,
	{ NULL, 0, NULL, 0 },
};

static const struct option show_options[] = {
	{ "output", required_argument, NULL, OPT_OUTPUT },
	{ "json", no_argument, NULL, OPT_JSON },
	CTL_HELP_OPTION,
	{ NULL, 0, NULL, 0 },
};

static int pull(struct ctl *ctl, const struct ctl_args *args)
{
	char id[LUAOTA_CHIPID_MAX + 1];
	const char *name = args->argv[1], *problem;
	struct store *st;
	int64_t pull_id;
	int rc = CTL_EXIT_OK;

	if (luaota_chipid_normalize(LUAOTA_JSON_STRING, args->argv[0],
				    strlen(args->argv[0]), id) != 0)
		return ctl_usage_error(ctl, "bad chip id '%s'", args->argv[0]);
	if ((problem = plan_name_problem(name)) != NULL)
		return ctl_usage_error(ctl, "bad file name '%s': %s", name,
				       problem);
	if ((st = ctl_open_store(ctl, 0)) == NULL)
		return CTL_EXIT_ERROR;
	switch (store_pull_add(st, id, name, (int64_t)time(NULL), &pull_id)) {
	case 0:
		printf("%" PRId64 "\n", pull_id);
		break;
	case STORE_NOTFOUND:
		rc = ctl_error("cannot pull from chip %s: no such chip", id);
		break;
	default:
		rc = ctl_error("cannot pull from chip %s: %s", id,
			       store_errmsg(st));
	}
	store_close(st);
	return rc;
}

static struct json_object *pull_json(const struct store_pull *p)
{
	struct json_object *o = json_object_new_object();
	char when[32];

	json_object_object_add(o, "id", json_object_new_int64(p->id));
	json_object_object_add(o, "chip", json_object_new_string(p->chip_id));
	json_object_object_add(o, "name", json_object_new_string(p->name));
	ctl_format_time(p->requested, when, sizeof(when));
	json_object_object_add(o, "requested", json_object_new_string(when));
	json_object_object_add(o, "state", json_object_new_string(p->state));
	ctl_format_time(p->done, when, sizeof(when));
	json_object_object_add(o, "done",
			       p->done ? json_object_new_string(when) : NULL);
	json_object_object_add(
	    o, "size", p->size >= 0 ? json_object_new_int64(p->size) : NULL);
	json_object_object_add(
	    o, "reason", p->reason ? json_object_new_string(p->reason) : NULL);
	return o;
}

static int pulls(struct ctl *ctl, const struct ctl_args *args)
{
	char id[LUAOTA_CHIPID_MAX + 1], when[32], num[24], size[24];
	struct store_pull *rows = NULL;
	struct json_object *array = NULL;
	struct store *st;
	size_t n = 0, i;
	int rc = CTL_EXIT_ERROR;

	if (args->argc == 1 &&
	    luaota_chipid_normalize(LUAOTA_JSON_STRING, args->argv[0],
				    strlen(args->argv[0]), id) != 0)
		return ctl_usage_error(ctl, "bad chip id '%s'", args->argv[0]);
	if ((st = ctl_open_store(ctl, STORE_READONLY)) == NULL)
		return CTL_EXIT_ERROR;
	if (store_pull_list(st, args->argc == 1 ? id : NULL, &rows, &n) != 0) {
		ctl_error("cannot list pulls: %s", store_errmsg(st));
		goto out;
	}
	if (ctl_arg_has(args, OPT_JSON)) {
		array = json_object_new_array();
		for (i = 0; i < n; i++)
			json_object_array_add(array, pull_json(&rows[i]));
		ctl_print_json(array);
	} else {
		ctl_cell("ID", 6);
		ctl_cell("CHIP", LUAOTA_CHIPID_MAX);
		ctl_cell("FILE", 31);
		ctl_cell("STATE", 8);
		ctl_cell("SIZE", 8);
		ctl_cell("REQUESTED", 0);
		for (i = 0; i < n; i++) {
			snprintf(num, sizeof(num), "%" PRId64, rows[i].id);
			snprintf(size, sizeof(size), "%" PRId64, rows[i].size);
			ctl_format_time(rows[i].requested, when, sizeof(when));
			ctl_cell(num, 6);
			ctl_cell(rows[i].chip_id, LUAOTA_CHIPID_MAX);
			ctl_cell(rows[i].name, 31);
			ctl_cell(rows[i].state, 8);
			ctl_cell(rows[i].size >= 0 ? size : "-", 8);
			ctl_cell(when, 0);
		}
	}
	rc = CTL_EXIT_OK;
out:
	json_object_put(array);
	store_pull_list_free(rows, n);
	store_close(st);
	return rc;
}

/* Writes len bytes to fd whole. */
static int write_all(int fd, const uint8_t *data, size_t len)
{
	ssize_t w;

	while (len > 0) {
		w = write(fd, data, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		data += w;
		len -= (size_t)w;
	}
	return 0;
}

static int pulls_show(struct ctl *ctl, const struct ctl_args *args)
{
	const char *output = ctl_arg_get(args, OPT_OUTPUT);
	struct store_pull p = { 0 };
	struct json_object *o;
	struct store *st;
	int64_t id;
	int rc = CTL_EXIT_ERROR, got, fd;

	if (ctl_parse_int(args->argv[0], 1, INT64_MAX, &id) != 0)
		return ctl_usage_error(ctl, "bad pull id '%s'", args->argv[0]);
	if ((st = ctl_open_store(ctl, STORE_READONLY)) == NULL)
		return CTL_EXIT_ERROR;
	got = store_pull_get(st, id, &p);
	if (got == STORE_NOTFOUND) {
		ctl_error("cannot show pull %s: no such pull", args->argv[0]);
		goto out;
	}
	if (got != 0) {
		ctl_error("cannot show pull %s: %s", args->argv[0],
			  store_errmsg(st));
		goto out;
	}
	if (output != NULL) {
		if (p.data == NULL) {
			ctl_error("cannot save pull %s: it is %s",
				  args->argv[0], p.state);
			goto out;
		}
		fd = strcmp(output, "-") == 0
			 ? STDOUT_FILENO
			 : open(output, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
				0600);
		if (fd < 0 || write_all(fd, p.data, p.data_len) != 0) {
			ctl_error("cannot save pull %s: %s: %s", args->argv[0],
				  output, strerror(errno));
			if (fd >= 0 && fd != STDOUT_FILENO)
				close(fd);
			goto out;
		}
		if (fd != STDOUT_FILENO && close(fd) != 0) {
			ctl_error("cannot save pull %s: %s: %s", args->argv[0],
				  output, strerror(errno));
			goto out;
		}
	} else if (ctl_arg_has(args, OPT_JSON)) {
		o = pull_json(&p);
		ctl_print_json(o);
		json_object_put(o);
	} else {
		printf("%-10s%" PRId64 "\n%-10s%s\n%-10s%s\n%-10s%s%s%s\n",
		       "pull:", p.id, "chip:", p.chip_id, "file:", p.name,
		       "state:", p.state, p.reason ? ": " : "",
		       p.reason ? p.reason : "");
		if (p.size >= 0)
			printf("%-10s%" PRId64 " bytes (--output PATH saves "
			       "them)\n",
			       "size:", p.size);
	}
	rc = CTL_EXIT_OK;
out:
	store_pull_free(&p);
	store_close(st);
	return rc;
}

const struct ctl_cmd cmd_pull_entry = {
	.name = "pull",
	.usage = "CHIPID FILE",
	.summary = "read FILE back from the chip at its next check-in (it "
		   "then restarts once, unchanged); prints the pull's id",
	.optstring = "h",
	.options = plain_options,
	.min_args = 2,
	.max_args = 2,
	.handler = pull,
};

const struct ctl_cmd cmd_pulls_entry = {
	.name = "pulls",
	.usage = "[CHIPID] [--json]",
	.summary = "pulls newest first: pending, done, missing or failed",
	.optstring = "h",
	.options = json_options,
	.min_args = 0,
	.max_args = 1,
	.handler = pulls,
};

const struct ctl_cmd cmd_pulls_show_entry = {
	.name = "pulls show",
	.usage = "ID [--output PATH|-] [--json]",
	.summary = "one pull; --output writes the bytes read to a new PATH "
		   "(-: standard output)",
	.optstring = "h",
	.options = show_options,
	.min_args = 1,
	.max_args = 1,
	.handler = pulls_show,
};
