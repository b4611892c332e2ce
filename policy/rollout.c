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

	/* Fetched once: an implicit fetch per call costs more than the hash,
	 * and luaotad places a chip at every check-in. */
	static EVP_MD *sha256;

	if (sha256 == NULL)
		sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	if (n < 0 || (size_t)n >= sizeof(key) || sha256 == NULL ||
	    EVP_Digest(key, (size_t)n, digest, &len, sha256, NULL) != 1)
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
			c->update_began_ms = s->started_ms;
		} else if (s->outcome == STORE_OUTCOME_CURRENT) {
			/* It held the target already, and it is up. */
			c->state = ROLLOUT_CHIP_SOAKING;
			c->updated_ms = s->started_ms;
			c->update_began_ms = s->started_ms;
			c->came_back = 1;
		}
		return;
	}
	/* Soaking: every check-in after the update tells. */
	if (s->started_ms < c->update_began_ms)
		return;
	/* Back and soaked by then: healthy for good. */
	if (c->came_back && s->started_ms >= c->updated_ms + r->soak * 1000)
		return;
	if (!c->came_back &&
	    s->started_ms - c->updated_ms > r->deadline * 1000) {
		chip_fail(c,
			  "did not check in again within %" PRId64
			  " s of the update",
			  r->deadline);
		return;
	}
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

/*
 * Whether session s of chip c could change what chip_session made of
 * c's sessions so far (a session that would not: a check-in of a chip
 * outside the served waves, or long after its update).
 */
