/* Content digests and the short names derived from them (plan/ internal). */
#ifndef LUAOTA_PLAN_DIGEST_H
#define LUAOTA_PLAN_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#include "types.h"

#define PLAN_DIGEST_LEN 32 /* SHA-256 */

/* SHA-256 of data, raw and in lowercase hex: 0, or -1. */
int plan_digest(const void *data, size_t len, uint8_t raw[PLAN_DIGEST_LEN],
		char hex[2 * PLAN_DIGEST_LEN + 1]);

/* The first nchars base64url characters of raw (nchars <= 40), NUL-ended. */
void plan_short_name(const uint8_t raw[PLAN_DIGEST_LEN], size_t nchars,
		     char *out);

/*
 * A file's version token: from its content digest and its action, so that
 * the same bytes sent another way (dl instead of cm) are sent again.
 */
int plan_token(const uint8_t digest[PLAN_DIGEST_LEN], int compiled,
	       char out[PLAN_TOKEN_LEN + 1]);

#endif /* LUAOTA_PLAN_DIGEST_H */
