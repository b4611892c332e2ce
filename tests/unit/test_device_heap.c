/*
 * device/: peak heap of a boot does not grow with the file sent.  The
 * POSIX device (directory flash, TCP, OpenSSL) downloads a 1 KB and then a
 * 1 MB file from a scripted server in a child process; this executable
 * counts its own heap by interposing malloc, so it is built only without
 * sanitizers (which interpose malloc themselves).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <malloc.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "luaota.h"
#include "posix/port.h"
#include "proto/crypto_openssl.h"
#include "scratch.h"
#include "proto/record.h"

#define SECRET "selftest-secret"

/* glibc's own allocator, under the names it exports for interposers. */
extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t size);
extern void __libc_free(void *p);
extern void *__libc_memalign(size_t align, size_t size);

static size_t heap_live, heap_peak;

static void count_in(void *p)
{
	if (p == NULL)
		return;
	heap_live += malloc_usable_size(p);
	if (heap_live > heap_peak)
		heap_peak = heap_live;
}

static void count_out(void *p)
{
	if (p != NULL)
		heap_live -= malloc_usable_size(p);
}

void *malloc(size_t size)
{
	void *p = __libc_malloc(size);

	count_in(p);
	return p;
}

void *calloc(size_t n, size_t size)
{
	void *p = __libc_calloc(n, size);

	count_in(p);
	return p;
}

void *realloc(void *old, size_t size)
{
	void *p;

	count_out(old);
	p = __libc_realloc(old, size);
	count_in(p != NULL ? p : (size != 0 ? old : NULL));
	return p;
}

void free(void *p)
{
	count_out(p);
	__libc_free(p);
}

void *memalign(size_t align, size_t size)
{
	void *p = __libc_memalign(align, size);

	count_in(p);
	return p;
}

void *aligned_alloc(size_t align, size_t size)
{
	return memalign(align, size);
}

int posix_memalign(void **out, size_t align, size_t size)
{
	void *p = memalign(align, size);

	if (p == NULL)
		return 12; /* ENOMEM */
	*out = p;
	return 0;
}

/* Reads one record header (through '\n') from fd; 0, or -1 at EOF. */
static int read_line(int fd)
{
	char c;

	do
		if (read(fd, &c, 1) != 1)
			return -1;
	while (c != '\n');
	return 0;
}

static void send_record(int fd, const char *json, const uint8_t *payload,
			size_t len)
{
	uint8_t rec[LUAOTA_SEGMENT_MAX];
	size_t n = 0;

	if (luaota_record_write(&luaota_crypto_openssl, (const uint8_t *)SECRET,
				strlen(SECRET), json, strlen(json), payload,
				len, rec, sizeof(rec),
				&n) != LUAOTA_RECORD_OK ||
	    write(fd, rec, n) != (ssize_t)n)
		_exit(3);
}

/* The scripted server: per connection, a file of sizes[i] bytes as pu
 * chunks and a final dl, then close. */
static void serve(int ls, const size_t *sizes, int n)
{
	static uint8_t chunk[LUAOTA_CHUNK_SIZE];
	char json[96];
	int i, fd;

	memset(chunk, 'z', sizeof(chunk));
	for (i = 0; i < n; i++) {
		size_t left = sizes[i];

		fd = accept(ls, NULL, NULL);
		if (fd < 0 || read_line(fd) != 0)
			_exit(2);
		while (left > LUAOTA_CHUNK_SIZE) {
			send_record(fd, "{\"a\":\"pu\",\"data\":1024}", chunk,
				    LUAOTA_CHUNK_SIZE);
			left -= LUAOTA_CHUNK_SIZE;
			if (read_line(fd) != 0)
				_exit(2);
		}
		snprintf(json, sizeof(json),
			 "{\"a\":\"dl\",\"name\":\"big.bin\",\"data\":%zu}",
			 left);
		send_record(fd, json, chunk, left);
		if (read_line(fd) != 0)
			_exit(2);
		close(fd);
	}
	_exit(0);
}

/* Boots once; returns the heap peak above what was live before. */
static size_t boot_peak(struct luaota_posix *posix, const char *port,
			size_t expect)
{
	static struct luaota_device dev;
	const struct luaota_override ov[] = {
		{ "server", "127.0.0.1", LUAOTA_VALUE_STRING },
		{ "port", port, LUAOTA_VALUE_NUMBER },
		{ "secret", SECRET, LUAOTA_VALUE_STRING },
	};
	struct luaota_boot_args args = { "13572468", ov, 3 };
	struct luaota_boot_result result;
	size_t before = heap_live;
	uint32_t size = 0;

	heap_peak = heap_live;
	assert_int_equal(luaota_boot(&dev, &posix->port, &args, &result),
			 LUAOTA_OK);
	assert_int_equal(result.outcome, LUAOTA_APP_CLOSED);
	assert_int_equal(result.files_written, 1);
	assert_int_equal(
	    posix->port.flash.size(posix->port.flash.ctx, "big.bin", &size), 0);
	assert_int_equal(size, expect);
	return heap_peak - before;
}

static void peak_heap_is_flat(void **state)
{
	static const size_t sizes[] = { 1024, 1024, 1024 * 1024 };
	struct luaota_posix posix;
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	char dir[128], port[8], path[160];
	size_t small, large;
	pid_t pid;
	int ls, status;

	(void)state;
	ls = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(ls >= 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(ls, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(ls, 4), 0);
	assert_int_equal(getsockname(ls, (struct sockaddr *)&sa, &sl), 0);
	snprintf(port, sizeof(port), "%u", (unsigned)ntohs(sa.sin_port));
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		serve(ls, sizes, 3);
	close(ls);
	assert_int_equal(scratch_dir("luaota-heap", 0, dir, sizeof(dir)), 0);
	assert_int_equal(luaota_posix_open(&posix, dir), 0);
	/* The first boot warms up what libraries allocate once. */
	boot_peak(&posix, port, 1024);
	small = boot_peak(&posix, port, 1024);
	large = boot_peak(&posix, port, 1024 * 1024);
	printf("# peak heap of a boot: %zu bytes for 1 KB, %zu for 1 MB\n",
	       small, large);
	assert_int_equal(small, large);
	assert_true(waitpid(pid, &status, 0) == pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	luaota_posix_close(&posix);
	snprintf(path, sizeof(path), "%s/big.bin", dir);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(peak_heap_is_flat),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
