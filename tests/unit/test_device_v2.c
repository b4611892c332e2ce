/*
 * device/v2: whole boots against an in-process v2 server that can attack
 * the device; each test is named after the attack it stops.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "commit.h"
#include "flash_sim.h"
#include "posix/compile_lua.h"
#include "proto/crypto_openssl.h"
#include "proto/v2.h"
#include "stage.h"
#include "v2.h"

#define KEY_HEX                                                                \
	"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define BIG 10000 /* bytes of data.bin: several chunks, a full window */

static const struct luaota_crypto *crypto = &luaota_crypto_openssl;

/* Attacks the server can make. */
enum attack {
	NONE,
	TAMPER_CHUNK,	  /* flips a payload byte of the 2nd chunk in transit */
	UNSIGNED_CURRENT, /* answers HELLO "current" with a forged tag */
	ENDLESS,	  /* sends more bytes than a "get" asked for */
	SLOW,		  /* stops answering after two chunks */
	REPLAY,		  /* plays back a recorded session, whatever is asked */
};

struct server {
	uint32_t clock;
	enum attack attack;
	uint8_t key[LUAOTA_V2_KEY_LEN];
	struct luaota_v2_channel ch;
	int in_session;
	unsigned chunks_sent;
	/* The release it serves. */
	uint32_t rc;
	char manifest[2048];
	const char *names[2];
	uint8_t *content[2];
	size_t len[2];
	char h16[2][17];
	/* Bytes from the device not yet framed; bytes to it not yet read. */
	uint8_t in[8192];
	size_t in_len;
	uint8_t out[65536];
	size_t out_len, out_off;
	/* Everything sent to the device, for a later replay. */
	uint8_t record[65536];
	size_t record_len;
	/* What the device said. */
	char hello[1024];
	char last_reply[1024];
	int refused;
	int committed;
};

static struct server srv;
static struct flash_sim sim;
static struct luaota_port port;
static struct luaota_v2_device dev;

static uint32_t clock_now(void *ctx)
{
	(void)ctx;
	return srv.clock;
}

static int t_connect(void *ctx, const char *host, uint16_t p, uint32_t ms)
{
	(void)ctx;
	(void)host;
	(void)p;
	(void)ms;
	srv.in_len = 0;
	srv.out_len = srv.out_off = 0;
	srv.in_session = 0;
	srv.chunks_sent = 0;
	if (srv.attack == REPLAY) {
		memcpy(srv.out, srv.record, srv.record_len);
		srv.out_len = srv.record_len;
	}
	return 0;
}

/* Queues a sealed server record. */
static void push(const char *json, const uint8_t *payload, size_t plen)
{
	size_t len;

	assert_int_equal(luaota_v2_seal(&srv.ch, json, strlen(json), payload,
					plen, srv.out + srv.out_len,
					sizeof(srv.out) - srv.out_len, &len),
			 0);
	if (srv.attack == TAMPER_CHUNK && srv.chunks_sent == 2 && plen > 0)
		srv.out[srv.out_len + len - 1] ^= 0x01;
	memcpy(srv.record + srv.record_len, srv.out + srv.out_len, len);
	srv.record_len += len;
	srv.out_len += len;
}

