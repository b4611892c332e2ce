/* Queued history writes: see history.h. */
#include "history.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <json-c/json.h>

#include "daemon.h"
#include "log.h"
#include "ratelimit.h"
#include "spool.h"

void history_record_free(struct history_record *rec)
{
	size_t i;

	if (rec == NULL)
		return;
	for (i = 0; i < rec->nfiles; i++) {
		free(rec->files[i].name);
		free(rec->files[i].action);
		free(rec->files[i].result);
	}
	free(rec->files);
	free(rec->chip_id);
	free(rec->peer);
	free(rec->seen_addr);
	free(rec->reason);
	free(rec->revision);
	free(rec);
}

int history_add_file(struct history_record *rec,
		     const struct store_session_file *f)
{
	struct store_session_file *grown, *row;

	grown = reallocarray(rec->files, rec->nfiles + 1, sizeof(*grown));
	if (grown == NULL)
		return -1;
	rec->files = grown;
	row = &grown[rec->nfiles];
	*row = *f;
	row->name = strdup(f->name != NULL ? f->name : "");
	row->action = strdup(f->action != NULL ? f->action : "");
	row->result = strdup(f->result != NULL ? f->result : "");
	if (row->name == NULL || row->action == NULL || row->result == NULL) {
		free(row->name);
		free(row->action);
		free(row->result);
		return -1;
	}
	rec->nfiles++;
	return 0;
}

/* Locked, full, I/O error: worth retrying.  Anything else never passes. */
static int transient(int rc)
{
	return rc == STORE_BUSY || rc == STORE_FULL;
}

/* A write that can never succeed is dropped, loudly, not retried. */
static void drop_record(struct daemon *d, struct history_record *rec)
{
	log_warnx("event=history-dropped session=%lld chip=%s error=\"%s\"",
		  (long long)rec->id, rec->chip_id != NULL ? rec->chip_id : "-",
		  store_errmsg(d->store));
}

/*
 * Writes rec whole, in one transaction, and at most once (a replayed
 * record already in the store changes nothing); 0 when done with it,
 * -1 to retry later.
 */
static int write_record(struct daemon *d, struct history_record *rec)
{
	struct store_session_record r = {
		.id = rec->id,
		.chip_id = rec->chip_id,
		.peer = rec->peer,
		.seen_addr = rec->seen_addr,
		.seen_s = rec->seen_s,
		.started_ms = rec->started_ms,
		.ended_ms = rec->ended_ms,
		.outcome = rec->outcome,
		.reason = rec->reason,
		.revision = rec->revision,
		.files_sent = rec->files_sent,
		.bytes_sent = rec->bytes_sent,
		.files = rec->files,
		.nfiles = rec->nfiles,
	};
	size_t skipped = 0;
	int rc;

	rc = store_session_record(d->store, &r, NULL, &skipped);
	if (rc != 0 && transient(rc))
		return -1;
	if (rc != 0)
		drop_record(d, rec);
	else if (skipped > 0)
		log_warnx("event=history-dropped step=file rows=%zu "
			  "session=%lld chip=%s",
			  skipped, (long long)rec->id,
			  rec->chip_id != NULL ? rec->chip_id : "-");
	return 0;
}

/* The spool is emptied once nothing in it still matters: every queued
 * row written and no session's start spooled. */
static void settle_spool(struct daemon *d)
{
	if (d->spool == NULL || history_backlog(d) || d->history_begun > 0 ||
	    spool_empty(d->spool))
		return;
	if (spool_truncate(d->spool) == 0)
		d->spool_dead_end = 0;
	else if (ratelimit_allow("spool-failed", daemon_now_ms()))
		log_warn("event=spool-failed file=%s", spool_path(d->spool));
}

/* Appends rec to the spool; 0, or -1 (a full disk): the caller keeps it
 * in memory only, or drops it. */
