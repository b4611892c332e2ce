/* Prometheus counters and their text exposition. */
#include "metrics.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <bsd/string.h>
#include <event2/buffer.h>

#include "daemon.h"

/* Seconds; a check-in answers in milliseconds, an update takes seconds. */
static const double bucket_bounds[METRICS_BUCKETS] = {
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
	0.25,  0.5,    1,     2.5,  5,	   10,	 30,
};

static void observe(struct metrics_histogram *h, int64_t ms)
{
	double seconds = (double)(ms < 0 ? 0 : ms) / 1000.0;
	size_t i;

	for (i = 0; i < METRICS_BUCKETS; i++)
		if (seconds <= bucket_bounds[i]) {
			h->buckets[i]++;
			break;
		}
	h->count++;
	h->sum += seconds;
}

void metrics_reason_class(const char *reason, char out[METRICS_REASON_MAX])
{
	size_t n = 0;

	for (; reason != NULL && *reason != '\0' && *reason != ':' &&
	       *reason != '(' && n < METRICS_REASON_MAX - 1;
	     reason++) {
		unsigned char c = (unsigned char)*reason;

		out[n++] = isalnum(c) ? (char)tolower(c) : '_';
	}
	/* "bad signature " and "bad signature" are one class. */
	while (n > 0 && out[n - 1] == '_')
		n--;
	out[n] = '\0';
	if (n == 0)
		strlcpy(out, "unknown", METRICS_REASON_MAX);
}

static void count_reason(struct metrics_reasons *r, const char *reason)
{
	char name[METRICS_REASON_MAX];
	size_t i;

	metrics_reason_class(reason, name);
	for (i = 0; i < r->n; i++)
		if (strcmp(r->names[i], name) == 0) {
			r->counts[i]++;
			return;
		}
	if (r->n == METRICS_REASONS) {
		r->other++;
		return;
	}
	strlcpy(r->names[r->n], name, sizeof(r->names[r->n]));
	r->counts[r->n++] = 1;
}

void metrics_session_end(struct metrics *m, enum store_outcome outcome,
			 const char *reason, int64_t duration_ms,
			 int64_t latency_ms)
{
	if ((size_t)outcome < sizeof(m->sessions) / sizeof(m->sessions[0]))
		m->sessions[outcome]++;
	if (outcome == STORE_OUTCOME_FAILED ||
	    outcome == STORE_OUTCOME_INTERRUPTED)
		count_reason(&m->failures, reason);
	else if (outcome == STORE_OUTCOME_REJECTED)
		count_reason(&m->rejections, reason);
	observe(&m->duration, duration_ms);
	if (latency_ms >= 0)
		observe(&m->latency, latency_ms);
}

static void header(struct evbuffer *out, const char *name, const char *type,
		   const char *help)
{
	evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help,
			    name, type);
}

static void counter(struct evbuffer *out, const char *name, const char *help,
		    uint64_t value)
{
	header(out, name, "counter", help);
	evbuffer_add_printf(out, "%s %llu\n", name, (unsigned long long)value);
}

static void gauge(struct evbuffer *out, const char *name, const char *help,
		  uint64_t value)
{
	header(out, name, "gauge", help);
	evbuffer_add_printf(out, "%s %llu\n", name, (unsigned long long)value);
}

static void add_text(struct evbuffer *out, const char *text)
{
	evbuffer_add(out, text, strlen(text));
}

/* A label value: backslash, quote and newline escaped. */
static void label_value(struct evbuffer *out, const char *text)
{
	for (; *text != '\0'; text++) {
		if (*text == '\\' || *text == '"')
			evbuffer_add_printf(out, "\\%c", *text);
		else if (*text == '\n')
			evbuffer_add(out, "\\n", 2);
		else
			evbuffer_add(out, text, 1);
	}
}

static void reasons(struct evbuffer *out, const char *name, const char *help,
		    const struct metrics_reasons *r)
{
	size_t i;

	header(out, name, "counter", help);
	for (i = 0; i < r->n; i++)
		evbuffer_add_printf(out, "%s{reason=\"%s\"} %llu\n", name,
				    r->names[i],
				    (unsigned long long)r->counts[i]);
	if (r->other > 0)
		evbuffer_add_printf(out, "%s{reason=\"other\"} %llu\n", name,
				    (unsigned long long)r->other);
}

static void histogram(struct evbuffer *out, const char *name, const char *help,
		      const struct metrics_histogram *h)
{
	uint64_t cumulative = 0;
	size_t i;

	header(out, name, "histogram", help);
	for (i = 0; i < METRICS_BUCKETS; i++) {
		cumulative += h->buckets[i];
		evbuffer_add_printf(out, "%s_bucket{le=\"%g\"} %llu\n", name,
				    bucket_bounds[i],
				    (unsigned long long)cumulative);
	}
	evbuffer_add_printf(out, "%s_bucket{le=\"+Inf\"} %llu\n", name,
			    (unsigned long long)h->count);
	evbuffer_add_printf(out, "%s_sum %.6f\n%s_count %llu\n", name, h->sum,
			    name, (unsigned long long)h->count);
}

