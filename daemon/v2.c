/* The protocol version 2 module: see v2.h and docs/protocol.md part 2. */
#include "v2.h"

#include <errno.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bsd/string.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <json-c/json.h>

#include "daemon.h"
#include "decisions.h"
#include "policy/policy.h"
#include "plan/json_field.h"
#include "plan/plan.h"
#include "proto/chipid.h"
#include "proto/crypto_openssl.h"
#include "proto/v2.h"
#include "rollouts.h"
#include "session.h"
#include "proto/protocol.h"

#define JSON_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

#define LAST_MAX 64    /* longest "last" we keep for the history */
#define SECRET_MAX 255 /* bytes of one secret config value */

enum v2_phase {
	V2_SENT_MANIFEST, /* waiting for "ok" or "refused" */
	V2_SERVING,	  /* answering "get" until "staged" */
	V2_SENT_COMMIT,	  /* waiting for "committed" */
};

/* One file of the release, as the device asks for it. */
struct v2_file {
	const struct plan_file *plan; /* bytes and hash, owned by manifest */
	char stage[PLAN_RELEASE_STAGE_HEX + 1]; /* first 16 hex of the hash */
	int counted;				/* its last byte went out */
};

struct v2_run {
	struct luaota_v2_channel ch;
	enum v2_phase phase;
	struct plan_manifest *manifest;
	struct v2_file *files;
	size_t nfiles;
	uint32_t chunk, win;
	int64_t rc;
	char mh[PLAN_HASH_HEX + 1];
};

static void v2_run_free(void *arg)
{
	struct v2_run *run = arg;

	if (run == NULL)
		return;
	plan_manifest_free(run->manifest);
	free(run->files);
	explicit_bzero(&run->ch, sizeof(run->ch));
	free(run);
}

static int is_hex(const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!((p[i] >= '0' && p[i] <= '9') ||
		      (p[i] >= 'a' && p[i] <= 'f')))
			return 0;
	return 1;
}

static int v2_is_hello(const uint8_t *line, size_t len)
{
	/* A legacy line ends in '}' and 6 hex, so its last 32 are not hex. */
	return len > LUAOTA_V2_TAG_LEN &&
	       line[len - LUAOTA_V2_TAG_LEN - 1] == '}' &&
	       is_hex(line + len - LUAOTA_V2_TAG_LEN, LUAOTA_V2_TAG_LEN);
}

static size_t v2_output_limit(const struct session *s)
{
	const struct v2_run *run = s->run;

	if (run == NULL || run->phase != V2_SERVING)
		return 0;
	return (size_t)(run->win + 1) * (run->chunk + LUAOTA_V2_HEADER_MAX + 1);
}

