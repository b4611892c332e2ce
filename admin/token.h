/*
 * API tokens: what `luaotactl token add` hands out once and what luaotad's
 * HTTP listener checks.  The inventory keeps only the SHA-256 of a token,
 * so both sides hash the same way here.
 */
#ifndef LUAOTA_ADMIN_TOKEN_H
#define LUAOTA_ADMIN_TOKEN_H

#include <stddef.h>

#define ADMIN_TOKEN_PREFIX "lota_"
/* The prefix and 64 hex digits (256 random bits). */
#define ADMIN_TOKEN_LEN (sizeof(ADMIN_TOKEN_PREFIX) - 1 + 64)
#define ADMIN_TOKEN_HASH_LEN 64 /* hex SHA-256 */

/* A fresh random token into out (ADMIN_TOKEN_LEN + 1 bytes); 0, or -1. */
int admin_token_new(char out[ADMIN_TOKEN_LEN + 1]);

/* The hex SHA-256 of token into hash; 0, or -1. */
int admin_token_hash(const char *token, size_t len,
		     char hash[ADMIN_TOKEN_HASH_LEN + 1]);

/* Whether a token name is usable: 1-64 of [A-Za-z0-9._-]. */
int admin_token_name_valid(const char *name);

#endif /* LUAOTA_ADMIN_TOKEN_H */
