#!/usr/bin/env bats
# verify on a log damaged by hand: a flipped byte in a stored event must be
# caught, and the event named.

load helper

setup() {
	setup_village
}

# flip_in_log HEX SKIP: in the village's data.mdb, flip the lowest bit of
# the byte SKIP bytes after each occurrence of the bytes HEX. LMDB copies
# pages on write, so older copies of a page may linger in the file; which
# copy is live is LMDB's business, so every copy is damaged. Fails when
# HEX is not found. Run only while no xinfangctl has the log open.
flip_in_log() {
	python3 - "$(data_dir)/data.mdb" "$1" "$2" <<'PY'
import sys
path, pattern, skip = sys.argv[1], bytes.fromhex(sys.argv[2]), int(sys.argv[3])
data = bytearray(open(path, "rb").read())
found, at = 0, data.find(pattern)
while at >= 0:
    data[at + skip] ^= 0x01
    found += 1
    at = data.find(pattern, at + 1)
if not found:
    sys.exit("pattern not found in " + path)
with open(path, "r+b") as f:
    f.write(data)
PY
}

hex() {
	printf '%s' "$1" | od -An -tx1 | tr -d ' \n'
}

# verify_names EVENT: verify fails with one line on stderr naming EVENT.
verify_names() {
	run --separate-stderr ctl verify
	fails_one_line
	[[ "$stderr" == *"$1"* ]] || { echo "verify does not name $1: $stderr" >&2; false; }
}

@test "a flipped byte in an event's body fails verify, naming the event" {
	run ctl visit add --people 2 --category 土地 --summary "征地 MARKER12345 补偿"
	[ "$output" = V-$NODE-2 ]
	ctl visit add --people 1 --category 土地 --summary 之后 >/dev/null
	ctl risk report --level major --summary 之后 >/dev/null
	run ctl verify
	[ "$status" -eq 0 ]
	# "MARKER12345" becomes "MARKER12355": still valid text, wrong bytes.
	flip_in_log "$(hex MARKER12345)" 9
	verify_names "$NODE:2"
	[[ "$stderr" != *"$NODE:3"* ]]
}

@test "a flipped byte in the latest event fails verify, naming it" {
	ctl visit add --people 1 --category 土地 --summary 之前 >/dev/null
	ctl visit add --people 2 --category 土地 --summary "征地 MARKER67890 补偿" >/dev/null
	flip_in_log "$(hex MARKER67890)" 3
	verify_names "$NODE:3"
}

@test "a flipped byte in an event's signature fails verify, naming the event" {
	# The phone is the last field of the body, and the body the last field
	# of the envelope: the 64-byte signature follows it. 0xab is msgpack's
	# header for a string of 11 bytes.
	ctl visit add --people 2 --category 土地 --summary 测试 --phone 13899990000 >/dev/null
	ctl visit add --people 1 --category 土地 --summary 之后 >/dev/null
	run ctl log --json
	json_assert 'assert list(j[1]["body"])[-1] == "phone", j[1]'
	pattern="$(hex phone)ab$(hex 13899990000)"
	flip_in_log "$pattern" $((${#pattern} / 2 + 20))
	verify_names "$NODE:2"
}

@test "the first event, enrolling our own key, is checked too" {
	key=$(ctl key)
	ctl visit add --people 1 --category 土地 --summary 之后 >/dev/null
	# Flip a bit of the enrolled public key in the body of event 1.
	flip_in_log "$(hex pubkey)"'d940'"$(hex "${key:0:16}")" 10
	verify_names "$NODE:1"
}