static int spool_keep(struct daemon *d, struct history_record *rec)
{
	char *line;
	int rc;

	if (d->spool == NULL)
		return -1;
	if ((line = history_encode(rec)) == NULL) {
		errno = ENOMEM;
		rc = -1;
	} else {
		rc = spool_append(d->spool, line, strlen(line));
		free(line);
	}
	if (rc != 0 && ratelimit_allow("spool-failed", daemon_now_ms()))
		log_warn("event=spool-failed file=%s", spool_path(d->spool));
	return rc;
}

static void warn_failed(struct daemon *d)
{
	if (ratelimit_allow("history-failed", daemon_now_ms()))
		log_warnx("event=history-failed queued=%zu error=\"%s\" "
			  "(retried every %d ms)",
			  d->history_queued, store_errmsg(d->store),
			  LUAOTAD_HISTORY_RETRY_MS);
}

static void arm(struct daemon *d)
{
	struct timeval tv = {
		.tv_sec = LUAOTAD_HISTORY_RETRY_MS / 1000,
		.tv_usec = (LUAOTAD_HISTORY_RETRY_MS % 1000) * 1000,
	};

	if (!evtimer_pending(d->history_timer, NULL))
		evtimer_add(d->history_timer, &tv);
}

/* One spooled row, replayed while the daemon runs (a spool_line_fn). */
static int replay_one(const char *line, size_t len, off_t at, void *arg)
{
	struct daemon *d = arg;
	struct history_record *rec = history_decode(line, len);
	int rc;

	if (rec == NULL)
		return SPOOL_FOREIGN;
	if (rec->outcome == STORE_OUTCOME_STARTED) {
		/* A start becomes a row only when its daemon is gone. */
		if (at >= d->spool_dead_end) {
			history_record_free(rec);
			return 0;
		}
		rec->outcome = STORE_OUTCOME_INTERRUPTED;
		rec->ended_ms = daemon_wall_ms();
	}
	rc = write_record(d, rec);
	history_record_free(rec);
	return rc == 0 ? SPOOL_NEXT : SPOOL_STOP;
}

/*
 * Writes the rows that are in the spool only (over the queue's limits) by
 * replaying it from where the last step stopped, every row again (those
 * already in the store are skipped there); 0 once at its end, -1 to go on
 * later.
 */
static int replay_step(struct daemon *d)
{
	off_t at = (off_t)d->spool_at;
	long n;
	int eof;

	n = spool_read(d->spool, &at, LUAOTAD_SPOOL_REPLAY_BATCH, replay_one, d,
		       &eof);
	d->spool_at = at;
	if (n < 0) {
		log_warn("event=history-lost rows=%zu file=%s",
			 d->history_unqueued, spool_path(d->spool));
		eof = 1;
	}
	if (!eof)
		return -1;
	log_info("event=history-replayed file=%s rows=%zu",
		 spool_path(d->spool), d->history_unqueued);
	d->history_unqueued = 0;
	d->spool_at = 0;
	d->spool_dead_end = 0;
	return 0;
}

/* Retries the queue in order, without waiting on a lock: the loop serves
 * devices meanwhile.  Rows in the spool only follow once it is empty. */
static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;
	struct history_record *rec;
	int64_t now = daemon_now_ms();
	size_t written = 0, dropped = 0, moved = 0;
	int more = 0;

	(void)fd;
	(void)what;
	store_set_busy_timeout(d->store, 0);
	while ((rec = TAILQ_FIRST(&d->history)) != NULL) {
		if (write_record(d, rec) != 0) {
			if (now - rec->queued_ms < LUAOTAD_HISTORY_KEEP_MS)
				break;
			/* Too old to keep in memory: the spool keeps it. */
			if (rec->spooled)
				moved++;
			else
				dropped++;
		} else {
			written++;
		}
		TAILQ_REMOVE(&d->history, rec, entry);
		d->history_queued--;
		history_record_free(rec);
	}
	d->history_unqueued += moved;
	if (TAILQ_EMPTY(&d->history) && d->history_unqueued > 0)
		more = replay_step(d) != 0;
	store_set_busy_timeout(d->store, (int)d->conf.busy_timeout_ms);
	if (dropped > 0)
		log_warnx("event=history-dropped rows=%zu (kept %d ms)",
			  dropped, LUAOTAD_HISTORY_KEEP_MS);
	if (!history_backlog(d)) {
		log_info("event=history-flushed rows=%zu", written);
		settle_spool(d);
		return;
	}
	if (!more || !TAILQ_EMPTY(&d->history))
		warn_failed(d);
	arm(d);
}

