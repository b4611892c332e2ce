/*
 * baseline: the least a server can do for a legacy check-in - read the
 * HI line, find the chip, answer its signed OK! (prepared at start-up),
 * close.  No JSON library, no database, no signature check: what the
 * machine itself allows for this exchange, measured beside luaotad.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>

#include "inventory.h"
#include "proto/chipid.h"
#include "proto/crypto_openssl.h"
#include "proto/sig.h"

#define LINE_MAX_BYTES 4096
#define READ_TIMEOUT_S 5

/* One chip: its id and the exact OK! record signed with its secret. */
struct answer {
	char id[LUAOTA_CHIPID_MAX + 1];
	char ok[32];
	size_t ok_len;
};

struct server {
	struct event_base *base;
	struct answer *answers; /* sorted by id */
	size_t n;
};

struct bconn {
	struct server *srv;
	struct event *ev;
	int fd;
	size_t len;
	char buf[LINE_MAX_BYTES];
};

static int compare_answer(const void *a, const void *b)
{
	return strcmp(((const struct answer *)a)->id,
		      ((const struct answer *)b)->id);
}

static void bconn_free(struct bconn *c)
{
	event_free(c->ev);
	close(c->fd);
	free(c);
}

/* Finds the "id" of a HI line without a JSON parser; NULL if absent. */
static const struct answer *find_chip(const struct server *srv,
				      const char *line, size_t len)
{
	struct answer key;
	const char *p = memmem(line, len, "\"id\":", 5), *end;
	enum luaota_json_kind kind = LUAOTA_JSON_NUMBER;

	if (p == NULL)
		return NULL;
	p += 5;
	if (*p == '"') {
		kind = LUAOTA_JSON_STRING;
		p++;
		end = memchr(p, '"', (size_t)(line + len - p));
	} else {
		for (end = p; end < line + len && *end >= '0' && *end <= '9';
		     end++)
			;
	}
	if (end == NULL ||
	    luaota_chipid_normalize(kind, p, (size_t)(end - p), key.id) != 0)
		return NULL;
	return bsearch(&key, srv->answers, srv->n, sizeof(key), compare_answer);
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
	struct bconn *c = arg;
	const struct answer *a;
	const char *nl;
	ssize_t n;

	if (what & EV_TIMEOUT) {
		bconn_free(c);
		return;
	}
	n = read(fd, c->buf + c->len, sizeof(c->buf) - c->len);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		bconn_free(c);
		return;
	}
	c->len += (size_t)n;
	if ((nl = memchr(c->buf, '\n', c->len)) == NULL) {
		if (c->len == sizeof(c->buf))
			bconn_free(c);
		return;
	}
	a = find_chip(c->srv, c->buf, (size_t)(nl - c->buf));
	/* A tiny record into an empty send buffer: one write is enough. */
	if (a != NULL && write(fd, a->ok, a->ok_len) < 0)
		perror("baseline: write");
	bconn_free(c);
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd,
		      struct sockaddr *sa, int salen, void *arg)
{
	struct server *srv = arg;
	struct bconn *c = malloc(sizeof(*c));
	struct timeval tv = { READ_TIMEOUT_S, 0 };
	int one = 1;

	(void)l;
	(void)sa;
	(void)salen;
	if (c == NULL) {
		close(fd);
		return;
	}
	/* The same socket options as luaotad. */
	evutil_make_socket_nonblocking(fd);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->srv = srv;
	c->fd = fd;
	c->len = 0;
	c->ev = event_new(srv->base, fd, EV_READ | EV_PERSIST, on_read, c);
	if (c->ev == NULL) {
		close(fd);
		free(c);
		return;
	}
	event_add(c->ev, &tv);
}

static void on_accept_error(struct evconnlistener *l, void *arg)
{
	(void)l;
	(void)arg;
	perror("baseline: accept");
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	event_base_loopexit(arg, NULL);
}

