/* luaotactl group commands. */
#ifndef LUAOTA_CMD_GROUP_H
#define LUAOTA_CMD_GROUP_H

#include "ctl.h"

/* group add NAME --repo DIR --files LIST ...: defines a group. */
extern const struct ctl_cmd cmd_group_add_entry;

/* group set NAME [options]: changes what is given of a group. */
extern const struct ctl_cmd cmd_group_set_entry;

/* group list [--json]: every group. */
extern const struct ctl_cmd cmd_group_list_entry;

/* group show NAME [--json]: one group in full. */
extern const struct ctl_cmd cmd_group_show_entry;

/* group remove NAME: removes a group without chips. */
extern const struct ctl_cmd cmd_group_remove_entry;

#endif /* LUAOTA_CMD_GROUP_H */
