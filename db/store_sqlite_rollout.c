/*
 * Staged rollouts, the pinned release of a group and the directory
 * snapshots that serve it.  See store.h for the contracts,
 * store_sqlite.h for the helpers.
 */
#include "store_sqlite.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int ended(enum store_rollout_state s)
{
	return s == STORE_ROLLOUT_HALTED || s == STORE_ROLLOUT_ABORTED ||
	       s == STORE_ROLLOUT_DONE;
}

int sqlite_group_set_release(struct store *st, const char *name,
			     const char *revision)
{
	sqlite3_stmt *s = sq_stmt(st, ST_GROUP_SET_RELEASE);
	int rc;

	if (s == NULL)
		return -1;
	sq_bind_text(s, 1, name);
	sq_bind_text(s, 2, revision);
	if ((rc = sq_run(st, s, "pinning group")) != 0)
		return rc;
	if (sqlite3_changes(st->db) == 0)
		return sq_set_error(st, STORE_NOTFOUND, "no such group: %s",
				    name);
	return 0;
}

static int id_read(struct store *st, sqlite3_stmt *s, void *row)
{
	return sq_column_text(st, s, 0, (char **)row);
}

static void id_free(void *row)
{
	free(*(char **)row);
}

int sqlite_group_chip_ids(struct store *st, int64_t group_id, char ***ids,
			  size_t *n)
{
	sqlite3_stmt *s = sq_stmt(st, ST_GROUP_CHIP_IDS);

	*ids = NULL;
	*n = 0;
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, group_id);
	return sq_read_list(st, s, "listing the group's chips", id_read,
			    id_free, sizeof(char *), (void **)ids, n);
}

void store_ids_free(char **ids, size_t n)
{
	sq_list_free(ids, n, sizeof(char *), id_free);
}

/* Snapshots. */

int sqlite_snapshot_add(struct store *st, int64_t group_id,
			const char *revision,
			const struct store_snapshot_file *files, size_t n)
{
	sqlite3_stmt *s;
	size_t i;
	int rc, have;

	if ((rc = sq_tx_write(st)) != 0)
		return rc;
	if ((s = sq_stmt(st, ST_SNAPSHOT_HAS)) == NULL) {
		rc = -1;
		goto fail;
	}
	sqlite3_bind_int64(s, 1, group_id);
	sq_bind_text(s, 2, revision);
	if ((rc = sq_step_row(st, s, "snapshot")) != 0)
		goto fail;
	have = sqlite3_column_int(s, 0);
	sqlite3_reset(s);
	for (i = 0; !have && i < n; i++) {
		if ((s = sq_stmt(st, ST_SNAPSHOT_FILE_ADD)) == NULL) {
			rc = -1;
			goto fail;
		}
		sqlite3_bind_int64(s, 1, group_id);
		sq_bind_text(s, 2, revision);
		sqlite3_bind_int64(s, 3, (int64_t)i);
		sq_bind_text(s, 4, files[i].name);
		/* An empty file is a zero-length blob, never NULL. */
		if (files[i].len > 0)
			sqlite3_bind_blob(s, 5, files[i].data,
					  (int)files[i].len, SQLITE_STATIC);
		else
			sqlite3_bind_zeroblob(s, 5, 0);
		if ((rc = sq_run(st, s, "keeping a snapshot")) != 0) {
			if (rc == STORE_NOTFOUND)
				sq_set_error(st, rc, "no such group");
			goto fail;
		}
	}
	if ((rc = sq_tx_commit(st)) != 0)
		goto fail;
	return 0;
fail:
	sq_tx_rollback(st);
	return rc;
}

static int snapshot_file_read(struct store *st, sqlite3_stmt *s, void *row)
{
	struct store_snapshot_file *f = row;
	size_t len = (size_t)sqlite3_column_bytes(s, 1);
	const void *blob = sqlite3_column_blob(s, 1);

	if (sq_column_text(st, s, 0, &f->name) != 0)
		return -1;
	/* One byte more: never malloc(0). */
	if ((f->data = malloc(len + 1)) == NULL)
		return sq_set_error(st, -1, "out of memory");
	if (len > 0)
		memcpy(f->data, blob, len);
	f->len = len;
	return 0;
}