static void on_hello(struct json_object *o, const char *json, size_t jlen,
		     const char *tag)
{
	uint8_t kh[LUAOTA_V2_KEY_LEN], nd[16], ns[16], ks[32];
	char expect[LUAOTA_V2_TAG_LEN + 1], nshex[33], ndhex[33], buf[512];
	struct json_object *v;
	int64_t rc;

	/* The HELLO is the device's, under the chip key; nothing secret. */
	assert_int_equal(luaota_v2_hello_key(crypto, srv.key, kh), 0);
	assert_int_equal(
	    luaota_v2_tag(crypto, kh, 'D', 0, json, jlen, NULL, 0, expect), 0);
	assert_memory_equal(expect, tag, LUAOTA_V2_TAG_LEN);
	assert_null(strstr(srv.hello, "spwd"));
	assert_null(strstr(srv.hello, "ssid"));
	assert_true(json_object_object_get_ex(o, "nd", &v));
	strcpy(ndhex, json_object_get_string(v));
	assert_int_equal(luaota_v2_unhex(ndhex, 32, nd, 16), 0);
	assert_true(json_object_object_get_ex(o, "rc", &v));
	rc = json_object_get_int64(v);
	assert_int_equal(crypto->random(NULL, ns, sizeof(ns)), 0);
	luaota_v2_hex(ns, 16, nshex);
	assert_int_equal(luaota_v2_session_key(crypto, srv.key, nd, ns, ks), 0);
	luaota_v2_channel_init(&srv.ch, crypto, ks, 'S');
	srv.ch.recv_seq = 1;
	srv.in_session = 1;
	if (srv.attack == UNSIGNED_CURRENT) {
		snprintf(
		    buf, sizeof(buf),
		    "{\"v\":2,\"a\":\"current\",\"ns\":\"%s\",\"nd\":\"%s\","
		    "\"rc\":%lld}%032d\n",
		    nshex, ndhex, (long long)rc, 0);
		memcpy(srv.out + srv.out_len, buf, strlen(buf));
		srv.out_len += strlen(buf);
		return;
	}
	if ((uint32_t)rc == srv.rc) {
		snprintf(
		    buf, sizeof(buf),
		    "{\"v\":2,\"a\":\"current\",\"ns\":\"%s\",\"nd\":\"%s\","
		    "\"rc\":%lld}",
		    nshex, ndhex, (long long)rc);
		push(buf, NULL, 0);
		return;
	}
	{
		uint8_t kc[32], enc[32];
		char sec[65];
		const char *pw = "new-password";

		assert_int_equal(luaota_v2_config_key(crypto, ks, kc), 0);
		assert_int_equal(luaota_v2_secret_xor(crypto, kc, "spwd", 4,
						      (const uint8_t *)pw,
						      strlen(pw), enc),
				 0);
		luaota_v2_hex(enc, strlen(pw), sec);
		snprintf(
		    buf, sizeof(buf),
		    "{\"v\":2,\"a\":\"manifest\",\"ns\":\"%s\",\"nd\":\"%"
		    "s\",\"chunk\":1024,\"win\":3,\"sec\":{\"spwd\":\"%s\"},"
		    "\"data\":%zu}",
		    nshex, ndhex, sec, strlen(srv.manifest));
	}
	push(buf, (const uint8_t *)srv.manifest, strlen(srv.manifest));
}

static void on_get(struct json_object *o)
{
	struct json_object *h, *off, *len;
	char buf[256];
	size_t f, at, n;

	assert_true(json_object_object_get_ex(o, "h", &h));
	assert_true(json_object_object_get_ex(o, "off", &off));
	assert_true(json_object_object_get_ex(o, "len", &len));
	for (f = 0; f < 2; f++)
		if (strcmp(srv.h16[f], json_object_get_string(h)) == 0)
			break;
	assert_true(f < 2);
	at = (size_t)json_object_get_int64(off);
	n = (size_t)json_object_get_int64(len);
	assert_true(at + n <= srv.len[f]);
	if (srv.attack == SLOW && srv.chunks_sent >= 2)
		return;
	if (srv.attack == ENDLESS)
		n += 1; /* more than asked, still within the file */
	srv.chunks_sent++;
	snprintf(buf, sizeof(buf),
		 "{\"v\":2,\"a\":\"chunk\",\"h\":\"%s\",\"off\":%zu,\"data\":%"
		 "zu}",
		 srv.h16[f], at, n);
	push(buf, srv.content[f] + at, n);
}

/* Frames and answers whatever complete records the device sent. */
static void serve(void)
{
	for (;;) {
		uint8_t *nl = memchr(srv.in, '\n', srv.in_len);
		size_t hlen, jlen;
		struct json_object *o, *a;
		struct luaota_record rec;
		char json[1024];

		if (nl == NULL)
			return;
		hlen = (size_t)(nl - srv.in);
		assert_true(hlen > LUAOTA_V2_TAG_LEN);
		jlen = hlen - LUAOTA_V2_TAG_LEN;
		memcpy(json, srv.in, jlen);
		json[jlen] = '\0';
		o = json_tokener_parse(json);
		assert_non_null(o);
		assert_true(json_object_object_get_ex(o, "a", &a) ||
			    json_object_object_get_ex(o, "s", &a));
		if (!srv.in_session) {
			snprintf(srv.hello, sizeof(srv.hello), "%s", json);
			if (srv.attack != REPLAY)
				on_hello(o, json, jlen,
					 (const char *)srv.in + jlen);
		} else {
			memset(&rec, 0, sizeof(rec));
			rec.json = (const char *)srv.in;
			rec.json_len = jlen;
			rec.sig = (const char *)srv.in + jlen;
			assert_int_equal(luaota_v2_open(&srv.ch, &rec), 0);
			snprintf(srv.last_reply, sizeof(srv.last_reply), "%s",
				 json);
			if (strcmp(json_object_get_string(a), "get") == 0) {
				on_get(o);
			} else if (strcmp(json_object_get_string(a),
					  "staged") == 0) {
				char buf[64];

				snprintf(buf, sizeof(buf),
					 "{\"v\":2,\"a\":\"commit\",\"rc\":%u}",
					 (unsigned)srv.rc);
				push(buf, NULL, 0);
			} else if (strcmp(json_object_get_string(a),
					  "refused") == 0) {
				srv.refused = 1;
			} else if (strcmp(json_object_get_string(a),
					  "committed") == 0) {
				srv.committed = 1;
			}
		}
		json_object_put(o);
		memmove(srv.in, nl + 1, srv.in_len - hlen - 1);
		srv.in_len -= hlen + 1;
	}
}

