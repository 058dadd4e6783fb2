#!/usr/bin/env bash
# A replicated ledger on one machine, for trying it and for tests/ha/failover.sh: three etcd 3.4
# members, three PostgreSQL 15 nodes managed by Patroni 3.0.2 (synchronous_mode_strict, one
# synchronous standby) and three ledgerd (log.backend = postgres, each following its own
# Patroni), all on 127.0.0.1. Plain-text gRPC: loopback only (deploy/ha/README.md says how
# the three-machine deployment differs).
#
#   deploy/ha/local-cluster.sh up      start everything (fails if $LEDGER_HA_BASE exists)
#   deploy/ha/local-cluster.sh down    stop everything by PID and remove $LEDGER_HA_BASE
#   deploy/ha/local-cluster.sh status  patronictl list, and each ledgerd's role
#   deploy/ha/local-cluster.sh start-node N | kill-node N    (used by the failover tests)
#
# Node n (1..3): etcd client port 12379+10000(n-1) (peer +1), PostgreSQL 544n, Patroni REST
# 844n, ledgerd 5006n. Data and logs under $LEDGER_HA_BASE (default /tmp/ledger-ha).
# Needs: etcd-server etcd-client patroni postgresql-15 (tools/install-deps.sh --ha), a built
# ledgerd ($LEDGERD, default build/services/ledgerd). Run as root (the servers then run as the
# `postgres` user) or as an ordinary user.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BASE=${LEDGER_HA_BASE:-/tmp/ledger-ha}
LEDGERD=${LEDGERD:-$ROOT/build/services/ledgerd}
PGBIN=/usr/lib/postgresql/15/bin
NODES="1 2 3"
# Failover timing (Patroni requires loop_wait + 2 * retry_timeout <= ttl). Measured by the
# prototype on this kind of machine: a new leader 14-18 s after the old one's death, writes
# back 16-20 s after it. wal_retrieve_retry_interval 1 s (default 5 s) saves up to 10 s there.
TTL=${HA_TTL:-15}
LOOP_WAIT=${HA_LOOP_WAIT:-2}
RETRY_TIMEOUT=${HA_RETRY_TIMEOUT:-5}

etcd_port() { echo $((12379 + 10000 * ($1 - 1))); }
etcd_peer_port() { echo $((12380 + 10000 * ($1 - 1))); }
pg_port() { echo $((5440 + $1)); }
rest_port() { echo $((8440 + $1)); }
ledgerd_port() { echo $((50060 + $1)); }
ETCD_ENDPOINTS=127.0.0.1:12379,127.0.0.1:22379,127.0.0.1:32379
ETCD_CLUSTER=e1=http://127.0.0.1:12380,e2=http://127.0.0.1:22380,e3=http://127.0.0.1:32380
PEERS=pg1=127.0.0.1:50061,pg2=127.0.0.1:50062,pg3=127.0.0.1:50063

# The servers run as `postgres` when we are root (PostgreSQL refuses to run as root).
as_db() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
spawn() {  # spawn NAME COMMAND...: in its own session, output to logs/NAME.log, pid to pids/NAME
  local name=$1; shift
  as_db bash -c 'exec setsid "$@" >>"'"$BASE/logs/$name.log"'" 2>&1 & echo $! >"'"$BASE/pids/$name"'"' _ "$@"
}
spawn_ledgerd() {  # ledgerd runs as the invoking user
  local n=$1
  setsid "$LEDGERD" --data-dir "$BASE/ledgerd$n" --listen 127.0.0.1:$(ledgerd_port $n) \
    --insecure-plaintext --metrics-listen "" --log-backend postgres \
    --postgres-conninfo "host=127.0.0.1 port=$(pg_port $n) user=postgres dbname=postgres connect_timeout=2" \
    --patroni-url http://127.0.0.1:$(rest_port $n) --ha-peers "$PEERS" \
    >>"$BASE/logs/ledgerd$n.log" 2>&1 &
  echo $! >"$BASE/pids/ledgerd$n"
}
pid_of() { cat "$BASE/pids/$1" 2>/dev/null || true; }
stop_pid() {  # TERM, then KILL after 20 s
  local p=$1; [ -n "$p" ] && kill -0 "$p" 2>/dev/null || return 0
  kill -TERM "$p" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || return 0; sleep 0.2; done
  kill -KILL "$p" 2>/dev/null || true
}
patronictl_list() { patronictl -c "$BASE/patroni1.yml" list 2>/dev/null || true; }

start_etcd() {
  local n=$1
  spawn etcd$n /usr/bin/etcd --name e$n --data-dir "$BASE/etcd$n" \
    --listen-client-urls http://127.0.0.1:$(etcd_port $n) \
    --advertise-client-urls http://127.0.0.1:$(etcd_port $n) \
    --listen-peer-urls http://127.0.0.1:$(etcd_peer_port $n) \
    --initial-advertise-peer-urls http://127.0.0.1:$(etcd_peer_port $n) \
    --initial-cluster $ETCD_CLUSTER --initial-cluster-state new --initial-cluster-token ledger-ha \
    --heartbeat-interval 100 --election-timeout 1000 --enable-v2=true
}

