/* One protocol v2 boot: see v2.h and docs/protocol.md part 2. */
#include "v2.h"

#include <string.h>

#include "commit.h"
#include "config.h"
#include "json.h"
#include "manifest.h"
#include "proto/frame.h"
#include "proto/v2.h"
#include "stage.h"

#define V2_TOKENS 64   /* tokens of one record's JSON */
#define V2_CTOKENS 128 /* tokens of config.json */
#define V2_HOST_MAX 127
#define V2_LAST_MAX 47
#define V2_RX_MAX (LUAOTA_V2_HEADER_MAX + 1 + LUAOTA_V2_DEVICE_RX)
#define HASH_HEX (2 * LUAOTA_SHA256_LEN)

/* Why a receive gave no record. */
enum rx_status {
	RX_OK = 0,
	RX_TIMEOUT = -1, /* nothing in time */
	RX_CLOSED = -2,	 /* EOF or a transport error */
	RX_BAD = -3	 /* framing, JSON or tag failed */
};

struct v2dev {
	const struct luaota_port *port;
	const struct luaota_v2_boot_args *args;
	struct luaota_boot_result *result;
	struct luaota_v2_release installed;
	struct luaota_v2_channel ch;
	struct luaota_framer framer;
	struct luaota_record rec; /* the record just received */
	struct ldev_json msg;	  /* its JSON */
	size_t consumed;	  /* bytes of rx the last record used */
	uint32_t deadline;	  /* end of the whole session */
	uint8_t chip_key[LUAOTA_V2_KEY_LEN];
	uint8_t nd[LUAOTA_V2_NONCE_LEN];
	char host[V2_HOST_MAX + 1];
	uint16_t server_port;
	char prev[V2_LAST_MAX + 1]; /* the previous boot's outcome */
	char last[V2_LAST_MAX + 1]; /* this boot's, saved at its end */
	uint32_t chunk, win;	    /* agreed transfer parameters */
	uint64_t fetched;	    /* bit i: file i was staged this boot */
	struct luaota_v2_manifest_info info;
	struct luaota_v2_stage stage;
	struct ldev_json mj; /* the manifest, parsed */
	size_t rx_len;
	uint8_t rx[V2_RX_MAX];
	char tx[LUAOTA_V2_HEADER_MAX];
	size_t first_len;
	char first[LUAOTA_V2_HEADER_MAX]; /* S0's JSON: its "sec" */
	size_t manifest_len;
	char manifest[LUAOTA_V2_MANIFEST_MAX];
	char config[LUAOTA_CONFIG_MAX + 1];
	jsmntok_t tok[V2_TOKENS];
	jsmntok_t ftok[V2_TOKENS];
	jsmntok_t ctok[V2_CTOKENS];
	jsmntok_t mtok[LUAOTA_V2_MANIFEST_TOKENS];
};

typedef char v2dev_fits[sizeof(struct v2dev) <= sizeof(struct luaota_v2_device)
			    ? 1
			    : -1];

static uint32_t now(const struct v2dev *d)
{
	return d->port->clock.now_ms(d->port->clock.ctx);
}

/* Milliseconds until the session deadline, capped at cap. */
static uint32_t left(const struct v2dev *d, uint32_t cap)
{
	uint32_t l = d->deadline - now(d);

	if (l > 0x7fffffffu)
		return 0;
	return l < cap ? l : cap;
}

static void set_last(struct v2dev *d, const char *what, const char *why)
{
	size_t n = strlen(what);

	if (n > V2_LAST_MAX)
		n = V2_LAST_MAX;
	memcpy(d->last, what, n);
	d->last[n] = '\0';
	if (why != NULL && n + 1 + strlen(why) <= V2_LAST_MAX) {
		d->last[n] = ':';
		strcpy(d->last + n + 1, why);
	}
}

/* The outcome of this boot, for the next HELLO; best effort. */
static void save_last(struct v2dev *d)
{
	const struct luaota_flash *f = &d->port->flash;
	int h = f->open(f->ctx, LUAOTA_V2_LAST_FILE, LUAOTA_OPEN_WRITE);

	if (h < 0)
		return;
	f->write(f->ctx, h, (const uint8_t *)d->last, strlen(d->last));
	f->close(f->ctx, h);
}

static void load_last(struct v2dev *d)
{
	const struct luaota_flash *f = &d->port->flash;
	int h = f->open(f->ctx, LUAOTA_V2_LAST_FILE, LUAOTA_OPEN_READ);
	long n = -1;

	if (h >= 0) {
		n = f->read(f->ctx, h, 0, (uint8_t *)d->prev, V2_LAST_MAX);
		f->close(f->ctx, h);
	}
	d->prev[n > 0 ? n : 0] = '\0';
	if (n <= 0)
		strcpy(d->prev, "none");
}

/* Seals the JSON in tx[0..len) and sends it. */
static enum luaota_err send_tx(struct v2dev *d, struct ldev_out *o)
{
	const struct luaota_transport *t = &d->port->transport;
	size_t len;

	if (o->overflow ||
	    luaota_v2_seal(&d->ch, d->tx, o->len, NULL, 0, (uint8_t *)d->tx,
			   sizeof(d->tx), &len) != 0)
		return LUAOTA_ETOOBIG;
	return t->send(t->ctx, (const uint8_t *)d->tx, len) == 0 ? LUAOTA_OK
								 : LUAOTA_ENET;
}

