/*
 * luaota: the device side of NodeMCU's luaOTA protocol, as a portable C99
 * responder.  The core makes no OS call: the flash, the TCP transport, the
 * clock, HMAC-MD5 and the Lua compiler are interfaces that a port fills in
 * (device/posix/ is the host port).  It keeps no global state, never
 * allocates, never exits and never prints; every call returns an
 * enum luaota_err that luaota_strerror() describes.
 *
 * One call, luaota_boot(), is one boot of the chip: it reads
 * luaOTA/config.json, says HI to the server, serves the provisioning
 * session if the server starts one, and tells the caller what the chip
 * must do next: start its application, or reboot.
 *
 * Limits: every record either way fits LUAOTA_SEGMENT_MAX bytes (an "ls"
 * reply that would not is answered "list too long"); a record's JSON may
 * hold at most 128 tokens (a "restart" with more is LUAOTA_ETOOBIG, as is
 * one whose config would exceed LUAOTA_CONFIG_MAX); "ul" reads at most
 * LUAOTA_CHUNK_SIZE bytes.  Files sent with pu/dl/cm are staged on the
 * flash and renamed into place whole, never held in RAM.
 */
#ifndef LUAOTA_H
#define LUAOTA_H

#include <stddef.h>
#include <stdint.h>

#include "proto/crypto.h"
#include "proto/protocol.h"

enum luaota_err {
	LUAOTA_OK = 0,
	LUAOTA_EAUTH = -1,   /* a record after the first failed its signature */
	LUAOTA_EPROTO = -2,  /* a malformed or oversized record in a session */
	LUAOTA_EFLASH = -3,  /* the flash refused a write the boot needed */
	LUAOTA_ECONFIG = -4, /* config.json names no server or no secret */
	LUAOTA_ENET = -5,    /* the transport failed while sending */
	LUAOTA_ETOOBIG = -6, /* a reply or the new config would not fit */
	LUAOTA_ECRYPTO = -7, /* the HMAC implementation failed */
	LUAOTA_EINVAL = -8   /* a bad argument (a bug in the caller) */
};

/* What the chip must do after luaota_boot() returned LUAOTA_OK. */
enum luaota_outcome {
	LUAOTA_APP_CURRENT,  /* the server answered "OK!": start the app */
	LUAOTA_APP_NOREPLY,  /* no connection, or no record within 3 s */
	LUAOTA_APP_REJECTED, /* first record too short or badly signed */
	LUAOTA_APP_TIMEOUT,  /* the 30 s session backstop fired */
	LUAOTA_APP_CLOSED,   /* the server closed the session midway */
	LUAOTA_REBOOT,	     /* "restart": new config written, reboot now */
	LUAOTA_APP_REFUSED   /* v2: the device refused the server's release */
};

/* Modes of luaota_flash.open(). */
enum luaota_open_mode {
	LUAOTA_OPEN_READ,  /* existing file, read only */
	LUAOTA_OPEN_WRITE, /* create or truncate, write only */
	LUAOTA_OPEN_APPEND /* create or keep, writes go to the end (v2) */
};

/*
 * The flash file system (SPIFFS on a chip).  Names are flash names such
 * as "luaOTA/config.json": '/' is an ordinary character.  Handles are
 * small non-negative integers chosen by the port.
 */
struct luaota_flash {
	/* Opens name; returns a handle >= 0, or -1. */
	int (*open)(void *ctx, const char *name, enum luaota_open_mode mode);
	/* Reads up to len bytes at offset; returns the count (0 at end), -1. */
	long (*read)(void *ctx, int handle, uint32_t offset, uint8_t *buf,
		     size_t len);
	/* Appends all len bytes; 0, or -1. */
	int (*write)(void *ctx, int handle, const uint8_t *buf, size_t len);
	/* Closes (and for writes, flushes) the handle; 0, or -1. */
	int (*close)(void *ctx, int handle);
	/* Renames from to to, replacing to atomically if it exists; 0, -1. */
	int (*rename)(void *ctx, const char *from, const char *to);
	/* Removes name; 0, or -1 (also when it does not exist). */
	int (*remove)(void *ctx, const char *name);
	/* Stores the size of name in *size; 0, or -1 when it does not exist. */
	int (*size)(void *ctx, const char *name, uint32_t *size);
	/* Calls each(arg, name, size) per file, stopping when it returns
	 * non-zero; 0, or -1 when the listing failed. */
	int (*list)(void *ctx,
		    int (*each)(void *arg, const char *name, uint32_t size),
		    void *arg);
	void *ctx;
};

/* Results of luaota_transport.recv() other than a byte count. */
#define LUAOTA_RECV_EOF 0
#define LUAOTA_RECV_ERROR (-1)
#define LUAOTA_RECV_TIMEOUT (-2)

/* One TCP connection at a time: the device is the client. */
struct luaota_transport {
	/* Connects to host:port within timeout_ms; 0, or -1. */
	int (*connect)(void *ctx, const char *host, uint16_t port,
		       uint32_t timeout_ms);
	/* Sends all len bytes; 0, or -1. */
	int (*send)(void *ctx, const uint8_t *buf, size_t len);
	/* Receives up to cap bytes within timeout_ms: a count > 0, or
	 * LUAOTA_RECV_EOF, LUAOTA_RECV_ERROR or LUAOTA_RECV_TIMEOUT. */
	long (*recv)(void *ctx, uint8_t *buf, size_t cap, uint32_t timeout_ms);
	/* Closes the connection if one is open. */
	void (*close)(void *ctx);
	void *ctx;
};

