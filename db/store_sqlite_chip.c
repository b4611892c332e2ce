/*
 * Chips, the files we gave them, and their v2 release counters. See
 * store.h for the contracts, store_sqlite.h for the helpers.
 */
#include "store_sqlite.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/protocol.h"

/* Adds a chip speaking legacy (v2_key NULL) or v2. */
static int chip_add(struct store *st, const char *id, const char *group,
		    const char *secret, const char *label, const char *v2_key)
{
	sqlite3_stmt *s;
	int64_t group_id;
	int rc;

	if (secret == NULL || secret[0] == '\0')
		return sq_set_error(st, -1, "chip %s: empty secret", id);
	if (v2_key != NULL && strlen(v2_key) != 64)
		return sq_set_error(st, -1,
				    "chip %s: a v2 key is 64 hex digits", id);
	if ((rc = sq_tx_write(st)) != 0)
		return rc;
	if ((s = sq_stmt(st, ST_GROUP_ID)) == NULL) {
		rc = -1;
		goto fail;
	}
	sq_bind_text(s, 1, group);
	if ((rc = sq_step_row(st, s, "group")) != 0) {
		if (rc == STORE_NOTFOUND)
			sq_set_error(st, rc, "chip %s: no such group: %s", id,
				     group);
		goto fail;
	}
	group_id = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	if ((s = sq_stmt(st, ST_CHIP_ADD)) == NULL) {
		rc = -1;
		goto fail;
	}
	sq_bind_text(s, 1, id);
	sq_bind_text(s, 2, label);
	sq_bind_text(s, 3, secret);
	sqlite3_bind_int64(s, 4, group_id);
	sqlite3_bind_int(
	    s, 5, v2_key != NULL ? LUAOTA_PROTO_V2 : LUAOTA_PROTO_LEGACY);
	sq_bind_text(s, 6, v2_key);
	if ((rc = sq_run(st, s, "adding chip")) != 0) {
		if (rc == STORE_EXISTS)
			sq_set_error(st, rc, "chip %s already exists", id);
		goto fail;
	}
	if ((rc = sq_tx_commit(st)) != 0)
		goto fail;
	return 0;
fail:
	sq_tx_rollback(st);
	return rc;
}

int sqlite_chip_add(struct store *st, const char *id, const char *group,
		    const char *secret, const char *label)
{
	return chip_add(st, id, group, secret, label, NULL);
}

int sqlite_chip_add_v2(struct store *st, const char *id, const char *group,
		       const char *secret, const char *label,
		       const char *v2_key)
{
	if (v2_key == NULL)
		return sq_set_error(st, -1, "chip %s: no v2 key", id);
	return chip_add(st, id, group, secret, label, v2_key);
}

int sqlite_chip_v2_seen(struct store *st, const char *id)
{
	sqlite3_stmt *s = sq_stmt(st, ST_CHIP_V2_SEEN);

	if (s == NULL)
		return -1;
	sq_bind_text(s, 1, id);
	return sq_run(st, s, "marking a v2 session");
}

int sqlite_v2_release_latest(struct store *st, const char *chip_id,
			     struct store_v2_release *out)
{
	sqlite3_stmt *s = sq_stmt(st, ST_V2_RELEASE_LATEST);
	const unsigned char *mh;
	int rc;

	memset(out, 0, sizeof(*out));
	if (s == NULL)
		return -1;
	sq_bind_text(s, 1, chip_id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE) {
		sqlite3_reset(s);
		return STORE_NOTFOUND;
	}
	if (rc != SQLITE_ROW) {
		sqlite3_reset(s);
		return sq_sql_error(st, rc, "reading the chip's v2 release");
	}
	out->rc = sqlite3_column_int64(s, 0);
	out->issued = sqlite3_column_int64(s, 3);
	mh = sqlite3_column_text(s, 1);
	if (mh != NULL)
		snprintf(out->mh, sizeof(out->mh), "%s", (const char *)mh);
	rc = sq_column_text(st, s, 2, &out->manifest);
	sqlite3_reset(s);
	if (rc != 0 || out->manifest == NULL) {
		store_v2_release_free(out);
		return sq_set_error(st, -1, "reading the chip's v2 release");
	}
	return 0;
}

int sqlite_v2_release_add(struct store *st, const char *chip_id,
			  const struct store_v2_release *r)
{
	sqlite3_stmt *s = sq_stmt(st, ST_V2_RELEASE_ADD);
	int rc;

	if (s == NULL)
		return -1;
	sq_bind_text(s, 1, chip_id);
	sqlite3_bind_int64(s, 2, r->rc);
	sq_bind_text(s, 3, r->mh);
	sq_bind_text(s, 4, r->manifest);
	sqlite3_bind_int64(s, 5, r->issued);
	rc = sq_run(st, s, "recording a v2 release");
	if (rc == STORE_EXISTS)
		sq_set_error(st, rc, "release %lld of chip %s already exists",
			     (long long)r->rc, chip_id);
	return rc;
}

