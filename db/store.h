/*
 * The inventory store: repositories, groups, chips, the state each chip
 * holds, and the update history.  The only code that speaks SQL lives
 * behind this header (store_sqlite.c); no SQLite type appears here, so
 * that another backend can be added later.
 *
 * Conventions: functions return 0 on success, -1 on failure (with a
 * message from store_errmsg()), and STORE_NOTFOUND / STORE_BUSY /
 * STORE_EXISTS / STORE_FULL where the caller must tell those apart.  Strings
 * handed out are owned by the returned struct and freed with its free function.
 * Times are Unix seconds (UTC) unless a name says _ms.
 */
#ifndef LUAOTA_STORE_H
#define LUAOTA_STORE_H

#include <stddef.h>
#include <stdint.h>

#define STORE_NOTFOUND (-2) /* no such row */
#define STORE_BUSY (-3)	    /* the database stayed locked past the timeout */
#define STORE_EXISTS (-4)   /* a row with that key is already there */
#define STORE_INUSE (-5)    /* other rows still refer to this one */
#define STORE_FULL (-6)	    /* disk full or I/O error: may pass later */

struct store;

enum store_open_flags {
	STORE_CREATE = 1 << 0,	 /* create the file and schema if missing */
	STORE_READONLY = 1 << 1, /* open read-only (no migration) */
};

/* Per-file action in a group's manifest. */
enum store_action {
	STORE_ACTION_AUTO = 0, /* .lua -> cm, anything else -> dl */
	STORE_ACTION_DL = 1,
	STORE_ACTION_CM = 2,
};

struct store_repo {
	int64_t id;
	char *name;
	char *path; /* directory: a working tree, or a git repository */
	char *ref;  /* NULL: serve the working tree; else a branch or tag */
};

struct store_group_file {
	char *name; /* name on the device and in the repository */
	enum store_action action;
};

struct store_group {
	int64_t id;
	char *name;
	int64_t repo_id;
	char *repo_name;
	struct store_group_file *files;
	size_t nfiles;
	char *config_json;     /* JSON object of config overrides, or NULL */
	int64_t max_file_size; /* legacy size policy, bytes after SAFETRIM */
	int lua_version;       /* 51 or 53 */
	char *release; /* pinned revision; NULL: follow the repository */
};

struct store_chip {
	char *id;
	char *label;  /* may be NULL */
	char *secret; /* never logged */
	int64_t group_id;
	char *group_name;
	char *config_json; /* per-chip config overrides, or NULL */
	int protocol;	   /* LUAOTA_PROTO_LEGACY, ... */
	int enabled;
	int64_t created;
	int64_t first_seen; /* 0 when never */
	int64_t last_seen;
	char *last_addr;
	char *last_outcome;
	char *chk;	/* the fingerprint the chip holds, per our records */
	char *revision; /* repository revision it holds ("worktree", commit) */
	char *v2_key;	/* protocol v2 key, 64 hex; NULL for legacy chips */
	int v2_seen;	/* completed a v2 session: legacy HI refused */
};

/* One file the chip holds, as we provisioned it. */
struct store_held_file {
	char *name;
	char *token; /* version token (derived from the content hash) */
};

enum store_outcome {
	STORE_OUTCOME_STARTED = 0, /* row opened, session in progress */
	STORE_OUTCOME_CURRENT,	   /* device was up to date: OK! */
	STORE_OUTCOME_UPDATED,	   /* plan completed, restart sent */
	STORE_OUTCOME_PARTIAL,	   /* part sent, restart sent, more next boot */
	STORE_OUTCOME_FAILED,	   /* something went wrong: see reason */
	STORE_OUTCOME_REJECTED,	   /* unknown chip, bad signature, ... */
	STORE_OUTCOME_INTERRUPTED, /* the daemon stopped mid-session */
};

struct store_session {
	int64_t id;
	char *chip_id; /* may be NULL for an unusable HI */
	char *peer;
	int64_t started_ms;
	int64_t ended_ms; /* 0 while open */
	enum store_outcome outcome;
	char *reason; /* may be NULL */
	char *revision;
	int64_t files_sent;
	int64_t bytes_sent;
};

