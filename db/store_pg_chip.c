/*
 * Chips on PostgreSQL.  See store.h for the contracts, store_pg.h for
 * the helpers.
 */
#include "store_pg.h"

#include <stdlib.h>
#include <string.h>

#include "proto/protocol.h"

#define CHIP_FIELDS                                                            \
	"SELECT c.id, c.label, c.secret, c.group_id, g.name, c.config_json, "  \
	"c.protocol, c.enabled, c.created, c.first_seen, c.last_seen, "        \
	"c.last_addr, c.last_outcome, c.chk, c.revision, c.v2_key, "           \
	"c.v2_seen"
#define CHIP_FROM " FROM chips c JOIN groups g ON g.id = c.group_id "
#define CHIP_COLUMNS CHIP_FIELDS CHIP_FROM

/* Adds a chip speaking legacy (v2_key NULL) or v2. */
static int chip_add(struct store *st, const char *id, const char *group,
		    const char *secret, const char *label, const char *v2_key)
{
	struct pg_params p = { .n = 0 };
	int64_t group_id;
	int rc;

	if (secret == NULL || secret[0] == '\0')
		return pg_set_error(st, -1, "chip %s: empty secret", id);
	if (v2_key != NULL && strlen(v2_key) != 64)
		return pg_set_error(st, -1,
				    "chip %s: a v2 key is 64 hex digits", id);
	if ((rc = pg_writable(st)) != 0 || (rc = pg_begin(st)) != 0)
		return rc;
	if ((rc = pg_group_id_of(st, group, &group_id)) != 0) {
		if (rc == STORE_NOTFOUND)
			pg_set_error(st, rc, "chip %s: no such group: %s", id,
				     group);
		goto fail;
	}
	pg_text(&p, id);
	pg_text(&p, label);
	pg_text(&p, secret);
	pg_int(&p, group_id);
	pg_int(&p, v2_key != NULL ? LUAOTA_PROTO_V2 : LUAOTA_PROTO_LEGACY);
	pg_text(&p, v2_key);
	rc = pg_query(st, "adding chip",
		      "INSERT INTO chips (id, label, secret, group_id, "
		      "protocol, v2_key, created) VALUES ($1, $2, $3, $4, $5, "
		      "$6, CAST(extract(epoch FROM now()) AS BIGINT))",
		      &p, NULL);
	/* The server's message would not name the chip: ours does. */
	if (rc == STORE_EXISTS)
		pg_set_error(st, rc, "chip %s already exists", id);
	if (rc != 0 || (rc = pg_commit(st)) != 0)
		goto fail;
	return 0;
fail:
	pg_rollback(st);
	return rc;
}

int pg_chip_add(struct store *st, const char *id, const char *group,
		const char *secret, const char *label)
{
	return chip_add(st, id, group, secret, label, NULL);
}

int pg_chip_add_v2(struct store *st, const char *id, const char *group,
		   const char *secret, const char *label, const char *v2_key)
{
	if (v2_key == NULL)
		return pg_set_error(st, -1, "chip %s: no v2 key", id);
	return chip_add(st, id, group, secret, label, v2_key);
}

int pg_chip_v2_seen(struct store *st, const char *id)
{
	struct pg_params p = { .n = 0 };

	pg_text(&p, id);
	return pg_query(st, "marking a v2 session",
			"UPDATE chips SET v2_seen = 1 WHERE id = $1 AND "
			"protocol = 2",
			&p, NULL);
}

static int chip_read(struct store *st, const PGresult *res, int row,
		     struct store_chip *out)
{
	memset(out, 0, sizeof(*out));
	out->group_id = pg_col_int(res, row, 3);
	out->protocol = (int)pg_col_int(res, row, 6);
	out->enabled = (int)pg_col_int(res, row, 7);
	out->created = pg_col_int(res, row, 8);
	out->first_seen = pg_col_int(res, row, 9);
	out->last_seen = pg_col_int(res, row, 10);
	out->v2_seen = (int)pg_col_int(res, row, 16);
	if (pg_col_text(st, res, row, 0, &out->id) != 0 ||
	    pg_col_text(st, res, row, 1, &out->label) != 0 ||
	    pg_col_text(st, res, row, 2, &out->secret) != 0 ||
	    pg_col_text(st, res, row, 4, &out->group_name) != 0 ||
	    pg_col_text(st, res, row, 5, &out->config_json) != 0 ||
	    pg_col_text(st, res, row, 11, &out->last_addr) != 0 ||
	    pg_col_text(st, res, row, 12, &out->last_outcome) != 0 ||
	    pg_col_text(st, res, row, 13, &out->chk) != 0 ||
	    pg_col_text(st, res, row, 14, &out->revision) != 0 ||
	    pg_col_text(st, res, row, 15, &out->v2_key) != 0) {
		store_chip_free(out);
		return -1;
	}
	return 0;
}

