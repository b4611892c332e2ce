/*
 * Incremental framing of a received byte stream into luaOTA records:
 *
 *     <json><sig>\n<payload>
 *
 * The caller keeps the bytes received so far contiguous in its own buffer
 * and calls luaota_frame_scan() each time more arrive, always passing the
 * buffer from its start.  The framer keeps only offsets, never pointers, so
 * the caller may move or grow its buffer between calls.  The payload length
 * lives in the JSON "data" field; proto/ does not parse JSON, so when the
 * header is complete the framer stops with LUAOTA_FRAME_HEADER and the
 * caller, having decoded the JSON with its own library, announces the
 * payload length with luaota_frame_set_payload().
 */
#ifndef LUAOTA_FRAME_H
#define LUAOTA_FRAME_H

#include <stddef.h>
#include <stdint.h>

enum luaota_frame_status {
	LUAOTA_FRAME_MORE = 0,	   /* need more bytes */
	LUAOTA_FRAME_HEADER = 1,   /* header complete: call set_payload() */
	LUAOTA_FRAME_RECORD = 2,   /* a complete record is in *rec */
	LUAOTA_FRAME_ENOLINE = -1, /* no newline within the header cap */
	LUAOTA_FRAME_ESHORT = -2,  /* header shorter than 16 characters */
	LUAOTA_FRAME_ESIG = -3,	   /* signature not 6 lowercase hex digits */
	LUAOTA_FRAME_ELONG = -4,   /* more bytes than the record announced */
	LUAOTA_FRAME_ETRUNC = -5,  /* stream ended inside a record */
	LUAOTA_FRAME_EDATA = -6,   /* "data" not an integer in [0, cap] */
	LUAOTA_FRAME_EUSAGE = -7   /* API misuse (a bug in the caller) */
};

/* Framer state: offsets into the caller's buffer only. */
struct luaota_framer {
	size_t max_header;  /* cap on the bytes before '\n' */
	size_t max_payload; /* cap on the announced payload */
	int lockstep;	    /* peer may not send past one record */
	size_t tag_len;	    /* hex characters before '\n': 6, or 32 in v2 */
	int state;	    /* internal: what the next scan looks for */
	size_t scanned;	    /* bytes already searched for '\n' */
	size_t header_len;  /* bytes before '\n' once found */
	size_t payload_len; /* announced payload length */
	int error;	    /* sticky error status, 0 when none */
};

/* A complete record: pointers into the buffer given to the last scan. */
struct luaota_record {
	const char *json;
	size_t json_len;
	const char *sig; /* tag_len characters, not NUL-terminated */
	const uint8_t *payload;
	size_t payload_len;
	size_t size; /* bytes the record occupies from the buffer start */
};

/*
 * Prepares a framer.  max_header caps the bytes before '\n' (at least
 * LUAOTA_HEADER_MIN), max_payload caps "data"; lockstep makes bytes beyond
 * one complete record an error (both legacy sides are lock-step).
 */
void luaota_frame_init(struct luaota_framer *f, size_t max_header,
		       size_t max_payload, int lockstep);

/* Sets the tag length (LUAOTA_V2_TAG_LEN for v2) after init. */
void luaota_frame_set_tag_len(struct luaota_framer *f, size_t tag_len);

/*
 * Examines buf[0..len) (the bytes received since the last record was
 * consumed).  Returns MORE, HEADER (then *rec->json/json_len/sig are set),
 * RECORD (all of *rec is set) or a negative error; an error is sticky
 * until luaota_frame_reset().
 */
enum luaota_frame_status luaota_frame_scan(struct luaota_framer *f,
					   const uint8_t *buf, size_t len,
					   struct luaota_record *rec);

/*
 * After HEADER: announces the payload length.  Pass 0 when the JSON has no
 * "data" field, and a negative value when "data" is present but not a
 * non-negative integer.  Returns 0, or LUAOTA_FRAME_EDATA (sticky).
 */
enum luaota_frame_status luaota_frame_set_payload(struct luaota_framer *f,
						  int64_t data);

/*
 * Tells the framer the stream has ended (EOF or timeout) with len bytes
 * unconsumed: returns LUAOTA_FRAME_ETRUNC when a record was begun, else
 * LUAOTA_FRAME_MORE.
 */
enum luaota_frame_status luaota_frame_finish(const struct luaota_framer *f,
					     size_t len);

/* Forgets the current record: the next scan starts a new one. */
void luaota_frame_reset(struct luaota_framer *f);

/* A short, static, English description of a status. */
const char *luaota_frame_strerror(enum luaota_frame_status status);

#endif /* LUAOTA_FRAME_H */
