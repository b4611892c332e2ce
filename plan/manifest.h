/* Resolving a group's file list into a manifest, and its chk fingerprint. */
#ifndef LUAOTA_PLAN_MANIFEST_H
#define LUAOTA_PLAN_MANIFEST_H

#include "cache.h"
#include "types.h"

/*
 * Resolves spec into *out (allocated; free with plan_manifest_free).
 * Returns 0 (check out->error: a manifest can be resolved yet unsendable)
 * or -1 with errno on an internal failure such as ENOMEM.  When nothing
 * changed since the last resolve of the same spec, *out is that same
 * manifest again (shared: treat it as read-only).
 */
int plan_manifest_resolve(struct plan_cache *c, const struct plan_spec *spec,
			  struct plan_manifest **out);

/* Releases a manifest from plan_manifest_resolve (NULL is fine). */
void plan_manifest_free(struct plan_manifest *m);

/*
 * The fingerprint a chip holding exactly this manifest, with this config
 * (the JSON text of the overrides the server pushes, or NULL), reports in
 * "chk".  PLAN_CHK_LEN characters plus NUL into out.
 */
void plan_chk(const struct plan_manifest *m, const char *config_json,
	      char out[PLAN_CHK_LEN + 1]);

/* NULL when name may be served to a device; else why not (static text). */
const char *plan_name_problem(const char *name);

#endif /* LUAOTA_PLAN_MANIFEST_H */
