#!/usr/bin/env bats
# Recording petition work on a village PC with no network and no daemon:
# every verb end to end.

load helper

setup() {
	setup_village
}

# Every verb, as the words that name it.
VERBS=(init key enroll "visit add" "visit show" "visit list" "letter add" "letter show" "letter list"
	"case open" "case assign" "case dispatch" "case note" "case reply" "case close" "case reopen"
	"case extend" "case show" "case list" "risk report" "risk resolve" "risk show" "risk list" log verify sync
	report export import)

@test "init prints the public key as its only line, and key prints it again" {
	make_node other 370102001002
	run --separate-stderr ctl_on other init
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 1 ]
	[ -z "$stderr" ]
	[[ "$output" =~ ^[0-9a-f]{64}$ ]]
	key=$output
	run ctl_on other key
	[ "$status" -eq 0 ]
	[ "$output" = "$key" ]
	[ "$(stat -c %a "$BATS_TEST_TMPDIR/other/node.key")" = 600 ]
	[ "$(stat -c %a "$BATS_TEST_TMPDIR/other")" = 700 ]
	# Its first event enrols its own key.
	run ctl_on other log --json
	[ "$status" -eq 0 ]
	json_assert '
assert len(j) == 1
e = j[0]
assert e["id"] == "370102001002:1" and e["seq"] == 1 and e["type"] == "node.enrolled"
assert e["body"]["node"] == "370102001002" and e["body"]["pubkey"] == sys.argv[1]
assert e["body"]["role"] == "village"' "$key"
}

@test "every verb answers --help with its usage on stdout and exit 0, needing no config" {
	for verb in "${VERBS[@]}"; do
		# shellcheck disable=SC2086 # the verb is one or two words
		run --separate-stderr "$XF_CTL" -c "$BATS_TEST_TMPDIR/absent.conf" $verb --help
		[ "$status" -eq 0 ] || { echo "$verb --help: exit $status: $stderr" >&2; false; }
		[ -z "$stderr" ] || { echo "$verb --help wrote to stderr: $stderr" >&2; false; }
		[[ "${lines[0]}" == "usage: xinfangctl "*"$verb"* ]] || { echo "$verb --help: $output" >&2; false; }
	done
	run "$XF_CTL" --help
	[ "$status" -eq 0 ]
	for verb in "${VERBS[@]}"; do
		[[ "$output" == *"  $verb "* ]] || { echo "xinfangctl --help does not list $verb" >&2; false; }
	done
	# The first word of a two-word verb, with --help: its verbs.
	for group in visit letter case risk bundle; do
		run --separate-stderr "$XF_CTL" "$group" --help
		[ "$status" -eq 0 ] && [ -z "$stderr" ] || { echo "$group --help: exit $status: $stderr" >&2; false; }
		[ "${lines[0]}" = "usage: xinfangctl [-c FILE] $group VERB [OPTIONS]" ]
		[[ "$output" == *"  $group "* ]]
	done
	run --separate-stderr "$XF_CTL" case
	[ "$status" -eq 2 ]
	[ "$stderr" = "xinfangctl: 'case' takes a verb after it (see xinfangctl case --help)" ]
	run --separate-stderr "$XF_CTL" case shwo C-1-2
	[ "$status" -eq 2 ]
	[ "$stderr" = "xinfangctl: unknown verb 'case shwo' (see xinfangctl case --help)" ]
}

@test "--help records nothing, even after valid options" {
	log_digest
	before=$digest
	run ctl visit add --people 3 --category 土地 --summary 测试 --help
	[ "$status" -eq 0 ]
	[[ "$output" == usage:* ]]
	run ctl risk report --level major --summary 测试 --help
	[ "$status" -eq 0 ]
	log_digest
	[ "$digest" = "$before" ]
}

