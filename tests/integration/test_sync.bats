#!/usr/bin/env bats
# Sync with real daemons on 127.0.0.1: a township and its villages record
# offline and converge; scope; kill -9 mid-sync; a long catch-up; bundles
# on a USB stick; the daemon's behaviour; `xinfangctl sync`.
#
# Recording costs a process per event (slow under ASan), so setup_file
# records two worlds once and each test works on its own copy:
#   three: township "town" and villages a, b, c (interval 1 s), each
#          village with 12 events of every kind, the township with two
#          records of its own; no sync yet.
#   long:  township "town" and village a (interval 1 s) with $LONG events
#          (10,000 of them appended at core speed); no sync yet.

load helper

bats_require_minimum_version 1.5.0

TOWN=370102001
VA=370102001001
VB=370102001002
VC=370102001003
# Events of a village after `record`: its key, its enrolment of the
# township, 5 visits and letters, 2 cases and a note, 2 risks.
RECORDED=12
LONG=$((RECORDED + 10000 + 1))

# record NAME: a little of every kind of work on village NAME, offline;
# the first case's id goes to $BATS_TEST_TMPDIR/NAME.case.
record() {
	local name=$1 v1 v2 l1 c
	v1=$(on "$name" visit add --people 3 --category 土地纠纷 --summary "$name 村民反映征地补偿未到位" --name 张三)
	v2=$(on "$name" visit add --people 6 --category 劳资纠纷 --summary "$name 集体访：工程款拖欠" --escalated)
	on "$name" visit add --people 1 --category 邻里纠纷 --summary "$name 宅基地边界" >/dev/null
	l1=$(on "$name" letter add --category 环境污染 --summary "$name 来信：养殖场污水" --name 李四)
	on "$name" letter add --category 社会保障 --summary "$name 来信：低保评定" >/dev/null
	c=$(on "$name" case open --title "$name 征地补偿" --from "$v1" --from "$l1")
	on "$name" case note "$c" --text "已约谈村干部" >/dev/null
	on "$name" case open --title "$name 工程款" --from "$v2" >/dev/null
	on "$name" risk report --level major --summary "$name 可能聚集上访" >/dev/null
	on "$name" risk report --level general --summary "$name 山塘渗漏" >/dev/null
	echo "$c" >"$BATS_TEST_TMPDIR/$name.case"
}

setup_file() {
	local BATS_TEST_TMPDIR v
	BATS_TEST_TMPDIR=$BATS_FILE_TMPDIR/three
	mkdir -p "$BATS_TEST_TMPDIR"
	make_township town $TOWN
	make_village a $VA town 1
	make_village b $VB town 1
	make_village c $VC town 1
	for v in a b c; do
		record $v
	done
	# The township works offline too: its own records are no village's.
	on town visit add --people 2 --category 土地纠纷 --summary 镇接访 >/dev/null
	on town letter add --category 其他 --summary 镇收信 >/dev/null

	BATS_TEST_TMPDIR=$BATS_FILE_TMPDIR/long
	mkdir -p "$BATS_TEST_TMPDIR"
	make_township town $TOWN
	make_village a $VA town 1
	record a
	fill a 10000
	on a letter add --category 其他 --summary 恢复联网前最后一条 >/dev/null
}

teardown() {
	stop_all_within 10
	stop_all
}

# events_verified NAME: verify passes on NAME; print how many events it holds.
events_verified() {
	local out
	out=$(on "$1" verify) || {
		echo "verify failed on $1: $out" >&2
		return 1
	}
	[[ "$out" =~ ^ok:\ ([0-9]+)\ events ]] || return 1
	echo "${BASH_REMATCH[1]}"
}

# idle_count TOWNSHIP NODE: how many syncs NODE made with nothing to push
# or pull.
idle_count() {
	log_count "$1" "^<6>sync '$2': pushed 0, new 0, refused 0, pulled 0;"
}

