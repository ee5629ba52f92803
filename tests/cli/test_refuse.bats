#!/usr/bin/env bats
# Bad input gets a one-line error on stderr, a non-zero exit, and nothing
# written (issue 2, item 4). Every case goes through `refuses`, which checks
# all three.

load helper

# A village holding a visit, a case opened from it and a risk, made once;
# each test works on its own copy.
fixtures() {
	setup_village
	visit=$(ctl visit add --people 3 --category 土地 --summary 征地补偿)
	case_id=$(ctl case open --title 征地补偿纠纷 --from "$visit")
	risk=$(ctl risk report --level major --summary 隐患)
}

setup_file() {
	in_file_tmpdir fixtures
	export visit case_id risk
}

setup() {
	clone_village
}

# A valid visit, to which each test adds one bad thing.
VISIT=(visit add --people 3 --category 土地 --summary 测试)

@test "a bad or impossible --date is refused" {
	tomorrow=$(date -d tomorrow +%F)
	for d in 2026-02-30 2026-13-01 26-1-1 2026-02-29 2026-00-10 2026-01-00 2026-1-1 "" x 2026-01-01x \
		" 2026-01-01" 0000-01-01; do
		refuses ctl "${VISIT[@]}" --date "$d"
		[[ "$stderr" == *--date* ]] || { echo "date '$d': $stderr" >&2; false; }
	done
	for d in "$tomorrow" 2099-01-01; do
		refuses ctl "${VISIT[@]}" --date "$d"
		[[ "$stderr" == *future* ]] || { echo "date '$d': $stderr" >&2; false; }
	done
	# The same check on every verb that records an act.
	refuses ctl letter add --category 土地 --summary 测试 --date 2026-02-30
	refuses ctl risk report --level major --summary 测试 --date "$tomorrow"
	refuses ctl case open --title 测试 --from "$visit" --date 2026-13-01
	refuses ctl case assign "$case_id" --leader 王镇长 --date "$tomorrow"
	refuses ctl case dispatch "$case_id" --members 工作组 --date 26-1-1
	refuses ctl case note "$case_id" --text 走访 --date 2026-02-30
	refuses ctl case reply "$case_id" --text 答复 --due 2099-01-01 --date "$tomorrow"
	refuses ctl case close "$case_id" --outcome 办结 --date 2026-02-30
	refuses ctl risk resolve "$risk" --outcome 化解 --date "$tomorrow"
}

@test "a missing required option or value is refused" {
	refuses ctl visit add --category 土地 --summary 测试
	[[ "$stderr" == *--people* ]]
	refuses ctl visit add --people 3 --summary 测试
	[[ "$stderr" == *--category* ]]
	refuses ctl visit add --people 3 --category 土地
	[[ "$stderr" == *--summary* ]]
	refuses ctl visit add --people 3 --category 土地 --summary
	refuses ctl letter add --category 土地
	refuses ctl letter add --summary 测试
	refuses ctl case open --title 测试
	[[ "$stderr" == *--from* ]]
	refuses ctl case open --from "$visit"
	[[ "$stderr" == *--title* ]]
	refuses ctl case assign "$case_id"
	[[ "$stderr" == *--leader* ]]
	refuses ctl case dispatch "$case_id"
	refuses ctl case note "$case_id"
	refuses ctl case note --text 走访
	refuses ctl case reply "$case_id" --due 2099-01-01
	refuses ctl case reply "$case_id" --text 答复
	[[ "$stderr" == *--due* ]]
	refuses ctl case close "$case_id"
	refuses ctl case reopen "$case_id"
	refuses ctl risk report --summary 测试
	[[ "$stderr" == *--level* ]]
	refuses ctl risk report --level major
	refuses ctl risk resolve "$risk"
	refuses ctl case show
	refuses ctl enroll
	refuses ctl enroll 370102001002
	# Present but empty is as good as missing.
	refuses ctl visit add --people 3 --category "" --summary 测试
	refuses ctl case note "$case_id" --text ""
}

@test "an unknown option or a stray argument is refused" {
	refuses ctl "${VISIT[@]}" --bogus
	[[ "$stderr" == *--bogus* ]]
	refuses ctl "${VISIT[@]}" -x
	refuses ctl "${VISIT[@]}" --bogus=1
	[[ "$stderr" == *"unknown option '--bogus'"* ]] || { echo "$stderr" >&2; false; }
	refuses ctl letter add --category 土地 --summary 测试 --escalated
	[[ "$stderr" == *"'--escalated'"* ]] || { echo "$stderr" >&2; false; }
	refuses ctl case note "$case_id" --text 走访 --due 2099-01-01
	refuses ctl case open --title 测试 --from "$visit" --leader 王镇长
	refuses ctl risk report --level major --summary 测试 --people 3
	refuses ctl init --force
	refuses ctl key --json-ish
	refuses ctl log --bogus
	refuses ctl verify --bogus
	refuses ctl case list --bogus
	refuses ctl "${VISIT[@]}" extra
	refuses ctl log extra
	refuses ctl verify extra
	refuses ctl case note "$case_id" "$case_id" --text 走访
	# --json only where records are printed: a script that asked for
	# JSON must not be given a plain line and exit 0.
	refuses ctl "${VISIT[@]}" --json
	[ "$stderr" = "xinfangctl visit add: unknown option '--json' (see --help)" ] || { echo "$stderr" >&2; false; }
	refuses ctl verify --json
	refuses ctl key --json
	refuses ctl case close "$case_id" --outcome 办结 --json
}

