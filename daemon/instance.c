/* One daemon per database: see instance.h. */
#include "instance.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int instance_lock(const char *database, pid_t *holder, char *why,
		  size_t why_len)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	char path[4096], pid[32];
	int fd, len;

	*holder = 0;
	if (snprintf(path, sizeof(path), "%s.lock", database) >=
	    (int)sizeof(path)) {
		snprintf(why, why_len, "database path too long");
		return -1;
	}
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0) {
		snprintf(why, why_len, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fcntl(fd, F_SETLK, &fl) != 0) {
		int saved = errno;

		if ((saved == EACCES || saved == EAGAIN) &&
		    fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK)
			*holder = fl.l_pid;
		snprintf(why, why_len, "%s: %s", path,
			 *holder != 0 ? "locked by another luaotad"
				      : strerror(saved));
		close(fd);
		return -1;
	}
	/* The pid is for people; the lock itself is what counts. */
	len = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) != 0 || write(fd, pid, (size_t)len) != len) {
		/* A full disk: the lock still holds. */
	}
	return 0; /* fd stays open: closing it would drop the lock */
}
