/* luaotactl import, export, check, backup and status. */
#include "cmd_admin.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "admin/groups.h"
#include "cmd_repo.h"
#include "plan/plan.h"
#include "proto/chipid.h"
#include "proto/protocol.h"

#define STATUS_DEFAULT_WINDOW 900 /* seconds of activity status reports */
#define IMPORT_MAX_FILES 256

enum {
	OPT_JSON = 'j',
	OPT_SECRETS = 'S',
	OPT_SINCE = 's',
};

static const struct option json_options[] = {
	{ "json", no_argument, NULL, OPT_JSON },
	CTL_HELP_OPTION,
	{ NULL, 0, NULL, 0 },
};

static const struct option export_options[] = {
	{ "with-secrets", no_argument, NULL, OPT_SECRETS },
	CTL_HELP_OPTION,
	{ NULL, 0, NULL, 0 },
};

static const struct option status_options[] = {
	{ "json", no_argument, NULL, OPT_JSON },
	{ "since", required_argument, NULL, OPT_SINCE },
	CTL_HELP_OPTION,
	{ NULL, 0, NULL, 0 },
};

static const struct option plain_options[] = {
	CTL_HELP_OPTION,
	{ NULL, 0, NULL, 0 },
};

static const char *action_name(enum store_action a)
{
	return a == STORE_ACTION_DL   ? "dl"
	       : a == STORE_ACTION_CM ? "cm"
				      : "auto";
}

/* --- import ---------------------------------------------------------- */

/* One parsed example-server file: its file list and secret. */
struct legacy_entry {
	char id[LUAOTA_CHIPID_MAX + 1]; /* "" for default.json */
	struct json_object *obj;
	const char *secret;
	struct store_group_file files[IMPORT_MAX_FILES];
	size_t nfiles;
};

/* Reads and checks path into e; 0, or non-zero after printing why. */
static int legacy_read(const char *path, struct legacy_entry *e)
{
	struct json_object *files, *secret;
	const char *problem;
	size_t i, n;

	e->obj = json_object_from_file(path);
	if (e->obj == NULL || !json_object_is_type(e->obj, json_type_object))
		return ctl_error("cannot import %s: not a JSON object", path);
	if (!json_object_object_get_ex(e->obj, "files", &files) ||
	    !json_object_is_type(files, json_type_array))
		return ctl_error("cannot import %s: no \"files\" array", path);
	e->secret = NULL;
	if (json_object_object_get_ex(e->obj, "secret", &secret) &&
	    json_object_is_type(secret, json_type_string))
		e->secret = json_object_get_string(secret);
	n = json_object_array_length(files);
	if (n > IMPORT_MAX_FILES)
		return ctl_error("cannot import %s: more than %d files", path,
				 IMPORT_MAX_FILES);
	for (i = 0; i < n; i++) {
		struct json_object *f = json_object_array_get_idx(files, i);
		const char *name = json_object_get_string(f);

		if (!json_object_is_type(f, json_type_string) ||
		    (problem = plan_name_problem(name)) != NULL)
			return ctl_error(
			    "cannot import %s: file %s: %s", path,
			    json_object_get_string(f),
			    json_object_is_type(f, json_type_string)
				? problem
				: "not a string");
		e->files[i].name = (char *)name;
		e->files[i].action = STORE_ACTION_AUTO;
	}
	e->nfiles = n;
	return 0;
}

/* Whether group g (of repo_id) holds exactly e's files with auto. */
static int same_files(const struct store_group *g, int64_t repo_id,
		      const struct legacy_entry *e)
{
	size_t i;

	if (g->repo_id != repo_id || g->nfiles != e->nfiles ||
	    g->config_json != NULL)
		return 0;
	for (i = 0; i < e->nfiles; i++)
		if (strcmp(g->files[i].name, e->files[i].name) != 0 ||
		    g->files[i].action != STORE_ACTION_AUTO)
			return 0;
	return 1;
}

