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
	"$XF_CTL" -c "$BATS_TEST_TMPDIR/$name.conf" init >"$BATS_TEST_TMPDIR/$name.key"
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
	"$XF_CTL" -c "$BATS_TEST_TMPDIR/$name.conf" init >"$BATS_TEST_TMPDIR/$name.key"
	on "$up" enroll "$id" "$(cat "$BATS_TEST_TMPDIR/$name.key")" >/dev/null
	on "$name" enroll "$(node_id "$up")" "$(cat "$BATS_TEST_TMPDIR/$up.key")" >/dev/null
}

node_id() {
	sed -n 's/^id = //p' "$BATS_TEST_TMPDIR/$1.conf"
}

# on NAME ARGS...: xinfangctl on node NAME.
on() {
	local name=$1
	shift
	"$XF_CTL" -c "$BATS_TEST_TMPDIR/$name.conf" "$@"
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
