/* device/commit: two manifest slots and the journal, under power cuts at
 * every mutating flash call of a commit and of its replay. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "commit.h"
#include "flash_sim.h"
#include "proto/crypto_openssl.h"

static const struct luaota_crypto *crypto = &luaota_crypto_openssl;

/* One file of a release: final name and content. */
struct file {
	const char *name;
	const char *content;
};

struct release {
	uint32_t rc;
	const char *manifest;
	struct file files[5];  /* what the commit writes */
	const char *del[2];    /* what it removes */
	struct file expect[6]; /* every app file afterwards */
};

static const struct release rel_a = {
	1,
	"{\"rc\":1,\"files\":[\"a\",\"b\",\"c\"]}",
	{ { "a.lua", "print('A1')" },
	  { "b.lc", "A2 bytecode" },
	  { "c.txt", "A3" },
	  { "luaOTA/config.json", "{\"app\":\"a\"}" } },
	{ NULL, NULL },
	{ { "a.lua", "print('A1')" },
	  { "b.lc", "A2 bytecode" },
	  { "c.txt", "A3" },
	  { "luaOTA/config.json", "{\"app\":\"a\"}" },
	  { NULL, NULL } },
};

static const struct release rel_b = {
	2,
	"{\"rc\":2,\"files\":[\"a\",\"b\",\"d\"],\"del\":[\"c.txt\"]}",
	{ { "a.lua", "print('B1, longer than before')" },
	  { "d.txt", "B4" },
	  { "luaOTA/config.json", "{\"app\":\"b\",\"entry\":\"go\"}" },
	  { NULL, NULL } },
	{ "c.txt", NULL },
	{ { "a.lua", "print('B1, longer than before')" },
	  { "b.lc", "A2 bytecode" },
	  { "d.txt", "B4" },
	  { "luaOTA/config.json", "{\"app\":\"b\",\"entry\":\"go\"}" },
	  { NULL, NULL } },
};

/* Writes a file through the flash interface (counted by the simulator). */
static int write_file(const struct luaota_flash *f, const char *name,
		      const char *content)
{
	int h = f->open(f->ctx, name, LUAOTA_OPEN_WRITE);
	int rc;

	if (h < 0)
		return -1;
	rc = f->write(f->ctx, h, (const uint8_t *)content, strlen(content));
	if (f->close(f->ctx, h) != 0)
		rc = -1;
	return rc;
}

/* Ops from an array, as luaota_v2_commit() asks for them. */
struct op_list {
	const struct luaota_v2_op *ops;
	size_t n;
};

static int op_at(void *arg, size_t i, struct luaota_v2_op *op, char *from,
		 char *to)
{
	const struct op_list *l = arg;

	(void)from;
	(void)to;
	if (i >= l->n)
		return -1;
	*op = l->ops[i];
	return 0;
}

static enum luaota_err commit_ops(struct flash_sim *s, uint32_t rc,
				  const struct luaota_v2_op *ops, size_t n)
{
	struct op_list l = { ops, n };

	return luaota_v2_commit(&s->flash, crypto, rc, n, op_at, &l);
}

/* Stages a release and commits it, as the v2 session does. */
static enum luaota_err install(struct flash_sim *s, const struct release *r)
{
	static const char *const staged[] = { "luaOTA/.~s0", "luaOTA/.~s1",
					      "luaOTA/.~s2", "luaOTA/.~s3" };
	struct luaota_v2_op ops[8];
	size_t n = 0, i;

	for (i = 0; r->files[i].name != NULL; i++) {
		if (write_file(&s->flash, staged[i], r->files[i].content) != 0)
			return LUAOTA_EFLASH;
		ops[n].kind = LUAOTA_V2_OP_RENAME;
		ops[n].from = staged[i];
		ops[n++].to = r->files[i].name;
	}
	for (i = 0; r->del[i] != NULL; i++) {
		ops[n].kind = LUAOTA_V2_OP_DELETE;
		ops[n].from = NULL;
		ops[n++].to = r->del[i];
	}
	if (write_file(&s->flash, LUAOTA_V2_PENDING, r->manifest) != 0)
		return LUAOTA_EFLASH;
	return commit_ops(s, r->rc, ops, n);
}

