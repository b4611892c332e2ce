/* Staged rollouts in the daemon: see rollouts.h. */
#include "rollouts.h"

#include <bsd/string.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "db/store.h"
#include "decisions.h"
#include "log.h"
#include "policy/rollout.h"
#include "session.h"

struct active {
	struct store_rollout r;
	int64_t bounds[ROLLOUT_WAVES_MAX];
	size_t nbounds;
	int usable; /* its waves parsed */
};

/* Update sessions in flight per rollout: kept across reloads. */
struct slot {
	int64_t rollout_id;
	int64_t inflight;
};

/*
 * On a shared PostgreSQL inventory a session row of another daemon may
 * commit after rows with higher ids were read: the incremental reads
 * would pass it by, so the judgement is made afresh this often.
 */
#define SHARED_TRACKER_REBUILD_MS 30000
/* A shared slot older than any session may last is a lost daemon's. */
#define SHARED_SLOT_STALE_MS (15 * 60 * 1000)

/* A rollout's judgement kept between looks (policy/rollout.h). */
struct tracked {
	int64_t rollout_id;
	uint64_t version; /* made at this data version: the group's chips */
	int64_t made_ms;  /* monotonic, when it was made */
	struct rollout_tracker *tracker;
};

struct rollouts {
	struct active *list;
	size_t n;
	int known;
	uint64_t version; /* the inventory's data version list is of */
	struct slot *slots;
	size_t nslots;
	struct tracked *tracked;
	size_t ntracked;
};

struct rollouts *rollouts_new(void)
{
	return calloc(1, sizeof(struct rollouts));
}

static void drop_list(struct rollouts *ro)
{
	size_t i;

	for (i = 0; i < ro->n; i++)
		store_rollout_free(&ro->list[i].r);
	free(ro->list);
	ro->list = NULL;
	ro->n = 0;
	ro->known = 0;
}

void rollouts_free(struct rollouts *ro)
{
	if (ro == NULL)
		return;
	drop_list(ro);
	free(ro->slots);
	while (ro->ntracked > 0)
		rollout_tracker_free(ro->tracked[--ro->ntracked].tracker);
	free(ro->tracked);
	free(ro);
}

/* Reads the rollouts under way when the inventory moved on: 0, or -1. */
static int follow(struct daemon *d, uint64_t version)
{
	struct rollouts *ro = d->rollouts;
	struct store_rollout *rows = NULL;
	size_t n = 0, i;

	if (ro->known && ro->version == version)
		return 0;
	drop_list(ro);
	if (store_rollout_list_active(d->store, &rows, &n) != 0)
		return -1;
	if (n > 0 && (ro->list = calloc(n, sizeof(*ro->list))) == NULL) {
		store_rollout_list_free(rows, n);
		return -1;
	}
	for (i = 0; i < n; i++) {
		struct active *a = &ro->list[i];

		a->r = rows[i]; /* the strings move over */
		a->usable = rollout_waves_parse(a->r.waves, a->bounds,
						&a->nbounds) == 0;
		if (!a->usable)
			log_warnx("event=rollout-unusable rollout=%lld "
				  "error=\"malformed waves\"",
				  (long long)a->r.id);
	}
	free(rows);
	ro->n = n;
	ro->known = 1;
	ro->version = version;
	return 0;
}

void rollouts_pick(struct daemon *d, const struct store_chip *chip,
		   uint64_t version, struct rollout_pick *out)
{
	struct rollouts *ro = d->rollouts;
	size_t i;

	memset(out, 0, sizeof(*out));
	if (ro == NULL || follow(d, version) != 0)
		return;
	for (i = 0; i < ro->n; i++) {
		struct active *a = &ro->list[i];

		if (a->r.group_id != chip->group_id)
			continue;
		/* Unusable waves: nobody moves forward. */
		out->target =
		    a->usable && rollout_serves_target(&a->r, a->bounds,
						       a->nbounds, chip->id);
		strlcpy(out->revision,
			out->target ? a->r.to_revision : a->r.from_revision,
			sizeof(out->revision));
		out->rollout_id = a->r.id;
		out->max_inflight = a->r.max_inflight;
		out->nwaves = a->nbounds;
		out->wave = rollout_wave_of(
		    a->bounds, a->nbounds, rollout_position(a->r.id, chip->id));
		return;
	}
}

static struct slot *slot_of(struct rollouts *ro, int64_t rollout_id, int create)
{
	struct slot *bigger;
	size_t i;

