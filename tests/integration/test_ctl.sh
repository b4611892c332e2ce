#!/bin/sh
# luaotactl end to end: runs the built binary against a database in a
# temporary directory and checks exit codes, stdout and stderr of the
# success and error paths, human and --json output.  Prints TAP.
#   test_ctl.sh PATH/TO/luaotactl PATH/TO/chip_seen
# chip_seen notes a check-in through the store, as the daemon does.
set -u
ctl=$1
chip_seen=$2
# A tmpfs when there is one: every command commits, with fsync.
tmp=${TMPDIR:-/tmp}
[ -w /dev/shm ] && tmp=/dev/shm
work=$(mktemp -d -p "$tmp" --suffix=.luaotactl-test) || exit 1
trap 'rm -rf "$work"' EXIT
unset LUAOTA_DB
db="$work/inv.db"
n=0
failed=0
jsons=0

pass() {
	n=$((n + 1))
	echo "ok $n - $1"
}

fail() {
	n=$((n + 1))
	failed=$((failed + 1))
	echo "not ok $n - $1"
	for f in out err; do
		[ -s "$work/$f" ] && sed "s/^/# $f: /" "$work/$f"
	done
}

# run RC DESCRIPTION ARGS...: runs luaotactl -D $db ARGS, wants exit RC.
run() {
	want=$1
	desc=$2
	shift 2
	"$ctl" -D "$db" "$@" >"$work/out" 2>"$work/err" </dev/null
	got=$?
	if [ "$got" -eq "$want" ]; then
		pass "$desc: exit $want"
	else
		fail "$desc: exit $got, wanted $want"
	fi
}

# out_has / err_has TEXT: the last run's stdout / stderr holds TEXT.
out_has() {
	if grep -qF -- "$1" "$work/out"; then
		pass "stdout has '$1'"
	else
		fail "stdout lacks '$1'"
	fi
}

err_has() {
	if grep -qF -- "$1" "$work/err"; then
		pass "stderr has '$1'"
	else
		fail "stderr lacks '$1'"
	fi
}

out_lacks() {
	if grep -qF -- "$1" "$work/out"; then
		fail "stdout shows '$1'"
	else
		pass "stdout does not show '$1'"
	fi
}

# json_ok DESCRIPTION EXPR: EXPR (Python, over the parsed stdout d) holds.
# Checked all at once at the end: one interpreter start, not one each.
json_ok() {
	jsons=$((jsons + 1))
	cp "$work/out" "$work/json.$jsons"
	printf '%s\t%s\t%s\n' "$work/json.$jsons" "$1" "$2" >>"$work/checks"
}

# Runs the recorded JSON checks, numbering them on from the others.
json_checks() {
	[ -s "$work/checks" ] || return 0
	python3 - "$work/checks" "$n" >"$work/tap" <<'PY'
import json, sys
n = int(sys.argv[2])
for line in open(sys.argv[1]):
    path, desc, expr = line.rstrip("\n").split("\t", 2)
    n += 1
    try:
        d = json.load(open(path))
        good = bool(eval(expr))
        why = expr
    except Exception as e:
        good, why = False, f"{expr}: {e!r}"
    print(f"ok {n} - json: {desc}" if good else f"not ok {n} - json: {desc} ({why})")
PY
	cat "$work/tap"
	n=$((n + $(grep -c '^\(not \)\?ok' "$work/tap")))
	failed=$((failed + $(grep -c '^not ok' "$work/tap")))
}

# sql QUERY: runs QUERY on the test database (fixtures and checks).
sql() {
	sqlite3 -batch "$db" "$1"
}

mkdir -p "$work/repo/lua" "$work/other/lua"

