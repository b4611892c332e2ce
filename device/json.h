/*
 * JSON for the device core, over jsmn: parsing into tokens that point
 * into the caller's text, reading members, and writing JSON from spans of
 * what was read plus fixed text, with correct string escaping.
 */
#ifndef LUAOTA_DEVICE_JSON_H
#define LUAOTA_DEVICE_JSON_H

#include <stddef.h>
#include <stdint.h>

/* jsmn's two functions get private names so an application's own jsmn
 * cannot clash with ours in a static link. */
#define jsmn_init ldev_jsmn_init
#define jsmn_parse ldev_jsmn_parse
#define JSMN_HEADER
#include <jsmn.h>
#undef JSMN_HEADER

/* Longest member name compared by ldev_json_key_is(). */
#define LDEV_KEY_MAX 31

/* A parsed object: tok[0] is the object, its members follow. */
struct ldev_json {
	const char *js;
	size_t len;
	jsmntok_t *tok;
	int count;
};

/* Text being built in a fixed buffer; overflow is sticky. */
struct ldev_out {
	char *buf;
	size_t cap;
	size_t len;
	int overflow;
};

/* ldev_json_parse() failures. */
#define LDEV_JSON_EINVAL (-1)
#define LDEV_JSON_ENOMEM (-2) /* valid so far, but more than ntok tokens */

/* Parses js[0..len) as one JSON object into tok[0..ntok); 0, or one of
 * LDEV_JSON_EINVAL and LDEV_JSON_ENOMEM. */
int ldev_json_parse(struct ldev_json *j, const char *js, size_t len,
		    jsmntok_t *tok, unsigned ntok);

/* Index of the token after the value at index i and all it contains. */
int ldev_json_skip(const struct ldev_json *j, int i);

/* Whether the string token i decodes to exactly key. */
int ldev_json_key_is(const struct ldev_json *j, int i, const char *key);

/* Index of the value of the last top-level member key, or -1. */
int ldev_json_member(const struct ldev_json *j, const char *key);

/*
 * Decodes string token i into out (NUL-terminated, at most cap - 1 bytes);
 * returns its length, or -1 when i is no string, holds \u0000 or an
 * invalid escape, or does not fit.
 */
long ldev_json_string(const struct ldev_json *j, int i, char *out, size_t cap);

/* Reads token i as a non-negative decimal integer; 0, or -1. */
int ldev_json_uint(const struct ldev_json *j, int i, int64_t *out);

/* Whether text[0..len) is a JSON number (RFC 8259 grammar). */
int ldev_json_is_number(const char *text, size_t len);

/* Starts writing into buf[0..cap). */
void ldev_out_init(struct ldev_out *o, char *buf, size_t cap);

/* Appends n raw bytes. */
void ldev_out_raw(struct ldev_out *o, const char *s, size_t n);

/* Appends a NUL-terminated string, raw. */
void ldev_out_str(struct ldev_out *o, const char *s);

/* Appends s[0..n) as a quoted, escaped JSON string. */
void ldev_out_quoted(struct ldev_out *o, const char *s, size_t n);

/* Appends v in decimal. */
void ldev_out_uint(struct ldev_out *o, uint32_t v);

/* Appends the raw text of token i (strings with their quotes). */
void ldev_out_token(struct ldev_out *o, const struct ldev_json *j, int i);

#endif /* LUAOTA_DEVICE_JSON_H */
