/* daemon/ratelimit.c: bursts, windows, independent keys, a full table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "daemon/limits.h"
#include "daemon/log.h"
#include "daemon/ratelimit.h"

static int reset(void **state)
{
	(void)state;
	ratelimit_reset();
	return 0;
}

static void burst_then_suppressed_then_next_window(void **state)
{
	int64_t t = 1000;
	int i;

	(void)state;
	for (i = 0; i < LUAOTAD_WARN_BURST; i++)
		assert_true(ratelimit_allow("bad signature", t + i));
	for (i = 0; i < 1000; i++)
		assert_false(ratelimit_allow("bad signature", t + 10));
	assert_false(
	    ratelimit_allow("bad signature", t + LUAOTAD_WARN_WINDOW_MS - 1));
	assert_true(
	    ratelimit_allow("bad signature", t + LUAOTAD_WARN_WINDOW_MS));
}

static void keys_are_independent(void **state)
{
	int i;

	(void)state;
	for (i = 0; i < LUAOTAD_WARN_BURST; i++)
		assert_true(ratelimit_allow("a", 5));
	assert_false(ratelimit_allow("a", 5));
	assert_true(ratelimit_allow("b", 5));
}

static void report_frees_idle_keys(void **state)
{
	int i;

	(void)state;
	for (i = 0; i <= LUAOTAD_WARN_BURST; i++)
		ratelimit_allow("k", 100);
	ratelimit_report(100 + LUAOTAD_WARN_WINDOW_MS);
	assert_true(ratelimit_allow("k", 100 + LUAOTAD_WARN_WINDOW_MS));
}

static void more_keys_than_slots(void **state)
{
	char key[32];
	int i;

	(void)state;
	/* A new key always gets its burst: the oldest slot is reused. */
	for (i = 0; i < 4 * LUAOTAD_WARN_KEYS; i++) {
		snprintf(key, sizeof(key), "key-%d", i);
		assert_true(ratelimit_allow(key, 1 + i));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(burst_then_suppressed_then_next_window,
				       reset),
		cmocka_unit_test_setup(keys_are_independent, reset),
		cmocka_unit_test_setup(report_frees_idle_keys, reset),
		cmocka_unit_test_setup(more_keys_than_slots, reset),
	};

	log_init(0, LOG_LEVEL_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
