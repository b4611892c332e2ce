/* Picks the source a spec names: see source.h. */
#include "source.h"

#include <errno.h>
#include <stdio.h>

#include "snapshot.h"
#include "source_git.h"
#include "source_snapshot.h"
#include "source_worktree.h"

int plan_source_open(struct plan_cache *c, const struct plan_spec *spec,
		     struct plan_source **out, char *err, size_t err_len)
{
	*out = NULL;
	if (spec->repo_path == NULL || spec->repo_path[0] == '\0') {
		snprintf(err, err_len, "no repository path");
		errno = EINVAL;
		return -1;
	}
	if (spec->snapshot != NULL)
		return plan_source_snapshot_open(
		    spec->repo_path, spec->snapshot, out, err, err_len);
	if (spec->repo_ref != NULL)
		return plan_source_git_open(c, spec->repo_path, spec->repo_ref,
					    out, err, err_len);
	return plan_source_worktree_open(spec->repo_path, out, err, err_len);
}

int plan_source_revision(struct plan_cache *c, const struct plan_spec *spec,
			 char out[PLAN_REVISION_MAX], char *err, size_t err_len)
{
	if (spec->repo_path == NULL || spec->repo_path[0] == '\0') {
		snprintf(err, err_len, "no repository path");
		return -1;
	}
	if (spec->snapshot != NULL) {
		snprintf(out, PLAN_REVISION_MAX, "%s",
			 spec->snapshot->revision);
		return 0;
	}
	if (spec->repo_ref != NULL)
		return plan_source_git_revision(
		    c, spec->repo_path, spec->repo_ref, out, err, err_len);
	/* A working tree has no revision to resolve: no system call. */
	snprintf(out, PLAN_REVISION_MAX, "worktree");
	return 0;
}

void plan_source_close(struct plan_source *src)
{
	if (src != NULL)
		src->ops->close(src);
}
