/* Protocol v2 records: see v2.h and docs/protocol.md section 2.3. */
#include "v2.h"

#include <string.h>

static int hmac(const struct luaota_crypto *crypto, const uint8_t *key,
		const struct luaota_span *parts, size_t n,
		uint8_t out[LUAOTA_SHA256_LEN])
{
	if (crypto == NULL || crypto->hmac_sha256 == NULL)
		return -1;
	return crypto->hmac_sha256(crypto->ctx, key, LUAOTA_V2_KEY_LEN, parts,
				   n, out);
}

static int derive(const struct luaota_crypto *crypto, const uint8_t *key,
		  const char *label, const uint8_t *nd, const uint8_t *ns,
		  uint8_t out[LUAOTA_V2_KEY_LEN])
{
	struct luaota_span parts[3];
	size_t n = 0;

	parts[n].data = label;
	parts[n++].len = strlen(label);
	if (nd != NULL) {
		parts[n].data = nd;
		parts[n++].len = LUAOTA_V2_NONCE_LEN;
		parts[n].data = ns;
		parts[n++].len = LUAOTA_V2_NONCE_LEN;
	}
	return hmac(crypto, key, parts, n, out);
}

int luaota_v2_hello_key(const struct luaota_crypto *crypto,
			const uint8_t chip_key[LUAOTA_V2_KEY_LEN],
			uint8_t out[LUAOTA_V2_KEY_LEN])
{
	return derive(crypto, chip_key, LUAOTA_V2_LABEL_HELLO, NULL, NULL, out);
}

int luaota_v2_session_key(const struct luaota_crypto *crypto,
			  const uint8_t chip_key[LUAOTA_V2_KEY_LEN],
			  const uint8_t nd[LUAOTA_V2_NONCE_LEN],
			  const uint8_t ns[LUAOTA_V2_NONCE_LEN],
			  uint8_t out[LUAOTA_V2_KEY_LEN])
{
	if (nd == NULL || ns == NULL)
		return -1;
	return derive(crypto, chip_key, LUAOTA_V2_LABEL_SESSION, nd, ns, out);
}

int luaota_v2_config_key(const struct luaota_crypto *crypto,
			 const uint8_t sess_key[LUAOTA_V2_KEY_LEN],
			 uint8_t out[LUAOTA_V2_KEY_LEN])
{
	return derive(crypto, sess_key, LUAOTA_V2_LABEL_CONFIG, NULL, NULL,
		      out);
}

static void put_be(uint8_t *p, uint64_t v, unsigned bytes)
{
	while (bytes-- > 0) {
		p[bytes] = (uint8_t)(v & 0xff);
		v >>= 8;
	}
}

/* The 16 tag bytes of one record. */
static int tag_bytes(const struct luaota_crypto *crypto, const uint8_t *key,
		     uint8_t dir, uint64_t seq, const char *json,
		     size_t json_len, const uint8_t *payload,
		     size_t payload_len, uint8_t out[LUAOTA_SHA256_LEN])
{
	uint8_t prefix[1 + 8 + 4];
	struct luaota_span parts[3];

	/* The length prefix pins the JSON/payload boundary. */
	if (json_len > 0xffffffffu)
		return -1;
	prefix[0] = dir;
	put_be(prefix + 1, seq, 8);
	put_be(prefix + 9, json_len, 4);
	parts[0].data = prefix;
	parts[0].len = sizeof(prefix);
	parts[1].data = json;
	parts[1].len = json_len;
	parts[2].data = payload;
	parts[2].len = payload_len;
	return hmac(crypto, key, parts, 3, out);
}

int luaota_v2_tag(const struct luaota_crypto *crypto,
		  const uint8_t key[LUAOTA_V2_KEY_LEN], uint8_t dir,
		  uint64_t seq, const char *json, size_t json_len,
		  const uint8_t *payload, size_t payload_len,
		  char out[LUAOTA_V2_TAG_LEN + 1])
{
	uint8_t mac[LUAOTA_SHA256_LEN];

	if (tag_bytes(crypto, key, dir, seq, json, json_len, payload,
		      payload_len, mac) != 0)
		return -1;
	luaota_v2_hex(mac, LUAOTA_V2_TAG_BYTES, out);
	return 0;
}

