/*
 * db/: the store, on SQLite and, with $LUAOTA_TEST_PG set to a database
 * URL (tests/support/pgserver.py), the cases that are not about SQLite's
 * files on PostgreSQL too.  SQLite is used directly here only to play a
 * second process (holding a lock) and to craft foreign files.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "scratch.h"
#include <libpq-fe.h>
#include <sqlite3.h>

#include "db/store.h"
#include "proto/protocol.h"

#define SECRET "s3cr3t-never-shown"

/*
 * Fault injection: SQLite's allocator wrapped so that the Nth allocation
 * from now fails once (SQLite's own tests do the same).  0: off.
 */
static sqlite3_mem_methods real_mem;
static long fail_countdown;
static int fault_hit;

static int fault_due(void)
{
	if (fail_countdown > 0 && --fail_countdown == 0) {
		fault_hit = 1;
		return 1;
	}
	return 0;
}

static void *fault_malloc(int n)
{
	return fault_due() ? NULL : real_mem.xMalloc(n);
}

static void *fault_realloc(void *p, int n)
{
	return fault_due() ? NULL : real_mem.xRealloc(p, n);
}

/* Arms the injector: allocation number n from now fails. */
static void fault_arm(long n)
{
	fail_countdown = n;
	fault_hit = 0;
}

/* Disarms it; fault_hit still says whether it fired. */
static void fault_disarm(void)
{
	fail_countdown = 0;
}

static void fault_install(void)
{
	sqlite3_mem_methods mem;

	assert_int_equal(sqlite3_config(SQLITE_CONFIG_GETMALLOC, &real_mem),
			 SQLITE_OK);
	mem = real_mem;
	mem.xMalloc = fault_malloc;
	mem.xRealloc = fault_realloc;
	assert_int_equal(sqlite3_config(SQLITE_CONFIG_MALLOC, &mem), SQLITE_OK);
}

struct fixture {
	char dir[64];
	char path[512]; /* a file, or a postgresql:// URL */
	struct store *st;
};

/* The PostgreSQL database under test, or NULL: SQLite files. */
static const char *pg_url;

/* Each case starts from an empty PostgreSQL database. */
static int setup_pg(struct fixture *fx)
{
	PGconn *conn = PQconnectdb(pg_url);
	PGresult *res;

	if (PQstatus(conn) != CONNECTION_OK)
		fail_msg("%s: %s", pg_url, PQerrorMessage(conn));
	res = PQexec(conn, "SET client_min_messages = warning; "
			   "DROP SCHEMA public CASCADE; CREATE SCHEMA public");
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		fail_msg("resetting the database: %s",
			 PQresultErrorMessage(res));
	PQclear(res);
	PQfinish(conn);
	snprintf(fx->path, sizeof(fx->path), "%s", pg_url);
	return 0;
}

/* Runs one SQL statement on the PostgreSQL database under test. */
static void pg_exec(const char *sql)
{
	PGconn *conn = PQconnectdb(pg_url);
	PGresult *res = PQexec(conn, sql);

	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		fail_msg("%s: %s", sql, PQresultErrorMessage(res));
	PQclear(res);
	PQfinish(conn);
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	*state = fx;
	if (pg_url != NULL)
		return setup_pg(fx);
	/* A tmpfs when there is one: the fault rounds fsync hundreds of
	 * times, which a busy disk turns into seconds. */
	assert_int_equal(
	    scratch_dir("luaota-store", 1, fx->dir, sizeof(fx->dir)), 0);
	snprintf(fx->path, sizeof(fx->path), "%s/luaota.db", fx->dir);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	const char *suffixes[] = { "", "-wal", "-shm", "-journal",
				   ".template" };
	char name[640];
	size_t i;

	store_close(fx->st);
	if (pg_url != NULL) {
		free(fx);
		return 0;
	}
	for (i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		snprintf(name, sizeof(name), "%s%s", fx->path, suffixes[i]);
		unlink(name);
	}
	assert_int_equal(rmdir(fx->dir), 0);
	free(fx);
	return 0;
}

/* Opens the fixture's store with flags, failing the test on error. */
static struct store *open_ok(struct fixture *fx, int flags)
{
	struct store *st = store_open(fx->path, flags);

	if (st == NULL)
		fail_msg("store_open: %s", store_errmsg(NULL));
	return st;
}

/* A store with one repository "main", group "g" (two files) and chip "c1". */
static void populate(struct fixture *fx)
{
	struct store_group_file files[] = {
		{ .name = "init.lua", .action = STORE_ACTION_AUTO },
		{ .name = "data.txt", .action = STORE_ACTION_DL },
	};
	struct store_group g = {
		.name = "g",
		.repo_name = "main",
		.files = files,
		.nfiles = 2,
		.config_json = "{\"port\":8266}",
		.max_file_size = 4096,
		.lua_version = 53,
	};

	fx->st = open_ok(fx, STORE_CREATE);
	assert_int_equal(store_repo_add(fx->st, "main", "/srv/lua", NULL), 0);
	assert_int_equal(store_group_add(fx->st, &g), 0);
	assert_int_equal(store_chip_add(fx->st, "c1", "g", SECRET, "desk"), 0);
}

/* Runs one SQL statement on a separate connection. */
static void raw_exec(const char *path, const char *sql)
{
	sqlite3 *db;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	sqlite3_close(db);
}

static void create_and_migrate(void **state)
{
	struct fixture *fx = *state;
	sqlite3 *db;
	sqlite3_stmt *s;

	assert_null(store_open(fx->path, 0));
	if (pg_url == NULL)
		assert_non_null(strstr(store_errmsg(NULL), fx->path));
	fx->st = open_ok(fx, STORE_CREATE);
	assert_true(store_schema_latest() >= 1);
	assert_int_equal(store_schema_version(fx->st), store_schema_latest());
	store_close(fx->st);
	fx->st = NULL;
	if (pg_url != NULL) {
		/* Up to date: opened without STORE_CREATE too. */
		fx->st = open_ok(fx, 0);
		assert_int_equal(store_schema_version(fx->st),
				 store_schema_latest());
		return;
	}

	/* The file itself says WAL and carries the version. */
	assert_int_equal(sqlite3_open(fx->path, &db), SQLITE_OK);
	assert_int_equal(
	    sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(s, 0), "wal");
	sqlite3_finalize(s);
	assert_int_equal(
	    sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(s, 0), store_schema_latest());
	sqlite3_finalize(s);
	sqlite3_close(db);

	/* Reopening an up-to-date file without STORE_CREATE works. */
	fx->st = open_ok(fx, 0);
	assert_int_equal(store_schema_version(fx->st), store_schema_latest());
}

static void reopen_keeps_data(void **state)
{
	struct fixture *fx = *state;
	struct store_chip chip;
	struct store_group g;

	populate(fx);
	store_close(fx->st);
	fx->st = open_ok(fx, STORE_CREATE);
	assert_int_equal(store_chip_get(fx->st, "c1", &chip), 0);
	assert_string_equal(chip.id, "c1");
	assert_string_equal(chip.label, "desk");
	assert_string_equal(chip.secret, SECRET);
	assert_string_equal(chip.group_name, "g");
	assert_int_equal(chip.enabled, 1);
	assert_int_equal(chip.protocol, 1);
	assert_true(chip.created > 1600000000);
	assert_int_equal(chip.first_seen, 0);
	assert_null(chip.last_outcome);
	assert_null(chip.chk);
	assert_int_equal(store_group_get(fx->st, "g", &g), 0);
	assert_int_equal(chip.group_id, g.id);
	store_group_free(&g);
	store_chip_free(&chip);
}