struct store_session_file {
	char *name;
	char *action; /* "dl", "cm", "delete" */
	int64_t bytes;
	char *result;	/* "OK", device error text, ... */
	int64_t lcsize; /* -1 when not compiled */
};

/* Opens (and with STORE_CREATE creates/migrates) the database at path. */
struct store *store_open(const char *path, int flags);

/* Whether path names a PostgreSQL database (postgresql:// or
 * postgres://) rather than an SQLite file. */
int store_path_is_pg(const char *path);

/* path as it may be logged: a URL's password replaced by "***". */
void store_path_redact(const char *path, char *out, size_t len);

/* Closes the store; NULL is fine. */
void store_close(struct store *st);

/*
 * The last error message of this store (owned by it, never NULL); with
 * st NULL, why the last store_open() of this thread failed.
 */
const char *store_errmsg(const struct store *st);

/* How long a call waits for a lock held by another process. */
void store_set_busy_timeout(struct store *st, int ms);

/* The schema version (PRAGMA user_version) the file is at. */
int store_schema_version(struct store *st);

/* The schema version this build creates and migrates to. */
int store_schema_latest(void);

/*
 * Checks the file's structure (PRAGMA quick_check); 0 when sound, -1 with
 * the first problem in store_errmsg().  Never repairs anything.
 */
int store_check(struct store *st);

/* Repositories. */
int store_repo_add(struct store *st, const char *name, const char *path,
		   const char *ref);
int store_repo_get(struct store *st, const char *name, struct store_repo *out);
int store_repo_get_id(struct store *st, int64_t id, struct store_repo *out);
/* The first repository serving path at ref (NULL: the working tree). */
int store_repo_find(struct store *st, const char *path, const char *ref,
		    struct store_repo *out);
void store_repo_free(struct store_repo *r);

/*
 * Groups: the repository, named by repo_name or else by repo_id, must
 * exist (STORE_NOTFOUND otherwise).
 */
int store_group_add(struct store *st, const struct store_group *g);
int store_group_get(struct store *st, const char *name,
		    struct store_group *out);
int store_group_get_id(struct store *st, int64_t id, struct store_group *out);
void store_group_free(struct store_group *g);

/* Chips: the group must exist (STORE_NOTFOUND otherwise). */
int store_chip_add(struct store *st, const char *id, const char *group,
		   const char *secret, const char *label);
/* A protocol v2 chip: v2_key is 64 hex digits; secret stays the legacy
 * one, for provisioning the v2 firmware over the legacy protocol. */
int store_chip_add_v2(struct store *st, const char *id, const char *group,
		      const char *secret, const char *label,
		      const char *v2_key);
/* Notes that a v2 chip completed a v2 session (downgrade protection). */
int store_chip_v2_seen(struct store *st, const char *id);

/* A protocol v2 release issued to one chip (docs/protocol.md 2.6). */
struct store_v2_release {
	int64_t rc;	/* release counter, 1 .. 2^32 - 1 */
	char mh[65];	/* SHA-256 of the manifest, hex */
	char *manifest; /* the canonical manifest, as sent */
	int64_t issued; /* seconds since the epoch */
};

/* The chip's newest release: 0, STORE_NOTFOUND (none yet), or -1. */
int store_v2_release_latest(struct store *st, const char *chip_id,
			    struct store_v2_release *out);

/*
 * Records a release before it is sent: a counter is never reused for
 * other bytes.  STORE_EXISTS when the chip already has release r->rc.
 */
int store_v2_release_add(struct store *st, const char *chip_id,
			 const struct store_v2_release *r);
void store_v2_release_free(struct store_v2_release *r);
int store_chip_get(struct store *st, const char *id, struct store_chip *out);
void store_chip_free(struct store_chip *c);

/*
 * A number that changes whenever another connection (luaotactl, another
 * process) commits a change to the database; this store's own writes
 * leave it as is.  Equal numbers: nothing others wrote since.
 */
int store_data_version(struct store *st, uint64_t *version);

/*
 * store_chip_get and store_data_version in one read snapshot: *version
 * is the data version the row was read at (set for STORE_NOTFOUND too).
 */
int store_chip_get_at(struct store *st, const char *id, struct store_chip *out,
		      uint64_t *version);