void luaota_v2_channel_init(struct luaota_v2_channel *ch,
			    const struct luaota_crypto *crypto,
			    const uint8_t key[LUAOTA_V2_KEY_LEN], uint8_t self)
{
	ch->crypto = crypto;
	memcpy(ch->key, key, LUAOTA_V2_KEY_LEN);
	ch->self = self;
	ch->send_seq = 0;
	ch->recv_seq = 0;
}

void luaota_v2_channel_rekey(struct luaota_v2_channel *ch,
			     const uint8_t key[LUAOTA_V2_KEY_LEN])
{
	memcpy(ch->key, key, LUAOTA_V2_KEY_LEN);
}

int luaota_v2_open(struct luaota_v2_channel *ch,
		   const struct luaota_record *rec)
{
	uint8_t peer = ch->self == LUAOTA_V2_DIR_DEVICE ? LUAOTA_V2_DIR_SERVER
							: LUAOTA_V2_DIR_DEVICE;
	char expect[LUAOTA_V2_TAG_LEN + 1];

	if (rec == NULL || rec->sig == NULL)
		return -1;
	if (luaota_v2_tag(ch->crypto, ch->key, peer, ch->recv_seq, rec->json,
			  rec->json_len, rec->payload, rec->payload_len,
			  expect) != 0)
		return -1;
	if (luaota_ct_compare(expect, rec->sig, LUAOTA_V2_TAG_LEN) != 0)
		return -1;
	ch->recv_seq++;
	return 0;
}

int luaota_v2_seal(struct luaota_v2_channel *ch, const char *json,
		   size_t json_len, const uint8_t *payload, size_t payload_len,
		   uint8_t *out, size_t cap, size_t *out_len)
{
	char tag[LUAOTA_V2_TAG_LEN + 1];

	if (json_len == 0 || memchr(json, '\n', json_len) != NULL)
		return -1;
	/* json + tag + '\n' + payload, without sums that could wrap. */
	if (json_len > cap || payload_len > cap ||
	    cap - json_len < LUAOTA_V2_TAG_LEN + 1 ||
	    cap - json_len - (LUAOTA_V2_TAG_LEN + 1) < payload_len)
		return -1;
	if (luaota_v2_tag(ch->crypto, ch->key, ch->self, ch->send_seq, json,
			  json_len, payload, payload_len, tag) != 0)
		return -1;
	/* Payload first: it may sit where the tag is about to go. */
	if (payload_len > 0)
		memmove(out + json_len + LUAOTA_V2_TAG_LEN + 1, payload,
			payload_len);
	memmove(out, json, json_len);
	memcpy(out + json_len, tag, LUAOTA_V2_TAG_LEN);
	out[json_len + LUAOTA_V2_TAG_LEN] = '\n';
	*out_len = json_len + LUAOTA_V2_TAG_LEN + 1 + payload_len;
	ch->send_seq++;
	return 0;
}

int luaota_v2_secret_xor(const struct luaota_crypto *crypto,
			 const uint8_t conf_key[LUAOTA_V2_KEY_LEN],
			 const char *name, size_t name_len, const uint8_t *in,
			 size_t len, uint8_t *out)
{
	static const uint8_t zero = 0;
	uint8_t block[LUAOTA_SHA256_LEN];
	struct luaota_span parts[3];
	uint8_t counter;
	size_t done = 0;
	size_t i;

	if (len > 255)
		return -1;
	for (counter = 0; done < len; counter++) {
		parts[0].data = name;
		parts[0].len = name_len;
		parts[1].data = &zero;
		parts[1].len = 1;
		parts[2].data = &counter;
		parts[2].len = 1;
		if (hmac(crypto, conf_key, parts, 3, block) != 0)
			return -1;
		for (i = 0; i < LUAOTA_SHA256_LEN && done < len; i++, done++)
			out[done] = (uint8_t)(in[done] ^ block[i]);
	}
	return 0;
}

void luaota_v2_hex(const uint8_t *bytes, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[bytes[i] >> 4];
		out[2 * i + 1] = digits[bytes[i] & 0x0f];
	}
	out[2 * len] = '\0';
}

static int nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int luaota_v2_unhex(const char *hex, size_t hex_len, uint8_t *out, size_t len)
{
	size_t i;

	if (hex_len != 2 * len)
		return -1;
	for (i = 0; i < len; i++) {
		int hi = nibble(hex[2 * i]);
		int lo = nibble(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}
