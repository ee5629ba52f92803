#!/usr/bin/env bats
# Network faults (issue 7, item 2): villages sync with a real township
# through tests/tools/faultproxy, which drops, truncates, delays, resets and
# duplicates requests and responses, passes off old responses as new,
# strips their signatures and forges a refusal for clock skew. Whatever the
# network does, they converge: every event on the township exactly once,
# the same records on both sides, verify passing, a receipt for the
# village's head; and an old or unsigned response is refused, not applied.
#
# One test per fault, that fault alone on half of the exchanges (never
# more than two in a row, which keeps the village's backoff short); then
# all of them at once on two villages. The seeds are chosen so that the
# faults strike the batches of the backlog, not only idle syncs: one client
# making its requests one after the other meets the same faults each run
# (tests/tools/faultproxy.c). The last test replays pushes late: it found
# a false rollback alarm, since fixed (a request signed before the last
# one served is a replay).
#
# setup_file records the world once, offline, and each test works on its
# own copy: township "town"; village a with a few records of every kind and
# $FILL long visits (a backlog of two batches); village b with a few records.

load helper

bats_require_minimum_version 1.5.0

PROXY=$XF_BUILD/tests/tools/faultproxy
TOWN=370102007
VA=370102007001
VB=370102007002
FILL=1000
ALL=drop,truncate-request,truncate-response,delay,reset,duplicate-request,duplicate-response,stale-response,unsigned-response,forged-skew

# record NAME: a little of every kind of work on village NAME; its case's
# id goes to $BATS_TEST_TMPDIR/NAME.case.
record() {
	local name=$1 v l c
	v=$(on "$name" visit add --people 3 --category 土地纠纷 --summary "$name 村民反映征地补偿未到位" --name 张三)
	l=$(on "$name" letter add --category 环境污染 --summary "$name 来信：养殖场污水" --name 李四)
	c=$(on "$name" case open --title "$name 征地补偿" --from "$v" --from "$l")
	on "$name" case note "$c" --text 已约谈村干部 >/dev/null
	on "$name" risk report --level major --summary "$name 可能聚集上访" >/dev/null
	echo "$c" >"$BATS_TEST_TMPDIR/$name.case"
}

setup_file() {
	local BATS_TEST_TMPDIR=$BATS_FILE_TMPDIR/world
	mkdir -p "$BATS_TEST_TMPDIR"
	make_township town $TOWN
	make_village a $VA town 1
	make_village b $VB town 1
	record a
	# Long visits (a summary of 1.3 KB each), so that a's backlog needs two
	# batches of a push (1 MiB each) without thousands of events to check.
	python3 - >"$BATS_TEST_TMPDIR/fill.ndjson" <<'PY'
import json
for i, (category, text) in enumerate([("土地纠纷", "两户村民因宅基地边界发生争执，多次协商未果，村调解委员会已介入。"),
                                      ("劳资纠纷", "务工人员反映工程款被拖欠半年以上，要求施工方尽快结清。"),
                                      ("社会保障", "村民代表称集体资金使用情况长期未公开，要求村务公开。")]):
    print(json.dumps({"date": "2026-0%d-10" % (i + 1), "petitioners": i + 1, "names": [], "category": category,
                      "summary": text * 15, "escalated": False}, ensure_ascii=False))
PY
	fill a $FILL >/dev/null
	record b
}

teardown() {
	stop_all_within 10
	stop_all
}

# proxy NAME FAULTS SEED [RATE]: a faultproxy between village NAME and the
# township, FAULTS on RATE % (default 50) of the exchanges, never more than
# two in a row; NAME's upstream is pointed at it. It stops (and writes its
# summary) with the other daemons.
proxy() {
	local name=$1 faults=$2 seed=$3 rate=${4:-50} port
	port=$BATS_TEST_TMPDIR/proxy-$name.port-file
	"$PROXY" --listen 127.0.0.1:0 --to "127.0.0.1:$(cat "$BATS_TEST_TMPDIR/town.port")" --faults "$faults" \
		--seed "$seed" --rate "$rate" --max-run 2 --log "$BATS_TEST_TMPDIR/proxy-$name.log" --port-file "$port" 3>&- &
	echo $! >"$BATS_TEST_TMPDIR/proxy-$name.pid"
	until_true 10 test -s "$port"
	sed -i "s|^url = .*|url = http://127.0.0.1:$(cat "$port")|" "$BATS_TEST_TMPDIR/$name.conf"
}

