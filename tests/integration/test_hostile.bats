#!/usr/bin/env bats
# Hostile input (issue 3, item 7): a real township on 127.0.0.1, raw requests
# sent with curl. Each refusal is a clear HTTP status and a one-line message;
# nothing is stored (the township's log and quarantine are unchanged, verify
# passes); and the township keeps serving an honest village afterwards.
#
# tests/tools/craft makes what no honest node sends: signed headers over any
# body, pushes of events with a bad signature or a broken chain, broken
# msgpack, deflate bombs. See the comment at its top.

load helper

TOWN=3701020
A=3701020001
B=3701020002

# ---- the file: a township that a few connections abandon, checked last ----

# stall PORT HEADERS BODIES TRICKLES LIMIT: open HEADERS connections that
# send half the request headers, BODIES that send the headers and 10 of
# 1000 body bytes, and TRICKLES that send their headers a byte every 0.5 s;
# then wait at most LIMIT seconds for the server to close each one.
# Prints "stalled N" once they are open, then "closed SECONDS" or "open"
# for each. Run it in the background: it replaces its shell.
stall() {
	exec python3 - "$@" <<'PY'
import select, socket, sys, time

port, heads, bodies, trickles, limit = (int(a) for a in sys.argv[1:6])
conns, trickling = [], {}
for i in range(heads + bodies + trickles):
    s = socket.create_connection(("127.0.0.1", port))
    if i < heads:
        s.sendall(b"POST /v1/sync HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Ty")
    elif i < heads + bodies:
        s.sendall(b"POST /v1/sync HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/msgpack\r\n"
                  b"Authorization: XF 1 1 x\r\nContent-Length: 1000\r\n\r\n0123456789")
    else:
        trickling[s] = b"POST /v1/sync HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: " + b"x" * 1000
    conns.append(s)
t0 = time.monotonic()
print("stalled %d" % len(conns), flush=True)
closed, sent, next_byte = {}, 0, t0
while len(closed) < len(conns) and time.monotonic() - t0 < limit:
    ready, _, _ = select.select([s for s in conns if s not in closed], [], [], 0.1)
    for s in ready:
        try:
            data = s.recv(4096)
        except OSError:
            data = b""
        if not data:
            closed[s] = time.monotonic() - t0
    if time.monotonic() >= next_byte:
        for s, msg in trickling.items():
            if s not in closed:
                try:
                    s.sendall(msg[sent:sent + 1])
                except OSError:
                    closed[s] = time.monotonic() - t0
        sent, next_byte = sent + 1, next_byte + 0.5
for s in conns:
    print("closed %.1f" % closed[s] if s in closed else "open", flush=True)
PY
}

# The township "idle" and its abandoned connections live for the whole
# file, so that the last test sees the server's 30 s timeout without
# waiting for it alone. Background processes close fd 3 (bats waits on it).
setup_file() {
	local BATS_TEST_TMPDIR=$BATS_FILE_TMPDIR
	make_township idle 3701029
	"$XF_D" -c "$BATS_FILE_TMPDIR/idle.conf" 2>"$BATS_FILE_TMPDIR/idle.log" 3>&- &
	echo $! >"$BATS_FILE_TMPDIR/idle.daemon"
	until_true 5 port_open "$(cat "$BATS_FILE_TMPDIR/idle.port")"
	stall "$(cat "$BATS_FILE_TMPDIR/idle.port")" 2 2 0 60 >"$BATS_FILE_TMPDIR/idle.stall" 3>&- &
	echo $! >"$BATS_FILE_TMPDIR/idle.stall.pid"
}

teardown_file() {
	local pid
	for pid in "$(cat "$BATS_FILE_TMPDIR/idle.stall.pid")" "$(cat "$BATS_FILE_TMPDIR/idle.daemon")"; do
		kill -TERM "$pid" 2>/dev/null
	done
	pid=$(cat "$BATS_FILE_TMPDIR/idle.daemon")
	until_true 10 eval "! kill -0 $pid 2>/dev/null"
}

port_open() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# ---- each test: a township and two villages that have synced once ----

setup() {
	T=$BATS_TEST_TMPDIR
	make_township town $TOWN
	make_village a $A town
	make_village b $B town
	start town
	on a sync >/dev/null
	on b sync >/dev/null
	URL=http://127.0.0.1:$(cat "$T/town.port")/v1/sync
	snapshot
}