void store_v2_release_free(struct store_v2_release *r)
{
	free(r->manifest);
	r->manifest = NULL;
}

/* Reads the current row of a CHIP_COLUMNS query into out. */
static int chip_read(struct store *st, sqlite3_stmt *s, struct store_chip *out)
{
	memset(out, 0, sizeof(*out));
	out->group_id = sqlite3_column_int64(s, 3);
	out->protocol = sqlite3_column_int(s, 6);
	out->enabled = sqlite3_column_int(s, 7);
	out->created = sqlite3_column_int64(s, 8);
	out->first_seen = sqlite3_column_int64(s, 9);
	out->last_seen = sqlite3_column_int64(s, 10);
	out->v2_seen = sqlite3_column_int(s, 16);
	if (sq_column_text(st, s, 0, &out->id) != 0 ||
	    sq_column_text(st, s, 1, &out->label) != 0 ||
	    sq_column_text(st, s, 2, &out->secret) != 0 ||
	    sq_column_text(st, s, 4, &out->group_name) != 0 ||
	    sq_column_text(st, s, 5, &out->config_json) != 0 ||
	    sq_column_text(st, s, 11, &out->last_addr) != 0 ||
	    sq_column_text(st, s, 12, &out->last_outcome) != 0 ||
	    sq_column_text(st, s, 13, &out->chk) != 0 ||
	    sq_column_text(st, s, 14, &out->revision) != 0 ||
	    sq_column_text(st, s, 15, &out->v2_key) != 0) {
		store_chip_free(out);
		return -1;
	}
	return 0;
}

int sqlite_chip_get(struct store *st, const char *id, struct store_chip *out)
{
	sqlite3_stmt *s = sq_stmt(st, ST_CHIP_GET);
	int rc;

	memset(out, 0, sizeof(*out));
	if (s == NULL)
		return -1;
	sq_bind_text(s, 1, id);
	if ((rc = sq_step_row(st, s, "chip")) != 0)
		return rc;
	rc = chip_read(st, s, out);
	sqlite3_reset(s);
	return rc;
}

int sqlite_chip_get_at(struct store *st, const char *id, struct store_chip *out,
		       uint64_t *version)
{
	int rc, own;

	memset(out, 0, sizeof(*out));
	if ((rc = sq_tx_read(st, &own)) != 0)
		return rc;
	rc = sq_data_version(st, version);
	if (rc == 0)
		rc = store_chip_get(st, id, out);
	/* NOTFOUND is an answer, read in a snapshot like any other. */
	if (rc == STORE_NOTFOUND) {
		(void)sq_tx_read_end(st, own, 0);
		return rc;
	}
	if ((rc = sq_tx_read_end(st, own, rc)) != 0)
		store_chip_free(out);
	return rc;
}

void store_chip_free(struct store_chip *c)
{
	if (c == NULL)
		return;
	free(c->id);
	free(c->label);
	if (c->secret != NULL)
		explicit_bzero(c->secret, strlen(c->secret));
	free(c->secret);
	if (c->v2_key != NULL)
		explicit_bzero(c->v2_key, strlen(c->v2_key));
	free(c->v2_key);
	free(c->group_name);
	free(c->config_json);
	free(c->last_addr);
	free(c->last_outcome);
	free(c->chk);
	free(c->revision);
	memset(c, 0, sizeof(*c));
}

int sqlite_chip_foreach(struct store *st,
			int (*fn)(const struct store_chip *, void *), void *arg)
{
	struct store_chip chip;
	sqlite3_stmt *s;
	int rc, own, stop = 0;

	/* One snapshot for the whole list; fn may read the store (not
	 * this list again, nor write: the snapshot holds no write lock). */
	if ((rc = sq_tx_read(st, &own)) != 0)
		return rc;
	if ((s = sq_stmt(st, ST_CHIP_ALL)) == NULL)
		return sq_tx_read_end(st, own, -1);
	while (!stop && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (chip_read(st, s, &chip) != 0) {
			sqlite3_reset(s);
			return sq_tx_read_end(st, own, -1);
		}
		stop = fn(&chip, arg);
		store_chip_free(&chip);
	}
	sqlite3_reset(s);
	if (!stop && rc != SQLITE_DONE)
		return sq_tx_read_end(st, own,
				      sq_sql_error(st, rc, "listing chips"));
	rc = sq_tx_read_end(st, own, 0);
	return rc != 0 ? rc : stop;
}

int sqlite_chip_seen(struct store *st, const char *id, const char *addr,
		     int64_t now)
{
	sqlite3_stmt *s = sq_stmt(st, ST_CHIP_SEEN);
	int rc;

	if (s == NULL)
		return -1;
	if (st->readonly)
		return sq_set_error(st, -1, "the database is open read-only");
	sq_bind_text(s, 1, id);
	sqlite3_bind_int64(s, 2, now);
	sq_bind_text(s, 3, addr);
	if ((rc = sq_run(st, s, "noting a check-in")) != 0)
		return rc;
	if (sqlite3_changes(st->db) == 0)
		return sq_set_error(st, STORE_NOTFOUND, "chip %s: not found",
				    id);
	return 0;
}

