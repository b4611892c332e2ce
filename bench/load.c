/*
 * luaota-load: simulated NodeMCU devices against a luaOTA server on
 * loopback.  Check-ins (HI carrying the current chk, expecting a signed
 * OK!), full provisioning sessions in lock-step, or idle connections held
 * open; reports rates, latencies, failures by kind and, given --pid, the
 * server's memory and CPU time.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <bsd/string.h>
#include <event2/event.h>
#include <json-c/json.h>

#include "inventory.h"
#include "procstat.h"
#include "proto/crypto_openssl.h"
#include "proto/frame.h"
#include "proto/sig.h"

#define MAX_CONCURRENCY 20000
#define MAX_CONNECTIONS 100000
#define MAX_DURATION_S 600.0
#define MAX_COUNT 100000000L
#define CONNECTS_IN_FLIGHT 256 /* idle mode: pending handshakes at once */
#define SAMPLE_MS 100	       /* server RSS sampling period */
#define REPLY_MAX 64	       /* {"s":"OK","lcsize":N} + sig + '\n' */

enum mode { MODE_CHECKIN, MODE_PROVISION, MODE_IDLE };

enum failure {
	FAIL_REFUSED,	 /* connect refused */
	FAIL_RESET,	 /* reset by the peer (or a broken pipe) */
	FAIL_TIMEOUT,	 /* no connect or no record within --timeout */
	FAIL_BAD_RECORD, /* unframeable, bad signature, unexpected JSON */
	FAIL_CLOSED,	 /* closed by the server before the session ended */
	FAIL_UPDATE,	 /* check-in answered with a command: not current */
	FAIL_OTHER,	 /* any other socket error */
	FAIL_KINDS
};

static const char *const failure_names[FAIL_KINDS] = {
	"refused", "reset",  "timeout", "bad_record",
	"closed",  "update", "other",
};

struct options {
	const char *target;
	const char *inventory;
	enum mode mode;
	long concurrency;
	double duration_s; /* 0: bounded by count */
	long count;	   /* 0: bounded by duration */
	long timeout_ms;
	long connections; /* idle mode */
	double hold_s;	  /* idle mode */
	pid_t pid;	  /* server to watch, 0: none */
	int json;
	int learn; /* check-ins: provision chip 0 first to learn the chk */
};

/* What one simulated chip sends and expects, prepared up front. */
struct chip_load {
	char *hello; /* signed HI record */
	size_t hello_len;
	char ok[32]; /* the exact signed OK! record it expects */
	size_t ok_len;
};

struct conn {
	struct load *load;
	struct event *ev;
	int fd;
	size_t chip;
	int64_t start_us;
	struct luaota_framer framer;
	size_t len;	   /* bytes in buf */
	size_t file_bytes; /* provisioning: bytes of the file being sent */
	uint8_t buf[2 * LUAOTA_SEGMENT_MAX];
};

struct load {
	struct options opt;
	struct event_base *base;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	struct inventory inv;
	struct chip_load *chips;
	struct conn *conns;
	size_t nconns;
	size_t next_chip;
	long started; /* sessions begun */
	long active;  /* connections in use */
	long ok;
	long failures[FAIL_KINDS];
	uint32_t *lat_us;
	size_t nlat, lat_cap;
	uint64_t payload_bytes; /* provisioning: bytes received as payload */
	int stopping;		/* no new sessions */
	int64_t t0_us, t_end_us;
	char *learned; /* restart config minus "a", from the learning session */
	long idle_connected, idle_pending;
	struct procstat ps_start, ps_end;
	long rss_peak_kib;
};

static int64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void usage(FILE *fp)
{
	fprintf(fp,
		"usage: luaota-load --target 127.0.0.1:PORT --inventory FILE "
		"[options]\n"
		"  -t, --target ADDR:PORT   the server (loopback only)\n"
		"  -i, --inventory FILE     \"id secret\" lines\n"
		"  -m, --mode MODE          checkin (default), provision, "
		"idle\n"
		"  -c, --concurrency N      simultaneous devices (64)\n"
		"  -d, --duration SECONDS   run this long (default 5 unless "
		"--count)\n"
		"  -n, --count N            run this many sessions\n"
		"  -T, --timeout MS         per connect/record wait (5000)\n"
		"  -C, --connections N      idle: connections to hold "
		"(10000)\n"
		"  -H, --hold SECONDS       idle: how long to hold them (3)\n"
		"  -p, --pid PID            server to measure (RSS, CPU time)\n"
		"      --no-learn           check-ins: send no chk (no "
		"provisioning first)\n"
		"  -j, --json               print the results as JSON\n");
}