static void snapshot_file_free(void *row)
{
	struct store_snapshot_file *f = row;

	free(f->name);
	free(f->data);
}

int sqlite_snapshot_get(struct store *st, int64_t group_id,
			const char *revision,
			struct store_snapshot_file **files, size_t *n)
{
	sqlite3_stmt *s;
	int rc, have, own;

	*files = NULL;
	*n = 0;
	if ((rc = sq_tx_read(st, &own)) != 0)
		return rc;
	if ((s = sq_stmt(st, ST_SNAPSHOT_HAS)) == NULL)
		return sq_tx_read_end(st, own, -1);
	sqlite3_bind_int64(s, 1, group_id);
	sq_bind_text(s, 2, revision);
	if ((rc = sq_step_row(st, s, "snapshot")) != 0)
		return sq_tx_read_end(st, own, rc);
	have = sqlite3_column_int(s, 0);
	sqlite3_reset(s);
	if (!have)
		return sq_tx_read_end(st, own,
				      sq_set_error(st, STORE_NOTFOUND,
						   "no snapshot of revision %s",
						   revision));
	if ((s = sq_stmt(st, ST_SNAPSHOT_GET)) == NULL)
		return sq_tx_read_end(st, own, -1);
	sqlite3_bind_int64(s, 1, group_id);
	sq_bind_text(s, 2, revision);
	rc = sq_read_list(st, s, "reading a snapshot", snapshot_file_read,
			  snapshot_file_free, sizeof(**files), (void **)files,
			  n);
	return sq_tx_read_end(st, own, rc);
}

void store_snapshot_free(struct store_snapshot_file *files, size_t n)
{
	sq_list_free(files, n, sizeof(*files), snapshot_file_free);
}

/* Rollouts. */

/* Reads the current row of a ROLLOUT_COLUMNS query. */
static int rollout_read(struct store *st, sqlite3_stmt *s, void *row)
{
	struct store_rollout *r = row;
	char *state = NULL;

	r->id = sqlite3_column_int64(s, 0);
	r->group_id = sqlite3_column_int64(s, 1);
	r->wave = sqlite3_column_int(s, 8);
	r->max_failures = sqlite3_column_int64(s, 9);
	r->max_failures_pct = sqlite3_column_int(s, 10);
	r->max_inflight = sqlite3_column_int64(s, 11);
	r->soak = sqlite3_column_int64(s, 12);
	r->deadline = sqlite3_column_int64(s, 13);
	r->loop_checkins = sqlite3_column_int64(s, 14);
	r->loop_window = sqlite3_column_int64(s, 15);
	r->started_ms = sqlite3_column_int64(s, 16);
	r->wave_started_ms = sqlite3_column_int64(s, 17);
	r->ended_ms = sqlite3_column_int64(s, 18);
	if (sq_column_text(st, s, 2, &r->group_name) != 0 ||
	    sq_column_text(st, s, 3, &r->from_revision) != 0 ||
	    sq_column_text(st, s, 4, &r->to_revision) != 0 ||
	    sq_column_text(st, s, 5, &state) != 0 ||
	    sq_column_text(st, s, 6, &r->plan) != 0 ||
	    sq_column_text(st, s, 7, &r->waves) != 0 ||
	    sq_column_text(st, s, 19, &r->reason) != 0) {
		free(state);
		return -1;
	}
	r->state = store_rollout_state_parse(state);
	free(state);
	return 0;
}

static void rollout_row_free(void *row)
{
	store_rollout_free(row);
}

/* Runs a bound ROLLOUT_COLUMNS query expected to return one row. */
static int rollout_one(struct store *st, sqlite3_stmt *s, const char *what,
		       struct store_rollout *out)
{
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = sq_step_row(st, s, what)) != 0)
		return rc;
	rc = rollout_read(st, s, out);
	sqlite3_reset(s);
	if (rc != 0)
		store_rollout_free(out);
	return rc;
}

