/*
 * Provisioning defaults the daemon applies and the CLI previews with: one
 * home both include, so that a preview never drifts from what luaotad
 * would do.  luaotad.conf may override each (daemon/limits.h, config.c).
 */
#ifndef LUAOTA_PLAN_DEFAULTS_H
#define LUAOTA_PLAN_DEFAULTS_H

/* Legacy devices hold a whole file in RAM: refuse larger ones (bytes). */
#define PLAN_DEFAULT_MAX_FILE_SIZE 16384

/* Payload bytes one session may send; 0: limited by time only. */
#define PLAN_DEFAULT_SESSION_MAX_BYTES 0

#endif /* LUAOTA_PLAN_DEFAULTS_H */
