/*
 * One connection from a device: its buffers, timers, the state of the
 * dialogue, and a single teardown path.  Protocol versions are modules
 * (legacy.c, v2.c) behind one table, struct session_protocol, that the
 * session calls with each complete record.
 */
#ifndef LUAOTAD_SESSION_H
#define LUAOTAD_SESSION_H

#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include "db/store.h"
#include "limits.h"
#include "log.h"
#include "plan/types.h"
#include "proto/frame.h"
#include "proto/protocol.h"

struct daemon;
struct bufferevent;
struct event;
struct json_object;
struct history_record;
struct luaota_record;
struct session;

enum session_state {
	SESSION_HELLO,	/* waiting for the device's first record */
	SESSION_REPLY,	/* a command is out: waiting for its reply */
	SESSION_FLUSH,	/* last record queued: close once it is sent */
	SESSION_CLOSED, /* torn down (never observed by callbacks) */
};

/* A protocol version, as the session layer drives it. */
struct session_protocol {
	const char *name; /* for logs */
	int version;	  /* LUAOTA_PROTO_* */
	/* Whether a first line (without its newline) opens this protocol. */
	int (*claims)(const uint8_t *line, size_t len);
	/* Sets s up for the protocol once its first line chose it; NULL:
	 * nothing to do. */
	void (*start)(struct session *s);
	/* The first record, then every record after it: 0, or -1 once the
	 * module closed s. */
	int (*hello)(struct session *s, const struct luaota_record *rec,
		     struct json_object *obj);
	int (*record)(struct session *s, const struct luaota_record *rec,
		      struct json_object *obj);
	/* Output bytes beyond which reading pauses until the device has
	 * read them; NULL or 0: no limit. */
	size_t (*output_limit)(const struct session *s);
	/* Frees the module's state of a session (s->run; NULL is fine). */
	void (*run_free)(void *run);
};

struct session {
	TAILQ_ENTRY(session) entry;
	struct daemon *daemon;
	struct bufferevent *bev;
	struct event *deadline; /* absolute end of the connection */
	enum session_state state;
	char peer[LUAOTAD_PEER_MAX]; /* "address:port" for logs and history */
	char addr[LUAOTAD_ADDR_MAX]; /* address only, for per-address caps */
	char chip_id[LUAOTA_CHIPID_MAX + 1]; /* empty until known */
	int64_t history_id;		     /* history row, 0 until opened */
	int64_t accepted_ms;		     /* monotonic */
	int64_t answered_ms; /* monotonic, the first record out; 0: none */
	struct luaota_framer framer;
	int64_t raw_payload;	/* >= 0: next reply carries this many bytes
				   without a "data" field (ul) */
	struct store_chip chip; /* loaded once the HI verified */
	int chip_loaded;
	const struct session_protocol *proto; /* NULL until the first line */
	void *run;	 /* the protocol module's state (legacy_run, v2_run) */
	int output_full; /* v2: requests wait for the output */
	enum store_outcome outcome; /* what the history will say */
	char *reason;		    /* why, for failures and rejections */
	char revision[PLAN_REVISION_MAX];
	int64_t files_sent;
	int64_t bytes_sent;
	int64_t started_wall_ms; /* when the HI verified, for the history */
	struct history_record *deferred; /* rows the store has not taken yet */
	int reading;	      /* in on_read, which closes a flushed session */
	int64_t rollout_slot; /* rollout whose update slot s holds; 0: none */
	int64_t rollout_slot_row; /* its row on a shared inventory; 0: none */
	char rollout_note[256];	  /* the reason an update of it records */
};

/* Takes over an accepted socket; returns NULL (socket closed) on failure. */
struct session *session_new(struct daemon *d, int fd, const struct sockaddr *sa,
			    socklen_t salen);

/* Moves s to a new state, logging old -> new at debug level. */
void session_set_state(struct session *s, enum session_state next);

/*
 * Signs json with the chip's secret, appends the payload and queues the
 * record.  Returns 0, or -1 (the record could not be built: a bug).
 */
int session_send(struct session *s, const char *json, const uint8_t *payload,
		 size_t payload_len);

/* Sets the outcome and reason the history row will get. */
void session_set_outcome(struct session *s, enum store_outcome outcome,
			 const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The log fields of s. */
struct log_fields session_fields(const struct session *s);

/* Closes s as rejected (unknown chip, bad signature, ...); returns -1. */
int session_reject(struct session *s, const char *why);

/*
 * Loads the chip s->chip_id names into s->chip, with the inventory's data
 * version.  0, or -1 once s was closed: rejected for an unknown chip,
 * failed when the inventory cannot be read (the device then starts its
 * application unchanged).
 */
int session_load_chip(struct session *s, uint64_t *version);

/* Opens the history row (idempotent); 0, or -1 when the store failed. */
int session_open_history(struct session *s);

/* Records one file's outcome now, or with the session's row later. */
void session_file_row(struct session *s, const struct store_session_file *row);

/* Notes the chip's check-in (last_seen), now or with the history row. */
void session_chip_seen(struct session *s);

/*
 * The one teardown path: finishes the history row with the outcome set
 * so far, logs reason, frees everything and closes the socket.
 */
void session_close(struct session *s, const char *reason);

/* Closes every session (daemon exit). */
void session_close_all(struct daemon *d, const char *reason);

#endif /* LUAOTAD_SESSION_H */
