#!/usr/bin/env bash
# The sync targets of issue 3, measured on loopback with release binaries:
#   ingest   events/s into one township from VILLAGES concurrent villages,
#            beside the raw LMDB put rate measured in the same run
#   wire     bytes per event, both directions, HTTP headers counted
#   requests for a catch-up of CATCHUP events
#   memory   peak RSS of a village daemon catching up, and of the township
set -euo pipefail
build=${1:?usage: tests/bench/sync.sh BUILD_DIR}
top=$(cd "$(dirname "$0")/../.." && pwd)
data=${XF_DATA:-$top/../shared/data}
villages=${BENCH_VILLAGES:-50}
per_village=${BENCH_PER_VILLAGE:-20000}
catchup=${BENCH_CATCHUP:-100000}
ingest_runs=${BENCH_INGEST_RUNS:-3}
[[ "$ingest_runs" =~ ^[1-9][0-9]*$ ]] || { echo "sync.sh: BENCH_INGEST_RUNS must be a whole number from 1" >&2; exit 2; }
ctl=$top/$build/xinfangctl
xfd=$top/$build/xinfangd
fill=$top/$build/bench/bench_fill
tmp=$(mktemp -d /var/tmp/xf-bench-sync-XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
node() { "$ctl" -c "$tmp/$1.conf" "${@:2}"; }
now() { date +%s.%N; }
kib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }
# the peak resident set of PID so far, in KiB
peak_rss() { awk '/^VmHWM/ { print $2 }' "/proc/$1/status"; }

# township NAME: a township serving on a free port.
township() {
	local port
	port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	cat >"$tmp/$1.conf" <<CONF
[node]
id = $1
role = township
data_dir = $tmp/$1
[server]
listen = 127.0.0.1:$port
CONF
	node "$1" init >"$tmp/$1.key"
	echo "$port" >"$tmp/$1.port"
}

# village NAME UPSTREAM RECORDS N: a village with N events of the data set,
# enrolled both ways.
village() {
	cat >"$tmp/$1.conf" <<CONF
[node]
id = $1
role = village
data_dir = $tmp/$1
[upstream]
url = http://127.0.0.1:$(cat "$tmp/$2.port")
interval = 3600
CONF
	node "$1" init >"$tmp/$1.key"
	node "$2" enroll "$1" "$(cat "$tmp/$1.key")" >/dev/null
	node "$1" enroll "$2" "$(cat "$tmp/$2.key")" >/dev/null
	"$fill" "$tmp/$1" "$1" "$data/records-$3-10k.ndjson" "$4"
}

# serve NAME: start a township's daemon; its pid in $served.
serve() {
	"$xfd" -c "$tmp/$1.conf" 2>"$tmp/$1.log" &
	served=$!
	pids+=("$served")
	sleep 0.5
}

