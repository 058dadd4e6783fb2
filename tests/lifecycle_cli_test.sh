#!/usr/bin/env bash
# The account lifecycle end to end through the real binaries: ledgerd on a temporary data
# directory (plain text, loopback) and every lifecycle command of ledgerctl, with the demo policy
# (deploy/policies/yanji-222401.json) and a copy of it for a second region.
#
# Participant A (born 1961-05-20, turns 60 in 2021): the transition rule asks for
# min(15, 2021 - 2009) = 12 contribution years, which 2014-2025 give. A pays the 500-yuan tier
# every year, gets the government subsidy (60 yuan a year) and interest, a collective subsidy,
# draws a pension from 2026-02 (suspended and resumed once), dies in 2026-06 with July already
# paid, and the 2026 statement shows the account settled to zero. Participant C transfers to
# region 222402 and back in within this ledger, then settles abroad (termination); Y (too young)
# is refused a pension.
# Every date is fixed and in the past, so the run does not depend on the day it runs.
#   lifecycle_cli_test.sh LEDGERD LEDGERCTL SOURCE_DIR
set -euo pipefail
ledgerd=$1 ledgerctl=$2 src=$3
source "$(dirname "$0")/lib.sh"
# The account's total (yuan) from `ledgerctl account`.
total_of() { run account "$1" | sed -nE 's/^total +([0-9.]+) yuan$/\1/p'; }

start_ledgerd

# Policies: the demo policy, and the same rules for the neighbouring region 222402.
sed 's/"222401"/"222402"/; s/延吉市/图们市/' "$src/deploy/policies/yanji-222401.json" >"$work/222402.json"
run policy adopt "$src/deploy/policies/yanji-222401.json" >/dev/null
run policy adopt "$work/222402.json" >/dev/null

A=$(cid 22240119610520011) C=$(cid 22240119700808033) Y=$(cid 22240119900101022)
out=$(run policy adopt "$src/deploy/policies/yanji-222401.json")
expect "$out" "^already adopted: policy 222401 v2 \(延吉市\) from 2026-01-01 at sequence 2$" \
  "the demo policy's two versions, adopted again: duplicates"
run enrol --id "$A" --name 金顺姬 --region 222401 --date 2014-01-10 --attest eligible >/dev/null
expect "$(run account "$A")" "^eligibility +eligible$" "A's attested eligibility"
# 延吉细则 第三条: a student (a public servant, a member of the employees' scheme) does not enrol.
reject REASON_EXCLUDED_FROM_SCHEME enrol --id "$(cid 22240119950101044)" --name 学生 \
  --region 222401 --date 2014-01-10 --attest student
run enrol --id "$C" --name 朴哲 --region 222401 --date 2014-01-10 >/dev/null
run enrol --id "$Y" --name 李明 --region 222401 --date 2014-01-10 >/dev/null

