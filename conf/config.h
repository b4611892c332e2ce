/*
 * luaotad.conf: "keyword = value" lines, '#' comments.  Every error is
 * reported as file:line: message, all of them before giving up.  Read by
 * luaotad, and by luaotactl for the settings that change what a chip is
 * sent (so that a preview never promises what the daemon will not do).
 */
#ifndef LUAOTA_CONF_CONFIG_H
#define LUAOTA_CONF_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "conf/defaults.h"

/* log_level values, in the order of the daemon's enum log_level. */
enum config_log_level {
	CONFIG_LOG_WARN = 0,
	CONFIG_LOG_INFO = 1,
	CONFIG_LOG_DEBUG = 2,
};

/* Where an error line goes: the daemon's log, or luaotactl's stderr. */
typedef void config_report_fn(const char *message);

struct config {
	char *listen[LUAOTAD_MAX_LISTEN]; /* "host:port", "[v6]:port" */
	int nlisten;
	char *database;
	enum config_log_level log_level;
	int64_t first_record_ms;
	int64_t reply_timeout_ms;
	int64_t session_budget_ms;
	int64_t session_deadline_ms;
	int64_t session_max_bytes;
	int64_t max_connections;
	int64_t max_per_address;
	int64_t max_record;
	int64_t max_file_size;
	int64_t busy_timeout_ms;
	int64_t v2_session_deadline_ms;
	int64_t repository_recheck_ms; /* working trees: stat again after */
	int64_t rejection_window_ms;   /* 0: a history row per rejection */
	char *http_listen;	       /* the HTTP API's address; NULL: off */
	char *spool; /* history rows waiting for the database; NULL: default */
	int64_t http_timeout_ms; /* an HTTP client idle this long goes */
	int64_t http_max_body;	 /* bytes of a request body at most */
};

/* Fills c with the built-in defaults (listen: all IPv4 and IPv6, 8266). */
void config_defaults(struct config *c);

/*
 * Reads path into c (on top of its current values).  A missing file is
 * an error unless missing_ok.  Returns 0, or -1 after reporting every
 * error through report (NULL: a line on stderr each).
 */
int config_load(struct config *c, const char *path, int missing_ok,
		config_report_fn *report);

/*
 * Reads an open configuration stream (named name in messages) into c;
 * the same contract as config_load().  Used by the fuzz target too.
 */
int config_parse(struct config *c, const char *name, FILE *fp,
		 config_report_fn *report);

/*
 * Splits a listen address, "A.B.C.D:PORT", "[v6]:PORT" or "*:PORT" (all
 * addresses), into host ("" for *) and port.  NULL, or why it is not one
 * (a port outside 0-65535, a host that is not a numeric address; port
 * 0 lets the kernel pick one).
 */
const char *config_listen_split(const char *spec, char *host, size_t host_len,
				unsigned *port);

/*
 * Adds a listen address (replacing the list first when reset): 0, or -1
 * with *why set (not an address, too many).
 */
int config_add_listen(struct config *c, const char *address, int reset,
		      const char **why);

/* Releases what c owns. */
void config_free(struct config *c);

#endif /* LUAOTA_CONF_CONFIG_H */
