/* luaotactl diff and reprovision: a chip's next check-in, previewed. */
#include "cmd_diff.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "preview.h"
#include "proto/chipid.h"

enum {
	OPT_GROUP = 'g',
	OPT_JSON = 'j',
};

static const struct option diff_options[] = {
	{ "group", required_argument, NULL, OPT_GROUP },
	{ "json", no_argument, NULL, OPT_JSON },
	CTL_HELP_OPTION,
	{ NULL, 0, NULL, 0 },
};

static const struct option reprovision_options[] = {
	{ "group", required_argument, NULL, OPT_GROUP },
	CTL_HELP_OPTION,
	{ NULL, 0, NULL, 0 },
};

/* Walks the chips one diff or reprovision concerns. */
struct walk {
	struct store *st;
	struct plan_cache *cache;
	const struct policy_settings *settings;
	const char *group; /* NULL: the one chip */
	struct json_object *array;
	int failures;
	int matched;
	int reprovision;
};

static const char *action_text(enum plan_action a)
{
	return a == PLAN_CM ? "cm" : "dl";
}

/* The preview as JSON (steps, bytes, records, fits). */
static struct json_object *preview_json(const struct store_chip *c,
					const struct ctl_preview *p)
{
	struct json_object *o = json_object_new_object(), *send, *del;
	const struct plan_manifest *m = p->manifest;
	const char *error;
	char lc[64];
	size_t i;

	send = json_object_new_array();
	del = json_object_new_array();
	json_object_object_add(o, "chip", json_object_new_string(c->id));
	json_object_object_add(o, "group",
			       json_object_new_string(c->group_name));
	json_object_object_add(o, "revision",
			       json_object_new_string(m->revision));
	error = m->error != NULL ? m->error
		: p->current	 ? NULL
				 : p->config_error;
	json_object_object_add(o, "error",
			       error ? json_object_new_string(error) : NULL);
	json_object_object_add(o, "config_bytes_min",
			       json_object_new_int64((int64_t)p->config_floor));
	json_object_object_add(o, "current",
			       json_object_new_boolean(p->current));
	json_object_object_add(o, "resend_all",
			       json_object_new_boolean(!p->trusted));
	for (i = 0; i < p->steps.nsend; i++) {
		const struct plan_file *f = &m->files[p->steps.send[i]];
		struct json_object *s = json_object_new_object();

		json_object_object_add(s, "name",
				       json_object_new_string(f->name));
		json_object_object_add(
		    s, "action",
		    json_object_new_string(action_text(f->action)));
		json_object_object_add(s, "bytes",
				       json_object_new_int64((int64_t)f->len));
		if (f->action == PLAN_CM &&
		    plan_device_name(f->name, f->action, lc, sizeof(lc)) == 0)
			json_object_object_add(s, "compiles_to",
					       json_object_new_string(lc));
		json_object_array_add(send, s);
	}
	for (i = 0; i < p->steps.nremove; i++)
		json_object_array_add(
		    del, json_object_new_string(p->steps.remove[i]));
	json_object_object_add(o, "send", send);
	json_object_object_add(o, "delete", del);
	json_object_object_add(o, "config",
			       !p->current && m->error == NULL &&
				       p->overrides != NULL
				   ? json_tokener_parse(p->overrides)
				   : NULL);
	json_object_object_add(o, "bytes",
			       json_object_new_int64((int64_t)p->steps.bytes));
	json_object_object_add(o, "records", json_object_new_int64(p->records));
	json_object_object_add(o, "session_max_bytes",
			       json_object_new_int64(p->session_max));
	json_object_object_add(o, "fits_one_session",
			       json_object_new_boolean(p->fits || p->current));
	return o;
}

