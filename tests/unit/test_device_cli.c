/* luaota-device: its exit codes and output against a scripted server. */
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
#include <sys/wait.h>
#include <unistd.h>

#include "proto/crypto_openssl.h"
#include "proto/protocol.h"
#include "proto/record.h"

#define SECRET "selftest-secret"

/* One record the server sends; it then waits for a reply line if asked. */
struct say {
	const char *json;
	const char *payload;
	int reply;
	const char *secret; /* NULL: SECRET */
};

/* The records of one connection, ended by { NULL }. */
struct conn {
	struct say says[8];
};

struct run {
	char dir[64];
	char out[4096]; /* stdout of the program */
	char err[1024]; /* stderr */
	int status;	/* its exit status */
	char port[8];
};

static int read_line(int fd)
{
	char c;

	do
		if (read(fd, &c, 1) != 1)
			return -1;
	while (c != '\n');
	return 0;
}

/* Copies json, putting the server's port where it says "PORT". */
static void expand_port(char *out, size_t cap, const char *json,
			const char *port)
{
	const char *at = strstr(json, "PORT");

	if (at == NULL)
		snprintf(out, cap, "%s", json);
	else
		snprintf(out, cap, "%.*s%s%s", (int)(at - json), json, port,
			 at + 4);
}

static void serve(int ls, const struct conn *conns, int n, const char *port)
{
	uint8_t rec[LUAOTA_SEGMENT_MAX];
	size_t len;
	int i, k, fd;

	for (i = 0; i < n; i++) {
		fd = accept(ls, NULL, NULL);
		if (fd < 0 || read_line(fd) != 0)
			_exit(2);
		for (k = 0; conns[i].says[k].json != NULL; k++) {
			const struct say *s = &conns[i].says[k];
			const char *key = s->secret ? s->secret : SECRET;
			size_t plen = s->payload ? strlen(s->payload) : 0;
			char json[512];

			expand_port(json, sizeof(json), s->json, port);
			if (luaota_record_write(
				&luaota_crypto_openssl, (const uint8_t *)key,
				strlen(key), json, strlen(json),
				(const uint8_t *)s->payload, plen, rec,
				sizeof(rec), &len) != LUAOTA_RECORD_OK ||
			    write(fd, rec, len) != (ssize_t)len)
				_exit(3);
			if (s->reply && read_line(fd) != 0)
				_exit(4);
		}
		close(fd);
	}
	_exit(0);
}

/* Reads a whole small file into buf. */
static void slurp(const char *path, char *buf, size_t cap)
{
	FILE *fp = fopen(path, "r");
	size_t n = 0;

	if (fp != NULL) {
		n = fread(buf, 1, cap - 1, fp);
		fclose(fp);
	}
	buf[n] = '\0';
}

/* A command to run luaota-device under (valgrind), or "". */
static const char *wrapper(void)
{
	const char *w = getenv("LUAOTA_TEST_WRAPPER");

	return w != NULL ? w : "";
}

/* Runs luaota-device with extra arguments against n scripted connections
 * (n < 0: nothing listens on the port). */
static void run_device(struct run *r, const struct conn *conns, int n,
		       const char *extra)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	char cmd[1024], path[128];
	pid_t pid = -1;
	int ls, status;

	memset(r, 0, sizeof(*r));
	assert_int_equal(scratch_dir("luaota-cli", 0, r->dir, sizeof(r->dir)),
			 0);
	ls = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(ls >= 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(ls, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(ls, 4), 0);
	assert_int_equal(getsockname(ls, (struct sockaddr *)&sa, &sl), 0);
	snprintf(r->port, sizeof(r->port), "%u", ntohs(sa.sin_port));
	if (n >= 0) {
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0)
			serve(ls, conns, n, r->port);
	}
	close(ls);
	snprintf(cmd, sizeof(cmd),
		 "%s %s --flash %s --chip-id 13572468 --server 127.0.0.1:%s "
		 "--secret %s %s >%s/.out 2>%s/.err",
		 wrapper(), LUAOTA_DEVICE_EXE, r->dir, r->port, SECRET, extra,
		 r->dir, r->dir);
	status = system(cmd);
	assert_true(WIFEXITED(status));
	r->status = WEXITSTATUS(status);
	snprintf(path, sizeof(path), "%s/.out", r->dir);
	slurp(path, r->out, sizeof(r->out));
	snprintf(path, sizeof(path), "%s/.err", r->dir);
	slurp(path, r->err, sizeof(r->err));
	if (pid > 0) {
		assert_true(waitpid(pid, &status, 0) == pid);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
}

static void cleanup(struct run *r)
{
	char path[512];
	struct dirent *e;
	DIR *d = opendir(r->dir);

	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", r->dir, e->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(r->dir);
}

