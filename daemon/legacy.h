/*
 * The legacy luaOTA protocol (NodeMCU's own client): the HI check-in, the
 * OK! fast path, and lock-step provisioning ending in restart.  Protocol
 * v2 is a module beside this one (v2.c), behind the same table.
 */
#ifndef LUAOTAD_LEGACY_H
#define LUAOTAD_LEGACY_H

#include "session.h"

/*
 * The legacy protocol: it claims every first line no other protocol
 * claims.  hello handles the HI, record the reply to the command in
 * flight.
 */
extern const struct session_protocol legacy_protocol;

#endif /* LUAOTAD_LEGACY_H */