@test "an option refused is named as typed, with what is wrong with it" {
	# A visit's option given to a letter, with a value after it.
	refuses ctl letter add --people 3 --category 土地 --summary 测试
	[ "$stderr" = "xinfangctl letter add: unknown option '--people' (see --help)" ] || { echo "$stderr" >&2; false; }
	refuses ctl letter add --category 土地 --summary 测试 --phone 138
	[[ "$stderr" == *"'--phone'"* ]] || { echo "$stderr" >&2; false; }
	# A value given to an option that takes none.
	refuses ctl "${VISIT[@]}" --escalated=yes
	[ "$stderr" = "xinfangctl visit add: --escalated takes no value" ] || { echo "$stderr" >&2; false; }
	refuses ctl log --json=1
	[ "$stderr" = "xinfangctl log: --json takes no value" ] || { echo "$stderr" >&2; false; }
	make_node other 370102001002
	key=$(ctl_on other init)
	refuses ctl enroll 370102001002 "$key" --upstream=1
	[ "$stderr" = "xinfangctl enroll: --upstream takes no value" ] || { echo "$stderr" >&2; false; }
	# An abbreviation that fits two options.
	refuses ctl visit add --p 3 --category 土地 --summary 测试
	[ "$stderr" = "xinfangctl visit add: option '--p' is ambiguous (see --help)" ] || { echo "$stderr" >&2; false; }
	# A short option stays named by its letter.
	refuses ctl log -x
	[ "$stderr" = "xinfangctl log: unknown option '-x' (see --help)" ] || { echo "$stderr" >&2; false; }
}

@test "an unknown verb is refused" {
	refuses ctl frob
	[[ "$stderr" == *frob* ]]
	refuses ctl visit frob
	refuses ctl case delete "$case_id"
	refuses ctl visit
	refuses ctl Visit add --people 3 --category 土地 --summary 测试
}

@test "no verb at all gets a one-line message, not the whole usage" {
	refuses ctl
	refuses "$XF_CTL"
}

@test "-c before the verb takes the forms a verb's options take, and needs its FILE" {
	conf=$BATS_TEST_TMPDIR/village.conf
	refuses "$XF_CTL" -c
	[ "$stderr" = "xinfangctl: option '-c' needs a value" ] || { echo "$stderr" >&2; false; }
	refuses "$XF_CTL" --config
	[ "$stderr" = "xinfangctl: option '--config' needs a value" ] || { echo "$stderr" >&2; false; }
	refuses "$XF_CTL" --config=
	for form in "--config=$conf" "-c$conf" "--config $conf"; do
		# shellcheck disable=SC2086 # "--config FILE" is two words
		run --separate-stderr "$XF_CTL" $form log
		[ "$status" -eq 0 ] || { echo "$form: $stderr" >&2; false; }
		[[ "$output" == *"$NODE:1 "* ]]
	done
}

@test "an unknown entity id, well-formed or not, is refused" {
	absent=C-$NODE-99
	refuses ctl case assign "$absent" --leader 王镇长
	[[ "$stderr" == *"$absent"* ]]
	refuses ctl case dispatch "$absent" --members 工作组
	refuses ctl case note "$absent" --text 走访
	refuses ctl case reply "$absent" --text 答复 --due 2099-01-01
	refuses ctl case close "$absent" --outcome 办结
	refuses ctl case reopen "$absent" --reason 不满意
	refuses ctl case show "$absent"
	refuses ctl case show "$absent" --json
	refuses ctl risk resolve R-$NODE-99 --outcome 化解
	refuses ctl risk show R-$NODE-99
	refuses ctl visit show V-$NODE-99
	refuses ctl letter show L-$NODE-99
	# Another node's id we never received.
	refuses ctl case note C-370102001002-4 --text 走访
	# Malformed, or the wrong kind.
	for id in nonsense C- C C-../x "C-$NODE-4 " c-$NODE-4 "$visit" "$risk" \
		"C-$(printf 'a%.0s' {1..70})"; do
		refuses ctl case note "$id" --text 走访
	done
	refuses ctl case show nonsense
	# An empty id, wherever it stands among the options.
	refuses ctl conflicts resolve "" --keep "$NODE:1"
	[ "$stderr" = "xinfangctl conflicts resolve: '' is not a record id" ] || { echo "$stderr" >&2; false; }
	refuses ctl conflicts resolve --keep "$NODE:1" ""
	[ "$stderr" = "xinfangctl conflicts resolve: '' is not a record id" ] || { echo "$stderr" >&2; false; }
	refuses ctl case resolve "" --keep "$NODE:1"
	[ "$stderr" = "xinfangctl case resolve: '' is not a case id" ] || { echo "$stderr" >&2; false; }
	refuses ctl case show ""
	[ "$stderr" = "xinfangctl case show: '' is not a case id" ] || { echo "$stderr" >&2; false; }
	refuses ctl case note "" --text 走访
	[[ "$stderr" == *"'' is not a case id" ]] || { echo "$stderr" >&2; false; }
	refuses ctl risk resolve --outcome 化解 ""
	[[ "$stderr" == *"'' is not a risk id" ]] || { echo "$stderr" >&2; false; }
	refuses ctl case show "$visit"
	refuses ctl risk resolve "$case_id" --outcome 化解
	refuses ctl visit show "$case_id"
	refuses ctl letter show "$visit"
}