@test "a township and three villages that recorded while it was down converge, each village seeing only its own" {
	clone_nodes "$BATS_FILE_TMPDIR/three"
	# The villages start first, and keep trying while the township is down.
	for v in a b c; do
		start $v
	done
	until_true 5 log_has a '^<4>sync failed'
	start town
	until_true 20 scoped town a b c
	# Beyond what `scoped` checks: every village's whole work is on the
	# township, and no village holds anything made on or about the
	# township or another village.
	(cd "$BATS_TEST_TMPDIR" && python3 - $RECORDED $TOWN $VA $VB $VC <<'PY')
import json, sys
recorded, town, villages = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
t = json.load(open("town.scoped.json"))
for name, node in zip("abc", villages):
    v = json.load(open(name + ".scoped.json"))
    own = [e for e in v if e["origin"] == node]
    assert len(own) == recorded, (name, len(own))
    assert sum(e["origin"] == node for e in t) == recorded, name
    for e in v:
        assert e["origin"] == node, (name, e["id"])
        assert e["entity"][2:e["entity"].rindex("-")] == node, (name, e["id"], e["entity"])
# The township's own records stay there.
assert sum(e["origin"] == town and e["type"] in ("visit.recorded", "letter.recorded") for e in t) == 2
PY
	verified town a b c
	# The township's report for a village is the village's own report.
	today=$(date +%F)
	on town report --from 2026-01-01 --to "$today" --json >"$BATS_TEST_TMPDIR/town.report"
	for v in a b c; do
		on $v report --from 2026-01-01 --to "$today" --json >"$BATS_TEST_TMPDIR/$v.report"
		on town report --from 2026-01-01 --to "$today" --json --village "$(node_id $v)" >"$BATS_TEST_TMPDIR/town-$v.report"
	done
	(cd "$BATS_TEST_TMPDIR" && python3 - <<'PY')
import json
town = json.load(open("town.report"))
for v in "abc":
    own, there = json.load(open(v + ".report")), json.load(open("town-" + v + ".report"))
    assert own["totals"]["visits"] == 3 and own["totals"]["letters"] == 2, own["totals"]
    assert own["totals"]["cases_opened"] == 2 and own["totals"]["risks_reported"] == 2, own["totals"]
    for k in ("totals", "previous", "yoy", "by_category", "by_village"):
        assert own[k] == there[k], (v, k, own[k], there[k])
# Three villages and the township's own two records.
assert town["totals"]["visits"] == 3 * 3 + 1 and town["totals"]["letters"] == 3 * 2 + 1, town["totals"]
PY
}

@test "a township decision on a village's case reaches that village and no other" {
	clone_nodes "$BATS_FILE_TMPDIR/three"
	case_a=$(cat "$BATS_TEST_TMPDIR/a.case")
	case_b=$(cat "$BATS_TEST_TMPDIR/b.case")
	start town
	for v in a b c; do
		start $v
	done
	until_true 20 scoped town a b c
	# The township holds the villages' cases and decides on two of them.
	idle_b=$(idle_count town $VB)
	idle_c=$(idle_count town $VC)
	on town case assign "$case_a" --leader 王书记 >/dev/null
	on town case note "$case_b" --text 镇里督办 >/dev/null
	until_true 10 eval 'on a case show "$case_a" --json | grep -q "\"leader\": \"王书记\""'
	until_true 10 eval 'on b case show "$case_b" --json | grep -q 镇里督办'
	# b and c have each synced twice more, pulling nothing more.
	until_true 10 eval '[ "$(idle_count town $VB)" -ge $((idle_b + 2)) ] && [ "$(idle_count town $VC)" -ge $((idle_c + 2)) ]'
	scoped town a b c
	run on a case show "$case_a" --json
	[ "$status" -eq 0 ]
	printf '%s' "$output" | python3 -c '
import json, sys
c = json.load(sys.stdin)
assert c["leader"] == "王书记" and c["status"] == "assigned" and c["events"] == 3, c'
	(cd "$BATS_TEST_TMPDIR" && python3 - "$case_a" "$case_b" <<'PY')
import json, sys
case_a, case_b = sys.argv[1:]
about = lambda name, entity: sum(e["entity"] == entity for e in json.load(open(name + ".scoped.json")))
assert about("a", case_a) == 3 and about("town", case_a) == 3
assert about("b", case_b) == 3 and about("town", case_b) == 3
assert about("b", case_a) == 0, "b holds a's case"
assert about("c", case_a) == 0, "c holds a's case"
assert about("a", case_b) == 0, "a holds b's case"
assert about("c", case_b) == 0, "c holds b's case"
PY
	run --separate-stderr on b case show "$case_a"
	[ "$status" -ne 0 ]
	verified town a b c
}

