/* luaotactl token add|list|remove: bearer tokens for luaotad's HTTP API. */
#ifndef LUAOTA_CMD_TOKEN_H
#define LUAOTA_CMD_TOKEN_H

#include "ctl.h"

/* token add NAME [--read-only] [--json]: prints the new token once. */
extern const struct ctl_cmd cmd_token_add_entry;

/* token list [--json]: names, scopes, creation and last use. */
extern const struct ctl_cmd cmd_token_list_entry;

/* token remove NAME: the token stops working at once. */
extern const struct ctl_cmd cmd_token_remove_entry;

#endif /* LUAOTA_CMD_TOKEN_H */
