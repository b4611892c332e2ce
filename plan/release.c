/* Protocol v2 releases: see release.h. */
#include "release.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "diff.h"
#include "json_field.h"
#include "proto/crypto_openssl.h"
#include "proto/protocol.h"

#define JSON_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)
#define SECRET_MAX 255

/*
 * Config fields that travel encrypted (2.6.2): the WiFi password and
 * anything named like a credential.
 */
int plan_release_is_secret(const char *name)
{
	static const char *const exact[] = { "spwd", "pwd", "password", "psk" };
	static const char *const suffix[] = { "_pwd", "_password", "_psk",
					      "_secret", "_token" };
	size_t i, n = strlen(name), k;

	for (i = 0; i < sizeof(exact) / sizeof(exact[0]); i++)
		if (strcmp(name, exact[i]) == 0)
			return 1;
	for (i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
		k = strlen(suffix[i]);
		if (n > k && strcmp(name + n - k, suffix[i]) == 0)
			return 1;
	}
	return 0;
}

void plan_release_free(struct plan_release *r)
{
	json_object_put(r->files);
	json_object_put(r->del);
	json_object_put(r->cfg);
	json_object_put(r->secret);
	json_object_put(r->secrets);
	free(r->text);
	memset(r, 0, sizeof(*r));
}

/* Numbers the release: its canonical bytes and their SHA-256. */
static int release_number(struct plan_release *r, int64_t rc)
{
	struct json_object *m = json_object_new_object();
	uint8_t digest[LUAOTA_SHA256_LEN];
	const char *text;
	size_t len;

	free(r->text);
	r->text = NULL;
	r->rc = rc;
	if (m == NULL)
		return -1;
	/* Key order is the canonical one: json-c keeps insertion order. */
	json_object_object_add(m, "rc", json_object_new_int64(rc));
	json_object_object_add(m, "files", json_object_get(r->files));
	json_object_object_add(m, "del", json_object_get(r->del));
	json_object_object_add(m, "cfg", json_object_get(r->cfg));
	json_object_object_add(m, "secret", json_object_get(r->secret));
	text = json_object_to_json_string_length(m, JSON_FLAGS, &len);
	if (text != NULL && len <= LUAOTA_V2_MANIFEST_MAX &&
	    (r->text = strdup(text)) != NULL &&
	    luaota_sha256(r->text, len, digest) == 0) {
		luaota_hex(digest, sizeof(digest), r->mh);
		r->len = len;
	}
	json_object_put(m);
	return r->text != NULL ? 0 : -1;
}

/* The name a file has on the device once installed. */
/* Whether name is in the list of installed names of files. */
static int names_has(struct json_object *names, const char *name)
{
	size_t i, n = json_object_array_length(names);

	for (i = 0; i < n; i++)
		if (strcmp(json_object_get_string(
			       json_object_array_get_idx(names, i)),
			   name) == 0)
			return 1;
	return 0;
}

/*
 * The deletions of the new release: whatever the previous release
 * installed or deleted that the new one does not install.  Carrying the
 * old deletions forward lets a device that skipped a release catch up.
 */
static int release_deletions(struct plan_release *r,
			     struct json_object *installed,
			     const char *previous)
{
	struct json_object *old, *list;
	const char *keys[] = { "files", "del" };
	size_t k, i, n;
	int rc = 0;

	if (previous == NULL)
		return 0;
	if ((old = json_tokener_parse(previous)) == NULL)
		return -1;
	for (k = 0; k < 2 && rc == 0; k++) {
		if (!json_object_object_get_ex(old, keys[k], &list) ||
		    !json_object_is_type(list, json_type_array))
			continue;
		n = json_object_array_length(list);
		for (i = 0; i < n; i++) {
			struct json_object *e =
			    json_object_array_get_idx(list, i);
			const char *name = NULL;
			char dev[PLAN_NAME_MAX + 8];

			if (k == 0) {
				const char *act, *src;
				struct json_object *v;

				if (!json_object_object_get_ex(e, "n", &v) ||
				    (src = json_object_get_string(v)) == NULL)
					continue;
				act = plan_json_string(e, "act");
				if (plan_device_name(
					src,
					act != NULL && strcmp(act, "cm") == 0
					    ? PLAN_CM
					    : PLAN_DL,
					dev, sizeof(dev)) != 0)
					continue;
				name = dev;
			} else {
				name = json_object_get_string(e);
			}
			if (name == NULL || names_has(installed, name) ||
			    names_has(r->del, name))
				continue;
			if (json_object_array_length(r->del) >=
			    LUAOTA_V2_FILES_MAX)
				break; /* the oldest ones are gone by now */
			json_object_array_add(r->del,
					      json_object_new_string(name));
		}
	}
	json_object_put(old);
	return rc;
}