/* Starts a reply: {"v":2, */
static void begin(struct v2dev *d, struct ldev_out *o)
{
	ldev_out_init(o, d->tx, sizeof(d->tx) - LUAOTA_V2_TAG_LEN - 1);
	ldev_out_str(o, "{\"v\":2,");
}

/* Decodes member key of msg into out (a string of exactly cap-1 bytes
 * when exact is set); 0, or -1. */
static int get_str(const struct ldev_json *j, const char *key, char *out,
		   size_t cap)
{
	return ldev_json_string(j, ldev_json_member(j, key), out, cap) < 0 ? -1
									   : 0;
}

/* Whether member key of j is the string want. */
static int member_is(const struct ldev_json *j, const char *key,
		     const char *want)
{
	return ldev_json_key_is(j, ldev_json_member(j, key), want);
}

/*
 * Receives the next record within timeout_ms.  For the server's first
 * record (first set) the session key is derived from its "ns" before the
 * tag is checked.
 */
static enum rx_status recv_record(struct v2dev *d, uint32_t timeout_ms,
				  int first)
{
	const struct luaota_transport *t = &d->port->transport;
	uint32_t until = now(d) + timeout_ms;
	enum luaota_frame_status st;
	int64_t version = 0;

	/* Drop the previous record; keep what followed it. */
	if (d->consumed > 0) {
		memmove(d->rx, d->rx + d->consumed, d->rx_len - d->consumed);
		d->rx_len -= d->consumed;
		d->consumed = 0;
		luaota_frame_reset(&d->framer);
	}
	for (;;) {
		st = luaota_frame_scan(&d->framer, d->rx, d->rx_len, &d->rec);
		if (st == LUAOTA_FRAME_HEADER) {
			int64_t data = 0;
			int i;

			if (ldev_json_parse(&d->msg, d->rec.json,
					    d->rec.json_len, d->tok,
					    V2_TOKENS) != 0)
				return RX_BAD;
			i = ldev_json_member(&d->msg, "data");
			if (i >= 0 && ldev_json_uint(&d->msg, i, &data) != 0)
				data = -1;
			if (luaota_frame_set_payload(&d->framer, data) < 0)
				return RX_BAD;
			continue;
		}
		if (st == LUAOTA_FRAME_RECORD)
			break;
		if (st != LUAOTA_FRAME_MORE || d->rx_len >= sizeof(d->rx))
			return RX_BAD;
		{
			uint32_t wait = until - now(d);
			long n;

			if (wait > 0x7fffffffu)
				return RX_TIMEOUT;
			n = t->recv(t->ctx, d->rx + d->rx_len,
				    sizeof(d->rx) - d->rx_len, wait);
			if (n == LUAOTA_RECV_TIMEOUT)
				return RX_TIMEOUT;
			if (n <= 0)
				return RX_CLOSED;
			d->rx_len += (size_t)n;
		}
	}
	d->consumed = d->rec.size;
	/* The JSON may have moved since HEADER: parse it where it is. */
	if (ldev_json_parse(&d->msg, d->rec.json, d->rec.json_len, d->tok,
			    V2_TOKENS) != 0)
		return RX_BAD;
	if (first) {
		char hex[2 * LUAOTA_V2_NONCE_LEN + 1];
		uint8_t ns[LUAOTA_V2_NONCE_LEN], nd[LUAOTA_V2_NONCE_LEN];
		uint8_t ks[LUAOTA_V2_KEY_LEN];

		if (get_str(&d->msg, "ns", hex, sizeof(hex)) != 0 ||
		    luaota_v2_unhex(hex, strlen(hex), ns, sizeof(ns)) != 0 ||
		    get_str(&d->msg, "nd", hex, sizeof(hex)) != 0 ||
		    luaota_v2_unhex(hex, strlen(hex), nd, sizeof(nd)) != 0 ||
		    luaota_ct_compare(nd, d->nd, sizeof(nd)) != 0)
			return RX_BAD;
		if (luaota_v2_session_key(&d->port->crypto, d->chip_key, d->nd,
					  ns, ks) != 0)
			return RX_BAD;
		luaota_v2_channel_rekey(&d->ch, ks);
	}
	if (luaota_v2_open(&d->ch, &d->rec) != 0 ||
	    ldev_json_uint(&d->msg, ldev_json_member(&d->msg, "v"), &version) !=
		0 ||
	    version != 2)
		return RX_BAD;
	return RX_OK;
}

/* The console overrides as the config module takes them. */
static void override_args(const struct v2dev *d, struct luaota_boot_args *ba)
{
	ba->chip_id = d->args->chip_id;
	ba->overrides = d->args->overrides;
	ba->n_overrides = d->args->overrides != NULL ? d->args->n_overrides : 0;
}

/* Reads server, port and key from config.json. */
static enum luaota_err settings(struct v2dev *d)
{
	struct luaota_boot_args ba;
	struct ldev_config c;
	char num[16], key[HASH_HEX + 1];
	uint32_t port = 0;
	size_t k;