# Usage and help.
run 0 "--help" --help
out_has "Exit status:"
out_has "group add NAME"
run 2 "no command"
run 2 "unknown command" bogus
err_has "luaotactl: unknown command: bogus"
run 2 "unknown subcommand" group bogus
err_has "luaotactl: unknown command: group bogus"
run 0 "command help" add --help
out_has "usage: luaotactl [-c CONFIG] [-D DATABASE] add CHIPID --group NAME"
run 2 "unknown option" list --bogus
err_has "luaotactl: list: unknown option --bogus"
run 2 "usage error" add 1234 --group g --protocol v3
err_has "usage: luaotactl [-c CONFIG] [-D DATABASE] add CHIPID --group NAME"

# Reading a database that is not there is an error, not a creation.
run 1 "list without a database" list
err_has "luaotactl: cannot open the inventory: $db"
[ -e "$db" ] && fail "list created $db" || pass "list created nothing"

# A fresh install ships an empty file (tmpfiles.d): it reads as empty.
: >"$db"
run 0 "list of an empty database file" list
out_has "CHIP"
run 0 "list --json of an empty database file" list --json
json_ok "an empty file is an empty inventory" 'd == []'
rm -f "$db" "$db-wal" "$db-shm"

# Groups.
run 1 "group add with a missing repository directory" group add g \
	--repo "$work/missing" --files init.lua
err_has "luaotactl: cannot add group g: $work/missing: No such file or directory"
run 2 "group add without --files" group add g --repo "$work/repo/lua"
err_has "missing --files"
run 2 "group add with a bad action" group add g --repo "$work/repo/lua" \
	--files init.lua --action init.lua=zz
run 2 "group add with an action for an unlisted file" group add g \
	--repo "$work/repo/lua" --files init.lua --action x.lua=cm
run 2 "group add with a bad --config" group add g --repo "$work/repo/lua" \
	--files init.lua --config '[1]'
run 2 "group add with a bad --lua" group add g --repo "$work/repo/lua" \
	--files init.lua --lua 5.2
run 0 "group add" group add g --repo "$work/repo/lua/." \
	--files init.lua,app.lua,data.txt --action app.lua=dl --lua 5.3 \
	--max-file-size 4096 --config '{"port": 8266}'
[ "$(stat -c %a "$db")" = 600 ] &&
	pass "the database is created private (it holds secrets)" ||
	fail "database mode $(stat -c %a "$db")"
[ "$(sql "SELECT name || '|' || path FROM repositories")" = "lua|$work/repo/lua" ] &&
	pass "repository named after its directory, path resolved" ||
	fail "repository row: $(sql 'SELECT * FROM repositories')"
[ "$(sql "SELECT group_concat(name || '=' || action, ',') FROM
	(SELECT * FROM group_files ORDER BY position)")" = \
	"init.lua=auto,app.lua=dl,data.txt=auto" ] &&
	pass "group files and actions stored in order" ||
	fail "group files: $(sql 'SELECT * FROM group_files')"
[ "$(sql "SELECT config_json || '|' || lua_version || '|' || max_file_size
	FROM groups")" = '{"port":8266}|53|4096' ] &&
	pass "group config, Lua version and size policy stored" ||
	fail "group row: $(sql 'SELECT * FROM groups')"
run 1 "duplicate group" group add g --repo "$work/repo/lua" --files a.lua
err_has "luaotactl: cannot add group g: it already exists"
run 0 "second group, same directory" group add h --repo "$work/repo/lua" \
	--files init.lua
run 0 "third group, same basename elsewhere" group add k \
	--repo "$work/other/lua" --files init.lua
[ "$(sql "SELECT group_concat(name, ',') FROM repositories")" = "lua,lua-2" ] &&
	pass "repositories reused by path, names made unique" ||
	fail "repositories: $(sql 'SELECT * FROM repositories')"

# Chips.
run 0 "add with a generated secret" add 11223344 --group g --label "bench 1"
secret=$(sed -n 's/^secret: //p' "$work/out")
echo "$secret" | grep -qxE '[0-9a-f]{32}' && [ "$(wc -l <"$work/out")" = 1 ] &&
	pass "generated secret printed once, labelled, 32 hex characters" ||
	fail "generated secret: '$(cat "$work/out")'"