/* Whether the flash holds exactly r's app files and r's slot. */
static int holds(const struct flash_sim *s, const struct release *r)
{
	struct luaota_v2_release cur;
	size_t i, n = 0;
	int f;

	if (luaota_v2_release_read(&s->flash, crypto, &cur) != LUAOTA_OK ||
	    cur.rc != r->rc)
		return 0;
	for (i = 0; r->expect[i].name != NULL; i++) {
		const struct flash_sim_file *file =
		    flash_sim_get(s, r->expect[i].name);

		if (file == NULL || file->len != strlen(r->expect[i].content) ||
		    memcmp(file->data, r->expect[i].content, file->len) != 0)
			return 0;
	}
	/* Nothing else outside the device's own luaOTA/ area. */
	for (f = 0; f < FLASH_SIM_FILES; f++)
		if (s->files[f].used &&
		    (strncmp(s->files[f].name, "luaOTA/", 7) != 0 ||
		     strcmp(s->files[f].name, "luaOTA/config.json") == 0))
			n++;
	return n == i;
}

static void crc32_known_answer(void **state)
{
	(void)state;
	assert_true(luaota_v2_crc32(0, (const uint8_t *)"123456789", 9) ==
		    0xcbf43926u);
	assert_true(
	    luaota_v2_crc32(luaota_v2_crc32(0, (const uint8_t *)"1234", 4),
			    (const uint8_t *)"56789", 5) == 0xcbf43926u);
}

static void empty_flash_is_release_zero(void **state)
{
	struct flash_sim s;
	struct luaota_v2_release cur;
	int replayed = 1;

	(void)state;
	flash_sim_init(&s);
	assert_int_equal(luaota_v2_release_read(&s.flash, crypto, &cur),
			 LUAOTA_OK);
	assert_int_equal(cur.slot, -1);
	assert_true(cur.rc == 0);
	assert_int_equal(luaota_v2_recover(&s.flash, crypto, &replayed),
			 LUAOTA_OK);
	assert_int_equal(replayed, 0);
	flash_sim_free(&s);
}

static void commits_alternate_slots(void **state)
{
	struct flash_sim s;
	struct luaota_v2_release cur;

	(void)state;
	flash_sim_init(&s);
	assert_int_equal(install(&s, &rel_a), LUAOTA_OK);
	assert_true(holds(&s, &rel_a));
	assert_int_equal(luaota_v2_release_read(&s.flash, crypto, &cur),
			 LUAOTA_OK);
	assert_int_equal(cur.slot, 0);
	assert_int_equal(install(&s, &rel_b), LUAOTA_OK);
	assert_true(holds(&s, &rel_b));
	assert_int_equal(luaota_v2_release_read(&s.flash, crypto, &cur),
			 LUAOTA_OK);
	assert_int_equal(cur.slot, 1);
	assert_true(cur.seq == 2 && cur.manifest_len == strlen(rel_b.manifest));
	/* Nothing of the machinery is left behind. */
	assert_null(flash_sim_get(&s, LUAOTA_V2_JOURNAL));
	assert_null(flash_sim_get(&s, LUAOTA_V2_PENDING));
	assert_null(flash_sim_get(&s, LUAOTA_V2_MANIFEST_NEW));
	assert_null(flash_sim_get(&s, "luaOTA/.~s0"));
	flash_sim_free(&s);
}

/* A damaged active slot falls back to the other one, as otadata does. */
static void corrupt_active_slot_falls_back(void **state)
{
	struct flash_sim s;
	struct luaota_v2_release cur;
	struct flash_sim_file *slot;

	(void)state;
	flash_sim_init(&s);
	assert_int_equal(install(&s, &rel_a), LUAOTA_OK);
	assert_int_equal(install(&s, &rel_b), LUAOTA_OK);
	slot = (struct flash_sim_file *)flash_sim_get(&s, LUAOTA_V2_SLOT1);
	assert_non_null(slot);
	slot->data[LUAOTA_V2_SLOT_HEAD + 2] ^= 0x20;
	assert_int_equal(luaota_v2_release_read(&s.flash, crypto, &cur),
			 LUAOTA_OK);
	assert_int_equal(cur.slot, 0);
	assert_true(cur.rc == 1);
	flash_sim_free(&s);
}

