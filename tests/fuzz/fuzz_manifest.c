/*
 * Fuzz target: the device's check of a v2 manifest before any download
 * (device/manifest.c, docs/protocol.md 2.6.1).  The input is the manifest
 * itself, judged against a fixed installed release (counter 7), once with
 * token storage for the largest manifest and once with room for a few
 * tokens only.  Checked: a verdict is one of the documented ones, the same
 * input gets the same verdict, and what an accepted manifest reports keeps
 * to the limits the check enforces.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "manifest.h"
#include "proto/crypto_openssl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define INSTALLED_RC 7
#define FREE_BYTES (256u * 1024u)

/* Content whose hash starts with 'a' counts as half staged already. */
static uint32_t held(void *arg, const char h[2 * LUAOTA_SHA256_LEN])
{
	(void)arg;
	return h[0] == 'a' ? 1000 : 0;
}

static void fail(void)
{
	abort();
}

static enum luaota_v2_verdict judge(const char *m, size_t len, void *work,
				    size_t work_size,
				    struct luaota_v2_manifest_info *info)
{
	static const char installed_manifest[] = "{\"rc\":7,\"files\":[]}";
	struct luaota_v2_release installed = {
		.slot = 0,
		.rc = INSTALLED_RC,
	};
	struct luaota_v2_judge j = {
		.crypto = &luaota_crypto_openssl,
		.installed = &installed,
		.free_bytes = FREE_BYTES,
		.held = held,
		.work = work,
		.work_size = work_size,
	};

	if (luaota_sha256(installed_manifest, sizeof(installed_manifest) - 1,
			  installed.mh) != 0)
		fail();
	memset(info, 0xa5, sizeof(*info)); /* untouched unless accepted */
	return luaota_v2_manifest_check(&j, m, len, info);
}

static int known(enum luaota_v2_verdict v)
{
	return v >= LUAOTA_V2_RCRYPTO && v <= LUAOTA_V2_SAME;
}

/* What an accepted manifest reports must satisfy the checks it passed. */
static void check_accepted(enum luaota_v2_verdict v,
			   const struct luaota_v2_manifest_info *info)
{
	if (v != LUAOTA_V2_ACCEPT && v != LUAOTA_V2_SAME)
		return;
	if (info->rc < INSTALLED_RC ||
	    info->rc - INSTALLED_RC > LUAOTA_V2_RC_JUMP_MAX)
		fail();
	if ((v == LUAOTA_V2_SAME) != (info->rc == INSTALLED_RC))
		fail();
	if (info->n_files > LUAOTA_V2_FILES_MAX ||
	    info->n_deletions > LUAOTA_V2_FILES_MAX)
		fail();
	if (info->need_bytes + LUAOTA_V2_FLASH_RESERVE > FREE_BYTES)
		fail();
	if (strcmp(luaota_v2_verdict_str(v), "ok") != 0)
		fail();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t work[LUAOTA_V2_TOKEN_SIZE * LUAOTA_V2_MANIFEST_TOKENS];
	uint8_t small[LUAOTA_V2_TOKEN_SIZE * 6];
	struct luaota_v2_manifest_info a, b;
	enum luaota_v2_verdict v, again;
	char *m;

	/* An exact copy: a read past the end is an ASan finding. */
	if ((m = malloc(size > 0 ? size : 1)) == NULL)
		return 0;
	if (size > 0)
		memcpy(m, data, size);
	v = judge(m, size, work, sizeof(work), &a);
	if (!known(v))
		fail();
	check_accepted(v, &a);
	again = judge(m, size, work, sizeof(work), &b);
	if (again != v ||
	    ((v == LUAOTA_V2_ACCEPT || v == LUAOTA_V2_SAME) &&
	     (a.rc != b.rc || a.n_files != b.n_files ||
	      a.n_deletions != b.n_deletions || a.need_bytes != b.need_bytes ||
	      memcmp(a.mh, b.mh, sizeof(a.mh)) != 0)))
		fail();
	/* Too little token storage is a refusal, never an overrun. */
	v = judge(m, size, small, sizeof(small), &b);
	if (!known(v))
		fail();
	check_accepted(v, &b);
	if (strcmp(luaota_v2_verdict_str(v), "unknown") == 0)
		fail();
	free(m);
	return 0;
}
