/* TCP over BSD sockets: see transport_tcp.h. */
#include "transport_tcp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Waits for events on fd for at most timeout_ms: 1 ready, 0 timeout, -1. */
static int wait_fd(int fd, short events, uint32_t timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = events };
	int n, ms = timeout_ms > 0x7fffffffu ? 0x7fffffff : (int)timeout_ms;

	do
		n = poll(&p, 1, ms);
	while (n < 0 && errno == EINTR);
	return n;
}

static void tcp_close(void *ctx)
{
	struct luaota_tcp *t = ctx;

	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
}

/* Remembers the peer as "address:port" for the caller's log. */
static void note_peer(struct luaota_tcp *t, const struct sockaddr *sa)
{
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;

		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		port = ntohs(in->sin_port);
		snprintf(t->peer, sizeof(t->peer), "%s:%u", host, port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;

		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		port = ntohs(in6->sin6_port);
		snprintf(t->peer, sizeof(t->peer), "[%s]:%u", host, port);
	}
}

/* Tries one address within timeout_ms; 0, or -1. */
static int try_connect(struct luaota_tcp *t, const struct addrinfo *ai,
		       uint32_t timeout_ms)
{
	int fd, err = 0;
	socklen_t len = sizeof(err);

	fd = socket(ai->ai_family,
		    ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
		    ai->ai_protocol);
	if (fd < 0)
		return -1;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
		if (errno != EINPROGRESS ||
		    wait_fd(fd, POLLOUT, timeout_ms) != 1 ||
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 ||
		    err != 0) {
			close(fd);
			return -1;
		}
	}
	/* Each send is one whole record: v2 pipelines small requests, which
	 * Nagle's algorithm would hold back until the previous one is ACKed. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int));
	t->fd = fd;
	note_peer(t, ai->ai_addr);
	return 0;
}

static int tcp_connect(void *ctx, const char *host, uint16_t port,
		       uint32_t timeout_ms)
{
	struct luaota_tcp *t = ctx;
	struct addrinfo hints, *list, *ai;
	char service[8];
	int rc = -1;

	tcp_close(t);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(service, sizeof(service), "%u", (unsigned)port);
	if (getaddrinfo(host, service, &hints, &list) != 0)
		return -1;
	for (ai = list; ai != NULL && rc != 0; ai = ai->ai_next)
		rc = try_connect(t, ai, timeout_ms);
	freeaddrinfo(list);
	return rc;
}

static int tcp_send(void *ctx, const uint8_t *buf, size_t len)
{
	struct luaota_tcp *t = ctx;
	ssize_t n;

	while (len > 0) {
		n = send(t->fd, buf, len, MSG_NOSIGNAL);
		if (n > 0) {
			buf += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) &&
		    wait_fd(t->fd, POLLOUT, t->send_timeout_ms) == 1)
			continue;
		return -1;
	}
	return 0;
}

static long tcp_recv(void *ctx, uint8_t *buf, size_t cap, uint32_t timeout_ms)
{
	struct luaota_tcp *t = ctx;
	ssize_t n;
	int ready;

	for (;;) {
		ready = wait_fd(t->fd, POLLIN, timeout_ms);
		if (ready == 0)
			return LUAOTA_RECV_TIMEOUT;
		if (ready < 0)
			return LUAOTA_RECV_ERROR;
		n = recv(t->fd, buf, cap, 0);
		if (n > 0)
			return (long)n;
		if (n == 0)
			return LUAOTA_RECV_EOF;
		if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)
			return LUAOTA_RECV_ERROR;
	}
}

void luaota_tcp_init(struct luaota_tcp *t, struct luaota_transport *ops)
{
	t->fd = -1;
	t->send_timeout_ms = LUAOTA_SESSION_MS;
	t->peer[0] = '\0';
	ops->connect = tcp_connect;
	ops->send = tcp_send;
	ops->recv = tcp_recv;
	ops->close = tcp_close;
	ops->ctx = t;
}
