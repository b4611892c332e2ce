/*
 * luaotad's metrics: reasons cut to bounded labels, histograms that add
 * up, and an exposition with the inventory's counts in it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/buffer.h>

#include "daemon/daemon.h"
#include "daemon/metrics.h"
#include "db/store.h"
#include "tests/support/scratch.h"

static void reasons_become_classes(void **state)
{
	static const char *const cases[][2] = {
		{ "bad signature", "bad_signature" },
		{ "inventory unavailable: disk I/O error",
		  "inventory_unavailable" },
		{ "HI has no usable chip id", "hi_has_no_usable_chip_id" },
		{ "device said: \"ERROR\" (init.lua)", "device_said" },
		{ "", "unknown" },
		{ "!!!", "unknown" },
	};
	char out[METRICS_REASON_MAX];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		metrics_reason_class(cases[i][0], out);
		assert_string_equal(out, cases[i][1]);
	}
	metrics_reason_class(NULL, out);
	assert_string_equal(out, "unknown");
}

/* However many reasons peers provoke, a counter keeps a bounded set. */
static void reason_labels_are_bounded(void **state)
{
	struct metrics *m = calloc(1, sizeof(*m));
	char reason[64];
	uint64_t total = 0;
	size_t i;

	(void)state;
	assert_non_null(m);
	for (i = 0; i < METRICS_REASONS + 8; i++) {
		snprintf(reason, sizeof(reason), "reason %zu", i);
		metrics_session_end(m, STORE_OUTCOME_REJECTED, reason, 1, 1);
	}
	metrics_session_end(m, STORE_OUTCOME_REJECTED, "reason 0", 1, 1);
	assert_int_equal(m->rejections.n, METRICS_REASONS);
	assert_int_equal(m->rejections.other, 8);
	assert_int_equal(m->rejections.counts[0], 2);
	for (i = 0; i < m->rejections.n; i++)
		total += m->rejections.counts[i];
	assert_int_equal(total + m->rejections.other, METRICS_REASONS + 9);
	assert_int_equal(m->sessions[STORE_OUTCOME_REJECTED],
			 METRICS_REASONS + 9);
	assert_int_equal(m->failures.n, 0);
	free(m);
}

/* The text of out, NUL terminated, owned by the caller. */
static char *text_of(struct evbuffer *out)
{
	size_t len = evbuffer_get_length(out);
	char *text = malloc(len + 1);

	assert_non_null(text);
	evbuffer_remove(out, text, len);
	text[len] = '\0';
	return text;
}

static void exposition_adds_up(void **state)
{
	struct daemon *d = calloc(1, sizeof(*d));
	struct evbuffer *out = evbuffer_new();
	char dir[256], path[300];
	char *text;

	(void)state;
	assert_non_null(d);
	assert_int_equal(scratch_dir("luaota-metrics", 1, dir, sizeof(dir)), 0);
	snprintf(path, sizeof(path), "%s/luaota.db", dir);
	d->store = store_open(path, STORE_CREATE);
	assert_non_null(d->store);
	assert_int_equal(store_repo_add(d->store, "r", "/srv/lua", NULL), 0);
	assert_int_equal(store_group_add(d->store,
					 &(struct store_group){
					     .name = "g",
					     .repo_name = "r",
					     .lua_version = 51,
					 }),
			 0);
	assert_int_equal(store_chip_add(d->store, "c1", "g", "s", NULL), 0);
	d->stats.checkins = 3;
	d->stats.open = 2;
	d->history_queued = 4;
	d->history_unqueued = 1;
	metrics_session_end(&d->metrics, STORE_OUTCOME_CURRENT, NULL, 4, 2);
	metrics_session_end(&d->metrics, STORE_OUTCOME_UPDATED, NULL, 700, 3);
	metrics_session_end(&d->metrics, STORE_OUTCOME_FAILED,
			    "device timed out", 60000, -1);
	assert_int_equal(metrics_render(d, out), 0);
	text = text_of(out);
	assert_non_null(strstr(text, "\nluaotad_checkins_total 3\n"));
	assert_non_null(strstr(text, "\nluaotad_sessions_open 2\n"));
	assert_non_null(strstr(text, "\nluaotad_history_queue_length 5\n"));
	assert_non_null(strstr(
	    text, "luaotad_failures_total{reason=\"device_timed_out\"} 1\n"));
	assert_non_null(
	    strstr(text, "luaotad_sessions_total{outcome=\"updated\"} 1\n"));
	/* Buckets are cumulative; +Inf is the count, past the last bound. */
	assert_non_null(strstr(
	    text, "luaotad_session_duration_seconds_bucket{le=\"0.005\"} 1\n"));
	assert_non_null(strstr(
	    text, "luaotad_session_duration_seconds_bucket{le=\"1\"} 2\n"));
	assert_non_null(strstr(
	    text, "luaotad_session_duration_seconds_bucket{le=\"30\"} 2\n"));
	assert_non_null(strstr(
	    text, "luaotad_session_duration_seconds_bucket{le=\"+Inf\"} 3\n"));
	assert_non_null(
	    strstr(text, "luaotad_session_duration_seconds_count 3\n"));
	assert_non_null(
	    strstr(text, "luaotad_session_duration_seconds_sum 60.704000\n"));
	/* The failed session never answered: no latency for it. */
	assert_non_null(
	    strstr(text, "luaotad_checkin_latency_seconds_count 2\n"));
	assert_non_null(
	    strstr(text, "luaotad_chips{last_outcome=\"never\"} 1\n"));
	assert_non_null(
	    strstr(text, "luaotad_rollouts{state=\"running\"} 0\n"));
	/* Every sample line belongs to a family announced before it. */
	assert_null(strstr(text, "c1"));
	free(text);
	evbuffer_free(out);
	store_close(d->store);
	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	assert_int_equal(system(path), 0);
	free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(reasons_become_classes),
		cmocka_unit_test(reason_labels_are_bounded),
		cmocka_unit_test(exposition_adds_up),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
