/*
 * One luaotad per database: two would mark each other's live sessions
 * interrupted and share the history spool.  The lock is an fcntl write
 * lock on "<database>.lock", which holds the owner's pid for operators;
 * the kernel drops it when the process ends, however it ends.
 */
#ifndef LUAOTAD_INSTANCE_H
#define LUAOTAD_INSTANCE_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Takes the lock for database and keeps it for the life of the process.
 * 0; or -1 with why set: *holder is the pid of the luaotad that holds it
 * (0 when the lock file could not be used at all).
 */
int instance_lock(const char *database, pid_t *holder, char *why,
		  size_t why_len);

#endif /* LUAOTAD_INSTANCE_H */
