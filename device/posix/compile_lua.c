/* Compiling with liblua: see compile_lua.h. */
#include "compile_lua.h"

#include <lauxlib.h>
#include <lua.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if LUA_VERSION_NUM == 501
#include "lua51_strip.h"
#endif

#define READ_PIECE 512

/* The source, read from the flash a piece at a time. */
struct source {
	const struct luaota_flash *flash;
	int fd;
	uint32_t offset;
	int failed; /* a read error, not the end of the file */
	int first;
	int binary; /* it began like a precompiled chunk */
	char piece[READ_PIECE];
};

/* The bytecode, written to the flash as lua_dump() hands it over. */
struct sink {
	const struct luaota_flash *flash;
	int fd;
	uint32_t size;
	int failed;
};

static const char *read_source(lua_State *L, void *data, size_t *size)
{
	struct source *s = data;
	long n;

	(void)L;
	n = s->flash->read(s->flash->ctx, s->fd, s->offset, (uint8_t *)s->piece,
			   sizeof(s->piece));
	if (n < 0)
		s->failed = 1;
	if (n <= 0) {
		*size = 0;
		return NULL;
	}
	/* Source only: a precompiled chunk is not accepted as source. */
	if (s->first && s->piece[0] == LUA_SIGNATURE[0]) {
		s->binary = 1;
		*size = 0;
		return NULL;
	}
	s->first = 0;
	s->offset += (uint32_t)n;
	*size = (size_t)n;
	return s->piece;
}

static int write_bytes(void *data, const void *p, size_t n)
{
	struct sink *k = data;

	if (k->failed || k->flash->write(k->flash->ctx, k->fd, p, n) != 0) {
		k->failed = 1;
		return -1;
	}
	k->size += (uint32_t)n;
	return 0;
}

#if LUA_VERSION_NUM == 501
/* The full 5.1 dump, gathered in memory for stripping. */
struct gather {
	unsigned char *buf;
	size_t len, cap;
};

static int gather_dump(lua_State *L, const void *p, size_t n, void *data)
{
	struct gather *g = data;
	unsigned char *grown;

	(void)L;
	if (g->cap - g->len < n) {
		size_t cap = g->cap * 2 + n + 1024;

		grown = realloc(g->buf, cap);
		if (grown == NULL)
			return 1;
		g->buf = grown;
		g->cap = cap;
	}
	memcpy(g->buf + g->len, p, n);
	g->len += n;
	return 0;
}

static int dump_stripped(lua_State *L, struct sink *k)
{
	struct gather g = { NULL, 0, 0 };
	int rc = -1;

	if (lua_dump(L, gather_dump, &g) == 0 &&
	    luaota_lua51_strip(g.buf, g.len, write_bytes, k) == 0)
		rc = 0;
	free(g.buf);
	return rc;
}
#else
static int dump_piece(lua_State *L, const void *p, size_t n, void *data)
{
	(void)L;
	return write_bytes(data, p, n) == 0 ? 0 : 1;
}

static int dump_stripped(lua_State *L, struct sink *k)
{
	return lua_dump(L, dump_piece, k, 1) == 0 ? 0 : -1;
}
#endif

/* Copies the error on top of L's stack into err. */
static void copy_error(lua_State *L, char *err, size_t err_cap)
{
	const char *msg = lua_tostring(L, -1);
	size_t n;

	if (err_cap == 0)
		return;
	if (msg == NULL)
		msg = "compile error";
	n = strlen(msg);
	if (n >= err_cap)
		n = err_cap - 1;
	memcpy(err, msg, n);
	err[n] = '\0';
}

static enum luaota_compile_status
compile(void *ctx, const struct luaota_flash *flash, const char *src,
	const char *chunkname, const char *dst, uint32_t *lc_size, char *err,
	size_t err_cap)
{
	struct source s;
	struct sink k = { flash, -1, 0, 0 };
	enum luaota_compile_status status = LUAOTA_COMPILE_EWRITE;
	lua_State *L;
	int rc;

	(void)ctx;
	memset(&s, 0, sizeof(s));
	s.flash = flash;
	s.first = 1;
	s.fd = flash->open(flash->ctx, src, LUAOTA_OPEN_READ);
	if (s.fd < 0)
		return LUAOTA_COMPILE_EWRITE;
	L = luaL_newstate();
	if (L == NULL)
		goto done;
#if LUA_VERSION_NUM == 501
	rc = lua_load(L, read_source, &s, chunkname);
#else
	rc = lua_load(L, read_source, &s, chunkname, "t");
#endif
	if (s.failed)
		goto done;
	if (s.binary) {
		snprintf(err, err_cap, "%s: not Lua source", chunkname);
		status = LUAOTA_COMPILE_ESYNTAX;
		goto done;
	}
	if (rc != 0) {
		copy_error(L, err, err_cap);
		status = LUAOTA_COMPILE_ESYNTAX;
		goto done;
	}
	k.fd = flash->open(flash->ctx, dst, LUAOTA_OPEN_WRITE);
	if (k.fd < 0)
		goto done;
	rc = dump_stripped(L, &k);
	if (flash->close(flash->ctx, k.fd) != 0 || rc != 0 || k.failed) {
		flash->remove(flash->ctx, dst);
		goto done;
	}
	*lc_size = k.size;
	status = LUAOTA_COMPILE_OK;
done:
	if (L != NULL)
		lua_close(L);
	flash->close(flash->ctx, s.fd);
	return status;
}

void luaota_lua_compiler_init(struct luaota_compiler *ops)
{
	ops->compile = compile;
	ops->ctx = NULL;
}

const char *luaota_lua_version(void)
{
	return LUA_VERSION;
}
