/*
 * The PostgreSQL store: the connection, the schema and its migrations
 * (the .sql files of db/pg, embedded), transactions and error mapping.  Several
 * luaotad and luaotactl share one database through it; what must not
 * race between them is serialised by the database (row locks, advisory
 * locks), never by process state.
 */
#include "store_pg.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bsd/string.h>

#include "pg_migrations.h" /* pg_migrations[], from db/pg */

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
/* Who migrates holds this advisory lock: daemons may start at once. */
#define PG_MIGRATION_LOCK 0x6c756f7461LL /* "luota" */
#define PG_DEFAULT_LOCK_TIMEOUT_MS 5000

void pg_text(struct pg_params *p, const char *text)
{
	if (p->n < PG_PARAMS_MAX)
		p->values[p->n++] = text;
}

void pg_int(struct pg_params *p, int64_t value)
{
	if (p->n < PG_PARAMS_MAX) {
		snprintf(p->numbers[p->n], sizeof(p->numbers[p->n]), "%" PRId64,
			 value);
		p->values[p->n] = p->numbers[p->n];
		p->n++;
	}
}

int pg_set_error(struct store *st, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(st->errmsg, sizeof(st->errmsg), fmt, ap);
	va_end(ap);
	/* libpq's messages end in a newline: one line in logs. */
	st->errmsg[strcspn(st->errmsg, "\n")] = '\0';
	return code;
}

static int pg_fail(struct store *st, int code, const char *message)
{
	return pg_set_error(st, code, "%s", message);
}

/* The store code of a failed result (SQLSTATE classes). */
static int result_code(const PGresult *res)
{
	const char *state =
	    res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	if (state == NULL)
		return STORE_FULL; /* no answer: the connection went */
	if (strcmp(state, "23505") == 0)
		return STORE_EXISTS; /* unique_violation */
	if (strcmp(state, "23503") == 0) {
		/* A row referring to a missing one, or one still referred to.
		 */
		const char *msg =
		    PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);

		return msg != NULL && strncmp(msg, "insert or update", 16) == 0
			   ? STORE_NOTFOUND
			   : STORE_INUSE;
	}
	if (strcmp(state, "55P03") == 0 || strcmp(state, "40P01") == 0 ||
	    strcmp(state, "40001") == 0)
		return STORE_BUSY; /* lock wait, deadlock, serialization */
	if (strncmp(state, "53", 2) == 0 || strncmp(state, "08", 2) == 0 ||
	    strncmp(state, "57P", 3) == 0)
		return STORE_FULL; /* resources, connection, shutdown */
	return -1;
}

/* A connection that broke is tried again once, outside a transaction. */
static void reconnect(struct store *st)
{
	if (PQstatus(st->conn) == CONNECTION_OK || st->in_tx)
		return;
	PQreset(st->conn);
}

int pg_query(struct store *st, const char *what, const char *sql,
	     const struct pg_params *p, PGresult **res)
{
	PGresult *r;
	ExecStatusType status;
	int code;

	if (res != NULL)
		*res = NULL;
	reconnect(st);
	r = PQexecParams(st->conn, sql, p != NULL ? p->n : 0, NULL,
			 p != NULL ? p->values : NULL, NULL, NULL, 0);
	status = r != NULL ? PQresultStatus(r) : PGRES_FATAL_ERROR;
	if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) {
		if (res != NULL)
			*res = r;
		else
			PQclear(r);
		return 0;
	}
	code = result_code(r);
	/* The server's message names tables and constraints, never values
	 * bound as parameters: no secret reaches a log through it. */
	pg_set_error(st, code, "%s: %s", what,
		     r != NULL ? PQresultErrorMessage(r)
			       : PQerrorMessage(st->conn));
	PQclear(r);
	return code;
}

int pg_query_row(struct store *st, const char *what, const char *sql,
		 const struct pg_params *p, PGresult **res)
{
	int rc = pg_query(st, what, sql, p, res);

	if (rc == 0 && PQntuples(*res) == 0) {
		PQclear(*res);
		*res = NULL;
		return pg_set_error(st, STORE_NOTFOUND, "%s: not found", what);
	}
	return rc;
}

int pg_col_text(struct store *st, const PGresult *res, int row, int col,
		char **out)
{
	*out = NULL;
	if (PQgetisnull(res, row, col))
		return 0;
	if ((*out = strdup(PQgetvalue(res, row, col))) == NULL)
		return pg_set_error(st, -1, "out of memory");
	return 0;
}

