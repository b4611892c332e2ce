/*
 * luaotactl token add|list|remove.  A token is shown once, when it is
 * made; the inventory keeps only its SHA-256 (admin/token.h).
 */
#include "cmd_token.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <bsd/string.h>
#include <json-c/json.h>

#include "admin/token.h"

enum {
	OPT_READ_ONLY = 'r',
	OPT_JSON = 'j',
};

static const struct option add_options[] = {
	{ "read-only", no_argument, NULL, OPT_READ_ONLY },
	{ "json", no_argument, NULL, OPT_JSON },
	CTL_HELP_OPTION,
	{ NULL, 0, NULL, 0 },
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

static int token_add(struct ctl *ctl, const struct ctl_args *args)
{
	const char *name = args->argv[0];
	enum store_token_scope scope = ctl_arg_has(args, OPT_READ_ONLY)
					   ? STORE_TOKEN_READ
					   : STORE_TOKEN_WRITE;
	char token[ADMIN_TOKEN_LEN + 1], hash[ADMIN_TOKEN_HASH_LEN + 1];
	struct store *st;
	int rc = CTL_EXIT_ERROR;

	if (!admin_token_name_valid(name))
		return ctl_usage_error(ctl,
				       "bad token name '%s' (1-64 letters, "
				       "digits, '.', '_' or '-')",
				       name);
	if (admin_token_new(token) != 0 ||
	    admin_token_hash(token, strlen(token), hash) != 0)
		return ctl_error("cannot add token %s: no random bytes", name);
	if ((st = ctl_open_store(ctl, STORE_CREATE)) == NULL)
		goto out;
	if (store_token_add(st, name, hash, scope, (int64_t)time(NULL)) != 0) {
		ctl_error("cannot add token %s: %s", name, store_errmsg(st));
		goto out;
	}
	if (ctl_arg_has(args, OPT_JSON)) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "name", json_object_new_string(name));
		json_object_object_add(
		    o, "scope",
		    json_object_new_string(store_token_scope_name(scope)));
		json_object_object_add(o, "token",
				       json_object_new_string(token));
		ctl_print_json(o);
		json_object_put(o);
	} else {
		/* Shown once: the inventory cannot give it back. */
		printf("token: %s\n", token);
	}
	rc = CTL_EXIT_OK;
out:
	explicit_bzero(token, sizeof(token));
	store_close(st);
	return rc;
}

static int token_list(struct ctl *ctl, const struct ctl_args *args)
{
	struct store_token *tokens = NULL;
	struct json_object *array = NULL;
	char created[32], used[32];
	struct store *st;
	size_t n = 0, i;
	int rc = CTL_EXIT_ERROR;

	if ((st = ctl_open_store(ctl, STORE_READONLY)) == NULL)
		return CTL_EXIT_ERROR;
	if (store_token_list(st, &tokens, &n) != 0) {
		ctl_error("cannot list tokens: %s", store_errmsg(st));
		goto out;
	}
	if (ctl_arg_has(args, OPT_JSON))
		array = json_object_new_array();
	else {
		ctl_cell("NAME", 24);
		ctl_cell("SCOPE", 6);
		ctl_cell("CREATED", 20);
		ctl_cell("LAST USED", 0);
	}
	for (i = 0; i < n; i++) {
		ctl_format_time(tokens[i].created, created, sizeof(created));
		strlcpy(used, "never", sizeof(used));
		if (tokens[i].last_used != 0)
			ctl_format_time(tokens[i].last_used, used,
					sizeof(used));
		if (array != NULL) {
			struct json_object *o = json_object_new_object();

			json_object_object_add(
			    o, "name", json_object_new_string(tokens[i].name));
			json_object_object_add(
			    o, "scope",
			    json_object_new_string(
				store_token_scope_name(tokens[i].scope)));
			json_object_object_add(o, "created",
					       json_object_new_string(created));
			json_object_object_add(
			    o, "last_used",
			    tokens[i].last_used != 0
				? json_object_new_string(used)
				: NULL);
			json_object_array_add(array, o);
		} else {
			ctl_cell(tokens[i].name, 24);
			ctl_cell(store_token_scope_name(tokens[i].scope), 6);
			ctl_cell(created, 20);
			ctl_cell(used, 0);
		}
	}
	if (array != NULL)
		ctl_print_json(array);
	rc = CTL_EXIT_OK;
out:
	json_object_put(array);
	store_token_list_free(tokens, n);
	store_close(st);
	return rc;
}

static int token_remove(struct ctl *ctl, const struct ctl_args *args)
{
	const char *name = args->argv[0];
	struct store *st;
	int rc = CTL_EXIT_OK;

	if ((st = ctl_open_store(ctl, 0)) == NULL)
		return CTL_EXIT_ERROR;
	if (store_token_remove(st, name) != 0)
		rc = ctl_error("cannot remove token %s: %s", name,
			       store_errmsg(st));
	store_close(st);
	return rc;
}

const struct ctl_cmd cmd_token_add_entry = {
	.name = "token add",
	.usage = "NAME [--read-only] [--json]",
	.summary = "make a bearer token for luaotad's HTTP API, printed "
		   "once (only its hash is kept); --read-only: it may look "
		   "but not change the inventory",
	.optstring = "h",
	.options = add_options,
	.min_args = 1,
	.max_args = 1,
	.handler = token_add,
};

const struct ctl_cmd cmd_token_list_entry = {
	.name = "token list",
	.usage = "[--json]",
	.summary = "list the API tokens: scope, created, last used",
	.optstring = "h",
	.options = json_options,
	.min_args = 0,
	.max_args = 0,
	.handler = token_list,
};

const struct ctl_cmd cmd_token_remove_entry = {
	.name = "token remove",
	.usage = "NAME",
	.summary = "revoke an API token",
	.optstring = "h",
	.options = plain_options,
	.min_args = 1,
	.max_args = 1,
	.handler = token_remove,
};
