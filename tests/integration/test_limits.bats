#!/usr/bin/env bats
# Abuse limits of the township (the connection timeout is tested in
# test_hostile.bats): a per-node request rate, and a cap on connections
# from one address.

load helper

bats_require_minimum_version 1.5.0

TOWN=370102005
VA=370102005001
VB=370102005002

setup() {
	make_township town $TOWN
	echo "rate_limit = 1" >>"$BATS_TEST_TMPDIR/town.conf"
	make_village a $VA town 60
	make_village b $VB town 60
	URL=http://127.0.0.1:$(cat "$BATS_TEST_TMPDIR/town.port")
	start town
}

teardown() {
	stop_all
}

# idle NAME: one idle sync request of node NAME, signed now; prints the
# HTTP status.
idle() {
	[ -f "$BATS_TEST_TMPDIR/$1.idle" ] ||
		craft request --count 0 "$BATS_TEST_TMPDIR/$1" "$(node_id "$1")" >"$BATS_TEST_TMPDIR/$1.idle"
	cp "$BATS_TEST_TMPDIR/$1.idle" "$BATS_TEST_TMPDIR/idle"
	curl -sS -o "$BATS_TEST_TMPDIR/resp" -w '%{http_code}' -H "Content-Type: application/msgpack" \
		-H "Authorization: $(craft auth "$BATS_TEST_TMPDIR/$1" "$(node_id "$1")" now <"$BATS_TEST_TMPDIR/idle")" \
		--data-binary "@$BATS_TEST_TMPDIR/idle" "$URL/v1/sync"
}

@test "a node over its request rate gets 429 with one line; others are served; it is served again later" {
	for i in $(seq 5); do idle a >/dev/null; done # the signing tool warmed up
	start=$EPOCHREALTIME
	codes=$(for i in $(seq 30); do idle a; echo; done | sort | uniq -c | awk '{ printf "%s:%s ", $2, $1 }')
	took=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { print int(b - a) + 1 }')
	echo "codes: $codes in under $took s" >&2
	# A burst of ten (five spent above), then one a second: what the
	# clock allows, and the rest refused.
	[[ "$codes" == *"429:"* ]]
	ok=$(printf '%s' "$codes" | sed -n 's/.*200:\([0-9]*\).*/\1/p')
	[ "${ok:-0}" -ge 5 ] && [ "${ok:-0}" -le $((5 + took + 1)) ]
	# What a refusal says (the loop may have ended on a request the
	# refilled bucket let through).
	for i in $(seq 20); do
		code=$(idle a)
		[ "$code" = 429 ] && break
	done
	[ "$code" = 429 ]
	[ "$(cat "$BATS_TEST_TMPDIR/resp")" = "over 1 sync requests a second: try later" ]
	[ "$(idle b)" = 200 ]
	sleep 2
	[ "$(idle a)" = 200 ]
	# The village's own sync, limited, still gets through in the end.
	run on a sync
	[ "$status" -eq 0 ] || [[ "$output" == *"429"* ]]
}

@test "connections from one address beyond the cap are closed at once; after they go, it serves again" {
	python3 - "$(cat "$BATS_TEST_TMPDIR/town.port")" <<'PY'
import socket, sys, time
port = int(sys.argv[1])
held = [socket.create_connection(("127.0.0.1", port)) for _ in range(64)]
time.sleep(0.3)
extra = socket.create_connection(("127.0.0.1", port))
extra.settimeout(5)
extra.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
try:
    data = extra.recv(100)
except (ConnectionResetError, socket.timeout):
    data = b""
assert data == b"", "the 65th connection was served: %r" % data
PY
	[ "$(idle b)" = 200 ]
}
