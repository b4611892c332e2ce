/* luaotad.conf parser: a keyword table, one parser per value type. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>

#include "proto/protocol.h"

enum value_type {
	VALUE_DURATION, /* "250ms", "3s", or plain milliseconds */
	VALUE_COUNT,	/* a plain integer */
	VALUE_SIZE,	/* bytes, with an optional K or M suffix */
	VALUE_STRING,
	VALUE_LISTEN,
	VALUE_LEVEL,
	VALUE_HTTP_LISTEN, /* one address, or "off" */
};

struct keyword {
	const char *name;
	enum value_type type;
	size_t offset;
	int64_t min, max;
};

#define FIELD(f) offsetof(struct config, f)

static const struct keyword keywords[] = {
	{ "busy_timeout", VALUE_DURATION, FIELD(busy_timeout_ms), 0, 60000 },
	{ "database", VALUE_STRING, FIELD(database), 0, 0 },
	{ "first_record_timeout", VALUE_DURATION, FIELD(first_record_ms), 100,
	  60000 },
	{ "http_listen", VALUE_HTTP_LISTEN, 0, 0, 0 },
	{ "http_max_body", VALUE_SIZE, FIELD(http_max_body), 1024,
	  16 * 1024 * 1024 },
	{ "http_timeout", VALUE_DURATION, FIELD(http_timeout_ms), 1000,
	  300000 },
	{ "listen", VALUE_LISTEN, 0, 0, 0 },
	{ "log_level", VALUE_LEVEL, FIELD(log_level), 0, 0 },
	{ "max_connections", VALUE_COUNT, FIELD(max_connections), 1, 1000000 },
	{ "max_connections_per_address", VALUE_COUNT, FIELD(max_per_address), 1,
	  1000000 },
	{ "max_file_size", VALUE_SIZE, FIELD(max_file_size), 0,
	  64 * 1024 * 1024 },
	{ "max_record_size", VALUE_SIZE, FIELD(max_record), 256, 1024 * 1024 },
	{ "rejection_window", VALUE_DURATION, FIELD(rejection_window_ms), 0,
	  3600000 },
	{ "reply_timeout", VALUE_DURATION, FIELD(reply_timeout_ms), 100,
	  60000 },
	{ "repository_recheck", VALUE_DURATION, FIELD(repository_recheck_ms), 0,
	  60000 },
	{ "session_budget", VALUE_DURATION, FIELD(session_budget_ms), 100,
	  600000 },
	{ "session_deadline", VALUE_DURATION, FIELD(session_deadline_ms), 100,
	  600000 },
	{ "session_max_bytes", VALUE_SIZE, FIELD(session_max_bytes), 0,
	  INT64_C(1) << 40 },
	{ "spool", VALUE_STRING, FIELD(spool), 0, 0 },
	{ "v2_session_deadline", VALUE_DURATION, FIELD(v2_session_deadline_ms),
	  100, 600000 },
};

void config_defaults(struct config *c)
{
	const char *why;

	memset(c, 0, sizeof(*c));
	config_add_listen(c, "0.0.0.0:8266", 0, &why);
	config_add_listen(c, "[::]:8266", 0, &why);
	c->database = strdup(LUAOTAD_DATABASE);
	c->log_level = CONFIG_LOG_INFO;
	c->first_record_ms = LUAOTAD_FIRST_RECORD_MS;
	c->reply_timeout_ms = LUAOTAD_REPLY_TIMEOUT_MS;
	c->session_budget_ms = LUAOTAD_SESSION_BUDGET_MS;
	c->session_deadline_ms = LUAOTAD_SESSION_DEADLINE_MS;
	c->session_max_bytes = LUAOTAD_SESSION_MAX_BYTES;
	c->max_connections = LUAOTAD_MAX_CONNECTIONS;
	c->max_per_address = LUAOTAD_MAX_PER_ADDRESS;
	c->max_record = LUAOTAD_MAX_RECORD;
	c->http_timeout_ms = LUAOTAD_HTTP_TIMEOUT_MS;
	c->http_max_body = LUAOTAD_HTTP_MAX_BODY;
	c->max_file_size = LUAOTAD_MAX_FILE_SIZE;
	c->busy_timeout_ms = LUAOTAD_BUSY_TIMEOUT_MS;
	c->v2_session_deadline_ms = LUAOTA_V2_SESSION_MS;
	c->repository_recheck_ms = LUAOTAD_REPOSITORY_RECHECK_MS;
	c->rejection_window_ms = LUAOTAD_REJECT_WINDOW_MS;
}

