/* luaotactl repo add|list|show: where groups take their files from. */
#include "cmd_repo.h"
#include "admin/groups.h"
#include "proto/protocol.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <json-c/json.h>

enum {
	OPT_REF = 'R',
	OPT_JSON = 'j',
};

static const struct option add_options[] = {
	{ "ref", required_argument, NULL, OPT_REF },
	CTL_HELP_OPTION,
	{ NULL, 0, NULL, 0 },
};

static const struct option json_options[] = {
	{ "json", no_argument, NULL, OPT_JSON },
	CTL_HELP_OPTION,
	{ NULL, 0, NULL, 0 },
};

/* Names of repositories follow the group name rules. */
static int valid_name(const char *name)
{
	size_t len = strlen(name);

	return len > 0 && len <= 64 &&
	       strspn(name, "abcdefghijklmnopqrstuvwxyz"
			    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == len;
}

static int repo_add(struct ctl *ctl, const struct ctl_args *args)
{
	const char *name = args->argv[0], *ref = ctl_arg_get(args, OPT_REF);
	struct plan_cache *cache = NULL;
	struct store *st = NULL;
	char *dir = NULL, rev[PLAN_REVISION_MAX], err[512];
	int rc = CTL_EXIT_ERROR;

	if (!valid_name(name))
		return ctl_usage_error(ctl,
				       "bad repository name '%s' (1 to 64 of "
				       "A-Z a-z 0-9 . _ -)",
				       name);
	if (ref != NULL && ref[0] == '\0')
		return ctl_usage_error(ctl, "empty --ref");
	if ((dir = realpath(args->argv[1], NULL)) == NULL)
		return ctl_error("cannot add repository %s: %s: %s", name,
				 args->argv[1], strerror(errno));
	if ((cache = plan_cache_new()) == NULL) {
		ctl_error("out of memory");
		goto out;
	}
	if (admin_repo_revision(cache, dir, ref, rev, sizeof(rev), err,
				sizeof(err)) != 0) {
		ctl_error("cannot add repository %s: %s", name, err);
		goto out;
	}
	if ((st = ctl_open_store(ctl, STORE_CREATE)) == NULL)
		goto out;
	switch (store_repo_add(st, name, dir, ref)) {
	case 0:
		rc = CTL_EXIT_OK;
		break;
	case STORE_EXISTS:
		ctl_error("cannot add repository %s: it already exists", name);
		break;
	default:
		ctl_error("cannot add repository %s: %s", name,
			  store_errmsg(st));
	}
out:
	plan_cache_free(cache);
	store_close(st);
	free(dir);
	return rc;
}

/* One repository as JSON, with its current revision (or why none). */
static struct json_object *repo_json(const struct store_repo *r,
				     const char *rev, const char *err)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "name", json_object_new_string(r->name));
	json_object_object_add(o, "path", json_object_new_string(r->path));
	json_object_object_add(o, "ref",
			       r->ref ? json_object_new_string(r->ref) : NULL);
	json_object_object_add(o, "revision",
			       rev ? json_object_new_string(rev) : NULL);
	json_object_object_add(o, "error",
			       err ? json_object_new_string(err) : NULL);
	return o;
}

static int repo_list(struct ctl *ctl, const struct ctl_args *args)
{
	struct store_repo *repos = NULL;
	struct json_object *array = NULL;
	struct plan_cache *cache = NULL;
	struct store *st;
	char rev[PLAN_REVISION_MAX], err[512];
	size_t n = 0, i;
	int rc = CTL_EXIT_ERROR, ok;

	if ((st = ctl_open_store(ctl, STORE_READONLY)) == NULL)
		return CTL_EXIT_ERROR;
	if ((cache = plan_cache_new()) == NULL) {
		ctl_error("out of memory");
		goto out;
	}
	if (store_repo_list(st, &repos, &n) != 0) {
		ctl_error("cannot list repositories: %s", store_errmsg(st));
		goto out;
	}
	if (ctl_arg_has(args, OPT_JSON))
		array = json_object_new_array();
	else {
		ctl_cell("REPOSITORY", 16);
		ctl_cell("REF", 12);
		ctl_cell("REVISION", 12);
		ctl_cell("PATH", 0);
	}
	for (i = 0; i < n; i++) {
		ok =
		    admin_repo_revision(cache, repos[i].path, repos[i].ref, rev,
					sizeof(rev), err, sizeof(err)) == 0;
		if (array != NULL) {
			json_object_array_add(
			    array, repo_json(&repos[i], ok ? rev : NULL,
					     ok ? NULL : err));
			continue;
		}
		if (ok && strlen(rev) > 12)
			rev[12] = '\0';
		ctl_cell(repos[i].name, 16);
		ctl_cell(repos[i].ref ? repos[i].ref : "(worktree)", 12);
		ctl_cell(ok ? rev : "ERROR", 12);
		ctl_cell(repos[i].path, 0);
	}
	if (array != NULL)
		ctl_print_json(array);
	rc = CTL_EXIT_OK;
out:
	json_object_put(array);
	store_repo_list_free(repos, n);
	plan_cache_free(cache);
	store_close(st);
	return rc;
}

