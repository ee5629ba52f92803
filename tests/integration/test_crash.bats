#!/usr/bin/env bats
# Crash rounds: while two villages record and sync, kill -9 the recording
# CLI, a village daemon or the township at random moments, restart them,
# and let them converge. After every round every recorded event is on the
# township exactly once, verify passes everywhere, and the township shows
# each village's records exactly as the village does.
#
# `make check` runs XF_CRASH_ROUNDS (default 3); `make torture ROUNDS=N`
# runs N. XF_CRASH_SEED=N replays a run (the seed is printed).

load helper

bats_require_minimum_version 1.5.0

TOWN=370102001
VA=370102001001
VB=370102001002

teardown() {
	stop_all_within 10
	stop_all
}

# chance N: true one time in N.
chance() {
	[ $((RANDOM % $1)) -eq 0 ]
}

# record_burst NAME N: N acts on NAME through xinfangctl, each killed -9
# at a random moment one time in four. The ids of records the CLI reported
# made go to NAME.ledger; kills are counted in NAME.cli-kills.
record_burst() {
	local name=$1 n=$2 i pid out visit=
	out=$BATS_TEST_TMPDIR/$name.out
	for i in $(seq "$n"); do
		if [ -n "$visit" ] && chance 3; then
			on "$name" case open --title "第 $i 件" --from "$visit" >"$out" 2>/dev/null &
		else
			on "$name" visit add --people $((RANDOM % 9 + 1)) --category 土地纠纷 \
				--summary "$name 第 $i 次来访" >"$out" 2>/dev/null &
		fi
		pid=$!
		if chance 4; then
			sleep "0.$((RANDOM % 3))$((RANDOM % 10))"
			kill -KILL "$pid" 2>/dev/null && echo kill >>"$BATS_TEST_TMPDIR/$name.cli-kills"
		fi
		if wait "$pid" && [ -s "$out" ]; then
			cat "$out" >>"$BATS_TEST_TMPDIR/$name.ledger"
			[[ "$(cat "$out")" == V-* ]] && visit=$(cat "$out")
		fi
	done
	return 0
}

# crash NAME: kill -9 NAME's daemon now, restart it a moment later.
crash() {
	kill9 "$1" || :
	echo "$1" >>"$BATS_TEST_TMPDIR/daemon-kills"
	sleep "0.$((RANDOM % 8))"
	start "$1"
}

# converged NAME: the township holds every event of village NAME and
# nothing else of its, each once, every id NAME's CLI reported made is
# there, and both show NAME's records (visits and cases) identically.
converged() {
	local name=$1 id=$2 kind
	scoped town "$name" 2>/dev/null || return 1
	for kind in visits cases; do
		on town export --type $kind --format json --village "$id" >"$BATS_TEST_TMPDIR/town.$kind.json" &&
			on "$name" export --type $kind --format json --village "$id" >"$BATS_TEST_TMPDIR/$name.$kind.json" &&
			cmp -s "$BATS_TEST_TMPDIR/town.$kind.json" "$BATS_TEST_TMPDIR/$name.$kind.json" || return 1
	done
	python3 - "$BATS_TEST_TMPDIR/$name.ledger" "$BATS_TEST_TMPDIR/town.visits.json" \
		"$BATS_TEST_TMPDIR/town.cases.json" <<'PY'
import json, sys
held = {r["id"] for f in sys.argv[2:] for r in json.load(open(f))}
made = set(open(sys.argv[1]).read().split()) if open(sys.argv[1]).read() else set()
sys.exit(0 if made <= held else 1)
PY
}

@test "crash rounds: kill -9 of the CLI, the villages and the township; nothing lost, nothing twice" {
	local rounds=${XF_CRASH_ROUNDS:-3} seed=${XF_CRASH_SEED:-$$} round victim events
	RANDOM=$seed
	echo "# crash rounds: $rounds, seed $seed (XF_CRASH_SEED=$seed replays it)" >&3
	make_township town $TOWN
	make_village a $VA town 1
	make_village b $VB town 1
	touch "$BATS_TEST_TMPDIR"/{a,b}.ledger "$BATS_TEST_TMPDIR"/{a,b}.cli-kills "$BATS_TEST_TMPDIR/daemon-kills"
	start town
	start a
	start b
	for round in $(seq "$rounds"); do
		record_burst a 8 &
		pid_a=$!
		record_burst b 8 &
		pid_b=$!
		# While they record and sync, one or two daemons die.
		for victim in $(printf '%s\n' town a b | shuf --random-source=<(yes "$RANDOM") -n $((RANDOM % 2 + 1))); do
			sleep "0.$((RANDOM % 10))"
			crash "$victim"
		done
		wait "$pid_a" "$pid_b"
		until_true 120 converged a $VA || {
			echo "round $round: village a and the township did not converge" >&2
			false
		}
		until_true 60 converged b $VB || {
			echo "round $round: village b and the township did not converge" >&2
			false
		}
		verified town a b
	done
	events=$(on town log --json | python3 -c 'import json, sys; print(len(json.load(sys.stdin)))')
	echo "# $rounds rounds: $(wc -l <"$BATS_TEST_TMPDIR/daemon-kills") daemons and" \
		"$(cat "$BATS_TEST_TMPDIR"/{a,b}.cli-kills | wc -l) CLI runs killed -9;" \
		"$(cat "$BATS_TEST_TMPDIR"/{a,b}.ledger | wc -l) records reported made, all on the township;" \
		"$events events on the township, each once; verify passed on all three after every round" >&3
}
