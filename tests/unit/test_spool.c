/* daemon/spool.c and history.c's line encoding: lines that round-trip, hostile
 * text kept on one line, torn and foreign lines skipped, truncation. */
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

#include "daemon/history.h"
#include "daemon/log.h"
#include "daemon/spool.h"
#include "scratch.h"

/* A finished session whose texts hold what a peer could put there. */
static struct history_record *sample(void)
{
	struct history_record *rec = calloc(1, sizeof(*rec));
	struct store_session_file f = { "a\nb.lua", "cm", 12, "bad\n\"x\"", 5 };

	assert_non_null(rec);
	rec->id = 42;
	rec->chip_id = strdup("13572468");
	rec->peer = strdup("10.0.0.1:4000");
	rec->seen_addr = strdup("10.0.0.1");
	rec->seen_s = 1700000000;
	rec->started_ms = 1700000000123;
	rec->ended_ms = 1700000000456;
	rec->outcome = STORE_OUTCOME_FAILED;
	rec->reason = strdup("line one\nFORGED event=x \x1b[2J");
	rec->files_sent = 1;
	rec->bytes_sent = 12;
	assert_int_equal(history_add_file(rec, &f), 0);
	return rec;
}

static void same(const struct history_record *a, const struct history_record *b)
{
	assert_int_equal(a->id, b->id);
	assert_string_equal(a->chip_id, b->chip_id);
	assert_string_equal(a->peer, b->peer);
	assert_string_equal(a->seen_addr, b->seen_addr);
	assert_int_equal(a->seen_s, b->seen_s);
	assert_int_equal(a->started_ms, b->started_ms);
	assert_int_equal(a->ended_ms, b->ended_ms);
	assert_int_equal(a->outcome, b->outcome);
	assert_string_equal(a->reason, b->reason);
	assert_null(b->revision);
	assert_int_equal(a->files_sent, b->files_sent);
	assert_int_equal(a->bytes_sent, b->bytes_sent);
	assert_int_equal(a->nfiles, b->nfiles);
	assert_string_equal(a->files[0].name, b->files[0].name);
	assert_string_equal(a->files[0].result, b->files[0].result);
	assert_int_equal(a->files[0].lcsize, b->files[0].lcsize);
}

static void line_round_trips_on_one_line(void **state)
{
	struct history_record *rec = sample(), *back;
	char *line = history_encode(rec);

	(void)state;
	assert_non_null(line);
	assert_null(strchr(line, '\n'));
	back = history_decode(line, strlen(line));
	assert_non_null(back);
	same(rec, back);
	/* Cut anywhere, a line is refused rather than half read. */
	assert_null(history_decode(line, strlen(line) / 2));
	assert_null(history_decode("{\"v\":2}", 7));
	assert_null(history_decode("[1]", 3));
	free(line);
	history_record_free(rec);
	history_record_free(back);
}

struct seen {
	struct history_record *recs[8];
	int n;
};

/* A spool_line_fn keeping the records the lines hold. */
static int collect(const char *line, size_t len, off_t at, void *arg)
{
	struct seen *s = arg;
	struct history_record *rec = history_decode(line, len);

	(void)at;
	if (rec == NULL)
		return SPOOL_FOREIGN;
	assert_true(s->n < 8);
	s->recs[s->n++] = rec;
	return SPOOL_NEXT;
}

/* Appends rec's line to sp. */
static int append(struct spool *sp, const struct history_record *rec)
{
	char *line = history_encode(rec);
	int rc;

	assert_non_null(line);
	rc = spool_append(sp, line, strlen(line));
	free(line);
	return rc;
}

static void torn_and_foreign_lines_are_skipped(void **state)
{
	struct event_base *base = event_base_new();
	struct history_record *rec = sample();
	struct seen seen = { 0 };
	struct spool *sp;
	char dir[256], path[300];
	FILE *fp;
	int i;

	(void)state;
	assert_int_equal(scratch_dir("luaota-spool", 1, dir, sizeof(dir)), 0);
	snprintf(path, sizeof(path), "%s/luaota.db.spool", dir);
	assert_non_null(sp = spool_open(base, path));
	assert_true(spool_empty(sp));
	assert_int_equal(append(sp, rec), 0);
	fp = fopen(path, "a");
	fputs("not json\n", fp);
	fclose(fp);
	spool_close(sp);
	assert_non_null(sp = spool_open(base, path));
	assert_int_equal(append(sp, rec), 0);
	fp = fopen(path, "a");
	fputs("{\"v\":1,\"id\":0,\"chip\":\"1", fp); /* a crash mid-write */
	fclose(fp);
	assert_int_equal(spool_replay(sp, collect, &seen), 2);
	/* The torn tail is cut off: what is appended next reads back. */
	assert_int_equal(append(sp, rec), 0);
	assert_int_equal(spool_replay(sp, collect, &seen), 3);
	assert_int_equal(seen.n, 5);
	for (i = 0; i < seen.n; i++) {
		same(rec, seen.recs[i]);
		history_record_free(seen.recs[i]);
	}
	assert_false(spool_empty(sp));
	assert_int_equal(spool_truncate(sp), 0);
	assert_true(spool_empty(sp));
	seen.n = 0;
	assert_int_equal(spool_replay(sp, collect, &seen), 0);
	spool_close(sp);
	history_record_free(rec);
	unlink(path);
	rmdir(dir);
	event_base_free(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(line_round_trips_on_one_line),
		cmocka_unit_test(torn_and_foreign_lines_are_skipped),
	};

	log_init(0, LOG_LEVEL_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