/*
 * The group serving e's file list from repo_id: an existing one with the
 * same list, else a new one ("default" for default.json, else
 * "imported-N").  Its name into name; non-zero after printing why.
 */
static int import_group(struct store *st, int64_t repo_id,
			const struct legacy_entry *e, char *name, size_t len)
{
	struct store_group *groups = NULL, g = { 0 };
	size_t n = 0, i;
	int rc, k;

	if (store_group_list(st, &groups, &n) != 0)
		return ctl_error("cannot import: %s", store_errmsg(st));
	for (i = 0; i < n; i++) {
		if (same_files(&groups[i], repo_id, e)) {
			snprintf(name, len, "%s", groups[i].name);
			store_group_list_free(groups, n);
			printf("skipped group %s (same files)\n", name);
			return 0;
		}
	}
	store_group_list_free(groups, n);
	g.repo_id = repo_id;
	g.files = (struct store_group_file *)e->files;
	g.nfiles = e->nfiles;
	g.lua_version = LUAOTA_LUA_51;
	rc = STORE_EXISTS;
	for (k = 0; rc == STORE_EXISTS && k < 10000; k++) {
		if (e->id[0] == '\0' && k == 0)
			snprintf(name, len, "default");
		else
			snprintf(name, len, "imported-%d", k + 1);
		g.name = name;
		rc = store_group_add(st, &g);
	}
	if (rc != 0)
		return ctl_error("cannot import group %s: %s", name,
				 store_errmsg(st));
	printf("created group %s (%zu file%s)\n", name, e->nfiles,
	       e->nfiles == 1 ? "" : "s");
	return 0;
}

/* The repository serving dir's working tree, added when missing. */
static int import_repo(struct store *st, const char *dir,
		       struct store_repo *repo)
{
	char *copy, name[80];
	int rc, i;

	if ((rc = store_repo_find(st, dir, NULL, repo)) == 0) {
		printf("skipped repository %s (%s)\n", repo->name, dir);
		return 0;
	}
	if (rc != STORE_NOTFOUND)
		return ctl_error("cannot import: %s", store_errmsg(st));
	if ((copy = strdup(dir)) == NULL)
		return ctl_error("out of memory");
	rc = STORE_EXISTS;
	for (i = 1; rc == STORE_EXISTS && i < 1000; i++) {
		if (i == 1)
			snprintf(name, sizeof(name), "%.64s", basename(copy));
		else
			snprintf(name, sizeof(name), "%.64s-%d", basename(copy),
				 i);
		rc = store_repo_add(st, name, dir, NULL);
	}
	free(copy);
	if (rc != 0 || store_repo_get(st, name, repo) != 0)
		return ctl_error("cannot import repository %s: %s", dir,
				 store_errmsg(st));
	printf("created repository %s (%s)\n", name, dir);
	return 0;
}

/* Imports one ESP-<id>.json or default.json; 0, or non-zero (printed). */
static int import_file(struct store *st, const char *dir, const char *file,
		       const struct store_repo *repo)
{
	struct legacy_entry e;
	char path[4096], group[80];
	size_t len = strlen(file);
	int rc = -1, added;

	memset(e.id, 0, sizeof(e.id));
	if (strcmp(file, "default.json") != 0) {
		if (luaota_chipid_normalize(LUAOTA_JSON_STRING, file + 4,
					    len - 4 - 5, e.id) != 0)
			return ctl_error("cannot import %s: bad chip id", file);
	}
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	if (legacy_read(path, &e) != 0)
		goto out;
	if (e.id[0] != '\0' && (e.secret == NULL || e.secret[0] == '\0')) {
		ctl_error("cannot import %s: no \"secret\"", file);
		goto out;
	}
	if (import_group(st, repo->id, &e, group, sizeof(group)) != 0)
		goto out;
	rc = 0;
	if (e.id[0] == '\0') {
		/* The example server lets any chip sign with the default
		 * secret; luaotad knows each chip and its own secret. */
		if (e.secret != NULL && e.secret[0] != '\0')
			printf(
			    "warning: dropped the secret of %s: luaotad serves "
			    "registered chips only, each with a secret; "
			    "register every chip that used it with "
			    "'luaotactl add CHIPID --group %s --secret -' "
			    "(the secret on standard input)\n",
			    file, group);
		goto out;
	}
	added = store_chip_add(st, e.id, group, e.secret, NULL);
	if (added == 0)
		printf("created chip %s (group %s)\n", e.id, group);
	else if (added == STORE_EXISTS)
		printf("skipped chip %s (already registered)\n", e.id);
	else
		rc = ctl_error("cannot import chip %s: %s", e.id,
			       store_errmsg(st));
out:
	json_object_put(e.obj);
	return rc;
}

