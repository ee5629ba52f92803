#!/usr/bin/env bats
# Two processes appending at once never lose or duplicate a seq (issue 2,
# item 5). The visit test runs 2 x $N xinfangctl processes, side by side:
# their appends interleave hundreds of times.

load helper

N=150

setup() {
	setup_village
}

# append_loop NAME N CMD...: run CMD N times, one xinfangctl process each,
# with "{}" in the arguments replaced by "NAME-i"; stdout goes to
# $BATS_TEST_TMPDIR/NAME.out, each failure to NAME.err.
append_loop() {
	local name=$1 n=$2 i
	shift 2
	for ((i = 1; i <= n; i++)); do
		"${@//\{\}/$name-$i}" >>"$BATS_TEST_TMPDIR/$name.out" 2>>"$BATS_TEST_TMPDIR/$name.err" ||
			echo "$name-$i failed" >>"$BATS_TEST_TMPDIR/$name.err"
	done
}

@test "2 x $N visits recorded at once: seqs exactly 1..2N+1, ids unique, verify passes" {
	append_loop a $N ctl visit add --people 1 --category 土地 --summary "{}" &
	pid_a=$!
	append_loop b $N ctl visit add --people 1 --category 土地 --summary "{}" &
	pid_b=$!
	wait $pid_a
	wait $pid_b
	for n in a b; do
		if [ -s "$BATS_TEST_TMPDIR/$n.err" ]; then
			head -20 "$BATS_TEST_TMPDIR/$n.err" >&2
			false
		fi
	done
	# Each process printed its N ids, one a line; 2N distinct ids.
	[ "$(wc -l <"$BATS_TEST_TMPDIR/a.out")" -eq $N ]
	[ "$(wc -l <"$BATS_TEST_TMPDIR/b.out")" -eq $N ]
	[ "$(sort -u "$BATS_TEST_TMPDIR/a.out" "$BATS_TEST_TMPDIR/b.out" | wc -l)" -eq $((2 * N)) ]
	run ctl log --json
	[ "$status" -eq 0 ]
	json_assert '
n = int(sys.argv[2])
seqs = [e["seq"] for e in j]
assert sorted(seqs) == list(range(1, 2 * n + 2)), "seqs are not exactly 1..2N+1"
assert len(set(e["id"] for e in j)) == 2 * n + 1
visits = [e for e in j if e["type"] == "visit.recorded"]
assert len(visits) == 2 * n and len(set(e["entity"] for e in visits)) == 2 * n
for e in visits:
    assert e["entity"] == "V-%s-%d" % (e["origin"], e["seq"]), e
# Every act of both processes is there once, each process in its own order.
for name in ("a", "b"):
    mine = [e["body"]["summary"] for e in visits if e["body"]["summary"].startswith(name + "-")]
    assert mine == ["%s-%d" % (name, i) for i in range(1, n + 1)], name
    printed = open(sys.argv[1] + "/" + name + ".out").read().split()
    assert printed == [e["entity"] for e in visits if e["body"]["summary"].startswith(name + "-")], name
hlcs = [e["hlc"] for e in j]
assert hlcs == sorted(hlcs) and len(set(hlcs)) == len(hlcs), "hlc not increasing with seq"' "$BATS_TEST_TMPDIR" $N
	run --separate-stderr ctl verify
	[ "$status" -eq 0 ]
	[[ "$output" == *"$((2 * N + 1)) events"* ]]
}

@test "2 x 100 notes on one case at once: all kept, in one line of parents" {
	visit=$(ctl visit add --people 1 --category 土地 --summary 测试)
	id=$(ctl case open --title 测试 --from "$visit")
	append_loop a 100 ctl case note "$id" --text "{}" &
	pid_a=$!
	append_loop b 100 ctl case note "$id" --text "{}" &
	pid_b=$!
	wait $pid_a
	wait $pid_b
	for n in a b; do
		if [ -s "$BATS_TEST_TMPDIR/$n.err" ]; then
			head -20 "$BATS_TEST_TMPDIR/$n.err" >&2
			false
		fi
		# Notes print nothing.
		[ ! -s "$BATS_TEST_TMPDIR/$n.out" ]
	done
	run ctl case show "$id" --json
	[ "$status" -eq 0 ]
	json_assert '
texts = [n["text"] for n in j["notes"]]
assert len(texts) == 200 and len(set(texts)) == 200, len(texts)
for name in ("a", "b"):
    assert [t for t in texts if t.startswith(name + "-")] == ["%s-%d" % (name, i) for i in range(1, 101)], name
assert j["status"] == "opened" and j["events"] == 201 and j["conflicts"] == [], j["conflicts"]'
	run ctl log --json
	json_assert '
assert sorted(e["seq"] for e in j) == list(range(1, 204))
ev = [e for e in j if e["entity"] == sys.argv[1]]
assert len(ev) == 201
# Appends are serialised, so each note saw the one before it: its parent.
for before, after in zip(ev, ev[1:]):
    assert after["parents"] == [before["id"]], (before["id"], after["id"], after["parents"])' "$id"
	run ctl verify
	[ "$status" -eq 0 ]
}
