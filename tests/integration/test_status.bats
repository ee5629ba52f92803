#!/usr/bin/env bats
# Sync status for the clerk and the administrator: `xinfangctl status`
# with the daemon stopped and running, after offline records and a sync,
# with a node that never synced, with a fork and a refused clock; the
# township's GET /v1/status and /metrics behind the admin token.

load helper

bats_require_minimum_version 1.5.0

TOWN=370102003
VA=370102003001
VB=370102003002
TOKEN=0123456789abcdef-admin-token

setup() {
	make_township town $TOWN
	printf '%s\n' "$TOKEN" >"$BATS_TEST_TMPDIR/admin.token"
	chmod 600 "$BATS_TEST_TMPDIR/admin.token"
	printf 'admin_token_file = %s\nstale_after = 3600\n' "$BATS_TEST_TMPDIR/admin.token" >>"$BATS_TEST_TMPDIR/town.conf"
	make_village a $VA town 60
	make_village b $VB town 60
	URL=http://127.0.0.1:$(cat "$BATS_TEST_TMPDIR/town.port")
}

teardown() {
	stop_all
}

# status_of NAME EXPRS: Python expressions over `status --json` (s).
status_of() {
	on "$1" status --json | python3 -c "import json, sys; s = json.load(sys.stdin); print($2)"
}

# peer_of NAME NODE EXPRS: the same over NAME's row (p) for NODE.
peer_of() {
	on "$1" status --json | python3 -c "
import json, sys
p = [p for p in json.load(sys.stdin)['peers'] if p['node'] == '$2'][0]
print($3)"
}

@test "a village's status: offline records pending, then nothing pending after a sync; the daemon stopped" {
	on a visit add --people 2 --category 土地纠纷 --summary 村民反映 >/dev/null
	on a visit add --people 1 --category 其他 --summary 来访 >/dev/null
	run on a status --json
	[ "$status" -eq 0 ]
	printf '%s' "$output" | python3 -c '
import json, sys
s = json.load(sys.stdin)
for k in ("node", "role", "pending", "last_sync", "last_error", "peers"):
    assert k in s, k
assert s["node"] == "'$VA'" and s["role"] == "village", s
assert s["pending"] == 4, s          # its key, its enrolment of the township, two visits
assert s["last_sync"] is None and s["last_error"] is None, s
assert s["daemon"]["running"] is False and s["peers"] == [], s'
	run on a status
	[[ "$output" == *"not running"* ]]
	[[ "$output" == *"4 events not yet acknowledged"* ]]
	[[ "$output" == *"never"* ]]
	start town
	on a sync >/dev/null
	[ "$(status_of a 's["pending"], s["last_error"], s["last_sync"] is not None, s["last_sync_ago_s"] < 60')" = "0 None True True" ]
	# The township's act on a's case reaches a: it counts as received.
	case_a=$(on a case open --title 征地补偿 --from "$(on a visit add --people 1 --category 其他 --summary 来访)")
	on a sync >/dev/null
	[ "$(status_of a 's["received"]')" -eq 0 ]
	on town case assign "$case_a" --leader 王书记 >/dev/null
	on a sync >/dev/null
	[ "$(status_of a 's["received"], s["pending"]')" = "1 0" ]
}

@test "a village's status with the upstream down: the error in plain words, the pending count exact" {
	on a visit add --people 2 --category 土地纠纷 --summary 村民反映 >/dev/null
	run on a sync
	[ "$status" -ne 0 ]
	[ "$(status_of a 's["pending"]')" -eq 3 ]
	[[ "$(status_of a 's["last_error"]')" == *"127.0.0.1"* ]]
	# An upstream never reached says nothing of our clock.
	[ "$(status_of a 's["skew_ms"]')" = None ]
	run on a status
	[[ "$output" == *"last error"*"127.0.0.1"* ]]
	# The link comes back: the error is history.
	start town
	on a sync >/dev/null
	[ "$(status_of a 's["last_error"], s["pending"]')" = "None 0" ]
}