@test "-c FILE works before the verb and among its options" {
	run "$XF_CTL" visit add -c "$BATS_TEST_TMPDIR/village.conf" --people 1 --category 土地 --summary 测试
	[ "$status" -eq 0 ]
	[[ "$output" =~ ^V-$NODE-2$ ]]
	run "$XF_CTL" visit list --config "$BATS_TEST_TMPDIR/village.conf"
	[ "$status" -eq 0 ]
	[[ "$output" == *V-$NODE-2* ]]
}

@test "a visit gets an id, shows in the log with its fields, and verify passes" {
	run --separate-stderr ctl visit add --date 2026-05-12 --people 6 --category 换届选举 --summary 测试 \
		--name 张三 --name 李四 --phone 13800000000 --escalated
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[ "${#lines[@]}" -eq 1 ]
	[[ "$output" =~ ^V-$NODE-[0-9]+$ ]]
	id=$output
	last_event
	json_assert '
ev = j
assert ev["id"] == "%s:%d" % (ev["origin"], ev["seq"])
assert ev["entity"] == sys.argv[1] and ev["type"] == "visit.recorded"
b = ev["body"]
assert b["people"] == 6 and b["names"] == ["张三", "李四"], b
assert b["escalated"] is True and b["phone"] == "13800000000", b
assert b["date"] == "2026-05-12" and b["category"] == "换届选举" and b["summary"] == "测试", b
assert ev["author"] == "测试员"' "$id"
	run ctl verify
	[ "$status" -eq 0 ]
}

@test "visit show, visit list: fields in plain text and JSON" {
	id=$(ctl visit add --date 2026-05-12 --people 2 --category 土地 --summary 征地补偿 --name 张三)
	other=$(ctl visit add --people 1 --category 低保 --summary 申请低保)
	run ctl visit show "$id" --json
	[ "$status" -eq 0 ]
	json_assert '
assert j["id"] == sys.argv[1] and j["status"] == "recorded" and j["origin"] == sys.argv[2], j
assert j["date"] == "2026-05-12" and j["people"] == 2 and j["escalated"] is False, j
assert j["summary"] == "征地补偿" and j["names"] == ["张三"] and j["category"] == "土地", j' "$id" $NODE
	run ctl visit show "$id"
	[ "$status" -eq 0 ]
	[[ "$output" == *"$id"* && "$output" == *征地补偿* && "$output" == *张三* ]]
	run ctl visit list
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 2 ]
	[[ "${lines[0]}" == "$id "*征地补偿* ]]
	[[ "${lines[1]}" == "$other "*申请低保* ]]
	run ctl visit list --json
	[ "$status" -eq 0 ]
	json_assert 'assert [v["id"] for v in j] == sys.argv[1:], j' "$id" "$other"
}

@test "letter add, show, list; a letter takes no --people" {
	run --separate-stderr ctl letter add --date 2026-04-01 --category 低保 --summary 来信反映 --name 王五 --name 赵六
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[[ "$output" =~ ^L-$NODE-[0-9]+$ ]]
	id=$output
	last_event
	json_assert '
assert j["type"] == "letter.recorded" and j["entity"] == sys.argv[1]
assert j["body"]["date"] == "2026-04-01" and j["body"]["names"] == ["王五", "赵六"], j
assert "people" not in j["body"]' "$id"
	run ctl letter show "$id" --json
	[ "$status" -eq 0 ]
	json_assert '
assert j["id"] == sys.argv[1] and j["status"] == "recorded" and j["summary"] == "来信反映", j' "$id"
	run ctl letter show "$id"
	[ "$status" -eq 0 ]
	[[ "$output" == *来信反映* ]]
	run ctl letter list
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 1 ]
	[[ "$output" == "$id "* ]]
	run ctl letter list --json
	[ "$status" -eq 0 ]
	json_assert 'assert [v["id"] for v in j] == [sys.argv[1]], j' "$id"
	# Lists keep to their kind.
	run ctl visit list --json
	json_assert 'assert j == [], j'
	refuses ctl letter add --category 低保 --summary 来信 --people 3
}

# case_field ID FIELD: one field of `case show ID --json`.
case_field() {
	ctl case show "$1" --json | python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$2"
}

