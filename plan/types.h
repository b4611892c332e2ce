/*
 * The types plan/ hands out and takes in (see plan.h, the umbrella header
 * the daemon and the CLI include).
 */
#ifndef LUAOTA_PLAN_TYPES_H
#define LUAOTA_PLAN_TYPES_H

#include <stddef.h>
#include <stdint.h>

#define PLAN_TOKEN_LEN 4     /* characters of a per-file version token */
#define PLAN_CHK_LEN 12	     /* characters of a chk fingerprint */
#define PLAN_HASH_HEX 64     /* SHA-256 in hex */
#define PLAN_NAME_MAX 31     /* bytes of a file name (SPIFFS keeps 31) */
#define PLAN_REVISION_MAX 64 /* "worktree", a commit id or "dir:...", NUL */
#define PLAN_READ_MAX                                                          \
	(4 << 20) /* a repository file larger than this is refused */

enum plan_action {
	PLAN_AUTO = 0, /* .lua -> PLAN_CM, anything else -> PLAN_DL */
	PLAN_DL = 1,   /* send as is */
	PLAN_CM = 2,   /* send the (trimmed) source; the device compiles it */
};

/* One wanted file: the group's file list, resolved per chip. */
struct plan_want {
	const char *name;
	enum plan_action action;
};

struct plan_snapshot;

/* How a group wants its manifest built. */
struct plan_spec {
	const char *repo_path; /* directory holding the files */
	const char *repo_ref;  /* NULL: the working tree; else a git ref */
	/* non-NULL: the files of this snapshot, not the directory's */
	const struct plan_snapshot *snapshot;
	const struct plan_want *files;
	size_t nfiles;
	int lua_version;       /* 51 or 53 */
	int64_t max_file_size; /* legacy size policy; 0: no limit */
};

/* A file of a resolved manifest.  data stays valid while the manifest does. */
struct plan_file {
	const char *name;
	enum plan_action action; /* never PLAN_AUTO here */
	const uint8_t *data;	 /* bytes to send (SAFETRIM applied) */
	size_t len;
	char hash[PLAN_HASH_HEX + 1];	/* SHA-256 of data */
	char token[PLAN_TOKEN_LEN + 1]; /* from hash and action */
};

/*
 * A manifest resolved against the repository.  When error is set, the
 * manifest must not be sent at all (a missing file, a compile failure, a
 * file over the size policy): error_file names the culprit (NULL when no
 * one file is at fault), and files holds at most those resolved before.
 * Neither text holds a control character (escaped as \xNN).
 */
struct plan_manifest {
	struct plan_file *files;
	size_t nfiles;
	char revision[PLAN_REVISION_MAX]; /* "worktree", or a commit id */
	char *error;			  /* NULL when sendable; else why not */
	char *error_file;		  /* the file at fault, or NULL */
};

/* A file the chip holds (from our records, or the device's own "files"). */
struct plan_held {
	const char *name;
	const char *token;
};

/* What an update must do: indices into manifest->files, and deletions. */
struct plan_steps {
	size_t *send; /* indices into the manifest's files, in order */
	size_t nsend;
	char **remove; /* held names no longer in the manifest */
	size_t nremove;
	uint64_t bytes; /* payload bytes of all sends */
};

#endif /* LUAOTA_PLAN_TYPES_H */
