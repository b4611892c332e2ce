/*
 * A git ref: resolved to a commit at every open (a moved ref is seen at
 * the next check-in), files read from that commit's tree through libgit2.
 * A stamp is the blob id, so the content cache keeps a file's content for
 * as long as its blob stays the same, across commits.  The source key
 * names the repository and ref, not the commit, for that reason; the
 * manifest memo adds the revision.
 */
#include "source_git.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <git2.h>

#include "cache.h"

struct gitsrc {
	struct plan_source src; /* first: the ops get a struct plan_source * */
	git_repository *repo;
	int borrowed; /* repo is the one the cache keeps */
	git_tree *tree;
};

/* libgit2's message for the last failure, never NULL. */
static const char *git_message(void)
{
	const git_error *e = git_error_last();

	return e != NULL && e->message != NULL ? e->message : "unknown error";
}

/* The tree entry of name, a regular file; -1 with err otherwise. */
static int file_entry(struct gitsrc *g, const char *name, git_tree_entry **out,
		      char *err, size_t err_len)
{
	git_filemode_t mode;

	if (git_tree_entry_bypath(out, g->tree, name) != 0) {
		snprintf(err, err_len, "%s: not in commit %.12s", name,
			 g->src.revision);
		errno = ENOENT;
		return -1;
	}
	mode = git_tree_entry_filemode(*out);
	if (mode != GIT_FILEMODE_BLOB && mode != GIT_FILEMODE_BLOB_EXECUTABLE) {
		git_tree_entry_free(*out);
		*out = NULL;
		snprintf(err, err_len, "%s: not a regular file", name);
		errno = EINVAL;
		return -1;
	}
	return 0;
}

static void stamp_of(const git_tree_entry *e, struct plan_stamp *out)
{
	const git_oid *oid = git_tree_entry_id(e);

	memset(out, 0, sizeof(*out));
	memcpy(out->v, oid->id,
	       sizeof(oid->id) < sizeof(out->v) ? sizeof(oid->id)
						: sizeof(out->v));
}

static int git_stamp(struct plan_source *src, const char *name,
		     struct plan_stamp *out, char *err, size_t err_len)
{
	git_tree_entry *e;

	if (file_entry((struct gitsrc *)src, name, &e, err, err_len) != 0)
		return -1;
	stamp_of(e, out);
	git_tree_entry_free(e);
	return 0;
}

static int git_read(struct plan_source *src, const char *name, uint8_t **data,
		    size_t *len, struct plan_stamp *stamp, int *stable,
		    char *err, size_t err_len)
{
	struct gitsrc *g = (struct gitsrc *)src;
	git_tree_entry *e = NULL;
	git_blob *blob = NULL;
	git_object_size_t size;

	*data = NULL;
	if (file_entry(g, name, &e, err, err_len) != 0)
		return -1;
	if (git_blob_lookup(&blob, g->repo, git_tree_entry_id(e)) != 0) {
		snprintf(err, err_len, "%s: %s", name, git_message());
		errno = EIO;
		goto fail;
	}
	size = git_blob_rawsize(blob);
	if (size > PLAN_READ_MAX) {
		snprintf(err, err_len, "%s: larger than %d bytes", name,
			 PLAN_READ_MAX);
		errno = EFBIG;
		goto fail;
	}
	if ((*data = malloc((size_t)size + 1)) == NULL) {
		snprintf(err, err_len, "out of memory");
		errno = ENOMEM;
		goto fail;
	}
	memcpy(*data, git_blob_rawcontent(blob), (size_t)size);
	*len = (size_t)size;
	stamp_of(e, stamp);
	*stable = 1; /* a blob id names its bytes for good */
	git_blob_free(blob);
	git_tree_entry_free(e);
	return 0;
fail:
	git_blob_free(blob);
	git_tree_entry_free(e);
	return -1;
}

static void git_close(struct plan_source *src)
{
	struct gitsrc *g = (struct gitsrc *)src;

	git_tree_free(g->tree);
	if (!g->borrowed)
		git_repository_free(g->repo);
	free(g->src.key);
	free(g);
	git_libgit2_shutdown();
}

void plan_source_git_hold(void)
{
	git_libgit2_init();
}

