/*
 * Fuzz target: the device core serving whatever a server sends.  The
 * input is split at each NUL byte into deliveries, released lock-step
 * (one after each record the device sends).  HMAC always yields zeros, so
 * "000000" is every record's valid signature and the fuzzer reaches every
 * command.  The flash lives in memory.  Checked after each boot: no
 * staging file is left, every record sent is framed, the config fits.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "luaota.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SLOTS 8
#define SLOT_MAX 2048

struct slot {
	int used;
	char name[LUAOTA_NAME_MAX + 1];
	uint8_t bytes[SLOT_MAX];
	size_t len;
};

struct world {
	struct slot slot[SLOTS];
	const uint8_t *in;
	size_t in_len, in_off;
	const uint8_t *pending;
	size_t pending_len;
	unsigned sends, released;
	uint32_t now;
};

static struct slot *find(struct world *w, const char *name)
{
	int i;

	for (i = 0; i < SLOTS; i++)
		if (w->slot[i].used && strcmp(w->slot[i].name, name) == 0)
			return &w->slot[i];
	return NULL;
}

static int m_open(void *ctx, const char *name, enum luaota_open_mode mode)
{
	struct world *w = ctx;
	struct slot *s = find(w, name);
	int i;

	if (mode == LUAOTA_OPEN_READ)
		return s != NULL ? (int)(s - w->slot) : -1;
	if (strlen(name) > LUAOTA_NAME_MAX)
		return -1;
	for (i = 0; s == NULL && i < SLOTS; i++)
		if (!w->slot[i].used)
			s = &w->slot[i];
	if (s == NULL)
		return -1;
	s->used = 1;
	strcpy(s->name, name);
	s->len = 0;
	return (int)(s - w->slot);
}

static long m_read(void *ctx, int h, uint32_t off, uint8_t *buf, size_t len)
{
	struct slot *s = &((struct world *)ctx)->slot[h];

	if (off >= s->len)
		return 0;
	if (len > s->len - off)
		len = s->len - off;
	memcpy(buf, s->bytes + off, len);
	return (long)len;
}

static int m_write(void *ctx, int h, const uint8_t *buf, size_t len)
{
	struct slot *s = &((struct world *)ctx)->slot[h];

	if (len > SLOT_MAX - s->len)
		return -1; /* a full flash */
	memcpy(s->bytes + s->len, buf, len);
	s->len += len;
	return 0;
}

static int m_close(void *ctx, int h)
{
	(void)ctx;
	(void)h;
	return 0;
}

static int m_remove(void *ctx, const char *name)
{
	struct slot *s = find(ctx, name);

	if (s == NULL)
		return -1;
	s->used = 0;
	return 0;
}

static int m_rename(void *ctx, const char *from, const char *to)
{
	struct slot *s = find(ctx, from), *t = find(ctx, to);

	if (s == NULL || strlen(to) > LUAOTA_NAME_MAX)
		return -1;
	if (t != NULL && t != s)
		t->used = 0;
	strcpy(s->name, to);
	return 0;
}

static int m_size(void *ctx, const char *name, uint32_t *size)
{
	struct slot *s = find(ctx, name);

	if (s == NULL)
		return -1;
	*size = (uint32_t)s->len;
	return 0;
}

static int m_list(void *ctx, int (*each)(void *, const char *, uint32_t),
		  void *arg)
{
	struct world *w = ctx;
	int i;

	for (i = 0; i < SLOTS; i++)
		if (w->slot[i].used &&
		    each(arg, w->slot[i].name, (uint32_t)w->slot[i].len) != 0)
			break;
	return 0;
}

static int t_connect(void *ctx, const char *host, uint16_t port,
		     uint32_t timeout_ms)
{
	(void)ctx;
	(void)host;
	(void)port;
	(void)timeout_ms;
	return 0;
}

static int t_send(void *ctx, const uint8_t *buf, size_t len)
{
	const uint8_t *nl = memchr(buf, '\n', len);

	/* A record: its header ends in 6 hex digits and a newline. */
	if (nl == NULL || nl - buf < LUAOTA_HEADER_MIN)
		abort();
	((struct world *)ctx)->sends++;
	return 0;
}

