/* luaotactl add and list: registering chips and showing them. */
#include "cmd_chip.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "admin/chips.h"
#include "admin/views.h"

#include "proto/chipid.h"
#include "preview.h"
#include "proto/crypto_openssl.h"
#include "proto/protocol.h"

enum {
	OPT_GROUP = 'g',
	OPT_SECRET = 's',
	OPT_LABEL = 'l',
	OPT_JSON = 'j',
	OPT_PROTOCOL = 'p',
	OPT_DEVICE_CONFIG = 'c',
};

static const struct option add_options[] = {
	{ "group", required_argument, NULL, OPT_GROUP },
	{ "secret", required_argument, NULL, OPT_SECRET },
	{ "label", required_argument, NULL, OPT_LABEL },
	{ "protocol", required_argument, NULL, OPT_PROTOCOL },
	{ "device-config", required_argument, NULL, OPT_DEVICE_CONFIG },
	CTL_HELP_OPTION,
	{ NULL, 0, NULL, 0 },
};

enum {
	OPT_STALE = 'S',
	OPT_FAILING = 'F',
	OPT_SILENT_FOR = 'T',
};

static const struct option list_options[] = {
	{ "json", no_argument, NULL, OPT_JSON },
	{ "group", required_argument, NULL, OPT_GROUP },
	{ "stale", required_argument, NULL, OPT_STALE },
	{ "failing", no_argument, NULL, OPT_FAILING },
	{ "silent-for", required_argument, NULL, OPT_SILENT_FOR },
	CTL_HELP_OPTION,
	{ NULL, 0, NULL, 0 },
};

/* Reads a secret from stdin ("--secret -" keeps it out of ps output). */
static int read_secret(char *buf, size_t size)
{
	size_t len;

	if (fgets(buf, (int)size, stdin) == NULL)
		return -1;
	len = strcspn(buf, "\r\n");
	buf[len] = '\0';
	return 0;
}

/*
 * Writes the luaOTA/config.json a simulated device boots with, its
 * secret (legacy) or key (v2), readable by the owner only, to a new file
 * beside path whose name goes into tmp: renamed over path once the chip
 * is in the inventory, so that neither exists without the other.  0, or
 * -1 with errno set (nothing left behind).
 */
static int write_device_config(const char *path, const char *field,
			       const char *value, char *tmp, size_t tmp_len)
{
	struct json_object *o = json_object_new_object();
	const char *text;
	size_t len;
	int fd = -1, rc = -1, saved;

	/* Our pid names it: O_EXCL refuses anything already there. */
	if (snprintf(tmp, tmp_len, "%s.new-%ld", path, (long)getpid()) >=
	    (int)tmp_len) {
		errno = ENAMETOOLONG;
		goto out;
	}
	if (o == NULL || json_object_object_add(
			     o, field, json_object_new_string(value)) != 0) {
		errno = ENOMEM;
		goto out;
	}
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	len = strlen(text);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		goto out;
	if (write(fd, text, len) != (ssize_t)len) {
		if (errno == 0)
			errno = ENOSPC;
		goto out;
	}
	rc = 0;
out:
	saved = errno;
	if (fd >= 0 && close(fd) != 0 && rc == 0) {
		saved = errno;
		rc = -1;
	}
	if (rc != 0 && fd >= 0)
		unlink(tmp);
	json_object_put(o);
	errno = saved;
	return rc;
}