int pg_chip_get(struct store *st, const char *id, struct store_chip *out)
{
	struct pg_params p = { .n = 0 };
	PGresult *res;
	int rc;

	memset(out, 0, sizeof(*out));
	pg_text(&p, id);
	if ((rc = pg_query_row(st, "chip", CHIP_COLUMNS "WHERE c.id = $1", &p,
			       &res)) != 0)
		return rc;
	rc = chip_read(st, res, 0, out);
	PQclear(res);
	return rc;
}

int pg_chip_get_at(struct store *st, const char *id, struct store_chip *out,
		   uint64_t *version)
{
	struct pg_params p = { .n = 0 };
	PGresult *res;
	int rc;

	/* One statement: the chip and the version of one snapshot. */
	memset(out, 0, sizeof(*out));
	pg_text(&p, id);
	if ((rc = pg_query(st, "chip",
			   CHIP_FIELDS ", v.version" CHIP_FROM
				       "CROSS JOIN inventory_version v "
				       "WHERE c.id = $1",
			   &p, &res)) != 0)
		return rc;
	if (PQntuples(res) == 0) {
		PQclear(res);
		/* Not found is an answer of that snapshot too. */
		if ((rc = pg_data_version_of(st, version)) != 0)
			return rc;
		return pg_set_error(st, STORE_NOTFOUND, "chip: not found");
	}
	*version = (uint64_t)pg_col_int(res, 0, 17);
	rc = chip_read(st, res, 0, out);
	PQclear(res);
	return rc;
}

int pg_chip_foreach(struct store *st,
		    int (*fn)(const struct store_chip *, void *), void *arg)
{
	struct store_chip chip;
	PGresult *res;
	int rc, i, stop = 0;

	if ((rc = pg_query(st, "listing chips",
			   CHIP_COLUMNS "ORDER BY c.id COLLATE \"C\"", NULL,
			   &res)) != 0)
		return rc;
	for (i = 0; !stop && i < PQntuples(res); i++) {
		if (chip_read(st, res, i, &chip) != 0) {
			PQclear(res);
			return -1;
		}
		stop = fn(&chip, arg);
		store_chip_free(&chip);
	}
	PQclear(res);
	return stop;
}

/* An UPDATE or DELETE of one chip by id: NOTFOUND when there is none. */
static int chip_change(struct store *st, const char *sql,
		       const struct pg_params *p, const char *id,
		       const char *what)
{
	PGresult *res;
	int rc;

	if ((rc = pg_writable(st)) != 0 ||
	    (rc = pg_query(st, what, sql, p, &res)) != 0)
		return rc;
	rc = strcmp(PQcmdTuples(res), "0") == 0
		 ? pg_set_error(st, STORE_NOTFOUND, "no such chip: %s", id)
		 : 0;
	PQclear(res);
	return rc;
}

int pg_chip_seen(struct store *st, const char *id, const char *addr,
		 int64_t now)
{
	struct pg_params p = { .n = 0 };
	int rc;

	pg_text(&p, id);
	pg_int(&p, now);
	pg_text(&p, addr);
	rc = chip_change(st,
			 "UPDATE chips SET last_seen = $2, first_seen = CASE "
			 "first_seen WHEN 0 THEN $2 ELSE first_seen END, "
			 "last_addr = $3 WHERE id = $1",
			 &p, id, "noting a check-in");
	if (rc == STORE_NOTFOUND)
		pg_set_error(st, rc, "chip %s: not found", id);
	return rc;
}

int pg_chip_remove(struct store *st, const char *id)
{
	struct pg_params p = { .n = 0 };

	pg_text(&p, id);
	return chip_change(st, "DELETE FROM chips WHERE id = $1", &p, id,
			   "removing chip");
}

int pg_chip_reprovision(struct store *st, const char *id)
{
	struct pg_params p = { .n = 0 };

	pg_text(&p, id);
	return chip_change(st, "UPDATE chips SET chk = NULL WHERE id = $1", &p,
			   id, "forgetting chk");
}

int pg_chip_update(struct store *st, const struct store_chip *c)
{
	struct pg_params p = { .n = 0 };
	int64_t group_id = c->group_id;
	int rc;

	if ((rc = pg_writable(st)) != 0 || (rc = pg_begin(st)) != 0)
		return rc;
	if (c->group_name != NULL &&
	    (rc = pg_group_id_of(st, c->group_name, &group_id)) != 0)
		goto fail;
	pg_text(&p, c->id);
	pg_text(&p, c->label);
	pg_int(&p, group_id);
	pg_int(&p, c->enabled ? 1 : 0);
	pg_text(&p, c->config_json);
	if ((rc = chip_change(st,
			      "UPDATE chips SET label = $2, group_id = $3, "
			      "enabled = $4, config_json = $5 WHERE id = $1",
			      &p, c->id, "changing chip")) != 0 ||
	    (rc = pg_commit(st)) != 0)
		goto fail;
	return 0;
fail:
	pg_rollback(st);
	return rc;
}