static void group_round_trip(void **state)
{
	struct fixture *fx = *state;
	struct store_group g, again;
	struct store_repo r;

	populate(fx);
	assert_int_equal(store_group_get(fx->st, "g", &g), 0);
	assert_string_equal(g.name, "g");
	assert_string_equal(g.repo_name, "main");
	assert_int_equal(g.nfiles, 2);
	assert_string_equal(g.files[0].name, "init.lua");
	assert_int_equal(g.files[0].action, STORE_ACTION_AUTO);
	assert_string_equal(g.files[1].name, "data.txt");
	assert_int_equal(g.files[1].action, STORE_ACTION_DL);
	assert_string_equal(g.config_json, "{\"port\":8266}");
	assert_int_equal(g.max_file_size, 4096);
	assert_int_equal(g.lua_version, 53);
	assert_int_equal(store_group_get_id(fx->st, g.id, &again), 0);
	assert_string_equal(again.name, "g");
	assert_int_equal(again.nfiles, 2);
	store_group_free(&again);

	assert_int_equal(store_repo_get_id(fx->st, g.repo_id, &r), 0);
	assert_string_equal(r.name, "main");
	assert_string_equal(r.path, "/srv/lua");
	assert_null(r.ref);
	store_repo_free(&r);
	store_group_free(&g);

	/* A repository is found by path and ref; NULL ref is the tree. */
	assert_int_equal(store_repo_add(fx->st, "tagged", "/srv/lua", "v1"), 0);
	assert_int_equal(store_repo_find(fx->st, "/srv/lua", "v1", &r), 0);
	assert_string_equal(r.name, "tagged");
	store_repo_free(&r);
	assert_int_equal(store_repo_find(fx->st, "/srv/lua", NULL, &r), 0);
	assert_string_equal(r.name, "main");
	store_repo_free(&r);
	assert_int_equal(store_repo_find(fx->st, "/srv/other", NULL, &r),
			 STORE_NOTFOUND);
}

static void duplicates_exist(void **state)
{
	struct fixture *fx = *state;
	struct store_group_file twice[] = { { .name = "a.lua" },
					    { .name = "a.lua" } };
	struct store_group g = { .name = "g", .repo_name = "main" };
	struct store_group g2 = {
		.name = "g2", .repo_name = "main", .files = twice, .nfiles = 2
	};
	struct store_group lost;

	populate(fx);
	assert_int_equal(store_repo_add(fx->st, "main", "/elsewhere", NULL),
			 STORE_EXISTS);
	assert_int_equal(store_group_add(fx->st, &g), STORE_EXISTS);
	assert_int_equal(store_chip_add(fx->st, "c1", "g", SECRET, NULL),
			 STORE_EXISTS);
	assert_null(strstr(store_errmsg(fx->st), SECRET));
	assert_non_null(strstr(store_errmsg(fx->st), "c1"));
	/* A duplicate file rolls the whole group back. */
	assert_int_equal(store_group_add(fx->st, &g2), STORE_EXISTS);
	assert_int_equal(store_group_get(fx->st, "g2", &lost), STORE_NOTFOUND);
}

#define V2_KEY                                                                 \
	"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

/* A chip's newest release comes back; a counter is never taken twice, and
 * the releases go with their chip. */
static void v2_releases_per_chip(void **state)
{
	struct fixture *fx = *state;
	struct store_v2_release r = { .rc = 1, .manifest = "{\"rc\":1}" }, out;

	populate(fx);
	memset(r.mh, 'a', 64);
	r.mh[64] = '\0';
	assert_int_equal(
	    store_chip_add_v2(fx->st, "c2", "g", SECRET, NULL, V2_KEY), 0);
	assert_int_equal(store_v2_release_latest(fx->st, "c2", &out),
			 STORE_NOTFOUND);
	assert_int_equal(store_v2_release_add(fx->st, "c2", &r), 0);
	r.rc = 2;
	r.manifest = "{\"rc\":2}";
	r.mh[0] = 'b';
	assert_int_equal(store_v2_release_add(fx->st, "c2", &r), 0);
	assert_int_equal(store_v2_release_add(fx->st, "c2", &r), STORE_EXISTS);
	assert_int_equal(store_v2_release_add(fx->st, "nochip", &r),
			 STORE_NOTFOUND);
	assert_int_equal(store_v2_release_latest(fx->st, "c2", &out), 0);
	assert_int_equal(out.rc, 2);
	assert_string_equal(out.mh, r.mh);
	assert_string_equal(out.manifest, "{\"rc\":2}");
	store_v2_release_free(&out);
	assert_int_equal(store_chip_remove(fx->st, "c2"), 0);
	assert_int_equal(store_v2_release_latest(fx->st, "c2", &out),
			 STORE_NOTFOUND);
}

/* A v2 chip keeps its key apart from its legacy secret; the downgrade
 * flag is set only for v2 chips, once, and read back. */
static void v2_chip_key_and_downgrade_flag(void **state)
{
	struct fixture *fx = *state;
	struct store_chip chip;

	populate(fx);
	assert_int_equal(
	    store_chip_add_v2(fx->st, "c2", "g", SECRET, NULL, V2_KEY), 0);
	assert_int_equal(
	    store_chip_add_v2(fx->st, "c3", "g", SECRET, NULL, "0011"), -1);
	assert_null(strstr(store_errmsg(fx->st), "0011"));
	assert_int_equal(store_chip_get(fx->st, "c2", &chip), 0);
	assert_int_equal(chip.protocol, LUAOTA_PROTO_V2);
	assert_string_equal(chip.v2_key, V2_KEY);
	assert_string_equal(chip.secret, SECRET);
	assert_int_equal(chip.v2_seen, 0);
	store_chip_free(&chip);
	assert_int_equal(store_chip_v2_seen(fx->st, "c2"), 0);
	assert_int_equal(store_chip_get(fx->st, "c2", &chip), 0);
	assert_int_equal(chip.v2_seen, 1);
	store_chip_free(&chip);
	/* A legacy chip never gets the flag. */
	assert_int_equal(store_chip_v2_seen(fx->st, "c1"), 0);
	assert_int_equal(store_chip_get(fx->st, "c1", &chip), 0);
	assert_int_equal(chip.protocol, LUAOTA_PROTO_LEGACY);
	assert_null(chip.v2_key);
	assert_int_equal(chip.v2_seen, 0);
	store_chip_free(&chip);
}

static void missing_rows_notfound(void **state)
{
	struct fixture *fx = *state;
	struct store_group g = { .name = "g9", .repo_name = "nowhere" };
	struct store_group by_id = { .name = "g8", .repo_id = 999 };
	struct store_session_file f = { .name = "x", .action = "dl" };
	struct store_chip chip;
	struct store_repo r;
	struct store_session_file *files;
	size_t n;

	populate(fx);
	assert_int_equal(store_group_add(fx->st, &g), STORE_NOTFOUND);
	assert_int_equal(store_group_add(fx->st, &by_id), STORE_NOTFOUND);
	assert_int_equal(store_chip_add(fx->st, "c2", "nogroup", SECRET, NULL),
			 STORE_NOTFOUND);
	assert_null(strstr(store_errmsg(fx->st), SECRET));
	assert_int_equal(store_chip_get(fx->st, "c2", &chip), STORE_NOTFOUND);
	assert_int_equal(store_repo_get(fx->st, "nowhere", &r), STORE_NOTFOUND);
	assert_int_equal(store_chip_seen(fx->st, "c2", "10.0.0.1", 1),
			 STORE_NOTFOUND);
	assert_int_equal(
	    store_held_set(fx->st, "c2", "chk", "worktree", NULL, 0),
	    STORE_NOTFOUND);
	assert_int_equal(store_session_file(fx->st, 42, &f), STORE_NOTFOUND);
	assert_int_equal(store_session_end(fx->st, 42, STORE_OUTCOME_CURRENT,
					   NULL, NULL, 0, 0, 1),
			 STORE_NOTFOUND);
	assert_int_equal(store_session_files(fx->st, 42, &files, &n),
			 STORE_NOTFOUND);
}

/* Collects chip ids in order; stops after max. */
struct collect {
	char ids[8][24];
	int n, max;
};

static int collect_chip(const struct store_chip *c, void *arg)
{
	struct collect *col = arg;

	snprintf(col->ids[col->n], sizeof(col->ids[0]), "%s", c->id);
	col->n++;
	return col->n >= col->max;
}