static void commit_refuses_bad_arguments(void **state)
{
	struct flash_sim s;
	struct luaota_v2_op op = { LUAOTA_V2_OP_RENAME, "luaOTA/.~s0",
				   "a-name-much-longer-than-31-bytes.lua" };

	(void)state;
	flash_sim_init(&s);
	/* No pending manifest. */
	assert_int_equal(commit_ops(&s, 1, NULL, 0), LUAOTA_EINVAL);
	assert_int_equal(flash_sim_put(&s, LUAOTA_V2_PENDING, "{}", 2), 0);
	assert_int_equal(commit_ops(&s, 1, &op, 1), LUAOTA_EINVAL);
	op.to = "ok.lua";
	op.from = NULL;
	assert_int_equal(commit_ops(&s, 1, &op, 1), LUAOTA_EINVAL);
	assert_null(flash_sim_get(&s, LUAOTA_V2_JOURNAL));
	flash_sim_free(&s);
}

/* A journal that fails its CRC is kept and reported, never half-used. */
static void damaged_journal_is_kept(void **state)
{
	struct flash_sim s;
	int replayed;

	(void)state;
	flash_sim_init(&s);
	assert_int_equal(flash_sim_put(&s, LUAOTA_V2_JOURNAL,
				       "LOJ2\0\0\0\1\0\0\0\0\0\0", 14),
			 0);
	assert_int_equal(luaota_v2_recover(&s.flash, crypto, &replayed),
			 LUAOTA_EFLASH);
	assert_non_null(flash_sim_get(&s, LUAOTA_V2_JOURNAL));
	flash_sim_free(&s);
}

/*
 * Power loss at every write index: staging and committing release B over
 * A loses power at mutating call `cut`; the next boot's replay loses power
 * at call `cut2` (or not at all); a final boot replays again.  The flash
 * must then hold all of A or all of B, and B whenever the commit returned.
 */
static void power_loss_at_every_write_index(void **state)
{
	long cut, cut2, runs = 0, saw_a = 0, saw_b = 0;

	(void)state;
	for (cut = 0;; cut++) {
		int commit_died = 0;

		for (cut2 = 0;; cut2++) {
			struct flash_sim s;
			enum luaota_err err;
			int replayed, replay_died;

			flash_sim_init(&s);
			assert_int_equal(install(&s, &rel_a), LUAOTA_OK);
			flash_sim_arm(&s, cut);
			err = install(&s, &rel_b);
			commit_died = s.dead;
			flash_sim_reboot(&s);
			flash_sim_arm(&s, cut2);
			luaota_v2_recover(&s.flash, crypto, &replayed);
			replay_died = s.dead;
			flash_sim_reboot(&s);
			assert_int_equal(
			    luaota_v2_recover(&s.flash, crypto, &replayed),
			    LUAOTA_OK);
			runs++;
			if (holds(&s, &rel_b)) {
				saw_b++;
			} else {
				if (!holds(&s, &rel_a))
					fail_msg("mix after cut %ld, replay "
						 "cut %ld",
						 cut, cut2);
				assert_int_not_equal(err, LUAOTA_OK);
				saw_a++;
			}
			flash_sim_free(&s);
			if (!replay_died || !commit_died)
				break;
		}
		if (!commit_died)
			break;
	}
	printf("# %ld runs, %ld mutating calls, %ld old, %ld new\n", runs, cut,
	       saw_a, saw_b);
	assert_true(saw_a > 0 && saw_b > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(crc32_known_answer),
		cmocka_unit_test(empty_flash_is_release_zero),
		cmocka_unit_test(commits_alternate_slots),
		cmocka_unit_test(corrupt_active_slot_falls_back),
		cmocka_unit_test(commit_refuses_bad_arguments),
		cmocka_unit_test(damaged_journal_is_kept),
		cmocka_unit_test(power_loss_at_every_write_index),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
