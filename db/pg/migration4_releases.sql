-- luaotad inventory on PostgreSQL, migration 4: v2 release counters
-- (db/migration4_releases.sql).
CREATE TABLE v2_releases (
	chip_id TEXT NOT NULL REFERENCES chips (id) ON DELETE CASCADE,
	rc BIGINT NOT NULL CHECK (rc > 0 AND rc < 4294967296),
	mh TEXT NOT NULL CHECK (length(mh) = 64),
	manifest TEXT NOT NULL,
	issued BIGINT NOT NULL,
	PRIMARY KEY (chip_id, rc)
);