static int add(struct ctl *ctl, const struct ctl_args *args)
{
	const char *device_config = ctl_arg_get(args, OPT_DEVICE_CONFIG);
	struct admin_chip_request req = {
		.id = args->argv[0],
		.group = ctl_arg_get(args, OPT_GROUP),
		.secret = ctl_arg_get(args, OPT_SECRET),
		.label = ctl_arg_get(args, OPT_LABEL),
		.protocol = ctl_arg_get(args, OPT_PROTOCOL),
	};
	struct admin_new_chip chip;
	struct admin_result res;
	char buf[ADMIN_SECRET_MAX + 2], tmp[PATH_MAX];
	struct store *st = NULL;
	int rc = CTL_EXIT_ERROR;

	tmp[0] = '\0';
	if (req.secret != NULL && strcmp(req.secret, "-") == 0) {
		if (read_secret(buf, sizeof(buf)) != 0)
			return ctl_error("cannot add chip %s: no secret on "
					 "standard input",
					 req.id);
		req.secret = buf;
	}
	if (admin_chip_prepare(&req, &chip, &res) != 0) {
		explicit_bzero(buf, sizeof(buf));
		return ctl_report(ctl, &res);
	}
	/* Written first: a chip whose key reached no one is never added. */
	if (device_config != NULL &&
	    write_device_config(device_config, chip.v2 ? "key" : "secret",
				chip.v2 ? chip.key : chip.secret, tmp,
				sizeof(tmp)) != 0) {
		ctl_error("cannot add chip %s: cannot write %s: %s", chip.id,
			  device_config, strerror(errno));
		goto out;
	}
	if ((st = ctl_open_store(ctl, STORE_CREATE)) == NULL)
		goto out;
	if (admin_chip_insert(st, &chip, &res) != 0) {
		ctl_error("%s", res.message);
		goto out;
	}
	rc = CTL_EXIT_OK;
	if (device_config != NULL && rename(tmp, device_config) != 0) {
		ctl_error("chip %s added, but cannot write %s: %s%s", chip.id,
			  device_config, strerror(errno),
			  chip.v2	   ? "; its key follows"
			  : chip.generated ? "; its secret follows"
					   : "");
		unlink(tmp);
		rc = CTL_EXIT_ERROR;
		device_config = NULL; /* print it, labelled */
	}
	tmp[0] = '\0';
	/* Shown once, labelled: the store never prints it again. */
	if (chip.generated)
		printf("secret: %s\n", chip.secret);
	if (chip.v2 && device_config == NULL)
		printf("v2 key: %s\n", chip.key);
out:
	if (tmp[0] != '\0')
		unlink(tmp);
	explicit_bzero(buf, sizeof(buf));
	admin_new_chip_clear(&chip);
	store_close(st);
	return rc;
}

/* Which chips list shows, and where JSON rows go. */
struct list_filter {
	struct admin_chip_filter wanted;
	struct json_object *array;
};

static int list_wanted(const struct list_filter *f, const struct store_chip *c)
{
	return admin_chip_wanted(&f->wanted, c);
}

/* Adds one chip to the JSON array of the filter arg. */
static int list_json_chip(const struct store_chip *c, void *arg)
{
	struct list_filter *f = arg;
	struct json_object *o;

	if (!list_wanted(f, c))
		return 0;
	if ((o = admin_chip_json(c)) == NULL)
		return -1;
	return json_object_array_add(f->array, o) != 0 ? -1 : 0;
}

#define LIST_COLUMNS(id, group, enabled, seen, outcome, label)                 \
	ctl_cell(id, LUAOTA_CHIPID_MAX);                                       \
	ctl_cell(group, 16);                                                   \
	ctl_cell(enabled, 7);                                                  \
	ctl_cell(seen, 20);                                                    \
	ctl_cell(outcome, 11);                                                 \
	ctl_cell(label, 0)

/* Prints one chip as a table row; the secret is left out. */
static int list_human_chip(const struct store_chip *c, void *arg)
{
	char seen[32] = "never";

	if (!list_wanted(arg, c))
		return 0;
	if (c->last_seen != 0)
		ctl_format_time(c->last_seen, seen, sizeof(seen));
	LIST_COLUMNS(c->id, c->group_name, c->enabled ? "yes" : "no", seen,
		     c->last_outcome, c->label);
	return 0;
}

