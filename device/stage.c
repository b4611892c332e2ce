/* Staging one release file with resume: see stage.h. */
#include "stage.h"

#include <string.h>

#include "proto/v2.h"

#define BLOCK 128 /* bytes re-hashed per read on resume */

void luaota_v2_stage_name(const uint8_t h[LUAOTA_SHA256_LEN],
			  char out[LUAOTA_NAME_MAX + 1])
{
	size_t prefix = sizeof(LUAOTA_STAGE_PREFIX) - 1;

	memcpy(out, LUAOTA_STAGE_PREFIX, prefix);
	luaota_v2_hex(h, LUAOTA_V2_STAGE_HEX / 2, out + prefix);
}

/* Hashes the bytes an earlier boot staged; 0, -1 (flash) or -2 (crypto). */
static int rehash(struct luaota_v2_stage *st, uint32_t size)
{
	const struct luaota_flash *f = st->flash;
	uint8_t buf[BLOCK];
	int h = f->open(f->ctx, st->name, LUAOTA_OPEN_READ);
	int rc = 0;

	if (h < 0)
		return -1;
	while (st->have < size) {
		uint32_t want =
		    size - st->have < BLOCK ? size - st->have : BLOCK;
		long got = f->read(f->ctx, h, st->have, buf, want);

		if (got <= 0) {
			rc = -1;
			break;
		}
		if (st->crypto->sha256_update(st->crypto->ctx, &st->sha, buf,
					      (size_t)got) != 0) {
			rc = -2;
			break;
		}
		st->have += (uint32_t)got;
	}
	f->close(f->ctx, h);
	return rc;
}

enum luaota_err luaota_v2_stage_open(struct luaota_v2_stage *st,
				     const struct luaota_flash *flash,
				     const struct luaota_crypto *crypto,
				     const uint8_t h[LUAOTA_SHA256_LEN],
				     uint32_t len)
{
	uint32_t size = 0;

	if (st == NULL || flash == NULL || crypto == NULL || h == NULL)
		return LUAOTA_EINVAL;
	memset(st, 0, sizeof(*st));
	st->flash = flash;
	st->crypto = crypto;
	st->handle = -1;
	st->len = len;
	memcpy(st->want, h, LUAOTA_SHA256_LEN);
	luaota_v2_stage_name(h, st->name);
	if (crypto->sha256_init(crypto->ctx, &st->sha) != 0)
		return LUAOTA_ECRYPTO;
	if (flash->size(flash->ctx, st->name, &size) == 0 && size > len) {
		/* Not a prefix of this content: start again. */
		flash->remove(flash->ctx, st->name);
		size = 0;
	}
	if (size > 0) {
		int rc = rehash(st, size);

		if (rc == -2)
			return LUAOTA_ECRYPTO;
		if (rc != 0) {
			/* Unreadable: throw it away and start again. */
			flash->remove(flash->ctx, st->name);
			st->have = 0;
			if (crypto->sha256_init(crypto->ctx, &st->sha) != 0)
				return LUAOTA_ECRYPTO;
		}
	}
	if (st->have == len)
		return LUAOTA_OK;
	st->handle = flash->open(flash->ctx, st->name, LUAOTA_OPEN_APPEND);
	return st->handle < 0 ? LUAOTA_EFLASH : LUAOTA_OK;
}

enum luaota_err luaota_v2_stage_write(struct luaota_v2_stage *st, uint32_t off,
				      const uint8_t *data, size_t n)
{
	const struct luaota_flash *f;

	if (st == NULL || (data == NULL && n > 0))
		return LUAOTA_EINVAL;
	if (off != st->have || n > st->len - st->have || st->handle < 0)
		return LUAOTA_EPROTO;
	f = st->flash;
	if (n == 0)
		return LUAOTA_OK;
	if (f->write(f->ctx, st->handle, data, n) != 0) {
		/* What reached the flash is unknown: the next boot rehashes. */
		luaota_v2_stage_close(st);
		return LUAOTA_EFLASH;
	}
	if (st->crypto->sha256_update(st->crypto->ctx, &st->sha, data, n) != 0)
		return LUAOTA_ECRYPTO;
	st->have += (uint32_t)n;
	return LUAOTA_OK;
}

enum luaota_err luaota_v2_stage_finish(struct luaota_v2_stage *st)
{
	uint8_t got[LUAOTA_SHA256_LEN];
	const struct luaota_flash *f;

	if (st == NULL)
		return LUAOTA_EINVAL;
	f = st->flash;
	if (st->have != st->len)
		return LUAOTA_EPROTO;
	if (st->handle >= 0) {
		int closed = f->close(f->ctx, st->handle);

		st->handle = -1;
		if (closed != 0)
			return LUAOTA_EFLASH;
	}
	if (st->crypto->sha256_final(st->crypto->ctx, &st->sha, got) != 0)
		return LUAOTA_ECRYPTO;
	if (luaota_ct_compare(got, st->want, LUAOTA_SHA256_LEN) != 0) {
		f->remove(f->ctx, st->name);
		return LUAOTA_EAUTH;
	}
	return LUAOTA_OK;
}

void luaota_v2_stage_close(struct luaota_v2_stage *st)
{
	if (st != NULL && st->handle >= 0) {
		st->flash->close(st->flash->ctx, st->handle);
		st->handle = -1;
	}
}
