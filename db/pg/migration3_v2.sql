-- luaotad inventory on PostgreSQL, migration 3: protocol v2 chips
-- (db/migration3_v2.sql).
ALTER TABLE chips ADD COLUMN v2_key TEXT
	CHECK (v2_key IS NULL OR length(v2_key) = 64);
ALTER TABLE chips ADD COLUMN v2_seen INTEGER NOT NULL DEFAULT 0
	CHECK (v2_seen IN (0, 1));