static int list(struct ctl *ctl, const struct ctl_args *args)
{
	int json = ctl_arg_has(args, OPT_JSON);
	const char *stale = ctl_arg_get(args, OPT_STALE);
	const char *silent_for = ctl_arg_get(args, OPT_SILENT_FOR);
	struct list_filter filter = {
		.wanted.group = ctl_arg_get(args, OPT_GROUP),
		.wanted.failing = ctl_arg_has(args, OPT_FAILING),
	};
	struct json_object *array = NULL;
	struct store *st;
	int64_t days, seconds;
	int rc = CTL_EXIT_ERROR;

	if (stale != NULL && silent_for != NULL)
		return ctl_usage_error(ctl, "--stale and --silent-for are the "
					    "same filter: give one");
	if (stale != NULL) {
		if (ctl_parse_int(stale, 0, 100000, &days) != 0)
			return ctl_usage_error(ctl, "bad --stale '%s' (days)",
					       stale);
		filter.wanted.silent = 1;
		filter.wanted.seen_before = (int64_t)time(NULL) - days * 86400;
	}
	if (silent_for != NULL) {
		if (ctl_parse_duration(silent_for, &seconds) != 0)
			return ctl_usage_error(ctl,
					       "bad --silent-for '%s' (a "
					       "duration: 90s, 30m, 12h, 7d)",
					       silent_for);
		filter.wanted.silent = 1;
		filter.wanted.seen_before = (int64_t)time(NULL) - seconds;
	}
	if ((st = ctl_open_store(ctl, STORE_READONLY)) == NULL)
		return CTL_EXIT_ERROR;
	if (json) {
		if ((array = json_object_new_array()) == NULL) {
			ctl_error("out of memory");
			goto out;
		}
		filter.array = array;
		if (store_chip_foreach(st, list_json_chip, &filter) != 0) {
			ctl_error("cannot list chips: %s", store_errmsg(st));
			goto out;
		}
		printf("%s\n", json_object_to_json_string_ext(
				   array, JSON_C_TO_STRING_PRETTY |
					      JSON_C_TO_STRING_NOSLASHESCAPE));
	} else {
		LIST_COLUMNS("CHIP", "GROUP", "ENABLED", "LAST SEEN", "OUTCOME",
			     "LABEL");
		if (store_chip_foreach(st, list_human_chip, &filter) != 0) {
			ctl_error("cannot list chips: %s", store_errmsg(st));
			goto out;
		}
	}
	rc = CTL_EXIT_OK;
out:
	json_object_put(array);
	store_close(st);
	return rc;
}

const struct ctl_cmd cmd_add_entry = {
	.name = "add",
	.usage = "CHIPID --group NAME [--secret SECRET|-] [--label LABEL] "
		 "[--protocol legacy|v2] [--device-config FILE]",
	.summary = "register a chip; without --secret a random secret is "
		   "made and printed once (--secret -: read it from stdin); "
		   "v2 chips get a random 256-bit key, printed once or "
		   "written to the device's config FILE",
	.optstring = "h",
	.options = add_options,
	.min_args = 1,
	.max_args = 1,
	.handler = add,
};

const struct ctl_cmd cmd_list_entry = {
	.name = "list",
	.usage = "[--group NAME] [--silent-for DURATION | --stale DAYS] "
		 "[--failing] [--json]",
	.summary = "list the chips: group, enabled, last seen, last outcome; "
		   "--silent-for: no verified check-in for DURATION (90s, "
		   "30m, 12h, 7d) or never, --stale DAYS: --silent-for "
		   "DAYSd, --failing: last check-in failed, rejected or "
		   "interrupted",
	.optstring = "h",
	.options = list_options,
	.min_args = 0,
	.max_args = 0,
	.handler = list,
};

static const struct option json_options[] = {
	{ "json", no_argument, NULL, OPT_JSON },
	CTL_HELP_OPTION,
	{ NULL, 0, NULL, 0 },
};

static const struct option plain_options[] = {
	CTL_HELP_OPTION,
	{ NULL, 0, NULL, 0 },
};

/* Normalises a CHIPID argument into id; usage error when it is none. */
static int chip_arg(const struct ctl *ctl, const char *given,
		    char id[LUAOTA_CHIPID_MAX + 1])
{
	if (luaota_chipid_normalize(LUAOTA_JSON_STRING, given, strlen(given),
				    id) != 0)
		return ctl_usage_error(ctl, "bad chip id '%s'", given);
	return CTL_EXIT_OK;
}

/* Reads chip id, printing why not ("cannot <verb> chip ID: ..."). */
static int chip_load(struct store *st, const char *verb, const char *id,
		     struct store_chip *c)
{
	int rc = store_chip_get(st, id, c);

	if (rc == STORE_NOTFOUND)
		return ctl_error("cannot %s chip %s: no such chip", verb, id);
	if (rc != 0)
		return ctl_error("cannot %s chip %s: %s", verb, id,
				 store_errmsg(st));
	return CTL_EXIT_OK;
}

