/*
 * The device's configuration: luaOTA/config.json as read from the flash,
 * the console overrides on top of it, the HI record built from both, and
 * the next config built from a "restart" command.
 */
#ifndef LUAOTA_DEVICE_CONFIG_H
#define LUAOTA_DEVICE_CONFIG_H

#include "json.h"
#include "luaota.h"

/* What a config value turned out to be. */
enum ldev_value {
	LDEV_ABSENT, /* no such key, or null */
	LDEV_STRING, /* decoded into the caller's buffer */
	LDEV_NUMBER, /* its JSON text copied into the caller's buffer */
	LDEV_OTHER   /* false, true, an object or an array */
};

/* The config as this boot sees it. */
struct ldev_config {
	struct ldev_json json; /* config.json, or an empty object */
	const struct luaota_boot_args *args;
};

/*
 * Reads LUAOTA_CONFIG_FILE (at most LUAOTA_CONFIG_MAX bytes, as NodeMCU's
 * file.read() does) into text and parses it with tok; an unreadable or
 * invalid file leaves an empty config.  Returns 0 when it parsed, -1 if
 * it was treated as empty.
 */
int ldev_config_load(struct ldev_config *c, const struct luaota_flash *flash,
		     char *text, size_t text_cap, jsmntok_t *tok,
		     unsigned ntok);

/* Looks key up, overrides first; fills out for STRING and NUMBER. */
enum ldev_value ldev_config_get(const struct ldev_config *c, const char *key,
				char *out, size_t cap);

/* Writes the HI JSON: config minus secret, overrides, "a" and "id". */
enum luaota_err ldev_config_hi(const struct ldev_config *c, const char *chip_id,
			       struct ldev_out *o);

/*
 * Writes the config a "restart" command asks for: its members minus "a"
 * and "secret", then the device's own secret, then '\n'.
 */
void ldev_config_restart(const struct ldev_json *cmd, const char *secret,
			 size_t secret_len, struct ldev_out *o);

#endif /* LUAOTA_DEVICE_CONFIG_H */