static void preview_human(const struct store_chip *c,
			  const struct ctl_preview *p)
{
	const struct plan_manifest *m = p->manifest;
	char lc[64];
	size_t i;

	printf("chip %s (group %s, revision %s)\n", c->id, c->group_name,
	       m->revision);
	if (m->error != NULL) {
		printf("  nothing can be sent: %s\n", m->error);
		return;
	}
	if (p->current) {
		printf("  current: the next boot gets OK!\n");
		return;
	}
	if (p->config_error != NULL) {
		printf("  nothing can be sent: %s\n", p->config_error);
		return;
	}
	if (!p->trusted)
		printf("  resends every file (no recorded chk to trust)\n");
	for (i = 0; i < p->steps.nsend; i++) {
		const struct plan_file *f = &m->files[p->steps.send[i]];

		if (f->action == PLAN_CM &&
		    plan_device_name(f->name, f->action, lc, sizeof(lc)) == 0)
			printf("  send     %-31s  cm  %zu bytes (compiled to "
			       "%s)\n",
			       f->name, f->len, lc);
		else
			printf("  send     %-31s  dl  %zu bytes\n", f->name,
			       f->len);
	}
	for (i = 0; i < p->steps.nremove; i++)
		printf("  delete   %s\n", p->steps.remove[i]);
	printf("  config   %s (at least %zu of %d bytes on the device)\n",
	       p->overrides != NULL ? p->overrides : "(the device's own)",
	       p->config_floor, LUAOTA_CONFIG_MAX);
	printf("  total    %zu file%s, %llu bytes, %lld records; fits one "
	       "session: %s\n",
	       p->steps.nsend, p->steps.nsend == 1 ? "" : "s",
	       (unsigned long long)p->steps.bytes, (long long)p->records,
	       p->fits ? "yes" : "no, continues over several boots");
}

/* A v2 chip: the release its next boot gets; the device fetches only the
 * files whose hash it lacks, so there are no per-file steps here. */
static struct json_object *preview_v2_json(const struct store_chip *c,
					   const struct ctl_preview *p)
{
	struct json_object *o = json_object_new_object();
	const char *error =
	    p->manifest->error ? p->manifest->error : p->release_error;

	json_object_object_add(o, "chip", json_object_new_string(c->id));
	json_object_object_add(o, "group",
			       json_object_new_string(c->group_name));
	json_object_object_add(o, "protocol", json_object_new_int(2));
	json_object_object_add(o, "revision",
			       json_object_new_string(p->manifest->revision));
	json_object_object_add(o, "error",
			       error ? json_object_new_string(error) : NULL);
	json_object_object_add(o, "current",
			       json_object_new_boolean(p->current));
	json_object_object_add(o, "latest_release",
			       json_object_new_int64(p->latest_rc));
	json_object_object_add(
	    o, "release",
	    error == NULL ? json_object_new_int64(p->release.rc) : NULL);
	json_object_object_add(
	    o, "manifest",
	    error == NULL ? json_tokener_parse(p->release.text) : NULL);
	return o;
}

static void preview_v2_human(const struct store_chip *c,
			     const struct ctl_preview *p)
{
	const struct plan_manifest *m = p->manifest;
	struct json_object *del = p->release.del;
	size_t i, bytes = 0;

	printf("chip %s (group %s, revision %s, protocol v2)\n", c->id,
	       c->group_name, m->revision);
	if (m->error != NULL || p->release_error != NULL) {
		printf("  nothing can be sent: %s\n",
		       m->error ? m->error : p->release_error);
		return;
	}
	if (p->current) {
		printf("  current: release %lld holds today's files\n",
		       (long long)p->release.rc);
		return;
	}
	printf("  release  %lld (the chip's newest is %lld); the device "
	       "fetches the files it lacks\n",
	       (long long)p->release.rc, (long long)p->latest_rc);
	for (i = 0; i < m->nfiles; i++) {
		printf("  file     %-31s  %s  %zu bytes  sha256 %.16s\n",
		       m->files[i].name, action_text(m->files[i].action),
		       m->files[i].len, m->files[i].hash);
		bytes += m->files[i].len;
	}
	for (i = 0; i < json_object_array_length(del); i++)
		printf(
		    "  delete   %s\n",
		    json_object_get_string(json_object_array_get_idx(del, i)));
	printf("  config   %s", json_object_to_json_string_ext(
				    p->release.cfg, JSON_C_TO_STRING_PLAIN));
	if (json_object_array_length(p->release.secret) > 0)
		printf(" + encrypted %s",
		       json_object_to_json_string_ext(p->release.secret,
						      JSON_C_TO_STRING_PLAIN));
	printf("\n  total    %zu file%s, %zu bytes at most\n", m->nfiles,
	       m->nfiles == 1 ? "" : "s", bytes);
}