static int chip_remove(struct ctl *ctl, const struct ctl_args *args)
{
	char id[LUAOTA_CHIPID_MAX + 1];
	struct store *st;
	int rc;

	if ((rc = chip_arg(ctl, args->argv[0], id)) != CTL_EXIT_OK)
		return rc;
	if ((st = ctl_open_store(ctl, 0)) == NULL)
		return CTL_EXIT_ERROR;
	switch (store_chip_remove(st, id)) {
	case 0:
		break;
	case STORE_NOTFOUND:
		rc = ctl_error("cannot remove chip %s: no such chip", id);
		break;
	default:
		rc = ctl_error("cannot remove chip %s: %s", id,
			       store_errmsg(st));
	}
	store_close(st);
	return rc;
}

/* A v2 chip's pending release, as JSON (for show). */
static struct json_object *pending_v2_json(const struct ctl_preview *p)
{
	struct json_object *o = json_object_new_object();
	const char *error =
	    p->manifest->error ? p->manifest->error : p->release_error;

	json_object_object_add(o, "error", admin_json_text(error));
	json_object_object_add(o, "current",
			       json_object_new_boolean(p->current));
	json_object_object_add(
	    o, "release",
	    error == NULL ? json_object_new_int64(p->release.rc) : NULL);
	return o;
}

/* The pending changes of a preview, as JSON (for show). */
static struct json_object *pending_json(const struct ctl_preview *p)
{
	struct json_object *o = json_object_new_object(), *send, *del;
	size_t i;

	json_object_object_add(o, "error", admin_json_text(p->manifest->error));
	json_object_object_add(o, "current",
			       json_object_new_boolean(p->current));
	send = json_object_new_array();
	for (i = 0; i < p->steps.nsend; i++)
		json_object_array_add(
		    send, json_object_new_string(
			      p->manifest->files[p->steps.send[i]].name));
	del = json_object_new_array();
	for (i = 0; i < p->steps.nremove; i++)
		json_object_array_add(
		    del, json_object_new_string(p->steps.remove[i]));
	json_object_object_add(o, "send", send);
	json_object_object_add(o, "delete", del);
	json_object_object_add(o, "bytes",
			       json_object_new_int64((int64_t)p->steps.bytes));
	return o;
}

/* A time as show prints it (static buffer: one use per statement). */
static const char *when(int64_t t)
{
	static char text[32];

	ctl_format_time(t, text, sizeof(text));
	return text;
}

static void show_time(const char *title, int64_t t)
{
	char when[32] = "never";

	if (t != 0)
		ctl_format_time(t, when, sizeof(when));
	printf("%-14s%s\n", title, when);
}

