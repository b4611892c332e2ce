/*
 * luaotad's internal limits.  The defaults of luaotad.conf's keywords
 * are in conf/defaults.h, wire limits shared with devices in
 * proto/protocol.h.
 */
#ifndef LUAOTAD_LIMITS_H
#define LUAOTAD_LIMITS_H

#include "conf/defaults.h" /* the defaults luaotad.conf overrides */

/* A peer as logs and history show it, "[IPv6]:port", with its NUL. */
#define LUAOTAD_PEER_MAX 64
/* Its address alone, with its NUL (INET6_ADDRSTRLEN and room). */
#define LUAOTAD_ADDR_MAX 48

/* History rows of current check-ins written in one transaction, at most. */
#define LUAOTAD_CHECKIN_BATCH 256

/* Records handled per wake-up of one connection (fairness). */
#define LUAOTAD_RECORDS_PER_EVENT 4

/* Warnings a peer can provoke: at most BURST per kind and window. */
#define LUAOTAD_WARN_BURST 5
#define LUAOTAD_WARN_WINDOW_MS 10000
#define LUAOTAD_WARN_KEYS 64

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
