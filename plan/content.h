/*
 * A file's content as it will be sent: SAFETRIMmed bytes, their digest,
 * and compile results per Lua version.  Immutable once
 * built and reference-counted, so the cache and every manifest that points
 * at it share one copy (plan/ internal).
 */
#ifndef LUAOTA_PLAN_CONTENT_H
#define LUAOTA_PLAN_CONTENT_H

#include <stddef.h>
#include <stdint.h>

#include "digest.h"
#include "types.h"

struct plan_compiled {
	int state;     /* 0 not checked yet, 1 compiles, -1 does not */
	char *name;    /* the name message was produced under */
	char *message; /* the compiler's message when state is -1 */
};

struct plan_content {
	unsigned refs;
	uint8_t *data; /* bytes to send, NUL-terminated */
	size_t len;
	size_t raw_len; /* size in the repository */
	int trimmed;	/* SAFETRIM applied */
	uint8_t digest[PLAN_DIGEST_LEN];
	char hash[PLAN_HASH_HEX + 1];
	struct plan_compiled compiled[2]; /* Lua 5.1, 5.3 */
};

/* Whether name ends in ".lua" (SAFETRIM and compile checks apply). */
int plan_is_lua_name(const char *name);

/*
 * Builds content from a file's bytes, taking raw over: SAFETRIM for a
 * .lua name (left as is when the lexer cannot follow it: the compile
 * check then says why), then the digest.  0, or -1 (ENOMEM).
 */
int plan_content_new(const char *name, uint8_t *raw, size_t raw_len,
		     struct plan_content **out);

/* Another reference to ct. */
struct plan_content *plan_content_ref(struct plan_content *ct);

/* Drops a reference; the last one frees ct (NULL is fine). */
void plan_content_unref(struct plan_content *ct);

/*
 * Whether ct compiles as Lua lua_version under chunk name name, checked
 * once per content and version.  0, or -1 with the message in err.
 */
int plan_content_check(struct plan_content *ct, const char *name,
		       int lua_version, char *err, size_t err_len);

#endif /* LUAOTA_PLAN_CONTENT_H */