int history_init(struct daemon *d)
{
	TAILQ_INIT(&d->history);
	d->history_queued = 0;
	d->history_timer = evtimer_new(d->base, on_retry, d);
	return d->history_timer != NULL ? 0 : -1;
}

int history_backlog(const struct daemon *d)
{
	return d->history_queued > 0 || d->history_unqueued > 0;
}

void history_submit(struct daemon *d, struct history_record *rec)
{
	if (rec->begun) {
		/* This line supersedes the spooled start. */
		rec->begun = 0;
		d->history_begun--;
	}
	if (!history_backlog(d) && write_record(d, rec) == 0) {
		history_record_free(rec);
		settle_spool(d);
		return;
	}
	if (d->history_queued >= LUAOTAD_HISTORY_QUEUE_MAX) {
		/* Memory is bounded, the spool on disk is not: kept there. */
		if (spool_keep(d, rec) == 0) {
			d->history_unqueued++;
			history_record_free(rec);
			warn_failed(d);
			arm(d);
			return;
		}
		if (ratelimit_allow("history-queue-full", daemon_now_ms()))
			log_warnx("event=history-dropped rows=1 "
				  "reason=\"queue full (%d rows)\"",
				  LUAOTAD_HISTORY_QUEUE_MAX);
		history_record_free(rec);
		return;
	}
	rec->queued_ms = daemon_now_ms();
	if (!rec->spooled)
		rec->spooled = spool_keep(d, rec) == 0;
	TAILQ_INSERT_TAIL(&d->history, rec, entry);
	d->history_queued++;
	warn_failed(d);
	arm(d);
}

void history_note_begin(struct daemon *d, struct history_record *rec,
			const char *chip_id, const char *peer,
			int64_t started_ms)
{
	/* The keys, the outcome, and the check-in when it waits too. */
	struct history_record start = {
		.chip_id = (char *)chip_id,
		.peer = (char *)peer,
		.started_ms = started_ms,
		.outcome = STORE_OUTCOME_STARTED,
	};

	if (rec == NULL || rec->begun || d->spool == NULL)
		return;
	start.seen_addr = rec->seen_addr;
	start.seen_s = rec->seen_s;
	if (spool_keep(d, &start) == 0) {
		rec->begun = 1;
		d->history_begun++;
	}
}

/* One record read back from the spool at start-up: into the queue. */
static int replayed(const char *line, size_t len, off_t at, void *arg)
{
	struct daemon *d = arg;
	struct history_record *rec = history_decode(line, len);

	(void)at;
	if (rec == NULL)
		return SPOOL_FOREIGN;
	/* A start without its end: the daemon stopped mid-session. */
	if (rec->outcome == STORE_OUTCOME_STARTED) {
		rec->outcome = STORE_OUTCOME_INTERRUPTED;
		rec->ended_ms = daemon_wall_ms();
	}
	if (d->history_queued >= LUAOTAD_HISTORY_QUEUE_MAX) {
		/* Left in the spool: replayed once the queue is written. */
		d->history_unqueued++;
		history_record_free(rec);
		return SPOOL_NEXT;
	}
	rec->spooled = 1;
	rec->queued_ms = daemon_now_ms();
	TAILQ_INSERT_TAIL(&d->history, rec, entry);
	d->history_queued++;
	return SPOOL_NEXT;
}