static int chip_session_matters(const struct store_rollout *r,
				const struct rollout_chip *c,
				const struct store_session *s)
{
	int on_target =
	    s->revision != NULL && strcmp(s->revision, r->to_revision) == 0;

	if (s->outcome == STORE_OUTCOME_REJECTED ||
	    c->state == ROLLOUT_CHIP_FAILED)
		return 0;
	if (c->state == ROLLOUT_CHIP_WAITING ||
	    s->started_ms < c->update_began_ms)
		return on_target;
	if (c->came_back && s->started_ms >= c->updated_ms + r->soak * 1000)
		return 0;
	if (!c->came_back ||
	    (on_target && (s->outcome == STORE_OUTCOME_FAILED ||
			   s->outcome == STORE_OUTCOME_INTERRUPTED)))
		return 1;
	return s->started_ms - c->updated_ms <= r->loop_window * 1000;
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

/* The report's chips, in id order, placed in their waves. */
static int report_chips(const struct store_rollout *r, char *const *ids,
			size_t n, struct rollout_report *out)
{
	int64_t bounds[ROLLOUT_WAVES_MAX];
	size_t nbounds, i;

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
	return 0;
}

static struct rollout_chip *report_chip(struct rollout_report *rep,
					const char *id)
{
	if (id == NULL)
		return NULL;
	return bsearch(id, rep->chips, rep->nchips, sizeof(*rep->chips),
		       cmp_chip);
}

/* Counts the waves and gives the verdict, settling chips by time. */
static void report_finish(const struct store_rollout *r,
			  struct rollout_report *out, int64_t now_ms)
{
	size_t i, served_waves = (size_t)r->wave + 1;
	const struct rollout_chip *first_failed = NULL;
	struct rollout_wave_report *w;

	memset(out->waves, 0, sizeof(out->waves));
	out->served = out->failed = 0;
	out->verdict = ROLLOUT_HOLD;
	out->reason[0] = '\0';
	for (i = 0; i < out->nchips; i++) {
		struct rollout_chip *c = &out->chips[i];

		chip_settle(r, c, now_ms);
		if (c->wave >= out->nwaves)
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
		return;
	if ((int64_t)out->failed > out->failure_limit) {
		out->verdict = ROLLOUT_HALT;
		snprintf(out->reason, sizeof(out->reason),
			 "%zu of %zu chips failed (limit %" PRId64
			 "); chip %s: %s",
			 out->failed, out->served, out->failure_limit,
			 first_failed->id, first_failed->reason);
		return;
	}
	if (r->state == STORE_ROLLOUT_PAUSED || (size_t)r->wave >= out->nwaves)
		return;
	w = &out->waves[r->wave];
	if (w->waiting == 0 && w->soaking == 0 &&
	    now_ms - r->wave_started_ms >= r->soak * 1000)
		out->verdict = (size_t)r->wave + 1 == out->nwaves
				   ? ROLLOUT_COMPLETE
				   : ROLLOUT_ADVANCE;
}

int rollout_evaluate(const struct store_rollout *r, char *const *ids, size_t n,
		     const struct store_session *sessions, size_t nsessions,
		     int64_t now_ms, struct rollout_report *out)
{
	struct rollout_chip *c;
	size_t i;

	if (report_chips(r, ids, n, out) != 0)
		return -1;
	for (i = 0; i < nsessions; i++)
		if ((c = report_chip(out, sessions[i].chip_id)) != NULL)
			chip_session(r, c, &sessions[i]);
	report_finish(r, out, now_ms);
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

/*
 * The tracker: the report kept between looks, so that each look reads
 * only the sessions written since the last one.  A chip one of them could
 * change is judged again from its own sessions (so the judgement is
 * rollout_assess's); a session still open is looked up again until it
 * has ended.
 */
struct rollout_tracker {
	struct rollout_report rep;
	int64_t cursor; /* every session id up to here was read */
	int64_t *open;	/* ids of sessions read while still open */
	size_t nopen;
};

/* Notes a session read while open, to read again once it ended. */
static int track_open(struct rollout_tracker *t, int64_t id)
{
	int64_t *bigger = realloc(t->open, (t->nopen + 1) * sizeof(*t->open));

	if (bigger == NULL)
		return -1;
	t->open = bigger;
	t->open[t->nopen++] = id;
	return 0;
}

/* Judges chip c again from all its sessions since the rollout began. */
static int refold(struct store *st, const struct store_rollout *r,
		  struct rollout_chip *c)
{
	struct store_session *rows = NULL;
	size_t n = 0, i;
	int rc = store_chip_sessions_since(st, c->id, r->started_ms, &rows, &n);

	if (rc != 0)
		return rc;
	c->state = ROLLOUT_CHIP_WAITING;
	c->updated_ms = c->checkins = 0;
	c->came_back = 0;
	c->reason[0] = '\0';
	for (i = 0; i < n; i++)
		chip_session(r, c, &rows[i]);
	store_session_list_free(rows, n);
	return 0;
}

struct rollout_tracker *rollout_tracker_new(struct store *st,
					    const struct store_rollout *r)
{
	struct rollout_tracker *t = calloc(1, sizeof(*t));
	struct store_session *rows = NULL;
	size_t nrows = 0, nids = 0, i;
	char **ids = NULL;

	if (t == NULL)
		return NULL;
	if (store_group_chip_ids(st, r->group_id, &ids, &nids) != 0 ||
	    report_chips(r, ids, nids, &t->rep) != 0 ||
	    store_group_sessions_since(st, r->group_id, r->started_ms, &rows,
				       &nrows) != 0)
		goto fail;
	for (i = 0; i < nrows; i++) {
		struct rollout_chip *c = report_chip(&t->rep, rows[i].chip_id);

		if (rows[i].id > t->cursor)
			t->cursor = rows[i].id;
		if (rows[i].outcome == STORE_OUTCOME_STARTED &&
		    track_open(t, rows[i].id) != 0)
			goto fail;
		if (c != NULL)
			chip_session(r, c, &rows[i]);
	}
	store_session_list_free(rows, nrows);
	store_ids_free(ids, nids);
	return t;
fail:
	store_session_list_free(rows, nrows);
	store_ids_free(ids, nids);
	rollout_tracker_free(t);
	return NULL;
}

int rollout_tracker_update(struct rollout_tracker *t, struct store *st,
			   const struct store_rollout *r, int64_t now_ms,
			   const struct rollout_report **out)
{
	struct store_session *rows = NULL, one;
	struct rollout_chip *c;
	size_t nrows = 0, i, kept = 0;
	int rc;

	for (i = 0; i < t->nopen; i++) {
		rc = store_session_get(st, t->open[i], &one);
		if (rc == STORE_NOTFOUND)
			continue;
		if (rc != 0)
			return rc;
		if (one.outcome == STORE_OUTCOME_STARTED)
			t->open[kept++] = t->open[i];
		else if ((c = report_chip(&t->rep, one.chip_id)) != NULL &&
			 chip_session_matters(r, c, &one) &&
			 (rc = refold(st, r, c)) != 0) {
			store_session_free(&one);
			return rc;
		}
		store_session_free(&one);
	}
	t->nopen = kept;
	if ((rc = store_group_sessions_after(st, r->group_id, r->started_ms,
					     t->cursor, &rows, &nrows)) != 0)
		return rc;
	for (i = 0; i < nrows; i++) {
		if (rows[i].id > t->cursor)
			t->cursor = rows[i].id;
		if (rows[i].outcome == STORE_OUTCOME_STARTED) {
			if (track_open(t, rows[i].id) != 0) {
				rc = -1;
				break;
			}
			continue;
		}
		c = report_chip(&t->rep, rows[i].chip_id);
		if (c != NULL && chip_session_matters(r, c, &rows[i]) &&
		    (rc = refold(st, r, c)) != 0)
			break;
	}
	store_session_list_free(rows, nrows);
	if (rc != 0)
		return rc;
	report_finish(r, &t->rep, now_ms);
	*out = &t->rep;
	return 0;
}

void rollout_tracker_free(struct rollout_tracker *t)
{
	if (t == NULL)
		return;
	rollout_report_free(&t->rep);
	free(t->open);
	free(t);
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
