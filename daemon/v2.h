/*
 * Protocol version 2 (docs/protocol.md part 2): the verified HELLO, the
 * signed "current" or manifest, windowed chunk serving and the commit.
 * The session layer frames records; this module checks and answers them.
 */
#ifndef LUAOTAD_V2_H
#define LUAOTAD_V2_H

#include <stddef.h>
#include <stdint.h>

struct session;
struct luaota_record;
struct json_object;
struct v2_run;

/*
 * Tells a first line apart: 1 when buf[0..len) (one line, '\n' excluded)
 * ends in '}' and a 32-hex tag (a v2 HELLO), 0 otherwise (legacy).
 */
int v2_is_hello(const uint8_t *line, size_t len);

/*
 * Handles the HELLO.  Returns 0 when the session goes on (or is flushing
 * its last record), -1 when it was closed.
 */
int v2_hello(struct session *s, const struct luaota_record *rec,
	     struct json_object *obj);

/* Handles every later device record; same contract. */
int v2_record(struct session *s, const struct luaota_record *rec,
	      struct json_object *obj);

/* Bytes of output a session may hold before it stops reading requests. */
size_t v2_output_limit(const struct session *s);

/* Frees a v2 run; NULL is fine. */
void v2_run_free(struct v2_run *run);

#endif /* LUAOTAD_V2_H */
