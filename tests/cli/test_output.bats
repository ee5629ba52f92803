#!/usr/bin/env bats
# Output that cannot be written is a failure: exit 1 and one line saying
# so, whatever the verb, not a silent exit 0 that a script would trust.

load helper

fixtures() {
	setup_village
	visit=$(ctl visit add --people 3 --category 土地 --summary 征地补偿)
	case_id=$(ctl case open --title 征地补偿纠纷 --from "$visit")
}

setup_file() {
	in_file_tmpdir fixtures
	export visit case_id
}

setup() {
	clone_village
}

# to_full CMD...: CMD with its stdout on /dev/full, where every write
# fails with ENOSPC.
to_full() {
	"$@" >/dev/full
}

# fails_on_full VERB ARGS...: `xinfangctl VERB ARGS...` with stdout on
# /dev/full fails with exit 1, one line naming the verb and the reason,
# and leaves the log as it was.
fails_on_full() {
	local verb=$1
	refuses to_full ctl "$@"
	[ "$status" -eq 1 ] || { echo "$*: exit $status" >&2; false; }
	[[ "$stderr" == "xinfangctl $verb"*": cannot write output: No space left on device" ]] ||
		{ echo "$*: $stderr" >&2; false; }
}

@test "a verb whose output cannot be written fails, saying so in one line" {
	fails_on_full log
	fails_on_full log --json
	fails_on_full visit list
	fails_on_full visit list --json
	fails_on_full case show "$case_id"
	fails_on_full case show "$case_id" --json
	fails_on_full verify
	fails_on_full status
	fails_on_full key
	fails_on_full receipts --json
	fails_on_full conflicts --json
	fails_on_full report --from 2026-01-01 --to 2026-12-31
	fails_on_full report --from 2026-01-01 --to 2026-12-31 --csv
	fails_on_full report --from 2026-01-01 --to 2026-12-31 --json
	fails_on_full report --overdue
	fails_on_full report --weekly
	fails_on_full export --type visits --format csv
	fails_on_full export --type cases --format json
	fails_on_full log --help
}

@test "the usage that --help prints is checked too" {
	run --separate-stderr to_full "$XF_CTL" --help
	fails_one_line
	[ "$stderr" = "xinfangctl: cannot write output: No space left on device" ]
}

@test "visit add whose id cannot be printed fails, naming the visit it recorded" {
	run --separate-stderr to_full ctl visit add --people 2 --category 土地 --summary 测试
	fails_one_line
	[ "$status" -eq 1 ]
	[[ "$stderr" =~ ^"xinfangctl visit add: recorded "(V-$NODE-[0-9]+)", but cannot write output: No space left on device"$ ]]
	id=${BASH_REMATCH[1]}
	run ctl visit show "$id"
	[ "$status" -eq 0 ]
	[[ "$output" == *测试* ]]
}

@test "output that can be written still exits 0" {
	run --separate-stderr ctl log
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	run --separate-stderr ctl report --from 2026-01-01 --to 2026-12-31 --csv
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
}

# closed CMD...: CMD with stdout and stderr closed, as a careless cron job
# or unit file may start it; no_stdout CMD...: with stdout closed.
closed() {
	"$@" >&- 2>&-
}

no_stdout() {
	"$@" >&-
}

@test "with stdout and stderr closed, nothing is written into the log" {
	mdb=$(data_dir)/data.mdb
	sum=$(sha256sum <"$mdb")
	# Both fail: a closed stdout cannot be written, and the entity is
	# not there; neither message may land in a file the store opened.
	run closed ctl case show C-$NODE-99
	[ "$status" -eq 1 ]
	run closed ctl log
	[ "$status" -eq 1 ]
	run closed ctl visit list --json
	[ "$status" -eq 1 ]
	[ "$(sha256sum <"$mdb")" = "$sum" ]
	run ctl verify
	[ "$status" -eq 0 ]
	# With only stdout closed, the refusal is the usual one line.
	run --separate-stderr no_stdout ctl log
	[ "$status" -eq 1 ]
	[ "$stderr" = "xinfangctl log: cannot write output: Bad file descriptor" ]
}