/* Example-server file names: ESP-<id>.json and default.json. */
static int legacy_name(const struct dirent *d)
{
	size_t len = strlen(d->d_name);

	if (strcmp(d->d_name, "default.json") == 0)
		return 1;
	return len > 9 && strncmp(d->d_name, "ESP-", 4) == 0 &&
	       strcmp(d->d_name + len - 5, ".json") == 0;
}

static int import(struct ctl *ctl, const struct ctl_args *args)
{
	struct store_repo repo = { 0 };
	struct dirent **names = NULL;
	struct store *st = NULL;
	char *dir;
	int n = 0, i, failures = 0, rc = CTL_EXIT_ERROR;

	if ((dir = realpath(args->argv[0], NULL)) == NULL)
		return ctl_error("cannot import %s: %s", args->argv[0],
				 strerror(errno));
	n = scandir(dir, &names, legacy_name, alphasort);
	if (n < 0) {
		ctl_error("cannot import %s: %s", dir, strerror(errno));
		n = 0;
		goto out;
	}
	if (n == 0) {
		ctl_error("cannot import %s: no ESP-<id>.json or default.json",
			  dir);
		goto out;
	}
	if ((st = ctl_open_store(ctl, STORE_CREATE)) == NULL ||
	    import_repo(st, dir, &repo) != 0)
		goto out;
	for (i = 0; i < n; i++)
		if (import_file(st, dir, names[i]->d_name, &repo) != 0)
			failures++;
	rc = failures > 0 ? CTL_EXIT_ERROR : CTL_EXIT_OK;
out:
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	store_repo_free(&repo);
	store_close(st);
	free(dir);
	return rc;
}

/* --- export ---------------------------------------------------------- */

struct export_ctx {
	struct json_object *chips;
	int secrets;
};

static int export_chip(const struct store_chip *c, void *arg)
{
	struct export_ctx *x = arg;
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "id", json_object_new_string(c->id));
	json_object_object_add(o, "group",
			       json_object_new_string(c->group_name));
	json_object_object_add(
	    o, "label", c->label ? json_object_new_string(c->label) : NULL);
	json_object_object_add(o, "enabled",
			       json_object_new_boolean(c->enabled));
	json_object_object_add(
	    o, "config",
	    c->config_json ? json_tokener_parse(c->config_json) : NULL);
	json_object_object_add(
	    o, "protocol",
	    json_object_new_string(c->protocol == LUAOTA_PROTO_V2 ? "v2"
								  : "legacy"));
	if (x->secrets) {
		json_object_object_add(o, "secret",
				       json_object_new_string(c->secret));
		json_object_object_add(o, "v2_key",
				       c->v2_key != NULL
					   ? json_object_new_string(c->v2_key)
					   : NULL);
	}
	return json_object_array_add(x->chips, o) != 0 ? -1 : 0;
}