[ "$(sql "SELECT secret FROM chips WHERE id = '11223344'")" = "$secret" ] &&
	pass "generated secret stored" || fail "secret not stored"
run 0 "add with a given secret" add esp-kitchen --group h --secret given-s3cret
[ -s "$work/out" ] && fail "a given secret was echoed" ||
	pass "a given secret is not echoed"
printf 'stdin-s3cret\n' | "$ctl" -D "$db" add 42 --group g --secret - \
	>"$work/out" 2>"$work/err" &&
	[ "$(sql "SELECT secret FROM chips WHERE id = '42'")" = stdin-s3cret ] &&
	pass "add --secret - reads the secret from stdin" ||
	fail "add --secret -"
run 1 "duplicate chip" add 11223344 --group g
err_has "luaotactl: cannot add chip 11223344: it already exists"
run 1 "unknown group" add 555 --group nosuch
err_has "luaotactl: cannot add chip 555: no such group: nosuch"
run 2 "chip id with a space" add "a b" --group g
err_has "luaotactl: add: bad chip id 'a b'"
run 2 "chip id too long" add 123456789012345678901 --group g
run 2 "add without --group" add 777
err_has "missing --group"
run 2 "secret with a space" add 778 --group g --secret "two words"
out_lacks "two words"
if grep -qF "two words" "$work/err"; then
	fail "a bad secret was echoed on stderr"
else
	pass "a bad secret is not echoed"
fi

# list, human and JSON: never a secret.
run 0 "list" list
out_has "CHIP"
out_has "LAST SEEN"
out_has "11223344"
out_has "bench 1"
out_has "never"
out_lacks "$secret"
out_lacks "given-s3cret"
run 0 "list --json" list --json
out_lacks "$secret"
out_lacks "secret"
json_ok "chips ordered by id" '[c["id"] for c in d] == ["11223344", "42", "esp-kitchen"]'
json_ok "chip fields" 'd[0]["group"] == "g" and d[0]["label"] == "bench 1" and d[0]["enabled"] is True and d[0]["last_seen"] is None'
json_ok "created is ISO 8601 UTC" 'd[0]["created"].endswith("Z") and "T" in d[0]["created"]'

# LUAOTA_DB is honoured, -D wins over it.
LUAOTA_DB=$db "$ctl" list >"$work/out" 2>"$work/err" &&
	grep -qF 11223344 "$work/out" && pass "LUAOTA_DB honoured" ||
	fail "LUAOTA_DB not honoured"
LUAOTA_DB=$work/nowhere.db "$ctl" -D "$db" list >"$work/out" 2>"$work/err" &&
	pass "-D wins over LUAOTA_DB" || fail "-D did not win over LUAOTA_DB"

# history: empty, then with rows written as the daemon would.
run 0 "history, empty" history
out_has "DURATION"
run 0 "history --json, empty" history --json
json_ok "empty history is an empty array" 'd == []'
sql "INSERT INTO sessions (id, chip_id, peer, started_ms, ended_ms, outcome,
	reason, revision, files_sent, bytes_sent) VALUES
	(1, '11223344', '192.0.2.7:4242', 1700000000250, 1700000001627,
	 'updated', NULL, 'worktree', 2, 2048),
	(2, 'stranger', '192.0.2.9:1000', 1700000005000, 1700000005003,
	 'rejected', 'unknown chip', NULL, 0, 0),
	(3, '11223344', '192.0.2.7:4243', 1700000009000, 0, 'started',
	 NULL, NULL, 0, 0);
	INSERT INTO session_files (session_id, name, action, bytes, result,
	lcsize) VALUES (1, 'init.lua', 'cm', 1500, 'OK', 900),
	(1, 'data.txt', 'dl', 548, 'OK', -1)"
