/* The host implementation of struct luaota_crypto, over OpenSSL. */
#ifndef LUAOTA_CRYPTO_OPENSSL_H
#define LUAOTA_CRYPTO_OPENSSL_H

#include "crypto.h"

/* A ready-to-use crypto table backed by OpenSSL (stateless, shareable). */
extern const struct luaota_crypto luaota_crypto_openssl;

/* SHA-256 of data into out (host code only); 0, or -1 on failure. */
int luaota_sha256(const void *data, size_t len, uint8_t out[LUAOTA_SHA256_LEN]);

/* Lowercase hex of len bytes into out (2 * len + 1 bytes). */
void luaota_hex(const uint8_t *bytes, size_t len, char *out);

#endif /* LUAOTA_CRYPTO_OPENSSL_H */