static int chip_show(struct ctl *ctl, const struct ctl_args *args)
{
	char id[LUAOTA_CHIPID_MAX + 1], err[512];
	struct store_chip c = { 0 };
	struct store_group g = { 0 };
	struct store_held_file *held = NULL;
	struct json_object *o = NULL, *files, *hf;
	struct plan_cache *cache = NULL;
	struct ctl_preview p;
	struct store *st;
	size_t nheld = 0, i;
	int rc, previewed = 0;

	if ((rc = chip_arg(ctl, args->argv[0], id)) != CTL_EXIT_OK)
		return rc;
	if ((st = ctl_open_store(ctl, STORE_READONLY)) == NULL)
		return CTL_EXIT_ERROR;
	if ((rc = chip_load(st, "show", id, &c)) != CTL_EXIT_OK)
		goto out;
	rc = CTL_EXIT_ERROR;
	if (store_group_get_id(st, c.group_id, &g) != 0 ||
	    store_held_get(st, id, &held, &nheld) != 0) {
		ctl_error("cannot show chip %s: %s", id, store_errmsg(st));
		goto out;
	}
	if ((cache = plan_cache_new()) == NULL) {
		ctl_error("out of memory");
		goto out;
	}
	if (ctl_settings(ctl) == NULL)
		goto out;
	if (ctl_preview_chip(st, cache, ctl_settings(ctl), &c, &p, err,
			     sizeof(err)) == 0)
		previewed = 1;
	if (ctl_arg_has(args, OPT_JSON)) {
		o = admin_chip_json(&c);
		files = json_object_new_array();
		for (i = 0; i < g.nfiles; i++)
			json_object_array_add(
			    files, json_object_new_string(g.files[i].name));
		json_object_object_add(o, "manifest", files);
		hf = json_object_new_object();
		for (i = 0; i < nheld; i++)
			json_object_object_add(
			    hf, held[i].name,
			    json_object_new_string(held[i].token));
		json_object_object_add(o, "held", hf);
		if (c.protocol == LUAOTA_PROTO_V2) {
			struct json_object *r = json_object_new_object();

			json_object_object_add(
			    r, "rc",
			    previewed && p.latest_rc > 0
				? json_object_new_int64(p.latest_rc)
				: NULL);
			json_object_object_add(
			    r, "issued",
			    previewed && p.latest_rc > 0
				? json_object_new_string(when(p.latest_issued))
				: NULL);
			json_object_object_add(o, "release", r);
			json_object_object_add(
			    o, "legacy_refused",
			    json_object_new_boolean(c.v2_seen));
		}
		json_object_object_add(o, "pending",
				       !previewed ? json_object_new_string(err)
				       : p.v2	  ? pending_v2_json(&p)
						  : pending_json(&p));
		printf("%s\n", json_object_to_json_string_ext(
				   o, JSON_C_TO_STRING_PRETTY |
					  JSON_C_TO_STRING_NOSLASHESCAPE));
	} else {
		printf("%-14s%s\n", "chip:", c.id);
		printf("%-14s%s\n", "label:", c.label ? c.label : "-");
		printf("%-14s%s\n", "group:", c.group_name);
		printf("%-14s%s\n", "enabled:", c.enabled ? "yes" : "no");
		printf("%-14s%s\n", "protocol:",
		       c.protocol != LUAOTA_PROTO_V2 ? "legacy"
		       : c.v2_seen ? "v2 (legacy check-ins refused)"
				   : "v2 (legacy check-ins still served)");
		if (c.protocol == LUAOTA_PROTO_V2 && previewed &&
		    p.latest_rc > 0)
			printf("%-14s%lld (issued %s)\n",
			       "release:", (long long)p.latest_rc,
			       when(p.latest_issued));
		else if (c.protocol == LUAOTA_PROTO_V2)
			printf("%-14s%s\n", "release:", "none yet");
		printf("%-14s", "manifest:");
		for (i = 0; i < g.nfiles; i++)
			printf("%s%s", i ? "," : "", g.files[i].name);
		printf("\n%-14s%s\n",
		       "config:", c.config_json ? c.config_json : "-");
		show_time("created:", c.created);
		show_time("first seen:", c.first_seen);
		show_time("last seen:", c.last_seen);
		printf("%-14s%s\n",
		       "last address:", c.last_addr ? c.last_addr : "-");
		printf("%-14s%s\n",
		       "last outcome:", c.last_outcome ? c.last_outcome : "-");
		printf("%-14s%s\n", "revision:", c.revision ? c.revision : "-");
		printf("%-14s", "holds:");
		for (i = 0; i < nheld; i++)
			printf("%s%s", i ? "," : "", held[i].name);
		printf("%s\n", nheld == 0 ? "-" : "");
		printf("%-14s", "pending:");
		if (!previewed)
			printf("unknown: %s\n", err);
		else if (p.manifest->error != NULL)
			printf("nothing can be sent: %s\n", p.manifest->error);
		else if (p.v2 && p.release_error != NULL)
			printf("nothing can be sent: %s\n", p.release_error);
		else if (p.v2 && p.current)
			printf("none (release %lld holds today's files)\n",
			       (long long)p.release.rc);
		else if (p.v2)
			printf("release %lld at the next boot (see diff)\n",
			       (long long)p.release.rc);
		else if (p.current)
			printf("none (current)\n");
		else
			printf("%zu file%s to send (%llu bytes), %zu to "
			       "delete, config %s (see diff)\n",
			       p.steps.nsend, p.steps.nsend == 1 ? "" : "s",
			       (unsigned long long)p.steps.bytes,
			       p.steps.nremove,
			       p.overrides ? p.overrides : "unchanged");
	}
	rc = CTL_EXIT_OK;
out:
	if (previewed)
		ctl_preview_free(&p);
	json_object_put(o);
	plan_cache_free(cache);
	store_held_free(held, nheld);
	store_group_free(&g);
	store_chip_free(&c);
	store_close(st);
	return rc;
}

