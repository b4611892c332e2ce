/*
 * What the inventory operations of luaotactl and of luaotad's HTTP API
 * share: how an operation says it failed, and the parsing and formatting
 * of the values both accept and print, so that a request is judged alike
 * whichever way it comes.
 */
#ifndef LUAOTA_ADMIN_H
#define LUAOTA_ADMIN_H

#include <stddef.h>
#include <stdint.h>

/* How an operation ended; luaotactl and HTTP map these to their codes. */
enum admin_status {
	ADMIN_OK = 0,
	ADMIN_INVALID,	/* the request is malformed (usage, 400) */
	ADMIN_NOTFOUND, /* what it names does not exist (404) */
	ADMIN_CONFLICT, /* the inventory's state forbids it now (409) */
	ADMIN_REFUSED,	/* well formed, but what it asks cannot be (422) */
	ADMIN_FAILED,	/* it could not be done (the store, memory: 500) */
};

struct admin_result {
	enum admin_status status;
	char message[512]; /* why, for the operator; "" when ADMIN_OK */
};

/* Sets res to status with a message; returns -1 (0 for ADMIN_OK). */
int admin_fail(struct admin_result *res, enum admin_status status,
	       const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Parses a decimal integer in [min, max]; 0, or -1 when it is not one. */
int admin_parse_int(const char *text, int64_t min, int64_t max, int64_t *out);

/*
 * Parses a duration: a whole number of seconds, minutes, hours or days
 * ("90s", "30m", "12h", "7d") into seconds; 0, or -1 when it is none.
 */
int admin_parse_duration(const char *text, int64_t *seconds);

/*
 * Parses a point in time: ISO 8601 UTC ("2026-01-31", "2026-01-31T12:00",
 * "2026-01-31T12:00:00Z") or a duration before now (admin_parse_duration)
 * into Unix seconds; 0, or -1 when it is neither.
 */
int admin_parse_time(const char *text, int64_t *out);

/* Unix seconds as ISO 8601 UTC ("2026-01-31T12:00:00Z") into buf. */
void admin_format_time(int64_t seconds, char *buf, size_t size);

/* Milliseconds as ISO 8601 UTC with milliseconds into buf. */
void admin_format_ms(int64_t ms, char *buf, size_t size);

#endif /* LUAOTA_ADMIN_H */
