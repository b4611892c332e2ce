/*
 * A directory playing the device's flash.  Flash names may hold any byte
 * but NUL, and '/' is an ordinary character in them; each maps to one
 * file directly inside the directory, its name percent-encoded, so no
 * name can reach outside it.
 */
#ifndef LUAOTA_POSIX_FLASH_DIR_H
#define LUAOTA_POSIX_FLASH_DIR_H

#include <stddef.h>

#include "luaota.h"

/* The directory's state: fill it with luaota_flash_dir_open(). */
struct luaota_flash_dir {
	int dirfd;
};

/* Opens dir (which must exist) as flash, filling *ops; 0, or -1 (errno). */
int luaota_flash_dir_open(struct luaota_flash_dir *fd, const char *dir,
			  struct luaota_flash *ops);

/* Closes the directory. */
void luaota_flash_dir_close(struct luaota_flash_dir *fd);

/* Encodes a flash name as a file name into out; 0, or -1 if it does not
 * fit or is empty. */
int luaota_flash_dir_encode(const char *name, char *out, size_t cap);

/* Decodes a file name back into a flash name; 0, or -1 if it is not one
 * that luaota_flash_dir_encode() produces. */
int luaota_flash_dir_decode(const char *file, char *out, size_t cap);

#endif /* LUAOTA_POSIX_FLASH_DIR_H */
