/*
 * daemon/history.c with its spool, built with a queue of 4 rows: rows
 * over the cap wait in the spool and are written once the database takes
 * them again; a live session's spooled start is no row; a start left by a
 * stopped daemon becomes an interrupted row.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>
#include <sqlite3.h>

#include "daemon/daemon.h"
#include "daemon/log.h"
#include "daemon/spool.h"
#include "db/store.h"
#include "scratch.h"

typedef char queue_is_small[LUAOTAD_HISTORY_QUEUE_MAX == 4 ? 1 : -1];

struct fixture {
	char dir[256];
	char db[300];
	char spool[310];
	struct daemon d;
	sqlite3 *holder; /* another writer, holding the lock */
};

static void start(struct fixture *fx)
{
	memset(&fx->d, 0, sizeof(fx->d));
	assert_non_null(fx->d.store = store_open(fx->db, STORE_CREATE));
	store_set_busy_timeout(fx->d.store, 0);
	assert_non_null(fx->d.base = event_base_new());
	assert_int_equal(history_init(&fx->d), 0);
	history_spool_open(&fx->d, fx->spool);
	assert_non_null(fx->d.spool);
}

static void stop(struct fixture *fx)
{
	history_shutdown(&fx->d);
	store_close(fx->d.store);
	event_base_free(fx->d.base);
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	assert_int_equal(
	    scratch_dir("luaota-history", 1, fx->dir, sizeof(fx->dir)), 0);
	snprintf(fx->db, sizeof(fx->db), "%s/luaota.db", fx->dir);
	snprintf(fx->spool, sizeof(fx->spool), "%s.spool", fx->db);
	start(fx);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	const char *suffixes[] = { "", "-wal", "-shm", "-journal", ".spool" };
	char name[330];
	size_t i;

	stop(fx);
	for (i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		snprintf(name, sizeof(name), "%s%s", fx->db, suffixes[i]);
		unlink(name);
	}
	assert_int_equal(rmdir(fx->dir), 0);
	free(fx);
	return 0;
}

static void lock(struct fixture *fx)
{
	assert_int_equal(sqlite3_open(fx->db, &fx->holder), SQLITE_OK);
	assert_int_equal(
	    sqlite3_exec(fx->holder, "BEGIN IMMEDIATE", NULL, NULL, NULL),
	    SQLITE_OK);
}

static void unlock(struct fixture *fx)
{
	assert_int_equal(sqlite3_exec(fx->holder, "COMMIT", NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(fx->holder);
}

/* A finished (or, with STARTED, only begun) session from port. */
static struct history_record *session(unsigned port, enum store_outcome o)
{
	struct history_record *rec = calloc(1, sizeof(*rec));
	char peer[32];

	assert_non_null(rec);
	snprintf(peer, sizeof(peer), "192.0.2.1:%u", port);
	rec->peer = strdup(peer);
	rec->started_ms = 1700000000000 + port;
	rec->ended_ms = rec->started_ms + 5;
	rec->outcome = o;
	return rec;
}

/* Rows in the history, and how many of them are interrupted. */
static size_t rows(struct fixture *fx, size_t *interrupted)
{
	struct store_session *list;
	size_t n, i;

	assert_int_equal(store_session_list(fx->d.store, NULL, 0, &list, &n),
			 0);
	*interrupted = 0;
	for (i = 0; i < n; i++)
		*interrupted += list[i].outcome == STORE_OUTCOME_INTERRUPTED;
	store_session_list_free(list, n);
	return n;
}

static void run_until_written(struct fixture *fx)
{
	int turns = 0;

	while (history_backlog(&fx->d)) {
		assert_true(turns++ < 100);
		event_base_loop(fx->d.base, EVLOOP_ONCE);
	}
}

static void rows_over_the_cap_wait_in_the_spool(void **state)
{
	struct fixture *fx = *state;
	struct history_record *live = calloc(1, sizeof(*live));
	size_t interrupted;
	unsigned i;

	lock(fx);
	/* A session still under way whose row could not be opened. */
	history_note_begin(&fx->d, live, NULL, "192.0.2.1:999", 1700000000999);
	assert_int_equal(fx->d.history_begun, 1);
	for (i = 0; i < 10; i++)
		history_submit(&fx->d, session(i, STORE_OUTCOME_REJECTED));
	assert_int_equal(fx->d.history_queued, 4);
	assert_int_equal(fx->d.history_unqueued, 6);
	unlock(fx);
	run_until_written(fx);
	/* Every row, and none for the session still under way. */
	assert_int_equal(rows(fx, &interrupted), 10);
	assert_int_equal(interrupted, 0);
	assert_false(spool_empty(fx->d.spool)); /* its start is still there */
	free(live->peer);
	live->peer = strdup("192.0.2.1:999");
	live->started_ms = 1700000000999;
	live->ended_ms = live->started_ms + 1;
	live->outcome = STORE_OUTCOME_FAILED;
	history_submit(&fx->d, live);
	assert_int_equal(rows(fx, &interrupted), 11);
	assert_true(spool_empty(fx->d.spool));
}

static void a_restart_writes_what_the_spool_holds(void **state)
{
	struct fixture *fx = *state;
	struct history_record *begun = calloc(1, sizeof(*begun));
	size_t interrupted;
	unsigned i;

	lock(fx);
	history_note_begin(&fx->d, begun, NULL, "192.0.2.1:999", 1700000000999);
	for (i = 0; i < 10; i++)
		history_submit(&fx->d, session(i, STORE_OUTCOME_REJECTED));
	/* The daemon stops with everything still refused. */
	history_record_free(begun);
	fx->d.history_begun = 0;
	stop(fx);
	unlock(fx);
	start(fx);
	run_until_written(fx);
	/* Ten rows, and the stopped session as interrupted. */
	assert_int_equal(rows(fx, &interrupted), 11);
	assert_int_equal(interrupted, 1);
	assert_true(spool_empty(fx->d.spool));
	/* Nothing is written twice by another start. */
	stop(fx);
	start(fx);
	assert_int_equal(rows(fx, &interrupted), 11);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    rows_over_the_cap_wait_in_the_spool, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    a_restart_writes_what_the_spool_holds, setup, teardown),
	};

	log_init(0, LOG_LEVEL_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
