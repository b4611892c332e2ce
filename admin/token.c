/* API tokens: random bytes from the kernel, SHA-256 from OpenSSL. */
#include "token.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include <bsd/string.h>
#include <openssl/evp.h>

#include "proto/crypto_openssl.h"

int admin_token_new(char out[ADMIN_TOKEN_LEN + 1])
{
	uint8_t random[32];
	size_t prefix = sizeof(ADMIN_TOKEN_PREFIX) - 1;

	if (getrandom(random, sizeof(random), 0) != (ssize_t)sizeof(random))
		return -1;
	memcpy(out, ADMIN_TOKEN_PREFIX, prefix);
	luaota_hex(random, sizeof(random), out + prefix);
	explicit_bzero(random, sizeof(random));
	return 0;
}

int admin_token_hash(const char *token, size_t len,
		     char hash[ADMIN_TOKEN_HASH_LEN + 1])
{
	uint8_t digest[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	if (EVP_Digest(token, len, digest, &n, EVP_sha256(), NULL) != 1 ||
	    n != ADMIN_TOKEN_HASH_LEN / 2)
		return -1;
	luaota_hex(digest, n, hash);
	return 0;
}

int admin_token_name_valid(const char *name)
{
	size_t n = strlen(name);

	return n > 0 && n <= 64 &&
	       strspn(name,
		      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		      "0123456789._-") == n;
}
