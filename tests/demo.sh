#!/usr/bin/env bash
# make demo: a township and two villages on loopback. The villages record
# while the township is down, the link comes up, and all converge.
set -euo pipefail
build=${1:-build/release}
top=$(cd "$(dirname "$0")/.." && pwd)
ctl=$top/$build/xinfangctl
xfd=$top/$build/xinfangd
demo=$(mktemp -d /tmp/xinfang-demo-XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$demo"
}
trap cleanup EXIT
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
node() { "$ctl" -c "$demo/$1.conf" "${@:2}"; }

say "a township (370102) and two villages (青山村 370102001, 北岗村 370102002) in $demo"
cat >"$demo/town.conf" <<CONF
[node]
id = 370102
role = township
data_dir = $demo/town
author = 镇信访办
[server]
listen = 127.0.0.1:$port
CONF
for v in 001 002; do
	cat >"$demo/v$v.conf" <<CONF
[node]
id = 370102$v
role = village
data_dir = $demo/v$v
author = 联络员$v
[upstream]
url = http://127.0.0.1:$port
interval = 2
CONF
done
town_key=$(node town init)
for v in 001 002; do
	key=$(node v$v init)
	node town enroll 370102$v "$key"
	node v$v enroll 370102 "$town_key"
done

say "the link is down: each village records on its own PC"
visit=$(node v001 visit add --date 2026-05-12 --people 6 --category 换届选举 --name 孟刚 \
	--summary 村民反映村委会换届选举过程中存在拉票贿选问题)
echo "青山村 visit: $visit (6 people: a collective visit)"
case_id=$(node v001 case open --title 换届选举拉票问题 --from "$visit")
echo "青山村 case:  $case_id"
node v001 risk report --level major --summary 两户村民因宅基地边界发生争执，情绪激动 >/dev/null
node v002 visit add --people 2 --category 劳资纠纷 --summary 务工人员反映工程款被拖欠半年以上 --name 熊华 >/dev/null
node v002 letter add --category 社会保障 --summary 反映低保评定不公开 >/dev/null
for v in 001 002; do
	printf '370102%s holds %s events\n' "$v" "$(node v$v log | wc -l)"
done

say "the link comes up: township and village daemons start"
"$xfd" -c "$demo/town.conf" 2>"$demo/town.log" & pids+=($!)
sleep 0.5
for v in 001 002; do
	"$xfd" -c "$demo/v$v.conf" 2>"$demo/v$v.log" & pids+=($!)
done
for _ in $(seq 50); do
	[ "$(node town log | wc -l)" -ge 10 ] && break
	sleep 0.1
done
echo "township holds $(node town log | wc -l) events"

say "the township office acts on 青山村's case: a leader in charge, a reply with a deadline"
node town case assign "$case_id" --leader 王镇长
node town case reply "$case_id" --text 已组织调查，限期答复 --due 2026-12-30
sleep 3

say "青山村 sees the township's decision (北岗村 does not: not its case)"
node v001 case show "$case_id"
printf '北岗村 events about %s: %s\n' "$case_id" "$(node v002 log --json | grep -c "\"$case_id\"" || true)"

say "the township's view"
for kind in visit letter case risk; do
	echo "-- ${kind}s"
	node town $kind list
done

say "the township office's weekly dispatch sheet, from the synced records"
node town report --weekly

say "the administrator's view: which node synced when, and what is pending"
node town status
echo
node v001 status

say "every node verifies every signature and chain link"
for n in town v001 v002; do node $n verify; done

say "what the daemons logged"
cat "$demo/town.log" "$demo/v001.log"
