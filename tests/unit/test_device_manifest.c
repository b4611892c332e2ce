/* device/manifest: every refusal a manifest can meet before download,
 * each test named after the attack it stops. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "manifest.h"
#include "proto/crypto_openssl.h"

#define H1 "1111111111111111111111111111111111111111111111111111111111111111"
#define H2 "2222222222222222222222222222222222222222222222222222222222222222"

/* The installed release: counter 7, this manifest. */
static const char installed_manifest[] =
    "{\"rc\":7,\"files\":[{\"n\":\"init.lua\",\"len\":100,\"h\":\"" H1
    "\",\"act\":\"cm\"}]}";

struct fixture {
	struct luaota_v2_release installed;
	struct luaota_v2_judge judge;
	uint8_t work[LUAOTA_V2_TOKEN_SIZE * LUAOTA_V2_MANIFEST_TOKENS];
	uint32_t held_h2; /* bytes of H2 already staged */
};

static struct fixture fx;

static uint32_t held(void *arg, const char h[64])
{
	struct fixture *f = arg;

	return memcmp(h, H2, 64) == 0 ? f->held_h2 : 0;
}

static int setup(void **state)
{
	(void)state;
	memset(&fx, 0, sizeof(fx));
	fx.installed.slot = 0;
	fx.installed.rc = 7;
	assert_int_equal(luaota_sha256(installed_manifest,
				       strlen(installed_manifest),
				       fx.installed.mh),
			 0);
	fx.judge.crypto = &luaota_crypto_openssl;
	fx.judge.installed = &fx.installed;
	fx.judge.free_bytes = 1u << 20;
	fx.judge.held = held;
	fx.judge.held_arg = &fx;
	fx.judge.work = fx.work;
	fx.judge.work_size = sizeof(fx.work);
	return 0;
}

static enum luaota_v2_verdict check(const char *m,
				    struct luaota_v2_manifest_info *info)
{
	return luaota_v2_manifest_check(&fx.judge, m, strlen(m), info);
}

/* A manifest of counter rc with one file name/len/act. */
static const char *one(uint32_t rc, const char *name, unsigned len,
		       const char *act)
{
	static char buf[512];

	snprintf(buf, sizeof(buf),
		 "{\"rc\":%u,\"files\":[{\"n\":\"%s\",\"len\":%u,\"h\":\"" H2
		 "\",\"act\":\"%s\"}],\"del\":[\"old.lc\"],\"cfg\":{\"app\":"
		 "\"main\"},\"secret\":[\"spwd\"]}",
		 (unsigned)rc, name, len, act);
	return buf;
}

static void newer_release_accepted(void **state)
{
	struct luaota_v2_manifest_info info;

	(void)state;
	assert_int_equal(check(one(8, "init.lua", 5000, "cm"), &info),
			 LUAOTA_V2_ACCEPT);
	assert_true(info.rc == 8 && info.n_files == 1 &&
		    info.n_deletions == 1 && info.need_bytes == 5000);
}

static void installed_release_is_same(void **state)
{
	struct luaota_v2_manifest_info info;

	(void)state;
	assert_int_equal(check(installed_manifest, &info), LUAOTA_V2_SAME);
	assert_memory_equal(info.mh, fx.installed.mh, LUAOTA_SHA256_LEN);
}

static void rollback_manifest_refused(void **state)
{
	(void)state;
	assert_int_equal(check(one(6, "init.lua", 10, "cm"), NULL),
			 LUAOTA_V2_RROLLBACK);
	assert_string_equal(luaota_v2_verdict_str(LUAOTA_V2_RROLLBACK),
			    "rollback");
}

/* An old manifest's counter on other content: mix-and-match. */
static void same_counter_other_content_refused(void **state)
{
	(void)state;
	assert_int_equal(check(one(7, "init.lua", 100, "cm"), NULL),
			 LUAOTA_V2_RMIX);
}

static void fast_forward_manifest_refused(void **state)
{
	(void)state;
	assert_int_equal(
	    check(one(7 + LUAOTA_V2_RC_JUMP_MAX, "a.lua", 1, "dl"), NULL),
	    LUAOTA_V2_ACCEPT);
	assert_int_equal(
	    check(one(8 + LUAOTA_V2_RC_JUMP_MAX, "a.lua", 1, "dl"), NULL),
	    LUAOTA_V2_RFASTFWD);
	assert_int_equal(check(one(4294967295u, "a.lua", 1, "dl"), NULL),
			 LUAOTA_V2_RFASTFWD);
}

