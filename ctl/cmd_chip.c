/* luaotactl add and list: registering chips and showing them. */
#include "cmd_chip.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <json-c/json.h>

#include "proto/chipid.h"
#include "proto/crypto_openssl.h"

#define SECRET_MAX 128
#define LABEL_MAX 128
#define SECRET_RANDOM_BYTES 16 /* 32 hex characters */
#define V2_KEY_BYTES 32	       /* protocol v2 chip key: 256 bits */

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

static const struct option list_options[] = {
	{ "json", no_argument, NULL, OPT_JSON },
	CTL_HELP_OPTION,
	{ NULL, 0, NULL, 0 },
};

/* Printable ASCII of bounded length, no control bytes. */
static int valid_text(const char *text, size_t max, int spaces)
{
	size_t i, len = strlen(text);

	if (len == 0 || len > max)
		return 0;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];

		if (c < ' ' || c == 0x7f || (!spaces && c == ' '))
			return 0;
	}
	return 1;
}

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
 * Writes the luaOTA/config.json a simulated device boots with: its
 * secret (legacy) or key (v2), readable by the owner only.  0, or -1.
 */
static int write_device_config(const char *path, const char *field,
			       const char *value)
{
	struct json_object *o = json_object_new_object();
	const char *text;
	size_t len;
	int fd = -1, rc = -1;

	if (o == NULL || json_object_object_add(
			     o, field, json_object_new_string(value)) != 0)
		goto out;
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	len = strlen(text);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, text, len) != (ssize_t)len)
		goto out;
	rc = 0;
out:
	if (fd >= 0 && close(fd) != 0)
		rc = -1;
	json_object_put(o);
	return rc;
}

static int add(struct ctl *ctl, const struct ctl_args *args)
{
	const char *group = ctl_arg_get(args, OPT_GROUP);
	const char *secret = ctl_arg_get(args, OPT_SECRET);
	const char *label = ctl_arg_get(args, OPT_LABEL);
	const char *protocol = ctl_arg_get(args, OPT_PROTOCOL);
	const char *device_config = ctl_arg_get(args, OPT_DEVICE_CONFIG);
	const char *given = args->argv[0];
	char id[LUAOTA_CHIPID_MAX + 1], buf[SECRET_MAX + 2];
	char key[2 * V2_KEY_BYTES + 1];
	uint8_t random[V2_KEY_BYTES];
	struct store *st = NULL;
	int generated = 0, v2 = 0, rc = CTL_EXIT_ERROR, added;

	key[0] = '\0';
	if (protocol != NULL && strcmp(protocol, "v2") == 0)
		v2 = 1;
	else if (protocol != NULL && strcmp(protocol, "legacy") != 0)
		return ctl_usage_error(ctl, "bad protocol '%s' (legacy or v2)",
				       protocol);

	if (luaota_chipid_normalize(LUAOTA_JSON_STRING, given, strlen(given),
				    id) != 0)
		return ctl_usage_error(ctl,
				       "bad chip id '%s' (1 to %d "
				       "printable characters, no spaces)",
				       given, LUAOTA_CHIPID_MAX);
	if (group == NULL)
		return ctl_usage_error(ctl, "missing --group NAME");
	if (label != NULL && !valid_text(label, LABEL_MAX, 1))
		return ctl_usage_error(ctl,
				       "bad label (1 to %d printable "
				       "characters)",
				       LABEL_MAX);
	if (secret != NULL && strcmp(secret, "-") == 0) {
		if (read_secret(buf, sizeof(buf)) != 0)
			return ctl_error("cannot add chip %s: no secret on "
					 "standard input",
					 id);
		secret = buf;
	}
	/* Never echo the secret itself, not even when it is malformed. */
	if (secret != NULL && !valid_text(secret, SECRET_MAX, 0)) {
		rc = ctl_usage_error(ctl,
				     "bad secret (1 to %d printable "
				     "characters, no spaces)",
				     SECRET_MAX);
		goto out;
	}
	if (secret == NULL) {
		if (getrandom(random, SECRET_RANDOM_BYTES, 0) !=
		    SECRET_RANDOM_BYTES) {
			ctl_error("cannot add chip %s: no random bytes", id);
			goto out;
		}
		luaota_hex(random, SECRET_RANDOM_BYTES, buf);
		secret = buf;
		generated = 1;
	}
	if (v2) {
		/* The v2 key is always made here: never typed, never sent. */
		if (getrandom(random, V2_KEY_BYTES, 0) != V2_KEY_BYTES) {
			ctl_error("cannot add chip %s: no random bytes", id);
			goto out;
		}
		luaota_hex(random, V2_KEY_BYTES, key);
	}
	if ((st = ctl_open_store(ctl, STORE_CREATE)) == NULL)
		goto out;
	added = v2 ? store_chip_add_v2(st, id, group, secret, label, key)
		   : store_chip_add(st, id, group, secret, label);
	switch (added) {
	case 0:
		rc = CTL_EXIT_OK;
		if (device_config != NULL &&
		    write_device_config(device_config, v2 ? "key" : "secret",
					v2 ? key : secret) != 0) {
			ctl_error("chip %s added, but cannot write %s: %s", id,
				  device_config, strerror(errno));
			rc = CTL_EXIT_ERROR;
			break;
		}
		/* Shown once: the store never prints it again. */
		if (generated)
			printf("%s\n", secret);
		if (v2 && device_config == NULL)
			printf("%s\n", key);
		break;
	case STORE_EXISTS:
		ctl_error("cannot add chip %s: it already exists", id);
		break;
	case STORE_NOTFOUND:
		ctl_error("cannot add chip %s: no such group: %s", id, group);
		break;
	default:
		ctl_error("cannot add chip %s: %s", id, store_errmsg(st));
	}
out:
	explicit_bzero(buf, sizeof(buf));
	explicit_bzero(key, sizeof(key));
	explicit_bzero(random, sizeof(random));
	store_close(st);
	return rc;
}

