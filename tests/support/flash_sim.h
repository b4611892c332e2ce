/*
 * An in-memory device flash for power-loss tests: every mutating call
 * (open for writing, write, rename, remove) is counted, and power can be
 * cut at any of them.  At the cut a write keeps only its first half (a
 * torn write); from then on every call fails until flash_sim_reboot().
 */
#ifndef TESTS_FLASH_SIM_H
#define TESTS_FLASH_SIM_H

#include <stddef.h>
#include <stdint.h>

#include "luaota.h"

#define FLASH_SIM_FILES 64
#define FLASH_SIM_HANDLES 8

struct flash_sim_file {
	int used;
	char name[LUAOTA_NAME_MAX + 1];
	uint8_t *data;
	size_t len, cap;
};

struct flash_sim {
	struct flash_sim_file files[FLASH_SIM_FILES];
	int handle_file[FLASH_SIM_HANDLES]; /* file index, or -1 */
	long ops;    /* mutating calls since the last arm */
	long cut_at; /* index of the call that loses power, -1: never */
	int dead;    /* power is off */
	struct luaota_flash flash; /* the interface over this simulator */
};

/* An empty, powered flash. */
void flash_sim_init(struct flash_sim *s);

/* Frees every file. */
void flash_sim_free(struct flash_sim *s);

/* Counts mutating calls from 0 again; call number n loses power (-1:
 * never). */
void flash_sim_arm(struct flash_sim *s, long n);

/* Power comes back: open handles are gone, the cut is disarmed. */
void flash_sim_reboot(struct flash_sim *s);

/* Creates or replaces name with data, uncounted; 0, or -1. */
int flash_sim_put(struct flash_sim *s, const char *name, const void *data,
		  size_t len);

/* The file called name, or NULL. */
const struct flash_sim_file *flash_sim_get(const struct flash_sim *s,
					   const char *name);

#endif /* TESTS_FLASH_SIM_H */
