/*
 * plan/ under allocation failure: malloc, calloc, realloc and strdup are
 * wrapped at link time (-Wl,--wrap) so that the Nth call fails; for every
 * N a resolve, a chk and a diff either succeed or report ENOMEM, and never
 * crash, leak (LeakSanitizer) or blame a file for it.
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

#include "plan/plan.h"

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);

static long fail_at = -1; /* the call that fails; -1: none */
static long calls;

static int should_fail(void)
{
	if (fail_at < 0 || calls++ != fail_at)
		return 0;
	errno = ENOMEM;
	return 1;
}

void *__wrap_malloc(size_t n)
{
	return should_fail() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
	return should_fail() ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n)
{
	return should_fail() ? NULL : __real_realloc(p, n);
}

char *__wrap_strdup(const char *s)
{
	return should_fail() ? NULL : __real_strdup(s);
}

static void put(const char *dir, const char *name, const char *text)
{
	struct timespec ts[2] = { { 1600000000, 0 }, { 1600000000, 0 } };
	char path[512];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(text, fp);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
}

/* One round of work; 0 when it all succeeded, -1 on a clean ENOMEM. */
static int round_trip(const char *dir)
{
	static const struct plan_want files[] = {
		{ "init.lua", PLAN_AUTO },
		{ "app.lua", PLAN_DL },
		{ "page.html", PLAN_AUTO },
		{ "init.lua", PLAN_AUTO },
	};
	const struct plan_spec spec = {
		.repo_path = dir,
		.files = files,
		.nfiles = 4,
		.lua_version = 51,
		.max_file_size = 4096,
	};
	const struct plan_held held[] = {
		{ "app.lua", "xxxx" },
		{ "gone.lua", "abcd" },
	};
	struct plan_cache *c = plan_cache_new();
	struct plan_manifest *m1 = NULL, *m2 = NULL;
	struct plan_steps steps;
	char chk[PLAN_CHK_LEN + 1];
	int rc = -1;

	if (c == NULL)
		return -1;
	if (plan_manifest_resolve(c, &spec, &m1) != 0) {
		assert_int_equal(errno, ENOMEM);
		goto done;
	}
	if (m1->error != NULL)
		fail_msg("allocation failure reported as: %s", m1->error);
	if (plan_manifest_resolve(c, &spec, &m2) != 0) {
		assert_int_equal(errno, ENOMEM);
		goto done;
	}
	assert_null(m2->error);
	plan_chk(m2, "{\"server\":\"x\"}", chk);
	assert_int_equal(strlen(chk), PLAN_CHK_LEN);
	if (plan_diff(m2, held, 2, &steps) != 0) {
		assert_int_equal(errno, ENOMEM);
		goto done;
	}
	assert_int_equal(steps.nsend, 3);
	assert_int_equal(steps.nremove, 1);
	plan_steps_free(&steps);
	rc = 0;
done:
	plan_manifest_free(m1);
	plan_manifest_free(m2);
	plan_cache_free(c);
	return rc;
}

static void every_allocation_fails_once(void **state)
{
	char dir[256], cmd[300];
	long n;
	int failures = 0;

	(void)state;
	assert_int_equal(scratch_dir("plan-faults", 0, dir, sizeof(dir)), 0);
	put(dir, "init.lua", "--SAFETRIM\n  dofile('app.lc') -- go\n");
	put(dir, "app.lua", "return 1\n");
	put(dir, "page.html", "<p>x</p>\n");
	for (n = 0;; n++) {
		fail_at = n;
		calls = 0;
		if (round_trip(dir) != 0) {
			failures++;
			continue;
		}
		if (calls <= n)
			break; /* nothing left to fail */
	}
	fail_at = -1;
	printf("# %ld allocations, %d failed cleanly\n", n, failures);
	assert_true(failures > 10);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_allocation_fails_once),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
