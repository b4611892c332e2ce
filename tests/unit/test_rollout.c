/*
 * policy/rollout.c: waves, positions and the health judgement, on crafted
 * histories; and its tracker, which must judge as rollout_assess does
 * while reading only new sessions (on a real store).
 */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "scratch.h"

#include "db/store.h"
#include "policy/rollout.h"

#define T0 1700000000000LL /* the rollout's start, Unix ms */

static void amounts_parse(void **state)
{
	struct rollout_amount a;

	(void)state;
	assert_int_equal(rollout_amount_parse("20", &a), 0);
	assert_int_equal(a.value, 20);
	assert_false(a.pct);
	assert_int_equal(rollout_amount_parse("10%", &a), 0);
	assert_int_equal(a.value, 10);
	assert_true(a.pct);
	assert_int_equal(rollout_amount_parse("100%", &a), 0);
	const char *bad[] = {
		"", "x", "-1", "101%", "10%%", "10 %", "1e3", "%"
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(rollout_amount_parse(bad[i], &a), -1);
	a = (struct rollout_amount){ 10, 1 };
	assert_int_equal(rollout_amount_of(&a, 200), 20);
	assert_int_equal(rollout_amount_of(&a, 3), 1); /* rounds up */
	a = (struct rollout_amount){ 50, 0 };
	assert_int_equal(rollout_amount_of(&a, 20), 20);
}

static void wave_specs(void **state)
{
	struct rollout_waves_spec spec;
	char why[256];

	(void)state;
	assert_int_equal(
	    rollout_waves_spec_parse("5", "25%,100%", &spec, why, sizeof(why)),
	    0);
	assert_int_equal(spec.nwaves, 3);
	assert_int_equal(
	    rollout_waves_spec_parse(NULL, "10%,50%", &spec, why, sizeof(why)),
	    -1);
	assert_non_null(strstr(why, "100%"));
	assert_int_equal(rollout_waves_spec_parse(NULL, "50%,10%,100%", &spec,
						  why, sizeof(why)),
			 -1);
	assert_non_null(strstr(why, "grow"));
	assert_int_equal(
	    rollout_waves_spec_parse("0", "100%", &spec, why, sizeof(why)), -1);
}

static char **fleet(size_t n)
{
	char **ids = calloc(n, sizeof(*ids));

	assert_non_null(ids);
	for (size_t i = 0; i < n; i++) {
		ids[i] = malloc(16);
		assert_non_null(ids[i]);
		snprintf(ids[i], 16, "%zu", 100000 + i);
	}
	return ids;
}

static void fleet_free(char **ids, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
}

/* The canary is exactly N chips, the smallest positions; waves nest. */
static void waves_plan_exact_counts(void **state)
{
	struct rollout_waves_spec spec;
	int64_t bounds[ROLLOUT_WAVES_MAX];
	size_t n = 200, nb, counts[3] = { 0 }, i;
	char **ids = fleet(n), why[128], *text;
	uint32_t max_canary = 0, min_rest = UINT32_MAX;

	(void)state;
	assert_int_equal(
	    rollout_waves_spec_parse("5", "25%,100%", &spec, why, sizeof(why)),
	    0);
	assert_int_equal(rollout_waves_plan(7, ids, n, &spec, &text), 0);
	assert_int_equal(rollout_waves_parse(text, bounds, &nb), 0);
	assert_int_equal(nb, 3);
	assert_int_equal(bounds[2], ROLLOUT_POSITION_END);
	for (i = 0; i < n; i++) {
		uint32_t pos = rollout_position(7, ids[i]);
		size_t w = rollout_wave_of(bounds, nb, pos);

		assert_true(w < 3);
		counts[w]++;
		if (w == 0 && pos > max_canary)
			max_canary = pos;
		if (w > 0 && pos < min_rest)
			min_rest = pos;
	}
	assert_int_equal(counts[0], 5);
	assert_int_equal(counts[1], 45);
	assert_int_equal(counts[2], 150);
	assert_true(max_canary < min_rest);
	/* Another rollout draws other chips. */
	assert_int_not_equal(rollout_position(7, ids[0]),
			     rollout_position(8, ids[0]));
	free(text);
	fleet_free(ids, n);
	assert_int_equal(rollout_waves_parse("5,3,4294967296", bounds, &nb),
			 -1);
	assert_int_equal(rollout_waves_parse("5,10", bounds, &nb), -1);
	assert_int_equal(rollout_waves_parse("", bounds, &nb), -1);
}

static struct store_rollout rollout_of(const char *waves)
{
	return (struct store_rollout){
		.id = 1,
		.from_revision = "old",
		.to_revision = "new",
		.state = STORE_ROLLOUT_RUNNING,
		.waves = (char *)waves,
		.max_failures = 1,
		.soak = 60,
		.deadline = 300,
		.loop_checkins = 3,
		.loop_window = 60,
		.started_ms = T0,
		.wave_started_ms = T0,
	};
}

static struct store_session at(const char *chip, int64_t s,
			       enum store_outcome o, const char *rev)
{
	return (struct store_session){
		.chip_id = (char *)chip,
		.started_ms = T0 + s * 1000,
		.ended_ms = T0 + s * 1000 + 100,
		.outcome = o,
		.revision = (char *)rev,
	};
}

static const struct rollout_chip *chip(const struct rollout_report *rep,
				       const char *id)
{
	for (size_t i = 0; i < rep->nchips; i++)
		if (strcmp(rep->chips[i].id, id) == 0)
			return &rep->chips[i];
	fail_msg("no chip %s", id);
	return NULL;
}

/* What each kind of history makes of a chip, all in the one wave. */
static void health_from_history(void **state)
{
	char *ids[] = { "a", "b", "c", "d", "e", "f" };
	struct store_rollout r = rollout_of("4294967296");
	struct store_session s[] = {
		/* a: updated, back once: soaking, then healthy */
		at("a", 1, STORE_OUTCOME_UPDATED, "new"),
		at("a", 3, STORE_OUTCOME_CURRENT, "new"),
		/* b: three check-ins within the loop window */
		at("b", 1, STORE_OUTCOME_UPDATED, "new"),
		at("b", 2, STORE_OUTCOME_CURRENT, "new"),
		at("b", 3, STORE_OUTCOME_CURRENT, "new"),
		at("b", 4, STORE_OUTCOME_CURRENT, "new"),
		/* c: updated, never back */
		at("c", 1, STORE_OUTCOME_UPDATED, "new"),
		/* d: its update session failed */
		at("d", 1, STORE_OUTCOME_FAILED, "new"),
		/* e: checks in on the old revision only: waiting */
		at("e", 1, STORE_OUTCOME_CURRENT, "old"),
		/* f: held the new one already */
		at("f", 5, STORE_OUTCOME_CURRENT, "new"),
	};
	struct rollout_report rep;
	size_t n = sizeof(s) / sizeof(s[0]);

	(void)state;
	assert_int_equal(rollout_evaluate(&r, ids, 6, s, n, T0 + 10000, &rep),
			 0);
	assert_int_equal(chip(&rep, "a")->state, ROLLOUT_CHIP_SOAKING);
	assert_int_equal(chip(&rep, "b")->state, ROLLOUT_CHIP_FAILED);
	assert_non_null(strstr(chip(&rep, "b")->reason, "reboot loop"));
	assert_int_equal(chip(&rep, "c")->state, ROLLOUT_CHIP_SOAKING);
	assert_int_equal(chip(&rep, "d")->state, ROLLOUT_CHIP_FAILED);
	assert_int_equal(chip(&rep, "e")->state, ROLLOUT_CHIP_WAITING);
	assert_int_equal(rep.failed, 2);
	assert_int_equal(rep.verdict, ROLLOUT_HALT); /* 2 > max 1 */
	assert_non_null(strstr(rep.reason, "2 of 6 chips failed"));
	rollout_report_free(&rep);

	/* Later: a is healthy; c missed its deadline. */
	r.max_failures = 10;
	assert_int_equal(
	    rollout_evaluate(&r, ids, 6, s, n, T0 + 400 * 1000, &rep), 0);
	assert_int_equal(chip(&rep, "a")->state, ROLLOUT_CHIP_HEALTHY);
	assert_int_equal(chip(&rep, "f")->state, ROLLOUT_CHIP_HEALTHY);
	assert_int_equal(chip(&rep, "c")->state, ROLLOUT_CHIP_FAILED);
	assert_non_null(strstr(chip(&rep, "c")->reason, "did not check in"));
	/* e still waits: the wave does not advance. */
	assert_int_equal(rep.verdict, ROLLOUT_HOLD);
	assert_int_equal(rep.waves[0].waiting, 1);
	rollout_report_free(&rep);
}

/*
 * A device that reboots the moment it has its files checks in before the
 * daemon closed the update session: that check-in is its return all the
 * same, and it turns healthy after the soak (it used to soak until its
 * deadline and fail).
 */
static void quick_reboot_comes_back(void **state)
{
	char *ids[] = { "a" };
	struct store_rollout r = rollout_of("4294967296");
	struct store_session s[] = {
		at("a", 1, STORE_OUTCOME_UPDATED, "new"),
		at("a", 1, STORE_OUTCOME_CURRENT, "new"),
	};
	struct rollout_report rep;

	(void)state;
	s[0].ended_ms = s[0].started_ms + 20;
	s[1].started_ms = s[0].started_ms + 15; /* before the update ended */
	assert_int_equal(
	    rollout_evaluate(&r, ids, 1, s, 2, T0 + 120 * 1000, &rep), 0);
	assert_int_equal(chip(&rep, "a")->state, ROLLOUT_CHIP_HEALTHY);
	rollout_report_free(&rep);
}

/* A wave advances once all its chips are settled and it soaked. */
static void waves_advance_and_complete(void **state)
{
	char *ids[] = { "a", "b" };
	int b_first = rollout_position(1, "b") < rollout_position(1, "a");
	const char *first = b_first ? "b" : "a", *second = b_first ? "a" : "b";
	struct store_rollout r;
	struct store_session s[] = {
		at(first, 1, STORE_OUTCOME_UPDATED, "new"),
		at(first, 2, STORE_OUTCOME_CURRENT, "new"),
		at(second, 71, STORE_OUTCOME_UPDATED, "new"),
		at(second, 72, STORE_OUTCOME_CURRENT, "new"),
	};
	struct rollout_report rep;
	char text[64];

	(void)state;
	/* The first wave holds the chip of the lower position alone. */
	snprintf(text, sizeof(text), "%" PRIu32 ",4294967296",
		 rollout_position(1, first) + 1);
	r = rollout_of(text);
	assert_int_equal(rollout_evaluate(&r, ids, 2, s, 2, T0 + 30000, &rep),
			 0);
	assert_int_equal(chip(&rep, first)->wave, 0);
	assert_int_equal(chip(&rep, second)->wave, 1);
	assert_int_equal(rep.verdict, ROLLOUT_HOLD); /* still soaking */
	rollout_report_free(&rep);
	assert_int_equal(rollout_evaluate(&r, ids, 2, s, 2, T0 + 70000, &rep),
			 0);
	assert_int_equal(rep.verdict, ROLLOUT_ADVANCE);
	assert_int_equal(rep.served, 1);
	rollout_report_free(&rep);
	r.state = STORE_ROLLOUT_PAUSED;
	assert_int_equal(rollout_evaluate(&r, ids, 2, s, 2, T0 + 70000, &rep),
			 0);
	assert_int_equal(rep.verdict, ROLLOUT_HOLD);
	rollout_report_free(&rep);
	r.state = STORE_ROLLOUT_RUNNING;
	r.wave = 1;
	r.wave_started_ms = T0 + 70000;
	assert_int_equal(rollout_evaluate(&r, ids, 2, s, 4, T0 + 100000, &rep),
			 0);
	assert_int_equal(rep.verdict, ROLLOUT_HOLD); /* second soaks */
	rollout_report_free(&rep);
	assert_int_equal(rollout_evaluate(&r, ids, 2, s, 4, T0 + 140000, &rep),
			 0);
	assert_int_equal(rep.verdict, ROLLOUT_COMPLETE);
	rollout_report_free(&rep);
}

struct fixture {
	char dir[256];
	char path[300];
	struct store *st;
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	assert_int_equal(
	    scratch_dir("luaota-rollout", 1, fx->dir, sizeof(fx->dir)), 0);
	snprintf(fx->path, sizeof(fx->path), "%s/luaota.db", fx->dir);
	fx->st = store_open(fx->path, STORE_CREATE);
	assert_non_null(fx->st);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	const char *suffixes[] = { "", "-wal", "-shm" };
	char name[320];

	store_close(fx->st);
	for (size_t i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "%s%s", fx->path, suffixes[i]);
		unlink(name);
	}
	assert_int_equal(rmdir(fx->dir), 0);
	free(fx);
	return 0;
}

