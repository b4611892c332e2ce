/* Logging to stderr or journald: see log.h. */
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <syslog.h>
#include <time.h>

#define LIBBSD_NETBSD_VIS /* strnvis() with the NetBSD argument order */
#include <bsd/vis.h>
#include <systemd/sd-journal.h>

static int log_to_journal;
static int log_plain; /* bare messages: luaotad -n prints file:line: why */
static enum log_level log_max = LOG_LEVEL_INFO;

void log_init(int to_journal, enum log_level level)
{
	log_to_journal = to_journal;
	log_max = level;
}

void log_set_plain(int plain)
{
	log_plain = plain;
}

void log_set_level(enum log_level level)
{
	log_max = level;
}

int log_stderr_is_journal(void)
{
	const char *stream = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	/* systemd sets JOURNAL_STREAM=dev:ino for the stream it connected. */
	if (stream == NULL || sscanf(stream, "%llu:%llu", &dev, &ino) != 2 ||
	    fstat(2, &st) != 0)
		return 0;
	return (unsigned long long)st.st_dev == dev &&
	       (unsigned long long)st.st_ino == ino;
}

static int syslog_priority(enum log_level level)
{
	switch (level) {
	case LOG_LEVEL_WARN:
		return LOG_WARNING;
	case LOG_LEVEL_INFO:
		return LOG_INFO;
	case LOG_LEVEL_DEBUG:
		break;
	}
	return LOG_DEBUG;
}

/* One journal entry; session fields only when present, so that
 * "journalctl CHIP_ID=..." matches exactly the lines about that chip. */
static void journal_send(enum log_level level, const struct log_fields *f,
			 const char *msg)
{
	char message[1100], priority[16], chip[128], peer[80], session[40];
	char outcome[40];
	struct iovec iov[6];
	int n = 0;

	snprintf(message, sizeof(message), "MESSAGE=%s", msg);
	iov[n++] = (struct iovec){ message, strlen(message) };
	snprintf(priority, sizeof(priority), "PRIORITY=%d",
		 syslog_priority(level));
	iov[n++] = (struct iovec){ priority, strlen(priority) };
	if (f != NULL && f->chip_id != NULL) {
		snprintf(chip, sizeof(chip), "CHIP_ID=%s", f->chip_id);
		iov[n++] = (struct iovec){ chip, strlen(chip) };
	}
	if (f != NULL && f->peer != NULL) {
		snprintf(peer, sizeof(peer), "PEER=%s", f->peer);
		iov[n++] = (struct iovec){ peer, strlen(peer) };
	}
	if (f != NULL && f->session_id != 0) {
		snprintf(session, sizeof(session), "SESSION_ID=%lld",
			 (long long)f->session_id);
		iov[n++] = (struct iovec){ session, strlen(session) };
	}
	if (f != NULL && f->outcome != NULL) {
		snprintf(outcome, sizeof(outcome), "OUTCOME=%s", f->outcome);
		iov[n++] = (struct iovec){ outcome, strlen(outcome) };
	}
	sd_journal_sendv(iov, n);
}

static void emit(enum log_level level, const struct log_fields *f,
		 const char *msg)
{
	char fields[256] = "";
	char stamp[32];
	struct timespec ts;
	struct tm tm;
	size_t n = 0;

	if (log_to_journal) {
		journal_send(level, f, msg);
		return;
	}
	if (log_plain) {
		fprintf(stderr, "%s\n", msg);
		return;
	}
	if (f != NULL) {
		if (f->session_id != 0 && n < sizeof(fields))
			n += (size_t)snprintf(fields + n, sizeof(fields) - n,
					      " session=%lld",
					      (long long)f->session_id);
		if (f->chip_id != NULL && n < sizeof(fields))
			n += (size_t)snprintf(fields + n, sizeof(fields) - n,
					      " chip=%s", f->chip_id);
		if (f->peer != NULL && n < sizeof(fields))
			n += (size_t)snprintf(fields + n, sizeof(fields) - n,
					      " peer=%s", f->peer);
		if (f->outcome != NULL && n < sizeof(fields))
			snprintf(fields + n, sizeof(fields) - n, " outcome=%s",
				 f->outcome);
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(stderr, "%s.%03ldZ luaotad: %s%s\n", stamp,
		ts.tv_nsec / 1000000, msg, fields);
}

static void vlog(enum log_level level, const struct log_fields *f,
		 const char *suffix, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));

static void vlog(enum log_level level, const struct log_fields *f,
		 const char *suffix, const char *fmt, va_list ap)
{
	char msg[1024];
	int saved = errno;

	if (level > log_max)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (suffix != NULL) {
		size_t len = strlen(msg);

		snprintf(msg + len, sizeof(msg) - len, ": %s", suffix);
	}
	emit(level, f, msg);
	errno = saved;
}

void log_warn(const char *fmt, ...)
{
	va_list ap;
	const char *why = strerror(errno);

	va_start(ap, fmt);
	vlog(LOG_LEVEL_WARN, NULL, why, fmt, ap);
	va_end(ap);
}

void log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_LEVEL_WARN, NULL, NULL, fmt, ap);
	va_end(ap);
}

void log_warnx_line(const char *message)
{
	log_warnx("%s", message);
}

void log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_LEVEL_INFO, NULL, NULL, fmt, ap);
	va_end(ap);
}

void log_debug(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_LEVEL_DEBUG, NULL, NULL, fmt, ap);
	va_end(ap);
}

void fatal(const char *fmt, ...)
{
	va_list ap;
	const char *why = strerror(errno);

	va_start(ap, fmt);
	vlog(LOG_LEVEL_WARN, NULL, why, fmt, ap);
	va_end(ap);
	exit(1);
}

void fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_LEVEL_WARN, NULL, NULL, fmt, ap);
	va_end(ap);
	exit(1);
}

void log_session(enum log_level level, const struct log_fields *fields,
		 const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(level, fields, NULL, fmt, ap);
	va_end(ap);
}

const char *log_escape(const char *in, size_t len, char *out, size_t out_len)
{
	char buf[4 * 256 + 1];

	if (len > 256)
		len = 256;
	strnvisx(buf, sizeof(buf), in, len,
		 VIS_CSTYLE | VIS_NL | VIS_TAB | VIS_OCTAL | VIS_DQ);
	snprintf(out, out_len, "%s", buf);
	return out;
}
