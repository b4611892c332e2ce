-- luaotad inventory, migration 9: a rollout's update sessions in flight,
-- counted across the daemons that share a PostgreSQL inventory so that
-- max-inflight holds for all of them together.  A row is one session's
-- slot, given back when it ends; a crashed daemon's are dropped when it
-- starts again, and any older than a session may last are not counted.
CREATE TABLE rollout_slots (
	id INTEGER PRIMARY KEY,
	rollout_id INTEGER NOT NULL REFERENCES rollouts (id) ON DELETE CASCADE,
	daemon TEXT,
	taken_ms INTEGER NOT NULL
);
CREATE INDEX rollout_slots_rollout ON rollout_slots (rollout_id);
