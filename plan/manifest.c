/*
 * Resolving a spec into a manifest: see manifest.h.  Every file is looked
 * up in the content cache (one stat when unchanged); when every content
 * is the one the memoised manifest of the same spec holds, that manifest
 * is handed out again, so an unchanged check-in builds nothing and
 * compiles nothing.  Manifests are reference-counted for that sharing.
 */
#include "manifest.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "content.h"
#include "digest.h"
#include "luacheck.h"
#include "source.h"
#include "proto/protocol.h"

#define ERROR_MAX 512

struct manifest {
	struct plan_manifest pub; /* first: callers hold &pub */
	unsigned refs;
	struct plan_content **contents; /* one reference per file */
	size_t ncontents;
	uint8_t files_digest[PLAN_DIGEST_LEN]; /* sorted (name, action, hash) */
	int chk_valid;			       /* chk below is for chk_config */
	char *chk_config;		       /* NULL stands for no config */
	char chk[PLAN_CHK_LEN + 1];
};

/* A wanted file after duplicates are folded. */
struct wanted {
	const char *name;
	enum plan_action action;
};

static struct manifest *impl(const struct plan_manifest *m)
{
	return (struct manifest *)m;
}

static void manifest_release(void *p)
{
	struct manifest *m = p;
	size_t i;

	if (m == NULL || --m->refs > 0)
		return;
	for (i = 0; i < m->ncontents; i++)
		plan_content_unref(m->contents[i]);
	for (i = 0; i < m->pub.nfiles; i++)
		free((char *)m->pub.files[i].name);
	free(m->contents);
	free(m->pub.files);
	free(m->pub.error);
	free(m->pub.error_file);
	free(m->chk_config);
	free(m);
}

struct plan_manifest *plan_manifest_ref(struct plan_manifest *m)
{
	impl(m)->refs++;
	return m;
}

int plan_revision(struct plan_cache *c, const struct plan_spec *spec,
		  char out[PLAN_REVISION_MAX], char *err, size_t err_len)
{
	return plan_source_revision(c, spec, out, err, err_len);
}

void plan_manifest_free(struct plan_manifest *m)
{
	if (m != NULL)
		manifest_release(impl(m));
}

const char *plan_name_problem(const char *name)
{
	size_t i, len;

	if (name == NULL || name[0] == '\0')
		return "empty file name";
	len = strlen(name);
	if (len > PLAN_NAME_MAX)
		return "file name longer than 31 bytes";
	for (i = 0; i < len; i++)
		if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
			return "control character in file name";
	if (name[0] == '/')
		return "absolute file name";
	if (strstr(name, "..") != NULL)
		return "\"..\" in file name";
	if (strstr(name, "//") != NULL || name[len - 1] == '/')
		return "empty path component in file name";
	if (strcmp(name, ".") == 0 || strncmp(name, "./", 2) == 0 ||
	    strstr(name, "/./") != NULL ||
	    (len >= 2 && strcmp(name + len - 2, "/.") == 0))
		return "\".\" path component in file name";
	return NULL;
}

/* text with control characters as \xNN, so it can be logged as is. */
static char *printable(const char *name)
{
	size_t i, n = 0, len = name != NULL ? strlen(name) : 0;
	char *out = malloc(4 * len + 1);

	if (out == NULL)
		return NULL;
	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)name[i];
		if (ch < 0x20 || ch == 0x7f)
			n += (size_t)sprintf(out + n, "\\x%02x", ch);
		else
			out[n++] = (char)ch;
	}
	out[n] = '\0';
	return out;
}