@test "invalid UTF-8 or control characters in any text are refused" {
	for bad in $'\xff' $'a\xffb' $'\xc0\xaf' $'\xed\xa0\x80' $'\xe4\xb8' $'\xf4\x90\x80\x80' $'\xe4\xb8\xad\x80'; do
		refuses ctl visit add --people 3 --category 土地 --summary "$bad"
		[ "$stderr" = "xinfangctl visit add: --summary is not valid UTF-8 text" ] || { echo "$stderr" >&2; false; }
	done
	# Valid UTF-8, but holding a control character: said as such.
	for bad in $'a\x01b' $'a\x1b[2Jb' $'a\x7fb' $'cr\rx' $'x\x7f' $'a\xc2\x9bb'; do
		refuses ctl visit add --people 3 --category 土地 --summary "$bad"
		[ "$stderr" = "xinfangctl visit add: --summary holds a control character (only newline and tab are allowed)" ] ||
			{ echo "$stderr" >&2; false; }
	done
	refuses ctl case note "$case_id" --text $'a\x01b'
	[ "$stderr" = "xinfangctl case note: --text holds a control character (only newline and tab are allowed)" ] ||
		{ echo "$stderr" >&2; false; }
	refuses ctl risk report --level major --summary $'\xff'
	[ "$stderr" = "xinfangctl risk report: --summary is not valid UTF-8 text" ] || { echo "$stderr" >&2; false; }
	bad=$(printf '\xff')
	refuses ctl visit add --people 3 --category "$bad" --summary 测试
	refuses ctl "${VISIT[@]}" --name "$bad"
	refuses ctl letter add --category 土地 --summary "$bad"
	refuses ctl case open --title "$bad" --from "$visit"
	refuses ctl case assign "$case_id" --leader "$bad"
	refuses ctl case dispatch "$case_id" --members "$bad"
	refuses ctl case note "$case_id" --text "$bad"
	refuses ctl case reply "$case_id" --text "$bad" --due 2099-01-01
	refuses ctl case close "$case_id" --outcome "$bad"
	refuses ctl risk report --level major --summary "$bad"
	refuses ctl risk resolve "$risk" --outcome "$bad"
	# Newlines and tabs are text, not control characters.
	run ctl case note "$case_id" --text $'第一行\n第二行\t完'
	[ "$status" -eq 0 ]
}

@test "a field over its limit is refused; at the limit it is taken" {
	long=$(printf 'a%.0s' {1..4001})
	refuses ctl visit add --people 3 --category 土地 --summary "$long"
	[[ "$stderr" == *--summary*4000* ]]
	# 1334 characters of three bytes each: 4002 bytes.
	refuses ctl visit add --people 3 --category 土地 --summary "$(printf '测%.0s' {1..1334})"
	refuses ctl letter add --category 土地 --summary "$long"
	refuses ctl case open --title "$long" --from "$visit"
	refuses ctl case note "$case_id" --text "$long"
	refuses ctl case reply "$case_id" --text "$long" --due 2099-01-01
	refuses ctl case close "$case_id" --outcome "$long"
	refuses ctl risk report --level major --summary "$long"
	refuses ctl visit add --people 3 --category "$(printf 'a%.0s' {1..201})" --summary 测试
	refuses ctl case assign "$case_id" --leader "$(printf 'a%.0s' {1..201})"
	refuses ctl "${VISIT[@]}" --name "$(printf 'a%.0s' {1..65})"
	refuses ctl "${VISIT[@]}" --phone "$(printf '1%.0s' {1..33})"
	refuses ctl "${VISIT[@]}" --phone 138-abc
	names=()
	for i in {1..21}; do names+=(--name "张$i"); done
	refuses ctl "${VISIT[@]}" "${names[@]}"
	# At the limits, all is well.
	run ctl visit add --people 3 --category "$(printf 'a%.0s' {1..200})" --summary "${long:1}" \
		--name "$(printf 'a%.0s' {1..64})" --phone "$(printf '1%.0s' {1..32})" "${names[@]:4}"
	[ "$status" -eq 0 ]
	last_event
	json_assert 'assert len(j["body"]["summary"]) == 4000 and len(j["body"]["names"]) == 20, j'
}

