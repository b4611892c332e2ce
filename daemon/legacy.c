/* The legacy luaOTA protocol module: see legacy.h and PROTOCOL.md part 1. */
#include "legacy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bsd/string.h>
#include <event2/bufferevent.h>
#include <json-c/json.h>

#include "daemon.h"
#include "decisions.h"
#include "policy/policy.h"
#include "plan/json_field.h"
#include "plan/plan.h"
#include "proto/chipid.h"
#include "proto/crypto_openssl.h"
#include "proto/sig.h"
#include "rollouts.h"
#include "session.h"

/* JSON as we emit it: compact, '/' unescaped (as NodeMCU's encoder). */
#define JSON_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

/* A file the chip holds once this run is committed. */
struct held {
	char *name;
	char *token;
};

enum run_phase {
	RUN_LS,	     /* pulls are queued: listing the flash for their sizes */
	RUN_PULL,    /* reading pulls[pull_index] with ul */
	RUN_SEND,    /* sending steps.send[send_index] */
	RUN_REMOVE,  /* deleting steps.remove[remove_index] */
	RUN_RESTART, /* restart queued */
};

struct legacy_run {
	struct plan_manifest *manifest;
	struct plan_steps steps;
	struct json_object *config; /* next config: HI minus a/id + overrides */
	char target_chk[PLAN_CHK_LEN + 1];
	struct held *held; /* what the chip holds as the run goes */
	size_t nheld;
	enum run_phase phase;
	size_t send_index;
	size_t offset; /* bytes of the current file already sent */
	size_t remove_index;
	int remove_second;   /* deleting the .lc twin of a .lua */
	const char *pending; /* command in flight: "pu", "dl", "cm", "mv" */
	size_t pending_bytes;
	int stopped_early; /* budget reached: the rest waits a boot */
	int64_t first_command_ms;
	int64_t last_send_ms;
	int64_t records;
	int64_t record_ms;	  /* summed round trips, for estimates */
	struct store_pull *pulls; /* files the operator asked to read back */
	size_t npulls;
	int64_t *pull_sizes; /* per pull, from ls; -1: not on the device */
	size_t pull_index;
	uint8_t *pull_data; /* what the current pull read so far */
	size_t pull_len;
};

static void legacy_run_free(struct legacy_run *run)
{
	size_t i;

	if (run == NULL)
		return;
	plan_manifest_free(run->manifest);
	plan_steps_free(&run->steps);
	json_object_put(run->config);
	for (i = 0; i < run->nheld; i++) {
		free(run->held[i].name);
		free(run->held[i].token);
	}
	free(run->held);
	store_pull_list_free(run->pulls, run->npulls);
	free(run->pull_sizes);
	free(run->pull_data);
	free(run);
}

/*
 * Notes a verified check-in that goes past OK! (an update or a failure):
 * last seen, and the history row opened now.  OK! alone is recorded in a
 * batch when the session closes (checkins.c).
 */
static void note_checkin(struct session *s)
{
	if (s->history_id != 0 || !s->chip_loaded)
		return;
	session_chip_seen(s);
	session_open_history(s);
}

static void fail_pulls(struct session *s, const char *why);

static int fail(struct session *s, const char *why)
{
	note_checkin(s);
	fail_pulls(s, why);
	session_set_outcome(s, STORE_OUTCOME_FAILED, "%s", why);
	session_close(s, "failed");
	return -1;
}

/* Reads the "id" of a HI into s->chip_id; -1 when absent or unusable. */
static int hello_chip_id(struct session *s, struct json_object *obj)
{
	struct json_object *id;
	const char *text;

	if (!json_object_object_get_ex(obj, "id", &id))
		return -1;
	if (json_object_is_type(id, json_type_int)) {
		text = json_object_to_json_string_ext(id, JSON_FLAGS);
		return luaota_chipid_normalize(LUAOTA_JSON_NUMBER, text,
					       strlen(text), s->chip_id);
	}
	if (json_object_is_type(id, json_type_string))
		return luaota_chipid_normalize(
		    LUAOTA_JSON_STRING, json_object_get_string(id),
		    (size_t)json_object_get_string_len(id), s->chip_id);
	return -1;
}

