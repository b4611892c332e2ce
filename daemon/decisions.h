/*
 * What the chips of a group are to hold, kept between check-ins: the
 * group and repository rows, the resolved manifest, the group's config
 * overrides and the chk they make, so that a check-in with nothing
 * changed reads no group row and stat()s no file.
 *
 * A pinned revision (a group's release, a rollout's) never changes.
 * Kept valid by: the inventory's data version (any change luaotactl
 * commits drops every entry: the next check-in reads the rows again);
 * for a git ref, the commit the ref resolves to at each check-in; for a
 * working tree, a fresh stat of its files at most every
 * repository_recheck (luaotad.conf), and at every check-in while one of
 * them changed too recently for its stamp to be trusted.
 */
#ifndef LUAOTAD_DECISIONS_H
#define LUAOTAD_DECISIONS_H

#include <stddef.h>
#include <stdint.h>

#include "plan/plan.h"

struct daemon;
struct decisions;

/* What every chip of one group gets (owned by the cache). */
struct decision {
	int64_t group_id;
	int v2;		 /* built for protocol v2 (its own size policy) */
	int lua_version; /* 51 or 53: what the sources are checked for */
	struct plan_manifest *manifest; /* error set: nothing may be sent */
	const char *group_config;	/* the group's overrides, or NULL */
	int merged_ok; /* the group's overrides are a JSON object */
	/* for a chip without overrides of its own: */
	const char *merged;	    /* the merged overrides, or NULL */
	char chk[PLAN_CHK_LEN + 1]; /* the target chk (manifest sendable) */
};

/* An empty cache, or NULL (ENOMEM). */
struct decisions *decisions_new(void);

/* Frees the cache (NULL is fine). */
void decisions_free(struct decisions *ds);

/* Drops every entry (the configuration was reloaded). */
void decisions_clear(struct decisions *ds);

/*
 * The decision for group_id (v2: for protocol v2 chips) at revision (a
 * rollout's; NULL: the group's release, or else its repository as it is
 * now), with the inventory at data version version
 * (store_chip_get_at): the cached one while it is still valid, else
 * rebuilt.  Valid until the next call; NULL with why and errno (ENOMEM,
 * or EIO: the inventory could not be read) on failure.
 */
const struct decision *decisions_get(struct daemon *d, int64_t group_id, int v2,
				     const char *revision, uint64_t version,
				     char *why, size_t why_len);

/*
 * Whether any chip may have a pending pull, with the inventory at
 * version: 0 when none has (checked once per version: the daemon itself
 * never queues pulls), 1 when some may.  A store failure answers 1.
 */
int decisions_pulls_maybe(struct daemon *d, uint64_t version);

#endif /* LUAOTAD_DECISIONS_H */