static int t_send(void *ctx, const uint8_t *buf, size_t len)
{
	(void)ctx;
	assert_true(srv.in_len + len <= sizeof(srv.in));
	memcpy(srv.in + srv.in_len, buf, len);
	srv.in_len += len;
	serve();
	return 0;
}

static long t_recv(void *ctx, uint8_t *buf, size_t cap, uint32_t timeout_ms)
{
	size_t n = srv.out_len - srv.out_off;

	(void)ctx;
	if (n == 0) {
		srv.clock += timeout_ms; /* nothing comes: the time passes */
		return LUAOTA_RECV_TIMEOUT;
	}
	if (n > cap)
		n = cap;
	/* Odd pieces: records straddle receives. */
	if (n > 700)
		n = 700;
	memcpy(buf, srv.out + srv.out_off, n);
	srv.out_off += n;
	srv.clock += 1;
	return (long)n;
}

static void t_close(void *ctx)
{
	(void)ctx;
}

static const char init_v1[] = "print('release 1')\n";

/* Release rc: init.lua (compiled) and data.bin (BIG bytes of seed). */
static void release(uint32_t rc, unsigned seed)
{
	char h0[65], h1[65];
	uint8_t d[32];
	size_t i;

	srv.rc = rc;
	srv.names[0] = "init.lua";
	srv.names[1] = "data.bin";
	free(srv.content[0]);
	free(srv.content[1]);
	srv.len[0] = strlen(init_v1);
	srv.content[0] = calloc(1, srv.len[0] + 16); /* ENDLESS reads on */
	memcpy(srv.content[0], init_v1, srv.len[0]);
	srv.len[1] = BIG;
	srv.content[1] = calloc(1, BIG + 16);
	for (i = 0; i < BIG; i++)
		srv.content[1][i] = (uint8_t)(i * 7 + seed);
	assert_int_equal(luaota_sha256(srv.content[0], srv.len[0], d), 0);
	luaota_v2_hex(d, 32, h0);
	memcpy(srv.h16[0], h0, 16);
	srv.h16[0][16] = '\0';
	assert_int_equal(luaota_sha256(srv.content[1], srv.len[1], d), 0);
	luaota_v2_hex(d, 32, h1);
	memcpy(srv.h16[1], h1, 16);
	srv.h16[1][16] = '\0';
	snprintf(srv.manifest, sizeof(srv.manifest),
		 "{\"rc\":%u,\"files\":[{\"n\":\"init.lua\",\"len\":%zu,\"h\":"
		 "\"%s\",\"act\":\"cm\"},{\"n\":\"data.bin\",\"len\":%d,\"h\":"
		 "\"%s\",\"act\":\"dl\"}],\"del\":[\"old.lc\"],\"cfg\":{"
		 "\"app\":\"init\"},\"secret\":[\"spwd\"]}",
		 (unsigned)rc, srv.len[0], h0, BIG, h1);
}