	override_args(d, &ba);
	c.args = &ba;
	ldev_config_load(&c, &d->port->flash, d->config, sizeof(d->config),
			 d->ctok, V2_CTOKENS);
	if (ldev_config_get(&c, "server", d->host, sizeof(d->host)) !=
		LDEV_STRING ||
	    d->host[0] == '\0' ||
	    ldev_config_get(&c, "key", key, sizeof(key)) != LDEV_STRING ||
	    luaota_v2_unhex(key, strlen(key), d->chip_key,
			    sizeof(d->chip_key)) != 0)
		return LUAOTA_ECONFIG;
	switch (ldev_config_get(&c, "port", num, sizeof(num))) {
	case LDEV_ABSENT:
		port = LUAOTA_DEFAULT_PORT;
		break;
	case LDEV_STRING:
	case LDEV_NUMBER:
		for (k = 0; num[k] >= '0' && num[k] <= '9' && port <= 65535;
		     k++)
			port = port * 10 + (uint32_t)(num[k] - '0');
		if (num[k] != '\0' || k == 0)
			port = 0;
		break;
	default:
		break;
	}
	if (port == 0 || port > 65535)
		return LUAOTA_ECONFIG;
	d->server_port = (uint16_t)port;
	if (ldev_config_get(&c, "app", d->result->app,
			    sizeof(d->result->app)) != LDEV_STRING)
		strcpy(d->result->app, "luaOTA.default");
	if (ldev_config_get(&c, "entry", d->result->entry,
			    sizeof(d->result->entry)) != LDEV_STRING)
		strcpy(d->result->entry, "entry");
	return LUAOTA_OK;
}

/* Lists staged files ("h16:bytes") into the HELLO being written. */
static int staged_each(void *arg, const char *name, uint32_t size)
{
	struct ldev_out *o = arg;
	size_t prefix = sizeof(LUAOTA_STAGE_PREFIX) - 1;
	size_t k;

	if (strncmp(name, LUAOTA_STAGE_PREFIX, prefix) != 0 ||
	    strlen(name) != prefix + LUAOTA_V2_STAGE_HEX)
		return 0;
	for (k = prefix; name[k] != '\0'; k++)
		if (!((name[k] >= '0' && name[k] <= '9') ||
		      (name[k] >= 'a' && name[k] <= 'f')))
			return 0;
	/* Room for the rest of the HELLO stays: stop listing when short. */
	if (o->cap - o->len < 128)
		return 1;
	if (o->buf[o->len - 1] != '[')
		ldev_out_raw(o, ",", 1);
	ldev_out_raw(o, "\"", 1);
	ldev_out_str(o, name + prefix);
	ldev_out_raw(o, ":", 1);
	ldev_out_uint(o, size);
	ldev_out_raw(o, "\"", 1);
	return 0;
}

static enum luaota_err send_hello(struct v2dev *d)
{
	const struct luaota_crypto *c = &d->port->crypto;
	char hex[HASH_HEX + 1];
	uint8_t kh[LUAOTA_V2_KEY_LEN];
	struct ldev_out o;

	if (c->random == NULL || c->random(c->ctx, d->nd, sizeof(d->nd)) != 0 ||
	    luaota_v2_hello_key(c, d->chip_key, kh) != 0)
		return LUAOTA_ECRYPTO;
	luaota_v2_channel_init(&d->ch, c, kh, LUAOTA_V2_DIR_DEVICE);
	begin(d, &o);
	ldev_out_str(&o, "\"a\":\"hello\",\"id\":");
	ldev_out_quoted(&o, d->args->chip_id, strlen(d->args->chip_id));
	luaota_v2_hex(d->nd, sizeof(d->nd), hex);
	ldev_out_str(&o, ",\"nd\":\"");
	ldev_out_str(&o, hex);
	ldev_out_str(&o, "\",\"rc\":");
	ldev_out_uint(&o, d->installed.rc);
	luaota_v2_hex(d->installed.mh, sizeof(d->installed.mh), hex);
	ldev_out_str(&o, ",\"mh\":\"");
	ldev_out_str(&o, hex);
	ldev_out_str(&o, "\",\"last\":");
	ldev_out_quoted(&o, d->prev, strlen(d->prev));
	ldev_out_str(&o, ",\"lua\":");
	ldev_out_quoted(&o, d->args->lua_version, strlen(d->args->lua_version));
	ldev_out_str(&o, ",\"free\":");
	ldev_out_uint(&o, d->args->free_bytes);
	ldev_out_str(&o, ",\"rx\":");
	ldev_out_uint(&o, LUAOTA_V2_DEVICE_RX);
	ldev_out_str(&o, ",\"win\":");
	ldev_out_uint(&o, LUAOTA_V2_DEVICE_WIN);
	ldev_out_str(&o, ",\"staged\":[");
	d->port->flash.list(d->port->flash.ctx, staged_each, &o);
	ldev_out_str(&o, "]}");
	return send_tx(d, &o);
}

/* Sends {"v":2,"s":"refused","why":why} and ends the boot refused. */
static enum luaota_err refuse(struct v2dev *d, const char *why)
{
	struct ldev_out o;

	begin(d, &o);
	ldev_out_str(&o, "\"s\":\"refused\",\"why\":");
	ldev_out_quoted(&o, why, strlen(why));
	ldev_out_str(&o, "}");
	send_tx(d, &o);
	set_last(d, "refused", why);
	d->result->outcome = LUAOTA_APP_REFUSED;
	return LUAOTA_OK;
}

/* Ends the boot after a session failure: the app starts, staging stays. */
static enum luaota_err session_failed(struct v2dev *d, enum rx_status why,
				      const char *what)
{
	luaota_v2_stage_close(&d->stage);
	set_last(d, "failed", what);
	d->result->outcome =
	    why == RX_TIMEOUT ? LUAOTA_APP_TIMEOUT : LUAOTA_APP_CLOSED;
	return LUAOTA_OK;
}

