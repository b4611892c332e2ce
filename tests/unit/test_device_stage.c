/* device/stage: staging under hash-derived names, verification, and
 * resume across boots cut short by power loss. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "flash_sim.h"
#include "proto/crypto_openssl.h"
#include "stage.h"

static const struct luaota_crypto *crypto = &luaota_crypto_openssl;

static void digest(const void *data, size_t len, uint8_t h[32])
{
	assert_int_equal(luaota_sha256(data, len, h), 0);
}

static void staged_name_is_hash_derived(void **state)
{
	uint8_t h[32];
	char name[LUAOTA_NAME_MAX + 1];

	(void)state;
	digest("abc", 3, h);
	luaota_v2_stage_name(h, name);
	assert_string_equal(name, "luaOTA/.~ba7816bf8f01cfea");
	/* A server can never name it. */
	assert_int_equal(luaota_name_check(name, strlen(name)), -1);
}

static void staged_file_verified(void **state)
{
	static const char content[] = "print('hello')\n";
	struct luaota_v2_stage st;
	struct flash_sim s;
	uint8_t h[32];

	(void)state;
	flash_sim_init(&s);
	digest(content, strlen(content), h);
	assert_int_equal(luaota_v2_stage_open(&st, &s.flash, crypto, h,
					      (uint32_t)strlen(content)),
			 LUAOTA_OK);
	assert_int_equal(st.have, 0);
	assert_int_equal(
	    luaota_v2_stage_write(&st, 0, (const uint8_t *)content, 5),
	    LUAOTA_OK);
	assert_int_equal(luaota_v2_stage_write(&st, 5,
					       (const uint8_t *)content + 5,
					       strlen(content) - 5),
			 LUAOTA_OK);
	assert_int_equal(luaota_v2_stage_finish(&st), LUAOTA_OK);
	assert_non_null(flash_sim_get(&s, st.name));
	flash_sim_free(&s);
}

/* Right length, wrong bytes (a swapped chunk): refused and removed. */
static void payload_tamper_refused_at_hash(void **state)
{
	struct luaota_v2_stage st;
	struct flash_sim s;
	uint8_t h[32];

	(void)state;
	flash_sim_init(&s);
	digest("good", 4, h);
	assert_int_equal(luaota_v2_stage_open(&st, &s.flash, crypto, h, 4),
			 LUAOTA_OK);
	assert_int_equal(
	    luaota_v2_stage_write(&st, 0, (const uint8_t *)"evil", 4),
	    LUAOTA_OK);
	assert_int_equal(luaota_v2_stage_finish(&st), LUAOTA_EAUTH);
	assert_null(flash_sim_get(&s, st.name));
	flash_sim_free(&s);
}

/* Endless data: nothing past the announced length, nothing out of order. */
static void endless_data_refused(void **state)
{
	struct luaota_v2_stage st;
	struct flash_sim s;
	uint8_t h[32];

	(void)state;
	flash_sim_init(&s);
	digest("four", 4, h);
	assert_int_equal(luaota_v2_stage_open(&st, &s.flash, crypto, h, 4),
			 LUAOTA_OK);
	assert_int_equal(
	    luaota_v2_stage_write(&st, 0, (const uint8_t *)"fourmore", 8),
	    LUAOTA_EPROTO);
	assert_int_equal(luaota_v2_stage_write(&st, 1, (const uint8_t *)"o", 1),
			 LUAOTA_EPROTO);
	assert_int_equal(
	    luaota_v2_stage_write(&st, 0, (const uint8_t *)"four", 4),
	    LUAOTA_OK);
	assert_int_equal(luaota_v2_stage_write(&st, 4, (const uint8_t *)"!", 1),
			 LUAOTA_EPROTO);
	assert_int_equal(luaota_v2_stage_finish(&st), LUAOTA_OK);
	assert_true(flash_sim_get(&s, st.name)->len == 4);
	flash_sim_free(&s);
}

