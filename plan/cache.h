/*
 * The content cache: per source and path, the stamp last seen and the
 * content it named; plus a memo of resolved manifests.  Public calls
 * first, then those the rest of plan/ uses.
 */
#ifndef LUAOTA_PLAN_CACHE_H
#define LUAOTA_PLAN_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "types.h"

struct plan_cache;
struct plan_content;
struct plan_source;

/* A content cache, shared by every check-in of the process; NULL: ENOMEM. */
struct plan_cache *plan_cache_new(void);

/* Frees c; manifests resolved through it stay valid until freed. */
void plan_cache_free(struct plan_cache *c);

/* Counters for tests and benchmarks: files read and hashed so far. */
uint64_t plan_cache_reads(const struct plan_cache *c);

/*
 * (plan/ internal) The content of name in src, read and hashed only when
 * its stamp changed: 0 with a new reference in *out; 0 with *out NULL
 * and why in err when the file cannot be served; -1 (ENOMEM).  *stable
 * says whether the stamp can be trusted to name that content (the file
 * did not change too recently to tell).
 */
int plan_cache_lookup(struct plan_cache *c, struct plan_source *src,
		      const char *name, struct plan_content **out, int *stable,
		      char *err, size_t err_len);

/* (plan/ internal) The value memoised under key, or NULL. */
void *plan_cache_memo_get(struct plan_cache *c, const void *key, size_t len);

/*
 * (plan/ internal) Memoises value under key (replacing and releasing any
 * previous one); the cache calls release(value) when it drops it.  0, or
 * -1 (ENOMEM: value is not kept, and not released).
 */
int plan_cache_memo_put(struct plan_cache *c, const void *key, size_t len,
			void *value, void (*release)(void *value));

/*
 * (plan/ internal) A handle kept under key for as long as the cache lives
 * (an open git repository), or NULL.  Unlike memoised values, kept ones
 * are never dropped early: sources borrow them.
 */
void *plan_cache_kept(struct plan_cache *c, const void *key, size_t len);

/*
 * (plan/ internal) Keeps value under key (there must be none yet); the
 * cache calls release(value) when it is freed.  0, or -1 (ENOMEM: value
 * is not kept, and not released).
 */
int plan_cache_keep(struct plan_cache *c, const void *key, size_t len,
		    void *value, void (*release)(void *value));

#endif /* LUAOTA_PLAN_CACHE_H */
