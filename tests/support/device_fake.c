/* Fake server, clock and flash for the device tests: see device_fake.h. */
#include "device_fake.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "scratch.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "posix/compile_lua.h"
#include "proto/crypto_openssl.h"
#include "proto/record.h"
#include "proto/sig.h"

static uint32_t fake_now(void *ctx)
{
	return ((struct fake_clock *)ctx)->now;
}

static int net_connect(void *ctx, const char *host, uint16_t port,
		       uint32_t timeout_ms)
{
	struct fake_net *n = ctx;

	(void)timeout_ms;
	snprintf(n->host, sizeof(n->host), "%s", host);
	n->port = port;
	if (n->refuse_connect)
		return -1;
	n->connected = 1;
	return 0;
}

static int net_send(void *ctx, const uint8_t *buf, size_t len)
{
	struct fake_net *n = ctx;

	assert_true(n->connected);
	if (n->fail_send_at > 0 && n->n_sent + 1 == n->fail_send_at)
		return -1;
	assert_true(n->n_sent < FAKE_RECORDS + 2);
	assert_true(len <= FAKE_SENT_MAX - n->sent_total);
	memcpy(n->sent + n->sent_total, buf, len);
	n->sent_off[n->n_sent] = n->sent_total;
	n->sent_len[n->n_sent] = len;
	n->sent_total += len;
	n->n_sent++;
	return 0;
}

static long net_recv(void *ctx, uint8_t *buf, size_t cap, uint32_t timeout_ms)
{
	struct fake_net *n = ctx;
	size_t give;

	assert_true(n->connected);
	if (n->pending_off == n->pending_len && n->next < n->n_records &&
	    n->n_sent > n->next) {
		/* Lock-step: the next record once the device has replied. */
		assert_true(n->record_len[n->next] <= sizeof(n->pending));
		memcpy(n->pending, n->records[n->next], n->record_len[n->next]);
		n->pending_len = n->record_len[n->next];
		n->pending_off = 0;
		if (n->delay_ms[n->next] >= timeout_ms) {
			n->clock->now += timeout_ms;
			n->delay_ms[n->next] -= timeout_ms;
			n->pending_len = 0;
			return LUAOTA_RECV_TIMEOUT;
		}
		n->clock->now += n->delay_ms[n->next];
		n->next++;
	}
	if (n->pending_off == n->pending_len) {
		if (n->eof_when_done && n->next >= n->n_records)
			return LUAOTA_RECV_EOF;
		n->clock->now += timeout_ms;
		return LUAOTA_RECV_TIMEOUT;
	}
	give = n->pending_len - n->pending_off;
	if (n->piece > 0 && give > n->piece)
		give = n->piece;
	if (give > cap)
		give = cap;
	memcpy(buf, n->pending + n->pending_off, give);
	n->pending_off += give;
	return (long)give;
}

static void net_close(void *ctx)
{
	((struct fake_net *)ctx)->connected = 0;
}

static int ff_open(void *ctx, const char *name, enum luaota_open_mode mode)
{
	struct fake_flash *f = ctx;

	return f->inner.open(f->inner.ctx, name, mode);
}

static long ff_read(void *ctx, int h, uint32_t off, uint8_t *buf, size_t len)
{
	struct fake_flash *f = ctx;

	return f->inner.read(f->inner.ctx, h, off, buf, len);
}

static int ff_write(void *ctx, int h, const uint8_t *buf, size_t len)
{
	struct fake_flash *f = ctx;

	if (f->fail_write_at > 0 && ++f->writes == f->fail_write_at)
		return -1;
	return f->inner.write(f->inner.ctx, h, buf, len);
}

static int ff_close(void *ctx, int h)
{
	struct fake_flash *f = ctx;

	return f->inner.close(f->inner.ctx, h);
}

static int ff_rename(void *ctx, const char *from, const char *to)
{
	struct fake_flash *f = ctx;

	if (f->fail_rename_to != NULL && strcmp(to, f->fail_rename_to) == 0)
		return -1;
	return f->inner.rename(f->inner.ctx, from, to);
}

static int ff_remove(void *ctx, const char *name)
{
	struct fake_flash *f = ctx;

	return f->inner.remove(f->inner.ctx, name);
}

static int ff_size(void *ctx, const char *name, uint32_t *size)
{
	struct fake_flash *f = ctx;

	return f->inner.size(f->inner.ctx, name, size);
}

static int ff_list(void *ctx, int (*each)(void *, const char *, uint32_t),
		   void *arg)
{
	struct fake_flash *f = ctx;

	return f->inner.list(f->inner.ctx, each, arg);
}

/* With DEVICE_TEST_VERBOSE set, the steps of each boot go to stderr. */
static void print_step(void *ctx, const struct luaota_step *s)
{
	(void)ctx;
	fprintf(stderr, "# step %d %s %s: %s (%u)\n", (int)s->kind, s->action,
		s->name, s->text, (unsigned)s->number);
}

void fake_world_init(struct fake_world *w)
{
	memset(w, 0, sizeof(*w));
	assert_int_equal(
	    scratch_dir("luaota-device", 0, w->dir, sizeof(w->dir)), 0);
	assert_int_equal(
	    luaota_flash_dir_open(&w->flash.dir, w->dir, &w->flash.inner), 0);
	w->port.flash = (struct luaota_flash){ ff_open,	 ff_read,   ff_write,
					       ff_close, ff_rename, ff_remove,
					       ff_size,	 ff_list,   &w->flash };
	w->net.clock = &w->clock;
	w->port.transport =
	    (struct luaota_transport){ net_connect, net_send, net_recv,
				       net_close, &w->net };
	w->port.clock.now_ms = fake_now;
	w->port.clock.ctx = &w->clock;
	w->port.crypto = luaota_crypto_openssl;
	luaota_lua_compiler_init(&w->port.compiler);
	if (getenv("DEVICE_TEST_VERBOSE") != NULL)
		w->port.on_step = print_step;
	/* Start near the wrap of the 32-bit clock: deadlines must survive it.
	 */
	w->clock.now = 0xffffffffu - 5000;
}

