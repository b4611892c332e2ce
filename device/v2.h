/*
 * Protocol v2 on the device: one boot (docs/protocol.md part 2).  It
 * replays an interrupted commit, says HELLO under the chip key, and either
 * starts the application (a signed "current", or an unverified check-in
 * it reports next time) or checks, fetches, stages and commits a release.
 */
#ifndef LUAOTA_DEVICE_V2_H
#define LUAOTA_DEVICE_V2_H

#include <stddef.h>
#include <stdint.h>

#include "luaota.h"

/* Largest payload the device announces ("rx"), and its window ("win"). */
#define LUAOTA_V2_DEVICE_RX 4096
#define LUAOTA_V2_DEVICE_WIN 4

/* The previous boot's outcome, reported in the next HELLO ("last"). */
#define LUAOTA_V2_LAST_FILE "luaOTA/last"

/* What a v2 boot needs beyond the port. */
struct luaota_v2_boot_args {
	const char *chip_id;	 /* sent as a JSON string */
	const char *lua_version; /* "5.1" or "5.3" */
	uint32_t free_bytes;	 /* free flash now */
	/* Console overrides, as for luaota_boot(); they persist into the
	 * config a commit writes. */
	const struct luaota_override *overrides;
	size_t n_overrides;
};

/* Whether the flash's config.json holds a v2 "key" (64 hex digits). */
int luaota_v2_configured(const struct luaota_flash *flash);

/* Working memory of one v2 boot: allocate it, the core uses no heap. */
#define LUAOTA_V2_DEVICE_STATE_SIZE 30720
struct luaota_v2_device {
	union {
		unsigned char bytes[LUAOTA_V2_DEVICE_STATE_SIZE];
		long long align_ll;
		double align_d;
		void *align_p;
	} u;
};

/*
 * Runs one v2 boot.  LUAOTA_OK with result->outcome (LUAOTA_REBOOT after a
 * commit, LUAOTA_APP_REFUSED when the release was refused, the others as
 * in luaota_boot()), or an error: LUAOTA_ECONFIG (no server or no 64-hex
 * "key"), LUAOTA_EFLASH, LUAOTA_ECRYPTO, LUAOTA_EINVAL.
 */
enum luaota_err luaota_v2_boot(struct luaota_v2_device *dev,
			       const struct luaota_port *port,
			       const struct luaota_v2_boot_args *args,
			       struct luaota_boot_result *result);

#endif /* LUAOTA_DEVICE_V2_H */
