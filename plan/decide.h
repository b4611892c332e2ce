/*
 * The decisions the daemon takes at a check-in, shared with luaotactl's
 * diff so that both answer alike: the merged config overrides behind
 * chk, whether the device is current, and which of what it holds we
 * trust.
 */
#ifndef LUAOTA_PLAN_DECIDE_H
#define LUAOTA_PLAN_DECIDE_H

#include <stddef.h>

#include "types.h"

/*
 * The overrides a chip gets: the group's JSON object, then the chip's
 * over it, minus the keys a device keeps to itself (secret, a, id).
 * *out is that object's compact JSON text (malloc'ed), or NULL when
 * there is none.  0, or -1 with errno (EINVAL: an input is not a JSON
 * object; ENOMEM).
 */
int plan_overrides_merge(const char *group_json, const char *chip_json,
			 char **out);

/*
 * Whether a device reporting device_chk holds the target: it must equal
 * target_chk and the chk we recorded giving it (recorded_chk; NULL after
 * a reprovision or when we never did), so that forgetting our record
 * forces a resend.
 */
int plan_is_current(const char *target_chk, const char *device_chk,
		    const char *recorded_chk);

/*
 * Whether our records of what the chip holds can be trusted: only when
 * the device reports the chk we last gave it.
 */
int plan_held_trusted(const char *device_chk, const char *recorded_chk);

/*
 * The steps of an update: held[] are our records; when they are not
 * trusted every manifest file is sent, but files we provisioned and the
 * manifest dropped are still deleted.  0, or -1 (ENOMEM).
 */
int plan_update_steps(const struct plan_manifest *m, const char *device_chk,
		      const char *recorded_chk, const struct plan_held *held,
		      size_t nheld, struct plan_steps *out);

#endif /* LUAOTA_PLAN_DECIDE_H */
