/* Rate-limited warnings: see ratelimit.h. */
#include "ratelimit.h"

#include <string.h>

#include "limits.h"
#include "log.h"

/* One kind of warning: its window and how much of it was used. */
struct bucket {
	char key[64];
	int64_t window_start; /* monotonic ms; 0: slot free */
	uint64_t logged;
	uint64_t suppressed;
};

static struct bucket buckets[LUAOTAD_WARN_KEYS];

static void report(struct bucket *b)
{
	if (b->suppressed > 0)
		log_warnx("event=warnings-suppressed key=\"%s\" count=%llu "
			  "window_ms=%d",
			  b->key, (unsigned long long)b->suppressed,
			  LUAOTAD_WARN_WINDOW_MS);
	b->logged = 0;
	b->suppressed = 0;
}

/* The bucket of key: an existing one, a free one, or the oldest reused. */
static struct bucket *find(const char *key, int64_t now_ms)
{
	struct bucket *oldest = &buckets[0];
	size_t i;

	for (i = 0; i < LUAOTAD_WARN_KEYS; i++) {
		struct bucket *b = &buckets[i];

		if (b->window_start != 0 && strcmp(b->key, key) == 0)
			return b;
		if (b->window_start < oldest->window_start)
			oldest = b;
	}
	if (oldest->window_start != 0)
		report(oldest);
	memset(oldest, 0, sizeof(*oldest));
	strncpy(oldest->key, key, sizeof(oldest->key) - 1);
	oldest->window_start = now_ms > 0 ? now_ms : 1;
	return oldest;
}

int ratelimit_allow(const char *key, int64_t now_ms)
{
	struct bucket *b = find(key, now_ms);

	if (now_ms - b->window_start >= LUAOTAD_WARN_WINDOW_MS) {
		report(b);
		b->window_start = now_ms > 0 ? now_ms : 1;
	}
	if (b->logged < LUAOTAD_WARN_BURST) {
		b->logged++;
		return 1;
	}
	b->suppressed++;
	return 0;
}

void ratelimit_report(int64_t now_ms)
{
	size_t i;

	for (i = 0; i < LUAOTAD_WARN_KEYS; i++) {
		struct bucket *b = &buckets[i];

		if (b->window_start != 0 &&
		    now_ms - b->window_start >= LUAOTAD_WARN_WINDOW_MS) {
			report(b);
			b->window_start = 0; /* idle keys free their slot */
		}
	}
}

void ratelimit_reset(void)
{
	size_t i;

	for (i = 0; i < LUAOTAD_WARN_KEYS; i++)
		if (buckets[i].window_start != 0)
			report(&buckets[i]);
	memset(buckets, 0, sizeof(buckets));
}
