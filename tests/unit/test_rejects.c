/* daemon/rejects.c: a row for the first rejection of a window, the rest
 * summed up, more addresses than the table holds, nothing unrecorded. */
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

#include "daemon/daemon.h"
#include "daemon/log.h"
#include "daemon/rejects.h"
#include "db/store.h"
#include "scratch.h"

struct fixture {
	char dir[256];
	char path[300];
	struct daemon d;
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	assert_int_equal(
	    scratch_dir("luaota-rejects", 1, fx->dir, sizeof(fx->dir)), 0);
	snprintf(fx->path, sizeof(fx->path), "%s/luaota.db", fx->dir);
	assert_non_null(fx->d.store = store_open(fx->path, STORE_CREATE));
	assert_non_null(fx->d.base = event_base_new());
	assert_int_equal(history_init(&fx->d), 0);
	assert_non_null(fx->d.rejects = rejects_new());
	fx->d.conf.rejection_window_ms = 60000;
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	char name[320];

	rejects_free(&fx->d);
	history_shutdown(&fx->d);
	store_close(fx->d.store);
	event_base_free(fx->d.base);
	snprintf(name, sizeof(name), "%s-wal", fx->path);
	unlink(name);
	snprintf(name, sizeof(name), "%s-shm", fx->path);
	unlink(name);
	unlink(fx->path);
	assert_int_equal(rmdir(fx->dir), 0);
	free(fx);
	return 0;
}

/* The rejections the history records for reason, and in how many rows. */
static void recorded(struct fixture *fx, const char *reason, size_t *rows,
		     unsigned long *total)
{
	struct store_session *list;
	size_t n, i, len = strlen(reason);

	*rows = 0;
	*total = 0;
	assert_int_equal(store_session_list(fx->d.store, NULL, 0, &list, &n),
			 0);
	for (i = 0; i < n; i++) {
		const char *r = list[i].reason;
		unsigned long count;

		assert_int_equal(list[i].outcome, STORE_OUTCOME_REJECTED);
		if (strcmp(r, reason) == 0) {
			count = 1;
		} else if (strncmp(r, reason, len) == 0 &&
			   sscanf(r + len, " (%lu similar rejections",
				  &count) == 1) {
			assert_non_null(strstr(r, " suppressed)"));
		} else {
			continue;
		}
		(*rows)++;
		*total += count;
	}
	store_session_list_free(list, n);
}

/* What session_close does with a rejection: absorbed, or a row. */
static void reject(struct fixture *fx, const char *addr, const char *chip,
		   const char *reason)
{
	static unsigned port = 1024;
	struct history_record *rec;
	char peer[48];

	if (rejects_absorb(&fx->d, addr, chip, reason))
		return;
	assert_non_null(rec = calloc(1, sizeof(*rec)));
	snprintf(peer, sizeof(peer), "%s:%u", addr, port++);
	rec->chip_id = chip != NULL ? strdup(chip) : NULL;
	rec->peer = strdup(peer);
	rec->started_ms = rec->ended_ms = daemon_wall_ms();
	rec->outcome = STORE_OUTCOME_REJECTED;
	rec->reason = strdup(reason);
	history_submit(&fx->d, rec);
}

static void first_gets_a_row_the_rest_one_summary(void **state)
{
	struct fixture *fx = *state;
	size_t rows;
	unsigned long total;
	int i;

	for (i = 0; i < 1000; i++)
		reject(fx, "192.0.2.7", "c1", "bad signature");
	reject(fx, "192.0.2.8", "c1", "bad signature");
	for (i = 0; i < 10; i++)
		reject(fx, "192.0.2.7", NULL, "unknown chip");
	recorded(fx, "bad signature", &rows, &total);
	assert_int_equal(rows, 2); /* one per address, summaries to come */
	rejects_flush(&fx->d, 0);  /* the window has not ended */
	recorded(fx, "bad signature", &rows, &total);
	assert_int_equal(rows, 2);
	rejects_flush(&fx->d, 1);
	recorded(fx, "bad signature", &rows, &total);
	assert_int_equal(rows, 3);
	assert_int_equal(total, 1001);
	recorded(fx, "unknown chip", &rows, &total);
	assert_int_equal(rows, 2);
	assert_int_equal(total, 10);
}

static void more_addresses_than_the_table(void **state)
{
	struct fixture *fx = *state;
	char addr[32];
	size_t rows;
	unsigned long total;
	int i, k;

	for (k = 0; k < 3; k++) {
		for (i = 0; i < 1000; i++) {
			snprintf(addr, sizeof(addr), "10.0.%d.%d", i / 250,
				 i % 250);
			reject(fx, addr, NULL, "malformed first record: x");
		}
	}
	rejects_free(&fx->d);
	recorded(fx, "malformed first record: x", &rows, &total);
	assert_int_equal(total, 3000);
	/* Rows: a first one and a summary per address in the table (7/8 of
	 * it), and for the other addresses together. */
	assert_int_equal(
	    rows, 2 * (LUAOTAD_REJECT_KEYS - LUAOTAD_REJECT_KEYS / 8) + 2);
}

static void window_zero_gives_every_rejection_a_row(void **state)
{
	struct fixture *fx = *state;
	size_t rows;
	unsigned long total;
	int i;

	fx->d.conf.rejection_window_ms = 0;
	for (i = 0; i < 5; i++)
		reject(fx, "192.0.2.7", "c1", "bad signature");
	recorded(fx, "bad signature", &rows, &total);
	assert_int_equal(rows, 5);
	assert_int_equal(total, 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    first_gets_a_row_the_rest_one_summary, setup, teardown),
		cmocka_unit_test_setup_teardown(more_addresses_than_the_table,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
		    window_zero_gives_every_rejection_a_row, setup, teardown),
	};

	log_init(0, LOG_LEVEL_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
