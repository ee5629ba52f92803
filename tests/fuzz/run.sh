#!/usr/bin/env bash
# make fuzz: each libFuzzer target for SECONDS, from its seed corpus.
# Usage: tests/fuzz/run.sh BUILD_DIR SECONDS
set -euo pipefail
build=${1:?usage: tests/fuzz/run.sh BUILD_DIR SECONDS}
seconds=${2:-60}
top=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$top/$build/corpus" "$top/$build/crashes"
status=0
for t in "$top/$build"/tests/fuzz/fuzz_*; do
	[ -x "$t" ] && [ "${t%.d}" = "$t" ] || continue
	name=$(basename "$t")
	work=$top/$build/corpus/$name
	mkdir -p "$work"
	echo "== $name, $seconds s"
	# New inputs go to the work corpus; the seeds in tests/ are read only.
	"$t" -max_total_time="$seconds" -print_final_stats=1 -artifact_prefix="$top/$build/crashes/$name-" \
		"$work" "$top/tests/fuzz/corpus/$name" 2>&1 | grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|==|SUMMARY|Done)' || status=1
done
ls "$top/$build/crashes" | grep -q . && { echo "crashers kept in $build/crashes: copy each into tests/fuzz/corpus/NAME/ once fixed"; status=1; }
exit $status