/* A verified session that goes no further: recorded, then closed. */
static int fail(struct session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int fail(struct session *s, const char *fmt, ...)
{
	char why[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (s->history_id == 0)
		session_open_history(s);
	session_set_outcome(s, STORE_OUTCOME_FAILED, "%s", why);
	session_close(s, "failed");
	return -1;
}

/* An integer field within [min, max]; -1 when absent or out of range. */
static int int_field(struct json_object *obj, const char *key, int64_t min,
		     int64_t max, int64_t *out)
{
	struct json_object *v;

	if (!json_object_object_get_ex(obj, key, &v) ||
	    !json_object_is_type(v, json_type_int))
		return -1;
	errno = 0;
	*out = json_object_get_int64(v);
	if (errno != 0 || *out < min || *out > max)
		return -1;
	return 0;
}

/* A field of exactly n lowercase hex characters, decoded when out != NULL. */
static const char *hex_field(struct json_object *obj, const char *key, size_t n,
			     uint8_t *out)
{
	const char *text = plan_json_string(obj, key);

	if (text == NULL || strlen(text) != n ||
	    !is_hex((const uint8_t *)text, n))
		return NULL;
	if (out != NULL && luaota_v2_unhex(text, n, out, n / 2) != 0)
		return NULL;
	return text;
}

/* Seals json (+ payload) with the next server number and queues it. */
static int send_record(struct session *s, struct json_object *obj,
		       const uint8_t *payload, size_t payload_len)
{
	struct v2_run *run = s->run;
	size_t json_len, len;
	const char *json =
	    json_object_to_json_string_length(obj, JSON_FLAGS, &json_len);
	uint8_t *out;
	size_t cap = json_len + LUAOTA_V2_TAG_LEN + 1 + payload_len;
	int rc;

	if (json == NULL || json_len + LUAOTA_V2_TAG_LEN > LUAOTA_V2_HEADER_MAX)
		return -1;
	if ((out = malloc(cap)) == NULL)
		return -1;
	rc = luaota_v2_seal(&run->ch, json, json_len, payload, payload_len, out,
			    cap, &len);
	if (rc == 0 && s->answered_ms == 0)
		s->answered_ms = daemon_now_ms();
	if (rc == 0)
		rc = bufferevent_write(s->bev, out, len);
	/* The write event runs only while records wait (session.c). */
	if (rc == 0)
		rc = bufferevent_enable(s->bev, EV_WRITE);
	free(out);
	return rc;
}

/* The same, for a JSON object built here; obj is released. */
static int send_object(struct session *s, struct json_object *obj,
		       const uint8_t *payload, size_t payload_len)
{
	int rc = obj != NULL ? send_record(s, obj, payload, payload_len) : -1;

	json_object_put(obj);
	return rc;
}

static struct json_object *new_reply(const char *action)
{
	struct json_object *o = json_object_new_object();

	if (o == NULL)
		return NULL;
	json_object_object_add(o, "v", json_object_new_int(2));
	json_object_object_add(o, "a", json_object_new_string(action));
	return o;
}

/* The "sec" object: each secret XORed with its session key stream. */
static struct json_object *sealed_secrets(struct v2_run *run,
					  const struct plan_release *r)
{
	struct json_object *sec = json_object_new_object();
	uint8_t conf[LUAOTA_V2_KEY_LEN], buf[SECRET_MAX];
	char hex[2 * SECRET_MAX + 1];

	if (sec == NULL || luaota_v2_config_key(&luaota_crypto_openssl,
						run->ch.key, conf) != 0) {
		json_object_put(sec);
		return NULL;
	}
	json_object_object_foreach(r->secrets, key, val)
	{
		size_t len = (size_t)json_object_get_string_len(val);

		if (luaota_v2_secret_xor(
			&luaota_crypto_openssl, conf, key, strlen(key),
			(const uint8_t *)json_object_get_string(val), len,
			buf) != 0) {
			json_object_put(sec);
			sec = NULL;
			break;
		}
		luaota_v2_hex(buf, len, hex);
		json_object_object_add(sec, key, json_object_new_string(hex));
	}
	explicit_bzero(buf, sizeof(buf));
	explicit_bzero(conf, sizeof(conf));
	return sec;
}

/*
 * The chip's release for today's manifest: the newest issued one when its
 * bytes are the same, else the next counter, recorded before it is sent.
 * 0, or -1 with why set.
 */
static int release_pick(struct session *s, struct plan_release *r,
			const struct store_v2_release *latest, int have_latest,
			int64_t device_rc, char *why, size_t why_len)
{
	struct daemon *d = s->daemon;
	struct store_v2_release add;
	int is_new;

	if (plan_release_pick(r, have_latest ? latest->rc : 0,
			      have_latest ? latest->mh : NULL, device_rc,
			      &is_new, why, why_len) != 0)
		return -1;
	if (!is_new)
		return 0;
	add = (struct store_v2_release){
		.rc = r->rc,
		.manifest = r->text,
		.issued = daemon_wall_ms() / 1000,
	};
	strlcpy(add.mh, r->mh, sizeof(add.mh));
	if (store_v2_release_add(d->store, s->chip_id, &add) != 0) {
		snprintf(why, why_len, "release %lld not recorded: %s",
			 (long long)r->rc, store_errmsg(d->store));
		return -1;
	}
	return 0;
}

/* The files of the release, by the hash prefix the device asks with. */
static int serve_table(struct v2_run *run)
{
	const struct plan_manifest *m = run->manifest;
	size_t i;

	run->files = calloc(m->nfiles + 1, sizeof(*run->files));
	if (run->files == NULL)
		return -1;
	for (i = 0; i < m->nfiles; i++) {
		run->files[i].plan = &m->files[i];
		memcpy(run->files[i].stage, m->files[i].hash,
		       PLAN_RELEASE_STAGE_HEX);
	}
	run->nfiles = m->nfiles;
	return 0;
}

/*
 * The chip's manifest (a reference in run->manifest) and merged overrides
 * from the group's cached decision.  0, or -1 with why set.
 */
static int resolve(struct session *s, struct v2_run *run, uint64_t version,
		   const struct rollout_pick *pick, char **overrides,
		   int *lua_version, char *why, size_t why_len)
{
	struct daemon *d = s->daemon;
	const struct decision *dec;
	char problem[256];

	dec = decisions_get(d, s->chip.group_id, 1,
			    pick->rollout_id != 0 ? pick->revision : NULL,
			    version, why, why_len);
	if (dec == NULL)
		return -1;
	/* A session outlives the cache entry: it keeps its own reference. */
	run->manifest = plan_manifest_ref(dec->manifest);
	*lua_version = dec->lua_version;
	strlcpy(s->revision, run->manifest->revision, sizeof(s->revision));
	if (run->manifest->error != NULL) {
		snprintf(why, why_len, "not sent: %s", run->manifest->error);
		return -1;
	}
	if (plan_overrides_merge(dec->group_config, s->chip.config_json,
				 overrides) != 0) {
		snprintf(why, why_len, "%s", policy_target_strerror(errno));
		return -1;
	}
	/* Never a config the chip could not boot with (see legacy.c). */
	if (policy_config_problem(*overrides, problem, sizeof(problem)) !=
	    NULL) {
		snprintf(why, why_len, "not sent: %s", problem);
		free(*overrides);
		*overrides = NULL;
		return -1;
	}
	return 0;
}

/* "last" as the history shows it, when it says something went wrong. */
static void note_last(struct session *s, const char *last)
{
	if (last == NULL || strcmp(last, "current") == 0 ||
	    strcmp(last, "updated") == 0 || strcmp(last, "none") == 0)
		return;
	session_set_outcome(s, s->outcome, "previous boot: %s", last);
}

/* Marks the chip as speaking v2: from now on its legacy HI is refused. */
static void mark_v2_seen(struct session *s)
{
	struct log_fields f;

	if (s->chip.v2_seen)
		return;
	if (store_chip_v2_seen(s->daemon->store, s->chip_id) == 0) {
		s->chip.v2_seen = 1;
		return;
	}
	f = session_fields(s);
	log_session(LOG_LEVEL_WARN, &f,
		    "event=inventory-write-failed what=v2_seen error=\"%s\"",
		    store_errmsg(s->daemon->store));
}

/* Verifies the HELLO's tag and fields; 0, or -1 when s was closed. */
static int hello_check(struct session *s, const struct luaota_record *rec,
		       struct json_object *obj, uint8_t chip_key[32],
		       uint64_t *version)
{
	struct v2_run *run = s->run;
	uint8_t hello_key[LUAOTA_V2_KEY_LEN];
	const char *id = plan_json_string(obj, "id");

	if (id == NULL || luaota_chipid_normalize(LUAOTA_JSON_STRING, id,
						  strlen(id), s->chip_id) != 0)
		return session_reject(s, "v2 HELLO has no usable chip id");
	if (session_load_chip(s, version) != 0)
		return -1;
	if (s->chip.v2_key == NULL ||
	    luaota_v2_unhex(s->chip.v2_key, strlen(s->chip.v2_key), chip_key,
			    LUAOTA_V2_KEY_LEN) != 0)
		return session_reject(s,
				      "v2 HELLO from a chip without a v2 key");
	if (luaota_v2_hello_key(&luaota_crypto_openssl, chip_key, hello_key) !=
	    0)
		return fail(s, "crypto failure");
	luaota_v2_channel_init(&run->ch, &luaota_crypto_openssl, hello_key,
			       LUAOTA_V2_DIR_SERVER);
	explicit_bzero(hello_key, sizeof(hello_key));
	if (luaota_v2_open(&run->ch, rec) != 0)
		return session_reject(s, "bad tag");
	if (!s->chip.enabled)
		return session_reject(s, "chip disabled");
	return 0;
}

/* Tells the device it is current at release run->rc. */
static int answer_current(struct session *s, struct v2_run *run,
			  const char *ns_hex, const char *nd_hex)
{
	struct json_object *reply = new_reply("current");

	if (reply != NULL) {
		json_object_object_add(reply, "ns",
				       json_object_new_string(ns_hex));
		json_object_object_add(reply, "nd",
				       json_object_new_string(nd_hex));
		json_object_object_add(reply, "rc",
				       json_object_new_int64(run->rc));
	}
	if (send_object(s, reply, NULL, 0) != 0)
		return fail(s, "could not queue current");
	mark_v2_seen(s);
	session_set_outcome(s, STORE_OUTCOME_CURRENT,
			    s->reason != NULL ? "%s" : NULL, s->reason);
	session_set_state(s, SESSION_FLUSH);
	return 0;
}

static int v2_hello(struct session *s, const struct luaota_record *rec,
		    struct json_object *obj)
{
	struct rollout_pick pick;
	struct daemon *d = s->daemon;
	struct v2_run *run;
	struct plan_release r = { 0 };
	struct store_v2_release latest = { 0 };
	uint8_t chip_key[LUAOTA_V2_KEY_LEN], nd[LUAOTA_V2_NONCE_LEN],
	    ns[LUAOTA_V2_NONCE_LEN], sess[LUAOTA_V2_KEY_LEN];
	char nd_hex[2 * LUAOTA_V2_NONCE_LEN + 1], ns_hex[sizeof(nd_hex)];
	char why[512], *overrides = NULL;
	const char *mh, *last, *lua;
	int64_t v, device_rc, free_bytes, rx, win;
	uint64_t version = 0;
	int have_latest, lua_version, rc = -1;
	struct json_object *reply, *staged;
	int64_t wait_ms = d->conf.reply_timeout_ms > LUAOTA_V2_CHUNK_MS
			      ? d->conf.reply_timeout_ms
			      : LUAOTA_V2_CHUNK_MS;
	struct timeval reply_tv = {
		.tv_sec = wait_ms / 1000,
		.tv_usec = (wait_ms % 1000) * 1000,
	};
	struct timeval deadline = {
		.tv_sec = d->conf.v2_session_deadline_ms / 1000,
		.tv_usec = (d->conf.v2_session_deadline_ms % 1000) * 1000,
	};

	if ((run = calloc(1, sizeof(*run))) == NULL)
		return fail(s, "out of memory");
	s->run = run;
	{
		const char *a = plan_json_string(obj, "a");

		if (int_field(obj, "v", 2, 2, &v) != 0 || a == NULL ||
		    strcmp(a, "hello") != 0)
			return session_reject(
			    s, "malformed v2 HELLO: not a hello");
	}
	if (hello_check(s, rec, obj, chip_key, &version) != 0)
		return -1;
	mh = hex_field(obj, "mh", PLAN_HASH_HEX, NULL);
	last = plan_json_string(obj, "last");
	lua = plan_json_string(obj, "lua");
	if (hex_field(obj, "nd", 2 * LUAOTA_V2_NONCE_LEN, nd) == NULL ||
	    int_field(obj, "rc", 0, UINT32_MAX, &device_rc) != 0 ||
	    mh == NULL || last == NULL || strlen(last) > LAST_MAX ||
	    lua == NULL ||
	    int_field(obj, "free", 0, INT64_MAX, &free_bytes) != 0 ||
	    int_field(obj, "rx", 1, INT64_MAX, &rx) != 0 ||
	    int_field(obj, "win", 1, INT64_MAX, &win) != 0 ||
	    (json_object_object_get_ex(obj, "staged", &staged) &&
	     !json_object_is_type(staged, json_type_array))) {
		explicit_bzero(chip_key, sizeof(chip_key));
		return session_reject(s, "malformed v2 HELLO");
	}
	d->stats.checkins++;
	note_last(s, last);
	bufferevent_set_timeouts(s->bev, &reply_tv, &reply_tv);
	evtimer_add(s->deadline, &deadline);
	run->chunk =
	    (uint32_t)(rx < LUAOTA_V2_CHUNK_MAX ? rx : LUAOTA_V2_CHUNK_MAX);
	run->win =
	    (uint32_t)(win < LUAOTA_V2_WINDOW_MAX ? win : LUAOTA_V2_WINDOW_MAX);

	/* The session key: both nonces, fresh for this connection. */
	if (luaota_crypto_openssl.random(luaota_crypto_openssl.ctx, ns,
					 sizeof(ns)) != 0 ||
	    luaota_v2_session_key(&luaota_crypto_openssl, chip_key, nd, ns,
				  sess) != 0) {
		explicit_bzero(chip_key, sizeof(chip_key));
		return fail(s, "crypto failure");
	}
	explicit_bzero(chip_key, sizeof(chip_key));
	luaota_v2_channel_rekey(&run->ch, sess);
	explicit_bzero(sess, sizeof(sess));
	luaota_v2_hex(nd, sizeof(nd), nd_hex);
	luaota_v2_hex(ns, sizeof(ns), ns_hex);

	rollouts_pick(d, &s->chip, version, &pick);
	if (resolve(s, run, version, &pick, &overrides, &lua_version, why,
		    sizeof(why)) != 0) {
		rc = fail(s, "%s", why);
		goto out;
	}
	if (strcmp(lua, LUAOTA_LUA_NAME(lua_version)) != 0) {
		rc = fail(s,
			  "not sent: the device runs Lua %.8s, the group "
			  "is checked for %s",
			  lua, LUAOTA_LUA_NAME(lua_version));
		goto out;
	}
	have_latest = store_v2_release_latest(d->store, s->chip_id, &latest);
	if (have_latest != 0 && have_latest != STORE_NOTFOUND) {
		rc = fail(s, "inventory unavailable: %s",
			  store_errmsg(d->store));
		goto out;
	}
	have_latest = have_latest == 0;
	if (plan_release_build(&r, run->manifest, overrides,
			       have_latest ? latest.manifest : NULL, why,
			       sizeof(why)) != 0) {
		rc = fail(s, "%s", why);
		goto out;
	}
	/* The device holds our latest release and would be sent another:
	 * past max-inflight it is current for the one it holds. */
	if (have_latest && device_rc == latest.rc &&
	    strcmp(mh, latest.mh) == 0 && strcmp(r.mh, latest.mh) != 0 &&
	    rollouts_take_slot(d, s, &pick) != 0) {
		s->revision[0] = '\0';
		run->rc = latest.rc;
		rc = answer_current(s, run, ns_hex, nd_hex);
		goto out;
	}
	if (release_pick(s, &r, &latest, have_latest, device_rc, why,
			 sizeof(why)) != 0) {
		rc = fail(s, "%s", why);
		goto out;
	}
	if (serve_table(run) != 0) {
		rc = fail(s, "out of memory");
		goto out;
	}
	run->rc = r.rc;
	strlcpy(run->mh, r.mh, sizeof(run->mh));

	if (device_rc == run->rc && strcmp(mh, run->mh) == 0) {
		rc = answer_current(s, run, ns_hex, nd_hex);
		goto out;
	}
	/* Without a release of ours it could stay current for, the chip is
	 * updated even past max-inflight (counted when a slot is free). */
	(void)rollouts_take_slot(d, s, &pick);
	rollouts_note(d, s, &pick);

	/* An update: the history row is opened before anything is sent. */
	session_chip_seen(s);
	session_open_history(s);
	reply = new_reply("manifest");
	if (reply != NULL) {
		struct json_object *sec = sealed_secrets(run, &r);

		json_object_object_add(reply, "ns",
				       json_object_new_string(ns_hex));
		json_object_object_add(reply, "nd",
				       json_object_new_string(nd_hex));
		json_object_object_add(reply, "chunk",
				       json_object_new_int64(run->chunk));
		json_object_object_add(reply, "win",
				       json_object_new_int64(run->win));
		json_object_object_add(reply, "sec", sec);
		json_object_object_add(
		    reply, "data",
		    json_object_new_int64((int64_t)strlen(r.text)));
		if (sec == NULL) {
			json_object_put(reply);
			reply = NULL;
		}
	}
	if (send_object(s, reply, (const uint8_t *)r.text, r.len) != 0) {
		rc = fail(s, "could not queue the manifest (secret config "
			     "values too long for one record?)");
		goto out;
	}
	{
		struct log_fields f = session_fields(s);

		log_session(LOG_LEVEL_INFO, &f,
			    "event=v2-manifest rc=%lld device_rc=%lld "
			    "files=%zu",
			    (long long)run->rc, (long long)device_rc,
			    run->nfiles);
	}
	run->phase = V2_SENT_MANIFEST;
	session_set_state(s, SESSION_REPLY);
	rc = 0;
out:
	plan_release_free(&r);
	store_v2_release_free(&latest);
	free(overrides);
	return rc;
}

/* Answers one "get" with exactly the bytes it names. */
static int serve_get(struct session *s, struct json_object *obj)
{
	struct v2_run *run = s->run;
	const char *h = hex_field(obj, "h", PLAN_RELEASE_STAGE_HEX, NULL);
	struct json_object *reply;
	struct v2_file *file = NULL;
	int64_t off, len;
	size_t i;

	if (h == NULL || int_field(obj, "off", 0, INT64_MAX, &off) != 0 ||
	    int_field(obj, "len", 1, run->chunk, &len) != 0)
		return fail(s, "malformed get");
	for (i = 0; i < run->nfiles && file == NULL; i++)
		if (strcmp(run->files[i].stage, h) == 0)
			file = &run->files[i];
	if (file == NULL)
		return fail(s, "get for a file not in release %lld",
			    (long long)run->rc);
	if ((uint64_t)off > file->plan->len ||
	    (uint64_t)len > file->plan->len - (uint64_t)off)
		return fail(s, "get beyond the end of %s", file->plan->name);
	reply = new_reply("chunk");
	if (reply != NULL) {
		json_object_object_add(reply, "h", json_object_new_string(h));
		json_object_object_add(reply, "off",
				       json_object_new_int64(off));
		json_object_object_add(reply, "data",
				       json_object_new_int64(len));
	}
	if (send_object(s, reply, file->plan->data + off, (size_t)len) != 0)
		return fail(s, "could not queue a chunk");
	s->bytes_sent += len;
	if ((uint64_t)(off + len) == file->plan->len && !file->counted) {
		struct store_session_file row = {
			.name = (char *)file->plan->name,
			.action =
			    (char *)(file->plan->action == PLAN_CM ? "cm"
								   : "dl"),
			.bytes = (int64_t)file->plan->len,
			.result = (char *)"OK",
			.lcsize = -1,
		};

		file->counted = 1;
		s->files_sent++;
		session_file_row(s, &row);
	}
	return 0;
}

/* The device's "s" reply: ok, refused or committed. */
static int device_status(struct session *s, struct json_object *obj,
			 const char *status)
{
	struct v2_run *run = s->run;
	const char *why;
	int64_t rc;

	if (strcmp(status, "refused") == 0) {
		why = plan_json_string(obj, "why");
		return fail(s, "device refused release %lld: %.64s",
			    (long long)run->rc, why != NULL ? why : "?");
	}
	if (run->phase == V2_SENT_MANIFEST && strcmp(status, "ok") == 0) {
		run->phase = V2_SERVING;
		return 0;
	}
	if (run->phase == V2_SENT_COMMIT && strcmp(status, "committed") == 0) {
		const char *mh = plan_json_string(obj, "mh");

		if (int_field(obj, "rc", 0, UINT32_MAX, &rc) != 0 ||
		    rc != run->rc || mh == NULL || strcmp(mh, run->mh) != 0)
			return fail(s, "device committed something else");
		mark_v2_seen(s);
		session_set_outcome(s, STORE_OUTCOME_UPDATED,
				    s->reason != NULL ? "%s" : NULL, s->reason);
		session_close(s, "committed");
		return -1;
	}
	return fail(s, "unexpected status %.32s", status);
}

static int v2_record(struct session *s, const struct luaota_record *rec,
		     struct json_object *obj)
{
	struct v2_run *run = s->run;
	const char *a, *status;
	int64_t version;

	if (luaota_v2_open(&run->ch, rec) != 0)
		return fail(s, "record failed its tag");
	if (int_field(obj, "v", 2, 2, &version) != 0)
		return fail(s, "record without v:2");
	if ((status = plan_json_string(obj, "s")) != NULL)
		return device_status(s, obj, status);
	a = plan_json_string(obj, "a");
	if (a != NULL && run->phase == V2_SERVING) {
		if (strcmp(a, "get") == 0)
			return serve_get(s, obj);
		if (strcmp(a, "staged") == 0) {
			struct json_object *reply = new_reply("commit");

			if (reply != NULL)
				json_object_object_add(
				    reply, "rc",
				    json_object_new_int64(run->rc));
			if (send_object(s, reply, NULL, 0) != 0)
				return fail(s, "could not queue commit");
			run->phase = V2_SENT_COMMIT;
			return 0;
		}
	}
	return fail(s, "unexpected record %.32s", a != NULL ? a : "?");
}

/* Chunks go out back to back, and device records carry no payload. */
static void v2_start(struct session *s)
{
	/* Nagle's algorithm would hold each partial segment until the
	 * previous one is ACKed. */
	setsockopt(bufferevent_getfd(s->bev), IPPROTO_TCP, TCP_NODELAY,
		   &(int){ 1 }, sizeof(int));
	luaota_frame_init(&s->framer, LUAOTA_V2_HEADER_MAX, 0, 0);
	luaota_frame_set_tag_len(&s->framer, LUAOTA_V2_TAG_LEN);
}

const struct session_protocol v2_protocol = {
	.name = "v2",
	.version = LUAOTA_PROTO_V2,
	.claims = v2_is_hello,
	.start = v2_start,
	.hello = v2_hello,
	.record = v2_record,
	.output_limit = v2_output_limit,
	.run_free = v2_run_free,
};
