/* luaotactl chip commands. */
#ifndef LUAOTA_CMD_CHIP_H
#define LUAOTA_CMD_CHIP_H

#include "ctl.h"

/* add CHIPID --group NAME [--secret S] [--label L]: registers a chip. */
extern const struct ctl_cmd cmd_add_entry;

/* list [--json]: every chip with its group and last check-in. */
extern const struct ctl_cmd cmd_list_entry;

#endif /* LUAOTA_CMD_CHIP_H */
