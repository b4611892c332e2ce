/* Staged rollouts: see rollout.h. */
#include "rollout.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

int rollout_amount_parse(const char *text, struct rollout_amount *out)
{
	char *end;
	long long v;

	if (text == NULL || text[0] < '0' || text[0] > '9')
		return -1;
	errno = 0;
	v = strtoll(text, &end, 10);
	if (errno != 0 || end == text)
		return -1;
	out->pct = *end == '%';
	if (out->pct)
		end++;
	if (*end != '\0' || (out->pct && v > 100))
		return -1;
	out->value = v;
	return 0;
}

size_t rollout_amount_of(const struct rollout_amount *a, size_t n)
{
	if (!a->pct)
		return (size_t)a->value < n ? (size_t)a->value : n;
	return (size_t)(((uint64_t)n * (uint64_t)a->value + 99) / 100);
}

/* Whether a names every chip of any group. */
static int is_all(const struct rollout_amount *a)
{
	return a->pct && a->value == 100;
}

int rollout_waves_spec_parse(const char *canary, const char *steps,
			     struct rollout_waves_spec *out, char *why,
			     size_t why_len)
{
	char *copy = strdup(steps), *tok, *save = NULL;
	struct rollout_amount *prev = NULL;
	size_t i;

	memset(out, 0, sizeof(*out));
	if (copy == NULL) {
		snprintf(why, why_len, "out of memory");
		return -1;
	}
	if (canary != NULL) {
		if (rollout_amount_parse(canary, &out->waves[0]) != 0 ||
		    out->waves[0].value == 0) {
			snprintf(why, why_len,
				 "--canary %s: not a count (N) or share "
				 "(PCT%%) above 0",
				 canary);
			goto fail;
		}
		out->nwaves = 1;
	}
	for (tok = strtok_r(copy, ",", &save); tok != NULL;
	     tok = strtok_r(NULL, ",", &save)) {
		if (out->nwaves == ROLLOUT_WAVES_MAX) {
			snprintf(why, why_len, "at most %d waves",
				 ROLLOUT_WAVES_MAX);
			goto fail;
		}
		if (rollout_amount_parse(tok, &out->waves[out->nwaves]) != 0 ||
		    out->waves[out->nwaves].value == 0) {
			snprintf(why, why_len,
				 "--steps: %s is not a count (N) or share "
				 "(PCT%%) above 0",
				 tok);
			goto fail;
		}
		out->nwaves++;
	}
	if (out->nwaves == 0 || !is_all(&out->waves[out->nwaves - 1])) {
		snprintf(why, why_len, "--steps must end at 100%%");
		goto fail;
	}
	/* Shares and counts cannot be ordered without the group: only
	 * like with like. */
	for (i = 0; i < out->nwaves; i++) {
		struct rollout_amount *a = &out->waves[i];

		if (prev != NULL && prev->pct == a->pct &&
		    a->value <= prev->value) {
			snprintf(why, why_len,
				 "waves must grow: %" PRId64 "%s after "
				 "%" PRId64 "%s",
				 a->value, a->pct ? "%" : "", prev->value,
				 prev->pct ? "%" : "");
			goto fail;
		}
		prev = a;
	}
	free(copy);
	return 0;
fail:
	free(copy);
	return -1;
}

