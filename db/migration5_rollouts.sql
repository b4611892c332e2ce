-- luaotad inventory, migration 5: staged rollouts (docs/operators-guide.md,
-- "Roll out safely").
-- release: the revision a group is pinned to (a commit id, or the content
-- digest of a directory snapshot); NULL: the group follows its repository.
ALTER TABLE groups ADD COLUMN release TEXT;

-- The files of a directory group at one revision, kept so that a pinned
-- or reverted group can still be served once the directory has changed.
-- revision is a digest of the names and bytes ("dir:" and 16 hex digits).
CREATE TABLE snapshot_files (
	group_id INTEGER NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
	revision TEXT NOT NULL,
	position INTEGER NOT NULL,
	name TEXT NOT NULL,
	data BLOB NOT NULL,
	PRIMARY KEY (group_id, revision, name)
) WITHOUT ROWID;

-- One staged rollout of a group from one revision to another.  waves: the
-- upper bounds of the waves' chip positions (0 .. 2^32), ascending, comma
-- separated; a chip is in the first wave whose bound exceeds its position.
-- wave: the index of the wave being served; wave_started_ms: since when.
-- Health and the halt threshold are computed from the history (sessions).
CREATE TABLE rollouts (
	id INTEGER PRIMARY KEY,
	group_id INTEGER NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
	from_revision TEXT NOT NULL,
	to_revision TEXT NOT NULL,
	state TEXT NOT NULL DEFAULT 'running' CHECK (state IN
		('running', 'paused', 'halted', 'aborted', 'done')),
	plan TEXT NOT NULL,
	waves TEXT NOT NULL,
	wave INTEGER NOT NULL DEFAULT 0 CHECK (wave >= 0),
	max_failures INTEGER NOT NULL CHECK (max_failures >= 0),
	max_failures_pct INTEGER NOT NULL CHECK (max_failures_pct IN (0, 1)),
	max_inflight INTEGER NOT NULL DEFAULT 0 CHECK (max_inflight >= 0),
	soak INTEGER NOT NULL CHECK (soak >= 0),
	deadline INTEGER NOT NULL CHECK (deadline > 0),
	loop_checkins INTEGER NOT NULL CHECK (loop_checkins >= 2),
	loop_window INTEGER NOT NULL CHECK (loop_window > 0),
	started_ms INTEGER NOT NULL,
	wave_started_ms INTEGER NOT NULL,
	ended_ms INTEGER NOT NULL DEFAULT 0,
	reason TEXT
);
-- At most one rollout of a group is under way.
CREATE UNIQUE INDEX rollouts_active ON rollouts (group_id)
	WHERE state IN ('running', 'paused');
