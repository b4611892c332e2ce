/* proto/: framing, signatures, the record writer and chip ids. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "json_data.h"
#include "proto/chipid.h"
#include "proto/crypto_openssl.h"
#include "proto/frame.h"
#include "proto/protocol.h"
#include "proto/record.h"
#include "proto/sig.h"

#define SECRET "selftest-secret"

static const struct luaota_crypto *crypto = &luaota_crypto_openssl;

static void sign(const char *secret, const char *json, char out[7])
{
	assert_int_equal(luaota_sig_compute(crypto, (const uint8_t *)secret,
					    strlen(secret), json, strlen(json),
					    out),
			 0);
}

static void known_answers(void **state)
{
	char sig[7], key[81];

	(void)state;
	sign("supersekrit", "{\"r\":\"OK!\"}", sig);
	assert_string_equal(sig, "4ef057");
	sign("yoursecret", "{\"a\":\"HI\",\"id\":11223344}", sig);
	assert_string_equal(sig, "723efc");
	memset(key, 'k', 80);
	key[80] = '\0';
	sign(key, "{\"a\":\"pu\",\"data\":1024}", sig);
	assert_string_equal(sig, "b0dfd9");
}

/* HMAC-MD5 itself: RFC 2202's cases, a short key and one past a block. */
static void hmac_md5_rfc2202(void **state)
{
	static const uint8_t want1[LUAOTA_MD5_LEN] = {
		0x92, 0x94, 0x72, 0x7a, 0x36, 0x38, 0xbb, 0x1c,
		0x13, 0xf4, 0x8e, 0xf8, 0x15, 0x8b, 0xfc, 0x9d,
	};
	static const uint8_t want2[LUAOTA_MD5_LEN] = {
		0x75, 0x0c, 0x78, 0x3e, 0x6a, 0xb0, 0xb5, 0x03,
		0xea, 0xa8, 0x6e, 0x31, 0x0a, 0x5d, 0xb7, 0x38,
	};
	static const uint8_t want6[LUAOTA_MD5_LEN] = {
		0x6b, 0x1a, 0xb7, 0xfe, 0x4b, 0xd7, 0xbf, 0x8f,
		0x0b, 0x62, 0xe6, 0xce, 0x61, 0xb9, 0xd0, 0xcd,
	};
	const char *msg6 = "Test Using Larger Than Block-Size Key - Hash Key "
			   "First";
	uint8_t key[80], out[LUAOTA_MD5_LEN];

	(void)state;
	memset(key, 0x0b, 16);
	assert_int_equal(crypto->hmac_md5(crypto->ctx, key, 16,
					  (const uint8_t *)"Hi There", 8, out),
			 0);
	assert_memory_equal(out, want1, sizeof(out));
	assert_int_equal(
	    crypto->hmac_md5(crypto->ctx, (const uint8_t *)"Jefe", 4,
			     (const uint8_t *)"what do ya want for nothing?",
			     28, out),
	    0);
	assert_memory_equal(out, want2, sizeof(out));
	memset(key, 0xaa, sizeof(key));
	assert_int_equal(crypto->hmac_md5(crypto->ctx, key, sizeof(key),
					  (const uint8_t *)msg6, strlen(msg6),
					  out),
			 0);
	assert_memory_equal(out, want6, sizeof(out));
}

static void verify_accepts_and_rejects(void **state)
{
	const char *json = "{\"r\":\"OK!\"}";
	const uint8_t *k = (const uint8_t *)"supersekrit";

	(void)state;
	assert_int_equal(
	    luaota_sig_verify(crypto, k, 11, json, strlen(json), "4ef057"), 0);
	assert_int_equal(
	    luaota_sig_verify(crypto, k, 11, json, strlen(json), "4ef058"), -1);
	assert_int_equal(
	    luaota_sig_verify(crypto, k, 10, json, strlen(json), "4ef057"), -1);
	assert_int_equal(luaota_ct_compare("abc", "abc", 3), 0);
	assert_int_not_equal(luaota_ct_compare("abc", "abd", 3), 0);
}

