/*
 * Staged rollouts, pinned releases and directory snapshots on
 * PostgreSQL.  A rollout moves only from the state and wave its mover
 * saw (a compare-and-set in one UPDATE), so two daemons reviewing the
 * same rollout never both advance it.  See store.h for the contracts,
 * store_pg.h for the helpers.
 */
#include "store_pg.h"

#include <stdlib.h>
#include <string.h>

#define ROLLOUT_COLUMNS                                                        \
	"SELECT o.id, o.group_id, g.name, o.from_revision, o.to_revision, "    \
	"o.state, o.plan, o.waves, o.wave, o.max_failures, "                   \
	"o.max_failures_pct, o.max_inflight, o.soak, o.deadline, "             \
	"o.loop_checkins, o.loop_window, o.started_ms, o.wave_started_ms, "    \
	"o.ended_ms, o.reason FROM rollouts o JOIN groups g ON g.id = "        \
	"o.group_id "

static int ended(enum store_rollout_state s)
{
	return s == STORE_ROLLOUT_HALTED || s == STORE_ROLLOUT_ABORTED ||
	       s == STORE_ROLLOUT_DONE;
}

/* A one-row change by a key: STORE_NOTFOUND (with message) when none. */
static int change_one(struct store *st, const char *what, const char *sql,
		      const struct pg_params *p, const char *missing)
{
	PGresult *res;
	int rc;

	if ((rc = pg_writable(st)) != 0 ||
	    (rc = pg_query(st, what, sql, p, &res)) != 0)
		return rc;
	rc = strcmp(PQcmdTuples(res), "0") == 0
		 ? pg_set_error(st, STORE_NOTFOUND, "%s", missing)
		 : 0;
	PQclear(res);
	return rc;
}

int pg_group_set_release(struct store *st, const char *name,
			 const char *revision)
{
	struct pg_params p = { .n = 0 };
	char missing[128];

	pg_text(&p, name);
	pg_text(&p, revision);
	snprintf(missing, sizeof(missing), "no such group: %s", name);
	return change_one(st, "pinning group",
			  "UPDATE groups SET release = $2 WHERE name = $1", &p,
			  missing);
}

static int id_read(struct store *st, const PGresult *res, int row, void *dest)
{
	return pg_col_text(st, res, row, 0, (char **)dest);
}

static void id_free(void *row)
{
	free(*(char **)row);
}

int pg_group_chip_ids(struct store *st, int64_t group_id, char ***ids,
		      size_t *n)
{
	struct pg_params p = { .n = 0 };
	PGresult *res;
	int rc;

	*ids = NULL;
	*n = 0;
	pg_int(&p, group_id);
	if ((rc = pg_query(st, "listing the group's chips",
			   "SELECT id FROM chips WHERE group_id = $1 ORDER BY "
			   "id COLLATE \"C\"",
			   &p, &res)) != 0)
		return rc;
	return pg_read_list(st, res, sizeof(**ids), id_read, id_free,
			    (void **)ids, n);
}

int pg_snapshot_add(struct store *st, int64_t group_id, const char *revision,
		    const struct store_snapshot_file *files, size_t n)
{
	struct pg_params p;
	unsigned char *hex;
	size_t i, hex_len;
	int rc;

	if ((rc = pg_writable(st)) != 0 || (rc = pg_begin(st)) != 0)
		return rc;
	for (i = 0; i < n; i++) {
		/* bytea's hex text form: an empty file is "\x", never NULL. */
		hex = PQescapeByteaConn(st->conn, files[i].data, files[i].len,
					&hex_len);
		if (hex == NULL) {
			rc = pg_set_error(st, -1, "out of memory");
			goto fail;
		}
		p.n = 0;
		pg_int(&p, group_id);
		pg_text(&p, revision);
		pg_int(&p, (int64_t)i);
		pg_text(&p, files[i].name);
		pg_text(&p, (const char *)hex);
		/* A snapshot is kept once: the first keeper's files stay. */
		rc = pg_query(st, "keeping a snapshot",
			      "INSERT INTO snapshot_files (group_id, revision, "
			      "position, name, data) VALUES ($1, $2, $3, $4, "
			      "$5::bytea) ON CONFLICT DO NOTHING",
			      &p, NULL);
		PQfreemem(hex);
		if (rc == STORE_NOTFOUND)
			pg_set_error(st, rc, "no such group");
		if (rc != 0)
			goto fail;
	}
	if ((rc = pg_commit(st)) != 0)
		goto fail;
	return 0;
fail:
	pg_rollback(st);
	return rc;
}

