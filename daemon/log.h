/*
 * Logging: one line per event with key=value fields, to stderr, or to
 * journald with the same fields as journal fields when run by systemd.
 * The OpenBSD log.c pattern: log_warn() appends strerror(errno),
 * log_warnx() does not; fatal()/fatalx() log and exit(1) and are meant for
 * start-up and broken invariants only.  errno is preserved by every call.
 */
#ifndef LUAOTAD_LOG_H
#define LUAOTAD_LOG_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* The values of luaotad.conf's log_level (conf/config.h), in order. */
enum log_level {
	LOG_LEVEL_WARN = 0,
	LOG_LEVEL_INFO = 1,
	LOG_LEVEL_DEBUG = 2,
};

/* Session context added to a line: each field may be NULL / 0. */
struct log_fields {
	const char *chip_id;
	const char *peer;
	int64_t session_id; /* history row, 0 when none */
	const char *outcome;
};

/*
 * Sets where lines go: journald when to_journal (and built with
 * libsystemd), else stderr; and the most verbose level printed.
 */
void log_init(int to_journal, enum log_level level);

/* True when the caller runs under systemd with stderr connected to journald. */
int log_stderr_is_journal(void);

/* Prints bare messages on stderr, no time stamp or name (luaotad -n). */
void log_set_plain(int plain);

/* Changes the level at run time (SIGHUP reload). */
void log_set_level(enum log_level level);

void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* log_warnx of one ready line (a config_report_fn). */
void log_warnx_line(const char *message);
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fatal(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

/* A line about one session, with its fields. */
void log_session(enum log_level level, const struct log_fields *fields,
		 const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/*
 * Escapes peer-supplied bytes for a log line (C-style, via strvis) into
 * out; the result is truncated to fit and always NUL-terminated.
 */
const char *log_escape(const char *in, size_t len, char *out, size_t out_len);

#endif /* LUAOTAD_LOG_H */
