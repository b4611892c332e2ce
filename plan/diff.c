/* A manifest against what a chip holds: see diff.h. */
#include "diff.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The held entry named name, or NULL (lists are tens of files: a scan). */
static const struct plan_held *find_held(const struct plan_held *held,
					 size_t nheld, const char *name)
{
	size_t i;

	for (i = 0; i < nheld; i++)
		if (held[i].name != NULL && strcmp(held[i].name, name) == 0)
			return &held[i];
	return NULL;
}

static int in_manifest(const struct plan_manifest *m, const char *name)
{
	size_t i;

	for (i = 0; i < m->nfiles; i++)
		if (strcmp(m->files[i].name, name) == 0)
			return 1;
	return 0;
}

static int already_removed(const struct plan_steps *s, const char *name)
{
	size_t i;

	for (i = 0; i < s->nremove; i++)
		if (strcmp(s->remove[i], name) == 0)
			return 1;
	return 0;
}

int plan_diff(const struct plan_manifest *m, const struct plan_held *held,
	      size_t nheld, struct plan_steps *out)
{
	const struct plan_held *h;
	size_t i;

	memset(out, 0, sizeof(*out));
	out->send = calloc(m->nfiles + 1, sizeof(*out->send));
	out->remove = calloc(nheld + 1, sizeof(*out->remove));
	if (out->send == NULL || out->remove == NULL)
		goto fail;
	for (i = 0; i < m->nfiles; i++) {
		h = find_held(held, nheld, m->files[i].name);
		if (h != NULL && h->token != NULL &&
		    strcmp(h->token, m->files[i].token) == 0)
			continue;
		out->send[out->nsend++] = i;
		out->bytes += m->files[i].len;
	}
	for (i = 0; i < nheld; i++) {
		if (held[i].name == NULL || in_manifest(m, held[i].name) ||
		    already_removed(out, held[i].name))
			continue;
		out->remove[out->nremove] = strdup(held[i].name);
		if (out->remove[out->nremove] == NULL)
			goto fail;
		out->nremove++;
	}
	return 0;
fail:
	plan_steps_free(out);
	errno = ENOMEM;
	return -1;
}

int plan_device_name(const char *name, enum plan_action action, char *out,
		     size_t out_len)
{
	size_t n = strlen(name);
	int w;

	if (action == PLAN_CM && n >= 4)
		w = snprintf(out, out_len, "%.*s.lc", (int)(n - 4), name);
	else
		w = snprintf(out, out_len, "%s", name);
	return w >= 0 && (size_t)w < out_len ? 0 : -1;
}

void plan_steps_free(struct plan_steps *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < s->nremove; i++)
		free(s->remove[i]);
	free(s->remove);
	free(s->send);
	memset(s, 0, sizeof(*s));
}
