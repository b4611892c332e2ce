-- luaotad inventory, migration 2: protocol v2 (docs/protocol.md part 2).
-- v2_key: the chip's 256-bit key as 64 hex digits, NULL for legacy chips;
-- the legacy secret stays, so a chip still running the NodeMCU client can
-- be provisioned with the v2 firmware.  v2_seen: the chip completed a v2
-- session; from then on its legacy HI is refused (downgrade protection).
ALTER TABLE chips ADD COLUMN v2_key TEXT
	CHECK (v2_key IS NULL OR length(v2_key) = 64);
ALTER TABLE chips ADD COLUMN v2_seen INTEGER NOT NULL DEFAULT 0
	CHECK (v2_seen IN (0, 1));