/* Accepts only numeric loopback addresses: this tool must not aim away. */
static int parse_target(struct load *ld, const char *spec)
{
	char host[128];
	const char *port;
	struct addrinfo hints = { 0 }, *res = NULL;
	int loopback = 0;

	if (spec[0] == '[') {
		const char *end = strchr(spec, ']');

		if (end == NULL || end[1] != ':' ||
		    (size_t)(end - spec) >= sizeof(host))
			return -1;
		memcpy(host, spec + 1, (size_t)(end - spec - 1));
		host[end - spec - 1] = '\0';
		port = end + 2;
	} else {
		const char *colon = strrchr(spec, ':');

		if (colon == NULL || (size_t)(colon - spec) >= sizeof(host))
			return -1;
		memcpy(host, spec, (size_t)(colon - spec));
		host[colon - spec] = '\0';
		port = colon + 1;
	}
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	if (getaddrinfo(host, port, &hints, &res) != 0 || res == NULL)
		return -1;
	if (res->ai_family == AF_INET) {
		const struct sockaddr_in *in4 = (const void *)res->ai_addr;

		loopback = (ntohl(in4->sin_addr.s_addr) >> 24) == 127;
	} else if (res->ai_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)res->ai_addr;

		loopback = IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
	}
	if (loopback) {
		memcpy(&ld->addr, res->ai_addr, res->ai_addrlen);
		ld->addrlen = res->ai_addrlen;
	}
	freeaddrinfo(res);
	return loopback ? 0 : -1;
}

/* json + signature + '\n' into a fresh buffer. */
static char *sign_line(const char *secret, const char *json, size_t *len)
{
	size_t n = strlen(json);
	char *out = malloc(n + LUAOTA_SIG_LEN + 2);

	if (out == NULL)
		return NULL;
	memcpy(out, json, n);
	if (luaota_sig_compute(&luaota_crypto_openssl, (const uint8_t *)secret,
			       strlen(secret), json, n, out + n) != 0) {
		free(out);
		return NULL;
	}
	out[n + LUAOTA_SIG_LEN] = '\n';
	out[n + LUAOTA_SIG_LEN + 1] = '\0';
	*len = n + LUAOTA_SIG_LEN + 1;
	return out;
}

/* A chip id goes out as a JSON number when it is plain decimal (ESP8266). */
static void json_id(const char *id, char *out, size_t size)
{
	size_t i, n = strlen(id);
	int number = n > 0 && n <= 18 && (id[0] != '0' || n == 1);

	for (i = 0; number && i < n; i++)
		number = id[i] >= '0' && id[i] <= '9';
	snprintf(out, size, number ? "%s" : "\"%s\"", id);
}

/* Prepares every chip's HI (config: JSON object text) and expected OK!. */
static int prepare_chips(struct load *ld, const char *config)
{
	size_t i, ok_len;
	char id[LUAOTA_CHIPID_MAX + 3], *json, *ok;
	int have_fields = strcmp(config, "{}") != 0;

	if (ld->chips == NULL &&
	    (ld->chips = calloc(ld->inv.n, sizeof(*ld->chips))) == NULL)
		return -1;
	for (i = 0; i < ld->inv.n; i++) {
		struct chip_load *c = &ld->chips[i];
		const char *secret = ld->inv.chips[i].secret;

		json_id(ld->inv.chips[i].id, id, sizeof(id));
		if (asprintf(&json, "{\"a\":\"HI\",\"id\":%s%s%s", id,
			     have_fields ? "," : "}",
			     have_fields ? config + 1 : "") < 0)
			return -1;
		free(c->hello);
		c->hello = sign_line(secret, json, &c->hello_len);
		free(json);
		ok = sign_line(secret, "{\"r\":\"OK!\"}", &ok_len);
		if (c->hello == NULL || ok == NULL || ok_len >= sizeof(c->ok)) {
			free(ok);
			return -1;
		}
		memcpy(c->ok, ok, ok_len);
		c->ok_len = ok_len;
		free(ok);
	}
	return 0;
}

static void conn_start(struct conn *c);

static void conn_release(struct conn *c)
{
	if (c->fd >= 0) {
		event_del(c->ev);
		close(c->fd);
		c->fd = -1;
	}
}