int sqlite_rollout_add(struct store *st, const struct store_rollout *r,
		       store_rollout_waves_fn waves_fn, void *arg, int64_t *id)
{
	sqlite3_stmt *s;
	char *waves = NULL;
	int64_t next;
	int rc;

	if ((rc = sq_tx_write(st)) != 0)
		return rc;
	/* The id first: the waves hash it with each chip's. */
	if ((s = sq_stmt(st, ST_ROLLOUT_NEXT_ID)) == NULL ||
	    (rc = sq_step_row(st, s, "rollout id")) != 0) {
		rc = rc != 0 ? rc : -1;
		goto fail;
	}
	next = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	if (waves_fn(st, next, arg, &waves) != 0) {
		rc = sq_set_error(st, -1, "the waves could not be planned");
		goto fail;
	}
	if ((s = sq_stmt(st, ST_ROLLOUT_ADD)) == NULL) {
		rc = -1;
		goto fail;
	}
	sqlite3_bind_int64(s, 1, r->group_id);
	sq_bind_text(s, 2, r->from_revision);
	sq_bind_text(s, 3, r->to_revision);
	sq_bind_text(s, 4, r->plan);
	sq_bind_text(s, 5, waves);
	sqlite3_bind_int64(s, 6, r->max_failures);
	sqlite3_bind_int(s, 7, r->max_failures_pct != 0);
	sqlite3_bind_int64(s, 8, r->max_inflight);
	sqlite3_bind_int64(s, 9, r->soak);
	sqlite3_bind_int64(s, 10, r->deadline);
	sqlite3_bind_int64(s, 11, r->loop_checkins);
	sqlite3_bind_int64(s, 12, r->loop_window);
	sqlite3_bind_int64(s, 13, r->started_ms);
	sqlite3_bind_int64(s, 14, next);
	if ((rc = sq_run(st, s, "starting a rollout")) != 0) {
		if (rc == STORE_EXISTS)
			sq_set_error(st, rc,
				     "the group has a rollout under way");
		else if (rc == STORE_NOTFOUND)
			sq_set_error(st, rc, "no such group");
		goto fail;
	}
	*id = next;
	/* Chips outside the first wave stay where they are. */
	if ((s = sq_stmt(st, ST_GROUP_RELEASE_ID)) == NULL) {
		rc = -1;
		goto fail;
	}
	sqlite3_bind_int64(s, 1, r->group_id);
	sq_bind_text(s, 2, r->from_revision);
	if ((rc = sq_run(st, s, "pinning group")) != 0)
		goto fail;
	if ((rc = sq_tx_commit(st)) != 0)
		goto fail;
	free(waves);
	return 0;
fail:
	sq_tx_rollback(st);
	free(waves);
	return rc;
}

int sqlite_rollout_get(struct store *st, int64_t id, struct store_rollout *out)
{
	sqlite3_stmt *s = sq_stmt(st, ST_ROLLOUT_GET);
	int rc;

	memset(out, 0, sizeof(*out));
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, id);
	rc = rollout_one(st, s, "rollout", out);
	if (rc == STORE_NOTFOUND)
		sq_set_error(st, rc, "no such rollout: %lld", (long long)id);
	return rc;
}

int sqlite_rollout_active(struct store *st, int64_t group_id,
			  struct store_rollout *out)
{
	sqlite3_stmt *s = sq_stmt(st, ST_ROLLOUT_ACTIVE);

	memset(out, 0, sizeof(*out));
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, group_id);
	return rollout_one(st, s, "rollout under way", out);
}

static int rollout_rows(struct store *st, sqlite3_stmt *s,
			struct store_rollout **out, size_t *n)
{
	return sq_read_list(st, s, "listing rollouts", rollout_read,
			    rollout_row_free, sizeof(**out), (void **)out, n);
}

int sqlite_rollout_list_active(struct store *st, struct store_rollout **out,
			       size_t *n)
{
	sqlite3_stmt *s = sq_stmt(st, ST_ROLLOUT_LIST_ACTIVE);

	*out = NULL;
	*n = 0;
	if (s == NULL)
		return -1;
	return rollout_rows(st, s, out, n);
}

int sqlite_rollout_list(struct store *st, int64_t group_id,
			struct store_rollout **out, size_t *n)
{
	sqlite3_stmt *s = sq_stmt(st, group_id != 0 ? ST_ROLLOUT_LIST_GROUP
						    : ST_ROLLOUT_LIST_ALL);

