-- luaotad inventory, migration 6: API tokens for luaotad's HTTP listener
-- (luaotactl token add).  Only a SHA-256 of each token is kept, so a copy
-- of the database grants nothing; scope 'read' may only look, 'write' may
-- also change the inventory.
CREATE TABLE api_tokens (
	id INTEGER PRIMARY KEY,
	name TEXT NOT NULL UNIQUE,
	hash TEXT NOT NULL UNIQUE,
	scope TEXT NOT NULL CHECK (scope IN ('read', 'write')),
	created INTEGER NOT NULL,
	last_used INTEGER
);