static void names_outside_allowed_set_refused(void **state)
{
	static const char *const bad[] = {
		"luaOTA/config.json", "luaOTA/slot0",
		"luaOTA/.~stage",     "../x",
		"/init.lua",	      "a//b",
		"x\\u0001y",	      "a-name-longer-than-thirty-one-by"
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(check(one(8, bad[i], 1, "dl"), NULL),
				 LUAOTA_V2_RNAME);
	/* "cm" only compiles Lua sources. */
	assert_int_equal(check(one(8, "logo.bin", 1, "cm"), NULL),
			 LUAOTA_V2_RNAME);
	/* The same name twice, and a deletion inside luaOTA/. */
	assert_int_equal(
	    check("{\"rc\":8,\"files\":[{\"n\":\"a\",\"len\":1,\"h\":\"" H1
		  "\",\"act\":\"dl\"},{\"n\":\"a\",\"len\":1,\"h\":\"" H2
		  "\",\"act\":\"dl\"}]}",
		  NULL),
	    LUAOTA_V2_RNAME);
	assert_int_equal(check("{\"rc\":8,\"files\":[],\"del\":[\"luaOTA/"
			       "config.json\"]}",
			       NULL),
			 LUAOTA_V2_RNAME);
}

static void release_beyond_free_flash_refused(void **state)
{
	unsigned room = (1u << 20) - (unsigned)LUAOTA_V2_FLASH_RESERVE;

	(void)state;
	assert_int_equal(check(one(8, "big.bin", room, "dl"), NULL),
			 LUAOTA_V2_ACCEPT);
	assert_int_equal(check(one(8, "big.bin", room + 1, "dl"), NULL),
			 LUAOTA_V2_RSPACE);
	/* Bytes staged at an earlier boot are not needed again. */
	fx.held_h2 = 1;
	assert_int_equal(check(one(8, "big.bin", room + 1, "dl"), NULL),
			 LUAOTA_V2_ACCEPT);
}

/* Endless data starts here: no file may announce more than the cap. */
static void oversize_file_refused(void **state)
{
	(void)state;
	fx.judge.free_bytes = 0xffffffffu;
	assert_int_equal(
	    check(one(8, "big.bin", (unsigned)LUAOTA_V2_FILE_MAX + 1, "dl"),
		  NULL),
	    LUAOTA_V2_RMANIFEST);
}

static void malformed_manifests_refused(void **state)
{
	static const char *const bad[] = {
		"",
		"[]",
		"{\"files\":[]}",
		"{\"rc\":0,\"files\":[]}",
		"{\"rc\":-1,\"files\":[]}",
		"{\"rc\":\"8\",\"files\":[]}",
		"{\"rc\":4294967296,\"files\":[]}",
		"{\"rc\":8}",
		"{\"rc\":8,\"files\":{}}",
		"{\"rc\":8,\"files\":[{\"n\":\"a\",\"len\":1,\"act\":\"dl\"}]}",
		"{\"rc\":8,\"files\":[{\"n\":\"a\",\"len\":1,\"h\":\"" H1
		"\",\"act\":\"mv\"}]}",
		"{\"rc\":8,\"files\":[{\"n\":\"a\",\"len\":1,\"h\":\"" H1
		"0\",\"act\":\"dl\"}]}",
		"{\"rc\":8,\"files\":[{\"n\":\"a\",\"len\":1,\"h\":"
		"\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
		"AAA"
		"A\",\"act\":\"dl\"}]}",
		"{\"rc\":8,\"files\":[],\"del\":[1]}",
		"{\"rc\":8,\"files\":[],\"cfg\":[]}",
		"{\"rc\":8,\"files\":[]",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(check(bad[i], NULL), LUAOTA_V2_RMANIFEST);
}

static void too_many_files_refused(void **state)
{
	static char buf[LUAOTA_V2_MANIFEST_MAX + 1];
	size_t len;
	int i;

	(void)state;
	len = (size_t)snprintf(buf, sizeof(buf),
			       "{\"rc\":8,\"files\":[],"
			       "\"del\":[");
	for (i = 0; i <= LUAOTA_V2_FILES_MAX; i++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len,
					"%s\"f%d\"", i ? "," : "", i);
	snprintf(buf + len, sizeof(buf) - len, "]}");
	assert_int_equal(check(buf, NULL), LUAOTA_V2_RMANIFEST);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(newer_release_accepted, setup),
		cmocka_unit_test_setup(installed_release_is_same, setup),
		cmocka_unit_test_setup(rollback_manifest_refused, setup),
		cmocka_unit_test_setup(same_counter_other_content_refused,
				       setup),
		cmocka_unit_test_setup(fast_forward_manifest_refused, setup),
		cmocka_unit_test_setup(names_outside_allowed_set_refused,
				       setup),
		cmocka_unit_test_setup(release_beyond_free_flash_refused,
				       setup),
		cmocka_unit_test_setup(oversize_file_refused, setup),
		cmocka_unit_test_setup(malformed_manifests_refused, setup),
		cmocka_unit_test_setup(too_many_files_refused, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