/* Ends this connection's session and starts the next one. */
static void conn_done(struct conn *c, int failure)
{
	struct load *ld = c->load;

	conn_release(c);
	if (failure >= 0) {
		ld->failures[failure]++;
	} else {
		uint64_t us = (uint64_t)(now_us() - c->start_us);

		ld->ok++;
		if (ld->nlat == ld->lat_cap) {
			size_t cap = ld->lat_cap ? ld->lat_cap * 2 : 65536;
			uint32_t *grown =
			    reallocarray(ld->lat_us, cap, sizeof(*grown));

			if (grown != NULL) {
				ld->lat_us = grown;
				ld->lat_cap = cap;
			}
		}
		if (ld->nlat < ld->lat_cap)
			ld->lat_us[ld->nlat++] =
			    us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
	}
	ld->t_end_us = now_us();
	conn_start(c);
}

static int classify_errno(int err)
{
	switch (err) {
	case ECONNREFUSED:
		return FAIL_REFUSED;
	case ECONNRESET:
	case EPIPE:
		return FAIL_RESET;
	case ETIMEDOUT:
		return FAIL_TIMEOUT;
	default:
		return FAIL_OTHER;
	}
}

static struct timeval timeout_tv(const struct load *ld)
{
	struct timeval tv = { .tv_sec = ld->opt.timeout_ms / 1000,
			      .tv_usec = (ld->opt.timeout_ms % 1000) * 1000 };
	return tv;
}

/* Sends a signed reply; 0, or -1 (the session is then over). */
static int send_reply(struct conn *c, const char *json)
{
	const char *secret = c->load->inv.chips[c->chip].secret;
	char out[REPLY_MAX + LUAOTA_SIG_LEN + 2];
	size_t n = strlen(json);

	if (n > REPLY_MAX ||
	    luaota_sig_compute(&luaota_crypto_openssl, (const uint8_t *)secret,
			       strlen(secret), json, n, out + n) != 0)
		return -1;
	memcpy(out, json, n);
	out[n + LUAOTA_SIG_LEN] = '\n';
	n += LUAOTA_SIG_LEN + 1;
	return write(c->fd, out, n) == (ssize_t)n ? 0 : -1;
}

