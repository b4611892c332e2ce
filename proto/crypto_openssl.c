/* struct luaota_crypto over OpenSSL: the only host code that calls it. */
/* The incremental SHA256_* calls are deprecated in OpenSSL 3, but they are
 * the only ones that keep their state in caller storage, as the crypto
 * interface requires (no heap, nothing to leak when a session is dropped). */
#define OPENSSL_SUPPRESS_DEPRECATED

#include "crypto_openssl.h"
#include "v2.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/md5.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <limits.h>
#include <string.h>

typedef char sha256_state_fits
    [sizeof(SHA256_CTX) <= sizeof(struct luaota_sha256_state) ? 1 : -1];

/*
 * HMAC-MD5 as RFC 2104 defines it, over MD5_*: OpenSSL 3's HMAC() looks
 * its algorithms up again at every call, which costs more than the
 * hashing of a protocol record (two per check-in).
 */
static int openssl_hmac_md5(void *ctx, const uint8_t *key, size_t key_len,
			    const uint8_t *msg, size_t msg_len,
			    uint8_t out[LUAOTA_MD5_LEN])
{
	uint8_t block[MD5_CBLOCK], pad[MD5_CBLOCK], inner[MD5_DIGEST_LENGTH];
	MD5_CTX md;
	size_t i;
	int ok;

	(void)ctx;
	memset(block, 0, sizeof(block));
	/* A key longer than a block is replaced by its digest. */
	if (key_len > sizeof(block)) {
		if (MD5(key, key_len, block) == NULL)
			return -1;
	} else if (key_len > 0) {
		memcpy(block, key, key_len);
	}
	for (i = 0; i < sizeof(pad); i++)
		pad[i] = block[i] ^ 0x36;
	ok = MD5_Init(&md) == 1 && MD5_Update(&md, pad, sizeof(pad)) == 1 &&
	     MD5_Update(&md, msg, msg_len) == 1 && MD5_Final(inner, &md) == 1;
	for (i = 0; i < sizeof(pad); i++)
		pad[i] = block[i] ^ 0x5c;
	ok = ok && MD5_Init(&md) == 1 &&
	     MD5_Update(&md, pad, sizeof(pad)) == 1 &&
	     MD5_Update(&md, inner, sizeof(inner)) == 1 &&
	     MD5_Final(out, &md) == 1;
	OPENSSL_cleanse(block, sizeof(block));
	OPENSSL_cleanse(pad, sizeof(pad));
	OPENSSL_cleanse(&md, sizeof(md));
	return ok ? 0 : -1;
}

static int openssl_hmac_sha256(void *ctx, const uint8_t *key, size_t key_len,
			       const struct luaota_span *parts, size_t n_parts,
			       uint8_t out[LUAOTA_SHA256_LEN])
{
	char digest[] = "SHA256";
	OSSL_PARAM params[2];
	EVP_MAC *mac = NULL;
	EVP_MAC_CTX *mctx = NULL;
	size_t out_len = 0;
	size_t i;
	int rc = -1;

	(void)ctx;
	params[0] =
	    OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0);
	params[1] = OSSL_PARAM_construct_end();
	mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	if (mac == NULL)
		goto fail;
	mctx = EVP_MAC_CTX_new(mac);
	if (mctx == NULL || EVP_MAC_init(mctx, key, key_len, params) != 1)
		goto fail;
	for (i = 0; i < n_parts; i++)
		if (parts[i].len > 0 &&
		    EVP_MAC_update(mctx, parts[i].data, parts[i].len) != 1)
			goto fail;
	if (EVP_MAC_final(mctx, out, &out_len, LUAOTA_SHA256_LEN) != 1 ||
	    out_len != LUAOTA_SHA256_LEN)
		goto fail;
	rc = 0;
fail:
	EVP_MAC_CTX_free(mctx);
	EVP_MAC_free(mac);
	return rc;
}

static int openssl_sha256_init(void *ctx, struct luaota_sha256_state *st)
{
	(void)ctx;
	return SHA256_Init((SHA256_CTX *)(void *)st->u.bytes) == 1 ? 0 : -1;
}

static int openssl_sha256_update(void *ctx, struct luaota_sha256_state *st,
				 const void *data, size_t len)
{
	(void)ctx;
	return SHA256_Update((SHA256_CTX *)(void *)st->u.bytes, data, len) == 1
		   ? 0
		   : -1;
}

static int openssl_sha256_final(void *ctx, struct luaota_sha256_state *st,
				uint8_t out[LUAOTA_SHA256_LEN])
{
	(void)ctx;
	return SHA256_Final(out, (SHA256_CTX *)(void *)st->u.bytes) == 1 ? 0
									 : -1;
}

static int openssl_random(void *ctx, uint8_t *out, size_t len)
{
	(void)ctx;
	if (len > (size_t)INT_MAX)
		return -1;
	return RAND_bytes(out, (int)len) == 1 ? 0 : -1;
}

const struct luaota_crypto luaota_crypto_openssl = {
	.hmac_md5 = openssl_hmac_md5,
	.hmac_sha256 = openssl_hmac_sha256,
	.sha256_init = openssl_sha256_init,
	.sha256_update = openssl_sha256_update,
	.sha256_final = openssl_sha256_final,
	.random = openssl_random,
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
	luaota_v2_hex(bytes, len, out);
}
