/*
 * Reading one field of a json-c object, as the daemon's protocol modules
 * and plan/'s release builder do.
 */
#ifndef LUAOTA_PLAN_JSON_FIELD_H
#define LUAOTA_PLAN_JSON_FIELD_H

#include <json-c/json.h>

/* The string value of key in obj; NULL when absent or not a string. */
static inline const char *plan_json_string(struct json_object *obj,
					   const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(obj, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

#endif /* LUAOTA_PLAN_JSON_FIELD_H */