@test "a case the township opens from a village's visit reaches that village and no other, and counts alike" {
	clone_nodes "$BATS_FILE_TMPDIR/three"
	start town
	for v in a b c; do
		start $v
	done
	until_true 20 scoped town a b c
	visit=$(on a visit list --json | python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["id"])')
	case_t=$(on town case open --title 镇立案 --from "$visit")
	[[ "$case_t" == C-$TOWN-* ]]
	on town case assign "$case_t" --leader 王镇长 >/dev/null
	until_true 10 eval 'on a case show "$case_t" --json | grep -q "\"leader\": \"王镇长\""'
	idle_b=$(idle_count town $VB)
	idle_c=$(idle_count town $VC)
	until_true 10 eval '[ "$(idle_count town $VB)" -ge $((idle_b + 2)) ] && [ "$(idle_count town $VC)" -ge $((idle_c + 2)) ]'
	scoped town a b c
	for v in b c; do
		run --separate-stderr on $v case show "$case_t"
		[ "$status" -ne 0 ]
	done
	# The village's own figures are the township's for it.
	on town report --from 2000-01-01 --to 2099-12-31 --village $VA --json >"$BATS_TEST_TMPDIR/town.report"
	on a report --from 2000-01-01 --to 2099-12-31 --json >"$BATS_TEST_TMPDIR/a.report"
	python3 - "$BATS_TEST_TMPDIR/town.report" "$BATS_TEST_TMPDIR/a.report" <<'PY'
import json, sys
town, village = (json.load(open(f))["totals"] for f in sys.argv[1:])
assert town == village and village["cases_opened"] == 3, (town, village)
PY
	# Opened from a's visit and an earlier one of the township's own, which
	# a never holds: the deadlines run from the earlier on both nodes.
	own=$(on town visit add --date 2001-01-02 --people 1 --category 其他 --summary 镇接访)
	case_2=$(on town case open --title 合并立案 --from "$visit" --from "$own")
	until_true 10 eval 'on a case show "$case_2" >/dev/null 2>&1'
	run --separate-stderr on a visit show "$own"
	[ "$status" -ne 0 ]
	on town report --overdue --village $VA --json >"$BATS_TEST_TMPDIR/town.overdue"
	on a report --overdue --json >"$BATS_TEST_TMPDIR/a.overdue"
	python3 - "$BATS_TEST_TMPDIR/town.overdue" "$BATS_TEST_TMPDIR/a.overdue" "$case_2" <<'PY'
import json, sys
town, village = (json.load(open(f)) for f in sys.argv[1:3])
assert town == village, (town, village)
row = [r for r in village if r["id"] == sys.argv[3]][0]
assert row["from"] == "2001-01-02" and row["due"] == "2001-01-17", row
PY
	verified town a b c
}

@test "kill -9 of a village and of the township mid-sync: nothing lost, nothing duplicated, verify passes" {
	clone_nodes "$BATS_FILE_TMPDIR/long"
	case_a=$(cat "$BATS_TEST_TMPDIR/a.case")
	# A link of 256 KiB/s takes seconds per batch, so each kill below
	# lands between batches rather than after the last one.
	echo "upload_limit = 256" >>"$BATS_TEST_TMPDIR/a.conf"
	start town
	start a
	# The village dies as its first batch lands. The township holds its
	# own two events (its key, its enrolment of a) and what a pushed.
	until_soon 30 log_has town "^<6>sync '$VA': pushed [1-9]"
	sleep "0.0$((RANDOM % 5))"
	kill9 a || : # (kill9 returns the wait status, 137)
	held=$(($(events_verified town) - 2))
	echo "the township held $held of $LONG events of a when a died" >&2
	[ "$held" -gt 0 ] && [ "$held" -lt "$LONG" ]
	[ "$(events_verified a)" -eq "$LONG" ]
	# A decision waits on the township for the village to pull.
	on town case assign "$case_a" --leader 王书记 >/dev/null
	# The village comes back; the township dies a moment into its push.
	pushes=$(log_count town "^<6>sync '$VA': pushed [1-9]")
	start a
	until_soon 30 eval '[ "$(log_count town "^<6>sync .$VA.: pushed [1-9]")" -gt "$pushes" ]'
	sleep "0.0$((RANDOM % 5))"
	kill9 town || :
	held2=$(($(events_verified town) - 3))
	echo "the township held $held2 of $LONG events of a when it died" >&2
	[ "$held2" -ge "$held" ] && [ "$held2" -lt "$LONG" ]
	start town
	until_true 60 idle_sync town $VA
	# Nothing lost, nothing twice: the township holds each of a's events
	# once, a holds its own and the decision, and no more.
	scoped town a
	[ "$(events_verified town)" -eq $((LONG + 3)) ]
	[ "$(events_verified a)" -eq $((LONG + 1)) ]
	run on a case show "$case_a" --json
	[[ "$output" == *'"leader": "王书记"'* ]]
	[[ "$output" == *'"events": 3,'* ]]
	# And the village's own accounting agrees: nothing left to push.
	stop_within 10 a || :
	run --separate-stderr on a sync
	[ "$status" -eq 0 ]
	[[ "$output" == *"pushed 0, pulled 0 in 1 requests"* ]]
}

