-- luaotad inventory, migration 1: the whole schema of version 1.
-- Embedded into the binaries at build time (scripts/embed_sql.py); the
-- store runs it inside one transaction and then sets user_version.
-- Times: *_ms columns are Unix milliseconds, the others Unix seconds, UTC.

-- A directory the files are served from: a working tree (ref NULL) or a
-- git repository at a branch or tag.
CREATE TABLE repositories (
	id INTEGER PRIMARY KEY,
	name TEXT NOT NULL UNIQUE,
	path TEXT NOT NULL,
	ref TEXT
);
CREATE INDEX repositories_path ON repositories (path);

-- A manifest shared by many chips, with its config overrides and policy.
CREATE TABLE groups (
	id INTEGER PRIMARY KEY,
	name TEXT NOT NULL UNIQUE,
	repo_id INTEGER NOT NULL REFERENCES repositories (id),
	config_json TEXT,
	max_file_size INTEGER NOT NULL DEFAULT 0 CHECK (max_file_size >= 0),
	lua_version INTEGER NOT NULL DEFAULT 51 CHECK (lua_version IN (51, 53))
);
CREATE INDEX groups_repo ON groups (repo_id);

-- The files of a group's manifest, in the operator's order.
CREATE TABLE group_files (
	group_id INTEGER NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
	position INTEGER NOT NULL,
	name TEXT NOT NULL,
	action TEXT NOT NULL DEFAULT 'auto' CHECK (action IN ('auto', 'dl', 'cm')),
	PRIMARY KEY (group_id, name)
) WITHOUT ROWID;

-- One device.  The secret never leaves this table except to sign.
CREATE TABLE chips (
	id TEXT PRIMARY KEY NOT NULL,
	label TEXT,
	secret TEXT NOT NULL,
	group_id INTEGER NOT NULL REFERENCES groups (id),
	config_json TEXT,
	protocol INTEGER NOT NULL DEFAULT 1,
	enabled INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
	created INTEGER NOT NULL,
	first_seen INTEGER NOT NULL DEFAULT 0,
	last_seen INTEGER NOT NULL DEFAULT 0,
	last_addr TEXT,
	last_outcome TEXT,
	chk TEXT,
	revision TEXT
) WITHOUT ROWID;
CREATE INDEX chips_group ON chips (group_id);

-- What each chip holds, per our records: replaced as a whole on update.
CREATE TABLE held_files (
	chip_id TEXT NOT NULL REFERENCES chips (id) ON DELETE CASCADE,
	name TEXT NOT NULL,
	token TEXT NOT NULL,
	PRIMARY KEY (chip_id, name)
) WITHOUT ROWID;

-- The history: one row per connection.  chip_id has no foreign key on
-- purpose: rejected check-ins of unknown chips are recorded with the id
-- they claimed, and history outlives a deleted chip.
CREATE TABLE sessions (
	id INTEGER PRIMARY KEY,
	chip_id TEXT,
	peer TEXT NOT NULL,
	started_ms INTEGER NOT NULL,
	ended_ms INTEGER NOT NULL DEFAULT 0,
	outcome TEXT NOT NULL DEFAULT 'started' CHECK (outcome IN
		('started', 'current', 'updated', 'partial', 'failed',
		 'rejected', 'interrupted')),
	reason TEXT,
	revision TEXT,
	files_sent INTEGER NOT NULL DEFAULT 0,
	bytes_sent INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX sessions_chip_time ON sessions (chip_id, started_ms);
CREATE INDEX sessions_time ON sessions (started_ms);
-- Start-up finds the sessions a stopped daemon left open without a scan.
CREATE INDEX sessions_open ON sessions (outcome) WHERE outcome = 'started';

-- One row per file a session sent, compiled or deleted, in order.
CREATE TABLE session_files (
	id INTEGER PRIMARY KEY,
	session_id INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
	name TEXT NOT NULL,
	action TEXT NOT NULL CHECK (action IN ('dl', 'cm', 'delete')),
	bytes INTEGER NOT NULL DEFAULT 0,
	result TEXT,
	lcsize INTEGER NOT NULL DEFAULT -1
);
CREATE INDEX session_files_session ON session_files (session_id, id);
