#!/usr/bin/env bats
# Reports, deadlines, the weekly sheet and export, from the CLI, on records
# made with the CLI. Every expected figure is worked out in the comments.
# core's own figures on several nodes and a conflict: tests/unit/test_report.c.

load helper

# In 2026-01-01..2026-06-30 (the period) and the year before:
#   visits 2026: 6 people escalated (征地拆迁), 5 people (征地拆迁), 2 people (劳资纠纷)
#   visit 2025: 3 people (征地拆迁)
#   letter 2026 (劳资纠纷)
#   case A from the 6-people visit: opened 01-12, assigned 01-20, a work group
#     01-21, closed 03-01, reopened 04-01 (so: not closed in the period)
#   case B from the 2-people visit: opened 03-06, closed 03-20
#   case C from the 2025 visit: opened 2025-02-02, closed 2025-03-01
#   risk reported 2026-02-10, resolved 05-01; risk reported 2025-05-01
setup_file() {
	in_file_tmpdir setup_village
	in_file_tmpdir record_fixture
}

record_fixture() {
	local v6 v5 v2 v25 a b c r
	v6=$(ctl visit add --date 2026-01-10 --people 6 --category 征地拆迁 --summary 补偿 --escalated)
	v5=$(ctl visit add --date 2026-02-03 --people 5 --category 征地拆迁 --summary 补偿)
	v2=$(ctl visit add --date 2026-03-05 --people 2 --category 劳资纠纷 --summary 欠薪)
	v25=$(ctl visit add --date 2025-02-01 --people 3 --category 征地拆迁 --summary 旧事)
	ctl letter add --date 2026-02-01 --category 劳资纠纷 --summary 来信 >/dev/null
	a=$(ctl case open --date 2026-01-12 --title 补偿 --from "$v6")
	ctl case assign "$a" --leader 王书记 --date 2026-01-20
	ctl case dispatch "$a" --members 张三 --date 2026-01-21
	ctl case close "$a" --outcome 已补偿 --date 2026-03-01
	ctl case reopen "$a" --reason 反悔 --date 2026-04-01
	b=$(ctl case open --date 2026-03-06 --title 欠薪 --from "$v2")
	ctl case close "$b" --outcome 已支付 --date 2026-03-20
	c=$(ctl case open --date 2025-02-02 --title 旧案 --from "$v25")
	ctl case close "$c" --outcome 已办结 --date 2025-03-01
	r=$(ctl risk report --date 2026-02-10 --level major --summary 隐患)
	ctl risk resolve "$r" --outcome 已化解 --date 2026-05-01
	ctl risk report --date 2025-05-01 --level general --summary 隐患 >/dev/null
	: "$v5"
}

setup() {
	clone_village
}

@test "report --json: the figures, a year earlier, the change, by village and by category" {
	run --separate-stderr ctl report --from 2026-01-01 --to 2026-06-30 --json
	[ "$status" -eq 0 ]
	json_assert '
keys = ["visits", "people", "collective_visits", "escalated_visits", "letters", "cases_opened",
        "cases_closed", "closure_rate", "workgroups", "risks_reported", "risks_resolved"]
now = dict(zip(keys, [3, 13, 2, 1, 1, 2, 1, 50.0, 1, 1, 1]))
before = dict(zip(keys, [1, 3, 0, 0, 0, 1, 1, 100.0, 0, 1, 0]))
# 3 vs 1: +200%; 13 vs 3: +333.3%; closure rate 50 vs 100: -50%; risks 1 vs 1: 0%
yoy = dict(zip(keys, [200.0, 333.3, None, None, None, 100.0, 0.0, -50.0, None, 0.0, None]))
assert j["from"] == "2026-01-01" and j["to"] == "2026-06-30", j
assert j["previous_from"] == "2025-01-01" and j["previous_to"] == "2025-06-30", j
assert j["totals"] == now, j["totals"]
assert j["previous"] == before, j["previous"]
assert j["yoy"] == yoy, j["yoy"]
assert [v["village"] for v in j["by_village"]] == ["370102001001"]
assert j["by_village"][0]["totals"] == now
cats = {c["category"]: c["totals"] for c in j["by_category"]}
assert sorted(cats) == ["", "劳资纠纷", "征地拆迁"], cats
assert cats["征地拆迁"]["visits"] == 2 and cats["征地拆迁"]["people"] == 11, cats
assert cats["征地拆迁"]["cases_opened"] == 1 and cats["征地拆迁"]["cases_closed"] == 0, cats
assert cats["劳资纠纷"]["letters"] == 1 and cats["劳资纠纷"]["cases_closed"] == 1, cats
assert cats["劳资纠纷"]["closure_rate"] == 100.0, cats
assert cats[""]["risks_reported"] == 1 and cats[""]["visits"] == 0, cats
for k in keys:
    if k != "closure_rate":
        assert sum(c[k] for c in cats.values()) == now[k], k'
}

