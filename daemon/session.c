/* Device connections: buffers, timers, framing and teardown. */
#include "session.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <json-c/json.h>

#include "checkins.h"
#include "daemon.h"
#include "history.h"
#include "legacy.h"
#include "proto/crypto_openssl.h"
#include "proto/record.h"
#include "ratelimit.h"
#include "rejects.h"
#include "rollouts.h"
#include "v2.h"

static const char *state_name(enum session_state st)
{
	switch (st) {
	case SESSION_HELLO:
		return "hello";
	case SESSION_REPLY:
		return "reply";
	case SESSION_FLUSH:
		return "flush";
	case SESSION_CLOSED:
		return "closed";
	}
	return "?";
}

struct log_fields session_fields(const struct session *s)
{
	struct log_fields f = {
		.chip_id = s->chip_id[0] != '\0' ? s->chip_id : NULL,
		.peer = s->peer,
		.session_id = s->history_id,
		.outcome = NULL,
	};
	return f;
}

void session_set_state(struct session *s, enum session_state next)
{
	struct log_fields f = session_fields(s);

	assert(s->state != SESSION_CLOSED);
	log_session(LOG_LEVEL_DEBUG, &f, "event=state from=%s to=%s",
		    state_name(s->state), state_name(next));
	s->state = next;
}

void session_set_outcome(struct session *s, enum store_outcome outcome,
			 const char *fmt, ...)
{
	va_list ap;
	char *reason = NULL;

	s->outcome = outcome;
	if (fmt != NULL) {
		va_start(ap, fmt);
		if (vasprintf(&reason, fmt, ap) < 0)
			reason = NULL;
		va_end(ap);
	} else if (s->rollout_note[0] != '\0' &&
		   (outcome == STORE_OUTCOME_UPDATED ||
		    outcome == STORE_OUTCOME_PARTIAL)) {
		/* An update a rollout chose says so in the history. */
		reason = strdup(s->rollout_note);
	}
	free(s->reason);
	s->reason = reason;
}

/* Rate-limited warning about the store, with the session's fields. */
static void warn_store(struct session *s, const char *event)
{
	struct log_fields f = session_fields(s);

	if (ratelimit_allow(event, daemon_now_ms()))
		log_session(LOG_LEVEL_WARN, &f, "event=%s error=\"%s\"", event,
			    store_errmsg(s->daemon->store));
}

/* The session's pending history record, created on first use. */
static struct history_record *deferred(struct session *s)
{
	if (s->deferred == NULL)
		s->deferred = calloc(1, sizeof(*s->deferred));
	return s->deferred;
}

/* Opens the history row; when the store refuses it and the session goes
 * on (note), its start is spooled so that a crash cannot lose it. */
static int open_history(struct session *s, int note)
{
	struct daemon *d = s->daemon;
	const char *chip = s->chip_id[0] != '\0' ? s->chip_id : NULL;

	if (s->history_id != 0)
		return 0;
	if (s->started_wall_ms == 0)
		s->started_wall_ms = daemon_wall_ms();
	/* Rows already wait for the store: this one queues behind them. */
	if (!history_backlog(d) &&
	    store_session_begin(d->store, chip, s->peer, s->started_wall_ms,
				&s->history_id) == 0)
		return 0;
	if (!history_backlog(d))
		warn_store(s, "history-failed");
	s->history_id = 0;
	if (note)
		history_note_begin(d, deferred(s), chip, s->peer,
				   s->started_wall_ms);
	return -1;
}

int session_open_history(struct session *s)
{
	return open_history(s, 1);
}

void session_file_row(struct session *s, const struct store_session_file *row)
{
	struct history_record *rec;

	if (s->history_id != 0 && s->deferred == NULL &&
	    !history_backlog(s->daemon) &&
	    store_session_file(s->daemon->store, s->history_id, row) == 0)
		return;
	if (s->history_id != 0 && s->deferred == NULL)
		warn_store(s, "history-failed");
	if ((rec = deferred(s)) == NULL || history_add_file(rec, row) != 0) {
		struct log_fields f = session_fields(s);

		log_session(
		    LOG_LEVEL_WARN, &f,
		    "event=history-lost name=%s error=\"out of memory\"",
		    row->name);
	}
}

void session_chip_seen(struct session *s)
{
	struct daemon *d = s->daemon;
	struct history_record *rec;
	int64_t now = daemon_wall_ms() / 1000;

	if (!history_backlog(d) &&
	    store_chip_seen(d->store, s->chip_id, s->addr, now) == 0)
		return;
	if (!history_backlog(d))
		warn_store(s, "inventory-write-failed");
	if ((rec = deferred(s)) != NULL && rec->seen_addr == NULL &&
	    (rec->seen_addr = strdup(s->addr)) != NULL)
		rec->seen_s = now;
}

