#!/bin/sh
# luaotactl end to end: runs the built binary against a database in a
# temporary directory and checks exit codes, stdout and stderr of the
# success and error paths, human and --json output.  Prints TAP.
#   test_ctl.sh PATH/TO/luaotactl
set -u
ctl=$1
# A tmpfs when there is one: every command commits, with fsync.
tmp=${TMPDIR:-/tmp}
[ -w /dev/shm ] && tmp=/dev/shm
work=$(mktemp -d "$tmp/luaotactl-test.XXXXXX") || exit 1
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
out_has "usage: luaotactl [-D DATABASE] add CHIPID --group NAME"
run 2 "unknown option" list --bogus
err_has "luaotactl: list: unknown option --bogus"

# Reading a database that is not there is an error, not a creation.
run 1 "list without a database" list
err_has "luaotactl: cannot open the inventory: $db"
[ -e "$db" ] && fail "list created $db" || pass "list created nothing"

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
secret=$(cat "$work/out")
echo "$secret" | grep -qxE '[0-9a-f]{32}' &&
	pass "generated secret printed once, 32 hex characters" ||
	fail "generated secret: '$secret'"
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
[ "$(sed -n 2p "$work/out")" = "$(sql "SELECT v2_key FROM chips WHERE id = 'v2chip2'")" ] &&
	pass "v2 key printed once without --device-config" || fail "v2 key not printed"
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
