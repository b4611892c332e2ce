/* JSON over jsmn for the device core: see json.h. */
/* The implementation of jsmn, compiled once, here, under private names
 * (json.h renames its two functions; its include guard then skips it). */
#define JSMN_STRICT
#define jsmn_init ldev_jsmn_init
#define jsmn_parse ldev_jsmn_parse
#include <jsmn.h>

#include "json.h"

#include <string.h>

int ldev_json_parse(struct ldev_json *j, const char *js, size_t len,
		    jsmntok_t *tok, unsigned ntok)
{
	jsmn_parser parser;
	size_t end;
	int count, i;

	j->js = js;
	j->len = len;
	j->tok = tok;
	j->count = 0;
	if (len > INT32_MAX)
		return LDEV_JSON_EINVAL;
	jsmn_init(&parser);
	count = jsmn_parse(&parser, js, len, tok, ntok);
	if (count == JSMN_ERROR_NOMEM)
		return LDEV_JSON_ENOMEM;
	if (count < 1 || tok[0].type != JSMN_OBJECT)
		return LDEV_JSON_EINVAL;
	/* One object and nothing after it but white space. */
	for (end = (size_t)tok[0].end; end < len; end++)
		if (js[end] != ' ' && js[end] != '\t' && js[end] != '\r' &&
		    js[end] != '\n')
			return LDEV_JSON_EINVAL;
	j->count = count;
	/* Members are string keys each holding exactly one value. */
	for (i = 1; i < count; i = ldev_json_skip(j, i + 1)) {
		if (tok[i].type != JSMN_STRING || tok[i].size != 1 ||
		    i + 1 >= count)
			goto fail;
		if (tok[i + 1].type == JSMN_PRIMITIVE &&
		    !ldev_json_is_number(
			js + tok[i + 1].start,
			(size_t)(tok[i + 1].end - tok[i + 1].start))) {
			size_t n = (size_t)(tok[i + 1].end - tok[i + 1].start);
			const char *p = js + tok[i + 1].start;

			if (!(n == 4 && memcmp(p, "true", 4) == 0) &&
			    !(n == 5 && memcmp(p, "false", 5) == 0) &&
			    !(n == 4 && memcmp(p, "null", 4) == 0))
				goto fail;
		}
	}
	return 0;
fail:
	j->count = 0;
	return LDEV_JSON_EINVAL;
}

int ldev_json_skip(const struct ldev_json *j, int i)
{
	int n;

	if (i >= j->count)
		return j->count;
	switch (j->tok[i].type) {
	case JSMN_OBJECT:
		n = j->tok[i].size;
		i++;
		while (n-- > 0 && i < j->count)
			i = ldev_json_skip(j, i + 1); /* key, then value */
		return i;
	case JSMN_ARRAY:
		n = j->tok[i].size;
		i++;
		while (n-- > 0 && i < j->count)
			i = ldev_json_skip(j, i);
		return i;
	default:
		return i + 1;
	}
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static long read_hex4(const char *p, const char *end)
{
	long v = 0;
	int k, d;

	if (end - p < 4)
		return -1;
	for (k = 0; k < 4; k++) {
		d = hex_value(p[k]);
		if (d < 0)
			return -1;
		v = v * 16 + d;
	}
	return v;
}

/* Appends code point cp as UTF-8; 0, or -1 when it does not fit. */
static int put_utf8(char *out, size_t cap, size_t *n, unsigned long cp)
{
	static const unsigned char lead[] = { 0, 0, 0xc0, 0xe0, 0xf0 };
	size_t len = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
	size_t k;

	if (cap - *n < len + 1)
		return -1;
	/* Continuation bytes from the last, six bits each. */
	for (k = len - 1; k > 0; k--) {
		out[*n + k] = (char)(0x80 | (cp & 0x3f));
		cp >>= 6;
	}
	out[*n] = (char)(lead[len] | cp);
	*n += len;
	return 0;
}

/* Decodes one escape at *pp (just after the backslash). */
static int decode_escape(const char **pp, const char *end, unsigned long *cp)
{
	const char *p = *pp;
	long hi, lo;

	switch (*p++) {
	case '"':
		*cp = '"';
		break;
	case '\\':
		*cp = '\\';
		break;
	case '/':
		*cp = '/';
		break;
	case 'b':
		*cp = '\b';
		break;
	case 'f':
		*cp = '\f';
		break;
	case 'n':
		*cp = '\n';
		break;
	case 'r':
		*cp = '\r';
		break;
	case 't':
		*cp = '\t';
		break;
	case 'u':
		hi = read_hex4(p, end);
		if (hi < 0)
			return -1;
		p += 4;
		if (hi >= 0xd800 && hi < 0xdc00) {
			if (end - p < 6 || p[0] != '\\' || p[1] != 'u')
				return -1;
			lo = read_hex4(p + 2, end);
			if (lo < 0xdc00 || lo > 0xdfff)
				return -1;
			p += 6;
			hi = 0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00);
		} else if (hi >= 0xdc00 && hi < 0xe000) {
			return -1;
		}
		*cp = (unsigned long)hi;
		break;
	default:
		return -1;
	}
	*pp = p;
	return 0;
}

