/*
 * The JSON views of the inventory that luaotactl --json prints and
 * luaotad's HTTP API answers with: one shape for both.  Secrets never
 * appear in them.
 */
#include "views.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "admin.h"
#include "proto/protocol.h"

/* A JSON string, or null for NULL. */
struct json_object *admin_json_text(const char *text)
{
	return text != NULL ? json_object_new_string(text) : NULL;
}

/* ISO 8601 of a Unix time, or null for 0 (never). */
struct json_object *admin_json_time(int64_t seconds)
{
	char when[32];

	if (seconds == 0)
		return NULL;
	admin_format_time(seconds, when, sizeof(when));
	return json_object_new_string(when);
}

int admin_outcome_failing(const char *outcome)
{
	return outcome != NULL && (strcmp(outcome, "failed") == 0 ||
				   strcmp(outcome, "rejected") == 0 ||
				   strcmp(outcome, "interrupted") == 0);
}

int admin_chip_wanted(const struct admin_chip_filter *f,
		      const struct store_chip *c)
{
	if (f->group != NULL && strcmp(c->group_name, f->group) != 0)
		return 0;
	/* Never seen (0) counts as silent, however far back the cutoff. */
	if (f->silent && c->last_seen != 0 && c->last_seen >= f->seen_before)
		return 0;
	return !f->failing || admin_outcome_failing(c->last_outcome);
}

/* One chip as JSON; the secret is left out. */
struct json_object *admin_chip_json(const struct store_chip *c)
{
	struct json_object *o = json_object_new_object();

	if (o == NULL)
		return NULL;
	json_object_object_add(o, "id", admin_json_text(c->id));
	json_object_object_add(o, "label", admin_json_text(c->label));
	json_object_object_add(o, "group", admin_json_text(c->group_name));
	json_object_object_add(o, "enabled",
			       json_object_new_boolean(c->enabled));
	json_object_object_add(o, "protocol", json_object_new_int(c->protocol));
	json_object_object_add(o, "created", admin_json_time(c->created));
	json_object_object_add(o, "first_seen", admin_json_time(c->first_seen));
	json_object_object_add(o, "last_seen", admin_json_time(c->last_seen));
	json_object_object_add(o, "last_address",
			       admin_json_text(c->last_addr));
	json_object_object_add(o, "last_outcome",
			       admin_json_text(c->last_outcome));
	json_object_object_add(o, "revision", admin_json_text(c->revision));
	json_object_object_add(o, "chk", admin_json_text(c->chk));
	json_object_object_add(
	    o, "config",
	    c->config_json != NULL ? json_tokener_parse(c->config_json) : NULL);
	return o;
}

const char *admin_action_name(enum store_action a)
{
	return a == STORE_ACTION_DL   ? "dl"
	       : a == STORE_ACTION_CM ? "cm"
				      : "auto";
}

/* One group as a JSON object, with its chip count. */
struct json_object *admin_group_json(const struct store_group *g,
				     const struct store_repo *repo,
				     int64_t chips)
{
	struct json_object *o = json_object_new_object(), *files, *cfg = NULL;
	size_t i;

	if (o == NULL)
		return NULL;
	files = json_object_new_array();
	for (i = 0; files != NULL && i < g->nfiles; i++) {
		struct json_object *f = json_object_new_object();

		json_object_object_add(
		    f, "name", json_object_new_string(g->files[i].name));
		json_object_object_add(f, "action",
				       json_object_new_string(admin_action_name(
					   g->files[i].action)));
		json_object_array_add(files, f);
	}
	if (g->config_json != NULL)
		cfg = json_tokener_parse(g->config_json);
	json_object_object_add(o, "name", json_object_new_string(g->name));
	json_object_object_add(o, "repository",
			       json_object_new_string(g->repo_name));
	json_object_object_add(o, "path",
			       repo != NULL && repo->path != NULL
				   ? json_object_new_string(repo->path)
				   : NULL);
	json_object_object_add(o, "ref",
			       repo != NULL && repo->ref != NULL
				   ? json_object_new_string(repo->ref)
				   : NULL);
	json_object_object_add(o, "files", files);
	json_object_object_add(o, "config", cfg);
	json_object_object_add(o, "max_file_size",
			       json_object_new_int64(g->max_file_size));
	json_object_object_add(
	    o, "lua", json_object_new_string(LUAOTA_LUA_NAME(g->lua_version)));
	json_object_object_add(o, "chips", json_object_new_int64(chips));
	json_object_object_add(
	    o, "release",
	    g->release != NULL ? json_object_new_string(g->release) : NULL);
	return o;
}