@test "report --village keeps one village; a village not enrolled here is refused, not counted as nothing" {
	run --separate-stderr ctl report --from 2026-01-01 --to 2026-06-30 --village 370102001001 --json
	[ "$status" -eq 0 ]
	json_assert 'assert j["totals"]["visits"] == 3 and j["village"] == "370102001001"'
	# A mistyped id would report a village's zero petitions.
	refuses ctl report --from 2026-01-01 --to 2026-06-30 --village 370102009009 --json
	[ "$stderr" = "xinfangctl report: --village 370102009009: no such village is enrolled below this node" ]
	refuses ctl report --overdue --village 370102009009
	refuses ctl export --type visits --format csv --village 370102009009
}

@test "report text is in Chinese unless --lang en; --csv has a BOM and one row per scope and item" {
	run --separate-stderr ctl report --from 2026-01-01 --to 2026-06-30
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == "信访工作统计 2026-01-01 .. 2026-06-30 (同期 2025-01-01 .. 2025-06-30)" ]]
	[[ "$output" == *"  来访人次: 13 (同期 3, 同比 333.3%)"* ]]
	[[ "$output" == *"  办结率: 50.0% (同期 100.0%, 同比 -50.0%)"* ]]
	run --separate-stderr ctl report --from 2026-01-01 --to 2026-06-30 --lang en
	[ "$status" -eq 0 ]
	[[ "$output" == *"  People (person-times): 13 (Year before 3, Change 333.3%)"* ]]
	ctl report --from 2026-01-01 --to 2026-06-30 --csv >"$BATS_TEST_TMPDIR/r.csv"
	[ "$(head -c 3 "$BATS_TEST_TMPDIR/r.csv" | od -An -tx1 | tr -d ' ')" = efbbbf ]
	python3 - "$BATS_TEST_TMPDIR/r.csv" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1], encoding="utf-8-sig")))
assert rows[0] == ["范围", "名称", "项目", "本期", "同期", "同比"], rows[0]
# totals, one village, three categories ("" shows as 未分类): 11 items each
assert len(rows) == 1 + 5 * 11, len(rows)
assert ["合计", "", "来访人次", "13", "3", "333.3"] in rows
assert ["按类别", "未分类", "排查隐患", "1", "1", "0.0"] in rows
assert ["按村", "370102001001", "派驻工作组", "1", "0", "-"] in rows
PY
}

@test "report --csv keeps a category that starts like a formula as text" {
	ctl visit add --date 2026-03-01 --people 1 --category '=HYPERLINK("http://x","点")' --summary 测试 >/dev/null
	ctl visit add --date 2026-03-01 --people 1 --category -3 --summary 测试 >/dev/null
	ctl report --from 2026-01-01 --to 2026-06-30 --csv >"$BATS_TEST_TMPDIR/r.csv"
	python3 - "$BATS_TEST_TMPDIR/r.csv" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1], encoding="utf-8-sig")))
names = {r[1] for r in rows if r[0] == "按类别"}
assert """'=HYPERLINK("http://x","点")""" in names and "'-3" in names, names
assert not any(n[:1] in "=+-@" and n for n in names), names
PY
}

