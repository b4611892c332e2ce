/* Two manifest slots and the commit journal: see commit.h. */
#include "commit.h"

#include <string.h>

#define BLOCK 128	/* bytes read or copied per flash call */
#define JOURNAL_HEAD 10 /* "LOJ2", rc, n */

static const char slot_magic[4] = { 'L', 'O', 'S', '2' };
static const char journal_magic[4] = { 'L', 'O', 'J', '2' };
static const char *const slot_names[2] = { LUAOTA_V2_SLOT0, LUAOTA_V2_SLOT1 };

uint32_t luaota_v2_crc32(uint32_t crc, const uint8_t *buf, size_t len)
{
	size_t i;
	int bit;

	/* Bitwise, without a table: flash on the chip is dearer than time. */
	crc = ~crc;
	for (i = 0; i < len; i++) {
		crc ^= buf[i];
		for (bit = 0; bit < 8; bit++)
			crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
	}
	return ~crc;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

/* Reads exactly len bytes at off; 0, or -1. */
static int read_exact(const struct luaota_flash *f, int h, uint32_t off,
		      uint8_t *buf, size_t len)
{
	while (len > 0) {
		long got = f->read(f->ctx, h, off, buf, len);

		if (got <= 0)
			return -1;
		off += (uint32_t)got;
		buf += got;
		len -= (size_t)got;
	}
	return 0;
}

/*
 * Checks one slot file: magic, size, CRC; fills *rel with its numbers
 * and the manifest's SHA-256.  0 when valid, -1 when not, -2 on crypto.
 */
static int slot_check(const struct luaota_flash *f,
		      const struct luaota_crypto *c, int slot,
		      struct luaota_v2_release *rel)
{
	struct luaota_sha256_state st;
	uint8_t buf[BLOCK];
	uint32_t size, crc, off, end;
	int h, rc = -1;

	if (f->size(f->ctx, slot_names[slot], &size) != 0 ||
	    size < LUAOTA_V2_SLOT_HEAD + LUAOTA_V2_SLOT_TAIL)
		return -1;
	h = f->open(f->ctx, slot_names[slot], LUAOTA_OPEN_READ);
	if (h < 0)
		return -1;
	if (read_exact(f, h, 0, buf, LUAOTA_V2_SLOT_HEAD) != 0 ||
	    memcmp(buf, slot_magic, 4) != 0)
		goto fail;
	rel->slot = slot;
	rel->seq = get32(buf + 4);
	rel->rc = get32(buf + 8);
	rel->manifest_len = get32(buf + 12);
	if (rel->manifest_len > LUAOTA_V2_MANIFEST_MAX ||
	    size !=
		LUAOTA_V2_SLOT_HEAD + rel->manifest_len + LUAOTA_V2_SLOT_TAIL)
		goto fail;
	crc = luaota_v2_crc32(0, buf, LUAOTA_V2_SLOT_HEAD);
	if (c->sha256_init(c->ctx, &st) != 0) {
		rc = -2;
		goto fail;
	}
	end = LUAOTA_V2_SLOT_HEAD + rel->manifest_len;
	for (off = LUAOTA_V2_SLOT_HEAD; off < end;) {
		size_t n = end - off < BLOCK ? end - off : BLOCK;

		if (read_exact(f, h, off, buf, n) != 0)
			goto fail;
		crc = luaota_v2_crc32(crc, buf, n);
		if (c->sha256_update(c->ctx, &st, buf, n) != 0) {
			rc = -2;
			goto fail;
		}
		off += (uint32_t)n;
	}
	if (c->sha256_final(c->ctx, &st, rel->mh) != 0) {
		rc = -2;
		goto fail;
	}
	if (read_exact(f, h, end, buf, LUAOTA_V2_SLOT_TAIL) != 0 ||
	    get32(buf) != crc)
		goto fail;
	rc = 0;
fail:
	f->close(f->ctx, h);
	return rc;
}

enum luaota_err luaota_v2_release_read(const struct luaota_flash *flash,
				       const struct luaota_crypto *crypto,
				       struct luaota_v2_release *rel)
{
	struct luaota_v2_release cand;
	int slot;

	if (flash == NULL || crypto == NULL || rel == NULL)
		return LUAOTA_EINVAL;
	memset(rel, 0, sizeof(*rel));
	rel->slot = -1;
	for (slot = 0; slot < 2; slot++) {
		int ok = slot_check(flash, crypto, slot, &cand);

		if (ok == -2)
			return LUAOTA_ECRYPTO;
		/* Sequence numbers compare as esp-idf's otadata: higher wins.
		 */
		if (ok == 0 && (rel->slot < 0 || cand.seq > rel->seq))
			*rel = cand;
	}
	return LUAOTA_OK;
}

/* A flash file being written with a running CRC. */
struct writer {
	const struct luaota_flash *f;
	int h;
	uint32_t crc;
	int failed;
};

static void w_put(struct writer *w, const void *buf, size_t len)
{
	if (w->failed || len == 0)
		return;
	w->crc = luaota_v2_crc32(w->crc, buf, len);
	if (w->f->write(w->f->ctx, w->h, buf, len) != 0)
		w->failed = 1;
}

/* Closes w after writing its CRC; 0, or -1. */
static int w_finish(struct writer *w)
{
	uint8_t tail[4];

	put32(tail, w->crc);
	if (!w->failed && w->f->write(w->f->ctx, w->h, tail, 4) != 0)
		w->failed = 1;
	if (w->f->close(w->f->ctx, w->h) != 0)
		w->failed = 1;
	return w->failed ? -1 : 0;
}

static int w_open(struct writer *w, const struct luaota_flash *f,
		  const char *name)
{
	w->f = f;
	w->crc = 0;
	w->failed = 0;
	w->h = f->open(f->ctx, name, LUAOTA_OPEN_WRITE);
	return w->h < 0 ? -1 : 0;
}

static int name_ok(const char *name)
{
	return name != NULL && name[0] != '\0' &&
	       strlen(name) <= LUAOTA_NAME_MAX;
}

static void put_entry(struct writer *w, char kind, const char *from,
		      const char *to)
{
	uint8_t head[2];
	uint8_t tlen = (uint8_t)strlen(to);

	head[0] = (uint8_t)kind;
	head[1] = (uint8_t)(from != NULL ? strlen(from) : 0);
	w_put(w, head, 2);
	if (from != NULL)
		w_put(w, from, head[1]);
	w_put(w, &tlen, 1);
	w_put(w, to, tlen);
}

/* Fetches op i and checks it; 0, or -1. */
static int get_checked(luaota_v2_op_fn get_op, void *arg, size_t i,
		       struct luaota_v2_op *op, char *from, char *to)
{
	memset(op, 0, sizeof(*op));
	if (get_op(arg, i, op, from, to) != 0 || !name_ok(op->to))
		return -1;
	if (op->kind == LUAOTA_V2_OP_RENAME)
		return name_ok(op->from) ? 0 : -1;
	if (op->kind == LUAOTA_V2_OP_DELETE) {
		op->from = NULL;
		return 0;
	}
	return -1;
}

enum luaota_err luaota_v2_commit(const struct luaota_flash *flash,
				 const struct luaota_crypto *crypto,
				 uint32_t rc, size_t n, luaota_v2_op_fn get_op,
				 void *arg)
{
	char from[LUAOTA_NAME_MAX + 1], to[LUAOTA_NAME_MAX + 1];
	struct luaota_v2_op op;
	struct writer w;
	uint8_t head[JOURNAL_HEAD];
	uint32_t pending;
	size_t i;
	int replayed;

	if (flash == NULL || crypto == NULL || (get_op == NULL && n > 0) ||
	    n > 1000)
		return LUAOTA_EINVAL;
	/* Every op is checked before the journal is begun. */
	for (i = 0; i < n; i++)
		if (get_checked(get_op, arg, i, &op, from, to) != 0)
			return LUAOTA_EINVAL;
	if (flash->size(flash->ctx, LUAOTA_V2_PENDING, &pending) != 0)
		return LUAOTA_EINVAL;
	if (w_open(&w, flash, LUAOTA_V2_JOURNAL_NEW) != 0)
		return LUAOTA_EFLASH;
	memcpy(head, journal_magic, 4);
	put32(head + 4, rc);
	head[8] = (uint8_t)((n + 1) >> 8);
	head[9] = (uint8_t)(n + 1);
	w_put(&w, head, sizeof(head));
	for (i = 0; i < n; i++) {
		if (get_checked(get_op, arg, i, &op, from, to) != 0)
			w.failed = 1;
		else
			put_entry(&w, (char)op.kind, op.from, op.to);
	}
	/* Last: the manifest moves where the replay writes the slot from. */
	put_entry(&w, LUAOTA_V2_OP_RENAME, LUAOTA_V2_PENDING,
		  LUAOTA_V2_MANIFEST_NEW);
	if (w_finish(&w) != 0)
		goto fail;
	/* The commit point: before it the old release, after it the new. */
	if (flash->rename(flash->ctx, LUAOTA_V2_JOURNAL_NEW,
			  LUAOTA_V2_JOURNAL) != 0)
		goto fail;
	return luaota_v2_recover(flash, crypto, &replayed);
fail:
	flash->remove(flash->ctx, LUAOTA_V2_JOURNAL_NEW);
	return LUAOTA_EFLASH;
}

/* Whether the journal's magic and CRC hold. */
static int journal_valid(const struct luaota_flash *f, int h, uint32_t size)
{
	uint8_t buf[BLOCK];
	uint32_t off = 0, crc = 0, body;

	if (size < JOURNAL_HEAD + 4)
		return 0;
	body = size - 4;
	while (off < body) {
		size_t n = body - off < BLOCK ? body - off : BLOCK;

		if (read_exact(f, h, off, buf, n) != 0)
			return 0;
		crc = luaota_v2_crc32(crc, buf, n);
		off += (uint32_t)n;
	}
	if (read_exact(f, h, body, buf, 4) != 0 || get32(buf) != crc)
		return 0;
	return read_exact(f, h, 0, buf, 4) == 0 &&
	       memcmp(buf, journal_magic, 4) == 0;
}

/* Reads a length-prefixed name at *off into out; 0, or -1. */
static int read_name(const struct luaota_flash *f, int h, uint32_t *off,
		     uint32_t end, char out[LUAOTA_NAME_MAX + 1])
{
	uint8_t len;

	if (*off + 1 > end || read_exact(f, h, *off, &len, 1) != 0 ||
	    len > LUAOTA_NAME_MAX || *off + 1 + len > end)
		return -1;
	if (len > 0 && read_exact(f, h, *off + 1, (uint8_t *)out, len) != 0)
		return -1;
	out[len] = '\0';
	*off += 1u + len;
	return 0;
}

/* Applies every entry; each one is idempotent. */
static int journal_apply(const struct luaota_flash *f, int h, uint32_t size)
{
	char from[LUAOTA_NAME_MAX + 1], to[LUAOTA_NAME_MAX + 1];
	uint8_t head[JOURNAL_HEAD];
	uint32_t off = JOURNAL_HEAD, end = size - 4, exists;
	unsigned n, i;
	uint8_t kind;

	if (read_exact(f, h, 0, head, JOURNAL_HEAD) != 0)
		return -1;
	n = (unsigned)head[8] << 8 | head[9];
	for (i = 0; i < n; i++) {
		if (off >= end || read_exact(f, h, off, &kind, 1) != 0)
			return -1;
		off++;
		if (read_name(f, h, &off, end, from) != 0 ||
		    read_name(f, h, &off, end, to) != 0 || to[0] == '\0')
			return -1;
		if (kind == LUAOTA_V2_OP_DELETE) {
			/* Absent already is fine: an earlier replay did it. */
			f->remove(f->ctx, to);
		} else if (kind == LUAOTA_V2_OP_RENAME && from[0] != '\0') {
			if (f->size(f->ctx, from, &exists) == 0 &&
			    f->rename(f->ctx, from, to) != 0)
				return -1;
		} else {
			return -1;
		}
	}
	return 0;
}

/* Writes the staged manifest into the inactive slot unless it is the
 * active one already; 0, -1 (flash) or -2 (crypto). */
static int slot_write(const struct luaota_flash *f,
		      const struct luaota_crypto *c, uint32_t rc)
{
	struct luaota_v2_release cur;
	struct luaota_sha256_state st;
	uint8_t buf[BLOCK], mh[LUAOTA_SHA256_LEN];
	uint32_t mlen, off;
	struct writer w;
	int h, slot, failed = 0;

	if (f->size(f->ctx, LUAOTA_V2_MANIFEST_NEW, &mlen) != 0)
		return 0; /* gone: the slot was written before the cut */
	if (mlen > LUAOTA_V2_MANIFEST_MAX)
		return -1;
	if (luaota_v2_release_read(f, c, &cur) != LUAOTA_OK)
		return -2;
	h = f->open(f->ctx, LUAOTA_V2_MANIFEST_NEW, LUAOTA_OPEN_READ);
	if (h < 0)
		return -1;
	if (c->sha256_init(c->ctx, &st) != 0)
		goto crypto;
	for (off = 0; off < mlen; off += BLOCK) {
		size_t n = mlen - off < BLOCK ? mlen - off : BLOCK;

		if (read_exact(f, h, off, buf, n) != 0)
			goto flash;
		if (c->sha256_update(c->ctx, &st, buf, n) != 0)
			goto crypto;
	}
	if (c->sha256_final(c->ctx, &st, mh) != 0)
		goto crypto;
	if (cur.slot >= 0 && cur.rc == rc && cur.manifest_len == mlen &&
	    memcmp(cur.mh, mh, sizeof(mh)) == 0) {
		f->close(f->ctx, h);
		return 0;
	}
	slot = cur.slot == 0 ? 1 : 0;
	if (w_open(&w, f, slot_names[slot]) != 0)
		goto flash;
	memcpy(buf, slot_magic, 4);
	put32(buf + 4, cur.slot >= 0 ? cur.seq + 1 : 1);
	put32(buf + 8, rc);
	put32(buf + 12, mlen);
	w_put(&w, buf, LUAOTA_V2_SLOT_HEAD);
	for (off = 0; off < mlen; off += BLOCK) {
		size_t n = mlen - off < BLOCK ? mlen - off : BLOCK;

		if (read_exact(f, h, off, buf, n) != 0) {
			failed = 1;
			break;
		}
		w_put(&w, buf, n);
	}
	if (w_finish(&w) != 0 || failed)
		goto flash;
	f->close(f->ctx, h);
	return 0;
crypto:
	f->close(f->ctx, h);
	return -2;
flash:
	f->close(f->ctx, h);
	return -1;
}

enum luaota_err luaota_v2_recover(const struct luaota_flash *flash,
				  const struct luaota_crypto *crypto,
				  int *replayed)
{
	uint8_t head[JOURNAL_HEAD];
	uint32_t size;
	int h, valid, ok;

	if (flash == NULL || crypto == NULL || replayed == NULL)
		return LUAOTA_EINVAL;
	*replayed = 0;
	/* A journal never renamed into place is an abandoned commit. */
	flash->remove(flash->ctx, LUAOTA_V2_JOURNAL_NEW);
	if (flash->size(flash->ctx, LUAOTA_V2_JOURNAL, &size) != 0)
		return LUAOTA_OK;
	h = flash->open(flash->ctx, LUAOTA_V2_JOURNAL, LUAOTA_OPEN_READ);
	if (h < 0)
		return LUAOTA_EFLASH;
	valid = journal_valid(flash, h, size);
	if (!valid) {
		/* It was renamed whole, so only a failing flash gets here;
		 * dropping it could leave half a release: keep it. */
		flash->close(flash->ctx, h);
		return LUAOTA_EFLASH;
	}
	*replayed = 1;
	ok = journal_apply(flash, h, size) == 0 &&
	     read_exact(flash, h, 0, head, JOURNAL_HEAD) == 0;
	flash->close(flash->ctx, h);
	if (!ok)
		return LUAOTA_EFLASH;
	switch (slot_write(flash, crypto, get32(head + 4))) {
	case 0:
		break;
	case -2:
		return LUAOTA_ECRYPTO;
	default:
		return LUAOTA_EFLASH;
	}
	flash->remove(flash->ctx, LUAOTA_V2_MANIFEST_NEW);
	if (flash->remove(flash->ctx, LUAOTA_V2_JOURNAL) != 0)
		return LUAOTA_EFLASH;
	return LUAOTA_OK;
}
