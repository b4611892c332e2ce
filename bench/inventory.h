/* A benchmark inventory: "id secret" lines, as bench/run prepares them. */
#ifndef LUAOTA_BENCH_INVENTORY_H
#define LUAOTA_BENCH_INVENTORY_H

#include <stddef.h>

#include "proto/protocol.h"

#define INVENTORY_SECRET_MAX 128

struct inventory_chip {
	char id[LUAOTA_CHIPID_MAX + 1];
	char secret[INVENTORY_SECRET_MAX + 1];
};

struct inventory {
	struct inventory_chip *chips;
	size_t n;
};

/* Reads path ("id secret" per line, '#' comments); 0, or -1 with a message. */
int inventory_load(struct inventory *inv, const char *path);

/* Releases what inv holds. */
void inventory_free(struct inventory *inv);

#endif /* LUAOTA_BENCH_INVENTORY_H */