@test "a village offline for 10,000 events catches up in one sync of at most 15 requests" {
	clone_nodes "$BATS_FILE_TMPDIR/long"
	start town
	run --separate-stderr on a sync
	echo "$output $stderr" >&2
	[ "$status" -eq 0 ]
	[[ "$output" =~ pushed\ $LONG,\ pulled\ 0\ in\ ([0-9]+)\ requests ]]
	requests=${BASH_REMATCH[1]}
	[ "$requests" -le 15 ]
	# The township answered as many requests, and holds every event once.
	[ "$(log_count town "^<6>sync '$VA'")" -eq "$requests" ]
	[ "$(events_verified town)" -eq $((LONG + 2)) ]
	scoped town a
	# Now in sync: one idle request.
	run --separate-stderr on a sync
	[ "$status" -eq 0 ]
	[[ "$output" == *"pushed 0, pulled 0 in 1 requests"* ]]
	[ "$(events_verified a)" -eq "$LONG" ]
}

# bundle_edit IN OUT PYTHON: OUT is bundle IN with its frames, inflated, in
# the list `frames` edited by PYTHON (which may also set `magic`).
bundle_edit() {
	python3 -c '
import struct, sys, zlib
b = open(sys.argv[1], "rb").read()
magic, off, frames = b[:10], 10, []
while off < len(b):
    n = struct.unpack(">I", b[off:off + 4])[0]
    frames.append(zlib.decompress(b[off + 4:off + 4 + n]))
    off += 4 + n
exec(sys.argv[3])
with open(sys.argv[2], "wb") as f:
    f.write(magic)
    for z in (zlib.compress(x) for x in frames):
        f.write(struct.pack(">I", len(z)) + z)' "$@"
}

# frame_events FILE: how many events each frame of bundle FILE pushes, one
# frame a line; fails unless FILE is exactly a header and whole frames.
frame_events() {
	python3 -c '
import struct, sys, zlib
b = open(sys.argv[1], "rb").read()
assert b[:10] == b"XFBUNDLE1\n"
off = 10
while off < len(b):
    n = struct.unpack(">I", b[off:off + 4])[0]
    f = zlib.decompress(b[off + 4:off + 4 + n])
    off += 4 + n
    i = f.index(b"\xa4push") + 5
    t = f[i]
    print(t & 0x0f if 0x90 <= t <= 0x9f else struct.unpack(">H", f[i + 1:i + 3])[0] if t == 0xdc
          else struct.unpack(">I", f[i + 1:i + 5])[0])
assert off == len(b)' "$1"
}

# flip_byte IN OUT OFFSET: OUT is IN with the byte at OFFSET (negative:
# from the end) inverted.
flip_byte() {
	python3 -c '
import sys
b = bytearray(open(sys.argv[1], "rb").read())
b[int(sys.argv[3])] ^= 0xff
open(sys.argv[2], "wb").write(b)' "$@"
}

# refused_one_line: the last `run --separate-stderr` failed with one line
# on stderr and nothing on stdout.
refused_one_line() {
	[ "$status" -ne 0 ] || { echo "exit 0: $output" >&2; return 1; }
	[ -z "$output" ] || { echo "stdout: $output" >&2; return 1; }
	[ "${#stderr_lines[@]}" -eq 1 ] || { echo "stderr: $stderr" >&2; return 1; }
}

