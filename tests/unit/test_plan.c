/*
 * plan/: resolving manifests from a temporary working tree, the content
 * cache (proved by its read counter), actions, errors, the size policy,
 * compile checks under Lua 5.1 and 5.3, chk and diff.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "scratch.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "plan/plan.h"
#include "proto/crypto_openssl.h"

#define OLD_TIME 1600000000 /* a past mtime: not racy */

struct repo {
	char dir[256];
	long stamp; /* next mtime handed out, so each write differs */
	struct plan_cache *cache;
};

static int shell(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int shell(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

static void set_mtime(struct repo *r, const char *name, long when)
{
	char path[512];
	struct timespec ts[2] = { { when, 0 }, { when, 0 } };

	snprintf(path, sizeof(path), "%s/%s", r->dir, name);
	assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
}

/* Writes name in the repository with an old, fresh mtime. */
static void put_bytes(struct repo *r, const char *name, const char *data,
		      size_t len)
{
	char path[512];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", r->dir, name);
	fp = fopen(path, "wb");
	assert_non_null(fp);
	assert_int_equal(fwrite(data, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
	set_mtime(r, name, OLD_TIME + r->stamp++);
}

static void put(struct repo *r, const char *name, const char *text)
{
	put_bytes(r, name, text, strlen(text));
}

static int setup(void **state)
{
	struct repo *r = calloc(1, sizeof(*r));
	assert_non_null(r);
	assert_int_equal(scratch_dir("plan-test", 0, r->dir, sizeof(r->dir)),
			 0);
	r->cache = plan_cache_new();
	assert_non_null(r->cache);
	put(r, "init.lua", "--SAFETRIM\n  -- boot\n  dofile('app.lc')  \n");
	put(r, "app.lua", "local n = 0 -- counter\nreturn n\n");
	put(r, "page.html", "<p>-- not Lua --</p>\n");
	*state = r;
	return 0;
}

static int teardown(void **state)
{
	struct repo *r = *state;

	plan_cache_free(r->cache);
	assert_int_equal(shell("rm -rf '%s'", r->dir), 0);
	free(r);
	return 0;
}

static const struct plan_want default_files[] = {
	{ "init.lua", PLAN_AUTO },
	{ "app.lua", PLAN_AUTO },
	{ "page.html", PLAN_AUTO },
};

static struct plan_spec spec_of(const struct repo *r,
				const struct plan_want *files, size_t n)
{
	struct plan_spec s = {
		.repo_path = r->dir,
		.files = files,
		.nfiles = n,
		.lua_version = 51,
	};
	return s;
}

static struct plan_manifest *resolve(struct repo *r,
				     const struct plan_spec *spec)
{
	struct plan_manifest *m = NULL;

	assert_int_equal(plan_manifest_resolve(r->cache, spec, &m), 0);
	assert_non_null(m);
	return m;
}

static struct plan_manifest *resolve_ok(struct repo *r,
					const struct plan_spec *spec)
{
	struct plan_manifest *m = resolve(r, spec);

	if (m->error != NULL)
		fail_msg("unexpected error: %s", m->error);
	return m;
}

static const struct plan_file *file_named(const struct plan_manifest *m,
					  const char *name)
{
	size_t i;

	for (i = 0; i < m->nfiles; i++)
		if (strcmp(m->files[i].name, name) == 0)
			return &m->files[i];
	fail_msg("%s not in the manifest", name);
	return NULL;
}

static void resolves_a_tree(void **state)
{
	struct repo *r = *state;
	struct plan_spec spec = spec_of(r, default_files, 3);
	struct plan_manifest *m = resolve_ok(r, &spec);
	const struct plan_file *f;
	uint8_t raw[LUAOTA_SHA256_LEN];
	char hex[2 * LUAOTA_SHA256_LEN + 1];
	size_t i;

	assert_int_equal(m->nfiles, 3);
	assert_string_equal(m->revision, "worktree");
	assert_null(m->error_file);
	for (i = 0; i < 3; i++)
		assert_string_equal(m->files[i].name, default_files[i].name);
	f = file_named(m, "init.lua");
	assert_int_equal(f->action, PLAN_CM);
	assert_int_equal(f->len, strlen("\n\ndofile('app.lc')\n"));
	assert_memory_equal(f->data, "\n\ndofile('app.lc')\n", f->len);
	/* the hash and token describe the bytes sent */
	assert_int_equal(luaota_sha256(f->data, f->len, raw), 0);
	luaota_hex(raw, sizeof(raw), hex);
	assert_string_equal(f->hash, hex);
	assert_int_equal(strlen(f->token), PLAN_TOKEN_LEN);
	/* no marker: sent as is */
	f = file_named(m, "app.lua");
	assert_int_equal(f->action, PLAN_CM);
	assert_memory_equal(f->data, "local n = 0 -- counter\n", 23);
	f = file_named(m, "page.html");
	assert_int_equal(f->action, PLAN_DL);
	assert_int_equal(f->len, strlen("<p>-- not Lua --</p>\n"));
	assert_int_equal(plan_cache_reads(r->cache), 3);
	plan_manifest_free(m);
}

static void unchanged_reads_nothing(void **state)
{
	struct repo *r = *state;
	struct plan_spec spec = spec_of(r, default_files, 3);
	struct plan_manifest *m1 = resolve_ok(r, &spec), *m2;
	char chk1[PLAN_CHK_LEN + 1], chk2[PLAN_CHK_LEN + 1];
	uint64_t reads = plan_cache_reads(r->cache);

	m2 = resolve_ok(r, &spec);
	assert_int_equal(plan_cache_reads(r->cache), reads);
	/* the very same manifest is handed out again */
	assert_ptr_equal(m1, m2);
	plan_chk(m1, "{}", chk1);
	plan_chk(m2, "{}", chk2);
	assert_string_equal(chk1, chk2);
	plan_manifest_free(m1);
	plan_manifest_free(m2);
}

static void touch_rereads_keeps_token(void **state)
{
	struct repo *r = *state;
	struct plan_spec spec = spec_of(r, default_files, 3);
	struct plan_manifest *m1 = resolve_ok(r, &spec), *m2;
	char chk1[PLAN_CHK_LEN + 1], chk2[PLAN_CHK_LEN + 1];
	uint64_t reads = plan_cache_reads(r->cache);

	set_mtime(r, "app.lua", OLD_TIME - 1000);
	m2 = resolve_ok(r, &spec);
	assert_int_equal(plan_cache_reads(r->cache), reads + 1);
	assert_string_equal(file_named(m1, "app.lua")->token,
			    file_named(m2, "app.lua")->token);
	plan_chk(m1, NULL, chk1);
	plan_chk(m2, NULL, chk2);
	assert_string_equal(chk1, chk2);
	/* same contents: still the memoised manifest */
	assert_ptr_equal(m1, m2);
	plan_manifest_free(m1);
	plan_manifest_free(m2);
}

static void change_changes_token_and_chk(void **state)
{
	struct repo *r = *state;
	struct plan_spec spec = spec_of(r, default_files, 3);
	struct plan_manifest *m1 = resolve_ok(r, &spec), *m2;
	char chk1[PLAN_CHK_LEN + 1], chk2[PLAN_CHK_LEN + 1];
	uint64_t reads = plan_cache_reads(r->cache);

	/* same size, different bytes */
	put(r, "app.lua", "local n = 1 -- counter\nreturn n\n");
	m2 = resolve_ok(r, &spec);
	assert_int_equal(plan_cache_reads(r->cache), reads + 1);
	assert_string_not_equal(file_named(m1, "app.lua")->token,
				file_named(m2, "app.lua")->token);
	assert_string_equal(file_named(m1, "init.lua")->token,
			    file_named(m2, "init.lua")->token);
	plan_chk(m1, "{}", chk1);
	plan_chk(m2, "{}", chk2);
	assert_int_equal(strlen(chk1), PLAN_CHK_LEN);
	assert_string_not_equal(chk1, chk2);
	/* the old manifest still holds the old bytes */
	assert_memory_equal(file_named(m1, "app.lua")->data, "local n = 0", 11);
	assert_memory_equal(file_named(m2, "app.lua")->data, "local n = 1", 11);
	plan_manifest_free(m1);
	plan_manifest_free(m2);
}

static void fresh_files_are_racy(void **state)
{
	struct repo *r = *state;
	static const struct plan_want files[] = { { "new.lua", PLAN_AUTO } };
	struct plan_spec spec = spec_of(r, files, 1);
	struct plan_manifest *m;
	uint64_t reads;
	char path[512];
	FILE *fp;

	/* written now: its mtime could hide a write in the same tick */
	snprintf(path, sizeof(path), "%s/new.lua", r->dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("return 1\n", fp);
	assert_int_equal(fclose(fp), 0);
	reads = plan_cache_reads(r->cache);
	plan_manifest_free(resolve_ok(r, &spec));
	plan_manifest_free(resolve_ok(r, &spec));
	assert_int_equal(plan_cache_reads(r->cache), reads + 2);
	/* once old enough it is trusted */
	set_mtime(r, "new.lua", OLD_TIME);
	plan_manifest_free(resolve_ok(r, &spec));
	m = resolve_ok(r, &spec);
	assert_int_equal(plan_cache_reads(r->cache), reads + 3);
	plan_manifest_free(m);
}

/* Settled: every stamp trusted, so the manifest may be kept as is. */
static void settled_only_when_no_file_is_racy(void **state)
{
	struct repo *r = *state;
	struct plan_spec spec = spec_of(r, default_files, 3);
	struct plan_manifest *m, *again;
	char rev[PLAN_REVISION_MAX], err[256];
	char path[512];
	int settled = -1;
	FILE *fp;

	assert_int_equal(
	    plan_manifest_resolve_settled(r->cache, &spec, &m, &settled), 0);
	assert_null(m->error);
	assert_int_equal(settled, 1);
	/* a reference outlives the caller's */
	again = plan_manifest_ref(m);
	plan_manifest_free(m);
	assert_string_equal(again->files[0].name, "init.lua");
	plan_manifest_free(again);
	snprintf(path, sizeof(path), "%s/app.lua", r->dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("return 2\n", fp);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(
	    plan_manifest_resolve_settled(r->cache, &spec, &m, &settled), 0);
	assert_int_equal(settled, 0);
	plan_manifest_free(m);
	assert_int_equal(
	    plan_manifest_resolve_settled(r->cache, &spec, &m, &settled), 0);
	assert_int_equal(settled, 0);
	plan_manifest_free(m);
	set_mtime(r, "app.lua", OLD_TIME);
	assert_int_equal(
	    plan_manifest_resolve_settled(r->cache, &spec, &m, &settled), 0);
	assert_int_equal(settled, 1);
	plan_manifest_free(m);
	/* a working tree's revision costs no system call and never fails */
	assert_int_equal(plan_revision(r->cache, &spec, rev, err, sizeof(err)),
			 0);
	assert_string_equal(rev, "worktree");
	spec.repo_ref = "main";
	assert_int_equal(plan_revision(r->cache, &spec, rev, err, sizeof(err)),
			 -1);
	assert_non_null(strstr(err, "not a git repository"));
}

static void actions_default_and_override(void **state)
{
	struct repo *r = *state;
	static const struct plan_want files[] = {
		{ "init.lua", PLAN_DL },
		{ "app.lua", PLAN_AUTO },
		{ "page.html", PLAN_AUTO },
		{ "app.lua", PLAN_CM }, /* a duplicate folds into one */
	};
	static const struct plan_want bad[] = { { "page.html", PLAN_CM } };
	static const struct plan_want both[] = {
		{ "app.lua", PLAN_DL },
		{ "app.lua", PLAN_CM },
	};
	struct plan_spec spec = spec_of(r, files, 4);
	struct plan_manifest *m = resolve_ok(r, &spec), *m2;
	char chk1[PLAN_CHK_LEN + 1], chk2[PLAN_CHK_LEN + 1];

	assert_int_equal(m->nfiles, 3);
	assert_int_equal(file_named(m, "init.lua")->action, PLAN_DL);
	assert_int_equal(file_named(m, "app.lua")->action, PLAN_CM);
	assert_int_equal(file_named(m, "page.html")->action, PLAN_DL);
	/* an action override is a different manifest: another chk */
	spec = spec_of(r, default_files, 3);
	m2 = resolve_ok(r, &spec);
	plan_chk(m, "{}", chk1);
	plan_chk(m2, "{}", chk2);
	assert_string_not_equal(chk1, chk2);
	/* the same bytes sent another way must be sent again */
	assert_string_equal(file_named(m, "init.lua")->hash,
			    file_named(m2, "init.lua")->hash);
	assert_string_not_equal(file_named(m, "init.lua")->token,
				file_named(m2, "init.lua")->token);
	plan_manifest_free(m);
	plan_manifest_free(m2);

	spec = spec_of(r, bad, 1);
	m = resolve(r, &spec);
	assert_non_null(m->error);
	assert_string_equal(m->error_file, "page.html");
	assert_non_null(strstr(m->error, "cm needs a name ending in .lua"));
	plan_manifest_free(m);

	spec = spec_of(r, both, 2);
	m = resolve(r, &spec);
	assert_non_null(m->error);
	assert_string_equal(m->error_file, "app.lua");
	plan_manifest_free(m);
}

static void missing_and_odd_files(void **state)
{
	struct repo *r = *state;
	static const struct plan_want missing[] = {
		{ "app.lua", PLAN_AUTO },
		{ "nope.lua", PLAN_AUTO },
	};
	static const struct plan_want dir[] = { { "sub.lua", PLAN_AUTO } };
	struct plan_spec spec = spec_of(r, missing, 2);
	struct plan_manifest *m = resolve(r, &spec);
	char path[512];

	assert_non_null(m->error);
	assert_string_equal(m->error_file, "nope.lua");
	assert_string_equal(m->error, "nope.lua: No such file or directory");
	plan_manifest_free(m);

	snprintf(path, sizeof(path), "%s/sub.lua", r->dir);
	assert_int_equal(mkdir(path, 0700), 0);
	spec = spec_of(r, dir, 1);
	m = resolve(r, &spec);
	assert_non_null(m->error);
	assert_string_equal(m->error_file, "sub.lua");
	assert_string_equal(m->error, "sub.lua: not a regular file");
	plan_manifest_free(m);
}

static void hostile_names(void **state)
{
	struct repo *r = *state;
	static const char *const names[] = {
		"../secret.lua",
		"/etc/passwd",
		"a/../../b",
		"ctl\nname.lua",
		"tab\there",
		"abcdefghijklmnopqrstuvwxyz01.lua", /* 32 bytes */
		"",
		"dir/",
		"./app.lua",
	};
	struct plan_want want;
	struct plan_spec spec;
	struct plan_manifest *m;
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		want.name = names[i];
		want.action = PLAN_AUTO;
		spec = spec_of(r, &want, 1);
		m = resolve(r, &spec);
		if (m->error == NULL)
			fail_msg("name %zu accepted", i);
		assert_non_null(m->error_file);
		/* logged as is: nothing unprintable in the error */
		assert_null(strchr(m->error, '\n'));
		assert_null(strchr(m->error_file, '\n'));
		plan_manifest_free(m);
	}
	assert_int_equal(plan_cache_reads(r->cache), 0);
	assert_null(plan_name_problem("luaOTA/app.lua"));
	assert_null(plan_name_problem("abcdefghijklmnopqrstuvwxyz0.lua"));
	assert_non_null(plan_name_problem(NULL));
}

static void syntax_error_names_file(void **state)
{
	struct repo *r = *state;
	static const struct plan_want files[] = {
		{ "app.lua", PLAN_AUTO },
		{ "bad.lua", PLAN_AUTO },
	};
	static const struct plan_want as_dl[] = { { "bad.lua", PLAN_DL } };
	struct plan_spec spec = spec_of(r, files, 2);
	struct plan_manifest *m;

	put(r, "bad.lua", "local a = 1\n\nfoo x\n");
	m = resolve(r, &spec);
	assert_non_null(m->error);
	assert_string_equal(m->error_file, "bad.lua");
	assert_string_equal(m->error, "bad.lua:3: '=' expected near 'x'");
	plan_manifest_free(m);
	/* cached by content: a second resolve neither reads nor differs */
	m = resolve(r, &spec);
	assert_string_equal(m->error, "bad.lua:3: '=' expected near 'x'");
	plan_manifest_free(m);
	/* a .lua sent with dl is still Lua: still checked */
	spec = spec_of(r, as_dl, 1);
	m = resolve(r, &spec);
	assert_non_null(m->error);
	plan_manifest_free(m);
}

static void lua_versions(void **state)
{
	struct repo *r = *state;
	static const struct plan_want files[] = {
		{ "floor.lua", PLAN_AUTO },
		{ "jump.lua", PLAN_AUTO },
	};
	struct plan_spec spec = spec_of(r, files, 2);
	struct plan_manifest *m;
	char err[256];

	put(r, "floor.lua", "local a, b = 7, 2\nreturn a // b\n");
	put(r, "jump.lua",
	    "for i = 1, 3 do\n  if i == 2 then goto done end\n"
	    "end\n::done::\n");
	m = resolve(r, &spec);
	assert_non_null(m->error);
	assert_string_equal(m->error_file, "floor.lua");
	assert_non_null(strstr(m->error, "floor.lua:2:"));
	plan_manifest_free(m);
	spec.lua_version = 53;
	m = resolve_ok(r, &spec);
	assert_int_equal(m->nfiles, 2);
	plan_manifest_free(m);
	assert_int_equal(
	    plan_lua_check("goto x ::x::", 12, "j.lua", 53, err, sizeof(err)),
	    0);
	assert_int_equal(
	    plan_lua_check("goto x ::x::", 12, "j.lua", 51, err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, "j.lua:1:"));
	/* bytecode is not source */
	assert_int_equal(
	    plan_lua_check("\033Lua", 4, "b.lua", 51, err, sizeof(err)), -1);
	assert_int_equal(
	    plan_lua_check("\033Lua", 4, "b.lua", 53, err, sizeof(err)), -1);
	{
		uint8_t *a = NULL, *b = NULL;
		size_t la = 0, lb = 0;

		assert_int_equal(plan_lua_dump("return 1\n", 9, "d.lua", 51, &a,
					       &la, err, sizeof(err)),
				 0);
		assert_int_equal(plan_lua_dump("return 1\n", 9, "d.lua", 53, &b,
					       &lb, err, sizeof(err)),
				 0);
		/* both are Lua bytecode, of different versions */
		assert_true(la > 4 && lb > 4);
		assert_memory_equal(a, "\033Lua", 4);
		assert_memory_equal(b, "\033Lua", 4);
		assert_int_equal(a[4], 0x51);
		assert_int_equal(b[4], 0x53);
		free(a);
		free(b);
		assert_int_equal(plan_lua_dump("return +", 8, "d.lua", 51, &a,
					       &la, err, sizeof(err)),
				 -1);
		assert_null(a);
	}
	assert_int_equal(plan_lua_available(51, err, sizeof(err)), 0);
	assert_int_equal(plan_lua_available(53, err, sizeof(err)), 0);
	assert_int_equal(plan_lua_available(52, err, sizeof(err)), -1);
	spec.lua_version = 52;
	m = resolve(r, &spec);
	assert_non_null(m->error);
	assert_null(m->error_file);
	plan_manifest_free(m);
}

static void size_policy(void **state)
{
	struct repo *r = *state;
	static const struct plan_want files[] = { { "init.lua", PLAN_AUTO } };
	struct plan_spec spec = spec_of(r, files, 1);
	struct plan_manifest *m;
	char *src = malloc(70000), want[256];
	size_t len = 0, line;

	assert_non_null(src);
	/* 20001 bytes once trimmed, 60011 as stored */
	len += (size_t)sprintf(src, "--SAFETRIM\n");
	for (line = 0; line < 5000; line++)
		len += (size_t)sprintf(src + len, "x=1     --c\n");
	put_bytes(r, "init.lua", src, len);
	spec.max_file_size = 16384;
	m = resolve(r, &spec);
	assert_non_null(m->error);
	assert_string_equal(m->error_file, "init.lua");
	snprintf(want, sizeof(want),
		 "init.lua: %zu bytes after SAFETRIM exceeds the 16384-byte "
		 "limit for legacy devices",
		 1 + 4 * line);
	assert_string_equal(m->error, want);
	plan_manifest_free(m);
	/* what counts is the size after SAFETRIM */
	spec.max_file_size = (int64_t)(1 + 4 * line);
	m = resolve_ok(r, &spec);
	assert_true(len > (size_t)spec.max_file_size);
	plan_manifest_free(m);
	spec.max_file_size = 0;
	m = resolve_ok(r, &spec);
	plan_manifest_free(m);
	free(src);
}

static void diff_cases(void **state)
{
	struct repo *r = *state;
	struct plan_spec spec = spec_of(r, default_files, 3);
	struct plan_manifest *m = resolve_ok(r, &spec);
	struct plan_held held[4];
	struct plan_steps steps;
	uint64_t total = 0;
	size_t i;

	/* a fresh chip gets everything, in manifest order */
	assert_int_equal(plan_diff(m, NULL, 0, &steps), 0);
	assert_int_equal(steps.nsend, 3);
	for (i = 0; i < 3; i++) {
		assert_int_equal(steps.send[i], i);
		total += m->files[i].len;
	}
	assert_int_equal(steps.bytes, total);
	assert_int_equal(steps.nremove, 0);
	plan_steps_free(&steps);

	/* holds it all: nothing */
	for (i = 0; i < 3; i++) {
		held[i].name = m->files[i].name;
		held[i].token = m->files[i].token;
	}
	assert_int_equal(plan_diff(m, held, 3, &steps), 0);
	assert_int_equal(steps.nsend, 0);
	assert_int_equal(steps.nremove, 0);
	assert_int_equal(steps.bytes, 0);
	plan_steps_free(&steps);

	/* one changed, one dropped from the manifest */
	held[1].token = "zzzz";
	held[3].name = "old.lua";
	held[3].token = "abcd";
	assert_int_equal(plan_diff(m, held, 4, &steps), 0);
	assert_int_equal(steps.nsend, 1);
	assert_int_equal(steps.send[0], 1);
	assert_int_equal(steps.bytes, m->files[1].len);
	assert_int_equal(steps.nremove, 1);
	assert_string_equal(steps.remove[0], "old.lua");
	plan_steps_free(&steps);

	/* a held name without a token is sent again */
	held[1].token = NULL;
	assert_int_equal(plan_diff(m, held, 3, &steps), 0);
	assert_int_equal(steps.nsend, 1);
	plan_steps_free(&steps);
	plan_manifest_free(m);
}

static void device_names(void **state)
{
	char out[PLAN_NAME_MAX + 1];

	(void)state;
	assert_int_equal(plan_device_name("app.lua", PLAN_CM, out, sizeof(out)),
			 0);
	assert_string_equal(out, "app.lc");
	assert_int_equal(plan_device_name("app.lua", PLAN_DL, out, sizeof(out)),
			 0);
	assert_string_equal(out, "app.lua");
	assert_int_equal(plan_device_name("app.lua", PLAN_CM, out, 6), -1);
}

static void chk_follows_config(void **state)
{
	struct repo *r = *state;
	struct plan_spec spec = spec_of(r, default_files, 3);
	struct plan_manifest *m = resolve_ok(r, &spec);
	char a[PLAN_CHK_LEN + 1], b[PLAN_CHK_LEN + 1], c[PLAN_CHK_LEN + 1];
	size_t i;

	plan_chk(m, "{\"server\":\"10.0.0.1\"}", a);
	plan_chk(m, "{\"server\":\"10.0.0.2\"}", b);
	plan_chk(m, "{\"server\":\"10.0.0.1\"}", c);
	assert_int_equal(strlen(a), PLAN_CHK_LEN);
	assert_string_not_equal(a, b);
	assert_string_equal(a, c);
	plan_chk(m, NULL, b);
	assert_string_not_equal(a, b);
	/* base64url: safe in JSON and in a file name */
	for (i = 0; i < PLAN_CHK_LEN; i++)
		assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijkl"
				       "mnopqrstuvwxyz0123456789-_",
				       a[i]));
	plan_manifest_free(m);
}

static void manifest_outlives_cache(void **state)
{
	struct repo *r = *state;
	struct plan_spec spec = spec_of(r, default_files, 3);
	struct plan_manifest *m = resolve_ok(r, &spec);

	plan_cache_free(r->cache);
	r->cache = plan_cache_new();
	assert_non_null(r->cache);
	assert_memory_equal(file_named(m, "page.html")->data, "<p>", 3);
	plan_manifest_free(m);
}

static void many_files(void **state)
{
	struct repo *r = *state;
	struct plan_want files[40];
	char names[40][16];
	struct plan_spec spec;
	struct plan_manifest *m1, *m2;
	uint64_t reads;
	size_t i;

	for (i = 0; i < 40; i++) {
		snprintf(names[i], sizeof(names[i]), "f%02zu.txt", i);
		put(r, names[i], names[i]);
		files[i].name = names[i];
		files[i].action = PLAN_AUTO;
	}
	spec = spec_of(r, files, 40);
	m1 = resolve_ok(r, &spec);
	reads = plan_cache_reads(r->cache);
	assert_int_equal(reads, 40);
	m2 = resolve_ok(r, &spec);
	assert_int_equal(plan_cache_reads(r->cache), reads);
	assert_ptr_equal(m1, m2);
	for (i = 0; i < 40; i++)
		assert_memory_equal(m2->files[i].data, names[i],
				    strlen(names[i]));
	plan_manifest_free(m1);
	plan_manifest_free(m2);
}

/* A ref on a plain directory: no repository, nothing sendable. */
static void git_ref_needs_a_repository(void **state)
{
	struct repo *r = *state;
	struct plan_spec spec = spec_of(r, default_files, 3);
	struct plan_manifest *m;

	spec.repo_ref = "main";
	m = resolve(r, &spec);
	assert_non_null(m->error);
	assert_non_null(strstr(m->error, "not a git repository"));
	plan_manifest_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(resolves_a_tree, setup,
						teardown),
		cmocka_unit_test_setup_teardown(unchanged_reads_nothing, setup,
						teardown),
		cmocka_unit_test_setup_teardown(touch_rereads_keeps_token,
						setup, teardown),
		cmocka_unit_test_setup_teardown(change_changes_token_and_chk,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
		    settled_only_when_no_file_is_racy, setup, teardown),
		cmocka_unit_test_setup_teardown(fresh_files_are_racy, setup,
						teardown),
		cmocka_unit_test_setup_teardown(actions_default_and_override,
						setup, teardown),
		cmocka_unit_test_setup_teardown(missing_and_odd_files, setup,
						teardown),
		cmocka_unit_test_setup_teardown(hostile_names, setup, teardown),
		cmocka_unit_test_setup_teardown(syntax_error_names_file, setup,
						teardown),
		cmocka_unit_test_setup_teardown(lua_versions, setup, teardown),
		cmocka_unit_test_setup_teardown(size_policy, setup, teardown),
		cmocka_unit_test_setup_teardown(diff_cases, setup, teardown),
		cmocka_unit_test(device_names),
		cmocka_unit_test_setup_teardown(chk_follows_config, setup,
						teardown),
		cmocka_unit_test_setup_teardown(manifest_outlives_cache, setup,
						teardown),
		cmocka_unit_test_setup_teardown(many_files, setup, teardown),
		cmocka_unit_test_setup_teardown(git_ref_needs_a_repository,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