# Year by year, in the order an agency works: the tax bureau's collection file, the treasury's
# subsidy funds, the government subsidy job (1 December), the interest job (31 December).
# Collections: A every year; a second 2025 receipt for A (suspense: year already paid; refunded
# below); C for 2024; Y for 2025.
header="receipt_number,citizen_id,name,region_code,contribution_year,amount_yuan,collection_date,tax_office,batch_id"
for y in $(seq 2014 2025); do
  {
    echo "$header"
    echo "A$y,$A,金顺姬,222401,$y,500,$y-03-15,12224010000,TX$y"
    if [[ $y == 2024 ]]; then echo "C2024,$C,朴哲,222401,2024,200,2024-05-01,12224010000,TX2024"; fi
    if [[ $y == 2025 ]]; then
      echo "A2025DUP,$A,金顺姬,222401,2025,300,2025-04-02,12224010000,TX2025"
      echo "Y2025,$Y,李明,222401,2025,100,2025-05-01,12224010000,TX2025"
    fi
  } >"$work/collections-$y.csv"
  out=$(run import "$work/collections-$y.csv")
  case $y in
    2024) want="rows=2 accepted=2 duplicate=0 suspense=0 rejected=0" ;;
    2025) want="rows=3 accepted=2 duplicate=0 suspense=1 rejected=0" ;;
    *) want="rows=1 accepted=1 duplicate=0 suspense=0 rejected=0" ;;
  esac
  expect "$out" "$want" "import $y"

  out=$(run funds receive --region 222401 --purpose contribution_subsidy --year "$y" \
    --amount 1000 --date "$y-06-01" --ref "CZ-CS-$y")
  expect "$out" "^funds received: sequence=[0-9]+\.\.[0-9]+$" "funds receive $y"
  out=$(run job run --kind government_subsidy --region 222401 --period "$y" --date "$y-12-01")
  case $y in
    2024) want="accounts_credited=2 total=95.00" ;;  # A 60 + C (200 tier) 35
    2025) want="accounts_credited=2 total=90.00" ;;  # A 60 + Y (100 tier) 30
    *) want="accounts_credited=1 total=60.00" ;;
  esac
  expect "$out" "^job=government_subsidy region=222401 period=$y completed=true $want seconds=" \
    "subsidy job $y"

  # Interest. 2014: 500 yuan from March at 3.00% = 500 × 3% × 9/12 = 11.25 (the subsidy,
  # credited in December, earns nothing that year).
  out=$(run job run --kind interest --region 222401 --period "$y")
  expect "$out" "^job=interest region=222401 period=$y completed=true" "interest job $y"
  if [[ $y == 2014 ]]; then expect "$out" "accounts_credited=1 total=11.25 " "interest 2014"; fi
done
out=$(run funds receive --region 222401 --purpose contribution_subsidy --year 2014 \
  --amount 1000 --date 2014-06-01 --ref CZ-CS-2014)
expect "$out" "duplicate=true" "a resent fiscal receipt is a duplicate"
out=$(run funds balances --region 222401)
expect "$out" "^fiscal_funds/contribution_subsidy/2014=-940.00$" "fiscal fund 2014 after the subsidy"
expect "$out" "^fiscal_funds/contribution_subsidy/2024=-905.00$" "fiscal fund 2024 after the subsidy"
expect "$out" "^suspense=-300.00$" "suspense holds the second 2025 receipt"
[[ $(LC_ALL=C sort <<<"$out") == "$out" ]] || fail "funds balances is not sorted"
out=$(run job run --kind interest --region 222401 --period 2025)
expect "$out" "completed=true accounts_credited=0 total=0.00 " "a completed interest year runs again as a no-op"
statement_2014=$(run statement "$A" --year 2014)
expect "$statement_2014" "^movements \(3\)$" "2014: contribution, subsidy, interest"
expect "$statement_2014" "^interest +11.25$" "2014 statement interest"
expect "$statement_2014" "^  total +571.25$" "2014 statement closing (500 + 60 + 11.25)"
total_2025=$(total_of "$A")
[[ -n $total_2025 ]] || fail "no total for A"

# 2026: collective subsidy for 2025 (a resend is a duplicate; the same reference for a
# different command is a conflict), refund of the suspense receipt.
out=$(run subsidy credit "$A" --year 2025 --amount 200 --source collective --payer 依兰镇光明村 \
  --date 2026-01-20 --ref JT-2026-001)
expect "$out" "^subsidy credited: sequence=[0-9]+\.\.[0-9]+$" "collective subsidy"
again=$(run subsidy credit "$A" --year 2025 --amount 200 --source collective --payer 依兰镇光明村 \
  --date 2026-01-20 --ref JT-2026-001)
[[ $again == "$out duplicate=true" ]] || fail "resend: expected '$out duplicate=true', got '$again'"
reject REASON_DUPLICATE_REFERENCE_CONFLICT subsidy credit "$A" --year 2025 --amount 300 \
  --source collective --payer 依兰镇光明村 --date 2026-01-20 --ref JT-2026-001
reject REASON_OVER_CAP subsidy credit "$A" --year 2025 --amount 5000 --source sponsorship \
  --payer 延边慈善会 --date 2026-01-21 --ref JT-2026-002