@test "the township's rows: a synced village with its head and lag, one never seen flagged, a fork counted" {
	start town
	on a visit add --people 2 --category 土地纠纷 --summary 村民反映 >/dev/null
	on a sync >/dev/null
	run on town status --json
	printf '%s' "$output" | python3 -c '
import json, sys
s = json.load(sys.stdin)
rows = {p["node"]: p for p in s["peers"]}
assert set(rows) == {"'$VA'", "'$VB'"}, rows
a, b = rows["'$VA'"], rows["'$VB'"]
for k in ("node", "last_seen", "head", "lag", "forks"):
    assert k in a, k
assert a["head"] == 3 and a["held"] == 3 and a["lag"] == 0 and a["forks"] == 0, a
assert a["last_seen"] is not None and a["stale"] is False and a["software"], a
assert abs(a["skew_ms"]) < 60000, a
assert b["last_seen"] is None and b["stale"] is True, b
# With no upstream, nothing waits to go up.
assert s["upstream"] is None and s["pending"] is None, s'
	run on town status
	[[ "$output" == *"$VB"*"never"*"[not seen within stale_after]"* ]]
	# A different event for a seq the township holds, validly signed: a fork.
	craft request --count 1 "$BATS_TEST_TMPDIR/a" $VA >"$BATS_TEST_TMPDIR/one"
	craft request --count 1 "$BATS_TEST_TMPDIR/a" $VA >"$BATS_TEST_TMPDIR/other"
	for f in one other; do
		curl -sS -o /dev/null -H "Content-Type: application/msgpack" \
			-H "Authorization: $(craft auth "$BATS_TEST_TMPDIR/a" $VA now <"$BATS_TEST_TMPDIR/$f")" \
			--data-binary "@$BATS_TEST_TMPDIR/$f" "$URL/v1/sync"
	done
	[ "$(peer_of town $VA 'p["forks"]')" -eq 1 ]
	[ "$(status_of town 's["forks"]')" -eq 1 ]
}

@test "a village whose clock is off is refused, and the township's status says so" {
	start town
	printf '\x81\xa3cur\x92\x00\x00' >"$BATS_TEST_TMPDIR/body"
	curl -sS -o /dev/null -H "Content-Type: application/msgpack" \
		-H "Authorization: $(craft auth "$BATS_TEST_TMPDIR/a" $VA now+7200000 <"$BATS_TEST_TMPDIR/body")" \
		--data-binary "@$BATS_TEST_TMPDIR/body" "$URL/v1/sync"
	[[ "$(peer_of town $VA 'p["last_error"]')" == *"clock +7200 s off"* ]]
	[ "$(peer_of town $VA 'p["last_error_at"] is not None')" = True ]
}

@test "status shows the running daemon's state; a second daemon on the same data dir is refused" {
	start town
	start a
	until_true 10 eval '[ "$(status_of a "s[\"daemon\"][\"state\"] or \"\"")" != "" ] && [ "$(status_of a "s[\"pending\"]")" -eq 0 ]'
	[ "$(status_of a 's["daemon"]["running"], s["daemon"]["pid"] == '"$(cat "$BATS_TEST_TMPDIR/a.pid")"'')" = "True True" ]
	until_true 10 eval '[[ "$(status_of a "s[\"daemon\"][\"state\"]")" == "in sync "* ]]'
	run on a status
	[[ "$output" == *"running (pid"*"in sync"* ]]
	run --separate-stderr "$XF_D" -c "$BATS_TEST_TMPDIR/a.conf"
	[ "$status" -ne 0 ]
	[[ "$stderr" == *"already running"* ]]
	stop a
	[ "$(status_of a 's["daemon"]["running"]')" = False ]
}

@test "xinfangd refuses a config whose role is not its data dir's, in one line, touching nothing" {
	# A township's config over village a's data dir (it would serve
	# children no village may have), and a village's over the township's.
	sed -e "s|^id = .*|id = $VA|" -e "s|^data_dir = .*|data_dir = $BATS_TEST_TMPDIR/a|" \
		"$BATS_TEST_TMPDIR/town.conf" >"$BATS_TEST_TMPDIR/bad.conf"
	sed -e "s|^id = .*|id = $TOWN|" -e "s|^data_dir = .*|data_dir = $BATS_TEST_TMPDIR/town|" \
		"$BATS_TEST_TMPDIR/a.conf" >"$BATS_TEST_TMPDIR/bad2.conf"
	before=$(on a log --json | sha256sum)
	run --separate-stderr timeout 10 "$XF_D" -c "$BATS_TEST_TMPDIR/bad.conf"
	[ "$status" -ne 0 ] && [ "$status" -ne 124 ]
	[[ "$stderr" == *"$BATS_TEST_TMPDIR/a: data dir belongs to a village node, but $BATS_TEST_TMPDIR/bad.conf says role = township" ]]
	[ "$(printf '%s\n' "$stderr" | wc -l)" -eq 1 ]
	[ "$(on a log --json | sha256sum)" = "$before" ]
	run --separate-stderr timeout 10 "$XF_D" -c "$BATS_TEST_TMPDIR/bad2.conf"
	[ "$status" -ne 0 ] && [ "$status" -ne 124 ]
	[[ "$stderr" == *"data dir belongs to a township node, but $BATS_TEST_TMPDIR/bad2.conf says role = village" ]]
	# Their own configs start them.
	start town
	start a
	until_true 10 eval '[ "$(status_of a "s[\"pending\"]")" -eq 0 ]'
}