static int diff_chip(const struct store_chip *c, void *arg)
{
	struct walk *w = arg;
	struct ctl_preview p;
	char err[512];

	if (w->group != NULL && strcmp(c->group_name, w->group) != 0)
		return 0;
	w->matched++;
	if (ctl_preview_chip(w->st, w->cache, w->settings, c, &p, err,
			     sizeof(err)) != 0) {
		ctl_error("cannot preview chip %s: %s", c->id, err);
		w->failures++;
		return 0;
	}
	if (p.manifest->error != NULL || p.release_error != NULL ||
	    (p.config_error != NULL && !p.current))
		w->failures++;
	if (w->array != NULL)
		json_object_array_add(w->array, p.v2 ? preview_v2_json(c, &p)
						     : preview_json(c, &p));
	else if (p.v2)
		preview_v2_human(c, &p);
	else
		preview_human(c, &p);
	ctl_preview_free(&p);
	return 0;
}

/* Checks the CHIPID|--group choice; *id gets the normalised chip id. */
static int chip_or_group(const struct ctl *ctl, const struct ctl_args *args,
			 char id[LUAOTA_CHIPID_MAX + 1])
{
	const char *group = ctl_arg_get(args, OPT_GROUP);

	if ((group == NULL) == (args->argc == 0))
		return ctl_usage_error(ctl, "name a CHIPID or --group NAME");
	if (args->argc == 1 &&
	    luaota_chipid_normalize(LUAOTA_JSON_STRING, args->argv[0],
				    strlen(args->argv[0]), id) != 0)
		return ctl_usage_error(ctl, "bad chip id '%s'", args->argv[0]);
	return CTL_EXIT_OK;
}

/* Whether group names an existing group (error printed when not). */
static int group_exists(struct store *st, const char *group)
{
	struct store_group g;
	int rc = store_group_get(st, group, &g);

	store_group_free(&g);
	if (rc == STORE_NOTFOUND)
		ctl_error("no such group: %s", group);
	else if (rc != 0)
		ctl_error("cannot read group %s: %s", group, store_errmsg(st));
	return rc == 0;
}

static int diff(struct ctl *ctl, const struct ctl_args *args)
{
	struct walk w = { .group = ctl_arg_get(args, OPT_GROUP) };
	char id[LUAOTA_CHIPID_MAX + 1];
	struct store_chip chip;
	int rc;

	if ((rc = chip_or_group(ctl, args, id)) != CTL_EXIT_OK)
		return rc;
	if ((w.st = ctl_open_store(ctl, STORE_READONLY)) == NULL)
		return CTL_EXIT_ERROR;
	rc = CTL_EXIT_ERROR;
	if ((w.settings = ctl_settings(ctl)) == NULL)
		goto out;
	if ((w.cache = plan_cache_new()) == NULL) {
		ctl_error("out of memory");
		goto out;
	}
	if (ctl_arg_has(args, OPT_JSON))
		w.array = json_object_new_array();
	if (w.group != NULL) {
		if (!group_exists(w.st, w.group))
			goto out;
		if (store_chip_foreach(w.st, diff_chip, &w) != 0) {
			ctl_error("cannot list chips: %s", store_errmsg(w.st));
			goto out;
		}
	} else {
		switch (store_chip_get(w.st, id, &chip)) {
		case 0:
			diff_chip(&chip, &w);
			store_chip_free(&chip);
			break;
		case STORE_NOTFOUND:
			ctl_error("cannot diff chip %s: no such chip", id);
			goto out;
		default:
			ctl_error("cannot diff chip %s: %s", id,
				  store_errmsg(w.st));
			goto out;
		}
	}
	if (w.array != NULL)
		printf("%s\n",
		       json_object_to_json_string_ext(
			   w.array, JSON_C_TO_STRING_PRETTY |
					JSON_C_TO_STRING_NOSLASHESCAPE));
	rc = w.failures > 0 ? CTL_EXIT_ERROR : CTL_EXIT_OK;
out:
	json_object_put(w.array);
	plan_cache_free(w.cache);
	store_close(w.st);
	return rc;
}