township load
township town
echo "== preparing $villages villages of $per_village templated events each, a catch-up village of $catchup, a random-set village"
for i in $(seq -w 1 "$villages"); do
	village "v$i" town templated "$per_village" &
	(( 10#$i % 2 == 0 )) && wait
done
wait
village catchup town templated "$catchup"
village random town random 20000

echo "== township ingest: $villages villages push $per_village events each at once, $ingest_runs runs"
# The load: each village's own sync requests, made ahead as bundles and
# posted by one thread per village (bench_ingest), so the township's work
# is what is timed. Runs on this class of machine differ by up to a third,
# so each run starts a fresh township and all are shown.
specs=()
for i in $(seq -w 1 "$villages"); do
	node "v$i" bundle export "$tmp/v$i.bundle" >/dev/null
	specs+=("v$i:$tmp/v$i:$tmp/v$i.bundle")
done
total=$((villages * per_village + villages * 2))
rates=()
for run in $(seq "$ingest_runs"); do
	rm -rf "$tmp/load"
	node load init >"$tmp/load.key"
	for i in $(seq -w 1 "$villages"); do
		node load enroll "v$i" "$(cat "$tmp/v$i.key")" >/dev/null
	done
	serve load
	load_pid=$served
	# Preparing wrote gigabytes the kernel may still be flushing: the
	# township's own fsyncs would queue behind them.
	sync
	"$top/$build/bench/bench_ingest" "http://127.0.0.1:$(cat "$tmp/load.port")" "${specs[@]}" | tee "$tmp/ingest.out"
	rate=$(awk -v n=$total '/ in [0-9.]+ s$/ { printf "%.0f", n / $(NF-1) }' "$tmp/ingest.out")
	rates+=("$rate")
	echo "township ingest, run $run: $total events from $villages concurrent villages: $rate events/s; peak RSS $(kib "$(peak_rss "$load_pid")")"
	[ "$run" -eq "$ingest_runs" ] || { kill "$load_pid"; wait "$load_pid" || true; }
done
printf '%s\n' "${rates[@]}" | sort -n | awk '{ r[NR] = $1 } END { printf "township ingest, median of %d runs: %d events/s (%d to %d)\n", NR, r[int((NR + 1) / 2)], r[1], r[NR] }'
"$top/$build/bench/bench_log" "$data/records-templated-10k.ndjson" 100000 raw
held=$(node load log | wc -l)
[ "$held" -eq $((total + 1 + villages)) ] || { echo "township holds $held events, expected $((total + 1 + villages))"; exit 1; }
start=$(now)
node load verify
end=$(now)
awk -v s="$start" -v e="$end" -v h="$held" 'BEGIN { printf "township verify of %d events: %.2f s\n", h, e - s }'

echo "== end to end: the same $villages villages run xinfangctl sync at once against a fresh township"
serve town
town_pid=$served
sync
start=$(now)
sync_pids=()
for i in $(seq -w 1 "$villages"); do
	node "v$i" sync >"$tmp/v$i.sync" &
	sync_pids+=($!)
done
for p in "${sync_pids[@]}"; do wait "$p" || { echo "a village sync failed"; cat "$tmp"/v*.sync; exit 1; }; done
end=$(now)
awk -v n=$total -v s="$start" -v e="$end" 'BEGIN { printf "end to end: %d events from '"$villages"' villages in %.2f s: %.0f events/s (villages and township on the same 2 cores)\n", n, e - s, n / (e - s) }'
echo "township peak RSS with $villages villages syncing: $(kib "$(peak_rss "$town_pid")")"

echo "== catch-up: a village daemon offline for $catchup events comes back"
"$xfd" -c "$tmp/catchup.conf" 2>"$tmp/catchup.log" & village_pid=$!
pids+=("$village_pid")
for _ in $(seq 600); do
	grep -q '^<6>synced:' "$tmp/catchup.log" && break
	sleep 0.1
done
grep '^<6>synced:' "$tmp/catchup.log"
echo "village daemon peak RSS during catch-up: $(kib "$(peak_rss "$village_pid")")"
sed -n 's/^<6>synced: pushed \([0-9]*\), pulled [0-9]* in \([0-9]*\) requests, \([0-9]*\) bytes out, \([0-9]*\) in.*/\1 \2 \3 \4/p' \
	"$tmp/catchup.log" | head -1 | while read -r ev req out in; do
	awk -v ev="$ev" -v req="$req" -v out="$out" -v in_="$in" 'BEGIN {
		printf "catch-up of %d events: %d requests; wire %.1f bytes/event (templated, both directions, headers counted)\n", ev, req, (out + in_) / ev }'
done
kill -TERM "$village_pid"; wait "$village_pid" || true

echo "== random records: xinfangctl sync of 20000 random-set events"
node random sync | tee "$tmp/random.sync"
sed -n 's/.*pushed \([0-9]*\), pulled [0-9]* in [0-9]* requests (\([0-9]*\) bytes out, \([0-9]*\) in).*/\1 \2 \3/p' "$tmp/random.sync" |
	awk '{ printf "wire %.1f bytes/event (random set, both directions, headers counted)\n", ($2 + $3) / $1 }'

echo "== idle: a village in sync syncs again"
node random sync
"$xfd" -c "$tmp/random.conf" 2>"$tmp/random.log" & idle_pid=$!
pids+=("$idle_pid")
sleep 3
echo "village daemon peak RSS, idle: $(kib "$(peak_rss "$idle_pid")")"
"$top/$build/bench/bench_rss_floor"