static int repo_show(struct ctl *ctl, const struct ctl_args *args)
{
	const char *name = args->argv[0];
	struct store_repo r = { 0 };
	struct store_group *groups = NULL;
	struct json_object *o = NULL, *names;
	struct plan_cache *cache = NULL;
	struct store *st;
	char rev[PLAN_REVISION_MAX], err[512];
	size_t n = 0, i;
	int rc = CTL_EXIT_ERROR, ok, got;

	if ((st = ctl_open_store(ctl, STORE_READONLY)) == NULL)
		return CTL_EXIT_ERROR;
	got = store_repo_get(st, name, &r);
	if (got == STORE_NOTFOUND) {
		ctl_error("cannot show repository %s: no such repository",
			  name);
		goto out;
	}
	if (got != 0 || store_group_list(st, &groups, &n) != 0) {
		ctl_error("cannot show repository %s: %s", name,
			  store_errmsg(st));
		goto out;
	}
	if ((cache = plan_cache_new()) == NULL) {
		ctl_error("out of memory");
		goto out;
	}
	ok = admin_repo_revision(cache, r.path, r.ref, rev, sizeof(rev), err,
				 sizeof(err)) == 0;
	if (ctl_arg_has(args, OPT_JSON)) {
		o = repo_json(&r, ok ? rev : NULL, ok ? NULL : err);
		names = json_object_new_array();
		for (i = 0; i < n; i++)
			if (groups[i].repo_id == r.id)
				json_object_array_add(
				    names,
				    json_object_new_string(groups[i].name));
		json_object_object_add(o, "groups", names);
		ctl_print_json(o);
	} else {
		printf("%-10s%s\n", "name:", r.name);
		printf("%-10s%s\n", "path:", r.path);
		printf("%-10s%s\n",
		       "serves:", r.ref ? r.ref : "the working tree");
		printf("%-10s%s%s\n",
		       "revision:", ok ? rev : "ERROR: ", ok ? "" : err);
		printf("%-10s", "groups:");
		for (i = 0, got = 0; i < n; i++)
			if (groups[i].repo_id == r.id)
				printf("%s%s", got++ ? "," : "",
				       groups[i].name);
		printf("%s\n", got ? "" : "-");
	}
	rc = CTL_EXIT_OK;
out:
	json_object_put(o);
	store_group_list_free(groups, n);
	store_repo_free(&r);
	plan_cache_free(cache);
	store_close(st);
	return rc;
}

const struct ctl_cmd cmd_repo_add_entry = {
	.name = "repo add",
	.usage = "NAME PATH [--ref BRANCH|TAG]",
	.summary = "a repository: the working tree at PATH, or with --ref "
		   "the files committed at that ref (followed as it moves)",
	.optstring = "h",
	.options = add_options,
	.min_args = 2,
	.max_args = 2,
	.handler = repo_add,
};

const struct ctl_cmd cmd_repo_list_entry = {
	.name = "repo list",
	.usage = "[--json]",
	.summary = "list the repositories with the revision each serves now",
	.optstring = "h",
	.options = json_options,
	.min_args = 0,
	.max_args = 0,
	.handler = repo_list,
};

const struct ctl_cmd cmd_repo_show_entry = {
	.name = "repo show",
	.usage = "NAME [--json]",
	.summary = "a repository: path, ref, current revision, groups",
	.optstring = "h",
	.options = json_options,
	.min_args = 1,
	.max_args = 1,
	.handler = repo_show,
};
