/* Incremental record framing: see frame.h for the contract. */
#include "frame.h"

#include <string.h>

#include "protocol.h"

enum framer_state {
	FRAMER_HEADER,	/* looking for '\n' */
	FRAMER_NEEDLEN, /* header done, waiting for set_payload() */
	FRAMER_PAYLOAD, /* collecting the announced payload */
	FRAMER_ERROR	/* sticky until reset: see f->error */
};

void luaota_frame_init(struct luaota_framer *f, size_t max_header,
		       size_t max_payload, int lockstep)
{
	if (max_header < LUAOTA_HEADER_MIN)
		max_header = LUAOTA_HEADER_MIN;
	f->max_header = max_header;
	f->max_payload = max_payload;
	f->lockstep = lockstep != 0;
	f->tag_len = LUAOTA_SIG_LEN;
	luaota_frame_reset(f);
}

void luaota_frame_set_tag_len(struct luaota_framer *f, size_t tag_len)
{
	f->tag_len = tag_len;
	/* At least "{}" before the tag, and room for the header cap check. */
	if (f->max_header < tag_len + 2)
		f->max_header = tag_len + 2;
}

void luaota_frame_reset(struct luaota_framer *f)
{
	f->state = FRAMER_HEADER;
	f->scanned = 0;
	f->header_len = 0;
	f->payload_len = 0;
	f->error = 0;
}

static enum luaota_frame_status fail(struct luaota_framer *f,
				     enum luaota_frame_status status)
{
	f->state = FRAMER_ERROR;
	f->error = status;
	return status;
}

static int is_lower_hex(uint8_t c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static void fill_header(const struct luaota_framer *f, const uint8_t *buf,
			struct luaota_record *rec)
{
	rec->json = (const char *)buf;
	rec->json_len = f->header_len - f->tag_len;
	rec->sig = (const char *)buf + rec->json_len;
	rec->payload = NULL;
	rec->payload_len = 0;
	rec->size = 0;
}

/* Finds '\n' in the unscanned part and validates the header around it. */
static enum luaota_frame_status scan_header(struct luaota_framer *f,
					    const uint8_t *buf, size_t len,
					    struct luaota_record *rec)
{
	size_t limit = len < f->max_header + 1 ? len : f->max_header + 1;
	const uint8_t *nl = NULL;
	size_t i;

	if (f->scanned < limit)
		nl = memchr(buf + f->scanned, '\n', limit - f->scanned);
	if (nl == NULL) {
		f->scanned = limit;
		if (len > f->max_header)
			return fail(f, LUAOTA_FRAME_ENOLINE);
		return LUAOTA_FRAME_MORE;
	}
	f->header_len = (size_t)(nl - buf);
	if (f->header_len < LUAOTA_HEADER_MIN || f->header_len < f->tag_len + 2)
		return fail(f, LUAOTA_FRAME_ESHORT);
	for (i = f->header_len - f->tag_len; i < f->header_len; i++)
		if (!is_lower_hex(buf[i]))
			return fail(f, LUAOTA_FRAME_ESIG);
	f->state = FRAMER_NEEDLEN;
	fill_header(f, buf, rec);
	return LUAOTA_FRAME_HEADER;
}

enum luaota_frame_status luaota_frame_scan(struct luaota_framer *f,
					   const uint8_t *buf, size_t len,
					   struct luaota_record *rec)
{
	size_t need;

	switch (f->state) {
	case FRAMER_HEADER:
		return scan_header(f, buf, len, rec);
	case FRAMER_NEEDLEN:
		fill_header(f, buf, rec);
		return LUAOTA_FRAME_HEADER;
	case FRAMER_PAYLOAD:
		break;
	default:
		return (enum luaota_frame_status)f->error;
	}
	need = f->header_len + 1 + f->payload_len;
	if (len < need)
		return LUAOTA_FRAME_MORE;
	if (f->lockstep && len > need)
		return fail(f, LUAOTA_FRAME_ELONG);
	fill_header(f, buf, rec);
	rec->payload = buf + f->header_len + 1;
	rec->payload_len = f->payload_len;
	rec->size = need;
	return LUAOTA_FRAME_RECORD;
}

enum luaota_frame_status luaota_frame_set_payload(struct luaota_framer *f,
						  int64_t data)
{
	if (f->state != FRAMER_NEEDLEN)
		return LUAOTA_FRAME_EUSAGE;
	if (data < 0 || (uint64_t)data > (uint64_t)f->max_payload)
		return fail(f, LUAOTA_FRAME_EDATA);
	f->payload_len = (size_t)data;
	f->state = FRAMER_PAYLOAD;
	return LUAOTA_FRAME_MORE;
}

enum luaota_frame_status luaota_frame_finish(const struct luaota_framer *f,
					     size_t len)
{
	if (f->state == FRAMER_ERROR)
		return (enum luaota_frame_status)f->error;
	if (len == 0 && f->state == FRAMER_HEADER)
		return LUAOTA_FRAME_MORE;
	if (f->state == FRAMER_PAYLOAD &&
	    len == f->header_len + 1 + f->payload_len)
		return LUAOTA_FRAME_MORE;
	return LUAOTA_FRAME_ETRUNC;
}

const char *luaota_frame_strerror(enum luaota_frame_status status)
{
	switch (status) {
	case LUAOTA_FRAME_MORE:
		return "incomplete record";
	case LUAOTA_FRAME_HEADER:
		return "record header complete";
	case LUAOTA_FRAME_RECORD:
		return "record complete";
	case LUAOTA_FRAME_ENOLINE:
		return "no newline within the record size cap";
	case LUAOTA_FRAME_ESHORT:
		return "record header shorter than 16 characters";
	case LUAOTA_FRAME_ESIG:
		return "signature is not 6 lowercase hex characters";
	case LUAOTA_FRAME_ELONG:
		return "more bytes than the record announced";
	case LUAOTA_FRAME_ETRUNC:
		return "stream ended inside a record";
	case LUAOTA_FRAME_EDATA:
		return "\"data\" is not a non-negative integer within the cap";
	case LUAOTA_FRAME_EUSAGE:
		return "framer used out of order";
	}
	return "unknown framing status";
}