/* The per-file rows of one session, as a JSON array; NULL on failure. */
static struct json_object *json_files(struct store *st, int64_t session_id)
{
	struct store_session_file *files;
	struct json_object *array;
	size_t i, n;

	if (store_session_files(st, session_id, &files, &n) != 0)
		return NULL;
	if ((array = json_object_new_array()) == NULL)
		goto out;
	for (i = 0; i < n; i++) {
		struct json_object *o = json_object_new_object();

		if (o == NULL || json_object_array_add(array, o) != 0) {
			json_object_put(o);
			json_object_put(array);
			array = NULL;
			goto out;
		}
		json_object_object_add(o, "name",
				       admin_json_text(files[i].name));
		json_object_object_add(o, "action",
				       admin_json_text(files[i].action));
		json_object_object_add(o, "bytes",
				       json_object_new_int64(files[i].bytes));
		json_object_object_add(o, "result",
				       admin_json_text(files[i].result));
		json_object_object_add(
		    o, "lcsize",
		    files[i].lcsize >= 0
			? json_object_new_int64(files[i].lcsize)
			: NULL);
	}
out:
	store_session_files_free(files, n);
	return array;
}

/* One session as a JSON object, with its files; NULL on failure. */
struct json_object *admin_session_json(struct store *st,
				       const struct store_session *s)
{
	struct json_object *o = json_object_new_object(), *files;
	char when[40];

	if (o == NULL)
		return NULL;
	if ((files = json_files(st, s->id)) == NULL) {
		json_object_put(o);
		return NULL;
	}
	admin_format_ms(s->started_ms, when, sizeof(when));
	json_object_object_add(o, "id", json_object_new_int64(s->id));
	json_object_object_add(o, "time", json_object_new_string(when));
	json_object_object_add(o, "chip", admin_json_text(s->chip_id));
	json_object_object_add(o, "peer", admin_json_text(s->peer));
	json_object_object_add(
	    o, "outcome",
	    json_object_new_string(store_outcome_name(s->outcome)));
	json_object_object_add(o, "reason", admin_json_text(s->reason));
	json_object_object_add(o, "revision", admin_json_text(s->revision));
	json_object_object_add(o, "files_sent",
			       json_object_new_int64(s->files_sent));
	json_object_object_add(o, "bytes_sent",
			       json_object_new_int64(s->bytes_sent));
	json_object_object_add(o, "started_ms",
			       json_object_new_int64(s->started_ms));
	json_object_object_add(
	    o, "ended_ms",
	    s->ended_ms != 0 ? json_object_new_int64(s->ended_ms) : NULL);
	json_object_object_add(
	    o, "duration_ms",
	    s->ended_ms != 0
		? json_object_new_int64(s->ended_ms - s->started_ms)
		: NULL);
	json_object_object_add(o, "files", files);
	return o;
}

const char *admin_wave_label(const struct store_rollout *r, size_t i, char *buf,
			     size_t len)
{
	const char *p = r->plan;
	size_t k;

	for (k = 0; k < i && p != NULL; k++)
		p = (p = strchr(p, ',')) != NULL ? p + 1 : NULL;
	if (p == NULL)
		return "?";
	snprintf(buf, len, "%.*s", (int)strcspn(p, ","), p);
	return buf;
}