int64_t pg_col_int(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col)
		   ? 0
		   : strtoll(PQgetvalue(res, row, col), NULL, 10);
}

int pg_read_list(struct store *st, PGresult *res, size_t size,
		 pg_row_reader read_row, pg_row_freer free_row, void **items,
		 size_t *n)
{
	int rows = PQntuples(res), i, j;
	char *array = NULL;

	*items = NULL;
	*n = 0;
	if (rows > 0 && (array = calloc((size_t)rows, size)) == NULL) {
		PQclear(res);
		return pg_set_error(st, -1, "out of memory");
	}
	for (i = 0; i < rows; i++) {
		if (read_row(st, res, i, array + (size_t)i * size) != 0) {
			for (j = 0; j < i; j++)
				free_row(array + (size_t)j * size);
			free(array);
			PQclear(res);
			return -1;
		}
	}
	PQclear(res);
	*items = array;
	*n = (size_t)rows;
	return 0;
}

int pg_begin(struct store *st)
{
	int rc = pg_query(st, "BEGIN", "BEGIN", NULL, NULL);

	if (rc == 0)
		st->in_tx = 1;
	return rc;
}

int pg_commit(struct store *st)
{
	int rc = pg_query(st, "COMMIT", "COMMIT", NULL, NULL);

	st->in_tx = 0;
	return rc;
}

void pg_rollback(struct store *st)
{
	char kept[sizeof(st->errmsg)];

	if (!st->in_tx)
		return;
	/* The first error is the one the caller reports. */
	strlcpy(kept, st->errmsg, sizeof(kept));
	pg_query(st, "ROLLBACK", "ROLLBACK", NULL, NULL);
	strlcpy(st->errmsg, kept, sizeof(st->errmsg));
	st->in_tx = 0;
}

int pg_writable(struct store *st)
{
	if (st->readonly)
		return pg_set_error(st, -1, "the database is open read-only");
	return 0;
}

/* The schema version (0: an empty database), inside a transaction. */
static int schema_version_of(struct store *st, int *version)
{
	PGresult *res;
	int rc;

	*version = 0;
	rc = pg_query(st, "schema version",
		      "SELECT to_regclass('luaota_schema') IS NOT NULL", NULL,
		      &res);
	if (rc != 0)
		return rc;
	if (strcmp(PQgetvalue(res, 0, 0), "t") != 0) {
		PQclear(res);
		return 0;
	}
	PQclear(res);
	rc = pg_query_row(st, "schema version",
			  "SELECT version FROM luaota_schema", NULL, &res);
	if (rc != 0)
		return rc;
	*version = (int)pg_col_int(res, 0, 0);
	PQclear(res);
	return 0;
}

/*
 * Brings the schema to the latest version under the migration lock, in
 * one transaction: a daemon that starts beside another migrating waits,
 * then finds the work done.  An inventory newer than this build is
 * refused, never downgraded.
 */
static int migrate(struct store *st, const char *url, int create)
{
	int latest = (int)ARRAY_LEN(pg_migrations), version, rc;
	struct pg_params p = { .n = 0 };
	int64_t others;
	PGresult *res;

	if ((rc = pg_begin(st)) != 0)
		return rc;
	pg_int(&p, PG_MIGRATION_LOCK);
	if ((rc = pg_query(st, "migration lock",
			   "SELECT pg_advisory_xact_lock($1)", &p, NULL)) !=
		0 ||
	    (rc = schema_version_of(st, &version)) != 0)
		goto fail;
	if (version > latest) {
		rc = pg_set_error(st, -1,
				  "%s: schema version %d is newer than this "
				  "luaotad (%d): upgrade it",
				  url, version, latest);
		goto fail;
	}
	if (version == 0 && !create) {
		rc = pg_set_error(st, -1, "%s: not a luaotad inventory", url);
		goto fail;
	}
	/* Another application's database is never taken over. */
	if (version == 0) {
		if ((rc = pg_query_row(st, "schema",
				       "SELECT count(*) FROM pg_tables WHERE "
				       "schemaname = current_schema()",
				       NULL, &res)) != 0)
			goto fail;
		others = pg_col_int(res, 0, 0);
		PQclear(res);
		if (others > 0) {
			rc = pg_set_error(st, -1,
					  "%s: holds tables but no luaota "
					  "schema: not a luaotad inventory",
					  url);
			goto fail;
		}
	}
	if (version == 0 &&
	    ((rc = pg_query(st, "creating the schema",
			    "CREATE TABLE luaota_schema (version INTEGER NOT "
			    "NULL)",
			    NULL, NULL)) != 0 ||
	     (rc = pg_query(st, "creating the schema",
			    "INSERT INTO luaota_schema VALUES (0)", NULL,
			    NULL)) != 0))
		goto fail;
	for (; version < latest; version++) {
		/* Several statements at once: the simple query protocol. */
		res = PQexec(st->conn, pg_migrations[version]);
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			rc = pg_set_error(st, -1,
					  "%s: migration to schema version %d "
					  "failed: %s",
					  url, version + 1,
					  PQresultErrorMessage(res));
			PQclear(res);
			goto fail;
		}
		PQclear(res);
	}
	p.n = 0;
	pg_int(&p, latest);
	if ((rc = pg_query(st, "schema version",
			   "UPDATE luaota_schema SET version = $1", &p,
			   NULL)) != 0 ||
	    (rc = pg_commit(st)) != 0)
		goto fail;
	return 0;
