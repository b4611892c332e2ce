/*
 * luaotad's own limits and defaults, each overridable in luaotad.conf
 * (see config.c).  Wire limits shared with devices live in proto/protocol.h.
 */
#ifndef LUAOTAD_LIMITS_H
#define LUAOTAD_LIMITS_H

#include "plan/defaults.h" /* the defaults luaotactl previews with */

#define LUAOTAD_CONFIG_FILE "/etc/luaota/luaotad.conf"
#define LUAOTAD_DATABASE "/var/lib/luaota/luaota.db"

/* Listen addresses a configuration may name. */
#define LUAOTAD_MAX_LISTEN 16

/* Wait for the HI after accept; the device itself gives up after 3 s. */
#define LUAOTAD_FIRST_RECORD_MS 3000
/* Wait for each reply in a session. */
#define LUAOTAD_REPLY_TIMEOUT_MS 5000
/* Planned length of a provisioning session, well inside the device's 30 s. */
#define LUAOTAD_SESSION_BUDGET_MS 20000
/* Hard end of any connection, whatever it is doing. */
#define LUAOTAD_SESSION_DEADLINE_MS 28000
/* Payload bytes one session may send; 0: limited by time only. */
#define LUAOTAD_SESSION_MAX_BYTES PLAN_DEFAULT_SESSION_MAX_BYTES

#define LUAOTAD_MAX_CONNECTIONS 4096
#define LUAOTAD_MAX_PER_ADDRESS 64

/* Cap on the header of a device record (HI carries the whole config). */
#define LUAOTAD_MAX_RECORD 4096

/* Legacy devices hold a whole file in RAM: refuse larger ones. */
#define LUAOTAD_MAX_FILE_SIZE PLAN_DEFAULT_MAX_FILE_SIZE

/* SQLite lock wait: a CLI holding the lock must not stall the loop. */
#define LUAOTAD_BUSY_TIMEOUT_MS 100

/*
 * A working tree's files are stat()ed again at most this often to notice
 * edits (0: at every check-in); files changed in the last seconds are
 * read at every check-in whatever this says.
 */
#define LUAOTAD_REPOSITORY_RECHECK_MS 1000

/* History rows of current check-ins written in one transaction, at most. */
#define LUAOTAD_CHECKIN_BATCH 256

/* Records handled per wake-up of one connection (fairness). */
#define LUAOTAD_RECORDS_PER_EVENT 4

/* Warnings a peer can provoke: at most BURST per kind and window. */
#define LUAOTAD_WARN_BURST 5
#define LUAOTAD_WARN_WINDOW_MS 10000
#define LUAOTAD_WARN_KEYS 64

/* Rejections per address and reason with a row of their own, at most one
 * per window; the rest are summed up in one row (rejects.c). */
#define LUAOTAD_REJECT_WINDOW_MS 60000
/* (address, reason) pairs counted at once; an eighth kept for the rest. */
#define LUAOTAD_REJECT_KEYS 256

/* History rows the store refused (locked, full) are retried this often. */
#define LUAOTAD_HISTORY_RETRY_MS 250
/*
 * ...kept in memory at most this many, for at most this long; beyond,
 * they wait in the spool only (dropped when it cannot take them).  The
 * cap can be lowered at build time for tests.
 */
#ifndef LUAOTAD_HISTORY_QUEUE_MAX
#define LUAOTAD_HISTORY_QUEUE_MAX 65536
#endif
#define LUAOTAD_HISTORY_KEEP_MS (3600 * 1000)
/* Spooled rows written per retry while replaying the spool. */
#define LUAOTAD_SPOOL_REPLAY_BATCH 1024

#endif /* LUAOTAD_LIMITS_H */
