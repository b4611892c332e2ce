/* luaotactl repository commands. */
#ifndef LUAOTA_CMD_REPO_H
#define LUAOTA_CMD_REPO_H

#include "ctl.h"
#include "plan/plan.h"

/* repo add NAME PATH [--ref REF]: a repository to serve files from. */
extern const struct ctl_cmd cmd_repo_add_entry;

/* repo list [--json]: every repository. */
extern const struct ctl_cmd cmd_repo_list_entry;

/* repo show NAME [--json]: a repository, its revision and its groups. */
extern const struct ctl_cmd cmd_repo_show_entry;

#endif /* LUAOTA_CMD_REPO_H */
