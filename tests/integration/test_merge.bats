#!/usr/bin/env bats
# Conflict resolution across real nodes: a village and its township edit the
# same case while apart; when they meet both show the same case, the
# collision is listed with every competing value, and a person's
# resolution, once synced, settles it everywhere.

load helper

bats_require_minimum_version 1.5.0

TOWN=370102002
VA=370102002001
VB=370102002002

setup() {
	make_township town $TOWN
	make_village a $VA town 60
	make_village b $VB town 60
	start town
	visit=$(on a visit add --people 7 --category 征地拆迁 --summary 集体反映补偿标准)
	case_a=$(on a case open --title 征地补偿 --from "$visit")
	on a sync >/dev/null
	on b sync >/dev/null
}

teardown() {
	stop_all
}

# case_json NAME: the case as NAME shows it.
case_json() {
	on "$1" case show "$case_a" --json
}

# field NAME EXPRS: Python expressions over the case c as NAME shows it,
# printed with spaces between.
field() {
	case_json "$1" | python3 -c "import json, sys; c = json.load(sys.stdin); print($2)"
}

@test "concurrent edits of one field collide, different fields merge, and a resolution settles it on every node" {
	# Apart: both put a leader in charge, the village sends a work group,
	# the township adds a note.
	on a case assign "$case_a" --leader 李主任 >/dev/null
	on a case dispatch "$case_a" --members 司法所两人 >/dev/null
	on town case assign "$case_a" --leader 王书记 >/dev/null
	on town case note "$case_a" --text 镇里督办 >/dev/null
	run on a sync
	[ "$status" -eq 0 ]
	# Both hold the same six events and show byte-identical cases.
	[ "$(case_json a)" = "$(case_json town)" ]
	[ "$(field a 'c["events"]')" -eq 5 ]
	[ "$(field a 'len(c["notes"]), len(c["dispatches"])')" = "1 1" ]
	# One conflict, on the leader, with both values and their events.
	run on town conflicts --json
	[ "$status" -eq 0 ]
	printf '%s' "$output" | python3 -c '
import json, sys
cases = json.load(sys.stdin)
assert len(cases) == 1, cases
conflicts = cases[0]["conflicts"]
assert [c["field"] for c in conflicts] == ["leader"], conflicts
values = sorted(v["value"] for v in conflicts[0]["values"])
assert values == sorted(["李主任", "王书记"]), values
shown = cases[0]["leader"]
assert shown in values'
	[ "$(on a conflicts --json)" = "$(on town conflicts --json)" ]
	run on a conflicts
	[[ "$output" == *"$case_a"* ]]
	[[ "$output" == *"leader: 李主任 ($VA:"* ]]
	[[ "$output" == *"leader: 王书记 ($TOWN:"* ]]
	# The township keeps the village's choice.
	keep=$(on town conflicts --json | python3 -c '
import json, sys
for v in json.load(sys.stdin)[0]["conflicts"][0]["values"]:
    if v["value"] == "李主任":
        print(v["event"])')
	run on town case resolve "$case_a" --keep "$keep"
	[ "$status" -eq 0 ]
	[ "$(on town conflicts --json)" = "[]" ]
	[ "$(field town 'c["leader"]')" = 李主任 ]
	# Not yet on the village; after its next sync, there too.
	[ "$(on a conflicts --json)" != "[]" ]
	on a sync >/dev/null
	[ "$(on a conflicts --json)" = "[]" ]
	[ "$(case_json a)" = "$(case_json town)" ]
	[ "$(field a 'c["leader"], c["conflicts"]')" = "李主任 []" ]
	# The other village never saw any of it; rebuild changes nothing.
	run --separate-stderr on b case show "$case_a"
	[ "$status" -ne 0 ]
	for n in town a b; do
		run on $n rebuild
		[ "$status" -eq 0 ]
		[[ "$output" == *"nothing differed"* ]]
	done
	verified town a b
}

@test "a close and an assignment made apart: the status conflict shows, the state machine decides, resolve picks" {
	on a case close "$case_a" --outcome 已补偿到位 >/dev/null
	on town case assign "$case_a" --leader 王书记 >/dev/null
	on a sync >/dev/null
	[ "$(case_json a)" = "$(case_json town)" ]
	# Whichever came first, a closed case is not reopened by an assignment.
	[ "$(field a 'c["status"], c["leader"], c["outcome"]')" = "closed 王书记 已补偿到位" ]
	[ "$(field a '[x["field"] for x in c["conflicts"]]')" = "['status']" ]
	keep=$(field town '[v["event"] for v in c["conflicts"][0]["values"] if v["value"] == "assigned"][0]')
	on town case resolve "$case_a" --keep "$keep" >/dev/null
	on a sync >/dev/null
	[ "$(field a 'c["status"], c["conflicts"]')" = "assigned []" ]
	[ "$(case_json a)" = "$(case_json town)" ]
	# Settled, the case goes on under the state machine as usual.
	run on a case reply "$case_a" --text 已答复 --due 2099-12-31
	[ "$status" -eq 0 ]
	[ "$(field a 'c["status"], c["due"]')" = "replied 2099-12-31" ]
}

@test "resolve refuses with one line and records nothing: no conflict, no such event, no --keep, not a case" {
	before=$(on town log --json | python3 -c 'import json, sys; print(len(json.load(sys.stdin)))')
	run --separate-stderr on town case resolve "$case_a" --keep "$VA:3"
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"has no conflicts"* ]]
	[ "$(printf '%s\n' "$stderr" | wc -l)" -eq 1 ]
	on a case assign "$case_a" --leader 李主任 >/dev/null
	on town case assign "$case_a" --leader 王书记 >/dev/null
	on a sync >/dev/null
	before=$(on town log --json | python3 -c 'import json, sys; print(len(json.load(sys.stdin)))')
	run --separate-stderr on town case resolve "$case_a" --keep "$VA:999"
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"not one of the competing events"* ]]
	run --separate-stderr on town case resolve "$case_a"
	[ "$status" -eq 2 ]
	[[ "$stderr" == *"--keep"* ]]
	run --separate-stderr on town case resolve "$visit" --keep "$VA:3"
	[ "$status" -ne 0 ]
	[[ "$stderr" == *"not a case id"* ]]
	run --separate-stderr on town case resolve C-nowhere-1 --keep "$VA:3"
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"no such entity"* ]]
	[ "$(on town log --json | python3 -c 'import json, sys; print(len(json.load(sys.stdin)))')" -eq "$before" ]
	[ "$(on town conflicts --json | python3 -c 'import json, sys; print(len(json.load(sys.stdin)))')" -eq 1 ]
}

