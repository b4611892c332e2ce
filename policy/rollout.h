/*
 * Staged rollouts: which wave a chip is in, which revision it is served,
 * and how healthy each wave is, judged from the history the way luaotad
 * sees its chips.  luaotad acts on the verdict; luaotactl and the HTTP
 * API show the same report, computed by the same code.
 *
 * A chip's position is a 32-bit hash of the rollout id and chip id; wave
 * k holds the chips whose position is below bound k and not below bound
 * k-1.  The bounds are fixed when the rollout starts, from the chips the
 * group has then (so "--canary 20" is exactly 20 chips); a chip added
 * later falls into a wave by its position.
 */
#ifndef LUAOTA_POLICY_ROLLOUT_H
#define LUAOTA_POLICY_ROLLOUT_H

#include <stddef.h>
#include <stdint.h>

#include "db/store.h"

#define ROLLOUT_WAVES_MAX 16
#define ROLLOUT_POSITION_END ((int64_t)1 << 32) /* the bound of "100%" */

/* Defaults of luaotactl rollout start. */
#define ROLLOUT_DEFAULT_STEPS "10%,50%,100%"
#define ROLLOUT_DEFAULT_MAX_FAILURES "10%"
#define ROLLOUT_DEFAULT_SOAK 600	/* seconds */
#define ROLLOUT_DEFAULT_DEADLINE 900	/* seconds */
#define ROLLOUT_DEFAULT_LOOP_CHECKINS 3 /* check-ins ... */
#define ROLLOUT_DEFAULT_LOOP_WINDOW 300 /* ...within seconds */

/* A count ("20") or a share ("10%") of the group's chips. */
struct rollout_amount {
	int64_t value;
	int pct; /* value is a percentage, 0..100 */
};

/* Parses "N" or "PCT%" into out: 0, or -1 (not one). */
int rollout_amount_parse(const char *text, struct rollout_amount *out);

/* How many of n chips an amount names (a share rounds up). */
size_t rollout_amount_of(const struct rollout_amount *a, size_t n);

/*
 * The waves asked for: the canary (optional) and then the steps, a
 * comma-separated list of amounts that must grow and end at all chips
 * ("100%", or a count no smaller than the group).  0, or -1 with why.
 */
struct rollout_waves_spec {
	struct rollout_amount waves[ROLLOUT_WAVES_MAX];
	size_t nwaves;
};
int rollout_waves_spec_parse(const char *canary, const char *steps,
			     struct rollout_waves_spec *out, char *why,
			     size_t why_len);

/* The position of chip_id in rollout id. */
uint32_t rollout_position(int64_t rollout_id, const char *chip_id);

/*
 * The bounds of spec's waves for rollout id over the group's chips
 * ids[0..n), as the text kept in rollouts.waves (malloc'ed) in *waves.
 * 0, or -1 (ENOMEM).
 */
int rollout_waves_plan(int64_t rollout_id, char *const *ids, size_t n,
		       const struct rollout_waves_spec *spec, char **waves);

/* Parses rollouts.waves: 0 with bounds[0..*n), or -1 (malformed). */
int rollout_waves_parse(const char *text, int64_t bounds[ROLLOUT_WAVES_MAX],
			size_t *n);

/* The wave of a chip at position pos (nbounds when in none). */
size_t rollout_wave_of(const int64_t *bounds, size_t nbounds, uint32_t pos);

/*
 * The revision the rollout under way of chip's group serves it into out
 * (PLAN_REVISION_MAX bytes): 1; 0 when the group has none (its release,
 * or else its repository, is served); -1 when st could not be read.
 */
int rollout_chip_revision(struct store *st, const struct store_chip *chip,
			  char *out, size_t out_len);

/* Whether rollout r serves chip_id its target (else its previous). */
int rollout_serves_target(const struct store_rollout *r, const int64_t *bounds,
			  size_t nbounds, const char *chip_id);

enum rollout_chip_state {
	ROLLOUT_CHIP_WAITING = 0, /* has not taken the target yet */
	ROLLOUT_CHIP_SOAKING,	  /* took it: not proven yet */
	ROLLOUT_CHIP_HEALTHY,	  /* came back and stayed up for the soak */
	ROLLOUT_CHIP_FAILED,	  /* see reason */
};

struct rollout_chip {
	char *id;
	size_t wave;
	enum rollout_chip_state state;
	int64_t updated_ms; /* when it took the target; 0: not yet */
	/* When the session that gave it the target began: a device that
	 * reboots at once checks in before that session is closed. */
	int64_t update_began_ms;
	int64_t checkins; /* check-ins since, within the loop window */
	int came_back;
	char reason[160];
};

struct rollout_wave_report {
	size_t members, waiting, soaking, healthy, failed;
};

enum rollout_verdict {
	ROLLOUT_HOLD = 0, /* nothing to do now */
	ROLLOUT_ADVANCE,  /* the served wave is healthy: serve the next */
	ROLLOUT_COMPLETE, /* the last wave is healthy: done */
	ROLLOUT_HALT,	  /* over the failure threshold: revert */
};

struct rollout_report {
	size_t nwaves;
	struct rollout_wave_report waves[ROLLOUT_WAVES_MAX];
	struct rollout_chip *chips; /* the group's chips, by id */
	size_t nchips;
	size_t served;	       /* chips of the waves served so far */
	size_t failed;	       /* of those, failed */
	int64_t failure_limit; /* more failures than this halt */
	enum rollout_verdict verdict;
	char reason[256]; /* for HALT: why, naming a failed chip */
};

/* Names of the states and verdicts, as printed. */
const char *rollout_chip_state_name(enum rollout_chip_state s);

/*
 * Judges rollout r at now_ms (Unix ms) from the group's chips ids[0..n)
 * (ordered by strcmp) and their sessions since the rollout started,
 * oldest first.  0, or -1 (ENOMEM, or r->waves malformed: EINVAL).
 */
int rollout_evaluate(const struct store_rollout *r, char *const *ids, size_t n,
		     const struct store_session *sessions, size_t nsessions,
		     int64_t now_ms, struct rollout_report *out);

/* The same, reading the chips and sessions from st. */
int rollout_assess(struct store *st, const struct store_rollout *r,
		   int64_t now_ms, struct rollout_report *out);

void rollout_report_free(struct rollout_report *rep);

/*
 * rollout_assess, kept up to date: the first look reads every session
 * since the rollout began, each later one those written since (a chip
 * they could change is judged again from its own).  For one rollout, at
 * its waves; made anew when the group's chips change.
 */
struct rollout_tracker;
struct rollout_tracker *rollout_tracker_new(struct store *st,
					    const struct store_rollout *r);

/* The report at now_ms (owned by t, valid until the next call): 0, or a
 * store error. */
int rollout_tracker_update(struct rollout_tracker *t, struct store *st,
			   const struct store_rollout *r, int64_t now_ms,
			   const struct rollout_report **out);

void rollout_tracker_free(struct rollout_tracker *t);

#endif /* LUAOTA_POLICY_ROLLOUT_H */