/* Config keys a chip may override; the device keeps secret, a and id. */
static int config_key(const char *key)
{
	static const char *const keys[] = {
		"server", "port",  "ssid", "spwd", "app",      "entry",
		"leave",  "espip", "gw",   "nm",   "nsserver",
	};
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strcmp(keys[i], key) == 0)
			return 1;
	return 0;
}

/* Sets (value non-empty) or drops (empty) one override in *config_json. */
static int set_override(const struct ctl *ctl, char **config_json,
			const char *key, const char *value)
{
	struct json_object *o = NULL, *v;
	char *text;
	int64_t n;

	if (*config_json != NULL)
		o = json_tokener_parse(*config_json);
	if (o == NULL)
		o = json_object_new_object();
	if (value[0] == '\0')
		json_object_object_del(o, key);
	else {
		/* port is a number, leave a boolean; the rest are strings. */
		if (strcmp(key, "port") == 0) {
			if (ctl_parse_int(value, 1, 65535, &n) != 0) {
				json_object_put(o);
				return ctl_usage_error(ctl, "bad port '%s'",
						       value);
			}
			v = json_object_new_int64(n);
		} else if (strcmp(key, "leave") == 0) {
			if (strcmp(value, "true") != 0 &&
			    strcmp(value, "false") != 0) {
				json_object_put(o);
				return ctl_usage_error(
				    ctl, "leave must be true or false");
			}
			v = json_object_new_boolean(value[0] == 't');
		} else {
			v = json_object_new_string(value);
		}
		json_object_object_add(o, key, v);
	}
	text = NULL;
	if (json_object_object_length(o) > 0) {
		const char *t = json_object_to_json_string_ext(
		    o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);

		if (strlen(t) > LUAOTA_CONFIG_MAX) {
			json_object_put(o);
			return ctl_usage_error(ctl,
					       "config overrides would exceed "
					       "%d bytes",
					       LUAOTA_CONFIG_MAX);
		}
		text = strdup(t);
	}
	json_object_put(o);
	free(*config_json);
	*config_json = text;
	return CTL_EXIT_OK;
}

/*
 * Whether chip c, with its overrides and group as they are about to be
 * stored (group_name set: moving there), gets a config it can boot with
 * and that fits the device.
 */
static int config_fits(const struct ctl *ctl, struct store *st,
		       const struct store_chip *c)
{
	struct store_group g = { 0 };
	int rc;

	if ((rc = ctl_check_overrides(ctl, c->config_json)) != CTL_EXIT_OK)
		return rc;
	rc = c->group_name != NULL ? store_group_get(st, c->group_name, &g)
				   : store_group_get_id(st, c->group_id, &g);
	if (rc == STORE_NOTFOUND) {
		/* store_chip_update names the missing group. */
		return CTL_EXIT_OK;
	}
	if (rc != 0)
		return ctl_error("cannot change chip %s: %s", c->id,
				 store_errmsg(st));
	rc = ctl_check_config_size(st, g.id, g.config_json, c);
	store_group_free(&g);
	return rc;
}

