/*
 * The legacy luaOTA protocol (NodeMCU's own client): the HI check-in, the
 * OK! fast path, and lock-step provisioning ending in restart.  A second
 * protocol version is a module beside this one.
 */
#ifndef LUAOTAD_LEGACY_H
#define LUAOTAD_LEGACY_H

struct session;
struct luaota_record;
struct json_object;
struct legacy_run;

/*
 * Handles the device's first record.  Returns 0 when the session goes on
 * (or is flushing its last record), -1 when it was closed.
 */
int legacy_hello(struct session *s, const struct luaota_record *rec,
		 struct json_object *obj);

/* Handles the reply to the command in flight; same contract. */
int legacy_reply(struct session *s, const struct luaota_record *rec,
		 struct json_object *obj);

/* Frees a provisioning run; NULL is fine. */
void legacy_run_free(struct legacy_run *run);

#endif /* LUAOTAD_LEGACY_H */
