/*
 * Fuzz target: a device session on the daemon side, from the first record
 * to the last reply, through the real session, legacy module, store and
 * planner.  The harness signs each record with the chip's secret so that
 * inputs get past authentication.
 *
 * Input: lines.  A line starting with '#' is sent as raw bytes (payloads,
 * garbage), one starting with '!' raw with its newline, one starting with
 * '~' as a protocol v2 record of the v2 chip, tagged by the harness (under
 * K_hello for the first, then under the session key derived from the
 * nonces of the HELLO and of the server's first reply); any other line is
 * a legacy JSON header, sent signed with its newline.
 * The daemon's answers are read and dropped; lock-step is kept by running
 * the event loop after each line.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "daemon/checkins.h"
#include "daemon/daemon.h"
#include "daemon/decisions.h"
#include "daemon/history.h"
#include "daemon/session.h"
#include "db/store.h"
#include "plan/plan.h"
#include "proto/crypto_openssl.h"
#include "proto/sig.h"
#include "proto/v2.h"
#include "scratch.h"

#define CHIP "13572468"
#define SECRET "fuzz-chip-secret"
#define V2_CHIP "24681357"
#define V2_KEY                                                                 \
	"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct daemon d;
static char dir[200];

/* The v2 conversation of the current input, as the device sees it. */
static struct {
	struct luaota_v2_channel ch;
	uint8_t key[LUAOTA_V2_KEY_LEN];
	uint8_t nd[LUAOTA_V2_NONCE_LEN];
	int started; /* the HELLO went out */
	int keyed;   /* the session key is in force */
} v2;

/* The run's directory goes at exit: replays run in every build. */
static void cleanup(void)
{
	static const char *const names[] = {
		"repo/app.lua",	     "repo/blob.bin", "repo",
		"luaota.db-wal",     "luaota.db-shm", "luaota.db",
		"luaota.db-journal",
	};
	char path[512];
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (unlink(path) != 0)
			rmdir(path);
	}
	rmdir(dir);
}

static void write_file(const char *where, const char *name, const char *text,
		       size_t len)
{
	char path[512];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", where, name);
	if ((fp = fopen(path, "wb")) == NULL)
		abort();
	fwrite(text, 1, len, fp);
	fclose(fp);
}

/* One inventory, repository and event loop for the whole run. */
static void setup(void)
{
	char repo[256], db[256], blob[1500];
	struct store_group_file files[] = {
		{ .name = "app.lua", .action = STORE_ACTION_AUTO },
		{ .name = "blob.bin", .action = STORE_ACTION_DL },
	};
	struct store_group g = {
		.name = "g",
		.repo_name = "r",
		.files = files,
		.nfiles = 2,
	};

	if (scratch_dir("luaota-fuzz-session", 1, dir, sizeof(dir)) != 0)
		abort();
	atexit(cleanup);
	snprintf(repo, sizeof(repo), "%s/repo", dir);
	snprintf(db, sizeof(db), "%s/luaota.db", dir);
	if (mkdir(repo, 0700) != 0)
		abort();
	write_file(repo, "app.lua", "print('up')\n", 12);
	memset(blob, 'b', sizeof(blob));
	write_file(repo, "blob.bin", blob, sizeof(blob));
	log_init(0, LOG_LEVEL_WARN);
	config_defaults(&d.conf);
	d.store = store_open(db, STORE_CREATE);
	if (d.store == NULL || store_repo_add(d.store, "r", repo, NULL) != 0 ||
	    store_group_add(d.store, &g) != 0 ||
	    store_chip_add(d.store, CHIP, "g", SECRET, NULL) != 0 ||
	    store_chip_add_v2(d.store, V2_CHIP, "g", SECRET, NULL, V2_KEY) !=
		0 ||
	    luaota_v2_unhex(V2_KEY, strlen(V2_KEY), v2.key, sizeof(v2.key)) !=
		0)
		abort();
	store_set_busy_timeout(d.store, 1000);
	d.cache = plan_cache_new();
	d.decisions = decisions_new();
	d.base = event_base_new();
	TAILQ_INIT(&d.sessions);
	if (d.cache == NULL || d.decisions == NULL || d.base == NULL ||
	    history_init(&d) != 0 || (d.checkins = checkins_new(&d)) == NULL)
		abort();
}