static const char *string_field(struct json_object *obj, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(obj, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* Keeps the restart config (minus "a") so check-ins can carry its chk. */
static void learn_config(struct load *ld, struct json_object *obj)
{
	struct json_object *copy = NULL;

	if (ld->learned != NULL || json_object_deep_copy(obj, &copy, NULL) != 0)
		return;
	json_object_object_del(copy, "a");
	ld->learned = strdup(json_object_to_json_string_ext(
	    copy, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(copy);
}

/*
 * Acts on one verified server record as a device would; returns 1 when
 * the session is complete, 0 to go on, or a negative failure kind - 1.
 */
static int device_step(struct conn *c, const struct luaota_record *rec,
		       struct json_object *obj)
{
	struct load *ld = c->load;
	const char *a = string_field(obj, "a");
	char reply[REPLY_MAX];

	if (a == NULL) {
		const char *r = string_field(obj, "r");

		return r != NULL && strcmp(r, "OK!") == 0
			   ? 1
			   : -FAIL_BAD_RECORD - 1;
	}
	c->file_bytes += rec->payload_len;
	ld->payload_bytes += rec->payload_len;
	if (strcmp(a, "restart") == 0) {
		learn_config(ld, obj);
		return 1;
	}
	if (strcmp(a, "cm") == 0) {
		/* Not compiled: the size is a plausible stand-in. */
		snprintf(reply, sizeof(reply), "{\"s\":\"OK\",\"lcsize\":%zu}",
			 c->file_bytes);
		c->file_bytes = 0;
	} else if (strcmp(a, "pu") == 0 || strcmp(a, "ls") == 0) {
		strlcpy(reply, "{\"s\":\"OK\"}", sizeof(reply));
	} else if (strcmp(a, "dl") == 0) {
		strlcpy(reply, "{\"s\":\"OK\"}", sizeof(reply));
		c->file_bytes = 0;
	} else if (strcmp(a, "mv") == 0) {
		const char *from = string_field(obj, "from");
		const char *to = string_field(obj, "to");

		/* The delete idiom removes the file, then the rename fails. */
		strlcpy(reply,
			from && to && strcmp(from, to) == 0
			    ? "{\"s\":\"Rename failed\"}"
			    : "{\"s\":\"OK\"}",
			sizeof(reply));
	} else {
		return -FAIL_BAD_RECORD - 1;
	}
	return send_reply(c, reply) == 0 ? 0 : -FAIL_RESET - 1;
}

/* Decodes a header's JSON; NULL when it is not an object. */
static struct json_object *decode(const struct luaota_record *rec)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *obj = NULL;

	if (tok == NULL)
		return NULL;
	obj = json_tokener_parse_ex(tok, rec->json, (int)rec->json_len);
	if (obj != NULL && (!json_object_is_type(obj, json_type_object) ||
			    json_tokener_get_parse_end(tok) != rec->json_len)) {
		json_object_put(obj);
		obj = NULL;
	}
	json_tokener_free(tok);
	return obj;
}

/* Provisioning: frames, verifies and answers what arrived. */
static int provision_input(struct conn *c)
{
	const char *secret = c->load->inv.chips[c->chip].secret;
	struct luaota_record rec;
	struct json_object *obj = NULL, *data;
	enum luaota_frame_status st;
	int rc;

	st = luaota_frame_scan(&c->framer, c->buf, c->len, &rec);
	if (st == LUAOTA_FRAME_HEADER) {
		if ((obj = decode(&rec)) == NULL)
			return -FAIL_BAD_RECORD - 1;
		st = luaota_frame_set_payload(
		    &c->framer, !json_object_object_get_ex(obj, "data", &data)
				    ? 0
				: json_object_is_type(data, json_type_int)
				    ? json_object_get_int64(data)
				    : -1);
		if (st == LUAOTA_FRAME_MORE)
			st =
			    luaota_frame_scan(&c->framer, c->buf, c->len, &rec);
	}
	if (st == LUAOTA_FRAME_MORE) {
		json_object_put(obj);
		return 0;
	}
	if (st != LUAOTA_FRAME_RECORD || obj == NULL ||
	    luaota_sig_verify(&luaota_crypto_openssl, (const uint8_t *)secret,
			      strlen(secret), rec.json, rec.json_len,
			      rec.sig) != 0) {
		json_object_put(obj);
		return -FAIL_BAD_RECORD - 1;
	}
	rc = device_step(c, &rec, obj);
	json_object_put(obj);
	luaota_frame_reset(&c->framer);
	c->len = 0;
	return rc;
}

/* Check-ins: the only right answer is this chip's exact signed OK!. */
static int checkin_input(struct conn *c)
{
	const struct chip_load *cl = &c->load->chips[c->chip];
	size_t n = c->len < cl->ok_len ? c->len : cl->ok_len;

	if (memcmp(c->buf, cl->ok, n) == 0)
		return c->len >= cl->ok_len ? 1 : 0;
	if (memchr(c->buf, '\n', c->len) == NULL && c->len < LUAOTA_SEGMENT_MAX)
		return 0;
	return memmem(c->buf, c->len, "\"a\":", 4) != NULL
		   ? -FAIL_UPDATE - 1
		   : -FAIL_BAD_RECORD - 1;
}

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	ssize_t n;
	int rc;

	if (what & EV_TIMEOUT) {
		conn_done(c, FAIL_TIMEOUT);
		return;
	}
	if (c->load->opt.mode == MODE_IDLE) {
		char byte;

		n = read(fd, &byte, 1);
		if (n == 0 || (n < 0 && errno != EAGAIN)) {
			conn_release(c);
			c->load->failures[n == 0 ? FAIL_CLOSED
						 : classify_errno(errno)]++;
			c->load->idle_connected--;
		}
		return;
	}
	n = read(fd, c->buf + c->len, sizeof(c->buf) - c->len);
	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			conn_done(c, classify_errno(errno));
		return;
	}
	if (n == 0) {
		conn_done(c, FAIL_CLOSED);
		return;
	}
	c->len += (size_t)n;
	rc = c->load->opt.mode == MODE_CHECKIN ? checkin_input(c)
					       : provision_input(c);
	if (rc == 1)
		conn_done(c, -1);
	else if (rc < 0)
		conn_done(c, -rc - 1);
	else if (c->len == sizeof(c->buf))
		conn_done(c, FAIL_BAD_RECORD);
}

static void idle_connect_next(struct load *ld);

static void on_connected(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	struct load *ld = c->load;
	struct timeval tv = timeout_tv(ld);
	int err = 0;
	socklen_t len = sizeof(err);

	if (what & EV_TIMEOUT) {
		err = ETIMEDOUT;
	} else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) {
		err = errno;
	}
	if (ld->opt.mode == MODE_IDLE) {
		ld->idle_pending--;
		if (err != 0) {
			conn_release(c);
			ld->failures[classify_errno(err)]++;
		} else {
			ld->idle_connected++;
			event_del(c->ev);
			event_assign(c->ev, ld->base, fd, EV_READ | EV_PERSIST,
				     on_readable, c);
			event_add(c->ev, NULL);
		}
		idle_connect_next(ld);
		return;
	}
	if (err != 0) {
		conn_done(c, classify_errno(err));
		return;
	}
	{
		const struct chip_load *cl = &ld->chips[c->chip];

		if (write(fd, cl->hello, cl->hello_len) !=
		    (ssize_t)cl->hello_len) {
			conn_done(c, classify_errno(errno));
			return;
		}
	}
	event_del(c->ev);
	event_assign(c->ev, ld->base, fd, EV_READ | EV_PERSIST, on_readable, c);
	event_add(c->ev, &tv);
}