static int setup(void **state)
{
	static const char config[] =
	    "{\"server\":\"updates.example\",\"port\":8266,\"ssid\":\"net\","
	    "\"spwd\":\"old-password\",\"app\":\"main\",\"key\":\"" KEY_HEX
	    "\"}";

	(void)state;
	memset(&srv, 0, sizeof(srv));
	assert_int_equal(luaota_v2_unhex(KEY_HEX, 64, srv.key, 32), 0);
	flash_sim_init(&sim);
	assert_int_equal(
	    flash_sim_put(&sim, LUAOTA_CONFIG_FILE, config, strlen(config)), 0);
	assert_int_equal(flash_sim_put(&sim, "old.lc", "x", 1), 0);
	memset(&port, 0, sizeof(port));
	port.flash = sim.flash;
	port.transport.connect = t_connect;
	port.transport.send = t_send;
	port.transport.recv = t_recv;
	port.transport.close = t_close;
	port.clock.now_ms = clock_now;
	port.crypto = luaota_crypto_openssl;
	luaota_lua_compiler_init(&port.compiler);
	release(1, 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	flash_sim_free(&sim);
	free(srv.content[0]);
	free(srv.content[1]);
	srv.content[0] = srv.content[1] = NULL;
	return 0;
}

/* Console overrides of the next boot (none by default). */
static const struct luaota_override *overrides;
static size_t n_overrides;

static enum luaota_outcome boot(void)
{
	struct luaota_v2_boot_args args = { "13572468", "5.1", 1u << 20,
					    overrides, n_overrides };
	struct luaota_boot_result r;

	assert_int_equal(luaota_v2_boot(&dev, &port, &args, &r), LUAOTA_OK);
	return r.outcome;
}

static uint32_t installed_rc(void)
{
	struct luaota_v2_release rel;

	assert_int_equal(luaota_v2_release_read(&sim.flash, crypto, &rel),
			 LUAOTA_OK);
	return rel.rc;
}

static const char *file_text(const char *name)
{
	static char buf[2048];
	const struct flash_sim_file *f = flash_sim_get(&sim, name);

	if (f == NULL)
		return NULL;
	snprintf(buf, sizeof(buf), "%.*s", (int)f->len, (const char *)f->data);
	return buf;
}

/* Nothing of a release installed: the flash is as set up. */
static void assert_untouched(void)
{
	assert_true(installed_rc() == 0);
	assert_null(flash_sim_get(&sim, "data.bin"));
	assert_non_null(flash_sim_get(&sim, "old.lc"));
	assert_non_null(strstr(file_text(LUAOTA_CONFIG_FILE), "old-password"));
}

static void update_then_current(void **state)
{
	static const struct luaota_override ov[] = {
		{ "server", "console.example", LUAOTA_VALUE_STRING },
		{ "port", "9000", LUAOTA_VALUE_NUMBER }
	};
	const struct flash_sim_file *f;

	(void)state;
	/* Staged content of a release no longer offered is dropped. */
	assert_int_equal(
	    flash_sim_put(&sim, "luaOTA/.~0123456789abcdef", "x", 1), 0);
	assert_int_equal(
	    flash_sim_put(&sim, "luaOTA/.~0123456789abcdefc", "x", 1), 0);
	assert_true(luaota_v2_configured(&sim.flash));
	overrides = ov;
	n_overrides = 2;
	assert_int_equal(boot(), LUAOTA_REBOOT);
	overrides = NULL;
	n_overrides = 0;
	assert_null(flash_sim_get(&sim, "luaOTA/.~0123456789abcdef"));
	assert_null(flash_sim_get(&sim, "luaOTA/.~0123456789abcdefc"));
	/* Console overrides persist in the config the commit wrote. */
	assert_non_null(strstr(file_text(LUAOTA_CONFIG_FILE),
			       "\"server\":\"console.example\""));
	assert_non_null(strstr(file_text(LUAOTA_CONFIG_FILE), "\"port\":9000"));
	assert_null(strstr(file_text(LUAOTA_CONFIG_FILE), "updates.example"));
	assert_true(srv.committed);
	assert_true(installed_rc() == 1);
	f = flash_sim_get(&sim, "data.bin");
	assert_non_null(f);
	assert_int_equal(f->len, BIG);
	assert_memory_equal(f->data, srv.content[1], BIG);
	assert_non_null(flash_sim_get(&sim, "init.lc"));
	assert_null(flash_sim_get(&sim, "init.lua"));
	assert_null(flash_sim_get(&sim, "old.lc"));
	/* The config: secret decrypted, cfg applied, key kept, rest kept. */
	assert_non_null(
	    strstr(file_text(LUAOTA_CONFIG_FILE), "\"spwd\":\"new-password\""));
	assert_non_null(
	    strstr(file_text(LUAOTA_CONFIG_FILE), "\"app\":\"init\""));
	assert_non_null(strstr(file_text(LUAOTA_CONFIG_FILE), KEY_HEX));
	assert_non_null(strstr(file_text(LUAOTA_CONFIG_FILE), "\"ssid\""));
	assert_int_equal(boot(), LUAOTA_APP_CURRENT);
	assert_non_null(strstr(srv.hello, "\"last\":\"updated\""));
	assert_non_null(strstr(srv.hello, "\"rc\":1"));
}

static void payload_tamper_in_transit_fails(void **state)
{
	(void)state;
	srv.attack = TAMPER_CHUNK;
	assert_int_equal(boot(), LUAOTA_APP_CLOSED);
	assert_untouched();
	/* The next boot, unattacked, completes the release. */
	srv.attack = NONE;
	assert_int_equal(boot(), LUAOTA_REBOOT);
	assert_non_null(strstr(srv.hello, "\"last\":\"failed:record\""));
	assert_true(installed_rc() == 1);
}

static void replay_of_recorded_session_fails(void **state)
{
	static uint8_t saved[sizeof(srv.record)];
	size_t n;

	assert_int_equal(boot(), LUAOTA_REBOOT);
	n = srv.record_len;
	memcpy(saved, srv.record, n);
	/* The same device as before that session, the server's recorded
	 * bytes played back to it whatever it says. */
	teardown(state);
	setup(state);
	memcpy(srv.record, saved, n);
	srv.record_len = n;
	srv.attack = REPLAY;
	assert_int_equal(boot(), LUAOTA_APP_REJECTED);
	assert_untouched();
}

/* Freeze: a "current" nobody could sign is only an unverified check-in,
 * and the device says so next time. */
static void freeze_by_forged_current_is_reported(void **state)
{
	(void)state;
	srv.attack = UNSIGNED_CURRENT;
	assert_int_equal(boot(), LUAOTA_APP_REJECTED);
	srv.attack = NONE;
	assert_int_equal(boot(), LUAOTA_REBOOT);
	assert_non_null(strstr(srv.hello, "\"last\":\"unverified\""));
}

static void no_server_is_unverified(void **state)
{
	(void)state;
	srv.attack = REPLAY; /* nothing recorded: silence */
	assert_int_equal(boot(), LUAOTA_APP_NOREPLY);
	assert_untouched();
}

static void rollback_release_refused(void **state)
{
	(void)state;
	release(5, 0);
	assert_int_equal(boot(), LUAOTA_REBOOT);
	release(4, 1);
	assert_int_equal(boot(), LUAOTA_APP_REFUSED);
	assert_true(srv.refused);
	assert_non_null(strstr(srv.last_reply, "rollback"));
	assert_true(installed_rc() == 5);
}

/* Mix-and-match: the installed counter on other content. */
static void same_counter_other_content_refused(void **state)
{
	(void)state;
	release(5, 0);
	assert_int_equal(boot(), LUAOTA_REBOOT);
	release(6, 1);
	srv.rc = 99; /* the server believes the chip is elsewhere */
	snprintf(srv.manifest, sizeof(srv.manifest), "{\"rc\":5,\"files\":[]}");
	assert_int_equal(boot(), LUAOTA_APP_REFUSED);
	assert_non_null(strstr(srv.last_reply, "mix"));
}

static void fast_forward_release_refused(void **state)
{
	(void)state;
	release(1 + LUAOTA_V2_RC_JUMP_MAX + 1, 0);
	assert_int_equal(boot(), LUAOTA_APP_REFUSED);
	assert_non_null(strstr(srv.last_reply, "fastforward"));
	assert_untouched();
}

static void endless_data_fails(void **state)
{
	(void)state;
	srv.attack = ENDLESS;
	assert_int_equal(boot(), LUAOTA_APP_CLOSED);
	assert_untouched();
}

/* Slow retrieval ends the session; what was staged is resumed. */
static void slow_retrieval_ends_session_then_resumes(void **state)
{
	(void)state;
	srv.attack = SLOW;
	assert_int_equal(boot(), LUAOTA_APP_TIMEOUT);
	assert_untouched();
	srv.attack = NONE;
	assert_int_equal(boot(), LUAOTA_REBOOT);
	assert_non_null(strstr(srv.hello, "\"last\":\"failed:slow\""));
	/* The HELLO listed the bytes staged by the slow boot. */
	assert_null(strstr(srv.hello, "\"staged\":[]"));
	assert_true(installed_rc() == 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(update_then_current, setup,
						teardown),
		cmocka_unit_test_setup_teardown(payload_tamper_in_transit_fails,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
		    replay_of_recorded_session_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    freeze_by_forged_current_is_reported, setup, teardown),
		cmocka_unit_test_setup_teardown(no_server_is_unverified, setup,
						teardown),
		cmocka_unit_test_setup_teardown(rollback_release_refused, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
		    same_counter_other_content_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(fast_forward_release_refused,
						setup, teardown),
		cmocka_unit_test_setup_teardown(endless_data_fails, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
		    slow_retrieval_ends_session_then_resumes, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
