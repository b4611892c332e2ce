/* Summaries of rejected connections: see rejects.h. */
#include "rejects.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bsd/string.h>

#include "daemon.h"
#include "db/store.h"
#include "history.h"
#include "limits.h"
#include "log.h"
#include "proto/protocol.h"

/* Where rejections from addresses beyond the table are counted. */
#define ANY_ADDRESS "*"

/* One (address, reason) and its current window. */
struct window {
	int used;
	char addr[LUAOTAD_ADDR_MAX]; /* or ANY_ADDRESS */
	char reason[96];
	char chip_id[LUAOTA_CHIPID_MAX + 1]; /* of the counted ones */
	int chips_differ;		     /* ...when not all the same */
	int64_t ends_ms;		     /* monotonic */
	uint64_t counted;		     /* rejections without a row */
	int64_t first_ms, last_ms;	     /* wall clock, of the counted */
};

struct rejects {
	struct window w[LUAOTAD_REJECT_KEYS];
};

struct rejects *rejects_new(void)
{
	return calloc(1, sizeof(struct rejects));
}

/* Writes w's summary row when it counted anything, and frees w. */
static void summarise(struct daemon *d, struct window *w)
{
	struct history_record *rec;
	char *reason = NULL;
	int any = strcmp(w->addr, ANY_ADDRESS) == 0;

	if (w->counted > 0) {
		rec = calloc(1, sizeof(*rec));
		if (rec == NULL ||
		    asprintf(&reason,
			     "%s (%llu similar rejections from %s suppressed)",
			     w->reason, (unsigned long long)w->counted,
			     any ? "other addresses" : w->addr) < 0) {
			free(rec);
			log_warnx("event=history-lost rejections=%llu "
				  "error=\"out of memory\"",
				  (unsigned long long)w->counted);
			memset(w, 0, sizeof(*w));
			return;
		}
		rec->chip_id = !w->chips_differ && w->chip_id[0] != '\0'
				   ? strdup(w->chip_id)
				   : NULL;
		rec->peer = strdup(w->addr);
		rec->started_ms = w->first_ms;
		rec->ended_ms = w->last_ms;
		rec->outcome = STORE_OUTCOME_REJECTED;
		rec->reason = reason;
		log_info("event=rejections-summarised peer=%s count=%llu "
			 "reason=\"%s\"",
			 w->addr, (unsigned long long)w->counted, w->reason);
		history_submit(d, rec);
	}
	memset(w, 0, sizeof(*w));
}

/* The window of (addr, reason), or a free slot for it; NULL when full.
 * The last slots are kept for ANY_ADDRESS. */
static struct window *find(struct rejects *r, const char *addr,
			   const char *reason)
{
	struct window *free_slot = NULL;
	size_t i, n = LUAOTAD_REJECT_KEYS;

	if (strcmp(addr, ANY_ADDRESS) != 0)
		n -= LUAOTAD_REJECT_KEYS / 8;
	for (i = 0; i < LUAOTAD_REJECT_KEYS; i++) {
		struct window *w = &r->w[i];

		if (w->used && strcmp(w->addr, addr) == 0 &&
		    strncmp(w->reason, reason, sizeof(w->reason) - 1) == 0)
			return w;
		if (!w->used && free_slot == NULL && i < n)
			free_slot = w;
	}
	return free_slot;
}

/*
 * On a shared PostgreSQL inventory the first rejection of a window is
 * the first any daemon saw: windows are aligned to their length so that
 * all name them alike, and the database says who claimed one first.
 * Whether another daemon had (this one is then counted); w's end moves
 * to the aligned window's.  When the database cannot say, the rejection
 * gets its own row: a row too many, never one lost.
 */
static int shared_window_taken(struct daemon *d, struct window *w, int64_t now)
{
	int64_t len = d->conf.rejection_window_ms, wall, start;
	int first = 1;

	if (d->store == NULL || d->conf.database == NULL ||
	    !store_path_is_pg(d->conf.database))
		return 0;
	wall = daemon_wall_ms();
	start = wall - wall % len;
	w->ends_ms = now + (start + len - wall);
	if (store_rejection_first(d->store, w->addr, w->reason, start,
				  start - len, &first) != 0)
		return 0;
	return !first;
}

int rejects_absorb(struct daemon *d, const char *addr, const char *chip_id,
		   const char *reason)
{
	struct rejects *r = d->rejects;
	struct window *w;
	int64_t now = daemon_now_ms();

	if (r == NULL || d->conf.rejection_window_ms <= 0)
		return 0;
	if (reason == NULL)
		reason = "?";
	if ((w = find(r, addr, reason)) == NULL &&
	    (w = find(r, addr = ANY_ADDRESS, reason)) == NULL)
		return 0; /* no room to count it: it gets its row */
	if (w->used && now >= w->ends_ms)
		summarise(d, w);
	if (!w->used) {
		/* The first of a window: its own row, as any rejection. */
		w->used = 1;
		strlcpy(w->addr, addr, sizeof(w->addr));
		strlcpy(w->reason, reason, sizeof(w->reason));
		w->ends_ms = now + d->conf.rejection_window_ms;
		if (!shared_window_taken(d, w, now))
			return 0;
	}
	if (w->counted == 0) {
		strlcpy(w->chip_id, chip_id != NULL ? chip_id : "",
			sizeof(w->chip_id));
		w->first_ms = daemon_wall_ms();
	} else if (strcmp(w->chip_id, chip_id != NULL ? chip_id : "") != 0) {
		w->chips_differ = 1;
	}
	w->counted++;
	w->last_ms = daemon_wall_ms();
	return 1;
}

void rejects_flush(struct daemon *d, int all)
{
	struct rejects *r = d->rejects;
	int64_t now = daemon_now_ms();
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < LUAOTAD_REJECT_KEYS; i++)
		if (r->w[i].used && (all || now >= r->w[i].ends_ms))
			summarise(d, &r->w[i]);
}

void rejects_free(struct daemon *d)
{
	rejects_flush(d, 1);
	free(d->rejects);
	d->rejects = NULL;
}
