/* proto/v2: keys, tags, sequence numbers; known answers from an
 * independent HMAC implementation (Python's hmac module). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/crypto_openssl.h"
#include "proto/frame.h"
#include "proto/v2.h"

static const struct luaota_crypto *crypto = &luaota_crypto_openssl;

static uint8_t chip_key[32], nd[16], ns[16];

static void fill(uint8_t *p, size_t n, uint8_t first)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(first + i);
}

static int setup(void **state)
{
	(void)state;
	fill(chip_key, sizeof(chip_key), 0);
	fill(nd, sizeof(nd), 0x40);
	fill(ns, sizeof(ns), 0x80);
	return 0;
}

static void assert_hex(const uint8_t *bytes, size_t len, const char *want)
{
	char hex[2 * 64 + 1];

	luaota_v2_hex(bytes, len, hex);
	assert_string_equal(hex, want);
}

/* RFC 4231 test case 2, fed in three parts; FIPS 180-2 "abc". */
static void crypto_interface_known_answers(void **state)
{
	struct luaota_span parts[3] = { { "what do ya", 10 },
					{ "", 0 },
					{ " want for nothing?", 18 } };
	struct luaota_sha256_state st;
	uint8_t out[32];

	(void)state;
	assert_int_equal(crypto->hmac_sha256(NULL, (const uint8_t *)"Jefe", 4,
					     parts, 3, out),
			 0);
	assert_hex(out, 32,
		   "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b9"
		   "64ec3843");
	assert_int_equal(crypto->sha256_init(NULL, &st), 0);
	assert_int_equal(crypto->sha256_update(NULL, &st, "a", 1), 0);
	assert_int_equal(crypto->sha256_update(NULL, &st, "bc", 2), 0);
	assert_int_equal(crypto->sha256_final(NULL, &st, out), 0);
	assert_hex(out, 32,
		   "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61"
		   "f20015ad");
}

static void key_derivation_known_answers(void **state)
{
	uint8_t k[32], ks[32];

	(void)state;
	assert_int_equal(luaota_v2_hello_key(crypto, chip_key, k), 0);
	assert_hex(k, 32,
		   "039a7a8b26195948eaef4da7711a48f547c5c920dc469d6b172533e7"
		   "0aacd03f");
	assert_int_equal(luaota_v2_session_key(crypto, chip_key, nd, ns, ks),
			 0);
	assert_hex(ks, 32,
		   "8df6f02dcf7fe528be83d1b9379876e537014cbaddc68d1b9ca0355a"
		   "d0c897af");
	assert_int_equal(luaota_v2_config_key(crypto, ks, k), 0);
	assert_hex(k, 32,
		   "ffc44549ecfc95033a10628c9ede0516d81b40220915207e97340b8c"
		   "b33b40c7");
}

static void tag_known_answers(void **state)
{
	const char *hello = "{\"v\":2,\"a\":\"hello\",\"id\":\"13572468\"}";
	const char *chunk =
	    "{\"v\":2,\"a\":\"chunk\",\"h\":\"0011223344556677\",\"off\":0,"
	    "\"data\":5}";
	uint8_t kh[32], ks[32];
	char tag[LUAOTA_V2_TAG_LEN + 1];

	(void)state;
	assert_int_equal(luaota_v2_hello_key(crypto, chip_key, kh), 0);
	assert_int_equal(luaota_v2_tag(crypto, kh, LUAOTA_V2_DIR_DEVICE, 0,
				       hello, strlen(hello), NULL, 0, tag),
			 0);
	assert_string_equal(tag, "0f6f21a9e7cf9b3d6f530c9e2021da9f");
	assert_int_equal(luaota_v2_session_key(crypto, chip_key, nd, ns, ks),
			 0);
	assert_int_equal(luaota_v2_tag(crypto, ks, LUAOTA_V2_DIR_SERVER, 3,
				       chunk, strlen(chunk),
				       (const uint8_t *)"hello", 5, tag),
			 0);
	assert_string_equal(tag, "afc8f61a4aacc300c233ba8ffb68b2dd");
}

/* A sealed record as the peer frames it. */
struct wire {
	uint8_t buf[512];
	size_t len;
	struct luaota_record rec;
};

static void seal(struct luaota_v2_channel *ch, const char *json,
		 const char *payload, struct wire *w)
{
	size_t plen = payload != NULL ? strlen(payload) : 0;

	assert_int_equal(luaota_v2_seal(ch, json, strlen(json),
					(const uint8_t *)payload, plen, w->buf,
					sizeof(w->buf), &w->len),
			 0);
}

