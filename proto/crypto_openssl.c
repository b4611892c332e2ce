/* struct luaota_crypto over OpenSSL: the only host code that calls it. */
#include "crypto_openssl.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <limits.h>

static int openssl_hmac_md5(void *ctx, const uint8_t *key, size_t key_len,
			    const uint8_t *msg, size_t msg_len,
			    uint8_t out[LUAOTA_MD5_LEN])
{
	unsigned int out_len = 0;

	(void)ctx;
	if (key_len > (size_t)INT_MAX)
		return -1;
	if (HMAC(EVP_md5(), key, (int)key_len, msg, msg_len, out, &out_len) ==
		NULL ||
	    out_len != LUAOTA_MD5_LEN)
		return -1;
	return 0;
}

const struct luaota_crypto luaota_crypto_openssl = {
	.hmac_md5 = openssl_hmac_md5,
	.ctx = NULL,
};

int luaota_sha256(const void *data, size_t len, uint8_t out[LUAOTA_SHA256_LEN])
{
	unsigned int out_len = 0;

	if (EVP_Digest(data, len, out, &out_len, EVP_sha256(), NULL) != 1 ||
	    out_len != LUAOTA_SHA256_LEN)
		return -1;
	return 0;
}

void luaota_hex(const uint8_t *bytes, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[bytes[i] >> 4];
		out[2 * i + 1] = digits[bytes[i] & 0x0f];
	}
	out[2 * len] = '\0';
}
