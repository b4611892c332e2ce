/*
 * The HTTP listener: Prometheus metrics, the JSON API under /api/v1 and
 * the dashboard, on libevent's evhttp in the daemon's own loop.  Every
 * answer that carries inventory data needs a bearer token (luaotactl
 * token add); a read-only token may look, a write token may also change.
 * The views and the writes are admin/'s, the same luaotactl runs.
 */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <bsd/string.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <json-c/json.h>

#include "admin/admin.h"
#include "admin/chips.h"
#include "admin/groups.h"
#include "admin/rollouts.h"
#include "admin/token.h"
#include "admin/views.h"
#include "assets.h"
#include "daemon.h"
#include "log.h"
#include "metrics.h"
#include "policy/rollout.h"
#include "proto/chipid.h"
#include "ratelimit.h"
#include "rollouts.h"

#define API_PREFIX "/api/v1/"
#define HISTORY_DEFAULT_LIMIT 50
#define HISTORY_MAX_LIMIT 1000
#define MAX_HEADERS_SIZE 8192
/* A token's last use is written at most this often (seconds). */
#define TOKEN_USED_EVERY 60

struct http_api {
	struct daemon *d;
	struct evhttp *http;
	struct evhttp_bound_socket *bound;
};

/* One request being answered. */
struct call {
	struct http_api *api;
	struct evhttp_request *req;
	char peer[64];
	const char *path; /* without the query */
	struct evkeyvalq query;
	char *segments[6]; /* the path after /api/v1/, split at '/' */
	int nsegments;
	char *path_copy;
	char token[65];		  /* the name of the token that authorised it */
	struct json_object *body; /* a write's JSON object, or NULL */
};

static void set_common_headers(struct evhttp_request *req, const char *type)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);

	evhttp_add_header(h, "Content-Type", type);
	evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	evhttp_add_header(h, "Referrer-Policy", "no-referrer");
	/* The dashboard loads nothing from elsewhere, and is never framed. */
	evhttp_add_header(h, "Content-Security-Policy",
			  "default-src 'self'; frame-ancestors 'none'");
}

static void reply_json(struct call *c, int code, struct json_object *o)
{
	struct evbuffer *out = evbuffer_new();
	const char *text;

	if (out == NULL) {
		evhttp_send_error(c->req, HTTP_INTERNAL, NULL);
		json_object_put(o);
		return;
	}
	text = o != NULL ? json_object_to_json_string_ext(
			       o, JSON_C_TO_STRING_PLAIN |
				      JSON_C_TO_STRING_NOSLASHESCAPE)
			 : "null";
	evbuffer_add(out, text, strlen(text));
	evbuffer_add(out, "\n", 1);
	set_common_headers(c->req, "application/json");
	evhttp_send_reply(c->req, code,
			  code == HTTP_OK ? "OK"
			  : code == 201	  ? "Created"
					  : "",
			  out);
	evbuffer_free(out);
	json_object_put(o);
}

static const char *reason_phrase(int code)
{
	switch (code) {
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 409:
		return "Conflict";
	case 413:
		return "Payload Too Large";
	case 415:
		return "Unsupported Media Type";
	case 422:
		return "Unprocessable Entity";
	case 503:
		return "Service Unavailable";
	default:
		return "Internal Server Error";
	}
}

