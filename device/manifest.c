/* Checking a v2 manifest before downloading: see manifest.h. */
#include "manifest.h"

#include <string.h>

#include "json.h"

typedef char
    token_size_right[sizeof(jsmntok_t) <= LUAOTA_V2_TOKEN_SIZE ? 1 : -1];

/* Index of the value of member key inside the object at obj, or -1. */
static int member_in(const struct ldev_json *j, int obj, const char *key)
{
	int i = obj + 1, n, found = -1;

	if (obj < 0 || obj >= j->count || j->tok[obj].type != JSMN_OBJECT)
		return -1;
	for (n = j->tok[obj].size; n > 0 && i + 1 < j->count; n--) {
		if (ldev_json_key_is(j, i, key))
			found = i + 1;
		i = ldev_json_skip(j, i + 1);
	}
	return found;
}

static int is_type(const struct ldev_json *j, int i, jsmntype_t type)
{
	return i >= 0 && i < j->count && j->tok[i].type == type;
}

static int is_hash(const struct ldev_json *j, int i)
{
	size_t k;

	if (!is_type(j, i, JSMN_STRING) ||
	    j->tok[i].end - j->tok[i].start != 2 * LUAOTA_SHA256_LEN)
		return 0;
	for (k = 0; k < 2 * LUAOTA_SHA256_LEN; k++) {
		char c = j->js[j->tok[i].start + (int)k];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return 0;
	}
	return 1;
}

/* A name the server may write: checked, outside luaOTA/, and for "cm"
 * a Lua source. */
static int name_allowed(const char *name, long len, int cm)
{
	if (len < 0 || luaota_name_check(name, (size_t)len) != 0 ||
	    strncmp(name, "luaOTA/", 7) == 0)
		return 0;
	return !cm || (len > 4 && strcmp(name + len - 4, ".lua") == 0);
}

/* The file objects' shape; counts into *n. */
static int files_shape(const struct ldev_json *j, int arr, unsigned *n)
{
	int i, k;

	if (!is_type(j, arr, JSMN_ARRAY) ||
	    j->tok[arr].size > LUAOTA_V2_FILES_MAX)
		return -1;
	*n = (unsigned)j->tok[arr].size;
	for (k = 0, i = arr + 1; k < j->tok[arr].size; k++) {
		int64_t len;
		int act = member_in(j, i, "act");

		if (!is_type(j, i, JSMN_OBJECT) ||
		    !is_type(j, member_in(j, i, "n"), JSMN_STRING) ||
		    ldev_json_uint(j, member_in(j, i, "len"), &len) != 0 ||
		    len > (int64_t)LUAOTA_V2_FILE_MAX ||
		    !is_hash(j, member_in(j, i, "h")) ||
		    !(ldev_json_key_is(j, act, "dl") ||
		      ldev_json_key_is(j, act, "cm")))
			return -1;
		i = ldev_json_skip(j, i);
	}
	return 0;
}

/* An optional array of strings of at most LUAOTA_V2_FILES_MAX. */
static int strings_shape(const struct ldev_json *j, int arr, unsigned *n)
{
	int i, k;

	*n = 0;
	if (arr < 0)
		return 0;
	if (!is_type(j, arr, JSMN_ARRAY) ||
	    j->tok[arr].size > LUAOTA_V2_FILES_MAX)
		return -1;
	for (k = 0, i = arr + 1; k < j->tok[arr].size; k++, i++)
		if (!is_type(j, i, JSMN_STRING))
			return -1;
	*n = (unsigned)j->tok[arr].size;
	return 0;
}

static int shape(const struct ldev_json *j, int64_t *rc,
		 struct luaota_v2_manifest_info *info)
{
	int cfg = ldev_json_member(j, "cfg");
	unsigned secrets;

	if (ldev_json_uint(j, ldev_json_member(j, "rc"), rc) != 0 || *rc < 1 ||
	    *rc > 0xffffffffLL)
		return -1;
	if (files_shape(j, ldev_json_member(j, "files"), &info->n_files) != 0 ||
	    strings_shape(j, ldev_json_member(j, "del"), &info->n_deletions) !=
		0 ||
	    strings_shape(j, ldev_json_member(j, "secret"), &secrets) != 0)
		return -1;
	return cfg < 0 || is_type(j, cfg, JSMN_OBJECT) ? 0 : -1;
}

