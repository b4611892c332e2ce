/*
 * The POSIX port of the device client: a directory as flash, TCP sockets,
 * the monotonic clock, OpenSSL's HMAC and liblua, assembled into one
 * struct luaota_port.
 */
#ifndef LUAOTA_POSIX_PORT_H
#define LUAOTA_POSIX_PORT_H

#include "flash_dir.h"
#include "luaota.h"
#include "transport_tcp.h"

struct luaota_posix {
	struct luaota_flash_dir flash_dir;
	struct luaota_tcp tcp;
	struct luaota_port port; /* pass &port to luaota_boot() */
};

/* Fills p for the flash directory dir; 0, or -1 (errno set). */
int luaota_posix_open(struct luaota_posix *p, const char *dir);

/* Releases what luaota_posix_open() took. */
void luaota_posix_close(struct luaota_posix *p);

/* CLOCK_MONOTONIC in milliseconds, as a struct luaota_clock wants. */
uint32_t luaota_posix_now_ms(void *ctx);

#endif /* LUAOTA_POSIX_PORT_H */
