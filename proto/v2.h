/*
 * Protocol v2 records (docs/protocol.md part 2): key derivation, the
 * 128-bit tag over direction, sequence number, JSON and payload, the
 * sequence counters of one session, and the record writer.  Framing is
 * proto/frame.h with luaota_frame_set_tag_len(f, LUAOTA_V2_TAG_LEN).
 */
#ifndef LUAOTA_V2_H
#define LUAOTA_V2_H

#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "frame.h"
#include "protocol.h"

/* Derivation labels: ASCII, no terminator on the wire. */
#define LUAOTA_V2_LABEL_HELLO "luaOTA2 hello"
#define LUAOTA_V2_LABEL_SESSION "luaOTA2 session"
#define LUAOTA_V2_LABEL_CONFIG "luaOTA2 config"

/* One side of a v2 conversation: the key in force and both counters. */
struct luaota_v2_channel {
	const struct luaota_crypto *crypto;
	uint8_t key[LUAOTA_V2_KEY_LEN]; /* K_hello, then K_sess */
	uint8_t self;			/* LUAOTA_V2_DIR_* of what we send */
	uint64_t send_seq;		/* number of our next record */
	uint64_t recv_seq; /* number the peer's next record needs */
};

/* K_hello = HMAC(K_chip, "luaOTA2 hello"); 0, or -1. */
int luaota_v2_hello_key(const struct luaota_crypto *crypto,
			const uint8_t chip_key[LUAOTA_V2_KEY_LEN],
			uint8_t out[LUAOTA_V2_KEY_LEN]);

/* K_sess = HMAC(K_chip, "luaOTA2 session" || N_d || N_s); 0, or -1. */
int luaota_v2_session_key(const struct luaota_crypto *crypto,
			  const uint8_t chip_key[LUAOTA_V2_KEY_LEN],
			  const uint8_t nd[LUAOTA_V2_NONCE_LEN],
			  const uint8_t ns[LUAOTA_V2_NONCE_LEN],
			  uint8_t out[LUAOTA_V2_KEY_LEN]);

/* K_conf = HMAC(K_sess, "luaOTA2 config"); 0, or -1. */
int luaota_v2_config_key(const struct luaota_crypto *crypto,
			 const uint8_t sess_key[LUAOTA_V2_KEY_LEN],
			 uint8_t out[LUAOTA_V2_KEY_LEN]);

/*
 * The tag of one record, as LUAOTA_V2_TAG_LEN hex characters plus NUL:
 * the first 16 bytes of HMAC(key, dir || seq (8, BE) || json_len (4, BE)
 * || json || payload).  0, or -1 (crypto failure, JSON over 4 GiB).
 */
int luaota_v2_tag(const struct luaota_crypto *crypto,
		  const uint8_t key[LUAOTA_V2_KEY_LEN], uint8_t dir,
		  uint64_t seq, const char *json, size_t json_len,
		  const uint8_t *payload, size_t payload_len,
		  char out[LUAOTA_V2_TAG_LEN + 1]);

/* Starts a channel keyed with key; self is our LUAOTA_V2_DIR_*. */
void luaota_v2_channel_init(struct luaota_v2_channel *ch,
			    const struct luaota_crypto *crypto,
			    const uint8_t key[LUAOTA_V2_KEY_LEN], uint8_t self);

/* Switches to a new key (K_hello -> K_sess), keeping both counters. */
void luaota_v2_channel_rekey(struct luaota_v2_channel *ch,
			     const uint8_t key[LUAOTA_V2_KEY_LEN]);

/*
 * Checks a framed record from the peer against the next expected number,
 * in constant time; on success counts it.  0, or -1 (the counter does
 * not move: a failed record is never half-accepted).
 */
int luaota_v2_open(struct luaota_v2_channel *ch,
		   const struct luaota_record *rec);

/*
 * Writes json, its tag under our next number, '\n' and payload into
 * out[0..cap) and counts the record.  json must not hold '\n'.  0 with
 * *out_len set, or -1 (too big, bad JSON, crypto failure).  json and
 * payload may already sit at their places in out.
 */
int luaota_v2_seal(struct luaota_v2_channel *ch, const char *json,
		   size_t json_len, const uint8_t *payload, size_t payload_len,
		   uint8_t *out, size_t cap, size_t *out_len);

/*
 * XORs len bytes of in with the key stream of config field name under
 * K_conf (encrypts and decrypts alike); len <= 255.  0, or -1.
 */
int luaota_v2_secret_xor(const struct luaota_crypto *crypto,
			 const uint8_t conf_key[LUAOTA_V2_KEY_LEN],
			 const char *name, size_t name_len, const uint8_t *in,
			 size_t len, uint8_t *out);

/* Lowercase hex of len bytes into out, NUL-terminated (2 * len + 1). */
void luaota_v2_hex(const uint8_t *bytes, size_t len, char *out);

/* Decodes exactly 2 * len lowercase hex characters into out; 0, or -1. */
int luaota_v2_unhex(const char *hex, size_t hex_len, uint8_t *out, size_t len);

#endif /* LUAOTA_V2_H */