/* Copies the keys of the merged overrides (JSON text) onto cfg. */
static int apply_overrides(const char *text, struct json_object *cfg)
{
	struct json_object *o;

	if (text == NULL)
		return 0;
	o = json_tokener_parse(text);
	if (o == NULL || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return -1;
	}
	json_object_object_foreach(o, key, val)
	    json_object_object_add(cfg, key, json_object_get(val));
	json_object_put(o);
	return 0;
}

static int held_add(struct legacy_run *run, const char *name, const char *token)
{
	struct held *grown;
	size_t i;

	for (i = 0; i < run->nheld; i++) {
		if (strcmp(run->held[i].name, name) == 0) {
			char *t = strdup(token);

			if (t == NULL)
				return -1;
			free(run->held[i].token);
			run->held[i].token = t;
			return 0;
		}
	}
	grown = reallocarray(run->held, run->nheld + 1, sizeof(*grown));
	if (grown == NULL)
		return -1;
	run->held = grown;
	grown[run->nheld].name = strdup(name);
	grown[run->nheld].token = strdup(token);
	if (grown[run->nheld].name == NULL || grown[run->nheld].token == NULL) {
		free(grown[run->nheld].name);
		free(grown[run->nheld].token);
		return -1;
	}
	run->nheld++;
	return 0;
}

static void held_remove(struct legacy_run *run, const char *name)
{
	size_t i;

	for (i = 0; i < run->nheld; i++) {
		if (strcmp(run->held[i].name, name) == 0) {
			free(run->held[i].name);
			free(run->held[i].token);
			run->held[i] = run->held[--run->nheld];
			return;
		}
	}
}

static int in_manifest(const struct plan_manifest *m, const char *name)
{
	size_t i;

	for (i = 0; i < m->nfiles; i++)
		if (strcmp(m->files[i].name, name) == 0)
			return 1;
	return 0;
}

/*
 * Works out what the chip holds (the decision is plan_update_steps's,
 * shared with luaotactl diff); run->held starts as what it holds for sure.
 */
static int load_held(struct session *s, struct legacy_run *run,
		     const char *device_chk)
{
	struct daemon *d = s->daemon;
	struct store_held_file *stored = NULL;
	struct plan_held *view = NULL;
	size_t n = 0, i;
	int trusted, rc = -1;

	if (store_held_get(d->store, s->chip_id, &stored, &n) != 0)
		return -1;
	trusted = plan_held_trusted(device_chk, s->chip.chk);
	view = calloc(n + 1, sizeof(*view));
	if (view == NULL)
		goto done;
	for (i = 0; i < n; i++) {
		view[i].name = stored[i].name;
		view[i].token = stored[i].token;
		if ((trusted || !in_manifest(run->manifest, stored[i].name)) &&
		    held_add(run, stored[i].name, stored[i].token) != 0)
			goto done;
	}
	rc = plan_update_steps(run->manifest, device_chk, s->chip.chk, view, n,
			       &run->steps);
done:
	free(view);
	store_held_free(stored, n);
	return rc;
}

/* The chk of a partial state: never equal to a complete manifest's. */
static void partial_chk(const struct legacy_run *run,
			char out[PLAN_CHK_LEN + 1])
{
	uint8_t digest[LUAOTA_SHA256_LEN];
	char hex[2 * LUAOTA_SHA256_LEN + 1];
	struct json_object *o = json_object_new_object();
	const char *text;
	size_t i;

	for (i = 0; o != NULL && i < run->nheld; i++)
		json_object_object_add(
		    o, run->held[i].name,
		    json_object_new_string(run->held[i].token));
	text = o != NULL ? json_object_to_json_string_ext(o, JSON_FLAGS) : "";
	if (luaota_sha256(text, strlen(text), digest) != 0)
		memset(digest, 0, sizeof(digest));
	luaota_hex(digest, sizeof(digest), hex);
	out[0] = 'p';
	memcpy(out + 1, hex, PLAN_CHK_LEN - 1);
	out[PLAN_CHK_LEN] = '\0';
	json_object_put(o);
}

