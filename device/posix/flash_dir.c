/* A directory as the device's flash: see flash_dir.h. */
#include "flash_dir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Long enough for LUAOTA_NAME_MAX bytes, each encoded as %XX. */
#define ENCODED_MAX (3 * LUAOTA_NAME_MAX + 1)

static int is_plain(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
}

int luaota_flash_dir_encode(const char *name, char *out, size_t cap)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i, n = 0;

	if (name[0] == '\0')
		return -1;
	for (i = 0; name[i] != '\0'; i++) {
		unsigned char c = (unsigned char)name[i];

		/* A leading '.' is encoded too: no ".", "..", hidden files. */
		if (is_plain(c) && !(i == 0 && c == '.')) {
			if (cap - n < 2)
				return -1;
			out[n++] = (char)c;
			continue;
		}
		if (cap - n < 4)
			return -1;
		out[n++] = '%';
		out[n++] = hex[c >> 4];
		out[n++] = hex[c & 15];
	}
	out[n] = '\0';
	return 0;
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int luaota_flash_dir_decode(const char *file, char *out, size_t cap)
{
	char check[ENCODED_MAX];
	size_t i, n = 0;

	for (i = 0; file[i] != '\0'; i++) {
		int c = (unsigned char)file[i];

		if (c == '%') {
			int hi = hex_digit(file[i + 1]), lo;

			lo = hi < 0 ? -1 : hex_digit(file[i + 2]);
			if (lo < 0)
				return -1;
			c = hi * 16 + lo;
			i += 2;
		}
		if (c == 0 || cap - n < 2)
			return -1;
		out[n++] = (char)c;
	}
	out[n] = '\0';
	/* Only the one canonical spelling counts as a flash file. */
	if (luaota_flash_dir_encode(out, check, sizeof(check)) != 0 ||
	    strcmp(check, file) != 0)
		return -1;
	return 0;
}

static int dir_of(void *ctx)
{
	return ((struct luaota_flash_dir *)ctx)->dirfd;
}

static int flash_open(void *ctx, const char *name, enum luaota_open_mode mode)
{
	char file[ENCODED_MAX];
	int flags = O_CLOEXEC | O_NOFOLLOW;

	if (luaota_flash_dir_encode(name, file, sizeof(file)) != 0)
		return -1;
	switch (mode) {
	case LUAOTA_OPEN_WRITE:
		flags |= O_WRONLY | O_CREAT | O_TRUNC;
		break;
	case LUAOTA_OPEN_APPEND:
		flags |= O_WRONLY | O_CREAT | O_APPEND;
		break;
	default:
		flags |= O_RDONLY;
		break;
	}
	return openat(dir_of(ctx), file, flags, 0644);
}

static long flash_read(void *ctx, int handle, uint32_t offset, uint8_t *buf,
		       size_t len)
{
	ssize_t n;

	(void)ctx;
	do
		n = pread(handle, buf, len, (off_t)offset);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -1 : (long)n;
}

static int flash_write(void *ctx, int handle, const uint8_t *buf, size_t len)
{
	ssize_t n;

	(void)ctx;
	while (len > 0) {
		n = write(handle, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static int flash_close(void *ctx, int handle)
{
	int flags = fcntl(handle, F_GETFL);
	int rc = 0;

	(void)ctx;
	/* Written data reaches the disk before any rename publishes it. */
	if (flags >= 0 && (flags & O_ACCMODE) != O_RDONLY && fsync(handle) != 0)
		rc = -1;
	if (close(handle) != 0)
		rc = -1;
	return rc;
}

static int flash_rename(void *ctx, const char *from, const char *to)
{
	char a[ENCODED_MAX], b[ENCODED_MAX];

	if (luaota_flash_dir_encode(from, a, sizeof(a)) != 0 ||
	    luaota_flash_dir_encode(to, b, sizeof(b)) != 0)
		return -1;
	if (renameat(dir_of(ctx), a, dir_of(ctx), b) != 0)
		return -1;
	/* The rename itself reaches the disk too: a power cut keeps one of
	 * the two versions, whole. */
	fsync(dir_of(ctx));
	return 0;
}

static int flash_remove(void *ctx, const char *name)
{
	char file[ENCODED_MAX];

	if (luaota_flash_dir_encode(name, file, sizeof(file)) != 0)
		return -1;
	return unlinkat(dir_of(ctx), file, 0) == 0 ? 0 : -1;
}

static int flash_size(void *ctx, const char *name, uint32_t *size)
{
	char file[ENCODED_MAX];
	struct stat st;

	if (luaota_flash_dir_encode(name, file, sizeof(file)) != 0 ||
	    fstatat(dir_of(ctx), file, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
	    !S_ISREG(st.st_mode))
		return -1;
	*size =
	    st.st_size > (off_t)UINT32_MAX ? UINT32_MAX : (uint32_t)st.st_size;
	return 0;
}

static int flash_list(void *ctx,
		      int (*each)(void *arg, const char *name, uint32_t size),
		      void *arg)
{
	char name[LUAOTA_NAME_MAX + 1];
	struct dirent *e;
	uint32_t size;
	DIR *dir;
	int fd;

	fd = openat(dir_of(ctx), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	dir = fdopendir(fd);
	if (dir == NULL) {
		close(fd);
		return -1;
	}
	while ((e = readdir(dir)) != NULL) {
		/* Stray files that no flash name encodes to are not listed. */
		if (luaota_flash_dir_decode(e->d_name, name, sizeof(name)) !=
			0 ||
		    flash_size(ctx, name, &size) != 0)
			continue;
		if (each(arg, name, size) != 0)
			break;
	}
	closedir(dir);
	return 0;
}

int luaota_flash_dir_open(struct luaota_flash_dir *fd, const char *dir,
			  struct luaota_flash *ops)
{
	fd->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd->dirfd < 0)
		return -1;
	ops->open = flash_open;
	ops->read = flash_read;
	ops->write = flash_write;
	ops->close = flash_close;
	ops->rename = flash_rename;
	ops->remove = flash_remove;
	ops->size = flash_size;
	ops->list = flash_list;
	ops->ctx = fd;
	return 0;
}

void luaota_flash_dir_close(struct luaota_flash_dir *fd)
{
	if (fd->dirfd >= 0)
		close(fd->dirfd);
	fd->dirfd = -1;
}