@test "a people count that is not 1 to 10000 is refused" {
	for n in 0 -3 10001 abc "" 1.5 3x 99999999999999999999 -0; do
		refuses ctl visit add --people "$n" --category 土地 --summary 测试
		[[ "$stderr" == *--people* ]] || { echo "people '$n': $stderr" >&2; false; }
	done
	for n in 1 10000; do
		run ctl visit add --people $n --category 土地 --summary 测试
		[ "$status" -eq 0 ]
		last_event
		json_assert 'assert j["body"]["people"] == int(sys.argv[1]), j' $n
	done
}

# refuses_unsafe "MODE PATH" "MODE PATH" CMD...: with PATH made unsafe by
# the first chmod (or chown, for a numeric user id over 999), CMD fails as
# fails_one_line demands, and the log is unchanged once the second puts it
# back.
refuses_unsafe() {
	local unsafe=$1 restore=$2 before
	shift 2
	log_digest
	before=$digest
	change_mode $unsafe
	run --separate-stderr "$@"
	change_mode $restore
	fails_one_line
	log_digest
	[ "$digest" = "$before" ]
}

# change_mode MODE PATH: chmod, or chown to a user id (0, or 1000 and up).
change_mode() {
	if [ "$1" = 0 ] || [ "$1" -ge 1000 ]; then
		chown "$1" "$2"
	else
		chmod "$1" "$2"
	fi
}

@test "a data dir open to others is refused, by every verb that opens it" {
	dir=$(data_dir)
	for mode in 755 750 705 770 777; do
		refuses_unsafe "$mode $dir" "700 $dir" ctl "${VISIT[@]}"
		[[ "$stderr" == *"$dir"* ]] || { echo "$stderr" >&2; false; }
	done
	refuses_unsafe "755 $dir" "700 $dir" ctl case note "$case_id" --text 走访
	refuses_unsafe "755 $dir" "700 $dir" ctl risk resolve "$risk" --outcome 化解
	refuses_unsafe "755 $dir" "700 $dir" ctl log
	refuses_unsafe "755 $dir" "700 $dir" ctl log --json
	refuses_unsafe "755 $dir" "700 $dir" ctl verify
	refuses_unsafe "755 $dir" "700 $dir" ctl case show "$case_id"
	refuses_unsafe "755 $dir" "700 $dir" ctl case list
}

@test "a data dir or key file owned by another user is refused" {
	[ "$(id -u)" -eq 0 ] || skip "needs root to give files away"
	dir=$(data_dir)
	refuses_unsafe "65534 $dir" "0 $dir" ctl "${VISIT[@]}"
	refuses_unsafe "65534 $dir/node.key" "0 $dir/node.key" ctl "${VISIT[@]}"
}

@test "a key file readable by others is refused" {
	key=$(data_dir)/node.key
	for mode in 644 640 604 660 666; do
		refuses_unsafe "$mode $key" "600 $key" ctl "${VISIT[@]}"
		[[ "$stderr" == *node.key* ]] || { echo "$stderr" >&2; false; }
	done
	refuses_unsafe "644 $key" "600 $key" ctl case note "$case_id" --text 走访
	refuses_unsafe "644 $key" "600 $key" ctl key
}

# bad_conf LINE...: $BATS_TEST_TMPDIR/bad.conf, the village's config with
# LINE... appended.
bad_conf() {
	cp "$BATS_TEST_TMPDIR/village.conf" "$BATS_TEST_TMPDIR/bad.conf"
	printf '%s\n' "$@" >>"$BATS_TEST_TMPDIR/bad.conf"
}

@test "a config with an unknown key names file and line" {
	# village.conf has 5 lines: [node], id, role, data_dir, author.
	bad_conf "colour = red"
	refuses ctl_on bad "${VISIT[@]}"
	[[ "$stderr" == *bad.conf:6:* && "$stderr" == *colour* ]] || { echo "$stderr" >&2; false; }
	bad_conf "[upstream]" "url = http://127.0.0.1:8470" "timeout = 5"
	refuses ctl_on bad log
	[[ "$stderr" == *bad.conf:8:* && "$stderr" == *timeout* ]] || { echo "$stderr" >&2; false; }
	# A key of another section.
	bad_conf "listen = 127.0.0.1:8470"
	refuses ctl_on bad "${VISIT[@]}"
	[[ "$stderr" == *bad.conf:6:* ]] || { echo "$stderr" >&2; false; }
}