static int send_restart(struct session *s)
{
	struct legacy_run *run = s->run;
	struct daemon *d = s->daemon;
	struct store_held_file *rows = NULL;
	struct json_object *files, *out;
	char chk[PLAN_CHK_LEN + 1];
	size_t i, size;
	int complete = !run->stopped_early;
	char why[160];

	if (complete)
		strlcpy(chk, run->target_chk, sizeof(chk));
	else
		partial_chk(run, chk);
	out = json_object_new_object();
	json_object_object_add(out, "a", json_object_new_string("restart"));
	json_object_object_foreach(run->config, key, val)
	{
		if (strcmp(key, "files") != 0 && strcmp(key, "chk") != 0)
			json_object_object_add(out, key, json_object_get(val));
	}
	json_object_object_add(out, "chk", json_object_new_string(chk));
	files = json_object_new_object();
	for (i = 0; i < run->nheld; i++)
		json_object_object_add(
		    files, run->held[i].name,
		    json_object_new_string(run->held[i].token));
	json_object_object_add(out, "files", files);
	/* Version tokens are a courtesy: chk alone identifies the state. */
	if (policy_stored_config_size(out, s->chip.secret) > LUAOTA_CONFIG_MAX)
		json_object_object_del(out, "files");
	size = policy_stored_config_size(out, s->chip.secret);
	if (size > LUAOTA_CONFIG_MAX) {
		snprintf(why, sizeof(why),
			 "restart config would take %zu bytes on the device "
			 "(limit %d)",
			 size, LUAOTA_CONFIG_MAX);
		json_object_put(out);
		return fail(s, why);
	}
	rows = calloc(run->nheld + 1, sizeof(*rows));
	for (i = 0; rows != NULL && i < run->nheld; i++) {
		rows[i].name = run->held[i].name;
		rows[i].token = run->held[i].token;
	}
	if (rows == NULL ||
	    store_held_set(d->store, s->chip_id, chk, run->manifest->revision,
			   rows, run->nheld) != 0) {
		struct log_fields f = session_fields(s);

		/* Safe to go on: a chk we did not record means a full resend.
		 */
		log_session(LOG_LEVEL_WARN, &f,
			    "event=inventory-write-failed error=\"%s\"",
			    store_errmsg(d->store));
	}
	free(rows);
	if (session_send(s, json_object_to_json_string_ext(out, JSON_FLAGS),
			 NULL, 0) != 0) {
		json_object_put(out);
		return fail(s, "restart record does not fit one segment");
	}
	json_object_put(out);
	run->phase = RUN_RESTART;
	if (complete)
		session_set_outcome(s, STORE_OUTCOME_UPDATED, NULL);
	else
		session_set_outcome(s, STORE_OUTCOME_PARTIAL,
				    "session budget reached; continues next "
				    "boot");
	session_set_state(s, SESSION_FLUSH);
	return 0;
}

/* Sends a command built with json-c; payload may be NULL. */
static int send_command(struct session *s, struct json_object *cmd,
			const uint8_t *payload, size_t len)
{
	struct legacy_run *run = s->run;
	int rc;

	rc = session_send(s, json_object_to_json_string_ext(cmd, JSON_FLAGS),
			  payload, len);
	json_object_put(cmd);
	if (rc != 0)
		return fail(s, "command record does not fit one segment");
	run->last_send_ms = daemon_now_ms();
	if (run->first_command_ms == 0)
		run->first_command_ms = run->last_send_ms;
	if (s->state != SESSION_REPLY)
		session_set_state(s, SESSION_REPLY);
	return 0;
}

