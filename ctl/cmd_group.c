/* luaotactl group add|set|list|show|remove: the groups of chips. */
#include "cmd_group.h"

#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <json-c/json.h>

#include "admin/views.h"

#include "cmd_repo.h"
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

static const struct option json_options[] = {
	{ "json", no_argument, NULL, 'j' },
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
	if (text == NULL || text[0] == '\0')
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
	if (ctl_check_overrides(ctl, *out) != CTL_EXIT_OK) {
		free(*out);
		*out = NULL;
		return CTL_EXIT_USAGE;
	}
	return CTL_EXIT_OK;
}

/*
 * Finds the repository serving dir at ref, or adds one named after the
 * directory ("lua", then "lua-2", ...).
 */
static int ensure_repo(struct store *st, const char *group, const char *dir,
		       const char *ref, struct store_repo *repo)
{
	char *copy, name[128], rev[PLAN_REVISION_MAX], err[512];
	struct plan_cache *cache;
	const char *base;
	int rc, i;

	rc = store_repo_find(st, dir, ref, repo);
	if (rc != STORE_NOTFOUND)
		goto done;
	/* As repo add does: a ref that names no commit serves nothing. */
	if ((cache = plan_cache_new()) == NULL)
		return ctl_error("out of memory");
	rc = ctl_repo_revision(cache, dir, ref, rev, sizeof(rev), err,
			       sizeof(err));
	plan_cache_free(cache);
	if (rc != 0)
		return ctl_error("cannot add group %s: %s", group, err);
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

/*
 * Whether arg names a registered repository (repo add): a plain name, no
 * '/', and no --ref of its own (the repository has one).
 */
static int named_repo(struct store *st, const char *arg, const char *ref,
		      struct store_repo *repo)
{
	if (ref != NULL || strchr(arg, '/') != NULL)
		return 0;
	if (store_repo_get(st, arg, repo) == 0)
		return 1;
	store_repo_free(repo);
	return 0;
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
	g.lua_version = LUAOTA_LUA_51;
	if (lua != NULL && strcmp(lua, "5.3") == 0)
		g.lua_version = LUAOTA_LUA_53;
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
	if ((st = ctl_open_store(ctl, STORE_CREATE)) == NULL)
		goto out;
	if (named_repo(st, repo_arg, ref, &repo))
		goto add;
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
	if (ensure_repo(st, g.name, dir, ref, &repo) != CTL_EXIT_OK)
		goto out;
add:
	g.repo_id = repo.id;
	g.repo_name = repo.name;
	if (ctl_check_config_size(st, -1, g.config_json, NULL) != CTL_EXIT_OK)
		goto out;
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
	.usage = "NAME --repo DIR|REPOSITORY --files FILE,... [--ref REF] "
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

/* Applies --lua and --max-file-size onto g when given. */
static int parse_policy(const struct ctl *ctl, const struct ctl_args *args,
			struct store_group *g)
{
	const char *lua = ctl_arg_get(args, OPT_LUA);
	const char *max_size = ctl_arg_get(args, OPT_MAX_SIZE);

	if (lua != NULL && strcmp(lua, "5.3") == 0)
		g->lua_version = LUAOTA_LUA_53;
	else if (lua != NULL && strcmp(lua, "5.1") == 0)
		g->lua_version = LUAOTA_LUA_51;
	else if (lua != NULL)
		return ctl_usage_error(ctl, "--lua must be 5.1 or 5.3");
	if (max_size != NULL && ctl_parse_int(max_size, 0, MAX_FILE_SIZE_LIMIT,
					      &g->max_file_size) != 0)
		return ctl_usage_error(ctl, "bad --max-file-size '%s'",
				       max_size);
	return CTL_EXIT_OK;
}

static int group_set(struct ctl *ctl, const struct ctl_args *args)
{
	struct store_group_file files[MAX_FILES];
	struct store_group_file *old_files;
	const char *name = args->argv[0];
	const char *repo_arg = ctl_arg_get(args, OPT_REPO);
	const char *files_arg = ctl_arg_get(args, OPT_FILES);
	const char *config_arg = ctl_arg_get(args, OPT_CONFIG);
	const char *ref = ctl_arg_get(args, OPT_REF);
	struct store_group g = { 0 };
	struct store_repo repo = { 0 };
	struct store *st = NULL;
	char *list = NULL, *dir = NULL, *config = NULL, *old_repo_name;
	size_t old_nfiles = 0;
	int rc = CTL_EXIT_ERROR;

	if (ref != NULL && repo_arg == NULL)
		return ctl_usage_error(ctl, "--ref goes with --repo DIR");
	if (ref != NULL && ref[0] == '\0')
		return ctl_usage_error(ctl, "empty --ref");
	if ((st = ctl_open_store(ctl, 0)) == NULL)
		return CTL_EXIT_ERROR;
	switch (store_group_get(st, name, &g)) {
	case 0:
		break;
	case STORE_NOTFOUND:
		ctl_error("cannot change group %s: no such group", name);
		goto out;
	default:
		ctl_error("cannot change group %s: %s", name, store_errmsg(st));
		goto out;
	}
	/* A release is the files as pinned: only a rollout moves them. */
	if (g.release != NULL &&
	    (repo_arg != NULL || files_arg != NULL ||
	     ctl_arg_has(args, OPT_ACTION) || ctl_arg_has(args, OPT_LUA) ||
	     ctl_arg_has(args, OPT_MAX_SIZE))) {
		ctl_error(
		    "cannot change group %s: it is pinned to %s, and what "
		    "its chips are sent changes only by a rollout; unpin "
		    "it first (luaotactl group unpin %s)",
		    name, g.release, name);
		goto out;
	}
	old_files = g.files;
	old_nfiles = g.nfiles;
	old_repo_name = g.repo_name;
	if ((rc = parse_policy(ctl, args, &g)) != CTL_EXIT_OK)
		goto restore;
	if (files_arg != NULL) {
		rc = CTL_EXIT_ERROR;
		if ((list = strdup(files_arg)) == NULL) {
			ctl_error("out of memory");
			goto restore;
		}
		rc = CTL_EXIT_USAGE;
		if (parse_files(ctl, list, files, &g.nfiles) != 0)
			goto restore;
		g.files = files;
	}
	if ((rc = parse_actions(ctl, args, g.files, g.nfiles)) != CTL_EXIT_OK)
		goto restore;
	if (config_arg != NULL) {
		if ((rc = parse_config(ctl, config_arg, &config)) !=
		    CTL_EXIT_OK)
			goto restore;
		free(g.config_json);
		g.config_json = config;
		config = NULL;
	}
	rc = CTL_EXIT_ERROR;
	if (repo_arg != NULL && named_repo(st, repo_arg, ref, &repo)) {
		g.repo_id = repo.id;
		g.repo_name = NULL;
	} else if (repo_arg != NULL) {
		struct stat sb;

		if ((dir = realpath(repo_arg, NULL)) == NULL) {
			ctl_error("cannot change group %s: %s: %s", name,
				  repo_arg, strerror(errno));
			goto restore;
		}
		if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
			ctl_error("cannot change group %s: %s: not a "
				  "directory",
				  name, dir);
			goto restore;
		}
		if (ensure_repo(st, name, dir, ref, &repo) != CTL_EXIT_OK)
			goto restore;
		g.repo_id = repo.id;
		g.repo_name = NULL;
	}
	if (config_arg != NULL &&
	    ctl_check_config_size(st, g.id, g.config_json, NULL) != CTL_EXIT_OK)
		goto restore;
	if (store_group_update(st, &g) != 0)
		ctl_error("cannot change group %s: %s", name, store_errmsg(st));
	else
		rc = CTL_EXIT_OK;
restore:
	/* The strings parsed from the command line are not ours to free. */
	g.files = old_files;
	g.nfiles = old_nfiles;
	g.repo_name = old_repo_name;
out:
	store_group_free(&g);
	store_repo_free(&repo);
	store_close(st);
	free(config);
	free(dir);
	free(list);
	return rc;
}



static void print_json(struct json_object *o)
{
	printf("%s\n", json_object_to_json_string_ext(
			   o, JSON_C_TO_STRING_PRETTY |
				  JSON_C_TO_STRING_NOSLASHESCAPE));
}

static int group_list(struct ctl *ctl, const struct ctl_args *args)
{
	struct store_group *groups = NULL;
	struct json_object *array = NULL;
	struct store *st;
	char chips_text[24];
	size_t n = 0, i;
	int64_t chips;
	int rc = CTL_EXIT_ERROR;

	if ((st = ctl_open_store(ctl, STORE_READONLY)) == NULL)
		return CTL_EXIT_ERROR;
	if (store_group_list(st, &groups, &n) != 0) {
		ctl_error("cannot list groups: %s", store_errmsg(st));
		goto out;
	}
	if (ctl_arg_has(args, 'j'))
		array = json_object_new_array();
	else {
		ctl_cell("GROUP", 16);
		ctl_cell("REPOSITORY", 16);
		ctl_cell("FILES", 5);
		ctl_cell("CHIPS", 5);
		ctl_cell("LUA", 0);
	}
	for (i = 0; i < n; i++) {
		if (store_group_chips(st, groups[i].id, &chips) != 0) {
			ctl_error("cannot list groups: %s", store_errmsg(st));
			goto out;
		}
		if (array != NULL) {
			struct store_repo repo = { 0 };

			if (store_repo_get_id(st, groups[i].repo_id, &repo) !=
			    0) {
				ctl_error("cannot list groups: %s",
					  store_errmsg(st));
				goto out;
			}
			json_object_array_add(
			    array, admin_group_json(&groups[i], &repo, chips));
			store_repo_free(&repo);
			continue;
		}
		ctl_cell(groups[i].name, 16);
		ctl_cell(groups[i].repo_name, 16);
		snprintf(chips_text, sizeof(chips_text), "%zu",
			 groups[i].nfiles);
		ctl_cell(chips_text, 5);
		snprintf(chips_text, sizeof(chips_text), "%lld",
			 (long long)chips);
		ctl_cell(chips_text, 5);
		ctl_cell(LUAOTA_LUA_NAME(groups[i].lua_version), 0);
	}
	if (array != NULL)
		print_json(array);
	rc = CTL_EXIT_OK;
out:
	json_object_put(array);
	store_group_list_free(groups, n);
	store_close(st);
	return rc;
}

static int group_show(struct ctl *ctl, const struct ctl_args *args)
{
	const char *name = args->argv[0];
	struct store_group g = { 0 };
	struct store_repo repo = { 0 };
	struct json_object *o = NULL;
	struct store *st;
	int64_t chips = 0;
	size_t i;
	int rc = CTL_EXIT_ERROR, got;

	if ((st = ctl_open_store(ctl, STORE_READONLY)) == NULL)
		return CTL_EXIT_ERROR;
	got = store_group_get(st, name, &g);
	if (got == STORE_NOTFOUND) {
		ctl_error("cannot show group %s: no such group", name);
		goto out;
	}
	if (got != 0 || store_repo_get_id(st, g.repo_id, &repo) != 0 ||
	    store_group_chips(st, g.id, &chips) != 0) {
		ctl_error("cannot show group %s: %s", name, store_errmsg(st));
		goto out;
	}
	if (ctl_arg_has(args, 'j')) {
		o = admin_group_json(&g, &repo, chips);
		print_json(o);
	} else {
		printf("group:         %s\n", g.name);
		printf("repository:    %s (%s%s%s)\n", repo.name, repo.path,
		       repo.ref != NULL ? " at " : ", working tree",
		       repo.ref != NULL ? repo.ref : "");
		printf("lua:           %s\n", LUAOTA_LUA_NAME(g.lua_version));
		printf("max file size: %lld%s\n", (long long)g.max_file_size,
		       g.max_file_size == 0 ? " (the daemon's default)" : "");
		printf("config:        %s\n",
		       g.config_json != NULL ? g.config_json : "-");
		printf("chips:         %lld\n", (long long)chips);
		printf("release:       %s\n",
		       g.release != NULL ? g.release
					 : "- (follows the repository)");
		printf("files:\n");
		for (i = 0; i < g.nfiles; i++)
			printf("  %-31s  %s\n", g.files[i].name,
			       admin_action_name(g.files[i].action));
	}
	rc = CTL_EXIT_OK;
out:
	json_object_put(o);
	store_group_free(&g);
	store_repo_free(&repo);
	store_close(st);
	return rc;
}

static int group_remove(struct ctl *ctl, const struct ctl_args *args)
{
	const char *name = args->argv[0];
	struct store *st;
	int rc = CTL_EXIT_OK;

	if ((st = ctl_open_store(ctl, 0)) == NULL)
		return CTL_EXIT_ERROR;
	switch (store_group_remove(st, name)) {
	case 0:
		break;
	case STORE_NOTFOUND:
		rc = ctl_error("cannot remove group %s: no such group", name);
		break;
	case STORE_INUSE:
		rc = ctl_error("cannot remove group %s: %s (move or remove "
			       "them first)",
			       name, store_errmsg(st));
		break;
	default:
		rc = ctl_error("cannot remove group %s: %s", name,
			       store_errmsg(st));
	}
	store_close(st);
	return rc;
}

const struct ctl_cmd cmd_group_set_entry = {
	.name = "group set",
	.usage = "NAME [--files FILE,...] [--action FILE=dl|cm|auto]... "
		 "[--repo DIR|REPOSITORY [--ref REF]] [--config JSON] "
		 "[--max-file-size BYTES] [--lua 5.1|5.3]",
	.summary = "change a group: only what is given changes (--files "
		   "replaces the list; --config '' clears the overrides)",
	.optstring = "h",
	.options = group_add_options,
	.min_args = 1,
	.max_args = 1,
	.handler = group_set,
};

const struct ctl_cmd cmd_group_list_entry = {
	.name = "group list",
	.usage = "[--json]",
	.summary = "list the groups: repository, files, chips",
	.optstring = "h",
	.options = json_options,
	.min_args = 0,
	.max_args = 0,
	.handler = group_list,
};

const struct ctl_cmd cmd_group_show_entry = {
	.name = "group show",
	.usage = "NAME [--json]",
	.summary =
	    "a group's repository, files with actions, config and policy",
	.optstring = "h",
	.options = json_options,
	.min_args = 1,
	.max_args = 1,
	.handler = group_show,
};

const struct ctl_cmd cmd_group_remove_entry = {
	.name = "group remove",
	.usage = "NAME",
	.summary = "remove a group no chip belongs to",
	.optstring = "h",
	.options = json_options,
	.min_args = 1,
	.max_args = 1,
	.handler = group_remove,
};
