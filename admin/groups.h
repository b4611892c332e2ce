/*
 * Defining and changing groups, shared by luaotactl group add|set and
 * the HTTP API: the same name and file checks, config checks, repository
 * lookup, and the rule that a pinned group changes only by a rollout.
 */
#ifndef LUAOTA_ADMIN_GROUPS_H
#define LUAOTA_ADMIN_GROUPS_H

#include <stddef.h>
#include <stdint.h>

#include "admin.h"
#include "db/store.h"
#include "plan/plan.h"

#define ADMIN_GROUP_NAME_MAX 64
#define ADMIN_GROUP_FILES_MAX 256

/* A group as the operator states it; NULL fields are not given. */
struct admin_group_request {
	const char *name;
	const char *repo;  /* a directory, or a registered repository name */
	const char *ref;   /* with repo: a git branch, tag or commit */
	const char *files; /* comma separated device file names */
	const char *const *actions; /* "FILE=dl|cm|auto" each */
	size_t nactions;
	const char *config; /* a JSON object of overrides; "" clears (set) */
	const char *max_file_size;
	const char *lua; /* "5.1" or "5.3" */
};

/* Whether name is a usable group name: 1-64 of A-Z a-z 0-9 . _ - */
int admin_group_name_valid(const char *name);

/* Adds the group req states (repo and files are required). */
int admin_group_add(struct store *st, const struct admin_group_request *req,
		    struct admin_result *res);

/* Changes what req gives of group req->name; the rest stays. */
int admin_group_set(struct store *st, const struct admin_group_request *req,
		    struct admin_result *res);

/*
 * The revision a repository directory serves at ref (NULL: its working
 * tree) into rev; 0, or -1 with why in err.
 */
int admin_repo_revision(struct plan_cache *cache, const char *path,
			const char *ref, char *rev, size_t rev_len, char *err,
			size_t err_len);

/*
 * Refuses a config that would not fit a chip's luaOTA/config.json: for
 * chip (with its own overrides) when not NULL, else for every chip of
 * group_id; each with group_config (the group's overrides as they will
 * be).  0, or -1 with res naming the chip (ADMIN_REFUSED).
 */
int admin_check_config_size(struct store *st, int64_t group_id,
			    const char *group_config,
			    const struct store_chip *chip,
			    struct admin_result *res);

#endif /* LUAOTA_ADMIN_GROUPS_H */
