/* Test support: a private scratch directory per test. */
#ifndef TESTS_SCRATCH_H
#define TESTS_SCRATCH_H

#include <stddef.h>

/*
 * Creates a new directory "<base>/<prefix>.<random>" (mode 0700) and
 * writes its path to out.  base is $TMPDIR when set, else /tmp; with
 * fast, /dev/shm when writable (for tests that sync often).  Returns 0,
 * or -1 with errno set.
 */
int scratch_dir(const char *prefix, int fast, char *out, size_t len);

#endif
