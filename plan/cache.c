/*
 * The content cache: see cache.h.  Paths map to (stamp, content); a
 * lookup whose stamp matches a stable entry costs one stat.  A re-read
 * that yields the same digest keeps the same content object, so its
 * compile results and the manifests pointing at it stay valid.
 */
#include "cache.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "content.h"
#include "map.h"
#include "source.h"
#include "source_git.h"

/* Memoised manifests past this count are all dropped (rebuilt on demand). */
#define MEMO_MAX 4096

struct path_entry {
	struct plan_stamp stamp;
	int stable; /* the stamp can be trusted to name content */
	struct plan_content *content;
};

struct memo_entry {
	void *value;
	void (*release)(void *value);
};

struct plan_cache {
	struct plan_map *paths; /* "source key\0name" -> struct path_entry */
	struct plan_map *memo;	/* caller's key -> struct memo_entry */
	struct plan_map *kept;	/* key -> struct memo_entry, until freed */
	uint64_t reads;
};

static void path_entry_free(void *p)
{
	struct path_entry *e = p;

	plan_content_unref(e->content);
	free(e);
}

static void memo_entry_free(void *p)
{
	struct memo_entry *e = p;

	e->release(e->value);
	free(e);
}

struct plan_cache *plan_cache_new(void)
{
	struct plan_cache *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->paths = plan_map_new();
	c->memo = plan_map_new();
	c->kept = plan_map_new();
	if (c->paths == NULL || c->memo == NULL || c->kept == NULL) {
		plan_map_free(c->kept, memo_entry_free);
		plan_map_free(c->memo, memo_entry_free);
		plan_map_free(c->paths, path_entry_free);
		free(c);
		return NULL;
	}
	plan_source_git_hold();
	return c;
}

void plan_cache_free(struct plan_cache *c)
{
	if (c == NULL)
		return;
	plan_map_free(c->memo, memo_entry_free);
	plan_map_free(c->paths, path_entry_free);
	/* Last: manifests and contents never point into kept handles. */
	plan_map_free(c->kept, memo_entry_free);
	free(c);
	plan_source_git_release();
}

uint64_t plan_cache_reads(const struct plan_cache *c)
{
	return c->reads;
}

/* "source key" NUL "name" into a malloc'ed buffer. */
static char *path_key(const struct plan_source *src, const char *name,
		      size_t *len)
{
	size_t a = strlen(src->key), b = strlen(name);
	char *key = malloc(a + 1 + b);

	if (key == NULL)
		return NULL;
	memcpy(key, src->key, a + 1);
	memcpy(key + a + 1, name, b);
	*len = a + 1 + b;
	return key;
}

int plan_cache_lookup(struct plan_cache *c, struct plan_source *src,
		      const char *name, struct plan_content **out, int *stable,
		      char *err, size_t err_len)
{
	struct path_entry *e;
	struct plan_content *ct = NULL;
	struct plan_stamp stamp;
	uint8_t *raw = NULL;
	size_t raw_len, key_len;
	char *key;
	void *old;

	*out = NULL;
	*stable = 0;
	key = path_key(src, name, &key_len);
	if (key == NULL)
		return -1;
	e = plan_map_get(c->paths, key, key_len);
	if (src->ops->stamp(src, name, &stamp, err, err_len) != 0)
		goto done; /* the file's problem: *out stays NULL */
	if (e != NULL && e->stable &&
	    memcmp(&e->stamp, &stamp, sizeof(stamp)) == 0) {
		*out = plan_content_ref(e->content);
		*stable = 1;
		goto done;
	}
	if (src->ops->read(src, name, &raw, &raw_len, &stamp, stable, err,
			   err_len) != 0) {
		if (errno == ENOMEM)
			goto fail;
		goto done;
	}
	c->reads++;
	if (plan_content_new(name, raw, raw_len, &ct) != 0)
		goto fail;
	if (e == NULL) {
		e = calloc(1, sizeof(*e));
		if (e == NULL ||
		    plan_map_put(c->paths, key, key_len, e, &old)) {
			free(e);
			goto fail;
		}
	}
	if (e->content != NULL &&
	    memcmp(e->content->digest, ct->digest, sizeof(ct->digest)) == 0) {
		/* same bytes, new stamp (a touch, a checkout) */
		plan_content_unref(ct);
	} else {
		plan_content_unref(e->content);
		e->content = ct;
	}
	e->stamp = stamp;
	e->stable = *stable;
	*out = plan_content_ref(e->content);
done:
	free(key);
	return 0;
fail:
	plan_content_unref(ct);
	free(key);
	errno = ENOMEM;
	return -1;
}

void *plan_cache_memo_get(struct plan_cache *c, const void *key, size_t len)
{
	struct memo_entry *e = plan_map_get(c->memo, key, len);

	return e != NULL ? e->value : NULL;
}

/* Puts value under key in map, replacing (and releasing) an older one. */
static int entry_put(struct plan_map *map, const void *key, size_t len,
		     void *value, void (*release)(void *value))
{
	struct memo_entry *e = malloc(sizeof(*e));
	void *old;

	if (e == NULL)
		return -1;
	e->value = value;
	e->release = release;
	if (plan_map_put(map, key, len, e, &old) != 0) {
		free(e);
		return -1;
	}
	if (old != NULL)
		memo_entry_free(old);
	return 0;
}

int plan_cache_memo_put(struct plan_cache *c, const void *key, size_t len,
			void *value, void (*release)(void *value))
{
	if (plan_map_size(c->memo) >= MEMO_MAX &&
	    plan_map_get(c->memo, key, len) == NULL)
		plan_map_clear(c->memo, memo_entry_free);
	return entry_put(c->memo, key, len, value, release);
}

void *plan_cache_kept(struct plan_cache *c, const void *key, size_t len)
{
	struct memo_entry *e = plan_map_get(c->kept, key, len);

	return e != NULL ? e->value : NULL;
}

int plan_cache_keep(struct plan_cache *c, const void *key, size_t len,
		    void *value, void (*release)(void *value))
{
	return entry_put(c->kept, key, len, value, release);
}
