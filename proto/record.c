/* Legacy record writer: see record.h. */
#include "record.h"

#include <string.h>

#include "protocol.h"
#include "sig.h"

enum luaota_record_err
luaota_record_write(const struct luaota_crypto *crypto, const uint8_t *secret,
		    size_t secret_len, const char *json, size_t json_len,
		    const uint8_t *payload, size_t payload_len, uint8_t *out,
		    size_t cap, size_t *out_len)
{
	char sig[LUAOTA_SIG_LEN + 1];
	size_t limit = cap < LUAOTA_SEGMENT_MAX ? cap : LUAOTA_SEGMENT_MAX;

	if (json_len == 0 || memchr(json, '\n', json_len) != NULL)
		return LUAOTA_RECORD_EJSON;
	/* Stated without sums that could wrap: json + sig + '\n' + payload. */
	if (json_len > limit || payload_len > limit ||
	    limit - json_len < LUAOTA_SIG_LEN + 1 ||
	    limit - json_len - (LUAOTA_SIG_LEN + 1) < payload_len)
		return LUAOTA_RECORD_ETOOBIG;
	if (luaota_sig_compute(crypto, secret, secret_len, json, json_len,
			       sig) != 0)
		return LUAOTA_RECORD_ECRYPTO;
	memmove(out, json, json_len);
	memcpy(out + json_len, sig, LUAOTA_SIG_LEN);
	out[json_len + LUAOTA_SIG_LEN] = '\n';
	if (payload_len > 0)
		memmove(out + json_len + LUAOTA_SIG_LEN + 1, payload,
			payload_len);
	*out_len = json_len + LUAOTA_SIG_LEN + 1 + payload_len;
	return LUAOTA_RECORD_OK;
}