int plan_release_build(struct plan_release *r, const struct plan_manifest *m,
		       const char *overrides, const char *previous, char *why,
		       size_t why_len)
{
	struct json_object *installed = json_object_new_array(), *o = NULL;
	size_t i, j;

	memset(r, 0, sizeof(*r));
	r->files = json_object_new_array();
	r->del = json_object_new_array();
	r->cfg = json_object_new_object();
	r->secret = json_object_new_array();
	r->secrets = json_object_new_object();
	if (installed == NULL || r->files == NULL || r->del == NULL ||
	    r->cfg == NULL || r->secret == NULL || r->secrets == NULL)
		goto oom;
	if (m->nfiles > LUAOTA_V2_FILES_MAX) {
		snprintf(why, why_len,
			 "not sent: %zu files, a v2 release holds at most %d",
			 m->nfiles, LUAOTA_V2_FILES_MAX);
		goto fail;
	}
	for (i = 0; i < m->nfiles; i++) {
		const struct plan_file *f = &m->files[i];
		struct json_object *e = json_object_new_object();
		char dev[PLAN_NAME_MAX + 8];

		if (e == NULL)
			goto oom;
		json_object_object_add(e, "n", json_object_new_string(f->name));
		json_object_object_add(e, "len",
				       json_object_new_int64((int64_t)f->len));
		json_object_object_add(e, "h", json_object_new_string(f->hash));
		json_object_object_add(
		    e, "act",
		    json_object_new_string(f->action == PLAN_CM ? "cm" : "dl"));
		json_object_array_add(r->files, e);
		if (f->len > LUAOTA_V2_FILE_MAX) {
			snprintf(why, why_len,
				 "not sent: %s is %zu bytes, over the v2 "
				 "limit of %lu",
				 f->name, f->len, LUAOTA_V2_FILE_MAX);
			goto fail;
		}
		if (plan_device_name(f->name, f->action, dev, sizeof(dev)) !=
		    0) {
			snprintf(why, why_len, "not sent: bad name %s",
				 f->name);
			goto fail;
		}
		json_object_array_add(installed, json_object_new_string(dev));
		/* The device stages by content: one content, one file. */
		for (j = 0; j < i; j++)
			if (strncmp(m->files[j].hash, f->hash,
				    PLAN_RELEASE_STAGE_HEX) == 0) {
				snprintf(why, why_len,
					 "not sent: %s and %s have the same "
					 "content, which a v2 release cannot "
					 "hold",
					 m->files[j].name, f->name);
				goto fail;
			}
	}
	if (release_deletions(r, installed, previous) != 0)
		goto oom;
	if (overrides != NULL) {
		if ((o = json_tokener_parse(overrides)) == NULL ||
		    !json_object_is_type(o, json_type_object)) {
			snprintf(why, why_len,
				 "config overrides are not a JSON object");
			goto fail;
		}
		json_object_object_foreach(o, key, val)
		{
			/* The device's own key never travels. */
			if (strcmp(key, "key") == 0 || strcmp(key, "v") == 0)
				continue;
			if (!plan_release_is_secret(key)) {
				json_object_object_add(r->cfg, key,
						       json_object_get(val));
				continue;
			}
			if (!json_object_is_type(val, json_type_string) ||
			    json_object_get_string_len(val) > SECRET_MAX) {
				snprintf(why, why_len,
					 "config field %s is secret: it must "
					 "be a string of at most %d bytes",
					 key, SECRET_MAX);
				goto fail;
			}
			json_object_array_add(r->secret,
					      json_object_new_string(key));
			json_object_object_add(r->secrets, key,
					       json_object_get(val));
		}
	}
	json_object_put(o);
	json_object_put(installed);
	return 0;
oom:
	snprintf(why, why_len, "out of memory");
fail:
	json_object_put(o);
	json_object_put(installed);
	plan_release_free(r);
	return -1;
}

int plan_release_pick(struct plan_release *r, int64_t latest_rc,
		      const char *latest_mh, int64_t device_rc, int *is_new,
		      char *why, size_t why_len)
{
	int64_t rc;

	*is_new = 0;
	if (latest_rc > 0 && latest_mh != NULL) {
		if (release_number(r, latest_rc) != 0)
			goto too_big;
		if (strcmp(r->mh, latest_mh) == 0)
			return 0;
	}
	/* After a restore from backup the device may be ahead of us. */
	rc = latest_rc > device_rc ? latest_rc : device_rc;
	if (rc >= (int64_t)UINT32_MAX) {
		snprintf(why, why_len, "release counter exhausted");
		return -1;
	}
	if (release_number(r, rc + 1) != 0)
		goto too_big;
	*is_new = 1;
	return 0;
too_big:
	snprintf(why, why_len,
		 "not sent: the manifest is over %d bytes (or out of memory)",
		 LUAOTA_V2_MANIFEST_MAX);
	return -1;
}