/* Signs every chip's OK! once, up front. */
static int prepare(struct server *srv, const struct inventory *inv)
{
	static const char ok[] = "{\"r\":\"OK!\"}";
	size_t i, n = sizeof(ok) - 1;

	srv->answers = calloc(inv->n, sizeof(*srv->answers));
	if (srv->answers == NULL)
		return -1;
	for (i = 0; i < inv->n; i++) {
		struct answer *a = &srv->answers[i];
		const char *secret = inv->chips[i].secret;

		memcpy(a->id, inv->chips[i].id, sizeof(a->id));
		memcpy(a->ok, ok, n);
		if (luaota_sig_compute(&luaota_crypto_openssl,
				       (const uint8_t *)secret, strlen(secret),
				       ok, n, a->ok + n) != 0)
			return -1;
		a->ok[n + LUAOTA_SIG_LEN] = '\n';
		a->ok_len = n + LUAOTA_SIG_LEN + 1;
	}
	srv->n = inv->n;
	qsort(srv->answers, srv->n, sizeof(*srv->answers), compare_answer);
	return 0;
}

/* Binds 127.0.0.1:port (0: any free port, printed on stdout). */
static int listen_loopback(const char *port_text)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int fd, on = 1;
	long port = strtol(port_text, NULL, 10);

	if (port < 0 || port > 65535)
		return -1;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((uint16_t)port);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
	    listen(fd, 4096) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) != 0) {
		close(fd);
		return -1;
	}
	printf("%u\n", ntohs(sin.sin_port));
	fflush(stdout);
	return fd;
}

static void usage(FILE *fp)
{
	fprintf(fp, "usage: baseline --inventory FILE (--fd N | --port PORT)\n"
		    "  -i, --inventory FILE  \"id secret\" lines\n"
		    "  -f, --fd N            serve a listening socket already "
		    "open as N\n"
		    "  -p, --port PORT       listen on 127.0.0.1:PORT (0: any, "
		    "printed)\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "inventory", required_argument, NULL, 'i' },
		{ "fd", required_argument, NULL, 'f' },
		{ "port", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct server srv = { 0 };
	struct inventory inv;
	struct evconnlistener *l = NULL;
	struct event *sigterm = NULL, *sigint = NULL;
	struct rlimit rl;
	const char *inventory = NULL, *port = NULL;
	int ch, fd = -1, rc = 1;

	while ((ch = getopt_long(argc, argv, "i:f:p:h", longopts, NULL)) !=
	       -1) {
		switch (ch) {
		case 'i':
			inventory = optarg;
			break;
		case 'f':
			fd = atoi(optarg);
			break;
		case 'p':
			port = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc || inventory == NULL || (fd < 0) == (port == NULL)) {
		usage(stderr);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (inventory_load(&inv, inventory) != 0)
		return 1;
	if (prepare(&srv, &inv) != 0) {
		fprintf(stderr, "baseline: cannot sign the answers\n");
		goto out;
	}
	if (port != NULL && (fd = listen_loopback(port)) < 0) {
		perror("baseline: listen");
		goto out;
	}
	if ((srv.base = event_base_new()) == NULL)
		goto out;
	evutil_make_socket_nonblocking(fd);
	l = evconnlistener_new(srv.base, on_accept, &srv,
			       LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
			       4096, fd);
	sigterm = evsignal_new(srv.base, SIGTERM, on_signal, srv.base);
	sigint = evsignal_new(srv.base, SIGINT, on_signal, srv.base);
	if (l == NULL || sigterm == NULL || sigint == NULL)
		goto out;
	evconnlistener_set_error_cb(l, on_accept_error);
	evsignal_add(sigterm, NULL);
	evsignal_add(sigint, NULL);
	event_base_dispatch(srv.base);
	rc = 0;
out:
	if (l != NULL)
		evconnlistener_free(l);
	if (sigterm != NULL)
		event_free(sigterm);
	if (sigint != NULL)
		event_free(sigint);
	if (srv.base != NULL)
		event_base_free(srv.base);
	free(srv.answers);
	inventory_free(&inv);
	return rc;
}
