#!/usr/bin/env bats
# import: a township's or village's spreadsheet ledger of visits or letters,
# saved as CSV by WPS or Excel, recorded row by row: checked as visit add
# and letter add check, all rows or none, and never twice.

load helper

setup_file() {
	in_file_tmpdir setup_village
}

setup() {
	clone_village
}

# crlf FILE LINE...: FILE holding each LINE ended by CRLF, as Excel saves.
crlf() {
	local file=$1
	shift
	printf '%s\r\n' "$@" >"$file"
}

# lf FILE LINE...: the same with LF line ends.
lf() {
	local file=$1
	shift
	printf '%s\n' "$@" >"$file"
}

# The rows of the ledger the first tests share, after its header: the first
# row's summary holds a comma and a line break; id and status are what
# export writes, and import passes them over.
LEDGER_ROWS=(
	$',2025/3/1,3,土地,"张三、李四，王五",13800000000,是,"征地补偿,补偿款未到位\n要求答复",'
	',2025-3-5,1,低保,赵六; 钱七 ,,否,申请低保,'
	'V-370102009999-7,2025-04-10,12,换届选举,,,,选举不公,recorded'
)
LEDGER_ZH=编号,日期,人数,类别,姓名,电话,越级,事由,状态
LEDGER_EN=id,date,people,category,names,phone,escalated,summary,status

# ledger FILE: the ledger in UTF-8 with a BOM, CRLF and Chinese headers.
# until_file FILE: wait (up to 10 s) until FILE exists.
until_file() {
	local i
	for i in $(seq 100); do
		[ -e "$1" ] && return 0
		sleep 0.1
	done
	return 1
}

ledger() {
	crlf "$1" "$(printf '\xef\xbb\xbf')$LEDGER_ZH" "${LEDGER_ROWS[@]}"
}

# What the ledger must become, whatever its encoding or header language.
LEDGER_CHECK='
assert len(j) == 3, j
a, b, c = j
assert a["date"] == "2025-03-01" and a["people"] == 3 and a["category"] == "土地", a
assert a["names"] == ["张三", "李四", "王五"] and a["phone"] == "13800000000" and a["escalated"] is True, a
assert a["summary"] == "征地补偿,补偿款未到位\n要求答复", a
assert b["date"] == "2025-03-05" and b["people"] == 1 and b["category"] == "低保", b
assert b["names"] == ["赵六", "钱七"] and "phone" not in b and b["escalated"] is False, b
assert b["summary"] == "申请低保", b
assert c["date"] == "2025-04-10" and c["people"] == 12 and c["names"] == [] and c["escalated"] is False, c
assert c["summary"] == "选举不公" and c["category"] == "换届选举", c
for v in j:
    assert v["status"] == "recorded" and v["events"] == 1, v
    assert len(v["import"]) == 32 and int(v["import"], 16) >= 0, v
assert len({v["import"] for v in j}) == 3, j'

# event_count: how many events the village log holds.
event_count() {
	ctl log --json | python3 -c 'import json, sys; print(len(json.load(sys.stdin)))'
}

@test "a UTF-8 ledger with BOM, CRLF, Chinese headers and a multi-line quoted cell lands row by row" {
	f=$BATS_TEST_TMPDIR/台账.csv
	ledger "$f"
	run --separate-stderr ctl import --type visits "$f"
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[ "$output" = "imported 3 visits, 0 already present, 0 bad rows" ]
	run ctl visit list --json
	[ "$status" -eq 0 ]
	json_assert "$LEDGER_CHECK"
	# Each row is a visit.recorded event of its own entity, as visit add
	# records it, with the dedupe key beside the fields.
	run ctl log --json
	json_assert '
ev = j[1:]
assert [e["type"] for e in ev] == ["visit.recorded"] * 3, ev
assert [e["entity"] for e in ev] == ["V-%s-%d" % (sys.argv[1], s) for s in (2, 3, 4)], ev
assert all(e["author"] == "测试员" and e["parents"] == [] for e in ev), ev
assert set(ev[0]["body"]) == {"date", "category", "summary", "names", "people", "escalated", "phone", "import"}, ev[0]
assert set(ev[1]["body"]) == {"date", "category", "summary", "names", "people", "escalated", "import"}, ev[1]' $NODE
	run ctl verify
	[ "$status" -eq 0 ]
}

