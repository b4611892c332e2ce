/* luaotactl pull and pulls: reading files back from chips. */
#ifndef LUAOTA_CMD_PULL_H
#define LUAOTA_CMD_PULL_H

#include "ctl.h"

/* pull CHIPID FILE: queues FILE to be read at the chip's next check-in. */
extern const struct ctl_cmd cmd_pull_entry;

/* pulls [CHIPID] [--json]: queued and finished pulls. */
extern const struct ctl_cmd cmd_pulls_entry;

/* pulls show ID [--output PATH]: one pull, its bytes to PATH or stdout. */
extern const struct ctl_cmd cmd_pulls_show_entry;

#endif /* LUAOTA_CMD_PULL_H */