	for (i = 0; i < ro->nslots; i++)
		if (ro->slots[i].rollout_id == rollout_id)
			return &ro->slots[i];
	if (!create)
		return NULL;
	bigger = realloc(ro->slots, (ro->nslots + 1) * sizeof(*ro->slots));
	if (bigger == NULL)
		return NULL;
	ro->slots = bigger;
	ro->slots[ro->nslots] = (struct slot){ rollout_id, 0 };
	return &ro->slots[ro->nslots++];
}

/*
 * On a shared PostgreSQL inventory the slots are rows, counted for all
 * daemons together: 0 (taken, or the database cannot say: admitted, as
 * without a rollout), or -1 when max-inflight are in flight.
 */
static int shared_slot(struct daemon *d, struct session *s,
		       const struct rollout_pick *pick)
{
	int64_t now = daemon_wall_ms(), row = 0;

	if (store_rollout_slot_take(d->store, pick->rollout_id,
				    pick->max_inflight, now,
				    now - SHARED_SLOT_STALE_MS, &row) != 0) {
		log_warnx("event=rollout-slot-failed rollout=%lld "
			  "error=\"%s\"",
			  (long long)pick->rollout_id, store_errmsg(d->store));
		return 0;
	}
	if (row == 0)
		return -1;
	s->rollout_slot = pick->rollout_id;
	s->rollout_slot_row = row;
	return 0;
}

int rollouts_take_slot(struct daemon *d, struct session *s,
		       const struct rollout_pick *pick)
{
	struct slot *slot;

	if (pick->rollout_id == 0 || s->rollout_slot != 0)
		return 0;
	if (pick->max_inflight > 0 && store_path_is_pg(d->conf.database))
		return shared_slot(d, s, pick);
	slot = slot_of(d->rollouts, pick->rollout_id, 1);
	/* Out of memory: admit, as without a rollout. */
	if (slot == NULL)
		return 0;
	if (pick->max_inflight > 0 && slot->inflight >= pick->max_inflight)
		return -1;
	slot->inflight++;
	s->rollout_slot = pick->rollout_id;
	return 0;
}

void rollouts_note(struct daemon *d, struct session *s,
		   const struct rollout_pick *pick)
{
	struct store_rollout *rows = NULL;
	size_t n = 0;

	s->rollout_note[0] = '\0';
	if (pick->rollout_id != 0) {
		if (pick->target)
			snprintf(s->rollout_note, sizeof(s->rollout_note),
				 "rollout %lld: wave %zu of %zu",
				 (long long)pick->rollout_id, pick->wave + 1,
				 pick->nwaves);
		return;
	}
	/* Only a chip holding what a stopped rollout gave it reverts. */
	if (s->chip.revision == NULL ||
	    store_rollout_list(d->store, s->chip.group_id, &rows, &n) != 0 ||
	    n == 0) {
		store_rollout_list_free(rows, n);
		return;
	}
	if ((rows[0].state == STORE_ROLLOUT_HALTED ||
	     rows[0].state == STORE_ROLLOUT_ABORTED) &&
	    strcmp(rows[0].to_revision, s->chip.revision) == 0)
		snprintf(s->rollout_note, sizeof(s->rollout_note),
			 "reverted: rollout %lld %s: %s", (long long)rows[0].id,
			 store_rollout_state_name(rows[0].state),
			 rows[0].reason != NULL ? rows[0].reason : "?");
	store_rollout_list_free(rows, n);
}

void rollouts_release_slot(struct daemon *d, struct session *s)
{
	struct slot *slot;

	if (s->rollout_slot == 0 || d->rollouts == NULL)
		return;
	if (s->rollout_slot_row != 0) {
		if (store_rollout_slot_release(d->store, s->rollout_slot_row) !=
		    0)
			log_warnx("event=rollout-slot-failed rollout=%lld "
				  "error=\"%s\"",
				  (long long)s->rollout_slot,
				  store_errmsg(d->store));
		s->rollout_slot = 0;
		s->rollout_slot_row = 0;
		return;
	}
	slot = slot_of(d->rollouts, s->rollout_slot, 0);
	if (slot != NULL && slot->inflight > 0)
		slot->inflight--;
	s->rollout_slot = 0;
}

/*
 * The tracker of rollout r, made afresh when the inventory changed since
 * (chips may have come or gone); NULL when it cannot be made.
 */