@test "the same ledger in GB18030, without a BOM, or with English headers imports identically" {
	ledger "$BATS_TEST_TMPDIR/utf8.csv"
	iconv -f UTF-8 -t GB18030 "$BATS_TEST_TMPDIR/utf8.csv" >"$BATS_TEST_TMPDIR/gb.csv"
	crlf "$BATS_TEST_TMPDIR/plain.csv" "$LEDGER_ZH" "${LEDGER_ROWS[@]}"
	iconv -f UTF-8 -t GB18030 "$BATS_TEST_TMPDIR/plain.csv" >"$BATS_TEST_TMPDIR/gb-plain.csv"
	lf "$BATS_TEST_TMPDIR/en.csv" "$LEDGER_EN" "${LEDGER_ROWS[@]}"
	# The converted files are not UTF-8: the test would prove nothing.
	! iconv -f UTF-8 -t UTF-8 "$BATS_TEST_TMPDIR/gb-plain.csv" >/dev/null 2>&1

	run ctl import --type visits "$BATS_TEST_TMPDIR/gb.csv"
	[ "$status" -eq 0 ]
	[ "$output" = "imported 3 visits, 0 already present, 0 bad rows" ]
	run ctl visit list --json
	json_assert "$LEDGER_CHECK"
	want=$output
	# Each variant, on a fresh node of the same id, gives the same visits
	# with the same ids and keys; on the first node it is all present.
	for variant in utf8 plain gb-plain en; do
		f=$BATS_TEST_TMPDIR/$variant.csv
		rm -rf "$BATS_TEST_TMPDIR/fresh"
		make_node fresh $NODE
		ctl_on fresh init >/dev/null
		run --separate-stderr ctl_on fresh import --type visits "$f"
		[ "$status" -eq 0 ] || { echo "$variant: $stderr" >&2; false; }
		[ "$output" = "imported 3 visits, 0 already present, 0 bad rows" ]
		run ctl_on fresh visit list --json
		[ "$output" = "$want" ] || { echo "$variant differs: $output" >&2; false; }
		run ctl import --type visits "$f"
		[ "$output" = "imported 0 visits, 3 already present, 0 bad rows" ] || { echo "$variant: $output" >&2; false; }
	done
	# --encoding forces one; forced wrong, the file is refused.
	run ctl import --type visits --encoding gb18030 "$BATS_TEST_TMPDIR/gb-plain.csv"
	[ "$status" -eq 0 ]
	run ctl import --type visits --encoding UTF-8 "$BATS_TEST_TMPDIR/utf8.csv"
	[ "$status" -eq 0 ]
	refuses ctl import --type visits --encoding utf-8 "$BATS_TEST_TMPDIR/gb-plain.csv"
	[ "$stderr" = "xinfangctl import: $BATS_TEST_TMPDIR/gb-plain.csv: not UTF-8 text" ]
	refuses ctl import --type visits --encoding gb18030 "$BATS_TEST_TMPDIR/en.csv"
	[ "$stderr" = "xinfangctl import: $BATS_TEST_TMPDIR/en.csv: not GB18030 text" ]
}

@test "a UTF-8 ledger with one stray byte is refused at its line, not read whole as GB18030" {
	crlf "$BATS_TEST_TMPDIR/plain.csv" "$LEDGER_ZH" "${LEDGER_ROWS[@]}"
	# A Latin-1 é pasted into the third line.
	awk 'NR == 3 { sub(/,/, ",Caf\351 ") } { print }' "$BATS_TEST_TMPDIR/plain.csv" >"$BATS_TEST_TMPDIR/stray.csv"
	! iconv -f UTF-8 -t UTF-8 "$BATS_TEST_TMPDIR/stray.csv" >/dev/null 2>&1
	refuses ctl import --type visits "$BATS_TEST_TMPDIR/stray.csv"
	[ "$stderr" = "xinfangctl import: $BATS_TEST_TMPDIR/stray.csv:3: a byte that is not UTF-8, in a file that otherwise is: save it again as UTF-8 (or give --encoding gb18030)" ]
}

