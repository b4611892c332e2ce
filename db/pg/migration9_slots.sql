-- luaotad inventory on PostgreSQL, migration 9: rollout slots in flight
-- (db/migration9_slots.sql).
CREATE TABLE rollout_slots (
	id BIGSERIAL PRIMARY KEY,
	rollout_id BIGINT NOT NULL REFERENCES rollouts (id) ON DELETE CASCADE,
	daemon TEXT,
	taken_ms BIGINT NOT NULL
);
CREATE INDEX rollout_slots_rollout ON rollout_slots (rollout_id);
