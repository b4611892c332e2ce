/*
 * Fuzz target: the luaotad.conf parser.  The input is a configuration
 * file; whatever it holds, parsing ends with every value in range or an
 * error, and nothing leaks.
 */
#include <assert.h>
#include <stdint.h>
#include <stdio.h>

#include "conf/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config c;
	FILE *fp;

	if (size == 0)
		return 0;
	fp = fmemopen((void *)data, size, "r");
	if (fp == NULL)
		return 0;
	config_defaults(&c);
	if (config_parse(&c, "fuzz.conf", fp, NULL) == 0) {
		/* A configuration that loads keeps every value in range. */
		assert(c.session_budget_ms < c.session_deadline_ms);
		assert(c.max_connections >= 1 && c.max_per_address >= 1);
		assert(c.max_record >= 256 && c.max_record <= 1024 * 1024);
		assert(c.nlisten >= 1 && c.nlisten <= LUAOTAD_MAX_LISTEN);
		assert(c.database != NULL);
		assert(c.rejection_window_ms >= 0 &&
		       c.rejection_window_ms <= 3600000);
	}
	fclose(fp);
	config_free(&c);
	return 0;
}
