/* What an update must do: a manifest against what a chip holds. */
#ifndef LUAOTA_PLAN_DIFF_H
#define LUAOTA_PLAN_DIFF_H

#include <stddef.h>

#include "types.h"

/*
 * What to send to a chip that holds held[0..nheld) so that it holds m:
 * every manifest file whose token differs or that is not held, and every
 * held file that the manifest dropped.  Returns 0 or -1 (ENOMEM).
 */
int plan_diff(const struct plan_manifest *m, const struct plan_held *held,
	      size_t nheld, struct plan_steps *out);

/* Frees what plan_diff allocated in s and zeroes it. */
void plan_steps_free(struct plan_steps *s);

/*
 * The name a device stores a file under: for cm, name with its last four
 * characters (".lua") replaced by ".lc", as the device does; else name.
 * Returns 0, or -1 when it does not fit in out_len.
 */
int plan_device_name(const char *name, enum plan_action action, char *out,
		     size_t out_len);

#endif /* LUAOTA_PLAN_DIFF_H */