static void reply_error(struct call *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void reply_error(struct call *c, int code, const char *fmt, ...)
{
	struct json_object *o = json_object_new_object();
	struct evbuffer *out = evbuffer_new();
	char message[512];
	const char *text;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	if (o == NULL || out == NULL) {
		json_object_put(o);
		if (out != NULL)
			evbuffer_free(out);
		evhttp_send_error(c->req, HTTP_INTERNAL, NULL);
		return;
	}
	json_object_object_add(o, "error", json_object_new_string(message));
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	evbuffer_add(out, text, strlen(text));
	evbuffer_add(out, "\n", 1);
	set_common_headers(c->req, "application/json");
	if (code == 401)
		evhttp_add_header(evhttp_request_get_output_headers(c->req),
				  "WWW-Authenticate",
				  "Bearer realm=\"luaotad\"");
	evhttp_send_reply(c->req, code, reason_phrase(code), out);
	evbuffer_free(out);
	json_object_put(o);
}

/* An admin/ result as an HTTP answer. */
static void reply_result(struct call *c, const struct admin_result *res)
{
	static const int codes[] = {
		[ADMIN_OK] = 200,	[ADMIN_INVALID] = 400,
		[ADMIN_NOTFOUND] = 404, [ADMIN_CONFLICT] = 409,
		[ADMIN_REFUSED] = 422,	[ADMIN_FAILED] = 500,
	};

	reply_error(c, codes[res->status], "%s", res->message);
}

/* A refusal: counted, logged (limited), answered. */
static void refuse(struct call *c, int code, const char *why)
{
	c->api->d->metrics.http_refused++;
	if (ratelimit_allow("http-refused", daemon_now_ms()))
		log_warnx("event=http-refused peer=%s path=\"%.64s\" "
			  "status=%d reason=\"%s\"",
			  c->peer, c->path, code, why);
	reply_error(c, code, "%s", why);
}

/*
 * Checks the bearer token: 0 when it may do what the request asks (write:
 * change the inventory), else -1 once refused.
 */
static int authorize(struct call *c, int write)
{
	struct daemon *d = c->api->d;
	const char *auth = evhttp_find_header(
	    evhttp_request_get_input_headers(c->req), "Authorization");
	char hash[ADMIN_TOKEN_HASH_LEN + 1];
	struct store_token t;
	int64_t now = (int64_t)time(NULL);
	size_t len;
	int rc;

	if (auth == NULL || strncasecmp(auth, "Bearer ", 7) != 0) {
		refuse(c, 401,
		       "a bearer token is required (luaotactl token "
		       "add)");
		return -1;
	}
	auth += 7;
	len = strlen(auth);
	if (len == 0 || len > 256 || admin_token_hash(auth, len, hash) != 0) {
		refuse(c, 401, "bad token");
		return -1;
	}
	rc = store_token_find(d->store, hash, &t);
	if (rc == STORE_NOTFOUND) {
		refuse(c, 401, "bad token");
		return -1;
	}
	if (rc != 0) {
		reply_error(c, 503, "inventory unavailable: %s",
			    store_errmsg(d->store));
		return -1;
	}
	if (write && t.scope != STORE_TOKEN_WRITE) {
		store_token_free(&t);
		refuse(c, 403, "this token is read-only");
		return -1;
	}
	if (now - t.last_used >= TOKEN_USED_EVERY)
		store_token_used(d->store, t.id, now);
	strlcpy(c->token, t.name, sizeof(c->token));
	store_token_free(&t);
	return 0;
}

static const char *query(struct call *c, const char *key)
{
	return evhttp_find_header(&c->query, key);
}

static int query_flag(struct call *c, const char *key)
{
	const char *v = query(c, key);

	return v != NULL && (strcmp(v, "1") == 0 || strcmp(v, "true") == 0);
}

static void serve_metrics(struct call *c)
{
	struct evbuffer *out = evbuffer_new();

	if (out == NULL) {
		evhttp_send_error(c->req, HTTP_INTERNAL, NULL);
		return;
	}
	if (metrics_render(c->api->d, out) != 0 &&
	    ratelimit_allow("metrics-store", daemon_now_ms()))
		log_warnx("event=metrics-partial error=\"%s\"",
			  store_errmsg(c->api->d->store));
	set_common_headers(c->req, "text/plain; version=0.0.4; charset=utf-8");
	evhttp_send_reply(c->req, HTTP_OK, "OK", out);
	evbuffer_free(out);
}

/* What the chip walk of GET /api/v1/chips and /summary collects. */
struct chip_walk {
	struct admin_chip_filter filter;
	struct json_object *array; /* NULL: count only */
	int64_t total, failing, never;
};

static int walk_chip(const struct store_chip *chip, void *arg)
{
	struct chip_walk *w = arg;
	struct json_object *o;

	w->total++;
	if (admin_outcome_failing(chip->last_outcome))
		w->failing++;
	if (chip->last_seen == 0)
		w->never++;
	if (w->array == NULL || !admin_chip_wanted(&w->filter, chip))
		return 0;
	if ((o = admin_chip_json(chip)) == NULL)
		return -1;
	return json_object_array_add(w->array, o) != 0 ? -1 : 0;
}

static void serve_chips(struct call *c)
{
	struct store *st = c->api->d->store;
	const char *silent = query(c, "silent_for");
	struct chip_walk w = {
		.filter.group = query(c, "group"),
		.filter.failing = query_flag(c, "failing"),
	};
	int64_t seconds;

	if (silent != NULL) {
		if (admin_parse_duration(silent, &seconds) != 0) {
			reply_error(c, 400,
				    "bad silent_for '%.32s' (a duration: 90s, "
				    "30m, 12h, 7d)",
				    silent);
			return;
		}
		w.filter.silent = 1;
		w.filter.seen_before = (int64_t)time(NULL) - seconds;
	}
	if ((w.array = json_object_new_array()) == NULL ||
	    store_chip_foreach(st, walk_chip, &w) != 0) {
		json_object_put(w.array);
		reply_error(c, 503, "cannot list chips: %s", store_errmsg(st));
		return;
	}
	reply_json(c, 200, w.array);
}

/* A chip id from the path, normalised as luaotactl does; NULL: refused. */
static const char *chip_id_arg(struct call *c, const char *given,
			       char id[LUAOTA_CHIPID_MAX + 1])
{
	if (luaota_chipid_normalize(LUAOTA_JSON_STRING, given, strlen(given),
				    id) != 0) {
		reply_error(c, 400, "bad chip id");
		return NULL;
	}
	return id;
}

static void serve_chip(struct call *c, const char *given)
{
	struct store *st = c->api->d->store;
	char id[LUAOTA_CHIPID_MAX + 1];
	struct store_chip chip;
	int rc;

	if (chip_id_arg(c, given, id) == NULL)
		return;
	rc = store_chip_get(st, id, &chip);
	if (rc == STORE_NOTFOUND) {
		reply_error(c, 404, "no such chip: %s", id);
		return;
	}
	if (rc != 0) {
		reply_error(c, 503, "cannot read chip %s: %s", id,
			    store_errmsg(st));
		return;
	}
	reply_json(c, 200, admin_chip_json(&chip));
	store_chip_free(&chip);
}

static void serve_history(struct call *c, const char *chip_given)
{
	struct store *st = c->api->d->store;
	const char *limit_arg = query(c, "limit");
	const char *since = query(c, "since");
	const char *before = query(c, "before");
	const char *chip = chip_given != NULL ? chip_given : query(c, "chip");
	struct store_session_filter f = {
		.failed_only = query_flag(c, "failed"),
	};
	struct json_object *page, *rows, *o;
	struct store_session *s = NULL;
	char id[LUAOTA_CHIPID_MAX + 1];
	int64_t limit = HISTORY_DEFAULT_LIMIT, when;
	size_t n = 0, i;

	if (chip != NULL && (f.chip_id = chip_id_arg(c, chip, id)) == NULL)
		return;
	if (limit_arg != NULL &&
	    admin_parse_int(limit_arg, 1, HISTORY_MAX_LIMIT, &limit) != 0) {
		reply_error(c, 400, "bad limit (1 to %d)", HISTORY_MAX_LIMIT);
		return;
	}
	if (since != NULL) {
		if (admin_parse_time(since, &when) != 0) {
			reply_error(c, 400,
				    "bad since (ISO 8601 UTC, or an age: "
				    "30m, 12h, 7d)");
			return;
		}
		f.since_ms = when * 1000;
	}
	if (before != NULL &&
	    admin_parse_int(before, 1, INT64_MAX, &f.before_id) != 0) {
		reply_error(c, 400, "bad before (a session id)");
		return;
	}
	/* One more than a page: whether there is a next one. */
	f.limit = (int)limit + 1;
	if (store_session_query(st, &f, &s, &n) != 0) {
		reply_error(c, 503, "cannot read the history: %s",
			    store_errmsg(st));
		return;
	}
	page = json_object_new_object();
	rows = json_object_new_array();
	for (i = 0; i < n && i < (size_t)limit; i++) {
		if ((o = admin_session_json(st, &s[i])) == NULL) {
			json_object_put(page);
			json_object_put(rows);
			store_session_list_free(s, n);
			reply_error(c, 503, "cannot read the history: %s",
				    store_errmsg(st));
			return;
		}
		json_object_array_add(rows, o);
	}
	json_object_object_add(page, "sessions", rows);
	/* The cursor of the next page: the last row shown. */
	json_object_object_add(
	    page, "next_before",
	    n > (size_t)limit ? json_object_new_int64(s[limit - 1].id) : NULL);
	store_session_list_free(s, n);
	reply_json(c, 200, page);
}

static void serve_session(struct call *c, const char *given)
{
	struct store *st = c->api->d->store;
	struct store_session s;
	int64_t id;
	int rc;

	if (admin_parse_int(given, 1, INT64_MAX, &id) != 0) {
		reply_error(c, 400, "bad session id");
		return;
	}
	rc = store_session_get(st, id, &s);
	if (rc == STORE_NOTFOUND) {
		reply_error(c, 404, "no such session: %" PRId64, id);
		return;
	}
	if (rc != 0) {
		reply_error(c, 503, "cannot read the history: %s",
			    store_errmsg(st));
		return;
	}
	reply_json(c, 200, admin_session_json(st, &s));
	store_session_free(&s);
}

/* One group as JSON, with its repository and chip count; NULL: failed. */
static struct json_object *group_view(struct store *st,
				      const struct store_group *g)
{
	struct store_repo repo = { 0 };
	struct json_object *o;
	int64_t chips = 0;

	if (store_repo_get_id(st, g->repo_id, &repo) != 0 ||
	    store_group_chips(st, g->id, &chips) != 0) {
		store_repo_free(&repo);
		return NULL;
	}
	o = admin_group_json(g, &repo, chips);
	store_repo_free(&repo);
	return o;
}

static void serve_groups(struct call *c)
{
	struct store *st = c->api->d->store;
	struct store_group *groups = NULL;
	struct json_object *array, *o;
	size_t n = 0, i;

	if (store_group_list(st, &groups, &n) != 0) {
		reply_error(c, 503, "cannot list groups: %s", store_errmsg(st));
		return;
	}
	array = json_object_new_array();
	for (i = 0; i < n; i++) {
		if ((o = group_view(st, &groups[i])) == NULL) {
			json_object_put(array);
			store_group_list_free(groups, n);
			reply_error(c, 503, "cannot list groups: %s",
				    store_errmsg(st));
			return;
		}
		json_object_array_add(array, o);
	}
	store_group_list_free(groups, n);
	reply_json(c, 200, array);
}

/* Answers with group name as it is now (status 200 or 201). */
static void reply_group(struct call *c, int code, const char *name)
{
	struct store *st = c->api->d->store;
	struct store_group g = { 0 };
	struct json_object *o;
	int rc = store_group_get(st, name, &g);

	if (rc == STORE_NOTFOUND) {
		reply_error(c, 404, "no such group: %.64s", name);
		return;
	}
	if (rc != 0 || (o = group_view(st, &g)) == NULL) {
		store_group_free(&g);
		reply_error(c, 503, "cannot read group: %s", store_errmsg(st));
		return;
	}
	store_group_free(&g);
	reply_json(c, code, o);
}

/* A rollout with its waves' health as luaotad judges it now. */
static struct json_object *
rollout_view(struct store *st, const struct store_rollout *r, int chips)
{
	struct rollout_report rep;
	struct json_object *o;

	if (rollout_assess(st, r, daemon_wall_ms(), &rep) != 0)
		return NULL;
	o = admin_rollout_json(r, &rep, chips);
	rollout_report_free(&rep);
	return o;
}

static void serve_rollouts(struct call *c)
{
	struct store *st = c->api->d->store;
	const char *group = query(c, "group");
	struct store_rollout *rows = NULL;
	struct store_group g = { 0 };
	struct json_object *array, *o;
	size_t n = 0, i;
	int rc;

	if (group != NULL) {
		rc = store_group_get(st, group, &g);
		if (rc == STORE_NOTFOUND) {
			reply_error(c, 404, "no such group: %.64s", group);
			return;
		}
		if (rc != 0) {
			reply_error(c, 503, "cannot read group: %s",
				    store_errmsg(st));
			return;
		}
	}
	rc = store_rollout_list(st, g.id, &rows, &n);
	store_group_free(&g);
	if (rc != 0) {
		reply_error(c, 503, "cannot list rollouts: %s",
			    store_errmsg(st));
		return;
	}
	array = json_object_new_array();
	for (i = 0; i < n; i++) {
		if ((o = rollout_view(st, &rows[i], 0)) == NULL) {
			json_object_put(array);
			store_rollout_list_free(rows, n);
			reply_error(c, 503, "cannot judge rollouts: %s",
				    store_errmsg(st));
			return;
		}
		json_object_array_add(array, o);
	}
	store_rollout_list_free(rows, n);
	reply_json(c, 200, array);
}

/* The rollout the path names; 0, or -1 once answered. */
static int rollout_arg(struct call *c, const char *given,
		       struct store_rollout *r)
{
	struct store *st = c->api->d->store;
	int64_t id;
	int rc;

	if (admin_parse_int(given, 1, INT64_MAX, &id) != 0) {
		reply_error(c, 400, "bad rollout id");
		return -1;
	}
	rc = store_rollout_get(st, id, r);
	if (rc == STORE_NOTFOUND) {
		reply_error(c, 404, "no such rollout: %" PRId64, id);
		return -1;
	}
	if (rc != 0) {
		reply_error(c, 503, "cannot read rollout: %s",
			    store_errmsg(st));
		return -1;
	}
	return 0;
}

static void serve_rollout(struct call *c, const char *given)
{
	struct store *st = c->api->d->store;
	struct store_rollout r;
	struct json_object *o;

	if (rollout_arg(c, given, &r) != 0)
		return;
	o = rollout_view(st, &r, query_flag(c, "chips"));
	store_rollout_free(&r);
	if (o == NULL)
		reply_error(c, 503, "cannot judge the rollout: %s",
			    store_errmsg(st));
	else
		reply_json(c, 200, o);
}

static void move_rollout(struct call *c, const char *given,
			 enum store_rollout_state to)
{
	struct daemon *d = c->api->d;
	struct admin_result res;
	struct store_rollout r, after;
	int64_t id;

	if (rollout_arg(c, given, &r) != 0)
		return;
	id = r.id;
	store_rollout_free(&r);
	if (admin_rollout_move(d->store, id, to, daemon_wall_ms(), &res) != 0) {
		reply_result(c, &res);
		return;
	}
	rollouts_own_write(d);
	log_info("event=rollout-%s rollout=%" PRId64 " token=%s peer=%s",
		 admin_rollout_verb(to), id, c->token, c->peer);
	if (store_rollout_get(d->store, id, &after) != 0) {
		reply_error(c, 503, "cannot read rollout: %s",
			    store_errmsg(d->store));
		return;
	}
	reply_json(c, 200, rollout_view(d->store, &after, 0));
	store_rollout_free(&after);
}

/*
 * The request body as a JSON object whose keys are all in allowed (NULL
 * terminated) into c->body; 0, or -1 once answered.
 */
static int read_body(struct call *c, const char *const *allowed)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(c->req);
	size_t len = evbuffer_get_length(in);
	const char *type = evhttp_find_header(
	    evhttp_request_get_input_headers(c->req), "Content-Type");
	struct json_tokener *tok;
	const char *data;
	size_t i;

	if (type == NULL || strncasecmp(type, "application/json", 16) != 0) {
		refuse(c, 415, "the body must be application/json");
		return -1;
	}
	data =
	    len > 0 ? (const char *)evbuffer_pullup(in, (ev_ssize_t)len) : "";
	if ((tok = json_tokener_new()) == NULL) {
		reply_error(c, 500, "out of memory");
		return -1;
	}
	c->body = json_tokener_parse_ex(tok, data, (int)len);
	if (c->body == NULL || json_tokener_get_parse_end(tok) != len ||
	    !json_object_is_type(c->body, json_type_object)) {
		json_tokener_free(tok);
		reply_error(c, 400, "the body must be one JSON object");
		return -1;
	}
	json_tokener_free(tok);
	json_object_object_foreach(c->body, key, value)
	{
		(void)value;
		for (i = 0; allowed[i] != NULL; i++)
			if (strcmp(key, allowed[i]) == 0)
				break;
		if (allowed[i] == NULL) {
			reply_error(c, 400, "unknown field '%.64s'", key);
			return -1;
		}
	}
	return 0;
}