/* Hands the session's history to the queue: written now or retried. */
static void finish_history(struct session *s)
{
	struct history_record *rec = deferred(s);

	s->deferred = NULL;
	if (rec == NULL) {
		struct log_fields f = session_fields(s);

		log_session(LOG_LEVEL_WARN, &f,
			    "event=history-lost error=\"out of memory\"");
		return;
	}
	rec->id = s->history_id;
	rec->chip_id = s->chip_id[0] != '\0' ? strdup(s->chip_id) : NULL;
	rec->peer = strdup(s->peer);
	rec->started_ms =
	    s->started_wall_ms != 0 ? s->started_wall_ms : daemon_wall_ms();
	rec->ended_ms = daemon_wall_ms();
	rec->outcome = s->outcome;
	rec->reason = s->reason != NULL ? strdup(s->reason) : NULL;
	rec->revision = s->revision[0] ? strdup(s->revision) : NULL;
	rec->files_sent = s->files_sent;
	rec->bytes_sent = s->bytes_sent;
	history_submit(s->daemon, rec);
}

int session_send(struct session *s, const char *json, const uint8_t *payload,
		 size_t payload_len)
{
	struct evbuffer *out = bufferevent_get_output(s->bev);
	evutil_socket_t fd = bufferevent_getfd(s->bev);
	uint8_t record[LUAOTA_SEGMENT_MAX];
	size_t len, done = 0;
	enum luaota_record_err err;

	err = luaota_record_write(
	    &luaota_crypto_openssl, (const uint8_t *)s->chip.secret,
	    strlen(s->chip.secret), json, strlen(json), payload, payload_len,
	    record, sizeof(record), &len);
	if (err != LUAOTA_RECORD_OK) {
		struct log_fields f = session_fields(s);

		log_session(LOG_LEVEL_WARN, &f,
			    "event=record-refused error=%d bytes=%zu", err,
			    strlen(json) + payload_len);
		return -1;
	}
	/*
	 * Nothing queued: straight to the socket, a loop pass and two
	 * epoll_ctl calls sooner than through the write event (on_read then
	 * closes a finished session).  The write event takes what is left,
	 * and reports errors.
	 */
	if (s->answered_ms == 0)
		s->answered_ms = daemon_now_ms();
	if (s->reading && evbuffer_get_length(out) == 0) {
		ssize_t n = send(fd, record, len, MSG_NOSIGNAL);

		if (n > 0)
			done = (size_t)n;
	}
	if (done == len)
		return 0;
	if (bufferevent_write(s->bev, record + done, len - done) != 0)
		return -1;
	bufferevent_enable(s->bev, EV_WRITE);
	return 0;
}

static void update_counters(struct session *s)
{
	struct daemon_stats *st = &s->daemon->stats;

	switch (s->outcome) {
	case STORE_OUTCOME_CURRENT:
		st->current++;
		break;
	case STORE_OUTCOME_UPDATED:
	case STORE_OUTCOME_PARTIAL:
		st->updates++;
		break;
	case STORE_OUTCOME_REJECTED:
		st->rejected++;
		break;
	case STORE_OUTCOME_FAILED:
	case STORE_OUTCOME_INTERRUPTED:
		st->failures++;
		break;
	case STORE_OUTCOME_STARTED:
		break;
	}
}

/* May this rejection be logged as a warning?  Limited per reason. */
static int rejection_logged(const struct session *s)
{
	char key[64];

	snprintf(key, sizeof(key), "rejected:%s",
		 s->reason != NULL ? s->reason : "?");
	return ratelimit_allow(key, daemon_now_ms());
}

