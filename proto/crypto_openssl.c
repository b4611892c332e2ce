/* struct luaota_crypto over OpenSSL: the only host code that calls it. */
/* The incremental SHA256_* calls are deprecated in OpenSSL 3, but they are
 * the only ones that keep their state in caller storage, as the crypto
 * interface requires (no heap, nothing to leak when a session is dropped). */
#define OPENSSL_SUPPRESS_DEPRECATED

#include "crypto_openssl.h"
#include "v2.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <limits.h>
#include <string.h>

typedef char sha256_state_fits
    [sizeof(SHA256_CTX) <= sizeof(struct luaota_sha256_state) ? 1 : -1];

/*
 * HMAC contexts with their digest already set, made once per digest and
 * duplicated per call: OpenSSL 3 looks the HMAC and digest algorithms up
 * again at every HMAC() or EVP_MAC_init() with a digest name, and that
 * lookup cost more than hashing a protocol record.  The templates are
 * never changed after the first use, so duplicating them is thread-safe.
 */
enum hmac_kind { HMAC_MD5, HMAC_SHA256, HMAC_KINDS };

static EVP_MAC_CTX *templates[HMAC_KINDS];
static CRYPTO_ONCE templates_once = CRYPTO_ONCE_STATIC_INIT;

static void templates_init(void)
{
	static const char *const digests[HMAC_KINDS] = { "MD5", "SHA256" };
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	OSSL_PARAM params[2];
	size_t k;

	for (k = 0; mac != NULL && k < HMAC_KINDS; k++) {
		params[0] = OSSL_PARAM_construct_utf8_string(
		    OSSL_MAC_PARAM_DIGEST, (char *)digests[k], 0);
		params[1] = OSSL_PARAM_construct_end();
		templates[k] = EVP_MAC_CTX_new(mac);
		if (templates[k] != NULL &&
		    EVP_MAC_CTX_set_params(templates[k], params) != 1) {
			EVP_MAC_CTX_free(templates[k]);
			templates[k] = NULL;
		}
	}
	EVP_MAC_free(mac);
}

/* HMAC(key, parts[0] || ...) with the digest of kind; 0, or -1. */
static int hmac(enum hmac_kind kind, const uint8_t *key, size_t key_len,
		const struct luaota_span *parts, size_t n_parts, uint8_t *out,
		size_t out_len)
{
	EVP_MAC_CTX *mctx;
	size_t got = 0, i;
	int rc = -1;

	if (!CRYPTO_THREAD_run_once(&templates_once, templates_init) ||
	    templates[kind] == NULL ||
	    (mctx = EVP_MAC_CTX_dup(templates[kind])) == NULL)
		return -1;
	/* A NULL key would mean "the key of the last init": none here. */
	if (EVP_MAC_init(mctx, key_len > 0 ? key : (const uint8_t *)"", key_len,
			 NULL) != 1)
		goto out;
	for (i = 0; i < n_parts; i++)
		if (parts[i].len > 0 &&
		    EVP_MAC_update(mctx, parts[i].data, parts[i].len) != 1)
			goto out;
	if (EVP_MAC_final(mctx, out, &got, out_len) == 1 && got == out_len)
		rc = 0;
out:
	EVP_MAC_CTX_free(mctx);
	return rc;
}

static int openssl_hmac_md5(void *ctx, const uint8_t *key, size_t key_len,
			    const uint8_t *msg, size_t msg_len,
			    uint8_t out[LUAOTA_MD5_LEN])
{
	struct luaota_span part = { .data = msg, .len = msg_len };

	(void)ctx;
	return hmac(HMAC_MD5, key, key_len, &part, 1, out, LUAOTA_MD5_LEN);
}

static int openssl_hmac_sha256(void *ctx, const uint8_t *key, size_t key_len,
			       const struct luaota_span *parts, size_t n_parts,
			       uint8_t out[LUAOTA_SHA256_LEN])
{
	(void)ctx;
	return hmac(HMAC_SHA256, key, key_len, parts, n_parts, out,
		    LUAOTA_SHA256_LEN);
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