static int export(struct ctl *ctl, const struct ctl_args *args)
{
	struct export_ctx x = { .secrets = ctl_arg_has(args, OPT_SECRETS) };
	struct store_repo *repos = NULL;
	struct store_group *groups = NULL;
	struct json_object *root = json_object_new_object(), *a, *o, *files;
	struct store *st;
	size_t nr = 0, ng = 0, i, j;
	int rc = CTL_EXIT_ERROR;

	if ((st = ctl_open_store(ctl, STORE_READONLY)) == NULL) {
		json_object_put(root);
		return CTL_EXIT_ERROR;
	}
	if (store_repo_list(st, &repos, &nr) != 0 ||
	    store_group_list(st, &groups, &ng) != 0) {
		ctl_error("cannot export: %s", store_errmsg(st));
		goto out;
	}
	json_object_object_add(root, "schema",
			       json_object_new_int(store_schema_version(st)));
	a = json_object_new_array();
	for (i = 0; i < nr; i++) {
		o = json_object_new_object();
		json_object_object_add(o, "name",
				       json_object_new_string(repos[i].name));
		json_object_object_add(o, "path",
				       json_object_new_string(repos[i].path));
		json_object_object_add(
		    o, "ref",
		    repos[i].ref ? json_object_new_string(repos[i].ref) : NULL);
		json_object_array_add(a, o);
	}
	json_object_object_add(root, "repositories", a);
	a = json_object_new_array();
	for (i = 0; i < ng; i++) {
		o = json_object_new_object();
		files = json_object_new_array();
		for (j = 0; j < groups[i].nfiles; j++) {
			struct json_object *f = json_object_new_object();

			json_object_object_add(
			    f, "name",
			    json_object_new_string(groups[i].files[j].name));
			json_object_object_add(
			    f, "action",
			    json_object_new_string(
				action_name(groups[i].files[j].action)));
			json_object_array_add(files, f);
		}
		json_object_object_add(o, "name",
				       json_object_new_string(groups[i].name));
		json_object_object_add(
		    o, "repository",
		    json_object_new_string(groups[i].repo_name));
		json_object_object_add(o, "files", files);
		json_object_object_add(
		    o, "config",
		    groups[i].config_json
			? json_tokener_parse(groups[i].config_json)
			: NULL);
		json_object_object_add(
		    o, "max_file_size",
		    json_object_new_int64(groups[i].max_file_size));
		json_object_object_add(o, "lua",
				       json_object_new_string(LUAOTA_LUA_NAME(
					   groups[i].lua_version)));
		json_object_array_add(a, o);
	}
	json_object_object_add(root, "groups", a);
	x.chips = json_object_new_array();
	json_object_object_add(root, "chips", x.chips);
	if (store_chip_foreach(st, export_chip, &x) != 0) {
		ctl_error("cannot export: %s", store_errmsg(st));
		goto out;
	}
	ctl_print_json(root);
	rc = CTL_EXIT_OK;
out:
	json_object_put(root);
	store_repo_list_free(repos, nr);
	store_group_list_free(groups, ng);
	store_close(st);
	return rc;
}

/* --- check ----------------------------------------------------------- */

struct check_ctx {
	struct json_object *problems; /* array of strings */
	int json;
	const struct store_group *groups; /* for the chips' overrides */
	size_t ngroups;
	size_t chips; /* chips checked */
	struct store *st;
};

