/* luaotactl group add: a group, and its repository row when new. */
#include "cmd_group.h"

#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <json-c/json.h>

#include "proto/protocol.h"

#define GROUP_NAME_MAX 64
#define MAX_FILES 256
#define MAX_FILE_SIZE_LIMIT (1LL << 30)

enum {
	OPT_REPO = 'r',
	OPT_REF = 'R',
	OPT_FILES = 'f',
	OPT_ACTION = 'a',
	OPT_MAX_SIZE = 'm',
	OPT_LUA = 'l',
	OPT_CONFIG = 'c',
};

static const struct option group_add_options[] = {
	{ "repo", required_argument, NULL, OPT_REPO },
	{ "ref", required_argument, NULL, OPT_REF },
	{ "files", required_argument, NULL, OPT_FILES },
	{ "action", required_argument, NULL, OPT_ACTION },
	{ "max-file-size", required_argument, NULL, OPT_MAX_SIZE },
	{ "lua", required_argument, NULL, OPT_LUA },
	{ "config", required_argument, NULL, OPT_CONFIG },
	CTL_HELP_OPTION,
	{ NULL, 0, NULL, 0 },
};

/* Group names end up in commands and logs: keep them plain. */
static int valid_group_name(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > GROUP_NAME_MAX)
		return 0;
	return strspn(name, "abcdefghijklmnopqrstuvwxyz"
			    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == len;
}

/* A device file name: printable, no spaces, fits SPIFFS, stays inside. */
static int valid_file_name(const char *name)
{
	size_t i, len = strlen(name);

	if (len == 0 || len > LUAOTA_NAME_MAX || name[0] == '/')
		return 0;
	for (i = 0; i < len; i++)
		if ((unsigned char)name[i] <= ' ' ||
		    (unsigned char)name[i] >= 0x7f)
			return 0;
	return strcmp(name, "..") != 0 && strncmp(name, "../", 3) != 0 &&
	       strstr(name, "/../") == NULL &&
	       (len < 3 || strcmp(name + len - 3, "/..") != 0);
}

/* Splits list (modified) at commas into files; usage error message on -1. */
static int parse_files(const struct ctl *ctl, char *list,
		       struct store_group_file *files, size_t *n)
{
	char *name, *rest = list;
	size_t i;

	*n = 0;
	while ((name = strsep(&rest, ",")) != NULL) {
		if (!valid_file_name(name)) {
			ctl_usage_error(ctl, "bad file name in --files: '%s'",
					name);
			return -1;
		}
		for (i = 0; i < *n; i++) {
			if (strcmp(files[i].name, name) == 0) {
				ctl_usage_error(ctl, "%s listed twice", name);
				return -1;
			}
		}
		if (*n == MAX_FILES) {
			ctl_usage_error(ctl, "more than %d files", MAX_FILES);
			return -1;
		}
		files[*n].name = name;
		files[*n].action = STORE_ACTION_AUTO;
		(*n)++;
	}
	return 0;
}

/* Applies every --action FILE=auto|dl|cm to the listed files. */
static int parse_actions(const struct ctl *ctl, const struct ctl_args *args,
			 struct store_group_file *files, size_t n)
{
	size_t i, j;

	for (i = 0; i < args->noptions; i++) {
		const char *spec = args->options[i].value, *eq;
		enum store_action action;

		if (args->options[i].key != OPT_ACTION)
			continue;
		eq = strrchr(spec, '=');
		if (eq == NULL)
			return ctl_usage_error(ctl,
					       "--action wants FILE=ACTION"
					       ", not '%s'",
					       spec);
		if (strcmp(eq + 1, "dl") == 0)
			action = STORE_ACTION_DL;
		else if (strcmp(eq + 1, "cm") == 0)
			action = STORE_ACTION_CM;
		else if (strcmp(eq + 1, "auto") == 0)
			action = STORE_ACTION_AUTO;
		else
			return ctl_usage_error(ctl,
					       "action must be dl, cm or "
					       "auto, not '%s'",
					       eq + 1);
		for (j = 0; j < n; j++) {
			if (strlen(files[j].name) == (size_t)(eq - spec) &&
			    strncmp(files[j].name, spec, eq - spec) == 0)
				break;
		}
		if (j == n)
			return ctl_usage_error(
			    ctl, "--action %s: not in --files", spec);
		files[j].action = action;
	}
	return CTL_EXIT_OK;
}

