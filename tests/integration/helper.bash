# Shared by the integration tests: real daemons on 127.0.0.1, each node in
# its own directory under BATS_TEST_TMPDIR, on a free port.

: "${XF_BUILD:?run through tests/run, or set XF_BUILD=build/asan}"
XF_CTL=$XF_BUILD/xinfangctl
XF_D=$XF_BUILD/xinfangd

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# make_township NAME ID: a township node serving on a free port, kept in $NAME_port.
make_township() {
	local name=$1 id=$2 port
	port=$(free_port)
	cat >"$BATS_TEST_TMPDIR/$name.conf" <<CONF
[node]
id = $id
role = township
data_dir = $BATS_TEST_TMPDIR/$name
author = 镇信访办
[server]
listen = 127.0.0.1:$port
CONF
	echo "$port" >"$BATS_TEST_TMPDIR/$name.port"
	on "$name" init >"$BATS_TEST_TMPDIR/$name.key"
}

# make_village NAME ID UPSTREAM [INTERVAL]: a village syncing with township
# UPSTREAM; each enrols the other.
make_village() {
	local name=$1 id=$2 up=$3 interval=${4:-1}
	cat >"$BATS_TEST_TMPDIR/$name.conf" <<CONF
[node]
id = $id
role = village
data_dir = $BATS_TEST_TMPDIR/$name
author = 村联络员
[upstream]
url = http://127.0.0.1:$(cat "$BATS_TEST_TMPDIR/$up.port")
interval = $interval
CONF
	on "$name" init >"$BATS_TEST_TMPDIR/$name.key"
	on "$up" enroll "$id" "$(cat "$BATS_TEST_TMPDIR/$name.key")" >/dev/null
	on "$name" enroll "$(node_id "$up")" "$(cat "$BATS_TEST_TMPDIR/$up.key")" >/dev/null
}

# leak_check 0|1 COMMAND...: COMMAND with LeakSanitizer's check at exit
# off or on, the other sanitizer options kept.
leak_check() {
	local on=$1
	shift
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=$on "$@"
}

# craft ARGS...: the test tool that forges requests, keys and evidence
# (tests/tools/craft.c); test code, so not leak-checked.
craft() {
	leak_check 0 "$XF_BUILD/tests/tools/craft" "$@"
}

node_id() {
	sed -n 's/^id = //p' "$BATS_TEST_TMPDIR/$1.conf"
}

# on NAME ARGS...: xinfangctl on node NAME.
#
# LeakSanitizer's check at exit costs some 40 ms a process, a third of
# these files' time. The verbs that only these tests run (HTTP, bundles,
# receipts, conflicts between nodes, rebuild) are leak-checked here; the
# others, used to drive the scenarios, are leak-checked in tests/cli.
on() {
	local name=$1 leaks=0
	shift
	case "$1 ${2:-}" in
	"sync "* | "status "* | "bundle "* | "receipts "* | "conflicts "* | "rebuild "* | "case resolve") leaks=1 ;;
	esac
	leak_check "$leaks" "$XF_CTL" -c "$BATS_TEST_TMPDIR/$name.conf" "$@"
}