static void chips_in_id_order(void **state)
{
	struct fixture *fx = *state;
	const char *ids[] = { "b", "a2", "a10", "123" };
	struct collect col = { .max = 8 };
	size_t i;

	populate(fx);
	for (i = 0; i < 4; i++)
		assert_int_equal(
		    store_chip_add(fx->st, ids[i], "g", SECRET, NULL), 0);
	assert_int_equal(store_chip_foreach(fx->st, collect_chip, &col), 0);
	assert_int_equal(col.n, 5);
	assert_string_equal(col.ids[0], "123");
	assert_string_equal(col.ids[1], "a10");
	assert_string_equal(col.ids[2], "a2");
	assert_string_equal(col.ids[3], "b");
	assert_string_equal(col.ids[4], "c1");

	memset(&col, 0, sizeof(col));
	col.max = 2;
	assert_int_equal(store_chip_foreach(fx->st, collect_chip, &col), 1);
	assert_int_equal(col.n, 2);
	/* The snapshot is closed again: writes work. */
	assert_int_equal(store_chip_seen(fx->st, "b", "10.0.0.2", 5), 0);
}

static void chip_seen_keeps_first(void **state)
{
	struct fixture *fx = *state;
	struct store_chip chip;

	populate(fx);
	assert_int_equal(store_chip_seen(fx->st, "c1", "10.0.0.1", 100), 0);
	assert_int_equal(store_chip_seen(fx->st, "c1", "10.0.0.7", 200), 0);
	assert_int_equal(store_chip_get(fx->st, "c1", &chip), 0);
	assert_int_equal(chip.first_seen, 100);
	assert_int_equal(chip.last_seen, 200);
	assert_string_equal(chip.last_addr, "10.0.0.7");
	store_chip_free(&chip);
}

