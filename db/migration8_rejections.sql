-- luaotad inventory, migration 8: rejection windows several daemons share.
-- The first rejection per address and reason in a window gets its own
-- history row (luaotad.conf(5), rejection_window); with daemons sharing
-- one PostgreSQL inventory, whichever records a window here first is the
-- one whose rejection gets it.  window_start_ms: the window's start,
-- aligned to the window length so that every daemon names it alike.
CREATE TABLE rejection_windows (
	addr TEXT NOT NULL,
	reason TEXT NOT NULL,
	window_start_ms INTEGER NOT NULL,
	PRIMARY KEY (addr, reason, window_start_ms)
) WITHOUT ROWID;
CREATE INDEX rejection_windows_start ON rejection_windows (window_start_ms);
