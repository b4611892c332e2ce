/* Reads /proc/PID/status and /proc/PID/stat. */
#include "procstat.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* VmRSS and VmHWM from /proc/PID/status. */
static int read_status(pid_t pid, struct procstat *out)
{
	char path[64], line[256];
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	if ((fp = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), fp) != NULL) {
		if (strncmp(line, "VmRSS:", 6) == 0)
			sscanf(line + 6, "%ld", &out->rss_kib);
		else if (strncmp(line, "VmHWM:", 6) == 0)
			sscanf(line + 6, "%ld", &out->hwm_kib);
	}
	fclose(fp);
	return 0;
}

/* utime + stime (fields 14 and 15) from /proc/PID/stat. */
static int read_stat(pid_t pid, struct procstat *out)
{
	char path[64], buf[1024];
	unsigned long long utime, stime;
	const char *p;
	size_t len;
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if ((fp = fopen(path, "r")) == NULL)
		return -1;
	len = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[len] = '\0';
	/* The command name may hold spaces and ')': skip past the last ')'. */
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 1,
		   " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
		   &utime, &stime) != 2)
		return -1;
	out->cpu_s = (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
	return 0;
}

int procstat_read(pid_t pid, struct procstat *out)
{
	memset(out, 0, sizeof(*out));
	if (read_status(pid, out) != 0 || read_stat(pid, out) != 0)
		return -1;
	return 0;
}
