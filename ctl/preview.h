/*
 * What a chip's next check-in would do, worked out by the same plan/
 * code the daemon runs (manifest, chk, decision, steps), assuming the
 * device reports the chk we recorded giving it.
 */
#ifndef LUAOTA_CTL_PREVIEW_H
#define LUAOTA_CTL_PREVIEW_H

#include <stdint.h>

#include "db/store.h"
#include "plan/plan.h"
#include "policy/policy.h"

struct ctl_preview {
	struct plan_manifest *manifest; /* error set: nothing would be sent */
	struct plan_steps steps;
	char target_chk[PLAN_CHK_LEN + 1];
	char *overrides;     /* merged config overrides pushed, or NULL */
	int current;	     /* the next boot gets OK! */
	int trusted;	     /* our records of held files are believed */
	int64_t records;     /* command records the update takes */
	int64_t session_max; /* the daemon's byte cap per session (0: none) */
	int fits;	     /* within one session's byte cap */
	size_t config_floor; /* least bytes of the stored config.json */
	char *config_error;  /* why no restart could be sent, or NULL */
	/* Protocol v2 chips (no steps: the device fetches what it lacks). */
	int v2;
	struct plan_release release; /* the release the next boot gets */
	int64_t latest_rc;	     /* newest release issued, 0: none */
	int64_t latest_issued;	     /* when, seconds since the epoch */
	char *release_error;	     /* why no release can be sent, or NULL */
};

/*
 * Previews chip's next check-in under luaotad.conf's settings into out
 * (free with ctl_preview_free).  0, or -1 with why in err (the group,
 * repository or overrides).
 */
int ctl_preview_chip(struct store *st, struct plan_cache *cache,
		     const struct policy_settings *settings,
		     const struct store_chip *chip, struct ctl_preview *out,
		     char *err, size_t err_len);

/* Frees what ctl_preview_chip filled in. */
void ctl_preview_free(struct ctl_preview *p);

#endif /* LUAOTA_CTL_PREVIEW_H */