/* Held files. */

/* Reads one ST_HELD_GET row into a struct store_held_file. */
static int held_read(struct store *st, sqlite3_stmt *s, void *row)
{
	struct store_held_file *f = row;

	if (sq_column_text(st, s, 0, &f->name) != 0 ||
	    sq_column_text(st, s, 1, &f->token) != 0)
		return -1;
	return 0;
}

static void held_row_free(void *row)
{
	struct store_held_file *f = row;

	free(f->name);
	free(f->token);
}

int sqlite_held_get(struct store *st, const char *id,
		    struct store_held_file **out, size_t *n)
{
	sqlite3_stmt *s = sq_stmt(st, ST_HELD_GET);

	*out = NULL;
	*n = 0;
	if (s == NULL)
		return -1;
	sq_bind_text(s, 1, id);
	return sq_read_list(st, s, "reading held files", held_read,
			    held_row_free, sizeof(**out), (void **)out, n);
}

void store_held_free(struct store_held_file *files, size_t n)
{
	sq_list_free(files, n, sizeof(*files), held_row_free);
}

int sqlite_held_set(struct store *st, const char *id, const char *chk,
		    const char *revision, const struct store_held_file *files,
		    size_t n)
{
	sqlite3_stmt *s;
	size_t i;
	int rc;

	if ((rc = sq_tx_write(st)) != 0)
		return rc;
	if ((s = sq_stmt(st, ST_CHIP_SET_HELD)) == NULL) {
		rc = -1;
		goto fail;
	}
	sq_bind_text(s, 1, id);
	sq_bind_text(s, 2, chk);
	sq_bind_text(s, 3, revision);
	if ((rc = sq_run(st, s, "recording held files")) != 0)
		goto fail;
	if (sqlite3_changes(st->db) == 0) {
		rc = sq_set_error(st, STORE_NOTFOUND, "chip %s: not found", id);
		goto fail;
	}
	if ((s = sq_stmt(st, ST_HELD_CLEAR)) == NULL) {
		rc = -1;
		goto fail;
	}
	sq_bind_text(s, 1, id);
	if ((rc = sq_run(st, s, "recording held files")) != 0)
		goto fail;
	for (i = 0; i < n; i++) {
		if ((s = sq_stmt(st, ST_HELD_ADD)) == NULL) {
			rc = -1;
			goto fail;
		}
		sq_bind_text(s, 1, id);
		sq_bind_text(s, 2, files[i].name);
		sq_bind_text(s, 3, files[i].token);
		if ((rc = sq_run(st, s, "recording held files")) != 0) {
			if (rc == STORE_EXISTS)
				sq_set_error(st, rc,
					     "chip %s: file %s listed "
					     "twice",
					     id, files[i].name);
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

/* Runs a one-chip statement (?1 = id); STORE_NOTFOUND when no row changed. */
static int chip_change(struct store *st, enum stmt_id id_stmt, const char *id,
		       const char *what)
{
	sqlite3_stmt *s = sq_stmt(st, id_stmt);
	int rc;

	if (s == NULL)
		return -1;
	if (st->readonly)
		return sq_set_error(st, -1, "the database is open read-only");
	sq_bind_text(s, 1, id);
	if ((rc = sq_run(st, s, what)) != 0)
		return rc;
	if (sqlite3_changes(st->db) == 0)
		return sq_set_error(st, STORE_NOTFOUND, "no such chip: %s", id);
	return 0;
}

int sqlite_chip_remove(struct store *st, const char *id)
{
	return chip_change(st, ST_CHIP_REMOVE, id, "removing chip");
}

int sqlite_chip_reprovision(struct store *st, const char *id)
{
	return chip_change(st, ST_CHIP_REPROVISION, id, "forgetting chk");
}

int sqlite_chip_update(struct store *st, const struct store_chip *c)
{
	sqlite3_stmt *s;
	int64_t group_id = c->group_id;
	int rc;

	if ((rc = sq_tx_write(st)) != 0)
		return rc;
	if (c->group_name != NULL &&
	    (rc = sq_group_id_of(st, c->group_name, &group_id)) != 0)
		goto fail;
	if ((s = sq_stmt(st, ST_CHIP_UPDATE)) == NULL) {
		rc = -1;
		goto fail;
	}
	sq_bind_text(s, 1, c->id);
	sq_bind_text(s, 2, c->label);
	sqlite3_bind_int64(s, 3, group_id);
	sqlite3_bind_int(s, 4, c->enabled ? 1 : 0);
	sq_bind_text(s, 5, c->config_json);
	if ((rc = sq_run(st, s, "changing chip")) != 0)
		goto fail;
	if (sqlite3_changes(st->db) == 0) {
		rc =
		    sq_set_error(st, STORE_NOTFOUND, "no such chip: %s", c->id);
		goto fail;
	}
	if ((rc = sq_tx_commit(st)) != 0)
		goto fail;
	return 0;
fail:
	sq_tx_rollback(st);
	return rc;
}