out=$(run refund A2025DUP --reason other --date 2026-01-25 --ref TK-2026-001)
expect "$out" "^refunded: sequence=" "refund"
expect "$(run funds balances --region 222401)" "^suspense=0.00$" "suspense after the refund"

# C moves to 222402 and arrives there (within this ledger: balance and years travel).
total_c=$(total_of "$C")
expect "$(run transfer out "$C" --to-region 222402 --date 2026-03-01 --ref ZY-2026-001)" \
  "^transferred out: sequence=" "transfer out"
expect "$(run account "$C")" "^status +TRANSFERRED_OUT$" "C after transfer out"
expect "$(run transfer in "$C" --from-region 222401 --to-region 222402 --date 2026-03-05 \
  --ref ZR-2026-001)" "^transferred in: sequence=" "transfer in"
out=$(run account "$C")
expect "$out" "^region +222402$" "C's region after transfer in"
# The transfer out first credits the 2026 interest to the date of the transfer (January to March).
interest_c=$(run statement "$C" --year 2026 | sed -nE 's/^interest +//p')
(( $(fen "$interest_c") > 0 )) || fail "no interest to the date of the transfer: $interest_c"
expect "$out" "^total +$(yuan $(( $(fen "$total_c") + $(fen "$interest_c") ))) yuan$" \
  "C's balance travelled with C, with its interest to the date"
# C settles abroad (关系注销, issue 16 point 5): the interest to the date, the government money
# (credited in 222401, so none of it to a 222402 fund) to the pool, the rest refunded.
expect "$(run terminate "$C" --reason settled-abroad --date 2026-04-01 --ref ZX-2026-001)" \
  "^terminated: sequence=" "terminate"
out=$(run account "$C")
expect "$out" "^status +TERMINATED$" "C after termination"
expect "$out" "^terminated +2026-04-01 \(SETTLED_ABROAD\), document ZX-2026-001$" "termination shown"
expect "$out" "^total +0.00 yuan$" "C's account is settled"
text_c=$(run statement "$C" --year 2026)
expect "$text_c" " termination_balance_paid +ZX-2026-001 " "refund line"
expect "$text_c" " termination_subsidy_returned +ZX-2026-001 " "government money line"
reject REASON_WRONG_STATE terminate "$C" --reason employee-scheme --date 2026-04-02 --ref ZX-2026-002

# Benefits: Y is too young; A is determined from February 2026.
reject REASON_NOT_ELIGIBLE benefit determine "$Y" --date 2026-02-10 --ref DY-2026-000
expect "$(run benefit determine "$A" --date 2026-02-10 --ref DY-2026-001)" \
  "^benefit determined: sequence=" "determine"
balance=$(( $(fen "$total_2025") + 20000 ))
monthly=$(yuan $(( (2 * balance + 139) / 278 )))  # balance / 139, rounded half up
out=$(run account "$A")
expect "$out" "^status +DRAWING_PENSION$" "A after determination"
expect "$out" "^benefit from +202602$" "pension start month"
expect "$out" "^account pension +$monthly yuan/month \(balance $(yuan $balance) at start, 12 contribution years\)$" \
  "account pension = balance / 139"
reject REASON_INSUFFICIENT_FISCAL_FUNDS job run --kind benefits --region 222401 --period 202602 \
  --date 2026-02-25
run funds receive --region 222401 --purpose basic_pension --year 2026 --amount 10000 \
  --date 2026-02-20 --ref CZ-BP-2026 >/dev/null
# The payment account pays benefits and funeral subsidies: nothing is paid until money is swept in.
reject REASON_INSUFFICIENT_PAYMENT_ACCOUNT job run --kind benefits --region 222401 --period 202602 \
  --date 2026-02-25
expect "$(run funds sweep --region 222401 --from special --to payment --amount 10000 \
  --date 2026-02-20 --ref ZF-2026-001)" "^swept: sequence=" "sweep into the payment account"