void session_close(struct session *s, const char *reason)
{
	struct daemon *d = s->daemon;
	struct log_fields f = session_fields(s);
	enum log_level level = LOG_LEVEL_INFO;

	assert(s->state != SESSION_CLOSED);
	/* A connection that never sent a record leaves no history row. */
	if (s->history_id != 0 || s->outcome != STORE_OUTCOME_STARTED ||
	    (s->deferred != NULL && s->deferred->begun)) {
		if (s->outcome == STORE_OUTCOME_STARTED)
			session_set_outcome(s, STORE_OUTCOME_FAILED, "%s",
					    reason);
		if (s->outcome == STORE_OUTCOME_CURRENT && s->history_id == 0 &&
		    s->reason == NULL && !history_backlog(d)) {
			/* Nothing was provisioned: the row joins a batch. */
			checkins_add(d->checkins, s->chip_id, s->peer, s->addr,
				     s->revision[0] ? s->revision : NULL,
				     daemon_wall_ms() -
					 (daemon_now_ms() - s->accepted_ms),
				     daemon_wall_ms());
		} else if (s->outcome == STORE_OUTCOME_REJECTED &&
			   s->history_id == 0 &&
			   rejects_absorb(d, s->addr, s->chip_id, s->reason)) {
			/* Counted into a summary row (rejects.c). */
		} else {
			if (s->outcome == STORE_OUTCOME_CURRENT)
				session_chip_seen(s);
			open_history(s, 0); /* written next: no start to note */
			finish_history(s);
		}
		update_counters(s);
		metrics_session_end(
		    &d->metrics, s->outcome, s->reason,
		    daemon_now_ms() - s->accepted_ms,
		    s->answered_ms != 0 ? s->answered_ms - s->accepted_ms : -1);
		f.session_id = s->history_id;
		f.outcome = store_outcome_name(s->outcome);
		if (s->outcome == STORE_OUTCOME_FAILED ||
		    s->outcome == STORE_OUTCOME_REJECTED)
			level = LOG_LEVEL_WARN;
		/* Anyone can provoke a rejection: those warnings are limited.
		 */
		if (s->outcome == STORE_OUTCOME_REJECTED &&
		    !rejection_logged(s))
			level = LOG_LEVEL_DEBUG;
		log_session(level, &f,
			    "event=session-end reason=\"%s\" files=%lld "
			    "bytes=%lld ms=%lld",
			    s->reason != NULL ? s->reason : reason,
			    (long long)s->files_sent, (long long)s->bytes_sent,
			    (long long)(daemon_now_ms() - s->accepted_ms));
	} else {
		log_session(LOG_LEVEL_DEBUG, &f, "event=close reason=\"%s\"",
			    reason);
	}
	session_set_state(s, SESSION_CLOSED);
	TAILQ_REMOVE(&d->sessions, s, entry);
	d->stats.open--;
	rollouts_release_slot(d, s);
	if (s->proto != NULL)
		s->proto->run_free(s->run);
	if (s->chip_loaded)
		store_chip_free(&s->chip);
	event_free(s->deadline);
	bufferevent_free(s->bev);
	free(s->reason);
	history_record_free(s->deferred);
	free(s);
	if (d->status_changed != NULL)
		d->status_changed(d);
	if (d->session_gone != NULL)
		d->session_gone(d);
}

int session_reject(struct session *s, const char *why)
{
	session_set_outcome(s, STORE_OUTCOME_REJECTED, "%s", why);
	session_close(s, "rejected");
	return -1;
}

int session_load_chip(struct session *s, uint64_t *version)
{
	struct daemon *d = s->daemon;
	int rc = store_chip_get_at(d->store, s->chip_id, &s->chip, version);

	if (rc == STORE_NOTFOUND)
		return session_reject(s, "unknown chip");
	if (rc != 0) {
		session_set_outcome(s, STORE_OUTCOME_FAILED,
				    "inventory unavailable: %s",
				    store_errmsg(d->store));
		session_close(s, "inventory unavailable");
		return -1;
	}
	s->chip_loaded = 1;
	return 0;
}

void session_close_all(struct daemon *d, const char *reason)
{
	while (!TAILQ_EMPTY(&d->sessions))
		session_close(TAILQ_FIRST(&d->sessions), reason);
}

/* Decodes the header JSON of a framed record; NULL when it is not JSON. */
static struct json_object *decode_header(const struct luaota_record *rec)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *obj = NULL;

	if (tok == NULL || rec->json_len > INT32_MAX)
		goto done;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	obj = json_tokener_parse_ex(tok, rec->json, (int)rec->json_len);
	if (obj != NULL && (!json_object_is_type(obj, json_type_object) ||
			    json_tokener_get_parse_end(tok) != rec->json_len)) {
		json_object_put(obj);
		obj = NULL;
	}
done:
	json_tokener_free(tok);
	return obj;
}

/* The payload a header announces: see luaota_frame_set_payload(). */
static int64_t announced_payload(struct session *s, struct json_object *obj)
{
	struct json_object *data;

	if (s->raw_payload >= 0)
		return s->raw_payload;
	if (obj == NULL || !json_object_object_get_ex(obj, "data", &data))
		return 0;
	if (!json_object_is_type(data, json_type_int))
		return -1;
	return json_object_get_int64(data);
}

