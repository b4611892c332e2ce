/*
 * plan/safetrim: exact outputs on small cases, and the proof on every file
 * of tests/unit/lua/ and on seeded random programs: luac of the original
 * and of the trimmed text give the same bytecode, stripped (-s) and with
 * debug information (so every line number holds too), under Lua 5.1 and,
 * where the source is valid 5.3, under 5.3.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "scratch.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "plan/plan.h"

#ifndef PLAN_LUA_DIR
#error "PLAN_LUA_DIR must name tests/unit/lua"
#endif

/* Trims text (a C string); returns the malloc'ed result. */
static char *trim(const char *text)
{
	char *out = NULL;
	size_t len = 0;

	assert_int_equal(plan_safetrim(text, strlen(text), &out, &len), 0);
	assert_int_equal(strlen(out), len);
	return out;
}

static void expect_trim(const char *in, const char *want)
{
	char *got = trim(in);

	assert_string_equal(got, want);
	free(got);
}

static void exact_outputs(void **state)
{
	(void)state;
	expect_trim("--SAFETRIM\nx--[[c]]y\n", "\nx y\n");
	expect_trim("--SAFETRIM\na --c\nb\n", "\na\nb\n");
	expect_trim("--SAFETRIM\n   local a = 1   \n", "\nlocal a = 1\n");
	expect_trim("--SAFETRIM\ns = \"a -- b\" -- c\n", "\ns = \"a -- b\"\n");
	expect_trim("--SAFETRIM\ns = [[\n  x -- y  \n]]\n",
		    "\ns = [[\n  x -- y  \n]]\n");
	expect_trim("--SAFETRIM\nx = 1 --[[ a\n b ]] + 2\n", "\nx = 1\n+ 2\n");
	expect_trim("--SAFETRIM\nx = a - -b\n", "\nx = a - -b\n");
	expect_trim("--SAFETRIM\nx = 1e-5\n", "\nx = 1e-5\n");
	expect_trim("--SAFETRIM\nt[ [=[k]=] ]=1\n", "\nt[ [=[k]=] ]=1\n");
	expect_trim("--SAFETRIM\r\nx = 1 -- c\r\n", "\r\nx = 1\r\n");
	expect_trim("--SAFETRIM\n--[==[ ]] ]=] ]==]x\n", "\nx\n");
	expect_trim("--SAFETRIM\ns = 'it\\'s -- x'\n", "\ns = 'it\\'s -- x'\n");
	expect_trim("--SAFETRIM\ns = \"a\\\n   b\"\n", "\ns = \"a\\\n   b\"\n");
	expect_trim("#!/usr/bin/lua  -- x\n--SAFETRIM\n",
		    "#!/usr/bin/lua  -- x\n\n");
	expect_trim("--SAFETRIM", "");
	/* "\n \r" is two line breaks to Lua, "\n\r" only one */
	expect_trim("--SAFETRIM\nx=1\n \ry=2\n", "\nx=1\n \ry=2\n");
	expect_trim("--SAFETRIM\n--[[\nc\r]]\n", "\n\n \r \n");
	/* the marker must be a whole line */
	expect_trim(" --SAFETRIM\nx = 1 -- c\n", " --SAFETRIM\nx = 1 -- c\n");
	expect_trim("--SAFETRIM2\nx = 1 -- c\n", "--SAFETRIM2\nx = 1 -- c\n");
}

static void expect_einval(const char *in)
{
	char *out = (char *)1;
	size_t len = 1;

	errno = 0;
	assert_int_equal(plan_safetrim(in, strlen(in), &out, &len), -1);
	assert_int_equal(errno, EINVAL);
	assert_null(out);
}

static void unfinished_sources(void **state)
{
	(void)state;
	expect_einval("--SAFETRIM\ns = \"abc\n");
	expect_einval("--SAFETRIM\ns = 'abc");
	expect_einval("--SAFETRIM\ns = [[abc\n");
	expect_einval("--SAFETRIM\ns = [==[abc]=]\n");
	expect_einval("--SAFETRIM\n--[[ never closed\n");
	expect_einval("--SAFETRIM\ns = \"abc\\");
}

static void no_marker_copies(void **state)
{
	const char *src = "-- keep\n  x = 1 -- c  \n";
	char *out = NULL;
	size_t len = 0;

	(void)state;
	assert_int_equal(plan_safetrim(src, strlen(src), &out, &len), 0);
	assert_int_equal(len, strlen(src));
	assert_memory_equal(out, src, len);
	free(out);
	assert_int_equal(plan_safetrim("", 0, &out, &len), 0);
	assert_int_equal(len, 0);
	free(out);
}

/* ---- the luac proof ---- */

struct scratch {
	char dir[256];
};

