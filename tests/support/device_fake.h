/*
 * Test support for the device client: a scripted fake server behind the
 * transport interface, a fake clock, and a flash that wraps a directory
 * and fails on demand.  Everything runs in-process, without sleeping.
 */
#ifndef TESTS_DEVICE_FAKE_H
#define TESTS_DEVICE_FAKE_H

#include <stddef.h>
#include <stdint.h>

#include "luaota.h"
#include "posix/flash_dir.h"

#define FAKE_SECRET "selftest-secret"
#define FAKE_RECORDS 64
#define FAKE_SENT_MAX (64 * 1024)

/* The clock: advanced only by the fake transport and by tests. */
struct fake_clock {
	uint32_t now;
};

/* The scripted server: record i is released after the device's i+1-th
 * send (HI releases record 0), after delay_ms[i] of fake time. */
struct fake_net {
	struct fake_clock *clock;
	uint8_t *records[FAKE_RECORDS];
	size_t record_len[FAKE_RECORDS];
	uint32_t delay_ms[FAKE_RECORDS];
	size_t n_records, next;
	uint8_t pending[2048];
	size_t pending_len, pending_off;
	size_t piece;	     /* most bytes one recv returns (0: no limit) */
	int eof_when_done;   /* after the script: EOF instead of silence */
	int refuse_connect;  /* connect fails */
	size_t fail_send_at; /* the Nth send (1-based) fails; 0: none */
	int connected;
	char host[128];
	uint16_t port;
	uint8_t sent[FAKE_SENT_MAX]; /* everything the device sent */
	size_t sent_off[FAKE_RECORDS + 2], sent_len[FAKE_RECORDS + 2];
	size_t n_sent, sent_total;
};

/* A directory flash whose Nth write (1-based, counted from arming) or
 * whose renames onto one name fail. */
struct fake_flash {
	struct luaota_flash_dir dir;
	struct luaota_flash inner;
	long writes;		    /* writes seen since armed */
	long fail_write_at;	    /* 0: never */
	const char *fail_rename_to; /* NULL: never */
};

/* Everything one test uses. */
struct fake_world {
	char dir[64];
	struct fake_clock clock;
	struct fake_net net;
	struct fake_flash flash;
	struct luaota_port port;
	struct luaota_device dev;
	struct luaota_boot_result result;
};

/* Creates a temp dir flash and an empty script; aborts on failure. */
void fake_world_init(struct fake_world *w);

/* Removes the temp dir and frees the script. */
void fake_world_free(struct fake_world *w);

/* Appends a record signed with secret (FAKE_SECRET when NULL). */
void fake_add(struct fake_world *w, const char *json, const void *payload,
	      size_t payload_len);

/* Appends raw bytes as one scripted delivery. */
void fake_add_raw(struct fake_world *w, const void *bytes, size_t len);

/* Appends a record signed with another secret (a bad signature). */
void fake_add_badsig(struct fake_world *w, const char *json);

/* Boots the device with the given overrides; returns luaota_boot(). */
enum luaota_err fake_boot(struct fake_world *w, const char *chip_id,
			  const struct luaota_override *ov, size_t n_ov);

/* Boots with server, port and secret given as overrides. */
enum luaota_err fake_boot_default(struct fake_world *w);

/* The JSON of the device's i-th send (0 is HI), signature checked;
 * NUL-terminated copy in a static buffer. */
const char *fake_sent_json(const struct fake_world *w, size_t i);

/* The payload following the JSON of the i-th send, and its length. */
const uint8_t *fake_sent_payload(const struct fake_world *w, size_t i,
				 size_t *len);

/* Writes a flash file (creating it) with the given contents. */
void fake_put(struct fake_world *w, const char *name, const void *data,
	      size_t len);

/* Reads a flash file into a malloc'd buffer; NULL if it does not exist. */
uint8_t *fake_get(struct fake_world *w, const char *name, size_t *len);

/* Number of entries in the flash directory (including staging files). */
int fake_count_files(const struct fake_world *w);

#endif /* TESTS_DEVICE_FAKE_H */
