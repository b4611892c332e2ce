/*
 * Protocol v2 releases (docs/protocol.md 2.6 and 2.12a): the canonical
 * manifest a chip gets for a resolved group manifest, its deletions and
 * config fields, and the counter it is numbered with.  Shared by the
 * daemon, which sends it, and luaotactl, which shows what would be sent.
 */
#ifndef LUAOTA_PLAN_RELEASE_H
#define LUAOTA_PLAN_RELEASE_H

#include <stddef.h>
#include <stdint.h>

#include "types.h"

struct json_object;

#define PLAN_RELEASE_STAGE_HEX 16 /* hash prefix naming a staged file */

/* A release body, numbered or not yet. */
struct plan_release {
	struct json_object *files;   /* [{"n","len","h","act"}] */
	struct json_object *del;     /* names the device removes */
	struct json_object *cfg;     /* config fields, in clear */
	struct json_object *secret;  /* names of the encrypted fields */
	struct json_object *secrets; /* name -> clear value (never sent) */
	char *text;		     /* the canonical manifest, once numbered */
	size_t len;
	char mh[PLAN_HASH_HEX + 1]; /* SHA-256 of text */
	int64_t rc;
};

/*
 * Builds the body of m's release: files, the deletions carried from the
 * previous release's manifest (NULL: none), and the overrides (JSON text
 * or NULL) split into clear and secret fields.  0, or -1 with why set (a
 * release the protocol cannot carry, or out of memory).
 */
int plan_release_build(struct plan_release *r, const struct plan_manifest *m,
		       const char *overrides, const char *previous, char *why,
		       size_t why_len);

/*
 * Picks the counter: the newest issued one (latest_rc, latest_mh; 0 and
 * NULL when none) when the bytes are the same, else one above both it and
 * the device's own.  Numbers r; *is_new tells whether the release must be
 * recorded before it is sent.  0, or -1 with why set.
 */
int plan_release_pick(struct plan_release *r, int64_t latest_rc,
		      const char *latest_mh, int64_t device_rc, int *is_new,
		      char *why, size_t why_len);

/* Whether a config field travels encrypted (its name says credential). */
int plan_release_is_secret(const char *name);

void plan_release_free(struct plan_release *r);

#endif /* LUAOTA_PLAN_RELEASE_H */
