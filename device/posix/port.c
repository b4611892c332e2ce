/* The POSIX port assembled: see port.h. */
#include "port.h"

#include <string.h>
#include <time.h>

#include "compile_lua.h"
#include "proto/crypto_openssl.h"

uint32_t luaota_posix_now_ms(void *ctx)
{
	struct timespec ts;

	(void)ctx;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint32_t)((uint64_t)ts.tv_sec * 1000u +
			  (uint64_t)ts.tv_nsec / 1000000u);
}

int luaota_posix_open(struct luaota_posix *p, const char *dir)
{
	memset(p, 0, sizeof(*p));
	if (luaota_flash_dir_open(&p->flash_dir, dir, &p->port.flash) != 0)
		return -1;
	luaota_tcp_init(&p->tcp, &p->port.transport);
	p->port.clock.now_ms = luaota_posix_now_ms;
	p->port.clock.ctx = NULL;
	p->port.crypto = luaota_crypto_openssl;
	luaota_lua_compiler_init(&p->port.compiler);
	return 0;
}

void luaota_posix_close(struct luaota_posix *p)
{
	p->port.transport.close(p->port.transport.ctx);
	luaota_flash_dir_close(&p->flash_dir);
}