/* Index of the manifest's file number k (token index), or -1. */
static int file_tok(const struct v2dev *d, unsigned k)
{
	int arr = ldev_json_member(&d->mj, "files");
	int i = arr + 1;
	unsigned n;

	if (arr < 0 || k >= (unsigned)d->mj.tok[arr].size)
		return -1;
	for (n = 0; n < k; n++)
		i = ldev_json_skip(&d->mj, i);
	return i;
}

/* Value of member key of the object at obj in the manifest, or -1. */
static int field(const struct v2dev *d, int obj, const char *key)
{
	int i = obj + 1, n, found = -1;

	for (n = d->mj.tok[obj].size; n > 0; n--) {
		if (ldev_json_key_is(&d->mj, i, key))
			found = i + 1;
		i = ldev_json_skip(&d->mj, i + 1);
	}
	return found;
}

/* Name, length, hash and action of file k. */
struct file {
	char name[LUAOTA_NAME_MAX + 1];
	uint32_t len;
	uint8_t h[LUAOTA_SHA256_LEN];
	char hex[HASH_HEX + 1];
	int cm;
};

static int file_get(const struct v2dev *d, unsigned k, struct file *f)
{
	int obj = file_tok(d, k);
	int64_t len;

	if (obj < 0 ||
	    ldev_json_string(&d->mj, field(d, obj, "n"), f->name,
			     sizeof(f->name)) < 0 ||
	    ldev_json_uint(&d->mj, field(d, obj, "len"), &len) != 0 ||
	    ldev_json_string(&d->mj, field(d, obj, "h"), f->hex,
			     sizeof(f->hex)) != HASH_HEX ||
	    luaota_v2_unhex(f->hex, HASH_HEX, f->h, sizeof(f->h)) != 0)
		return -1;
	f->len = (uint32_t)len;
	f->cm = ldev_json_key_is(&d->mj, field(d, obj, "act"), "cm");
	return 0;
}

/* Whether flash file name already holds content h (nothing to fetch). */
static int holds(struct v2dev *d, const struct file *f)
{
	const struct luaota_flash *fl = &d->port->flash;
	const struct luaota_crypto *c = &d->port->crypto;
	struct luaota_sha256_state st;
	uint8_t buf[128], got[LUAOTA_SHA256_LEN];
	uint32_t size, off = 0;
	int h, ok = 0;

	if (f->cm || fl->size(fl->ctx, f->name, &size) != 0 || size != f->len)
		return 0;
	h = fl->open(fl->ctx, f->name, LUAOTA_OPEN_READ);
	if (h < 0)
		return 0;
	if (c->sha256_init(c->ctx, &st) == 0) {
		for (;;) {
			long n = fl->read(fl->ctx, h, off, buf, sizeof(buf));

			if (n <= 0 ||
			    c->sha256_update(c->ctx, &st, buf, (size_t)n) != 0)
				break;
			off += (uint32_t)n;
		}
		ok = off == size && c->sha256_final(c->ctx, &st, got) == 0 &&
		     memcmp(got, f->h, sizeof(got)) == 0;
	}
	fl->close(fl->ctx, h);
	return ok;
}

/* The name a compiled file is staged under. */
static void compiled_name(const uint8_t h[LUAOTA_SHA256_LEN], char *out)
{
	luaota_v2_stage_name(h, out);
	strcat(out, "c");
}

/* Fetches file f with up to win "get" records in flight. */
static enum luaota_err fetch(struct v2dev *d, const struct file *f)
{
	char h16[LUAOTA_V2_STAGE_HEX + 1], got[LUAOTA_V2_STAGE_HEX + 1];
	uint32_t asked;
	unsigned flight = 0;
	enum luaota_err err;
	enum rx_status rx;

	err = luaota_v2_stage_open(&d->stage, &d->port->flash, &d->port->crypto,
				   f->h, f->len);
	if (err != LUAOTA_OK)
		return err;
	memcpy(h16, f->hex, LUAOTA_V2_STAGE_HEX);
	h16[LUAOTA_V2_STAGE_HEX] = '\0';
	asked = d->stage.have;
	while (d->stage.have < f->len) {
		int64_t off, data;
		uint32_t want;

		while (flight < d->win && asked < f->len) {
			struct ldev_out o;

			want = f->len - asked < d->chunk ? f->len - asked
							 : d->chunk;
			begin(d, &o);
			ldev_out_str(&o, "\"a\":\"get\",\"h\":\"");
			ldev_out_str(&o, h16);
			ldev_out_str(&o, "\",\"off\":");
			ldev_out_uint(&o, asked);
			ldev_out_str(&o, ",\"len\":");
			ldev_out_uint(&o, want);
			ldev_out_str(&o, "}");
			if (send_tx(d, &o) != LUAOTA_OK)
				return session_failed(d, RX_CLOSED, "send");
			asked += want;
			flight++;
		}
		/* Slow retrieval: each chunk has its own time limit. */
		rx = recv_record(d, left(d, LUAOTA_V2_CHUNK_MS), 0);
		if (rx != RX_OK)
			return session_failed(
			    d, rx, rx == RX_TIMEOUT ? "slow" : "record");
		want = f->len - d->stage.have < d->chunk
			   ? f->len - d->stage.have
			   : d->chunk;
		/* Exactly the chunk asked for: nothing more, nothing else. */
		if (!member_is(&d->msg, "a", "chunk") ||
		    get_str(&d->msg, "h", got, sizeof(got)) != 0 ||
		    strcmp(got, h16) != 0 ||
		    ldev_json_uint(&d->msg, ldev_json_member(&d->msg, "off"),
				   &off) != 0 ||
		    off != d->stage.have ||
		    ldev_json_uint(&d->msg, ldev_json_member(&d->msg, "data"),
				   &data) != 0 ||
		    data != want)
			return session_failed(d, RX_BAD, "chunk");
		err = luaota_v2_stage_write(&d->stage, (uint32_t)off,
					    d->rec.payload, d->rec.payload_len);
		if (err != LUAOTA_OK)
			return err;
		flight--;
	}
	err = luaota_v2_stage_finish(&d->stage);
	if (err == LUAOTA_EAUTH)
		return refuse(d, "hash");
	return err;
}

