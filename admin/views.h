/*
 * JSON views of the inventory, shared by luaotactl --json and luaotad's
 * HTTP API (admin/views.c).  Each returns a new object (NULL when out of
 * memory or, for those that read the store, when it failed).
 */
#ifndef LUAOTA_ADMIN_VIEWS_H
#define LUAOTA_ADMIN_VIEWS_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "db/store.h"
#include "policy/rollout.h"

/* A JSON string, or null for NULL. */
struct json_object *admin_json_text(const char *text);

/* ISO 8601 of a Unix time, or null for 0 (never). */
struct json_object *admin_json_time(int64_t seconds);

/* One chip; the secret and the v2 key are left out. */
struct json_object *admin_chip_json(const struct store_chip *c);

/* Whether a last outcome counts as failing (failed, rejected,
 * interrupted). */
int admin_outcome_failing(const char *outcome);

/* Which chips a chip list shows (luaotactl list, GET /api/v1/chips). */
struct admin_chip_filter {
	const char *group; /* NULL: every group */
	/* Only chips never seen or last seen before seen_before: last_seen
	 * moves only on a verified check-in, so these are the silent ones. */
	int silent;
	int64_t seen_before;
	int failing; /* last outcome failed, rejected, interrupted */
};

/* Whether chip c passes filter f. */
int admin_chip_wanted(const struct admin_chip_filter *f,
		      const struct store_chip *c);

/* "dl", "cm" or "auto". */
const char *admin_action_name(enum store_action a);

/* One group with its repository (may be NULL) and chip count. */
struct json_object *admin_group_json(const struct store_group *g,
				     const struct store_repo *repo,
				     int64_t chips);

/* One history row with its files (read from st). */
struct json_object *admin_session_json(struct store *st,
				       const struct store_session *s);

/* The operator's label of wave i of r ("10%", "5"), in buf. */
const char *admin_wave_label(const struct store_rollout *r, size_t i, char *buf,
			     size_t len);

/* One rollout; with rep, its waves' health, and with chips, each chip. */
struct json_object *admin_rollout_json(const struct store_rollout *r,
				       const struct rollout_report *rep,
				       int chips);

#endif /* LUAOTA_ADMIN_VIEWS_H */