@test "a config with an unknown section is refused, naming file and line" {
	bad_conf "[nodes]" "id = 370102001001"
	refuses ctl_on bad "${VISIT[@]}"
	[[ "$stderr" == *bad.conf:6:* || "$stderr" == *bad.conf:7:* ]] || { echo "$stderr" >&2; false; }
	[[ "$stderr" == *nodes* ]]
}

@test "a config with an unknown, empty section is refused, naming file and line" {
	bad_conf "[upstrem]"
	refuses ctl_on bad "${VISIT[@]}"
	[[ "$stderr" == *bad.conf:6:* && "$stderr" == *upstrem* ]] || { echo "$stderr" >&2; false; }
}

@test "a config with a bad value, a missing key or a syntax error is refused" {
	sed 's/^role = village$/role = mayor/' "$BATS_TEST_TMPDIR/village.conf" >"$BATS_TEST_TMPDIR/bad.conf"
	refuses ctl_on bad "${VISIT[@]}"
	[[ "$stderr" == *bad.conf:3:* && "$stderr" == *role* ]] || { echo "$stderr" >&2; false; }
	sed 's/^id = .*/id = 3701 02/' "$BATS_TEST_TMPDIR/village.conf" >"$BATS_TEST_TMPDIR/bad.conf"
	refuses ctl_on bad "${VISIT[@]}"
	[[ "$stderr" == *bad.conf:2:* ]] || { echo "$stderr" >&2; false; }
	grep -v '^data_dir' "$BATS_TEST_TMPDIR/village.conf" >"$BATS_TEST_TMPDIR/bad.conf"
	refuses ctl_on bad "${VISIT[@]}"
	[[ "$stderr" == *bad.conf* && "$stderr" == *data_dir* ]] || { echo "$stderr" >&2; false; }
	bad_conf "this is not ini"
	refuses ctl_on bad "${VISIT[@]}"
	[[ "$stderr" == *bad.conf:6:* ]] || { echo "$stderr" >&2; false; }
	bad_conf "[upstream]" "url = ftp://example.org"
	refuses ctl_on bad "${VISIT[@]}"
	[[ "$stderr" == *bad.conf:7:* ]] || { echo "$stderr" >&2; false; }
	refuses ctl_on absent "${VISIT[@]}"
	[[ "$stderr" == *absent.conf* ]]
	# The log belongs to another node id.
	sed 's/^id = .*/id = 370102001009/' "$BATS_TEST_TMPDIR/village.conf" >"$BATS_TEST_TMPDIR/bad.conf"
	refuses ctl_on bad "${VISIT[@]}"
}

@test "a directory given where a file is expected is refused as one" {
	dir=$BATS_TEST_TMPDIR/adir
	mkdir "$dir"
	refuses "$XF_CTL" -c "$dir" log
	[ "$stderr" = "xinfangctl log: $dir: Is a directory" ] || { echo "$stderr" >&2; false; }
	refuses "$XF_CTL" -c "$dir" "${VISIT[@]}"
	[ "$stderr" = "xinfangctl visit add: $dir: Is a directory" ] || { echo "$stderr" >&2; false; }
	make_node town 370102 township
	ctl_on town init >/dev/null
	refuses ctl_on town bundle import "$dir"
	[ "$stderr" = "xinfangctl bundle import: $dir: Is a directory" ] || { echo "$stderr" >&2; false; }
}

@test "a village takes no bundle going up, and makes none --for anyone; a township makes one only for its own villages" {
	make_node town 370102 township
	ctl_on town init >/dev/null
	ctl_on town "${VISIT[@]}" >/dev/null
	ctl_on town bundle export "$BATS_TEST_TMPDIR/town.xfb" >/dev/null
	refuses ctl bundle import "$BATS_TEST_TMPDIR/town.xfb"
	[ "$stderr" = "xinfangctl bundle import: $BATS_TEST_TMPDIR/town.xfb carries a village's records up to its township; a village imports only the bundles its township makes for it (bundle export --for); nothing imported" ]
	refuses ctl bundle export --for 370102001002 "$BATS_TEST_TMPDIR/v.xfb"
	[ "$stderr" = "xinfangctl bundle export: a village has no children to make a bundle --for" ]
	refuses ctl_on town bundle export --for 370102009 "$BATS_TEST_TMPDIR/t.xfb"
	[ "$stderr" = "xinfangctl bundle export: --for 370102009: no such village is enrolled here (xinfangctl status lists them)" ]
	refuses ctl_on town bundle export --for ../370102001002 "$BATS_TEST_TMPDIR/t.xfb"
	[ "$stderr" = "xinfangctl bundle export: --for '../370102001002' is not a node id (1 to 32 letters, digits or '-')" ]
	[ ! -e "$BATS_TEST_TMPDIR/v.xfb" ] && [ ! -e "$BATS_TEST_TMPDIR/t.xfb" ]
}