@test "a risk resolved apart with two outcomes: listed, and settled with conflicts resolve" {
	risk=$(on a risk report --level major --summary 可能聚集上访)
	on a sync >/dev/null
	on a risk resolve "$risk" --outcome 已化解 >/dev/null
	on town risk resolve "$risk" --outcome 移交公安 >/dev/null
	on a sync >/dev/null
	[ "$(on a risk show "$risk" --json)" = "$(on town risk show "$risk" --json)" ]
	run on town conflicts
	[[ "$output" == *"$risk (resolved)"* ]]
	[[ "$output" == *"outcome: 已化解"* ]]
	[[ "$output" == *"outcome: 移交公安"* ]]
	run --separate-stderr on town case resolve "$risk" --keep "$VA:1"
	[ "$status" -ne 0 ]
	[[ "$stderr" == *"not a case id"* ]]
	keep=$(on town risk show "$risk" --json | python3 -c '
import json, sys
print([v["event"] for v in json.load(sys.stdin)["conflicts"][0]["values"] if v["value"] == "已化解"][0])')
	run on town conflicts resolve "$risk" --keep "$keep"
	[ "$status" -eq 0 ]
	on a sync >/dev/null
	for n in a town; do
		[ "$(on $n conflicts --json)" = "[]" ]
		[[ "$(on $n risk show "$risk" --json)" == *'"outcome": "已化解"'* ]]
	done
}
