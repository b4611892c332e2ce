/*
 * Where repository files come from (plan/ internal).  A source names the
 * current version of a file with a cheap stamp (stat fields for a working
 * tree; a blob id for a git ref) and reads it whole when the stamp is new.
 */
#ifndef LUAOTA_PLAN_SOURCE_H
#define LUAOTA_PLAN_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "types.h"

/* Equal stamps of one source and path mean equal bytes (unless racy). */
struct plan_stamp {
	uint64_t v[8];
};

struct plan_source;

struct plan_source_ops {
	/* Stamps name's current version: 0, or -1 with a message in err. */
	int (*stamp)(struct plan_source *src, const char *name,
		     struct plan_stamp *out, char *err, size_t err_len);
	/*
	 * Reads name whole into *data (malloc'ed) and stamps what it read;
	 * *stable is 0 when that stamp may miss a change made in the same
	 * clock tick (read again next time).  0, or -1 with err set and
	 * errno (ENOMEM: an internal failure, anything else: the file's).
	 */
	int (*read)(struct plan_source *src, const char *name, uint8_t **data,
		    size_t *len, struct plan_stamp *stamp, int *stable,
		    char *err, size_t err_len);
	void (*close)(struct plan_source *src);
};

struct plan_source {
	const struct plan_source_ops *ops;
	/* identity for cache keys, e.g. "worktree:/srv/r" or "git:/srv/r#main"
	 * (the ref, not the commit: stamps are blob ids, valid across
	 * commits; manifests are memoised per revision) */
	char *key;
	char revision[PLAN_REVISION_MAX]; /* "worktree", or a commit id */
};

struct plan_cache;

/*
 * Opens the source spec names (its working tree, or its git ref),
 * reusing what cache c keeps (c may be NULL): 0, or -1 with why in err
 * and errno (ENOMEM internal, ENOTSUP unsupported).
 */
int plan_source_open(struct plan_cache *c, const struct plan_spec *spec,
		     struct plan_source **out, char *err, size_t err_len);

/*
 * The revision plan_source_open would give the source now, without
 * opening it: "worktree", or the commit the ref resolves to.  0, or -1
 * with why in err.
 */
int plan_source_revision(struct plan_cache *c, const struct plan_spec *spec,
			 char out[PLAN_REVISION_MAX], char *err,
			 size_t err_len);

/* Closes a source from plan_source_open (NULL is fine). */
void plan_source_close(struct plan_source *src);

#endif /* LUAOTA_PLAN_SOURCE_H */
