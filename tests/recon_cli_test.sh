#!/usr/bin/env bash
# The reconciliation end to end through the real binaries: ledgerd on a temporary data directory
# (plain text, loopback) and the demo policy. Collections over five months, the tax bureau's
# daily totals (one day matched, one in break with a receipt missing from the ledger, two not
# reported yet), a remittance swept income → special → payment, fiscal funds, bank interest and
# two bank statements (one in break). `ledgerctl recon` must show exactly those breaks;
# `ledgerctl recon --html` writes a self-contained report that headless Chromium renders (a
# screenshot is taken and must be a real image; the rendered page must carry the summary numbers).
# Corrections (a corrected report, a corrected statement) then clear every break.
# With RECON_ARTIFACTS=DIR the report and its screenshot are kept in DIR.
#   recon_cli_test.sh LEDGERD LEDGERCTL SOURCE_DIR
set -euo pipefail
ledgerd=$1 ledgerctl=$2 src=$3
source "$(dirname "$0")/lib.sh"

start_ledgerd
run policy adopt "$src/deploy/policies/yanji-222401.json" >/dev/null
A=$(cid 22240119610520011) B=$(cid 22240119700808033) C=$(cid 22240119800101022)
run enrol --id "$A" --name 金顺姬 --region 222401 --date 2017-01-10 >/dev/null
run enrol --id "$B" --name 朴哲 --region 222401 --date 2017-01-10 >/dev/null
run enrol --id "$C" --name 李明 --region 222401 --date 2017-01-10 >/dev/null
cat >"$work/collections.csv" <<CSV
receipt_number,citizen_id,name,region_code,contribution_year,amount_yuan,collection_date,tax_office,batch_id
R01,$A,金顺姬,222401,2025,500,2025-01-15,OFFICE1,TX1
R02,$B,朴哲,222401,2025,200,2025-01-15,OFFICE1,TX1
R03,$C,李明,222401,2025,100,2025-02-10,OFFICE1,TX2
R04,$A,金顺姬,222401,2024,500,2025-03-05,OFFICE2,TX3
R05,$B,朴哲,222401,2024,300,2025-04-20,OFFICE2,TX4
CSV
run import "$work/collections.csv" >/dev/null

# The tax bureau's control totals: 15 January agrees; 10 February lists R99, which never came.
out=$(run tax report-totals --region 222401 --date 2025-01-15 --office OFFICE1 --count 2 \
  --total 700 --receipts R01,R02 --ref TAX-20250115)
expect "$out" "status=RECON_STATUS_MATCHED ledger=2/700.00 reported=2/700.00 difference=0.00" "report 01-15"
out=$(run tax report-totals --region 222401 --date 2025-02-10 --office OFFICE1 --count 2 \
  --total 400 --receipts R03,R99 --ref TAX-20250210)
expect "$out" "status=RECON_STATUS_BREAK ledger=1/100.00 reported=2/400.00 difference=300.00 missing_in_ledger=1 not_reported=0" "report 02-10"
out=$(run tax report-totals --region 222401 --date 2025-02-10 --office OFFICE1 --count 2 \
  --total 400 --receipts R03,R99 --ref TAX-20250210)
expect "$out" "duplicate=true" "a resent report"

# The fund's money: remitted into income, swept to special, fiscal funds, then to payment.
run funds remit --region 222401 --account income --amount 1600 --office OFFICE1 --date 2025-04-30 --ref REM-1 >/dev/null
run funds sweep --region 222401 --from income --to special --amount 1600 --date 2025-05-02 --ref SW-1 >/dev/null
run funds receive --region 222401 --purpose contribution_subsidy --year 2025 --amount 1000 \
  --date 2025-05-10 --ref CZ-2025 >/dev/null
run funds sweep --region 222401 --from special --to payment --amount 500 --date 2025-05-20 --ref SW-2 >/dev/null
run funds bank-interest --region 222401 --account special --amount 1.23 --date 2025-06-21 --ref INT-1 >/dev/null
reject REASON_INSUFFICIENT_FUND_BALANCE funds sweep --region 222401 --from payment --to special \
  --amount 999 --date 2025-06-22 --ref SW-X
out=$(run funds balance --region 222401 --account special --as-of 2025-05-15)
expect "$out" "^222401 fund.special as_of=2025-05-15 balance=2600.00 " "special on 05-15"
out=$(run funds balance --region 222401 --account special)
expect "$out" "balance=2101.23 " "special now"
# Statements: special agrees on 31 May; payment is 50 yuan short.
run funds bank-balance --region 222401 --account special --balance 2100.00 --date 2025-05-31 --ref ST-S-0531 >/dev/null
run funds bank-balance --region 222401 --account payment --balance 450.00 --date 2025-05-31 --ref ST-P-0531 >/dev/null

