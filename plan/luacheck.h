/* Compile checks against the system's Lua 5.1 and 5.3, side by side. */
#ifndef LUAOTA_PLAN_LUACHECK_H
#define LUAOTA_PLAN_LUACHECK_H

#include <stddef.h>
#include <stdint.h>

/*
 * Checks that src compiles as Lua (5.1 or 5.3) with chunk name name.
 * Returns 0, or -1 with the compiler's message in err.
 */
int plan_lua_check(const char *src, size_t len, const char *name,
		   int lua_version, char *err, size_t err_len);

/*
 * Compiles src like plan_lua_check and returns the bytecode with its
 * debug information (line numbers) in *out (malloc'ed): for tests and
 * tools that must prove two sources compile alike.  0, or -1 with err.
 */
int plan_lua_dump(const char *src, size_t len, const char *name,
		  int lua_version, uint8_t **out, size_t *out_len, char *err,
		  size_t err_len);

/* 0 when Lua lua_version (51 or 53) can be loaded; else -1 and why in err. */
int plan_lua_available(int lua_version, char *err, size_t err_len);

#endif /* LUAOTA_PLAN_LUACHECK_H */