@test "report refuses bad options with one line and changes nothing" {
	refuses ctl report
	[[ "$stderr" == *"--from YYYY-MM-DD and --to YYYY-MM-DD are required"* ]]
	refuses ctl report --from 2026-02-30 --to 2026-03-01
	[[ "$stderr" == *"not a real date"* ]]
	refuses ctl report --from 2026-03-01 --to 2026-02-01
	[[ "$stderr" == *"is after"* ]]
	refuses ctl report --from 2026-01-01 --to 2026-02-01 --lang fr
	refuses ctl report --from 2026-01-01 --to 2026-02-01 --csv --json
	refuses ctl report --from 2026-01-01 --to 2026-02-01 --village '../x'
	refuses ctl report --overdue --from 2026-01-01
	refuses ctl report --week 2026-W10
	refuses ctl report --weekly --week 2026-W54
	[[ "$stderr" == *"not an ISO week"* ]]
	refuses ctl report --weekly --week 2026-10
	# Exactly YYYY-Www: no sign, space or single digit in a field.
	for w in 2026-W+5 "2026-W 5" 2026-W5 2026-W-5 " 2026-W05" +026-W05 2026-W005 2026-w05 2026-W00 2025-W53; do
		refuses ctl report --weekly --week "$w"
		[ "$stderr" = "xinfangctl report: --week '$w' is not an ISO week YYYY-Www" ] || { echo "$stderr" >&2; false; }
	done
	# 2026 has 53 weeks, 2025 only 52.
	run ctl report --weekly --week 2026-W53 --json
	[ "$status" -eq 0 ]
	refuses ctl report --overdue --as-of yesterday
	refuses ctl report --from 2026-01-01 --to 2026-02-01 --as-of 2026-01-01
	refuses ctl report --from 2026-01-01 --to 2026-02-01 extra
}

# Three open cases on 2026-11-30: one never accepted (visit 11-01: due
# 11-16, 14 days over), one accepted 10-05 (due 12-04, 4 days left), one
# accepted 11-20 (due 2027-01-19: not listed).
overdue_fixture() {
	local v1 v2 v3
	v1=$(ctl visit add --date 2026-11-01 --people 1 --category 其他 --summary 甲)
	v2=$(ctl visit add --date 2026-10-01 --people 1 --category 其他 --summary 乙)
	v3=$(ctl visit add --date 2026-11-18 --people 1 --category 其他 --summary 丙)
	late=$(ctl case open --date 2026-11-02 --title 未受理 --from "$v1")
	soon=$(ctl case open --date 2026-10-02 --title 将到期 --from "$v2")
	ctl case assign "$soon" --leader 李镇长 --date 2026-10-05
	later=$(ctl case open --date 2026-11-19 --title 刚交办 --from "$v3")
	ctl case assign "$later" --leader 李镇长 --date 2026-11-20
}

@test "report --overdue lists what is past or within 7 days of its deadline; case extend moves it once" {
	overdue_fixture
	run --separate-stderr ctl report --overdue --as-of 2026-11-30 --json
	[ "$status" -eq 0 ]
	json_assert '
late, soon = sys.argv[1:3]
# the fixture file'"'"'s case A, reopened 04-01, was due 05-31: 183 days over
assert [c["title"] for c in j] == ["补偿", "未受理", "将到期"], j
assert j[0]["days_left"] == -183 and j[0]["stage"] == "conclude" and j[0]["leader"] == "王书记", j[0]
assert j[1]["id"] == late and j[2]["id"] == soon, j
assert j[1]["stage"] == "accept" and j[1]["due"] == "2026-11-16" and j[1]["days_left"] == -14, j[1]
assert j[1]["leader"] == "" and j[1]["village"] == "370102001001", j[1]
assert j[2]["stage"] == "conclude" and j[2]["due"] == "2026-12-04" and j[2]["days_left"] == 4, j[2]
assert j[2]["leader"] == "李镇长" and not j[2]["extended"], j[2]' "$late" "$soon"
	run --separate-stderr ctl report --overdue --as-of 2026-11-30
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 3 ]
	[[ "${lines[1]}" == "$late  370102001001  未交办  受理 2026-11-16  超期 14  未受理" ]]
	[[ "${lines[2]}" == "$soon  370102001001  李镇长  办结 2026-12-04  剩余 4  将到期" ]]

	# An extension is for a case being handled, and only once.
	refuses ctl case extend "$late" --reason 情况复杂
	[[ "$stderr" == *"$late is not accepted yet (case assign)"* ]]
	run --separate-stderr ctl case extend "$soon" --reason 情况复杂 --date 2026-11-20
	[ "$status" -eq 0 ]
	refuses ctl case extend "$soon" --reason 再延
	[[ "$stderr" == *"already extended on 2026-11-20"* ]]
	refuses ctl case extend "$soon"
	run --separate-stderr ctl report --overdue --as-of 2026-11-30 --json
	json_assert 'assert [c["title"] for c in j] == ["补偿", "未受理"], j'
	run --separate-stderr ctl case show "$soon" --json
	json_assert 'assert j["extended_on"] == "2026-11-20" and j["extension"] == "情况复杂", j'
	# Reopened after the extension, a case is handled afresh: 60 days from
	# the reopening, and one extension again.
	ctl case close "$soon" --outcome 已办结 --date 2026-11-25
	ctl case reopen "$soon" --reason 不服 --date 2026-11-30
	run --separate-stderr ctl export --type cases --format json
	json_assert 'c = [c for c in j if c["title"] == "将到期"][0]; assert c["deadline"] == "2027-01-29", c'
	run --separate-stderr ctl case extend "$soon" --reason 仍复杂 --date 2026-11-30
	[ "$status" -eq 0 ]
	run --separate-stderr ctl export --type cases --format json
	json_assert 'c = [c for c in j if c["title"] == "将到期"][0]; assert c["deadline"] == "2027-02-28", c'
	refuses ctl case extend "$soon" --reason 三延
	# Closing (here: refusing) ends the clock.
	ctl case close "$late" --outcome 不予受理 --date 2026-11-30
	run --separate-stderr ctl report --overdue --as-of 2026-11-30 --village 370102001001
	[ "$status" -eq 0 ]
	[[ "$output" == *补偿* ]]
	run --separate-stderr ctl report --overdue --as-of 2026-11-30 --json
	json_assert 'assert [c["title"] for c in j] == ["补偿"], j'
	# Answered before it was ever accepted, a case has no handling to extend.
	replied=$(ctl case open --title 直接答复 --from "$(ctl visit add --people 1 --category 其他 --summary 咨询 --date 2026-11-10)" --date 2026-11-10)
	ctl case reply "$replied" --text 已答复 --due 2026-12-15 --date 2026-11-11 >/dev/null
	refuses ctl case extend "$replied" --reason 情况复杂 --date 2026-11-12
	[ "$stderr" = "xinfangctl case extend: $replied is not accepted yet (case assign): only an accepted case's handling can be extended" ]
}

