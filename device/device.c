/*
 * One boot of a luaOTA device: HI, the first reply, then the provisioning
 * session in lock-step, one record in, one reply out.  See luaota.h.
 */
#include "luaota.h"

#include <assert.h>
#include <string.h>

#include "config.h"
#include "json.h"
#include "proto/frame.h"
#include "proto/record.h"
#include "proto/sig.h"

#define DEVICE_TOKENS 128 /* jsmn tokens for config or one command */
#define DEVICE_TX_MAX LUAOTA_SEGMENT_MAX /* HI, a reply, the next config */
#define DEVICE_SECRET_MAX 127		 /* longest secret the device keeps */
#define DEVICE_HOST_MAX 127		 /* longest server name */
#define DEVICE_ERR_MAX 160		 /* longest compile error sent back */
#define UL_MAX LUAOTA_CHUNK_SIZE	 /* most bytes one "ul" returns */

/* Where a boot stands: each receive switches on it. */
enum device_state {
	STATE_FIRST,   /* waiting up to 3 s for the reply to HI */
	STATE_SESSION, /* serving commands until restart or 30 s */
	STATE_DONE     /* the boot has its outcome */
};

struct device {
	const struct luaota_port *port;
	struct luaota_boot_result *result;
	enum device_state state;
	uint32_t deadline; /* clock value at which waiting ends */
	struct luaota_framer framer;
	struct ldev_json cmd;	  /* the record being served */
	struct luaota_record rec; /* its spans in rx */
	char action[8];
	int stage_fd;	  /* staging file being written, or -1 */
	int stage_failed; /* a chunk of this file was lost: refuse it */
	uint32_t staged;  /* bytes in the staging file */
	size_t secret_len;
	char secret[DEVICE_SECRET_MAX + 1];
	char host[DEVICE_HOST_MAX + 1];
	uint16_t server_port;
	size_t rx_len;
	uint8_t rx[LUAOTA_SEGMENT_MAX + 1]; /* one byte more shows excess */
	char tx[DEVICE_TX_MAX];
	jsmntok_t tok[DEVICE_TOKENS];
};

/* The public struct is only storage: it must hold the real one. */
typedef char device_state_fits
    [sizeof(struct device) <= sizeof(struct luaota_device) ? 1 : -1];

/* Every change of state goes through here: only forward, never back. */
static void set_state(struct device *d, enum device_state next)
{
	assert(next > d->state);
	d->state = next;
}

/* Reports one step to the port's log, when it keeps one. */
static void step(struct device *d, enum luaota_step_kind kind, const char *name,
		 const char *text, uint32_t number)
{
	struct luaota_step s;

	if (d->port->on_step == NULL)
		return;
	s.kind = kind;
	s.action = kind == LUAOTA_STEP_COMMAND ? d->action : "";
	s.name = name != NULL ? name : "";
	s.text = text != NULL ? text : "";
	s.number = number;
	d->port->on_step(d->port->step_ctx, &s);
}

static uint32_t now(const struct device *d)
{
	return d->port->clock.now_ms(d->port->clock.ctx);
}

/* Milliseconds left before the deadline; 0 once it has passed. */
static uint32_t remaining(const struct device *d)
{
	uint32_t left = d->deadline - now(d);

	/* Wrap-safe: a "negative" difference means the time is up. */
	return left > 0x7fffffffu ? 0 : left;
}

/* Removes the staging files; the session's unfinished work is dropped. */
static void discard_staging(struct device *d)
{
	const struct luaota_flash *f = &d->port->flash;

	if (d->stage_fd >= 0)
		f->close(f->ctx, d->stage_fd);
	d->stage_fd = -1;
	d->stage_failed = 0;
	d->staged = 0;
	f->remove(f->ctx, LUAOTA_STAGE_FILE);
	f->remove(f->ctx, LUAOTA_STAGE_LC);
	f->remove(f->ctx, LUAOTA_STAGE_CONFIG);
}

/* Signs tx[0..json_len) and sends it with the payload already placed at
 * tx + json_len + LUAOTA_SIG_LEN + 1. */
