/* The device's configuration: see config.h. */
#include "config.h"

#include <string.h>

#include "proto/chipid.h"

int ldev_config_load(struct ldev_config *c, const struct luaota_flash *flash,
		     char *text, size_t text_cap, jsmntok_t *tok, unsigned ntok)
{
	size_t len = 0;
	long n = 0;
	int fd;

	fd = flash->open(flash->ctx, LUAOTA_CONFIG_FILE, LUAOTA_OPEN_READ);
	if (fd >= 0) {
		/* Like file.read(): at most LUAOTA_CONFIG_MAX bytes, so a
		 * longer file fails to parse, as on the chip. */
		while (len < text_cap - 1 && len < LUAOTA_CONFIG_MAX) {
			size_t want = text_cap - 1 - len;

			if (want > LUAOTA_CONFIG_MAX - len)
				want = LUAOTA_CONFIG_MAX - len;
			n = flash->read(flash->ctx, fd, (uint32_t)len,
					(uint8_t *)text + len, want);
			if (n <= 0)
				break;
			len += (size_t)n;
		}
		flash->close(flash->ctx, fd);
	}
	text[len] = '\0';
	if (fd >= 0 && n >= 0 &&
	    ldev_json_parse(&c->json, text, len, tok, ntok) == 0)
		return 0;
	/* An empty object, as the Lua client's "config = {}". */
	memcpy(text, "{}", 3);
	if (ldev_json_parse(&c->json, text, 2, tok, ntok) != 0)
		c->json.count = 0;
	return -1;
}

/* Index of the last override of key, or -1. */
static int find_override(const struct luaota_boot_args *args, const char *key)
{
	size_t i;
	int found = -1;

	for (i = 0; args != NULL && i < args->n_overrides; i++)
		if (strcmp(args->overrides[i].key, key) == 0)
			found = (int)i;
	return found;
}

/* Copies s into out; a value that does not fit counts as absent. */
static enum ldev_value copy_value(enum ldev_value kind, const char *s, size_t n,
				  char *out, size_t cap)
{
	if (n >= cap)
		return LDEV_ABSENT;
	memcpy(out, s, n);
	out[n] = '\0';
	return kind;
}

enum ldev_value ldev_config_get(const struct ldev_config *c, const char *key,
				char *out, size_t cap)
{
	const struct ldev_json *j = &c->json;
	int o = find_override(c->args, key), v;
	const jsmntok_t *t;

	if (o >= 0) {
		const struct luaota_override *ov = &c->args->overrides[o];

		if (ov->kind == LUAOTA_VALUE_STRING &&
		    strcmp(ov->value, "nil") == 0)
			return LDEV_OTHER; /* _init stores false */
		return copy_value(ov->kind == LUAOTA_VALUE_STRING ? LDEV_STRING
								  : LDEV_NUMBER,
				  ov->value, strlen(ov->value), out, cap);
	}
	v = ldev_json_member(j, key);
	if (v < 0)
		return LDEV_ABSENT;
	t = &j->tok[v];
	if (t->type == JSMN_STRING)
		return ldev_json_string(j, v, out, cap) < 0 ? LDEV_ABSENT
							    : LDEV_STRING;
	if (t->type == JSMN_PRIMITIVE &&
	    ldev_json_is_number(j->js + t->start, (size_t)(t->end - t->start)))
		return copy_value(LDEV_NUMBER, j->js + t->start,
				  (size_t)(t->end - t->start), out, cap);
	if (t->type == JSMN_PRIMITIVE && j->js[t->start] == 'n')
		return LDEV_ABSENT;
	return LDEV_OTHER;
}

/* Whether a key is dropped from HI: replaced by the device or secret. */
static int hi_drops(const char *key)
{
	return strcmp(key, "secret") == 0 || strcmp(key, "a") == 0 ||
	       strcmp(key, "id") == 0;
}

/* Whether a later member of j (after key index i) has the same key. */
static int repeated_later(const struct ldev_json *j, int i)
{
	char key[LDEV_KEY_MAX + 1];
	int k;

	if (ldev_json_string(j, i, key, sizeof(key)) < 0)
		return 0;
	for (k = ldev_json_skip(j, i + 1); k + 1 < j->count;
	     k = ldev_json_skip(j, k + 1))
		if (ldev_json_key_is(j, k, key))
			return 1;
	return 0;
}

