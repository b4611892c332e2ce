/* SHA-256 through the project's OpenSSL module; short base64url names. */
#include "digest.h"

#include <string.h>

#include "proto/crypto_openssl.h"

int plan_digest(const void *data, size_t len, uint8_t raw[PLAN_DIGEST_LEN],
		char hex[2 * PLAN_DIGEST_LEN + 1])
{
	if (luaota_sha256(data, len, raw) != 0)
		return -1;
	luaota_hex(raw, PLAN_DIGEST_LEN, hex);
	return 0;
}

int plan_token(const uint8_t digest[PLAN_DIGEST_LEN], int compiled,
	       char out[PLAN_TOKEN_LEN + 1])
{
	uint8_t input[PLAN_DIGEST_LEN + 1], raw[PLAN_DIGEST_LEN];

	input[0] = compiled ? 'c' : 'd';
	memcpy(input + 1, digest, PLAN_DIGEST_LEN);
	if (luaota_sha256(input, sizeof(input), raw) != 0)
		return -1;
	plan_short_name(raw, PLAN_TOKEN_LEN, out);
	return 0;
}

void plan_short_name(const uint8_t raw[PLAN_DIGEST_LEN], size_t nchars,
		     char *out)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				       "abcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t i, bit;

	if (nchars > 40)
		nchars = 40;
	/* six bits per character, most significant first */
	for (i = 0; i < nchars; i++) {
		unsigned v = 0;
		for (bit = i * 6; bit < i * 6 + 6; bit++)
			v = (v << 1) | ((raw[bit / 8] >> (7 - bit % 8)) & 1u);
		out[i] = alphabet[v];
	}
	out[nchars] = '\0';
}
