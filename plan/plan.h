/*
 * "What should this chip hold, and what must it be sent?"
 *
 * plan/ reads a repository (a working tree today; a git ref is a second
 * source behind the same calls), caches file contents by path, validated
 * by stat (size, mtime, inode), so that a check-in with nothing changed
 * reads no file and hashes nothing; applies SAFETRIM; checks that Lua
 * sources compile (cached by content hash); and turns a manifest plus what
 * a chip holds into the steps of an update.  No networking, no SQL.
 *
 * This is the umbrella header: the daemon and the CLI include it alone.
 * Nothing here is thread-safe: one cache per thread (the daemon has one).
 */
#ifndef LUAOTA_PLAN_H
#define LUAOTA_PLAN_H

#include "plan/types.h"

#include "plan/cache.h"
#include "plan/decide.h"
#include "plan/defaults.h"
#include "plan/diff.h"
#include "plan/luacheck.h"
#include "plan/manifest.h"
#include "plan/release.h"
#include "plan/safetrim.h"
#include "plan/snapshot.h"

#endif /* LUAOTA_PLAN_H */