/* A record that cannot be framed or decoded ends the session. */
static void protocol_error(struct session *s, const char *what)
{
	if (s->state == SESSION_HELLO)
		session_set_outcome(s, STORE_OUTCOME_REJECTED,
				    "malformed first record: %s", what);
	else
		session_set_outcome(s, STORE_OUTCOME_FAILED,
				    "malformed reply: %s", what);
	session_close(s, what);
}

/* Tried in order on the first line: legacy claims whatever is left. */
static const struct session_protocol *const protocols[] = {
	&v2_protocol,
	&legacy_protocol,
};

/* Picks the protocol from the first line once it is complete. */
static void detect_protocol(struct session *s, const uint8_t *buf, size_t len)
{
	const uint8_t *nl = memchr(buf, '\n', len);
	size_t i;

	if (nl == NULL)
		return; /* the legacy framer enforces the line cap meanwhile */
	for (i = 0; i < sizeof(protocols) / sizeof(protocols[0]); i++) {
		if (protocols[i]->claims(buf, (size_t)(nl - buf))) {
			s->proto = protocols[i];
			if (s->proto->start != NULL)
				s->proto->start(s);
			return;
		}
	}
}

/* Whether answers already queued should be read by the device first. */
static int output_full(struct session *s)
{
	size_t limit = s->proto != NULL && s->proto->output_limit != NULL
			   ? s->proto->output_limit(s)
			   : 0;

	if (limit == 0 ||
	    evbuffer_get_length(bufferevent_get_output(s->bev)) < limit)
		return 0;
	s->output_full = 1;
	bufferevent_disable(s->bev, EV_READ);
	return 1;
}

static int dispatch(struct session *s, const struct luaota_record *rec,
		    struct json_object *obj)
{
	/* A whole record holds a whole first line: a protocol claimed it. */
	assert(s->proto != NULL);
	return s->state == SESSION_HELLO ? s->proto->hello(s, rec, obj)
					 : s->proto->record(s, rec, obj);
}

/* Frames and dispatches what arrived; returns -1 once s is gone. */
static int session_process(struct session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);
	struct luaota_record rec;
	struct json_object *obj = NULL;
	enum luaota_frame_status st;
	size_t len = evbuffer_get_length(in);
	const uint8_t *buf;
	int handled = 0;

	while (len > 0) {
		if (s->state != SESSION_HELLO && s->state != SESSION_REPLY) {
			/* Lock-step: nothing may arrive while we talk. */
			evbuffer_drain(in, len);
			return 0;
		}
		if (handled == LUAOTAD_RECORDS_PER_EVENT) {
			/* Fairness: the rest waits for the next loop pass. */
			bufferevent_trigger(s->bev, EV_READ,
					    BEV_TRIG_IGNORE_WATERMARKS |
						BEV_TRIG_DEFER_CALLBACKS);
			return 0;
		}
		if (output_full(s))
			return 0;
		buf = evbuffer_pullup(in, -1);
		if (s->proto == NULL)
			detect_protocol(s, buf, len);
		st = luaota_frame_scan(&s->framer, buf, len, &rec);
		if (st == LUAOTA_FRAME_HEADER) {
			obj = decode_header(&rec);
			st = luaota_frame_set_payload(
			    &s->framer, announced_payload(s, obj));
			if (st == LUAOTA_FRAME_MORE)
				st = luaota_frame_scan(&s->framer, buf, len,
						       &rec);
		} else if (st == LUAOTA_FRAME_RECORD) {
			obj = decode_header(&rec);
		}
		if (st == LUAOTA_FRAME_MORE) {
			json_object_put(obj);
			return 0;
		}
		if (st != LUAOTA_FRAME_RECORD) {
			json_object_put(obj);
			protocol_error(s, luaota_frame_strerror(st));
			return -1;
		}
		if (obj == NULL) {
			protocol_error(s, "header is not a JSON object");
			return -1;
		}
		s->raw_payload = -1;
		if (dispatch(s, &rec, obj) != 0) {
			json_object_put(obj);
			return -1; /* the module closed the session */
		}
		json_object_put(obj);
		obj = NULL;
		evbuffer_drain(in, rec.size);
		luaota_frame_reset(&s->framer);
		len = evbuffer_get_length(in);
		handled++;
	}
	return 0;
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;

	s->reading = 1;
	if (session_process(s) != 0)
		return; /* s is gone */
	s->reading = 0;
	/* Whatever a handler queued goes out through the write event... */
	if (evbuffer_get_length(bufferevent_get_output(bev)) > 0)
		bufferevent_enable(bev, EV_WRITE);
	/* ...else the last record went straight out (session_send): done. */
	else if (s->state == SESSION_FLUSH)
		session_close(s, "done");
}

