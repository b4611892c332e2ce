/* A small hash map from byte-string keys to pointers (plan/ internal). */
#ifndef LUAOTA_PLAN_MAP_H
#define LUAOTA_PLAN_MAP_H

#include <stddef.h>

struct plan_map;

/* An empty map, or NULL (ENOMEM). */
struct plan_map *plan_map_new(void);

/* Frees the map, passing every value to release (when not NULL). */
void plan_map_free(struct plan_map *m, void (*release)(void *value));

/* Drops every entry, passing every value to release (when not NULL). */
void plan_map_clear(struct plan_map *m, void (*release)(void *value));

/* The value stored under key[0..len), or NULL. */
void *plan_map_get(const struct plan_map *m, const void *key, size_t len);

/*
 * Stores value under a copy of key, returning the value it replaces in
 * *old (NULL if none).  0, or -1 (ENOMEM; the map is unchanged).
 */
int plan_map_put(struct plan_map *m, const void *key, size_t len, void *value,
		 void **old);

/* Number of entries. */
size_t plan_map_size(const struct plan_map *m);

#endif /* LUAOTA_PLAN_MAP_H */