/* Opens a non-blocking connection; 0, or a failure kind. */
static int conn_open(struct conn *c)
{
	struct load *ld = c->load;
	struct timeval tv = timeout_tv(ld);
	int one = 1;

	c->fd = socket(ld->addr.ss_family,
		       SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return FAIL_OTHER;
	/* As the device: each record goes out at once. */
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->len = 0;
	c->file_bytes = 0;
	luaota_frame_init(&c->framer, LUAOTA_SEGMENT_MAX, LUAOTA_CHUNK_SIZE, 1);
	c->start_us = now_us();
	if (connect(c->fd, (struct sockaddr *)&ld->addr, ld->addrlen) != 0 &&
	    errno != EINPROGRESS) {
		int kind = classify_errno(errno);

		close(c->fd);
		c->fd = -1;
		return kind;
	}
	event_assign(c->ev, ld->base, c->fd, EV_WRITE, on_connected, c);
	event_add(c->ev, &tv);
	return 0;
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	conn_start(arg);
}

/* Begins the next session on this slot, or retires the slot. */
static void conn_start(struct conn *c)
{
	struct load *ld = c->load;
	int kind;

	if (ld->stopping ||
	    (ld->opt.count > 0 && ld->started >= ld->opt.count)) {
		if (--ld->active == 0)
			event_base_loopbreak(ld->base);
		return;
	}
	ld->started++;
	c->chip = ld->next_chip++ % ld->inv.n;
	if ((kind = conn_open(c)) != 0) {
		struct timeval soon = { 0, 1000 };

		/* Not at once: a dead server must not become a busy loop. */
		ld->failures[kind]++;
		event_base_once(ld->base, -1, EV_TIMEOUT, on_retry, c, &soon);
	}
}

/* Idle mode: keeps a bounded number of handshakes in flight. */
static void idle_connect_next(struct load *ld)
{
	while (!ld->stopping && ld->idle_pending < CONNECTS_IN_FLIGHT &&
	       ld->next_chip < ld->nconns) {
		struct conn *c = &ld->conns[ld->next_chip++];
		int kind;

		ld->started++;
		if ((kind = conn_open(c)) != 0)
			ld->failures[kind]++;
		else
			ld->idle_pending++;
	}
	if (ld->idle_pending == 0 && ld->next_chip >= ld->nconns &&
	    ld->t_end_us == 0) {
		struct timeval hold = {
			.tv_sec = (time_t)ld->opt.hold_s,
			.tv_usec =
			    (suseconds_t)((ld->opt.hold_s -
					   (double)(time_t)ld->opt.hold_s) *
					  1e6),
		};

		/* All connected: now hold them and let the server settle. */
		ld->t_end_us = now_us();
		event_base_loopexit(ld->base, &hold);
	}
}

static void on_sample(evutil_socket_t fd, short what, void *arg)
{
	struct load *ld = arg;
	struct procstat ps;

	(void)fd;
	(void)what;
	if (procstat_read(ld->opt.pid, &ps) == 0 &&
	    ps.rss_kib > ld->rss_peak_kib)
		ld->rss_peak_kib = ps.rss_kib;
}

static void on_stop(evutil_socket_t fd, short what, void *arg)
{
	struct load *ld = arg;

	(void)fd;
	(void)what;
	ld->stopping = 1;
}

/* Runs the sessions of the current options to the end. */
static int run(struct load *ld)
{
	long i;
	struct timeval stop;

	ld->nconns = (size_t)(ld->opt.mode == MODE_IDLE ? ld->opt.connections
							: ld->opt.concurrency);
	ld->conns = calloc(ld->nconns, sizeof(*ld->conns));
	if (ld->conns == NULL)
		return -1;
	for (i = 0; i < (long)ld->nconns; i++) {
		ld->conns[i].load = ld;
		ld->conns[i].fd = -1;
		ld->conns[i].ev = event_new(ld->base, -1, 0, on_readable, NULL);
		if (ld->conns[i].ev == NULL)
			return -1;
	}
	ld->stopping = 0;
	ld->next_chip = 0;
	ld->t0_us = now_us();
	ld->t_end_us = 0;
	if (ld->opt.duration_s > 0 && ld->opt.mode != MODE_IDLE) {
		stop.tv_sec = (time_t)ld->opt.duration_s;
		stop.tv_usec =
		    (suseconds_t)((ld->opt.duration_s - (double)stop.tv_sec) *
				  1e6);
		event_base_once(ld->base, -1, EV_TIMEOUT, on_stop, ld, &stop);
	}
	if (ld->opt.mode == MODE_IDLE) {
		idle_connect_next(ld);
	} else {
		ld->active = (long)ld->nconns;
		for (i = 0; i < (long)ld->nconns; i++)
			conn_start(&ld->conns[i]);
	}
	event_base_dispatch(ld->base);
	if (ld->opt.pid > 0 && procstat_read(ld->opt.pid, &ld->ps_end) == 0 &&
	    ld->ps_end.rss_kib > ld->rss_peak_kib)
		ld->rss_peak_kib = ld->ps_end.rss_kib;
	if (ld->t_end_us == 0)
		ld->t_end_us = now_us();
	for (i = 0; i < (long)ld->nconns; i++) {
		conn_release(&ld->conns[i]);
		event_free(ld->conns[i].ev);
	}
	free(ld->conns);
	ld->conns = NULL;
	return 0;
}

/*
 * Provisions every chip once (untimed) and keeps the restart config for
 * check-ins: luaotad answers OK! only to a chip whose fingerprint it
 * recorded giving it.
 */
static int learn(struct load *ld)
{
	struct options saved = ld->opt;
	long failed = 0;
	int rc, i;

	ld->opt.mode = MODE_PROVISION;
	ld->opt.concurrency = saved.concurrency < 32 ? saved.concurrency : 32;
	ld->opt.count = (long)ld->inv.n;
	ld->opt.duration_s = 0;
	ld->next_chip = 0;
	rc = run(ld);
	ld->next_chip = 0;
	ld->opt = saved;
	ld->started = ld->ok = 0;
	ld->nlat = 0;
	ld->payload_bytes = 0;
	for (i = 0; i < FAIL_KINDS; i++)
		failed += ld->failures[i];
	memset(ld->failures, 0, sizeof(ld->failures));
	if (rc != 0 || failed > 0) {
		fprintf(stderr, "luaota-load: the learning session failed\n");
		return -1;
	}
	/* A server answering OK! to a bare HI (the baseline) teaches nothing.
	 */
	return ld->learned != NULL ? prepare_chips(ld, ld->learned) : 0;
}

static int compare_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static uint32_t percentile(const struct load *ld, double p)
{
	size_t i;

	if (ld->nlat == 0)
		return 0;
	i = (size_t)(p * (double)(ld->nlat - 1) + 0.5);
	return ld->lat_us[i];
}

static void report(struct load *ld)
{
	double seconds = (double)(ld->t_end_us - ld->t0_us) / 1e6;
	struct json_object *o = json_object_new_object(), *f, *srv;
	long failed = 0;
	struct rusage self;
	int i;

	if (ld->nlat > 0)
		qsort(ld->lat_us, ld->nlat, sizeof(*ld->lat_us), compare_u32);
	getrusage(RUSAGE_SELF, &self);
	json_object_object_add(
	    o, "mode",
	    json_object_new_string(ld->opt.mode == MODE_CHECKIN ? "checkin"
				   : ld->opt.mode == MODE_PROVISION
				       ? "provision"
				       : "idle"));
	json_object_object_add(o, "chips",
			       json_object_new_int64((int64_t)ld->inv.n));
	json_object_object_add(o, "concurrency",
			       json_object_new_int64(ld->opt.concurrency));
	json_object_object_add(o, "seconds", json_object_new_double(seconds));
	json_object_object_add(o, "ok", json_object_new_int64(ld->ok));
	json_object_object_add(
	    o, "rate",
	    json_object_new_double(seconds > 0 ? (double)ld->ok / seconds : 0));
	json_object_object_add(o, "p50_us",
			       json_object_new_int64(percentile(ld, 0.50)));
	json_object_object_add(o, "p99_us",
			       json_object_new_int64(percentile(ld, 0.99)));
	json_object_object_add(
	    o, "max_us",
	    json_object_new_int64(ld->nlat ? ld->lat_us[ld->nlat - 1] : 0));
	json_object_object_add(
	    o, "payload_bytes",
	    json_object_new_int64((int64_t)ld->payload_bytes));
	f = json_object_new_object();
	for (i = 0; i < FAIL_KINDS; i++) {
		json_object_object_add(f, failure_names[i],
				       json_object_new_int64(ld->failures[i]));
		failed += ld->failures[i];
	}
	json_object_object_add(o, "failures", f);
	json_object_object_add(o, "failed", json_object_new_int64(failed));
	if (ld->opt.mode == MODE_IDLE) {
		json_object_object_add(
		    o, "connections",
		    json_object_new_int64(ld->opt.connections));
		json_object_object_add(
		    o, "held", json_object_new_int64(ld->idle_connected));
	}
	json_object_object_add(
	    o, "load_cpu_s",
	    json_object_new_double(
		(double)self.ru_utime.tv_sec + (double)self.ru_stime.tv_sec +
		(double)(self.ru_utime.tv_usec + self.ru_stime.tv_usec) / 1e6));
	if (ld->opt.pid > 0) {
		srv = json_object_new_object();
		json_object_object_add(srv, "pid",
				       json_object_new_int64(ld->opt.pid));
		json_object_object_add(
		    srv, "rss_start_kib",
		    json_object_new_int64(ld->ps_start.rss_kib));
		json_object_object_add(
		    srv, "rss_end_kib",
		    json_object_new_int64(ld->ps_end.rss_kib));
		json_object_object_add(srv, "rss_peak_kib",
				       json_object_new_int64(ld->rss_peak_kib));
		json_object_object_add(
		    srv, "hwm_kib", json_object_new_int64(ld->ps_end.hwm_kib));
		json_object_object_add(
		    srv, "cpu_s",
		    json_object_new_double(ld->ps_end.cpu_s -
					   ld->ps_start.cpu_s));
		if (ld->opt.mode == MODE_IDLE && ld->idle_connected > 0)
			json_object_object_add(
			    srv, "bytes_per_connection",
			    json_object_new_double(
				(double)(ld->ps_end.rss_kib -
					 ld->ps_start.rss_kib) *
				1024.0 / (double)ld->idle_connected));
		json_object_object_add(o, "server", srv);
	}
	if (ld->opt.json) {
		printf("%s\n", json_object_to_json_string_ext(
				   o, JSON_C_TO_STRING_PLAIN));
	} else {
		printf("%s\n", json_object_to_json_string_ext(
				   o, JSON_C_TO_STRING_PRETTY));
	}
	json_object_put(o);
}

/* Parses a bounded number argument or exits with a usage error. */
static double number_arg(const char *name, const char *text, double min,
			 double max)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(text, &end);
	if (errno != 0 || end == text || *end != '\0' || v < min || v > max) {
		fprintf(stderr,
			"luaota-load: --%s must be a number in [%g, %g]\n",
			name, min, max);
		exit(2);
	}
	return v;
}