/* Would the whole of file f still fit this session's budget? */
static int file_fits(struct session *s, const struct plan_file *f)
{
	struct legacy_run *run = s->run;
	const struct config *c = &s->daemon->conf;
	int64_t records = (int64_t)(f->len / LUAOTA_CHUNK_SIZE) + 1;
	int64_t per_record =
	    run->records > 0 ? run->record_ms / run->records : 0;
	int64_t elapsed = daemon_now_ms() - run->first_command_ms;

	if (s->files_sent == 0)
		return 1; /* always make progress */
	if (c->session_max_bytes > 0 &&
	    s->bytes_sent + (int64_t)f->len > c->session_max_bytes)
		return 0;
	return elapsed + records * (per_record + 1) <= c->session_budget_ms;
}

/* The compiled twin of a .lua name (x.lua -> x.lc), or NULL for others. */
static const char *device_name(const char *name, char *buf, size_t len)
{
	size_t n = strlen(name);

	if (n <= 4 || strcmp(name + n - 4, ".lua") != 0 ||
	    plan_device_name(name, PLAN_CM, buf, len) != 0)
		return NULL;
	return buf;
}

/* Records how a pull ended; a store failure is logged, not fatal. */
static void pull_finish(struct session *s, const struct store_pull *p,
			const char *state, const uint8_t *data, size_t len,
			const char *reason)
{
	struct log_fields f = session_fields(s);

	if (store_pull_finish(s->daemon->store, p->id, state, data, len, reason,
			      daemon_wall_ms() / 1000) != 0)
		log_session(LOG_LEVEL_WARN, &f,
			    "event=inventory-write-failed error=\"%s\"",
			    store_errmsg(s->daemon->store));
	else
		log_session(LOG_LEVEL_INFO, &f,
			    "event=pull name=%s state=%s bytes=%zu", p->name,
			    state, len);
}

/*
 * A session failing while it pulls fails the pulls left, so that the next
 * boot does not run into the same failure again.
 */
static void fail_pulls(struct session *s, const char *why)
{
	struct legacy_run *run = s->run;

	if (run == NULL || (run->phase != RUN_LS && run->phase != RUN_PULL))
		return;
	for (; run->pull_index < run->npulls; run->pull_index++)
		pull_finish(s, &run->pulls[run->pull_index], "failed", NULL, 0,
			    why);
}

/*
 * Sends the next ul of the queued pulls, finishing each as it completes;
 * *sent says whether a command went out (else the pulls are done).
 */
static int pull_next(struct session *s, int *sent)
{
	struct legacy_run *run = s->run;
	struct json_object *cmd;
	uint8_t *grown;

	*sent = 0;
	while (run->pull_index < run->npulls) {
		const struct store_pull *p = &run->pulls[run->pull_index];
		int64_t size = run->pull_sizes[run->pull_index];
		size_t chunk;

		if (size < 0) {
			pull_finish(s, p, "missing", NULL, 0,
				    "not on the device");
			run->pull_index++;
			continue;
		}
		if ((int64_t)run->pull_len < size) {
			chunk = (size_t)size - run->pull_len;
			if (chunk > LUAOTA_CHUNK_SIZE)
				chunk = LUAOTA_CHUNK_SIZE;
			/* The whole file at once: sizes come from ls. */
			if (run->pull_data == NULL) {
				grown = malloc((size_t)size + 1);
				if (grown == NULL)
					return fail(s, "out of memory");
				run->pull_data = grown;
			}
			cmd = json_object_new_object();
			json_object_object_add(cmd, "a",
					       json_object_new_string("ul"));
			json_object_object_add(cmd, "name",
					       json_object_new_string(p->name));
			json_object_object_add(
			    cmd, "offset",
			    json_object_new_int64((int64_t)run->pull_len));
			json_object_object_add(
			    cmd, "len", json_object_new_int64((int64_t)chunk));
			run->pending = "ul";
			run->pending_bytes = chunk;
			/* The reply carries the bytes with no "data" field. */
			s->raw_payload = (int64_t)chunk;
			*sent = 1;
			return send_command(s, cmd, NULL, 0);
		}
		pull_finish(s, p, "done",
			    run->pull_data != NULL ? run->pull_data
						   : (const uint8_t *)"",
			    run->pull_len, NULL);
		free(run->pull_data);
		run->pull_data = NULL;
		run->pull_len = 0;
		run->pull_index++;
	}
	run->phase = RUN_SEND;
	return 0;
}

