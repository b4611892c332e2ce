/*
 * Protocol v2 on the device: the installed release (two manifest slots,
 * the valid one with the higher sequence number is active, as esp-idf's
 * otadata) and the atomic commit of a staged release through a journal
 * that every boot replays.  Formats: docs/protocol.md section 2.8.
 */
#ifndef LUAOTA_DEVICE_COMMIT_H
#define LUAOTA_DEVICE_COMMIT_H

#include <stddef.h>
#include <stdint.h>

#include "luaota.h"

/* Flash names of the commit machinery (all under the reserved luaOTA/). */
#define LUAOTA_V2_SLOT0 "luaOTA/slot0"
#define LUAOTA_V2_SLOT1 "luaOTA/slot1"
#define LUAOTA_V2_JOURNAL "luaOTA/journal"
#define LUAOTA_V2_JOURNAL_NEW "luaOTA/.~journal"
#define LUAOTA_V2_PENDING "luaOTA/.~pending"
#define LUAOTA_V2_MANIFEST_NEW "luaOTA/.~manifest"

/* Bytes before the manifest in a slot file, and after it (the CRC). */
#define LUAOTA_V2_SLOT_HEAD 16
#define LUAOTA_V2_SLOT_TAIL 4

/* The active release as the slots say. */
struct luaota_v2_release {
	int slot;     /* 0 or 1, or -1 when no slot is valid (release 0) */
	uint32_t seq; /* slot sequence number */
	uint32_t rc;  /* release counter, 0 when none */
	uint32_t manifest_len; /* manifest bytes at LUAOTA_V2_SLOT_HEAD */
	uint8_t mh[LUAOTA_SHA256_LEN]; /* its SHA-256, zeros when none */
};

/* One journal entry: rename from to to, or remove to. */
enum luaota_v2_op_kind { LUAOTA_V2_OP_RENAME = 'R', LUAOTA_V2_OP_DELETE = 'D' };
struct luaota_v2_op {
	enum luaota_v2_op_kind kind;
	const char *from; /* NULL for a deletion */
	const char *to;
};

/* Reads both slots into *rel; LUAOTA_OK (also with no valid slot), or
 * LUAOTA_ECRYPTO. */
enum luaota_err luaota_v2_release_read(const struct luaota_flash *flash,
				       const struct luaota_crypto *crypto,
				       struct luaota_v2_release *rel);

/*
 * Produces journal entry i (0 <= i < n) into *op, its names written into
 * from and to when they are not static; 0, or -1 to abandon the commit.
 */
typedef int (*luaota_v2_op_fn)(void *arg, size_t i, struct luaota_v2_op *op,
			       char from[LUAOTA_NAME_MAX + 1],
			       char to[LUAOTA_NAME_MAX + 1]);

/*
 * Commits release rc: n ops from get_op (staged name -> final name,
 * deletions, produced one at a time so none is held in RAM), then
 * LUAOTA_V2_PENDING (the manifest, already written) into the next slot.
 * Writes the journal, renames it into place (the commit point) and
 * replays it.  A power cut before the rename leaves the old release, after
 * it luaota_v2_recover() completes the new one.  LUAOTA_OK, or
 * LUAOTA_EFLASH / LUAOTA_EINVAL (a bad op, n > 1000).
 */
enum luaota_err luaota_v2_commit(const struct luaota_flash *flash,
				 const struct luaota_crypto *crypto,
				 uint32_t rc, size_t n, luaota_v2_op_fn get_op,
				 void *arg);

/*
 * Replays an interrupted commit; call at every boot before the
 * application or the session touches a file.  *replayed is set to 1 when
 * a journal was found.  Idempotent: a replay cut short is redone whole.
 */
enum luaota_err luaota_v2_recover(const struct luaota_flash *flash,
				  const struct luaota_crypto *crypto,
				  int *replayed);

/* IEEE CRC-32 of len bytes, continuing from crc (start with 0). */
uint32_t luaota_v2_crc32(uint32_t crc, const uint8_t *buf, size_t len);

#endif /* LUAOTA_DEVICE_COMMIT_H */
