/*
 * luaotad.conf: "keyword = value" lines, '#' comments.  Every error is
 * reported as file:line: message, all of them before giving up.
 */
#ifndef LUAOTAD_CONFIG_H
#define LUAOTAD_CONFIG_H

#include <stdint.h>
#include <stdio.h>

#include "limits.h"
#include "log.h"

struct config {
	char *listen[LUAOTAD_MAX_LISTEN]; /* "host:port", "[v6]:port" */
	int nlisten;
	char *database;
	enum log_level log_level;
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
};

/* Fills c with the built-in defaults (listen: all IPv4 and IPv6, 8266). */
void config_defaults(struct config *c);

/*
 * Reads path into c (on top of its current values).  A missing file is
 * an error unless missing_ok.  Returns 0, or -1 after logging every error.
 */
int config_load(struct config *c, const char *path, int missing_ok);

/*
 * Reads an open configuration stream (named name in messages) into c;
 * the same contract as config_load().  Used by the fuzz target too.
 */
int config_parse(struct config *c, const char *name, FILE *fp);

/* Replaces the listen list with one address (command line -l). */
int config_add_listen(struct config *c, const char *address, int reset);

/* Releases what c owns. */
void config_free(struct config *c);

#endif /* LUAOTAD_CONFIG_H */