/* Frames w as a v2 receiver does; the payload length is given. */
static void frame(struct wire *w, size_t payload_len)
{
	struct luaota_framer f;

	luaota_frame_init(&f, LUAOTA_V2_HEADER_MAX, LUAOTA_V2_CHUNK_MAX, 1);
	luaota_frame_set_tag_len(&f, LUAOTA_V2_TAG_LEN);
	assert_int_equal(luaota_frame_scan(&f, w->buf, w->len, &w->rec),
			 LUAOTA_FRAME_HEADER);
	luaota_frame_set_payload(&f, (int64_t)payload_len);
	assert_int_equal(luaota_frame_scan(&f, w->buf, w->len, &w->rec),
			 LUAOTA_FRAME_RECORD);
}

static void pair(struct luaota_v2_channel *dev, struct luaota_v2_channel *srv)
{
	uint8_t ks[32];

	assert_int_equal(luaota_v2_session_key(crypto, chip_key, nd, ns, ks),
			 0);
	luaota_v2_channel_init(dev, crypto, ks, LUAOTA_V2_DIR_DEVICE);
	luaota_v2_channel_init(srv, crypto, ks, LUAOTA_V2_DIR_SERVER);
}

static void sealed_records_open_in_order(void **state)
{
	struct luaota_v2_channel dev, srv;
	struct wire a, b;

	(void)state;
	pair(&dev, &srv);
	seal(&srv, "{\"v\":2,\"a\":\"chunk\",\"data\":5}", "12345", &a);
	seal(&srv, "{\"v\":2,\"a\":\"commit\"}", NULL, &b);
	frame(&a, 5);
	frame(&b, 0);
	assert_int_equal(luaota_v2_open(&dev, &a.rec), 0);
	assert_int_equal(luaota_v2_open(&dev, &b.rec), 0);
	assert_true(dev.recv_seq == 2 && srv.send_seq == 2);
}

static void payload_tamper_fails(void **state)
{
	struct luaota_v2_channel dev, srv;
	struct wire a;

	(void)state;
	pair(&dev, &srv);
	seal(&srv, "{\"v\":2,\"a\":\"chunk\",\"data\":5}", "12345", &a);
	a.buf[a.len - 1] ^= 0x01; /* same length, one bit */
	frame(&a, 5);
	assert_int_equal(luaota_v2_open(&dev, &a.rec), -1);
	assert_true(dev.recv_seq == 0);
}

static void json_tamper_fails(void **state)
{
	struct luaota_v2_channel dev, srv;
	struct wire a;

	(void)state;
	pair(&dev, &srv);
	seal(&srv, "{\"v\":2,\"a\":\"commit\",\"rc\":8}", NULL, &a);
	a.buf[strlen("{\"v\":2,\"a\":\"commit\",\"rc\":")] = '9';
	frame(&a, 0);
	assert_int_equal(luaota_v2_open(&dev, &a.rec), -1);
}

static void replayed_record_fails(void **state)
{
	struct luaota_v2_channel dev, srv;
	struct wire a;

	(void)state;
	pair(&dev, &srv);
	seal(&srv, "{\"v\":2,\"a\":\"current\"}", NULL, &a);
	frame(&a, 0);
	assert_int_equal(luaota_v2_open(&dev, &a.rec), 0);
	assert_int_equal(luaota_v2_open(&dev, &a.rec), -1);
}

static void reordered_records_fail(void **state)
{
	struct luaota_v2_channel dev, srv;
	struct wire a, b;

	(void)state;
	pair(&dev, &srv);
	seal(&srv, "{\"v\":2,\"a\":\"x\"}", NULL, &a);
	seal(&srv, "{\"v\":2,\"a\":\"y\"}", NULL, &b);
	frame(&a, 0);
	frame(&b, 0);
	assert_int_equal(luaota_v2_open(&dev, &b.rec), -1);
	assert_int_equal(luaota_v2_open(&dev, &a.rec), 0);
	assert_int_equal(luaota_v2_open(&dev, &b.rec), 0);
}

/* A device's own record sent back to it is not a server record. */
static void reflected_record_fails(void **state)
{
	struct luaota_v2_channel dev, srv;
	struct wire a;

	(void)state;
	pair(&dev, &srv);
	seal(&dev, "{\"v\":2,\"s\":\"ok\"}", NULL, &a);
	frame(&a, 0);
	assert_int_equal(luaota_v2_open(&dev, &a.rec), -1);
	assert_int_equal(luaota_v2_open(&srv, &a.rec), 0);
}

