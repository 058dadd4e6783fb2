#!/usr/bin/env bash
# SIGTERM during a bulk import loses nothing acknowledged and applies nothing twice:
# ledgerd exits 0 after a clean stop, and after a restart re-importing the same file finds every
# row the first import had acknowledged already there (DUPLICATE), and books the rest once.
#   sigterm_test.sh LEDGERD LEDGERCTL SOURCE_DIR
set -euo pipefail
ledgerd=$1 ledgerctl=$2 src=$3
work=$(mktemp -d)
pid=""
cleanup() { [[ -n $pid ]] && kill -9 "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
rows=200000
port=$((20000 + RANDOM % 20000))
ctl() { "$ledgerctl" --server "127.0.0.1:$port" "$@"; }
start() {
  "$ledgerd" --data-dir "$work/data" --listen "127.0.0.1:$port" --insecure-plaintext \
    >>"$work/ledgerd.log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do
    ctl policy adopt "$src/deploy/policies/yanji-222401.json" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "FAIL: ledgerd did not start"; cat "$work/ledgerd.log"; exit 1
}

python3 "$src/tools/gen-collections.py" --rows $rows >"$work/c.csv"
start
ctl import --batch-size 500 "$work/c.csv" >"$work/import1.log" 2>&1 &
importer=$!
sleep 1
kill -TERM "$pid"
rc=0; wait "$pid" || rc=$?
pid=""
[[ $rc -eq 0 ]] || { echo "FAIL: ledgerd exited $rc after SIGTERM"; exit 1; }
grep -q "ledgerd stopped" "$work/ledgerd.log" || { echo "FAIL: no clean stop logged"; exit 1; }
wait "$importer" || true
# What the first import had acknowledged: all rows if it finished, else the rows before the line
# its error names ("rows before line N are committed"; line 1 is the header).
acknowledged=$rows
if line=$(grep -o "rows before line [0-9]*" "$work/import1.log"); then
  acknowledged=$(( ${line##* } - 2 ))
fi

start
ctl import "$work/c.csv" >"$work/import2.log" 2>&1 || true
summary=$(grep "^imported" "$work/import2.log")
duplicate=$(sed -E 's/.* duplicate=([0-9]+).*/\1/' <<<"$summary")
suspense=$(sed -E 's/.* suspense=([0-9]+).*/\1/' <<<"$summary")
rejected=$(sed -E 's/.* rejected=([0-9]+).*/\1/' <<<"$summary")
echo "acknowledged_before_sigterm=$acknowledged duplicate=$duplicate suspense=$suspense rejected=$rejected"
[[ $rejected -eq 0 ]] || { echo "FAIL: rows rejected"; exit 1; }
[[ $((duplicate + suspense)) -eq $rows ]] || { echo "FAIL: rows missing or applied twice"; exit 1; }
[[ $duplicate -ge $acknowledged ]] || { echo "FAIL: acknowledged rows were lost"; exit 1; }
kill -TERM "$pid"; wait "$pid"; pid=""
echo "PASS"