static enum luaota_err send_record(struct device *d, size_t json_len,
				   size_t payload_len)
{
	const struct luaota_transport *t = &d->port->transport;
	uint8_t *tx = (uint8_t *)d->tx;
	size_t len = 0;

	/* In place: the writer moves nothing that is already where it goes. */
	switch (luaota_record_write(
	    &d->port->crypto, (const uint8_t *)d->secret, d->secret_len, d->tx,
	    json_len, tx + json_len + LUAOTA_SIG_LEN + 1, payload_len, tx,
	    sizeof(d->tx), &len)) {
	case LUAOTA_RECORD_OK:
		break;
	case LUAOTA_RECORD_ECRYPTO:
		return LUAOTA_ECRYPTO;
	default:
		return LUAOTA_ETOOBIG;
	}
	if (t->send(t->ctx, tx, len) != 0)
		return LUAOTA_ENET;
	return LUAOTA_OK;
}

/* Sends a finished reply in o, leaving room for the signature. */
static enum luaota_err send_json(struct device *d, struct ldev_out *o)
{
	if (o->overflow || DEVICE_TX_MAX - o->len < LUAOTA_SIG_LEN + 1)
		return LUAOTA_ETOOBIG;
	return send_record(d, o->len, 0);
}

/* Replies {"s":status}. */
static enum luaota_err reply_status(struct device *d, const char *status)
{
	struct ldev_out o;

	ldev_out_init(&o, d->tx, DEVICE_TX_MAX);
	ldev_out_str(&o, "{\"s\":");
	ldev_out_quoted(&o, status, strlen(status));
	ldev_out_str(&o, "}");
	return send_json(d, &o);
}

/* Decodes the file name in member key and checks it; 0, or -1. */
static int command_name(struct device *d, const char *key,
			char out[LUAOTA_NAME_MAX + 1])
{
	long n = ldev_json_string(&d->cmd, ldev_json_member(&d->cmd, key), out,
				  LUAOTA_NAME_MAX + 1);

	if (n < 0 || luaota_name_check(out, (size_t)n) != 0) {
		out[0] = '\0';
		return -1;
	}
	return 0;
}

/* Appends the record's payload to the staging file (pu, dl, cm). */
static void stage_payload(struct device *d)
{
	const struct luaota_flash *f = &d->port->flash;

	if (d->stage_failed)
		return;
	if (d->stage_fd < 0) {
		d->stage_fd =
		    f->open(f->ctx, LUAOTA_STAGE_FILE, LUAOTA_OPEN_WRITE);
		d->staged = 0;
		if (d->stage_fd < 0) {
			d->stage_failed = 1;
			return;
		}
	}
	if (d->rec.payload_len > 0 &&
	    f->write(f->ctx, d->stage_fd, d->rec.payload, d->rec.payload_len) !=
		0) {
		d->stage_failed = 1;
		return;
	}
	d->staged += (uint32_t)d->rec.payload_len;
}

/* Closes the staging file after the final chunk; 0, or -1 on failure. */
static int stage_close(struct device *d)
{
	const struct luaota_flash *f = &d->port->flash;
	int fd = d->stage_fd, failed = d->stage_failed;

	d->stage_fd = -1;
	d->stage_failed = 0;
	if (fd >= 0 && f->close(f->ctx, fd) != 0)
		failed = 1;
	return failed || fd < 0 ? -1 : 0;
}

static enum luaota_err cmd_pu(struct device *d)
{
	stage_payload(d);
	step(d, LUAOTA_STEP_COMMAND, "",
	     d->stage_failed ? "write failed" : "OK", d->staged);
	return reply_status(d, d->stage_failed ? "write failed" : "OK");
}

static enum luaota_err cmd_dl(struct device *d)
{
	const struct luaota_flash *f = &d->port->flash;
	char name[LUAOTA_NAME_MAX + 1];
	const char *status = "OK";
	uint32_t size;

	if (command_name(d, "name", name) != 0) {
		discard_staging(d);
		status = "bad name";
		goto reply;
	}
	stage_payload(d);
	size = d->staged;
	/* The target changes in one rename, or not at all. */
	if (stage_close(d) != 0 ||
	    f->rename(f->ctx, LUAOTA_STAGE_FILE, name) != 0) {
		discard_staging(d);
		status = "write failed";
		goto reply;
	}
	d->result->files_written++;
	step(d, LUAOTA_STEP_COMMAND, name, status, size);
	return reply_status(d, status);
reply:
	step(d, LUAOTA_STEP_COMMAND, name, status, 0);
	return reply_status(d, status);
}

