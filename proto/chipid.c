/* Chip id normalisation: see chipid.h. */
#include "chipid.h"

#include <string.h>

int luaota_chipid_normalize(enum luaota_json_kind kind, const char *text,
			    size_t len, char out[LUAOTA_CHIPID_MAX + 1])
{
	size_t i;

	out[0] = '\0';
	if (len == 0 || len > LUAOTA_CHIPID_MAX)
		return -1;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];

		if (kind == LUAOTA_JSON_NUMBER ? (c < '0' || c > '9')
					       : (c <= ' ' || c >= 0x7f))
			return -1;
	}
	/* JSON forbids leading zeros, so "007" is no number id. */
	if (kind == LUAOTA_JSON_NUMBER && len > 1 && text[0] == '0')
		return -1;
	memcpy(out, text, len);
	out[len] = '\0';
	return 0;
}
