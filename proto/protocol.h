/*
 * Wire constants of the luaOTA protocol, shared by luaotad and the device
 * client.  Every number comes from the legacy protocol (docs/protocol.md):
 * changing one changes what deployed NodeMCU devices accept.
 */
#ifndef LUAOTA_PROTOCOL_H
#define LUAOTA_PROTOCOL_H

/* Protocol versions negotiated per chip. */
#define LUAOTA_PROTO_LEGACY 1
#define LUAOTA_PROTO_V2 2

/* Lua versions a chip's firmware runs (sources are compiled for it). */
#define LUAOTA_LUA_51 51 /* ESP8266 NodeMCU; the default */
#define LUAOTA_LUA_53 53
/* The version as firmware and operators write it ("5.1"). */
#define LUAOTA_LUA_NAME(v) ((v) == LUAOTA_LUA_53 ? "5.3" : "5.1")

/* TCP port the device connects to when its config names none. */
#define LUAOTA_DEFAULT_PORT 8266

/* Payload bytes per pu/dl/cm record: what the NodeMCU client expects. */
#define LUAOTA_CHUNK_SIZE 1024

/*
 * A legacy record must arrive in one TCP receive event on the device, so a
 * whole record (JSON + signature + newline + payload) fits one segment.
 */
#define LUAOTA_SEGMENT_MAX 1460

/* The part before '\n' must be at least this long to be a record. */
#define LUAOTA_HEADER_MIN 16

/* Legacy signature: last 3 bytes of HMAC-MD5, as lowercase hex. */
#define LUAOTA_SIG_LEN 6

/* HMAC-MD5 output size in bytes. */
#define LUAOTA_MD5_LEN 16

/* Longest canonical chip id (a 64-bit decimal fits). */
#define LUAOTA_CHIPID_MAX 20

/* luaOTA/config.json as stored on the device: file.read() returns <= 1024. */
#define LUAOTA_CONFIG_MAX 1024

/* SPIFFS object name limit (bytes, without the terminating NUL). */
#define LUAOTA_NAME_MAX 31

/* Device timers: first reply after connect, and the whole-session backstop. */
#define LUAOTA_FIRST_REPLY_MS 3000
#define LUAOTA_SESSION_MS 30000

/* SHA-256 digest size in bytes (also the HMAC-SHA256 output). */
#define LUAOTA_SHA256_LEN 32

/*
 * Protocol v2 (docs/protocol.md part 2).  Changing one of these changes
 * what a v2 device accepts.
 */
#define LUAOTA_V2_TAG_BYTES 16	     /* HMAC-SHA256 truncated to 128 bits */
#define LUAOTA_V2_TAG_LEN 32	     /* ... as lowercase hex on the wire */
#define LUAOTA_V2_NONCE_LEN 16	     /* device and server nonces, bytes */
#define LUAOTA_V2_KEY_LEN 32	     /* per-chip key and derived keys, bytes */
#define LUAOTA_V2_HEADER_MAX 1024    /* JSON + tag of one record */
#define LUAOTA_V2_CHUNK_MAX 8192     /* payload bytes of one record */
#define LUAOTA_V2_WINDOW_MAX 8	     /* "get" records in flight */
#define LUAOTA_V2_MANIFEST_MAX 4096  /* manifest bytes */
#define LUAOTA_V2_FILES_MAX 64	     /* files, or deletions, per manifest */
#define LUAOTA_V2_FILE_MAX 4194304uL /* bytes of one file */
#define LUAOTA_V2_RC_JUMP_MAX 1000uL /* largest release counter increase */
#define LUAOTA_V2_FLASH_RESERVE 8192uL /* kept free: slots, journal */
#define LUAOTA_V2_SESSION_MS 120000    /* whole v2 session */
#define LUAOTA_V2_CHUNK_MS 10000       /* one "get" to its "chunk" */

/* Record directions, the first byte under every v2 tag. */
#define LUAOTA_V2_DIR_DEVICE 'D' /* device to server */
#define LUAOTA_V2_DIR_SERVER 'S' /* server to device */

#endif /* LUAOTA_PROTOCOL_H */
