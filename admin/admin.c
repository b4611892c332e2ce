/* Results, and the values luaotactl and the HTTP API parse and print. */
#include "admin.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int admin_fail(struct admin_result *res, enum admin_status status,
	       const char *fmt, ...)
{
	va_list ap;

	res->status = status;
	va_start(ap, fmt);
	vsnprintf(res->message, sizeof(res->message), fmt, ap);
	va_end(ap);
	return status == ADMIN_OK ? 0 : -1;
}

void admin_format_time(int64_t seconds, char *buf, size_t size)
{
	time_t t = (time_t)seconds;
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, size, "?");
}

void admin_format_ms(int64_t ms, char *buf, size_t size)
{
	char seconds[32];

	admin_format_time(ms / 1000, seconds, sizeof(seconds));
	/* "...:SSZ" becomes "...:SS.mmmZ" */
	seconds[strcspn(seconds, "Z")] = '\0';
	snprintf(buf, size, "%s.%03dZ", seconds, (int)(ms % 1000));
}

int admin_parse_int(const char *text, int64_t min, int64_t max, int64_t *out)
{
	long long value;
	char *end;

	if (text == NULL || text[0] == '\0' || text[0] == ' ' || text[0] == '+')
		return -1;
	errno = 0;
	value = strtoll(text, &end, 10);
	if (errno != 0 || *end != '\0' || value < min || value > max)
		return -1;
	*out = value;
	return 0;
}

int admin_parse_duration(const char *text, int64_t *seconds)
{
	size_t len = strlen(text);
	int64_t n, unit;
	char num[32];

	if (len < 2 || len >= sizeof(num) ||
	    strchr("smhd", text[len - 1]) == NULL)
		return -1;
	memcpy(num, text, len - 1);
	num[len - 1] = '\0';
	unit = text[len - 1] == 's'   ? 1
	       : text[len - 1] == 'm' ? 60
	       : text[len - 1] == 'h' ? 3600
				      : 86400;
	/* Bounded so that n * unit, and now minus it, cannot overflow. */
	if (admin_parse_int(num, 0, INT64_MAX / 86400, &n) != 0)
		return -1;
	*seconds = n * unit;
	return 0;
}

int admin_parse_time(const char *text, int64_t *out)
{
	static const char *const formats[] = {
		"%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%MZ",
		"%Y-%m-%dT%H:%M",     "%Y-%m-%d",
	};
	size_t i;
	int64_t age;
	struct tm tm;
	const char *end;

	if (admin_parse_duration(text, &age) == 0) {
		*out = (int64_t)time(NULL) - age;
		return 0;
	}
	for (i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		memset(&tm, 0, sizeof(tm));
		end = strptime(text, formats[i], &tm);
		if (end != NULL && *end == '\0') {
			*out = (int64_t)timegm(&tm);
			return 0;
		}
	}
	return -1;
}
