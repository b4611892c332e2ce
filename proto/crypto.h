/*
 * The crypto a protocol implementation needs, as a small interface that
 * each platform fills in (OpenSSL on the host, a ROM or mbedTLS on a chip),
 * so that proto/ itself links against nothing.
 */
#ifndef LUAOTA_CRYPTO_H
#define LUAOTA_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "protocol.h"

struct luaota_crypto {
	/* HMAC-MD5(key, msg) into out; returns 0, or -1 on failure. */
	int (*hmac_md5)(void *ctx, const uint8_t *key, size_t key_len,
			const uint8_t *msg, size_t msg_len,
			uint8_t out[LUAOTA_MD5_LEN]);
	void *ctx; /* passed back to every call */
};

/* Compares n bytes in time independent of their content: 0 when equal. */
int luaota_ct_compare(const void *a, const void *b, size_t n);

#endif /* LUAOTA_CRYPTO_H */
