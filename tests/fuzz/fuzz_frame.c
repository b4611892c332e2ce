/*
 * Fuzz target: framing + signature verification.  The input is a byte
 * stream as a peer would send it; it is framed whole and again in pieces
 * whose sizes come from the input itself, and both runs must agree record
 * by record.  Every record found is verified against a fixed secret.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json_data.h"
#include "proto/crypto_openssl.h"
#include "proto/frame.h"
#include "proto/sig.h"

#define SECRET "selftest-secret"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct trace {
	int status[16];
	size_t size[16];
	int verified[16];
	size_t n;
};

/* Frames records out of data, delivering at most step bytes at a time. */
static void frame_stream(const uint8_t *data, size_t size, size_t step,
			 struct trace *t)
{
	struct luaota_framer f;
	struct luaota_record rec;
	size_t start = 0, have = 0;
	int st;

	memset(t, 0, sizeof(*t));
	luaota_frame_init(&f, 512, 1024, 0);
	while (t->n < 16) {
		if (have < size - start)
			have += step < size - start - have
				    ? step
				    : size - start - have;
		st = luaota_frame_scan(&f, data + start, have, &rec);
		if (st == LUAOTA_FRAME_HEADER) {
			st = luaota_frame_set_payload(
			    &f, json_data_field(rec.json, rec.json_len));
			if (st == LUAOTA_FRAME_MORE)
				continue;
		}
		if (st == LUAOTA_FRAME_MORE) {
			if (have == size - start) {
				t->status[t->n++] =
				    luaota_frame_finish(&f, have);
				return;
			}
			continue;
		}
		t->status[t->n] = st;
		if (st != LUAOTA_FRAME_RECORD) {
			t->n++;
			return;
		}
		t->size[t->n] = rec.size;
		t->verified[t->n] = luaota_sig_verify(
		    &luaota_crypto_openssl, (const uint8_t *)SECRET,
		    strlen(SECRET), rec.json, rec.json_len, rec.sig);
		t->n++;
		start += rec.size;
		have -= rec.size;
		luaota_frame_reset(&f);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct trace whole, pieces;
	size_t step = size > 0 ? (size_t)data[0] % 17 + 1 : 1;

	frame_stream(data, size, size > 0 ? size : 1, &whole);
	frame_stream(data, size, step, &pieces);
	if (memcmp(&whole, &pieces, sizeof(whole)) != 0)
		abort();
	return 0;
}