int pg_snapshot_get(struct store *st, int64_t group_id, const char *revision,
		    struct store_snapshot_file **files, size_t *n)
{
	struct pg_params p = { .n = 0 };
	PGresult *res;
	int rc, rows, i;

	*files = NULL;
	*n = 0;
	pg_int(&p, group_id);
	pg_text(&p, revision);
	if ((rc = pg_query(st, "reading a snapshot",
			   "SELECT name, data FROM snapshot_files WHERE "
			   "group_id = $1 AND revision = $2 ORDER BY position",
			   &p, &res)) != 0)
		return rc;
	rows = PQntuples(res);
	if (rows == 0) {
		PQclear(res);
		return pg_set_error(st, STORE_NOTFOUND,
				    "no snapshot of revision %s", revision);
	}
	if ((*files = calloc((size_t)rows, sizeof(**files))) == NULL) {
		PQclear(res);
		return pg_set_error(st, -1, "out of memory");
	}
	for (i = 0; i < rows; i++) {
		struct store_snapshot_file *f = &(*files)[i];
		size_t len;
		unsigned char *bytes = PQunescapeBytea(
		    (const unsigned char *)PQgetvalue(res, i, 1), &len);

		/* One byte more: never malloc(0). */
		if (bytes == NULL ||
		    pg_col_text(st, res, i, 0, &f->name) != 0 ||
		    (f->data = malloc(len + 1)) == NULL) {
			PQfreemem(bytes);
			store_snapshot_free(*files, (size_t)i + 1);
			*files = NULL;
			PQclear(res);
			return pg_set_error(st, -1, "out of memory");
		}
		memcpy(f->data, bytes, len);
		f->len = len;
		PQfreemem(bytes);
	}
	*n = (size_t)rows;
	PQclear(res);
	return 0;
}

static int rollout_read(struct store *st, const PGresult *res, int row,
			void *dest)
{
	struct store_rollout *r = dest;

	memset(r, 0, sizeof(*r));
	r->id = pg_col_int(res, row, 0);
	r->group_id = pg_col_int(res, row, 1);
	r->state = store_rollout_state_parse(PQgetvalue(res, row, 5));
	r->wave = (int)pg_col_int(res, row, 8);
	r->max_failures = pg_col_int(res, row, 9);
	r->max_failures_pct = (int)pg_col_int(res, row, 10);
	r->max_inflight = pg_col_int(res, row, 11);
	r->soak = pg_col_int(res, row, 12);
	r->deadline = pg_col_int(res, row, 13);
	r->loop_checkins = pg_col_int(res, row, 14);
	r->loop_window = pg_col_int(res, row, 15);
	r->started_ms = pg_col_int(res, row, 16);
	r->wave_started_ms = pg_col_int(res, row, 17);
	r->ended_ms = pg_col_int(res, row, 18);
	if (pg_col_text(st, res, row, 2, &r->group_name) != 0 ||
	    pg_col_text(st, res, row, 3, &r->from_revision) != 0 ||
	    pg_col_text(st, res, row, 4, &r->to_revision) != 0 ||
	    pg_col_text(st, res, row, 6, &r->plan) != 0 ||
	    pg_col_text(st, res, row, 7, &r->waves) != 0 ||
	    pg_col_text(st, res, row, 19, &r->reason) != 0) {
		store_rollout_free(r);
		return -1;
	}
	return 0;
}