run 0 "history" history
out_has "2023-11-14T22:13:20Z"
out_has "192.0.2.7:4242"
out_has "updated"
out_has "1.377s"
out_has "unknown chip"
out_has "SESSION"
out_has "REVISION"
sed -n 4p "$work/out" | grep -qE '^2023-11-14T22:13:20Z +1 +11223344 .* worktree ' &&
	pass "history rows show the session id and revision" ||
	fail "history row: $(sed -n 4p "$work/out")"
[ "$(sed -n 2p "$work/out" | cut -c1-20)" = "2023-11-14T22:13:29Z" ] &&
	pass "history newest first" || fail "history order"
run 0 "history of one chip, limited" history 11223344 --limit 1
[ "$(wc -l <"$work/out")" -eq 2 ] && pass "--limit 1: one row" ||
	fail "--limit 1 rows"
out_lacks "stranger"
run 0 "history --json" history --json --limit 0
json_ok "three sessions, newest first" '[s["id"] for s in d] == [3, 2, 1]'
json_ok "an open session has no end" 'd[0]["ended_ms"] is None and d[0]["duration_ms"] is None and d[0]["outcome"] == "started"'
json_ok "session fields" 'd[2]["chip"] == "11223344" and d[2]["peer"] == "192.0.2.7:4242" and d[2]["duration_ms"] == 1377 and d[2]["bytes_sent"] == 2048 and d[2]["time"] == "2023-11-14T22:13:20.250Z"'
json_ok "per-file rows" '[(f["name"], f["action"], f["lcsize"]) for f in d[2]["files"]] == [("init.lua", "cm", 900), ("data.txt", "dl", None)]'
json_ok "a rejection keeps its reason" 'd[1]["outcome"] == "rejected" and d[1]["reason"] == "unknown chip"'
run 2 "history with a bad --limit" history --limit -1
run 1 "history of an unknown chip" history 99999999
err_has "luaotactl: cannot show the history of 99999999: no such chip"
run 0 "history of a removed chip's rows" history stranger
out_has "unknown chip"

# group set, list, show, remove.
printf 'print("init")\n' >"$work/repo/lua/init.lua"
printf 'print("app")\n' >"$work/repo/lua/app.lua"
printf 'data\n' >"$work/repo/lua/data.txt"
run 1 "group set on an unknown group" group set nosuch --files a.lua
err_has "luaotactl: cannot change group nosuch: no such group"
run 2 "group set with a bad --lua" group set g --lua 4
run 0 "group set --files" group set h --files init.lua,data.txt \
	--action data.txt=dl
[ "$(sql "SELECT group_concat(name || '=' || action, ',') FROM
	(SELECT f.* FROM group_files f JOIN groups g ON g.id = f.group_id
	 WHERE g.name = 'h' ORDER BY position)")" = "init.lua=auto,data.txt=dl" ] &&
	pass "group set replaced the file list" ||
	fail "group h files: $(sql 'SELECT * FROM group_files')"
run 0 "group set --config '' clears, the rest stays" group set g --config ''
[ "$(sql "SELECT coalesce(config_json, 'NULL') || '|' || lua_version
	FROM groups WHERE name = 'g'")" = 'NULL|53' ] &&
	pass "config cleared, Lua version kept" ||
	fail "group g: $(sql "SELECT * FROM groups WHERE name = 'g'")"
run 0 "group list" group list
out_has "GROUP"
out_has "lua-2"
run 0 "group list --json" group list --json
json_ok "groups in name order" '[g["name"] for g in d] == ["g", "h", "k"]'
json_ok "group chips counted" 'd[0]["chips"] == 2 and d[2]["chips"] == 0'
run 0 "group show" group show h
out_has "data.txt"
out_has "working tree"
run 0 "group show --json" group show g --json
json_ok "group show fields" 'd["lua"] == "5.3" and d["max_file_size"] == 4096 and d["files"][1] == {"name": "app.lua", "action": "dl"}'
run 1 "group show, unknown" group show nosuch
err_has "luaotactl: cannot show group nosuch: no such group"
run 1 "group remove while chips use it" group remove g
err_has "luaotactl: cannot remove group g: group g has 2 chips"
run 0 "group remove" group remove k
run 1 "group remove, unknown" group remove k
err_has "no such group"