fail:
	pg_rollback(st);
	return rc != 0 ? rc : -1;
}

struct store *store_pg_open(const char *url, int flags)
{
	struct store *st = calloc(1, sizeof(*st));
	struct pg_params p = { .n = 0 };
	PGresult *res;
	int version;

	if (st == NULL) {
		snprintf(store_open_errmsg, sizeof(store_open_errmsg),
			 "out of memory");
		return NULL;
	}
	st->ops = &store_pg_ops;
	st->readonly = (flags & STORE_READONLY) != 0;
	st->conn = PQconnectdb(url);
	if (PQstatus(st->conn) != CONNECTION_OK) {
		pg_set_error(st, -1, "cannot connect: %s",
			     PQerrorMessage(st->conn));
		goto fail;
	}
	/* Messages in English and times in UTC, whatever the server says. */
	if (pg_query(st, "session settings",
		     "SET client_min_messages = warning", NULL, NULL) != 0 ||
	    pg_query(st, "session settings", "SET TIME ZONE 'UTC'", NULL,
		     NULL) != 0)
		goto fail;
	if (st->readonly) {
		if (schema_version_of(st, &version) != 0)
			goto fail;
		if (version != (int)ARRAY_LEN(pg_migrations)) {
			pg_set_error(st, -1,
				     "schema version %d, this luaotactl "
				     "knows %d: open it read-write once",
				     version, (int)ARRAY_LEN(pg_migrations));
			goto fail;
		}
		if (pg_query(st, "read-only",
			     "SET default_transaction_read_only = on", NULL,
			     NULL) != 0)
			goto fail;
	} else if (migrate(st, "the database", (flags & STORE_CREATE) != 0) !=
		   0) {
		goto fail;
	}
	pg_int(&p, PG_DEFAULT_LOCK_TIMEOUT_MS);
	if (pg_query(st, "lock timeout",
		     "SELECT set_config('lock_timeout', $1 || 'ms', false)", &p,
		     &res) != 0)
		goto fail;
	PQclear(res);
	return st;
fail:
	snprintf(store_open_errmsg, sizeof(store_open_errmsg), "%s",
		 st->errmsg);
	PQfinish(st->conn);
	free(st);
	return NULL;
}

static void pg_close(struct store *st)
{
	PQfinish(st->conn);
	free(st->owner);
	free(st);
}

static int pg_set_owner(struct store *st, const char *owner)
{
	char *copy = owner != NULL ? strdup(owner) : NULL;

	if (owner != NULL && copy == NULL)
		return pg_set_error(st, -1, "out of memory");
	free(st->owner);
	st->owner = copy;
	return 0;
}

static const char *pg_errmsg(const struct store *st)
{
	return st->errmsg;
}

/* How long a write waits for another's row lock (lock_timeout). */
static void pg_set_busy_timeout(struct store *st, int ms)
{
	struct pg_params p = { .n = 0 };
	PGresult *res;

	pg_int(&p, ms > 0 ? ms : 1);
	if (pg_query(st, "lock timeout",
		     "SELECT set_config('lock_timeout', $1 || 'ms', false)", &p,
		     &res) == 0)
		PQclear(res);
}