/* Writes ",", except before the first member. */
static void separator(struct ldev_out *o, int *first)
{
	if (!*first)
		ldev_out_raw(o, ",", 1);
	*first = 0;
}

/* Whether the chip id is written as a JSON number: plain decimal, as
 * node.chipid() on an ESP8266; proto/ holds the rule. */
static int id_is_number(const char *id)
{
	char canonical[LUAOTA_CHIPID_MAX + 1];

	return luaota_chipid_normalize(LUAOTA_JSON_NUMBER, id, strlen(id),
				       canonical) == 0;
}

/* Writes the members of config.json that survive into HI. */
static void hi_config_members(const struct ldev_config *c, struct ldev_out *o,
			      int *first)
{
	const struct ldev_json *j = &c->json;
	char key[LDEV_KEY_MAX + 1];
	int i;

	for (i = 1; i + 1 < j->count; i = ldev_json_skip(j, i + 1)) {
		/* Keys too long to compare are kept as they are. */
		if (ldev_json_string(j, i, key, sizeof(key)) >= 0 &&
		    (hi_drops(key) || find_override(c->args, key) >= 0))
			continue;
		if (repeated_later(j, i))
			continue;
		separator(o, first);
		ldev_out_token(o, j, i);
		ldev_out_raw(o, ":", 1);
		ldev_out_token(o, j, i + 1);
	}
}

enum luaota_err ldev_config_hi(const struct ldev_config *c, const char *chip_id,
			       struct ldev_out *o)
{
	const struct luaota_boot_args *args = c->args;
	int first = 1;
	size_t i;

	ldev_out_raw(o, "{", 1);
	hi_config_members(c, o, &first);
	for (i = 0; args != NULL && i < args->n_overrides; i++) {
		const struct luaota_override *ov = &args->overrides[i];

		if (hi_drops(ov->key) || find_override(args, ov->key) != (int)i)
			continue;
		if (ov->kind == LUAOTA_VALUE_NUMBER &&
		    !ldev_json_is_number(ov->value, strlen(ov->value)))
			return LUAOTA_EINVAL;
		separator(o, &first);
		ldev_out_quoted(o, ov->key, strlen(ov->key));
		ldev_out_raw(o, ":", 1);
		if (ov->kind == LUAOTA_VALUE_NUMBER)
			ldev_out_str(o, ov->value);
		else if (strcmp(ov->value, "nil") == 0)
			ldev_out_str(o, "false");
		else
			ldev_out_quoted(o, ov->value, strlen(ov->value));
	}
	separator(o, &first);
	ldev_out_str(o, "\"a\":\"HI\",\"id\":");
	if (id_is_number(chip_id))
		ldev_out_str(o, chip_id);
	else
		ldev_out_quoted(o, chip_id, strlen(chip_id));
	ldev_out_raw(o, "}", 1);
	return o->overflow ? LUAOTA_ETOOBIG : LUAOTA_OK;
}

void ldev_config_restart(const struct ldev_json *cmd, const char *secret,
			 size_t secret_len, struct ldev_out *o)
{
	char key[LDEV_KEY_MAX + 1];
	int first = 1, i;

	ldev_out_raw(o, "{", 1);
	for (i = 1; i + 1 < cmd->count; i = ldev_json_skip(cmd, i + 1)) {
		if (ldev_json_string(cmd, i, key, sizeof(key)) >= 0 &&
		    (strcmp(key, "a") == 0 || strcmp(key, "secret") == 0))
			continue;
		if (repeated_later(cmd, i))
			continue;
		separator(o, &first);
		ldev_out_token(o, cmd, i);
		ldev_out_raw(o, ":", 1);
		ldev_out_token(o, cmd, i + 1);
	}
	separator(o, &first);
	ldev_out_str(o, "\"secret\":");
	ldev_out_quoted(o, secret, secret_len);
	ldev_out_raw(o, "}\n", 2);
}
