-- luaotad inventory, migration 7: which daemon opened a history row.
-- Several daemons may share one PostgreSQL inventory; a daemon that
-- restarts after a crash marks interrupted only the rows it left open,
-- never another's live sessions.  NULL: a row from before, or from
-- luaotactl's tools.
ALTER TABLE sessions ADD COLUMN daemon TEXT;