static void current_exits_0(void **state)
{
	static const struct conn c[] = {
		{ { { "{\"r\":\"OK!\"}", 0, 0, 0 } } }
	};
	struct run r;
	char line[64];

	(void)state;
	run_device(&r, c, 1, "");
	assert_int_equal(r.status, 0);
	snprintf(line, sizeof(line), "connect 127.0.0.1:%s\n", r.port);
	assert_non_null(strstr(r.out, line));
	assert_non_null(strstr(r.out, "hi id=13572468 sent to 127.0.0.1:"));
	assert_non_null(strstr(r.out, "start luaOTA.default.entry\n"));
	assert_null(strstr(r.out, SECRET));
	cleanup(&r);
}

static const struct conn update = { {
    { "{\"a\":\"dl\",\"name\":\"init.lua\",\"data\":9}", "print(42)", 1, 0 },
    { "{\"a\":\"restart\",\"chk\":\"v1\",\"server\":\"127.0.0.1\","
      "\"port\":PORT}",
      0, 0, 0 },
} };

static void update_exits_10(void **state)
{
	struct run r;
	char path[128], text[256];

	(void)state;
	run_device(&r, &update, 1, "");
	assert_int_equal(r.status, 10);
	assert_non_null(strstr(r.out, "dl init.lua: OK (9 bytes)\n"));
	assert_non_null(strstr(r.out, "reboot\n"));
	snprintf(path, sizeof(path), "%s/init.lua", r.dir);
	slurp(path, text, sizeof(text));
	assert_string_equal(text, "print(42)");
	snprintf(path, sizeof(path), "%s/luaOTA%%2Fconfig.json", r.dir);
	slurp(path, text, sizeof(text));
	snprintf(path, sizeof(path),
		 "{\"chk\":\"v1\",\"server\":\"127.0.0.1\",\"port\":%s,"
		 "\"secret\":\"selftest-secret\"}\n",
		 r.port);
	assert_string_equal(text, path);
	cleanup(&r);
}

static void boots_until_current(void **state)
{
	struct conn c[2];
	struct run r;

	(void)state;
	memset(c, 0, sizeof(c));
	c[0] = update;
	c[1].says[0].json = "{\"r\":\"OK!\"}";
	run_device(&r, c, 2, "--boots 3");
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "boot 2\n"));
	assert_null(strstr(r.out, "boot 3\n"));
	cleanup(&r);
}

static void no_server_exits_3(void **state)
{
	struct run r;

	(void)state;
	run_device(&r, NULL, -1, "");
	assert_int_equal(r.status, 3);
	assert_non_null(strstr(r.out, "start luaOTA.default.entry\n"));
	cleanup(&r);
}

static void bad_signature_in_session_exits_1(void **state)
{
	static const struct conn c[] = { { {
	    { "{\"a\":\"ls\",\"pad\":\"xx\"}", 0, 1, 0 },
	    { "{\"a\":\"ls\",\"pad\":\"xx\"}", 0, 0, "wrong" },
	} } };
	struct run r;

	(void)state;
	run_device(&r, c, 1, "");
	assert_int_equal(r.status, 1);
	assert_non_null(strstr(r.err, "luaota-device: boot 1: "));
	cleanup(&r);
}

static void closed_session_exits_4(void **state)
{
	static const struct conn c[] = { { {
	    { "{\"a\":\"pu\",\"data\":3}", "abc", 1, 0 },
	} } };
	struct run r;

	(void)state;
	run_device(&r, c, 1, "");
	assert_int_equal(r.status, 4);
	cleanup(&r);
}

static void usage_exits_2(void **state)
{
	char cmd[512];
	int status;

	(void)state;
	snprintf(cmd, sizeof(cmd), "%s >/dev/null 2>&1", LUAOTA_DEVICE_EXE);
	status = system(cmd);
	assert_int_equal(WEXITSTATUS(status), 2);
	snprintf(cmd, sizeof(cmd),
		 "%s --flash /tmp --server 'x:0' >/dev/null 2>&1",
		 LUAOTA_DEVICE_EXE);
	status = system(cmd);
	assert_int_equal(WEXITSTATUS(status), 2);
	snprintf(cmd, sizeof(cmd), "%s --flash /tmp --boots 0 >/dev/null 2>&1",
		 LUAOTA_DEVICE_EXE);
	status = system(cmd);
	assert_int_equal(WEXITSTATUS(status), 2);
	snprintf(cmd, sizeof(cmd),
		 "%s --flash /nonexistent/dir >/dev/null 2>&1",
		 LUAOTA_DEVICE_EXE);
	status = system(cmd);
	assert_int_equal(WEXITSTATUS(status), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(current_exits_0),
		cmocka_unit_test(update_exits_10),
		cmocka_unit_test(boots_until_current),
		cmocka_unit_test(no_server_exits_3),
		cmocka_unit_test(bad_signature_in_session_exits_1),
		cmocka_unit_test(closed_session_exits_4),
		cmocka_unit_test(usage_exits_2),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