static void rollout_row_free(void *row)
{
	store_rollout_free(row);
}

static int rollout_rows(struct store *st, const char *sql,
			const struct pg_params *p, struct store_rollout **out,
			size_t *n)
{
	PGresult *res;
	int rc;

	*out = NULL;
	*n = 0;
	if ((rc = pg_query(st, "listing rollouts", sql, p, &res)) != 0)
		return rc;
	return pg_read_list(st, res, sizeof(**out), rollout_read,
			    rollout_row_free, (void **)out, n);
}

static int rollout_one(struct store *st, const char *sql,
		       const struct pg_params *p, const char *missing,
		       struct store_rollout *out)
{
	struct store_rollout *rows;
	size_t n;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = rollout_rows(st, sql, p, &rows, &n)) != 0)
		return rc;
	if (n == 0) {
		free(rows);
		return pg_set_error(st, STORE_NOTFOUND, "%s", missing);
	}
	*out = rows[0];
	memset(&rows[0], 0, sizeof(rows[0]));
	store_rollout_list_free(rows, n);
	return 0;
}

int pg_rollout_add(struct store *st, const struct store_rollout *r,
		   store_rollout_waves_fn waves_fn, void *arg, int64_t *id)
{
	struct pg_params p = { .n = 0 };
	PGresult *res;
	char *waves = NULL;
	int64_t next;
	int rc;

	if ((rc = pg_writable(st)) != 0 || (rc = pg_begin(st)) != 0)
		return rc;
	/* The id first: the waves hash it with each chip's. */
	if ((rc = pg_query_row(st, "rollout id",
			       "SELECT nextval('rollouts_id_seq')", NULL,
			       &res)) != 0)
		goto fail;
	next = pg_col_int(res, 0, 0);
	PQclear(res);
	if (waves_fn(st, next, arg, &waves) != 0) {
		rc = pg_set_error(st, -1, "the waves could not be planned");
		goto fail;
	}
	pg_int(&p, r->group_id);
	pg_text(&p, r->from_revision);
	pg_text(&p, r->to_revision);
	pg_text(&p, r->plan);
	pg_text(&p, waves);
	pg_int(&p, r->max_failures);
	pg_int(&p, r->max_failures_pct != 0);
	pg_int(&p, r->max_inflight);
	pg_int(&p, r->soak);
	pg_int(&p, r->deadline);
	pg_int(&p, r->loop_checkins);
	pg_int(&p, r->loop_window);
	pg_int(&p, r->started_ms);
	pg_int(&p, next);
	rc = pg_query(st, "starting a rollout",
		      "INSERT INTO rollouts (group_id, from_revision, "
		      "to_revision, plan, waves, max_failures, "
		      "max_failures_pct, max_inflight, soak, deadline, "
		      "loop_checkins, loop_window, started_ms, "
		      "wave_started_ms, id) VALUES ($1, $2, $3, $4, $5, $6, "
		      "$7, $8, $9, $10, $11, $12, $13, $13, $14)",
		      &p, NULL);
	if (rc == STORE_EXISTS)
		pg_set_error(st, rc, "the group has a rollout under way");
	else if (rc == STORE_NOTFOUND)
		pg_set_error(st, rc, "no such group");
	if (rc != 0)
		goto fail;
	*id = next;
	/* Chips outside the first wave stay where they are. */
	p.n = 0;
	pg_int(&p, r->group_id);
	pg_text(&p, r->from_revision);
	if ((rc = pg_query(st, "pinning group",
			   "UPDATE groups SET release = $2 WHERE id = $1", &p,
			   NULL)) != 0 ||
	    (rc = pg_commit(st)) != 0)
		goto fail;
	free(waves);
	return 0;
fail:
	pg_rollback(st);
	free(waves);
	return rc;
}