static void on_write(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;

	(void)bev;
	if (s->state == SESSION_FLUSH) {
		session_close(s, "done");
		return;
	}
	if (s->output_full) {
		/* The device read its chunks: take its next requests. */
		s->output_full = 0;
		bufferevent_enable(s->bev, EV_READ);
		session_process(s);
	}
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct session *s = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	if (what & BEV_EVENT_TIMEOUT) {
		if (s->state == SESSION_FLUSH) {
			session_close(s, "peer stopped reading");
			return;
		}
		if (s->history_id != 0 || s->state != SESSION_HELLO ||
		    evbuffer_get_length(in) > 0)
			session_set_outcome(
			    s,
			    s->state == SESSION_HELLO ? STORE_OUTCOME_REJECTED
						      : STORE_OUTCOME_FAILED,
			    "timed out waiting for %s",
			    s->state == SESSION_HELLO ? "the first record"
						      : "a reply");
		session_close(s, "idle timeout");
		return;
	}
	if (what & BEV_EVENT_EOF) {
		size_t left = evbuffer_get_length(in);

		if (s->state == SESSION_FLUSH) {
			session_close(s, "peer closed");
			return;
		}
		if (left > 0 || s->state == SESSION_REPLY)
			session_set_outcome(
			    s,
			    s->state == SESSION_HELLO ? STORE_OUTCOME_REJECTED
						      : STORE_OUTCOME_FAILED,
			    "connection closed %s",
			    left > 0 ? "inside a record" : "before the reply");
		session_close(s, "peer closed");
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		if (s->state == SESSION_REPLY)
			session_set_outcome(s, STORE_OUTCOME_FAILED,
					    "connection error: %s",
					    strerror(errno));
		session_close(s, "connection error");
	}
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;

	(void)fd;
	(void)what;
	if (s->state == SESSION_REPLY || s->history_id != 0)
		session_set_outcome(s, STORE_OUTCOME_FAILED,
				    "session deadline reached");
	session_close(s, "session deadline");
}

static void format_peer(struct session *s, const struct sockaddr *sa)
{
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in4 = (const void *)sa;

		inet_ntop(AF_INET, &in4->sin_addr, host, sizeof(host));
		port = ntohs(in4->sin_port);
		snprintf(s->peer, sizeof(s->peer), "%s:%u", host, port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;

		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		port = ntohs(in6->sin6_port);
		snprintf(s->peer, sizeof(s->peer), "[%s]:%u", host, port);
	} else {
		snprintf(s->peer, sizeof(s->peer), "local");
	}
	snprintf(s->addr, sizeof(s->addr), "%s", host);
}

struct session *session_new(struct daemon *d, int fd, const struct sockaddr *sa,
			    socklen_t salen)
{
	struct session *s = calloc(1, sizeof(*s));
	struct timeval idle = {
		.tv_sec = d->conf.first_record_ms / 1000,
		.tv_usec = (d->conf.first_record_ms % 1000) * 1000,
	};
	struct timeval deadline = {
		.tv_sec = d->conf.session_deadline_ms / 1000,
		.tv_usec = (d->conf.session_deadline_ms % 1000) * 1000,
	};

	(void)salen;
	if (s == NULL) {
		close(fd);
		return NULL;
	}
	s->daemon = d;
	s->state = SESSION_HELLO;
	s->raw_payload = -1;
	s->accepted_ms = daemon_now_ms();
	format_peer(s, sa);
	luaota_frame_init(&s->framer, (size_t)d->conf.max_record,
			  LUAOTA_CHUNK_SIZE, 1);
	s->bev = bufferevent_socket_new(d->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (s->bev == NULL) {
		close(fd);
		free(s);
		return NULL;
	}
	s->deadline = evtimer_new(d->base, on_deadline, s);
	if (s->deadline == NULL) {
		bufferevent_free(s->bev);
		free(s);
		return NULL;
	}
	/* The read cap is one record: more is a protocol error, not growth. */
	bufferevent_setwatermark(s->bev, EV_READ, 0,
				 (size_t)d->conf.max_record + 1 +
				     LUAOTA_CHUNK_SIZE + 1);
	bufferevent_setcb(s->bev, on_read, on_write, on_event, s);
	bufferevent_set_timeouts(s->bev, &idle, &idle);
	evtimer_add(s->deadline, &deadline);
	/* Writing is enabled only while records wait (see flush_now). */
	bufferevent_enable(s->bev, EV_READ);
	TAILQ_INSERT_TAIL(&d->sessions, s, entry);
	d->stats.open++;
	if (d->status_changed != NULL)
		d->status_changed(d);
	return s;
}
