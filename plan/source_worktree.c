/*
 * A working tree: stamps are stat fields (device, inode, size, mtime and
 * ctime with nanoseconds).  Like git's index, a file modified less than
 * RACY_SECONDS before it was read is "racy": a later write in the same
 * timestamp tick could leave every stat field unchanged, so such a read is
 * not trusted and the file is read again next time.
 */
#include "source_worktree.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define RACY_SECONDS 2
#define READ_ATTEMPTS 3 /* reads of a file that keeps changing under us */

struct worktree {
	struct plan_source src; /* first: the ops get a struct plan_source * */
	char *path;
};

static void stamp_of(const struct stat *st, struct plan_stamp *out)
{
	memset(out, 0, sizeof(*out));
	out->v[0] = (uint64_t)st->st_dev;
	out->v[1] = (uint64_t)st->st_ino;
	out->v[2] = (uint64_t)st->st_size;
	out->v[3] = (uint64_t)st->st_mtim.tv_sec;
	out->v[4] = (uint64_t)st->st_mtim.tv_nsec;
	out->v[5] = (uint64_t)st->st_ctim.tv_sec;
	out->v[6] = (uint64_t)st->st_ctim.tv_nsec;
	out->v[7] = (uint64_t)st->st_mode;
}

static int file_path(struct worktree *wt, const char *name, char *buf,
		     size_t size, char *err, size_t err_len)
{
	int n = snprintf(buf, size, "%s/%s", wt->path, name);

	if (n < 0 || (size_t)n >= size) {
		snprintf(err, err_len, "%s: path too long", name);
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

static int wt_stamp(struct plan_source *src, const char *name,
		    struct plan_stamp *out, char *err, size_t err_len)
{
	struct worktree *wt = (struct worktree *)src;
	char path[4096];
	struct stat st;

	if (file_path(wt, name, path, sizeof(path), err, err_len) != 0)
		return -1;
	if (stat(path, &st) != 0) {
		snprintf(err, err_len, "%s: %s", name, strerror(errno));
		return -1;
	}
	stamp_of(&st, out);
	return 0;
}

/* Reads fd to its end, refusing more than PLAN_READ_MAX bytes. */
static int read_all(int fd, size_t hint, uint8_t **data, size_t *len)
{
	size_t cap = hint + 1, n = 0;
	uint8_t *buf = malloc(cap), *bigger;
	ssize_t r;

	if (buf == NULL)
		return -1;
	for (;;) {
		if (n == cap) {
			if (cap > PLAN_READ_MAX) {
				errno = EFBIG;
				goto fail;
			}
			bigger = realloc(buf, cap * 2);
			if (bigger == NULL)
				goto fail;
			buf = bigger;
			cap *= 2;
		}
		r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			goto fail;
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (n > PLAN_READ_MAX) {
		errno = EFBIG;
		goto fail;
	}
	*data = buf;
	*len = n;
	return 0;
fail:
	free(buf);
	return -1;
}

static int wt_read(struct plan_source *src, const char *name, uint8_t **data,
		   size_t *len, struct plan_stamp *stamp, int *stable,
		   char *err, size_t err_len)
{
	struct worktree *wt = (struct worktree *)src;
	struct plan_stamp after;
	struct stat st;
	struct timespec now;
	char path[4096];
	int fd = -1, attempt, saved;

	*data = NULL;
	if (file_path(wt, name, path, sizeof(path), err, err_len) != 0)
		return -1;
	/* O_NONBLOCK: a FIFO planted in the tree must not hang the daemon */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0 || fstat(fd, &st) != 0)
		goto fail;
	if (!S_ISREG(st.st_mode)) {
		errno = EINVAL;
		snprintf(err, err_len, "%s: not a regular file", name);
		goto fail_set;
	}
	for (attempt = 0; attempt < READ_ATTEMPTS; attempt++) {
		if (st.st_size > PLAN_READ_MAX) {
			errno = EFBIG;
			goto fail;
		}
		stamp_of(&st, stamp);
		if (lseek(fd, 0, SEEK_SET) != 0 ||
		    read_all(fd, (size_t)st.st_size, data, len) != 0 ||
		    fstat(fd, &st) != 0)
			goto fail;
		stamp_of(&st, &after);
		if (memcmp(stamp, &after, sizeof(after)) == 0)
			break;
		free(*data); /* changed while we read: again */
		*data = NULL;
	}
	if (*data == NULL) {
		errno = EAGAIN;
		snprintf(err, err_len, "%s: keeps changing while read", name);
		goto fail_set;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	*stable = st.st_mtim.tv_sec + RACY_SECONDS < now.tv_sec;
	close(fd);
	return 0;
fail:
	if (errno == EFBIG)
		snprintf(err, err_len, "%s: larger than %d bytes", name,
			 PLAN_READ_MAX);
	else
		snprintf(err, err_len, "%s: %s", name, strerror(errno));
fail_set:
	saved = errno;
	if (fd >= 0)
		close(fd);
	errno = saved;
	return -1;
}

static void wt_close(struct plan_source *src)
{
	struct worktree *wt = (struct worktree *)src;

	free(wt->path);
	free(wt->src.key);
	free(wt);
}

static const struct plan_source_ops worktree_ops = {
	.stamp = wt_stamp,
	.read = wt_read,
	.close = wt_close,
};

int plan_source_worktree_open(const char *path, struct plan_source **out,
			      char *err, size_t err_len)
{
	struct worktree *wt = calloc(1, sizeof(*wt));
	size_t keylen = strlen("worktree:") + strlen(path) + 1;

	*out = NULL;
	if (wt == NULL)
		goto fail;
	wt->src.ops = &worktree_ops;
	wt->path = strdup(path);
	wt->src.key = malloc(keylen);
	if (wt->path == NULL || wt->src.key == NULL)
		goto fail;
	snprintf(wt->src.key, keylen, "worktree:%s", path);
	snprintf(wt->src.revision, sizeof(wt->src.revision), "worktree");
	*out = &wt->src;
	return 0;
fail:
	if (wt != NULL) {
		free(wt->path);
		free(wt->src.key);
		free(wt);
	}
	snprintf(err, err_len, "out of memory");
	errno = ENOMEM;
	return -1;
}