/* Names: allowed, and no file named twice. */
static int names_ok(const struct ldev_json *j)
{
	char a[LUAOTA_NAME_MAX + 1], b[LUAOTA_NAME_MAX + 1];
	int arr = ldev_json_member(j, "files");
	int del = ldev_json_member(j, "del");
	int i, k, i2, k2;

	for (k = 0, i = arr + 1; k < j->tok[arr].size;
	     k++, i = ldev_json_skip(j, i)) {
		long len =
		    ldev_json_string(j, member_in(j, i, "n"), a, sizeof(a));

		if (!name_allowed(
			a, len,
			ldev_json_key_is(j, member_in(j, i, "act"), "cm")))
			return 0;
		for (k2 = 0, i2 = arr + 1; k2 < k;
		     k2++, i2 = ldev_json_skip(j, i2))
			if (ldev_json_string(j, member_in(j, i2, "n"), b,
					     sizeof(b)) == len &&
			    strcmp(a, b) == 0)
				return 0;
	}
	for (k = 0, i = del + 1; del >= 0 && k < j->tok[del].size; k++, i++)
		if (!name_allowed(a, ldev_json_string(j, i, a, sizeof(a)), 0))
			return 0;
	return 1;
}

/* Bytes of content the release still needs. */
static uint64_t need(const struct luaota_v2_judge *judge,
		     const struct ldev_json *j)
{
	char h[2 * LUAOTA_SHA256_LEN + 1];
	int arr = ldev_json_member(j, "files");
	uint64_t total = 0;
	int i, k;

	for (k = 0, i = arr + 1; k < j->tok[arr].size;
	     k++, i = ldev_json_skip(j, i)) {
		int64_t len = 0;
		uint32_t held = 0;

		ldev_json_uint(j, member_in(j, i, "len"), &len);
		if (judge->held != NULL &&
		    ldev_json_string(j, member_in(j, i, "h"), h, sizeof(h)) ==
			2 * LUAOTA_SHA256_LEN)
			held = judge->held(judge->held_arg, h);
		if ((uint64_t)held < (uint64_t)len)
			total += (uint64_t)len - held;
	}
	return total;
}

enum luaota_v2_verdict
luaota_v2_manifest_check(const struct luaota_v2_judge *judge,
			 const char *manifest, size_t len,
			 struct luaota_v2_manifest_info *out)
{
	const struct luaota_crypto *c;
	struct luaota_v2_manifest_info info;
	struct luaota_sha256_state st;
	struct ldev_json j;
	uint32_t installed;
	int64_t rc;

	if (judge == NULL || judge->crypto == NULL ||
	    judge->installed == NULL || manifest == NULL ||
	    len > LUAOTA_V2_MANIFEST_MAX)
		return LUAOTA_V2_RMANIFEST;
	c = judge->crypto;
	memset(&info, 0, sizeof(info));
	if (ldev_json_parse(&j, manifest, len, judge->work,
			    judge->work_size / sizeof(jsmntok_t)) != 0 ||
	    shape(&j, &rc, &info) != 0)
		return LUAOTA_V2_RMANIFEST;
	if (c->sha256_init(c->ctx, &st) != 0 ||
	    c->sha256_update(c->ctx, &st, manifest, len) != 0 ||
	    c->sha256_final(c->ctx, &st, info.mh) != 0)
		return LUAOTA_V2_RCRYPTO;
	info.rc = (uint32_t)rc;
	installed = judge->installed->rc;
	if (info.rc < installed)
		return LUAOTA_V2_RROLLBACK;
	if (info.rc == installed) {
		if (memcmp(info.mh, judge->installed->mh, sizeof(info.mh)) != 0)
			return LUAOTA_V2_RMIX;
	} else if (info.rc - installed > LUAOTA_V2_RC_JUMP_MAX) {
		return LUAOTA_V2_RFASTFWD;
	}
	if (!names_ok(&j))
		return LUAOTA_V2_RNAME;
	info.need_bytes = need(judge, &j);
	if (info.need_bytes + LUAOTA_V2_FLASH_RESERVE > judge->free_bytes)
		return LUAOTA_V2_RSPACE;
	if (out != NULL)
		*out = info;
	return info.rc == installed ? LUAOTA_V2_SAME : LUAOTA_V2_ACCEPT;
}

const char *luaota_v2_verdict_str(enum luaota_v2_verdict v)
{
	switch (v) {
	case LUAOTA_V2_ACCEPT:
	case LUAOTA_V2_SAME:
		return "ok";
	case LUAOTA_V2_RMANIFEST:
		return "manifest";
	case LUAOTA_V2_RROLLBACK:
		return "rollback";
	case LUAOTA_V2_RMIX:
		return "mix";
	case LUAOTA_V2_RFASTFWD:
		return "fastforward";
	case LUAOTA_V2_RNAME:
		return "name";
	case LUAOTA_V2_RSPACE:
		return "space";
	case LUAOTA_V2_RCRYPTO:
		return "crypto";
	}
	return "unknown";
}
