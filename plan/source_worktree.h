/* A working tree as a plan/ source (plan/ internal). */
#ifndef LUAOTA_PLAN_SOURCE_WORKTREE_H
#define LUAOTA_PLAN_SOURCE_WORKTREE_H

#include <stddef.h>

#include "source.h"

/* Files in directory path, stamped by stat: 0, or -1 (ENOMEM) with err. */
int plan_source_worktree_open(const char *path, struct plan_source **out,
			      char *err, size_t err_len);

#endif /* LUAOTA_PLAN_SOURCE_WORKTREE_H */