void fake_world_free(struct fake_world *w)
{
	char path[512];
	struct dirent *e;
	DIR *d;
	size_t i;

	for (i = 0; i < w->net.n_records; i++)
		free(w->net.records[i]);
	luaota_flash_dir_close(&w->flash.dir);
	d = opendir(w->dir);
	if (d != NULL) {
		while ((e = readdir(d)) != NULL) {
			if (strcmp(e->d_name, ".") == 0 ||
			    strcmp(e->d_name, "..") == 0)
				continue;
			snprintf(path, sizeof(path), "%s/%s", w->dir,
				 e->d_name);
			unlink(path);
		}
		closedir(d);
	}
	rmdir(w->dir);
}

void fake_add_raw(struct fake_world *w, const void *bytes, size_t len)
{
	struct fake_net *n = &w->net;

	assert_true(n->n_records < FAKE_RECORDS);
	n->records[n->n_records] = malloc(len > 0 ? len : 1);
	assert_non_null(n->records[n->n_records]);
	memcpy(n->records[n->n_records], bytes, len);
	n->record_len[n->n_records] = len;
	n->n_records++;
}

static void add_signed(struct fake_world *w, const char *secret,
		       const char *json, const void *payload, size_t plen)
{
	uint8_t rec[LUAOTA_SEGMENT_MAX];
	size_t len = 0;

	assert_int_equal(
	    luaota_record_write(&luaota_crypto_openssl, (const uint8_t *)secret,
				strlen(secret), json, strlen(json), payload,
				plen, rec, sizeof(rec), &len),
	    LUAOTA_RECORD_OK);
	fake_add_raw(w, rec, len);
}

void fake_add(struct fake_world *w, const char *json, const void *payload,
	      size_t payload_len)
{
	add_signed(w, FAKE_SECRET, json, payload, payload_len);
}

void fake_add_badsig(struct fake_world *w, const char *json)
{
	add_signed(w, "not-the-secret", json, NULL, 0);
}

enum luaota_err fake_boot(struct fake_world *w, const char *chip_id,
			  const struct luaota_override *ov, size_t n_ov)
{
	struct luaota_boot_args args = { chip_id, ov, n_ov };

	return luaota_boot(&w->dev, &w->port, &args, &w->result);
}

enum luaota_err fake_boot_default(struct fake_world *w)
{
	static const struct luaota_override ov[] = {
		{ "server", "192.0.2.1", LUAOTA_VALUE_STRING },
		{ "port", "8266", LUAOTA_VALUE_NUMBER },
		{ "secret", FAKE_SECRET, LUAOTA_VALUE_STRING },
	};

	return fake_boot(w, "13572468", ov, 3);
}

/* Splits send i at its first '\n' and checks the signature. */
static size_t sent_header(const struct fake_world *w, size_t i)
{
	const uint8_t *p = w->net.sent + w->net.sent_off[i];
	const uint8_t *nl;

	assert_true(i < w->net.n_sent);
	nl = memchr(p, '\n', w->net.sent_len[i]);
	assert_non_null(nl);
	assert_true(nl - p >= LUAOTA_HEADER_MIN);
	assert_int_equal(luaota_sig_verify(&luaota_crypto_openssl,
					   (const uint8_t *)FAKE_SECRET,
					   strlen(FAKE_SECRET), (const char *)p,
					   (size_t)(nl - p) - LUAOTA_SIG_LEN,
					   (const char *)nl - LUAOTA_SIG_LEN),
			 0);
	return (size_t)(nl - p);
}

const char *fake_sent_json(const struct fake_world *w, size_t i)
{
	static char json[LUAOTA_SEGMENT_MAX + 1];
	size_t hdr = sent_header(w, i);

	memcpy(json, w->net.sent + w->net.sent_off[i], hdr - LUAOTA_SIG_LEN);
	json[hdr - LUAOTA_SIG_LEN] = '\0';
	return json;
}

const uint8_t *fake_sent_payload(const struct fake_world *w, size_t i,
				 size_t *len)
{
	size_t hdr = sent_header(w, i);

	*len = w->net.sent_len[i] - hdr - 1;
	return w->net.sent + w->net.sent_off[i] + hdr + 1;
}

void fake_put(struct fake_world *w, const char *name, const void *data,
	      size_t len)
{
	const struct luaota_flash *f = &w->flash.inner;
	int h = f->open(f->ctx, name, LUAOTA_OPEN_WRITE);

	assert_true(h >= 0);
	assert_int_equal(f->write(f->ctx, h, data, len), 0);
	assert_int_equal(f->close(f->ctx, h), 0);
}

uint8_t *fake_get(struct fake_world *w, const char *name, size_t *len)
{
	const struct luaota_flash *f = &w->flash.inner;
	uint32_t size;
	uint8_t *buf;
	long n;
	int h;

	if (f->size(f->ctx, name, &size) != 0)
		return NULL;
	buf = malloc(size + 1);
	assert_non_null(buf);
	h = f->open(f->ctx, name, LUAOTA_OPEN_READ);
	assert_true(h >= 0);
	n = size > 0 ? f->read(f->ctx, h, 0, buf, size) : 0;
	assert_int_equal(n, (long)size);
	f->close(f->ctx, h);
	buf[size] = '\0';
	*len = size;
	return buf;
}

int fake_count_files(const struct fake_world *w)
{
	struct dirent *e;
	int n = 0;
	DIR *d = opendir(w->dir);

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}
