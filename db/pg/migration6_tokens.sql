-- luaotad inventory on PostgreSQL, migration 6: API tokens
-- (db/migration6_tokens.sql).
CREATE TABLE api_tokens (
	id BIGSERIAL PRIMARY KEY,
	name TEXT NOT NULL UNIQUE,
	hash TEXT NOT NULL UNIQUE,
	scope TEXT NOT NULL CHECK (scope IN ('read', 'write')),
	created BIGINT NOT NULL,
	last_used BIGINT
);
