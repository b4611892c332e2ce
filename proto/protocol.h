/*
 * Wire constants of the luaOTA protocol, shared by luaotad and the device
 * client.  Every number comes from the legacy protocol (docs/protocol.md):
 * changing one changes what deployed NodeMCU devices accept.
 */
#ifndef LUAOTA_PROTOCOL_H
#define LUAOTA_PROTOCOL_H

/* Protocol versions negotiated per chip. */
#define LUAOTA_PROTO_LEGACY 1

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

#endif /* LUAOTA_PROTOCOL_H */
