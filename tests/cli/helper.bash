# Shared by the CLI tests: a fresh node in its own temporary directory.
# XF_BUILD (set by tests/run) names the build tree whose binaries we test.

: "${XF_BUILD:?run through tests/run, or set XF_BUILD=build/asan}"
XF_CTL=$XF_BUILD/xinfangctl

# `run --separate-stderr` keeps stdout and stderr apart.
bats_require_minimum_version 1.5.0

NODE=370102001001

# make_node NAME ID ROLE: write $BATS_TEST_TMPDIR/NAME.conf for a node.
make_node() {
	local name=$1 id=$2 role=${3:-village}
	cat >"$BATS_TEST_TMPDIR/$name.conf" <<CONF
[node]
id = $id
role = $role
data_dir = $BATS_TEST_TMPDIR/$name
author = 测试员
CONF
}

# ctl ARGS...: xinfangctl on the default node "village".
ctl() {
	"$XF_CTL" -c "$BATS_TEST_TMPDIR/village.conf" "$@"
}

# ctl_on NAME ARGS...: xinfangctl on node NAME.
ctl_on() {
	local name=$1
	shift
	"$XF_CTL" -c "$BATS_TEST_TMPDIR/$name.conf" "$@"
}

# A node initialised and ready to record.
setup_village() {
	make_node village $NODE village
	ctl init >/dev/null
}

# in_file_tmpdir CMD...: CMD with the nodes kept in $BATS_FILE_TMPDIR, so
# that setup_file can prepare a village once for every test of a file.
in_file_tmpdir() {
	local BATS_TEST_TMPDIR=$BATS_FILE_TMPDIR
	"$@"
}

# clone_village: this test's own copy of the village setup_file prepared.
clone_village() {
	make_node village $NODE village
	cp -a "$BATS_FILE_TMPDIR/village" "$BATS_TEST_TMPDIR/village"
}

# The village's data dir.
data_dir() {
	echo "$BATS_TEST_TMPDIR/village"
}

# log_digest: set $digest to a digest of the whole village log, as
# `xinfangctl log --json` prints it. Fails (rather than digesting an empty
# output) when the log cannot be read. The log is a function of data.mdb,
# so while that file's bytes are unchanged the last digest is reused: this
# spares an xinfangctl run (slow under ASan) per check.
log_digest() {
	local sum out
	sum=$(sha256sum <"$(data_dir)/data.mdb") || return 1
	if [ "$sum" != "${_log_mdb_sum-}" ]; then
		out=$(ctl log --json) || {
			echo "log_digest: 'xinfangctl log --json' failed" >&2
			return 1
		}
		_log_digest=$(printf '%s' "$out" | sha256sum)
		_log_mdb_sum=$sum
	fi
	digest=$_log_digest
}

# fails_one_line: the last `run --separate-stderr` failed, printed nothing
# on stdout and exactly one non-empty line on stderr.
# shellcheck disable=SC2154 # status, output and stderr are set by `run`
fails_one_line() {
	if [ "$status" -eq 0 ]; then
		echo "expected a failure, got exit 0; stdout: $output" >&2
		return 1
	fi
	if [ -n "$output" ]; then
		echo "expected nothing on stdout, got: $output" >&2
		return 1
	fi
	if [ "${#stderr_lines[@]}" -ne 1 ] || [ -z "${stderr_lines[0]}" ] ||
		[ "$(printf '%s\n' "$stderr" | wc -l)" -ne 1 ]; then
		echo "expected one line on stderr (exit $status), got:" >&2
		printf '%s\n' "$stderr" >&2
		return 1
	fi
}

# refuses CMD ARGS...: CMD (ctl, ctl_on NAME, ...) fails as fails_one_line
# demands and the village log is byte for byte what it was. The message is
# left in $stderr for the caller to check further.
refuses() {
	local before
	log_digest
	before=$digest
	run --separate-stderr "$@"
	fails_one_line
	log_digest
	if [ "$before" != "$digest" ]; then
		echo "the log changed although '$*' failed" >&2
		return 1
	fi
}

# json_assert SCRIPT [ARGS...]: run the Python SCRIPT with `j` holding the
# JSON in $output and sys.argv[1:] = ARGS; a failed assert fails the test.
json_assert() {
	local script=$1
	shift
	printf '%s' "$output" | python3 -c "import json, sys
j = json.load(sys.stdin)
$script" "$@"
}

# last_event: the JSON of the last event in the village log, in $output.
last_event() {
	run ctl log --json
	[ "$status" -eq 0 ]
	output=$(printf '%s' "$output" | python3 -c 'import json, sys; print(json.dumps(json.load(sys.stdin)[-1]))')
}
