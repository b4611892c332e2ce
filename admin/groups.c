/* Groups: add and set, with the checks both luaotactl and the API apply. */
#include "groups.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <bsd/string.h>
#include <json-c/json.h>

#include "policy/policy.h"
#include "proto/protocol.h"

#define MAX_FILE_SIZE_LIMIT (1LL << 30)

int admin_group_name_valid(const char *name)
{
	size_t len = strlen(name);

	/* Group names end up in commands and logs: keep them plain. */
	if (len == 0 || len > ADMIN_GROUP_NAME_MAX)
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

/* Splits list (modified) at commas into files. */
static int parse_files(char *list, struct store_group_file *files, size_t *n,
		       struct admin_result *res)
{
	char *name, *rest = list;
	size_t i;

	*n = 0;
	while ((name = strsep(&rest, ",")) != NULL) {
		if (!valid_file_name(name))
			return admin_fail(res, ADMIN_INVALID,
					  "bad file name in --files: '%s'",
					  name);
		for (i = 0; i < *n; i++)
			if (strcmp(files[i].name, name) == 0)
				return admin_fail(res, ADMIN_INVALID,
						  "%s listed twice", name);
		if (*n == ADMIN_GROUP_FILES_MAX)
			return admin_fail(res, ADMIN_INVALID,
					  "more than %d files",
					  ADMIN_GROUP_FILES_MAX);
		files[*n].name = name;
		files[*n].action = STORE_ACTION_AUTO;
		(*n)++;
	}
	return 0;
}

/* Applies every "FILE=auto|dl|cm" to the listed files. */
static int parse_actions(const struct admin_group_request *req,
			 struct store_group_file *files, size_t n,
			 struct admin_result *res)
{
	size_t i, j;

	for (i = 0; i < req->nactions; i++) {
		const char *spec = req->actions[i], *eq = strrchr(spec, '=');
		enum store_action action;

		if (eq == NULL)
			return admin_fail(res, ADMIN_INVALID,
					  "--action wants FILE=ACTION, not "
					  "'%s'",
					  spec);
		if (strcmp(eq + 1, "dl") == 0)
			action = STORE_ACTION_DL;
		else if (strcmp(eq + 1, "cm") == 0)
			action = STORE_ACTION_CM;
		else if (strcmp(eq + 1, "auto") == 0)
			action = STORE_ACTION_AUTO;
		else
			return admin_fail(res, ADMIN_INVALID,
					  "action must be dl, cm or auto, not "
					  "'%s'",
					  eq + 1);
		for (j = 0; j < n; j++)
			if (strlen(files[j].name) == (size_t)(eq - spec) &&
			    strncmp(files[j].name, spec, eq - spec) == 0)
				break;
		if (j == n)
			return admin_fail(res, ADMIN_INVALID,
					  "--action %s: not in --files", spec);
		files[j].action = action;
	}
	return 0;
}

/* Canonical JSON text of a config object into *out (NULL when absent). */
static int parse_config(const char *text, char **out, struct admin_result *res)
{
	enum json_tokener_error err;
	struct json_object *obj;
	const char *canonical;
	char why[256];

	*out = NULL;
	if (text == NULL || text[0] == '\0')
		return 0;
	obj = json_tokener_parse_verbose(text, &err);
	if (obj == NULL)
		return admin_fail(res, ADMIN_INVALID, "--config: %s",
				  json_tokener_error_desc(err));
	if (!json_object_is_type(obj, json_type_object)) {
		json_object_put(obj);
		return admin_fail(res, ADMIN_INVALID,
				  "--config must be a JSON object");
	}
	canonical = json_object_to_json_string_ext(
	    obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	if (strlen(canonical) > LUAOTA_CONFIG_MAX) {
		json_object_put(obj);
		return admin_fail(res, ADMIN_INVALID,
				  "--config is longer than %d bytes",
				  LUAOTA_CONFIG_MAX);
	}
	*out = strdup(canonical);
	json_object_put(obj);
	if (*out == NULL)
		return admin_fail(res, ADMIN_FAILED, "out of memory");
	/* Overrides a chip could not boot with are refused (policy.h). */
	if (policy_config_problem(*out, why, sizeof(why)) != NULL) {
		free(*out);
		*out = NULL;
		return admin_fail(res, ADMIN_INVALID, "%s", why);
	}
	return 0;
}

/* The lua and max_file_size fields onto g when given. */
static int parse_policy(const struct admin_group_request *req,
			struct store_group *g, struct admin_result *res)
{
	if (req->lua != NULL && strcmp(req->lua, "5.3") == 0)
		g->lua_version = LUAOTA_LUA_53;
	else if (req->lua != NULL && strcmp(req->lua, "5.1") == 0)
		g->lua_version = LUAOTA_LUA_51;
	else if (req->lua != NULL)
		return admin_fail(res, ADMIN_INVALID,
				  "--lua must be 5.1 or 5.3");
	if (req->max_file_size != NULL &&
	    admin_parse_int(req->max_file_size, 0, MAX_FILE_SIZE_LIMIT,
			    &g->max_file_size) != 0)
		return admin_fail(res, ADMIN_INVALID,
				  "bad --max-file-size '%s'",
				  req->max_file_size);
	return 0;
}

int admin_repo_revision(struct plan_cache *cache, const char *path,
			const char *ref, char *rev, size_t rev_len, char *err,
			size_t err_len)
{
	struct plan_spec spec = {
		.repo_path = path,
		.repo_ref = ref,
		.lua_version = LUAOTA_LUA_51,
	};
	struct plan_manifest *m;
	struct stat sb;
	int rc = -1;

	if (stat(path, &sb) != 0) {
		snprintf(err, err_len, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(sb.st_mode)) {
		snprintf(err, err_len, "%s: not a directory", path);
		return -1;
	}
	/* An empty manifest: opening the source is the whole check. */
	if (plan_manifest_resolve(cache, &spec, &m) != 0) {
		snprintf(err, err_len, "%s", strerror(errno));
		return -1;
	}
	if (m->error != NULL)
		snprintf(err, err_len, "%s", m->error);
	else {
		snprintf(rev, rev_len, "%s", m->revision);
		rc = 0;
	}
	plan_manifest_free(m);
	return rc;
}

/*
 * Finds the repository serving dir at ref, or adds one named after the
 * directory ("lua", then "lua-2", ...).
 */
static int ensure_repo(struct store *st, const char *group, const char *dir,
		       const char *ref, struct store_repo *repo,
		       struct admin_result *res)
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
		return admin_fail(res, ADMIN_FAILED, "out of memory");
	rc = admin_repo_revision(cache, dir, ref, rev, sizeof(rev), err,
				 sizeof(err));
	plan_cache_free(cache);
	if (rc != 0)
		return admin_fail(res, ADMIN_REFUSED, "cannot add group %s: %s",
				  group, err);
	if ((copy = strdup(dir)) == NULL)
		return admin_fail(res, ADMIN_FAILED, "out of memory");
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
		return admin_fail(res, ADMIN_FAILED,
				  "cannot add group %s: repository %s: %s",
				  group, dir, store_errmsg(st));
	return 0;
}

/*
 * Whether arg names a registered repository (repo add): a plain name, no
 * '/', and no ref of its own (the repository has one).
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

/* The repository req->repo names (a registered one, or a directory). */
static int find_repo(struct store *st, const char *verb, const char *group,
		     const struct admin_group_request *req,
		     struct store_repo *repo, struct admin_result *res)
{
	struct stat sb;
	char *dir;
	int rc;

	if (named_repo(st, req->repo, req->ref, repo))
		return 0;
	if ((dir = realpath(req->repo, NULL)) == NULL)
		return admin_fail(res, ADMIN_REFUSED,
				  "cannot %s group %s: %s: %s", verb, group,
				  req->repo, strerror(errno));
	if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
		admin_fail(res, ADMIN_REFUSED,
			   "cannot %s group %s: %s: not a directory", verb,
			   group, dir);
		free(dir);
		return -1;
	}
	rc = ensure_repo(st, group, dir, req->ref, repo, res);
	free(dir);
	return rc;
}

int admin_group_add(struct store *st, const struct admin_group_request *req,
		    struct admin_result *res)
{
	struct store_group_file files[ADMIN_GROUP_FILES_MAX];
	struct store_group g = { .name = (char *)req->name };
	struct store_repo repo = { 0 };
	char *list = NULL;
	int rc = -1;

	if (req->name == NULL || !admin_group_name_valid(req->name))
		return admin_fail(res, ADMIN_INVALID,
				  "bad group name '%.64s' (1 to %d of "
				  "A-Z a-z 0-9 . _ -)",
				  req->name != NULL ? req->name : "",
				  ADMIN_GROUP_NAME_MAX);
	if (req->repo == NULL)
		return admin_fail(res, ADMIN_INVALID, "missing --repo DIR");
	if (req->files == NULL)
		return admin_fail(res, ADMIN_INVALID, "missing --files LIST");
	if (req->ref != NULL && req->ref[0] == '\0')
		return admin_fail(res, ADMIN_INVALID, "empty --ref");
	g.lua_version = LUAOTA_LUA_51;
	if (parse_policy(req, &g, res) != 0)
		return -1;
	if ((list = strdup(req->files)) == NULL)
		return admin_fail(res, ADMIN_FAILED, "out of memory");
	if (parse_files(list, files, &g.nfiles, res) != 0)
		goto out;
	g.files = files;
	if (parse_actions(req, files, g.nfiles, res) != 0 ||
	    parse_config(req->config, &g.config_json, res) != 0 ||
	    find_repo(st, "add", g.name, req, &repo, res) != 0)
		goto out;
	g.repo_id = repo.id;
	g.repo_name = repo.name;
	if (admin_check_config_size(st, -1, g.config_json, NULL, res) != 0)
		goto out;
	switch (store_group_add(st, &g)) {
	case 0:
		res->status = ADMIN_OK;
		res->message[0] = '\0';
		rc = 0;
		break;
	case STORE_EXISTS:
		admin_fail(res, ADMIN_CONFLICT,
			   "cannot add group %s: it already exists", g.name);
		break;
	default:
		admin_fail(res, ADMIN_FAILED, "cannot add group %s: %s", g.name,
			   store_errmsg(st));
	}
out:
	store_repo_free(&repo);
	free(g.config_json);
	free(list);
	return rc;
}

int admin_group_set(struct store *st, const struct admin_group_request *req,
		    struct admin_result *res)
{
	struct store_group_file files[ADMIN_GROUP_FILES_MAX];
	struct store_group_file *old_files;
	const char *name = req->name;
	struct store_group g = { 0 };
	struct store_repo repo = { 0 };
	char *list = NULL, *config = NULL, *old_repo_name;
	size_t old_nfiles;
	int rc = -1;

	if (name == NULL)
		return admin_fail(res, ADMIN_INVALID, "no group given");
	if (req->ref != NULL && req->repo == NULL)
		return admin_fail(res, ADMIN_INVALID,
				  "--ref goes with --repo DIR");
	if (req->ref != NULL && req->ref[0] == '\0')
		return admin_fail(res, ADMIN_INVALID, "empty --ref");
	switch (store_group_get(st, name, &g)) {
	case 0:
		break;
	case STORE_NOTFOUND:
		return admin_fail(res, ADMIN_NOTFOUND,
				  "cannot change group %s: no such group",
				  name);
	default:
		return admin_fail(res, ADMIN_FAILED,
				  "cannot change group %s: %s", name,
				  store_errmsg(st));
	}
	/* A release is the files as pinned: only a rollout moves them. */
	if (g.release != NULL &&
	    (req->repo != NULL || req->files != NULL || req->nactions > 0 ||
	     req->lua != NULL || req->max_file_size != NULL)) {
		admin_fail(res, ADMIN_CONFLICT,
			   "cannot change group %s: it is pinned to %s, and "
			   "what its chips are sent changes only by a "
			   "rollout; unpin it first (luaotactl group unpin "
			   "%s)",
			   name, g.release, name);
		store_group_free(&g);
		return -1;
	}
	old_files = g.files;
	old_nfiles = g.nfiles;
	old_repo_name = g.repo_name;
	if (parse_policy(req, &g, res) != 0)
		goto restore;
	if (req->files != NULL) {
		if ((list = strdup(req->files)) == NULL) {
			admin_fail(res, ADMIN_FAILED, "out of memory");
			goto restore;
		}
		if (parse_files(list, files, &g.nfiles, res) != 0)
			goto restore;
		g.files = files;
	}
	if (parse_actions(req, g.files, g.nfiles, res) != 0)
		goto restore;
	if (req->config != NULL) {
		if (parse_config(req->config, &config, res) != 0)
			goto restore;
		free(g.config_json);
		g.config_json = config;
		config = NULL;
	}
	if (req->repo != NULL) {
		if (find_repo(st, "change", name, req, &repo, res) != 0)
			goto restore;
		g.repo_id = repo.id;
		g.repo_name = NULL;
	}
	if (req->config != NULL &&
	    admin_check_config_size(st, g.id, g.config_json, NULL, res) != 0)
		goto restore;
	if (store_group_update(st, &g) != 0) {
		admin_fail(res, ADMIN_FAILED, "cannot change group %s: %s",
			   name, store_errmsg(st));
	} else {
		res->status = ADMIN_OK;
		res->message[0] = '\0';
		rc = 0;
	}
restore:
	/* The strings parsed from the request are not ours to free. */
	g.files = old_files;
	g.nfiles = old_nfiles;
	g.repo_name = old_repo_name;
	store_group_free(&g);
	store_repo_free(&repo);
	free(config);
	free(list);
	return rc;
}

/* What admin_check_config_size's walk over a group's chips needs. */
struct size_walk {
	int64_t group_id;
	const char *group_config;
	struct admin_result *res;
	int rc;
};

/* One chip's config as it would be pushed: 0, or -1 with why. */
static int chip_fits(const struct store_chip *c, const char *group_config,
		     struct admin_result *res)
{
	char why[256];

	if (policy_chip_config_problem(group_config, c->config_json, c->secret,
				       NULL, why, sizeof(why)) != NULL)
		return admin_fail(res, ADMIN_REFUSED, "chip %s: %s", c->id,
				  why);
	return 0;
}

static int size_walk_chip(const struct store_chip *c, void *arg)
{
	struct size_walk *w = arg;

	if (c->group_id == w->group_id)
		w->rc = chip_fits(c, w->group_config, w->res);
	return w->rc;
}

int admin_check_config_size(struct store *st, int64_t group_id,
			    const char *group_config,
			    const struct store_chip *chip,
			    struct admin_result *res)
{
	struct size_walk w = { group_id, group_config, res, 0 };
	size_t size;

	if (chip != NULL)
		return chip_fits(chip, group_config, res);
	/* With no chip yet, the overrides alone must leave room. */
	size = policy_config_floor(group_config, "");
	if (size > LUAOTA_CONFIG_MAX)
		return admin_fail(res, ADMIN_REFUSED,
				  "the config overrides would make a chip's "
				  "luaOTA/config.json take at least %zu bytes "
				  "(limit %d)",
				  size, LUAOTA_CONFIG_MAX);
	if (store_chip_foreach(st, size_walk_chip, &w) < 0 && w.rc == 0)
		return admin_fail(res, ADMIN_FAILED, "cannot list chips: %s",
				  store_errmsg(st));
	return w.rc;
}
