#!/usr/bin/env bash
# A collection file with one row that is not UTF-8 (a name in GBK, as a tax bureau's export may
# well be) must not make `ledgerctl import` report success for rows it never imported: every row
# is either accounted for (accepted, duplicate, suspense or rejected with its line number) or the
# import fails, naming where to resume.
#
# Found here and fixed: CollectionCsv::ParseRow copied the name without checking it was UTF-8;
# protobuf then refused the whole stream message holding it, StreamCollections took the parse
# failure for the end of the stream and answered OK, and ledgerctl did not compare the outcomes
# with the rows sent ("rows=6 ... suspense=2 rejected=0", exit 0, four rows silently lost). Now
# the reader rejects the row (its line named) and ledgerctl checks every row has its outcome.
#   import_non_utf8_test.sh LEDGERD LEDGERCTL SOURCE_DIR
set -euo pipefail
ledgerd=$1 ledgerctl=$2 src=$3
source "$(dirname "$0")/../lib.sh"
start_ledgerd
ctl policy adopt "$src/deploy/policies/yanji-222401.json" >/dev/null

# Six rows of payers who are not enrolled (each goes to suspense); the third name is GBK.
python3 - "$work/c.csv" <<'EOF'
import sys
ids = ["222401199211207899", "22240119650315123X", "222401198001014568"]
rows = [b"receipt_number,citizen_id,name,region_code,contribution_year,amount_yuan,"
        b"collection_date,tax_office,batch_id"]
for i in range(6):
    name = "张三".encode("gbk" if i == 2 else "utf-8")
    rows.append(b"G%04d,%s,%s,222401,2025,100,2025-03-01,1,B" % (i, ids[i % 3].encode(), name))
open(sys.argv[1], "wb").write(b"\n".join(rows) + b"\n")
EOF

rc=0
out=$(ctl import --batch-size 2 "$work/c.csv" 2>&1) || rc=$?
echo "$out" | grep -v "^sent "
summary=$(grep "^imported" <<<"$out" || true)
if [[ -n $summary ]]; then
  [[ $rc -eq 0 || $(sed -E "s/.* rejected=([0-9]+).*/\1/" <<<"$summary") -gt 0 ]] || fail "exit $rc without rejected rows"
  n() { sed -E "s/.* $1=([0-9]+).*/\1/" <<<"$summary"; }
  accounted=$(($(n accepted) + $(n duplicate) + $(n suspense) + $(n rejected)))
  [[ $accounted -eq $(n rows) ]] ||
    fail "exit 0 but only $accounted of $(n rows) rows are accounted for"
  [[ $(n rejected) -ge 1 ]] || fail "the GBK row was not rejected"
else
  # A failed import must say where to resume.
  grep -q "rows before line" <<<"$out" || fail "import failed without saying where to resume"
fi
# Whatever was reported committed is in the log, and nothing else.
events=$(ctl audit events --type contribution_collected | wc -l)
if [[ -n $summary ]]; then
  [[ $events -eq $(($(n accepted) + $(n suspense))) ]] ||
    fail "$events collections in the log, $(($(n accepted) + $(n suspense))) reported"
fi
kill -TERM "$pid"
wait "$pid" || true
pid=""
echo "PASS"