/* Text fields of a body: strings as they are, numbers as written. */
struct fields {
	char numbers[12][24];
	size_t used;
};

/* Body field key as text into *out (NULL when absent); 0, or -1 once
 * answered. */
static int field(struct call *c, struct fields *f, const char *key,
		 const char **out)
{
	struct json_object *v;

	*out = NULL;
	if (!json_object_object_get_ex(c->body, key, &v) || v == NULL)
		return 0;
	if (json_object_is_type(v, json_type_string)) {
		*out = json_object_get_string(v);
		return 0;
	}
	if (json_object_is_type(v, json_type_int) &&
	    f->used < sizeof(f->numbers) / sizeof(f->numbers[0])) {
		snprintf(f->numbers[f->used], sizeof(f->numbers[0]), "%" PRId64,
			 json_object_get_int64(v));
		*out = f->numbers[f->used++];
		return 0;
	}
	reply_error(c, 400, "field '%s' must be a string or an integer", key);
	return -1;
}

static void chip_add(struct call *c)
{
	static const char *const allowed[] = { "id",	"group",    "secret",
					       "label", "protocol", NULL };
	struct daemon *d = c->api->d;
	struct admin_chip_request req = { 0 };
	struct admin_new_chip chip;
	struct admin_result res;
	struct store_chip added;
	struct json_object *o;
	struct fields f = { .used = 0 };

	if (read_body(c, allowed) != 0 || field(c, &f, "id", &req.id) != 0 ||
	    field(c, &f, "group", &req.group) != 0 ||
	    field(c, &f, "secret", &req.secret) != 0 ||
	    field(c, &f, "label", &req.label) != 0 ||
	    field(c, &f, "protocol", &req.protocol) != 0)
		return;
	if (admin_chip_prepare(&req, &chip, &res) != 0 ||
	    admin_chip_insert(d->store, &chip, &res) != 0) {
		reply_result(c, &res);
		return;
	}
	log_info("event=chip-added chip=%s group=%s token=%s peer=%s", chip.id,
		 chip.group, c->token, c->peer);
	if (store_chip_get(d->store, chip.id, &added) != 0) {
		admin_new_chip_clear(&chip);
		reply_error(c, 503,
			    "chip %s added, but cannot be read back: %s",
			    chip.id, store_errmsg(d->store));
		return;
	}
	o = admin_chip_json(&added);
	store_chip_free(&added);
	/* Shown once, as luaotactl add prints it: never again. */
	if (chip.generated)
		json_object_object_add(o, "secret",
				       json_object_new_string(chip.secret));
	if (chip.v2)
		json_object_object_add(o, "v2_key",
				       json_object_new_string(chip.key));
	admin_new_chip_clear(&chip);
	reply_json(c, 201, o);
}

