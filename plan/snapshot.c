/* Directory snapshots: see snapshot.h. */
#include "snapshot.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "source.h"

int plan_snapshot_name(const struct plan_snapshot_file *files, size_t n,
		       char revision[PLAN_REVISION_MAX])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int dlen = 0, i;
	size_t f;
	int ok;

	if (md == NULL)
		return -1;
	ok = EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1;
	for (f = 0; ok && f < n; f++) {
		/* Name, NUL, length, bytes: no two file lists run together. */
		char len[32];
		int l = snprintf(len, sizeof(len), "%zu:", files[f].len);

		ok = EVP_DigestUpdate(md, files[f].name,
				      strlen(files[f].name) + 1) == 1 &&
		     EVP_DigestUpdate(md, len, (size_t)l) == 1 &&
		     (files[f].len == 0 ||
		      EVP_DigestUpdate(md, files[f].data, files[f].len) == 1);
	}
	ok = ok && EVP_DigestFinal_ex(md, digest, &dlen) == 1;
	EVP_MD_CTX_free(md);
	if (!ok)
		return -1;
	strcpy(revision, PLAN_SNAPSHOT_PREFIX);
	for (i = 0; i < PLAN_SNAPSHOT_DIGITS / 2; i++)
		snprintf(revision + strlen(PLAN_SNAPSHOT_PREFIX) + 2 * i, 3,
			 "%02x", digest[i]);
	return 0;
}

int plan_is_snapshot_revision(const char *text)
{
	size_t plen = strlen(PLAN_SNAPSHOT_PREFIX), i;

	if (text == NULL || strncmp(text, PLAN_SNAPSHOT_PREFIX, plen) != 0 ||
	    strlen(text) != plen + PLAN_SNAPSHOT_DIGITS)
		return 0;
	for (i = plen; text[i] != '\0'; i++)
		if (strchr("0123456789abcdef", text[i]) == NULL)
			return 0;
	return 1;
}

int plan_snapshot_take(const struct plan_spec *spec, struct plan_snapshot *out,
		       char *err, size_t err_len)
{
	struct plan_source *src = NULL;
	struct plan_stamp stamp;
	size_t i, j;
	int stable;

	memset(out, 0, sizeof(*out));
	if (spec->repo_ref != NULL || spec->snapshot != NULL) {
		snprintf(err, err_len, "only a directory is snapshot");
		errno = EINVAL;
		return -1;
	}
	if (plan_source_open(NULL, spec, &src, err, err_len) != 0)
		return -1;
	if (spec->nfiles > 0 &&
	    (out->files = calloc(spec->nfiles, sizeof(*out->files))) == NULL)
		goto oom;
	for (i = 0; i < spec->nfiles; i++) {
		struct plan_snapshot_file *f = &out->files[out->nfiles];

		/* A name listed twice is kept once. */
		for (j = 0; j < out->nfiles; j++)
			if (strcmp(out->files[j].name, spec->files[i].name) ==
			    0)
				break;
		if (j < out->nfiles)
			continue;
		if ((f->name = strdup(spec->files[i].name)) == NULL)
			goto oom;
		out->nfiles++;
		if (src->ops->read(src, f->name, &f->data, &f->len, &stamp,
				   &stable, err, err_len) != 0)
			goto fail;
	}
	if (plan_snapshot_name(out->files, out->nfiles, out->revision) != 0)
		goto oom;
	plan_source_close(src);
	return 0;
oom:
	snprintf(err, err_len, "out of memory");
	errno = ENOMEM;
fail:
	plan_source_close(src);
	plan_snapshot_free(out);
	return -1;
}

void plan_snapshot_free(struct plan_snapshot *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < s->nfiles; i++) {
		free(s->files[i].name);
		free(s->files[i].data);
	}
	free(s->files);
	memset(s, 0, sizeof(*s));
}