# struck NAME FAULT [BYTES]: FAULT struck an exchange of NAME's proxy
# whose request had at least BYTES bytes (default 10000: a batch of a
# push; an idle request has under 300).
struck() {
	awk -v f="$2" -v min="${3:-10000}" '$2 == "conn" && ($4 == f ":" || $4 == f) &&
		match($0, /[0-9]+ request bytes up/) && substr($0, RSTART) + 0 >= min { found = 1 }
		END { exit !found }' "$BATS_TEST_TMPDIR/proxy-$1.log"
}

# injected NAME FAULT: how many exchanges FAULT struck, from the summary
# NAME's proxy wrote as it stopped.
injected() {
	sed -n "s/^faultproxy: [0-9]* exchanges on .*[:,] \([0-9]*\) $2\(,.*\)*\$/\1/p" "$BATS_TEST_TMPDIR/proxy-$1.log"
}

# holds NAME ID: node NAME holds visit ID.
holds() {
	on "$1" visit show "$2" >/dev/null 2>&1
}

# idle_after TOWNSHIP NODE LINE: after line LINE of TOWNSHIP's daemon log,
# NODE made a sync with nothing to push and nothing to pull.
idle_after() {
	tail -n "+$(($3 + 1))" "$BATS_TEST_TMPDIR/$1.log" | grep -q "^<6>sync '$2': pushed 0, new 0, refused 0, pulled 0;"
}

# settle NAME ID: once the township holds NAME's last record ID, wait for
# an idle sync of NAME's: then NAME pushed all it had, the acknowledgement
# reached it, and it pulled all the township had for it.
settle() {
	local name=$1 node mark
	node=$(node_id "$name")
	until_true 60 holds town "$2"
	mark=$(wc -l <"$BATS_TEST_TMPDIR/town.log")
	until_true 60 idle_after town "$node" "$mark"
}

# converged NAME: village NAME and the township agree, in full: scope,
# verify, each of NAME's events on the township exactly once, the same
# records (visits, letters, cases, risks) on both sides, and a receipt,
# signed and matching the log, for NAME's own head.
converged() {
	local name=$1 kind pids=() pid rc=0
	# What each check needs, all at once: a process each, slow under ASan.
	scoped town "$name" &
	pids+=($!)
	verified town "$name" &
	pids+=($!)
	for kind in visit letter case risk; do
		on "$name" "$kind" list --json >"$BATS_TEST_TMPDIR/$name.$kind.json" &
		pids+=($!)
		on town "$kind" list --json >"$BATS_TEST_TMPDIR/town.$kind.json" &
		pids+=($!)
	done
	on "$name" receipts --json >"$BATS_TEST_TMPDIR/$name.receipts.json" &
	pids+=($!)
	for pid in "${pids[@]}"; do
		wait "$pid" || rc=1
	done
	[ "$rc" -eq 0 ]
	(cd "$BATS_TEST_TMPDIR" && python3 - "$name" "$(node_id "$name")" <<'PY')
import collections, json, sys
name, node = sys.argv[1:]
load = lambda f: json.load(open(f))
v = [e for e in load(name + ".scoped.json") if e["origin"] == node]
t = collections.Counter(e["id"] for e in load("town.scoped.json") if e["origin"] == node)
assert sorted(e["id"] for e in v) == sorted(t) and set(t.values()) == {1}, (len(v), len(t))
for kind in "visit", "letter", "case", "risk":
    mine = load(f"{name}.{kind}.json")
    theirs = [r for r in load(f"town.{kind}.json") if r["id"].split("-")[1] == node]
    assert mine == theirs, (kind, len(mine), len(theirs))
head = max(e["seq"] for e in v)
r = max(load(name + ".receipts.json"), key=lambda r: r["seq"])
assert r["seq"] == head and r["signature"] == "ok" and r["log"] == "ok", (head, r)
print(f"{name}: {len(v)} events of its own, each on the township once; receipt for seq {head}", file=sys.stderr)
PY
}

