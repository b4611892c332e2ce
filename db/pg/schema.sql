-- luaotad inventory on PostgreSQL, schema version 1: the same tables,
-- columns and checks as db/schema.sql (whose comments explain them), in
-- PostgreSQL's types.  Migration N here matches migration N there.
-- Times are Unix seconds (BIGINT) unless a name says _ms.

-- What several daemons must see change: a counter that every write to the
-- provisioning setup (not the history) bumps, read as the data version.
CREATE TABLE inventory_version (
	only_row BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (only_row),
	version BIGINT NOT NULL
);
INSERT INTO inventory_version VALUES (TRUE, 0);

CREATE FUNCTION bump_inventory_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	UPDATE inventory_version SET version = version + 1;
	RETURN NULL;
END
$$;

CREATE TABLE repositories (
	id BIGSERIAL PRIMARY KEY,
	name TEXT NOT NULL UNIQUE,
	path TEXT NOT NULL,
	ref TEXT
);
CREATE INDEX repositories_path ON repositories (path);

CREATE TABLE groups (
	id BIGSERIAL PRIMARY KEY,
	name TEXT NOT NULL UNIQUE,
	repo_id BIGINT NOT NULL REFERENCES repositories (id),
	config_json TEXT,
	max_file_size BIGINT NOT NULL DEFAULT 0 CHECK (max_file_size >= 0),
	lua_version INTEGER NOT NULL DEFAULT 51 CHECK (lua_version IN (51, 53))
);
CREATE INDEX groups_repo ON groups (repo_id);

CREATE TABLE group_files (
	group_id BIGINT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
	position INTEGER NOT NULL,
	name TEXT NOT NULL,
	action TEXT NOT NULL DEFAULT 'auto' CHECK (action IN ('auto', 'dl', 'cm')),
	PRIMARY KEY (group_id, name)
);

CREATE TABLE chips (
	id TEXT PRIMARY KEY NOT NULL,
	label TEXT,
	secret TEXT NOT NULL,
	group_id BIGINT NOT NULL REFERENCES groups (id),
	config_json TEXT,
	protocol INTEGER NOT NULL DEFAULT 1,
	enabled INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
	created BIGINT NOT NULL,
	first_seen BIGINT NOT NULL DEFAULT 0,
	last_seen BIGINT NOT NULL DEFAULT 0,
	last_addr TEXT,
	last_outcome TEXT,
	chk TEXT,
	revision TEXT
);
CREATE INDEX chips_group ON chips (group_id);

CREATE TABLE held_files (
	chip_id TEXT NOT NULL REFERENCES chips (id) ON DELETE CASCADE,
	name TEXT NOT NULL,
	token TEXT NOT NULL,
	PRIMARY KEY (chip_id, name)
);

CREATE TABLE sessions (
	id BIGSERIAL PRIMARY KEY,
	chip_id TEXT,
	peer TEXT NOT NULL,
	started_ms BIGINT NOT NULL,
	ended_ms BIGINT NOT NULL DEFAULT 0,
	outcome TEXT NOT NULL DEFAULT 'started' CHECK (outcome IN
		('started', 'current', 'updated', 'partial', 'failed',
		 'rejected', 'interrupted')),
	reason TEXT,
	revision TEXT,
	files_sent BIGINT NOT NULL DEFAULT 0,
	bytes_sent BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX sessions_chip_time ON sessions (chip_id, started_ms);
CREATE INDEX sessions_time ON sessions (started_ms);
CREATE INDEX sessions_open ON sessions (outcome) WHERE outcome = 'started';

CREATE TABLE session_files (
	id BIGSERIAL PRIMARY KEY,
	session_id BIGINT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
	name TEXT NOT NULL,
	action TEXT NOT NULL CHECK (action IN ('dl', 'cm', 'delete')),
	bytes BIGINT NOT NULL DEFAULT 0,
	result TEXT,
	lcsize BIGINT NOT NULL DEFAULT -1
);
CREATE INDEX session_files_session ON session_files (session_id, id);

CREATE TRIGGER repositories_version AFTER INSERT OR UPDATE OR DELETE
	ON repositories FOR EACH STATEMENT
	EXECUTE FUNCTION bump_inventory_version();
CREATE TRIGGER groups_version AFTER INSERT OR UPDATE OR DELETE
	ON groups FOR EACH STATEMENT EXECUTE FUNCTION bump_inventory_version();
CREATE TRIGGER group_files_version AFTER INSERT OR UPDATE OR DELETE
	ON group_files FOR EACH STATEMENT
	EXECUTE FUNCTION bump_inventory_version();
-- A chip's check-ins (last_seen, chk) are not the setup: only these are.
CREATE TRIGGER chips_version AFTER INSERT OR DELETE OR UPDATE OF
	group_id, enabled, config_json, secret, protocol
	ON chips FOR EACH STATEMENT EXECUTE FUNCTION bump_inventory_version();