write_patroni_config() {
  local n=$1
  # The settings and why: deploy/ha/patroni.yml (the three-machine template) explains each.
  cat >"$BASE/patroni$n.yml" <<YML
scope: ledger
namespace: /ledger-ha/
name: pg$n
restapi:
  listen: 127.0.0.1:$(rest_port $n)
  connect_address: 127.0.0.1:$(rest_port $n)
etcd:   # the v2 API: see deploy/ha/patroni.yml for why not etcd3
  hosts: $ETCD_ENDPOINTS
bootstrap:
  dcs:
    ttl: $TTL
    loop_wait: $LOOP_WAIT
    retry_timeout: $RETRY_TIMEOUT
    maximum_lag_on_failover: 1048576
    synchronous_mode: true
    synchronous_mode_strict: true
    synchronous_node_count: 1
    failsafe_mode: true
    postgresql:
      use_pg_rewind: true
      use_slots: true
      parameters:
        wal_level: replica
        hot_standby: 'on'
        wal_log_hints: 'on'
        synchronous_commit: 'on'
        fsync: 'on'
        full_page_writes: 'on'
        max_wal_senders: 10
        max_replication_slots: 10
        max_connections: 60
        shared_buffers: 128MB
        max_wal_size: 2GB
        wal_retrieve_retry_interval: 1s
  initdb:
  - encoding: UTF8
  - data-checksums
postgresql:
  listen: 127.0.0.1:$(pg_port $n)
  connect_address: 127.0.0.1:$(pg_port $n)
  data_dir: $BASE/pg$n
  bin_dir: $PGBIN
  pgpass: $BASE/pgpass$n
  authentication:
    replication: {username: replicator, password: rep-pass}
    superuser: {username: postgres, password: su-pass}
    rewind: {username: rewind_user, password: rw-pass}
  parameters:
    unix_socket_directories: $BASE/sock$n
  pg_hba:
  - local all all trust
  - host replication replicator 127.0.0.1/32 trust
  - host all all 127.0.0.1/32 trust
watchdog:
  mode: off   # loopback trial: no /dev/watchdog; deploy/ha/patroni.yml requires one
tags: {nofailover: false, noloadbalance: false, clonefrom: false, nosync: false}
YML
}

start_node() {  # etcd, Patroni, ledgerd of node n (after a kill-node: the node comes back)
  local n=$1
  kill -0 "$(pid_of etcd$n)" 2>/dev/null || start_etcd "$n"
  kill -0 "$(pid_of patroni$n)" 2>/dev/null || spawn patroni$n /usr/bin/patroni "$BASE/patroni$n.yml"
  kill -0 "$(pid_of ledgerd$n)" 2>/dev/null || spawn_ledgerd "$n"
}

kill_node() {  # kill -9 of a whole node: ledgerd, Patroni, the postmaster and its backends, etcd
  local n=$1 pm=""
  [ -f "$BASE/pg$n/postmaster.pid" ] && pm=$(head -1 "$BASE/pg$n/postmaster.pid")
  local kids=""; [ -n "$pm" ] && kids=$(ps -o pid= --ppid "$pm" || true)
  kill -9 $(pid_of ledgerd$n) $(pid_of patroni$n) $pm $kids $(pid_of etcd$n) 2>/dev/null || true
}

wait_cluster() {  # a leader, a synchronous standby, three members running
  for _ in $(seq 180); do
    out=$(patronictl_list)
    if echo "$out" | grep -q "Leader.*running" && echo "$out" | grep -Eq "Sync Standby.*(running|streaming)" \
       && [ "$(echo "$out" | grep -Ec "\| (running|streaming) ")" -ge 3 ]; then return 0; fi
    sleep 1
  done
  echo "local-cluster: the cluster did not come up; see $BASE/logs" >&2; patronictl_list >&2; return 1
}

up() {
  [ -x "$LEDGERD" ] || { echo "local-cluster: no ledgerd at $LEDGERD (build first)" >&2; exit 1; }
  [ -e "$BASE" ] && { echo "local-cluster: $BASE exists; run '$0 down' first" >&2; exit 1; }
  mkdir -p "$BASE"/{pids,logs}
  for n in $NODES; do mkdir -p "$BASE/etcd$n" "$BASE/sock$n"; write_patroni_config $n; done
  [ "$(id -u)" = 0 ] && chown -R postgres:postgres "$BASE" && chmod 0777 "$BASE/pids" "$BASE/logs"
  for n in $NODES; do start_etcd $n; done
  for _ in $(seq 50); do ETCDCTL_API=3 etcdctl --endpoints=$ETCD_ENDPOINTS endpoint health >/dev/null 2>&1 && break; sleep 0.2; done
  for n in $NODES; do
    spawn patroni$n /usr/bin/patroni "$BASE/patroni$n.yml"
    [ $n = 1 ] && sleep 3   # let pg1 bootstrap first (any node may win; this makes it usual)
  done
  wait_cluster
  for n in $NODES; do spawn_ledgerd $n; done
  for n in $NODES; do
    for _ in $(seq 100); do grep -q "ledgerd serving" "$BASE/logs/ledgerd$n.log" 2>/dev/null && break; sleep 0.2; done
  done
  status
  echo "local-cluster: up; ledgerd on 127.0.0.1:50061,50062,50063; '$0 down' stops it"
}

status() {
  patronictl_list
  for n in $NODES; do
    role=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 http://127.0.0.1:$(rest_port $n)/primary || true)
    printf 'node %s: ledgerd 127.0.0.1:%s pid %s, Patroni /primary %s\n' $n $(ledgerd_port $n) \
      "$(pid_of ledgerd$n)" "$role"
  done
}

down() {
  for n in $NODES; do stop_pid "$(pid_of ledgerd$n)"; done
  for n in $NODES; do stop_pid "$(pid_of patroni$n)"; done
  for n in $NODES; do  # a postmaster orphaned by a killed Patroni is still ours
    f=$BASE/pg$n/postmaster.pid; [ -f "$f" ] && stop_pid "$(head -1 "$f")"; done
  for n in $NODES; do stop_pid "$(pid_of etcd$n)"; done
  rm -rf "$BASE"
  echo "local-cluster: down"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  start-node) start_node "$2" ;;
  kill-node) kill_node "$2" ;;
  *) echo "usage: $0 up|down|status|start-node N|kill-node N" >&2; exit 2 ;;
esac