/*
 * The group fields of the body into req: files as a list or a comma
 * separated string, actions as {"FILE": "dl"}, config as an object.
 */
static int group_fields(struct call *c, struct fields *f,
			struct admin_group_request *req, char **files,
			const char **actions, char (*action_text)[128],
			size_t max_actions)
{
	struct json_object *v;

	if (field(c, f, "repo", &req->repo) != 0 ||
	    field(c, f, "ref", &req->ref) != 0 ||
	    field(c, f, "max_file_size", &req->max_file_size) != 0 ||
	    field(c, f, "lua", &req->lua) != 0)
		return -1;
	if (json_object_object_get_ex(c->body, "files", &v) && v != NULL) {
		size_t i, n, used = 0, cap = 1;

		if (json_object_is_type(v, json_type_string)) {
			req->files = json_object_get_string(v);
		} else if (json_object_is_type(v, json_type_array)) {
			n = json_object_array_length(v);
			for (i = 0; i < n; i++) {
				struct json_object *e =
				    json_object_array_get_idx(v, i);

				if (!json_object_is_type(e, json_type_string)) {
					reply_error(c, 400,
						    "files: a list of names");
					return -1;
				}
				cap += strlen(json_object_get_string(e)) + 1;
			}
			if ((*files = calloc(1, cap)) == NULL) {
				reply_error(c, 500, "out of memory");
				return -1;
			}
			for (i = 0; i < n; i++) {
				const char *name = json_object_get_string(
				    json_object_array_get_idx(v, i));

				/* A comma would split one name in two. */
				if (strchr(name, ',') != NULL) {
					reply_error(c, 400,
						    "bad file name in files: "
						    "'%.64s'",
						    name);
					return -1;
				}
				used += (size_t)snprintf(
				    *files + used, cap - used, "%s%s",
				    i > 0 ? "," : "", name);
			}
			req->files = *files;
		} else {
			reply_error(c, 400, "files: a list of names");
			return -1;
		}
	}
	if (json_object_object_get_ex(c->body, "actions", &v) && v != NULL) {
		if (!json_object_is_type(v, json_type_object)) {
			reply_error(c, 400,
				    "actions: an object of FILE: dl|cm|auto");
			return -1;
		}
		json_object_object_foreach(v, name, action)
		{
			if (req->nactions == max_actions ||
			    !json_object_is_type(action, json_type_string)) {
				reply_error(c, 400,
					    "actions: an object of FILE: "
					    "dl|cm|auto");
				return -1;
			}
			snprintf(action_text[req->nactions], 128, "%s=%s", name,
				 json_object_get_string(action));
			actions[req->nactions] = action_text[req->nactions];
			req->nactions++;
		}
		req->actions = actions;
	}
	if (json_object_object_get_ex(c->body, "config", &v)) {
		if (v == NULL)
			req->config = ""; /* null clears, as --config '' */
		else if (json_object_is_type(v, json_type_object))
			req->config = json_object_to_json_string_ext(
			    v, JSON_C_TO_STRING_PLAIN);
		else {
			reply_error(c, 400, "config: a JSON object, or null");
			return -1;
		}
	}
	return 0;
}