/* A monotonic millisecond clock (it may wrap). */
struct luaota_clock {
	uint32_t (*now_ms)(void *ctx);
	void *ctx;
};

/* Results of luaota_compiler.compile(). */
enum luaota_compile_status {
	LUAOTA_COMPILE_OK = 0,	    /* bytecode written, *lc_size set */
	LUAOTA_COMPILE_ESYNTAX = 1, /* the source does not compile: err set */
	LUAOTA_COMPILE_EWRITE = 2   /* reading or writing the flash failed */
};

/* Compiles Lua source to stripped bytecode, file to file. */
struct luaota_compiler {
	/* Compiles flash file src (chunk name chunkname) into flash file
	 * dst (created or truncated) through flash; on ESYNTAX writes a
	 * NUL-terminated message into err[0..err_cap). */
	enum luaota_compile_status (*compile)(
	    void *ctx, const struct luaota_flash *flash, const char *src,
	    const char *chunkname, const char *dst, uint32_t *lc_size,
	    char *err, size_t err_cap);
	void *ctx;
};

/* Kinds of luaota_step, reported as the boot goes. */
enum luaota_step_kind {
	LUAOTA_STEP_CONFIG,  /* config read: text = "ok" or why it was empty */
	LUAOTA_STEP_CONNECT, /* connecting: text = host, number = port */
	LUAOTA_STEP_HI,	     /* HI sent: text = the chip id */
	LUAOTA_STEP_COMMAND, /* a command served: action, name, text = "s" */
	LUAOTA_STEP_END	     /* the boot's end: text = why */
};

/* One step of a boot, for the port's log; pointers valid during the call. */
struct luaota_step {
	enum luaota_step_kind kind;
	const char *action; /* command name, or "" */
	const char *name;   /* file name the command concerns, or "" */
	const char *text;   /* see enum luaota_step_kind */
	uint32_t number;    /* port, payload bytes, lcsize or bytes read */
};

/* Everything a boot needs from its platform. */
struct luaota_port {
	struct luaota_flash flash;
	struct luaota_transport transport;
	struct luaota_clock clock;
	struct luaota_crypto crypto;
	struct luaota_compiler compiler;
	/* Optional: called once per step; may be NULL. */
	void (*on_step)(void *ctx, const struct luaota_step *step);
	void *step_ctx;
};

/* How an override's value is written into the config. */
enum luaota_value_kind {
	LUAOTA_VALUE_STRING, /* a string; "nil" becomes false, as in _init */
	LUAOTA_VALUE_NUMBER  /* a JSON number, written as given */
};

/* One key = value set on top of config.json, as the console _init{} does. */
struct luaota_override {
	const char *key;
	const char *value;
	enum luaota_value_kind kind;
};

/* The chip's identity and its console overrides. */
struct luaota_boot_args {
	const char *chip_id; /* node.chipid(): sent as a number if all digits */
	const struct luaota_override *overrides;
	size_t n_overrides;
};

/* What a boot ended with. */
struct luaota_boot_result {
	enum luaota_outcome outcome;
	unsigned commands;		 /* commands served this boot */
	unsigned files_written;		 /* files put in place by dl or cm */
	char app[LUAOTA_NAME_MAX + 1];	 /* config "app", or "luaOTA.default" */
	char entry[LUAOTA_NAME_MAX + 1]; /* config "entry", or "entry" */
};

/* Working memory of one boot: allocate it, the core uses no heap. */
#define LUAOTA_DEVICE_STATE_SIZE 6144
struct luaota_device {
	union {
		unsigned char bytes[LUAOTA_DEVICE_STATE_SIZE];
		long long align_ll;
		double align_d;
		void *align_p;
	} u;
};

/*
 * Runs one boot of the chip described by port and args, using dev as its
 * working memory.  Returns LUAOTA_OK with *result saying what to do next,
 * or an error (the session, if any, is abandoned: staging files removed,
 * files completed earlier in the session kept, config unchanged).
 */
enum luaota_err luaota_boot(struct luaota_device *dev,
			    const struct luaota_port *port,
			    const struct luaota_boot_args *args,
			    struct luaota_boot_result *result);

/* A short, static, English description of err. */
const char *luaota_strerror(enum luaota_err err);

/* A short, static, English description of outcome. */
const char *luaota_outcome_str(enum luaota_outcome outcome);

/*
 * Checks a file name sent by a server: 0 when it may be used, -1 when it
 * is empty, over LUAOTA_NAME_MAX bytes, absolute, has an empty, "." or
 * ".." component, a control character, or names a staging file.
 */
int luaota_name_check(const char *name, size_t len);

/* Flash names the device uses itself. */
#define LUAOTA_CONFIG_FILE "luaOTA/config.json"
#define LUAOTA_STAGE_PREFIX "luaOTA/.~"
#define LUAOTA_STAGE_FILE "luaOTA/.~stage"
#define LUAOTA_STAGE_LC "luaOTA/.~stage.lc"
#define LUAOTA_STAGE_CONFIG "luaOTA/.~config"

#endif /* LUAOTA_H */