/* A JSON string, or null for NULL. */
static struct json_object *json_text(const char *text)
{
	return text != NULL ? json_object_new_string(text) : NULL;
}

/* ISO 8601 of a Unix time, or null for 0 (never). */
static struct json_object *json_time(int64_t seconds)
{
	char when[32];

	if (seconds == 0)
		return NULL;
	ctl_format_time(seconds, when, sizeof(when));
	return json_object_new_string(when);
}

/* Adds one chip to the JSON array arg; the secret is left out. */
static int list_json_chip(const struct store_chip *c, void *arg)
{
	struct json_object *o = json_object_new_object();

	if (o == NULL)
		return -1;
	json_object_object_add(o, "id", json_text(c->id));
	json_object_object_add(o, "label", json_text(c->label));
	json_object_object_add(o, "group", json_text(c->group_name));
	json_object_object_add(o, "enabled",
			       json_object_new_boolean(c->enabled));
	json_object_object_add(o, "protocol", json_object_new_int(c->protocol));
	json_object_object_add(o, "created", json_time(c->created));
	json_object_object_add(o, "first_seen", json_time(c->first_seen));
	json_object_object_add(o, "last_seen", json_time(c->last_seen));
	json_object_object_add(o, "last_address", json_text(c->last_addr));
	json_object_object_add(o, "last_outcome", json_text(c->last_outcome));
	json_object_object_add(o, "revision", json_text(c->revision));
	json_object_object_add(o, "chk", json_text(c->chk));
	return json_object_array_add(arg, o) != 0 ? -1 : 0;
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

	(void)arg;
	if (c->last_seen != 0)
		ctl_format_time(c->last_seen, seen, sizeof(seen));
	LIST_COLUMNS(c->id, c->group_name, c->enabled ? "yes" : "no", seen,
		     c->last_outcome, c->label);
	return 0;
}

static int list(struct ctl *ctl, const struct ctl_args *args)
{
	int json = ctl_arg_has(args, OPT_JSON);
	struct json_object *array = NULL;
	struct store *st;
	int rc = CTL_EXIT_ERROR;

	if ((st = ctl_open_store(ctl, STORE_READONLY)) == NULL)
		return CTL_EXIT_ERROR;
	if (json) {
		if ((array = json_object_new_array()) == NULL) {
			ctl_error("out of memory");
			goto out;
		}
		if (store_chip_foreach(st, list_json_chip, array) != 0) {
			ctl_error("cannot list chips: %s", store_errmsg(st));
			goto out;
		}
		printf("%s\n", json_object_to_json_string_ext(
				   array, JSON_C_TO_STRING_PRETTY |
					      JSON_C_TO_STRING_NOSLASHESCAPE));
	} else {
		LIST_COLUMNS("CHIP", "GROUP", "ENABLED", "LAST SEEN", "OUTCOME",
			     "LABEL");
		if (store_chip_foreach(st, list_human_chip, NULL) != 0) {
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
	.usage = "[--json]",
	.summary = "list the chips: group, enabled, last seen, last outcome",
	.optstring = "h",
	.options = list_options,
	.min_args = 0,
	.max_args = 0,
	.handler = list,
};
