/* A directory snapshot as a plan/ source (plan/ internal). */
#ifndef LUAOTA_PLAN_SOURCE_SNAPSHOT_H
#define LUAOTA_PLAN_SOURCE_SNAPSHOT_H

#include <stddef.h>

#include "source.h"

struct plan_snapshot;

/*
 * The files of snap (borrowed: it must outlive the source), keyed by
 * the directory path they were taken from: 0, or -1 (ENOMEM) with err.
 */
int plan_source_snapshot_open(const char *path,
			      const struct plan_snapshot *snap,
			      struct plan_source **out, char *err,
			      size_t err_len);

#endif /* LUAOTA_PLAN_SOURCE_SNAPSHOT_H */
