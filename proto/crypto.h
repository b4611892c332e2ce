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

/* One part of a message hashed as the concatenation of its parts. */
struct luaota_span {
	const void *data;
	size_t len;
};

/* Storage for one running SHA-256, owned by the caller (no heap). */
#define LUAOTA_SHA256_STATE_SIZE 128
struct luaota_sha256_state {
	union {
		unsigned char bytes[LUAOTA_SHA256_STATE_SIZE];
		unsigned long long align_ll;
		void *align_p;
	} u;
};

struct luaota_crypto {
	/* HMAC-MD5(key, msg) into out; returns 0, or -1 on failure. */
	int (*hmac_md5)(void *ctx, const uint8_t *key, size_t key_len,
			const uint8_t *msg, size_t msg_len,
			uint8_t out[LUAOTA_MD5_LEN]);
	void *ctx; /* passed back to every call */
	/* Protocol v2 only (a legacy-only port may leave them NULL). */
	/* HMAC-SHA256(key, parts[0] || ... || parts[n-1]); 0, or -1. */
	int (*hmac_sha256)(void *ctx, const uint8_t *key, size_t key_len,
			   const struct luaota_span *parts, size_t n_parts,
			   uint8_t out[LUAOTA_SHA256_LEN]);
	/* Starts a SHA-256 in *st; 0, or -1. */
	int (*sha256_init)(void *ctx, struct luaota_sha256_state *st);
	/* Feeds len bytes; 0, or -1. */
	int (*sha256_update)(void *ctx, struct luaota_sha256_state *st,
			     const void *data, size_t len);
	/* Writes the digest; *st needs sha256_init() again; 0, or -1. */
	int (*sha256_final)(void *ctx, struct luaota_sha256_state *st,
			    uint8_t out[LUAOTA_SHA256_LEN]);
	/* Fills out with len unpredictable bytes (nonces); 0, or -1. */
	int (*random)(void *ctx, uint8_t *out, size_t len);
};

/* Compares n bytes in time independent of their content: 0 when equal. */
int luaota_ct_compare(const void *a, const void *b, size_t n);

#endif /* LUAOTA_CRYPTO_H */