month_total=$(yuan $(( 15300 + $(fen "$monthly") )))  # basic 143 + 10 local, + account pension
out=$(run job run --kind benefits --region 222401 --period 202602 --date 2026-02-25)
expect "$out" "period=202602 completed=true accounts_credited=1 total=$month_total " "benefits 202602"
reject REASON_PERIOD_OUT_OF_ORDER job run --kind benefits --region 222401 --period 202604 \
  --date 2026-04-25
run job run --kind benefits --region 222401 --period 202603 --date 2026-03-25 >/dev/null
expect "$(run benefit suspend "$A" --from-month 202604 --reason "residence check" --date 2026-03-28 \
  --ref ZT-2026-001)" "^benefit suspended: sequence=" "suspend"
out=$(run job run --kind benefits --region 222401 --period 202604 --date 2026-04-25)
expect "$out" "completed=true accounts_credited=0 total=0.00 " "nothing paid while suspended"
expect "$(run benefit resume "$A" --month 202605 --date 2026-05-10 --ref HF-2026-001)" \
  "^benefit resumed: sequence=" "resume"
out=$(run job run --kind benefits --region 222401 --period 202605 --date 2026-05-25)
expect "$out" "completed=true accounts_credited=1 total=$(yuan $(( 2 * $(fen "$month_total") ))) " \
  "April (back pay) and May"
run job run --kind benefits --region 222401 --period 202606 --date 2026-06-25 >/dev/null
run job run --kind benefits --region 222401 --period 202607 --date 2026-07-01 >/dev/null

# Death in June, recorded in July: July's payment is an overpayment offset against the estate.
expect "$(run death "$A" --date-of-death 2026-06-15 --date 2026-07-10 --ref SW-2026-001)" \
  "^death recorded: sequence=" "death"
out=$(run account "$A")
expect "$out" "^status +DECEASED$" "A after death"
expect "$out" "^total +0.00 yuan$" "A's account is settled"
reject REASON_WRONG_STATE death "$A" --date-of-death 2026-06-15 --date 2026-07-11 --ref SW-2026-002

# The 2026 statement: opening = the balance at the end of 2025; six payments, the interest to
# the date of death (January to June), the overpayment returned, the inheritance; closing zero.
text=$(run statement "$A" --year 2026)
expect "$text" "^citizen_id +2224\*{10}${A:14:4}$" "masked citizen ID"
grep -qF "$A" <<<"$text" && fail "the statement shows the unmasked citizen ID"
expect "$text" "^name +金顺姬$" "name"
expect "$text" "^region +222401$" "region"
expect "$text" "^movements \(10\)$" "10 movements"
[[ $(grep -c " benefit_paid " <<<"$text") -eq 6 ]] || fail "expected 6 benefit_paid lines"
expect "$text" " collective_subsidy_credited +JT-2026-001 " "collective subsidy line"
expect "$text" " benefit_overpayment_recognized +SW-2026-001 " "overpayment line"
expect "$text" " inheritance_paid +SW-2026-001 " "inheritance line"
expect "$text" " interest_accrued +SW-2026-001 " "interest to the date of death line"
interest=$(sed -nE 's/^interest +//p' <<<"$text")
(( $(fen "$interest") > 0 )) || fail "no interest to the date of death: $interest"
expect "$text" "^paid out +$(yuan $(( balance + $(fen "$interest") )))$" \
  "paid out = 6 payments - 1 returned + the estate = everything the account held, with its interest"
opening=$(sed -n '/^opening balance/,/^  total/p' <<<"$text" | sed -nE 's/^  total +//p')
closing=$(sed -n '/^closing balance/,/^  total/p' <<<"$text" | sed -nE 's/^  total +//p')
[[ $opening == "$total_2025" ]] || fail "opening $opening != end-of-2025 balance $total_2025"
[[ $closing == 0.00 ]] || fail "closing $closing != 0.00"