@test "importing a ledger again imports nothing and writes nothing" {
	f=$BATS_TEST_TMPDIR/a.csv
	ledger "$f"
	run ctl import --type visits "$f" --json
	[ "$status" -eq 0 ]
	json_assert '
assert j == {"imported": 3, "present": 0, "bad": 0, "ids": ["V-%s-%d" % (sys.argv[1], s) for s in (2, 3, 4)]}, j' $NODE
	events=$(event_count)
	[ "$events" -eq 4 ]
	log_digest
	before=$digest
	run --separate-stderr ctl import --type visits "$f"
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[ "$output" = "imported 0 visits, 3 already present, 0 bad rows" ]
	run ctl import --type visits "$f" --json
	[ "$status" -eq 0 ]
	json_assert 'assert j == {"imported": 0, "present": 3, "bad": 0, "ids": []}, j'
	log_digest
	[ "$digest" = "$before" ]
	[ "$(event_count)" -eq 4 ]
	# A ledger that grew by a row since adds just that row.
	ledger "$f"
	printf '%s\r\n' ',2025-05-01,2,土地,,,,新增一行,' >>"$f"
	run ctl import --type visits "$f"
	[ "$output" = "imported 1 visit, 3 already present, 0 bad rows" ]
	[ "$(event_count)" -eq 5 ]
}

@test "imports take turns: the same ledger imported four times at once lands once" {
	f=$BATS_TEST_TMPDIR/a.csv
	ledger "$f"
	# An import waits while another holds the node's import lock...
	(
		flock 9
		touch "$BATS_TEST_TMPDIR/held"
		sleep 2
	) 9>"$(data_dir)/import.lock" &
	until_file "$BATS_TEST_TMPDIR/held"
	start=$(date +%s%N)
	ctl import --type visits "$f" >/dev/null
	waited=$((($(date +%s%N) - start) / 1000000))
	echo "waited $waited ms" >&2
	[ "$waited" -ge 1000 ]
	wait
	# ...so four at once find, in turn, what the first wrote.
	for i in 1 2 3 4; do
		ctl import --type visits "$f" >"$BATS_TEST_TMPDIR/out.$i" 2>&1 &
	done
	wait
	cat "$BATS_TEST_TMPDIR"/out.*
	[ "$(cat "$BATS_TEST_TMPDIR"/out.* | grep -c '^imported 0 visits, 3 already present')" -eq 4 ]
	[ "$(event_count)" -eq 4 ]
}

@test "identical rows in one ledger are as many records, and a re-import adds none" {
	f=$BATS_TEST_TMPDIR/twins.csv
	# The first two are one row written twice, the second's date as a
	# spreadsheet may write it.
	lf "$f" date,people,category,summary,names \
		2025-03-01,2,土地,征地补偿,张三 2025/3/1,2,土地,征地补偿,张三 2025-03-01,2,土地,征地补偿,李四
	run ctl import --type visits "$f"
	[ "$output" = "imported 3 visits, 0 already present, 0 bad rows" ]
	run ctl visit list --json
	json_assert '
assert [v["date"] for v in j] == ["2025-03-01"] * 3 and [v["names"] for v in j] == [["张三"], ["张三"], ["李四"]], j
assert len({v["import"] for v in j}) == 3, j'
	log_digest
	before=$digest
	run ctl import --type visits "$f"
	[ "$output" = "imported 0 visits, 3 already present, 0 bad rows" ]
	log_digest
	[ "$digest" = "$before" ]
	# A third of them, later in the ledger: one more record.
	printf '%s\n' 2025-3-1,2,土地,征地补偿,张三 >>"$f"
	run ctl import --type visits "$f"
	[ "$output" = "imported 1 visit, 3 already present, 0 bad rows" ]
	run ctl visit list --json
	json_assert 'assert len(j) == 4 and len({v["import"] for v in j}) == 4, j'
	# The same row as a letter is another record.
	lf "$BATS_TEST_TMPDIR/letter.csv" date,category,summary,names 2025-03-01,土地,征地补偿,张三
	run ctl import --type letters "$BATS_TEST_TMPDIR/letter.csv"
	[ "$output" = "imported 1 letter, 0 already present, 0 bad rows" ] || { echo "$output" >&2; false; }
}

# bad_ledger FILE ROW: a ledger whose line 8 is ROW, after a row on lines
# 2-4 (a quoted cell over three lines), a line of empty cells and an empty
# line; 4 rows in all.
BAD_HEADER=日期,人数,类别,事由,姓名,越级,电话
bad_ledger() {
	crlf "$1" "$BAD_HEADER" \
		$'2025-01-02,2,土地,"第一行\n第二行\n第三行",张三,否,' \
		,,,,,, \
		'' \
		2025-01-03,1,低保,申请低保,,, \
		"$2" \
		2025-01-04,1,低保,再次申请,,,
}

