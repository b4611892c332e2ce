/* The daemon's shared state: one per process, owned by main.c. */
#ifndef LUAOTAD_DAEMON_H
#define LUAOTAD_DAEMON_H

#include <stdint.h>
#include <sys/queue.h>

#include "conf/config.h"
#include "history.h"
#include "limits.h"
#include "metrics.h"

struct event_base;
struct evconnlistener;
struct store;
struct plan_cache;
struct session;
struct checkins;
struct decisions;
struct event;
struct spool;
struct rejects;
struct rollouts;
struct http_api;

/* Live counters, reported in STATUS= and the log. */
struct daemon_stats {
	uint64_t open;	   /* sessions open now */
	uint64_t checkins; /* HIs that verified */
	uint64_t current;  /* answered OK! */
	uint64_t updates;  /* sessions that sent restart */
	uint64_t failures; /* sessions that failed after verifying */
	uint64_t rejected; /* unknown chip, bad signature, malformed */
	uint64_t refused;  /* connections refused at a cap */
};

struct daemon {
	struct event_base *base;
	struct config conf;
	const char *conf_path;
	int conf_missing_ok;
	struct store *store;
	struct plan_cache *cache;
	struct decisions *decisions; /* per group, between check-ins */
	struct rollouts *rollouts;   /* under way; NULL: none are served */
	struct checkins *checkins;   /* batched rows of current check-ins */
	struct evconnlistener *listeners[LUAOTAD_MAX_LISTEN];
	int nlisteners;
	TAILQ_HEAD(, session) sessions;
	struct daemon_stats stats;
	struct metrics metrics; /* what GET /metrics reports */
	struct http_api *http;	/* NULL: no HTTP listener */
	int http_inherited_fd;	/* systemd's "http" socket; -1: none */
	int draining; /* SIGTERM seen: no new sessions, exit when idle */
	int verbose;  /* -v: debug lines, kept across reloads */
	TAILQ_HEAD(, history_record) history; /* rows waiting for the store */
	size_t history_queued;
	struct event *history_timer;
	struct spool *spool;	 /* copies of queued rows; NULL: none */
	size_t history_begun;	 /* open sessions whose start is spooled */
	size_t history_unqueued; /* rows in the spool only (over the limits) */
	int64_t spool_at;	 /* where replaying the spool goes on */
	int64_t spool_dead_end;	 /* lines before it: from a stopped daemon */
	struct rejects *rejects; /* summaries of rejections; NULL: none */
	/* Told by the session layer (either may be NULL): */
	void (*status_changed)(struct daemon *d); /* counters changed */
	void (*session_gone)(struct daemon *d);	  /* a session ended */
};

/* Milliseconds of CLOCK_MONOTONIC, for deadlines and durations. */
int64_t daemon_now_ms(void);

/* Milliseconds since the epoch (UTC), for the history. */
int64_t daemon_wall_ms(void);

#endif /* LUAOTAD_DAEMON_H */