/*
 * Calls fn for every chip, ordered by id, in one read snapshot (fn may
 * read the store, not write it); stops early when fn returns non-zero and
 * then returns that value.
 */
int store_chip_foreach(struct store *st,
		       int (*fn)(const struct store_chip *, void *), void *arg);

/* Notes a check-in: last_seen/first_seen, last address. */
int store_chip_seen(struct store *st, const char *id, const char *addr,
		    int64_t now);

/* Files the chip holds per our records (array freed with ..._free). */
int store_held_get(struct store *st, const char *id,
		   struct store_held_file **out, size_t *n);
void store_held_free(struct store_held_file *files, size_t n);

/*
 * Replaces, in one transaction, what the chip holds: its file list, chk
 * and revision (the outcome follows with store_session_end).  Called just
 * before restart is sent.
 */
int store_held_set(struct store *st, const char *id, const char *chk,
		   const char *revision, const struct store_held_file *files,
		   size_t n);

/* History: opens a row as STARTED, returns its id in *session_id. */
int store_session_begin(struct store *st, const char *chip_id, const char *peer,
			int64_t started_ms, int64_t *session_id);

/* Adds one per-file row under a session. */
int store_session_file(struct store *st, int64_t session_id,
		       const struct store_session_file *f);

/*
 * Closes a session row with its outcome, and (when chip_id is known)
 * copies the outcome into the chip's last_outcome.
 */
int store_session_end(struct store *st, int64_t session_id,
		      enum store_outcome outcome, const char *reason,
		      const char *revision, int64_t files_sent,
		      int64_t bytes_sent, int64_t ended_ms);

/* A check-in answered OK! (nothing provisioned), for batch recording. */
struct store_checkin {
	const char *chip_id;
	const char *peer;     /* "address:port" */
	const char *addr;     /* address only, as store_chip_seen() takes it */
	const char *revision; /* may be NULL */
	int64_t started_ms;
	int64_t ended_ms;
};

/*
 * Records n check-ins that ended "current" in one transaction: for each,
 * what store_chip_seen() notes (at ended_ms), a closed history row and
 * the chip's last outcome.  All or nothing.
 */
int store_checkins_current(struct store *st, const struct store_checkin *rows,
			   size_t n);

/* A whole session as the daemon keeps it while the store is unavailable. */
struct store_session_record {
	int64_t id;	       /* its row, when one was opened; else 0 */
	const char *chip_id;   /* may be NULL */
	const char *peer;      /* "address:port" */
	const char *seen_addr; /* non-NULL: also note the check-in, */
	int64_t seen_s;	       /* ...at this time (store_chip_seen) */
	int64_t started_ms;
	int64_t ended_ms;
	enum store_outcome outcome; /* not STARTED */
	const char *reason;	    /* may be NULL */
	const char *revision;	    /* may be NULL */
	int64_t files_sent;
	int64_t bytes_sent;
	const struct store_session_file *files; /* per-file rows to add */
	size_t nfiles;
};

/*
 * Writes r in one transaction, at most once: the row r->id (or, when 0,
 * an open row of the same chip, peer and started_ms) is completed while
 * it is still open (started or interrupted); an ended row equal to r
 * (outcome, reason, end too) means r is already written; otherwise a row
 * is created.  Per-file rows the schema refuses are
 * skipped and counted in *skipped.  *written (may be NULL) says whether
 * anything was written.  A replay of the same record is thus harmless.
 */
int store_session_record(struct store *st, const struct store_session_record *r,
			 int *written, size_t *skipped);

/*
 * Marks STARTED rows INTERRUPTED (at daemon start-up); count out.  On an
 * SQLite file, every one (one daemon per file); on a shared PostgreSQL
 * inventory, those this daemon's owner opened, and those older than any
 * session may last (a daemon that never came back); the rollout slots
 * its owner held are given back too.
 */
int store_sessions_interrupt(struct store *st, int64_t now_ms, int *count);

/*
 * Names the daemon that writes through st ("host:spool"): the history
 * rows it opens carry it, for store_sessions_interrupt.
 */
int store_set_owner(struct store *st, const char *owner);

