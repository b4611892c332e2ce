/*
 * Compile checks.  liblua5.1 and liblua5.3 export the same symbol names,
 * so neither is linked: each is dlopen()ed with RTLD_LOCAL on first use
 * and reached through the handful of functions looked up here.  Handles
 * stay open for the life of the process.
 */
#include "luacheck.h"
#include "proto/protocol.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Lua's own types stay opaque: only pointers to a state cross over. */
struct lua_State;

typedef int (*lua_writer_fn)(struct lua_State *L, const void *p, size_t sz,
			     void *ud);

struct lua_lib {
	const char *soname;
	int version;
	pthread_once_t once;
	int ready;     /* 1 when every function below was found */
	char why[256]; /* why not, when ready is 0 */
	struct lua_State *(*newstate)(void);
	int (*loadbuffer)(struct lua_State *L, const char *buf, size_t len,
			  const char *name);
	int (*loadbufferx)(struct lua_State *L, const char *buf, size_t len,
			   const char *name, const char *mode);
	const char *(*tolstring)(struct lua_State *L, int idx, size_t *len);
	void (*settop)(struct lua_State *L, int idx);
	void (*close)(struct lua_State *L);
	int (*dump51)(struct lua_State *L, lua_writer_fn w, void *ud);
	int (*dump53)(struct lua_State *L, lua_writer_fn w, void *ud,
		      int strip);
};

static struct lua_lib lua51 = { .soname = "liblua5.1.so.0",
				.version = LUAOTA_LUA_51,
				.once = PTHREAD_ONCE_INIT };
static struct lua_lib lua53 = { .soname = "liblua5.3.so.0",
				.version = LUAOTA_LUA_53,
				.once = PTHREAD_ONCE_INIT };

/* dlsym into a function pointer without an object-to-function cast. */
static int lookup(struct lua_lib *lib, void *handle, const char *symbol,
		  void *fn, size_t fn_size)
{
	void *p = dlsym(handle, symbol);

	if (p == NULL) {
		snprintf(lib->why, sizeof(lib->why), "%s: no symbol %s",
			 lib->soname, symbol);
		return -1;
	}
	memcpy(fn, &p, fn_size);
	return 0;
}

#define LOOKUP(lib, h, sym, field)                                             \
	lookup(lib, h, sym, &(lib)->field, sizeof((lib)->field))

static void load(struct lua_lib *lib)
{
	void *h = dlopen(lib->soname, RTLD_NOW | RTLD_LOCAL);
	const char *err;

	if (h == NULL) {
		err = dlerror();
		snprintf(lib->why, sizeof(lib->why),
			 "cannot load Lua %d.%d: %s", lib->version / 10,
			 lib->version % 10, err != NULL ? err : lib->soname);
		return;
	}
	if (LOOKUP(lib, h, "luaL_newstate", newstate) != 0 ||
	    LOOKUP(lib, h, "lua_tolstring", tolstring) != 0 ||
	    LOOKUP(lib, h, "lua_settop", settop) != 0 ||
	    LOOKUP(lib, h, "lua_close", close) != 0)
		goto fail;
	/* 5.1 has luaL_loadbuffer; from 5.2 on it is a macro over ...x */
	if (lib->version == LUAOTA_LUA_51
		? LOOKUP(lib, h, "luaL_loadbuffer", loadbuffer) ||
		      LOOKUP(lib, h, "lua_dump", dump51)
		: LOOKUP(lib, h, "luaL_loadbufferx", loadbufferx) ||
		      LOOKUP(lib, h, "lua_dump", dump53))
		goto fail;
	lib->ready = 1;
	return;
fail:
	dlclose(h);
}

static void load_51(void)
{
	load(&lua51);
}

static void load_53(void)
{
	load(&lua53);
}

static struct lua_lib *lib_for(int lua_version)
{
	if (lua_version == LUAOTA_LUA_51) {
		pthread_once(&lua51.once, load_51);
		return &lua51;
	}
	if (lua_version == LUAOTA_LUA_53) {
		pthread_once(&lua53.once, load_53);
		return &lua53;
	}
	return NULL;
}

int plan_lua_available(int lua_version, char *err, size_t err_len)
{
	struct lua_lib *lib = lib_for(lua_version);

	if (lib == NULL) {
		snprintf(err, err_len, "unsupported Lua version %d",
			 lua_version);
		return -1;
	}
	if (!lib->ready) {
		snprintf(err, err_len, "%s", lib->why);
		return -1;
	}
	return 0;
}

struct dump_buf {
	uint8_t *data;
	size_t len, cap;
	int failed;
};

/* lua_Writer: appends a piece of bytecode to a dump_buf. */
static int dump_write(struct lua_State *L, const void *p, size_t sz, void *ud)
{
	struct dump_buf *b = ud;
	uint8_t *bigger;
	size_t cap;

	(void)L;
	if (b->len + sz > b->cap) {
		cap = (b->len + sz) * 2 + 64;
		bigger = realloc(b->data, cap);
		if (bigger == NULL) {
			b->failed = 1;
			return 1;
		}
		b->data = bigger;
		b->cap = cap;
	}
	if (sz > 0)
		memcpy(b->data + b->len, p, sz);
	b->len += sz;
	return 0;
}

/* Loads src; with dump, also serialises the function (debug info kept). */
static int compile(const char *src, size_t len, const char *name,
		   int lua_version, struct dump_buf *dump, char *err,
		   size_t err_len)
{
	struct lua_lib *lib;
	struct lua_State *L;
	char chunk[256];
	const char *msg;
	int rc;

	if (plan_lua_available(lua_version, err, err_len) != 0)
		return -1;
	lib = lib_for(lua_version);
	/* 5.1 would accept bytecode: a device compiling it would not. */
	if (len > 0 && src[0] == '\033') {
		snprintf(err, err_len, "%s: binary chunk, not Lua source",
			 name);
		return -1;
	}
	/* "=name" makes Lua print the name as is: "app.lua:3: ..." */
	snprintf(chunk, sizeof(chunk), "=%s", name);
	L = lib->newstate();
	if (L == NULL) {
		snprintf(err, err_len, "%s: out of memory", name);
		return -1;
	}
	if (lib->version == LUAOTA_LUA_51)
		rc = lib->loadbuffer(L, src, len, chunk);
	else
		rc = lib->loadbufferx(L, src, len, chunk, "t");
	if (rc != 0) {
		msg = lib->tolstring(L, -1, NULL);
		snprintf(err, err_len, "%s",
			 msg != NULL ? msg : "compile failed");
	} else if (dump != NULL) {
		if (lib->version == LUAOTA_LUA_51)
			lib->dump51(L, dump_write, dump);
		else
			lib->dump53(L, dump_write, dump, 0);
		if (dump->failed) {
			snprintf(err, err_len, "%s: out of memory", name);
			rc = -1;
		}
	}
	lib->settop(L, 0);
	lib->close(L);
	return rc == 0 ? 0 : -1;
}

int plan_lua_check(const char *src, size_t len, const char *name,
		   int lua_version, char *err, size_t err_len)
{
	return compile(src, len, name, lua_version, NULL, err, err_len);
}

int plan_lua_dump(const char *src, size_t len, const char *name,
		  int lua_version, uint8_t **out, size_t *out_len, char *err,
		  size_t err_len)
{
	struct dump_buf b = { 0 };

	*out = NULL;
	*out_len = 0;
	if (compile(src, len, name, lua_version, &b, err, err_len) != 0) {
		free(b.data);
		return -1;
	}
	*out = b.data;
	*out_len = b.len;
	return 0;
}