/* Compiles the staged source into the staged bytecode, then renames it. */
static const char *compile_staged(struct device *d, const char *name,
				  const char *lc_name, uint32_t *lc_size,
				  char *err, size_t err_cap)
{
	const struct luaota_port *p = d->port;
	enum luaota_compile_status st;

	if (stage_close(d) != 0)
		return "file write failed";
	err[0] = '\0';
	st = p->compiler.compile(p->compiler.ctx, &p->flash, LUAOTA_STAGE_FILE,
				 name, LUAOTA_STAGE_LC, lc_size, err, err_cap);
	p->flash.remove(p->flash.ctx, LUAOTA_STAGE_FILE);
	if (st == LUAOTA_COMPILE_ESYNTAX)
		return err[0] != '\0' ? err : "compile error";
	if (st != LUAOTA_COMPILE_OK ||
	    p->flash.rename(p->flash.ctx, LUAOTA_STAGE_LC, lc_name) != 0)
		return "file write failed";
	return NULL;
}

static enum luaota_err cmd_cm(struct device *d)
{
	char name[LUAOTA_NAME_MAX + 1], lc_name[LUAOTA_NAME_MAX + 1];
	char err[DEVICE_ERR_MAX];
	const char *why;
	uint32_t lc_size = 0;
	struct ldev_out o;
	size_t n;

	/* The bytecode goes to the name minus its last 4 bytes, plus ".lc". */
	if (command_name(d, "name", name) != 0 || (n = strlen(name)) < 5) {
		discard_staging(d);
		step(d, LUAOTA_STEP_COMMAND, name, "bad name", 0);
		return reply_status(d, "bad name");
	}
	memcpy(lc_name, name, n - 4);
	memcpy(lc_name + n - 4, ".lc", 4);
	stage_payload(d);
	why = compile_staged(d, name, lc_name, &lc_size, err, sizeof(err));
	ldev_out_init(&o, d->tx, DEVICE_TX_MAX);
	if (why != NULL) {
		discard_staging(d);
		step(d, LUAOTA_STEP_COMMAND, name, why, 0);
		ldev_out_str(&o, "{\"s\":\"compile fail\",\"err\":");
		ldev_out_quoted(&o, why, strlen(why));
		ldev_out_str(&o, "}");
		return send_json(d, &o);
	}
	d->result->files_written++;
	step(d, LUAOTA_STEP_COMMAND, lc_name, "OK", lc_size);
	ldev_out_str(&o, "{\"s\":\"OK\",\"lcsize\":");
	ldev_out_uint(&o, lc_size);
	ldev_out_str(&o, "}");
	return send_json(d, &o);
}

