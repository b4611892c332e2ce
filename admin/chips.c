/* Registering chips: checks, generated secrets and v2 keys, the insert. */
#include "chips.h"

#include <string.h>
#include <sys/random.h>

#include <bsd/string.h>

#include "proto/chipid.h"
#include "proto/crypto_openssl.h"

#define SECRET_RANDOM_BYTES 16 /* 32 hex characters */

int admin_text_valid(const char *text, size_t max, int spaces)
{
	size_t i, len = strlen(text);

	if (len == 0 || len > max)
		return 0;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];

		if (c < ' ' || c == 0x7f || (!spaces && c == ' '))
			return 0;
	}
	return 1;
}

static int random_hex(size_t bytes, char *out)
{
	uint8_t random[ADMIN_V2_KEY_BYTES];

	if (bytes > sizeof(random) ||
	    getrandom(random, bytes, 0) != (ssize_t)bytes)
		return -1;
	luaota_hex(random, bytes, out);
	explicit_bzero(random, sizeof(random));
	return 0;
}

int admin_chip_prepare(const struct admin_chip_request *req,
		       struct admin_new_chip *out, struct admin_result *res)
{
	memset(out, 0, sizeof(*out));
	if (req->protocol != NULL && strcmp(req->protocol, "v2") == 0)
		out->v2 = 1;
	else if (req->protocol != NULL && strcmp(req->protocol, "legacy") != 0)
		return admin_fail(res, ADMIN_INVALID,
				  "bad protocol '%.32s' (legacy or v2)",
				  req->protocol);
	if (req->id == NULL ||
	    luaota_chipid_normalize(LUAOTA_JSON_STRING, req->id,
				    strlen(req->id), out->id) != 0)
		return admin_fail(res, ADMIN_INVALID,
				  "bad chip id '%.64s' (1 to %d "
				  "printable characters, no spaces)",
				  req->id != NULL ? req->id : "",
				  LUAOTA_CHIPID_MAX);
	if (req->group == NULL)
		return admin_fail(res, ADMIN_INVALID, "missing --group NAME");
	if (req->label != NULL &&
	    !admin_text_valid(req->label, ADMIN_LABEL_MAX, 1))
		return admin_fail(res, ADMIN_INVALID,
				  "bad label (1 to %d printable "
				  "characters)",
				  ADMIN_LABEL_MAX);
	/* Never echo the secret itself, not even when it is malformed. */
	if (req->secret != NULL &&
	    !admin_text_valid(req->secret, ADMIN_SECRET_MAX, 0))
		return admin_fail(res, ADMIN_INVALID,
				  "bad secret (1 to %d printable "
				  "characters, no spaces)",
				  ADMIN_SECRET_MAX);
	if (req->secret != NULL) {
		strlcpy(out->secret, req->secret, sizeof(out->secret));
	} else {
		if (random_hex(SECRET_RANDOM_BYTES, out->secret) != 0)
			return admin_fail(res, ADMIN_FAILED,
					  "cannot add chip %s: no random "
					  "bytes",
					  out->id);
		out->generated = 1;
	}
	/* The v2 key is always made here: never typed, never sent. */
	if (out->v2 && random_hex(ADMIN_V2_KEY_BYTES, out->key) != 0) {
		admin_new_chip_clear(out);
		return admin_fail(res, ADMIN_FAILED,
				  "cannot add chip: no random bytes");
	}
	out->group = req->group;
	out->label = req->label;
	res->status = ADMIN_OK;
	res->message[0] = '\0';
	return 0;
}

int admin_chip_insert(struct store *st, const struct admin_new_chip *c,
		      struct admin_result *res)
{
	int rc = c->v2
		     ? store_chip_add_v2(st, c->id, c->group, c->secret,
					 c->label, c->key)
		     : store_chip_add(st, c->id, c->group, c->secret, c->label);

	switch (rc) {
	case 0:
		res->status = ADMIN_OK;
		res->message[0] = '\0';
		return 0;
	case STORE_EXISTS:
		return admin_fail(res, ADMIN_CONFLICT,
				  "cannot add chip %s: it already exists",
				  c->id);
	case STORE_NOTFOUND:
		return admin_fail(res, ADMIN_NOTFOUND,
				  "cannot add chip %s: no such group: %s",
				  c->id, c->group);
	default:
		return admin_fail(res, ADMIN_FAILED, "cannot add chip %s: %s",
				  c->id, store_errmsg(st));
	}
}

void admin_new_chip_clear(struct admin_new_chip *c)
{
	explicit_bzero(c->secret, sizeof(c->secret));
	explicit_bzero(c->key, sizeof(c->key));
}