static struct rollout_tracker *
tracker_of(struct daemon *d, const struct store_rollout *r, uint64_t version)
{
	struct rollouts *ro = d->rollouts;
	struct tracked *t = NULL, *bigger;
	size_t i;

	for (i = 0; i < ro->ntracked; i++)
		if (ro->tracked[i].rollout_id == r->id)
			t = &ro->tracked[i];
	if (t != NULL && t->version == version && t->tracker != NULL &&
	    (!store_path_is_pg(d->conf.database) ||
	     daemon_now_ms() - t->made_ms < SHARED_TRACKER_REBUILD_MS))
		return t->tracker;
	if (t == NULL) {
		bigger = realloc(ro->tracked,
				 (ro->ntracked + 1) * sizeof(*ro->tracked));
		if (bigger == NULL)
			return NULL;
		ro->tracked = bigger;
		t = &ro->tracked[ro->ntracked++];
		t->tracker = NULL;
	}
	rollout_tracker_free(t->tracker);
	t->rollout_id = r->id;
	t->version = version;
	t->made_ms = daemon_now_ms();
	t->tracker = rollout_tracker_new(d->store, r);
	return t->tracker;
}

/* Forgets the trackers of rollouts no longer under way. */
static void trackers_prune(struct rollouts *ro,
			   const struct store_rollout *rows, size_t n)
{
	size_t i, j, kept = 0;

	for (i = 0; i < ro->ntracked; i++) {
		for (j = 0; j < n; j++)
			if (rows[j].id == ro->tracked[i].rollout_id)
				break;
		if (j < n)
			ro->tracked[kept++] = ro->tracked[i];
		else
			rollout_tracker_free(ro->tracked[i].tracker);
	}
	ro->ntracked = kept;
}

/* Acts on one rollout's verdict; 1 when it moved. */
static int review_one(struct daemon *d, const struct store_rollout *r,
		      uint64_t version, int64_t now)
{
	struct rollout_tracker *tracker = tracker_of(d, r, version);
	const struct rollout_report *rep;
	enum store_rollout_state to = r->state;
	int wave = r->wave, rc;
	const char *reason = NULL, *event;

	if (tracker == NULL ||
	    rollout_tracker_update(tracker, d->store, r, now, &rep) != 0) {
		log_warnx("event=rollout-review-failed rollout=%lld "
			  "error=\"%s\"",
			  (long long)r->id, store_errmsg(d->store));
		/* Made afresh at the next look. */
		if (tracker != NULL)
			trackers_prune(d->rollouts, NULL, 0);
		return 0;
	}
	switch (rep->verdict) {
	case ROLLOUT_HOLD:
		return 0;
	case ROLLOUT_ADVANCE:
		wave++;
		event = "rollout-advanced";
		break;
	case ROLLOUT_COMPLETE:
		to = STORE_ROLLOUT_DONE;
		event = "rollout-done";
		break;
	case ROLLOUT_HALT:
	default:
		to = STORE_ROLLOUT_HALTED;
		reason = rep->reason;
		event = "rollout-halted";
		break;
	}
	rc = store_rollout_move(d->store, r->id, r->state, r->wave, to, wave,
				reason, now);
	if (rc == 0 && to == STORE_ROLLOUT_HALTED)
		log_warnx("event=%s rollout=%lld group=%s wave=%d "
			  "revision=%s reason=\"%s\"",
			  event, (long long)r->id, r->group_name, r->wave + 1,
			  r->from_revision, reason);
	else if (rc == 0)
		log_info("event=%s rollout=%lld group=%s wave=%d of %zu "
			 "revision=%s",
			 event, (long long)r->id, r->group_name, wave + 1,
			 rep->nwaves, r->to_revision);
	else if (rc != STORE_NOTFOUND)
		log_warnx("event=rollout-move-failed rollout=%lld error=\"%s\"",
			  (long long)r->id, store_errmsg(d->store));
	/* NOTFOUND: another process moved it first; reread either way. */
	return 1;
}

void rollouts_review(struct daemon *d)
{
	struct rollouts *ro = d->rollouts;
	struct store_rollout *rows = NULL;
	uint64_t version;
	size_t n = 0, i;
	int moved = 0;

	if (ro == NULL || store_data_version(d->store, &version) != 0 ||
	    follow(d, version) != 0 || ro->n == 0)
		return;
	/* A copy: moving one rereads the list. */
	if (store_rollout_list_active(d->store, &rows, &n) != 0)
		return;
	for (i = 0; i < n; i++)
		moved |= review_one(d, &rows[i], version, daemon_wall_ms());
	trackers_prune(ro, rows, n);
	store_rollout_list_free(rows, n);
	if (moved)
		rollouts_own_write(d);
}

void rollouts_own_write(struct daemon *d)
{
	/* Our own writes leave the data version as it was. */
	drop_list(d->rollouts);
	decisions_clear(d->decisions);
}
