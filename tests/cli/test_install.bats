#!/usr/bin/env bats
# make install and uninstall, and the systemd unit they install: it
# verifies, and systemd rates its exposure 2.0 or lower.

bats_require_minimum_version 1.5.0

setup() {
	: "${XF_TOP:?run through tests/run}"
	ROOT=$BATS_TEST_TMPDIR/root
}

@test "make install puts binaries, unit, sysusers, tmpfiles, man pages and configs in place; uninstall takes them away" {
	run make -s -C "$XF_TOP" install PREFIX="$ROOT/usr" SYSCONFDIR="$ROOT/etc"
	[ "$status" -eq 0 ] || { echo "$output" >&2; false; }
	for f in usr/bin/xinfangd usr/bin/xinfangctl; do
		[ "$(stat -c %a "$ROOT/$f")" = 755 ]
	done
	for f in usr/lib/systemd/system/xinfangd.service usr/lib/sysusers.d/xinfang.conf usr/lib/tmpfiles.d/xinfang.conf \
		usr/share/man/man8/xinfangd.8 usr/share/man/man8/xinfangctl.8 usr/share/man/man5/xinfang.conf.5 \
		usr/share/doc/xinfang-sync/PROTOCOL.md usr/share/doc/xinfang-sync/examples/township.conf; do
		[ -f "$ROOT/$f" ] || { echo "missing $f" >&2; false; }
	done
	grep -q "^ExecStart=$ROOT/usr/bin/xinfangd -c /etc/xinfang/xinfang.conf\$" "$ROOT/usr/lib/systemd/system/xinfangd.service"
	grep -q '^\.TH "xinfangd" "8"' "$ROOT/usr/share/man/man8/xinfangd.8"
	[ "$(stat -c %a "$ROOT/etc/xinfang/xinfang.conf")" = 640 ]
	"$ROOT/usr/bin/xinfangd" --help | grep -q usage
	# The README's next steps: the service's user and group, then its
	# data dir and config, which that user must be able to read.
	if [ "$(id -u)" -eq 0 ]; then
		systemd-sysusers --root="$ROOT" >/dev/null
		systemd-tmpfiles --create --root="$ROOT" >/dev/null
		gid=$(sed -n 's/^xinfang:[^:]*:\([0-9]*\):.*/\1/p' "$ROOT/etc/group")
		[ -n "$gid" ]
		[ "$(stat -c '%a %g' "$ROOT/etc/xinfang/xinfang.conf")" = "640 $gid" ]
		[ "$(stat -c '%a %g' "$ROOT/etc/xinfang")" = "750 $gid" ]
	fi
	# An administrator's config survives a second install and an uninstall.
	echo "; mine" >>"$ROOT/etc/xinfang/xinfang.conf"
	make -s -C "$XF_TOP" install PREFIX="$ROOT/usr" SYSCONFDIR="$ROOT/etc" >/dev/null
	grep -q "; mine" "$ROOT/etc/xinfang/xinfang.conf"
	make -s -C "$XF_TOP" uninstall PREFIX="$ROOT/usr" SYSCONFDIR="$ROOT/etc" >/dev/null
	[ -z "$(find "$ROOT/usr" -type f)" ]
	grep -q "; mine" "$ROOT/etc/xinfang/xinfang.conf"
}

@test "the unit passes systemd-analyze verify, runs as its own user, and its exposure is 2.0 or lower" {
	make -s -C "$XF_TOP" install PREFIX="$ROOT/usr" SYSCONFDIR="$ROOT/etc" >/dev/null
	unit=$ROOT/usr/lib/systemd/system/xinfangd.service
	run systemd-analyze verify --man=no "$unit"
	[ "$status" -eq 0 ] || { echo "$output" >&2; false; }
	[ -z "$output" ]
	grep -qx 'Type=notify' "$unit"
	grep -qx 'User=xinfang' "$unit"
	grep -q '^WatchdogSec=' "$unit"
	grep -qx 'u xinfang - "xinfang-sync daemon" /var/lib/xinfang' "$ROOT/usr/lib/sysusers.d/xinfang.conf"
	run systemd-analyze security --offline=yes "$unit"
	score=$(printf '%s\n' "$output" | sed -n 's/.*Overall exposure level for xinfangd.service: \([0-9.]*\).*/\1/p')
	echo "exposure: $score" >&2
	[ -n "$score" ]
	awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }'
}

@test "xinfangd --check-config: 0 for a valid config and data dir, one line naming file and line otherwise" {
	: "${XF_BUILD:?}"
	conf=$BATS_TEST_TMPDIR/node.conf
	printf '[node]\nid = 3701\nrole = township\ndata_dir = %s/data\n[server]\nlisten = 127.0.0.1:1\n' \
		"$BATS_TEST_TMPDIR" >"$conf"
	run --separate-stderr "$XF_BUILD/xinfangd" -c "$conf" --check-config
	[ "$status" -ne 0 ]
	[[ "$stderr" == *"run 'xinfangctl init' first"* ]]
	"$XF_BUILD/xinfangctl" -c "$conf" init >/dev/null
	run "$XF_BUILD/xinfangd" -c "$conf" --check-config
	[ "$status" -eq 0 ]
	[[ "$output" == "$conf: configuration and data dir are valid" ]]
	printf 'rate_limt = 5\n' >>"$conf"
	run --separate-stderr "$XF_BUILD/xinfangd" -c "$conf" --check-config
	[ "$status" -ne 0 ]
	[ "$stderr" = "<3>$conf:7: unknown key 'rate_limt' in [server]" ]
}