out=$(run recon)
expect "$out" "^recon as_of_sequence=[0-9]+ breaks=2 tax_days=4 tax_days_matched=1 tax_days_in_break=1 tax_days_awaiting_report=2 tax_difference=300.00 fiscal_funds=1 fiscal_funds_in_break=0 bank_statements=2 bank_statements_in_break=1 regions=1 regions_in_break=0$" "recon summary"
expect "$out" "2025-02-10  222401  OFFICE1     BREAK" "the break's day"
expect "$out" "missing in ledger: R99" "the missing receipt"
expect "$out" "222401  contribution_subsidy  2025  MATCHED   received 1000.00  used 0.00  unused 1000.00" "fiscal funds"
expect "$out" "2025-05-31  222401  payment  BREAK     reported 450.00  ledger 500.00  difference -50.00" "payment statement"
expect "$out" "222401  MATCHED   accounts 3  sum of accounts 1600.00  control 1600.00  difference 0.00" "accounts vs control"
# A filter: one office, one day; an unknown day is empty, not an error.
out=$(run recon --office OFFICE2 --from 2025-03-01 --to 2025-03-31)
expect "$out" "tax_days=1 tax_days_matched=0 tax_days_in_break=0 tax_days_awaiting_report=1" "recon filtered"
out=$(run recon --from 2019-01-01 --to 2019-01-01)
expect "$out" " tax_days=0 " "recon of an unknown day"
out=$(ctl recon --from 2025-02-30 2>&1) && fail "recon --from 2025-02-30 succeeded: $out"
expect "$out" "INVALID_ARGUMENT|is not YYYY-MM-DD" "recon with a bad date"

# The HTML report: self-contained, summary first, the break highlighted, three charts.
html=$work/recon.html
out=$(run recon --html "$html")
expect "$out" "^recon as_of_sequence=[0-9]+ breaks=2 " "recon --html summary line"
expect "$out" "^html report: $html$" "recon --html path"
grep -q '<div class="cards" id="summary">' "$html" || fail "no summary in the report"
(( $(grep -o '<svg ' "$html" | wc -l) == 3 )) || fail "the report does not hold three charts"
(( $(grep -o '<tr class="break">' "$html" | wc -l) == 2 )) || fail "the report does not highlight two breaks"
if grep -qE '(src|href)=|@import|url\(' "$html"; then fail "the report refers to external assets"; fi
summary_pos=$(grep -b -o 'id="summary"' "$html" | cut -d: -f1)
charts_pos=$(grep -b -o '<svg ' "$html" | head -1 | cut -d: -f1)
(( summary_pos < charts_pos )) || fail "the summary is not on top"

# Rendered by headless Chromium: a screenshot, and the DOM it built holds the summary numbers.
browser=$(command -v chromium || command -v chromium-browser || true)
[[ -n $browser ]] || fail "chromium is not installed (tools/install-deps.sh installs it)"
chrome() {
  HOME=$work timeout 60 "$browser" --headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage \
    --no-first-run --hide-scrollbars --user-data-dir="$work/chromium" "$@" 2>>"$work/chromium.log"
}
chrome --window-size=1280,2200 --screenshot="$work/recon.png" "file://$html" >/dev/null ||
  fail "chromium could not take the screenshot: $(tail -5 "$work/chromium.log")"
[[ -s $work/recon.png ]] || fail "no screenshot"
python3 - "$work/recon.png" <<'PY' || fail "the screenshot is not a real rendering"
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
width, height = struct.unpack(">II", data[16:24])
assert width >= 1000 and height >= 1000, (width, height)
# Decompress the image data: a blank page compresses to almost nothing and has one colour.
idat, off = b"", 8
while off < len(data):
    length, kind = struct.unpack(">I4s", data[off:off + 8])
    if kind == b"IDAT":
        idat += data[off + 8:off + 8 + length]
    off += 12 + length
raw = zlib.decompress(idat)
distinct = len(set(raw[i:i + 3] for i in range(0, min(len(raw), 4_000_000), 997)))
assert len(data) > 20_000 and distinct > 20, (len(data), distinct)
print(f"screenshot {width}x{height}, {len(data)} bytes, {distinct} sampled colours", file=sys.stderr)
PY
dom=$(chrome --dump-dom "file://$html") || fail "chromium could not render the report"
for needle in '<div class="v">2</div><div class="l">breaks, all sections</div>' \
              '<div class="v">1 / 4</div><div class="l">tax days matched</div>' \
              '<div class="v">300.00</div><div class="l">tax difference (yuan)</div>' \
              '<div class="v">1 / 2</div><div class="l">bank statements in break</div>' \
              'Monthly collections held by the ledger' 'Month-end fund bank balances' \
              'Breaks per month'; do
  grep -qF -- "$needle" <<<"$dom" || fail "the rendered page lacks: $needle"
done
if [[ -n ${RECON_ARTIFACTS:-} ]]; then
  mkdir -p "$RECON_ARTIFACTS"
  cp "$html" "$work/recon.png" "$RECON_ARTIFACTS/"
  echo "report kept: $RECON_ARTIFACTS/recon.html $RECON_ARTIFACTS/recon.png" >&2
fi

# Corrections clear the breaks: the tax bureau's corrected report, the bank's corrected statement.
run tax report-totals --region 222401 --date 2025-02-10 --office OFFICE1 --count 1 --total 100 \
  --receipts R03 --ref TAX-20250210-C >/dev/null
run funds bank-balance --region 222401 --account payment --balance 500.00 --date 2025-05-31 --ref ST-P-0531-C >/dev/null
out=$(run recon)
expect "$out" " breaks=0 tax_days=4 tax_days_matched=2 tax_days_in_break=0 " "recon after the corrections"
# Still the same after a restart, and the projection replays from the log byte for byte.
stop_ledgerd
start_ledgerd
out2=$(run recon)
[[ $out2 == "$out" ]] || fail "the reconciliation changed across a restart"
out=$(run audit replay)
expect "$out" "^replay equal=true " "audit replay"
echo PASS