/*
 * Claims the rejection window (addr, reason) starting at window_start_ms
 * for this daemon, and forgets windows that ended long before: *first 1
 * when no daemon had claimed it (its rejection gets a history row), 0
 * when another had.
 */
/*
 * Takes one of rollout_id's update slots when fewer than max are held
 * (slots taken before stale_before_ms do not count): 0 with *slot its row
 * (0: all taken).  Serialised in the database, so that every daemon of a
 * shared inventory counts against one max-inflight.
 */
int store_rollout_slot_take(struct store *st, int64_t rollout_id, int64_t max,
			    int64_t now_ms, int64_t stale_before_ms,
			    int64_t *slot);

/* Gives back a slot store_rollout_slot_take gave. */
int store_rollout_slot_release(struct store *st, int64_t slot);

int store_rejection_first(struct store *st, const char *addr,
			  const char *reason, int64_t window_start_ms,
			  int64_t forget_before_ms, int *first);

/* Lists sessions newest first (chip_id NULL: all), at most limit rows. */
int store_session_list(struct store *st, const char *chip_id, int limit,
		       struct store_session **out, size_t *n);
void store_session_list_free(struct store_session *s, size_t n);

/* The per-file rows of one session. */
int store_session_files(struct store *st, int64_t session_id,
			struct store_session_file **out, size_t *n);
void store_session_files_free(struct store_session_file *f, size_t n);

/* Groups, in name order (free with store_group_list_free). */
int store_group_list(struct store *st, struct store_group **out, size_t *n);
void store_group_list_free(struct store_group *g, size_t n);

/*
 * Replaces the settings and file list of the group g->name with g's
 * (repository by repo_name, else repo_id); STORE_NOTFOUND when either
 * is missing.
 */
int store_group_update(struct store *st, const struct store_group *g);

/* How many chips belong to the group. */
int store_group_chips(struct store *st, int64_t group_id, int64_t *count);

/* Removes a group; STORE_INUSE while chips belong to it. */
int store_group_remove(struct store *st, const char *name);

/* Repositories, in name order (free with store_repo_list_free). */
int store_repo_list(struct store *st, struct store_repo **out, size_t *n);
void store_repo_list_free(struct store_repo *r, size_t n);

/* Removes a chip and what it holds; its history stays. */
int store_chip_remove(struct store *st, const char *id);

/*
 * Writes c's label, group (by group_name when set, else group_id),
 * enabled and config_json to chip c->id; STORE_NOTFOUND for either.
 */
int store_chip_update(struct store *st, const struct store_chip *c);

/*
 * Forgets the chk the chip holds, so that the daemon trusts nothing it
 * reports: its next check-in resends every file (held files stay, so
 * files the manifest dropped are still deleted).
 */
int store_chip_reprovision(struct store *st, const char *id);

/* One history row by id (free with store_session_free). */
int store_session_get(struct store *st, int64_t id, struct store_session *out);
void store_session_free(struct store_session *s);

/* What store_session_query selects. */
struct store_session_filter {
	const char *chip_id; /* NULL: every chip */
	int64_t since_ms;    /* started at or after */
	int failed_only;     /* failed, rejected or interrupted */
	int limit;	     /* at most; 0: all */
	int64_t before_id;   /* > 0: only rows listed after this one (paging) */
};

/* Sessions matching f, newest first (free with store_session_list_free). */
int store_session_query(struct store *st, const struct store_session_filter *f,
			struct store_session **out, size_t *n);

/* PRAGMA integrity_check's lines into *report ("ok\n" when sound). */
int store_integrity_check(struct store *st, char **report);

/* Copies the database to path as one consistent snapshot (online). */
int store_backup(struct store *st, const char *path);

/* A file the operator asked to read back from a chip. */
struct store_pull {
	int64_t id;
	char *chip_id;
	char *name;
	int64_t requested; /* Unix seconds */
	char *state;	   /* "pending", "done", "missing", "failed" */
	int64_t done;	   /* when it finished; 0 while pending */
	int64_t size;	   /* bytes fetched; -1 when none */
	char *reason;	   /* why it failed, or NULL */
	uint8_t *data;	   /* the bytes (store_pull_get only), or NULL */
	size_t data_len;
};