@test "a config whose role is not the data dir's is refused" {
	sed 's/^role = village$/role = township/' "$BATS_TEST_TMPDIR/village.conf" >"$BATS_TEST_TMPDIR/bad.conf"
	make_node other 370102001002
	key=$(ctl_on other init)
	# A township's act on a village's log: a child enrolled.
	refuses ctl_on bad enroll 370102001002 "$key"
	[[ "$stderr" == *"$(data_dir)"*village*"role = township"* ]] || { echo "$stderr" >&2; false; }
	refuses ctl_on bad "${VISIT[@]}"
	refuses ctl_on bad log
	# And a village's config on a township's log.
	make_node town 370102 township
	ctl_on town init >/dev/null
	sed 's/^role = township$/role = village/' "$BATS_TEST_TMPDIR/town.conf" >"$BATS_TEST_TMPDIR/bad.conf"
	run --separate-stderr ctl_on bad "${VISIT[@]}"
	fails_one_line
	[[ "$stderr" == *township*"role = village"* ]] || { echo "$stderr" >&2; false; }
	run ctl_on town log --json
	json_assert 'assert len(j) == 1, j'
}

@test "an act the entity's state forbids is refused" {
	# Reopen a case that is open, in each open state.
	refuses ctl case reopen "$case_id" --reason 不满意
	[[ "$stderr" == *"$case_id"*opened* ]] || { echo "$stderr" >&2; false; }
	ctl case assign "$case_id" --leader 王镇长
	refuses ctl case reopen "$case_id" --reason 不满意
	ctl case reply "$case_id" --text 答复 --due 2099-01-01
	refuses ctl case reopen "$case_id" --reason 不满意
	ctl case close "$case_id" --outcome 办结
	# Anything but reopen on a closed case.
	refuses ctl case close "$case_id" --outcome 再次办结
	[[ "$stderr" == *"$case_id"*closed* ]] || { echo "$stderr" >&2; false; }
	refuses ctl case note "$case_id" --text 走访
	refuses ctl case assign "$case_id" --leader 李书记
	refuses ctl case dispatch "$case_id" --members 工作组
	refuses ctl case reply "$case_id" --text 答复 --due 2099-01-01
	ctl case reopen "$case_id" --reason 不满意
	refuses ctl case reopen "$case_id" --reason 还不满意
	# A resolved risk.
	ctl risk resolve "$risk" --outcome 化解
	refuses ctl risk resolve "$risk" --outcome 再次化解
	[[ "$stderr" == *"$risk"*resolved* ]] || { echo "$stderr" >&2; false; }
}

@test "case open --from what is not a visit or letter we hold is refused" {
	refuses ctl case open --title 测试 --from V-$NODE-99
	[[ "$stderr" == *V-$NODE-99* ]]
	refuses ctl case open --title 测试 --from L-$NODE-99
	refuses ctl case open --title 测试 --from "$case_id"
	refuses ctl case open --title 测试 --from "$risk"
	refuses ctl case open --title 测试 --from nonsense
	refuses ctl case open --title 测试 --from ""
}

@test "case open --from a visit we hold and one we do not is refused" {
	refuses ctl case open --title 测试 --from "$visit" --from V-$NODE-99
	[[ "$stderr" == *V-$NODE-99* ]]
}

@test "case reply with a --due before the reply, or not a date, is refused" {
	today=$(date +%F)
	refuses ctl case reply "$case_id" --text 答复 --date "$today" --due "$(date -d yesterday +%F)"
	[[ "$stderr" == *--due* ]]
	refuses ctl case reply "$case_id" --text 答复 --due "$(date -d yesterday +%F)"
	refuses ctl case reply "$case_id" --text 答复 --due 2026-02-30
	refuses ctl case reply "$case_id" --text 答复 --due soon
	# The same day is a deadline.
	run ctl case reply "$case_id" --text 答复 --date "$today" --due "$today"
	[ "$status" -eq 0 ]
}

@test "an act dated before its record began, or a case before what it comes from, is refused" {
	refuses ctl case note "$case_id" --text 走访 --date 2001-01-01
	[ "$stderr" = "xinfangctl case note: --date 2001-01-01 is before $case_id, dated $(date +%F)" ]
	refuses ctl case close "$case_id" --outcome 办结 --date 2001-01-01
	refuses ctl risk resolve "$risk" --outcome 化解 --date 2001-01-01
	refuses ctl case open --title 测试 --from "$visit" --date 2001-01-01
	[[ "$stderr" == *"is before $visit, dated"* ]]
	# The day a record began is not before it.
	run ctl case note "$case_id" --text 走访 --date "$(date +%F)"
	[ "$status" -eq 0 ]
}

