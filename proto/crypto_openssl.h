/* The host implementation of struct luaota_crypto, over OpenSSL. */
#ifndef LUAOTA_CRYPTO_OPENSSL_H
#define LUAOTA_CRYPTO_OPENSSL_H

#include "crypto.h"

/* A ready-to-use crypto table backed by OpenSSL (stateless, shareable). */
extern const struct luaota_crypto luaota_crypto_openssl;

#endif /* LUAOTA_CRYPTO_OPENSSL_H */
