/* Test support: what a JSON decoder tells the framer about "data". */
#ifndef TESTS_JSON_DATA_H
#define TESTS_JSON_DATA_H

#include <stddef.h>
#include <stdint.h>

/*
 * Decodes json[0..len) with json-c: returns the "data" field when it is a
 * non-negative integer, 0 when absent, -1 when present but not such an
 * integer or when the JSON does not parse.
 */
int64_t json_data_field(const char *json, size_t len);

#endif