/* Canonical JSON text of a --config object into *out (NULL when absent). */
static int parse_config(const struct ctl *ctl, const char *text, char **out)
{
	enum json_tokener_error err;
	struct json_object *obj;
	const char *canonical;

	*out = NULL;
	if (text == NULL)
		return CTL_EXIT_OK;
	obj = json_tokener_parse_verbose(text, &err);
	if (obj == NULL)
		return ctl_usage_error(ctl, "--config: %s",
				       json_tokener_error_desc(err));
	if (!json_object_is_type(obj, json_type_object)) {
		json_object_put(obj);
		return ctl_usage_error(ctl, "--config must be a JSON object");
	}
	canonical = json_object_to_json_string_ext(
	    obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	if (strlen(canonical) > LUAOTA_CONFIG_MAX) {
		json_object_put(obj);
		return ctl_usage_error(ctl, "--config is longer than %d bytes",
				       LUAOTA_CONFIG_MAX);
	}
	*out = strdup(canonical);
	json_object_put(obj);
	if (*out == NULL)
		return ctl_error("out of memory");
	return CTL_EXIT_OK;
}

/*
 * Finds the repository serving dir at ref, or adds one named after the
 * directory ("lua", then "lua-2", ...).
 */
static int ensure_repo(struct store *st, const char *group, const char *dir,
		       const char *ref, struct store_repo *repo)
{
	char *copy, name[128];
	const char *base;
	int rc, i;

	rc = store_repo_find(st, dir, ref, repo);
	if (rc != STORE_NOTFOUND)
		goto done;
	if ((copy = strdup(dir)) == NULL)
		return ctl_error("out of memory");
	base = basename(copy);
	if (strcmp(base, "/") == 0)
		base = "root";
	rc = STORE_EXISTS;
	for (i = 1; i < 1000 && rc == STORE_EXISTS; i++) {
		if (i == 1)
			snprintf(name, sizeof(name), "%s", base);
		else
			snprintf(name, sizeof(name), "%s-%d", base, i);
		rc = store_repo_add(st, name, dir, ref);
	}
	free(copy);
	if (rc == 0)
		rc = store_repo_get(st, name, repo);
done:
	if (rc != 0)
		return ctl_error("cannot add group %s: repository %s: %s",
				 group, dir, store_errmsg(st));
	return CTL_EXIT_OK;
}

static int group_add(struct ctl *ctl, const struct ctl_args *args)
{
	struct store_group_file files[MAX_FILES];
	struct store_group g = { .name = args->argv[0] };
	const char *repo_arg = ctl_arg_get(args, OPT_REPO);
	const char *files_arg = ctl_arg_get(args, OPT_FILES);
	const char *lua = ctl_arg_get(args, OPT_LUA);
	const char *max_size = ctl_arg_get(args, OPT_MAX_SIZE);
	const char *ref = ctl_arg_get(args, OPT_REF);
	struct store_repo repo = { 0 };
	struct store *st = NULL;
	char *list = NULL, *dir = NULL;
	struct stat sb;
	int rc;

	if (!valid_group_name(g.name))
		return ctl_usage_error(ctl,
				       "bad group name '%s' (1 to %d of "
				       "A-Z a-z 0-9 . _ -)",
				       g.name, GROUP_NAME_MAX);
	if (repo_arg == NULL)
		return ctl_usage_error(ctl, "missing --repo DIR");
	if (files_arg == NULL)
		return ctl_usage_error(ctl, "missing --files LIST");
	if (ref != NULL && ref[0] == '\0')
		return ctl_usage_error(ctl, "empty --ref");
	g.lua_version = 51;
	if (lua != NULL && strcmp(lua, "5.3") == 0)
		g.lua_version = 53;
	else if (lua != NULL && strcmp(lua, "5.1") != 0)
		return ctl_usage_error(ctl, "--lua must be 5.1 or 5.3");
	if (max_size != NULL && ctl_parse_int(max_size, 0, MAX_FILE_SIZE_LIMIT,
					      &g.max_file_size) != 0)
		return ctl_usage_error(ctl, "bad --max-file-size '%s'",
				       max_size);

	if ((list = strdup(files_arg)) == NULL)
		return ctl_error("out of memory");
	rc = CTL_EXIT_USAGE;
	if (parse_files(ctl, list, files, &g.nfiles) != 0)
		goto out;
	g.files = files;
	if ((rc = parse_actions(ctl, args, files, g.nfiles)) != CTL_EXIT_OK)
		goto out;
	if ((rc = parse_config(ctl, ctl_arg_get(args, OPT_CONFIG),
			       &g.config_json)) != CTL_EXIT_OK)
		goto out;

	rc = CTL_EXIT_ERROR;
	if ((dir = realpath(repo_arg, NULL)) == NULL) {
		ctl_error("cannot add group %s: %s: %s", g.name, repo_arg,
			  strerror(errno));
		goto out;
	}
	if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
		ctl_error("cannot add group %s: %s: not a directory", g.name,
			  dir);
		goto out;
	}
	if ((st = ctl_open_store(ctl, STORE_CREATE)) == NULL)
		goto out;
	if (ensure_repo(st, g.name, dir, ref, &repo) != CTL_EXIT_OK)
		goto out;
	g.repo_id = repo.id;
	g.repo_name = repo.name;
	switch (store_group_add(st, &g)) {
	case 0:
		rc = CTL_EXIT_OK;
		break;
	case STORE_EXISTS:
		ctl_error("cannot add group %s: it already exists", g.name);
		break;
	default:
		ctl_error("cannot add group %s: %s", g.name, store_errmsg(st));
	}
out:
	store_repo_free(&repo);
	store_close(st);
	free(g.config_json);
	free(dir);
	free(list);
	return rc;
}

const struct ctl_cmd cmd_group_add_entry = {
	.name = "group add",
	.usage = "NAME --repo DIR --files FILE,... [--ref REF] "
		 "[--action FILE=dl|cm|auto]... [--max-file-size BYTES] "
		 "[--lua 5.1|5.3] [--config JSON]",
	.summary = "define a group: the files its chips hold, from DIR (a "
		   "working tree, or a git repository at REF)",
	.optstring = "h",
	.options = group_add_options,
	.min_args = 1,
	.max_args = 1,
	.handler = group_add,
};