/* Builds a signed record; returns its size. */
static size_t make_record(const char *json, const uint8_t *payload,
			  size_t payload_len, uint8_t *out, size_t cap)
{
	size_t len = 0;

	assert_int_equal(luaota_record_write(crypto, (const uint8_t *)SECRET,
					     strlen(SECRET), json, strlen(json),
					     payload, payload_len, out, cap,
					     &len),
			 LUAOTA_RECORD_OK);
	return len;
}

struct framed {
	int status;	 /* last status the framer returned */
	size_t json_off; /* spans of the record, as offsets */
	size_t json_len;
	size_t payload_off;
	size_t payload_len;
	size_t size;
};

/*
 * Delivers stream[0..total) to a framer as it would arrive in pieces ending
 * at each of cuts[] (the last piece ends at total), answering HEADER as a
 * decoder would.  Stops at the first record or error.
 */
static struct framed frame_pieces(const uint8_t *stream, size_t total,
				  const size_t *cuts, size_t ncuts, int eof)
{
	struct luaota_framer f;
	struct luaota_record rec;
	struct framed out = { 0 };
	size_t piece, have;

	luaota_frame_init(&f, 512, LUAOTA_CHUNK_SIZE, 1);
	for (piece = 0; piece <= ncuts; piece++) {
		have = piece < ncuts ? cuts[piece] : total;
		for (;;) {
			out.status = luaota_frame_scan(&f, stream, have, &rec);
			if (out.status != LUAOTA_FRAME_HEADER)
				break;
			out.status = luaota_frame_set_payload(
			    &f, json_data_field(rec.json, rec.json_len));
			if (out.status != LUAOTA_FRAME_MORE)
				return out;
		}
		if (out.status == LUAOTA_FRAME_RECORD) {
			out.json_off =
			    (size_t)((const uint8_t *)rec.json - stream);
			out.json_len = rec.json_len;
			out.payload_off = (size_t)(rec.payload - stream);
			out.payload_len = rec.payload_len;
			out.size = rec.size;
			return out;
		}
		if (out.status < 0)
			return out;
	}
	if (eof)
		out.status = luaota_frame_finish(&f, total);
	return out;
}

static struct framed frame_whole(const uint8_t *stream, size_t total)
{
	return frame_pieces(stream, total, NULL, 0, 0);
}

static void assert_same(struct framed a, struct framed b)
{
	assert_int_equal(a.status, b.status);
	assert_int_equal(a.json_off, b.json_off);
	assert_int_equal(a.json_len, b.json_len);
	assert_int_equal(a.payload_off, b.payload_off);
	assert_int_equal(a.payload_len, b.payload_len);
	assert_int_equal(a.size, b.size);
}

static void frames_record_with_payload(void **state)
{
	uint8_t payload[LUAOTA_CHUNK_SIZE], buf[LUAOTA_SEGMENT_MAX];
	const char *json = "{\"a\":\"pu\",\"data\":1024}";
	struct framed r;
	size_t i, len;

	(void)state;
	for (i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i * 7);
	len = make_record(json, payload, sizeof(payload), buf, sizeof(buf));
	r = frame_whole(buf, len);
	assert_int_equal(r.status, LUAOTA_FRAME_RECORD);
	assert_int_equal(r.json_len, strlen(json));
	assert_memory_equal(buf + r.json_off, json, strlen(json));
	assert_int_equal(r.payload_len, sizeof(payload));
	assert_memory_equal(buf + r.payload_off, payload, sizeof(payload));
	assert_int_equal(r.size, len);
	assert_int_equal(luaota_sig_verify(crypto, (const uint8_t *)SECRET,
					   strlen(SECRET), json, strlen(json),
					   (const char *)buf + strlen(json)),
			 0);
}

static void frames_record_without_payload(void **state)
{
	uint8_t buf[128];
	size_t len = make_record("{\"s\":\"OK\"}", NULL, 0, buf, sizeof(buf));
	struct framed r = frame_whole(buf, len);

	(void)state;
	assert_int_equal(r.status, LUAOTA_FRAME_RECORD);
	assert_int_equal(r.payload_len, 0);
	assert_int_equal(r.size, len);
}

static size_t sample_stream(uint8_t *buf, size_t cap)
{
	uint8_t payload[300];
	size_t i;

	for (i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i ^ 0x5a);
	payload[10] = '\n'; /* a newline inside the payload is data */
	return make_record("{\"a\":\"dl\",\"data\":300,\"name\":\"x.bin\"}",
			   payload, sizeof(payload), buf, cap);
}

