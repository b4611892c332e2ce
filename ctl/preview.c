/* A chip's next check-in, previewed: see preview.h. */
#include "preview.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy.h"
#include "policy/rollout.h"
#include "proto/protocol.h"

/* Records of the steps: chunks per file, two deletes per .lua name. */
static int64_t count_records(const struct ctl_preview *p)
{
	int64_t records = 0;
	size_t i, len;

	for (i = 0; i < p->steps.nsend; i++)
		records += (int64_t)(p->manifest->files[p->steps.send[i]].len /
				     LUAOTA_CHUNK_SIZE) +
			   1;
	for (i = 0; i < p->steps.nremove; i++) {
		len = strlen(p->steps.remove[i]);
		records +=
		    len > 4 && strcmp(p->steps.remove[i] + len - 4, ".lua") == 0
			? 2
			: 1;
	}
	return records + 1; /* restart */
}

/*
 * A v2 chip's next release, assuming the device holds the newest one
 * issued: the same counter when the bytes are the same (current), else
 * the next.  0, or -1 with err set (the store).
 */
static int preview_v2(struct store *st, const struct store_chip *chip,
		      struct ctl_preview *out, char *err, size_t err_len)
{
	struct store_v2_release latest = { 0 };
	char why[512];
	int rc, is_new;

	rc = store_v2_release_latest(st, chip->id, &latest);
	if (rc != 0 && rc != STORE_NOTFOUND) {
		snprintf(err, err_len, "%s", store_errmsg(st));
		return -1;
	}
	out->latest_rc = rc == 0 ? latest.rc : 0;
	out->latest_issued = rc == 0 ? latest.issued : 0;
	if (plan_release_build(&out->release, out->manifest, out->overrides,
			       latest.manifest, why, sizeof(why)) != 0 ||
	    plan_release_pick(&out->release, out->latest_rc,
			      rc == 0 ? latest.mh : NULL, out->latest_rc,
			      &is_new, why, sizeof(why)) != 0) {
		out->release_error = strdup(why);
		is_new = 1;
	}
	out->current = !is_new;
	store_v2_release_free(&latest);
	return 0;
}

int ctl_preview_chip(struct store *st, struct plan_cache *cache,
		     const struct policy_settings *settings,
		     const struct store_chip *chip, struct ctl_preview *out,
		     char *err, size_t err_len)
{
	struct store_group group = { 0 };
	struct store_repo repo = { 0 };
	struct store_held_file *stored = NULL;
	struct plan_held *held = NULL;
	struct policy_group pg = { 0 };
	char revision[PLAN_REVISION_MAX];
	size_t nstored = 0, i;
	int rc = -1, pinned;

	memset(out, 0, sizeof(*out));
	out->session_max = settings->session_max_bytes;
	if (store_group_get_id(st, chip->group_id, &group) != 0 ||
	    store_repo_get_id(st, group.repo_id, &repo) != 0) {
		snprintf(err, err_len, "%s", store_errmsg(st));
		goto done;
	}
	out->v2 = chip->protocol == LUAOTA_PROTO_V2;
	if ((pinned = rollout_chip_revision(st, chip, revision,
					    sizeof(revision))) < 0) {
		snprintf(err, err_len, "%s", store_errmsg(st));
		goto done;
	}
	if (policy_group_spec(&group, &repo, settings, out->v2, &pg) != 0) {
		snprintf(err, err_len, "%s", strerror(errno));
		goto done;
	}
	/* A group under rollout, or pinned: what the daemon serves. */
	if (policy_group_pin(&pg, st, &group, &repo, pinned ? revision : NULL,
			     err, err_len) != 0)
		goto done;
	if (plan_manifest_resolve(cache, &pg.spec, &out->manifest) != 0) {
		snprintf(err, err_len, "%s", strerror(errno));
		goto done;
	}
	if (policy_target(out->manifest, group.config_json, chip->config_json,
			  &out->overrides, out->target_chk) != 0) {
		snprintf(err, err_len, "%s", policy_target_strerror(errno));
		goto done;
	}
	rc = 0;
	if (out->manifest->error != NULL)
		goto done;
	if (out->v2) {
		rc = preview_v2(st, chip, out, err, err_len);
		goto done;
	}
	/* The device reports what we gave it, as far as we know. */
	out->current = plan_is_current(out->target_chk, chip->chk, chip->chk);
	/* What the daemon checks before a session's first command. */
	{
		char why[256];

		if (policy_merged_config_problem(out->overrides, chip->secret,
						 &out->config_floor, why,
						 sizeof(why)) != NULL &&
		    (out->config_error = strdup(why)) == NULL) {
			snprintf(err, err_len, "out of memory");
			rc = -1;
			goto done;
		}
	}
	out->trusted = plan_held_trusted(chip->chk, chip->chk);
	if (out->current)
		goto done;
	rc = -1;
	if (store_held_get(st, chip->id, &stored, &nstored) != 0) {
		snprintf(err, err_len, "%s", store_errmsg(st));
		goto done;
	}
	if ((held = calloc(nstored + 1, sizeof(*held))) == NULL) {
		snprintf(err, err_len, "out of memory");
		goto done;
	}
	for (i = 0; i < nstored; i++) {
		held[i].name = stored[i].name;
		held[i].token = stored[i].token;
	}
	if (plan_update_steps(out->manifest, chip->chk, chip->chk, held,
			      nstored, &out->steps) != 0) {
		snprintf(err, err_len, "out of memory");
		goto done;
	}
	out->records = count_records(out);
	out->fits = out->session_max == 0 ||
		    (int64_t)out->steps.bytes <= out->session_max;
	rc = 0;
done:
	if (rc != 0) {
		ctl_preview_free(out);
	}
	free(held);
	policy_group_free(&pg);
	store_held_free(stored, nstored);
	store_group_free(&group);
	store_repo_free(&repo);
	return rc;
}

void ctl_preview_free(struct ctl_preview *p)
{
	plan_manifest_free(p->manifest);
	plan_steps_free(&p->steps);
	free(p->overrides);
	plan_release_free(&p->release);
	free(p->release_error);
	free(p->config_error);
	memset(p, 0, sizeof(*p));
}