/* Queues a pull of name from chip_id; its id in *id. */
int store_pull_add(struct store *st, const char *chip_id, const char *name,
		   int64_t now, int64_t *id);

/* The chip's pending pulls, oldest first, without data. */
int store_pull_pending(struct store *st, const char *chip_id,
		       struct store_pull **out, size_t *n);

/* Whether any chip has a pending pull (*any 1 or 0). */
int store_pull_any_pending(struct store *st, int *any);

/* Pulls newest first (chip_id NULL: every chip), without data. */
int store_pull_list(struct store *st, const char *chip_id,
		    struct store_pull **out, size_t *n);

/* One pull with its data (free with store_pull_free). */
int store_pull_get(struct store *st, int64_t id, struct store_pull *out);

/*
 * Finishes a pending pull as state ("done" with data, "missing",
 * "failed" with reason); STORE_NOTFOUND when it is not pending.
 */
int store_pull_finish(struct store *st, int64_t id, const char *state,
		      const uint8_t *data, size_t len, const char *reason,
		      int64_t now);

void store_pull_free(struct store_pull *p);
void store_pull_list_free(struct store_pull *p, size_t n);

/*
 * Pins group name to revision (a commit id, or a snapshot's digest), or
 * with NULL lets it follow its repository again.  store_group_update
 * leaves the pin as it is.
 */
int store_group_set_release(struct store *st, const char *name,
			    const char *revision);

/* The ids of the group's chips, ordered (free with store_ids_free). */
int store_group_chip_ids(struct store *st, int64_t group_id, char ***ids,
			 size_t *n);
void store_ids_free(char **ids, size_t n);

/* One file of a directory snapshot: the bytes as the repository had them. */
struct store_snapshot_file {
	char *name;
	uint8_t *data;
	size_t len;
};

/*
 * Keeps the files of group_id's directory at revision; a revision already
 * kept stays as it is (its digest names its bytes).
 */
int store_snapshot_add(struct store *st, int64_t group_id, const char *revision,
		       const struct store_snapshot_file *files, size_t n);

/* The files kept for revision, in order; STORE_NOTFOUND when none are. */
int store_snapshot_get(struct store *st, int64_t group_id, const char *revision,
		       struct store_snapshot_file **files, size_t *n);
void store_snapshot_free(struct store_snapshot_file *files, size_t n);

enum store_rollout_state {
	STORE_ROLLOUT_RUNNING = 0, /* waves advance as they prove healthy */
	STORE_ROLLOUT_PAUSED,	   /* served as is, no wave advances */
	STORE_ROLLOUT_HALTED,	   /* over the failure threshold: reverted */
	STORE_ROLLOUT_ABORTED,	   /* stopped by the operator: reverted */
	STORE_ROLLOUT_DONE,	   /* every wave healthy: the group's release */
};

/* A staged rollout (see migration5_rollouts.sql for the columns). */
struct store_rollout {
	int64_t id;
	int64_t group_id;
	char *group_name;
	char *from_revision;
	char *to_revision;
	enum store_rollout_state state;
	char *plan;  /* the waves as the operator gave them, for display */
	char *waves; /* the waves' position bounds (policy/rollout.h) */
	int wave;    /* the wave being served */
	int64_t max_failures;
	int max_failures_pct;  /* max_failures is a percentage */
	int64_t max_inflight;  /* concurrent update sessions; 0: no limit */
	int64_t soak;	       /* seconds a chip and a wave must stay healthy */
	int64_t deadline;      /* seconds an updated chip has to come back */
	int64_t loop_checkins; /* this many check-ins ... */
	int64_t loop_window;   /* ...within this many seconds: a reboot loop */
	int64_t started_ms;
	int64_t wave_started_ms;
	int64_t ended_ms; /* 0 while running or paused */
	char *reason;	  /* why it halted or was aborted, or NULL */
};

/*
 * Computes a new rollout's waves once its id is known, inside the
 * transaction that adds it (st may be read): 0 with *waves malloc'ed,
 * or -1.
 */
typedef int (*store_rollout_waves_fn)(struct store *st, int64_t id, void *arg,
				      char **waves);