@test "xinfangd and --check-config refuse what the daemon could not run: a village without an upstream or with a server, a missing token" {
	sed '/^\[upstream\]/,$d' "$BATS_TEST_TMPDIR/a.conf" >"$BATS_TEST_TMPDIR/nourl.conf"
	for args in "" --check-config; do
		run --separate-stderr timeout 10 "$XF_D" -c "$BATS_TEST_TMPDIR/nourl.conf" $args
		[ "$status" -ne 0 ] && [ "$status" -ne 124 ]
		[[ "$stderr" == *"nourl.conf: a village needs [upstream] url"* ]]
	done
	cp "$BATS_TEST_TMPDIR/a.conf" "$BATS_TEST_TMPDIR/serving.conf"
	printf '[server]\nlisten = 127.0.0.1:%s\n' "$(free_port)" >>"$BATS_TEST_TMPDIR/serving.conf"
	run --separate-stderr timeout 10 "$XF_D" -c "$BATS_TEST_TMPDIR/serving.conf" --check-config
	[ "$status" -ne 0 ] && [ "$status" -ne 124 ]
	[[ "$stderr" == *"a village serves no other node"* ]]
	# Nor any [server] key: a token file on a village would open nothing.
	cp "$BATS_TEST_TMPDIR/a.conf" "$BATS_TEST_TMPDIR/tokened.conf"
	printf '[server]\nadmin_token_file = %s\n' "$BATS_TEST_TMPDIR/admin.token" >>"$BATS_TEST_TMPDIR/tokened.conf"
	run --separate-stderr timeout 10 "$XF_D" -c "$BATS_TEST_TMPDIR/tokened.conf" --check-config
	[ "$status" -ne 0 ] && [ "$status" -ne 124 ]
	[[ "$stderr" == *"a village serves no other node: take out [server]" ]]
	# A CA file that is not there is named at once, not at every sync.
	sed 's|^url = http://|url = https://|' "$BATS_TEST_TMPDIR/a.conf" >"$BATS_TEST_TMPDIR/ca.conf"
	echo "ca_file = $BATS_TEST_TMPDIR/none.pem" >>"$BATS_TEST_TMPDIR/ca.conf"
	run --separate-stderr timeout 10 "$XF_D" -c "$BATS_TEST_TMPDIR/ca.conf" --check-config
	[ "$status" -ne 0 ] && [ "$status" -ne 124 ]
	[[ "$stderr" == *"ca.conf: [upstream] ca_file $BATS_TEST_TMPDIR/none.pem: No such file or directory" ]]
	# What the township's start reads, --check-config reads too.
	run timeout 10 "$XF_D" -c "$BATS_TEST_TMPDIR/town.conf" --check-config
	[ "$status" -eq 0 ]
	# An address taken by another, or not this machine's: said as such.
	start town
	make_township town2 370102099
	sed -i "s|^listen = .*|listen = 127.0.0.1:$(cat "$BATS_TEST_TMPDIR/town.port")|" "$BATS_TEST_TMPDIR/town2.conf"
	run --separate-stderr timeout 10 "$XF_D" -c "$BATS_TEST_TMPDIR/town2.conf"
	[ "$status" -eq 1 ]
	[ "$stderr" = "<3>cannot serve on 127.0.0.1:$(cat "$BATS_TEST_TMPDIR/town.port"): Address already in use" ]
	sed -i "s|^listen = .*|listen = 192.0.2.1:8470|" "$BATS_TEST_TMPDIR/town2.conf"
	run --separate-stderr timeout 10 "$XF_D" -c "$BATS_TEST_TMPDIR/town2.conf"
	[ "$status" -eq 1 ]
	[ "$stderr" = "<3>cannot serve on 192.0.2.1:8470: Cannot assign requested address" ]
	stop town
	mv "$BATS_TEST_TMPDIR/admin.token" "$BATS_TEST_TMPDIR/admin.token.away"
	run --separate-stderr timeout 10 "$XF_D" -c "$BATS_TEST_TMPDIR/town.conf" --check-config
	[ "$status" -ne 0 ] && [ "$status" -ne 124 ]
	[[ "$stderr" == *admin.token* ]]
	# A bad command line: one line with a priority, exit 2.
	run --separate-stderr "$XF_D" --bogus
	[ "$status" -eq 2 ]
	[ "$stderr" = "<3>unknown option '--bogus' (usage: xinfangd [-c FILE] [--check-config])" ]
	run --separate-stderr "$XF_D" -c
	[ "$status" -eq 2 ]
	[ "$stderr" = "<3>option '-c' needs a value (usage: xinfangd [-c FILE] [--check-config])" ]
}

