/* What /proc says about another process: memory and CPU time. */
#ifndef LUAOTA_BENCH_PROCSTAT_H
#define LUAOTA_BENCH_PROCSTAT_H

#include <sys/types.h>

struct procstat {
	long rss_kib; /* VmRSS */
	long hwm_kib; /* VmHWM: the peak RSS since the process started */
	double cpu_s; /* user + system time */
};

/* Samples pid; 0, or -1 when the process is gone or /proc unreadable. */
int procstat_read(pid_t pid, struct procstat *out);

#endif /* LUAOTA_BENCH_PROCSTAT_H */
