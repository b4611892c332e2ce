/* Test support: see json_data.h. */
#include "json_data.h"

#include <json-c/json.h>

int64_t json_data_field(const char *json, size_t len)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *obj, *data;
	int64_t result = -1;

	if (tok == NULL || len > INT32_MAX)
		goto done;
	obj = json_tokener_parse_ex(tok, json, (int)len);
	if (obj == NULL || !json_object_is_type(obj, json_type_object) ||
	    json_tokener_get_parse_end(tok) != len) {
		json_object_put(obj);
		goto done;
	}
	if (!json_object_object_get_ex(obj, "data", &data))
		result = 0;
	else if (json_object_is_type(data, json_type_int))
		result = json_object_get_int64(data);
	json_object_put(obj);
done:
	json_tokener_free(tok);
	return result;
}