csv=$(run statement "$A" --year 2026 --csv)
[[ $(head -1 <<<"$csv") == "date,sequence,kind,reference,personal,government,collective,sponsorship,transfer_in,total" ]] ||
  fail "CSV header: $(head -1 <<<"$csv")"
expect "$(sed -n 2p <<<"$csv")" "^2026-01-01,,opening,,[0-9.]+,[0-9.]+,0.00,0.00,0.00,$total_2025$" "CSV opening row"
expect "$(tail -1 <<<"$csv")" "^2026-12-31,,closing,,0.00,0.00,0.00,0.00,0.00,0.00$" "CSV closing row"
[[ $(wc -l <<<"$csv") -eq 13 ]] || fail "CSV: expected header + opening + 10 lines + closing"
# Every row's sources add up to its total, and opening + movements = closing, in fen.
python3 - "$csv" <<'EOF' || fail "CSV arithmetic"
import csv, io, sys
rows = list(csv.DictReader(io.StringIO(sys.argv[1])))
fen = lambda s: int(s.replace(".", ""))
sources = ["personal", "government", "collective", "sponsorship", "transfer_in"]
for r in rows:
    assert sum(fen(r[s]) for s in sources) == fen(r["total"]), r
for s in sources + ["total"]:
    assert fen(rows[0][s]) + sum(fen(r[s]) for r in rows[1:-1]) == fen(rows[-1][s]), s
EOF

# Issue 16 point 8: the Chongqing demo policy's village cadre program (忠县, 500233). Q served as
# 村委会主任 from 2020 to 30 June 2025, paid the 2025 contribution, and is credited 900 yuan in
# March 2026 from the program's fiscal funds once they arrived, as collective subsidy.
run policy adopt "$src/deploy/policies/chongqing-500233.json" >/dev/null
Q=$(cid 50023319700303044)
run enrol --id "$Q" --name 冉光明 --region 500233 --date 2020-06-01 >/dev/null
out=$(run subsidy cadre-role "$Q" --from 2020-01-01 --to 2025-06-30 --post 村委会主任 \
  --date 2026-01-20 --ref ZX-ROLE-1)
expect "$out" "^cadre role recorded: sequence=[0-9]+\.\.[0-9]+$" "cadre role"
{ echo "$header"; echo "Q2025,$Q,冉光明,500233,2025,100,2025-11-10,15002330000,TXQ2025"; } >"$work/q.csv"
expect "$(run import "$work/q.csv")" "rows=1 accepted=1" "import Q 2025"
reject REASON_INSUFFICIENT_FISCAL_FUNDS subsidy cadre-credit "$Q" --year 2025 --amount 900 \
  --date 2026-03-10 --ref ZX-CADRE-2025
run funds receive --region 500233 --purpose cadre_subsidy --year 2025 --amount 900 \
  --date 2026-02-25 --ref ZX-CZ-2025 >/dev/null
reject REASON_CADRE_AMOUNT_MISMATCH subsidy cadre-credit "$Q" --year 2025 --amount 800 \
  --date 2026-03-10 --ref ZX-CADRE-X
out=$(run subsidy cadre-credit "$Q" --year 2025 --amount 900 --date 2026-03-10 --ref ZX-CADRE-2025)
expect "$out" "^cadre subsidy credited: sequence=[0-9]+\.\.[0-9]+$" "cadre credit"
acct=$(run account "$Q")
expect "$acct" "^  cadre role  2020-01-01 to 2025-06-30  村委会主任  \(ref ZX-ROLE-1\)$" "cadre role shown"
expect "$acct" "^  cadre subsidy 2025  900.00 collective \(.*, fiscal funds CADRE_SUBSIDY 2025, ref ZX-CADRE-2025\)$" \
  "cadre subsidy shown with its source"
expect "$acct" "^  collective +900.00 " "collective balance"
expect "$(run statement "$Q" --year 2026)" " cadre_subsidy_credited +ZX-CADRE-2025 " "cadre statement line"

echo "----- ledgerctl statement <A> --year 2026 -----"
echo "$text"
stop_ledgerd
echo "PASS"
