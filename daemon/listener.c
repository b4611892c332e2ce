/* Listeners and the accept path, with connection caps. */
#include "listener.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <systemd/sd-daemon.h>

#include "daemon.h"
#include "log.h"
#include "ratelimit.h"
#include "session.h"

#define LISTEN_BACKLOG 4096

/* Counts open sessions from one address (the per-address cap). */
static int64_t sessions_from(struct daemon *d, const char *addr)
{
	struct session *s;
	int64_t n = 0;

	TAILQ_FOREACH(s, &d->sessions, entry)
	if (strcmp(s->addr, addr) == 0)
		n++;
	return n;
}

static void address_of(const struct sockaddr *sa, char *out, size_t len)
{
	const void *src =
	    sa->sa_family == AF_INET6
		? (const void *)&((const struct sockaddr_in6 *)(const void *)sa)
		      ->sin6_addr
		: (const void *)&((const struct sockaddr_in *)(const void *)sa)
		      ->sin_addr;

	if (inet_ntop(sa->sa_family, src, out, (socklen_t)len) == NULL)
		snprintf(out, len, "?");
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd,
		      struct sockaddr *sa, int salen, void *arg)
{
	struct daemon *d = arg;
	char addr[INET6_ADDRSTRLEN];
	int one = 1;

	(void)l;
	if (d->draining) {
		close(fd);
		return;
	}
	address_of(sa, addr, sizeof(addr));
	if ((int64_t)d->stats.open >= d->conf.max_connections ||
	    sessions_from(d, addr) >= d->conf.max_per_address) {
		d->stats.refused++;
		if ((int64_t)d->stats.open >= d->conf.max_connections)
			d->metrics.refused_max_connections++;
		else
			d->metrics.refused_per_address++;
		if (ratelimit_allow("refused", daemon_now_ms()))
			log_warnx("event=refused peer=%s reason=%s", addr,
				  (int64_t)d->stats.open >=
					  d->conf.max_connections
				      ? "max_connections"
				      : "max_connections_per_address");
		close(fd);
		return;
	}
	evutil_make_socket_nonblocking(fd);
	/* Lock-step records: nothing is gained by waiting to coalesce. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	log_debug("event=accept peer=%s", addr);
	session_new(d, fd, sa, (socklen_t)salen);
}

/* Out of descriptors: pause accepting for a second instead of spinning. */
static void on_resume(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;
	int i;

	(void)fd;
	(void)what;
	for (i = 0; i < d->nlisteners; i++)
		evconnlistener_enable(d->listeners[i]);
}

static void on_accept_error(struct evconnlistener *l, void *arg)
{
	struct daemon *d = arg;
	int err = EVUTIL_SOCKET_ERROR();
	struct timeval second = { 1, 0 };
	int i;

	if (err != EMFILE && err != ENFILE && err != ENOBUFS && err != ENOMEM) {
		log_warnx("event=accept-error error=\"%s\"",
			  evutil_socket_error_to_string(err));
		return;
	}
	(void)l;
	log_warnx("event=accept-paused error=\"%s\"",
		  evutil_socket_error_to_string(err));
	for (i = 0; i < d->nlisteners; i++)
		evconnlistener_disable(d->listeners[i]);
	event_base_once(d->base, -1, EV_TIMEOUT, on_resume, d, &second);
}

static void log_bound(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
		return;
	address_of((struct sockaddr *)&ss, host, sizeof(host));
	port = ntohs(ss.ss_family == AF_INET6
			 ? ((struct sockaddr_in6 *)&ss)->sin6_port
			 : ((struct sockaddr_in *)&ss)->sin_port);
	log_info(ss.ss_family == AF_INET6 ? "event=listening address=[%s]:%u"
					  : "event=listening address=%s:%u",
		 host, port);
}

static int add_listener(struct daemon *d, int fd)
{
	struct evconnlistener *l;

	/* Inherited sockets may be blocking: accept() must never wait. */
	evutil_make_socket_nonblocking(fd);
	l = evconnlistener_new(d->base, on_accept, d,
			       LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
			       LISTEN_BACKLOG, fd);
	if (l == NULL) {
		log_warnx("cannot listen on descriptor %d", fd);
		close(fd);
		return -1;
	}
	evconnlistener_set_error_cb(l, on_accept_error);
	d->listeners[d->nlisteners++] = l;
	log_bound(fd);
	return 0;
}

/* Splits "host:port" / "[v6]:port" / "*:port" and binds it. */
static int bind_address(struct daemon *d, const char *spec)
{
	char host[256], service[8];
	const char *why;
	unsigned port;
	struct addrinfo hints = { 0 }, *res = NULL, *ai;
	int fd = -1, on = 1, rc;

	if ((why = config_listen_split(spec, host, sizeof(host), &port)) !=
	    NULL) {
		log_warnx("listen %s: %s", spec, why);
		return -1;
	}
	snprintf(service, sizeof(service), "%u", port);
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
	rc = getaddrinfo(host[0] == '\0' ? NULL : host, service, &hints, &res);
	if (rc != 0) {
		log_warnx("listen %s: %s", spec, gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family,
			    ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
			    ai->ai_protocol);
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
		/* "[::]" serves IPv6 only: IPv4 has its own listener. */
		if (ai->ai_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on,
				   sizeof(on));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    listen(fd, LISTEN_BACKLOG) == 0)
			break;
		log_warn("listen %s", spec);
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return -1;
	return add_listener(d, fd);
}

/*
 * Takes the sockets systemd passed: every listening stream socket, whatever
 * its FileDescriptorName=; anything else (a stored fd, a datagram socket) is
 * closed with a warning rather than served.  Returns how many were passed.
 */
static int inherited_listeners(struct daemon *d)
{
	char **names = NULL;
	int n = sd_listen_fds_with_names(1, &names), i;

	if (n < 0) {
		errno = -n;
		log_warn("LISTEN_FDS");
		return 0;
	}
	for (i = 0; i < n; i++) {
		int fd = SD_LISTEN_FDS_START + i;
		const char *name = names != NULL ? names[i] : "unknown";

		if (strcmp(name, "http") == 0 &&
		    sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) > 0 &&
		    d->http_inherited_fd < 0) {
			/* The HTTP API's socket (luaotad-http.socket). */
			log_debug("event=inherited fd=%d name=%s", fd, name);
			d->http_inherited_fd = fd;
		} else if (sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) <= 0) {
			log_warnx("event=ignored-fd fd=%d name=%s: not a "
				  "listening stream socket",
				  fd, name);
			close(fd);
		} else if (d->nlisteners >= LUAOTAD_MAX_LISTEN) {
			log_warnx("event=ignored-fd fd=%d name=%s: at most %d "
				  "listeners",
				  fd, name, LUAOTAD_MAX_LISTEN);
			close(fd);
		} else {
			log_debug("event=inherited fd=%d name=%s", fd, name);
			add_listener(d, fd);
		}
	}
	if (names != NULL) {
		for (i = 0; i < n; i++)
			free(names[i]);
		free(names);
	}
	return n;
}

int listener_open(struct daemon *d)
{
	int i;

	/* Socket activation owns the addresses: never bind beside it. */
	if (inherited_listeners(d) > 0)
		return d->nlisteners > 0 ? 0 : -1;
	for (i = 0; i < d->conf.nlisten; i++) {
		if (bind_address(d, d->conf.listen[i]) != 0)
			return -1;
	}
	return d->nlisteners > 0 ? 0 : -1;
}

void listener_disable(struct daemon *d)
{
	int i;

	for (i = 0; i < d->nlisteners; i++)
		evconnlistener_disable(d->listeners[i]);
}

void listener_close(struct daemon *d)
{
	while (d->nlisteners > 0)
		evconnlistener_free(d->listeners[--d->nlisteners]);
}