static int chips_by_outcome(const char *outcome, int64_t count, void *arg)
{
	struct evbuffer *out = arg;

	add_text(out, "luaotad_chips{last_outcome=\"");
	label_value(out, outcome);
	evbuffer_add_printf(out, "\"} %lld\n", (long long)count);
	return 0;
}

static int rollouts(struct daemon *d, struct evbuffer *out)
{
	struct store_rollout *r = NULL;
	size_t n = 0, i;
	int states[STORE_ROLLOUT_DONE + 1] = { 0 };

	if (store_rollout_list_active(d->store, &r, &n) != 0)
		return -1;
	for (i = 0; i < n; i++)
		if ((size_t)r[i].state < sizeof(states) / sizeof(states[0]))
			states[r[i].state]++;
	header(out, "luaotad_rollouts", "gauge",
	       "Rollouts under way, by state.");
	evbuffer_add_printf(out, "luaotad_rollouts{state=\"running\"} %d\n",
			    states[STORE_ROLLOUT_RUNNING]);
	evbuffer_add_printf(out, "luaotad_rollouts{state=\"paused\"} %d\n",
			    states[STORE_ROLLOUT_PAUSED]);
	header(out, "luaotad_rollout_wave", "gauge",
	       "The wave (from 1) a group's rollout under way serves.");
	for (i = 0; i < n; i++) {
		add_text(out, "luaotad_rollout_wave{group=\"");
		label_value(out,
			    r[i].group_name != NULL ? r[i].group_name : "");
		evbuffer_add_printf(out, "\"} %d\n", r[i].wave + 1);
	}
	store_rollout_list_free(r, n);
	return 0;
}

int metrics_render(struct daemon *d, struct evbuffer *out)
{
	const struct daemon_stats *st = &d->stats;
	const struct metrics *m = &d->metrics;
	int rc = 0, i;

	counter(out, "luaotad_checkins_total",
		"Check-ins whose first record verified.", st->checkins);
	counter(out, "luaotad_current_total",
		"Check-ins answered: nothing to update.", st->current);
	counter(out, "luaotad_updates_total",
		"Sessions that sent files and restarted the chip.",
		st->updates);
	header(out, "luaotad_sessions_total", "counter",
	       "Device sessions that ended, by outcome.");
	for (i = STORE_OUTCOME_CURRENT; i <= STORE_OUTCOME_INTERRUPTED; i++)
		evbuffer_add_printf(out,
				    "luaotad_sessions_total{outcome=\"%s\"} "
				    "%llu\n",
				    store_outcome_name((enum store_outcome)i),
				    (unsigned long long)m->sessions[i]);
	reasons(out, "luaotad_failures_total",
		"Sessions that failed or were interrupted, by reason.",
		&m->failures);
	reasons(out, "luaotad_rejections_total",
		"Connections rejected (unknown chip, bad signature, "
		"malformed), by reason.",
		&m->rejections);
	header(out, "luaotad_refused_total", "counter",
	       "Connections refused at a cap, by cap.");
	evbuffer_add_printf(
	    out, "luaotad_refused_total{reason=\"max_connections\"} %llu\n",
	    (unsigned long long)m->refused_max_connections);
	evbuffer_add_printf(
	    out,
	    "luaotad_refused_total{reason=\"max_connections_per_address\"} "
	    "%llu\n",
	    (unsigned long long)m->refused_per_address);
	histogram(out, "luaotad_session_duration_seconds",
		  "From accepting a device's connection to closing it.",
		  &m->duration);
	histogram(out, "luaotad_checkin_latency_seconds",
		  "From accepting a device's connection to the first answer.",
		  &m->latency);
	gauge(out, "luaotad_sessions_open", "Device sessions open now.",
	      st->open);
	gauge(out, "luaotad_history_queue_length",
	      "History rows waiting for the database.",
	      d->history_queued + d->history_unqueued);
	counter(out, "luaotad_http_requests_total",
		"Requests to the HTTP listener.", m->http_requests);
	counter(out, "luaotad_http_refused_total",
		"HTTP requests refused: no or bad token, too large, bad "
		"method.",
		m->http_refused);
	header(out, "luaotad_chips", "gauge",
	       "Registered chips by the outcome of their last session "
	       "(never: not seen yet).");
	if (store_chip_outcome_counts(d->store, chips_by_outcome, out) != 0)
		rc = -1;
	if (rollouts(d, out) != 0)
		rc = -1;
	return rc;
}
