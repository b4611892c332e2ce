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

/*
 * As plan_manifest_resolve; *settled is 1 when every file's stamp could
 * be trusted (none was modified in the last seconds, when a later change
 * could keep the same stamp), so that the manifest may be reused without
 * resolving it again until a stamp changes.
 */
int plan_manifest_resolve_settled(struct plan_cache *c,
				  const struct plan_spec *spec,
				  struct plan_manifest **out, int *settled);

/* Another reference to m (each one released with plan_manifest_free). */
struct plan_manifest *plan_manifest_ref(struct plan_manifest *m);

/*
 * The revision spec's repository is at now, as a manifest would name it:
 * "worktree" for a working tree (no system call), else the commit its ref
 * resolves to (the repository kept open in c).  0, or -1 with why in err.
 */
int plan_revision(struct plan_cache *c, const struct plan_spec *spec,
		  char out[PLAN_REVISION_MAX], char *err, size_t err_len);

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
