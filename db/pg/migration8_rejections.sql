-- luaotad inventory on PostgreSQL, migration 8: shared rejection windows
-- (db/migration8_rejections.sql).
CREATE TABLE rejection_windows (
	addr TEXT NOT NULL,
	reason TEXT NOT NULL,
	window_start_ms BIGINT NOT NULL,
	PRIMARY KEY (addr, reason, window_start_ms)
);
CREATE INDEX rejection_windows_start ON rejection_windows (window_start_ms);