# The township must have survived whatever the test sent it.
teardown() {
	local rc=0
	if [ -f "$BATS_TEST_TMPDIR/town.pid" ]; then
		stop_within 10 town || rc=$?
	fi
	stop_all_within 10
	if [ "$rc" -ne 0 ]; then
		echo "the township exited with status $rc; the end of its log:"
		tail -n 40 "$BATS_TEST_TMPDIR/town.log"
		return 1
	fi
}

# ids NAME: the sorted event ids a node holds (event_ids without a python
# start, which costs more here than the rest of a check).
ids() {
	on "$1" log | awk '{ print $1 }' | LC_ALL=C sort
}

# snapshot: remember what the township holds, for `unchanged`.
snapshot() {
	ids town >"$T/before.ids"
	craft evidence "$T/town" $TOWN >"$T/before.evidence"
}

# unchanged: the township holds exactly the events and the quarantine it
# held at the last snapshot, and its log verifies.
unchanged() {
	ids town >"$T/after.ids"
	diff "$T/before.ids" "$T/after.ids" >&2 || { echo "the township's events changed" >&2; return 1; }
	craft evidence "$T/town" $TOWN >"$T/after.evidence"
	diff "$T/before.evidence" "$T/after.evidence" >&2 || { echo "the township's quarantine changed" >&2; return 1; }
	on town verify >/dev/null
}

# still_serves [NAME]: an honest village (a by default) records a visit and
# syncs it, and the township holds it.
still_serves() {
	local name=${1:-a} entity
	entity=$(on "$name" visit add --people 2 --category 土地 --summary 征地补偿)
	on "$name" sync >/dev/null
	ids town | grep -x "$(node_id "$name"):${entity##*-}" >/dev/null ||
		{ echo "the township lacks $entity after an honest sync" >&2; return 1; }
	on town verify >/dev/null
}

# head_seq NAME: a village's own head seq.
head_seq() {
	ids "$1" | awk -F: -v me="$(node_id "$1")" '$1 == me && $2 > max { max = $2 } END { print max + 0 }'
}

# signed NAME FILE [TIME]: the Authorization value of node NAME for FILE.
signed() {
	craft auth "$T/$1" "$(node_id "$1")" "${3:-now}" <"$2"
}