/* Collects the ids of a group's chips (reprovision writes after reading). */
struct ids {
	const char *group;
	char **ids;
	size_t n;
};

static int collect_id(const struct store_chip *c, void *arg)
{
	struct ids *ids = arg;
	char **grown;

	if (strcmp(c->group_name, ids->group) != 0)
		return 0;
	grown = reallocarray(ids->ids, ids->n + 1, sizeof(*grown));
	if (grown == NULL)
		return -1;
	ids->ids = grown;
	if ((grown[ids->n] = strdup(c->id)) == NULL)
		return -1;
	ids->n++;
	return 0;
}

static int reprovision(struct ctl *ctl, const struct ctl_args *args)
{
	struct ids ids = { .group = ctl_arg_get(args, OPT_GROUP) };
	char id[LUAOTA_CHIPID_MAX + 1];
	struct store *st;
	size_t i;
	int rc, r;

	if ((rc = chip_or_group(ctl, args, id)) != CTL_EXIT_OK)
		return rc;
	if ((st = ctl_open_store(ctl, 0)) == NULL)
		return CTL_EXIT_ERROR;
	if (ids.group == NULL) {
		r = store_chip_reprovision(st, id);
		if (r == STORE_NOTFOUND)
			rc = ctl_error("cannot reprovision chip %s: no such "
				       "chip",
				       id);
		else if (r != 0)
			rc = ctl_error("cannot reprovision chip %s: %s", id,
				       store_errmsg(st));
		goto out;
	}
	if (!group_exists(st, ids.group)) {
		rc = CTL_EXIT_ERROR;
		goto out;
	}
	if (store_chip_foreach(st, collect_id, &ids) != 0) {
		rc = ctl_error("cannot list chips: %s", store_errmsg(st));
		goto out;
	}
	for (i = 0; i < ids.n; i++) {
		if (store_chip_reprovision(st, ids.ids[i]) != 0)
			rc = ctl_error("cannot reprovision chip %s: %s",
				       ids.ids[i], store_errmsg(st));
	}
	printf("%zu chip%s will be sent every file at their next boot\n", ids.n,
	       ids.n == 1 ? "" : "s");
out:
	for (i = 0; i < ids.n; i++)
		free(ids.ids[i]);
	free(ids.ids);
	store_close(st);
	return rc;
}

const struct ctl_cmd cmd_diff_entry = {
	.name = "diff",
	.usage = "CHIPID|--group NAME [--json]",
	.summary = "what the next boot would send, compile, delete and "
		   "reconfigure, with byte counts (exit 1 when a manifest "
		   "cannot be sent)",
	.optstring = "h",
	.options = diff_options,
	.min_args = 0,
	.max_args = 1,
	.handler = diff,
};

const struct ctl_cmd cmd_reprovision_entry = {
	.name = "reprovision",
	.usage = "CHIPID|--group NAME",
	.summary = "make the next boot resend every file, whatever the "
		   "device reports",
	.optstring = "h",
	.options = reprovision_options,
	.min_args = 0,
	.max_args = 1,
	.handler = reprovision,
};
