/*
 * "What should this chip hold, and what must it be sent?"
 *
 * plan/ reads a repository (a working tree today; a git ref is a second
 * source behind the same calls), caches file contents by path, validated
 * by stat (size, mtime, inode), so that a check-in with nothing changed
 * reads no file and hashes nothing; applies SAFETRIM; checks that Lua
 * sources compile (cached by content hash); and turns a manifest plus what
 * a chip holds into the steps of an update.  No networking, no SQL.
 */
#ifndef LUAOTA_PLAN_H
#define LUAOTA_PLAN_H

#include <stddef.h>
#include <stdint.h>

#define PLAN_TOKEN_LEN 4 /* characters of a per-file version token */
#define PLAN_CHK_LEN 12	 /* characters of a chk fingerprint */
#define PLAN_HASH_HEX 64 /* SHA-256 in hex */

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

/* How a group wants its manifest built. */
struct plan_spec {
	const char *repo_path; /* directory holding the files */
	const char *repo_ref;  /* NULL: the working tree (the only mode yet) */
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
	char token[PLAN_TOKEN_LEN + 1]; /* short version token from hash */
};

/*
 * A manifest resolved against the repository.  When error is set, the
 * manifest must not be sent at all (a missing file, a compile failure, a
 * file over the size policy): error_file names the culprit.
 */
struct plan_manifest {
	struct plan_file *files;
	size_t nfiles;
	char revision[64]; /* "worktree", or a commit id */
	char *error;	   /* NULL when sendable; else why not */
	char *error_file;  /* the file at fault, or NULL */
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

struct plan_cache;

/* A content cache, shared by every check-in of the process. */
struct plan_cache *plan_cache_new(void);
void plan_cache_free(struct plan_cache *c);

/* Counters for tests and benchmarks: files read and hashed so far. */
uint64_t plan_cache_reads(const struct plan_cache *c);

/*
 * Resolves spec into *out (allocated; free with plan_manifest_free).
 * Returns 0 (check out->error: a manifest can be resolved yet unsendable)
 * or -1 with errno on an internal failure such as ENOMEM.
 */
int plan_manifest_resolve(struct plan_cache *c, const struct plan_spec *spec,
			  struct plan_manifest **out);
void plan_manifest_free(struct plan_manifest *m);

/*
 * The fingerprint a chip holding exactly this manifest, with this config
 * (the JSON text of the overrides the server pushes, or NULL), reports in
 * "chk".  PLAN_CHK_LEN characters plus NUL into out.
 */
void plan_chk(const struct plan_manifest *m, const char *config_json,
	      char out[PLAN_CHK_LEN + 1]);

/*
 * What to send to a chip that holds held[0..nheld) so that it holds m:
 * every manifest file whose token differs or that is not held, and every
 * held file that the manifest dropped.  Returns 0 or -1 (ENOMEM).
 */
int plan_diff(const struct plan_manifest *m, const struct plan_held *held,
	      size_t nheld, struct plan_steps *out);
void plan_steps_free(struct plan_steps *s);

/*
 * SAFETRIM (lexer-aware): removes comments and leading/trailing blanks of
 * every line, keeps every newline and never touches a string literal, so
 * the program and its line numbers are unchanged.  Applies only when src
 * has a line that is exactly "--SAFETRIM"; otherwise copies.  *out is
 * malloc'ed.  Returns 0, or -1 (ENOMEM, or EINVAL for a source the lexer
 * cannot follow: an unfinished string or long bracket).
 */
int plan_safetrim(const char *src, size_t len, char **out, size_t *out_len);

/*
 * Checks that src compiles as Lua (5.1 or 5.3) with chunk name name.
 * Returns 0, or -1 with the compiler's message in err.
 */
int plan_lua_check(const char *src, size_t len, const char *name,
		   int lua_version, char *err, size_t err_len);

#endif /* LUAOTA_PLAN_H */
