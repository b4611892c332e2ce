/* luaotactl chip commands. */
#ifndef LUAOTA_CMD_CHIP_H
#define LUAOTA_CMD_CHIP_H

#include "ctl.h"

/* add CHIPID --group NAME [--secret S] [--label L]: registers a chip. */
extern const struct ctl_cmd cmd_add_entry;

/* list [--json]: every chip with its group and last check-in. */
extern const struct ctl_cmd cmd_list_entry;

/* remove CHIPID: unregisters a chip. */
extern const struct ctl_cmd cmd_remove_entry;

/* show CHIPID [--json]: one chip in full, with its pending changes. */
extern const struct ctl_cmd cmd_show_entry;

/* set CHIPID KEY=VALUE...: label, group, enabled, config overrides. */
extern const struct ctl_cmd cmd_set_entry;

#endif /* LUAOTA_CMD_CHIP_H */
