/*
 * The built-in value of every luaotad.conf keyword (config.c), in one
 * place for luaotad and luaotactl.  Wire limits shared with devices live
 * in proto/protocol.h; the daemon's internal limits in daemon/limits.h.
 */
#ifndef LUAOTA_CONF_DEFAULTS_H
#define LUAOTA_CONF_DEFAULTS_H

#include "plan/defaults.h" /* the provisioning policy's defaults */

#define LUAOTAD_CONFIG_FILE "/etc/luaota/luaotad.conf"
#define LUAOTAD_DATABASE "/var/lib/luaota/luaota.db"
/* The history spool beside a PostgreSQL inventory, which has no file of
 * its own to put "<database>.spool" beside. */
#define LUAOTAD_PG_SPOOL "/var/lib/luaota/luaotad.spool"
#define LUAOTAD_PORT 8266

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
/* The HTTP API (http_listen, off by default): an idle client is cut
 * after this long, and a request body may be at most this large. */
#define LUAOTAD_HTTP_TIMEOUT_MS 10000
#define LUAOTAD_HTTP_MAX_BODY (64 * 1024)

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

/* Rejections per address and reason with a row of their own, at most one
 * per window; the rest are summed up in one row (daemon/rejects.c). */
#define LUAOTAD_REJECT_WINDOW_MS 60000

#endif /* LUAOTA_CONF_DEFAULTS_H */