int pg_rollout_get(struct store *st, int64_t id, struct store_rollout *out)
{
	struct pg_params p = { .n = 0 };
	char missing[64];

	pg_int(&p, id);
	snprintf(missing, sizeof(missing), "no such rollout: %lld",
		 (long long)id);
	return rollout_one(st, ROLLOUT_COLUMNS "WHERE o.id = $1", &p, missing,
			   out);
}

int pg_rollout_active(struct store *st, int64_t group_id,
		      struct store_rollout *out)
{
	struct pg_params p = { .n = 0 };

	pg_int(&p, group_id);
	return rollout_one(st,
			   ROLLOUT_COLUMNS "WHERE o.group_id = $1 AND o.state "
					   "IN ('running', 'paused')",
			   &p, "rollout under way: not found", out);
}

int pg_rollout_list_active(struct store *st, struct store_rollout **out,
			   size_t *n)
{
	return rollout_rows(st,
			    ROLLOUT_COLUMNS "WHERE o.state IN ('running', "
					    "'paused') ORDER BY o.id",
			    NULL, out, n);
}

int pg_rollout_list(struct store *st, int64_t group_id,
		    struct store_rollout **out, size_t *n)
{
	struct pg_params p = { .n = 0 };

	pg_int(&p, group_id);
	return rollout_rows(st,
			    ROLLOUT_COLUMNS "WHERE $1 = 0 OR o.group_id = $1 "
					    "ORDER BY o.id DESC",
			    &p, out, n);
}

int pg_rollout_move(struct store *st, int64_t id, enum store_rollout_state from,
		    int wave, enum store_rollout_state to, int new_wave,
		    const char *reason, int64_t now_ms)
{
	struct store_rollout r;
	struct pg_params p = { .n = 0 };
	PGresult *res;
	int rc, moved;

	if ((rc = pg_writable(st)) != 0 || (rc = pg_begin(st)) != 0)
		return rc;
	if ((rc = pg_rollout_get(st, id, &r)) != 0)
		goto fail;
	pg_int(&p, id);
	pg_text(&p, store_rollout_state_name(from));
	pg_int(&p, wave);
	pg_text(&p, store_rollout_state_name(to));
	pg_int(&p, new_wave);
	pg_text(&p, reason);
	pg_int(&p, now_ms);
	if ((rc = pg_query(st, "moving a rollout",
			   "UPDATE rollouts SET state = $4, wave = $5, reason "
			   "= coalesce($6, reason), wave_started_ms = CASE "
			   "WHEN wave = $5 THEN wave_started_ms ELSE $7 END, "
			   "ended_ms = CASE WHEN $4 IN ('halted', 'aborted', "
			   "'done') THEN $7 ELSE 0 END WHERE id = $1 AND state "
			   "= $2 AND wave = $3",
			   &p, &res)) != 0)
		goto out;
	moved = strcmp(PQcmdTuples(res), "0") != 0;
	PQclear(res);
	if (!moved) {
		rc = pg_set_error(st, STORE_NOTFOUND,
				  "rollout %lld is %s at wave %d, not %s at "
				  "wave %d",
				  (long long)id,
				  store_rollout_state_name(r.state), r.wave + 1,
				  store_rollout_state_name(from), wave + 1);
		goto out;
	}
	if (ended(to)) {
		p.n = 0;
		pg_int(&p, r.group_id);
		pg_text(&p, to == STORE_ROLLOUT_DONE ? r.to_revision
						     : r.from_revision);
		if ((rc = pg_query(st, "pinning group",
				   "UPDATE groups SET release = $2 WHERE id = "
				   "$1",
				   &p, NULL)) != 0)
			goto out;
	}
	rc = pg_commit(st);
out:
	store_rollout_free(&r);
fail:
	if (rc != 0)
		pg_rollback(st);
	return rc;
}

int pg_group_sessions_since(struct store *st, int64_t group_id,
			    int64_t since_ms, struct store_session **out,
			    size_t *n)
{
	struct pg_params p = { .n = 0 };

	pg_int(&p, group_id);
	pg_int(&p, since_ms);
	return pg_session_rows(st,
			       PG_SESSION_COLUMNS "WHERE started_ms >= $2 AND "
						  "chip_id IN (SELECT id FROM "
						  "chips WHERE group_id = $1) "
						  "ORDER BY started_ms, id",
			       &p, out, n);
}

