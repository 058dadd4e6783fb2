#!/usr/bin/env bash
# The replicated ledger's kill matrix (ctest label `ha`, not in the default run):
#   ctest --test-dir build -L ha --output-on-failure      or      tests/ha/failover.sh BUILD_DIR
#
# Starts the local three-node cluster (deploy/ha/local-cluster.sh), adopts the demo policy, and
# then, each in turn, under a collection load from several resending clients (ledger-ha-probe):
#   leader-node      kill -9 of the leader's whole node (ledgerd, Patroni, PostgreSQL, etcd)
#   leader-patroni   kill -9 of the leader's Patroni only: its PostgreSQL stays an orphan primary
#   leader-sigstop   SIGSTOP of the leader's Patroni past the ttl, then SIGCONT
#   sync-standby     kill -9 of the synchronous standby's Patroni and PostgreSQL
#   both-standbys    kill -9 of both standbys' Patroni and PostgreSQL: writes block without
#                    acknowledging anything, and resume once they are back
# After each: what was killed is started again, and on every node every acknowledged record is
# present exactly once at its acknowledged sequence, the sequence is dense, the chain verifies and
# the projections equal a scratch replay (ledger-ha-probe check); the first acknowledged write
# after the kill (after the restart, for both-standbys) came within 30 s.
# Prints `scenario=… failover_s=… acked=… lost=…` per scenario and `summary …` last; exit 0 only
# when every scenario passed.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-$ROOT/build}
export LEDGERD=$BUILD/services/ledgerd
export LEDGER_HA_BASE=${LEDGER_HA_BASE:-/tmp/ledger-ha-test}
PROBE=$BUILD/tools/ledger-ha-probe
LEDGERCTL=$BUILD/tools/ledgerctl
CLUSTER=$ROOT/deploy/ha/local-cluster.sh
SERVERS=(--server 127.0.0.1:50061 --server 127.0.0.1:50062 --server 127.0.0.1:50063)
LOAD_SECONDS=${HA_LOAD_SECONDS:-45}
FAILOVER_MAX_S=30
OUT=$(mktemp -d /tmp/ledger-ha-results.XXXXXX)
BASE=$LEDGER_HA_BASE

for tool in etcd patroni patronictl "$LEDGERD" "$PROBE" "$LEDGERCTL"; do
  command -v "$tool" >/dev/null || [ -x "$tool" ] || { echo "failover: missing $tool (tools/install-deps.sh --ha; build first)"; exit 1; }
done

"$CLUSTER" down >/dev/null 2>&1 || true
# The cluster's logs stay with the results (Patroni, PostgreSQL, etcd and ledgerd of each node).
trap 'cp -r "$BASE/logs" "$OUT/cluster-logs" 2>/dev/null; "$CLUSTER" down >/dev/null 2>&1 || true' EXIT
"$CLUSTER" up || { echo "failover: the cluster did not start"; exit 1; }

