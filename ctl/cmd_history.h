/* luaotactl history. */
#ifndef LUAOTA_CMD_HISTORY_H
#define LUAOTA_CMD_HISTORY_H

#include "ctl.h"

/* history [CHIPID] [--json] [--limit N]: sessions, newest first. */
extern const struct ctl_cmd cmd_history_entry;

#endif /* LUAOTA_CMD_HISTORY_H */