/*
 * Starts r (state running, wave 0, r->waves from waves_fn) and pins its
 * group to r->from_revision, in one transaction; its id in *id.
 * STORE_EXISTS while another rollout of the group is running or paused.
 */
int store_rollout_add(struct store *st, const struct store_rollout *r,
		      store_rollout_waves_fn waves_fn, void *arg, int64_t *id);

int store_rollout_get(struct store *st, int64_t id, struct store_rollout *out);

/* The group's running or paused rollout; STORE_NOTFOUND when none is. */
int store_rollout_active(struct store *st, int64_t group_id,
			 struct store_rollout *out);

/* Every running or paused rollout, oldest first. */
int store_rollout_list_active(struct store *st, struct store_rollout **out,
			      size_t *n);

/* Rollouts newest first (group_id 0: of every group). */
int store_rollout_list(struct store *st, int64_t group_id,
		       struct store_rollout **out, size_t *n);

/*
 * Moves rollout id from state `from` at wave `wave` to state `to` at wave
 * new_wave (wave_started_ms now_ms when the wave changes), with reason;
 * ending it (halted, aborted, done) stamps ended_ms and pins the group to
 * to_revision when done, from_revision otherwise: in one transaction.
 * STORE_NOTFOUND when the rollout is no longer in that state and wave
 * (another process moved it first).
 */
int store_rollout_move(struct store *st, int64_t id,
		       enum store_rollout_state from, int wave,
		       enum store_rollout_state to, int new_wave,
		       const char *reason, int64_t now_ms);

void store_rollout_free(struct store_rollout *r);
void store_rollout_list_free(struct store_rollout *r, size_t n);

/* State names as stored and printed ("running", "halted", ...). */
const char *store_rollout_state_name(enum store_rollout_state s);

/*
 * The sessions of group_id's chips that started at or after since_ms,
 * oldest first (free with store_session_list_free).
 */
int store_group_sessions_since(struct store *st, int64_t group_id,
			       int64_t since_ms, struct store_session **out,
			       size_t *n);

/* The same, only those with an id above after_id, in id order. */
int store_group_sessions_after(struct store *st, int64_t group_id,
			       int64_t since_ms, int64_t after_id,
			       struct store_session **out, size_t *n);

/* One chip's sessions that started at or after since_ms, oldest first. */
int store_chip_sessions_since(struct store *st, const char *chip_id,
			      int64_t since_ms, struct store_session **out,
			      size_t *n);

/* Outcome names as stored and printed ("current", "updated", ...). */
const char *store_outcome_name(enum store_outcome o);

/*
 * How many chips have each last outcome: fn(outcome, count, arg) per
 * outcome, "never" for chips not seen yet.  Stops at fn's nonzero.
 */
int store_chip_outcome_counts(struct store *st,
			      int (*fn)(const char *outcome, int64_t count,
					void *arg),
			      void *arg);

/* API tokens for luaotad's HTTP listener; only their SHA-256 is kept. */
enum store_token_scope {
	STORE_TOKEN_READ = 0, /* may look */
	STORE_TOKEN_WRITE,    /* may also change the inventory */
};

struct store_token {
	int64_t id;
	char *name;
	enum store_token_scope scope;
	int64_t created;
	int64_t last_used; /* 0: never */
};

/* Adds a token by the hex SHA-256 of its secret (STORE_EXISTS: the name). */
int store_token_add(struct store *st, const char *name, const char *hash,
		    enum store_token_scope scope, int64_t created);

/* The token whose secret hashes to hash: 0, STORE_NOTFOUND, or -1. */
int store_token_find(struct store *st, const char *hash,
		     struct store_token *out);

/* Notes a token's use (Unix seconds). */
int store_token_used(struct store *st, int64_t id, int64_t when);

/* Every token, by name (free with store_token_list_free). */
int store_token_list(struct store *st, struct store_token **out, size_t *n);

/* Removes a token by name: 0, STORE_NOTFOUND, or -1. */
int store_token_remove(struct store *st, const char *name);

const char *store_token_scope_name(enum store_token_scope s);
void store_token_free(struct store_token *t);
void store_token_list_free(struct store_token *t, size_t n);

#endif /* LUAOTA_STORE_H */
