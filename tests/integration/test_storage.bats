#!/usr/bin/env bats
# Storage faults: a full disk on a village PC and on the township (a small
# tmpfs), and a data dir from a newer version. The map filling up, a dead
# reader's slot and the newer schema in core are in tests/unit/test_store.c.

load helper
bats_require_minimum_version 1.5.0

VA=370102001001
VT=370102001

setup() {
	mounts=()
}

teardown() {
	stop_all
	local m
	for m in "${mounts[@]}"; do
		umount "$m" 2>/dev/null || :
	done
}

# small_disk DIR SIZE: a tmpfs of SIZE at DIR, to fill. Mounting needs
# root, as `make deps` and CI have.
small_disk() {
	mkdir -p "$1"
	[ "$(id -u)" -eq 0 ] || skip "filling a small disk needs root to mount a tmpfs"
	mount -t tmpfs -o "size=$2,mode=0700" tmpfs "$1" ||
		skip "this machine does not let root mount a tmpfs (a container without CAP_SYS_ADMIN)"
	mounts+=("$1")
}

# visits NAME: how many visits NAME lists.
visits() {
	on "$1" visit list --json | python3 -c 'import json, sys; print(len(json.load(sys.stdin)))'
}

# 1,500 bytes of text, so that a few dozen visits fill 300 KiB.
LONG_TEXT=$(printf '村民反映%.0s' $(seq 125))

@test "a full disk: recording is refused with one line, nothing is half-written, and it resumes when space returns" {
	small_disk "$BATS_TEST_TMPDIR/disk" 300k
	cat >"$BATS_TEST_TMPDIR/v.conf" <<CONF
[node]
id = $VA
role = village
data_dir = $BATS_TEST_TMPDIR/disk/data
CONF
	on v init >/dev/null
	recorded=0
	for _ in $(seq 1000); do
		run --separate-stderr on v visit add --people 3 --category 土地 --summary "$LONG_TEXT"
		[ "$status" -eq 0 ] || break
		recorded=$((recorded + 1))
	done
	echo "recorded $recorded visits before the disk was full" >&2
	[ "$status" -eq 1 ] && [ -z "$output" ] && [ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == *"the disk is full; nothing was recorded"* ]]
	[ "$recorded" -gt 10 ]
	# Everything recorded is there, sound; the refused one is not.
	verified v
	[ "$(visits v)" -eq "$recorded" ]
	run --separate-stderr on v rebuild
	[ "$status" -eq 0 ]
	# Space returns: recording goes on where it stopped.
	mount -o remount,size=4m "$BATS_TEST_TMPDIR/disk"
	on v visit add --people 3 --category 土地 --summary 空间恢复后 >/dev/null
	verified v
	[ "$(visits v)" -eq $((recorded + 1)) ]
	on v log --json | python3 -c 'import json, sys
seqs = [e["seq"] for e in json.load(sys.stdin)]
assert seqs == list(range(1, len(seqs) + 1)), "a seq skipped or repeated"'
}

@test "a township on a full disk refuses the push, keeps what it holds, and takes it all when space returns" {
	small_disk "$BATS_TEST_TMPDIR/disk" 400k
	make_township town $VT
	sed -i "s|^data_dir = .*|data_dir = $BATS_TEST_TMPDIR/disk/town|" "$BATS_TEST_TMPDIR/town.conf"
	rm -rf "$BATS_TEST_TMPDIR/town"
	on town init >"$BATS_TEST_TMPDIR/town.key"
	make_village a $VA town 1
	fill a 3000 >/dev/null
	start town
	start a
	# The township's disk fills; the village is told so and keeps its records.
	until_true 60 eval 'on a status --json | python3 -c "import json, sys; e = json.load(sys.stdin)[\"last_error\"]; sys.exit(0 if e else 1)"'
	on a status --json | python3 -c 'import json, sys; j = json.load(sys.stdin); assert j["pending"] > 0, j'
	verified town a
	[ "$(visits a)" -eq 3000 ]
	held=$(visits town)
	echo "the township held $held of 3000 visits when its disk was full" >&2
	[ "$held" -lt 3000 ]
	# Space returns: the village's retries land everything, once.
	mount -o remount,size=16m "$BATS_TEST_TMPDIR/disk"
	until_true 90 eval '[ "$(visits town)" -eq 3000 ]'
	until_true 30 idle_sync town $VA
	verified town a
	scoped town a
}

@test "a data dir from a newer version: the CLI and the daemon refuse it with one line and leave it alone" {
	make_township town $VT
	on town visit add --people 1 --category 土地 --summary 旧数据 >/dev/null
	"$XF_BUILD/tests/tools/craft" schema "$BATS_TEST_TMPDIR/town" 99
	sum=$(sha256sum <"$BATS_TEST_TMPDIR/town/data.mdb")
	run --separate-stderr on town visit list
	[ "$status" -eq 1 ] && [ -z "$output" ] && [ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == *"written by a newer version of xinfang-sync"*"left untouched"* ]]
	run --separate-stderr on town visit add --people 1 --category 土地 --summary 新数据
	[ "$status" -eq 1 ] && [ "${#stderr_lines[@]}" -eq 1 ]
	run --separate-stderr timeout 20 "$XF_D" -c "$BATS_TEST_TMPDIR/town.conf"
	[ "$status" -ne 0 ] && [ "$status" -ne 124 ]
	[[ "$stderr" == *"cannot open the log: data written by a newer schema version"* ]]
	[ "$(sha256sum <"$BATS_TEST_TMPDIR/town/data.mdb")" = "$sum" ]
}

@test "a daemon started with stdout and stderr closed writes nothing into its log's files" {
	make_township town $VT
	make_village va $VA town
	on va visit add --people 1 --category 土地 --summary 关闭的输出 >/dev/null
	# The township is down: the village logs a failed sync at once.
	"$XF_D" -c "$BATS_TEST_TMPDIR/va.conf" >&- 2>&- &
	echo $! >"$BATS_TEST_TMPDIR/va.pid"
	until_true 10 test -e "$BATS_TEST_TMPDIR/va/xinfangd.state"
	sleep 1
	# The descriptors the store would otherwise have been given.
	[ "$(readlink "/proc/$(cat "$BATS_TEST_TMPDIR/va.pid")/fd/1")" = /dev/null ]
	[ "$(readlink "/proc/$(cat "$BATS_TEST_TMPDIR/va.pid")/fd/2")" = /dev/null ]
	stop va
	run on va verify
	[ "$status" -eq 0 ]
}