static int all_in_first_wave(struct store *st, int64_t id, void *arg,
			     char **waves)
{
	(void)st;
	(void)id;
	(void)arg;
	*waves = strdup("4294967296");
	return *waves != NULL ? 0 : -1;
}

/* Writes one ended session; returns its id. */
static int64_t session(struct store *st, const char *chip, int64_t s,
		       enum store_outcome o, const char *rev)
{
	int64_t id;

	assert_int_equal(
	    store_session_begin(st, chip, "127.0.0.1:1", T0 + s * 1000, &id),
	    0);
	if (o != STORE_OUTCOME_STARTED)
		assert_int_equal(store_session_end(st, id, o, NULL, rev, 0, 0,
						   T0 + s * 1000 + 100),
				 0);
	return id;
}

static void same_judgement(struct store *st, const struct store_rollout *r,
			   const struct rollout_report *tracked, int64_t now)
{
	struct rollout_report full;

	assert_int_equal(rollout_assess(st, r, now, &full), 0);
	assert_int_equal(full.nchips, tracked->nchips);
	for (size_t i = 0; i < full.nchips; i++) {
		assert_string_equal(full.chips[i].id, tracked->chips[i].id);
		assert_int_equal(full.chips[i].state, tracked->chips[i].state);
	}
	assert_int_equal(full.verdict, tracked->verdict);
	rollout_report_free(&full);
}

