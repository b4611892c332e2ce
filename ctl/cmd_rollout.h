/* luaotactl group pin|unpin and rollout ...: staged rollouts. */
#ifndef LUAOTA_CMD_ROLLOUT_H
#define LUAOTA_CMD_ROLLOUT_H

#include "ctl.h"

/* group pin NAME [REVISION]: serve one revision until a rollout moves it. */
extern const struct ctl_cmd cmd_group_pin_entry;

/* group unpin NAME: follow the repository again. */
extern const struct ctl_cmd cmd_group_unpin_entry;

/* rollout start GROUP [--to REV] [--canary ...] ...: a staged rollout. */
extern const struct ctl_cmd cmd_rollout_start_entry;

/* rollout status GROUP|ID [--chips] [--json]: waves and their health. */
extern const struct ctl_cmd cmd_rollout_status_entry;

/* rollout pause|resume|abort GROUP|ID [--json]. */
extern const struct ctl_cmd cmd_rollout_pause_entry;
extern const struct ctl_cmd cmd_rollout_resume_entry;
extern const struct ctl_cmd cmd_rollout_abort_entry;

/* rollout list [GROUP] [--json]: rollouts, newest first. */
extern const struct ctl_cmd cmd_rollout_list_entry;

#endif /* LUAOTA_CMD_ROLLOUT_H */