	*out = NULL;
	*n = 0;
	if (s == NULL)
		return -1;
	if (group_id != 0)
		sqlite3_bind_int64(s, 1, group_id);
	return rollout_rows(st, s, out, n);
}

int sqlite_rollout_move(struct store *st, int64_t id,
			enum store_rollout_state from, int wave,
			enum store_rollout_state to, int new_wave,
			const char *reason, int64_t now_ms)
{
	struct store_rollout r;
	sqlite3_stmt *s;
	int rc;

	if ((rc = sq_tx_write(st)) != 0)
		return rc;
	if ((rc = store_rollout_get(st, id, &r)) != 0)
		goto fail;
	if ((s = sq_stmt(st, ST_ROLLOUT_MOVE)) == NULL) {
		rc = -1;
		goto out;
	}
	sqlite3_bind_int64(s, 1, id);
	sq_bind_text(s, 2, store_rollout_state_name(from));
	sqlite3_bind_int(s, 3, wave);
	sq_bind_text(s, 4, store_rollout_state_name(to));
	sqlite3_bind_int(s, 5, new_wave);
	sq_bind_text(s, 6, reason);
	sqlite3_bind_int64(s, 7, now_ms);
	if ((rc = sq_run(st, s, "moving a rollout")) != 0)
		goto out;
	if (sqlite3_changes(st->db) == 0) {
		rc = sq_set_error(st, STORE_NOTFOUND,
				  "rollout %lld is %s at wave %d, not %s at "
				  "wave %d",
				  (long long)id,
				  store_rollout_state_name(r.state), r.wave + 1,
				  store_rollout_state_name(from), wave + 1);
		goto out;
	}
	if (ended(to)) {
		if ((s = sq_stmt(st, ST_GROUP_RELEASE_ID)) == NULL) {
			rc = -1;
			goto out;
		}
		sqlite3_bind_int64(s, 1, r.group_id);
		sq_bind_text(s, 2,
			     to == STORE_ROLLOUT_DONE ? r.to_revision
						      : r.from_revision);
		if ((rc = sq_run(st, s, "pinning group")) != 0)
			goto out;
	}
	rc = sq_tx_commit(st);
out:
	store_rollout_free(&r);
fail:
	if (rc != 0)
		sq_tx_rollback(st);
	return rc;
}

void store_rollout_free(struct store_rollout *r)
{
	if (r == NULL)
		return;
	free(r->group_name);
	free(r->from_revision);
	free(r->to_revision);
	free(r->plan);
	free(r->waves);
	free(r->reason);
	memset(r, 0, sizeof(*r));
}

void store_rollout_list_free(struct store_rollout *r, size_t n)
{
	sq_list_free(r, n, sizeof(*r), rollout_row_free);
}

int sqlite_group_sessions_since(struct store *st, int64_t group_id,
				int64_t since_ms, struct store_session **out,
				size_t *n)
{
	sqlite3_stmt *s = sq_stmt(st, ST_GROUP_SESSIONS_SINCE);

	*out = NULL;
	*n = 0;
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, group_id);
	sqlite3_bind_int64(s, 2, since_ms);
	return sq_session_rows(st, s, out, n);
}

int sqlite_group_sessions_after(struct store *st, int64_t group_id,
				int64_t since_ms, int64_t after_id,
				struct store_session **out, size_t *n)
{
	sqlite3_stmt *s = sq_stmt(st, ST_GROUP_SESSIONS_AFTER);

	*out = NULL;
	*n = 0;
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, group_id);
	sqlite3_bind_int64(s, 2, since_ms);
	sqlite3_bind_int64(s, 3, after_id);
	return sq_session_rows(st, s, out, n);
}

int sqlite_chip_sessions_since(struct store *st, const char *chip_id,
			       int64_t since_ms, struct store_session **out,
			       size_t *n)
{
	sqlite3_stmt *s = sq_stmt(st, ST_CHIP_SESSIONS_SINCE);

	*out = NULL;
	*n = 0;
	if (s == NULL)
		return -1;
	sq_bind_text(s, 1, chip_id);
	sqlite3_bind_int64(s, 2, since_ms);
	return sq_session_rows(st, s, out, n);
}
