/*
 * The history spool: a file next to the database holding the history
 * records the store refused (locked, full), one line each (history.c
 * encodes them), so that a daemon killed while they wait loses none.
 * Each line is appended with a single system call; the file is synced
 * once per pass of the event loop and emptied once every record in it is
 * in the store.  The spool knows lines, not what they hold.
 */
#ifndef LUAOTAD_SPOOL_H
#define LUAOTAD_SPOOL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct event_base;
struct spool;

/* What a spool_line_fn answers for a line (NUL-terminated, no newline). */
enum {
	SPOOL_NEXT = 0,	   /* taken: go on */
	SPOOL_STOP = -1,   /* stop before it: read again next time */
	SPOOL_FOREIGN = 1, /* not a record: skipped with a warning */
};
typedef int spool_line_fn(const char *line, size_t len, off_t at, void *arg);

/* Opens (creating, mode 0600) the spool at path; NULL with errno set. */
struct spool *spool_open(struct event_base *base, const char *path);

/* Syncs and closes sp; NULL is fine. */
void spool_close(struct spool *sp);

/* The file's path (for logs). */
const char *spool_path(const struct spool *sp);

/*
 * Appends line (len bytes, no newline in it) and a newline.  0, or -1
 * with errno set: then nothing of it stays in the file (a short write is
 * cut off again where it can be).
 */
int spool_append(struct spool *sp, const char *line, size_t len);

/* True when the file holds no record. */
int spool_empty(const struct spool *sp);

/* Bytes of whole lines in the file. */
int64_t spool_size(const struct spool *sp);

/* Empties the file; 0, or -1 with errno set. */
int spool_truncate(struct spool *sp);

/*
 * Calls fn with each whole line in the file, in order (at: its offset).
 * A torn last line (a crash mid-append) is skipped with a warning and
 * cut off.  Returns the lines taken, or -1 when the file cannot be read.
 */
long spool_replay(struct spool *sp, spool_line_fn *fn, void *arg);

/*
 * Calls fn with each line from byte *offset on, in order, until max were
 * taken or fn says SPOOL_STOP.  *offset ends after the last line taken or
 * skipped; *eof says whether the end of the file was reached.  Returns the
 * lines taken, or -1 when the file cannot be read.
 */
long spool_read(struct spool *sp, off_t *offset, size_t max, spool_line_fn *fn,
		void *arg, int *eof);

#endif /* LUAOTAD_SPOOL_H */
