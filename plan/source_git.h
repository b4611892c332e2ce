/* A git repository at a branch, tag or commit as a plan/ source (internal). */
#ifndef LUAOTA_PLAN_SOURCE_GIT_H
#define LUAOTA_PLAN_SOURCE_GIT_H

#include <stddef.h>

#include "source.h"

struct plan_cache;

/*
 * The files committed at ref in the repository at path (the working tree
 * is never read), resolved to a commit now: the revision is the commit
 * id, stamps are blob ids.  The repository stays open in cache c (when
 * not NULL) for the next call.  0, or -1 with why in err and errno
 * (ENOMEM internal; ENOENT: no repository or no such ref).
 */
int plan_source_git_open(struct plan_cache *c, const char *path,
			 const char *ref, struct plan_source **out, char *err,
			 size_t err_len);

/*
 * The commit ref resolves to in the repository at path, as its source's
 * revision would be, without reading its tree (the repository stays open
 * in c as above).  0, or -1 with why in err.
 */
int plan_source_git_revision(struct plan_cache *c, const char *path,
			     const char *ref, char out[PLAN_REVISION_MAX],
			     char *err, size_t err_len);

/*
 * Keeps libgit2 set up until the matching release, so that opening a
 * source per check-in does not set the library up and tear it down each
 * time (the content cache holds it while it lives).
 */
void plan_source_git_hold(void);
void plan_source_git_release(void);

#endif /* LUAOTA_PLAN_SOURCE_GIT_H */
