/* The dashboard's static files, embedded at build time (dashboard/). */
#ifndef LUAOTAD_ASSETS_H
#define LUAOTAD_ASSETS_H

#include <stddef.h>

struct asset {
	const char *path; /* "/index.html" */
	const char *type; /* Content-Type */
	const unsigned char *data;
	size_t len;
};

/* Ends with an entry whose path is NULL. */
extern const struct asset assets[];

#endif /* LUAOTAD_ASSETS_H */
