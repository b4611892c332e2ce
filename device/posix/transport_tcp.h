/* The device's TCP transport over BSD sockets, with poll() timeouts. */
#ifndef LUAOTA_POSIX_TRANSPORT_TCP_H
#define LUAOTA_POSIX_TRANSPORT_TCP_H

#include "luaota.h"

/* One connection's state: fill it with luaota_tcp_init(). */
struct luaota_tcp {
	int fd;			  /* the socket, or -1 */
	uint32_t send_timeout_ms; /* cap on a blocked send */
	char peer[64];		  /* "address:port" once connected */
};

/* Prepares t (not connected) and fills *ops with its functions. */
void luaota_tcp_init(struct luaota_tcp *t, struct luaota_transport *ops);

#endif /* LUAOTA_POSIX_TRANSPORT_TCP_H */