@test "a case goes opened, assigned, replied, closed, reopened, and shows every field" {
	visit=$(ctl visit add --people 5 --category 土地 --summary 征地补偿 --date 2026-01-02)
	letter=$(ctl letter add --category 土地 --summary 来信 --date 2026-01-01)
	run --separate-stderr ctl case open --title 征地补偿纠纷 --from "$visit" --from "$letter" --date 2026-01-03
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[ "${#lines[@]}" -eq 1 ]
	[[ "$output" =~ ^C-$NODE-[0-9]+$ ]]
	id=$output
	run ctl case show "$id" --json
	[ "$status" -eq 0 ]
	json_assert '
for k in ("status", "title", "leader", "due", "outcome", "visits", "notes", "conflicts"):
    assert k in j, k
assert j["id"] == sys.argv[1] and j["status"] == "opened" and j["title"] == "征地补偿纠纷", j
assert j["leader"] is None and j["due"] is None and j["outcome"] is None, j
assert j["visits"] == sys.argv[2:], j
assert j["notes"] == [] and j["conflicts"] == [], j' "$id" "$visit" "$letter"

	run ctl case assign "$id" --leader 王镇长
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ "$(case_field "$id" status)" = assigned ]
	[ "$(case_field "$id" leader)" = 王镇长 ]
	run ctl case dispatch "$id" --members "工作组: 甲, 乙"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	run ctl case note "$id" --text 入户走访
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	run ctl case note "$id" --text 再次走访 --date 2026-01-05
	[ "$status" -eq 0 ]
	[ "$(case_field "$id" status)" = assigned ]
	run ctl case reply "$id" --text 依法答复 --due 2099-12-31
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ "$(case_field "$id" status)" = replied ]
	[ "$(case_field "$id" due)" = 2099-12-31 ]
	run ctl case close "$id" --outcome 已补偿到位
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ "$(case_field "$id" status)" = closed ]
	[ "$(case_field "$id" outcome)" = 已补偿到位 ]
	run ctl case reopen "$id" --reason 当事人不满意
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ "$(case_field "$id" status)" = reopened ]
	# A reopened case may be worked and closed again.
	run ctl case note "$id" --text 重新调查
	[ "$status" -eq 0 ]
	run ctl case close "$id" --outcome 二次办结
	[ "$status" -eq 0 ]

	run ctl case show "$id" --json
	[ "$status" -eq 0 ]
	json_assert '
assert j["status"] == "closed" and j["outcome"] == "二次办结", j
assert j["leader"] == "王镇长" and j["due"] == "2099-12-31", j
assert [n["text"] for n in j["notes"]] == ["入户走访", "再次走访", "重新调查"], j["notes"]
assert j["notes"][1]["date"] == "2026-01-05", j["notes"]
assert all(n["author"] == "测试员" for n in j["notes"]), j["notes"]
assert [d["text"] for d in j["dispatches"]] == ["工作组: 甲, 乙"], j
assert j["events"] == 10 and j["conflicts"] == [], j'
	run ctl case show "$id"
	[ "$status" -eq 0 ]
	[[ "$output" == *征地补偿纠纷* && "$output" == *王镇长* && "$output" == *重新调查* ]]
	run ctl case list
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 1 ]
	[[ "$output" == "$id "*closed*征地补偿纠纷* ]]
	run ctl case list --json
	[ "$status" -eq 0 ]
	json_assert 'assert [c["id"] for c in j] == [sys.argv[1]] and j[0]["status"] == "closed", j' "$id"
	run ctl verify
	[ "$status" -eq 0 ]
}

@test "each act on a case names the case's latest event as its parent" {
	visit=$(ctl visit add --people 1 --category 土地 --summary 测试)
	id=$(ctl case open --title 测试 --from "$visit")
	ctl case assign "$id" --leader 王镇长
	ctl case note "$id" --text 走访
	run ctl log --json
	json_assert '
ev = [e for e in j if e["entity"] == sys.argv[1]]
assert [e["type"] for e in ev] == ["case.opened", "case.assigned", "case.noted"], ev
assert ev[0]["parents"] == []
assert ev[1]["parents"] == [ev[0]["id"]] and ev[2]["parents"] == [ev[1]["id"]], ev' "$id"
}

