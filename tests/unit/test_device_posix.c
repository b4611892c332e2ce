/* device/posix/: the directory flash, the liblua compiler, TCP. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "scratch.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "luaota.h"
#include "posix/compile_lua.h"
#include "posix/flash_dir.h"
#include "posix/transport_tcp.h"
#if LUAOTA_TEST_LUA51
#include "posix/lua51_strip.h"
#endif

/* A temp dir holding "flash/" (the flash) beside the luac outputs. */
struct env {
	char root[64];
	char flash[96];
	struct luaota_flash_dir dir;
	struct luaota_flash ops;
};

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));

	if (e == NULL)
		return -1;
	if (scratch_dir("luaota-posix", 0, e->root, sizeof(e->root)) != 0)
		return -1;
	snprintf(e->flash, sizeof(e->flash), "%s/flash", e->root);
	if (mkdir(e->flash, 0700) != 0 ||
	    luaota_flash_dir_open(&e->dir, e->flash, &e->ops) != 0)
		return -1;
	*state = e;
	return 0;
}

static void remove_tree(const char *path)
{
	char sub[512];
	struct dirent *d;
	DIR *dir = opendir(path);

	if (dir == NULL) {
		unlink(path);
		return;
	}
	while ((d = readdir(dir)) != NULL) {
		if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0)
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", path, d->d_name);
		remove_tree(sub);
	}
	closedir(dir);
	rmdir(path);
}

static int teardown(void **state)
{
	struct env *e = *state;

	luaota_flash_dir_close(&e->dir);
	remove_tree(e->root);
	free(e);
	return 0;
}

static void put(struct env *e, const char *name, const char *text)
{
	int h = e->ops.open(e->ops.ctx, name, LUAOTA_OPEN_WRITE);

	assert_true(h >= 0);
	assert_int_equal(
	    e->ops.write(e->ops.ctx, h, (const uint8_t *)text, strlen(text)),
	    0);
	assert_int_equal(e->ops.close(e->ops.ctx, h), 0);
}

static void encode_decode(void **state)
{
	static const char *const names[] = { "init.lua", "luaOTA/config.json",
					     "..",	 ".hidden",
					     "a b%c",	 "\xc3\xa9t\xc3\xa9" };
	char enc[128], dec[64];
	size_t i;

	(void)state;
	assert_int_equal(
	    luaota_flash_dir_encode("luaOTA/config.json", enc, sizeof(enc)), 0);
	assert_string_equal(enc, "luaOTA%2Fconfig.json");
	assert_int_equal(luaota_flash_dir_encode("..", enc, sizeof(enc)), 0);
	assert_string_equal(enc, "%2E.");
	assert_int_equal(luaota_flash_dir_encode("", enc, sizeof(enc)), -1);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		assert_int_equal(
		    luaota_flash_dir_encode(names[i], enc, sizeof(enc)), 0);
		assert_null(strchr(enc, '/'));
		assert_true(enc[0] != '.');
		assert_int_equal(luaota_flash_dir_decode(enc, dec, sizeof(dec)),
				 0);
		assert_string_equal(dec, names[i]);
	}
	/* Only canonical spellings decode. */
	assert_int_equal(luaota_flash_dir_decode("a%2fb", dec, sizeof(dec)),
			 -1);
	assert_int_equal(luaota_flash_dir_decode("a%2", dec, sizeof(dec)), -1);
	assert_int_equal(luaota_flash_dir_decode("%61", dec, sizeof(dec)), -1);
	assert_int_equal(luaota_flash_dir_decode("a%00", dec, sizeof(dec)), -1);
	assert_int_equal(luaota_flash_dir_decode("a b", dec, sizeof(dec)), -1);
}

/* Counts the entries of path other than "." and "..". */
static int count_entries(const char *path)
{
	struct dirent *d;
	DIR *dir = opendir(path);
	int n = 0;

	assert_non_null(dir);
	while ((d = readdir(dir)) != NULL)
		if (strcmp(d->d_name, ".") != 0 && strcmp(d->d_name, "..") != 0)
			n++;
	closedir(dir);
	return n;
}

static int collect(void *arg, const char *name, uint32_t size)
{
	char *out = arg;
	size_t len = strlen(out);

	snprintf(out + len, 512 - len, "%s=%u;", name, (unsigned)size);
	return 0;
}

