/*
 * chip_seen DATABASE CHIPID UNIXSECONDS: notes a check-in of CHIPID at
 * that time through the store call the daemon makes after a verified
 * check-in (store_chip_seen), so that test_ctl.sh can list chips against
 * last_seen values the product itself wrote.
 */
#include <stdio.h>
#include <stdlib.h>

#include "db/store.h"

int main(int argc, char **argv)
{
	struct store *st;
	long long when;
	char *end;
	int rc;

	if (argc != 4) {
		fprintf(stderr, "usage: chip_seen DATABASE CHIPID "
				"UNIXSECONDS\n");
		return 2;
	}
	when = strtoll(argv[3], &end, 10);
	if (end == argv[3] || *end != '\0' || when <= 0) {
		fprintf(stderr, "chip_seen: bad time '%s'\n", argv[3]);
		return 2;
	}
	if ((st = store_open(argv[1], 0)) == NULL) {
		fprintf(stderr, "chip_seen: %s\n", store_errmsg(NULL));
		return 1;
	}
	rc = store_chip_seen(st, argv[2], "192.0.2.1", (int64_t)when);
	if (rc != 0)
		fprintf(stderr, "chip_seen: %s\n", store_errmsg(st));
	store_close(st);
	return rc != 0;
}
