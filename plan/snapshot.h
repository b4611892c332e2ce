/*
 * Directory snapshots: the files a group of a working tree wants, at one
 * moment, named by a digest of their names and bytes.  A pinned group,
 * or the previous revision of a rollout, is served from its snapshot
 * once the directory has moved on (the bytes are kept in the inventory).
 */
#ifndef LUAOTA_PLAN_SNAPSHOT_H
#define LUAOTA_PLAN_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "types.h"

#define PLAN_SNAPSHOT_PREFIX "dir:"
#define PLAN_SNAPSHOT_DIGITS 16 /* hex digits of SHA-256 in the name */

/* One file of a snapshot: the repository's bytes, before SAFETRIM. */
struct plan_snapshot_file {
	char *name;
	uint8_t *data;
	size_t len;
};

/* What plan_spec.snapshot points at; the caller owns the memory. */
struct plan_snapshot {
	char revision[PLAN_REVISION_MAX]; /* "dir:" and 16 hex digits */
	struct plan_snapshot_file *files;
	size_t nfiles;
};

/*
 * Reads the files spec wants from its working tree (spec->repo_ref
 * NULL) into out, named by their digest.  0, or -1 with why in err (a
 * file missing or unreadable; errno ENOMEM for an internal failure).
 */
int plan_snapshot_take(const struct plan_spec *spec, struct plan_snapshot *out,
		       char *err, size_t err_len);

/* Names files[0..n) the way plan_snapshot_take does, into revision. */
int plan_snapshot_name(const struct plan_snapshot_file *files, size_t n,
		       char revision[PLAN_REVISION_MAX]);

/* Whether text names a snapshot ("dir:" and 16 lowercase hex digits). */
int plan_is_snapshot_revision(const char *text);

/* Frees what a snapshot holds (a zeroed one is fine). */
void plan_snapshot_free(struct plan_snapshot *s);

#endif /* LUAOTA_PLAN_SNAPSHOT_H */