/* Sends the next command of the run, or restart when none is left. */
static int advance(struct session *s)
{
	struct legacy_run *run = s->run;
	struct json_object *cmd;

	if (run->phase == RUN_LS) {
		cmd = json_object_new_object();
		json_object_object_add(cmd, "a", json_object_new_string("ls"));
		run->pending = "ls";
		return send_command(s, cmd, NULL, 0);
	}
	if (run->phase == RUN_PULL) {
		int sent, rc = pull_next(s, &sent);

		if (rc != 0 || sent)
			return rc;
	}

	if (run->phase == RUN_SEND && run->send_index < run->steps.nsend) {
		const struct plan_file *f =
		    &run->manifest->files[run->steps.send[run->send_index]];
		size_t left = f->len - run->offset;
		size_t chunk =
		    left > LUAOTA_CHUNK_SIZE ? LUAOTA_CHUNK_SIZE : left;
		int last = left <= LUAOTA_CHUNK_SIZE;

		if (run->offset == 0 && !file_fits(s, f)) {
			run->stopped_early = 1;
			return send_restart(s);
		}
		cmd = json_object_new_object();
		run->pending = !last		      ? "pu"
			       : f->action == PLAN_CM ? "cm"
						      : "dl";
		json_object_object_add(cmd, "a",
				       json_object_new_string(run->pending));
		json_object_object_add(cmd, "data",
				       json_object_new_int64((int64_t)chunk));
		if (last)
			json_object_object_add(cmd, "name",
					       json_object_new_string(f->name));
		if (send_command(s, cmd, f->data + run->offset, chunk) != 0)
			return -1;
		run->pending_bytes = chunk;
		return 0;
	}
	if (run->phase == RUN_SEND)
		run->phase = RUN_REMOVE;
	if (run->phase == RUN_REMOVE &&
	    run->remove_index < run->steps.nremove) {
		const char *name = run->steps.remove[run->remove_index];
		char lc[LUAOTA_NAME_MAX + 8];

		if (run->remove_second)
			name = device_name(name, lc, sizeof(lc));
		/* The delete idiom: mv X to X removes X, then "fails". */
		cmd = json_object_new_object();
		json_object_object_add(cmd, "a", json_object_new_string("mv"));
		json_object_object_add(cmd, "from",
				       json_object_new_string(name));
		json_object_object_add(cmd, "to", json_object_new_string(name));
		run->pending = "mv";
		return send_command(s, cmd, NULL, 0);
	}
	return send_restart(s);
}

/* Records one file's outcome in the history. */
static void file_row(struct session *s, const char *name, const char *action,
		     int64_t bytes, const char *result, int64_t lcsize)
{
	struct store_session_file row = {
		.name = (char *)name,
		.action = (char *)action,
		.bytes = bytes,
		.result = (char *)result,
		.lcsize = lcsize,
	};

	session_file_row(s, &row);
}

static int legacy_reply(struct session *s, const struct luaota_record *rec,
			struct json_object *obj)
{
	struct legacy_run *run = s->run;
	const char *status = plan_json_string(obj, "s");
	struct log_fields lf = session_fields(s);
	char esc[300], why[400];