@test "a risk goes open, resolved; risk show and list" {
	run --separate-stderr ctl risk report --level severe --summary 土地纠纷可能激化 --date 2026-03-01
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[[ "$output" =~ ^R-$NODE-[0-9]+$ ]]
	id=$output
	run ctl risk show "$id" --json
	[ "$status" -eq 0 ]
	json_assert '
assert j["status"] == "open" and j["level"] == "severe" and j["date"] == "2026-03-01", j
assert j["summary"] == "土地纠纷可能激化", j'
	for level in general major; do
		run ctl risk report --level $level --summary 测试
		[ "$status" -eq 0 ]
	done
	run ctl risk resolve "$id" --outcome 已调解
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	run ctl risk show "$id" --json
	json_assert 'assert j["status"] == "resolved" and j["outcome"] == "已调解", j'
	run ctl risk show "$id"
	[ "$status" -eq 0 ]
	[[ "$output" == *resolved* && "$output" == *已调解* ]]
	run ctl risk list
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 3 ]
	[[ "${lines[0]}" == "$id "*resolved* ]]
	run ctl risk list --json
	json_assert 'assert [r["status"] for r in j] == ["resolved", "open", "open"], j'
}

@test "creating verbs print only the new id: unique, K-node-seq, seq of the creating event" {
	ids=()
	for i in 1 2; do
		ids+=("$(ctl visit add --people 1 --category 土地 --summary "测试$i")")
		ids+=("$(ctl letter add --category 土地 --summary "测试$i")")
		ids+=("$(ctl risk report --level general --summary "测试$i")")
	done
	ids+=("$(ctl case open --title 测试 --from "${ids[0]}" --from "${ids[1]}")")
	[ "${#ids[@]}" -eq 7 ]
	[ "$(printf '%s\n' "${ids[@]}" | sort -u | wc -l)" -eq 7 ]
	run ctl log --json
	json_assert '
kind = {"visit.recorded": "V", "letter.recorded": "L", "risk.reported": "R", "case.opened": "C"}
made = [e for e in j if e["type"] in kind]
assert [e["entity"] for e in made] == sys.argv[1:], (made, sys.argv)
for e in made:
    assert e["entity"] == "%s-%s-%d" % (kind[e["type"]], e["origin"], e["seq"]), e' "${ids[@]}"
	# Another node makes ids of its own, with no coordination.
	make_node other 370102001002
	ctl_on other init >/dev/null
	run ctl_on other visit add --people 1 --category 土地 --summary 测试
	[ "$output" = V-370102001002-2 ]
}

@test "--date is recorded in the body of every act; the default is today" {
	today=$(date +%F)
	visit=$(ctl visit add --people 1 --category 土地 --summary 测试 --date 2025-03-01)
	letter=$(ctl letter add --category 土地 --summary 测试 --date 2025-03-02)
	risk=$(ctl risk report --level major --summary 测试 --date 2025-03-03)
	id=$(ctl case open --title 测试 --from "$visit" --date 2025-03-04)
	ctl case assign "$id" --leader 王镇长 --date 2025-03-05
	ctl case dispatch "$id" --members 工作组 --date 2025-03-06
	ctl case note "$id" --text 走访 --date 2025-03-07
	ctl case reply "$id" --text 答复 --due 2025-03-30 --date 2025-03-08
	ctl case close "$id" --outcome 办结 --date 2025-03-09
	ctl case reopen "$id" --reason 不满意 --date 2025-03-10
	ctl risk resolve "$risk" --outcome 化解 --date 2025-03-11
	# Leap day is a real date.
	ctl visit add --people 1 --category 土地 --summary 测试 --date 2024-02-29
	run ctl log --json
	json_assert '
dates = [e["body"]["date"] for e in j[1:]]
assert dates == ["2025-03-%02d" % d for d in range(1, 12)] + ["2024-02-29"], dates'
	# No --date: today, for every act.
	visit=$(ctl visit add --people 1 --category 土地 --summary 测试)
	ctl letter add --category 土地 --summary 测试 >/dev/null
	risk=$(ctl risk report --level major --summary 测试)
	id=$(ctl case open --title 测试 --from "$visit")
	ctl case assign "$id" --leader 王镇长
	ctl case dispatch "$id" --members 工作组
	ctl case note "$id" --text 走访
	ctl case reply "$id" --text 答复 --due "$today"
	ctl case close "$id" --outcome 办结
	ctl case reopen "$id" --reason 不满意
	ctl risk resolve "$risk" --outcome 化解
	run ctl log --json
	json_assert '
dates = [e["body"]["date"] for e in j[13:]]
assert len(dates) == 11 and set(dates) == {sys.argv[1]}, dates' "$today"
	run ctl case show "$id" --json
	json_assert 'assert j["opened_on"] == j["reopened_on"] == sys.argv[1], j' "$today"
}

