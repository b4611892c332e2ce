/* Check-in decisions shared by the daemon and the CLI: see decide.h. */
#include "decide.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "diff.h"

/* As the daemon emits JSON: compact, '/' unescaped. */
#define JSON_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

/* Copies the keys of the JSON object text into merged (later wins). */
static int merge_into(struct json_object *merged, const char *text)
{
	struct json_object *o;

	if (text == NULL || *text == '\0')
		return 0;
	o = json_tokener_parse(text);
	if (o == NULL || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		errno = EINVAL;
		return -1;
	}
	json_object_object_foreach(o, key, val)
	{
		/* The device keeps its own secret and identity. */
		if (strcmp(key, "secret") == 0 || strcmp(key, "a") == 0 ||
		    strcmp(key, "id") == 0)
			continue;
		json_object_object_add(merged, key, json_object_get(val));
	}
	json_object_put(o);
	return 0;
}

int plan_overrides_merge(const char *group_json, const char *chip_json,
			 char **out)
{
	struct json_object *merged = json_object_new_object();
	int rc = -1;

	*out = NULL;
	if (merged == NULL) {
		errno = ENOMEM;
		return -1;
	}
	if (merge_into(merged, group_json) != 0 ||
	    merge_into(merged, chip_json) != 0)
		goto done;
	rc = 0;
	if (json_object_object_length(merged) > 0 &&
	    (*out = strdup(
		 json_object_to_json_string_ext(merged, JSON_FLAGS))) == NULL) {
		errno = ENOMEM;
		rc = -1;
	}
done:
	json_object_put(merged);
	return rc;
}

int plan_is_current(const char *target_chk, const char *device_chk,
		    const char *recorded_chk)
{
	return device_chk != NULL && recorded_chk != NULL &&
	       strcmp(device_chk, target_chk) == 0 &&
	       strcmp(device_chk, recorded_chk) == 0;
}

int plan_held_trusted(const char *device_chk, const char *recorded_chk)
{
	return device_chk != NULL && recorded_chk != NULL &&
	       strcmp(device_chk, recorded_chk) == 0;
}

int plan_update_steps(const struct plan_manifest *m, const char *device_chk,
		      const char *recorded_chk, const struct plan_held *held,
		      size_t nheld, struct plan_steps *out)
{
	int trusted = plan_held_trusted(device_chk, recorded_chk);
	struct plan_held *view;
	size_t i;
	int rc;

	if (trusted)
		return plan_diff(m, held, nheld, out);
	view = calloc(nheld + 1, sizeof(*view));
	if (view == NULL) {
		memset(out, 0, sizeof(*out));
		errno = ENOMEM;
		return -1;
	}
	/* Untrusted: every token unknown, so every file goes again. */
	for (i = 0; i < nheld; i++) {
		view[i].name = held[i].name;
		view[i].token = "";
	}
	rc = plan_diff(m, view, nheld, out);
	free(view);
	return rc;
}
