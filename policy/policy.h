/*
 * The provisioning policy: one answer for luaotad, luaotactl and the
 * HTTP API to "what is a chip of this group to hold?".  A group's rows
 * and the settings of luaotad.conf become the specification plan/
 * resolves into a manifest; the group's and chip's config overrides and
 * that manifest become the target (chk) the chip is provisioned to.
 */
#ifndef LUAOTA_POLICY_H
#define LUAOTA_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "db/store.h"
#include "plan/plan.h"

struct config;
struct json_object;

/* The settings of luaotad.conf that change what a chip is sent. */
struct policy_settings {
	int64_t max_file_size;	   /* legacy, for groups that set none */
	int64_t session_max_bytes; /* legacy payload per session; 0: none */
};

/* The built-in settings (no luaotad.conf). */
void policy_settings_default(struct policy_settings *out);

/* The settings of a loaded luaotad.conf. */
void policy_settings_from_config(struct policy_settings *out,
				 const struct config *c);

/* The Lua version a group's sources are compiled for (51 or 53). */
int policy_lua_version(const struct store_group *g);

/* A group's manifest specification; spec points into the rows and wants. */
struct policy_group {
	struct plan_spec spec;
	struct plan_want *wants;
	char pinned[PLAN_REVISION_MAX]; /* the revision served; "" if none */
	struct plan_snapshot snapshot;	/* a pinned directory's files */
};

/*
 * Builds the specification of group g (of repository r) for chips of
 * protocol v2 (v2 != 0: files go to flash, the legacy size policy is not
 * theirs) or legacy.  Valid while g and r are; free with
 * policy_group_free.  0, or -1 (ENOMEM).
 */
int policy_group_spec(const struct store_group *g, const struct store_repo *r,
		      const struct policy_settings *settings, int v2,
		      struct policy_group *out);

/*
 * Pins pg (of group g, repository r) to revision, or with revision NULL
 * to the group's release when it has one: a git repository is read at
 * that commit, a directory from the snapshot st keeps of it.  0, or -1
 * with why (the snapshot is missing or unreadable; errno ENOMEM, or EIO
 * when st could not be read).
 */
int policy_group_pin(struct policy_group *pg, struct store *st,
		     const struct store_group *g, const struct store_repo *r,
		     const char *revision, char *why, size_t why_len);

/* Frees what policy_group_spec made (a zeroed one is fine). */
void policy_group_free(struct policy_group *pg);

/*
 * The target of a chip: the group's overrides with the chip's over them
 * (chip_config NULL: the group's alone) into *merged (malloc'ed, NULL
 * when none), and the chk a device holding m with them reports.  0, or
 * -1 with errno: EINVAL (an override is not a JSON object), ENOMEM.
 */
int policy_target(const struct plan_manifest *m, const char *group_config,
		  const char *chip_config, char **merged,
		  char chk[PLAN_CHK_LEN + 1]);

/* Why policy_target failed, for a history row or a message. */
const char *policy_target_strerror(int err);

/*
 * Whether the config overrides json (a JSON object's text; NULL or ""
 * is none) can be pushed to a chip without stranding it: every key the
 * client reads has a value it can boot with (server: a host name or IPv4
 * address; port: an integer 1-65535; ssid, spwd: WiFi-sized strings;
 * leave: a boolean; app, entry: names; espip, gw, nm, nsserver: IPv4
 * addresses), and no key is the device's own (secret, a, id) or the
 * server's bookkeeping (files, chk).  Other keys pass through.  NULL, or
 * why not (written into why).
 */
const char *policy_config_problem(const char *json, char *why, size_t why_len);

/*
 * The fewest bytes a chip's luaOTA/config.json takes after a restart
 * carrying only what the server controls: the merged overrides (NULL:
 * none), chk and the chip's secret; its own fields (ssid, ...) come on
 * top.  When this exceeds LUAOTA_CONFIG_MAX the chip cannot be
 * provisioned at all.  0 for a malformed overrides text.
 */
size_t policy_config_floor(const char *merged, const char *secret);

/*
 * Why a chip's config cannot be pushed, or NULL: the group's overrides
 * with the chip's own over them (either NULL) are not ones it can boot
 * with (policy_config_problem), or their floor with the chip's secret
 * (policy_config_floor, into *floor when not NULL) exceeds
 * LUAOTA_CONFIG_MAX.  The text is written into why.
 */
const char *policy_chip_config_problem(const char *group_config,
				       const char *chip_config,
				       const char *secret, size_t *floor,
				       char *why, size_t why_len);

/* The same for overrides already merged (policy_target's *merged). */
const char *policy_merged_config_problem(const char *merged, const char *secret,
					 size_t *floor, char *why,
					 size_t why_len);

/*
 * Bytes the device stores for the restart config cfg (a JSON object):
 * cfg minus "a", plus the secret it adds back.  (size_t)-1 when out of
 * memory.
 */
size_t policy_stored_config_size(const struct json_object *cfg,
				 const char *secret);

#endif /* LUAOTA_POLICY_H */