/* A whole record written once: a replay, an ended row, a row still open. */
static void session_record_at_most_once(void **state)
{
	struct fixture *fx = *state;
	struct store_session_file files[] = {
		{ "init.lua", "cm", 10, "OK", 7 },
		{ "bad", "pu", 1, "OK", -1 }, /* refused by the schema */
	};
	struct store_session_record r = {
		.chip_id = "c1",
		.peer = "10.0.0.1:4000",
		.seen_addr = "10.0.0.1",
		.seen_s = 77,
		.started_ms = 5000,
		.ended_ms = 5100,
		.outcome = STORE_OUTCOME_UPDATED,
		.revision = "worktree",
		.files_sent = 1,
		.bytes_sent = 10,
		.files = files,
		.nfiles = 2,
	};
	struct store_session_file *got;
	struct store_session *list;
	struct store_chip chip;
	size_t n, nf, skipped;
	int64_t open_id;
	int written, n_int;

	populate(fx);
	assert_int_equal(store_session_record(fx->st, &r, &written, &skipped),
			 0);
	assert_int_equal(written, 1);
	assert_int_equal(skipped, 1);
	/* The same record again (a replay after a crash): nothing changes. */
	assert_int_equal(store_session_record(fx->st, &r, &written, &skipped),
			 0);
	assert_int_equal(written, 0);
	assert_int_equal(store_session_list(fx->st, NULL, 0, &list, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(list[0].outcome, STORE_OUTCOME_UPDATED);
	assert_int_equal(list[0].ended_ms, 5100);
	assert_int_equal(store_session_files(fx->st, list[0].id, &got, &nf), 0);
	assert_int_equal(nf, 1);
	assert_string_equal(got[0].name, "init.lua");
	store_session_files_free(got, nf);
	store_session_list_free(list, n);
	assert_int_equal(store_chip_get(fx->st, "c1", &chip), 0);
	assert_int_equal(chip.last_seen, 77);
	assert_string_equal(chip.last_outcome, "updated");
	store_chip_free(&chip);
	/* A row opened earlier (and interrupted by a restart) is completed,
	 * by id; an id whose chip or peer differ is not that row. */
	assert_int_equal(
	    store_session_begin(fx->st, "c2", "10.0.0.2:1", 6000, &open_id), 0);
	r.id = open_id;
	r.chip_id = "c2";
	r.peer = "10.0.0.9:1";
	r.nfiles = 1;
	assert_int_equal(store_session_record(fx->st, &r, &written, &skipped),
			 0);
	assert_int_equal(written, 1);
	assert_int_equal(store_session_list(fx->st, "c2", 0, &list, &n), 0);
	assert_int_equal(n, 2);
	store_session_list_free(list, n);
	r.peer = "10.0.0.2:1";
	r.started_ms = 6000;
	assert_int_equal(store_sessions_interrupt(fx->st, 6500, &n_int), 0);
	assert_int_equal(store_session_record(fx->st, &r, &written, &skipped),
			 0);
	assert_int_equal(written, 1);
	assert_int_equal(store_session_record(fx->st, &r, &written, &skipped),
			 0);
	assert_int_equal(written, 0);
	assert_int_equal(store_session_list(fx->st, "c2", 0, &list, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(list[0].id, open_id);
	assert_int_equal(list[0].outcome, STORE_OUTCOME_UPDATED);
	store_session_list_free(list, n);
	/* STARTED is not a record's outcome. */
	r.outcome = STORE_OUTCOME_STARTED;
	assert_int_equal(store_session_record(fx->st, &r, NULL, &skipped), -1);
}

/* A batch of current check-ins: seen, history rows and outcome at once. */
static void checkins_in_one_batch(void **state)
{
	struct fixture *fx = *state;
	struct store_checkin rows[] = {
		{ "c1", "10.0.0.1:4000", "10.0.0.1", "worktree", 5000, 5003 },
		{ "c2", "10.0.0.2:4001", "10.0.0.2", NULL, 6000, 7999 },
		{ "c1", "10.0.0.3:4002", "10.0.0.3", "worktree", 9000, 9001 },
	};
	struct store_session *list;
	struct store_chip chip;
	size_t n;

	populate(fx);
	assert_int_equal(store_checkins_current(fx->st, rows, 0), 0);
	assert_int_equal(store_checkins_current(fx->st, rows, 3), 0);
	assert_int_equal(store_chip_get(fx->st, "c1", &chip), 0);
	assert_int_equal(chip.first_seen, 5);
	assert_int_equal(chip.last_seen, 9);
	assert_string_equal(chip.last_addr, "10.0.0.3");
	assert_string_equal(chip.last_outcome, "current");
	store_chip_free(&chip);
	assert_int_equal(store_session_list(fx->st, NULL, 0, &list, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(list[0].chip_id, "c1");
	assert_string_equal(list[0].peer, "10.0.0.3:4002");
	assert_int_equal(list[0].outcome, STORE_OUTCOME_CURRENT);
	assert_int_equal(list[0].started_ms, 9000);
	assert_int_equal(list[0].ended_ms, 9001);
	assert_string_equal(list[0].revision, "worktree");
	assert_string_equal(list[1].chip_id, "c2");
	assert_null(list[1].revision);
	assert_int_equal(list[1].ended_ms, 7999);
	store_session_list_free(list, n);
}

/*
 * The data version moves with another connection's commits only, and
 * store_chip_get_at reads it with the row.
 */
static void data_version_follows_others(void **state)
{
	struct fixture *fx = *state;
	struct store *other;
	struct store_chip chip;
	uint64_t v1, v2, v3;
	int64_t pull;
	int any;

	populate(fx);
	assert_int_equal(store_chip_get_at(fx->st, "c1", &chip, &v1), 0);
	assert_string_equal(chip.secret, SECRET);
	store_chip_free(&chip);
	/* Our own writes leave it as is. */
	assert_int_equal(store_chip_seen(fx->st, "c1", "10.0.0.1", 100), 0);
	assert_int_equal(store_data_version(fx->st, &v2), 0);
	assert_true(v2 == v1);
	assert_int_equal(store_pull_any_pending(fx->st, &any), 0);
	assert_int_equal(any, 0);
	/* Another connection's commit (luaotactl) moves it. */
	other = open_ok(fx, 0);
	assert_int_equal(store_chip_add(other, "c2", "g", SECRET, NULL), 0);
	assert_int_equal(store_pull_add(other, "c1", "log.txt", 5, &pull), 0);
	store_close(other);
	assert_int_equal(store_chip_get_at(fx->st, "c2", &chip, &v3), 0);
	assert_true(v3 != v1);
	store_chip_free(&chip);
	assert_int_equal(store_pull_any_pending(fx->st, &any), 0);
	assert_int_equal(any, 1);
	assert_int_equal(store_chip_get_at(fx->st, "nope", &chip, &v2),
			 STORE_NOTFOUND);
	assert_true(v2 == v3);
	assert_int_equal(
	    store_pull_finish(fx->st, pull, "missing", NULL, 0, NULL, 6), 0);
	assert_int_equal(store_pull_any_pending(fx->st, &any), 0);
	assert_int_equal(any, 0);
}

static void held_round_trip(void **state)
{
	struct fixture *fx = *state;
	struct store_held_file first[] = { { "init.lua", "t1" },
					   { "a.txt", "t2" } };
	struct store_held_file second[] = { { "b.lua", "t3" } };
	struct store_held_file twice[] = { { "x", "1" }, { "x", "2" } };
	struct store_held_file *held;
	struct store_chip chip;
	size_t n;

	populate(fx);
	assert_int_equal(store_held_get(fx->st, "c1", &held, &n), 0);
	assert_int_equal(n, 0);
	store_held_free(held, n);

	assert_int_equal(
	    store_held_set(fx->st, "c1", "chk1", "worktree", first, 2), 0);
	assert_int_equal(store_held_get(fx->st, "c1", &held, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(held[0].name, "a.txt"); /* by name */
	assert_string_equal(held[0].token, "t2");
	assert_string_equal(held[1].name, "init.lua");
	assert_string_equal(held[1].token, "t1");
	store_held_free(held, n);

	assert_int_equal(
	    store_held_set(fx->st, "c1", "chk2", "abc123", second, 1), 0);
	assert_int_equal(store_held_get(fx->st, "c1", &held, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(held[0].name, "b.lua");
	store_held_free(held, n);
	assert_int_equal(store_chip_get(fx->st, "c1", &chip), 0);
	assert_string_equal(chip.chk, "chk2");
	assert_string_equal(chip.revision, "abc123");
	store_chip_free(&chip);

	/* A failing replacement leaves the previous state whole. */
	assert_int_equal(store_held_set(fx->st, "c1", "chk3", "def", twice, 2),
			 STORE_EXISTS);
	assert_int_equal(store_held_get(fx->st, "c1", &held, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(held[0].token, "t3");
	store_held_free(held, n);
	assert_int_equal(store_chip_get(fx->st, "c1", &chip), 0);
	assert_string_equal(chip.chk, "chk2");
	store_chip_free(&chip);
}

static void session_history(void **state)
{
	struct fixture *fx = *state;
	struct store_session_file f1 = { "init.lua", "cm", 1500, "OK", 900 };
	struct store_session_file f2 = { "data.txt", "dl", 20, "OK", -1 };
	struct store_session_file *files;
	struct store_session *rows;
	struct store_chip chip;
	int64_t s1, s2, s3;
	size_t n;

	populate(fx);
	assert_int_equal(
	    store_session_begin(fx->st, "c1", "10.0.0.1:4000", 1000, &s1), 0);
	assert_int_equal(store_session_file(fx->st, s1, &f1), 0);
	assert_int_equal(store_session_file(fx->st, s1, &f2), 0);
	assert_int_equal(store_session_end(fx->st, s1, STORE_OUTCOME_UPDATED,
					   NULL, "worktree", 2, 1520, 1800),
			 0);
	assert_int_equal(store_chip_get(fx->st, "c1", &chip), 0);
	assert_string_equal(chip.last_outcome, "updated");
	store_chip_free(&chip);

	/* An unknown chip is recorded under the id it claimed. */
	assert_int_equal(
	    store_session_begin(fx->st, "stranger", "10.0.0.9:1", 2000, &s2),
	    0);
	assert_int_equal(store_session_end(fx->st, s2, STORE_OUTCOME_REJECTED,
					   "unknown chip", NULL, 0, 0, 2001),
			 0);
	assert_int_equal(
	    store_session_begin(fx->st, NULL, "10.0.0.9:2", 3000, &s3), 0);

	assert_int_equal(store_session_list(fx->st, NULL, 0, &rows, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(rows[0].id, s3); /* newest first */
	assert_null(rows[0].chip_id);
	assert_int_equal(rows[0].outcome, STORE_OUTCOME_STARTED);
	assert_int_equal(rows[0].ended_ms, 0);
	assert_int_equal(rows[1].id, s2);
	assert_string_equal(rows[1].chip_id, "stranger");
	assert_int_equal(rows[1].outcome, STORE_OUTCOME_REJECTED);
	assert_string_equal(rows[1].reason, "unknown chip");
	assert_int_equal(rows[2].id, s1);
	assert_string_equal(rows[2].peer, "10.0.0.1:4000");
	assert_int_equal(rows[2].started_ms, 1000);
	assert_int_equal(rows[2].ended_ms, 1800);
	assert_string_equal(rows[2].revision, "worktree");
	assert_int_equal(rows[2].files_sent, 2);
	assert_int_equal(rows[2].bytes_sent, 1520);
	assert_null(rows[2].reason);
	store_session_list_free(rows, n);

	assert_int_equal(store_session_list(fx->st, NULL, 2, &rows, &n), 0);
	assert_int_equal(n, 2);
	store_session_list_free(rows, n);
	assert_int_equal(store_session_list(fx->st, "c1", 10, &rows, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(rows[0].id, s1);
	store_session_list_free(rows, n);

	assert_int_equal(store_session_files(fx->st, s1, &files, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(files[0].name, "init.lua");
	assert_string_equal(files[0].action, "cm");
	assert_int_equal(files[0].bytes, 1500);
	assert_string_equal(files[0].result, "OK");
	assert_int_equal(files[0].lcsize, 900);
	assert_string_equal(files[1].name, "data.txt");
	assert_int_equal(files[1].lcsize, -1);
	store_session_files_free(files, n);
	assert_int_equal(store_session_files(fx->st, s2, &files, &n), 0);
	assert_int_equal(n, 0);
	store_session_files_free(files, n);
}

/* Another connection's change to a group moves the data version that
 * luaotad's caches follow, on either backend. */
static void data_version_sees_other_writers(void **state)
{
	struct fixture *fx = *state;
	struct store *other;
	struct store_group g;
	uint64_t before, after, again;

	populate(fx);
	other = open_ok(fx, 0);
	assert_int_equal(store_data_version(fx->st, &before), 0);
	assert_int_equal(store_data_version(fx->st, &again), 0);
	assert_true(before == again);
	assert_int_equal(store_group_get(other, "g", &g), 0);
	g.max_file_size = 8192;
	assert_int_equal(store_group_update(other, &g), 0);
	store_group_free(&g);
	assert_int_equal(store_data_version(fx->st, &after), 0);
	assert_true(after != before);
	store_close(other);
}

/* A rejection window is claimed once, whoever asks; old ones go. */
static void rejection_windows_claimed_once(void **state)
{
	struct fixture *fx = *state;
	int first;

	populate(fx);
	assert_int_equal(store_rejection_first(fx->st, "10.0.0.9",
					       "bad signature", 60000, 0,
					       &first),
			 0);
	assert_int_equal(first, 1);
	assert_int_equal(store_rejection_first(fx->st, "10.0.0.9",
					       "bad signature", 60000, 0,
					       &first),
			 0);
	assert_int_equal(first, 0);
	assert_int_equal(store_rejection_first(fx->st, "10.0.0.9",
					       "unknown chip", 60000, 0,
					       &first),
			 0);
	assert_int_equal(first, 1);
	/* Forgotten once long ended: the next window is claimed afresh. */
	assert_int_equal(store_rejection_first(fx->st, "10.0.0.9",
					       "bad signature", 120000, 120000,
					       &first),
			 0);
	assert_int_equal(first, 1);
	assert_int_equal(store_rejection_first(fx->st, "10.0.0.9",
					       "bad signature", 60000, 120000,
					       &first),
			 0);
	assert_int_equal(first, 1);
}

static void tokens_round_trip(void **state)
{
	struct fixture *fx = *state;
	struct store_token t, *list;
	size_t n;

	populate(fx);
	assert_int_equal(
	    store_token_add(fx->st, "ops", "aa11", STORE_TOKEN_WRITE, 100), 0);
	assert_int_equal(
	    store_token_add(fx->st, "viewer", "bb22", STORE_TOKEN_READ, 200),
	    0);
	/* Names and hashes are each unique. */
	assert_int_equal(
	    store_token_add(fx->st, "ops", "cc33", STORE_TOKEN_READ, 300),
	    STORE_EXISTS);
	assert_int_equal(
	    store_token_add(fx->st, "other", "aa11", STORE_TOKEN_READ, 300),
	    STORE_EXISTS);
	assert_int_equal(store_token_find(fx->st, "aa11", &t), 0);
	assert_string_equal(t.name, "ops");
	assert_int_equal(t.scope, STORE_TOKEN_WRITE);
	assert_int_equal(t.created, 100);
	assert_int_equal(t.last_used, 0);
	assert_int_equal(store_token_used(fx->st, t.id, 150), 0);
	store_token_free(&t);
	assert_int_equal(store_token_find(fx->st, "ffff", &t), STORE_NOTFOUND);
	assert_int_equal(store_token_list(fx->st, &list, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(list[0].name, "ops");
	assert_int_equal(list[0].last_used, 150);
	assert_string_equal(list[1].name, "viewer");
	assert_int_equal(list[1].scope, STORE_TOKEN_READ);
	store_token_list_free(list, n);
	assert_int_equal(store_token_remove(fx->st, "viewer"), 0);
	assert_int_equal(store_token_remove(fx->st, "viewer"), STORE_NOTFOUND);
	assert_int_equal(store_token_find(fx->st, "bb22", &t), STORE_NOTFOUND);
	assert_string_equal(store_token_scope_name(STORE_TOKEN_READ), "read");
}

static int count_outcome(const char *outcome, int64_t count, void *arg)
{
	char *out = arg;
	size_t len = strlen(out);

	snprintf(out + len, 256 - len, "%s=%lld;", outcome, (long long)count);
	return 0;
}

/* Chips by last outcome, and history pages by a cursor. */
static void outcome_counts_and_paging(void **state)
{
	struct fixture *fx = *state;
	struct store_session_filter f = { .limit = 2 };
	struct store_session *rows;
	char counts[256] = "";
	int64_t ids[5];
	size_t n, i;

	populate(fx);
	assert_int_equal(store_chip_add(fx->st, "c2", "g", SECRET, NULL), 0);
	assert_int_equal(
	    store_chip_outcome_counts(fx->st, count_outcome, counts), 0);
	assert_string_equal(counts, "never=2;");
	/* Two rows share a start time: the id orders them. */
	for (i = 0; i < 5; i++) {
		assert_int_equal(store_session_begin(fx->st, "c1", "p",
						     1000 + (int64_t)(i / 2),
						     &ids[i]),
				 0);
		assert_int_equal(store_session_end(fx->st, ids[i],
						   STORE_OUTCOME_CURRENT, NULL,
						   NULL, 0, 0, 2000),
				 0);
	}
	counts[0] = '\0';
	assert_int_equal(
	    store_chip_outcome_counts(fx->st, count_outcome, counts), 0);
	assert_string_equal(counts, "never=1;current=1;");
	assert_int_equal(store_session_query(fx->st, &f, &rows, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(rows[0].id, ids[4]);
	assert_int_equal(rows[1].id, ids[3]);
	f.before_id = rows[1].id;
	store_session_list_free(rows, n);
	assert_int_equal(store_session_query(fx->st, &f, &rows, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(rows[0].id, ids[2]);
	assert_int_equal(rows[1].id, ids[1]);
	f.before_id = rows[1].id;
	store_session_list_free(rows, n);
	assert_int_equal(store_session_query(fx->st, &f, &rows, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(rows[0].id, ids[0]);
	store_session_list_free(rows, n);
}

static void interrupt_marks_only_started(void **state)
{
	struct fixture *fx = *state;
	struct store_session *rows;
	struct store_chip chip;
	int64_t done, open1, open2;
	size_t n;
	int count;

	populate(fx);
	/* This daemon's rows: on a shared inventory, only they are its. */
	assert_int_equal(store_set_owner(fx->st, "host:spool"), 0);
	assert_int_equal(store_session_begin(fx->st, "c1", "p", 10, &done), 0);
	assert_int_equal(store_session_end(fx->st, done, STORE_OUTCOME_CURRENT,
					   NULL, NULL, 0, 0, 11),
			 0);
	assert_int_equal(store_session_begin(fx->st, "c1", "p", 20, &open1), 0);
	assert_int_equal(store_session_begin(fx->st, "x", "p", 30, &open2), 0);
	assert_int_equal(store_sessions_interrupt(fx->st, 99, &count), 0);
	assert_int_equal(count, 2);
	assert_int_equal(store_session_list(fx->st, NULL, 0, &rows, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(rows[0].outcome, STORE_OUTCOME_INTERRUPTED);
	assert_int_equal(rows[0].ended_ms, 99);
	assert_int_equal(rows[1].outcome, STORE_OUTCOME_INTERRUPTED);
	assert_int_equal(rows[2].outcome, STORE_OUTCOME_CURRENT);
	assert_int_equal(rows[2].ended_ms, 11);
	store_session_list_free(rows, n);
	assert_int_equal(store_chip_get(fx->st, "c1", &chip), 0);
	assert_string_equal(chip.last_outcome, "interrupted");
	store_chip_free(&chip);
	assert_int_equal(store_sessions_interrupt(fx->st, 100, &count), 0);
	assert_int_equal(count, 0);
}

/* What may be logged of a database's name: never its password. */
static void paths_are_redacted(void **state)
{
	static const char *const cases[][2] = {
		{ "/var/lib/luaota/luaota.db", "/var/lib/luaota/luaota.db" },
		{ "postgresql://luaota@db/luaota",
		  "postgresql://luaota@db/luaota" },
		{ "postgresql://luaota:s3cr3t@db:5432/luaota",
		  "postgresql://luaota:***@db:5432/luaota" },
		{ "postgres://u:p@ss:w@rd@db/x", "postgres://u:***@db/x" },
		{ "postgresql:///luaota?user=u&password=s3cr3t&host=/run",
		  "postgresql:///luaota?user=u&password=***&host=/run" },
		{ "postgresql:///luaota?password=s3cr3t",
		  "postgresql:///luaota?password=***" },
	};
	char out[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		store_path_redact(cases[i][0], out, sizeof(out));
		assert_string_equal(out, cases[i][1]);
	}
}

static void outcome_names(void **state)
{
	(void)state;
	assert_string_equal(store_outcome_name(STORE_OUTCOME_STARTED),
			    "started");
	assert_string_equal(store_outcome_name(STORE_OUTCOME_CURRENT),
			    "current");
	assert_string_equal(store_outcome_name(STORE_OUTCOME_UPDATED),
			    "updated");
	assert_string_equal(store_outcome_name(STORE_OUTCOME_PARTIAL),
			    "partial");
	assert_string_equal(store_outcome_name(STORE_OUTCOME_FAILED), "failed");
	assert_string_equal(store_outcome_name(STORE_OUTCOME_REJECTED),
			    "rejected");
	assert_string_equal(store_outcome_name(STORE_OUTCOME_INTERRUPTED),
			    "interrupted");
	assert_string_equal(store_outcome_name((enum store_outcome)42),
			    "unknown");
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void locked_write_is_busy(void **state)
{
	struct fixture *fx = *state;
	struct store_held_file f = { "a", "t" };
	struct store_chip chip;
	int64_t start, sid;
	sqlite3 *other;

	populate(fx);
	store_set_busy_timeout(fx->st, 50);
	assert_int_equal(sqlite3_open(fx->path, &other), SQLITE_OK);
	assert_int_equal(
	    sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL),
	    SQLITE_OK);

	start = now_ms();
	assert_int_equal(store_chip_add(fx->st, "c2", "g", SECRET, NULL),
			 STORE_BUSY);
	/* The busy timeout was the wait, not an immediate failure. */
	assert_true(now_ms() - start >= 40);
	assert_non_null(strstr(store_errmsg(fx->st), "locked"));
	assert_int_equal(store_held_set(fx->st, "c1", "k", "r", &f, 1),
			 STORE_BUSY);
	assert_int_equal(store_session_begin(fx->st, "c1", "p", 1, &sid),
			 STORE_BUSY);
	/* Readers are not blocked by a writer in WAL mode. */
	assert_int_equal(store_chip_get(fx->st, "c1", &chip), 0);
	store_chip_free(&chip);

	assert_int_equal(sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(other);
	assert_int_equal(store_chip_add(fx->st, "c2", "g", SECRET, NULL), 0);
}

/*
 * PostgreSQL: a row another connection holds locked makes a write wait
 * the busy timeout, then STORE_BUSY; the rest of the inventory stays
 * readable and writable meanwhile.
 */
static void pg_row_locks_are_busy(void **state)
{
	struct fixture *fx = *state;
	struct store_held_file f = { "a", "t" };
	struct store_chip chip;
	PGconn *other;
	PGresult *res;
	int64_t start, sid;

	populate(fx);
	store_set_busy_timeout(fx->st, 50);
	other = PQconnectdb(pg_url);
	res = PQexec(other, "BEGIN");
	PQclear(res);
	res = PQexec(other, "SELECT 1 FROM chips WHERE id = 'c1' FOR UPDATE");
	assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
	PQclear(res);
	start = now_ms();
	assert_int_equal(store_held_set(fx->st, "c1", "k", "r", &f, 1),
			 STORE_BUSY);
	assert_true(now_ms() - start >= 40);
	assert_non_null(strstr(store_errmsg(fx->st), "lock timeout"));
	/* Other rows, and reads, are not held up. */
	assert_int_equal(store_chip_get(fx->st, "c1", &chip), 0);
	store_chip_free(&chip);
	assert_int_equal(store_session_begin(fx->st, "c1", "p", 1, &sid), 0);
	assert_int_equal(store_chip_add(fx->st, "c2", "g", SECRET, NULL), 0);
	res = PQexec(other, "ROLLBACK");
	PQclear(res);
	PQfinish(other);
	assert_int_equal(store_held_set(fx->st, "c1", "k", "r", &f, 1), 0);
}

static void garbage_file_refused(void **state)
{
	struct fixture *fx = *state;
	char junk[4096], back[4096];
	FILE *fp;
	size_t i;

	for (i = 0; i < sizeof(junk); i++)
		junk[i] = (char)("not a database "[i % 15]);
	fp = fopen(fx->path, "wb");
	assert_non_null(fp);
	assert_int_equal(fwrite(junk, 1, sizeof(junk), fp), sizeof(junk));
	fclose(fp);

	assert_null(store_open(fx->path, STORE_CREATE));
	assert_non_null(strstr(store_errmsg(NULL), "not a usable database"));
	assert_null(store_open(fx->path, STORE_READONLY));
	/* Never repaired: the bytes are untouched. */
	fp = fopen(fx->path, "rb");
	assert_non_null(fp);
	assert_int_equal(fread(back, 1, sizeof(back), fp), sizeof(back));
	fclose(fp);
	assert_memory_equal(junk, back, sizeof(junk));
}

static void newer_schema_refused(void **state)
{
	struct fixture *fx = *state;

	if (pg_url != NULL) {
		fx->st = open_ok(fx, STORE_CREATE);
		store_close(fx->st);
		fx->st = NULL;
		pg_exec("UPDATE luaota_schema SET version = 999");
	} else {
		raw_exec(fx->path, "PRAGMA user_version = 999");
	}
	assert_null(store_open(fx->path, STORE_CREATE));
	assert_non_null(strstr(store_errmsg(NULL), "newer"));
}

static void foreign_database_refused(void **state)
{
	struct fixture *fx = *state;

	if (pg_url != NULL)
		pg_exec("CREATE TABLE notes (body TEXT)");
	else
		raw_exec(fx->path, "CREATE TABLE notes (body TEXT)");
	assert_null(store_open(fx->path, STORE_CREATE));
	assert_non_null(strstr(store_errmsg(NULL), "no luaota schema"));
}

static void readonly_refuses_writes(void **state)
{
	struct fixture *fx = *state;
	struct store_group g = { .name = "g2", .repo_name = "main" };
	struct store_session *rows;
	struct store_chip chip;
	int64_t sid;
	size_t n;
	int count;

	/* An empty inventory is neither created nor migrated read-only. */
	if (pg_url == NULL)
		raw_exec(fx->path, "PRAGMA user_version = 0");
	assert_null(store_open(fx->path, STORE_READONLY | STORE_CREATE));
	fx->st = open_ok(fx, STORE_CREATE);
	assert_int_equal(store_schema_version(fx->st), store_schema_latest());
	store_close(fx->st);
	fx->st = NULL;

	populate(fx);
	store_close(fx->st);
	fx->st = open_ok(fx, STORE_READONLY);
	assert_int_equal(store_chip_get(fx->st, "c1", &chip), 0);
	store_chip_free(&chip);
	assert_int_equal(store_session_list(fx->st, NULL, 0, &rows, &n), 0);
	store_session_list_free(rows, n);

	assert_int_equal(store_chip_add(fx->st, "c2", "g", SECRET, NULL), -1);
	assert_non_null(strstr(store_errmsg(fx->st), "read-only"));
	assert_int_equal(store_repo_add(fx->st, "r", "/x", NULL), -1);
	assert_int_equal(store_group_add(fx->st, &g), -1);
	assert_int_equal(store_chip_seen(fx->st, "c1", "a", 1), -1);
	assert_int_equal(store_held_set(fx->st, "c1", "k", "r", NULL, 0), -1);
	assert_int_equal(store_session_begin(fx->st, "c1", "p", 1, &sid), -1);
	assert_int_equal(store_sessions_interrupt(fx->st, 1, &count), -1);
	assert_int_equal(store_chip_get(fx->st, "c2", &chip), STORE_NOTFOUND);
}

/* group set, list, remove: replaced as a whole, refused while in use. */
static void group_update_and_remove(void **state)
{
	struct fixture *fx = *state;
	struct store_group_file files[] = {
		{ .name = "app.lua", .action = STORE_ACTION_CM },
	};
	struct store_group g = {
		.name = "g",
		.repo_name = "other",
		.files = files,
		.nfiles = 1,
		.lua_version = 51,
	};
	struct store_group got, *all;
	struct store_repo *repos;
	int64_t chips;
	size_t n;

	populate(fx);
	assert_int_equal(store_group_update(fx->st, &g), STORE_NOTFOUND);
	assert_int_equal(store_repo_add(fx->st, "other", "/srv/o", "main"), 0);
	assert_int_equal(store_group_update(fx->st, &g), 0);
	assert_int_equal(store_group_get(fx->st, "g", &got), 0);
	assert_string_equal(got.repo_name, "other");
	assert_int_equal(got.nfiles, 1);
	assert_string_equal(got.files[0].name, "app.lua");
	assert_int_equal(got.files[0].action, STORE_ACTION_CM);
	assert_null(got.config_json);
	assert_int_equal(got.lua_version, 51);
	assert_int_equal(store_group_chips(fx->st, got.id, &chips), 0);
	assert_int_equal(chips, 1);
	store_group_free(&got);
	g.name = "nosuch";
	assert_int_equal(store_group_update(fx->st, &g), STORE_NOTFOUND);

	assert_int_equal(store_repo_list(fx->st, &repos, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(repos[1].name, "other");
	assert_string_equal(repos[1].ref, "main");
	store_repo_list_free(repos, n);

	assert_int_equal(store_group_remove(fx->st, "g"), STORE_INUSE);
	assert_int_equal(store_chip_remove(fx->st, "c1"), 0);
	assert_int_equal(store_chip_remove(fx->st, "c1"), STORE_NOTFOUND);
	assert_int_equal(store_group_remove(fx->st, "g"), 0);
	assert_int_equal(store_group_remove(fx->st, "g"), STORE_NOTFOUND);
	assert_int_equal(store_group_list(fx->st, &all, &n), 0);
	assert_int_equal(n, 0);
	store_group_list_free(all, n);
}

/* chip set and reprovision; the held files survive a reprovision. */
static void chip_update_and_reprovision(void **state)
{
	struct fixture *fx = *state;
	struct store_held_file held[] = { { .name = "init.lua",
					    .token = "t" } };
	struct store_group g2 = { .name = "g2", .repo_name = "main" };
	struct store_held_file *got;
	struct store_chip c;
	size_t n;

	populate(fx);
	assert_int_equal(store_group_add(fx->st, &g2), 0);
	assert_int_equal(
	    store_held_set(fx->st, "c1", "chk1", "worktree", held, 1), 0);
	assert_int_equal(store_chip_get(fx->st, "c1", &c), 0);
	free(c.label);
	c.label = NULL;
	free(c.group_name);
	c.group_name = strdup("g2");
	c.enabled = 0;
	c.config_json = strdup("{\"server\":\"h\"}");
	assert_int_equal(store_chip_update(fx->st, &c), 0);
	store_chip_free(&c);
	assert_int_equal(store_chip_get(fx->st, "c1", &c), 0);
	assert_null(c.label);
	assert_string_equal(c.group_name, "g2");
	assert_int_equal(c.enabled, 0);
	assert_string_equal(c.config_json, "{\"server\":\"h\"}");
	assert_string_equal(c.chk, "chk1");
	free(c.group_name);
	c.group_name = strdup("nosuch");
	assert_int_equal(store_chip_update(fx->st, &c), STORE_NOTFOUND);
	store_chip_free(&c);

	assert_int_equal(store_chip_reprovision(fx->st, "c1"), 0);
	assert_int_equal(store_chip_reprovision(fx->st, "zz"), STORE_NOTFOUND);
	assert_int_equal(store_chip_get(fx->st, "c1", &c), 0);
	assert_null(c.chk);
	store_chip_free(&c);
	assert_int_equal(store_held_get(fx->st, "c1", &got, &n), 0);
	assert_int_equal(n, 1);
	store_held_free(got, n);
}

/* History filters, one session by id, pulls, integrity and backup. */
static void queries_pulls_backup(void **state)
{
	struct fixture *fx = *state;
	struct store_session_filter f = { 0 };
	struct store_session *rows, one;
	struct store_pull *pulls, p;
	struct store *copy;
	char *report, path[640];
	int64_t sid, pid;
	size_t n;

	populate(fx);
	assert_int_equal(store_session_begin(fx->st, "c1", "p", 1000, &sid), 0);
	assert_int_equal(store_session_end(fx->st, sid, STORE_OUTCOME_UPDATED,
					   NULL, "worktree", 1, 2, 1100),
			 0);
	assert_int_equal(store_session_begin(fx->st, "c1", "p", 5000, &sid), 0);
	assert_int_equal(store_session_end(fx->st, sid, STORE_OUTCOME_FAILED,
					   "why", NULL, 0, 0, 5100),
			 0);
	f.failed_only = 1;
	assert_int_equal(store_session_query(fx->st, &f, &rows, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(rows[0].reason, "why");
	store_session_list_free(rows, n);
	f.failed_only = 0;
	f.since_ms = 2000;
	f.chip_id = "c1";
	assert_int_equal(store_session_query(fx->st, &f, &rows, &n), 0);
	assert_int_equal(n, 1);
	store_session_list_free(rows, n);
	assert_int_equal(store_session_get(fx->st, sid, &one), 0);
	assert_int_equal(one.outcome, STORE_OUTCOME_FAILED);
	store_session_free(&one);
	assert_int_equal(store_session_get(fx->st, 99, &one), STORE_NOTFOUND);

	assert_int_equal(store_pull_add(fx->st, "c1", "x.txt", 7, &pid), 0);
	assert_int_equal(store_pull_add(fx->st, "zz", "x.txt", 7, &sid),
			 STORE_NOTFOUND);
	assert_int_equal(store_pull_pending(fx->st, "c1", &pulls, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(pulls[0].state, "pending");
	store_pull_list_free(pulls, n);
	assert_int_equal(store_pull_finish(fx->st, pid, "done",
					   (const uint8_t *)"ab\0c", 4, NULL,
					   9),
			 0);
	assert_int_equal(
	    store_pull_finish(fx->st, pid, "done", NULL, 0, NULL, 9),
	    STORE_NOTFOUND);
	assert_int_equal(store_pull_get(fx->st, pid, &p), 0);
	assert_int_equal(p.data_len, 4);
	assert_memory_equal(p.data, "ab\0c", 4);
	assert_int_equal(p.size, 4);
	store_pull_free(&p);
	assert_int_equal(store_pull_pending(fx->st, "c1", &pulls, &n), 0);
	assert_int_equal(n, 0);
	store_pull_list_free(pulls, n);

	assert_int_equal(store_integrity_check(fx->st, &report), 0);
	assert_string_equal(report, "ok\n");
	free(report);
	if (pg_url != NULL) {
		/* PostgreSQL has its own tools, and luaotactl says so. */
		assert_int_equal(store_backup(fx->st, "/tmp/copy.db"), -1);
		assert_non_null(strstr(store_errmsg(fx->st), "pg_dump"));
		return;
	}
	snprintf(path, sizeof(path), "%s.template", fx->path);
	assert_int_equal(store_backup(fx->st, path), 0);
	copy = store_open(path, STORE_READONLY);
	assert_non_null(copy);
	assert_int_equal(store_pull_list(copy, NULL, &pulls, &n), 0);
	assert_int_equal(n, 1);
	store_pull_list_free(pulls, n);
	store_close(copy);
	/* The copy is in WAL mode too: reading it may leave these. */
	snprintf(path, sizeof(path), "%s.template-wal", fx->path);
	unlink(path);
	snprintf(path, sizeof(path), "%s.template-shm", fx->path);
	unlink(path);
}

/*
 * The next allocation to fail: every one of the first fifty, then a
 * prime stride, so that the whole run stays within seconds (each point
 * writes a database with fsync) yet reaches every phase.
 */
static long next_fault(long n)
{
	return n < 50 ? n + 1 : n + 29;
}

static void copy_file(const char *from, const char *to)
{
	char buf[8192];
	FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
	size_t len;

	assert_non_null(in);
	assert_non_null(out);
	while ((len = fread(buf, 1, sizeof(buf), in)) > 0)
		assert_int_equal(fwrite(buf, 1, len, out), len);
	fclose(in);
	assert_int_equal(fclose(out), 0);
}

/* Removes the fixture's database files, to start again. */
static void remove_db(struct fixture *fx)
{
	const char *suffixes[] = { "", "-wal", "-shm" };
	char name[640];
	size_t i;

	for (i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "%s%s", fx->path, suffixes[i]);
		unlink(name);
	}
}

/*
 * Creating the schema with each allocation failing in turn: the open
 * fails cleanly or succeeds, and never leaves a half-migrated file.
 */
static void faults_in_create(void **state)
{
	struct fixture *fx = *state;
	struct store *st;
	long n;

	for (n = 1;; n = next_fault(n)) {
		remove_db(fx);
		fault_arm(n);
		st = store_open(fx->path, STORE_CREATE);
		fault_disarm();
		if (st == NULL)
			assert_true(strlen(store_errmsg(NULL)) > 0);
		store_close(st);
		st = store_open(fx->path, STORE_CREATE);
		if (st == NULL)
			fail_msg("after fault %ld: %s", n, store_errmsg(NULL));
		assert_int_equal(store_schema_version(st),
				 store_schema_latest());
		store_close(st);
		if (!fault_hit)
			break;
	}
	print_message("# create: faults up to allocation %ld\n", n);
}

/* The update a session makes, step by step; stops at the first error. */
static int update_workload(struct store *st)
{
	struct store_held_file held[] = { { "init.lua", "new1" },
					  { "app.lua", "new2" } };
	struct store_session_file f = { "init.lua", "cm", 10, "OK", 5 };
	struct store_held_file *got;
	struct store_chip chip;
	struct store_group g;
	int64_t sid;
	size_t n;
	int count;

	if (store_chip_get(st, "c1", &chip) != 0)
		return -1;
	store_chip_free(&chip);
	if (store_group_get(st, "g", &g) != 0)
		return -1;
	store_group_free(&g);
	if (store_held_get(st, "c1", &got, &n) != 0)
		return -1;
	store_held_free(got, n);
	if (store_chip_seen(st, "c1", "10.0.0.1", 7) != 0 ||
	    store_session_begin(st, "c1", "10.0.0.1:1", 1000, &sid) != 0 ||
	    store_session_file(st, sid, &f) != 0 ||
	    store_held_set(st, "c1", "chk-new", "rev2", held, 2) != 0 ||
	    store_session_end(st, sid, STORE_OUTCOME_UPDATED, NULL, "rev2", 1,
			      10, 2000) != 0 ||
	    store_sessions_interrupt(st, 3000, &count) != 0)
		return -1;
	return 0;
}

/*
 * Each allocation of an update failing in turn: every call fails cleanly,
 * the store stays usable (no transaction left open), and what was
 * written is whole: held files with their chk, an outcome with its row.
 */
static void faults_in_update(void **state)
{
	struct fixture *fx = *state;
	struct store_held_file old[] = { { "init.lua", "old1" } };
	struct store_held_file *got;
	struct store_session *rows;
	struct store_chip chip;
	char template[640];
	size_t n, nrows;
	long i;

	/* Populated once; each round starts from a copy of the file. */
	populate(fx);
	assert_int_equal(
	    store_held_set(fx->st, "c1", "chk-old", "rev1", old, 1), 0);
	store_close(fx->st); /* the last close folds the WAL into the file */
	snprintf(template, sizeof(template), "%s.template", fx->path);
	assert_int_equal(rename(fx->path, template), 0);
	for (i = 1;; i = next_fault(i)) {
		remove_db(fx);
		copy_file(template, fx->path);
		fx->st = open_ok(fx, 0);
		fault_arm(i);
		update_workload(fx->st);
		fault_disarm();
		/* Still usable after the failure. */
		assert_int_equal(store_chip_seen(fx->st, "c1", "10.0.0.2", 8),
				 0);
		store_close(fx->st);
		fx->st = open_ok(fx, 0);
		assert_int_equal(store_chip_get(fx->st, "c1", &chip), 0);
		assert_int_equal(store_held_get(fx->st, "c1", &got, &n), 0);
		if (strcmp(chip.chk, "chk-new") == 0) {
			assert_int_equal(n, 2);
			assert_string_equal(chip.revision, "rev2");
		} else {
			assert_string_equal(chip.chk, "chk-old");
			assert_string_equal(chip.revision, "rev1");
			assert_int_equal(n, 1);
			assert_string_equal(got[0].token, "old1");
		}
		store_held_free(got, n);
		assert_int_equal(
		    store_session_list(fx->st, "c1", 0, &rows, &nrows), 0);
		if (nrows == 1 && rows[0].outcome == STORE_OUTCOME_UPDATED)
			assert_string_equal(chip.last_outcome, "updated");
		else if (nrows == 1 && rows[0].outcome == STORE_OUTCOME_STARTED)
			assert_null(chip.last_outcome);
		store_session_list_free(rows, nrows);
		store_chip_free(&chip);
		store_close(fx->st);
		fx->st = NULL;
		if (!fault_hit)
			break;
	}
	unlink(template);
	print_message("# update: faults up to allocation %ld\n", i);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(create_and_migrate, setup,
						teardown),
		cmocka_unit_test_setup_teardown(reopen_keeps_data, setup,
						teardown),
		cmocka_unit_test_setup_teardown(group_round_trip, setup,
						teardown),
		cmocka_unit_test_setup_teardown(duplicates_exist, setup,
						teardown),
		cmocka_unit_test_setup_teardown(v2_releases_per_chip, setup,
						teardown),
		cmocka_unit_test_setup_teardown(v2_chip_key_and_downgrade_flag,
						setup, teardown),
		cmocka_unit_test_setup_teardown(missing_rows_notfound, setup,
						teardown),
		cmocka_unit_test_setup_teardown(chips_in_id_order, setup,
						teardown),
		cmocka_unit_test_setup_teardown(chip_seen_keeps_first, setup,
						teardown),
		cmocka_unit_test_setup_teardown(session_record_at_most_once,
						setup, teardown),
		cmocka_unit_test_setup_teardown(checkins_in_one_batch, setup,
						teardown),
		cmocka_unit_test_setup_teardown(data_version_follows_others,
						setup, teardown),
		cmocka_unit_test_setup_teardown(held_round_trip, setup,
						teardown),
		cmocka_unit_test_setup_teardown(tokens_round_trip, setup,
						teardown),
		cmocka_unit_test_setup_teardown(rejection_windows_claimed_once,
						setup, teardown),
		cmocka_unit_test_setup_teardown(data_version_sees_other_writers,
						setup, teardown),
		cmocka_unit_test_setup_teardown(outcome_counts_and_paging,
						setup, teardown),
		cmocka_unit_test_setup_teardown(session_history, setup,
						teardown),
		cmocka_unit_test_setup_teardown(interrupt_marks_only_started,
						setup, teardown),
		cmocka_unit_test(outcome_names),
		cmocka_unit_test(paths_are_redacted),
		cmocka_unit_test_setup_teardown(locked_write_is_busy, setup,
						teardown),
		cmocka_unit_test_setup_teardown(garbage_file_refused, setup,
						teardown),
		cmocka_unit_test_setup_teardown(newer_schema_refused, setup,
						teardown),
		cmocka_unit_test_setup_teardown(foreign_database_refused, setup,
						teardown),
		cmocka_unit_test_setup_teardown(readonly_refuses_writes, setup,
						teardown),
		cmocka_unit_test_setup_teardown(group_update_and_remove, setup,
						teardown),
		cmocka_unit_test_setup_teardown(chip_update_and_reprovision,
						setup, teardown),
		cmocka_unit_test_setup_teardown(queries_pulls_backup, setup,
						teardown),
		cmocka_unit_test_setup_teardown(faults_in_create, setup,
						teardown),
		cmocka_unit_test_setup_teardown(faults_in_update, setup,
						teardown),
	};

	/* The cases about the store's contract, not SQLite's files. */
	const struct CMUnitTest portable[] = {
		cmocka_unit_test_setup_teardown(reopen_keeps_data, setup,
						teardown),
		cmocka_unit_test_setup_teardown(group_round_trip, setup,
						teardown),
		cmocka_unit_test_setup_teardown(duplicates_exist, setup,
						teardown),
		cmocka_unit_test_setup_teardown(chips_in_id_order, setup,
						teardown),
		cmocka_unit_test_setup_teardown(chip_seen_keeps_first, setup,
						teardown),
		cmocka_unit_test_setup_teardown(tokens_round_trip, setup,
						teardown),
		cmocka_unit_test_setup_teardown(rejection_windows_claimed_once,
						setup, teardown),
		cmocka_unit_test_setup_teardown(data_version_sees_other_writers,
						setup, teardown),
		cmocka_unit_test_setup_teardown(group_update_and_remove, setup,
						teardown),
		cmocka_unit_test_setup_teardown(session_history, setup,
						teardown),
		cmocka_unit_test_setup_teardown(checkins_in_one_batch, setup,
						teardown),
		cmocka_unit_test_setup_teardown(outcome_counts_and_paging,
						setup, teardown),
		cmocka_unit_test_setup_teardown(session_record_at_most_once,
						setup, teardown),
		cmocka_unit_test_setup_teardown(v2_releases_per_chip, setup,
						teardown),
		cmocka_unit_test_setup_teardown(v2_chip_key_and_downgrade_flag,
						setup, teardown),
		cmocka_unit_test_setup_teardown(missing_rows_notfound, setup,
						teardown),
		cmocka_unit_test_setup_teardown(held_round_trip, setup,
						teardown),
		cmocka_unit_test_setup_teardown(chip_update_and_reprovision,
						setup, teardown),
		cmocka_unit_test_setup_teardown(interrupt_marks_only_started,
						setup, teardown),
		cmocka_unit_test_setup_teardown(newer_schema_refused, setup,
						teardown),
		cmocka_unit_test_setup_teardown(readonly_refuses_writes, setup,
						teardown),
		cmocka_unit_test_setup_teardown(foreign_database_refused, setup,
						teardown),
		cmocka_unit_test_setup_teardown(queries_pulls_backup, setup,
						teardown),
		cmocka_unit_test_setup_teardown(pg_row_locks_are_busy, setup,
						teardown),
		cmocka_unit_test_setup_teardown(create_and_migrate, setup,
						teardown),
		cmocka_unit_test_setup_teardown(data_version_follows_others,
						setup, teardown),
		cmocka_unit_test(outcome_names),
	};

	pg_url = getenv("LUAOTA_TEST_PG");
	if (pg_url != NULL && *pg_url != '\0')
		return cmocka_run_group_tests_name("store on PostgreSQL",
						   portable, NULL, NULL);
	pg_url = NULL;
	/* Before SQLite initialises: the allocator is fixed from then on. */
	fault_install();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