static void names_stay_inside_the_directory(void **state)
{
	struct env *e = *state;
	char listing[512] = "";
	char stray[160];
	uint32_t size;
	FILE *fp;

	put(e, "../escape", "x");
	put(e, "/abs", "yy");
	put(e, "luaOTA/config.json", "{}");
	/* The root holds only "flash": nothing was written beside it. */
	assert_int_equal(count_entries(e->root), 1);
	assert_int_equal(count_entries(e->flash), 3);
	assert_int_equal(e->ops.size(e->ops.ctx, "../escape", &size), 0);
	assert_int_equal(size, 1);
	assert_int_equal(e->ops.rename(e->ops.ctx, "/abs", "a/b"), 0);
	assert_int_equal(e->ops.size(e->ops.ctx, "/abs", &size), -1);
	assert_int_equal(e->ops.remove(e->ops.ctx, "a/b"), 0);
	assert_int_equal(e->ops.remove(e->ops.ctx, "a/b"), -1);
	/* Stray files no flash name encodes to are not listed. */
	snprintf(stray, sizeof(stray), "%s/stray file", e->flash);
	fp = fopen(stray, "w");
	assert_non_null(fp);
	fclose(fp);
	assert_int_equal(e->ops.list(e->ops.ctx, collect, listing), 0);
	assert_non_null(strstr(listing, "../escape=1;"));
	assert_non_null(strstr(listing, "luaOTA/config.json=2;"));
	assert_null(strstr(listing, "stray"));
	assert_int_equal(e->ops.open(e->ops.ctx, "missing", LUAOTA_OPEN_READ),
			 -1);
}

/* Compiles text as flash file name.lua with the port, and with luac -s
 * from a real file; both bytecodes must be equal. */
static void compare_with_luac(struct env *e, const char *text)
{
	struct luaota_compiler c;
	char cmd[512], path[256], err[256];
	uint32_t lc_size = 0;
	uint8_t *mine, *theirs;
	long n;
	int h;
	FILE *fp;
	size_t len;

	put(e, "src.lua", text);
	luaota_lua_compiler_init(&c);
	assert_int_equal(c.compile(c.ctx, &e->ops, "src.lua", "src.lua",
				   "out.lc", &lc_size, err, sizeof(err)),
			 LUAOTA_COMPILE_OK);
	snprintf(path, sizeof(path), "%s/src.lua", e->root);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
	snprintf(cmd, sizeof(cmd), "%s -s -o %s/ref.lc %s", LUAOTA_TEST_LUAC,
		 e->root, path);
	assert_int_equal(system(cmd), 0);
	snprintf(path, sizeof(path), "%s/ref.lc", e->root);
	fp = fopen(path, "rb");
	assert_non_null(fp);
	theirs = malloc(1 << 16);
	assert_non_null(theirs);
	len = fread(theirs, 1, 1 << 16, fp);
	fclose(fp);
	assert_int_equal(len, lc_size);
	mine = malloc(lc_size + 1);
	assert_non_null(mine);
	h = e->ops.open(e->ops.ctx, "out.lc", LUAOTA_OPEN_READ);
	assert_true(h >= 0);
	n = e->ops.read(e->ops.ctx, h, 0, mine, lc_size + 1);
	e->ops.close(e->ops.ctx, h);
	assert_int_equal(n, (long)lc_size);
	assert_memory_equal(mine, theirs, len);
	free(mine);
	free(theirs);
}

static void bytecode_equals_luac_stripped(void **state)
{
	struct env *e = *state;
	static const char *const sources[] = {
		"print('hello')\n",
		"local a, b = 1, 2.5\nlocal s = 'str' .. \"ing\"\n"
		"local t = { x = true, y = false, z = nil, [1] = -3 }\n"
		"local function f(...)\n  local u, n = a, select('#', ...)\n"
		"  return function(q) return u + q + n end\n"
		"end\n"
		"for i = 1, 10 do t[i] = f(i)(i) end\n"
		"while a < 5 do a = a + 1 end\n"
		"repeat b = b * 2 until b > 100\n"
		"return t, s, 1e300, 0x10\n",
		"",
	};
	size_t i;

	for (i = 0; i < sizeof(sources) / sizeof(sources[0]); i++)
		compare_with_luac(e, sources[i]);
}

