/*
 * Summaries of rejected connections.  Anyone can make the daemon reject a
 * connection (bad signature, unknown chip, malformed first record), and
 * each rejection used to cost a history row, so a flood grew the database
 * without bound.  Per address and reason, the first rejection in a window
 * gets its own row; the following ones are counted, and one summary row
 * ("N similar rejections from ADDR suppressed") is written when the window
 * ends or the daemon stops.  The counts add up: nothing goes unrecorded.
 */
#ifndef LUAOTAD_REJECTS_H
#define LUAOTAD_REJECTS_H

#include <stdint.h>

struct daemon;
struct rejects;

/* An empty table; NULL when out of memory. */
struct rejects *rejects_new(void);

/*
 * True when this rejection (reason, from addr, naming chip_id: NULL or ""
 * when none) is counted into a summary row; false when it gets its own
 * row, the first of a window (or every one, with rejection_window 0).
 */
int rejects_absorb(struct daemon *d, const char *addr, const char *chip_id,
		   const char *reason);

/* Writes the summary rows of windows that have ended; with all, of every
 * window (at exit). */
void rejects_flush(struct daemon *d, int all);

/* Flushes every window, then frees d's table (none is fine). */
void rejects_free(struct daemon *d);

#endif /* LUAOTAD_REJECTS_H */