@test "GET /v1/status needs the admin token and says what status --json says; /metrics parses as Prometheus text" {
	start town
	on a visit add --people 2 --category 土地纠纷 --summary 村民反映 >/dev/null
	on a sync >/dev/null
	[ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/v1/status")" = 401 ]
	[ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer wrong-token-of-16+" "$URL/v1/status")" = 401 ]
	[ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/metrics")" = 401 ]
	[ "$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $TOKEN" "$URL/v1/status")" = 405 ]
	curl -sS -H "Authorization: Bearer $TOKEN" "$URL/v1/status" >"$BATS_TEST_TMPDIR/remote.json"
	on town status --json >"$BATS_TEST_TMPDIR/local.json"
	python3 - "$BATS_TEST_TMPDIR/remote.json" "$BATS_TEST_TMPDIR/local.json" <<'PY'
import json, sys
remote, local = (json.load(open(f)) for f in sys.argv[1:])
def still(s):  # what may move between the two reads
    s.pop("last_sync_ago_s", None)
    for p in s["peers"]:
        p.pop("last_seen_ago_s", None)
    return s
assert still(remote) == still(local), (remote, local)
assert remote["daemon"]["running"] is True
PY
	curl -sS -H "Authorization: Bearer $TOKEN" "$URL/metrics" >"$BATS_TEST_TMPDIR/metrics"
	/usr/bin/python3 - "$BATS_TEST_TMPDIR/metrics" "$VA" <<'PY'
import sys
from prometheus_client.parser import text_string_to_metric_families
text, va = open(sys.argv[1]).read(), sys.argv[2]
samples = {}
for family in text_string_to_metric_families(text):
    for s in family.samples:
        samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
def value(name, **labels):
    return samples[(name, tuple(sorted(labels.items())))]
assert value("xinfang_events_stored") >= 4, samples
assert value("xinfang_events_ingested_total") == 3
assert value("xinfang_events_rejected_total", reason="bad_signature") == 0
assert value("xinfang_node_lag_events", node=va) == 0
assert value("xinfang_node_last_seen_timestamp_seconds", node=va) > 1.7e9
assert value("xinfang_sync_duration_seconds_count") >= 1
assert value("xinfang_http_responses_total", code="200") >= 1
assert value("xinfang_http_responses_total", code="401") >= 3
# The text format: each family's samples together, under its HELP and
# TYPE (this parser takes them interleaved; stricter ones do not).
seen, current = set(), None
for line in text.splitlines():
    if line.startswith("# HELP "):
        current = line.split()[2]
        assert current not in seen, current
        seen.add(current)
    elif not line.startswith("#"):
        name = line.split("{")[0].split()[0]
        assert name == current or name in (current + "_bucket", current + "_sum", current + "_count"), (line, current)
assert {"xinfang_node_lag_events", "xinfang_node_last_seen_timestamp_seconds"} <= seen
PY
}

@test "without an admin_token_file the township serves no status; an unsafe token file stops it starting" {
	sed -i '/^admin_token_file/d' "$BATS_TEST_TMPDIR/town.conf"
	start town
	[ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$URL/v1/status")" = 403 ]
	stop town
	printf 'admin_token_file = %s\n' "$BATS_TEST_TMPDIR/admin.token" >>"$BATS_TEST_TMPDIR/town.conf"
	chmod 644 "$BATS_TEST_TMPDIR/admin.token"
	run --separate-stderr "$XF_D" -c "$BATS_TEST_TMPDIR/town.conf"
	[ "$status" -ne 0 ]
	[[ "$stderr" == *"chmod 600"* ]]
	chmod 600 "$BATS_TEST_TMPDIR/admin.token"
	echo short >"$BATS_TEST_TMPDIR/admin.token"
	run --separate-stderr "$XF_D" -c "$BATS_TEST_TMPDIR/town.conf"
	[ "$status" -ne 0 ]
	[[ "$stderr" == *"at least 16 characters"* ]]
}