static void compile_errors(void **state)
{
	struct env *e = *state;
	struct luaota_compiler c;
	char err[256];
	uint32_t lc_size = 0;

	luaota_lua_compiler_init(&c);
	put(e, "bad.lua", "local x = = 1\n");
	assert_int_equal(c.compile(c.ctx, &e->ops, "bad.lua", "bad.lua",
				   "bad.lc", &lc_size, err, sizeof(err)),
			 LUAOTA_COMPILE_ESYNTAX);
	assert_non_null(strstr(err, "[string \"bad.lua\"]:1:"));
	put(e, "bin.lua", "\x1bLua binary");
	assert_int_equal(c.compile(c.ctx, &e->ops, "bin.lua", "bin.lua",
				   "bin.lc", &lc_size, err, sizeof(err)),
			 LUAOTA_COMPILE_ESYNTAX);
	assert_int_equal(c.compile(c.ctx, &e->ops, "none.lua", "none.lua",
				   "none.lc", &lc_size, err, sizeof(err)),
			 LUAOTA_COMPILE_EWRITE);
	assert_int_equal(e->ops.size(e->ops.ctx, "bad.lc", &lc_size), -1);
	assert_non_null(luaota_lua_version());
}

#if LUAOTA_TEST_LUA51
static int sink(void *arg, const void *bytes, size_t n)
{
	(void)arg;
	(void)bytes;
	(void)n;
	return 0;
}

static int refuse(void *arg, const void *bytes, size_t n)
{
	(void)arg;
	(void)bytes;
	(void)n;
	return -1;
}

static void strip_rejects_every_truncation(void **state)
{
	struct env *e = *state;
	char path[256], cmd[512];
	unsigned char buf[4096];
	size_t len, cut;
	FILE *fp;

	snprintf(path, sizeof(path), "%s/t.lua", e->root);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("local function f(a) return a, 'k', 2 end\nreturn f\n", fp);
	fclose(fp);
	/* The full (unstripped) dump, as lua_dump() makes it. */
	snprintf(cmd, sizeof(cmd), "%s -o %s/t.luac %s", LUAOTA_TEST_LUAC,
		 e->root, path);
	assert_int_equal(system(cmd), 0);
	snprintf(path, sizeof(path), "%s/t.luac", e->root);
	fp = fopen(path, "rb");
	assert_non_null(fp);
	len = fread(buf, 1, sizeof(buf), fp);
	fclose(fp);
	assert_int_equal(luaota_lua51_strip(buf, len, sink, NULL), 0);
	assert_int_equal(luaota_lua51_strip(buf, len, refuse, NULL), -1);
	for (cut = 0; cut < len; cut++)
		assert_int_equal(luaota_lua51_strip(buf, cut, sink, NULL), -1);
	buf[4] = 0x52;
	assert_int_equal(luaota_lua51_strip(buf, len, sink, NULL), -1);
}
#endif

static void tcp_round_trip_timeout_and_eof(void **state)
{
	struct luaota_transport t;
	struct luaota_tcp tcp;
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	uint8_t buf[16];
	int ls, peer;

	(void)state;
	ls = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(ls >= 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(ls, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(ls, 1), 0);
	assert_int_equal(getsockname(ls, (struct sockaddr *)&sa, &sl), 0);
	luaota_tcp_init(&tcp, &t);
	assert_int_equal(
	    t.connect(t.ctx, "127.0.0.1", ntohs(sa.sin_port), 1000), 0);
	assert_non_null(strstr(tcp.peer, "127.0.0.1:"));
	peer = accept(ls, NULL, NULL);
	assert_true(peer >= 0);
	assert_int_equal(t.send(t.ctx, (const uint8_t *)"hello", 5), 0);
	assert_int_equal(recv(peer, buf, sizeof(buf), 0), 5);
	assert_int_equal(send(peer, "back", 4, 0), 4);
	assert_int_equal(t.recv(t.ctx, buf, sizeof(buf), 1000), 4);
	assert_memory_equal(buf, "back", 4);
	/* Nothing more within 1 ms: a timeout, not an error. */
	assert_int_equal(t.recv(t.ctx, buf, sizeof(buf), 1),
			 LUAOTA_RECV_TIMEOUT);
	close(peer);
	assert_int_equal(t.recv(t.ctx, buf, sizeof(buf), 1000),
			 LUAOTA_RECV_EOF);
	t.close(t.ctx);
	/* A closed port refuses. */
	close(ls);
	assert_int_equal(
	    t.connect(t.ctx, "127.0.0.1", ntohs(sa.sin_port), 1000), -1);
	assert_int_equal(t.connect(t.ctx, "no such host.invalid", 1, 1000), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(encode_decode),
		T(names_stay_inside_the_directory),
		T(bytecode_equals_luac_stripped),
		T(compile_errors),
#if LUAOTA_TEST_LUA51
		T(strip_rejects_every_truncation),
#endif
		T(tcp_round_trip_timeout_and_eof),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
