/* Batched history rows of current check-ins: see checkins.h. */
#include "checkins.h"

#include <stdlib.h>
#include <string.h>

#include <bsd/string.h>
#include <event2/event.h>

#include "daemon.h"
#include "db/store.h"
#include "history.h"
#include "limits.h"
#include "log.h"
#include "plan/types.h"
#include "proto/protocol.h"

/* One queued row, with its own copies of the strings. */
struct queued {
	char chip_id[LUAOTA_CHIPID_MAX + 1];
	char peer[LUAOTAD_PEER_MAX];
	char addr[LUAOTAD_ADDR_MAX];
	char revision[PLAN_REVISION_MAX];
	int has_revision;
	int64_t started_ms;
	int64_t ended_ms;
};

struct checkins {
	struct daemon *daemon;
	struct store *store;
	struct event *flush; /* active while rows wait */
	struct queued rows[LUAOTAD_CHECKIN_BATCH];
	struct store_checkin view[LUAOTAD_CHECKIN_BATCH];
	size_t n;
};

static void on_flush(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	checkins_flush(arg);
}

struct checkins *checkins_new(struct daemon *d)
{
	struct checkins *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->daemon = d;
	c->store = d->store;
	if ((c->flush = event_new(d->base, -1, 0, on_flush, c)) == NULL) {
		free(c);
		return NULL;
	}
	return c;
}

void checkins_add(struct checkins *c, const char *chip_id, const char *peer,
		  const char *addr, const char *revision, int64_t started_ms,
		  int64_t ended_ms)
{
	struct queued *q;

	if (c->n == LUAOTAD_CHECKIN_BATCH)
		checkins_flush(c);
	q = &c->rows[c->n++];
	strlcpy(q->chip_id, chip_id, sizeof(q->chip_id));
	strlcpy(q->peer, peer, sizeof(q->peer));
	strlcpy(q->addr, addr, sizeof(q->addr));
	q->has_revision = revision != NULL;
	strlcpy(q->revision, revision != NULL ? revision : "",
		sizeof(q->revision));
	q->started_ms = started_ms;
	q->ended_ms = ended_ms;
	/* Runs after the callbacks already due in this pass of the loop. */
	if (!event_pending(c->flush, EV_TIMEOUT, NULL))
		event_active(c->flush, EV_TIMEOUT, 0);
}

/* A batch the store refused: each row goes to the retrying queue. */
static void requeue(struct daemon *d, const struct store_checkin *row)
{
	struct history_record *rec = calloc(1, sizeof(*rec));

	if (rec == NULL) {
		log_warnx("event=history-lost chip=%s error=\"out of memory\"",
			  row->chip_id);
		return;
	}
	rec->chip_id = strdup(row->chip_id);
	rec->peer = strdup(row->peer);
	rec->seen_addr = strdup(row->addr);
	rec->seen_s = row->ended_ms / 1000;
	rec->started_ms = row->started_ms;
	rec->ended_ms = row->ended_ms;
	rec->outcome = STORE_OUTCOME_CURRENT;
	rec->revision = row->revision != NULL ? strdup(row->revision) : NULL;
	history_submit(d, rec);
}

int checkins_flush(struct checkins *c)
{
	size_t i, n = c->n;
	int rc;

	if (n == 0)
		return 0;
	for (i = 0; i < n; i++) {
		c->view[i] = (struct store_checkin){
			.chip_id = c->rows[i].chip_id,
			.peer = c->rows[i].peer,
			.addr = c->rows[i].addr,
			.revision = c->rows[i].has_revision
					? c->rows[i].revision
					: NULL,
			.started_ms = c->rows[i].started_ms,
			.ended_ms = c->rows[i].ended_ms,
		};
	}
	c->n = 0;
	/* Rows already wait for the store: these queue behind them. */
	rc = history_backlog(c->daemon)
		 ? -1
		 : store_checkins_current(c->store, c->view, n);
	if (rc != 0)
		for (i = 0; i < n; i++)
			requeue(c->daemon, &c->view[i]);
	return rc == 0 ? 0 : -1;
}

void checkins_free(struct checkins *c)
{
	if (c == NULL)
		return;
	checkins_flush(c);
	event_free(c->flush);
	free(c);
}