/* Marks m unsendable (the first error wins): 0, or -1 (ENOMEM). */
static int set_error(struct manifest *m, const char *file, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int set_error(struct manifest *m, const char *file, const char *fmt, ...)
{
	char text[ERROR_MAX];
	va_list ap;

	if (m->pub.error != NULL)
		return 0;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	m->pub.error = printable(text);
	if (file != NULL)
		m->pub.error_file = printable(file);
	if (m->pub.error == NULL || (file != NULL && m->pub.error_file == NULL))
		return -1;
	return 0;
}

/* Folds the wanted list: one entry per name, explicit actions winning. */
static int fold_wants(struct manifest *m, const struct plan_spec *spec,
		      struct wanted *w, size_t *n)
{
	const char *problem;
	size_t i, j;

	*n = 0;
	for (i = 0; i < spec->nfiles; i++) {
		const struct plan_want *pw = &spec->files[i];

		if ((problem = plan_name_problem(pw->name)) != NULL)
			return set_error(
			    m, pw->name != NULL ? pw->name : "", "\"%s\": %s",
			    pw->name != NULL ? pw->name : "", problem);
		if (pw->action != PLAN_AUTO && pw->action != PLAN_DL &&
		    pw->action != PLAN_CM)
			return set_error(m, pw->name, "%s: unknown action %d",
					 pw->name, (int)pw->action);
		for (j = 0; j < *n; j++)
			if (strcmp(w[j].name, pw->name) == 0)
				break;
		if (j == *n) {
			w[(*n)++] = (struct wanted){ pw->name, pw->action };
		} else if (w[j].action == PLAN_AUTO) {
			w[j].action = pw->action;
		} else if (pw->action != PLAN_AUTO &&
			   pw->action != w[j].action) {
			return set_error(m, pw->name,
					 "%s: wanted both as dl and as cm",
					 pw->name);
		}
	}
	for (i = 0; i < *n; i++)
		if (w[i].action == PLAN_AUTO)
			w[i].action =
			    plan_is_lua_name(w[i].name) ? PLAN_CM : PLAN_DL;
	return 0;
}

/* The memo key: the source, the policies and the folded list. */
static char *memo_key(const struct plan_source *src,
		      const struct plan_spec *spec, const struct wanted *w,
		      size_t n, size_t *len)
{
	size_t i, cap = strlen(src->key) + strlen(src->revision) + 64, used;
	char *key;

	for (i = 0; i < n; i++)
		cap += strlen(w[i].name) + 2;
	key = malloc(cap);
	if (key == NULL)
		return NULL;
	/* The revision too: a moved ref with the same blobs is still a new
	 * commit, which the history must name. */
	used = (size_t)snprintf(key, cap, "%s%c%s%c%d %lld", src->key, '\0',
				src->revision, '\0', spec->lua_version,
				(long long)spec->max_file_size);
	for (i = 0; i < n; i++) {
		key[used++] = '\0';
		key[used++] = w[i].action == PLAN_CM ? 'c' : 'd';
		memcpy(key + used, w[i].name, strlen(w[i].name));
		used += strlen(w[i].name);
	}
	*len = used;
	return key;
}

static int by_name(const void *a, const void *b)
{
	const struct plan_file *const *fa = a, *const *fb = b;

	return strcmp((*fa)->name, (*fb)->name);
}

/* The digest chk starts from: (name, action, hash) in name order. */
static int digest_files(struct manifest *m)
{
	const struct plan_file **sorted = NULL;
	size_t i, cap = 1, used = 0;
	char *text = NULL;
	char hex[2 * PLAN_DIGEST_LEN + 1];
	int rc = -1;

	for (i = 0; i < m->pub.nfiles; i++)
		cap += strlen(m->pub.files[i].name) + PLAN_HASH_HEX + 4;
	sorted = malloc((m->pub.nfiles + 1) * sizeof(*sorted));
	text = malloc(cap);
	if (sorted == NULL || text == NULL)
		goto fail;
	for (i = 0; i < m->pub.nfiles; i++)
		sorted[i] = &m->pub.files[i];
	qsort(sorted, m->pub.nfiles, sizeof(*sorted), by_name);
	for (i = 0; i < m->pub.nfiles; i++) {
		size_t nl = strlen(sorted[i]->name);
		memcpy(text + used, sorted[i]->name, nl + 1); /* with NUL */
		used += nl + 1;
		text[used++] = sorted[i]->action == PLAN_CM ? 'c' : 'd';
		memcpy(text + used, sorted[i]->hash, PLAN_HASH_HEX);
		used += PLAN_HASH_HEX;
		text[used++] = '\n';
	}
	if (plan_digest(text, used, m->files_digest, hex) != 0)
		goto fail;
	rc = 0;
fail:
	free(sorted);
	free(text);
	return rc;
}

/* Fills file i from its content, applying the size and compile checks. */
static int fill_file(struct manifest *m, const struct plan_spec *spec,
		     const struct wanted *w, size_t i, int *lua_checked)
{
	struct plan_file *f = &m->pub.files[i];
	struct plan_content *ct = m->contents[i];
	char err[ERROR_MAX];

	f->name = strdup(w->name);
	if (f->name == NULL)
		return -1;
	m->pub.nfiles = i + 1;
	f->action = w->action;
	f->data = ct->data;
	f->len = ct->len;
	memcpy(f->hash, ct->hash, sizeof(f->hash));
	if (plan_token(ct->digest, f->action == PLAN_CM, f->token) != 0)
		return -1;
	if (f->action == PLAN_CM && !plan_is_lua_name(f->name))
		return set_error(m, f->name,
				 "%s: cm needs a name ending in .lua", f->name);
	if (spec->max_file_size > 0 &&
	    (uint64_t)f->len > (uint64_t)spec->max_file_size)
		return set_error(m, f->name,
				 "%s: %zu bytes%s exceeds the %lld-byte "
				 "limit for legacy devices",
				 f->name, f->len,
				 ct->trimmed ? " after SAFETRIM" : "",
				 (long long)spec->max_file_size);
	if (!plan_is_lua_name(f->name))
		return 0;
	if (!*lua_checked) {
		if (plan_lua_available(spec->lua_version, err, sizeof(err)))
			return set_error(m, NULL, "%s", err);
		*lua_checked = 1;
	}
	if (plan_content_check(ct, f->name, spec->lua_version, err,
			       sizeof(err)) != 0)
		return set_error(m, f->name, "%s", err);
	return 0;
}

/* Whether memo holds exactly these contents (same spec, same key). */
static int same_contents(const struct manifest *memo,
			 struct plan_content *const *contents, size_t n)
{
	size_t i;

	if (memo == NULL || memo->ncontents != n || memo->pub.error != NULL)
		return 0;
	for (i = 0; i < n; i++)
		if (memo->contents[i] != contents[i])
			return 0;
	return 1;
}

int plan_manifest_resolve(struct plan_cache *c, const struct plan_spec *spec,
			  struct plan_manifest **out)
{
	int settled;

	return plan_manifest_resolve_settled(c, spec, out, &settled);
}

int plan_manifest_resolve_settled(struct plan_cache *c,
				  const struct plan_spec *spec,
				  struct plan_manifest **out, int *settled)
{
	struct manifest *m = calloc(1, sizeof(*m)), *memo;
	struct plan_source *src = NULL;
	struct wanted *w = NULL;
	char err[ERROR_MAX], *key = NULL;
	size_t i, n = 0, key_len = 0;
	int lua_checked = 0, stable;

	*out = NULL;
	*settled = 0;
	if (m == NULL)
		goto fail;
	m->refs = 1;
	w = calloc(spec->nfiles + 1, sizeof(*w));
	m->contents = calloc(spec->nfiles + 1, sizeof(*m->contents));
	m->pub.files = calloc(spec->nfiles + 1, sizeof(*m->pub.files));
	if (w == NULL || m->contents == NULL || m->pub.files == NULL)
		goto fail;
	if (spec->lua_version != LUAOTA_LUA_51 &&
	    spec->lua_version != LUAOTA_LUA_53) {
		if (set_error(m, NULL, "unsupported Lua version %d",
			      spec->lua_version) != 0)
			goto fail;
		goto done;
	}
	if (fold_wants(m, spec, w, &n) != 0)
		goto fail;
	if (m->pub.error != NULL)
		goto done;
	if (plan_source_open(c, spec, &src, err, sizeof(err)) != 0) {
		if (errno == ENOMEM || set_error(m, NULL, "%s", err) != 0)
			goto fail;
		goto done;
	}
	snprintf(m->pub.revision, sizeof(m->pub.revision), "%s", src->revision);
	*settled = 1;
	for (i = 0; i < n; i++) {
		if (plan_cache_lookup(c, src, w[i].name, &m->contents[i],
				      &stable, err, sizeof(err)) != 0)
			goto fail;
		*settled = *settled && stable;
		if (m->contents[i] == NULL) {
			if (set_error(m, w[i].name, "%s", err) != 0)
				goto fail;
			goto done;
		}
		m->ncontents = i + 1;
	}
	key = memo_key(src, spec, w, n, &key_len);
	if (key == NULL)
		goto fail;
	memo = plan_cache_memo_get(c, key, key_len);
	if (same_contents(memo, m->contents, n)) {
		memo->refs++;
		manifest_release(m);
		m = memo;
		goto done;
	}
	for (i = 0; i < n && m->pub.error == NULL; i++)
		if (fill_file(m, spec, &w[i], i, &lua_checked) != 0)
			goto fail;
	if (digest_files(m) != 0)
		goto fail;
	/* only sendable manifests are memoised; a failed memo costs nothing */
	if (m->pub.error == NULL &&
	    plan_cache_memo_put(c, key, key_len, m, manifest_release) == 0)
		m->refs++;
done:
	*out = &m->pub;
	plan_source_close(src);
	free(key);
	free(w);
	return 0;
fail:
	manifest_release(m);
	plan_source_close(src);
	free(key);
	free(w);
	errno = ENOMEM;
	return -1;
}

void plan_chk(const struct plan_manifest *pm, const char *config_json,
	      char out[PLAN_CHK_LEN + 1])
{
	struct manifest *m = impl(pm);
	uint8_t both[2 * PLAN_DIGEST_LEN], raw[PLAN_DIGEST_LEN];
	char hex[2 * PLAN_DIGEST_LEN + 1];
	const char *config = config_json != NULL ? config_json : "";

	if (m->chk_valid && strcmp(m->chk_config, config) == 0) {
		memcpy(out, m->chk, PLAN_CHK_LEN + 1);
		return;
	}
	/* chk = H(H(files) || H(config)): a config change is a new chk */
	memcpy(both, m->files_digest, PLAN_DIGEST_LEN);
	if (plan_digest(config, strlen(config), both + PLAN_DIGEST_LEN, hex) !=
		0 ||
	    plan_digest(both, sizeof(both), raw, hex) != 0) {
		/* cannot happen with a working libcrypto; never matches */
		memset(out, '!', PLAN_CHK_LEN);
		out[PLAN_CHK_LEN] = '\0';
		return;
	}
	plan_short_name(raw, PLAN_CHK_LEN, out);
	free(m->chk_config);
	m->chk_config = strdup(config);
	m->chk_valid = m->chk_config != NULL;
	if (m->chk_valid)
		memcpy(m->chk, out, PLAN_CHK_LEN + 1);
}
