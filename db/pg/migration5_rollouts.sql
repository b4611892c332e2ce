-- luaotad inventory on PostgreSQL, migration 5: staged rollouts
-- (db/migration5_rollouts.sql).
ALTER TABLE groups ADD COLUMN release TEXT;

CREATE TABLE snapshot_files (
	group_id BIGINT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
	revision TEXT NOT NULL,
	position INTEGER NOT NULL,
	name TEXT NOT NULL,
	data BYTEA NOT NULL,
	PRIMARY KEY (group_id, revision, name)
);

CREATE TABLE rollouts (
	id BIGSERIAL PRIMARY KEY,
	group_id BIGINT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
	from_revision TEXT NOT NULL,
	to_revision TEXT NOT NULL,
	state TEXT NOT NULL DEFAULT 'running' CHECK (state IN
		('running', 'paused', 'halted', 'aborted', 'done')),
	plan TEXT NOT NULL,
	waves TEXT NOT NULL,
	wave INTEGER NOT NULL DEFAULT 0 CHECK (wave >= 0),
	max_failures BIGINT NOT NULL CHECK (max_failures >= 0),
	max_failures_pct INTEGER NOT NULL CHECK (max_failures_pct IN (0, 1)),
	max_inflight BIGINT NOT NULL DEFAULT 0 CHECK (max_inflight >= 0),
	soak BIGINT NOT NULL CHECK (soak >= 0),
	deadline BIGINT NOT NULL CHECK (deadline > 0),
	loop_checkins BIGINT NOT NULL CHECK (loop_checkins >= 2),
	loop_window BIGINT NOT NULL CHECK (loop_window > 0),
	started_ms BIGINT NOT NULL,
	wave_started_ms BIGINT NOT NULL,
	ended_ms BIGINT NOT NULL DEFAULT 0,
	reason TEXT
);
CREATE UNIQUE INDEX rollouts_active ON rollouts (group_id)
	WHERE state IN ('running', 'paused');
CREATE TRIGGER snapshot_files_version AFTER INSERT OR UPDATE OR DELETE
	ON snapshot_files FOR EACH STATEMENT
	EXECUTE FUNCTION bump_inventory_version();
CREATE TRIGGER rollouts_version AFTER INSERT OR UPDATE OR DELETE
	ON rollouts FOR EACH STATEMENT EXECUTE FUNCTION bump_inventory_version();