pid_of() { cat "$BASE/pids/$1" 2>/dev/null || true; }
rest_port() { echo $((8440 + $1)); }
member_node() {  # node number (1-3) of the member with role $1 (leader | sync_standby | replica)
  for n in 1 2 3; do
    out=$(curl -s --max-time 1 http://127.0.0.1:$(rest_port $n)/cluster) || continue
    python3 -c 'import sys,json
role=sys.argv[1]; ms=json.load(sys.stdin)["members"]
names=[m["name"] for m in ms if m["role"]==role or (role=="leader" and m["role"]=="master")]
print(names[0][2:] if names else "")' "$1" <<<"$out" 2>/dev/null && return 0
  done
  echo ""
}
postmaster_of() { head -1 "$BASE/pg$1/postmaster.pid" 2>/dev/null || true; }
kill_db() {  # kill -9 of node n's Patroni, postmaster and backends (not etcd, not ledgerd)
  local n=$1 pm; pm=$(postmaster_of "$n")
  local kids=""; [ -n "$pm" ] && kids=$(ps -o pid= --ppid "$pm" || true)
  kill -9 $(pid_of patroni$n) $pm $kids 2>/dev/null || true
}
wait_healthy() {  # three members running or streaming, one leader, one sync standby (<= 120 s)
  for _ in $(seq 120); do
    out=$(patronictl -c "$BASE/patroni1.yml" list 2>/dev/null || patronictl -c "$BASE/patroni2.yml" list 2>/dev/null || true)
    if echo "$out" | grep -q "Leader.*running" && echo "$out" | grep -Eq "Sync Standby.*(running|streaming)" \
       && [ "$(echo "$out" | grep -Ec "\| (running|streaming) ")" -ge 3 ]; then return 0; fi
    sleep 1
  done
  return 1
}
now_ms() { date +%s%3N; }

"$LEDGERCTL" "${SERVERS[@]}" --retry-for 60 policy adopt "${HA_POLICY:-$ROOT/deploy/policies/yanji-222401.json}" \
  || { echo "failover: adopting the demo policy failed"; exit 1; }

passed=0; failed=0; summary=""
run_scenario() {
  local name=$1 leader sync others t_kill t_measure rc
  wait_healthy || { echo "scenario=$name result=FAIL (the cluster is not healthy before it)"; failed=$((failed+1)); return; }
  leader=$(member_node leader); sync=$(member_node sync_standby)
  echo "--- scenario=$name leader=pg$leader sync_standby=pg$sync"
  "$PROBE" load "${SERVERS[@]}" --clients 4 --batch 20 --seconds "$LOAD_SECONDS" --run "$name-" \
    --out "$OUT/$name.tsv" >"$OUT/$name.load" 2>&1 &
  local load=$!
  sleep 8
  t_kill=$(now_ms); t_measure=$t_kill
  case $name in
    leader-node) "$CLUSTER" kill-node "$leader" ;;
    leader-patroni) kill -9 "$(pid_of patroni$leader)" ;;
    leader-sigstop) kill -STOP "$(pid_of patroni$leader)"; sleep 22; kill -CONT "$(pid_of patroni$leader)" ;;
    sync-standby) kill_db "$sync" ;;
    both-standbys)
      others=$(for n in 1 2 3; do [ "$n" != "$leader" ] && echo "$n"; done)
      for n in $others; do kill_db "$n"; done
      local before; before=$(wc -l <"$OUT/$name.tsv")
      sleep 12
      local during; during=$(wc -l <"$OUT/$name.tsv")
      # Give in-flight answers that were acknowledged before the kill a moment to land.
      echo "while both standbys were down: $((during - before)) records acknowledged"
      echo "$((during - before))" >"$OUT/$name.blocked"
      for n in $others; do "$CLUSTER" start-node "$n"; done
      t_measure=$(now_ms) ;;
  esac
  wait "$load"; rc=$?
  cat "$OUT/$name.load"
  case $name in
    leader-node) "$CLUSTER" start-node "$leader" ;;
    leader-patroni) "$CLUSTER" start-node "$leader" ;;
    sync-standby) "$CLUSTER" start-node "$sync" ;;
  esac
  wait_healthy || echo "the cluster did not become healthy again within 120 s"
  patronictl -c "$BASE/patroni1.yml" list >"$OUT/$name.members" 2>&1 || true
  local gap; gap=$("$PROBE" gaps --acked "$OUT/$name.tsv" --since "$t_measure")
  local failover_s=${gap#failover_s=}
  cat "$OUT"/*.tsv >"$OUT/all-acked.tsv"
  "$PROBE" check "${SERVERS[@]}" --acked "$OUT/all-acked.tsv" | tee "$OUT/$name.check"
  local check_rc=${PIPESTATUS[0]}
  local acked; acked=$(wc -l <"$OUT/$name.tsv")
  local lost; lost=$(sed -n 's/.* lost=\([0-9]*\).*/\1/p' "$OUT/$name.check" | tail -1)
  local ok=1
  [ "$rc" = 0 ] && [ "$check_rc" = 0 ] || ok=0
  awk -v f="$failover_s" -v m=$FAILOVER_MAX_S 'BEGIN { exit !(f != "none (no acknowledgement after the kill)" && f + 0 <= m) }' || ok=0
  if [ "$name" = both-standbys ] && [ "$(cat "$OUT/$name.blocked" 2>/dev/null || echo 1)" != 0 ]; then
    # strictly synchronous: with no standby, nothing may be acknowledged (a batch answered just
    # as the kill landed is the only tolerance: it was acknowledged before).
    [ "$(cat "$OUT/$name.blocked")" -le 80 ] || ok=0
  fi
  local line="scenario=$name failover_s=$failover_s acked=$acked lost=${lost:-?} result=$([ $ok = 1 ] && echo PASS || echo FAIL)"
  echo "$line"; summary+="$line"$'\n'
  if [ $ok = 1 ]; then passed=$((passed+1)); else failed=$((failed+1)); fi
}

for s in ${HA_SCENARIOS:-leader-node leader-patroni leader-sigstop sync-standby both-standbys}; do
  run_scenario "$s"
done
echo "=== failover results ($OUT)"
printf '%s' "$summary"
echo "summary passed=$passed failed=$failed"
[ "$failed" = 0 ]