static void byte_at_a_time_matches_whole(void **state)
{
	uint8_t buf[LUAOTA_SEGMENT_MAX];
	size_t cuts[LUAOTA_SEGMENT_MAX];
	size_t i, len = sample_stream(buf, sizeof(buf));

	(void)state;
	for (i = 0; i + 1 < len; i++)
		cuts[i] = i + 1;
	assert_same(frame_pieces(buf, len, cuts, len - 1, 0),
		    frame_whole(buf, len));
}

static void every_two_piece_split_matches_whole(void **state)
{
	uint8_t buf[LUAOTA_SEGMENT_MAX];
	size_t cut, len = sample_stream(buf, sizeof(buf));
	struct framed whole = frame_whole(buf, len);

	(void)state;
	assert_int_equal(whole.status, LUAOTA_FRAME_RECORD);
	for (cut = 0; cut <= len; cut++)
		assert_same(frame_pieces(buf, len, &cut, 1, 0), whole);
}

static void rejects_missing_newline(void **state)
{
	uint8_t buf[600];
	struct framed r;

	(void)state;
	memset(buf, 'x', sizeof(buf));
	r = frame_whole(buf, 512); /* exactly the cap: may still come */
	assert_int_equal(r.status, LUAOTA_FRAME_MORE);
	r = frame_whole(buf, 513);
	assert_int_equal(r.status, LUAOTA_FRAME_ENOLINE);
}

static void rejects_short_header(void **state)
{
	const char *rec = "{\"s\":1}abcdef\n"; /* 13 characters */
	struct framed r = frame_whole((const uint8_t *)rec, strlen(rec));

	(void)state;
	assert_int_equal(r.status, LUAOTA_FRAME_ESHORT);
}

static void rejects_bad_signature_text(void **state)
{
	static const char *bad[] = {
		"{\"s\":\"OK\"}ABCDEF\n", /* uppercase */
		"{\"s\":\"OK\"}12345g\n", /* not hex */
		"{\"s\":\"OK\"}1234 6\n",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(
		    frame_whole((const uint8_t *)bad[i], strlen(bad[i])).status,
		    LUAOTA_FRAME_ESIG);
}

static void rejects_payload_longer_than_announced(void **state)
{
	uint8_t buf[128];
	size_t len = make_record("{\"a\":\"pu\",\"data\":3}",
				 (const uint8_t *)"abc", 3, buf, sizeof(buf));

	(void)state;
	buf[len] = 'd';
	assert_int_equal(frame_whole(buf, len + 1).status, LUAOTA_FRAME_ELONG);
}

static void rejects_payload_shorter_than_announced(void **state)
{
	uint8_t buf[128];
	size_t len = make_record("{\"a\":\"pu\",\"data\":3}",
				 (const uint8_t *)"abc", 3, buf, sizeof(buf));

	(void)state;
	assert_int_equal(frame_pieces(buf, len - 1, NULL, 0, 1).status,
			 LUAOTA_FRAME_ETRUNC);
	/* A header alone, cut before its newline, is truncated too. */
	assert_int_equal(frame_pieces(buf, 5, NULL, 0, 1).status,
			 LUAOTA_FRAME_ETRUNC);
	/* Nothing received at all is a clean end. */
	assert_int_equal(frame_pieces(buf, 0, NULL, 0, 1).status,
			 LUAOTA_FRAME_MORE);
}

static void rejects_bad_data_field(void **state)
{
	static const char *bad[] = {
		"{\"a\":\"pu\",\"data\":-1}",
		"{\"a\":\"pu\",\"data\":1025}",
		"{\"a\":\"pu\",\"data\":1.5}",
		"{\"a\":\"pu\",\"data\":\"12\"}",
		"{\"a\":\"pu\",\"data\":99999999999999999999}",
	};
	uint8_t buf[128];
	size_t i, len;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		len = make_record(bad[i], NULL, 0, buf, sizeof(buf));
		assert_int_equal(frame_whole(buf, len).status,
				 LUAOTA_FRAME_EDATA);
	}
}