# start NAME: run xinfangd for NAME in the background; a township is
# waited for until it accepts connections.
start() {
	local name=$1 port i
	"$XF_D" -c "$BATS_TEST_TMPDIR/$name.conf" 2>>"$BATS_TEST_TMPDIR/$name.log" &
	echo $! >"$BATS_TEST_TMPDIR/$name.pid"
	if [ -f "$BATS_TEST_TMPDIR/$name.port" ]; then
		port=$(cat "$BATS_TEST_TMPDIR/$name.port")
		for i in $(seq 100); do
			(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
			sleep 0.05
		done
		echo "township $name did not come up" >&2
		return 1
	fi
}

# stop NAME: SIGTERM, and wait for a clean exit.
stop() {
	local pid
	pid=$(cat "$BATS_TEST_TMPDIR/$1.pid" 2>/dev/null) || return 0
	kill -TERM "$pid" 2>/dev/null
	wait "$pid"
	local rc=$?
	rm -f "$BATS_TEST_TMPDIR/$1.pid"
	return $rc
}

# kill9 NAME: no chance to clean up.
kill9() {
	local pid
	pid=$(cat "$BATS_TEST_TMPDIR/$1.pid" 2>/dev/null) || return 0
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	rm -f "$BATS_TEST_TMPDIR/$1.pid"
}

stop_all() {
	local f
	for f in "$BATS_TEST_TMPDIR"/*.pid; do
		[ -f "$f" ] && stop "$(basename "$f" .pid)"
	done
	return 0
}

# until_true SECONDS COMMAND...: poll COMMAND every 0.1 s.
until_true() {
	local limit=$1 i
	shift
	for i in $(seq $((limit * 10))); do
		"$@" && return 0
		sleep 0.1
	done
	"$@"
}

# event_ids NAME: the sorted event ids a node holds.
event_ids() {
	on "$1" log --json | python3 -c 'import json, sys; print("\n".join(sorted(e["id"] for e in json.load(sys.stdin))))'
}

# running NAME: NAME's daemon is alive.
running() {
	local pid
	pid=$(cat "$BATS_TEST_TMPDIR/$1.pid" 2>/dev/null) && kill -0 "$pid" 2>/dev/null
}

# stop_within SECONDS NAME: SIGTERM, and the daemon's exit status; one that
# is still running after SECONDS is killed and counts as status 124 (hung).
stop_within() {
	local limit=$1 name=$2 pid i
	pid=$(cat "$BATS_TEST_TMPDIR/$name.pid" 2>/dev/null) || return 0
	kill -TERM "$pid" 2>/dev/null
	for i in $(seq $((limit * 10))); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "$name (pid $pid) still running ${limit} s after SIGTERM" >&2
		kill9 "$name" || :
		return 124
	fi
	stop "$name"
}

# stop_all_within SECONDS: stop_within for every daemon still running, so
# that a daemon that ignores SIGTERM cannot hang a teardown.
stop_all_within() {
	local f
	for f in "$BATS_TEST_TMPDIR"/*.pid; do
		[ -f "$f" ] && stop_within "$1" "$(basename "$f" .pid)"
	done
	return 0
}

# fill NAME N: append N visits to node NAME's log at core speed, for tests
# that need a long log (recording through xinfangctl costs a process per
# event). Uses tests/bench/bench_fill.c, built (or brought up to date with the
# library) in this build tree.
fill() {
	local name=$1 n=$2 top mode tool
	top=${XF_TOP:-$(cd "$BATS_TEST_DIRNAME/../.." && pwd)}
	mode=$(basename "$XF_BUILD")
	tool=$top/build/$mode/bench/bench_fill
	make -s -C "$top" --no-print-directory MODE="$mode" "build/$mode/bench/bench_fill" >&2 || return 1
	if [ ! -f "$BATS_TEST_TMPDIR/fill.ndjson" ]; then
		cat >"$BATS_TEST_TMPDIR/fill.ndjson" <<'NDJSON'
{"date":"2026-01-05","petitioners":1,"names":["孟刚超"],"category":"环境污染","summary":"两户村民因宅基地边界发生争执，下一步将组织双方当面协商。","escalated":false}
{"date":"2026-02-11","petitioners":6,"names":["曹桂","严红芳"],"category":"劳资纠纷","summary":"务工人员反映工程款被拖欠半年以上。","escalated":true}
{"date":"2026-03-20","petitioners":2,"names":[],"category":"社会保障","summary":"村民代表称集体资金使用情况长期未公开。","escalated":false}
NDJSON
	fi
	# bench_fill, a benchmark, does not free its records before exiting.
	leak_check 0 "$tool" "$BATS_TEST_TMPDIR/$name" "$(node_id "$name")" \
		"$BATS_TEST_TMPDIR/fill.ndjson" "$n"
}

# log_has NAME REGEX: NAME's daemon log has a line matching REGEX (grep -E).
log_has() {
	grep -Eq -- "$2" "$BATS_TEST_TMPDIR/$1.log" 2>/dev/null
}

# log_count NAME REGEX: how many lines of NAME's daemon log match REGEX.
log_count() {
	grep -Ec -- "$2" "$BATS_TEST_TMPDIR/$1.log" 2>/dev/null || true
}

# scoped TOWNSHIP VILLAGE...: the township and its villages have converged.
# The township holds every event each village made, and each village holds
# exactly its own events and the township's events about its own entities
# (an entity id K-<node>-<seq> names its home node; a case the township
# opened is at home where the first record it was opened from is) or
# broadcast (B-...): nothing of another village. No log holds an event id
# twice. On failure the differences go to stderr.
scoped() {
	local name
	for name in "$@"; do
		on "$name" log --json >"$BATS_TEST_TMPDIR/$name.scoped.json" || return 1
	done
	(cd "$BATS_TEST_TMPDIR" && python3 - "$@" <<'PY'
import json, sys

names = sys.argv[1:]
logs = {n: json.load(open(n + ".scoped.json")) for n in names}
ids = {n: {e["id"] for e in logs[n]} for n in names}
node = {n: next(e["origin"] for e in logs[n] if e["seq"] == 1 and e["type"] == "node.enrolled"
                and e["body"].get("relation") == "self") for n in names}
opened = {e["entity"]: e["body"].get("from") or [] for e in logs[names[0]] if e["type"] == "case.opened"}

def home(entity):
    if entity.startswith("B-"):
        return "*"
    node_id = entity[2:entity.rindex("-")]
    if entity.startswith("C-") and node_id == node[names[0]] and opened.get(entity):
        return home(opened[entity][0])
    return node_id

ok = True
for n in names:
    if len(ids[n]) != len(logs[n]):
        print(f"{n} holds an event id twice", file=sys.stderr)
        ok = False
town = names[0]
for v in names[1:]:
    me = node[v]
    own = {e["id"] for e in logs[v] if e["origin"] == me}
    lacking = own - ids[town]
    if lacking:
        print(f"{town} lacks {len(lacking)} events of {v}: {sorted(lacking)[:5]}", file=sys.stderr)
        ok = False
    may = {e["id"] for e in logs[town] if e["origin"] == me or home(e["entity"]) in (me, "*")}
    extra, missing = ids[v] - may, may - ids[v]
    if extra:
        print(f"{v} holds {len(extra)} events it may not see: {sorted(extra)[:5]}", file=sys.stderr)
        ok = False
    if missing:
        print(f"{v} lacks {len(missing)} events it may see: {sorted(missing)[:5]}", file=sys.stderr)
        ok = False
sys.exit(0 if ok else 1)
PY
	)
}

# verified NAME...: `xinfangctl verify` passes on every node named.
verified() {
	local name
	for name in "$@"; do
		on "$name" verify >/dev/null || {
			echo "verify failed on $name" >&2
			return 1
		}
	done
}

# notify_listen NAME [ADDRESS]: collect what NAME's daemon tells systemd,
# one datagram a line, in $BATS_TEST_TMPDIR/NAME.notify; start NAME with
# NOTIFY_SOCKET=ADDRESS for it to be heard. ADDRESS is a path, by default
# $BATS_TEST_TMPDIR/NAME.sock, or @ and a name in the abstract namespace.
notify_listen() {
	local name=$1 address=${2:-$BATS_TEST_TMPDIR/$1.sock}
	python3 -u -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("\0" + sys.argv[1][1:] if sys.argv[1].startswith("@") else sys.argv[1])
with open(sys.argv[2], "a") as out:
    while True:
        out.write(s.recv(4096).decode("utf-8", "replace").replace("\n", " ") + "\n")
        out.flush()' "$address" "$BATS_TEST_TMPDIR/$name.notify" \
		</dev/null >/dev/null 2>&1 3>&- &
	echo $! >"$BATS_TEST_TMPDIR/$name-notify.pid"
	until_true 5 test -e "$BATS_TEST_TMPDIR/$name.notify"
}

# idle_sync TOWNSHIP NODE: since TOWNSHIP's daemon last started, NODE has
# had a sync with nothing to push and nothing to pull: a cheap sign that
# the two have converged, before checking it in full.
idle_sync() {
	awk -v n="sync '$2': pushed 0, new 0, refused 0, pulled 0;" \
		'/serving on/ { idle = 0 } index($0, n) { idle = 1 } END { exit !idle }' "$BATS_TEST_TMPDIR/$1.log"
}

# clone_nodes DIR: this test's own copy of the nodes made in DIR (made with
# BATS_TEST_TMPDIR=DIR, e.g. in setup_file, and with no daemon running):
# data, configs and files, the configs' paths pointed here, and each
# township on a new free port, its villages' upstream URLs to match.
clone_nodes() {
	local from=$1 conf port old new
	cp -a "$from/." "$BATS_TEST_TMPDIR/"
	for conf in "$BATS_TEST_TMPDIR"/*.conf; do
		sed -i "s|^data_dir = $from/|data_dir = $BATS_TEST_TMPDIR/|" "$conf"
	done
	for port in "$BATS_TEST_TMPDIR"/*.port; do
		[ -f "$port" ] || continue
		old=$(cat "$port")
		new=$(free_port)
		echo "$new" >"$port"
		sed -i "s|127\.0\.0\.1:$old\$|127.0.0.1:$new|" "$BATS_TEST_TMPDIR"/*.conf
	done
}

# until_soon SECONDS COMMAND...: poll COMMAND every 10 ms for SECONDS of
# wall time, to catch a moment (a daemon in the middle of a sync) rather
# than wait for a state.
until_soon() {
	local end=$((${EPOCHREALTIME//[!0-9]/} + $1 * 1000000))
	shift
	while [ "${EPOCHREALTIME//[!0-9]/}" -lt "$end" ]; do
		"$@" && return 0
		sleep 0.01
	done
	"$@"
}
