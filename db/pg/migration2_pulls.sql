-- luaotad inventory on PostgreSQL, migration 2: files pulled from chips
-- (db/migration2_pulls.sql).
CREATE TABLE pulls (
	id BIGSERIAL PRIMARY KEY,
	chip_id TEXT NOT NULL REFERENCES chips (id) ON DELETE CASCADE,
	name TEXT NOT NULL,
	requested BIGINT NOT NULL,
	state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN
		('pending', 'done', 'missing', 'failed')),
	done BIGINT NOT NULL DEFAULT 0,
	size BIGINT NOT NULL DEFAULT -1,
	data BYTEA,
	reason TEXT
);
CREATE INDEX pulls_chip ON pulls (chip_id, id);
CREATE INDEX pulls_pending ON pulls (chip_id) WHERE state = 'pending';
CREATE TRIGGER pulls_version AFTER INSERT OR UPDATE OR DELETE
	ON pulls FOR EACH STATEMENT EXECUTE FUNCTION bump_inventory_version();
