/*
 * Protocol version 2 (docs/protocol.md part 2): the verified HELLO, the
 * signed "current" or manifest, windowed chunk serving and the commit.
 * The session layer frames records; this module checks and answers them.
 */
#ifndef LUAOTAD_V2_H
#define LUAOTAD_V2_H

#include "session.h"

/*
 * Protocol v2: it claims a first line ending in '}' and a 32-hex tag (a
 * legacy line ends in 6 hex), frames records with tags and no device
 * payload, and lets up to win + 1 answers wait unread.
 */
extern const struct session_protocol v2_protocol;

#endif /* LUAOTAD_V2_H */