@test "enroll admits a peer's key as a node.enrolled event" {
	make_node town 370102000000 township
	key=$(ctl_on town init)
	# A village's peer is its upstream unless told otherwise.
	run --separate-stderr ctl enroll 370102000000 "$key"
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[ "${#lines[@]}" -eq 1 ]
	[[ "$output" == *370102000000* ]]
	last_event
	json_assert '
assert j["type"] == "node.enrolled" and j["author"] == "测试员", j
b = j["body"]
assert b["node"] == "370102000000" and b["pubkey"] == sys.argv[1], j
assert b["relation"] == "upstream", j' "$key"
	make_node other 370102001002
	key=$(ctl_on other init)
	# A village has no children: claiming one would be claiming its id.
	refuses ctl enroll 370102001002 "$key" --child
	# A county's child township vouches for its own villages.
	run ctl_on town enroll 370102001002 "$key" --township
	[ "$status" -eq 0 ]
	run ctl_on town log --json
	json_assert '
b = j[-1]["body"]
assert b["node"] == "370102001002" and b["pubkey"] == sys.argv[1] and b["relation"] == "township", j' "$key"
	# A township's peer is its child unless told otherwise.
	run ctl_on town enroll $NODE "$(ctl key)"
	[ "$status" -eq 0 ]
	run ctl_on town log --json
	json_assert 'assert j[-1]["body"]["node"] == sys.argv[1] and j[-1]["body"]["relation"] == "child", j[-1]' $NODE
	run ctl verify
	[ "$status" -eq 0 ]
}

@test "log prints a line per event; log --json every envelope field, seqs from 1" {
	visit=$(ctl visit add --people 1 --category 土地 --summary 测试)
	ctl case open --title 测试 --from "$visit" >/dev/null
	run --separate-stderr ctl log
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[ "${#lines[@]}" -eq 3 ]
	[[ "${lines[0]}" == "$NODE:1 "*node.enrolled* ]]
	[[ "${lines[1]}" == "$NODE:2 "*visit.recorded*"$visit"* ]]
	[[ "${lines[2]}" == "$NODE:3 "*case.opened*C-$NODE-3* ]]
	run --separate-stderr ctl log --json
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	json_assert '
assert [e["seq"] for e in j] == [1, 2, 3], j
for e in j:
    for k in ("id", "origin", "seq", "hlc", "type", "entity", "author", "body"):
        assert k in e, (k, e)
    assert e["id"] == "%s:%d" % (e["origin"], e["seq"]) and e["origin"] == sys.argv[1], e
assert j[0]["hlc"] < j[1]["hlc"] < j[2]["hlc"], j
assert j[1]["author"] == j[2]["author"] == "测试员", j' $NODE
}

@test "verify passes on a sound log and says what it checked" {
	ctl visit add --people 1 --category 土地 --summary 测试 >/dev/null
	ctl risk report --level major --summary 测试 >/dev/null
	run --separate-stderr ctl verify
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[[ "$output" == *"3 events"* ]]
}
