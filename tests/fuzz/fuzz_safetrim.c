/*
 * Fuzz target: SAFETRIM.  Every input is trimmed as is and again behind a
 * "--SAFETRIM" line (so that the lexer always runs); either call may
 * refuse (EINVAL), but when it answers, the output is never longer than
 * the input, holds exactly as many '\n' and '\r' bytes, and as many line
 * breaks as Lua counts them ("\r\n" and "\n\r" are one).  And whenever
 * Lua 5.1 or 5.3 compiles the input, it compiles the output to the very
 * same bytecode, debug information (line numbers) included.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "plan/luacheck.h"
#include "plan/safetrim.h"

#define MARKER "--SAFETRIM\n"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t count(const char *s, size_t len, char c)
{
	size_t i, n = 0;

	for (i = 0; i < len; i++)
		n += s[i] == c;
	return n;
}

static size_t lua_lines(const char *s, size_t len)
{
	size_t i, n = 0;

	for (i = 0; i < len; i++) {
		if (s[i] != '\n' && s[i] != '\r')
			continue;
		n++;
		if (i + 1 < len && (s[i + 1] == '\n' || s[i + 1] == '\r') &&
		    s[i + 1] != s[i])
			i++;
	}
	return n;
}

/* Both texts compile alike under lua_version, or the input does not. */
static void same_program(const char *src, size_t len, const char *out,
			 size_t out_len, int lua_version)
{
	uint8_t *a = NULL, *b = NULL;
	size_t la = 0, lb = 0;
	char err[256];

	if (plan_lua_dump(src, len, "f.lua", lua_version, &a, &la, err,
			  sizeof(err)) != 0)
		return;
	if (plan_lua_dump(out, out_len, "f.lua", lua_version, &b, &lb, err,
			  sizeof(err)) != 0 ||
	    la != lb || memcmp(a, b, la) != 0)
		abort();
	free(a);
	free(b);
}

static void check(const char *src, size_t len)
{
	char *out = NULL;
	size_t out_len = 0;

	if (plan_safetrim(src, len, &out, &out_len) != 0) {
		if (errno != EINVAL || out != NULL)
			abort();
		return;
	}
	if (out_len > len || out[out_len] != '\0' ||
	    count(src, len, '\n') != count(out, out_len, '\n') ||
	    count(src, len, '\r') != count(out, out_len, '\r') ||
	    lua_lines(src, len) != lua_lines(out, out_len))
		abort();
	same_program(src, len, out, out_len, 51);
	same_program(src, len, out, out_len, 53);
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t ml = strlen(MARKER);
	char *marked = malloc(ml + size + 1);

	check((const char *)data, size);
	if (marked == NULL)
		return 0;
	memcpy(marked, MARKER, ml);
	if (size > 0)
		memcpy(marked + ml, data, size);
	check(marked, ml + size);
	free(marked);
	return 0;
}
