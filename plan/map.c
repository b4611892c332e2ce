/* Separate chaining with FNV-1a; the table doubles past a load of 1. */
#include "map.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct map_node {
	struct map_node *next;
	uint64_t hash;
	void *value;
	size_t len;
	unsigned char key[]; /* len bytes */
};

struct plan_map {
	struct map_node **buckets;
	size_t nbuckets; /* a power of two */
	size_t count;
};

static uint64_t fnv1a(const void *key, size_t len)
{
	const unsigned char *p = key;
	uint64_t h = 14695981039346656037ULL;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= p[i];
		h *= 1099511628211ULL;
	}
	return h;
}

struct plan_map *plan_map_new(void)
{
	struct plan_map *m = calloc(1, sizeof(*m));

	if (m == NULL)
		return NULL;
	m->nbuckets = 16;
	m->buckets = calloc(m->nbuckets, sizeof(*m->buckets));
	if (m->buckets == NULL) {
		free(m);
		return NULL;
	}
	return m;
}

void plan_map_clear(struct plan_map *m, void (*release)(void *value))
{
	struct map_node *n, *next;
	size_t i;

	for (i = 0; i < m->nbuckets; i++) {
		for (n = m->buckets[i]; n != NULL; n = next) {
			next = n->next;
			if (release != NULL)
				release(n->value);
			free(n);
		}
		m->buckets[i] = NULL;
	}
	m->count = 0;
}

void plan_map_free(struct plan_map *m, void (*release)(void *value))
{
	if (m == NULL)
		return;
	plan_map_clear(m, release);
	free(m->buckets);
	free(m);
}

static struct map_node *find(const struct plan_map *m, const void *key,
			     size_t len, uint64_t hash)
{
	struct map_node *n;

	for (n = m->buckets[hash & (m->nbuckets - 1)]; n != NULL; n = n->next)
		if (n->hash == hash && n->len == len &&
		    (len == 0 || memcmp(n->key, key, len) == 0))
			return n;
	return NULL;
}

void *plan_map_get(const struct plan_map *m, const void *key, size_t len)
{
	struct map_node *n = find(m, key, len, fnv1a(key, len));

	return n != NULL ? n->value : NULL;
}

/* Doubles the bucket array; on ENOMEM the map simply stays denser. */
static void grow(struct plan_map *m)
{
	size_t i, nb = m->nbuckets * 2;
	struct map_node **b = calloc(nb, sizeof(*b));
	struct map_node *n, *next;

	if (b == NULL)
		return;
	for (i = 0; i < m->nbuckets; i++) {
		for (n = m->buckets[i]; n != NULL; n = next) {
			next = n->next;
			n->next = b[n->hash & (nb - 1)];
			b[n->hash & (nb - 1)] = n;
		}
	}
	free(m->buckets);
	m->buckets = b;
	m->nbuckets = nb;
}

int plan_map_put(struct plan_map *m, const void *key, size_t len, void *value,
		 void **old)
{
	uint64_t hash = fnv1a(key, len);
	struct map_node *n = find(m, key, len, hash);
	size_t b;

	*old = NULL;
	if (n != NULL) {
		*old = n->value;
		n->value = value;
		return 0;
	}
	n = malloc(sizeof(*n) + len);
	if (n == NULL)
		return -1;
	n->hash = hash;
	n->value = value;
	n->len = len;
	if (len > 0)
		memcpy(n->key, key, len);
	b = hash & (m->nbuckets - 1);
	n->next = m->buckets[b];
	m->buckets[b] = n;
	if (++m->count > m->nbuckets)
		grow(m);
	return 0;
}

size_t plan_map_size(const struct plan_map *m)
{
	return m->count;
}