/* Reads up to want bytes of name from offset into buf; returns the count. */
static size_t read_part(struct device *d, const char *name, int64_t offset,
			uint8_t *buf, size_t want)
{
	const struct luaota_flash *f = &d->port->flash;
	size_t got = 0;
	long n;
	int fd;

	if (offset < 0 || offset > (int64_t)UINT32_MAX - (int64_t)want)
		return 0;
	fd = f->open(f->ctx, name, LUAOTA_OPEN_READ);
	if (fd < 0)
		return 0;
	while (got < want) {
		n = f->read(f->ctx, fd, (uint32_t)offset + (uint32_t)got,
			    buf + got, want - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	f->close(f->ctx, fd);
	return got;
}

static enum luaota_err cmd_ul(struct device *d)
{
	static const char ok[] = "{\"s\":\"OK\"}";
	char name[LUAOTA_NAME_MAX + 1];
	int64_t offset = 0, len = UL_MAX;
	int i;
	size_t got;

	if (command_name(d, "name", name) != 0) {
		step(d, LUAOTA_STEP_COMMAND, name, "bad name", 0);
		return reply_status(d, "bad name");
	}
	i = ldev_json_member(&d->cmd, "offset");
	if (i >= 0 && ldev_json_uint(&d->cmd, i, &offset) != 0)
		offset = -1; /* not a position: read nothing */
	i = ldev_json_member(&d->cmd, "len");
	if (i >= 0 && ldev_json_uint(&d->cmd, i, &len) != 0)
		len = 0;
	if (len > UL_MAX)
		len = UL_MAX;
	/* The bytes follow the signed {"s":"OK"} with no "data" field. */
	memcpy(d->tx, ok, sizeof(ok) - 1);
	got = read_part(d, name, offset,
			(uint8_t *)d->tx + sizeof(ok) - 1 + LUAOTA_SIG_LEN + 1,
			(size_t)len);
	step(d, LUAOTA_STEP_COMMAND, name, "OK", (uint32_t)got);
	return send_record(d, sizeof(ok) - 1, got);
}

static enum luaota_err cmd_mv(struct device *d)
{
	const struct luaota_flash *f = &d->port->flash;
	char from[LUAOTA_NAME_MAX + 1], to[LUAOTA_NAME_MAX + 1];
	const char *status = "OK";
	uint32_t size;

	if (command_name(d, "from", from) != 0 ||
	    command_name(d, "to", to) != 0) {
		status = "bad name";
	} else if (f->size(f->ctx, from, &size) == 0) {
		/* As the Lua client: from == to removes the file, then the
		 * rename fails ("Rename failed" is the delete idiom). */
		if (f->size(f->ctx, to, &size) == 0)
			f->remove(f->ctx, to);
		if (f->rename(f->ctx, from, to) != 0)
			status = "Rename failed";
	}
	step(d, LUAOTA_STEP_COMMAND, from, status, 0);
	return reply_status(d, status);
}

/* Appends one file to the ls reply; staging files stay private. */
static int ls_each(void *arg, const char *name, uint32_t size)
{
	struct ldev_out *o = arg;
	size_t prefix = sizeof(LUAOTA_STAGE_PREFIX) - 1;

	if (strncmp(name, LUAOTA_STAGE_PREFIX, prefix) == 0)
		return 0;
	ldev_out_raw(o, ",", 1);
	ldev_out_quoted(o, name, strlen(name));
	ldev_out_raw(o, ":", 1);
	ldev_out_uint(o, size);
	return o->overflow;
}

static enum luaota_err cmd_ls(struct device *d)
{
	const struct luaota_flash *f = &d->port->flash;
	struct ldev_out o;

	/* Room for the signature is kept out of the listing. */
	ldev_out_init(&o, d->tx, DEVICE_TX_MAX - LUAOTA_SIG_LEN - 1);
	ldev_out_str(&o, "{\"s\":\"OK\"");
	if (f->list(f->ctx, ls_each, &o) != 0 && !o.overflow) {
		step(d, LUAOTA_STEP_COMMAND, "", "list failed", 0);
		return reply_status(d, "list failed");
	}
	ldev_out_str(&o, "}");
	if (o.overflow) {
		step(d, LUAOTA_STEP_COMMAND, "", "list too long", 0);
		return reply_status(d, "list too long");
	}
	step(d, LUAOTA_STEP_COMMAND, "", "OK", 0);
	return send_json(d, &o);
}

/* Writes the new config through a staging file and one rename. */
static enum luaota_err cmd_restart(struct device *d)
{
	const struct luaota_flash *f = &d->port->flash;
	struct ldev_out o;
	int fd;

	discard_staging(d);
	ldev_out_init(&o, d->tx, DEVICE_TX_MAX);
	ldev_config_restart(&d->cmd, d->secret, d->secret_len, &o);
	if (o.overflow || o.len > LUAOTA_CONFIG_MAX) {
		step(d, LUAOTA_STEP_COMMAND, LUAOTA_CONFIG_FILE,
		     "config too long", (uint32_t)o.len);
		return LUAOTA_ETOOBIG;
	}
	fd = f->open(f->ctx, LUAOTA_STAGE_CONFIG, LUAOTA_OPEN_WRITE);
	if (fd < 0)
		goto fail;
	if (f->write(f->ctx, fd, (const uint8_t *)d->tx, o.len) != 0) {
		f->close(f->ctx, fd);
		goto fail;
	}
	if (f->close(f->ctx, fd) != 0 ||
	    f->rename(f->ctx, LUAOTA_STAGE_CONFIG, LUAOTA_CONFIG_FILE) != 0)
		goto fail;
	step(d, LUAOTA_STEP_COMMAND, LUAOTA_CONFIG_FILE, "OK", (uint32_t)o.len);
	d->result->outcome = LUAOTA_REBOOT;
	set_state(d, STATE_DONE);
	return LUAOTA_OK;
fail:
	f->remove(f->ctx, LUAOTA_STAGE_CONFIG);
	step(d, LUAOTA_STEP_COMMAND, LUAOTA_CONFIG_FILE, "write failed", 0);
	return LUAOTA_EFLASH;
}

/* Serves the record in d->rec / d->cmd. */
static enum luaota_err serve(struct device *d)
{
	static const char actions[][8] = { "pu", "dl", "cm",	 "ls",
					   "mv", "ul", "restart" };
	size_t k;

	d->result->commands++;
	for (k = 0; k < sizeof(actions) / sizeof(actions[0]); k++)
		if (strcmp(d->action, actions[k]) == 0)
			break;
	/* As the Lua client: pu, dl and cm carry "data", even when 0. */
	if (k < 3 && ldev_json_member(&d->cmd, "data") < 0)
		return LUAOTA_EPROTO;
	switch (k) {
	case 0:
		return cmd_pu(d);
	case 1:
		return cmd_dl(d);
	case 2:
		return cmd_cm(d);
	case 3:
		return cmd_ls(d);
	case 4:
		return cmd_mv(d);
	case 5:
		return cmd_ul(d);
	case 6:
		return cmd_restart(d);
	default:
		/* Unknown commands get "OK", as from the Lua client. */
		step(d, LUAOTA_STEP_COMMAND, "", "OK", 0);
		return reply_status(d, "OK");
	}
}

/* Ends the boot by starting the application. */
static enum luaota_err start_app(struct device *d, enum luaota_outcome why)
{
	discard_staging(d);
	d->result->outcome = why;
	set_state(d, STATE_DONE);
	return LUAOTA_OK;
}

/* A framing failure: before the first command the app starts, after it
 * the session is lost. */
static enum luaota_err frame_error(struct device *d,
				   enum luaota_frame_status st)
{
	if (d->state == STATE_FIRST)
		return start_app(d, LUAOTA_APP_REJECTED);
	if (st == LUAOTA_FRAME_ESHORT || st == LUAOTA_FRAME_ESIG)
		return LUAOTA_EAUTH;
	return LUAOTA_EPROTO;
}

/* A complete header: checks it and announces its payload. */
static enum luaota_err on_header(struct device *d)
{
	const struct luaota_record *r = &d->rec;
	int64_t data = 0;
	int i;

	/* The Lua client looks for this text before anything else. */
	if (d->state == STATE_FIRST && r->json_len >= 9) {
		size_t k;

		for (k = 0; k + 9 <= r->json_len; k++)
			if (memcmp(r->json + k, "\"r\":\"OK!\"", 9) == 0)
				return start_app(d, LUAOTA_APP_CURRENT);
	}
	if (luaota_sig_verify(&d->port->crypto, (const uint8_t *)d->secret,
			      d->secret_len, r->json, r->json_len,
			      r->sig) != 0) {
		if (d->state == STATE_FIRST)
			return start_app(d, LUAOTA_APP_REJECTED);
		return LUAOTA_EAUTH;
	}
	if (d->state == STATE_FIRST) {
		/* One backstop for the whole session, as tmr.alarm(0, 30000).
		 */
		set_state(d, STATE_SESSION);
		d->deadline = now(d) + LUAOTA_SESSION_MS;
	}
	switch (ldev_json_parse(&d->cmd, r->json, r->json_len, d->tok,
				DEVICE_TOKENS)) {
	case 0:
		break;
	case LDEV_JSON_ENOMEM:
		return LUAOTA_ETOOBIG;
	default:
		return LUAOTA_EPROTO;
	}
	if (ldev_json_string(&d->cmd, ldev_json_member(&d->cmd, "a"), d->action,
			     sizeof(d->action)) < 0)
		d->action[0] = '\0';
	i = ldev_json_member(&d->cmd, "data");
	if (i >= 0 && ldev_json_uint(&d->cmd, i, &data) != 0)
		data = -1;
	/* The whole record must fit one segment. */
	if (data >
	    (int64_t)(LUAOTA_SEGMENT_MAX - r->json_len - LUAOTA_SIG_LEN - 1))
		data = -1;
	if (luaota_frame_set_payload(&d->framer, data) != LUAOTA_FRAME_MORE)
		return LUAOTA_EPROTO;
	return LUAOTA_OK;
}

/* Waits for one record and serves it, or ends the boot. */
static enum luaota_err receive_one(struct device *d)
{
	const struct luaota_transport *t = &d->port->transport;
	enum luaota_frame_status st;
	enum luaota_err err;
	uint32_t left;
	long n;

	luaota_frame_reset(&d->framer);
	d->rx_len = 0;
	for (;;) {
		st = luaota_frame_scan(&d->framer, d->rx, d->rx_len, &d->rec);
		if (st == LUAOTA_FRAME_HEADER) {
			err = on_header(d);
			if (err != LUAOTA_OK || d->state == STATE_DONE)
				return err;
			continue;
		}
		if (st == LUAOTA_FRAME_RECORD)
			return serve(d);
		if (st != LUAOTA_FRAME_MORE)
			return frame_error(d, st);
		if (d->rx_len == sizeof(d->rx))
			return frame_error(d, LUAOTA_FRAME_ELONG);
		left = remaining(d);
		n = left == 0 ? LUAOTA_RECV_TIMEOUT
			      : t->recv(t->ctx, d->rx + d->rx_len,
					sizeof(d->rx) - d->rx_len, left);
		if (n > 0 && (size_t)n <= sizeof(d->rx) - d->rx_len) {
			d->rx_len += (size_t)n;
			continue;
		}
		if (d->state == STATE_FIRST)
			return start_app(d, LUAOTA_APP_NOREPLY);
		return start_app(d, n == LUAOTA_RECV_TIMEOUT
					? LUAOTA_APP_TIMEOUT
					: LUAOTA_APP_CLOSED);
	}
}

/* Reads the server, port and secret the boot uses. */
static enum luaota_err boot_settings(struct device *d,
				     const struct ldev_config *c)
{
	char num[16];
	enum ldev_value v;
	uint32_t port = 0;
	size_t k;

	if (ldev_config_get(c, "server", d->host, sizeof(d->host)) !=
		LDEV_STRING ||
	    d->host[0] == '\0')
		return LUAOTA_ECONFIG;
	v = ldev_config_get(c, "secret", d->secret, sizeof(d->secret));
	if (v != LDEV_STRING && v != LDEV_NUMBER)
		return LUAOTA_ECONFIG;
	d->secret_len = strlen(d->secret);
	v = ldev_config_get(c, "port", num, sizeof(num));
	if (v == LDEV_ABSENT) {
		port = LUAOTA_DEFAULT_PORT;
	} else if (v == LDEV_STRING || v == LDEV_NUMBER) {
		for (k = 0; num[k] >= '0' && num[k] <= '9' && port <= 65535;
		     k++)
			port = port * 10 + (uint32_t)(num[k] - '0');
		if (num[k] != '\0' || k == 0)
			port = 0;
	}
	if (port == 0 || port > 65535)
		return LUAOTA_ECONFIG;
	d->server_port = (uint16_t)port;
	return LUAOTA_OK;
}

/* The application the chip will start: config "app" and "entry". */
static void app_settings(struct luaota_boot_result *r,
			 const struct ldev_config *c)
{
	if (ldev_config_get(c, "app", r->app, sizeof(r->app)) != LDEV_STRING)
		strcpy(r->app, "luaOTA.default");
	if (ldev_config_get(c, "entry", r->entry, sizeof(r->entry)) !=
	    LDEV_STRING)
		strcpy(r->entry, "entry");
}

/* Reads the config and says HI; the connection is then open. */
static enum luaota_err say_hi(struct device *d,
			      const struct luaota_boot_args *args)
{
	const struct luaota_transport *t = &d->port->transport;
	struct ldev_config c;
	struct ldev_out o;
	enum luaota_err err;
	uint32_t start;

	c.args = args;
	/* The config text lives in rx until the first receive. */
	step(d, LUAOTA_STEP_CONFIG, LUAOTA_CONFIG_FILE,
	     ldev_config_load(&c, &d->port->flash, (char *)d->rx, sizeof(d->rx),
			      d->tok, DEVICE_TOKENS) == 0
		 ? "ok"
		 : "absent or invalid: {}",
	     0);
	app_settings(d->result, &c);
	err = boot_settings(d, &c);
	if (err != LUAOTA_OK)
		return err;
	ldev_out_init(&o, d->tx, DEVICE_TX_MAX - LUAOTA_SIG_LEN - 1);
	err = ldev_config_hi(&c, args->chip_id, &o);
	if (err != LUAOTA_OK)
		return err;
	step(d, LUAOTA_STEP_CONNECT, "", d->host, d->server_port);
	start = now(d);
	d->deadline = start + LUAOTA_FIRST_REPLY_MS;
	if (t->connect(t->ctx, d->host, d->server_port,
		       LUAOTA_FIRST_REPLY_MS) != 0)
		return start_app(d, LUAOTA_APP_NOREPLY);
	err = send_record(d, o.len, 0);
	if (err == LUAOTA_ENET)
		return start_app(d, LUAOTA_APP_NOREPLY);
	if (err == LUAOTA_OK)
		step(d, LUAOTA_STEP_HI, "", args->chip_id, (uint32_t)o.len);
	return err;
}

enum luaota_err luaota_boot(struct luaota_device *dev,
			    const struct luaota_port *port,
			    const struct luaota_boot_args *args,
			    struct luaota_boot_result *result)
{
	struct device *d;
	enum luaota_err err;

	if (dev == NULL || port == NULL || args == NULL || result == NULL ||
	    args->chip_id == NULL || port->clock.now_ms == NULL ||
	    port->compiler.compile == NULL)
		return LUAOTA_EINVAL;
	d = (struct device *)(void *)dev->u.bytes;
	memset(d, 0, sizeof(*d));
	memset(result, 0, sizeof(*result));
	d->port = port;
	d->result = result;
	d->stage_fd = -1;
	d->state = STATE_FIRST;
	luaota_frame_init(&d->framer, LUAOTA_SEGMENT_MAX - 1,
			  LUAOTA_SEGMENT_MAX - LUAOTA_HEADER_MIN - 1, 1);
	/* A power cut may have left staging files: they mean nothing now. */
	discard_staging(d);
	err = say_hi(d, args);
	while (err == LUAOTA_OK && d->state != STATE_DONE) {
		err = receive_one(d);
		/* A reply that cannot be sent: the server has gone away. */
		if (err == LUAOTA_ENET && d->state == STATE_SESSION)
			err = start_app(d, LUAOTA_APP_CLOSED);
	}
	if (err != LUAOTA_OK)
		discard_staging(d);
	port->transport.close(port->transport.ctx);
	step(d, LUAOTA_STEP_END, "",
	     err != LUAOTA_OK ? luaota_strerror(err)
			      : luaota_outcome_str(result->outcome),
	     0);
	return err;
}

const char *luaota_strerror(enum luaota_err err)
{
	switch (err) {
	case LUAOTA_OK:
		return "success";
	case LUAOTA_EAUTH:
		return "bad signature in session";
	case LUAOTA_EPROTO:
		return "malformed record in session";
	case LUAOTA_EFLASH:
		return "flash write failed";
	case LUAOTA_ECONFIG:
		return "no server, port or secret in config";
	case LUAOTA_ENET:
		return "send failed";
	case LUAOTA_ETOOBIG:
		return "reply or config too long";
	case LUAOTA_ECRYPTO:
		return "HMAC failed";
	case LUAOTA_EINVAL:
		return "invalid argument";
	}
	return "unknown error";
}

const char *luaota_outcome_str(enum luaota_outcome outcome)
{
	switch (outcome) {
	case LUAOTA_APP_CURRENT:
		return "server says current";
	case LUAOTA_APP_NOREPLY:
		return "no reply from server";
	case LUAOTA_APP_REJECTED:
		return "first reply rejected";
	case LUAOTA_APP_TIMEOUT:
		return "session timed out";
	case LUAOTA_APP_CLOSED:
		return "server closed session";
	case LUAOTA_REBOOT:
		return "new config: reboot";
	case LUAOTA_APP_REFUSED:
		return "release refused";
	}
	return "unknown outcome";
}