/* A staged file longer than the manifest says is not resumed. */
static void overlong_staged_file_restarted(void **state)
{
	struct luaota_v2_stage st;
	struct flash_sim s;
	uint8_t h[32];
	char name[LUAOTA_NAME_MAX + 1];

	(void)state;
	flash_sim_init(&s);
	digest("abcd", 4, h);
	luaota_v2_stage_name(h, name);
	assert_int_equal(flash_sim_put(&s, name, "abcdef", 6), 0);
	assert_int_equal(luaota_v2_stage_open(&st, &s.flash, crypto, h, 4),
			 LUAOTA_OK);
	assert_int_equal(st.have, 0);
	luaota_v2_stage_close(&st);
	flash_sim_free(&s);
}

/*
 * Resume of a 1 MB file over three interrupted boots: power fails in the
 * middle of a chunk twice; each boot resumes where the flash says, and
 * the third ends with the verified file.  Far less than three times the
 * file crosses the network.
 */
static void resume_1mb_over_three_interrupted_boots(void **state)
{
	const size_t size = 1u << 20, chunk = 4096;
	unsigned seed = (unsigned)time(NULL);
	struct luaota_v2_stage st;
	struct flash_sim s;
	size_t sent = 0, i;
	uint8_t *data, h[32];
	int boot;

	(void)state;
	printf("# seed %u\n", seed);
	srand(seed);
	data = malloc(size);
	assert_non_null(data);
	for (i = 0; i < size; i++)
		data[i] = (uint8_t)rand();
	digest(data, size, h);
	flash_sim_init(&s);
	for (boot = 0; boot < 3; boot++) {
		enum luaota_err err = LUAOTA_OK;

		flash_sim_reboot(&s);
		/* Boots 1 and 2 lose power somewhere in their ~100th chunk. */
		if (boot < 2)
			flash_sim_arm(&s, 90 + rand() % 20);
		assert_int_equal(luaota_v2_stage_open(&st, &s.flash, crypto, h,
						      (uint32_t)size),
				 LUAOTA_OK);
		printf("# boot %d resumes at %u\n", boot + 1, st.have);
		if (boot > 0)
			assert_true(st.have > 0);
		while (err == LUAOTA_OK && st.have < size) {
			size_t n =
			    size - st.have < chunk ? size - st.have : chunk;

			sent += n;
			err = luaota_v2_stage_write(&st, st.have,
						    data + st.have, n);
		}
		if (boot < 2) {
			assert_int_equal(err, LUAOTA_EFLASH);
			luaota_v2_stage_close(&st);
		}
	}
	assert_int_equal(luaota_v2_stage_finish(&st), LUAOTA_OK);
	assert_true(flash_sim_get(&s, st.name)->len == size);
	assert_memory_equal(flash_sim_get(&s, st.name)->data, data, size);
	assert_true(sent < size + 4 * chunk);
	flash_sim_free(&s);
	free(data);
}

/* Bytes torn by power loss that are not the file's fail the hash and are
 * fetched again, never installed. */
static void corrupted_resume_caught_by_hash(void **state)
{
	struct luaota_v2_stage st;
	struct flash_sim s;
	uint8_t h[32];
	char name[LUAOTA_NAME_MAX + 1];

	(void)state;
	flash_sim_init(&s);
	digest("0123456789", 10, h);
	luaota_v2_stage_name(h, name);
	assert_int_equal(flash_sim_put(&s, name, "01234X", 6), 0);
	assert_int_equal(luaota_v2_stage_open(&st, &s.flash, crypto, h, 10),
			 LUAOTA_OK);
	assert_int_equal(st.have, 6);
	assert_int_equal(
	    luaota_v2_stage_write(&st, 6, (const uint8_t *)"6789", 4),
	    LUAOTA_OK);
	assert_int_equal(luaota_v2_stage_finish(&st), LUAOTA_EAUTH);
	assert_null(flash_sim_get(&s, name));
	flash_sim_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(staged_name_is_hash_derived),
		cmocka_unit_test(staged_file_verified),
		cmocka_unit_test(payload_tamper_refused_at_hash),
		cmocka_unit_test(endless_data_refused),
		cmocka_unit_test(overlong_staged_file_restarted),
		cmocka_unit_test(resume_1mb_over_three_interrupted_boots),
		cmocka_unit_test(corrupted_resume_caught_by_hash),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