static int shell(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void scratch_init(struct scratch *s)
{
	assert_int_equal(
	    scratch_dir("plan-safetrim", 0, s->dir, sizeof(s->dir)), 0);
	assert_int_equal(shell("mkdir '%s/a' '%s/b'", s->dir, s->dir), 0);
}

/* Runs a shell command; returns its exit status. */
static int shell(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = system(cmd);
	return rc == -1 ? -1 : WEXITSTATUS(rc);
}

static void write_file(const char *path, const char *data, size_t len)
{
	FILE *fp = fopen(path, "wb");

	assert_non_null(fp);
	assert_int_equal(fwrite(data, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

static char *read_file(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	char *buf;
	long n;

	if (fp == NULL)
		return NULL;
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	n = ftell(fp);
	assert_true(n >= 0);
	assert_int_equal(fseek(fp, 0, SEEK_SET), 0);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	buf[n] = '\0';
	fclose(fp);
	*len = (size_t)n;
	return buf;
}

static size_t count_char(const char *s, size_t len, char c)
{
	size_t i, n = 0;

	for (i = 0; i < len; i++)
		n += s[i] == c;
	return n;
}

/*
 * Compiles dir/<side>/t.lua with luac (from inside the directory, so that
 * both sides carry the same source name); 0 when it compiled.
 */
static int luac(const struct scratch *s, const char *luac_name,
		const char *side, int strip, const char *out)
{
	return shell("cd '%s/%s' && %s %s -o %s t.lua 2>/dev/null", s->dir,
		     side, luac_name, strip ? "-s" : "", out);
}

static int same_file(const struct scratch *s, const char *a, const char *b)
{
	char pa[512], pb[512];
	size_t la = 0, lb = 0;
	char *da, *db;
	int same;

	snprintf(pa, sizeof(pa), "%s/%s", s->dir, a);
	snprintf(pb, sizeof(pb), "%s/%s", s->dir, b);
	da = read_file(pa, &la);
	db = read_file(pb, &lb);
	assert_non_null(da);
	assert_non_null(db);
	same = la == lb && memcmp(da, db, la) == 0;
	free(da);
	free(db);
	return same;
}

/*
 * The proof for one source: same newline count, never longer, and under
 * each Lua version luac agrees on both texts.  Returns how many versions
 * accepted the original.
 */
static int prove(const struct scratch *s, const char *label, const char *src,
		 size_t len)
{
	static const char *const compilers[] = { "luac5.1", "luac5.3" };
	char *out = NULL, path[512];
	size_t out_len = 0, i;
	int valid = 0, ok_a, ok_b;

	assert_int_equal(plan_safetrim(src, len, &out, &out_len), 0);
	assert_true(out_len <= len);
	if (count_char(src, len, '\n') != count_char(out, out_len, '\n') ||
	    count_char(src, len, '\r') != count_char(out, out_len, '\r'))
		fail_msg("%s: line breaks changed", label);
	snprintf(path, sizeof(path), "%s/a/t.lua", s->dir);
	write_file(path, src, len);
	snprintf(path, sizeof(path), "%s/b/t.lua", s->dir);
	write_file(path, out, out_len);
	for (i = 0; i < 2; i++) {
		ok_a = luac(s, compilers[i], "a", 1, "s.luac") == 0;
		ok_b = luac(s, compilers[i], "b", 1, "s.luac") == 0;
		if (ok_a != ok_b)
			fail_msg("%s: %s accepts only the %s text", label,
				 compilers[i], ok_a ? "original" : "trimmed");
		if (!ok_a)
			continue;
		valid++;
		if (!same_file(s, "a/s.luac", "b/s.luac"))
			fail_msg("%s: %s -s bytecode differs", label,
				 compilers[i]);
		assert_int_equal(luac(s, compilers[i], "a", 0, "d.luac"), 0);
		assert_int_equal(luac(s, compilers[i], "b", 0, "d.luac"), 0);
		if (!same_file(s, "a/d.luac", "b/d.luac"))
			fail_msg("%s: %s debug info (line numbers) differs",
				 label, compilers[i]);
	}
	free(out);
	return valid;
}

static int has_suffix(const char *name, const char *suffix)
{
	size_t n = strlen(name), k = strlen(suffix);

	return n >= k && strcmp(name + n - k, suffix) == 0;
}

static void prove_lua_files(void **state)
{
	struct scratch s;
	struct dirent *de;
	DIR *dir;
	char path[1024];
	int files = 0;

	(void)state;
	scratch_init(&s);
	dir = opendir(PLAN_LUA_DIR);
	assert_non_null(dir);
	while ((de = readdir(dir)) != NULL) {
		size_t len = 0, out_len = 0;
		char *src, *out = NULL;

		if (!has_suffix(de->d_name, ".lua"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", PLAN_LUA_DIR, de->d_name);
		src = read_file(path, &len);
		assert_non_null(src);
		if (prove(&s, de->d_name, src, len) == 0)
			fail_msg("%s: valid under no Lua version", de->d_name);
		/* with the marker, trimming must actually have happened */
		assert_int_equal(plan_safetrim(src, len, &out, &out_len), 0);
		if (plan_safetrim_wanted(src, len) && out_len >= len)
			fail_msg("%s: nothing was trimmed", de->d_name);
		free(out);
		free(src);
		files++;
	}
	closedir(dir);
	assert_true(files >= 10);
	assert_int_equal(shell("rm -rf '%s'", s.dir), 0);
}

/* ---- seeded random programs ---- */

static unsigned rnd(uint64_t *seed, unsigned n)
{
	*seed = *seed * 6364136223846793005ULL + 1442695040888963407ULL;
	return (unsigned)(*seed >> 33) % n;
}

struct text {
	char buf[16384];
	size_t len;
};

static void add(struct text *t, const char *s)
{
	size_t n = strlen(s);

	assert_true(t->len + n < sizeof(t->buf));
	memcpy(t->buf + t->len, s, n);
	t->len += n;
	t->buf[t->len] = '\0';
}

/* What may stand between two tokens: each separates them. */
static void separator(struct text *t, uint64_t *seed)
{
	static const char *const seps[] = {
		" ",	   "\t",
		"   ",	   " --[[c]] ",
		"--[[c]]", "--[==[ ]] \n ]==]",
		"\n",	   "  -- comment -- \n   ",
		"\n\t\n",  " --[=[\n\n]=]\t",
		"\n \r",   "\r--c\n",
		"\r\n",	   "--[[\nx\r]]",
	};

	/* "-" then "--[[" would read as "---[[", a line comment */
	if (t->len > 0 && t->buf[t->len - 1] == '-')
		add(t, " ");
	add(t, seps[rnd(seed, sizeof(seps) / sizeof(seps[0]))]);
}

static void term(struct text *t, uint64_t *seed, int depth, int nvars)
{
	static const char *const atoms[] = {
		"1",
		"1e-5",
		"0x1F",
		"2.5",
		"\"a--b\"",
		"'c\\'--d'",
		"[[\n  x--y\n]]",
		"[==[ ]] ]==]",
		"\" \\\n  \"",
		"[=[--[[no]]=]",
		"true",
		"nil",
	};
	char name[16];

	switch (depth > 2 ? 0 : rnd(seed, 5)) {
	case 0:
		if (nvars > 0 && rnd(seed, 3) == 0) {
			snprintf(name, sizeof(name), "v%u",
				 rnd(seed, (unsigned)nvars));
			add(t, name);
		} else {
			add(t,
			    atoms[rnd(seed, sizeof(atoms) / sizeof(atoms[0]))]);
		}
		break;
	case 1:
		add(t, "-");
		separator(t, seed);
		term(t, seed, depth + 1, nvars);
		break;
	case 2:
		add(t, "(");
		separator(t, seed);
		term(t, seed, depth + 1, nvars);
		separator(t, seed);
		add(t, rnd(seed, 2) ? "-" : "..");
		separator(t, seed);
		term(t, seed, depth + 1, nvars);
		separator(t, seed);
		add(t, ")");
		break;
	case 3:
		add(t, "{");
		separator(t, seed);
		term(t, seed, depth + 1, nvars);
		separator(t, seed);
		add(t, ",");
		separator(t, seed);
		add(t, "[");
		separator(t, seed);
		term(t, seed, depth + 1, nvars);
		separator(t, seed);
		add(t, "]=");
		separator(t, seed);
		term(t, seed, depth + 1, nvars);
		separator(t, seed);
		add(t, "}");
		break;
	default:
		add(t, "#");
		separator(t, seed);
		add(t, "\"--\"");
		break;
	}
}

static void random_programs(void **state)
{
	struct scratch s;
	uint64_t seed = (uint64_t)time(NULL), s0;
	struct text t;
	int round, i, nstmts;

	(void)state;
	if (getenv("PLAN_SEED") != NULL)
		seed = strtoull(getenv("PLAN_SEED"), NULL, 10);
	s0 = seed;
	printf("# random programs: PLAN_SEED=%llu\n", (unsigned long long)s0);
	scratch_init(&s);
	for (round = 0; round < 25; round++) {
		char label[64];

		t.len = 0;
		t.buf[0] = '\0';
		add(&t, "--SAFETRIM\n");
		nstmts = 1 + (int)rnd(&seed, 6);
		for (i = 0; i < nstmts; i++) {
			char head[32];
			separator(&t, &seed);
			snprintf(head, sizeof(head), "local v%d", i);
			add(&t, head);
			separator(&t, &seed);
			add(&t, "=");
			separator(&t, &seed);
			term(&t, &seed, 0, i);
			separator(&t, &seed);
		}
		snprintf(label, sizeof(label), "seed %llu round %d",
			 (unsigned long long)s0, round);
		if (prove(&s, label, t.buf, t.len) == 0)
			fail_msg("%s: generated an invalid program:\n%s", label,
				 t.buf);
	}
	assert_int_equal(shell("rm -rf '%s'", s.dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(exact_outputs),
		cmocka_unit_test(unfinished_sources),
		cmocka_unit_test(no_marker_copies),
		cmocka_unit_test(prove_lua_files),
		cmocka_unit_test(random_programs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
