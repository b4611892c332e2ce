/*
 * Protocol v2 on the device: one file of a release being staged under its
 * hash-derived name ("luaOTA/.~" + 16 hex digits of its SHA-256), hashed
 * as it is written.  What a boot staged survives it: the next boot re-hashes
 * the bytes held and resumes after them (docs/protocol.md 2.7).
 */
#ifndef LUAOTA_DEVICE_STAGE_H
#define LUAOTA_DEVICE_STAGE_H

#include <stddef.h>
#include <stdint.h>

#include "luaota.h"

/* Hex digits of the hash in a staged name. */
#define LUAOTA_V2_STAGE_HEX 16

/* One staged file in progress. */
struct luaota_v2_stage {
	const struct luaota_flash *flash;
	const struct luaota_crypto *crypto;
	struct luaota_sha256_state sha; /* over bytes [0, have) */
	uint8_t want[LUAOTA_SHA256_LEN];
	uint32_t len;  /* announced by the manifest */
	uint32_t have; /* bytes on the flash and hashed: next offset */
	int handle;    /* append handle, or -1 */
	char name[LUAOTA_NAME_MAX + 1];
};

/* The staged name of content h into out. */
void luaota_v2_stage_name(const uint8_t h[LUAOTA_SHA256_LEN],
			  char out[LUAOTA_NAME_MAX + 1]);

/*
 * Opens the staged file of content h (len bytes), resuming what an earlier
 * boot left: its bytes are hashed again, a file longer than len is
 * dropped.  LUAOTA_OK with st->have set (== len: call finish), or
 * LUAOTA_EFLASH / LUAOTA_ECRYPTO / LUAOTA_EINVAL.
 */
enum luaota_err luaota_v2_stage_open(struct luaota_v2_stage *st,
				     const struct luaota_flash *flash,
				     const struct luaota_crypto *crypto,
				     const uint8_t h[LUAOTA_SHA256_LEN],
				     uint32_t len);

/*
 * Appends n bytes meant for offset off.  LUAOTA_EPROTO, writing nothing,
 * unless off == st->have and the file stays within len (no endless data).
 */
enum luaota_err luaota_v2_stage_write(struct luaota_v2_stage *st, uint32_t off,
				      const uint8_t *data, size_t n);

/*
 * Once have == len: closes and compares the digest.  LUAOTA_OK, or
 * LUAOTA_EAUTH when the content is not the one announced (the file is
 * removed), LUAOTA_EPROTO when bytes are missing.
 */
enum luaota_err luaota_v2_stage_finish(struct luaota_v2_stage *st);

/* Stops staging this boot; the bytes stay for the next one. */
void luaota_v2_stage_close(struct luaota_v2_stage *st);

#endif /* LUAOTA_DEVICE_STAGE_H */