# Chips: set, show, list filters, remove.
run 0 "set label and overrides" set 42 label=porch server=10.0.0.9 port=9000
[ "$(sql "SELECT label || '|' || config_json FROM chips WHERE id = '42'")" = \
	'porch|{"server":"10.0.0.9","port":9000}' ] &&
	pass "set stored label and config overrides" ||
	fail "chip 42: $(sql "SELECT * FROM chips WHERE id = '42'")"
run 0 "set drops an override with an empty value" set 42 port=
[ "$(sql "SELECT config_json FROM chips WHERE id = '42'")" = \
	'{"server":"10.0.0.9"}' ] && pass "port dropped" || fail "port kept"
run 2 "set secret is refused" set 42 secret=x
err_has "secret cannot be set"
run 2 "set id is refused" set 42 id=7
run 2 "set a is refused" set 42 a=HI
run 2 "set an unknown key" set 42 colour=red
err_has "unknown key 'colour'"
run 2 "set a bad port" set 42 port=99999
run 1 "set on an unknown chip" set 999 label=x
err_has "luaotactl: cannot change chip 999: no such chip"
run 1 "set an unknown group" set 42 group=nosuch
err_has "no such group: nosuch"
run 0 "set group and enabled" set 42 group=h enabled=no
run 0 "show" show 42
out_has "porch"
out_has "10.0.0.9"
out_has "enabled:      no"
out_has "pending:"
run 0 "show --json" show 42 --json
out_lacks "stdin-s3cret"
json_ok "show fields" 'd["group"] == "h" and d["enabled"] is False and d["config"] == {"server": "10.0.0.9"} and d["manifest"] == ["init.lua", "data.txt"]'
json_ok "show pending" 'd["pending"]["send"] == ["init.lua", "data.txt"] and d["pending"]["current"] is False'
run 1 "show an unknown chip" show 999
err_has "luaotactl: cannot show chip 999: no such chip"
run 0 "list --group" list --group h --json
json_ok "list --group filters" '[c["id"] for c in d] == ["42", "esp-kitchen"]'
sql "UPDATE chips SET last_outcome = 'failed', last_seen = 1 WHERE id = '42'"
run 0 "list --failing" list --failing --json
json_ok "list --failing filters" '[c["id"] for c in d] == ["42"]'
sql "UPDATE chips SET last_seen = CAST(strftime('%s','now') AS INTEGER)
	WHERE id = 'esp-kitchen'"
run 0 "list --stale" list --stale 1 --json
json_ok "list --stale: old or never seen" '[c["id"] for c in d] == ["11223344", "42"]'
run 2 "list --stale with a bad number" list --stale soon
run 0 "list --stale, further back than any clock" list --stale 100000 --json
json_ok "list --stale: a chip never seen is always stale" '[c["id"] for c in d] == ["11223344"]'

# list --silent-for: no verified check-in for a while.  last_seen is
# written by the store call the daemon makes once a check-in verified.
now=$(date +%s)
"$chip_seen" "$db" 42 $((now - 7200)) 2>"$work/err" &&
	"$chip_seen" "$db" esp-kitchen $((now - 600)) 2>>"$work/err" &&
	pass "check-ins noted through the store" ||
	fail "chip_seen failed"
run 0 "list --silent-for 1h" list --silent-for 1h --json
json_ok "--silent-for 1h: silent for two hours, and never seen" '[c["id"] for c in d] == ["11223344", "42"]'
json_ok "--silent-for: last seen, null when never" 'd[0]["last_seen"] is None and d[1]["last_seen"].endswith("Z") and d[1]["last_address"] == "192.0.2.1"'
run 0 "list --silent-for 5m" list --silent-for 5m --json
json_ok "--silent-for 5m: seen ten minutes ago is silent too" '[c["id"] for c in d] == ["11223344", "42", "esp-kitchen"]'
run 0 "list --silent-for 3h" list --silent-for 3h --json
json_ok "--silent-for 3h: only the chip never seen" '[c["id"] for c in d] == ["11223344"]'
run 0 "list --silent-for 1d, human" list --silent-for 1d
out_has "LAST SEEN"
out_has "11223344"
out_has "never"
out_lacks "esp-kitchen"
run 0 "list --silent-for in seconds" list --silent-for 3000s --json
json_ok "--silent-for 3000s" '[c["id"] for c in d] == ["11223344", "42"]'
run 0 "list --silent-for in minutes, one group" list --silent-for 90m \
	--group h --json
