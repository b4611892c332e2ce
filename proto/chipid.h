/*
 * Chip ids: an ESP8266 sends node.chipid() as a JSON number, other
 * firmware a string.  Both become one canonical string, once, at the edge.
 */
#ifndef LUAOTA_CHIPID_H
#define LUAOTA_CHIPID_H

#include <stddef.h>

#include "protocol.h"

enum luaota_json_kind {
	LUAOTA_JSON_NUMBER, /* text is the number exactly as in the JSON */
	LUAOTA_JSON_STRING  /* text is the decoded string, without quotes */
};

/*
 * Normalises an "id" value into out (NUL-terminated).  A number must be a
 * non-negative integer written in plain decimal; a string must be 1 to
 * LUAOTA_CHIPID_MAX printable ASCII characters without spaces.  Returns 0,
 * or -1 (out is then the empty string).
 */
int luaota_chipid_normalize(enum luaota_json_kind kind, const char *text,
			    size_t len, char out[LUAOTA_CHIPID_MAX + 1]);

#endif /* LUAOTA_CHIPID_H */