	if (luaota_sig_verify(&luaota_crypto_openssl,
			      (const uint8_t *)s->chip.secret,
			      strlen(s->chip.secret), rec->json, rec->json_len,
			      rec->sig) != 0)
		return fail(s, "reply signature does not verify");
	if (run == NULL || run->pending == NULL || status == NULL)
		return fail(s, "reply without a status");
	run->records++;
	run->record_ms += daemon_now_ms() - run->last_send_ms;

	if (strcmp(run->pending, "ls") == 0) {
		size_t i;

		if (strcmp(status, "OK") != 0)
			return fail(s, "device: ls failed");
		run->pull_sizes = calloc(run->npulls + 1, sizeof(int64_t));
		if (run->pull_sizes == NULL)
			return fail(s, "out of memory");
		for (i = 0; i < run->npulls; i++) {
			struct json_object *v;

			run->pull_sizes[i] = -1;
			if (json_object_object_get_ex(obj, run->pulls[i].name,
						      &v) &&
			    json_object_is_type(v, json_type_int) &&
			    json_object_get_int64(v) >= 0 &&
			    json_object_get_int64(v) <= PLAN_READ_MAX)
				run->pull_sizes[i] = json_object_get_int64(v);
		}
		run->phase = RUN_PULL;
		return advance(s);
	}
	if (strcmp(run->pending, "ul") == 0) {
		/* fail() marks this pull and the rest failed. */
		if (strcmp(status, "OK") != 0 ||
		    rec->payload_len != run->pending_bytes)
			return fail(s, "device: ul failed");
		memcpy(run->pull_data + run->pull_len, rec->payload,
		       rec->payload_len);
		run->pull_len += rec->payload_len;
		return advance(s);
	}
	if (strcmp(run->pending, "mv") == 0) {
		const char *name = run->steps.remove[run->remove_index];
		char lc[LUAOTA_NAME_MAX + 8];

		file_row(s,
			 run->remove_second ? device_name(name, lc, sizeof(lc))
					    : name,
			 "delete", 0, "removed", -1);
		if (!run->remove_second &&
		    device_name(name, lc, sizeof(lc)) != NULL) {
			run->remove_second = 1;
		} else {
			held_remove(run, name);
			run->remove_second = 0;
			run->remove_index++;
		}
		return advance(s);
	}

	{
		const struct plan_file *f =
		    &run->manifest->files[run->steps.send[run->send_index]];
		int final = strcmp(run->pending, "pu") != 0;
		struct json_object *lc;
		int64_t lcsize = -1;

		if (strcmp(status, "OK") != 0) {
			const char *err = plan_json_string(obj, "err");

			log_escape(status, strlen(status), esc, sizeof(esc));
			snprintf(why, sizeof(why), "device: %s%s%s (%s)", esc,
				 err ? ": " : "", err ? err : "", f->name);
			/* The history knows files, not chunks: dl or cm. */
			file_row(s, f->name,
				 final			? run->pending
				 : f->action == PLAN_CM ? "cm"
							: "dl",
				 (int64_t)(run->offset + run->pending_bytes),
				 why + 8, -1);
			return fail(s, why);
		}
		run->offset += run->pending_bytes;
		s->bytes_sent += (int64_t)run->pending_bytes;
		if (!final)
			return advance(s);
		if (json_object_object_get_ex(obj, "lcsize", &lc) &&
		    json_object_is_type(lc, json_type_int))
			lcsize = json_object_get_int64(lc);
		file_row(s, f->name, run->pending, (int64_t)f->len, "OK",
			 lcsize);
		log_session(LOG_LEVEL_DEBUG, &lf,
			    "event=file-sent name=%s action=%s bytes=%zu",
			    f->name, run->pending, f->len);
		if (held_add(run, f->name, f->token) != 0)
			return fail(s, "out of memory");
		s->files_sent++;
		run->offset = 0;
		run->send_index++;
		return advance(s);
	}
}