json_ok "--silent-for with --group" '[c["id"] for c in d] == ["42"]'
run 0 "list --silent-for, further back than any clock" list \
	--silent-for 100000000000000d --json
json_ok "--silent-for: a chip never seen is always silent" '[c["id"] for c in d] == ["11223344"]'
run 2 "list --silent-for without a unit" list --silent-for 7
err_has "luaotactl: list: bad --silent-for '7'"
run 2 "list --silent-for, negative" list --silent-for -1h
run 2 "list --silent-for, unknown unit" list --silent-for 2w
run 2 "list --silent-for, too long" list --silent-for 200000000000000d
run 2 "list --silent-for without a value" list --silent-for
run 2 "list --silent-for with --stale" list --silent-for 1d --stale 1
err_has "give one"

# diff and reprovision.
run 0 "diff" diff 42
out_has "send     init.lua"
out_has "compiled to init.lc"
out_has "fits one session: yes"
run 0 "diff --json" diff 42 --json
json_ok "diff steps" '[(s["name"], s["action"]) for s in d[0]["send"]] == [("init.lua", "cm"), ("data.txt", "dl")] and d[0]["bytes"] == 19'
json_ok "diff config" 'd[0]["config"] == {"server": "10.0.0.9"} and d[0]["current"] is False'
run 0 "diff --group" diff --group h --json
json_ok "diff --group: every chip of it" '[c["chip"] for c in d] == ["42", "esp-kitchen"]'
run 2 "diff without a chip or group" diff
run 1 "diff an unknown chip" diff 999
err_has "luaotactl: cannot diff chip 999: no such chip"
run 1 "diff an unknown group" diff --group nosuch
err_has "no such group: nosuch"
sql "UPDATE chips SET chk = 'abc' WHERE group_id = (SELECT id FROM groups
	WHERE name = 'h')"
run 0 "reprovision a chip" reprovision 42
[ "$(sql "SELECT coalesce(chk, 'NULL') FROM chips WHERE id = '42'")" = NULL ] &&
	pass "reprovision forgot the chk" || fail "chk kept"
run 0 "reprovision a group" reprovision --group h
out_has "2 chips"
[ "$(sql "SELECT count(*) FROM chips WHERE chk IS NOT NULL")" = 0 ] &&
	pass "reprovision --group forgot every chk" || fail "chk kept"
run 1 "reprovision an unknown chip" reprovision 999
err_has "no such chip"

# Repositories.
run 0 "repo add" repo add code "$work/repo/lua"
run 1 "repo add, duplicate" repo add code "$work/repo/lua"
err_has "luaotactl: cannot add repository code: it already exists"
run 1 "repo add, missing directory" repo add gone "$work/missing"
err_has "No such file or directory"
run 1 "repo add, a ref on a plain directory" repo add refd "$work/repo/lua" \
	--ref main
err_has "not a git repository"
run 2 "repo add, bad name" repo add "a b" "$work/repo/lua"
run 0 "repo list" repo list
out_has "code"
out_has "(worktree)"
run 0 "repo list --json" repo list --json
json_ok "repositories with revisions" '[(r["name"], r["revision"]) for r in d] == [("code", "worktree"), ("lua", "worktree"), ("lua-2", "worktree")]'
run 0 "group add --repo NAME" group add byname --repo code --files init.lua
[ "$(sql "SELECT r.name FROM groups g JOIN repositories r ON r.id = g.repo_id
	WHERE g.name = 'byname'")" = code ] &&
	pass "--repo names a registered repository" || fail "--repo by name"
