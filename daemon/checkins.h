/*
 * Check-ins answered OK! are most of the traffic and provision nothing,
 * so their history rows are written in batches: one transaction per
 * event-loop pass instead of three per check-in.
 */
#ifndef LUAOTAD_CHECKINS_H
#define LUAOTAD_CHECKINS_H

#include <stdint.h>

struct daemon;
struct checkins;

/* A batch writer over st, flushed from base; NULL when out of memory. */
struct checkins *checkins_new(struct daemon *d);

/*
 * Queues one current check-in (the strings are copied).  It is written
 * before the loop next waits for events, or at once when the batch is full.
 */
void checkins_add(struct checkins *c, const char *chip_id, const char *peer,
		  const char *addr, const char *revision, int64_t started_ms,
		  int64_t ended_ms);

/* Writes what is queued now; 0, or -1 (logged; those rows are lost). */
int checkins_flush(struct checkins *c);

/* Flushes, then frees c; NULL is fine. */
void checkins_free(struct checkins *c);

#endif /* LUAOTAD_CHECKINS_H */
