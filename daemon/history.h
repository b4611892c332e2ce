/*
 * The history rows of finished sessions.  A row the store refuses (the
 * database locked by luaotactl, a full disk) is queued in memory and
 * retried on a timer, in order, so that every check-in ends up recorded;
 * a copy goes to the spool (spool.h), which survives a kill and is
 * replayed at the next start.
 */
#ifndef LUAOTAD_HISTORY_H
#define LUAOTAD_HISTORY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "db/store.h"

struct daemon;

/* Everything one session's history needs, written in steps. */
struct history_record {
	TAILQ_ENTRY(history_record) entry;
	int64_t id; /* row id once begun, 0 before */
	char *chip_id;
	char *peer;
	char *seen_addr; /* non-NULL: the chip's last_seen is still to note */
	int64_t seen_s;
	int64_t started_ms;
	int64_t ended_ms;
	enum store_outcome outcome;
	char *reason;
	char *revision;
	int64_t files_sent;
	int64_t bytes_sent;
	struct store_session_file *files; /* per-file rows not yet written */
	size_t nfiles;
	int64_t queued_ms; /* monotonic, when it first failed */
	int spooled;	   /* this record is in the spool */
	int begun;	   /* its session's start is in the spool */
};

/* Sets up the queue and its retry timer; 0, or -1 when out of memory. */
int history_init(struct daemon *d);

/* True while rows wait: callers then queue instead of trying the store. */
int history_backlog(const struct daemon *d);

/*
 * Writes rec (begin, files, seen, end) or queues it for retry; takes
 * ownership of rec either way.
 */
void history_submit(struct daemon *d, struct history_record *rec);

/* Appends a copy of a per-file row to rec; 0, or -1 when out of memory. */
int history_add_file(struct history_record *rec,
		     const struct store_session_file *f);

/* Frees rec and everything it owns; NULL is fine. */
void history_record_free(struct history_record *rec);

/*
 * Opens the spool at path and writes what an earlier run left in it
 * (sessions only begun there are recorded as interrupted).  Without a
 * spool (it cannot be opened) the queue lives in memory only.
 */
void history_spool_open(struct daemon *d, const char *path);

/*
 * Notes in the spool that a session began whose row the store refused
 * (rec is the session's pending record), so that a crash before it ends
 * leaves an interrupted row rather than none.  Once per session.
 */
void history_note_begin(struct daemon *d, struct history_record *rec,
			const char *chip_id, const char *peer,
			int64_t started_ms);

/* Last attempt at daemon exit; what is left stays in the spool (or is
 * logged as lost); frees all. */
void history_shutdown(struct daemon *d);

/* The spool line of rec (one JSON object, no newline in it); NULL when
 * out of memory.  Free with free(). */
char *history_encode(const struct history_record *rec);

/* The record a spool line holds; NULL when it is not one. */
struct history_record *history_decode(const char *line, size_t len);

#endif /* LUAOTAD_HISTORY_H */