/* Compiles a staged Lua source into its staged bytecode. */
static enum luaota_err compile(struct v2dev *d, const struct file *f)
{
	const struct luaota_port *p = &d->port[0];
	char src[LUAOTA_NAME_MAX + 1], dst[LUAOTA_NAME_MAX + 1];
	char err[64];
	uint32_t lc_size;

	luaota_v2_stage_name(f->h, src);
	compiled_name(f->h, dst);
	if (p->compiler.compile == NULL)
		return refuse(d, "compile");
	switch (p->compiler.compile(p->compiler.ctx, &p->flash, src, f->name,
				    dst, &lc_size, err, sizeof(err))) {
	case LUAOTA_COMPILE_OK:
		return LUAOTA_OK;
	case LUAOTA_COMPILE_ESYNTAX:
		return refuse(d, "compile");
	default:
		return LUAOTA_EFLASH;
	}
}

/* Writes the next config.json to LUAOTA_STAGE_CONFIG: the current one
 * minus what the manifest sets, then "cfg", the secrets and the key. */
static enum luaota_err write_config(struct v2dev *d)
{
	const struct luaota_flash *fl = &d->port->flash;
	const struct luaota_crypto *c = &d->port->crypto;
	struct ldev_json cur, first;
	struct ldev_config conf;
	int cfg = ldev_json_member(&d->mj, "cfg");
	int sec_names = ldev_json_member(&d->mj, "secret");
	int sec, i, k, n, h;
	uint8_t kc[LUAOTA_V2_KEY_LEN];
	char out[LUAOTA_CONFIG_MAX + 1], key[HASH_HEX + 1];
	struct ldev_out o;

	conf.args = NULL;
	ldev_config_load(&conf, fl, d->config, sizeof(d->config), d->ctok,
			 V2_CTOKENS);
	cur = conf.json;
	if (ldev_json_parse(&first, d->first, d->first_len, d->ftok,
			    V2_TOKENS) != 0)
		return LUAOTA_EPROTO;
	sec = ldev_json_member(&first, "sec");
	ldev_out_init(&o, out, sizeof(out));
	ldev_out_raw(&o, "{", 1);
	for (i = 1, n = cur.tok[0].size; n > 0;
	     n--, i = ldev_json_skip(&cur, i + 1)) {
		char name[LDEV_KEY_MAX + 1];
		int dup = 0, j, m;

		if (ldev_json_string(&cur, i, name, sizeof(name)) < 0 ||
		    strcmp(name, "key") == 0)
			continue;
		if (cfg >= 0)
			for (j = cfg + 1, m = d->mj.tok[cfg].size; m > 0;
			     m--, j = ldev_json_skip(&d->mj, j + 1))
				dup |= ldev_json_key_is(&d->mj, j, name);
		for (k = 0; sec_names >= 0 && k < d->mj.tok[sec_names].size;
		     k++)
			dup |=
			    ldev_json_key_is(&d->mj, sec_names + 1 + k, name);
		for (j = 0; j < (int)d->args->n_overrides &&
			    d->args->overrides != NULL;
		     j++)
			dup |= strcmp(d->args->overrides[j].key, name) == 0;
		if (dup)
			continue;
		ldev_out_token(&o, &cur, i);
		ldev_out_raw(&o, ":", 1);
		ldev_out_token(&o, &cur, i + 1);
		ldev_out_raw(&o, ",", 1);
	}
	for (i = cfg + 1, n = cfg >= 0 ? d->mj.tok[cfg].size : 0; n > 0;
	     n--, i = ldev_json_skip(&d->mj, i + 1)) {
		ldev_out_token(&o, &d->mj, i);
		ldev_out_raw(&o, ":", 1);
		ldev_out_token(&o, &d->mj, i + 1);
		ldev_out_raw(&o, ",", 1);
	}
	/* Console overrides persist, unless the release sets the key. */
	for (k = 0; d->args->overrides != NULL && k < (int)d->args->n_overrides;
	     k++) {
		const struct luaota_override *ov = &d->args->overrides[k];
		int dup = 0, j, m;

		if (strcmp(ov->key, "key") == 0 ||
		    strcmp(ov->key, "secret") == 0)
			continue;
		for (j = cfg + 1, m = cfg >= 0 ? d->mj.tok[cfg].size : 0; m > 0;
		     m--, j = ldev_json_skip(&d->mj, j + 1))
			dup |= ldev_json_key_is(&d->mj, j, ov->key);
		if (dup)
			continue;
		ldev_out_quoted(&o, ov->key, strlen(ov->key));
		ldev_out_raw(&o, ":", 1);
		if (ov->kind == LUAOTA_VALUE_NUMBER &&
		    ldev_json_is_number(ov->value, strlen(ov->value)))
			ldev_out_str(&o, ov->value);
		else
			ldev_out_quoted(&o, ov->value, strlen(ov->value));
		ldev_out_raw(&o, ",", 1);
	}
	/* Secrets: decrypted with this session's config key. */
	if (luaota_v2_config_key(c, d->ch.key, kc) != 0)
		return LUAOTA_ECRYPTO;
	for (k = 0; sec_names >= 0 && k < d->mj.tok[sec_names].size; k++) {
		char name[LDEV_KEY_MAX + 1], hex[2 * 255 + 1];
		uint8_t value[255];
		long nlen, hlen;
		int v = -1, j, m;

		nlen = ldev_json_string(&d->mj, sec_names + 1 + k, name,
					sizeof(name));
		for (j = sec + 1, m = sec >= 0 ? first.tok[sec].size : 0;
		     m > 0 && nlen >= 0; m--, j = ldev_json_skip(&first, j + 1))
			if (ldev_json_key_is(&first, j, name))
				v = j + 1;
		hlen = ldev_json_string(&first, v, hex, sizeof(hex));
		if (nlen < 0 || hlen < 0 || hlen % 2 != 0 ||
		    luaota_v2_unhex(hex, (size_t)hlen, value,
				    (size_t)hlen / 2) != 0 ||
		    luaota_v2_secret_xor(c, kc, name, (size_t)nlen, value,
					 (size_t)hlen / 2, value) != 0)
			return LUAOTA_EPROTO;
		ldev_out_quoted(&o, name, (size_t)nlen);
		ldev_out_raw(&o, ":", 1);
		ldev_out_quoted(&o, (const char *)value, (size_t)hlen / 2);
		ldev_out_raw(&o, ",", 1);
	}
	luaota_v2_hex(d->chip_key, sizeof(d->chip_key), key);
	ldev_out_str(&o, "\"key\":\"");
	ldev_out_str(&o, key);
	ldev_out_str(&o, "\"}");
	if (o.overflow || o.len > LUAOTA_CONFIG_MAX)
		return LUAOTA_ETOOBIG;
	h = fl->open(fl->ctx, LUAOTA_STAGE_CONFIG, LUAOTA_OPEN_WRITE);
	if (h < 0)
		return LUAOTA_EFLASH;
	i = fl->write(fl->ctx, h, (const uint8_t *)out, o.len);
	if (fl->close(fl->ctx, h) != 0 || i != 0)
		return LUAOTA_EFLASH;
	return LUAOTA_OK;
}