static void problem(struct check_ctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Notes one problem: on stdout (or in the JSON list). */
static void problem(struct check_ctx *c, const char *fmt, ...)
{
	char text[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	json_object_array_add(c->problems, json_object_new_string(text));
	if (!c->json)
		printf("problem: %s\n", text);
}

/* Resolves group g as the daemon would: files present, .lua compiles. */
static void check_group(struct check_ctx *c, struct plan_cache *cache,
			const struct policy_settings *settings,
			const struct store_group *g, const struct store_repo *r)
{
	struct plan_manifest *m = NULL;
	struct policy_group pg;

	char why[256];

	if (policy_group_spec(g, r, settings, 0, &pg) != 0) {
		problem(c, "group %s: out of memory", g->name);
		return;
	}
	/* A pinned group is checked at the release it serves. */
	if (policy_group_pin(&pg, c->st, g, r, NULL, why, sizeof(why)) != 0) {
		problem(c, "group %s: %s", g->name, why);
		policy_group_free(&pg);
		return;
	}
	if (plan_manifest_resolve(cache, &pg.spec, &m) != 0)
		problem(c, "group %s: %s", g->name, strerror(errno));
	else if (m->error != NULL)
		problem(c, "group %s: %s", g->name, m->error);
	else if (!c->json)
		printf("ok: group %s (%zu file%s at %s)\n", g->name, m->nfiles,
		       m->nfiles == 1 ? "" : "s", m->revision);
	plan_manifest_free(m);
	policy_group_free(&pg);
}

/* A chip's config as a restart would push it: bootable, and it fits. */
static int check_chip(const struct store_chip *chip, void *arg)
{
	struct check_ctx *c = arg;
	const char *group_config = NULL;
	char why[256];
	size_t i;

	c->chips++;
	for (i = 0; i < c->ngroups; i++)
		if (c->groups[i].id == chip->group_id)
			group_config = c->groups[i].config_json;
	if (policy_chip_config_problem(group_config, chip->config_json,
				       chip->secret, NULL, why,
				       sizeof(why)) != NULL)
		problem(c, "chip %s: %s", chip->id, why);
	return 0;
}

static int check(struct ctl *ctl, const struct ctl_args *args)
{
	struct check_ctx c = { .json = ctl_arg_has(args, OPT_JSON) };
	const struct policy_settings *settings;
	struct store_repo *repos = NULL, *r;
	struct store_group *groups = NULL;
	struct plan_cache *cache = plan_cache_new();
	struct json_object *root = NULL;
	struct store *st = NULL;
	char *report = NULL, rev[PLAN_REVISION_MAX], err[512];
	size_t nr = 0, ng = 0, i, j, count;
	int rc = CTL_EXIT_ERROR;

	c.problems = json_object_new_array();
	if ((settings = ctl_settings(ctl)) == NULL ||
	    (st = ctl_open_store(ctl, STORE_READONLY)) == NULL)
		goto out;
	if (cache == NULL || c.problems == NULL) {
		ctl_error("out of memory");
		goto out;
	}
	c.st = st;
	if (store_integrity_check(st, &report) != 0) {
		ctl_error("cannot check the database: %s", store_errmsg(st));
		goto out;
	}
	if (strcmp(report, "ok\n") != 0)
		problem(&c, "database: %s", report);
	else if (!c.json)
		printf("ok: database integrity\n");
	if (store_repo_list(st, &repos, &nr) != 0 ||
	    store_group_list(st, &groups, &ng) != 0) {
		ctl_error("cannot check: %s", store_errmsg(st));
		goto out;
	}
	for (i = 0; i < nr; i++) {
		if (admin_repo_revision(cache, repos[i].path, repos[i].ref, rev,
					sizeof(rev), err, sizeof(err)) != 0)
			problem(&c, "repository %s: %s", repos[i].name, err);
		else if (!c.json)
			printf("ok: repository %s at %s\n", repos[i].name, rev);
	}
	for (i = 0; i < ng; i++) {
		for (j = 0, r = NULL; j < nr; j++)
			if (repos[j].id == groups[i].repo_id)
				r = &repos[j];
		if (r != NULL)
			check_group(&c, cache, settings, &groups[i], r);
	}
	c.groups = groups;
	c.ngroups = ng;
	count = json_object_array_length(c.problems);
	if (store_chip_foreach(st, check_chip, &c) != 0) {
		ctl_error("cannot check: %s", store_errmsg(st));
		goto out;
	}
	if (!c.json && json_object_array_length(c.problems) == count)
		printf("ok: config of %zu chip%s checked\n", c.chips,
		       c.chips == 1 ? "" : "s");
	count = json_object_array_length(c.problems);
	if (c.json) {
		root = json_object_new_object();
		json_object_object_add(root, "ok",
				       json_object_new_boolean(count == 0));
		json_object_object_add(root, "problems",
				       json_object_get(c.problems));
		ctl_print_json(root);
	}
	rc = count == 0 ? CTL_EXIT_OK : CTL_EXIT_ERROR;
	if (count > 0)
		ctl_error("check found %zu problem%s", count,
			  count == 1 ? "" : "s");
out:
	json_object_put(root);
	json_object_put(c.problems);
	store_group_list_free(groups, ng);
	store_repo_list_free(repos, nr);
	plan_cache_free(cache);
	free(report);
	store_close(st);
	return rc;
}

/* --- backup ---------------------------------------------------------- */

static int backup(struct ctl *ctl, const struct ctl_args *args)
{
	const char *path = args->argv[0];
	struct store *st;
	struct stat sb;
	int rc = CTL_EXIT_OK;

	/* Never overwrite: a backup over the live database would be fatal. */
	if (lstat(path, &sb) == 0)
		return ctl_error("cannot back up to %s: it exists", path);
	if ((st = ctl_open_store(ctl, STORE_READONLY)) == NULL)
		return CTL_EXIT_ERROR;
	if (store_backup(st, path) != 0) {
		rc = ctl_error("cannot back up to %s: %s", path,
			       store_errmsg(st));
		unlink(path);
	}
	store_close(st);
	return rc;
}

/* --- status ---------------------------------------------------------- */

struct status_ctx {
	int64_t chips, enabled, failing, last_seen;
	char last_chip[LUAOTA_CHIPID_MAX + 1];
};

static int status_chip(const struct store_chip *c, void *arg)
{
	struct status_ctx *s = arg;

	s->chips++;
	s->enabled += c->enabled != 0;
	if (c->last_outcome != NULL &&
	    (strcmp(c->last_outcome, "failed") == 0 ||
	     strcmp(c->last_outcome, "rejected") == 0 ||
	     strcmp(c->last_outcome, "interrupted") == 0))
		s->failing++;
	if (c->last_seen > s->last_seen) {
		s->last_seen = c->last_seen;
		snprintf(s->last_chip, sizeof(s->last_chip), "%s", c->id);
	}
	return 0;
}

static int status(struct ctl *ctl, const struct ctl_args *args)
{
	const char *since_arg = ctl_arg_get(args, OPT_SINCE);
	struct status_ctx s = { 0 };
	struct store_session_filter f = { 0 };
	struct store_session *rows = NULL;
	int64_t since = (int64_t)time(NULL) - STATUS_DEFAULT_WINDOW;
	int64_t by_outcome[STORE_OUTCOME_INTERRUPTED + 1] = { 0 };
	struct json_object *o = NULL, *outcomes;
	struct store *st;
	char when[32];
	size_t n = 0, i;
	int rc = CTL_EXIT_ERROR;

	if (since_arg != NULL && ctl_parse_time(since_arg, &since) != 0)
		return ctl_usage_error(ctl, "bad --since '%s'", since_arg);
	if ((st = ctl_open_store(ctl, STORE_READONLY)) == NULL)
		return CTL_EXIT_ERROR;
	f.since_ms = since * 1000;
	if (store_chip_foreach(st, status_chip, &s) != 0 ||
	    store_session_query(st, &f, &rows, &n) != 0) {
		ctl_error("cannot read the status: %s", store_errmsg(st));
		goto out;
	}
	for (i = 0; i < n; i++)
		if ((unsigned)rows[i].outcome <= STORE_OUTCOME_INTERRUPTED)
			by_outcome[rows[i].outcome]++;
	ctl_format_time(since, when, sizeof(when));
	if (ctl_arg_has(args, OPT_JSON)) {
		o = json_object_new_object();
		json_object_object_add(o, "since",
				       json_object_new_string(when));
		json_object_object_add(o, "chips",
				       json_object_new_int64(s.chips));
		json_object_object_add(o, "enabled",
				       json_object_new_int64(s.enabled));
		json_object_object_add(o, "failing",
				       json_object_new_int64(s.failing));
		json_object_object_add(o, "sessions",
				       json_object_new_int64((int64_t)n));
		json_object_object_add(
		    o, "open",
		    json_object_new_int64(by_outcome[STORE_OUTCOME_STARTED]));
		outcomes = json_object_new_object();
		for (i = 1; i <= STORE_OUTCOME_INTERRUPTED; i++)
			json_object_object_add(
			    outcomes, store_outcome_name((enum store_outcome)i),
			    json_object_new_int64(by_outcome[i]));
		json_object_object_add(o, "outcomes", outcomes);
		ctl_format_time(s.last_seen, when, sizeof(when));
		json_object_object_add(
		    o, "last_checkin",
		    s.last_seen ? json_object_new_string(when) : NULL);
		json_object_object_add(
		    o, "last_chip",
		    s.last_seen ? json_object_new_string(s.last_chip) : NULL);
		ctl_print_json(o);
	} else {
		printf("chips:        %" PRId64 " (%" PRId64
		       " enabled, %" PRId64 " failing)\n",
		       s.chips, s.enabled, s.failing);
		printf("since %s: %zu sessions, %" PRId64 " open;", when, n,
		       by_outcome[STORE_OUTCOME_STARTED]);
		for (i = 1; i <= STORE_OUTCOME_INTERRUPTED; i++)
			printf(" %s %" PRId64,
			       store_outcome_name((enum store_outcome)i),
			       by_outcome[i]);
		printf("\n");
		if (s.last_seen != 0) {
			ctl_format_time(s.last_seen, when, sizeof(when));
			printf("last check-in: %s (chip %s)\n", when,
			       s.last_chip);
		} else {
			printf("last check-in: never\n");
		}
	}
	rc = CTL_EXIT_OK;
out:
	json_object_put(o);
	store_session_list_free(rows, n);
	store_close(st);
	return rc;
}

const struct ctl_cmd cmd_import_entry = {
	.name = "import",
	.usage = "DIR",
	.summary = "migrate an example-server directory (ESP-<id>.json, "
		   "default.json): DIR becomes a repository, each distinct "
		   "file list a group, each ESP file a chip; idempotent",
	.optstring = "h",
	.options = plain_options,
	.min_args = 1,
	.max_args = 1,
	.handler = import,
};

const struct ctl_cmd cmd_export_entry = {
	.name = "export",
	.usage = "[--with-secrets]",
	.summary = "the inventory (repositories, groups, chips) as JSON; "
		   "secrets only with --with-secrets",
	.optstring = "h",
	.options = export_options,
	.min_args = 0,
	.max_args = 0,
	.handler = export,
};

const struct ctl_cmd cmd_check_entry = {
	.name = "check",
	.usage = "[--json]",
	.summary = "database integrity, every repository and ref, every "
		   "manifest file present and every .lua compiling; exit 1 "
		   "on any problem",
	.optstring = "h",
	.options = json_options,
	.min_args = 0,
	.max_args = 0,
	.handler = check,
};

const struct ctl_cmd cmd_backup_entry = {
	.name = "backup",
	.usage = "FILE",
	.summary = "copy the database to a new FILE, consistent while the "
		   "daemon runs",
	.optstring = "h",
	.options = plain_options,
	.min_args = 1,
	.max_args = 1,
	.handler = backup,
};

const struct ctl_cmd cmd_status_entry = {
	.name = "status",
	.usage = "[--since TIME] [--json]",
	.summary = "from the database: chips, sessions since TIME (default "
		   "the last 15 minutes) by outcome, open ones, last check-in",
	.optstring = "h",
	.options = status_options,
	.min_args = 0,
	.max_args = 0,
	.handler = status,
};