@test "a reopening dated before the closing, or an extension after the deadline, is refused" {
	v=$(ctl visit add --date 2026-01-01 --people 1 --category 土地 --summary 旧案)
	c=$(ctl case open --title 旧案 --from "$v" --date 2026-01-02)
	ctl case assign "$c" --leader 王镇长 --date 2026-01-03
	ctl case close "$c" --outcome 办结 --date 2026-01-20
	refuses ctl case reopen "$c" --reason 不满意 --date 2026-01-10
	[ "$stderr" = "xinfangctl case reopen: --date 2026-01-10 is before $c was closed, on 2026-01-20" ]
	ctl case reopen "$c" --reason 不满意 --date 2026-01-20
	# 60 days from the reopening: 2026-03-21 is the last.
	refuses ctl case extend "$c" --reason 情况复杂 --date 2026-03-22
	[ "$stderr" = "xinfangctl case extend: --date 2026-03-22 is after $c's deadline of 2026-03-21: an extension is granted before it" ]
	run ctl case extend "$c" --reason 情况复杂 --date 2026-03-21
	[ "$status" -eq 0 ]
}

@test "a step dated before the step the case stands on is refused: closing before reopening, extending before accepting" {
	v=$(ctl visit add --date 2026-03-01 --people 1 --category 土地 --summary 旧案)
	c=$(ctl case open --title 旧案 --from "$v" --date 2026-03-02)
	ctl case assign "$c" --leader 王镇长 --date 2026-03-10
	# Closed before it was accepted.
	refuses ctl case close "$c" --outcome 办结 --date 2026-03-05
	[ "$stderr" = "xinfangctl case close: --date 2026-03-05 is before $c was assigned, on 2026-03-10" ]
	# Extended before it was accepted.
	refuses ctl case extend "$c" --reason 情况复杂 --date 2026-03-09
	[ "$stderr" = "xinfangctl case extend: --date 2026-03-09 is before $c was assigned, on 2026-03-10" ]
	ctl case close "$c" --outcome 办结 --date 2026-03-20
	ctl case reopen "$c" --reason 不满意 --date 2026-04-05
	# The closing that ends the reopening comes after it.
	refuses ctl case close "$c" --outcome 再次办结 --date 2026-03-25
	[ "$stderr" = "xinfangctl case close: --date 2026-03-25 is before $c was reopened, on 2026-04-05" ]
	# Notes are not steps: one may be dated any day since the case began.
	run ctl case note "$c" --text 补记 --date 2026-03-03
	[ "$status" -eq 0 ]
	run ctl case close "$c" --outcome 再次办结 --date 2026-04-05
	[ "$status" -eq 0 ]
}

@test "a name holding a separator, or a blank value, is refused: the export would not import back" {
	for n in "张三,李四" "张三、李四" "张三，李四" "张三;李四" "张三；李四"; do
		refuses ctl "${VISIT[@]}" --name "$n"
		[[ "$stderr" == *"give --name once for each person"* ]] || { echo "$stderr" >&2; false; }
	done
	refuses ctl "${VISIT[@]}" --name " "
	refuses ctl visit add --people 3 --category "  " --summary 测试
	[[ "$stderr" == *"category must not be empty"* ]]
	refuses ctl visit add --people 3 --category 土地 --summary "　"
	refuses ctl "${VISIT[@]}" --phone "   "
	[[ "$stderr" == *phone* ]]
	run ctl "${VISIT[@]}" --name 张三 --name 李四 --phone "0531 1234567"
	[ "$status" -eq 0 ]
}

@test "-c given twice is refused, before the verb or after it" {
	for args in "-c $BATS_TEST_TMPDIR/village.conf -c $BATS_TEST_TMPDIR/village.conf log" \
		"-c $BATS_TEST_TMPDIR/village.conf log -c $BATS_TEST_TMPDIR/village.conf" \
		"--config=$BATS_TEST_TMPDIR/village.conf log --config $BATS_TEST_TMPDIR/village.conf"; do
		# shellcheck disable=SC2086
		run --separate-stderr "$XF_CTL" $args
		[ "$status" -eq 2 ] || { echo "$args: exit $status" >&2; false; }
		[[ "$stderr" == *"--config is given twice" ]] || { echo "$args: $stderr" >&2; false; }
	done
	run --separate-stderr "$XF_BUILD/xinfangd" -c "$BATS_TEST_TMPDIR/village.conf" -c "$BATS_TEST_TMPDIR/village.conf" --check-config
	[ "$status" -ne 0 ]
	[ "$stderr" = "<3>--config is given twice (usage: xinfangd [-c FILE] [--check-config])" ]
}