@test "one bad row: its FILE:LINE and why, then nothing imported, and the log unchanged" {
	tomorrow=$(date -d tomorrow +%F)
	long=$(printf 'a%.0s' {1..4001})
	name=$(printf 'a%.0s' {1..65})
	many=$(printf '人%d、' {1..21})
	f=$BATS_TEST_TMPDIR/bad.csv
	cases=(
		"$tomorrow,1,土地,测试,,,"                "date '$tomorrow' is in the future"
		"2025-02-30,1,土地,测试,,,"               "date '2025-02-30' is not a real date YYYY-MM-DD"
		"2025/13/1,1,土地,测试,,,"                "date '2025-13-01' is not a real date YYYY-MM-DD"
		"1/2/2025,1,土地,测试,,,"                 "date '1/2/2025' is not a real date YYYY-MM-DD"
		",1,土地,测试,,,"                         "date '' is not a real date YYYY-MM-DD"
		"2025-01-01,0,土地,测试,,,"               "people must be a whole number from 1 to 10000"
		"2025-01-01,2.5,土地,测试,,,"             "people must be a whole number from 1 to 10000"
		"2025-01-01,10001,土地,测试,,,"           "people must be a whole number from 1 to 10000"
		"2025-01-01,1,土地,,,,"                   "summary must not be empty"
		"2025-01-01,1,,测试,,,"                   "category must not be empty"
		"2025-01-01,1,土地,$long,,,"              "summary is longer than 4000 bytes"
		"2025-01-01,1,土地,$(printf 'a\001b'),,," "summary holds a control character (only newline and tab are allowed)"
		"2025-01-01,1,土地,测试,$name,,"          "name must be non-empty UTF-8 text of at most 64 bytes"
		"2025-01-01,1,土地,测试,$many,,"          "more than 20 names"
		"2025-01-01,1,土地,测试,,也许,"           "escalated must be 是, 否, yes, no, true, false, 1 or 0"
		"2025-01-01,1,土地,测试,,,138-abc"        "phone must be up to 32 digits, spaces, '+' or '-'"
		"2025-01-01,1,土地,测试,,"                "6 cells where the header has 7"
		"2025-01-01,1,土地,测试,,,,"              "8 cells where the header has 7"
	)
	# (Not $i: bats's own functions set it.)
	for ((bad = 0; bad < ${#cases[@]}; bad += 2)); do
		bad_ledger "$f" "${cases[bad]}"
		log_digest
		before=$digest
		run --separate-stderr ctl import --type visits "$f"
		[ "$status" -eq 1 ] || { echo "row '${cases[bad]:0:80}': exit $status" >&2; false; }
		[ -z "$output" ]
		[ "${#stderr_lines[@]}" -eq 2 ] || { echo "$stderr" >&2; false; }
		[ "${stderr_lines[0]}" = "xinfangctl import: $f:8: ${cases[bad + 1]}" ] ||
			{ printf "got:  %s\nwant: %s\n" "${stderr_lines[0]:0:200}" "xinfangctl import: $f:8: ${cases[bad + 1]:0:100}" >&2; false; }
		[ "${stderr_lines[1]}" = "xinfangctl import: nothing imported: 1 bad row of 4" ]
		log_digest
		[ "$digest" = "$before" ]
	done
	# The same ledger without the bad row goes in: the rows around it
	# were good.
	bad_ledger "$f" 2025-01-01,1,土地,测试,,,
	run ctl import --type visits "$f"
	[ "$output" = "imported 4 visits, 0 already present, 0 bad rows" ]
}

@test "every bad row is listed, in file order, before nothing is imported" {
	f=$BATS_TEST_TMPDIR/bad.csv
	lf "$f" date,people,category,summary \
		2025-01-01,0,土地,测试 \
		$'2025-01-01,1,土地,"跨\n两行"' \
		2025-02-30,1,土地,测试 \
		2025-01-01,1,土地 \
		2025-01-01,1,土地,测试
	log_digest
	before=$digest
	run --separate-stderr ctl import --type visits "$f"
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[ "${#stderr_lines[@]}" -eq 4 ]
	[[ "${stderr_lines[0]}" == "xinfangctl import: $f:2: people "* ]]
	[[ "${stderr_lines[1]}" == "xinfangctl import: $f:5: date "* ]]
	[[ "${stderr_lines[2]}" == "xinfangctl import: $f:6: 3 cells "* ]]
	[ "${stderr_lines[3]}" = "xinfangctl import: nothing imported: 3 bad rows of 5" ]
	log_digest
	[ "$digest" = "$before" ]
	# Lines that end in a lone CR (old Mac spreadsheets) count as lines too.
	want=${stderr//bad.csv/cr.csv}
	tr '\n' '\r' <"$f" >"$BATS_TEST_TMPDIR/cr.csv"
	run --separate-stderr ctl import --type visits "$BATS_TEST_TMPDIR/cr.csv"
	[ "$status" -eq 1 ]
	[ "$stderr" = "$want" ]
}

@test "--skip-bad writes the good rows and lists the bad ones" {
	f=$BATS_TEST_TMPDIR/bad.csv
	bad_ledger "$f" 2025-02-30,1,土地,测试,,,
	run --separate-stderr ctl import --type visits "$f" --skip-bad
	[ "$status" -eq 0 ]
	[ "$output" = "imported 3 visits, 0 already present, 1 bad row" ]
	[ "$stderr" = "xinfangctl import: $f:8: date '2025-02-30' is not a real date YYYY-MM-DD" ]
	run ctl visit list --json
	json_assert '
assert [v["summary"] for v in j] == ["第一行\n第二行\n第三行", "申请低保", "再次申请"], j
assert [v["date"] for v in j] == ["2025-01-02", "2025-01-03", "2025-01-04"], j
assert j[0]["names"] == ["张三"] and j[0]["people"] == 2, j'
	run --separate-stderr ctl import --type visits "$f" --skip-bad --json
	[ "$status" -eq 0 ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	json_assert 'assert j == {"imported": 0, "present": 3, "bad": 1, "ids": []}, j'
	[ "$(event_count)" -eq 4 ]
}

@test "letters: Chinese or English headers, no people; a visit ledger is not a letter ledger" {
	f=$BATS_TEST_TMPDIR/letters.csv
	crlf "$f" 编号,村,日期,类别,姓名,事由,状态,冲突 \
		',,2025/6/1,低保,王五，赵六,"来信反映低保,未落实",,' \
		',,2025-06-02,土地,,来信反映征地,,'
	run --separate-stderr ctl import --type letters "$f"
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[ "$output" = "imported 2 letters, 0 already present, 0 bad rows" ]
	run ctl letter list --json
	json_assert '
assert len(j) == 2, j
assert j[0]["id"] == "L-%s-2" % sys.argv[1] and j[0]["date"] == "2025-06-01" and j[0]["names"] == ["王五", "赵六"], j
assert j[0]["summary"] == "来信反映低保,未落实" and j[0]["category"] == "低保", j
assert j[1]["date"] == "2025-06-02" and j[1]["names"] == [] and j[1]["summary"] == "来信反映征地", j
for l in j:
    assert "people" not in l and "escalated" not in l and len(l["import"]) == 32, l' $NODE
	run ctl visit list --json
	json_assert 'assert j == [], j'
	run ctl log --json
	json_assert '
assert [e["type"] for e in j[1:]] == ["letter.recorded"] * 2, j
assert set(j[1]["body"]) == {"date", "category", "summary", "names", "import"}, j[1]'
	run ctl import --type letters "$f"
	[ "$output" = "imported 0 letters, 2 already present, 0 bad rows" ]
	lf "$BATS_TEST_TMPDIR/en.csv" date,category,summary 2025-06-03,低保,来信
	run ctl import --type letters "$BATS_TEST_TMPDIR/en.csv"
	[ "$output" = "imported 1 letter, 0 already present, 0 bad rows" ] || { echo "$output" >&2; false; }
	# A letter row is checked as letter add checks it.
	lf "$BATS_TEST_TMPDIR/bad.csv" date,category,summary 2025-06-03,低保,来信 2025-06-31,低保,来信
	log_digest
	before=$digest
	run --separate-stderr ctl import --type letters "$BATS_TEST_TMPDIR/bad.csv"
	[ "$status" -eq 1 ]
	[ "${#stderr_lines[@]}" -eq 2 ]
	[ "${stderr_lines[0]}" = "xinfangctl import: $BATS_TEST_TMPDIR/bad.csv:3: date '2025-06-31' is not a real date YYYY-MM-DD" ]
	log_digest
	[ "$digest" = "$before" ]
	# Visits and letters have their own columns.
	ledger "$BATS_TEST_TMPDIR/visits.csv"
	refuses ctl import --type letters "$BATS_TEST_TMPDIR/visits.csv"
	[ "$stderr" = "xinfangctl import: $BATS_TEST_TMPDIR/visits.csv:1: unknown column '人数'" ]
	refuses ctl import --type visits "$f"
	[ "$stderr" = "xinfangctl import: $f:1: missing column 'people' (人数)" ]
}

@test "a file that cannot be imported gets one line and changes nothing" {
	d=$BATS_TEST_TMPDIR
	ledger "$d/ok.csv"
	refuses ctl import --type cases "$d/ok.csv"
	[ "$stderr" = "xinfangctl import: --type must be visits or letters" ]
	[ "$status" -eq 2 ]
	refuses ctl import "$d/ok.csv"
	[ "$status" -eq 2 ]
	refuses ctl import --type visits
	[ "$status" -eq 2 ]
	refuses ctl import --type visits "$d/ok.csv" "$d/ok.csv"
	[ "$status" -eq 2 ]
	refuses ctl import --type visits --encoding latin1 "$d/ok.csv"
	[ "$stderr" = "xinfangctl import: --encoding must be utf-8 or gb18030" ]
	[ "$status" -eq 2 ]
	refuses ctl import --type visits --bogus "$d/ok.csv"
	[ "$status" -eq 2 ]
	refuses ctl import --type visits "$d/absent.csv"
	[ "$stderr" = "xinfangctl import: $d/absent.csv: No such file or directory" ]
	[ "$status" -eq 1 ]
	refuses ctl import --type visits "$d"
	[[ "$stderr" == *"$d: Is a directory" ]]
	: >"$d/empty.csv"
	refuses ctl import --type visits "$d/empty.csv"
	[ "$stderr" = "xinfangctl import: $d/empty.csv: empty file" ]
	printf '\xef\xbb\xbf\r\n\r\n,,,\r\n' >"$d/blank.csv"
	refuses ctl import --type visits "$d/blank.csv"
	[ "$stderr" = "xinfangctl import: $d/blank.csv: empty file" ]
	crlf "$d/header.csv" "$LEDGER_ZH" ,,,,,,,,
	refuses ctl import --type visits "$d/header.csv"
	[ "$stderr" = "xinfangctl import: $d/header.csv: no rows" ]
	crlf "$d/unknown.csv" "$LEDGER_ZH,备注" "${LEDGER_ROWS[0]},"
	refuses ctl import --type visits "$d/unknown.csv"
	[ "$stderr" = "xinfangctl import: $d/unknown.csv:1: unknown column '备注'" ]
	lf "$d/twice.csv" date,people,category,summary,日期 2025-01-01,1,土地,测试,2025-01-01
	refuses ctl import --type visits "$d/twice.csv"
	[ "$stderr" = "xinfangctl import: $d/twice.csv:1: column '日期' appears twice" ]
	lf "$d/missing.csv" date,people,summary 2025-01-01,1,测试
	refuses ctl import --type visits "$d/missing.csv"
	[ "$stderr" = "xinfangctl import: $d/missing.csv:1: missing column 'category' (类别)" ]
	# Bytes that are neither UTF-8 nor GB18030 (0xff is neither's).
	printf 'date,people,category,summary\n2025-01-01,1,\xff\xfe,\xff\n' >"$d/garbage.csv"
	refuses ctl import --type visits "$d/garbage.csv"
	[ "$stderr" = "xinfangctl import: $d/garbage.csv: neither UTF-8 nor GB18030 text" ]
	# UTF-16, as Excel's "Unicode text" saves: NULs are no text.
	printf 'date,people,category,summary\n2025-01-01,1,a,b\n' | iconv -f UTF-8 -t UTF-16LE >"$d/utf16.csv"
	refuses ctl import --type visits "$d/utf16.csv"
	[ "$stderr" = "xinfangctl import: $d/utf16.csv: neither UTF-8 nor GB18030 text" ]
	# Not CSV: a stray quote, a quoted cell never closed.
	lf "$d/quote.csv" date,people,category,summary 2025-01-01,1,土地,测试 '2025-01-01,1,土地,说"明'
	refuses ctl import --type visits "$d/quote.csv"
	[[ "$stderr" == "xinfangctl import: $d/quote.csv:3: not CSV: "* ]]
	lf "$d/open.csv" date,people,category,summary 2025-01-01,1,土地,测试 '2025-01-01,1,土地,"没有' 结尾
	refuses ctl import --type visits "$d/open.csv"
	[ "$stderr" = "xinfangctl import: $d/open.csv:3: not CSV: a quoted cell is still open at the end of the file" ]
	[ "$(event_count)" -eq 1 ]
}

@test "import --help prints its usage and records nothing" {
	log_digest
	before=$digest
	run --separate-stderr ctl import --type visits "$BATS_TEST_TMPDIR/absent.csv" --help
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[ "$output" = "usage: xinfangctl [-c FILE] import --type visits|letters FILE.csv [--skip-bad] [--encoding utf-8|gb18030] [--json]" ]
	log_digest
	[ "$digest" = "$before" ]
}

@test "an exported row edited since is refused, not taken for the record it names" {
	f=$BATS_TEST_TMPDIR/visits.csv
	ctl visit add --date 2026-06-01 --people 2 --category 土地 --summary 征地补偿 >/dev/null
	edited=$(ctl visit add --date 2026-06-02 --people 1 --category 低保 --summary 申请低保)
	ctl export --type visits --format csv --lang en >"$f"
	# The clerk overwrote the second row with another person's matter.
	python3 - "$f" "$edited" <<'PY'
import csv, sys
path, edited = sys.argv[1:]
rows = list(csv.reader(open(path, encoding="utf-8-sig", newline="")))
head = rows[0]
for row in rows[1:]:
    if row[head.index("id")] == edited:
        row[head.index("people")] = "4"
        row[head.index("summary")] = "申请低保复查"
csv.writer(open(path, "w", encoding="utf-8", newline="")).writerows(rows)
PY
	line=$(grep -n "^$edited," "$f" | cut -d: -f1)
	log_digest
	before=$digest
	run --separate-stderr ctl import --type visits "$f"
	[ "$status" -eq 1 ]
	[ "${stderr_lines[0]}" = "xinfangctl import: $f:$line: $edited is recorded here with other values: empty its id cell to record the row as new" ]
	[ "${stderr_lines[1]}" = "xinfangctl import: nothing imported: 1 bad row of 2" ]
	[ "${#stderr_lines[@]}" -eq 2 ]
	log_digest
	[ "$digest" = "$before" ]
	# Skipping bad rows, the other row is found present and nothing is written.
	run --separate-stderr ctl import --type visits --skip-bad "$f"
	[ "$status" -eq 0 ]
	[ "$output" = "imported 0 visits, 1 already present, 1 bad row" ]
	log_digest
	[ "$digest" = "$before" ]
	# With its id cell emptied the row is a record of its own.
	sed -i "s/^$edited,/,/" "$f"
	run --separate-stderr ctl import --type visits "$f"
	[ "$status" -eq 0 ]
	[ "$output" = "imported 1 visit, 1 already present, 0 bad rows" ]
	run ctl visit list --json
	json_assert 'assert sorted((v["people"], v["summary"]) for v in j) == [(1, "申请低保"), (2, "征地补偿"), (4, "申请低保复查")], j'
}

@test "a node's own export imports back as already present, and into another node as typed" {
	f=$BATS_TEST_TMPDIR/visits.csv
	# Text as clerks type it: a line end left at the end, a formula-like
	# start behind an apostrophe, spaces in front of one.
	ctl visit add --people 1 --category 土地 --summary $'补偿款未到位。\n' >/dev/null
	ctl visit add --people 1 --category "'=quoted" --summary "''=twice" >/dev/null
	ctl visit add --people 1 --category 其他 --summary $'\t=1+2' >/dev/null
	ctl export --type visits --format csv >"$f"
	log_digest
	before=$digest
	run --separate-stderr ctl import --type visits "$f"
	[ "$status" -eq 0 ]
	[ "$output" = "imported 0 visits, 3 already present, 0 bad rows" ]
	log_digest
	[ "$digest" = "$before" ]
	make_node other 370102001002
	ctl_on other init >/dev/null
	run --separate-stderr ctl_on other import --type visits "$f"
	[ "$status" -eq 0 ]
	[ "$output" = "imported 3 visits, 0 already present, 0 bad rows" ]
	run ctl_on other visit list --json
	json_assert '
assert sorted((v["category"], v["summary"]) for v in j) == [
    ("'"'"'=quoted", "'"'"''"'"'=twice"), ("其他", "=1+2"), ("土地", "补偿款未到位。")], j'
}