static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "target", required_argument, NULL, 't' },
		{ "inventory", required_argument, NULL, 'i' },
		{ "mode", required_argument, NULL, 'm' },
		{ "concurrency", required_argument, NULL, 'c' },
		{ "duration", required_argument, NULL, 'd' },
		{ "count", required_argument, NULL, 'n' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "connections", required_argument, NULL, 'C' },
		{ "hold", required_argument, NULL, 'H' },
		{ "pid", required_argument, NULL, 'p' },
		{ "no-learn", no_argument, NULL, 'L' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct load ld = { 0 };
	struct event *sampler = NULL;
	struct timeval period = { 0, SAMPLE_MS * 1000 };
	int ch, rc = 1;

	ld.opt = (struct options){ .mode = MODE_CHECKIN,
				   .concurrency = 64,
				   .timeout_ms = 5000,
				   .connections = 10000,
				   .hold_s = 3,
				   .learn = 1 };
	while ((ch = getopt_long(argc, argv, "t:i:m:c:d:n:T:C:H:p:jh", longopts,
				 NULL)) != -1) {
		switch (ch) {
		case 't':
			ld.opt.target = optarg;
			break;
		case 'i':
			ld.opt.inventory = optarg;
			break;
		case 'm':
			if (strcmp(optarg, "checkin") == 0)
				ld.opt.mode = MODE_CHECKIN;
			else if (strcmp(optarg, "provision") == 0)
				ld.opt.mode = MODE_PROVISION;
			else if (strcmp(optarg, "idle") == 0)
				ld.opt.mode = MODE_IDLE;
			else {
				fprintf(stderr, "luaota-load: --mode is "
						"checkin, provision or idle\n");
				return 2;
			}
			break;
		case 'c':
			ld.opt.concurrency = (long)number_arg(
			    "concurrency", optarg, 1, MAX_CONCURRENCY);
			break;
		case 'd':
			ld.opt.duration_s =
			    number_arg("duration", optarg, 0.1, MAX_DURATION_S);
			break;
		case 'n':
			ld.opt.count =
			    (long)number_arg("count", optarg, 1, MAX_COUNT);
			break;
		case 'T':
			ld.opt.timeout_ms =
			    (long)number_arg("timeout", optarg, 10, 600000);
			break;
		case 'C':
			ld.opt.connections = (long)number_arg(
			    "connections", optarg, 1, MAX_CONNECTIONS);
			break;
		case 'H':
			ld.opt.hold_s =
			    number_arg("hold", optarg, 0, MAX_DURATION_S);
			break;
		case 'p':
			ld.opt.pid = (pid_t)number_arg("pid", optarg, 1, 1e9);
			break;
		case 'L':
			ld.opt.learn = 0;
			break;
		case 'j':
			ld.opt.json = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc || ld.opt.target == NULL ||
	    ld.opt.inventory == NULL) {
		usage(stderr);
		return 2;
	}
	if (parse_target(&ld, ld.opt.target) != 0) {
		fprintf(stderr,
			"luaota-load: --target must be a numeric loopback "
			"ADDRESS:PORT\n");
		return 2;
	}
	if (ld.opt.count == 0 && ld.opt.duration_s == 0)
		ld.opt.duration_s = 5;
	signal(SIGPIPE, SIG_IGN);
	raise_nofile();
	if (inventory_load(&ld.inv, ld.opt.inventory) != 0)
		return 1;
	if ((ld.base = event_base_new()) == NULL)
		goto out;
	if (prepare_chips(&ld,
			  "{\"leave\":false,\"port\":8266,\"ssid\":\"bench-"
			  "ssid\",\"spwd\":\"bench-pwd\",\"server\":\"127.0."
			  "0.1\"}") != 0) {
		fprintf(stderr, "luaota-load: cannot prepare the chips\n");
		goto out;
	}
	if (ld.opt.mode == MODE_CHECKIN && ld.opt.learn && learn(&ld) != 0)
		goto out;
	if (ld.opt.pid > 0) {
		if (procstat_read(ld.opt.pid, &ld.ps_start) != 0) {
			fprintf(stderr, "luaota-load: no process %ld\n",
				(long)ld.opt.pid);
			goto out;
		}
		ld.rss_peak_kib = ld.ps_start.rss_kib;
		sampler = event_new(ld.base, -1, EV_PERSIST, on_sample, &ld);
		if (sampler == NULL)
			goto out;
		event_add(sampler, &period);
	}
	if (run(&ld) != 0)
		goto out;
	report(&ld);
	rc = 0;
out:
	if (sampler != NULL)
		event_free(sampler);
	if (ld.chips != NULL) {
		size_t i;

		for (i = 0; i < ld.inv.n; i++)
			free(ld.chips[i].hello);
		free(ld.chips);
	}
	free(ld.lat_us);
	free(ld.learned);
	inventory_free(&ld.inv);
	if (ld.base != NULL)
		event_base_free(ld.base);
	return rc;
}