static void group_write(struct call *c, const char *name)
{
	static const char *const allowed[] = {
		"name",	  "repo",	   "ref", "files", "actions",
		"config", "max_file_size", "lua", NULL
	};
	struct daemon *d = c->api->d;
	const char *actions[ADMIN_GROUP_FILES_MAX];
	char action_text[ADMIN_GROUP_FILES_MAX][128];
	struct admin_group_request req = { 0 };
	struct admin_result res;
	struct fields f = { .used = 0 };
	char *files = NULL;
	int rc, add = name == NULL;

	if (read_body(c, allowed) != 0)
		return;
	if (add && field(c, &f, "name", &req.name) != 0)
		return;
	if (!add) {
		if (json_object_object_get_ex(c->body, "name", NULL)) {
			reply_error(c, 400,
				    "a group is not renamed: no 'name'");
			return;
		}
		req.name = name;
	}
	if (group_fields(c, &f, &req, &files, actions, action_text,
			 ADMIN_GROUP_FILES_MAX) != 0) {
		free(files);
		return;
	}
	rc = add ? admin_group_add(d->store, &req, &res)
		 : admin_group_set(d->store, &req, &res);
	free(files);
	if (rc != 0) {
		reply_result(c, &res);
		return;
	}
	rollouts_own_write(d);
	log_info("event=group-%s group=%s token=%s peer=%s",
		 add ? "added" : "changed", req.name, c->token, c->peer);
	reply_group(c, add ? 201 : 200, req.name);
}

