/* The per-group decision cache: see decisions.h. */
#include "decisions.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "db/store.h"
#include "policy/policy.h"
#include "proto/protocol.h"

/* Hash chains by group id; a fleet has few groups next to its chips. */
#define BUCKETS 64

struct entry {
	struct decision pub;
	struct entry *next;
	struct store_group group;
	struct store_repo repo;
	struct policy_group pg;
	char *merged;
	char *revision;	     /* asked for (a rollout's); NULL: the group's */
	int settled;	     /* every stamp of the manifest trusted */
	int64_t resolved_ms; /* monotonic, last resolve */
};

struct decisions {
	struct entry *buckets[BUCKETS];
	int version_known;
	uint64_t version; /* the inventory's data version the entries are of */
	int pulls_known;  /* pulls_any is of version */
	int pulls_any;
};

static void entry_free(struct entry *e)
{
	plan_manifest_free(e->pub.manifest);
	store_group_free(&e->group);
	store_repo_free(&e->repo);
	policy_group_free(&e->pg);
	free(e->merged);
	free(e->revision);
	free(e);
}

struct decisions *decisions_new(void)
{
	return calloc(1, sizeof(struct decisions));
}

void decisions_clear(struct decisions *ds)
{
	struct entry *e;
	size_t i;

	for (i = 0; i < BUCKETS; i++) {
		while ((e = ds->buckets[i]) != NULL) {
			ds->buckets[i] = e->next;
			entry_free(e);
		}
	}
	ds->version_known = 0;
	ds->pulls_known = 0;
}

void decisions_free(struct decisions *ds)
{
	if (ds == NULL)
		return;
	decisions_clear(ds);
	free(ds);
}

static size_t bucket(int64_t group_id)
{
	return (size_t)((uint64_t)group_id % BUCKETS);
}

/* Drops everything when the inventory moved on since the entries. */
static void follow_version(struct decisions *ds, uint64_t version)
{
	if (ds->version_known && ds->version == version)
		return;
	decisions_clear(ds);
	ds->version = version;
	ds->version_known = 1;
}

/* A new entry with the group's and repository's rows; NULL on failure. */
static struct entry *entry_load(struct daemon *d, int64_t group_id, int v2,
				const char *revision, char *why, size_t why_len)
{
	struct entry *e = calloc(1, sizeof(*e));
	struct policy_settings settings;

	if (e == NULL ||
	    (revision != NULL && (e->revision = strdup(revision)) == NULL))
		goto oom;
	if (store_group_get_id(d->store, group_id, &e->group) != 0) {
		snprintf(why, why_len, "chip's group could not be read");
		goto fail;
	}
	if (store_repo_get_id(d->store, e->group.repo_id, &e->repo) != 0) {
		snprintf(why, why_len, "group's repository could not be read");
		goto fail;
	}
	policy_settings_from_config(&settings, &d->conf);
	if (policy_group_spec(&e->group, &e->repo, &settings, v2, &e->pg) != 0)
		goto oom;
	if (policy_group_pin(&e->pg, d->store, &e->group, &e->repo, revision,
			     why, why_len) != 0) {
		if (errno == ENOMEM)
			goto oom;
		goto fail;
	}
	e->pub.v2 = v2;
	e->pub.lua_version = e->pg.spec.lua_version;
	/* Merged once per entry: only the manifest changes between
	 * resolves. */
	e->pub.merged_ok = 1;
	if (plan_overrides_merge(e->group.config_json, NULL, &e->merged) != 0) {
		if (errno == ENOMEM)
			goto oom;
		/* Each chip without overrides of its own is told. */
		e->pub.merged_ok = 0;
	}
	e->pub.merged = e->merged;
	e->pub.group_id = group_id;
	e->pub.group_config = e->group.config_json;
	return e;
oom:
	snprintf(why, why_len, "out of memory");
	if (e != NULL)
		entry_free(e);
	errno = ENOMEM;
	return NULL;
fail:
	entry_free(e);
	errno = EIO;
	return NULL;
}

/* Whether e's manifest must be resolved again before it is used. */
static int stale(struct daemon *d, struct entry *e, int64_t now)
{
	char rev[PLAN_REVISION_MAX], err[256];

	/* An unsendable manifest is never reused: a fix shows at once. */
	if (e->pub.manifest == NULL || e->pub.manifest->error != NULL ||
	    !e->settled)
		return 1;
	/* A pinned revision never moves. */
	if (e->pg.pinned[0] != '\0')
		return 0;
	/* A commit names its files for good: only a moved ref matters. */
	if (e->pg.spec.repo_ref != NULL)
		return plan_revision(d->cache, &e->pg.spec, rev, err,
				     sizeof(err)) != 0 ||
		       strcmp(rev, e->pub.manifest->revision) != 0;
	return now - e->resolved_ms >= d->conf.repository_recheck_ms;
}

static int resolve(struct daemon *d, struct entry *e, int64_t now)
{
	struct plan_manifest *m;
	int settled;

	if (plan_manifest_resolve_settled(d->cache, &e->pg.spec, &m,
					  &settled) != 0)
		return -1;
	plan_manifest_free(e->pub.manifest);
	e->pub.manifest = m;
	e->settled = settled;
	e->resolved_ms = now;
	e->pub.chk[0] = '\0';
	if (m->error == NULL && e->pub.merged_ok)
		plan_chk(m, e->merged, e->pub.chk);
	return 0;
}

static int same_revision(const char *a, const char *b)
{
	return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

const struct decision *decisions_get(struct daemon *d, int64_t group_id, int v2,
				     const char *revision, uint64_t version,
				     char *why, size_t why_len)
{
	struct decisions *ds = d->decisions;
	struct entry *e;
	int64_t now = daemon_now_ms();

	follow_version(ds, version);
	for (e = ds->buckets[bucket(group_id)]; e != NULL; e = e->next)
		if (e->pub.group_id == group_id && e->pub.v2 == v2 &&
		    same_revision(e->revision, revision))
			break;
	if (e == NULL) {
		if ((e = entry_load(d, group_id, v2, revision, why, why_len)) ==
		    NULL)
			return NULL;
		e->next = ds->buckets[bucket(group_id)];
		ds->buckets[bucket(group_id)] = e;
	}
	if (stale(d, e, now) && resolve(d, e, now) != 0) {
		snprintf(why, why_len, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	return &e->pub;
}

int decisions_pulls_maybe(struct daemon *d, uint64_t version)
{
	struct decisions *ds = d->decisions;
	int any;

	follow_version(ds, version);
	if (!ds->pulls_known) {
		if (store_pull_any_pending(d->store, &any) != 0)
			return 1;
		ds->pulls_any = any;
		ds->pulls_known = 1;
	}
	return ds->pulls_any;
}