/* The tracker reads only new sessions, open ones again once they end. */
static void tracker_judges_as_a_full_look(void **state)
{
	struct fixture *fx = *state;
	struct store_group g = { .name = "g", .repo_name = "r" };
	struct store_rollout r = { 0 }, got;
	const struct rollout_report *rep;
	struct rollout_tracker *t;
	int64_t id, open_id;
	const char *chips[] = { "1", "2", "3", "4" };

	assert_int_equal(store_repo_add(fx->st, "r", "/srv", NULL), 0);
	assert_int_equal(store_group_add(fx->st, &g), 0);
	for (size_t i = 0; i < 4; i++)
		assert_int_equal(
		    store_chip_add(fx->st, chips[i], "g", "secret", NULL), 0);
	assert_int_equal(store_group_get(fx->st, "g", &g), 0);
	r = rollout_of("");
	r.group_id = g.id;
	r.plan = "100%";
	r.max_failures = 10;
	assert_int_equal(
	    store_rollout_add(fx->st, &r, all_in_first_wave, NULL, &id), 0);
	assert_int_equal(store_rollout_get(fx->st, id, &got), 0);
	assert_string_equal(got.waves, "4294967296");

	session(fx->st, "1", 1, STORE_OUTCOME_UPDATED, "new");
	open_id = session(fx->st, "2", 1, STORE_OUTCOME_STARTED, NULL);
	t = rollout_tracker_new(fx->st, &got);
	assert_non_null(t);
	assert_int_equal(
	    rollout_tracker_update(t, fx->st, &got, T0 + 5000, &rep), 0);
	same_judgement(fx->st, &got, rep, T0 + 5000);

	/* New rows: a loop on 1, chip 2's update ends, 3 fails, 4 waits. */
	session(fx->st, "1", 2, STORE_OUTCOME_CURRENT, "new");
	session(fx->st, "1", 3, STORE_OUTCOME_CURRENT, "new");
	session(fx->st, "1", 4, STORE_OUTCOME_CURRENT, "new");
	assert_int_equal(store_session_end(fx->st, open_id,
					   STORE_OUTCOME_UPDATED, NULL, "new",
					   0, 0, T0 + 2000),
			 0);
	session(fx->st, "2", 5, STORE_OUTCOME_CURRENT, "new");
	session(fx->st, "3", 5, STORE_OUTCOME_INTERRUPTED, "new");
	session(fx->st, "4", 5, STORE_OUTCOME_CURRENT, "old");
	assert_int_equal(
	    rollout_tracker_update(t, fx->st, &got, T0 + 10000, &rep), 0);
	same_judgement(fx->st, &got, rep, T0 + 10000);
	assert_int_equal(rep->chips[0].state, ROLLOUT_CHIP_FAILED);
	assert_int_equal(rep->chips[1].state, ROLLOUT_CHIP_SOAKING);
	assert_int_equal(rep->chips[2].state, ROLLOUT_CHIP_FAILED);
	assert_int_equal(rep->chips[3].state, ROLLOUT_CHIP_WAITING);

	/* Time alone: 2 soaked. */
	assert_int_equal(
	    rollout_tracker_update(t, fx->st, &got, T0 + 100000, &rep), 0);
	same_judgement(fx->st, &got, rep, T0 + 100000);
	assert_int_equal(rep->chips[1].state, ROLLOUT_CHIP_HEALTHY);

	/* Moves are conditional: a stale one is refused. */
	assert_int_equal(store_rollout_move(fx->st, id, STORE_ROLLOUT_RUNNING,
					    0, STORE_ROLLOUT_HALTED, 0,
					    "too many", T0 + 100000),
			 0);
	assert_int_equal(store_rollout_move(fx->st, id, STORE_ROLLOUT_RUNNING,
					    0, STORE_ROLLOUT_DONE, 0, NULL,
					    T0 + 100000),
			 STORE_NOTFOUND);
	store_group_free(&g);
	assert_int_equal(store_group_get(fx->st, "g", &g), 0);
	assert_string_equal(g.release, "old"); /* halted: back to from */
	assert_int_equal(store_rollout_active(fx->st, g.id, &r),
			 STORE_NOTFOUND);
	store_group_free(&g);
	store_rollout_free(&got);
	rollout_tracker_free(t);
}