/*
 * Whether the restart this run ends with can be sent: the overrides are
 * ones a chip can boot with, and the config it will store, with the
 * target chk and without the courtesy "files", fits the device.  0, or
 * -1 with why set.
 */
static int restart_fits(struct session *s, const struct legacy_run *run,
			const char *merged, char *why, size_t why_len)
{
	struct json_object *cfg = NULL;
	char problem[256];
	size_t size;

	if (policy_config_problem(merged, problem, sizeof(problem)) != NULL) {
		snprintf(why, why_len, "not sent: %s", problem);
		return -1;
	}
	if (json_object_deep_copy(run->config, &cfg, NULL) != 0) {
		snprintf(why, why_len, "out of memory");
		return -1;
	}
	json_object_object_del(cfg, "files");
	json_object_object_add(cfg, "chk",
			       json_object_new_string(run->target_chk));
	size = policy_stored_config_size(cfg, s->chip.secret);
	json_object_put(cfg);
	if (size > LUAOTA_CONFIG_MAX) {
		snprintf(why, why_len,
			 "not sent: the restart config would take %zu bytes on "
			 "the device (limit %d)",
			 size, LUAOTA_CONFIG_MAX);
		return -1;
	}
	return 0;
}

/*
 * Answers OK! to a chip a rollout's max-inflight turns away: it runs
 * what it holds, and the history says it was current for that.
 */
static int defer(struct session *s)
{
	strlcpy(s->revision, s->chip.revision != NULL ? s->chip.revision : "",
		sizeof(s->revision));
	if (session_send(s, "{\"r\":\"OK!\"}", NULL, 0) != 0)
		return fail(s, "could not queue OK!");
	session_set_outcome(s, STORE_OUTCOME_CURRENT, NULL);
	session_set_state(s, SESSION_FLUSH);
	return 0;
}

/* Resolves the chip's manifest and decides: OK!, update, or nothing. */
static int plan_update(struct session *s, struct json_object *hello,
		       uint64_t version)
{
	struct daemon *d = s->daemon;
	const struct decision *dec;
	struct legacy_run *run = NULL;
	struct store_pull *pulls = NULL;
	size_t npulls = 0;
	char *own = NULL; /* merged overrides of a chip with its own */
	const char *merged;
	const char *device_chk = plan_json_string(hello, "chk");
	char why[512], chk[PLAN_CHK_LEN + 1];
	int rc = -1;

	struct rollout_pick pick;

	rollouts_pick(d, &s->chip, version, &pick);
	dec = decisions_get(d, s->chip.group_id, 0,
			    pick.rollout_id != 0 ? pick.revision : NULL,
			    version, why, sizeof(why));
	if (dec == NULL)
		return fail(s, why);
	strlcpy(s->revision, dec->manifest->revision, sizeof(s->revision));
	if (dec->manifest->error != NULL) {
		snprintf(why, sizeof(why), "not sent: %s",
			 dec->manifest->error);
		return fail(s, why);
	}
	if (s->chip.config_json == NULL) {
		if (!dec->merged_ok)
			return fail(s, policy_target_strerror(EINVAL));
		merged = dec->merged;
		memcpy(chk, dec->chk, sizeof(chk));
	} else {
		if (policy_target(dec->manifest, dec->group_config,
				  s->chip.config_json, &own, chk) != 0)
			return fail(s, policy_target_strerror(errno));
		merged = own;
	}
	if (decisions_pulls_maybe(d, version) &&
	    store_pull_pending(d->store, s->chip_id, &pulls, &npulls) != 0) {
		struct log_fields f = session_fields(s);

		/* Pulls wait for a later boot; provisioning goes on. */
		log_session(LOG_LEVEL_WARN, &f,
			    "event=inventory-read-failed error=\"%s\"",
			    store_errmsg(d->store));
	}
	/* Queued pulls need a session even when the chip is current. */
	if (npulls == 0 && plan_is_current(chk, device_chk, s->chip.chk)) {
		free(own);
		if (session_send(s, "{\"r\":\"OK!\"}", NULL, 0) != 0)
			return fail(s, "could not queue OK!");
		session_set_outcome(s, STORE_OUTCOME_CURRENT, NULL);
		session_set_state(s, SESSION_FLUSH);
		return 0;
	}
	if (rollouts_take_slot(d, s, &pick) != 0) {
		/* A boot storm: current for what it holds, updated later. */
		store_pull_list_free(pulls, npulls);
		free(own);
		return defer(s);
	}
	rollouts_note(d, s, &pick);
	run = calloc(1, sizeof(*run));
	if (run == NULL) {
		store_pull_list_free(pulls, npulls);
		goto oom;
	}
	/* The run keeps its own reference: the cache may move on. */
	run->manifest = plan_manifest_ref(dec->manifest);
	run->pulls = pulls;
	run->npulls = npulls;
	memcpy(run->target_chk, chk, sizeof(chk));
	/* The next config: everything the device sent but a and id. */
	run->config = json_object_new_object();
	if (run->config == NULL)
		goto oom;
	json_object_object_foreach(hello, key, val)
	{
		if (strcmp(key, "a") != 0 && strcmp(key, "id") != 0)
			json_object_object_add(run->config, key,
					       json_object_get(val));
	}
	if (apply_overrides(merged, run->config) != 0)
		goto oom;
	/* Found now, not after the files went out: a restart that cannot be
	 * sent would make every boot flash them again. */
	if ((rc = restart_fits(s, run, merged, why, sizeof(why))) != 0) {
		rc = fail(s, why);
		goto out;
	}
	note_checkin(s);
	if (load_held(s, run, device_chk) != 0) {
		rc = fail(s, "could not read what the chip holds");
		goto out;
	}
	run->phase = run->npulls > 0 ? RUN_LS : RUN_SEND;
	s->run = run;
	run = NULL;
	rc = advance(s);
	goto out;
oom:
	rc = fail(s, "out of memory");
out:
	legacy_run_free(run);
	free(own);
	return rc;
}

