/*
 * The device's compiler on a host: liblua (5.1 as on ESP8266 NodeMCU, or
 * 5.3) loads the source from the flash and dumps stripped bytecode back.
 */
#ifndef LUAOTA_POSIX_COMPILE_LUA_H
#define LUAOTA_POSIX_COMPILE_LUA_H

#include "luaota.h"

/* Fills *ops with the liblua compiler (stateless). */
void luaota_lua_compiler_init(struct luaota_compiler *ops);

/* The Lua version compiled in, such as "Lua 5.1". */
const char *luaota_lua_version(void);

#endif /* LUAOTA_POSIX_COMPILE_LUA_H */
