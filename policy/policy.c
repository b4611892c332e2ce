/* The provisioning policy: see policy.h. */
#include "policy.h"

#include <arpa/inet.h>
#include <bsd/string.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "conf/config.h"
#include "proto/protocol.h"

void policy_settings_default(struct policy_settings *out)
{
	out->max_file_size = PLAN_DEFAULT_MAX_FILE_SIZE;
	out->session_max_bytes = PLAN_DEFAULT_SESSION_MAX_BYTES;
}

void policy_settings_from_config(struct policy_settings *out,
				 const struct config *c)
{
	out->max_file_size = c->max_file_size;
	out->session_max_bytes = c->session_max_bytes;
}

int policy_lua_version(const struct store_group *g)
{
	return g->lua_version == LUAOTA_LUA_53 ? LUAOTA_LUA_53 : LUAOTA_LUA_51;
}

static enum plan_action plan_action_of(enum store_action a)
{
	return a == STORE_ACTION_CM   ? PLAN_CM
	       : a == STORE_ACTION_DL ? PLAN_DL
				      : PLAN_AUTO;
}

int policy_group_spec(const struct store_group *g, const struct store_repo *r,
		      const struct policy_settings *settings, int v2,
		      struct policy_group *out)
{
	size_t i;

	memset(out, 0, sizeof(*out));
	out->wants = calloc(g->nfiles + 1, sizeof(*out->wants));
	if (out->wants == NULL)
		return -1;
	for (i = 0; i < g->nfiles; i++) {
		out->wants[i].name = g->files[i].name;
		out->wants[i].action = plan_action_of(g->files[i].action);
	}
	out->spec = (struct plan_spec){
		.repo_path = r->path,
		.repo_ref = r->ref,
		.files = out->wants,
		.nfiles = g->nfiles,
		.lua_version = policy_lua_version(g),
		.max_file_size = g->max_file_size > 0 ? g->max_file_size
						      : settings->max_file_size,
	};
	/* The legacy size policy is for devices that hold a file in RAM;
	 * v2 streams files to flash. */
	if (v2)
		out->spec.max_file_size = (int64_t)LUAOTA_V2_FILE_MAX;
	return 0;
}

int policy_group_pin(struct policy_group *pg, struct store *st,
		     const struct store_group *g, const struct store_repo *r,
		     const char *revision, char *why, size_t why_len)
{
	struct store_snapshot_file *files = NULL;
	size_t n = 0, i;
	int rc;

	if (revision == NULL)
		revision = g->release;
	if (revision == NULL)
		return 0;
	if (strlcpy(pg->pinned, revision, sizeof(pg->pinned)) >=
	    sizeof(pg->pinned)) {
		snprintf(why, why_len, "revision %.16s...: too long", revision);
		errno = EINVAL;
		return -1;
	}
	if (r->ref != NULL) {
		pg->spec.repo_ref = pg->pinned;
		return 0;
	}
	rc = store_snapshot_get(st, g->id, revision, &files, &n);
	if (rc != 0) {
		snprintf(why, why_len, "revision %s of group %s: %s", revision,
			 g->name,
			 rc == STORE_NOTFOUND ? "no snapshot of it is kept"
					      : store_errmsg(st));
		errno = rc == STORE_NOTFOUND ? ENOENT : EIO;
		return -1;
	}
	pg->snapshot.files =
	    n > 0 ? calloc(n, sizeof(*pg->snapshot.files)) : NULL;
	if (n > 0 && pg->snapshot.files == NULL) {
		store_snapshot_free(files, n);
		snprintf(why, why_len, "out of memory");
		errno = ENOMEM;
		return -1;
	}
	/* The rows' buffers move over. */
	for (i = 0; i < n; i++) {
		pg->snapshot.files[i].name = files[i].name;
		pg->snapshot.files[i].data = files[i].data;
		pg->snapshot.files[i].len = files[i].len;
	}
	pg->snapshot.nfiles = n;
	free(files);
	strlcpy(pg->snapshot.revision, revision, sizeof(pg->snapshot.revision));
	pg->spec.snapshot = &pg->snapshot;
	return 0;
}

void policy_group_free(struct policy_group *pg)
{
	plan_snapshot_free(&pg->snapshot);
	free(pg->wants);
	memset(pg, 0, sizeof(*pg));
}

int policy_target(const struct plan_manifest *m, const char *group_config,
		  const char *chip_config, char **merged,
		  char chk[PLAN_CHK_LEN + 1])
{
	chk[0] = '\0';
	if (plan_overrides_merge(group_config, chip_config, merged) != 0)
		return -1;
	if (m->error == NULL)
		plan_chk(m, *merged, chk);
	return 0;
}

const char *policy_target_strerror(int err)
{
	return err == ENOMEM ? "out of memory"
			     : "config overrides are not a JSON object";
}

/* RFC 1123 host name: labels of letters, digits and inner hyphens. */
static int host_name_ok(const char *name)
{
	size_t len = strlen(name), label = 0, i;

	if (len == 0 || len > 253)
		return 0;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c == '.') {
			if (label == 0 || name[i - 1] == '-')
				return 0;
			label = 0;
		} else if (isalnum(c) || (c == '-' && label > 0)) {
			if (++label > 63)
				return 0;
		} else {
			return 0;
		}
	}
	return label > 0 && name[len - 1] != '-';
}

static int ipv4_ok(const char *text)
{
	struct in_addr a;

	return inet_pton(AF_INET, text, &a) == 1;
}