@test "report --weekly: new this week by village, open cases by leader, cases due" {
	overdue_fixture
	run --separate-stderr ctl report --weekly --week 2026-W47 --as-of 2026-11-30 --json
	[ "$status" -eq 0 ]
	json_assert '
assert j["week"] == "2026-W47" and j["from"] == "2026-11-16" and j["to"] == "2026-11-22", j
# the week holds the visit of 11-18 and the case opened 11-19
assert j["new_by_village"] == [{"village": "370102001001", "visits": 1, "people": 1, "letters": 0,
                                "cases_opened": 1, "risks_reported": 0}], j["new_by_village"]
# open: the fixture file'"'"'s reopened case A (王书记), the three above
assert j["open_by_leader"] == [{"leader": "", "open_cases": 1}, {"leader": "李镇长", "open_cases": 2},
                               {"leader": "王书记", "open_cases": 1}], j["open_by_leader"]
assert [c["stage"] for c in j["due"]] == ["conclude", "accept", "conclude"], j["due"]'
	run --separate-stderr ctl report --weekly --week 2026-W47 --as-of 2026-11-30 --lang en
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "Weekly dispatch sheet 2026-W47 (2026-11-16 .. 2026-11-22)" ]
	[[ "$output" == *"  李镇长  2"* ]]
	# Without --week: the week of today.
	run --separate-stderr ctl report --weekly --json
	[ "$status" -eq 0 ]
	json_assert 'import datetime; y, w, _ = datetime.date.today().isocalendar(); assert j["week"] == "%04d-W%02d" % (y, w), j["week"]'
}

@test "export: CSV with a BOM and Chinese headers, one row per record of the period; JSON the same" {
	ctl export --type cases --from 2026-01-01 --to 2026-06-30 --format csv >"$BATS_TEST_TMPDIR/cases.csv"
	[ "$(head -c 3 "$BATS_TEST_TMPDIR/cases.csv" | od -An -tx1 | tr -d ' ')" = efbbbf ]
	python3 - "$BATS_TEST_TMPDIR/cases.csv" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1], encoding="utf-8-sig")))