static int legacy_hello(struct session *s, const struct luaota_record *rec,
			struct json_object *obj)
{
	struct daemon *d = s->daemon;
	const char *a = plan_json_string(obj, "a");
	struct timeval reply = {
		.tv_sec = d->conf.reply_timeout_ms / 1000,
		.tv_usec = (d->conf.reply_timeout_ms % 1000) * 1000,
	};
	uint64_t version;

	if (a == NULL || strcmp(a, "HI") != 0)
		return session_reject(s, "first record is not a HI");
	if (hello_chip_id(s, obj) != 0)
		return session_reject(s, "HI has no usable chip id");
	if (session_load_chip(s, &version) != 0)
		return -1;
	/* Downgrade protection: once v2, never legacy again (not even OK!). */
	if (s->chip.v2_seen)
		return session_reject(
		    s, "downgrade: the chip has completed a v2 session");
	if (luaota_sig_verify(&luaota_crypto_openssl,
			      (const uint8_t *)s->chip.secret,
			      strlen(s->chip.secret), rec->json, rec->json_len,
			      rec->sig) != 0)
		return session_reject(s, "bad signature");
	if (!s->chip.enabled)
		return session_reject(s, "chip disabled");
	d->stats.checkins++;
	bufferevent_set_timeouts(s->bev, &reply, &reply);
	return plan_update(s, obj, version);
}

/* Whatever no other protocol claimed is a legacy first line. */
static int legacy_claims(const uint8_t *line, size_t len)
{
	(void)line;
	(void)len;
	return 1;
}

static void run_free(void *run)
{
	legacy_run_free(run);
}

const struct session_protocol legacy_protocol = {
	.name = "legacy",
	.version = LUAOTA_PROTO_LEGACY,
	.claims = legacy_claims,
	.hello = legacy_hello,
	.record = legacy_reply,
	.run_free = run_free,
};