uint32_t rollout_position(int64_t rollout_id, const char *chip_id)
{
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	char key[96];
	int n =
	    snprintf(key, sizeof(key), "%" PRId64 "/%s", rollout_id, chip_id);

	if (n < 0 || (size_t)n >= sizeof(key) ||
	    EVP_Digest(key, (size_t)n, digest, &len, EVP_sha256(), NULL) != 1)
		return UINT32_MAX; /* the last position: the last wave */
	return (uint32_t)digest[0] << 24 | (uint32_t)digest[1] << 16 |
	       (uint32_t)digest[2] << 8 | (uint32_t)digest[3];
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

int rollout_waves_plan(int64_t rollout_id, char *const *ids, size_t n,
		       const struct rollout_waves_spec *spec, char **waves)
{
	uint32_t *pos = n > 0 ? malloc(n * sizeof(*pos)) : NULL;
	char *text;
	size_t i, used = 0, cap = spec->nwaves * 24 + 1;
	int64_t bound, last = 0;

	*waves = NULL;
	if ((n > 0 && pos == NULL) || (text = malloc(cap)) == NULL) {
		free(pos);
		errno = ENOMEM;
		return -1;
	}
	for (i = 0; i < n; i++)
		pos[i] = rollout_position(rollout_id, ids[i]);
	qsort(pos, n, sizeof(*pos), cmp_u32);
	text[0] = '\0';
	for (i = 0; i < spec->nwaves; i++) {
		size_t k = rollout_amount_of(&spec->waves[i], n);

		if (is_all(&spec->waves[i]) || k >= n)
			bound = ROLLOUT_POSITION_END;
		else if (k == 0)
			bound = 0;
		else
			bound = (int64_t)pos[k - 1] + 1;
		/* A count above a later share, say: never shrink. */
		if (bound < last)
			bound = last;
		last = bound;
		used += (size_t)snprintf(text + used, cap - used, "%s%" PRId64,
					 i > 0 ? "," : "", bound);
	}
	free(pos);
	*waves = text;
	return 0;
}

int rollout_waves_parse(const char *text, int64_t bounds[ROLLOUT_WAVES_MAX],
			size_t *n)
{
	const char *p = text;
	char *end;
	long long v;

	*n = 0;
	if (text == NULL || *text == '\0')
		return -1;
	for (;;) {
		if (*n == ROLLOUT_WAVES_MAX || *p < '0' || *p > '9')
			return -1;
		errno = 0;
		v = strtoll(p, &end, 10);
		if (errno != 0 || v > ROLLOUT_POSITION_END ||
		    (*n > 0 && v < bounds[*n - 1]))
			return -1;
		bounds[(*n)++] = v;
		if (*end == '\0')
			break;
		if (*end != ',')
			return -1;
		p = end + 1;
	}
	/* The last wave holds every chip. */
	return bounds[*n - 1] == ROLLOUT_POSITION_END ? 0 : -1;
}

size_t rollout_wave_of(const int64_t *bounds, size_t nbounds, uint32_t pos)
{
	size_t i;

	for (i = 0; i < nbounds; i++)
		if ((int64_t)pos < bounds[i])
			return i;
	return nbounds;
}

int rollout_serves_target(const struct store_rollout *r, const int64_t *bounds,
			  size_t nbounds, const char *chip_id)
{
	if (r->state != STORE_ROLLOUT_RUNNING &&
	    r->state != STORE_ROLLOUT_PAUSED)
		return r->state == STORE_ROLLOUT_DONE;
	return rollout_wave_of(bounds, nbounds,
			       rollout_position(r->id, chip_id)) <=
	       (size_t)r->wave;
}

int rollout_chip_revision(struct store *st, const struct store_chip *chip,
			  char *out, size_t out_len)
{
	struct store_rollout r;
	int64_t bounds[ROLLOUT_WAVES_MAX];
	size_t n;
	int rc = store_rollout_active(st, chip->group_id, &r), target;

	if (rc == STORE_NOTFOUND)
		return 0;
	if (rc != 0)
		return -1;
	/* Unusable waves move nobody forward, as in the daemon. */
	target = rollout_waves_parse(r.waves, bounds, &n) == 0 &&
		 rollout_serves_target(&r, bounds, n, chip->id);
	snprintf(out, out_len, "%s", target ? r.to_revision : r.from_revision);
	store_rollout_free(&r);
	return 1;
}

const char *rollout_chip_state_name(enum rollout_chip_state s)
{
	switch (s) {
	case ROLLOUT_CHIP_WAITING:
		return "waiting";
	case ROLLOUT_CHIP_SOAKING:
		return "soaking";
	case ROLLOUT_CHIP_HEALTHY:
		return "healthy";
	case ROLLOUT_CHIP_FAILED:
		return "failed";
	}
	return "unknown";
}

static int cmp_chip(const void *key, const void *elem)
{
	return strcmp(key, ((const struct rollout_chip *)elem)->id);
}

static void chip_fail(struct rollout_chip *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void chip_fail(struct rollout_chip *c, const char *fmt, ...)
{
	va_list ap;

	c->state = ROLLOUT_CHIP_FAILED;
	va_start(ap, fmt);
	vsnprintf(c->reason, sizeof(c->reason), fmt, ap);
	va_end(ap);
}

/* Folds one of the chip's sessions (in time order) into its health. */
static void chip_session(const struct store_rollout *r, struct rollout_chip *c,
			 const struct store_session *s)
{
	int on_target =
	    s->revision != NULL && strcmp(s->revision, r->to_revision) == 0;
	int broke = s->outcome == STORE_OUTCOME_FAILED ||
		    s->outcome == STORE_OUTCOME_INTERRUPTED;

	if (c->state == ROLLOUT_CHIP_FAILED ||
	    s->outcome == STORE_OUTCOME_STARTED ||
	    s->outcome == STORE_OUTCOME_REJECTED)
		return;
	if (c->state == ROLLOUT_CHIP_WAITING) {
		if (!on_target)
			return;
		if (broke) {
			chip_fail(c, "%s session: %s",
				  store_outcome_name(s->outcome),
				  s->reason != NULL ? s->reason : "?");
			return;
		}
		if (s->outcome == STORE_OUTCOME_UPDATED) {
			c->state = ROLLOUT_CHIP_SOAKING;
			c->updated_ms =
			    s->ended_ms != 0 ? s->ended_ms : s->started_ms;
		} else if (s->outcome == STORE_OUTCOME_CURRENT) {
			/* It held the target already, and it is up. */
			c->state = ROLLOUT_CHIP_SOAKING;
			c->updated_ms = s->started_ms;
			c->came_back = 1;
		}
		return;
	}
	/* Soaking: every check-in after the update tells. */
	if (s->started_ms < c->updated_ms)
		return;
	c->came_back = 1;
	if (on_target && broke) {
		chip_fail(c, "%s session after the update: %s",
			  store_outcome_name(s->outcome),
			  s->reason != NULL ? s->reason : "?");
		return;
	}
	if (s->started_ms - c->updated_ms <= r->loop_window * 1000 &&
	    ++c->checkins >= r->loop_checkins)
		chip_fail(c,
			  "reboot loop: %" PRId64 " check-ins within %" PRId64
			  " s of the update",
			  c->checkins, r->loop_window);
}

/* Settles what time alone decides: soaked, or never came back. */
static void chip_settle(const struct store_rollout *r, struct rollout_chip *c,
			int64_t now_ms)
{
	if (c->state != ROLLOUT_CHIP_SOAKING)
		return;
	if (!c->came_back) {
		if (now_ms - c->updated_ms > r->deadline * 1000)
			chip_fail(c,
				  "did not check in again within %" PRId64
				  " s of the update",
				  r->deadline);
		return;
	}
	if (now_ms - c->updated_ms >= r->soak * 1000)
		c->state = ROLLOUT_CHIP_HEALTHY;
}

int rollout_evaluate(const struct store_rollout *r, char *const *ids, size_t n,
		     const struct store_session *sessions, size_t nsessions,
		     int64_t now_ms, struct rollout_report *out)
{
	int64_t bounds[ROLLOUT_WAVES_MAX];
	size_t nbounds, i, served_waves;
	const struct rollout_chip *first_failed = NULL;
	struct rollout_wave_report *w;

	memset(out, 0, sizeof(*out));
	if (rollout_waves_parse(r->waves, bounds, &nbounds) != 0) {
		errno = EINVAL;
		return -1;
	}
	out->nwaves = nbounds;
	if (n > 0 && (out->chips = calloc(n, sizeof(*out->chips))) == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		struct rollout_chip *c = &out->chips[out->nchips];

		if ((c->id = strdup(ids[i])) == NULL) {
			rollout_report_free(out);
			return -1;
		}
		out->nchips++;
		c->wave = rollout_wave_of(bounds, nbounds,
					  rollout_position(r->id, ids[i]));
	}
	for (i = 0; i < nsessions; i++) {
		struct rollout_chip *c;

		if (sessions[i].chip_id == NULL)
			continue;
		c = bsearch(sessions[i].chip_id, out->chips, out->nchips,
			    sizeof(*out->chips), cmp_chip);
		if (c != NULL)
			chip_session(r, c, &sessions[i]);
	}
	served_waves = (size_t)r->wave + 1;
	for (i = 0; i < out->nchips; i++) {
		struct rollout_chip *c = &out->chips[i];

		chip_settle(r, c, now_ms);
		if (c->wave >= nbounds)
			continue;
		w = &out->waves[c->wave];
		w->members++;
		switch (c->state) {
		case ROLLOUT_CHIP_WAITING:
			w->waiting++;
			break;
		case ROLLOUT_CHIP_SOAKING:
			w->soaking++;
			break;
		case ROLLOUT_CHIP_HEALTHY:
			w->healthy++;
			break;
		case ROLLOUT_CHIP_FAILED:
			w->failed++;
			break;
		}
		if (c->wave < served_waves) {
			out->served++;
			if (c->state == ROLLOUT_CHIP_FAILED) {
				out->failed++;
				if (first_failed == NULL)
					first_failed = c;
			}
		}
	}
	out->failure_limit = r->max_failures_pct
				 ? (int64_t)((uint64_t)out->served *
					     (uint64_t)r->max_failures / 100)
				 : r->max_failures;
	if (r->state != STORE_ROLLOUT_RUNNING &&
	    r->state != STORE_ROLLOUT_PAUSED)
		return 0;
	if ((int64_t)out->failed > out->failure_limit) {
		out->verdict = ROLLOUT_HALT;
		snprintf(out->reason, sizeof(out->reason),
			 "%zu of %zu chips failed (limit %" PRId64
			 "); chip %s: %s",
			 out->failed, out->served, out->failure_limit,
			 first_failed->id, first_failed->reason);
		return 0;
	}
	if (r->state == STORE_ROLLOUT_PAUSED || (size_t)r->wave >= nbounds)
		return 0;
	w = &out->waves[r->wave];
	if (w->waiting == 0 && w->soaking == 0 &&
	    now_ms - r->wave_started_ms >= r->soak * 1000)
		out->verdict = (size_t)r->wave + 1 == nbounds ? ROLLOUT_COMPLETE
							      : ROLLOUT_ADVANCE;
	return 0;
}

int rollout_assess(struct store *st, const struct store_rollout *r,
		   int64_t now_ms, struct rollout_report *out)
{
	struct store_session *sessions = NULL;
	size_t nsessions = 0, nids = 0;
	char **ids = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = store_group_chip_ids(st, r->group_id, &ids, &nids)) != 0)
		return rc;
	if ((rc = store_group_sessions_since(st, r->group_id, r->started_ms,
					     &sessions, &nsessions)) != 0) {
		store_ids_free(ids, nids);
		return rc;
	}
	rc = rollout_evaluate(r, ids, nids, sessions, nsessions, now_ms, out);
	store_session_list_free(sessions, nsessions);
	store_ids_free(ids, nids);
	return rc;
}

void rollout_report_free(struct rollout_report *rep)
{
	size_t i;

	if (rep == NULL)
		return;
	for (i = 0; i < rep->nchips; i++)
		free(rep->chips[i].id);
	free(rep->chips);
	memset(rep, 0, sizeof(*rep));
}