const char *config_listen_split(const char *spec, char *host, size_t host_len,
				unsigned *port)
{
	const char *port_text, *sep;
	unsigned char addr[sizeof(struct in6_addr)];
	size_t len;
	char *end;
	long n;

	if (spec[0] == '[') {
		if ((sep = strchr(spec, ']')) == NULL || sep[1] != ':')
			return "expected [IPV6-ADDRESS]:PORT";
		len = (size_t)(sep - spec - 1);
		port_text = sep + 2;
		spec++;
	} else {
		if ((sep = strrchr(spec, ':')) == NULL)
			return "expected ADDRESS:PORT";
		len = (size_t)(sep - spec);
		port_text = sep + 1;
	}
	if (len >= host_len)
		return "address too long";
	memcpy(host, spec, len);
	host[len] = '\0';
	if (strcmp(host, "*") == 0 || host[0] == '\0')
		host[0] = '\0';
	else if (sep[0] == ']' ? inet_pton(AF_INET6, host, addr) != 1
			       : inet_pton(AF_INET, host, addr) != 1)
		return sep[0] == ']' ? "not an IPv6 address"
				     : "not an IPv4 address (IPv6 goes in "
				       "brackets, * is every address)";
	/* Digits only: strtol alone would take "-1" and " 5".  Port 0 asks
	 * the kernel for a free one (the log names it). */
	if (!isdigit((unsigned char)port_text[0]))
		return "the port is not a number from 0 to 65535";
	errno = 0;
	n = strtol(port_text, &end, 10);
	if (errno != 0 || *end != '\0' || n > 65535)
		return "the port is not a number from 0 to 65535";
	*port = (unsigned)n;
	return NULL;
}

int config_add_listen(struct config *c, const char *address, int reset,
		      const char **why)
{
	char host[INET6_ADDRSTRLEN + 2], *copy;
	unsigned port;

	if ((*why = config_listen_split(address, host, sizeof(host), &port)) !=
	    NULL)
		return -1;
	if (reset) {
		while (c->nlisten > 0)
			free(c->listen[--c->nlisten]);
	}
	if (c->nlisten >= LUAOTAD_MAX_LISTEN) {
		*why = "too many listen addresses";
		return -1;
	}
	if ((copy = strdup(address)) == NULL) {
		*why = "out of memory";
		return -1;
	}
	c->listen[c->nlisten++] = copy;
	return 0;
}

void config_free(struct config *c)
{
	while (c->nlisten > 0)
		free(c->listen[--c->nlisten]);
	free(c->database);
	c->database = NULL;
	free(c->http_listen);
	c->http_listen = NULL;
	free(c->spool);
	c->spool = NULL;
}

/* Parses an integer with an optional unit; -1 on junk or overflow. */
static int parse_number(const char *text, enum value_type type, int64_t *out)
{
	char *end;
	long long v;

	errno = 0;
	if (!isdigit((unsigned char)text[0]))
		return -1;
	v = strtoll(text, &end, 10);
	if (errno != 0)
		return -1;
	if (type == VALUE_DURATION) {
		if (strcmp(end, "s") == 0) {
			if (v > INT64_MAX / 1000)
				return -1;
			v *= 1000;
		} else if (*end != '\0' && strcmp(end, "ms") != 0)
			return -1;
	} else if (type == VALUE_SIZE) {
		int shift = 0;

		if (strcmp(end, "K") == 0 || strcmp(end, "KiB") == 0)
			shift = 10;
		else if (strcmp(end, "M") == 0 || strcmp(end, "MiB") == 0)
			shift = 20;
		else if (*end != '\0')
			return -1;
		if (v > (INT64_MAX >> shift))
			return -1;
		v <<= shift;
	} else if (*end != '\0')
		return -1;
	*out = v;
	return 0;
}

static int keyword_compare(const void *key, const void *elem)
{
	return strcmp(key, ((const struct keyword *)elem)->name);
}

