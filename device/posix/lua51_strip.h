/*
 * Lua 5.1 bytecode without debug information.  Lua 5.1's lua_dump()
 * cannot strip, and Debian's liblua5.1 hides luaU_dump(), so the full dump
 * is re-serialised here from its documented, fixed format with the source
 * name, line info, local and upvalue names left out, which is what
 * "luac5.1 -s" writes.
 */
#ifndef LUAOTA_POSIX_LUA51_STRIP_H
#define LUAOTA_POSIX_LUA51_STRIP_H

#include <stddef.h>

/*
 * Re-emits the Lua 5.1 chunk in[0..len), made on this host, stripped,
 * through emit(arg, bytes, n) (which returns 0, or -1 to stop).  Returns
 * 0, or -1 when the chunk is malformed, not this host's format, or emit
 * failed.
 */
int luaota_lua51_strip(const unsigned char *in, size_t len,
		       int (*emit)(void *arg, const void *bytes, size_t n),
		       void *arg);

#endif /* LUAOTA_POSIX_LUA51_STRIP_H */