/* Snapshots keep bytes (empty files too) and keep the first copy. */
static void snapshots_round_trip(void **state)
{
	struct fixture *fx = *state;
	struct store_group g = { .name = "g", .repo_name = "r" };
	struct store_snapshot_file files[] = {
		{ "init.lua", (uint8_t *)"print(1)", 8 },
		{ "empty.txt", NULL, 0 },
	}, *got;
	size_t n;

	assert_int_equal(store_repo_add(fx->st, "r", "/srv", NULL), 0);
	assert_int_equal(store_group_add(fx->st, &g), 0);
	assert_int_equal(store_group_get(fx->st, "g", &g), 0);
	assert_int_equal(store_snapshot_get(fx->st, g.id, "dir:1", &got, &n),
			 STORE_NOTFOUND);
	assert_int_equal(store_snapshot_add(fx->st, g.id, "dir:1", files, 2),
			 0);
	files[0].data = (uint8_t *)"changed!";
	assert_int_equal(store_snapshot_add(fx->st, g.id, "dir:1", files, 2),
			 0);
	assert_int_equal(store_snapshot_get(fx->st, g.id, "dir:1", &got, &n),
			 0);
	assert_int_equal(n, 2);
	assert_string_equal(got[0].name, "init.lua");
	assert_memory_equal(got[0].data, "print(1)", 8);
	assert_int_equal(got[1].len, 0);
	store_snapshot_free(got, n);
	assert_int_equal(store_group_set_release(fx->st, "g", "dir:1"), 0);
	assert_int_equal(store_group_set_release(fx->st, "nope", "dir:1"),
			 STORE_NOTFOUND);
	store_group_free(&g);
	assert_int_equal(store_group_get(fx->st, "g", &g), 0);
	assert_string_equal(g.release, "dir:1");
	store_group_free(&g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(amounts_parse),
		cmocka_unit_test(wave_specs),
		cmocka_unit_test(waves_plan_exact_counts),
		cmocka_unit_test(health_from_history),
		cmocka_unit_test(quick_reboot_comes_back),
		cmocka_unit_test(waves_advance_and_complete),
		cmocka_unit_test_setup_teardown(tracker_judges_as_a_full_look,
						setup, teardown),
		cmocka_unit_test_setup_teardown(snapshots_round_trip, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