static void group_pin(struct call *c, const char *name)
{
	static const char *const allowed[] = { "revision", NULL };
	struct daemon *d = c->api->d;
	struct policy_settings settings;
	char revision[PLAN_REVISION_MAX];
	struct admin_result res;
	struct fields f = { .used = 0 };
	const char *ask;

	if (read_body(c, allowed) != 0 || field(c, &f, "revision", &ask) != 0)
		return;
	policy_settings_from_config(&settings, &d->conf);
	if (admin_group_pin(d->store, &settings, name, ask, revision, &res) !=
	    0) {
		reply_result(c, &res);
		return;
	}
	rollouts_own_write(d);
	log_info("event=group-pinned group=%s revision=%s token=%s peer=%s",
		 name, revision, c->token, c->peer);
	reply_group(c, 200, name);
}

static void group_unpin(struct call *c, const char *name)
{
	struct daemon *d = c->api->d;
	struct admin_result res;

	if (admin_group_unpin(d->store, name, &res) != 0) {
		reply_result(c, &res);
		return;
	}
	rollouts_own_write(d);
	log_info("event=group-unpinned group=%s token=%s peer=%s", name,
		 c->token, c->peer);
	reply_group(c, 200, name);
}

static void rollout_start(struct call *c)
{
	static const char *const allowed[] = {
		"group",	"to",		"canary", "steps",
		"max_failures", "max_inflight", "soak",	  "deadline",
		"loop",		"loop_window",	NULL
	};
	struct daemon *d = c->api->d;
	struct admin_rollout_request req = { 0 };
	struct policy_settings settings;
	struct store_rollout made;
	struct admin_result res;
	struct fields f = { .used = 0 };
	int64_t id;

	if (read_body(c, allowed) != 0 ||
	    field(c, &f, "group", &req.group) != 0 ||
	    field(c, &f, "to", &req.to) != 0 ||
	    field(c, &f, "canary", &req.canary) != 0 ||
	    field(c, &f, "steps", &req.steps) != 0 ||
	    field(c, &f, "max_failures", &req.max_failures) != 0 ||
	    field(c, &f, "max_inflight", &req.max_inflight) != 0 ||
	    field(c, &f, "soak", &req.soak) != 0 ||
	    field(c, &f, "deadline", &req.deadline) != 0 ||
	    field(c, &f, "loop", &req.loop) != 0 ||
	    field(c, &f, "loop_window", &req.loop_window) != 0)
		return;
	policy_settings_from_config(&settings, &d->conf);
	if (admin_rollout_start(d->store, &settings, &req, daemon_wall_ms(),
				&id, &res) != 0) {
		reply_result(c, &res);
		return;
	}
	rollouts_own_write(d);
	log_info("event=rollout-started rollout=%" PRId64
		 " group=%s token=%s peer=%s",
		 id, req.group, c->token, c->peer);
	if (store_rollout_get(d->store, id, &made) != 0) {
		reply_error(c, 503,
			    "rollout %" PRId64 " started, but cannot "
			    "be read back: %s",
			    id, store_errmsg(d->store));
		return;
	}
	reply_json(c, 201, rollout_view(d->store, &made, 0));
	store_rollout_free(&made);
}

static int summary_outcome(const char *outcome, int64_t count, void *arg)
{
	json_object_object_add(arg, outcome, json_object_new_int64(count));
	return 0;
}

/* The fleet at a glance, for the dashboard's header. */
static void serve_summary(struct call *c)
{
	struct daemon *d = c->api->d;
	const struct daemon_stats *stats = &d->stats;
	struct json_object *o = json_object_new_object(), *by, *live, *ro;
	struct store_rollout *rows = NULL;
	struct chip_walk w = { 0 };
	size_t n = 0, i;

	by = json_object_new_object();
	if (store_chip_foreach(d->store, walk_chip, &w) != 0 ||
	    store_chip_outcome_counts(d->store, summary_outcome, by) != 0 ||
	    store_rollout_list_active(d->store, &rows, &n) != 0) {
		json_object_put(o);
		json_object_put(by);
		reply_error(c, 503, "inventory unavailable: %s",
			    store_errmsg(d->store));
		return;
	}
	json_object_object_add(o, "version",
			       json_object_new_string(LUAOTAD_VERSION_TEXT));
	json_object_object_add(o, "chips", json_object_new_int64(w.total));
	json_object_object_add(o, "failing", json_object_new_int64(w.failing));
	json_object_object_add(o, "never_seen", json_object_new_int64(w.never));
	json_object_object_add(o, "by_outcome", by);
	live = json_object_new_object();
	json_object_object_add(live, "sessions_open",
			       json_object_new_int64((int64_t)stats->open));
	json_object_object_add(live, "checkins",
			       json_object_new_int64((int64_t)stats->checkins));
	json_object_object_add(live, "current",
			       json_object_new_int64((int64_t)stats->current));
	json_object_object_add(live, "updates",
			       json_object_new_int64((int64_t)stats->updates));
	json_object_object_add(live, "failures",
			       json_object_new_int64((int64_t)stats->failures));
	json_object_object_add(live, "rejected",
			       json_object_new_int64((int64_t)stats->rejected));
	json_object_object_add(live, "refused",
			       json_object_new_int64((int64_t)stats->refused));
	json_object_object_add(
	    live, "history_queued",
	    json_object_new_int64(
		(int64_t)(d->history_queued + d->history_unqueued)));
	json_object_object_add(o, "daemon", live);
	ro = json_object_new_array();
	for (i = 0; i < n; i++) {
		struct json_object *v = rollout_view(d->store, &rows[i], 0);

		if (v != NULL)
			json_object_array_add(ro, v);
	}
	store_rollout_list_free(rows, n);
	json_object_object_add(o, "rollouts", ro);
	reply_json(c, 200, o);
}