static void held_row_free(void *row)
{
	struct store_held_file *f = row;

	free(f->name);
	free(f->token);
}

static int held_read(struct store *st, const PGresult *res, int row, void *dest)
{
	struct store_held_file *f = dest;

	if (pg_col_text(st, res, row, 0, &f->name) != 0 ||
	    pg_col_text(st, res, row, 1, &f->token) != 0) {
		held_row_free(f);
		return -1;
	}
	return 0;
}

int pg_held_get(struct store *st, const char *id, struct store_held_file **out,
		size_t *n)
{
	struct pg_params p = { .n = 0 };
	PGresult *res;
	int rc;

	*out = NULL;
	*n = 0;
	pg_text(&p, id);
	if ((rc = pg_query(st, "reading held files",
			   "SELECT name, token FROM held_files WHERE chip_id = "
			   "$1 ORDER BY name",
			   &p, &res)) != 0)
		return rc;
	return pg_read_list(st, res, sizeof(**out), held_read, held_row_free,
			    (void **)out, n);
}

int pg_held_set(struct store *st, const char *id, const char *chk,
		const char *revision, const struct store_held_file *files,
		size_t n)
{
	struct pg_params p = { .n = 0 };
	size_t i;
	int rc;

	if ((rc = pg_writable(st)) != 0 || (rc = pg_begin(st)) != 0)
		return rc;
	pg_text(&p, id);
	pg_text(&p, chk);
	pg_text(&p, revision);
	/* The chip row locked first: two daemons never interleave lists. */
	if ((rc = chip_change(st,
			      "UPDATE chips SET chk = $2, revision = $3 WHERE "
			      "id = $1",
			      &p, id, "recording held files")) != 0) {
		if (rc == STORE_NOTFOUND)
			pg_set_error(st, rc, "chip %s: not found", id);
		goto fail;
	}
	p.n = 0;
	pg_text(&p, id);
	if ((rc = pg_query(st, "recording held files",
			   "DELETE FROM held_files WHERE chip_id = $1", &p,
			   NULL)) != 0)
		goto fail;
	for (i = 0; i < n; i++) {
		p.n = 0;
		pg_text(&p, id);
		pg_text(&p, files[i].name);
		pg_text(&p, files[i].token);
		rc = pg_query(st, "recording held files",
			      "INSERT INTO held_files (chip_id, name, token) "
			      "VALUES ($1, $2, $3)",
			      &p, NULL);
		if (rc == STORE_EXISTS)
			pg_set_error(st, rc, "chip %s: file %s listed twice",
				     id, files[i].name);
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

int pg_v2_release_latest(struct store *st, const char *chip_id,
			 struct store_v2_release *out)
{
	struct pg_params p = { .n = 0 };
	PGresult *res;
	int rc;

	memset(out, 0, sizeof(*out));
	pg_text(&p, chip_id);
	if ((rc = pg_query(st, "reading the chip's v2 release",
			   "SELECT rc, mh, manifest, issued FROM v2_releases "
			   "WHERE chip_id = $1 ORDER BY rc DESC LIMIT 1",
			   &p, &res)) != 0)
		return rc;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return STORE_NOTFOUND;
	}
	out->rc = pg_col_int(res, 0, 0);
	out->issued = pg_col_int(res, 0, 3);
	snprintf(out->mh, sizeof(out->mh), "%s", PQgetvalue(res, 0, 1));
	rc = pg_col_text(st, res, 0, 2, &out->manifest);
	PQclear(res);
	return rc;
}

/* The primary key (chip, counter) is what two daemons serving one chip
 * meet at: the second to take a counter is refused, never both served. */
int pg_v2_release_add(struct store *st, const char *chip_id,
		      const struct store_v2_release *r)
{
	struct pg_params p = { .n = 0 };
	int rc;

	pg_text(&p, chip_id);
	pg_int(&p, r->rc);
	pg_text(&p, r->mh);
	pg_text(&p, r->manifest);
	pg_int(&p, r->issued);
	rc = pg_query(st, "recording a v2 release",
		      "INSERT INTO v2_releases (chip_id, rc, mh, manifest, "
		      "issued) VALUES ($1, $2, $3, $4, $5)",
		      &p, NULL);
	if (rc == STORE_EXISTS)
		pg_set_error(st, rc, "release %lld of chip %s already exists",
			     (long long)r->rc, chip_id);
	return rc;
}