run 0 "group set --repo NAME" group set byname --repo lua
run 0 "group remove byname" group remove byname
run 0 "repo show --json" repo show lua --json
json_ok "repo show groups" 'd["groups"] == ["g", "h"] and d["ref"] is None'
run 1 "repo show, unknown" repo show nosuch
err_has "no such repository"

# history filters and one session.
sql "INSERT INTO sessions (id, chip_id, peer, started_ms, ended_ms, outcome,
	reason) VALUES (10, '42', '192.0.2.8:1', 1800000000000,
	1800000000100, 'failed', 'device: write failed (x)');
	INSERT INTO session_files (session_id, name, action, bytes, result)
	VALUES (10, 'x.bin', 'dl', 10, 'write failed')"
run 0 "history --failed" history --failed --json
json_ok "--failed: failed and rejected only" '[s["id"] for s in d] == [10, 2]'
run 0 "history --since" history --since 2027-01-01 --json
json_ok "--since: later sessions only" '[s["id"] for s in d] == [10]'
run 2 "history --since garbage" history --since yesterday-ish
run 0 "history show" history show 10
out_has "device: write failed (x)"
out_has "x.bin"
run 0 "history show --json" history show 1 --json
json_ok "history show: files" 'd["id"] == 1 and len(d["files"]) == 2'
run 1 "history show, unknown" history show 77
err_has "luaotactl: cannot show session 77: no such session"

# status, export, check, backup.
run 0 "status" status
out_has "chips:"
out_has "last check-in:"
run 0 "status --json" status --json --since 2000-01-01
json_ok "status counts" 'd["chips"] == 3 and d["open"] == 1 and d["outcomes"]["failed"] == 1'
run 0 "export" export
out_lacks "secret"
json_ok "export holds the inventory" '[c["id"] for c in d["chips"]] == ["11223344", "42", "esp-kitchen"] and len(d["groups"]) == 2'
run 0 "export --with-secrets" export --with-secrets
json_ok "export --with-secrets" 'd["chips"][1]["secret"] == "stdin-s3cret"'
printf 'x = = 1\n' >"$work/repo/lua/app.lua"
run 1 "check with a file that does not compile" check
out_has "ok: database integrity"
out_has "problem: group g:"
err_has "luaotactl: check found"
run 1 "check --json" check --json
json_ok "check --json lists problems" 'd["ok"] is False and any("group g" in p for p in d["problems"])'
run 0 "backup" backup "$work/copy.db"
[ "$(sqlite3 "$work/copy.db" "SELECT count(*) FROM chips")" = 3 ] &&
	pass "the backup holds the chips" || fail "backup content"
run 1 "backup over an existing file" backup "$work/copy.db"
err_has "it exists"

# import: a directory laid out for the example server.
mkdir "$work/old"
printf 'print(1)\n' >"$work/old/a.lua"
printf 'x\n' >"$work/old/b.txt"
printf '{"files":["a.lua","b.txt"],"secret":"s1"}' >"$work/old/ESP-100.json"
printf '{"files":["a.lua","b.txt"],"secret":"s2"}' >"$work/old/ESP-200.json"
printf '{"files":["a.lua"],"secret":"s3"}' >"$work/old/ESP-300.json"
printf '{"files":["a.lua"]}' >"$work/old/default.json"
run 0 "import" import "$work/old"
out_has "created repository old"
out_has "created group imported-1 (2 files)"
out_has "created chip 300 (group imported-2)"
[ "$(sql "SELECT secret FROM chips WHERE id = '200'")" = s2 ] &&
	pass "import kept the secrets" || fail "import secrets"
run 0 "import again" import "$work/old"
out_has "skipped chip 100 (already registered)"
out_lacks "created"
run 1 "import a directory without example files" import "$work/repo"
err_has "no ESP-<id>.json or default.json"

