/* Reading the benchmark inventory file. */
#include "inventory.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bsd/string.h>

#include "proto/chipid.h"

/* Appends one chip, growing the array geometrically. */
static int inventory_push(struct inventory *inv, size_t *cap, const char *id,
			  const char *secret)
{
	struct inventory_chip *c;

	if (inv->n == *cap) {
		size_t grown = *cap ? *cap * 2 : 1024;

		c = reallocarray(inv->chips, grown, sizeof(*c));
		if (c == NULL)
			return -1;
		inv->chips = c;
		*cap = grown;
	}
	c = &inv->chips[inv->n];
	if (luaota_chipid_normalize(LUAOTA_JSON_STRING, id, strlen(id),
				    c->id) != 0 ||
	    strlcpy(c->secret, secret, sizeof(c->secret)) >= sizeof(c->secret))
		return -1;
	inv->n++;
	return 0;
}

int inventory_load(struct inventory *inv, const char *path)
{
	FILE *fp = fopen(path, "r");
	char line[512], id[64], secret[256];
	size_t cap = 0, lineno = 0;

	memset(inv, 0, sizeof(*inv));
	if (fp == NULL) {
		perror(path);
		return -1;
	}
	while (fgets(line, sizeof(line), fp) != NULL) {
		lineno++;
		if (line[0] == '#' || line[0] == '\n')
			continue;
		if (sscanf(line, "%63s %255s", id, secret) != 2 ||
		    inventory_push(inv, &cap, id, secret) != 0) {
			fprintf(stderr, "%s:%zu: expected \"ID SECRET\"\n",
				path, lineno);
			goto fail;
		}
	}
	fclose(fp);
	if (inv->n == 0) {
		fprintf(stderr, "%s: no chips\n", path);
		inventory_free(inv);
		return -1;
	}
	return 0;
fail:
	fclose(fp);
	inventory_free(inv);
	return -1;
}

void inventory_free(struct inventory *inv)
{
	free(inv->chips);
	inv->chips = NULL;
	inv->n = 0;
}