assert [r["案由"] for r in rows] == ["补偿", "欠薪"], rows  # by date
a, b = rows
assert a["状态"] == "重新办理" and a["包案领导"] == "王书记" and a["工作组"] == "1", a
assert a["受理日期"] == "2026-01-20" and a["重新办理日期"] == "2026-04-01" and a["办结日期"] == "", a
assert a["法定期限"] == "2026-05-31" and a["收到日期"] == "2026-01-10" and a["类别"] == "征地拆迁", a
assert b["状态"] == "已办结" and b["办结结果"] == "已支付" and b["法定期限"] == "", b
PY
	run --separate-stderr ctl export --type visits --from 2026-01-01 --to 2026-06-30 --format json
	[ "$status" -eq 0 ]
	json_assert '
assert [v["people"] for v in j] == [6, 5, 2], j
assert j[0]["escalated"] is True and j[0]["village"] == "370102001001" and j[0]["category"] == "征地拆迁"'
	ctl export --type visits --format csv --lang en >"$BATS_TEST_TMPDIR/visits.csv"
	python3 - "$BATS_TEST_TMPDIR/visits.csv" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1], encoding="utf-8-sig")))
assert len(rows) == 4 and rows[0]["date"] == "2025-02-01" and rows[0]["escalated"] == "no", rows
assert rows[1]["escalated"] == "yes", rows
PY
	run --separate-stderr ctl export --type risks --from 2026-01-01 --to 2026-12-31 --format json
	json_assert 'assert len(j) == 1 and j[0]["status"] == "resolved" and j[0]["resolved_on"] == "2026-05-01", j'
}

@test "export refuses bad options with one line" {
	refuses ctl export --format csv
	refuses ctl export --type people --format csv
	refuses ctl export --type visits --format xls
	refuses ctl export --type visits --format csv --from 2026-13-01
	refuses ctl export --type visits --format csv --from 2026-05-01 --to 2026-04-01
	refuses ctl export --type visits --format csv --lang de
	# As report refuses --csv with --json.
	refuses ctl export --type visits --format csv --json
	[ "$stderr" = "xinfangctl export: --json goes with --format json, not csv" ] || { echo "$stderr" >&2; false; }
}

@test "export and report --help show every option they take, as the README does" {
	run --separate-stderr ctl export --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"[--from D] [--to D]"* && "$output" == *"[--village ID]"* ]] || { echo "$output" >&2; false; }
	run --separate-stderr ctl report --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"--overdue [--as-of D]"* && "$output" == *"--weekly [--week YYYY-Www] [--as-of D]"* ]] ||
		{ echo "$output" >&2; false; }
	# And export takes what its help says: neither date is required.
	run --separate-stderr ctl export --type visits --format json --village "$NODE"
	[ "$status" -eq 0 ]
}

@test "an exported sheet imports into another node as the same records, and back here as nothing new" {
	# Text that starts like a formula leaves as text, and comes back whole.
	ctl visit add --date 2026-06-01 --people 1 --category 其他 --summary '=HYPERLINK("http://x","点我")' >/dev/null
	ctl export --type visits --format csv >"$BATS_TEST_TMPDIR/visits.csv"
	grep -qF "\"'=HYPERLINK(\"\"http://x\"\",\"\"点我\"\")\"" "$BATS_TEST_TMPDIR/visits.csv"
	make_node other 370102001002
	ctl_on other init >/dev/null
	run --separate-stderr ctl_on other import --type visits "$BATS_TEST_TMPDIR/visits.csv"
	[ "$status" -eq 0 ]
	[[ "$output" == "imported 5 visits, 0 already present, 0 bad rows" ]]
	ctl export --type visits --format json >"$BATS_TEST_TMPDIR/here.json"
	ctl_on other export --type visits --format json >"$BATS_TEST_TMPDIR/there.json"
	python3 - "$BATS_TEST_TMPDIR/here.json" "$BATS_TEST_TMPDIR/there.json" <<'PY'
import json, sys
fields = ["date", "people", "category", "summary", "names", "escalated"]
here, there = (json.load(open(f)) for f in sys.argv[1:])
assert [[v.get(k) for k in fields] for v in here] == [[v.get(k) for k in fields] for v in there], (here, there)
assert {v["village"] for v in there} == {"370102001002"}
PY
	# Back into the node it came from: every row names a record held here.
	log_digest
	before=$digest
	run --separate-stderr ctl import --type visits "$BATS_TEST_TMPDIR/visits.csv"
	[ "$status" -eq 0 ]
	[[ "$output" == "imported 0 visits, 5 already present, 0 bad rows" ]]
	log_digest
	[ "$digest" = "$before" ]
}