static int is_get(struct call *c)
{
	enum evhttp_cmd_type m = evhttp_request_get_command(c->req);

	return m == EVHTTP_REQ_GET || m == EVHTTP_REQ_HEAD;
}

static void method_not_allowed(struct call *c, const char *allowed)
{
	evhttp_add_header(evhttp_request_get_output_headers(c->req), "Allow",
			  allowed);
	refuse(c, 405, "method not allowed here");
}

/* /api/v1/...: the token first, then the route. */
static void serve_api(struct call *c)
{
	const char *first = c->nsegments > 0 ? c->segments[0] : "";
	int get = is_get(c);
	int post = evhttp_request_get_command(c->req) == EVHTTP_REQ_POST;
	int patch = evhttp_request_get_command(c->req) == EVHTTP_REQ_PATCH;

	if (!get && !post && !patch) {
		method_not_allowed(c, "GET, HEAD, POST, PATCH");
		return;
	}
	if (authorize(c, !get) != 0)
		return;
	if (strcmp(first, "summary") == 0 && c->nsegments == 1 && get)
		serve_summary(c);
	else if (strcmp(first, "chips") == 0 && c->nsegments == 1 && get)
		serve_chips(c);
	else if (strcmp(first, "chips") == 0 && c->nsegments == 1 && post)
		chip_add(c);
	else if (strcmp(first, "groups") == 0 && c->nsegments == 1 && post)
		group_write(c, NULL);
	else if (strcmp(first, "groups") == 0 && c->nsegments == 2 && patch)
		group_write(c, c->segments[1]);
	else if (strcmp(first, "groups") == 0 && c->nsegments == 3 && post &&
		 strcmp(c->segments[2], "pin") == 0)
		group_pin(c, c->segments[1]);
	else if (strcmp(first, "groups") == 0 && c->nsegments == 3 && post &&
		 strcmp(c->segments[2], "unpin") == 0)
		group_unpin(c, c->segments[1]);
	else if (strcmp(first, "rollouts") == 0 && c->nsegments == 1 && post)
		rollout_start(c);
	else if (strcmp(first, "chips") == 0 && c->nsegments == 2 && get)
		serve_chip(c, c->segments[1]);
	else if (strcmp(first, "chips") == 0 && c->nsegments == 3 &&
		 strcmp(c->segments[2], "history") == 0 && get)
		serve_history(c, c->segments[1]);
	else if (strcmp(first, "groups") == 0 && c->nsegments == 1 && get)
		serve_groups(c);
	else if (strcmp(first, "groups") == 0 && c->nsegments == 2 && get)
		reply_group(c, 200, c->segments[1]);
	else if (strcmp(first, "history") == 0 && c->nsegments == 1 && get)
		serve_history(c, NULL);
	else if (strcmp(first, "history") == 0 && c->nsegments == 2 && get)
		serve_session(c, c->segments[1]);
	else if (strcmp(first, "rollouts") == 0 && c->nsegments == 1 && get)
		serve_rollouts(c);
	else if (strcmp(first, "rollouts") == 0 && c->nsegments == 2 && get)
		serve_rollout(c, c->segments[1]);
	else if (strcmp(first, "rollouts") == 0 && c->nsegments == 3 && post &&
		 strcmp(c->segments[2], "pause") == 0)
		move_rollout(c, c->segments[1], STORE_ROLLOUT_PAUSED);
	else if (strcmp(first, "rollouts") == 0 && c->nsegments == 3 && post &&
		 strcmp(c->segments[2], "resume") == 0)
		move_rollout(c, c->segments[1], STORE_ROLLOUT_RUNNING);
	else if (strcmp(first, "rollouts") == 0 && c->nsegments == 3 && post &&
		 strcmp(c->segments[2], "abort") == 0)
		move_rollout(c, c->segments[1], STORE_ROLLOUT_ABORTED);
	else
		reply_error(c, 404, "no such resource");
}