struct json_object *admin_rollout_json(const struct store_rollout *r,
				       const struct rollout_report *rep,
				       int chips)
{
	struct json_object *o = json_object_new_object(), *waves, *list, *c;
	char when[32], label[32];
	size_t i;

	json_object_object_add(o, "id", json_object_new_int64(r->id));
	json_object_object_add(o, "group",
			       json_object_new_string(r->group_name));
	json_object_object_add(
	    o, "state",
	    json_object_new_string(store_rollout_state_name(r->state)));
	json_object_object_add(o, "from",
			       json_object_new_string(r->from_revision));
	json_object_object_add(o, "to", json_object_new_string(r->to_revision));
	json_object_object_add(o, "wave", json_object_new_int(r->wave + 1));
	json_object_object_add(o, "plan", json_object_new_string(r->plan));
	admin_format_time(r->started_ms / 1000, when, sizeof(when));
	json_object_object_add(o, "started", json_object_new_string(when));
	admin_format_time(r->ended_ms / 1000, when, sizeof(when));
	json_object_object_add(
	    o, "ended", r->ended_ms != 0 ? json_object_new_string(when) : NULL);
	json_object_object_add(
	    o, "reason",
	    r->reason != NULL ? json_object_new_string(r->reason) : NULL);
	json_object_object_add(o, "max_failures",
			       json_object_new_int64(r->max_failures));
	json_object_object_add(o, "max_failures_pct",
			       json_object_new_boolean(r->max_failures_pct));
	json_object_object_add(o, "max_inflight",
			       json_object_new_int64(r->max_inflight));
	json_object_object_add(o, "soak", json_object_new_int64(r->soak));
	json_object_object_add(o, "deadline",
			       json_object_new_int64(r->deadline));
	json_object_object_add(o, "loop_checkins",
			       json_object_new_int64(r->loop_checkins));
	json_object_object_add(o, "loop_window",
			       json_object_new_int64(r->loop_window));
	if (rep == NULL)
		return o;
	json_object_object_add(o, "served",
			       json_object_new_int64((int64_t)rep->served));
	json_object_object_add(o, "failed",
			       json_object_new_int64((int64_t)rep->failed));
	json_object_object_add(o, "failure_limit",
			       json_object_new_int64(rep->failure_limit));
	waves = json_object_new_array();
	for (i = 0; i < rep->nwaves; i++) {
		const struct rollout_wave_report *w = &rep->waves[i];
		struct json_object *wo = json_object_new_object();

		json_object_object_add(wo, "plan",
				       json_object_new_string(admin_wave_label(
					   r, i, label, sizeof(label))));
		json_object_object_add(
		    wo, "chips", json_object_new_int64((int64_t)w->members));
		json_object_object_add(
		    wo, "waiting", json_object_new_int64((int64_t)w->waiting));
		json_object_object_add(
		    wo, "soaking", json_object_new_int64((int64_t)w->soaking));
		json_object_object_add(
		    wo, "healthy", json_object_new_int64((int64_t)w->healthy));
		json_object_object_add(
		    wo, "failed", json_object_new_int64((int64_t)w->failed));
		json_object_array_add(waves, wo);
	}
	json_object_object_add(o, "waves", waves);
	if (!chips)
		return o;
	list = json_object_new_array();
	for (i = 0; i < rep->nchips; i++) {
		const struct rollout_chip *rc = &rep->chips[i];

		c = json_object_new_object();
		json_object_object_add(c, "id", json_object_new_string(rc->id));
		json_object_object_add(c, "wave",
				       json_object_new_int((int)rc->wave + 1));
		json_object_object_add(
		    c, "state",
		    json_object_new_string(rollout_chip_state_name(rc->state)));
		json_object_object_add(c, "reason",
				       rc->state == ROLLOUT_CHIP_FAILED
					   ? json_object_new_string(rc->reason)
					   : NULL);
		json_object_array_add(list, c);
	}
	json_object_object_add(o, "chips", list);
	return o;
}