/* The hex nonce after key (e.g. "\"ns\":\"") in text, decoded; 0 or -1. */
static int find_nonce(const char *text, size_t len, const char *key,
		      uint8_t out[LUAOTA_V2_NONCE_LEN])
{
	const char *at = memmem(text, len, key, strlen(key));
	size_t off;

	if (at == NULL)
		return -1;
	off = (size_t)(at - text) + strlen(key);
	if (off + 2 * LUAOTA_V2_NONCE_LEN > len)
		return -1;
	return luaota_v2_unhex(text + off, 2 * LUAOTA_V2_NONCE_LEN, out,
			       LUAOTA_V2_NONCE_LEN);
}

/* The server's first v2 reply carries its nonce: derive the session key. */
static void v2_rekey(const char *reply, size_t len)
{
	uint8_t ns[LUAOTA_V2_NONCE_LEN], sess[LUAOTA_V2_KEY_LEN];

	if (!v2.started || v2.keyed ||
	    find_nonce(reply, len, "\"ns\":\"", ns) != 0 ||
	    luaota_v2_session_key(&luaota_crypto_openssl, v2.key, v2.nd, ns,
				  sess) != 0)
		return;
	luaota_v2_channel_rekey(&v2.ch, sess);
	v2.keyed = 1;
}

/* Runs the loop until it is idle, and drops what the daemon sent. */
static void settle(int peer)
{
	char sink[16384];
	ssize_t n;
	int i;

	for (i = 0; i < 8; i++) {
		event_base_loop(d.base, EVLOOP_NONBLOCK);
		while ((n = read(peer, sink, sizeof(sink))) > 0)
			v2_rekey(sink, (size_t)n);
	}
}

/* A v2 record of the v2 chip, tagged as its device would. */
static void send_v2(int peer, const uint8_t *json, size_t len)
{
	uint8_t out[LUAOTA_V2_HEADER_MAX * 2];
	uint8_t hello[LUAOTA_V2_KEY_LEN];
	size_t n;

	if (!v2.started) {
		if (luaota_v2_hello_key(&luaota_crypto_openssl, v2.key,
					hello) != 0)
			return;
		luaota_v2_channel_init(&v2.ch, &luaota_crypto_openssl, hello,
				       LUAOTA_V2_DIR_DEVICE);
		memset(v2.nd, 0, sizeof(v2.nd));
		find_nonce((const char *)json, len, "\"nd\":\"", v2.nd);
		v2.started = 1;
	}
	if (memchr(json, '\n', len) != NULL ||
	    luaota_v2_seal(&v2.ch, (const char *)json, len, NULL, 0, out,
			   sizeof(out), &n) != 0)
		return;
	if (write(peer, out, n) < 0)
		return;
}

static void send_line(int peer, const uint8_t *line, size_t len)
{
	char sig[LUAOTA_SIG_LEN + 1];

	if (len > 0 && line[0] == '~') {
		send_v2(peer, line + 1, len - 1);
		return;
	}
	if (len > 0 && (line[0] == '#' || line[0] == '!')) {
		if (write(peer, line + 1, len - 1) < 0 ||
		    (line[0] == '!' && write(peer, "\n", 1) < 0))
			return;
		return;
	}
	if (luaota_sig_compute(&luaota_crypto_openssl, (const uint8_t *)SECRET,
			       strlen(SECRET), (const char *)line, len,
			       sig) != 0)
		return;
	if (write(peer, line, len) < 0 || write(peer, sig, 6) < 0 ||
	    write(peer, "\n", 1) < 0)
		return;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	const uint8_t *line = data, *end = data + size, *nl;
	int fds[2];

	if (d.base == NULL)
		setup();
	memset(&v2.ch, 0, sizeof(v2.ch));
	v2.started = v2.keyed = 0;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0)
		return 0;
	fcntl(fds[1], F_SETFL, O_NONBLOCK);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (session_new(&d, fds[0], (struct sockaddr *)&sa, sizeof(sa)) ==
	    NULL) {
		close(fds[1]);
		return 0;
	}
	while (line < end && !TAILQ_EMPTY(&d.sessions)) {
		nl = memchr(line, '\n', (size_t)(end - line));
		if (nl == NULL)
			nl = end;
		send_line(fds[1], line, (size_t)(nl - line));
		settle(fds[1]);
		line = nl + 1;
	}
	close(fds[1]);
	settle(-1);
	session_close_all(&d, "fuzz input done");
	return 0;
}
