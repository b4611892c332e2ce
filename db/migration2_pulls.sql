-- luaotad inventory, migration 2: files the operator asked to read back
-- from a chip (luaotactl pull), fetched with "ul" at its next check-in.
CREATE TABLE pulls (
	id INTEGER PRIMARY KEY,
	chip_id TEXT NOT NULL REFERENCES chips (id) ON DELETE CASCADE,
	name TEXT NOT NULL,
	requested INTEGER NOT NULL,
	state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN
		('pending', 'done', 'missing', 'failed')),
	done INTEGER NOT NULL DEFAULT 0,
	size INTEGER NOT NULL DEFAULT -1,
	data BLOB,
	reason TEXT
);
CREATE INDEX pulls_chip ON pulls (chip_id, id);
-- A check-in finds its chip's pending pulls without a scan.
CREATE INDEX pulls_pending ON pulls (chip_id) WHERE state = 'pending';
