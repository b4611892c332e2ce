/*
 * The history spool: a file next to the database holding the history
 * records the store refused (locked, full), one JSON object per line, so
 * that a daemon killed while they wait loses none.  Each record is
 * appended with a single write(); the file is synced once per pass of the
 * event loop and emptied once every record in it is in the store.
 */
#ifndef LUAOTAD_SPOOL_H
#define LUAOTAD_SPOOL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct event_base;
struct history_record;
struct spool;

/* Opens (creating, mode 0600) the spool at path; NULL with errno set. */
struct spool *spool_open(struct event_base *base, const char *path);

/* Syncs and closes sp; NULL is fine. */
void spool_close(struct spool *sp);

/* The file's path (for logs). */
const char *spool_path(const struct spool *sp);

/*
 * Appends rec as one line.  0, or -1 with errno set: then nothing of it
 * stays in the file (a short write is cut off again where it can be).
 */
int spool_append(struct spool *sp, const struct history_record *rec);

/* True when the file holds no record. */
int spool_empty(const struct spool *sp);

/* Bytes of whole lines in the file. */
int64_t spool_size(const struct spool *sp);

/* Empties the file; 0, or -1 with errno set. */
int spool_truncate(struct spool *sp);

/*
 * Calls fn with each record in the file, in order (fn owns it).  Lines
 * that do not parse (a torn last line after a crash) are skipped with a
 * warning.  Returns the number of records, or -1 when the file cannot be
 * read.
 */
long spool_replay(struct spool *sp,
		  void (*fn)(struct history_record *rec, void *arg), void *arg);

/*
 * Calls fn with each record from byte *offset on, in order, at most max
 * of them, and with the offset of its line; fn owns the record and
 * returns 0 to go on, or -1 to stop before it (it is read again next
 * time).  *offset ends after the last line taken or skipped; *eof says
 * whether the end of the file was reached.  Returns the records taken, or
 * -1 when the file cannot be read.
 */
long spool_read(struct spool *sp, off_t *offset, size_t max,
		int (*fn)(struct history_record *rec, off_t at, void *arg),
		void *arg, int *eof);

/* One line for rec, without the newline; NULL when out of memory.  Free
 * with free(). */
char *spool_encode(const struct history_record *rec);

/* The record a line holds; NULL when it is not one. */
struct history_record *spool_decode(const char *line, size_t len);

#endif /* LUAOTAD_SPOOL_H */