/* A record from another session (other server nonce) fails. */
static void other_session_record_fails(void **state)
{
	struct luaota_v2_channel dev, srv;
	uint8_t ks[32];
	struct wire a;

	(void)state;
	pair(&dev, &srv);
	ns[0] ^= 1;
	assert_int_equal(luaota_v2_session_key(crypto, chip_key, nd, ns, ks),
			 0);
	ns[0] ^= 1;
	luaota_v2_channel_init(&srv, crypto, ks, LUAOTA_V2_DIR_SERVER);
	seal(&srv, "{\"v\":2,\"a\":\"current\"}", NULL, &a);
	frame(&a, 0);
	assert_int_equal(luaota_v2_open(&dev, &a.rec), -1);
}

/* Moving bytes between JSON and payload changes the tag. */
static void boundary_shift_changes_tag(void **state)
{
	char t1[LUAOTA_V2_TAG_LEN + 1], t2[LUAOTA_V2_TAG_LEN + 1];

	(void)state;
	assert_int_equal(luaota_v2_tag(crypto, chip_key, 'S', 1, "{}a", 3,
				       (const uint8_t *)"b", 1, t1),
			 0);
	assert_int_equal(luaota_v2_tag(crypto, chip_key, 'S', 1, "{}", 2,
				       (const uint8_t *)"ab", 2, t2),
			 0);
	assert_string_not_equal(t1, t2);
}

/* A truncated tag is a framing error; so is a legacy-length one. */
static void short_tag_fails_framing(void **state)
{
	const char *legacy =
	    "{\"v\":2,\"a\":\"current\",\"rc\":12345678}0f6f21\n";
	struct luaota_framer f;
	struct luaota_record rec;

	(void)state;
	luaota_frame_init(&f, LUAOTA_V2_HEADER_MAX, LUAOTA_V2_CHUNK_MAX, 1);
	luaota_frame_set_tag_len(&f, LUAOTA_V2_TAG_LEN);
	assert_int_equal(luaota_frame_scan(&f, (const uint8_t *)legacy,
					   strlen(legacy), &rec),
			 LUAOTA_FRAME_ESIG);
}

static void seal_refuses_bad_input(void **state)
{
	struct luaota_v2_channel dev, srv;
	uint8_t out[64];
	size_t len;

	(void)state;
	pair(&dev, &srv);
	assert_int_equal(
	    luaota_v2_seal(&srv, "{\n}", 3, NULL, 0, out, sizeof(out), &len),
	    -1);
	assert_int_equal(
	    luaota_v2_seal(&srv, "{}", 2, out, 40, out, sizeof(out), &len), -1);
	assert_true(srv.send_seq == 0);
}

static void secret_fields_known_answer(void **state)
{
	const char *pw =
	    "correct horse battery staple, and then some more bytes";
	uint8_t ks[32], kc[32], enc[64], dec[64];

	(void)state;
	assert_int_equal(luaota_v2_session_key(crypto, chip_key, nd, ns, ks),
			 0);
	assert_int_equal(luaota_v2_config_key(crypto, ks, kc), 0);
	assert_int_equal(luaota_v2_secret_xor(crypto, kc, "spwd", 4,
					      (const uint8_t *)pw, strlen(pw),
					      enc),
			 0);
	assert_hex(enc, strlen(pw),
		   "4f87e3ff30eb0f381c03565dea5a3f943aa8682c332e75cce57f5f0e"
		   "79b5723bfc382f4b1187c1bca8a8856f4343d79027cec154ec5f");
	assert_int_equal(
	    luaota_v2_secret_xor(crypto, kc, "spwd", 4, enc, strlen(pw), dec),
	    0);
	assert_memory_equal(dec, pw, strlen(pw));
}

static void unhex_is_strict(void **state)
{
	uint8_t out[2];

	(void)state;
	assert_int_equal(luaota_v2_unhex("00ff", 4, out, 2), 0);
	assert_true(out[0] == 0 && out[1] == 0xff);
	assert_int_equal(luaota_v2_unhex("00FF", 4, out, 2), -1);
	assert_int_equal(luaota_v2_unhex("00f", 3, out, 2), -1);
	assert_int_equal(luaota_v2_unhex("00fg", 4, out, 2), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(crypto_interface_known_answers),
		cmocka_unit_test(key_derivation_known_answers),
		cmocka_unit_test(tag_known_answers),
		cmocka_unit_test(sealed_records_open_in_order),
		cmocka_unit_test(payload_tamper_fails),
		cmocka_unit_test(json_tamper_fails),
		cmocka_unit_test(replayed_record_fails),
		cmocka_unit_test(reordered_records_fail),
		cmocka_unit_test(reflected_record_fails),
		cmocka_unit_test(other_session_record_fails),
		cmocka_unit_test(boundary_shift_changes_tag),
		cmocka_unit_test(short_tag_fails_framing),
		cmocka_unit_test(seal_refuses_bad_input),
		cmocka_unit_test(secret_fields_known_answer),
		cmocka_unit_test(unhex_is_strict),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