void history_spool_open(struct daemon *d, const char *path)
{
	long n;

	if ((d->spool = spool_open(d->base, path)) == NULL) {
		log_warn("event=spool-failed file=%s (queued history rows "
			 "will be kept in memory only)",
			 path);
		return;
	}
	if (spool_empty(d->spool))
		return;
	if ((n = spool_replay(d->spool, replayed, d)) < 0) {
		/* Kept as it is for the operator: nothing is appended. */
		log_warn("event=spool-failed file=%s (not replayed)", path);
		spool_close(d->spool);
		d->spool = NULL;
		return;
	}
	log_info("event=history-replayed file=%s rows=%ld", path, n);
	/* Starts spooled by the stopped daemon are interrupted sessions. */
	d->spool_dead_end = d->history_unqueued > 0 ? spool_size(d->spool) : 0;
	if (!history_backlog(d))
		settle_spool(d); /* nothing readable was left in it */
	else
		on_retry(-1, 0, d);
}

void history_shutdown(struct daemon *d)
{
	struct history_record *rec;
	size_t lost = 0, spooled = 0;

	while ((rec = TAILQ_FIRST(&d->history)) != NULL) {
		if (lost + spooled > 0 || write_record(d, rec) != 0) {
			if (rec->spooled)
				spooled++;
			else
				lost++;
		}
		TAILQ_REMOVE(&d->history, rec, entry);
		history_record_free(rec);
	}
	d->history_queued = 0;
	spooled += d->history_unqueued; /* never left the spool */
	if (spooled > 0)
		log_warnx("event=history-spooled rows=%zu file=%s error=\"%s\" "
			  "(written at the next start)",
			  spooled, spool_path(d->spool),
			  store_errmsg(d->store));
	if (lost > 0)
		log_warnx("event=history-lost rows=%zu error=\"%s\"", lost,
			  store_errmsg(d->store));
	if (spooled == 0)
		settle_spool(d);
	spool_close(d->spool);
	d->spool = NULL;
	if (d->history_timer != NULL)
		event_free(d->history_timer);
	d->history_timer = NULL;
}

/* The spool line of a record: one JSON object. */

/* Format of a line; a line of another version is not replayed. */
#define HISTORY_LINE_VERSION 1

/* Adds key: string, or null for NULL. */
static void add_string(struct json_object *o, const char *key, const char *v)
{
	json_object_object_add(o, key,
			       v != NULL ? json_object_new_string(v) : NULL);
}

static void add_int(struct json_object *o, const char *key, int64_t v)
{
	json_object_object_add(o, key, json_object_new_int64(v));
}

char *history_encode(const struct history_record *rec)
{
	struct json_object *o = json_object_new_object(), *files, *f;
	const char *text;
	char *line = NULL;
	size_t i, len;

	if (o == NULL)
		return NULL;
	add_int(o, "v", HISTORY_LINE_VERSION);
	add_int(o, "id", rec->id);
	add_string(o, "chip", rec->chip_id);
	add_string(o, "peer", rec->peer);
	add_int(o, "start", rec->started_ms);
	add_int(o, "end", rec->ended_ms);
	add_string(o, "outcome", store_outcome_name(rec->outcome));
	add_string(o, "reason", rec->reason);
	add_string(o, "rev", rec->revision);
	add_int(o, "files_sent", rec->files_sent);
	add_int(o, "bytes_sent", rec->bytes_sent);
	add_string(o, "seen", rec->seen_addr);
	add_int(o, "seen_s", rec->seen_s);
	if ((files = json_object_new_array()) == NULL)
		goto done;
	json_object_object_add(o, "files", files);
	for (i = 0; i < rec->nfiles; i++) {
		if ((f = json_object_new_object()) == NULL ||
		    json_object_array_add(files, f) != 0) {
			json_object_put(f);
			goto done;
		}
		add_string(f, "n", rec->files[i].name);
		add_string(f, "a", rec->files[i].action);
		add_int(f, "b", rec->files[i].bytes);
		add_string(f, "r", rec->files[i].result);
		add_int(f, "lc", rec->files[i].lcsize);
	}
	/* Plain: json-c escapes control characters, so no newline inside. */
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	if (text == NULL)
		goto done;
	len = strlen(text);
	if ((line = malloc(len + 1)) != NULL)
		memcpy(line, text, len + 1);
done:
	json_object_put(o);
	return line;
}

