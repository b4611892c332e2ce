/*
 * Staged rollouts in the daemon: which revision a chip of a group under
 * rollout is served (its wave's), the boot-storm admission limit
 * (max-inflight update sessions per rollout), and a once-a-second look
 * at every running rollout that advances, completes or halts it from
 * the history (policy/rollout.h judges; this file acts).
 *
 * The rollouts under way are cached by the inventory's data version, as
 * decisions are; the state lives in the database, so a restarted daemon
 * (or another one on the same inventory) carries on where it stood.
 */
#ifndef LUAOTAD_ROLLOUTS_H
#define LUAOTAD_ROLLOUTS_H

#include <stddef.h>
#include <stdint.h>

#include "plan/types.h"

struct daemon;
struct session;
struct store_chip;
struct rollouts;

/* What a chip is served while its group is under rollout. */
struct rollout_pick {
	int64_t rollout_id; /* 0: no rollout: the group's own decision */
	int target;	    /* in a served wave: the new revision */
	char revision[PLAN_REVISION_MAX];
	int64_t max_inflight; /* 0: no limit */
	size_t wave, nwaves;  /* the chip's wave (0-based), of how many */
};

/* An empty cache, or NULL (ENOMEM). */
struct rollouts *rollouts_new(void);
void rollouts_free(struct rollouts *ro);

/*
 * What chip is served with the inventory at version: out->rollout_id 0
 * when its group has no rollout under way (or it could not be read: the
 * group's release is then served, which never moves a chip forward).
 */
void rollouts_pick(struct daemon *d, const struct store_chip *chip,
		   uint64_t version, struct rollout_pick *out);

/*
 * Takes one of the rollout's update slots for s: 0, or -1 when
 * max-inflight sessions of it are updating already (the chip is then
 * answered "current" and takes the update at a later boot).
 */
int rollouts_take_slot(struct daemon *d, struct session *s,
		       const struct rollout_pick *pick);

/*
 * Notes in s->rollout_note why s updates, for its history row: the
 * rollout and wave, or the halted or aborted rollout it reverts.
 */
void rollouts_note(struct daemon *d, struct session *s,
		   const struct rollout_pick *pick);

/* Gives back s's slot, if it holds one (at session teardown). */
void rollouts_release_slot(struct daemon *d, struct session *s);

/* Looks at every rollout under way now (main.c's timer, once a second). */
void rollouts_review(struct daemon *d);

/*
 * The daemon changed the inventory on its own connection (a review, the
 * HTTP API): the data version does not show that, so what was read of
 * rollouts and groups is read afresh.
 */
void rollouts_own_write(struct daemon *d);

#endif /* LUAOTAD_ROLLOUTS_H */
