/* The provisioning policy: see policy.h. */
#include "policy.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "conf/config.h"
#include "proto/protocol.h"

void policy_settings_default(struct policy_settings *out)
{
	out->max_file_size = PLAN_DEFAULT_MAX_FILE_SIZE;
	out->session_max_bytes = PLAN_DEFAULT_SESSION_MAX_BYTES;
}

void policy_settings_from_config(struct policy_settings *out,
				 const struct config *c)
{
	out->max_file_size = c->max_file_size;
	out->session_max_bytes = c->session_max_bytes;
}

int policy_lua_version(const struct store_group *g)
{
	return g->lua_version == LUAOTA_LUA_53 ? LUAOTA_LUA_53 : LUAOTA_LUA_51;
}

static enum plan_action plan_action_of(enum store_action a)
{
	return a == STORE_ACTION_CM   ? PLAN_CM
	       : a == STORE_ACTION_DL ? PLAN_DL
				      : PLAN_AUTO;
}

int policy_group_spec(const struct store_group *g, const struct store_repo *r,
		      const struct policy_settings *settings, int v2,
		      struct policy_group *out)
{
	size_t i;

	memset(out, 0, sizeof(*out));
	out->wants = calloc(g->nfiles + 1, sizeof(*out->wants));
	if (out->wants == NULL)
		return -1;
	for (i = 0; i < g->nfiles; i++) {
		out->wants[i].name = g->files[i].name;
		out->wants[i].action = plan_action_of(g->files[i].action);
	}
	out->spec = (struct plan_spec){
		.repo_path = r->path,
		.repo_ref = r->ref,
		.files = out->wants,
		.nfiles = g->nfiles,
		.lua_version = policy_lua_version(g),
		.max_file_size = g->max_file_size > 0 ? g->max_file_size
						      : settings->max_file_size,
	};
	/* The legacy size policy is for devices that hold a file in RAM;
	 * v2 streams files to flash. */
	if (v2)
		out->spec.max_file_size = (int64_t)LUAOTA_V2_FILE_MAX;
	return 0;
}

void policy_group_free(struct policy_group *pg)
{
	free(pg->wants);
	memset(pg, 0, sizeof(*pg));
}

int policy_target(const struct plan_manifest *m, const char *group_config,
		  const char *chip_config, char **merged,
		  char chk[PLAN_CHK_LEN + 1])
{
	chk[0] = '\0';
	if (plan_overrides_merge(group_config, chip_config, merged) != 0)
		return -1;
	if (m->error == NULL)
		plan_chk(m, *merged, chk);
	return 0;
}

const char *policy_target_strerror(int err)
{
	return err == ENOMEM ? "out of memory"
			     : "config overrides are not a JSON object";
}
