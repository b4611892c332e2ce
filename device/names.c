/* Checking file names a server sends: see luaota.h. */
#include "luaota.h"

#include <string.h>

int luaota_name_check(const char *name, size_t len)
{
	size_t i, start = 0;
	size_t prefix = sizeof(LUAOTA_STAGE_PREFIX) - 1;

	if (name == NULL || len == 0 || len > LUAOTA_NAME_MAX || name[0] == '/')
		return -1;
	/* Staging files are the device's own: a server may not touch them. */
	if (len >= prefix && memcmp(name, LUAOTA_STAGE_PREFIX, prefix) == 0)
		return -1;
	for (i = 0; i <= len; i++) {
		unsigned char c = i < len ? (unsigned char)name[i] : '/';

		if (c < 0x20 || c == 0x7f)
			return -1;
		if (c != '/')
			continue;
		/* Each component: not empty, not "." nor "..". */
		if (i == start || (i - start == 1 && name[start] == '.') ||
		    (i - start == 2 && name[start] == '.' &&
		     name[start + 1] == '.'))
			return -1;
		start = i + 1;
	}
	return 0;
}
