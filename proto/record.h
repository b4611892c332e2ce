/* Building outgoing legacy records: <json><sig>\n<payload>. */
#ifndef LUAOTA_RECORD_H
#define LUAOTA_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "crypto.h"

enum luaota_record_err {
	LUAOTA_RECORD_OK = 0,
	LUAOTA_RECORD_ETOOBIG = -1, /* over the segment cap or the buffer */
	LUAOTA_RECORD_EJSON = -2,   /* empty JSON, or it contains '\n' */
	LUAOTA_RECORD_ECRYPTO = -3  /* the HMAC could not be computed */
};

/*
 * Writes json, its signature under secret, '\n' and payload into out.
 * Refuses (writing nothing useful) a record over cap bytes or over
 * LUAOTA_SEGMENT_MAX, whichever is smaller.  On success *out_len is the
 * record size.  The caller is responsible for "data" matching payload_len.
 */
enum luaota_record_err
luaota_record_write(const struct luaota_crypto *crypto, const uint8_t *secret,
		    size_t secret_len, const char *json, size_t json_len,
		    const uint8_t *payload, size_t payload_len, uint8_t *out,
		    size_t cap, size_t *out_len);

#endif /* LUAOTA_RECORD_H */
