-- luaotad inventory on PostgreSQL, migration 7: which daemon opened a
-- history row (db/migration7_owner.sql).
ALTER TABLE sessions ADD COLUMN daemon TEXT;
CREATE INDEX sessions_open_by ON sessions (daemon) WHERE outcome = 'started';
