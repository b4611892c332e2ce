/* luaotactl inventory-wide commands: import, export, check, backup, status. */
#ifndef LUAOTA_CMD_ADMIN_H
#define LUAOTA_CMD_ADMIN_H

#include "ctl.h"

/* import DIR: chips and groups from an example-server directory. */
extern const struct ctl_cmd cmd_import_entry;

/* export [--with-secrets]: the inventory as JSON. */
extern const struct ctl_cmd cmd_export_entry;

/* check [--json]: database, repositories, manifests; exit 1 on a problem. */
extern const struct ctl_cmd cmd_check_entry;

/* backup FILE: a consistent copy of the database, while the daemon runs. */
extern const struct ctl_cmd cmd_backup_entry;

/* status [--since TIME] [--json]: recent activity, from the database. */
extern const struct ctl_cmd cmd_status_entry;

#endif /* LUAOTA_CMD_ADMIN_H */