# pull: queued here, fetched by the daemon.
run 0 "pull" pull 300 init.lua
out_has "1"
run 1 "pull from an unknown chip" pull 999 init.lua
err_has "luaotactl: cannot pull from chip 999: no such chip"
run 2 "pull a bad name" pull 300 ../x
run 0 "pulls" pulls
out_has "pending"
run 0 "pulls --json" pulls 300 --json
json_ok "pulls fields" 'd[0]["chip"] == "300" and d[0]["name"] == "init.lua" and d[0]["state"] == "pending" and d[0]["size"] is None'
run 0 "pulls show" pulls show 1
out_has "state:    pending"
run 1 "pulls show --output of a pending pull" pulls show 1 --output "$work/p"
err_has "it is pending"
run 1 "pulls show, unknown" pulls show 9
err_has "no such pull"

# remove.
run 0 "remove" remove 300
run 1 "remove, unknown" remove 300
err_has "luaotactl: cannot remove chip 300: no such chip"

# A locked database: a clear error within the wait.
mkfifo "$work/hold"
python3 -c 'import sqlite3, sys
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.read()' "$db" <"$work/hold" >"$work/locked" &
holder=$!
exec 9>"$work/hold"
while ! grep -q locked "$work/locked"; do :; done
"$ctl" -D "$db" -w 50 add 5150 --group h --secret s >"$work/out" 2>"$work/err"
[ $? -eq 1 ] && pass "add on a locked database: exit 1" ||
	fail "add on a locked database"
err_has "database is locked"
run 0 "list reads while another process writes" list
exec 9>&-
wait "$holder"

# A read-only database (root ignores file modes: skipped).
if [ "$(id -u)" -eq 0 ]; then
	n=$((n + 1))
	echo "ok $n - add on a read-only database # SKIP running as root"
else
	chmod 400 "$db"
	run 1 "add on a read-only database" add 5151 --group h --secret s
	err_has "readonly database"
	chmod 600 "$db"
fi
# Protocol v2 chips: a 256-bit key, and the device's config.
run 0 "add a v2 chip with its device config" add v2chip --group g \
	--protocol v2 --device-config "$work/v2config.json"
[ "$(sql "SELECT protocol || ':' || length(v2_key) FROM chips WHERE id = 'v2chip'")" = "2:64" ] &&
	pass "v2 chip stored with protocol 2 and a 256-bit key" ||
	fail "v2 chip row: $(sql "SELECT protocol, length(v2_key) FROM chips WHERE id = 'v2chip'")"
key=$(sql "SELECT v2_key FROM chips WHERE id = 'v2chip'")
[ "$(cat "$work/v2config.json")" = "{\"key\":\"$key\"}" ] &&
	pass "device config holds the key" || fail "device config: $(cat "$work/v2config.json")"
[ "$(stat -c %a "$work/v2config.json")" = 600 ] &&
	pass "device config readable by its owner only" || fail "device config mode"
out_lacks "$key"
run 0 "add a v2 chip without a device config" add v2chip2 --group g --protocol v2
[ "$(sed -n 2p "$work/out")" = "v2 key: $(sql "SELECT v2_key FROM chips WHERE id = 'v2chip2'")" ] &&
	sed -n 1p "$work/out" | grep -qxE 'secret: [0-9a-f]{32}' &&
	pass "v2 key printed once, labelled, without --device-config" || fail "v2 key not printed"
run 2 "add with a bad protocol" add v2chip3 --group g --protocol v3
err_has "bad protocol 'v3'"

# A file that is no database is refused, and left alone.
printf 'this is not a database at all\n' >"$work/junk.db"
db=$work/junk.db
run 1 "list on a file that is no database" list
err_has "not a usable database"
run 1 "add on a file that is no database" add 1 --group g
[ "$(cat "$work/junk.db")" = "this is not a database at all" ] &&
	pass "the file is untouched" || fail "the file was changed"

json_checks
echo "1..$n"
[ "$failed" -eq 0 ]