/*
 * Journal entries, in order: per fetched file a rename (and for "cm" the
 * removal of the source), the deletions, then the config.
 */
static int op_at(void *arg, size_t i, struct luaota_v2_op *op, char *from,
		 char *to)
{
	struct v2dev *d = arg;
	int del = ldev_json_member(&d->mj, "del");
	unsigned k;
	size_t at = 0;
	struct file f;

	for (k = 0; k < d->info.n_files; k++) {
		if (!(d->fetched >> k & 1))
			continue;
		if (file_get(d, k, &f) != 0)
			return -1;
		if (!f.cm) {
			if (at++ == i) {
				luaota_v2_stage_name(f.h, from);
				strcpy(to, f.name);
				goto rename;
			}
			continue;
		}
		if (at++ == i) {
			compiled_name(f.h, from);
			strcpy(to, f.name);
			strcpy(to + strlen(to) - 4, ".lc");
			goto rename;
		}
		if (at++ == i) {
			strcpy(to, f.name);
			op->kind = LUAOTA_V2_OP_DELETE;
			op->to = to;
			return 0;
		}
	}
	if (del >= 0 && i - at < (size_t)d->mj.tok[del].size) {
		if (ldev_json_string(&d->mj, del + 1 + (int)(i - at), to,
				     LUAOTA_NAME_MAX + 1) < 0)
			return -1;
		op->kind = LUAOTA_V2_OP_DELETE;
		op->to = to;
		return 0;
	}
	at += del >= 0 ? (size_t)d->mj.tok[del].size : 0;
	if (i != at)
		return -1;
	strcpy(from, LUAOTA_STAGE_CONFIG);
	strcpy(to, LUAOTA_CONFIG_FILE);
rename:
	op->kind = LUAOTA_V2_OP_RENAME;
	op->from = from;
	op->to = to;
	return 0;
}

static size_t op_count(struct v2dev *d)
{
	int del = ldev_json_member(&d->mj, "del");
	size_t n = 1;
	unsigned k;
	struct file f;

	for (k = 0; k < d->info.n_files; k++)
		if (d->fetched >> k & 1 && file_get(d, k, &f) == 0)
			n += f.cm ? 2 : 1;
	return n + (del >= 0 ? (size_t)d->mj.tok[del].size : 0);
}

/* Finds one staged file that no file of the manifest names. */
struct stale {
	struct v2dev *d;
	char name[LUAOTA_NAME_MAX + 1];
};