/* A string value of between min and max bytes, or NULL. */
static const char *string_of(struct json_object *v, size_t min, size_t max)
{
	const char *text;
	size_t len;

	if (!json_object_is_type(v, json_type_string))
		return NULL;
	text = json_object_get_string(v);
	len = strlen(text);
	return len >= min && len <= max ? text : NULL;
}

/* Why the value of key cannot be pushed, or NULL. */
static const char *value_problem(const char *key, struct json_object *v)
{
	const char *text;

	if (strcmp(key, "secret") == 0 || strcmp(key, "a") == 0 ||
	    strcmp(key, "id") == 0)
		return "is the device's own and cannot be set";
	if (strcmp(key, "files") == 0 || strcmp(key, "chk") == 0)
		return "is luaotad's record of what the chip holds and cannot "
		       "be set";
	if (strcmp(key, "server") == 0)
		return (text = string_of(v, 1, 253)) != NULL &&
			       (ipv4_ok(text) || host_name_ok(text))
			   ? NULL
			   : "must be a host name or an IPv4 address";
	if (strcmp(key, "port") == 0)
		return json_object_is_type(v, json_type_int) &&
			       json_object_get_int64(v) >= 1 &&
			       json_object_get_int64(v) <= 65535
			   ? NULL
			   : "must be an integer from 1 to 65535";
	if (strcmp(key, "ssid") == 0)
		return string_of(v, 1, 32) != NULL
			   ? NULL
			   : "must be a string of 1 to 32 bytes";
	if (strcmp(key, "spwd") == 0)
		return string_of(v, 0, 64) != NULL
			   ? NULL
			   : "must be a string of at most 64 bytes";
	if (strcmp(key, "leave") == 0)
		return json_object_is_type(v, json_type_boolean)
			   ? NULL
			   : "must be true or false";
	if (strcmp(key, "app") == 0 || strcmp(key, "entry") == 0)
		return string_of(v, 1, PLAN_NAME_MAX) != NULL
			   ? NULL
			   : "must be a name of 1 to 31 bytes";
	if (strcmp(key, "espip") == 0 || strcmp(key, "gw") == 0 ||
	    strcmp(key, "nm") == 0 || strcmp(key, "nsserver") == 0)
		return (text = string_of(v, 7, 15)) != NULL && ipv4_ok(text)
			   ? NULL
			   : "must be an IPv4 address";
	return NULL;
}

const char *policy_config_problem(const char *json, char *why, size_t why_len)
{
	struct json_object *o;
	const char *problem = NULL;

	if (json == NULL || json[0] == '\0')
		return NULL;
	if ((o = json_tokener_parse(json)) == NULL ||
	    !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		snprintf(why, why_len,
			 "config overrides must be a JSON object");
		return why;
	}
	json_object_object_foreach(o, key, val)
	{
		if ((problem = value_problem(key, val)) != NULL) {
			snprintf(why, why_len, "config key %s %s", key,
				 problem);
			break;
		}
	}
	json_object_put(o);
	return problem != NULL ? why : NULL;
}

size_t policy_stored_config_size(const struct json_object *cfg,
				 const char *secret)
{
	struct json_object *copy = NULL;
	size_t len;

	if (json_object_deep_copy((struct json_object *)cfg, &copy, NULL) != 0)
		return (size_t)-1;
	json_object_object_del(copy, "a");
	json_object_object_add(copy, "secret", json_object_new_string(secret));
	/* Slashes counted escaped: a worst case for the device's encoder. */
	len = strlen(
	    json_object_to_json_string_ext(copy, JSON_C_TO_STRING_PLAIN));
	json_object_put(copy);
	return len;
}

size_t policy_config_floor(const char *merged, const char *secret)
{
	struct json_object *o;
	char chk[PLAN_CHK_LEN + 1];
	size_t size;

	o = merged != NULL ? json_tokener_parse(merged)
			   : json_object_new_object();
	if (o == NULL || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return 0;
	}
	memset(chk, 'x', PLAN_CHK_LEN);
	chk[PLAN_CHK_LEN] = '\0';
	json_object_object_add(o, "chk", json_object_new_string(chk));
	size = policy_stored_config_size(o, secret);
	json_object_put(o);
	return size;
}

const char *policy_merged_config_problem(const char *merged, const char *secret,
					 size_t *floor, char *why,
					 size_t why_len)
{
	const char *problem = policy_config_problem(merged, why, why_len);
	size_t size = 0;

	if (problem == NULL &&
	    (size = policy_config_floor(merged, secret)) > LUAOTA_CONFIG_MAX) {
		snprintf(why, why_len,
			 "the restart config would take at least %zu bytes on "
			 "the device (limit %d)",
			 size, LUAOTA_CONFIG_MAX);
		problem = why;
	}
	if (floor != NULL)
		*floor = size;
	return problem;
}

const char *policy_chip_config_problem(const char *group_config,
				       const char *chip_config,
				       const char *secret, size_t *floor,
				       char *why, size_t why_len)
{
	char *merged = NULL;
	const char *problem;

	if (plan_overrides_merge(group_config, chip_config, &merged) != 0) {
		snprintf(why, why_len, "%s", policy_target_strerror(errno));
		if (floor != NULL)
			*floor = 0;
		return why;
	}
	problem =
	    policy_merged_config_problem(merged, secret, floor, why, why_len);
	free(merged);
	return problem;
}