# quit NAME: NAME's daemon stops on SIGTERM within 10 s, with status 0.
quit() {
	local rc=0
	stop_within 10 "$1" || rc=$?
	[ "$rc" -eq 0 ] || {
		echo "$1 stopped with status $rc" >&2
		return 1
	}
}

# fault_test FAULT: village a, its backlog, a record made while that goes
# up and a decision of the township's on its case, all through FAULT (with
# seed 2, which strikes the first exchange, a batch of the backlog); then
# everything has converged.
fault_test() {
	local fault=$1 c id
	clone_nodes "$BATS_FILE_TMPDIR/world"
	c=$(cat "$BATS_TEST_TMPDIR/a.case")
	start town
	proxy a "$fault" 2
	start a
	on a visit add --people 2 --category 其他 --summary 联网时来访 >/dev/null
	until_true 60 eval 'on town case show "$c" >/dev/null 2>&1'
	on town case assign "$c" --leader 王书记 >/dev/null
	id=$(on a visit add --people 1 --category 其他 --summary 又一来访)
	settle a "$id"
	quit a
	stop proxy-a
	grep '^faultproxy: [0-9]* exchanges' "$BATS_TEST_TMPDIR/proxy-a.log" >&2
	[ "$(injected a "$fault")" -ge 1 ]
	struck a "$fault"
	converged a
	run on a case show "$c" --json
	[[ "$output" == *'"leader": "王书记"'* ]]
}

# repushed: the township was sent events of a's that it already held (a
# push with fewer new than pushed); converged shows none was stored twice.
repushed() {
	awk -v n="<6>sync '$VA': pushed" 'index($0, n) == 1 && $4 + 0 > $6 + 0 { found = 1 } END { exit !found }' \
		"$BATS_TEST_TMPDIR/town.log"
}

# proxy_says NAME TEXT: NAME's proxy logged TEXT.
proxy_says() {
	grep -qF -- "$2" "$BATS_TEST_TMPDIR/proxy-$1.log"
}

@test "drop: a request that never reaches the township is sent again" {
	fault_test drop
	log_has a '^<4>sync failed .*Server returned nothing'
}

@test "truncate-request: a push cut inside its body stores nothing, and is sent again" {
	fault_test truncate-request
	log_has town '^<4>http: .*incomplete request'
}

@test "truncate-response: a push whose answer is cut is sent again and stored once" {
	fault_test truncate-response
	log_has a '^<4>sync failed .*partial'
	repushed
}

@test "delay: requests and responses held up to 3 s cost no failure" {
	fault_test delay
	proxy_says a '(the request held'
	proxy_says a '(the response held'
	[ "$(log_count a '^<4>sync failed')" -eq 0 ]
}

@test "reset: a connection reset before the request or after the answer; what landed is not stored twice" {
	fault_test reset
	proxy_says a 'reset (before the request)'
	proxy_says a 'reset (after the upstream answered)'
	log_has a '^<4>sync failed .*(reset|receiving data)'
	repushed
}

@test "duplicate-request: a push sent twice, at once or replayed later, is stored once" {
	fault_test duplicate-request
	proxy_says a '(a copy follows 0 ms later)'
	grep -Eq '\(a copy follows [1-9][0-9]* ms later\)' "$BATS_TEST_TMPDIR/proxy-a.log"
	repushed
	[ "$(log_count a '^<4>sync failed')" -eq 0 ]
}