static int stale_each(void *arg, const char *name, uint32_t size)
{
	struct stale *st = arg;
	size_t prefix = sizeof(LUAOTA_STAGE_PREFIX) - 1, len = strlen(name);
	unsigned k;
	struct file f;

	(void)size;
	/* Staged content is ".~" + 16 hex, and "c" after it when compiled. */
	if (strncmp(name, LUAOTA_STAGE_PREFIX, prefix) != 0 ||
	    (len != prefix + LUAOTA_V2_STAGE_HEX &&
	     !(len == prefix + LUAOTA_V2_STAGE_HEX + 1 &&
	       name[len - 1] == 'c')))
		return 0;
	for (k = 0; k < LUAOTA_V2_STAGE_HEX; k++) {
		char c = name[prefix + k];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return 0;
	}
	for (k = 0; k < st->d->info.n_files; k++)
		if (file_get(st->d, k, &f) == 0 &&
		    memcmp(f.hex, name + prefix, LUAOTA_V2_STAGE_HEX) == 0)
			return 0;
	strcpy(st->name, name);
	return 1;
}

/* Removes staged content of releases no longer offered, one at a time
 * (no removal while the flash is being listed). */
static void drop_stale(struct v2dev *d)
{
	const struct luaota_flash *fl = &d->port->flash;
	struct stale st;
	unsigned rounds;

	st.d = d;
	for (rounds = 0; rounds < 2 * LUAOTA_V2_FILES_MAX + 16; rounds++) {
		st.name[0] = '\0';
		if (fl->list(fl->ctx, stale_each, &st) != 0 ||
		    st.name[0] == '\0' || fl->remove(fl->ctx, st.name) != 0)
			return;
	}
}

/* Writes the pending manifest (kept for resume and for the slot). */
static enum luaota_err save_pending(struct v2dev *d)
{
	const struct luaota_flash *f = &d->port->flash;
	int h = f->open(f->ctx, LUAOTA_V2_PENDING, LUAOTA_OPEN_WRITE);
	int rc;

	if (h < 0)
		return LUAOTA_EFLASH;
	rc = f->write(f->ctx, h, (const uint8_t *)d->manifest, d->manifest_len);
	if (f->close(f->ctx, h) != 0 || rc != 0)
		return LUAOTA_EFLASH;
	return LUAOTA_OK;
}

/* After the commit: the staged Lua sources are compiled and done with. */
static void remove_sources(struct v2dev *d)
{
	const struct luaota_flash *fl = &d->port->flash;
	char name[LUAOTA_NAME_MAX + 1];
	struct file f;
	unsigned k;

	for (k = 0; k < d->info.n_files; k++)
		if (d->fetched >> k & 1 && file_get(d, k, &f) == 0 && f.cm) {
			luaota_v2_stage_name(f.h, name);
			fl->remove(fl->ctx, name);
		}
}

/* After the manifest: check, fetch, stage, commit. */
static enum luaota_err update(struct v2dev *d)
{
	struct luaota_v2_judge judge;
	enum luaota_v2_verdict v;
	enum luaota_err err;
	enum rx_status rx;
	struct ldev_out o;
	int64_t chunk = 0, win = 0, rc = 0;
	char hex[HASH_HEX + 1];
	unsigned k;

	d->manifest_len = d->rec.payload_len;
	d->first_len = d->rec.json_len;
	if (d->manifest_len > sizeof(d->manifest) ||
	    d->first_len > sizeof(d->first))
		return refuse(d, "manifest");
	memcpy(d->manifest, d->rec.payload, d->manifest_len);
	memcpy(d->first, d->rec.json, d->first_len);
	if (ldev_json_uint(&d->msg, ldev_json_member(&d->msg, "chunk"),
			   &chunk) != 0 ||
	    chunk < 1 || chunk > LUAOTA_V2_DEVICE_RX ||
	    ldev_json_uint(&d->msg, ldev_json_member(&d->msg, "win"), &win) !=
		0 ||
	    win < 1 || win > LUAOTA_V2_DEVICE_WIN)
		return refuse(d, "manifest");
	d->chunk = (uint32_t)chunk;
	d->win = (uint32_t)win;
	memset(&judge, 0, sizeof(judge));
	judge.crypto = &d->port->crypto;
	judge.installed = &d->installed;
	judge.free_bytes = d->args->free_bytes;
	judge.work = d->mtok;
	judge.work_size = sizeof(d->mtok);
	v = luaota_v2_manifest_check(&judge, d->manifest, d->manifest_len,
				     &d->info);
	if (v < 0)
		return refuse(d, luaota_v2_verdict_str(v));
	if (ldev_json_parse(&d->mj, d->manifest, d->manifest_len, d->mtok,
			    LUAOTA_V2_MANIFEST_TOKENS) != 0)
		return refuse(d, "manifest");
	drop_stale(d);
	if ((err = save_pending(d)) != LUAOTA_OK)
		return err;
	begin(d, &o);
	ldev_out_str(&o, "\"s\":\"ok\"}");
	if (send_tx(d, &o) != LUAOTA_OK)
		return session_failed(d, RX_CLOSED, "send");
	for (k = 0; k < d->info.n_files; k++) {
		struct file f;

		if (file_get(d, k, &f) != 0)
			return refuse(d, "manifest");
		if (holds(d, &f))
			continue;
		d->fetched |= (uint64_t)1 << k;
		err = fetch(d, &f);
		if (err != LUAOTA_OK || d->result->outcome != LUAOTA_REBOOT)
			return err;
		if (f.cm) {
			err = compile(d, &f);
			if (err != LUAOTA_OK ||
			    d->result->outcome != LUAOTA_REBOOT)
				return err;
		}
	}
	begin(d, &o);
	ldev_out_str(&o, "\"a\":\"staged\"}");
	if (send_tx(d, &o) != LUAOTA_OK)
		return session_failed(d, RX_CLOSED, "send");
	rx = recv_record(d, left(d, LUAOTA_V2_CHUNK_MS), 0);
	if (rx != RX_OK)
		return session_failed(d, rx, "commit");
	if (!member_is(&d->msg, "a", "commit") ||
	    ldev_json_uint(&d->msg, ldev_json_member(&d->msg, "rc"), &rc) !=
		0 ||
	    rc != d->info.rc)
		return session_failed(d, RX_BAD, "commit");
	err = write_config(d);
	if (err == LUAOTA_EPROTO || err == LUAOTA_ETOOBIG)
		return refuse(d, "config");
	if (err != LUAOTA_OK)
		return err;
	err = luaota_v2_commit(&d->port->flash, &d->port->crypto, d->info.rc,
			       op_count(d), op_at, d);
	if (err != LUAOTA_OK)
		return err;
	remove_sources(d);
	luaota_v2_hex(d->info.mh, sizeof(d->info.mh), hex);
	begin(d, &o);
	ldev_out_str(&o, "\"s\":\"committed\",\"rc\":");
	ldev_out_uint(&o, d->info.rc);
	ldev_out_str(&o, ",\"mh\":\"");
	ldev_out_str(&o, hex);
	ldev_out_str(&o, "\"}");
	send_tx(d, &o);
	set_last(d, "updated", NULL);
	return LUAOTA_OK;
}

