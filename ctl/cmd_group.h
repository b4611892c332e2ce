/* luaotactl group commands. */
#ifndef LUAOTA_CMD_GROUP_H
#define LUAOTA_CMD_GROUP_H

#include "ctl.h"

/* group add NAME --repo DIR --files LIST ...: defines a group. */
extern const struct ctl_cmd cmd_group_add_entry;

#endif /* LUAOTA_CMD_GROUP_H */