# send CURL_ARGS...: one request; sets $code (000 when no response came),
# $msg (the response body as text) and $took (seconds). The body is kept in
# $T/resp, the headers in $T/resp.headers.
send() {
	local out
	# A failed transfer still reports code 000; the caller judges it.
	out=$(curl -sS --max-time 30 -o "$T/resp" -D "$T/resp.headers" -w '%{http_code} %{time_total}' "$@" 2>"$T/curl.err") || :
	code=${out% *}
	took=${out#* }
	msg=$(tr -d '\0' <"$T/resp" 2>/dev/null)
}

# sync_as NAME FILE [CURL_ARGS...]: POST FILE as a sync body, signed by NAME.
sync_as() {
	local name=$1 file=$2
	shift 2
	send -H "Authorization: $(signed "$name" "$file")" -H "Content-Type: application/msgpack" \
		--data-binary "@$file" "$@" "$URL"
}

# refused STATUS TEXT: the last response was STATUS with one line of
# text/plain containing TEXT.
refused() {
	[ "$code" = "$1" ] || { echo "expected $1 ($2), got $code: $msg $(cat "$T/curl.err")" >&2; return 1; }
	[[ "$msg" == *"$2"* ]] || { echo "expected a message with '$2', got: $msg" >&2; return 1; }
	[ "$(wc -l <"$T/resp")" -eq 1 ] && [ "$(tail -c 1 "$T/resp" | od -An -tx1 | tr -d ' ')" = 0a ] ||
		{ echo "the message is not one line: $(od -c "$T/resp" | head)" >&2; return 1; }
	grep -qi '^Content-Type: text/plain' "$T/resp.headers" || { echo "a refusal is not text/plain" >&2; return 1; }
}

# refused_streaming STATUS TEXT: as refused, for a body refused while it
# was still being sent: the server answers and closes, and the client,
# still writing, may meet the reset before it reads the answer (curl:
# "Failed sending", "Connection reset"). Either way nothing went through.
refused_streaming() {
	if [ "$code" = 000 ] && grep -Eqi 'send|reset|broken pipe' "$T/curl.err"; then
		echo "the upload was cut before the answer was read: $(cat "$T/curl.err")"
		return 0
	fi
	refused "$@"
}

# answered: the last response was a 200 sync response; its fields in $fields.
answered() {
	[ "$code" = 200 ] || { echo "expected 200, got $code: $msg" >&2; return 1; }
	fields=$(craft response <"$T/resp")
	echo "response: $fields"
}

# field NAME: the value of one field of $fields ("" when absent).
field() {
	local f
	for f in $fields; do
		[ "${f%%=*}" = "$1" ] && { echo "${f#*=}"; return 0; }
	done
	echo ""
}

# stranger NAME ID: a node of its own, enrolled nowhere.
stranger() {
	cat >"$T/$1.conf" <<CONF
[node]
id = $2
role = village
data_dir = $T/$1
CONF
	on "$1" init >"$T/$1.key"
}

quarantined() {
	craft evidence "$T/town" $TOWN | sed 's/^quarantined=\([0-9]*\).*/\1/'
}

# ---- credentials ----

@test "a request without Authorization is refused with 401 and stores nothing" {
	# A push that would land, were it authenticated.
	craft request "$T/a" $A >"$T/push"
	send -H "Content-Type: application/msgpack" --data-binary "@$T/push" "$URL"
	refused 401 "Authorization"
	unchanged
	still_serves
}

@test "a malformed Authorization header is refused with 401 and stores nothing" {
	local good t sig h
	craft request "$T/a" $A >"$T/push"
	good=$(signed a "$T/push")
	t=$(echo "$good" | cut -d' ' -f3)
	sig=$(echo "$good" | cut -d' ' -f4)
	for h in "" "XF" "xf $A $t $sig" "Bearer $sig" "Basic YTpi" "XF $A" "XF $A $t" "XF $A now $sig" \
		"XF $A $t $sig extra" "XF $A $t ${sig:0:40}" "XF $A $t ${sig}AAAA" "XF $A $t !${sig:1}" \
		"XF ../$A $t $sig" "XF $A-$(printf '0%.0s' {1..40}) $t $sig" "XF $A $t $sig$(printf 'A%.0s' {1..200})" \
		"$good$good"; do
		send -H "Authorization: $h" -H "Content-Type: application/msgpack" --data-binary "@$T/push" "$URL"
		refused 401 "Authorization" || { echo "header: '$h'" >&2; false; }
	done
	unchanged
	# The well-formed header, to show the body itself was fine.
	send -H "Authorization: $good" -H "Content-Type: application/msgpack" --data-binary "@$T/push" "$URL"
	answered
	[ "$(field stored)" = 1 ]
}

@test "a node not enrolled here is refused with 403, even the township itself" {
	stranger stranger 3701020999
	craft request "$T/stranger" 3701020999 >"$T/push"
	sync_as stranger "$T/push"
	refused 403 "'3701020999' is not enrolled"
	# The township signs as itself: enrolled, but not a child of its own.
	craft request "$T/a" $A >"$T/push"
	sync_as town "$T/push"
	refused 403 "children"
	unchanged
	still_serves
}

@test "a signature that does not verify is refused with 401 and stores nothing" {
	local t
	craft request "$T/a" $A >"$T/push"
	craft request --count 0 "$T/a" $A >"$T/idle"
	# Signed over another body.
	send -H "Authorization: $(signed a "$T/idle")" -H "Content-Type: application/msgpack" \
		--data-binary "@$T/push" "$URL"
	refused 401 "signature of '$A' does not verify"
	# Signed by another key: a stranger's, and b's, each claiming to be a.
	stranger stranger $A
	sync_as stranger "$T/push"
	refused 401 "does not verify"
	send -H "Authorization: $(craft auth "$T/b" $A now <"$T/push")" -H "Content-Type: application/msgpack" \
		--data-binary "@$T/push" "$URL"
	refused 401 "does not verify"
	# Signed for another method or path.
	for mp in "GET /v1/sync" "POST /v1/other"; do
		send -H "Authorization: $(craft auth "$T/a" $A now $mp <"$T/push")" \
			-H "Content-Type: application/msgpack" --data-binary "@$T/push" "$URL"
		refused 401 "does not verify"
	done
	# The right signature, with the time changed after signing.
	h=$(signed a "$T/push")
	t=$(echo "$h" | cut -d' ' -f3)
	send -H "Authorization: ${h/ $t / $((t + 1)) }" -H "Content-Type: application/msgpack" \
		--data-binary "@$T/push" "$URL"
	refused 401 "does not verify"
	! grep -qi '^X-Xf-Time' "$T/resp.headers"
	unchanged
	still_serves
}

@test "a clock an hour off is refused with 401 and the server's time in X-Xf-Time" {
	local off now server
	craft request "$T/a" $A >"$T/push"
	for off in now+3600000 now-3600000; do
		send -H "Authorization: $(signed a "$T/push" $off)" -H "Content-Type: application/msgpack" \
			--data-binary "@$T/push" "$URL"
		refused 401 "clock skew"
		now=$(date +%s%3N)
		server=$(sed -n 's/^X-Xf-Time: *\([0-9]*\).*/\1/ip' "$T/resp.headers")
		[ -n "$server" ] && [ $((now - server)) -lt 10000 ] && [ $((server - now)) -lt 10000 ] ||
			{ echo "X-Xf-Time '$server' is not our time $now" >&2; false; }
	done
	# Signed a moment before the server reads it: 3600 s, give or take one.
	grep -Eq "^<5>refused '$A': its clock is \+(3599|3600|3601) s off ours" "$T/town.log"
	grep -Eq "^<5>refused '$A': its clock is -(3599|3600|3601) s off ours" "$T/town.log"
	# The time is only told to the real node: skewed and badly signed is
	# a bad signature.
	craft request --count 0 "$T/a" $A >"$T/idle"
	send -H "Authorization: $(signed a "$T/idle" now+3600000)" -H "Content-Type: application/msgpack" \
		--data-binary "@$T/push" "$URL"
	refused 401 "does not verify"
	! grep -qi '^X-Xf-Time' "$T/resp.headers"
	unchanged
	# Four minutes off is within the window.
	send -H "Authorization: $(signed a "$T/idle" now+240000)" -H "Content-Type: application/msgpack" \
		--data-binary "@$T/idle" "$URL"
	answered
	still_serves
}

@test "a replayed request is answered and changes nothing more" {
	local h
	make_village c 3701020003 town
	on c sync >/dev/null
	snapshot
	craft request --count 2 "$T/c" 3701020003 >"$T/push"
	h=$(signed c "$T/push")
	send -H "Authorization: $h" -H "Content-Type: application/msgpack" --data-binary "@$T/push" "$URL"
	answered
	[ "$(field stored)" = 2 ]
	ids town >"$T/once.ids"
	[ "$(LC_ALL=C comm -13 "$T/before.ids" "$T/once.ids" | wc -l)" -eq 2 ]
	send -H "Authorization: $h" -H "Content-Type: application/msgpack" --data-binary "@$T/push" "$URL"
	answered
	[ "$(field stored)" = "" ] && [ "$(field rej)" = "" ]
	[[ "$(field ack)" == *3701020003:4* ]]
	ids town | diff "$T/once.ids" -
	on town verify
	still_serves
}

# ---- events inside an authenticated push ----

@test "an event with a bad signature is refused and quarantined; the rest of the push lands" {
	local D=$A-01 seq
	# a relays the events of d, a node the township enrolled but that
	# never syncs itself.
	cat >"$T/d.conf" <<CONF
[node]
id = $D
role = village
data_dir = $T/d
author = 村民小组
CONF
	on d init >"$T/d.key"
	on town enroll $D "$(cat "$T/d.key")" >/dev/null
	on d visit add --people 1 --category 土地 --summary 组里的事 >/dev/null
	snapshot
	seq=$(head_seq a)
	# Two events of a, the first with a flipped signature byte, then
	# d's whole log.
	craft request --count 2 --mutate sig --with "$T/d" $D "$T/a" $A >"$T/push"
	sync_as a "$T/push"
	answered
	[ "$(field rej)" = 2 ] && [ "$(field err)" = EBADSIG ] && [ "$(field bad)" = "$A:$((seq + 1))" ]
	[ "$(field stored)" = 2 ]
	[[ ",$(field ack)," == *",$D:2,"* ]] && [[ ",$(field ack)," == *",$A:$seq,"* ]]
	# d's events landed, a's crafted ones did not; they are in quarantine.
	ids town >"$T/after.ids"
	[ "$(LC_ALL=C comm -13 "$T/before.ids" "$T/after.ids")" = "$(printf '%s\n' "$D:1" "$D:2")" ]
	[ -z "$(LC_ALL=C comm -23 "$T/before.ids" "$T/after.ids")" ]
	[ "$(quarantined)" -eq 2 ]
	grep -q "^<4>'$A' pushed 2 events that were refused, first $A:$((seq + 1)): signature does not verify" \
		"$T/town.log"
	on town verify
	# a's real next event is not blocked by the forged one held aside.
	still_serves a
	still_serves b
}

@test "a broken chain is refused: nothing of it is stored" {
	local seq
	seq=$(head_seq a)
	# The first event's prev is wrong; the second links to the first.
	craft request --count 2 --mutate chain "$T/a" $A >"$T/push"
	sync_as a "$T/push"
	answered
	[ "$(field rej)" = 2 ] && [ "$(field err)" = ECHAIN ] && [ "$(field bad)" = "$A:$((seq + 1))" ]
	[ "$(field stored)" = "" ]
	[[ "$(field ack)" == "$A:$seq" ]]
	ids town | diff "$T/before.ids" -
	# Only the event that breaks the chain is evidence; the one after it
	# merely cannot be linked.
	[ "$(quarantined)" -eq 1 ]
	on town verify
	still_serves
}

@test "a gap in seq is refused and not quarantined: those events only came too early" {
	local seq
	seq=$(head_seq a)
	# Three events that skip seq+1: the first leaves a gap, the other two
	# follow it.
	craft request --count 3 --mutate gap "$T/a" $A >"$T/push"
	sync_as a "$T/push"
	answered
	[ "$(field rej)" = 3 ] && [ "$(field err)" = ESEQ ] && [ "$(field bad)" = "$A:$((seq + 2))" ]
	[ "$(field stored)" = "" ]
	unchanged
	still_serves
}

@test "a relay cannot forge, bring strangers' events, or take over a sibling's id" {
	# b's events signed with a's key.
	craft request --count 2 --signer "$T/a" "$T/b" $B >"$T/push"
	sync_as a "$T/push"
	answered
	[ "$(field rej)" = 2 ] && [ "$(field err)" = EBADSIG ] && [ "$(field stored)" = "" ]
	ids town | diff "$T/before.ids" -
	# Forgeries are kept aside as evidence.
	[ "$(quarantined)" -eq 2 ]
	snapshot
	# The whole log of a node nobody enrolled: refused, and not kept (its
	# enrolment may yet come).
	stranger x 3701020888
	on x visit add --people 1 --category 土地 --summary 无人认识 >/dev/null
	craft request --count 0 --with "$T/x" 3701020888 "$T/a" $A >"$T/push"
	sync_as a "$T/push"
	answered
	[ "$(field rej)" = 2 ] && [ "$(field err)" = EUNKNOWNNODE ] && [ "$(field stored)" = "" ]
	unchanged
	# a brings "b's" events signed with a key of its own (a village
	# cannot enrol b's id: test_sync's unit tests show such an enrolment
	# is not trusted).
	stranger y $B
	craft request --count 1 --signer "$T/y" "$T/b" $B >"$T/push"
	sync_as a "$T/push"
	answered
	[ "$(field rej)" = 1 ] && [ "$(field err)" = EBADSIG ] && [ "$(field stored)" = "" ]
	# y may not sync as b; b itself still can.
	craft request --count 0 "$T/y" $B >"$T/idle"
	sync_as y "$T/idle"
	refused 401 "does not verify"
	still_serves b
	still_serves a
}

@test "a village cannot open, or act on, a case that is not its own: refused as out of scope, kept as evidence" {
	local visit c
	visit=$(on a visit add --people 1 --category 土地纠纷 --summary "a 村民反映村干部问题" --name 张三)
	on a sync >/dev/null
	c=$(on town case open --title "a 村 张三 反映" --from "$visit")
	on a sync >/dev/null
	snapshot
	# b "opens" the township's case from a record of its own, at the
	# start of time, so that it would sort first; then acts on it.
	craft request --act case.opened "$c" --hlc 1 --from "V-$B-99" "$T/b" $B >"$T/push"
	sync_as b "$T/push"
	answered
	[ "$(field rej)" = 1 ] && [ "$(field err)" = ESCOPE ] && [ "$(field stored)" = "" ]
	craft request --act case.noted "$c" "$T/b" $B >"$T/push"
	sync_as b "$T/push"
	answered
	[ "$(field rej)" = 1 ] && [ "$(field err)" = ESCOPE ]
	# A visit recorded under a's name, and a note on a's own visit.
	craft request --act visit.recorded "V-$A-7" "$T/b" $B >"$T/push"
	sync_as b "$T/push"
	answered
	[ "$(field err)" = ESCOPE ]
	craft request --act case.noted "$visit" "$T/b" $B >"$T/push"
	sync_as b "$T/push"
	answered
	[ "$(field err)" = ESCOPE ]
	ids town | diff "$T/before.ids" -
	[ "$(quarantined)" -eq 4 ]
	on town verify >/dev/null
	# The township's acts on the case reach a, and b holds nothing of it.
	on town case note "$c" --text 已核实 >/dev/null
	on a sync >/dev/null
	on b sync >/dev/null
	on a case show "$c" | grep -q 已核实
	run on b case show "$c"
	[ "$status" -ne 0 ]
	still_serves b
	still_serves a
}

@test "what a village pushes about the broadcast feed or another village reaches no other village" {
	# b posts a "notice" to everyone, and notes on a's visit: neither is
	# b's to make, and a, which cannot check b's key, never pulls them.
	craft request --act notice.posted "B-$TOWN-1" "$T/b" $B >"$T/push"
	sync_as b "$T/push"
	answered
	[ "$(field err)" = ESCOPE ]
	on a visit add --people 1 --category 其他 --summary 又一来访 >/dev/null
	run on a sync
	[ "$status" -eq 0 ] || { echo "$output" >&2; false; }
	[ "$(on a status --json | python3 -c 'import json, sys; print(json.load(sys.stdin)["pending"])')" = 0 ]
	! on a log | awk '{ print $1 }' | grep -q "^$B:"
}

@test "a village cannot claim the id of a village the township has yet to enrol" {
	local C=3701020003
	# a enrols, as its own child, the id the township means to give c.
	stranger y $C
	# A village has no children: its CLI will not record one, and a
	# forged enrolment from a village is not trusted upstream (unit
	# test test_sync: a village's enrolments are never trusted).
	run on a enroll $C "$(cat "$T/y.key")" --child
	[ "$status" -eq 2 ]
	[[ "$output" == *"a village has no children"* ]]
	# The township's own decision still stands, and c syncs.
	cat >"$T/c.conf" <<CONF
[node]
id = $C
role = village
data_dir = $T/c
[upstream]
url = http://127.0.0.1:$(cat "$T/town.port")
CONF
	on c init >"$T/c.key"
	on town enroll $C "$(cat "$T/c.key")"
	on c enroll $TOWN "$(cat "$T/town.key")" >/dev/null
	still_serves c
}

# ---- bodies ----

@test "malformed msgpack is refused with 400 and stores nothing" {
	local kind
	for kind in truncated trailing deep; do
		craft junk $kind >"$T/body"
		sync_as a "$T/body"
		refused 400 "malformed" || { echo "junk: $kind" >&2; false; }
		# The same, deflated.
		craft deflate <"$T/body" >"$T/body.z"
		sync_as a "$T/body.z" -H "Content-Encoding: deflate"
		refused 400 "malformed" || { echo "junk: $kind, deflated" >&2; false; }
	done
	# Text, and a JSON sync message.
	yes 'not msgpack at all' | head -c 4096 >"$T/body"
	sync_as a "$T/body"
	refused 400 "malformed"
	echo '{"v": 1, "cur": [0, 0]}' >"$T/body"
	sync_as a "$T/body"
	refused 400 "malformed"
	# Said to be deflated, and not zlib data; and a zlib stream cut short.
	craft request "$T/a" $A >"$T/push"
	sync_as a "$T/push" -H "Content-Encoding: deflate"
	refused 400 "does not inflate"
	craft deflate <"$T/push" | head -c 100 >"$T/body.z"
	sync_as a "$T/body.z" -H "Content-Encoding: deflate"
	refused 400 "does not inflate"
	grep -q "^<4>refused sync from '$A': malformed event or message" "$T/town.log"
	unchanged
	still_serves
}

@test "an empty body is refused with 400 and stores nothing" {
	: >"$T/body"
	sync_as a "$T/body"
	refused 400 "empty body"
	unchanged
	still_serves
}

@test "msgpack that is not a sync message is refused with 400; a push over 4096 events with 413" {
	local kind
	for kind in array version nocur pushstr; do
		craft junk $kind >"$T/body"
		sync_as a "$T/body"
		refused 400 "malformed" || { echo "junk: $kind" >&2; false; }
	done
	craft junk toomany >"$T/body"
	sync_as a "$T/body"
	refused 413 "size limit"
	# Bins that are not events: the message is fine, its events refused.
	craft junk garbage >"$T/body"
	sync_as a "$T/body"
	answered
	[ "$(field rej)" = 2 ] && [ "$(field err)" = EPROTO ] && [ "$(field stored)" = "" ]
	unchanged
	still_serves
}

@test "msgpack that claims billions of items is refused with 400, not with a huge allocation" {
	# 16 nested arrays, each claiming 2^32-1 items, in 110 bytes.
	craft junk huge >"$T/body"
	sync_as a "$T/body"
	refused 400 "malformed"
	unchanged
	still_serves
}

@test "a wrong Content-Type or Content-Encoding is refused with 415 and stores nothing" {
	local type enc h
	craft request "$T/a" $A >"$T/push"
	h=$(signed a "$T/push")
	for type in application/json text/plain application/x-www-form-urlencoded application/x-msgpack; do
		send -H "Authorization: $h" -H "Content-Type: $type" --data-binary "@$T/push" "$URL"
		refused 415 "Content-Type must be application/msgpack" || { echo "type: $type" >&2; false; }
	done
	# No Content-Type at all.
	send -H "Authorization: $h" -H "Content-Type:" --data-binary "@$T/push" "$URL"
	refused 415 "Content-Type"
	for enc in br compress x-unknown "deflate, deflate"; do
		sync_as a "$T/push" -H "Content-Encoding: $enc"
		refused 415 "Content-Encoding" || { echo "encoding: $enc" >&2; false; }
	done
	# A refusal made before the body was read closes the connection: the
	# unread body is not taken for a next request.
	python3 - "$(cat "$T/town.port")" >"$T/raw" <<'PY'
import socket, sys
inner = b"POST /v1/sync HTTP/1.1\r\nHost: x\r\nContent-Type: application/msgpack\r\nContent-Length: 0\r\n\r\n"
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.settimeout(10)
s.sendall(b"POST /v1/sync HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s"
          % (len(inner), inner))
data = b""
while True:
    d = s.recv(65536)
    if not d:
        break
    data += d
sys.stdout.write(data.decode(errors="replace"))
PY
	[ "$(grep -c '^HTTP/1' "$T/raw")" -eq 1 ] && grep -q '^HTTP/1.1 415' "$T/raw"
	unchanged
	still_serves
}

@test "another path is refused with 404 and another method with 405" {
	local path method
	craft request "$T/a" $A >"$T/push"
	for path in / /v1 /v1/sync/ /v1/syncx /v2/sync /V1/SYNC /v1/../v1/sync; do
		send --path-as-is -H "Authorization: $(signed a "$T/push")" -H "Content-Type: application/msgpack" \
			--data-binary "@$T/push" "http://127.0.0.1:$(cat "$T/town.port")$path"
		refused 404 "no such path" || { echo "path: $path" >&2; false; }
	done
	for method in GET PUT DELETE PATCH OPTIONS; do
		send -X $method -H "Authorization: $(signed a "$T/push")" -H "Content-Type: application/msgpack" \
			--data-binary "@$T/push" "$URL"
		refused 405 "POST" || { echo "method: $method" >&2; false; }
	done
	unchanged
	still_serves
}

@test "a body over 2 MiB is refused with 413, by its Content-Length or as it streams" {
	head -c $((2 * 1024 * 1024 + 1)) /dev/zero >"$T/big"
	sync_as a "$T/big"
	refused 413 "body over 2097152 bytes"
	awk -v t="$took" 'BEGIN { exit !(t < 2) }' || { echo "took $took s" >&2; false; }
	# Without Expect: 100-continue, the whole body on its way.
	sync_as a "$T/big" -H "Expect:"
	refused_streaming 413 "body over 2097152 bytes"
	# Chunked: no length to refuse by.
	sync_as a "$T/big" -H "Transfer-Encoding: chunked"
	refused_streaming 413 "body over 2097152 bytes"
	head -c $((8 * 1024 * 1024)) /dev/zero >"$T/big"
	sync_as a "$T/big" -H "Transfer-Encoding: chunked"
	refused_streaming 413 "body over 2097152 bytes"
	unchanged
	still_serves
}

@test "a deflate bomb is refused with 413, quickly and without inflating it all" {
	local pid hwm0 hwm1
	# ASan keeps freed memory aside; without that, the peak shows what
	# the server really held. (Teardown checks how the second one exits.)
	stop town || true
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0 start town
	on a sync >/dev/null
	pid=$(cat "$T/town.pid")
	hwm0=$(awk '/^VmHWM/ { print $2 }' "/proc/$pid/status")
	# 64 MiB of zeros in 64 KiB.
	craft bomb 64 >"$T/bomb"
	[ "$(stat -c %s "$T/bomb")" -lt $((128 * 1024)) ]
	sync_as a "$T/bomb" -H "Content-Encoding: deflate"
	refused 413 "does not inflate within 4194304 bytes"
	awk -v t="$took" 'BEGIN { exit !(t < 5) }' || { echo "took $took s" >&2; false; }
	hwm1=$(awk '/^VmHWM/ { print $2 }' "/proc/$pid/status")
	echo "peak RSS $hwm0 kB -> $hwm1 kB"
	[ $((hwm1 - hwm0)) -lt $((32 * 1024)) ]
	grep -q "^<4>refused '$A': body size limit exceeded" "$T/town.log"
	# Just over the limit is refused the same; just under inflates (and
	# is then no sync message).
	craft bomb 5 >"$T/bomb"
	sync_as a "$T/bomb" -H "Content-Encoding: deflate"
	refused 413 "does not inflate within 4194304 bytes"
	craft bomb 3 >"$T/bomb"
	sync_as a "$T/bomb" -H "Content-Encoding: deflate"
	refused 400 "malformed"
	unchanged
	still_serves
}

# ---- connections ----

@test "stalled and half-sent requests do not keep others from being served" {
	local port stall_pid i
	port=$(cat "$T/town.port")
	# 20 connections stuck in their headers, 20 in their bodies, 10
	# sending a byte now and then: under the 64 a client address may hold.
	stall "$port" 20 20 10 60 >"$T/stall" 3>&- &
	stall_pid=$!
	until_true 10 grep -q '^stalled 50' "$T/stall"
	for i in 1 2 3; do
		SECONDS=0
		still_serves a
		still_serves b
		[ "$SECONDS" -lt 10 ]
	done
	# Dropped mid-request: nothing is left half-done.
	kill "$stall_pid"
	wait "$stall_pid" || true
	still_serves
	on town verify
}

# reported N: the stall of setup_file has said what became of N connections.
reported() {
	[ "$(grep -c '^\(closed\|open\)' "$BATS_FILE_TMPDIR/idle.stall")" -eq "$1" ]
}

# Last: the abandoned connections of setup_file have had the time by now.
@test "the server closes abandoned connections after its 30 s timeout" {
	local line port
	until_true 60 reported 4
	cat "$BATS_FILE_TMPDIR/idle.stall"
	while read -r line; do
		case $line in
		stalled*) ;;
		closed*) awk -v t="${line#closed }" 'BEGIN { exit !(t >= 25 && t <= 45) }' ;;
		*) false ;;
		esac
	done <"$BATS_FILE_TMPDIR/idle.stall"
	# And the township behind them still answers.
	port=$(cat "$BATS_FILE_TMPDIR/idle.port")
	[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/v1/sync")" = 405 ]
}