int pg_group_sessions_after(struct store *st, int64_t group_id,
			    int64_t since_ms, int64_t after_id,
			    struct store_session **out, size_t *n)
{
	struct pg_params p = { .n = 0 };

	pg_int(&p, group_id);
	pg_int(&p, since_ms);
	pg_int(&p, after_id);
	return pg_session_rows(st,
			       PG_SESSION_COLUMNS
			       "WHERE id > $3 AND started_ms "
			       ">= $2 AND chip_id IN (SELECT "
			       "id FROM chips WHERE group_id = "
			       "$1) ORDER BY id",
			       &p, out, n);
}

int pg_chip_sessions_since(struct store *st, const char *chip_id,
			   int64_t since_ms, struct store_session **out,
			   size_t *n)
{
	struct pg_params p = { .n = 0 };

	pg_text(&p, chip_id);
	pg_int(&p, since_ms);
	return pg_session_rows(st,
			       PG_SESSION_COLUMNS "WHERE chip_id = $1 AND "
						  "started_ms >= $2 ORDER BY "
						  "started_ms, id",
			       &p, out, n);
}

/* Slots are counted under a per-rollout advisory lock: two daemons
 * taking the last slot at once are served one after the other. */
#define PG_SLOT_LOCK_CLASS 0x6c6f

int pg_rollout_slot_take(struct store *st, int64_t rollout_id, int64_t max,
			 int64_t now_ms, int64_t stale_before_ms, int64_t *slot)
{
	struct pg_params p = { .n = 0 };
	PGresult *res;
	int rc;

	*slot = 0;
	if ((rc = pg_writable(st)) != 0 || (rc = pg_begin(st)) != 0)
		return rc;
	pg_int(&p, PG_SLOT_LOCK_CLASS);
	pg_int(&p, rollout_id);
	if ((rc = pg_query(st, "rollout slot lock",
			   "SELECT pg_advisory_xact_lock($1::int, $2::int)", &p,
			   NULL)) != 0)
		goto fail;
	p.n = 0;
	pg_int(&p, rollout_id);
	pg_int(&p, stale_before_ms);
	pg_int(&p, max);
	pg_text(&p, st->owner);
	pg_int(&p, now_ms);
	if ((rc = pg_query(st, "taking a rollout slot",
			   "INSERT INTO rollout_slots (rollout_id, daemon, "
			   "taken_ms) SELECT $1, $4, $5 WHERE (SELECT count(*) "
			   "FROM rollout_slots WHERE rollout_id = $1 AND "
			   "taken_ms >= $2) < $3 RETURNING id",
			   &p, &res)) != 0)
		goto fail;
	if (PQntuples(res) > 0)
		*slot = pg_col_int(res, 0, 0);
	PQclear(res);
	if ((rc = pg_commit(st)) != 0) {
		*slot = 0;
		goto fail;
	}
	return 0;
fail:
	pg_rollback(st);
	return rc;
}

int pg_rollout_slot_release(struct store *st, int64_t slot)
{
	struct pg_params p = { .n = 0 };

	pg_int(&p, slot);
	return pg_query(st, "giving back a rollout slot",
			"DELETE FROM rollout_slots WHERE id = $1", &p, NULL);
}

/* The server checks its own pages; ours is the schema this build knows. */
int pg_integrity_check(struct store *st, char **report)
{
	*report = NULL;
	if (st->ops->check(st) != 0)
		return -1;
	if ((*report = strdup("ok\n")) == NULL)
		return pg_set_error(st, -1, "out of memory");
	return 0;
}

int pg_backup(struct store *st, const char *path)
{
	return pg_set_error(st, -1,
			    "%s: back up a PostgreSQL inventory with pg_dump "
			    "(see docs/operators-guide.md)",
			    path);
}
