/* Shared, immutable file contents: see content.h. */
#include "content.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "luacheck.h"
#include "safetrim.h"
#include "proto/protocol.h"

#define CHECK_MESSAGE_MAX 512

int plan_is_lua_name(const char *name)
{
	size_t n = strlen(name);

	return n > 4 && strcmp(name + n - 4, ".lua") == 0;
}

int plan_content_new(const char *name, uint8_t *raw, size_t raw_len,
		     struct plan_content **out)
{
	struct plan_content *ct = calloc(1, sizeof(*ct));
	char *trimmed = NULL;
	size_t trimmed_len = 0;

	*out = NULL;
	if (ct == NULL)
		goto fail;
	ct->refs = 1;
	ct->raw_len = raw_len;
	if (plan_is_lua_name(name) &&
	    plan_safetrim_wanted((const char *)raw, raw_len)) {
		if (plan_safetrim((const char *)raw, raw_len, &trimmed,
				  &trimmed_len) == 0) {
			ct->data = (uint8_t *)trimmed;
			ct->len = trimmed_len;
			ct->trimmed = 1;
			free(raw);
			raw = NULL;
		} else if (errno != EINVAL) {
			goto fail;
		}
	}
	if (ct->data == NULL) {
		/* room for the NUL that makes data printable */
		uint8_t *copy = realloc(raw, raw_len + 1);
		if (copy == NULL)
			goto fail;
		raw = NULL;
		copy[raw_len] = '\0';
		ct->data = copy;
		ct->len = raw_len;
	}
	if (plan_digest(ct->data, ct->len, ct->digest, ct->hash) != 0) {
		errno = ENOMEM;
		goto fail;
	}
	*out = ct;
	return 0;
fail:
	free(raw);
	plan_content_unref(ct);
	return -1;
}

struct plan_content *plan_content_ref(struct plan_content *ct)
{
	ct->refs++;
	return ct;
}

void plan_content_unref(struct plan_content *ct)
{
	size_t i;

	if (ct == NULL || --ct->refs > 0)
		return;
	for (i = 0; i < 2; i++) {
		free(ct->compiled[i].name);
		free(ct->compiled[i].message);
	}
	free(ct->data);
	free(ct);
}

/* The cached message, its "name:" prefix rewritten for another name. */
static void report(const struct plan_compiled *c, const char *name, char *err,
		   size_t err_len)
{
	size_t n = strlen(c->name);

	if (strcmp(c->name, name) != 0 && strncmp(c->message, c->name, n) == 0)
		snprintf(err, err_len, "%s%s", name, c->message + n);
	else
		snprintf(err, err_len, "%s", c->message);
}

int plan_content_check(struct plan_content *ct, const char *name,
		       int lua_version, char *err, size_t err_len)
{
	struct plan_compiled *c;
	char message[CHECK_MESSAGE_MAX];

	if (lua_version != LUAOTA_LUA_51 && lua_version != LUAOTA_LUA_53)
		return plan_lua_available(lua_version, err, err_len);
	c = &ct->compiled[lua_version == LUAOTA_LUA_51 ? 0 : 1];
	if (c->state == 0) {
		/* a missing liblua is not this file's fault: not cached */
		if (plan_lua_available(lua_version, err, err_len) != 0)
			return -1;
		if (plan_lua_check((const char *)ct->data, ct->len, name,
				   lua_version, message,
				   sizeof(message)) == 0) {
			c->state = 1;
		} else {
			c->name = strdup(name);
			c->message = strdup(message);
			if (c->name == NULL || c->message == NULL) {
				free(c->name);
				free(c->message);
				c->name = c->message = NULL;
				snprintf(err, err_len, "%s", message);
				return -1;
			}
			c->state = -1;
		}
	}
	if (c->state > 0)
		return 0;
	report(c, name, err, err_len);
	return -1;
}
