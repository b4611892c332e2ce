/*
 * A directory snapshot: the bytes are fixed, and the revision (their
 * digest) is part of the source key, so one stamp per name suffices.
 */
#include "source_snapshot.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "snapshot.h"

struct snapshot_source {
	struct plan_source src; /* first: the ops get a struct plan_source * */
	const struct plan_snapshot *snap;
};

static const struct plan_snapshot_file *find(const struct plan_snapshot *snap,
					     const char *name)
{
	size_t i;

	for (i = 0; i < snap->nfiles; i++)
		if (strcmp(snap->files[i].name, name) == 0)
			return &snap->files[i];
	return NULL;
}

static int snap_stamp(struct plan_source *src, const char *name,
		      struct plan_stamp *out, char *err, size_t err_len)
{
	struct snapshot_source *ss = (struct snapshot_source *)src;
	const struct plan_snapshot_file *f = find(ss->snap, name);

	if (f == NULL) {
		snprintf(err, err_len, "%s: not in snapshot %s", name,
			 ss->snap->revision);
		return -1;
	}
	memset(out, 0, sizeof(*out));
	out->v[0] = (uint64_t)f->len;
	return 0;
}

static int snap_read(struct plan_source *src, const char *name, uint8_t **data,
		     size_t *len, struct plan_stamp *stamp, int *stable,
		     char *err, size_t err_len)
{
	struct snapshot_source *ss = (struct snapshot_source *)src;
	const struct plan_snapshot_file *f = find(ss->snap, name);

	*data = NULL;
	if (snap_stamp(src, name, stamp, err, err_len) != 0) {
		errno = ENOENT;
		return -1;
	}
	/* One byte more: never malloc(0). */
	if ((*data = malloc(f->len + 1)) == NULL) {
		snprintf(err, err_len, "out of memory");
		return -1;
	}
	if (f->len > 0)
		memcpy(*data, f->data, f->len);
	*len = f->len;
	*stable = 1;
	return 0;
}

static void snap_close(struct plan_source *src)
{
	struct snapshot_source *ss = (struct snapshot_source *)src;

	free(ss->src.key);
	free(ss);
}

static const struct plan_source_ops snapshot_ops = {
	.stamp = snap_stamp,
	.read = snap_read,
	.close = snap_close,
};

int plan_source_snapshot_open(const char *path,
			      const struct plan_snapshot *snap,
			      struct plan_source **out, char *err,
			      size_t err_len)
{
	struct snapshot_source *ss = calloc(1, sizeof(*ss));
	size_t keylen =
	    strlen("snapshot:") + strlen(path) + strlen(snap->revision) + 2;

	*out = NULL;
	if (ss == NULL || (ss->src.key = malloc(keylen)) == NULL) {
		free(ss);
		snprintf(err, err_len, "out of memory");
		errno = ENOMEM;
		return -1;
	}
	ss->src.ops = &snapshot_ops;
	ss->snap = snap;
	snprintf(ss->src.key, keylen, "snapshot:%s#%s", path, snap->revision);
	snprintf(ss->src.revision, sizeof(ss->src.revision), "%s",
		 snap->revision);
	*out = &ss->src;
	return 0;
}