@test "a bundle carried by file converges as HTTP does; importing twice changes nothing; a damaged bundle is refused" {
	clone_nodes "$BATS_FILE_TMPDIR/long"
	bundle=$BATS_TEST_TMPDIR/a.xfb
	run --separate-stderr on a bundle export "$bundle"
	[ "$status" -eq 0 ]
	[ "$output" = "$LONG events written to $bundle" ]
	mapfile -t per_frame < <(frame_events "$bundle")
	echo "frames of ${per_frame[*]} events" >&2
	[ "${#per_frame[@]}" -ge 3 ]
	[ "$(IFS=+; echo $((${per_frame[*]})))" -eq "$LONG" ]
	# The township holds its key and its enrolment of a.
	[ "$(events_verified town)" -eq 2 ]

	# Damaged copies, each refused with one line, and nothing lands.
	bundle_edit "$bundle" "$BATS_TEST_TMPDIR/magic.xfb" 'magic = b"XFBUNDLE9\n"'
	head -c 3000 "$bundle" >"$BATS_TEST_TMPDIR/short1.xfb"
	flip_byte "$bundle" "$BATS_TEST_TMPDIR/flip1.xfb" 3000
	for damaged in magic short1 flip1; do
		run --separate-stderr on town bundle import "$BATS_TEST_TMPDIR/$damaged.xfb"
		echo "$damaged: $stderr" >&2
		refused_one_line
		[ "$(events_verified town)" -eq 2 ]
	done

	# A forged event in the second frame: the events before it land, as
	# their own signatures and links prove them; it and all after it are
	# refused, the rest of its frame and the frames after it included.
	bundle_edit "$bundle" "$BATS_TEST_TMPDIR/forged.xfb" '
old, new = "务工人员反映工程款被拖欠半年以上".encode(), "务工人员反映工程款已经全部结清了".encode()
assert len(old) == len(new)
i = frames[1].index(old, len(frames[1]) // 2)
frames[1] = frames[1][:i] + new + frames[1][i + len(old):]'
	run --separate-stderr on town bundle import "$BATS_TEST_TMPDIR/forged.xfb"
	echo "forged: $stderr" >&2
	refused_one_line
	[[ "$stderr" =~ :\ ([0-9]+)\ new,\ 0\ already\ held,\ ([0-9]+)\ refused,\ first\ $VA:([0-9]+): ]]
	first=${BASH_REMATCH[1]}
	[ "$((first + BASH_REMATCH[2]))" -eq "$LONG" ]
	[ "${BASH_REMATCH[3]}" -eq $((first + 1)) ]
	[ "$first" -gt "${per_frame[0]}" ] && [ "$first" -lt $((per_frame[0] + per_frame[1])) ]
	[ "$(events_verified town)" -eq $((first + 2)) ]
	# Those are a's first events, without a gap, and no forged text.
	run --separate-stderr on town log --json
	printf '%s' "$output" | python3 -c '
import json, sys
seqs = sorted(e["seq"] for e in json.load(sys.stdin) if e["origin"] == sys.argv[1])
assert seqs == list(range(1, int(sys.argv[2]) + 1)), (len(seqs), seqs[-1])' $VA "$first"
	[[ "$output" != *已经全部结清* ]]

	# Cut or flipped inside the last frame: refused; the frames before it
	# land, nothing of it.
	size=$(stat -c %s "$bundle")
	head -c $((size - 1000)) "$bundle" >"$BATS_TEST_TMPDIR/short2.xfb"
	flip_byte "$bundle" "$BATS_TEST_TMPDIR/flip2.xfb" -2000
	before_last=$((LONG - per_frame[-1]))
	for damaged in short2 flip2; do
		run --separate-stderr on town bundle import "$BATS_TEST_TMPDIR/$damaged.xfb"
		echo "$damaged: $stderr" >&2
		refused_one_line
		[ "$(events_verified town)" -eq $((before_last + 2)) ]
	done
	run --separate-stderr on town log --json
	printf '%s' "$output" | python3 -c '
import json, sys
seqs = sorted(e["seq"] for e in json.load(sys.stdin) if e["origin"] == sys.argv[1])
assert seqs == list(range(1, int(sys.argv[2]) + 1)), "not exactly the frames before the damaged one"' $VA "$before_last"

	# The whole bundle: the rest lands.
	run --separate-stderr on town bundle import "$bundle"
	[ "$status" -eq 0 ]
	[[ "$output" =~ ^"$bundle: "([0-9]+)" new events, "([0-9]+)" already held"$ ]]
	[ "$((BASH_REMATCH[1] + BASH_REMATCH[2]))" -eq "$LONG" ]
	[ "$(events_verified town)" -eq $((LONG + 2)) ]
	# Twice: nothing new.
	run --separate-stderr on town bundle import "$bundle"
	[ "$status" -eq 0 ]
	[ "$output" = "$bundle: 0 new events, $LONG already held" ]
	[ "$(events_verified town)" -eq $((LONG + 2)) ]

	# The link comes up: HTTP finds nothing new to store, and the two
	# sides stand exactly as HTTP alone would have left them.
	start town
	run --separate-stderr on a sync
	[ "$status" -eq 0 ]
	[ "$(log_count town "^<6>sync '$VA'")" -ge 1 ]
	[ "$(log_count town "^<6>sync '$VA':.* new [1-9]")" -eq 0 ]
	[ "$(events_verified town)" -eq $((LONG + 2)) ]
	scoped town a
	run --separate-stderr on a sync
	[ "$status" -eq 0 ]
	[[ "$output" == *"pushed 0, pulled 0 in 1 requests"* ]]
	# What the upstream lacks is now nothing.
	run --separate-stderr on a bundle export "$BATS_TEST_TMPDIR/after.xfb"
	[ "$status" -eq 0 ]
	[ "$output" = "0 events written to $BATS_TEST_TMPDIR/after.xfb" ]
	[ "$(events_verified a)" -eq "$LONG" ]
}

@test "a village reached only by USB stick gets the township's decision on its case by a bundle made --for it, and no other village takes it" {
	clone_nodes "$BATS_FILE_TMPDIR/three"
	case_a=$(cat "$BATS_TEST_TMPDIR/a.case")
	bundle=$BATS_TEST_TMPDIR/for-a.xfb
	# The villages' bundles went up: the township holds their cases.
	for v in a b; do
		on $v bundle export "$BATS_TEST_TMPDIR/$v.xfb" >/dev/null
		on town bundle import "$BATS_TEST_TMPDIR/$v.xfb" >/dev/null
	done
	on town case assign "$case_a" --leader 王书记 >/dev/null
	run --separate-stderr on town bundle export --for $VA "$bundle"
	[ "$status" -eq 0 ]
	[[ "$output" =~ ^([0-9]+)" events written to $bundle for $VA"$ ]]
	carried=${BASH_REMATCH[1]}
	[ "$(stat -c %a "$bundle")" = 600 ]
	run --separate-stderr on a bundle import "$bundle"
	[ "$status" -eq 0 ]
	[ "$output" = "$bundle: $carried new events, 0 already held" ]
	run on a case show "$case_a" --json
	printf '%s' "$output" | python3 -c '
import json, sys
c = json.load(sys.stdin)
assert c["leader"] == "王书记" and c["status"] == "assigned", c'
	run --separate-stderr on a bundle import "$bundle"
	[ "$output" = "$bundle: 0 new events, $carried already held" ]
	# Carried to the wrong village, it is refused whole.
	before=$(events_verified b)
	run --separate-stderr on b bundle import "$bundle"
	[ "$status" -eq 1 ]
	[ "$stderr" = "xinfangctl bundle import: $bundle was made for $VA, not for $VB; nothing imported" ]
	[ "$(events_verified b)" -eq "$before" ]
	# When the link comes up, HTTP has nothing new for the village.
	start town
	run --separate-stderr on a sync
	[ "$status" -eq 0 ]
	run on a case show "$case_a" --json
	[ "$(printf '%s' "$output" | python3 -c 'import json, sys; print(json.load(sys.stdin)["events"])')" -eq 3 ]
	scoped town a b
	verified town a b
}

@test "the village daemon sends a new record at once despite a long interval, and takes turns with xinfangctl sync" {
	clone_nodes "$BATS_FILE_TMPDIR/three"
	sed -i 's/^interval = .*/interval = 300/' "$BATS_TEST_TMPDIR/a.conf"
	start town
	start a
	# The first sync happens at start; the next one is 5 minutes away.
	until_true 10 log_has town "^<6>sync '$VA': pushed $RECORDED, new $RECORDED,"
	run --separate-stderr on a sync
	[ "$status" -eq 0 ]
	[[ "$output" == *"pushed 0, pulled 0 in 1 requests"* ]]
	# Each record is on the township within 2 s, not 5 minutes. (The
	# daemon learns of a record through inotify on the log's directory;
	# several records give a race there a chance to show.)
	for i in 1 2 3 4 5 6; do
		n=$(log_count town "^<6>sync '$VA': pushed [1-9]")
		if ((i % 2)); then
			kind=visit
			id=$(on a visit add --people 2 --category 其他 --summary "新来访 $i")
		else
			kind=letter
			id=$(on a letter add --category 其他 --summary "新来信 $i")
		fi
		t0=$(date +%s%N)
		until_soon 3 eval '[ "$(log_count town "^<6>sync .$VA.: pushed [1-9]")" -gt "$n" ]' || :
		ms=$((($(date +%s%N) - t0) / 1000000))
		echo "$kind $id reached the township ${ms} ms after it was recorded" >&2
		[ "$ms" -le 2000 ] || {
			echo "$kind $id was not sent at once; the village's log:" >&2
			cat "$BATS_TEST_TMPDIR/a.log" >&2
			false
		}
		on town $kind show "$id" >/dev/null
	done
	running a
}

@test "with the township down the village daemon backs off and keeps running, then converges on its own" {
	clone_nodes "$BATS_FILE_TMPDIR/three"
	notify_listen a
	NOTIFY_SOCKET=$BATS_TEST_TMPDIR/a.sock start a
	until_true 10 eval '[ "$(log_count a "^<4>sync failed")" -ge 3 ]'
	running a
	# 1 s, 2 s, 4 s (each within a tenth either way), and why.
	run sed -n 's/^<4>sync failed (\([0-9]*\) in a row; next try in \([0-9]*\) s) after .*/\1 \2/p' "$BATS_TEST_TMPDIR/a.log"
	[ "${lines[0]}" = "1 1" ]
	[ "${lines[1]}" = "2 2" ]
	[ "${lines[2]}" = "3 4" ]
	log_has a "^<4>sync failed \(1 in a row; .*127\.0\.0\.1:$(cat "$BATS_TEST_TMPDIR/town.port").*connect"
	# systemd hears that it is up, and what is pending.
	until_true 5 grep -qx 'READY=1' "$BATS_TEST_TMPDIR/a.notify"
	until_true 5 grep -q "^STATUS=never synced, $RECORDED pending: .*127\.0\.0\.1" "$BATS_TEST_TMPDIR/a.notify"
	# A record made offline waits; the daemon stays up.
	on a visit add --people 1 --category 其他 --summary 断网时来访 >/dev/null
	running a
	start town
	until_true 20 idle_sync town $VA
	scoped town a
	[ "$(events_verified town)" -eq $((6 + RECORDED + 1)) ]
	until_true 5 grep -q '^STATUS=in sync [0-9]* s ago, 0 pending' "$BATS_TEST_TMPDIR/a.notify"
	running a
	verified a
}

@test "the village daemon keeps syncing every interval when its wall clock is set back an hour" {
	clone_nodes "$BATS_FILE_TMPDIR/three"
	start town
	# tests/tools/preload/clockjump.c sets the wall clock back an hour once
	# the file "jump" exists; loaded before the ASan runtime, which
	# verify_asan_link_order=0 allows.
	LD_PRELOAD=$XF_BUILD/tests/tools/clockjump.so XF_CLOCK_JUMP=$BATS_TEST_TMPDIR/jump \
		ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0 start a
	until_true 20 idle_sync town $VA
	touch "$BATS_TEST_TMPDIR/jump"
	n=$(log_count a '^<6>synced:')
	# Interval 1 s: two more syncs soon, not an hour from now.
	until_true 8 eval '[ "$(log_count a "^<6>synced:")" -ge $((n + 2)) ]'
	# The clock did go back: the township saw it, and the village made up.
	log_has town "refused '$VA': its clock is -3[56][0-9]{2} s off ours"
	running a
	# Signing with the offset it learnt, the village still shows the
	# township its own clock: an hour slow, on both sides.
	skews=$(on town status --json | python3 -c "
import json, sys
print([p['skew_ms'] for p in json.load(sys.stdin)['peers'] if p['node'] == '$VA'][0])")
	village_skew=$(on a status --json | python3 -c "import json, sys; print(json.load(sys.stdin)['skew_ms'])")
	echo "township shows $skews ms, the village $village_skew ms" >&2
	(( skews < -3540000 && skews > -3660000 ))
	(( village_skew > 3540000 && village_skew < 3660000 ))
}

@test "SIGTERM stops the daemons with exit 0, idle and mid-sync; every log line has a priority prefix" {
	clone_nodes "$BATS_FILE_TMPDIR/long"
	start town
	start a
	# The village, mid-sync.
	until_soon 30 log_has town "^<6>sync '$VA': pushed [1-9]"
	rc_a_mid=0
	stop_within 10 a || rc_a_mid=$?
	held=$(($(events_verified town) - 2))
	echo "a stopped with $rc_a_mid; the township held $held of $LONG" >&2
	[ "$held" -lt "$LONG" ]
	log_has a '^<6>stopping'
	# The township, mid-sync.
	pushes=$(log_count town "^<6>sync '$VA': pushed [1-9]")
	start a
	until_soon 30 eval '[ "$(log_count town "^<6>sync .$VA.: pushed [1-9]")" -gt "$pushes" ]'
	rc_town_mid=0
	stop_within 10 town || rc_town_mid=$?
	echo "the township stopped with $rc_town_mid" >&2
	# The village rides it out, and both finish the job.
	until_true 5 log_has a '^<4>sync failed'
	running a
	start town
	until_true 60 idle_sync town $VA
	scoped town a
	[ "$(events_verified town)" -eq $((LONG + 2)) ]
	# Idle.
	rc_a=0 rc_town=0
	stop_within 10 a || rc_a=$?
	stop_within 10 town || rc_town=$?
	echo "idle: a stopped with $rc_a, the township with $rc_town" >&2
	for name in town a; do
		bad=$(grep -cv '^<[0-7]>' "$BATS_TEST_TMPDIR/$name.log" || true)
		[ "$bad" -eq 0 ] || {
			echo "$name.log has $bad lines without a priority prefix:" >&2
			grep -v '^<[0-7]>' "$BATS_TEST_TMPDIR/$name.log" | head -20 >&2
		}
	done
	[ "$rc_a_mid" -eq 0 ]
	[ "$rc_town_mid" -eq 0 ]
	[ "$rc_a" -eq 0 ]
	[ "$rc_town" -eq 0 ]
	! grep -v '^<[0-7]>' "$BATS_TEST_TMPDIR/town.log" "$BATS_TEST_TMPDIR/a.log"
}

@test "xinfangctl sync: exit 0 in sync, one line and non-zero when the upstream is unreachable" {
	clone_nodes "$BATS_FILE_TMPDIR/three"
	port=$(cat "$BATS_TEST_TMPDIR/town.port")
	run --separate-stderr on a sync
	refused_one_line
	[[ "$stderr" == *"127.0.0.1:$port"* ]]
	start town
	run --separate-stderr on a sync
	[ "$status" -eq 0 ]
	[[ "$output" == "in sync with http://127.0.0.1:$port: pushed $RECORDED, pulled 0 in 1 requests"* ]]
	run --separate-stderr on a sync
	[ "$status" -eq 0 ]
	[[ "$output" == *"pushed 0, pulled 0 in 1 requests"* ]]
	[ -z "$stderr" ]
	stop_within 10 town || :
	run --separate-stderr on a sync
	refused_one_line
	[[ "$stderr" == *"127.0.0.1:$port"* ]]
	verified a town
}

@test "xinfangctl sync: non-zero with one line when the upstream refuses, and nothing lands" {
	clone_nodes "$BATS_FILE_TMPDIR/three"
	port=$(cat "$BATS_TEST_TMPDIR/town.port")
	# x was enrolled by another township, never by this one.
	make_township other 370102002
	make_village x 370102002001 other 1
	on x visit add --people 1 --category 其他 --summary 走错了镇 >/dev/null
	sed -i "s|^url = .*|url = http://127.0.0.1:$port|" "$BATS_TEST_TMPDIR/x.conf"
	start town
	before=$(events_verified town)
	run --separate-stderr on x sync
	echo "$stderr" >&2
	refused_one_line
	[[ "$stderr" == *403* ]]
	[[ "$stderr" == *"not enrolled"* ]]
	[ "$(events_verified town)" -eq "$before" ]
	# The daemon says the same, and keeps trying.
	start x
	until_true 5 log_has x "^<4>sync failed .*403"
	running x
	# A node with no upstream has nothing to sync with.
	run --separate-stderr on town sync
	refused_one_line
	[[ "$stderr" == *"[upstream]"* ]]
	[ "$(events_verified town)" -eq "$before" ]
}

@test "xinfangctl sync counts the request bodies it sends in its bytes out" {
	clone_nodes "$BATS_FILE_TMPDIR/long"
	start town
	run --separate-stderr on a sync
	[ "$status" -eq 0 ]
	[[ "$output" =~ \(([0-9]+)\ bytes\ out ]]
	out=${BASH_REMATCH[1]}
	# The township logs the body bytes each request brought it.
	body=$(sed -n "s/^<6>sync '$VA':.*; \([0-9]*\) bytes in,.*/\1/p" "$BATS_TEST_TMPDIR/town.log" | paste -sd+ | bc)
	echo "xinfangctl sync says $out bytes out; the township received $body bytes of bodies" >&2
	[ "$body" -gt 100000 ]
	[ "$out" -ge "$body" ]
}

# carry NAME UP: NAME's bundle for its upstream UP, taken in by UP.
carry() {
	on "$1" bundle export "$BATS_TEST_TMPDIR/$1.xfb" >/dev/null
	on "$2" bundle import "$BATS_TEST_TMPDIR/$1.xfb" >/dev/null
	rm -f "$BATS_TEST_TMPDIR/$1.xfb"
}

@test "an origin the county refuses holds back no other village: the township's sync goes on without it" {
	make_township county 3701
	for t in t1:370101 t2:370102; do
		make_township "${t%%:*}" "${t#*:}"
		printf '[upstream]\nurl = http://127.0.0.1:%s\ninterval = 60\n' "$(cat "$BATS_TEST_TMPDIR/county.port")" \
			>>"$BATS_TEST_TMPDIR/${t%%:*}.conf"
		on county enroll "${t#*:}" "$(cat "$BATS_TEST_TMPDIR/${t%%:*}.key")" --township >/dev/null
		on "${t%%:*}" enroll 3701 "$(cat "$BATS_TEST_TMPDIR/county.key")" --upstream >/dev/null
	done
	# One village id enrolled by both townships, by mistake, with two keys:
	# the county takes the first history it hears and refuses the other.
	make_village x1 370101009 t1
	make_village x2 370101009 t2
	make_village y 370102001 t2
	on x1 visit add --people 1 --category 其他 --summary 先到 >/dev/null
	carry x1 t1
	# More than one batch of the refused history, then y's visit behind it.
	fill x2 5000
	carry x2 t2
	on y visit add --people 2 --category 土地纠纷 --summary 不该被挡住 >/dev/null
	carry y t2
	start county
	on t1 sync >/dev/null
	run --separate-stderr on t2 sync
	echo "$stderr" >&2
	refused_one_line
	[[ "$stderr" == *"refused, first 370101009:"* ]]
	on county log | grep -Eq '^370102001:[0-9]+ +[-0-9]+ [:0-9]+ +visit\.recorded '
	# x1's history stays the county's
	[ "$(on county log | grep -c '^370101009:')" -eq "$(on x1 log | wc -l)" ]
	# Still pending at the township, and named at the next sync.
	run --separate-stderr on t2 sync
	[[ "$stderr" == *"refused, first 370101009:"* ]]
}