static void errors_are_sticky_until_reset(void **state)
{
	struct luaota_framer f;
	struct luaota_record rec;
	const uint8_t *bad = (const uint8_t *)"{\"s\":1}abcdef\n";
	uint8_t good[64];
	size_t len = make_record("{\"s\":\"OK\"}", NULL, 0, good, sizeof(good));

	(void)state;
	luaota_frame_init(&f, 512, 1024, 1);
	assert_int_equal(luaota_frame_scan(&f, bad, 14, &rec),
			 LUAOTA_FRAME_ESHORT);
	assert_int_equal(luaota_frame_scan(&f, good, len, &rec),
			 LUAOTA_FRAME_ESHORT);
	assert_int_equal(luaota_frame_set_payload(&f, 0), LUAOTA_FRAME_EUSAGE);
	luaota_frame_reset(&f);
	assert_int_equal(luaota_frame_scan(&f, good, len, &rec),
			 LUAOTA_FRAME_HEADER);
	assert_int_equal(luaota_frame_set_payload(&f, 0), LUAOTA_FRAME_MORE);
	assert_int_equal(luaota_frame_scan(&f, good, len, &rec),
			 LUAOTA_FRAME_RECORD);
	assert_string_not_equal(luaota_frame_strerror(LUAOTA_FRAME_ESIG),
				luaota_frame_strerror(LUAOTA_FRAME_ESHORT));
}

static void non_lockstep_leaves_the_rest(void **state)
{
	struct luaota_framer f;
	struct luaota_record rec;
	uint8_t buf[128];
	size_t len = make_record("{\"s\":\"OK\"}", NULL, 0, buf, sizeof(buf));

	(void)state;
	memcpy(buf + len, buf, len);
	luaota_frame_init(&f, 512, 1024, 0);
	assert_int_equal(luaota_frame_scan(&f, buf, 2 * len, &rec),
			 LUAOTA_FRAME_HEADER);
	luaota_frame_set_payload(&f, 0);
	assert_int_equal(luaota_frame_scan(&f, buf, 2 * len, &rec),
			 LUAOTA_FRAME_RECORD);
	assert_int_equal(rec.size, len);
}

static void writer_refuses_oversize_and_bad_json(void **state)
{
	uint8_t payload[LUAOTA_SEGMENT_MAX], out[2 * LUAOTA_SEGMENT_MAX];
	const char *json = "{\"a\":\"pu\",\"data\":1024}";
	const uint8_t *k = (const uint8_t *)SECRET;
	size_t len, fits = LUAOTA_SEGMENT_MAX - strlen(json) - 7;

	(void)state;
	memset(payload, 'p', sizeof(payload));
	assert_int_equal(luaota_record_write(crypto, k, strlen(SECRET), json,
					     strlen(json), payload, fits, out,
					     sizeof(out), &len),
			 LUAOTA_RECORD_OK);
	assert_int_equal(len, LUAOTA_SEGMENT_MAX);
	assert_int_equal(luaota_record_write(crypto, k, strlen(SECRET), json,
					     strlen(json), payload, fits + 1,
					     out, sizeof(out), &len),
			 LUAOTA_RECORD_ETOOBIG);
	assert_int_equal(luaota_record_write(crypto, k, strlen(SECRET), json,
					     strlen(json), payload, 10, out, 20,
					     &len),
			 LUAOTA_RECORD_ETOOBIG);
	assert_int_equal(luaota_record_write(crypto, k, strlen(SECRET),
					     "{\"a\":\n1}", 8, NULL, 0, out,
					     sizeof(out), &len),
			 LUAOTA_RECORD_EJSON);
	assert_int_equal(luaota_record_write(crypto, k, strlen(SECRET), "", 0,
					     NULL, 0, out, sizeof(out), &len),
			 LUAOTA_RECORD_EJSON);
}

static void writer_output_matches_capture(void **state)
{
	/* The first server record of the capture in the protocol document. */
	uint8_t out[64];
	size_t len;

	(void)state;
	assert_int_equal(luaota_record_write(crypto, (const uint8_t *)SECRET,
					     strlen(SECRET), "{\"r\":\"OK!\"}",
					     11, NULL, 0, out, sizeof(out),
					     &len),
			 LUAOTA_RECORD_OK);
	assert_int_equal(len, 18);
	assert_memory_equal(out, "{\"r\":\"OK!\"}fe4d30\n", 18);
}