static int pg_schema_version(struct store *st)
{
	int version;

	return schema_version_of(st, &version) != 0 ? -1 : version;
}

/* The server keeps its pages checksummed and its own consistency: what
 * is ours to check is that the schema is the one this build knows. */
static int pg_check(struct store *st)
{
	int version = pg_schema_version(st);

	if (version < 0)
		return -1;
	if (version != (int)ARRAY_LEN(pg_migrations))
		return pg_set_error(st, -1, "schema version %d, expected %d",
				    version, (int)ARRAY_LEN(pg_migrations));
	return 0;
}

int pg_data_version_of(struct store *st, uint64_t *version)
{
	PGresult *res;
	int rc =
	    pg_query_row(st, "data version",
			 "SELECT version FROM inventory_version", NULL, &res);

	if (rc != 0)
		return rc;
	*version = (uint64_t)pg_col_int(res, 0, 0);
	PQclear(res);
	return 0;
}

/* clang-format off */
const struct store_ops store_pg_ops = {
	.name = "PostgreSQL",
	.fail = pg_fail,
	.close = pg_close,
	.errmsg = pg_errmsg,
	.set_busy_timeout = pg_set_busy_timeout,
	.schema_version = pg_schema_version,
	.check = pg_check,
	.data_version = pg_data_version_of,
	.group_add = pg_group_add,
	.group_get = pg_group_get,
	.group_get_id = pg_group_get_id,
	.group_update = pg_group_update,
	.group_list = pg_group_list,
	.group_chips = pg_group_chips,
	.group_remove = pg_group_remove,
	.chip_add = pg_chip_add,
	.chip_add_v2 = pg_chip_add_v2,
	.chip_v2_seen = pg_chip_v2_seen,
	.chip_get = pg_chip_get,
	.chip_get_at = pg_chip_get_at,
	.chip_foreach = pg_chip_foreach,
	.chip_seen = pg_chip_seen,
	.chip_remove = pg_chip_remove,
	.chip_reprovision = pg_chip_reprovision,
	.chip_update = pg_chip_update,
	.checkins_current = pg_checkins_current,
	.session_begin = pg_session_begin,
	.session_file = pg_session_file,
	.session_end = pg_session_end,
	.session_record = pg_session_record,
	.sessions_interrupt = pg_sessions_interrupt,
	.session_list = pg_session_list,
	.session_files = pg_session_files,
	.session_get = pg_session_get,
	.session_query = pg_session_query,
	.held_get = pg_held_get,
	.held_set = pg_held_set,
	.v2_release_latest = pg_v2_release_latest,
	.v2_release_add = pg_v2_release_add,
	.pull_add = pg_pull_add,
	.pull_pending = pg_pull_pending,
	.pull_any_pending = pg_pull_any_pending,
	.pull_list = pg_pull_list,
	.pull_get = pg_pull_get,
	.pull_finish = pg_pull_finish,
	.group_set_release = pg_group_set_release,
	.group_chip_ids = pg_group_chip_ids,
	.snapshot_add = pg_snapshot_add,
	.snapshot_get = pg_snapshot_get,
	.rollout_add = pg_rollout_add,
	.rollout_get = pg_rollout_get,
	.rollout_active = pg_rollout_active,
	.rollout_list_active = pg_rollout_list_active,
	.rollout_list = pg_rollout_list,
	.rollout_move = pg_rollout_move,
	.group_sessions_since = pg_group_sessions_since,
	.group_sessions_after = pg_group_sessions_after,
	.chip_sessions_since = pg_chip_sessions_since,
	.integrity_check = pg_integrity_check,
	.backup = pg_backup,
	.set_owner = pg_set_owner,
	.rejection_first = pg_rejection_first,
	.rollout_slot_take = pg_rollout_slot_take,
	.rollout_slot_release = pg_rollout_slot_release,
	.repo_add = pg_repo_add,
	.repo_get = pg_repo_get,
	.repo_get_id = pg_repo_get_id,
	.repo_find = pg_repo_find,
	.repo_list = pg_repo_list,
	.token_add = pg_token_add,
	.token_find = pg_token_find,
	.token_used = pg_token_used,
	.token_list = pg_token_list,
	.token_remove = pg_token_remove,
	.chip_outcome_counts = pg_chip_outcome_counts,
};
/* clang-format on */