/* A string member (NULL when null or absent); -1 when of another type. */
static int get_string(struct json_object *o, const char *key, char **out)
{
	struct json_object *v;

	*out = NULL;
	if (!json_object_object_get_ex(o, key, &v) || v == NULL)
		return 0;
	if (!json_object_is_type(v, json_type_string))
		return -1;
	*out = strdup(json_object_get_string(v));
	return *out != NULL ? 0 : -1;
}

/* An integer member; -1 when absent or of another type. */
static int get_int(struct json_object *o, const char *key, int64_t *out)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_int))
		return -1;
	*out = json_object_get_int64(v);
	return 0;
}

static int get_outcome(struct json_object *o, enum store_outcome *out)
{
	struct json_object *v;
	const char *name;
	int i;

	if (!json_object_object_get_ex(o, "outcome", &v) ||
	    !json_object_is_type(v, json_type_string))
		return -1;
	name = json_object_get_string(v);
	for (i = STORE_OUTCOME_STARTED; i <= STORE_OUTCOME_INTERRUPTED; i++) {
		if (strcmp(name, store_outcome_name((enum store_outcome)i)) ==
		    0) {
			*out = (enum store_outcome)i;
			return 0;
		}
	}
	return -1;
}

static int get_files(struct json_object *o, struct history_record *rec)
{
	struct json_object *arr, *f;
	struct store_session_file row;
	size_t i, n;
	int rc;

	if (!json_object_object_get_ex(o, "files", &arr) ||
	    !json_object_is_type(arr, json_type_array))
		return -1;
	n = json_object_array_length(arr);
	for (i = 0; i < n; i++) {
		f = json_object_array_get_idx(arr, i);
		memset(&row, 0, sizeof(row));
		if (!json_object_is_type(f, json_type_object) ||
		    get_string(f, "n", &row.name) != 0 ||
		    get_string(f, "a", &row.action) != 0 ||
		    get_string(f, "r", &row.result) != 0 ||
		    get_int(f, "b", &row.bytes) != 0 ||
		    get_int(f, "lc", &row.lcsize) != 0)
			rc = -1;
		else
			rc = history_add_file(rec, &row);
		free(row.name);
		free(row.action);
		free(row.result);
		if (rc != 0)
			return -1;
	}
	return 0;
}

struct history_record *history_decode(const char *line, size_t len)
{
	struct json_tokener *tok;
	struct json_object *o = NULL;
	struct history_record *rec = NULL;
	int64_t version;

	if (len > INT32_MAX || (tok = json_tokener_new()) == NULL)
		return NULL;
	o = json_tokener_parse_ex(tok, line, (int)len);
	if (o == NULL || json_tokener_get_parse_end(tok) != len ||
	    !json_object_is_type(o, json_type_object) ||
	    get_int(o, "v", &version) != 0 || version != HISTORY_LINE_VERSION ||
	    (rec = calloc(1, sizeof(*rec))) == NULL)
		goto fail;
	if (get_int(o, "id", &rec->id) != 0 ||
	    get_string(o, "chip", &rec->chip_id) != 0 ||
	    get_string(o, "peer", &rec->peer) != 0 || rec->peer == NULL ||
	    get_int(o, "start", &rec->started_ms) != 0 ||
	    get_int(o, "end", &rec->ended_ms) != 0 ||
	    get_outcome(o, &rec->outcome) != 0 ||
	    get_string(o, "reason", &rec->reason) != 0 ||
	    get_string(o, "rev", &rec->revision) != 0 ||
	    get_int(o, "files_sent", &rec->files_sent) != 0 ||
	    get_int(o, "bytes_sent", &rec->bytes_sent) != 0 ||
	    get_string(o, "seen", &rec->seen_addr) != 0 ||
	    get_int(o, "seen_s", &rec->seen_s) != 0 || get_files(o, rec) != 0)
		goto fail;
	json_object_put(o);
	json_tokener_free(tok);
	return rec;
fail:
	history_record_free(rec);
	json_object_put(o);
	json_tokener_free(tok);
	return NULL;
}