static long t_recv(void *ctx, uint8_t *buf, size_t cap, uint32_t timeout_ms)
{
	struct world *w = ctx;
	const uint8_t *end;

	if (w->pending_len == 0 && w->released < w->sends &&
	    w->in_off < w->in_len) {
		/* The next delivery runs to the next NUL byte. */
		w->pending = w->in + w->in_off;
		end = memchr(w->pending, 0, w->in_len - w->in_off);
		w->pending_len = end != NULL ? (size_t)(end - w->pending)
					     : w->in_len - w->in_off;
		w->in_off += w->pending_len + (end != NULL);
		w->released = w->sends;
	}
	if (w->pending_len == 0) {
		w->now += timeout_ms;
		return w->in_off >= w->in_len ? LUAOTA_RECV_EOF
					      : LUAOTA_RECV_TIMEOUT;
	}
	if (cap > w->pending_len)
		cap = w->pending_len;
	memcpy(buf, w->pending, cap);
	w->pending += cap;
	w->pending_len -= cap;
	return (long)cap;
}

static void t_close(void *ctx)
{
	(void)ctx;
}

static uint32_t c_now(void *ctx)
{
	return ((struct world *)ctx)->now;
}

static int zero_hmac(void *ctx, const uint8_t *key, size_t key_len,
		     const uint8_t *msg, size_t msg_len,
		     uint8_t out[LUAOTA_MD5_LEN])
{
	(void)ctx;
	(void)key;
	(void)key_len;
	(void)msg;
	(void)msg_len;
	memset(out, 0, LUAOTA_MD5_LEN);
	return 0;
}

/* Copies the source as "bytecode"; a '!' in it is a syntax error whose
 * message holds characters that need escaping. */
static enum luaota_compile_status
copy_compile(void *ctx, const struct luaota_flash *f, const char *src,
	     const char *chunkname, const char *dst, uint32_t *lc_size,
	     char *err, size_t err_cap)
{
	uint8_t buf[SLOT_MAX];
	long n;
	int in, out;

	(void)ctx;
	(void)chunkname;
	in = f->open(f->ctx, src, LUAOTA_OPEN_READ);
	if (in < 0)
		return LUAOTA_COMPILE_EWRITE;
	n = f->read(f->ctx, in, 0, buf, sizeof(buf));
	f->close(f->ctx, in);
	if (n < 0)
		return LUAOTA_COMPILE_EWRITE;
	if (memchr(buf, '!', (size_t)n) != NULL) {
		strncpy(err, "bad \"!\"\n\x01\\", err_cap - 1);
		err[err_cap - 1] = '\0';
		return LUAOTA_COMPILE_ESYNTAX;
	}
	out = f->open(f->ctx, dst, LUAOTA_OPEN_WRITE);
	if (out < 0 || f->write(f->ctx, out, buf, (size_t)n) != 0)
		return LUAOTA_COMPILE_EWRITE;
	f->close(f->ctx, out);
	*lc_size = (uint32_t)n;
	return LUAOTA_COMPILE_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char config[] =
	    "{\"server\":\"h\",\"secret\":\"k\",\"files\":{\"a\":1}}";
	static struct world w;
	static struct luaota_device dev;
	struct luaota_port port = {
		{ m_open, m_read, m_write, m_close, m_rename, m_remove, m_size,
		  m_list, &w },
		{ t_connect, t_send, t_recv, t_close, &w },
		{ c_now, &w },
		{ .hmac_md5 = zero_hmac },
		{ copy_compile, NULL },
		NULL,
		NULL,
	};
	struct luaota_boot_args args = { "1", NULL, 0 };
	struct luaota_boot_result result;
	struct slot *cfg;
	int h;

	memset(&w, 0, sizeof(w));
	w.in = data;
	w.in_len = size;
	h = m_open(&w, LUAOTA_CONFIG_FILE, LUAOTA_OPEN_WRITE);
	m_write(&w, h, (const uint8_t *)config, sizeof(config) - 1);
	luaota_boot(&dev, &port, &args, &result);
	if (find(&w, LUAOTA_STAGE_FILE) != NULL ||
	    find(&w, LUAOTA_STAGE_LC) != NULL ||
	    find(&w, LUAOTA_STAGE_CONFIG) != NULL)
		abort();
	cfg = find(&w, LUAOTA_CONFIG_FILE);
	if (cfg == NULL || cfg->len > LUAOTA_CONFIG_MAX)
		abort();
	return 0;
}