@test "an admin token line over 512 characters stops the township rather than being cut; 512 open status" {
	long=$(printf '%0513d' 7)
	printf '%s\n' "$long" >"$BATS_TEST_TMPDIR/admin.token"
	run --separate-stderr timeout 10 "$XF_D" -c "$BATS_TEST_TMPDIR/town.conf"
	echo "$stderr" >&2
	[ "$status" -ne 0 ] && [ "$status" -ne 124 ]
	[[ "$stderr" == *"admin.token: the admin token must be one line of at most 512 characters" ]]
	[ "$(printf '%s\n' "$stderr" | wc -l)" -eq 1 ]
	# Its first 512 characters, on their own, are a token.
	printf '%s\n' "${long:0:512}" >"$BATS_TEST_TMPDIR/admin.token"
	start town
	[ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer ${long:0:512}" "$URL/v1/status")" = 200 ]
	[ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer ${long:0:511}" "$URL/v1/status")" = 401 ]
}

@test "under a systemd watchdog the daemons ping WATCHDOG=1 several times a period, village and township" {
	for n in town a; do
		notify_listen $n
		NOTIFY_SOCKET=$BATS_TEST_TMPDIR/$n.sock WATCHDOG_USEC=400000 start $n
	done
	sleep 2
	for n in town a; do
		pings=$(grep -cx 'WATCHDOG=1' "$BATS_TEST_TMPDIR/$n.notify")
		echo "$n: $pings pings in 2 s" >&2
		# At least two a period (400 ms), and no flood.
		[ "$pings" -ge 10 ] && [ "$pings" -le 60 ]
	done
}

@test "systemd is heard on an abstract NOTIFY_SOCKET too, and a watchdog meant for another process is not fed" {
	notify_listen a "@xf-notify-$$-$BATS_TEST_NUMBER"
	NOTIFY_SOCKET="@xf-notify-$$-$BATS_TEST_NUMBER" WATCHDOG_USEC=400000 WATCHDOG_PID=1 start a
	until_true 5 grep -qx 'READY=1' "$BATS_TEST_TMPDIR/a.notify"
	until_true 5 grep -q '^STATUS=' "$BATS_TEST_TMPDIR/a.notify"
	sleep 1
	[ "$(grep -cx 'WATCHDOG=1' "$BATS_TEST_TMPDIR/a.notify")" -eq 0 ]
	stop a
	until_true 5 grep -qx 'STOPPING=1' "$BATS_TEST_TMPDIR/a.notify"
}

@test "SIGHUP does not stop the daemons: it is noted, and they go on syncing" {
	start town
	start a
	until_true 10 eval '[ "$(status_of a "s[\"pending\"]")" -eq 0 ]'
	for n in town a; do
		kill -HUP "$(cat "$BATS_TEST_TMPDIR/$n.pid")"
		until_true 5 log_has $n '^<5>SIGHUP: .* is read only at start; restart xinfangd'
	done
	synced=$(log_count a '^<6>synced:')
	on a visit add --people 1 --category 其他 --summary 来访 >/dev/null
	until_true 10 eval '[ "$(log_count a "^<6>synced:")" -gt "$synced" ]'
	running a
	running town
}

# hold_sync_lock NAME: hold NAME's sync lock, as a long `xinfangctl sync`
# does, until $BATS_TEST_TMPDIR/release exists (20 s at most).
hold_sync_lock() {
	flock "$BATS_TEST_TMPDIR/$1/sync.lock" sh -c 'touch "$1.held"; for i in $(seq 200); do
		[ -e "$1" ] && exit 0; sleep 0.1; done' sh "$BATS_TEST_TMPDIR/release" </dev/null >/dev/null 2>&1 3>&- &
	until_true 5 test -e "$BATS_TEST_TMPDIR/release.held"
}

@test "a village waiting for the sync lock keeps pinging the watchdog, stops at once on SIGTERM, then syncs" {
	start town
	hold_sync_lock a
	notify_listen a
	NOTIFY_SOCKET=$BATS_TEST_TMPDIR/a.sock WATCHDOG_USEC=400000 start a
	until_true 5 grep -qx 'READY=1' "$BATS_TEST_TMPDIR/a.notify"
	until_true 5 grep -q '^STATUS=syncing with' "$BATS_TEST_TMPDIR/a.notify"
	sleep 1.5
	pings=$(grep -cx 'WATCHDOG=1' "$BATS_TEST_TMPDIR/a.notify")
	echo "$pings pings while waiting for the lock" >&2
	[ "$pings" -ge 6 ]
	[ "$(log_count a '^<6>synced')" -eq 0 ]
	rc=0
	stop_within 2 a || rc=$?
	[ "$rc" -eq 0 ]
	[ "$(log_count a '^<6>synced')" -eq 0 ]
	touch "$BATS_TEST_TMPDIR/release"
	start a
	until_true 10 log_has a '^<6>synced'
}
