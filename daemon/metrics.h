/*
 * What luaotad counts for Prometheus (GET /metrics): sessions by outcome,
 * failures and rejections by reason, connections refused, and histograms
 * of session duration and check-in latency.  Labels are bounded: reasons
 * are cut to their class and at most METRICS_REASONS of them are kept
 * per counter ("other" takes the rest); chip ids never become labels.
 */
#ifndef LUAOTAD_METRICS_H
#define LUAOTAD_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "db/store.h"

struct daemon;
struct evbuffer;

#define METRICS_REASONS 32
#define METRICS_REASON_MAX 48
#define METRICS_BUCKETS 14

struct metrics_reasons {
	char names[METRICS_REASONS][METRICS_REASON_MAX];
	uint64_t counts[METRICS_REASONS];
	size_t n;
	uint64_t other;
};

struct metrics_histogram {
	uint64_t buckets[METRICS_BUCKETS]; /* cumulative at render only */
	uint64_t count;
	double sum; /* seconds */
};

struct metrics {
	uint64_t sessions[STORE_OUTCOME_INTERRUPTED + 1]; /* by outcome */
	struct metrics_reasons failures;
	struct metrics_reasons rejections;
	uint64_t refused_max_connections;
	uint64_t refused_per_address;
	struct metrics_histogram duration; /* accept to close */
	struct metrics_histogram latency;  /* accept to the first answer */
	uint64_t http_requests;
	uint64_t http_refused; /* no or bad token, too large, bad method */
};

/* Counts a session that ended: outcome, reason (may be NULL), times. */
void metrics_session_end(struct metrics *m, enum store_outcome outcome,
			 const char *reason, int64_t duration_ms,
			 int64_t latency_ms);

/* The label a reason is counted under: its text up to the first ':' or
 * '(', lower case, other bytes as '_' (exposed for tests). */
void metrics_reason_class(const char *reason, char out[METRICS_REASON_MAX]);

/*
 * Appends the exposition (text format 0.0.4) of d's counters and of the
 * inventory (chips by last outcome, rollouts under way) to out; 0, or -1
 * when the inventory could not be read (the counters are still there).
 */
int metrics_render(struct daemon *d, struct evbuffer *out);

#endif /* LUAOTAD_METRICS_H */