@test "blank text is refused for every record and step, as for visits" {
	visit=$(ctl "${VISIT[@]}")
	refuses ctl risk report --level general --summary "   "
	[ "$stderr" = "xinfangctl risk report: --summary must not be empty" ]
	refuses ctl case open --title "　" --from "$visit"
	[ "$stderr" = "xinfangctl case open: --title must not be empty" ]
	case_id=$(ctl case open --title 承包案 --from "$visit")
	refuses ctl case assign "$case_id" --leader "  "
	[ "$stderr" = "xinfangctl case assign: --leader must not be empty" ]
	refuses ctl case note "$case_id" --text " "
	[ "$stderr" = "xinfangctl case note: --text must not be empty" ]
	run --separate-stderr ctl case show "$case_id" --json
	json_assert 'assert j["status"] == "opened" and j["events"] == 1, j'
}

@test "an option given twice is refused, unless its usage shows it repeated" {
	refuses ctl visit add --people 6 --people 60 --category 土地 --summary 测试
	[ "$stderr" = "xinfangctl visit add: --people is given twice" ]
	refuses ctl "${VISIT[@]}" --date 2026-01-01 --date 2026-01-02
	[ "$stderr" = "xinfangctl visit add: --date is given twice" ]
	refuses ctl export --type visits --type cases --format csv
	[ "$stderr" = "xinfangctl export: --type is given twice" ]
	run ctl "${VISIT[@]}" --name 张三 --name 李四
	[ "$status" -eq 0 ]
}

@test "case open --from one record twice is refused" {
	refuses ctl case open --title 测试 --from "$visit" --from "$visit"
	[ "$stderr" = "xinfangctl case open: --from $visit is given twice" ]
}

@test "enroll refuses a bad key, a bad node id, a node already enrolled" {
	make_node other 370102001002
	key=$(ctl_on other init)
	for k in abc "${key}0" "${key:1}" "${key:1}g" "" "${key:0:32} ${key:33}"; do
		refuses ctl enroll 370102001002 "$k"
		[[ "$stderr" == *key* ]] || { echo "$stderr" >&2; false; }
	done
	for id in "bad id!" "" "$(printf 'a%.0s' {1..33})" 3701/02 "村01" $'a\nb'; do
		refuses ctl enroll "$id" "$key"
	done
	refuses ctl enroll 370102001002 "$key" --role township
	refuses ctl enroll 370102001002 "$key" --upstream --child
	run ctl enroll 370102001002 "$key"
	[ "$status" -eq 0 ]
	refuses ctl enroll 370102001002 "$key"
	[[ "$stderr" == *enrolled* ]]
	# Not even with another key or relation, and not ourselves.
	refuses ctl enroll 370102001002 "$(ctl_on other key)" --child
	refuses ctl enroll 370102001002 "$(ctl key)"
	refuses ctl enroll $NODE "$key"
	# This node's own key, an all-zero key, a key that is already another
	# node's, a second upstream.
	refuses ctl enroll 370102001003 "$(ctl key)"
	[[ "$stderr" == *"that is this node's own key" ]]
	refuses ctl enroll 370102001003 "$(printf '0%.0s' {1..64})"
	[[ "$stderr" == *"all-zero"* ]]
	refuses ctl enroll 370102001003 "$key"
	[[ "$stderr" == *"that key is enrolled already, for 370102001002: one key speaks for one node" ]]
	make_node third 370102001003
	refuses ctl enroll 370102001003 "$(ctl_on third init)"
	[[ "$stderr" == *"this node's upstream is 370102001002 already" ]]
}

@test "init refuses a data dir it cannot make or trust, and leaves nothing behind" {
	make_node other 370102001002
	sed -i "s|^data_dir = .*|data_dir = $BATS_TEST_TMPDIR/no/such/dir|" "$BATS_TEST_TMPDIR/other.conf"
	refuses ctl_on other init
	[ ! -e "$BATS_TEST_TMPDIR/no" ]
	make_node other 370102001002
	mkdir -m 755 "$BATS_TEST_TMPDIR/other"
	refuses ctl_on other init
	[ -z "$(ls -A "$BATS_TEST_TMPDIR/other")" ]
	chmod 700 "$BATS_TEST_TMPDIR/other"
	touch "$BATS_TEST_TMPDIR/other/node.key"
	chmod 600 "$BATS_TEST_TMPDIR/other/node.key"
	refuses ctl_on other init
	[ "$(ls -A "$BATS_TEST_TMPDIR/other")" = node.key ]
	[ ! -s "$BATS_TEST_TMPDIR/other/node.key" ]
}

@test "init refuses a data dir already initialised, and keeps its key" {
	key=$(ctl key)
	refuses ctl init
	[[ "$stderr" == *"$(data_dir)"* ]]
	[ "$(ctl key)" = "$key" ]
	run ctl verify
	[ "$status" -eq 0 ]
}

@test "a message quoting bad input stays on one line" {
	refuses ctl "${VISIT[@]}" --date $'2026-01-01\nx'
	refuses ctl case note $'C-1\nx' --text 走访
	refuses ctl "${VISIT[@]}" $'extra\nline'
	refuses ctl $'fr\nob'
	refuses ctl case reply "$case_id" --text 答复 --due $'2099-01-01\n'
}