static int chip_set(struct ctl *ctl, const struct ctl_args *args)
{
	char id[LUAOTA_CHIPID_MAX + 1];
	struct store_chip c = { 0 };
	struct store *st;
	char *group = NULL, *label = NULL;
	int rc, i;

	if ((rc = chip_arg(ctl, args->argv[0], id)) != CTL_EXIT_OK)
		return rc;
	/* Every key is checked before the store is touched. */
	for (i = 1; i < args->argc; i++) {
		const char *kv = args->argv[i], *eq = strchr(kv, '=');
		size_t klen = eq != NULL ? (size_t)(eq - kv) : 0;
		char key[32];

		if (eq == NULL || klen == 0 || klen >= sizeof(key))
			return ctl_usage_error(ctl, "want KEY=VALUE, not '%s'",
					       kv);
		memcpy(key, kv, klen);
		key[klen] = '\0';
		if (strcmp(key, "secret") == 0 || strcmp(key, "a") == 0 ||
		    strcmp(key, "id") == 0)
			return ctl_usage_error(ctl,
					       "%s cannot be set (the device "
					       "keeps it)",
					       key);
		if (strcmp(key, "files") == 0 || strcmp(key, "chk") == 0)
			return ctl_usage_error(ctl,
					       "%s cannot be set (luaotad's "
					       "record of what the chip holds)",
					       key);
		if (strcmp(key, "label") != 0 && strcmp(key, "group") != 0 &&
		    strcmp(key, "enabled") != 0 && !config_key(key))
			return ctl_usage_error(ctl, "unknown key '%s'", key);
		if (strcmp(key, "label") == 0 && eq[1] != '\0' &&
		    !admin_text_valid(eq + 1, ADMIN_LABEL_MAX, 1))
			return ctl_usage_error(ctl, "bad label");
		if (strcmp(key, "enabled") == 0 && strcmp(eq + 1, "yes") != 0 &&
		    strcmp(eq + 1, "no") != 0 && strcmp(eq + 1, "true") != 0 &&
		    strcmp(eq + 1, "false") != 0 && strcmp(eq + 1, "1") != 0 &&
		    strcmp(eq + 1, "0") != 0)
			return ctl_usage_error(ctl,
					       "enabled must be yes or no");
	}
	if ((st = ctl_open_store(ctl, 0)) == NULL)
		return CTL_EXIT_ERROR;
	if ((rc = chip_load(st, "change", id, &c)) != CTL_EXIT_OK)
		goto out;
	for (i = 1; i < args->argc; i++) {
		const char *kv = args->argv[i], *eq = strchr(kv, '=');
		const char *v = eq + 1;

		if (strncmp(kv, "label=", 6) == 0) {
			free(label);
			label = v[0] != '\0' ? strdup(v) : NULL;
		} else if (strncmp(kv, "group=", 6) == 0) {
			free(group);
			group = strdup(v);
		} else if (strncmp(kv, "enabled=", 8) == 0) {
			c.enabled = v[0] == 'y' || v[0] == 't' || v[0] == '1';
		} else {
			char key[32];

			snprintf(key, sizeof(key), "%.*s", (int)(eq - kv), kv);
			if ((rc = set_override(ctl, &c.config_json, key, v)) !=
			    CTL_EXIT_OK)
				goto out;
		}
	}
	for (i = 1; i < args->argc; i++)
		if (strncmp(args->argv[i], "label=", 6) == 0) {
			free(c.label);
			c.label = label;
			label = NULL;
		}
	if (group != NULL) {
		free(c.group_name);
		c.group_name = group;
		group = NULL;
	} else {
		/* Unchanged: by id, so a rename race cannot move it. */
		free(c.group_name);
		c.group_name = NULL;
	}
	if ((rc = config_fits(ctl, st, &c)) != CTL_EXIT_OK)
		goto out;
	switch (store_chip_update(st, &c)) {
	case 0:
		rc = CTL_EXIT_OK;
		break;
	case STORE_NOTFOUND:
		rc = ctl_error("cannot change chip %s: %s", id,
			       store_errmsg(st));
		break;
	default:
		rc = ctl_error("cannot change chip %s: %s", id,
			       store_errmsg(st));
	}
out:
	free(label);
	free(group);
	store_chip_free(&c);
	store_close(st);
	return rc;
}

const struct ctl_cmd cmd_remove_entry = {
	.name = "remove",
	.usage = "CHIPID",
	.summary = "unregister a chip (its history stays)",
	.optstring = "h",
	.options = plain_options,
	.min_args = 1,
	.max_args = 1,
	.handler = chip_remove,
};

const struct ctl_cmd cmd_show_entry = {
	.name = "show",
	.usage = "CHIPID [--json]",
	.summary = "one chip: group, manifest, config overrides, first and "
		   "last seen, address, outcome, revision, pending changes",
	.optstring = "h",
	.options = json_options,
	.min_args = 1,
	.max_args = 1,
	.handler = chip_show,
};

const struct ctl_cmd cmd_set_entry = {
	.name = "set",
	.usage = "CHIPID KEY=VALUE...",
	.summary = "change label, group, enabled (yes|no) or a config "
		   "override (server, port, ssid, spwd, app, entry, leave, "
		   "espip, gw, nm, nsserver; empty VALUE drops it)",
	.optstring = "h",
	.options = plain_options,
	.min_args = 2,
	.max_args = -1,
	.handler = chip_set,
};
