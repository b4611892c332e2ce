/* luaotactl group add|set|list|show|remove: the groups of chips. */
#include "cmd_group.h"

#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <json-c/json.h>

#include "admin/admin.h"
#include "admin/groups.h"
#include "admin/views.h"

#include "cmd_repo.h"
#include "proto/protocol.h"

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

/* The request a group add|set command line states. */
static void group_request(const struct ctl_args *args,
			  struct admin_group_request *req, const char **actions)
{
	size_t i;

	req->name = args->argv[0];
	req->repo = ctl_arg_get(args, OPT_REPO);
	req->ref = ctl_arg_get(args, OPT_REF);
	req->files = ctl_arg_get(args, OPT_FILES);
	req->config = ctl_arg_get(args, OPT_CONFIG);
	req->max_file_size = ctl_arg_get(args, OPT_MAX_SIZE);
	req->lua = ctl_arg_get(args, OPT_LUA);
	req->nactions = 0;
	for (i = 0; i < args->noptions; i++)
		if (args->options[i].key == OPT_ACTION)
			actions[req->nactions++] = args->options[i].value;
	req->actions = actions;
}

static int group_add(struct ctl *ctl, const struct ctl_args *args)
{
	const char *actions[CTL_MAX_OPTIONS];
	struct admin_group_request req;
	struct admin_result res;
	struct store *st;
	int rc = CTL_EXIT_OK;

	group_request(args, &req, actions);
	if ((st = ctl_open_store(ctl, STORE_CREATE)) == NULL)
		return CTL_EXIT_ERROR;
	if (admin_group_add(st, &req, &res) != 0)
		rc = ctl_report(ctl, &res);
	store_close(st);
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

static int group_set(struct ctl *ctl, const struct ctl_args *args)
{
	const char *actions[CTL_MAX_OPTIONS];
	struct admin_group_request req;
	struct admin_result res;
	struct store *st;
	int rc = CTL_EXIT_OK;

	group_request(args, &req, actions);
	if ((st = ctl_open_store(ctl, 0)) == NULL)
		return CTL_EXIT_ERROR;
	if (admin_group_set(st, &req, &res) != 0)
		rc = ctl_report(ctl, &res);
	store_close(st);
	return rc;
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
		ctl_print_json(array);
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
		ctl_print_json(o);
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