static void hi_capture_verifies(void **state)
{
	const char *hi =
	    "{\"leave\":false,\"port\":37823,\"ssid\":\"dummy-ssid\","
	    "\"a\":\"HI\",\"id\":13572468,\"spwd\":\"dummy-pwd\","
	    "\"server\":\"127.0.0.1\"}";

	(void)state;
	assert_int_equal(luaota_sig_verify(crypto, (const uint8_t *)SECRET,
					   strlen(SECRET), hi, strlen(hi),
					   "d2ee4d"),
			 0);
}

static void chipid_accepts_canonical_forms(void **state)
{
	char id[LUAOTA_CHIPID_MAX + 1];

	(void)state;
	assert_int_equal(
	    luaota_chipid_normalize(LUAOTA_JSON_NUMBER, "13572468", 8, id), 0);
	assert_string_equal(id, "13572468");
	assert_int_equal(
	    luaota_chipid_normalize(LUAOTA_JSON_NUMBER, "0", 1, id), 0);
	assert_string_equal(id, "0");
	assert_int_equal(
	    luaota_chipid_normalize(LUAOTA_JSON_STRING, "13572468", 8, id), 0);
	assert_string_equal(id, "13572468");
	assert_int_equal(
	    luaota_chipid_normalize(LUAOTA_JSON_STRING, "esp32-a1b2c3", 12, id),
	    0);
	assert_string_equal(id, "esp32-a1b2c3");
	assert_int_equal(luaota_chipid_normalize(LUAOTA_JSON_NUMBER,
						 "18446744073709551615", 20,
						 id),
			 0);
}

static void chipid_refuses_bad_forms(void **state)
{
	static const struct {
		enum luaota_json_kind kind;
		const char *text;
	} bad[] = {
		{ LUAOTA_JSON_NUMBER, "-1" },
		{ LUAOTA_JSON_NUMBER, "1.5" },
		{ LUAOTA_JSON_NUMBER, "1e3" },
		{ LUAOTA_JSON_NUMBER, "007" },
		{ LUAOTA_JSON_NUMBER, "" },
		{ LUAOTA_JSON_NUMBER, "123456789012345678901" },
		{ LUAOTA_JSON_STRING, "" },
		{ LUAOTA_JSON_STRING, "a\nb" },
		{ LUAOTA_JSON_STRING, "a\x01" },
		{ LUAOTA_JSON_STRING, "with space" },
		{ LUAOTA_JSON_STRING, "caf\xc3\xa9" },
		{ LUAOTA_JSON_STRING, "abcdefghijklmnopqrstu" },
	};
	char id[LUAOTA_CHIPID_MAX + 1];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(
		    luaota_chipid_normalize(bad[i].kind, bad[i].text,
					    strlen(bad[i].text), id),
		    -1);
		assert_string_equal(id, "");
	}
	/* An embedded NUL is a control character too. */
	assert_int_equal(
	    luaota_chipid_normalize(LUAOTA_JSON_STRING, "a\0b", 3, id), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(known_answers),
		cmocka_unit_test(hmac_md5_rfc2202),
		cmocka_unit_test(verify_accepts_and_rejects),
		cmocka_unit_test(frames_record_with_payload),
		cmocka_unit_test(frames_record_without_payload),
		cmocka_unit_test(byte_at_a_time_matches_whole),
		cmocka_unit_test(every_two_piece_split_matches_whole),
		cmocka_unit_test(rejects_missing_newline),
		cmocka_unit_test(rejects_short_header),
		cmocka_unit_test(rejects_bad_signature_text),
		cmocka_unit_test(rejects_payload_longer_than_announced),
		cmocka_unit_test(rejects_payload_shorter_than_announced),
		cmocka_unit_test(rejects_bad_data_field),
		cmocka_unit_test(errors_are_sticky_until_reset),
		cmocka_unit_test(non_lockstep_leaves_the_rest),
		cmocka_unit_test(writer_refuses_oversize_and_bad_json),
		cmocka_unit_test(writer_output_matches_capture),
		cmocka_unit_test(hi_capture_verifies),
		cmocka_unit_test(chipid_accepts_canonical_forms),
		cmocka_unit_test(chipid_refuses_bad_forms),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
