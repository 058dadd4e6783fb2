#!/usr/bin/env bash
# SIGTERM during a bulk import loses nothing acknowledged and applies nothing twice:
# ledgerd exits 0 after a clean stop, and after a restart re-importing the same file finds every
# row the first import had acknowledged already there (DUPLICATE), and books the rest once.
#   sigterm_test.sh LEDGERD LEDGERCTL SOURCE_DIR
set -euo pipefail
ledgerd=$1 ledgerctl=$2 src=$3
source "$(dirname "$0")/lib.sh"
rows=200000
# ledgerd serving, with the demo policy (adopted once; a second adoption is a duplicate).
start() {
  start_ledgerd
  ctl policy adopt "$src/deploy/policies/yanji-222401.json" >/dev/null
}

python3 "$src/tools/gen-collections.py" --rows $rows >"$work/c.csv"
start
ctl import --batch-size 500 "$work/c.csv" >"$work/import1.log" 2>&1 &
importer=$!
sleep 1
kill -TERM "$pid"
rc=0; wait "$pid" || rc=$?
pid=""
[[ $rc -eq 0 ]] || fail "ledgerd exited $rc after SIGTERM"
grep -q "ledgerd stopped" "$work/ledgerd.log" || fail "no clean stop logged"
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
[[ $rejected -eq 0 ]] || fail "rows rejected"
[[ $((duplicate + suspense)) -eq $rows ]] || fail "rows missing or applied twice"
[[ $duplicate -ge $acknowledged ]] || fail "acknowledged rows were lost"
stop_ledgerd
echo "PASS"
