/*
 * Protocol v2 on the device: the checks a manifest must pass before a
 * single byte of a release is downloaded (docs/protocol.md 2.6.1): shape,
 * rollback, same counter with other content, fast-forward, names, space.
 */
#ifndef LUAOTA_DEVICE_MANIFEST_H
#define LUAOTA_DEVICE_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#include "commit.h"
#include "luaota.h"

/* What the device answers a manifest. */
enum luaota_v2_verdict {
	LUAOTA_V2_ACCEPT = 0,	  /* a newer release: fetch it */
	LUAOTA_V2_SAME = 1,	  /* the installed release itself */
	LUAOTA_V2_RMANIFEST = -1, /* not a manifest of the right shape */
	LUAOTA_V2_RROLLBACK = -2, /* counter below the installed one */
	LUAOTA_V2_RMIX = -3,	  /* same counter, other content */
	LUAOTA_V2_RFASTFWD = -4,  /* counter jumps beyond the plausible */
	LUAOTA_V2_RNAME = -5,	  /* a name outside the allowed set */
	LUAOTA_V2_RSPACE = -6,	  /* more than the free flash */
	LUAOTA_V2_RCRYPTO = -7	  /* hashing failed */
};

/* Bytes of working memory per manifest token (one jsmn token). */
#define LUAOTA_V2_TOKEN_SIZE 16
/* Tokens enough for the largest manifest LUAOTA_V2_* limits allow. */
#define LUAOTA_V2_MANIFEST_TOKENS (16 + 11 * LUAOTA_V2_FILES_MAX)

/* What the device knows when it judges a manifest. */
struct luaota_v2_judge {
	const struct luaota_crypto *crypto;
	const struct luaota_v2_release *installed;
	uint32_t free_bytes; /* free flash now */
	/* Optional: bytes of content h already on the flash (staged or
	 * installed), which the release does not need again. */
	uint32_t (*held)(void *arg, const char h_hex[2 * LUAOTA_SHA256_LEN]);
	void *held_arg;
	void *work;	  /* token storage for the parser */
	size_t work_size; /* its bytes: LUAOTA_V2_TOKEN_SIZE per token */
};

/* What an accepted manifest asks for. */
struct luaota_v2_manifest_info {
	uint32_t rc;
	unsigned n_files, n_deletions;
	uint64_t need_bytes; /* content still to fetch */
	uint8_t mh[LUAOTA_SHA256_LEN];
};

/* Judges manifest[0..len) in the order of docs/protocol.md 2.6.1; fills
 * *info (when not NULL) for ACCEPT and SAME. */
enum luaota_v2_verdict
luaota_v2_manifest_check(const struct luaota_v2_judge *judge,
			 const char *manifest, size_t len,
			 struct luaota_v2_manifest_info *info);

/* The refusal word sent as "why" ("rollback", ...), or "ok". */
const char *luaota_v2_verdict_str(enum luaota_v2_verdict v);

#endif /* LUAOTA_DEVICE_MANIFEST_H */
