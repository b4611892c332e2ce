/* Legacy signatures: see sig.h. */
#include "sig.h"

int luaota_ct_compare(const void *a, const void *b, size_t n)
{
	const volatile uint8_t *x = a;
	const volatile uint8_t *y = b;
	uint8_t diff = 0;
	size_t i;

	for (i = 0; i < n; i++)
		diff |= (uint8_t)(x[i] ^ y[i]);
	return diff != 0;
}

int luaota_sig_compute(const struct luaota_crypto *crypto,
		       const uint8_t *secret, size_t secret_len,
		       const char *json, size_t json_len,
		       char out[LUAOTA_SIG_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	uint8_t mac[LUAOTA_MD5_LEN];
	size_t i;

	if (crypto == NULL || crypto->hmac_md5 == NULL ||
	    crypto->hmac_md5(crypto->ctx, secret, secret_len,
			     (const uint8_t *)json, json_len, mac) != 0)
		return -1;
	for (i = 0; i < LUAOTA_SIG_LEN / 2; i++) {
		uint8_t b = mac[LUAOTA_MD5_LEN - LUAOTA_SIG_LEN / 2 + i];
		out[2 * i] = hex[b >> 4];
		out[2 * i + 1] = hex[b & 0x0f];
	}
	out[LUAOTA_SIG_LEN] = '\0';
	return 0;
}

int luaota_sig_verify(const struct luaota_crypto *crypto, const uint8_t *secret,
		      size_t secret_len, const char *json, size_t json_len,
		      const char *sig)
{
	char expect[LUAOTA_SIG_LEN + 1];

	if (luaota_sig_compute(crypto, secret, secret_len, json, json_len,
			       expect) != 0)
		return -1;
	return luaota_ct_compare(expect, sig, LUAOTA_SIG_LEN) == 0 ? 0 : -1;
}
