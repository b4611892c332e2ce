/*
 * What every luaotactl command shares: the command table entry, the parsed
 * arguments handed to a handler, exit codes, and small helpers for errors,
 * the database and output.
 */
#ifndef LUAOTA_CTL_H
#define LUAOTA_CTL_H

#include <getopt.h>
#include <stddef.h>
#include <stdint.h>

#include "conf/config.h"
#include "db/store.h"
#include "policy/policy.h"

/* Exit codes, as documented in luaotactl --help. */
#define CTL_EXIT_OK 0
#define CTL_EXIT_ERROR 1 /* the command failed */
#define CTL_EXIT_USAGE 2 /* the command line is wrong */

/* Most options one command line may carry. */
#define CTL_MAX_OPTIONS 64

/* Every command accepts -h/--help; put this last before the terminator. */
#define CTL_HELP_OPTION                                                        \
	{                                                                      \
		"help", no_argument, NULL, 'h'                                 \
	}

/* Options and positional arguments of one command line, in order. */
struct ctl_args {
	struct {
		int key; /* the getopt value (short letter) */
		const char *value;
	} options[CTL_MAX_OPTIONS];
	size_t noptions;
	int argc; /* positional arguments */
	char **argv;
};

struct ctl;

/* One command: "group add" is a two-word name. */
struct ctl_cmd {
	const char *name;
	const char *usage;   /* arguments, as shown after the name */
	const char *summary; /* one line for --help */
	const char *optstring;
	const struct option *options;
	int min_args, max_args; /* positional arguments; -1: no maximum */
	int (*handler)(struct ctl *ctl, const struct ctl_args *args);
};

/* The invocation: global options and the command being run. */
struct ctl {
	const char *db_path;   /* -D or $LUAOTA_DB; NULL: luaotad.conf's */
	const char *conf_path; /* luaotad.conf */
	int conf_explicit;     /* -c or $LUAOTA_CONF: it must exist */
	int busy_ms;	       /* lock wait; -1: the store's default */
	const struct ctl_cmd *cmd;
	int conf_state; /* 0: not read yet, 1: read, -1: has errors */
	struct config conf;
	struct policy_settings settings; /* from conf */
};

/* The last value given for option key, or NULL. */
const char *ctl_arg_get(const struct ctl_args *args, int key);

/* Whether option key was given at all (with or without a value). */
int ctl_arg_has(const struct ctl_args *args, int key);

/* Prints "luaotactl: <message>" on stderr; returns CTL_EXIT_ERROR. */
int ctl_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints "luaotactl: <cmd>: <message>" and the usage; returns CTL_EXIT_USAGE.
 */
int ctl_usage_error(const struct ctl *ctl, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

struct json_object;
struct admin_result;

/* Prints o as indented JSON on stdout. */
void ctl_print_json(struct json_object *o);

/*
 * Prints an admin/ operation's failure: a malformed request as a usage
 * error (CTL_EXIT_USAGE), anything else as CTL_EXIT_ERROR.
 */
int ctl_report(const struct ctl *ctl, const struct admin_result *res);

/* Opens the inventory with store flags; prints why on failure (NULL). */
struct store *ctl_open_store(struct ctl *ctl, int flags);

/*
 * The luaotad.conf settings that change what a chip is sent, so that a
 * preview is what the daemon will do; NULL (why printed) when the
 * configuration has errors.
 */
const struct policy_settings *ctl_settings(struct ctl *ctl);

/*
 * Refuses config overrides a chip could not boot with (policy.h):
 * CTL_EXIT_OK, or CTL_EXIT_USAGE after "luaotactl: CMD: why".
 */
int ctl_check_overrides(const struct ctl *ctl, const char *json);

/*
 * Refuses a config that would not fit a chip's luaOTA/config.json: for
 * chip (with its own overrides) when chip is not NULL, else for every
 * chip of group_id; each with group_config (the group's overrides as
 * they will be).  CTL_EXIT_OK, or CTL_EXIT_ERROR after naming the chip.
 */
int ctl_check_config_size(struct store *st, int64_t group_id,
			  const char *group_config,
			  const struct store_chip *chip);

/* Unix seconds as ISO 8601 UTC ("2026-01-31T12:00:00Z") into buf. */
void ctl_format_time(int64_t seconds, char *buf, size_t size);

/*
 * Parses a duration: a whole number of seconds, minutes, hours or days
 * ("90s", "30m", "12h", "7d") into seconds; 0, or -1 when it is none.
 */
int ctl_parse_duration(const char *text, int64_t *seconds);

/*
 * Parses a point in time: ISO 8601 UTC ("2026-01-31", "2026-01-31T12:00",
 * "2026-01-31T12:00:00Z") or a duration before now (ctl_parse_duration)
 * into Unix seconds; 0, or -1 when it is neither.
 */
int ctl_parse_time(const char *text, int64_t *out);

/* Parses a decimal integer in [min, max]; 0, or -1 when it is not one. */
int ctl_parse_int(const char *text, int64_t min, int64_t max, int64_t *out);

/*
 * Prints a table cell: text (NULL: "-") with unprintable bytes escaped,
 * left-aligned in width columns and followed by two spaces; width 0 ends
 * the line instead.
 */
void ctl_cell(const char *text, int width);

#endif /* LUAOTA_CTL_H */
