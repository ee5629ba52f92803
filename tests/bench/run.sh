#!/usr/bin/env bash
# make bench: every benchmark, each figure printed with what produced it.
set -euo pipefail
build=${1:?usage: tests/bench/run.sh BUILD_DIR}
top=$(cd "$(dirname "$0")/../.." && pwd)
data=${XF_DATA:-$top/../shared/data}
events=${BENCH_EVENTS:-100000}

echo "== machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -r)"
for set in templated random; do
	echo "== log append ($set records): $build/bench/bench_log $data/records-$set-10k.ndjson $events"
	"$build/bench/bench_log" "$data/records-$set-10k.ndjson" "$events"
done

project_events=${BENCH_PROJECT_EVENTS:-1000000}
echo "== projections: $build/bench/bench_project $data/records-templated-10k.ndjson $project_events"
"$build/bench/bench_project" "$data/records-templated-10k.ndjson" "$project_events"

echo "== xinfangctl visit add, one process per event"
tmp=$(mktemp -d /var/tmp/xf-bench-ctl-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
printf '[node]\nid = bench-ctl\nrole = village\ndata_dir = %s/data\n' "$tmp" >"$tmp/node.conf"
"$build/xinfangctl" -c "$tmp/node.conf" init >/dev/null
n=500
start=$(date +%s.%N)
for _ in $(seq $n); do
	"$build/xinfangctl" -c "$tmp/node.conf" visit add --people 3 --category 劳资纠纷 \
		--summary 务工人员反映工程款被拖欠半年以上，下一步将组织双方当面协商。 --name 张三 >/dev/null
done
end=$(date +%s.%N)
awk -v n=$n -v s="$start" -v e="$end" 'BEGIN { printf "xinfangctl visit add: %d runs in %.2f s: %.0f events/s, %.1f ms each\n", n, e - s, n / (e - s), 1000 * (e - s) / n }'
"$build/xinfangctl" -c "$tmp/node.conf" verify

"$top/tests/bench/sync.sh" "$build"