/* Applies one "key = value" line; returns an error text or NULL. */
static const char *apply(struct config *c, const char *key, const char *value,
			 int *listen_seen)
{
	const struct keyword *kw;
	char *base = (char *)c;
	int64_t n;

	kw = bsearch(key, keywords, sizeof(keywords) / sizeof(keywords[0]),
		     sizeof(keywords[0]), keyword_compare);
	if (kw == NULL)
		return "unknown keyword";
	if (*value == '\0')
		return "missing value";
	switch (kw->type) {
	case VALUE_DURATION:
	case VALUE_COUNT:
	case VALUE_SIZE:
		if (parse_number(value, kw->type, &n) != 0)
			return kw->type == VALUE_DURATION
				   ? "not a duration (e.g. 250ms, 3s)"
			       : kw->type == VALUE_SIZE
				   ? "not a size (e.g. 16384, 16K, 1M)"
				   : "not a non-negative integer";
		if (n < kw->min || n > kw->max)
			return "value out of range";
		memcpy(base + kw->offset, &n, sizeof(n));
		return NULL;
	case VALUE_STRING: {
		char **field = (char **)(void *)(base + kw->offset);
		char *copy = strdup(value);

		if (copy == NULL)
			return "out of memory";
		free(*field);
		*field = copy;
		return NULL;
	}
	case VALUE_LISTEN: {
		const char *why;

		if (config_add_listen(c, value, !*listen_seen, &why) != 0)
			return why;
		*listen_seen = 1;
		return NULL;
	}
	case VALUE_HTTP_LISTEN: {
		char host[256];
		unsigned port;
		const char *why;
		char *copy = NULL;

		if (strcmp(value, "off") != 0) {
			if ((why = config_listen_split(
				 value, host, sizeof(host), &port)) != NULL)
				return why;
			if ((copy = strdup(value)) == NULL)
				return "out of memory";
		}
		free(c->http_listen);
		c->http_listen = copy;
		return NULL;
	}
	case VALUE_LEVEL:
		if (strcmp(value, "warn") == 0)
			c->log_level = CONFIG_LOG_WARN;
		else if (strcmp(value, "info") == 0)
			c->log_level = CONFIG_LOG_INFO;
		else if (strcmp(value, "debug") == 0)
			c->log_level = CONFIG_LOG_DEBUG;
		else
			return "log_level is one of warn, info, debug";
		return NULL;
	}
	return "unhandled keyword type";
}

static char *trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

/* Formats one error line and hands it to report (or stderr). */
static void report_error(config_report_fn *report, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void report_error(config_report_fn *report, const char *fmt, ...)
{
	char message[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	if (report != NULL)
		report(message);
	else
		fprintf(stderr, "%s\n", message);
}

int config_load(struct config *c, const char *path, int missing_ok,
		config_report_fn *report)
{
	FILE *fp = fopen(path, "r");
	int rc;

	if (fp == NULL) {
		if (errno == ENOENT && missing_ok)
			return 0;
		report_error(report, "%s: %s", path, strerror(errno));
		return -1;
	}
	rc = config_parse(c, path, fp, report);
	fclose(fp);
	return rc;
}

int config_parse(struct config *c, const char *path, FILE *fp,
		 config_report_fn *report)
{
	char line[1024];
	int lineno = 0, errors = 0, listen_seen = 0;

	while (fgets(line, sizeof(line), fp) != NULL) {
		char *key, *value, *eq, *hash;
		const char *why;

		lineno++;
		if (strchr(line, '\n') == NULL && !feof(fp)) {
			report_error(report, "%s:%d: line too long", path,
				     lineno);
			errors++;
			while (fgets(line, sizeof(line), fp) != NULL &&
			       strchr(line, '\n') == NULL)
				;
			continue;
		}
		if ((hash = strchr(line, '#')) != NULL)
			*hash = '\0';
		key = trim(line);
		if (*key == '\0')
			continue;
		if ((eq = strchr(key, '=')) == NULL) {
			report_error(report, "%s:%d: expected keyword = value",
				     path, lineno);
			errors++;
			continue;
		}
		*eq = '\0';
		value = trim(eq + 1);
		key = trim(key);
		if ((why = apply(c, key, value, &listen_seen)) != NULL) {
			report_error(report, "%s:%d: %s: %s", path, lineno, key,
				     why);
			errors++;
		}
	}
	if (ferror(fp)) {
		report_error(report, "%s: %s", path, strerror(errno));
		errors++;
	}
	if (c->session_budget_ms >= c->session_deadline_ms) {
		report_error(
		    report, "%s: session_budget must be below session_deadline",
		    path);
		errors++;
	}
	return errors == 0 ? 0 : -1;
}
