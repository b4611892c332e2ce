/* Queued history writes: see history.h. */
#include "history.h"

#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "daemon.h"
#include "log.h"
#include "ratelimit.h"

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
static void drop_step(struct daemon *d, struct history_record *rec,
		      const char *step)
{
	log_warnx("event=history-dropped step=%s session=%lld chip=%s "
		  "error=\"%s\"",
		  step, (long long)rec->id,
		  rec->chip_id != NULL ? rec->chip_id : "-",
		  store_errmsg(d->store));
}

/* Writes what is left of rec; 0 when done with it, -1 to retry later. */
static int write_record(struct daemon *d, struct history_record *rec)
{
	struct store *st = d->store;
	int rc;

	if (rec->id == 0) {
		rc = store_session_begin(st, rec->chip_id, rec->peer,
					 rec->started_ms, &rec->id);
		if (rc != 0) {
			rec->id = 0;
			if (transient(rc))
				return -1;
			drop_step(d, rec, "begin");
			return 0;
		}
	}
	while (rec->files_done < rec->nfiles) {
		rc = store_session_file(st, rec->id,
					&rec->files[rec->files_done]);
		if (rc != 0 && transient(rc))
			return -1;
		if (rc != 0)
			drop_step(d, rec, "file");
		rec->files_done++;
	}
	if (rec->seen_addr != NULL) {
		rc = store_chip_seen(st, rec->chip_id, rec->seen_addr,
				     rec->seen_s);
		if (rc != 0 && transient(rc))
			return -1;
		if (rc != 0)
			drop_step(d, rec, "seen");
		free(rec->seen_addr);
		rec->seen_addr = NULL;
	}
	rc = store_session_end(st, rec->id, rec->outcome, rec->reason,
			       rec->revision, rec->files_sent, rec->bytes_sent,
			       rec->ended_ms);
	if (rc != 0 && transient(rc))
		return -1;
	if (rc != 0)
		drop_step(d, rec, "end");
	return 0;
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

/* Retries the queue in order, without waiting on a lock: the loop serves
 * devices meanwhile. */
static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;
	struct history_record *rec;
	int64_t now = daemon_now_ms();
	size_t written = 0, dropped = 0;

	(void)fd;
	(void)what;
	store_set_busy_timeout(d->store, 0);
	while ((rec = TAILQ_FIRST(&d->history)) != NULL) {
		if (write_record(d, rec) != 0) {
			if (now - rec->queued_ms < LUAOTAD_HISTORY_KEEP_MS)
				break;
			dropped++;
		} else {
			written++;
		}
		TAILQ_REMOVE(&d->history, rec, entry);
		d->history_queued--;
		history_record_free(rec);
	}
	store_set_busy_timeout(d->store, (int)d->conf.busy_timeout_ms);
	if (dropped > 0)
		log_warnx("event=history-dropped rows=%zu (kept %d ms)",
			  dropped, LUAOTAD_HISTORY_KEEP_MS);
	if (TAILQ_EMPTY(&d->history)) {
		log_info("event=history-flushed rows=%zu", written);
		return;
	}
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
	return d->history_queued > 0;
}

void history_submit(struct daemon *d, struct history_record *rec)
{
	if (!history_backlog(d) && write_record(d, rec) == 0) {
		history_record_free(rec);
		return;
	}
	if (d->history_queued >= LUAOTAD_HISTORY_QUEUE_MAX) {
		if (ratelimit_allow("history-queue-full", daemon_now_ms()))
			log_warnx("event=history-dropped rows=1 "
				  "reason=\"queue full (%d rows)\"",
				  LUAOTAD_HISTORY_QUEUE_MAX);
		history_record_free(rec);
		return;
	}
	rec->queued_ms = daemon_now_ms();
	TAILQ_INSERT_TAIL(&d->history, rec, entry);
	d->history_queued++;
	warn_failed(d);
	arm(d);
}

void history_shutdown(struct daemon *d)
{
	struct history_record *rec;
	size_t lost = 0;

	while ((rec = TAILQ_FIRST(&d->history)) != NULL) {
		if (lost > 0 || write_record(d, rec) != 0)
			lost++;
		TAILQ_REMOVE(&d->history, rec, entry);
		history_record_free(rec);
	}
	d->history_queued = 0;
	if (lost > 0)
		log_warnx("event=history-lost rows=%zu error=\"%s\"", lost,
			  store_errmsg(d->store));
	if (d->history_timer != NULL)
		event_free(d->history_timer);
	d->history_timer = NULL;
}
