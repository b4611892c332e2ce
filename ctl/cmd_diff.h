/* luaotactl diff and reprovision. */
#ifndef LUAOTA_CMD_DIFF_H
#define LUAOTA_CMD_DIFF_H

#include "ctl.h"

/* diff CHIPID|--group G [--json]: what the next boot would do. */
extern const struct ctl_cmd cmd_diff_entry;

/* reprovision CHIPID|--group G: the next boot resends everything. */
extern const struct ctl_cmd cmd_reprovision_entry;

#endif /* LUAOTA_CMD_DIFF_H */
