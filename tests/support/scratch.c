/* Test support: see scratch.h. */
#include "scratch.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RANDOM_CHARS 6 /* what mkdtemp() replaces */

int scratch_dir(const char *prefix, int fast, char *out, size_t len)
{
	const char *base = getenv("TMPDIR");
	int n;

	if (fast && access("/dev/shm", W_OK) == 0)
		base = "/dev/shm";
	else if (base == NULL || base[0] == '\0')
		base = "/tmp";
	n = snprintf(out, len, "%s/%s.", base, prefix);
	if (n < 0 || (size_t)n + RANDOM_CHARS >= len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memset(out + n, 'X', RANDOM_CHARS);
	out[n + RANDOM_CHARS] = '\0';
	return mkdtemp(out) != NULL ? 0 : -1;
}
