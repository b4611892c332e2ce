/*
 * Registering a chip, shared by luaotactl add and POST /api/v1/chips: the
 * same checks, the same generated secrets and keys.  In two steps, so
 * that luaotactl can write the device's config file between them (a chip
 * whose key reached no one is never added).
 */
#ifndef LUAOTA_ADMIN_CHIPS_H
#define LUAOTA_ADMIN_CHIPS_H

#include "admin.h"
#include "db/store.h"
#include "proto/protocol.h"

#define ADMIN_SECRET_MAX 128
#define ADMIN_LABEL_MAX 128
#define ADMIN_V2_KEY_BYTES 32 /* protocol v2 chip key: 256 bits */

/* What the operator gives; NULL fields take their defaults. */
struct admin_chip_request {
	const char *id;
	const char *group;
	const char *secret;   /* NULL: a random one is made */
	const char *label;    /* NULL: none */
	const char *protocol; /* "legacy" (default) or "v2" */
};

/* A chip ready to be added: its normalised id and its credentials. */
struct admin_new_chip {
	char id[LUAOTA_CHIPID_MAX + 1];
	const char *group; /* borrowed from the request */
	const char *label;
	char secret[ADMIN_SECRET_MAX + 1];
	char key[2 * ADMIN_V2_KEY_BYTES + 1]; /* v2 only, else "" */
	int v2;
	int generated; /* the secret was made here: show it once */
};

/* Printable ASCII of 1 to max bytes; spaces only when spaces is set. */
int admin_text_valid(const char *text, size_t max, int spaces);

/*
 * Checks req and makes what it leaves to us (secret, v2 key) into out;
 * 0, or -1 with res (ADMIN_INVALID).  The secret is never echoed.
 */
int admin_chip_prepare(const struct admin_chip_request *req,
		       struct admin_new_chip *out, struct admin_result *res);

/* Adds a prepared chip; 0, or -1 with res (NOTFOUND: no such group,
 * CONFLICT: the chip exists). */
int admin_chip_insert(struct store *st, const struct admin_new_chip *c,
		      struct admin_result *res);

/* Wipes the credentials of c. */
void admin_new_chip_clear(struct admin_new_chip *c);

#endif /* LUAOTA_ADMIN_CHIPS_H */