long ldev_json_string(const struct ldev_json *j, int i, char *out, size_t cap)
{
	const char *p, *end;
	unsigned long cp;
	size_t n = 0;

	if (i < 0 || i >= j->count || j->tok[i].type != JSMN_STRING || cap == 0)
		return -1;
	p = j->js + j->tok[i].start;
	end = j->js + j->tok[i].end;
	while (p < end) {
		if (*p != '\\') {
			if (cap - n < 2)
				return -1;
			out[n++] = *p++;
			continue;
		}
		p++;
		if (p >= end || decode_escape(&p, end, &cp) != 0 || cp == 0 ||
		    put_utf8(out, cap, &n, cp) != 0)
			return -1;
	}
	out[n] = '\0';
	return (long)n;
}

int ldev_json_key_is(const struct ldev_json *j, int i, const char *key)
{
	char buf[LDEV_KEY_MAX + 1];
	long n = ldev_json_string(j, i, buf, sizeof(buf));

	return n >= 0 && (size_t)n == strlen(key) &&
	       memcmp(buf, key, (size_t)n) == 0;
}

int ldev_json_member(const struct ldev_json *j, const char *key)
{
	int i, found = -1;

	for (i = 1; i + 1 < j->count; i = ldev_json_skip(j, i + 1))
		if (ldev_json_key_is(j, i, key))
			found = i + 1;
	return found;
}

int ldev_json_uint(const struct ldev_json *j, int i, int64_t *out)
{
	const char *p;
	int64_t v = 0;
	int k, n;

	if (i < 0 || i >= j->count || j->tok[i].type != JSMN_PRIMITIVE)
		return -1;
	p = j->js + j->tok[i].start;
	n = j->tok[i].end - j->tok[i].start;
	if (n < 1 || n > 15 || (n > 1 && p[0] == '0'))
		return -1;
	for (k = 0; k < n; k++) {
		if (p[k] < '0' || p[k] > '9')
			return -1;
		v = v * 10 + (p[k] - '0');
	}
	*out = v;
	return 0;
}

static size_t skip_digits(const char *t, size_t i, size_t len)
{
	while (i < len && t[i] >= '0' && t[i] <= '9')
		i++;
	return i;
}

int ldev_json_is_number(const char *t, size_t len)
{
	size_t i = 0, k;

	if (i < len && t[i] == '-')
		i++;
	if (i >= len)
		return 0;
	if (t[i] == '0')
		i++;
	else if (t[i] >= '1' && t[i] <= '9')
		i = skip_digits(t, i, len);
	else
		return 0;
	if (i < len && t[i] == '.') {
		k = skip_digits(t, i + 1, len);
		if (k == i + 1)
			return 0;
		i = k;
	}
	if (i < len && (t[i] == 'e' || t[i] == 'E')) {
		i++;
		if (i < len && (t[i] == '+' || t[i] == '-'))
			i++;
		k = skip_digits(t, i, len);
		if (k == i)
			return 0;
		i = k;
	}
	return i == len;
}

void ldev_out_init(struct ldev_out *o, char *buf, size_t cap)
{
	o->buf = buf;
	o->cap = cap;
	o->len = 0;
	o->overflow = 0;
}

void ldev_out_raw(struct ldev_out *o, const char *s, size_t n)
{
	if (o->overflow || o->cap - o->len < n) {
		o->overflow = 1;
		return;
	}
	memcpy(o->buf + o->len, s, n);
	o->len += n;
}

void ldev_out_str(struct ldev_out *o, const char *s)
{
	ldev_out_raw(o, s, strlen(s));
}

/* Appends control character c as \u00XX: never a raw newline. */
static void out_control(struct ldev_out *o, unsigned char c)
{
	static const char hex[] = "0123456789abcdef";

	ldev_out_raw(o, "\\u00", 4);
	ldev_out_raw(o, &hex[c >> 4], 1);
	ldev_out_raw(o, &hex[c & 15], 1);
}

void ldev_out_quoted(struct ldev_out *o, const char *s, size_t n)
{
	char esc[2];
	size_t i;

	ldev_out_raw(o, "\"", 1);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			ldev_out_raw(o, esc, 2);
		} else if (c < 0x20 || c == 0x7f) {
			out_control(o, c);
		} else {
			ldev_out_raw(o, (const char *)&s[i], 1);
		}
	}
	ldev_out_raw(o, "\"", 1);
}

void ldev_out_uint(struct ldev_out *o, uint32_t v)
{
	char digits[10];
	size_t n = 0;

	do {
		digits[sizeof(digits) - 1 - n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	ldev_out_raw(o, digits + sizeof(digits) - n, n);
}

void ldev_out_token(struct ldev_out *o, const struct ldev_json *j, int i)
{
	int start = j->tok[i].start, end = j->tok[i].end, k;
	int in_string = 0, escaped = 0;

	if (j->tok[i].type == JSMN_STRING) {
		start--;
		end++;
	}
	/* Compact: a pretty-printed config must not put '\n' in a record. */
	for (k = start; k < end; k++) {
		unsigned char c = (unsigned char)j->js[k];

		if (in_string) {
			if (escaped)
				escaped = 0;
			else if (c == '\\')
				escaped = 1;
			else if (c == '"')
				in_string = 0;
			if (c < 0x20) {
				out_control(o, c);
				continue;
			}
		} else if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			continue;
		} else if (c == '"') {
			in_string = 1;
		}
		ldev_out_raw(o, (const char *)&j->js[k], 1);
	}
}