@test "duplicate-response: a response sent twice is read once" {
	fault_test duplicate-response
	# The copy may be read as the answer to the village's next request on
	# that connection: an old answer, which it refuses and asks again.
	[ "$(log_count a '^<4>sync failed')" -eq "$(log_count a '^<4>sync failed.* not signed by its key for this request')" ]
}

@test "stale-response: an earlier answer passed off as this one's is refused, and nothing of it applied" {
	fault_test stale-response
	grep -q '^faultproxy: conn [0-9]*: stale-response (an earlier one' "$BATS_TEST_TMPDIR/proxy-a.log"
	grep -q "its answer or receipt is not signed by its key for this request" "$BATS_TEST_TMPDIR/a.log"
}

@test "unsigned-response: an answer without its signature is refused and named as such" {
	fault_test unsigned-response
	grep -q '^faultproxy: conn [0-9]*: unsigned-response ([0-9]* bytes of X-Xf-Sig taken out)' "$BATS_TEST_TMPDIR/proxy-a.log"
	grep -q "sent an unsigned answer" "$BATS_TEST_TMPDIR/a.log"
}

@test "forged-skew: a refusal whose server time no clock can show is not taken as the time" {
	fault_test forged-skew
	grep -q '^faultproxy: conn [0-9]*: forged-skew' "$BATS_TEST_TMPDIR/proxy-a.log"
	grep -q "upstream refused (HTTP 401): clock skew" "$BATS_TEST_TMPDIR/a.log"
}

@test "all faults at once on two villages: both converge, each fault struck" {
	local fault i ida idb
	clone_nodes "$BATS_FILE_TMPDIR/world"
	start town
	proxy a $ALL 8
	proxy b $ALL 9
	start a
	start b
	# Records made online, until each fault has struck one village or the
	# other (seeds 8 and 9 deal all seven within eight exchanges each).
	for i in $(seq 30); do
		ida=$(on a visit add --people 1 --category 其他 --summary "来访 $i")
		idb=$(on b visit add --people 1 --category 其他 --summary "来访 $i")
		until_true 60 holds town "$ida"
		until_true 60 holds town "$idb"
		for fault in ${ALL//,/ }; do
			struck a "$fault" 0 || struck b "$fault" 0 || continue 2
		done
		break
	done
	settle a "$ida"
	settle b "$idb"
	quit a
	quit b
	stop proxy-a
	stop proxy-b
	grep -h '^faultproxy: [0-9]* exchanges' "$BATS_TEST_TMPDIR"/proxy-[ab].log >&2
	for fault in ${ALL//,/ }; do
		[ $(($(injected a "$fault") + $(injected b "$fault"))) -ge 1 ]
	done
	converged a
	converged b
	# The township's records, kept up as events came in twice or out of
	# turn, are what a fold of its log from scratch gives.
	run on town rebuild
	[[ "$output" == *": nothing differed" ]]
}

@test "a push replayed after newer ones raises no rollback alarm on the township" {
	local i id
	clone_nodes "$BATS_FILE_TMPDIR/world"
	start town
	# Two requests in three copied, half of the copies 0.5-3 s late; the
	# village records on, so that a late copy arrives after its next push.
	proxy b duplicate-request 2 100
	start b
	for i in $(seq 30); do
		id=$(on b visit add --people 1 --category 其他 --summary "来访 $i")
		until_true 60 holds town "$id"
		[ "$(grep -Ec 'the copy of its request, [1-9][0-9]* ms later: [1-9]' "$BATS_TEST_TMPDIR/proxy-b.log")" -lt 2 ] ||
			break
	done
	settle b "$id"
	quit b
	stop proxy-b
	grep -q 'the copy of its request, [1-9][0-9]* ms later' "$BATS_TEST_TMPDIR/proxy-b.log"
	converged b
	run ! log_has town rollback
	on town status --json | python3 -c '
import json, sys
p = [p for p in json.load(sys.stdin)["peers"] if p["node"] == sys.argv[1]][0]
assert not (p["last_error"] or "").startswith("rollback"), p' $VB
}