static void serve_asset(struct call *c)
{
	const char *path = strcmp(c->path, "/") == 0 ? "/index.html" : c->path;
	const struct asset *a;
	struct evbuffer *out;

	for (a = assets; a->path != NULL; a++)
		if (strcmp(a->path, path) == 0)
			break;
	if (a->path == NULL) {
		reply_error(c, 404, "no such resource");
		return;
	}
	if (!is_get(c)) {
		method_not_allowed(c, "GET, HEAD");
		return;
	}
	if ((out = evbuffer_new()) == NULL) {
		evhttp_send_error(c->req, HTTP_INTERNAL, NULL);
		return;
	}
	/* Static and small: a reference, not a copy. */
	evbuffer_add_reference(out, a->data, a->len, NULL, NULL);
	set_common_headers(c->req, a->type);
	evhttp_send_reply(c->req, HTTP_OK, "OK", out);
	evbuffer_free(out);
}

/* Splits the part of the path after /api/v1/ into decoded segments. */
static int split_api_path(struct call *c)
{
	char *p, *seg, *save = NULL;

	c->path_copy = strdup(c->path + strlen(API_PREFIX));
	if (c->path_copy == NULL)
		return -1;
	for (p = c->path_copy; (seg = strtok_r(p, "/", &save)) != NULL;
	     p = NULL) {
		if (c->nsegments ==
		    (int)(sizeof(c->segments) / sizeof(c->segments[0])))
			return -1;
		/* Names are plain: no escapes to undo in what is routed. */
		if (strchr(seg, '%') != NULL)
			return -1;
		c->segments[c->nsegments++] = seg;
	}
	return 0;
}

static void peer_of(struct evhttp_request *req, char *out, size_t len)
{
	struct evhttp_connection *conn = evhttp_request_get_connection(req);
	char *host = NULL;
	ev_uint16_t port = 0;

	if (conn != NULL)
		evhttp_connection_get_peer(conn, &host, &port);
	snprintf(out, len, "%s:%u", host != NULL ? host : "?", (unsigned)port);
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct http_api *api = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
	const char *q = uri != NULL ? evhttp_uri_get_query(uri) : NULL;
	struct call c = { .api = api, .req = req };

	api->d->metrics.http_requests++;
	TAILQ_INIT(&c.query);
	peer_of(req, c.peer, sizeof(c.peer));
	c.path = path != NULL && path[0] == '/' ? path : "/";
	if (q != NULL && evhttp_parse_query_str(q, &c.query) != 0) {
		reply_error(&c, 400, "malformed query");
		goto out;
	}
	if (strcmp(c.path, "/metrics") == 0) {
		if (!is_get(&c))
			method_not_allowed(&c, "GET, HEAD");
		else if (authorize(&c, 0) == 0)
			serve_metrics(&c);
	} else if (strncmp(c.path, API_PREFIX, strlen(API_PREFIX)) == 0) {
		if (split_api_path(&c) != 0)
			reply_error(&c, 400, "malformed path");
		else
			serve_api(&c);
	} else {
		serve_asset(&c);
	}
out:
	evhttp_clear_headers(&c.query);
	json_object_put(c.body);
	free(c.path_copy);
}

static void log_bound(evutil_socket_t fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char host[INET6_ADDRSTRLEN] = "?";
	const void *addr;
	unsigned port;

	if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
		return;
	if (ss.ss_family == AF_INET6) {
		addr = &((struct sockaddr_in6 *)&ss)->sin6_addr;
		port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	} else {
		addr = &((struct sockaddr_in *)&ss)->sin_addr;
		port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	}
	inet_ntop(ss.ss_family, addr, host, sizeof(host));
	log_info(ss.ss_family == AF_INET6
		     ? "event=http-listening address=[%s]:%u"
		     : "event=http-listening address=%s:%u",
		 host, port);
}

int http_open(struct daemon *d, int inherited_fd)
{
	struct http_api *api;
	struct timeval idle = {
		.tv_sec = (time_t)(d->conf.http_timeout_ms / 1000),
		.tv_usec = (suseconds_t)(d->conf.http_timeout_ms % 1000 * 1000),
	};
	char host[256];
	unsigned port;

	if (inherited_fd < 0 && d->conf.http_listen == NULL)
		return 0;
	if ((api = calloc(1, sizeof(*api))) == NULL ||
	    (api->http = evhttp_new(d->base)) == NULL) {
		free(api);
		log_warnx("event=http-failed error=\"out of memory\"");
		return -1;
	}
	api->d = d;
	evhttp_set_gencb(api->http, on_request, api);
	evhttp_set_timeout_tv(api->http, &idle);
	evhttp_set_max_headers_size(api->http, MAX_HEADERS_SIZE);
	evhttp_set_max_body_size(api->http, d->conf.http_max_body);
	evhttp_set_allowed_methods(api->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD |
						  EVHTTP_REQ_POST |
						  EVHTTP_REQ_PATCH);
	if (inherited_fd >= 0) {
		evutil_make_socket_nonblocking(inherited_fd);
		api->bound =
		    evhttp_accept_socket_with_handle(api->http, inherited_fd);
	} else if (config_listen_split(d->conf.http_listen, host, sizeof(host),
				       &port) == NULL) {
		api->bound = evhttp_bind_socket_with_handle(
		    api->http, host[0] != '\0' ? host : "0.0.0.0",
		    (ev_uint16_t)port);
	}
	if (api->bound == NULL) {
		log_warnx("event=http-failed address=%s error=\"%s\"",
			  inherited_fd >= 0 ? "(inherited)"
					    : d->conf.http_listen,
			  strerror(errno));
		evhttp_free(api->http);
		free(api);
		return -1;
	}
	log_bound(evhttp_bound_socket_get_fd(api->bound));
	d->http = api;
	return 0;
}

void http_close(struct daemon *d)
{
	if (d->http == NULL)
		return;
	evhttp_free(d->http->http);
	free(d->http);
	d->http = NULL;
}
