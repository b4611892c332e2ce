/*
 * Legacy record signatures: the last 3 bytes of HMAC-MD5(secret, json) as
 * 6 lowercase hex characters.  Only the JSON text is signed, exactly as
 * received: never re-encode before verifying.
 */
#ifndef LUAOTA_SIG_H
#define LUAOTA_SIG_H

#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "protocol.h"

/* Writes the 6-hex signature of json plus a NUL into out; 0, or -1. */
int luaota_sig_compute(const struct luaota_crypto *crypto,
		       const uint8_t *secret, size_t secret_len,
		       const char *json, size_t json_len,
		       char out[LUAOTA_SIG_LEN + 1]);

/*
 * Checks the LUAOTA_SIG_LEN characters at sig against json, in constant
 * time.  Returns 0 when they match, -1 otherwise (or on crypto failure).
 */
int luaota_sig_verify(const struct luaota_crypto *crypto, const uint8_t *secret,
		      size_t secret_len, const char *json, size_t json_len,
		      const char *sig);

#endif /* LUAOTA_SIG_H */
