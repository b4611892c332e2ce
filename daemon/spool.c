/* The history spool: see spool.h. */
#include "spool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sys/uio.h>

#include <event2/event.h>

#include "log.h"

struct spool {
	int fd; /* O_APPEND */
	char *path;
	off_t size;	    /* bytes of whole lines */
	int dirty;	    /* written since the last fdatasync */
	struct event *sync; /* active while dirty */
};

/*
 * fdatasync once per pass of the loop, not once per record: a kill
 * cannot lose what write() handed to the kernel, only a power cut can,
 * and a batch of 256 check-ins must not wait for 256 disk flushes.
 */
static void on_sync(evutil_socket_t fd, short what, void *arg)
{
	struct spool *sp = arg;

	(void)fd;
	(void)what;
	if (sp->dirty && fdatasync(sp->fd) != 0)
		log_warn("event=spool-sync-failed file=%s", sp->path);
	sp->dirty = 0;
}

struct spool *spool_open(struct event_base *base, const char *path)
{
	struct spool *sp = calloc(1, sizeof(*sp));
	struct stat st;
	int saved;

	if (sp == NULL)
		return NULL;
	sp->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (sp->fd < 0 || fstat(sp->fd, &st) != 0 ||
	    (sp->path = strdup(path)) == NULL ||
	    (sp->sync = event_new(base, -1, 0, on_sync, sp)) == NULL)
		goto fail;
	sp->size = st.st_size;
	return sp;
fail:
	saved = errno;
	if (sp->fd >= 0)
		close(sp->fd);
	free(sp->path);
	free(sp);
	errno = saved;
	return NULL;
}

void spool_close(struct spool *sp)
{
	if (sp == NULL)
		return;
	on_sync(-1, 0, sp);
	event_free(sp->sync);
	close(sp->fd);
	free(sp->path);
	free(sp);
}

const char *spool_path(const struct spool *sp)
{
	return sp->path;
}

int spool_append(struct spool *sp, const char *line, size_t len)
{
	struct iovec iov[2] = {
		{ .iov_base = (void *)line, .iov_len = len },
		{ .iov_base = "\n", .iov_len = 1 },
	};
	ssize_t n;
	int saved;

	/* One system call: a line is whole, or torn only by a crash mid-call.
	 */
	n = writev(sp->fd, iov, 2);
	saved = errno;
	if (n == (ssize_t)(len + 1)) {
		sp->size += (off_t)(len + 1);
		sp->dirty = 1;
		if (!event_pending(sp->sync, EV_TIMEOUT, NULL))
			event_active(sp->sync, EV_TIMEOUT, 0);
		return 0;
	}
	/* A short write (disk full): cut the piece off again. */
	if (n > 0 && ftruncate(sp->fd, sp->size) != 0)
		log_warn("event=spool-truncate-failed file=%s", sp->path);
	errno = n < 0 ? saved : ENOSPC;
	return -1;
}

int spool_empty(const struct spool *sp)
{
	return sp->size == 0;
}

int64_t spool_size(const struct spool *sp)
{
	return (int64_t)sp->size;
}

int spool_truncate(struct spool *sp)
{
	if (ftruncate(sp->fd, 0) != 0)
		return -1;
	sp->size = 0;
	sp->dirty = 1;
	if (!event_pending(sp->sync, EV_TIMEOUT, NULL))
		event_active(sp->sync, EV_TIMEOUT, 0);
	return 0;
}

long spool_read(struct spool *sp, off_t *offset, size_t max, spool_line_fn *fn,
		void *arg, int *eof)
{
	FILE *fp = fopen(sp->path, "re");
	char *line = NULL;
	size_t cap = 0;
	ssize_t len = 0;
	long count = 0;
	int stopped = 0, rc;

	*eof = 0;
	if (fp == NULL)
		return -1;
	if (fseeko(fp, *offset, SEEK_SET) != 0) {
		fclose(fp);
		return -1;
	}
	while ((size_t)count < max && (len = getline(&line, &cap, fp)) > 0) {
		if (line[len - 1] != '\n') {
			/* A crash inside write() leaves a torn last line. */
			log_warnx(
			    "event=spool-line-skipped file=%s offset=%lld "
			    "reason=\"torn last line\"",
			    sp->path, (long long)*offset);
			continue;
		}
		line[len - 1] = '\0';
		rc = fn(line, (size_t)len - 1, *offset, arg);
		if (rc == SPOOL_STOP) {
			stopped = 1;
			break;
		}
		if (rc == SPOOL_FOREIGN) {
			log_warnx(
			    "event=spool-line-skipped file=%s offset=%lld "
			    "reason=\"not a history record\"",
			    sp->path, (long long)*offset);
			*offset += (off_t)len;
			continue;
		}
		*offset += (off_t)len;
		count++;
	}
	*eof = !stopped && (size_t)count < max;
	free(line);
	fclose(fp);
	return count;
}

long spool_replay(struct spool *sp, spool_line_fn *fn, void *arg)
{
	struct stat st;
	off_t whole = 0; /* bytes of whole lines */
	long count;
	int eof;

	count = spool_read(sp, &whole, SIZE_MAX, fn, arg, &eof);
	if (count < 0 || fstat(sp->fd, &st) != 0)
		return -1;
	/* Cut a torn tail off: the next line appended must start a line. */
	if (whole < st.st_size && ftruncate(sp->fd, whole) == 0)
		st.st_size = whole;
	sp->size = st.st_size;
	return count;
}
