/* luaotactl history. */
#ifndef LUAOTA_CMD_HISTORY_H
#define LUAOTA_CMD_HISTORY_H

#include "ctl.h"

/* history [CHIPID] [--since T] [--failed] [--json]: newest first. */
extern const struct ctl_cmd cmd_history_entry;

/* history show SESSION [--json]: one session with its per-file rows. */
extern const struct ctl_cmd cmd_history_show_entry;

#endif /* LUAOTA_CMD_HISTORY_H */
