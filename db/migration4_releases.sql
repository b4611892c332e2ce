-- luaotad inventory, migration 4: protocol v2 releases (docs/protocol.md
-- 2.6).  A release counter names one manifest for one chip, forever: the
-- device refuses the same counter with other bytes, so every manifest the
-- daemon issues is written here before it is sent, and a changed manifest
-- always gets the next counter.  The bytes are kept so that the next
-- release can carry the deletions of this one.
CREATE TABLE v2_releases (
	chip_id TEXT NOT NULL REFERENCES chips (id) ON DELETE CASCADE,
	rc INTEGER NOT NULL CHECK (rc > 0 AND rc < 4294967296),
	mh TEXT NOT NULL CHECK (length(mh) = 64),
	manifest TEXT NOT NULL,
	issued INTEGER NOT NULL,
	PRIMARY KEY (chip_id, rc)
) WITHOUT ROWID;