void plan_source_git_release(void)
{
	git_libgit2_shutdown();
}

static const struct plan_source_ops git_ops = {
	.stamp = git_stamp,
	.read = git_read,
	.close = git_close,
};

static void release_repo(void *repo)
{
	git_repository_free(repo);
}

/*
 * The repository at path: the one c keeps (*borrowed set), else opened
 * now and kept in c when possible; NULL with why in err.  Kept open, a
 * repository still sees moved refs and new objects: libgit2 reads loose
 * refs at each lookup and rescans its packs when an object is missing.
 */
static git_repository *repo_open(struct plan_cache *c, const char *path,
				 int *borrowed, char *err, size_t err_len)
{
	git_repository *repo = NULL;
	size_t keylen = strlen("repository:") + strlen(path) + 1;
	char *key = malloc(keylen);

	*borrowed = 0;
	if (key == NULL) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	snprintf(key, keylen, "repository:%s", path);
	if (c != NULL && (repo = plan_cache_kept(c, key, keylen)) != NULL) {
		*borrowed = 1;
		goto done;
	}
	if (git_repository_open_ext(&repo, path, GIT_REPOSITORY_OPEN_NO_SEARCH,
				    NULL) != 0) {
		snprintf(err, err_len, "%s: not a git repository: %s", path,
			 git_message());
		repo = NULL;
		goto done;
	}
	*borrowed = c != NULL &&
		    plan_cache_keep(c, key, keylen, repo, release_repo) == 0;
done:
	free(key);
	return repo;
}

/* The commit ref names now; -1 with why in err. */
static int ref_commit(git_repository *repo, const char *path, const char *ref,
		      git_object **commit, char *err, size_t err_len)
{
	git_object *obj = NULL;
	int rc = 0;

	*commit = NULL;
	if (git_revparse_single(&obj, repo, ref) != 0 ||
	    git_object_peel(commit, obj, GIT_OBJECT_COMMIT) != 0) {
		snprintf(err, err_len, "%s: ref %s: %s", path, ref,
			 git_message());
		rc = -1;
	}
	git_object_free(obj);
	return rc;
}

int plan_source_git_revision(struct plan_cache *c, const char *path,
			     const char *ref, char out[PLAN_REVISION_MAX],
			     char *err, size_t err_len)
{
	git_repository *repo;
	git_object *commit = NULL;
	int borrowed, rc = -1;

	git_libgit2_init();
	repo = repo_open(c, path, &borrowed, err, err_len);
	if (repo != NULL &&
	    ref_commit(repo, path, ref, &commit, err, err_len) == 0) {
		git_oid_tostr(out, PLAN_REVISION_MAX, git_object_id(commit));
		rc = 0;
	}
	git_object_free(commit);
	if (!borrowed)
		git_repository_free(repo);
	git_libgit2_shutdown();
	return rc;
}

int plan_source_git_open(struct plan_cache *c, const char *path,
			 const char *ref, struct plan_source **out, char *err,
			 size_t err_len)
{
	struct gitsrc *g;
	git_object *commit = NULL;
	size_t keylen = strlen("git:") + strlen(path) + strlen(ref) + 2;

	*out = NULL;
	if ((g = calloc(1, sizeof(*g))) == NULL ||
	    (g->src.key = malloc(keylen)) == NULL) {
		free(g);
		snprintf(err, err_len, "out of memory");
		errno = ENOMEM;
		return -1;
	}
	git_libgit2_init();
	g->src.ops = &git_ops;
	snprintf(g->src.key, keylen, "git:%s#%s", path, ref);
	g->repo = repo_open(c, path, &g->borrowed, err, err_len);
	if (g->repo == NULL ||
	    ref_commit(g->repo, path, ref, &commit, err, err_len) != 0)
		goto fail;
	if (git_commit_tree(&g->tree, (git_commit *)commit) != 0) {
		snprintf(err, err_len, "%s: ref %s: %s", path, ref,
			 git_message());
		goto fail;
	}
	git_oid_tostr(g->src.revision, sizeof(g->src.revision),
		      git_object_id(commit));
	git_object_free(commit);
	*out = &g->src;
	return 0;
fail:
	git_object_free(commit);
	git_close(&g->src);
	errno = ENOENT;
	return -1;
}