static enum luaota_err run(struct v2dev *d)
{
	const struct luaota_transport *t = &d->port->transport;
	enum luaota_err err;
	enum rx_status rx;
	int replayed;
	int64_t rc;

	err = luaota_v2_recover(&d->port->flash, &d->port->crypto, &replayed);
	if (err != LUAOTA_OK)
		return err;
	if (luaota_v2_release_read(&d->port->flash, &d->port->crypto,
				   &d->installed) != LUAOTA_OK)
		return LUAOTA_ECRYPTO;
	if ((err = settings(d)) != LUAOTA_OK)
		return err;
	load_last(d);
	/* Until the server proves itself, this boot is unverified. */
	set_last(d, "unverified", NULL);
	d->result->outcome = LUAOTA_APP_NOREPLY;
	if (t->connect(t->ctx, d->host, d->server_port,
		       LUAOTA_FIRST_REPLY_MS) != 0)
		return LUAOTA_OK;
	d->deadline = now(d) + LUAOTA_V2_SESSION_MS;
	luaota_frame_init(&d->framer, LUAOTA_V2_HEADER_MAX, LUAOTA_V2_DEVICE_RX,
			  0);
	luaota_frame_set_tag_len(&d->framer, LUAOTA_V2_TAG_LEN);
	err = send_hello(d);
	if (err == LUAOTA_ENET)
		return LUAOTA_OK;
	if (err != LUAOTA_OK)
		return err;
	rx = recv_record(d, LUAOTA_FIRST_REPLY_MS, 1);
	if (rx != RX_OK) {
		/* Freeze without a key is impossible: it is only unverified. */
		d->result->outcome =
		    rx == RX_BAD ? LUAOTA_APP_REJECTED : LUAOTA_APP_NOREPLY;
		return LUAOTA_OK;
	}
	if (member_is(&d->msg, "a", "current")) {
		if (ldev_json_uint(&d->msg, ldev_json_member(&d->msg, "rc"),
				   &rc) != 0 ||
		    rc != d->installed.rc) {
			d->result->outcome = LUAOTA_APP_REJECTED;
			set_last(d, "failed", "current");
			return LUAOTA_OK;
		}
		d->result->outcome = LUAOTA_APP_CURRENT;
		set_last(d, "current", NULL);
		return LUAOTA_OK;
	}
	if (!member_is(&d->msg, "a", "manifest"))
		return session_failed(d, RX_BAD, "first");
	d->result->outcome = LUAOTA_REBOOT;
	return update(d);
}

int luaota_v2_configured(const struct luaota_flash *flash)
{
	char text[LUAOTA_CONFIG_MAX + 1], key[HASH_HEX + 1];
	jsmntok_t tok[V2_CTOKENS];
	uint8_t bytes[LUAOTA_V2_KEY_LEN];
	struct ldev_config c;

	if (flash == NULL)
		return 0;
	c.args = NULL;
	if (ldev_config_load(&c, flash, text, sizeof(text), tok, V2_CTOKENS) !=
		0 ||
	    ldev_config_get(&c, "key", key, sizeof(key)) != LDEV_STRING)
		return 0;
	return luaota_v2_unhex(key, strlen(key), bytes, sizeof(bytes)) == 0;
}

enum luaota_err luaota_v2_boot(struct luaota_v2_device *dev,
			       const struct luaota_port *port,
			       const struct luaota_v2_boot_args *args,
			       struct luaota_boot_result *result)
{
	struct v2dev *d = (struct v2dev *)(void *)dev->u.bytes;
	enum luaota_err err;

	if (dev == NULL || port == NULL || args == NULL || result == NULL ||
	    args->chip_id == NULL || args->lua_version == NULL)
		return LUAOTA_EINVAL;
	memset(d, 0, sizeof(*d));
	memset(result, 0, sizeof(*result));
	d->port = port;
	d->args = args;
	d->result = result;
	d->stage.handle = -1;
	err = run(d);
	luaota_v2_stage_close(&d->stage);
	port->transport.close(port->transport.ctx);
	if (d->last[0] != '\0')
		save_last(d);
	if (err != LUAOTA_OK)
		result->outcome = LUAOTA_APP_CLOSED;
	return err;
}
