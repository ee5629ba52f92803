#!/usr/bin/env bats
# Signed receipts (issue 7, item 5): the village keeps the township's
# receipts and `xinfangctl receipts` shows them; a village log that later
# loses an acknowledged event is caught by `verify` and, at its next sync,
# by the township, which keeps its copy and shows the alarm in status.

load helper

bats_require_minimum_version 1.5.0

TOWN=370102006
VA=370102006001

setup() {
	make_township town $TOWN
	make_village a $VA town 60
	start town
	on a visit add --people 2 --category 土地纠纷 --summary 村民反映 >/dev/null
	on a visit add --people 1 --category 其他 --summary 来访 >/dev/null
	on a sync >/dev/null
}

teardown() {
	stop_all
}

@test "receipts are kept and shown, each checked against the township's key and the log" {
	run on a receipts --json
	[ "$status" -eq 0 ]
	printf '%s' "$output" | python3 -c '
import json, sys
r = json.load(sys.stdin)
assert len(r) == 1, r
assert r[0]["seq"] == 4 and r[0]["upstream"] == "'$TOWN'", r
assert r[0]["signature"] == "ok" and r[0]["log"] == "ok", r
assert len(r[0]["hash"]) == 64, r'
	run on a receipts
	[[ "$output" == *"$TOWN"*"signature ok, log ok"* ]]
	run on a verify
	[ "$status" -eq 0 ]
	[[ "$output" == *"receipts agree"* ]]
}

@test "a village log rolled back below a receipt: verify fails, the township raises the alarm and keeps its copy" {
	run craft rollback "$BATS_TEST_TMPDIR/a" $VA
	[ "$status" -eq 0 ]
	run --separate-stderr on a verify
	[ "$status" -eq 1 ]
	[ "$stderr" = "xinfangctl verify: event $VA:4, acknowledged by $TOWN's signed receipt, is missing: the log was rolled back" ]
	run on a receipts
	[[ "$output" == *"log missing"* ]]
	# The village syncs again: the township sees its log end below what it holds.
	on a sync >/dev/null
	on town status --json | python3 -c '
import json, sys
p = [p for p in json.load(sys.stdin)["peers"] if p["node"] == "'$VA'"][0]
assert p["head"] == 3 and p["held"] == 4, p
assert p["last_error"].startswith("rollback: its log ends at seq 3, the township holds 4"), p'
	grep -q "^<4>'$VA': rollback: its log ends at seq 3" "$BATS_TEST_TMPDIR/town.log"
	# A new record reuses seq 4: the township keeps both, as a fork.
	on a visit add --people 1 --category 其他 --summary 回滚后 >/dev/null
	run on a sync
	[ "$(on town status --json | python3 -c '
import json, sys
print([p["forks"] for p in json.load(sys.stdin)["peers"] if p["node"] == "'$VA'"][0])')" -eq 1 ]
	[ "$(on town log --json | python3 -c 'import json, sys; print(sum(e["origin"] == "'$VA'" for e in json.load(sys.stdin)))')" -eq 4 ]
}

@test "a village daemon whose log was rolled back syncs at its interval, not in a loop" {
	run craft rollback "$BATS_TEST_TMPDIR/a" $VA
	[ "$status" -eq 0 ]
	on a visit add --people 1 --category 其他 --summary 回滚后 >/dev/null
	start a
	until_true 10 log_has a '^<6>synced:'
	# Its own writes (the sync's outcome) must not count as new records:
	# the events the township holds otherwise stay pending, sync or not.
	sleep 3
	[ "$(log_count a '^<6>synced:')" -eq 1 ]
}
