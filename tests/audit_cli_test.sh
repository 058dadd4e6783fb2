#!/usr/bin/env bash
# The auditor's command line end to end through the real binaries: ledgerd on a temporary data
# directory (plain text, loopback) signing a checkpoint every 5 events with a key made by
# deploy/tls/make-checkpoint-key.sh; `ledgerctl export` and the offline `ledgerctl verify`, which
# must pass on the export and fail (exit 2, naming the exact sequence) on tampered copies of it:
# a byte changed inside an event, a truncated record, two events swapped, a missing event, and
# the wrong public key. Then the server-side audit reads: verify-chain, replay (also after a
# restart), balance as of a date and now (equal to `ledgerctl account`), and the event listing.
#   audit_cli_test.sh LEDGERD LEDGERCTL SOURCE_DIR
set -euo pipefail
ledgerd=$1 ledgerctl=$2 src=$3
source "$(dirname "$0")/lib.sh"
start() {
  start_ledgerd --checkpoint-key "$work/keys/checkpoint.key" --checkpoint-interval 5
}
stop() { stop_ledgerd; }

# The deployment's checkpoint key, and an unrelated one (an impostor's, or last year's).
bash "$src/deploy/tls/make-checkpoint-key.sh" "$work/keys" >/dev/null
bash "$src/deploy/tls/make-checkpoint-key.sh" "$work/other" >/dev/null
[[ $(stat -c %a "$work/keys/checkpoint.key") == 600 ]] || fail "checkpoint.key is not mode 0600"
before=$(sha256sum <"$work/keys/checkpoint.key")
bash "$src/deploy/tls/make-checkpoint-key.sh" "$work/keys" >/dev/null
[[ $(sha256sum <"$work/keys/checkpoint.key") == "$before" ]] || fail "make-checkpoint-key.sh replaced an existing key"

start
grep -q "signing a checkpoint every 5 events" "$work/ledgerd.log" || fail "ledgerd does not sign checkpoints"
run policy adopt "$src/deploy/policies/yanji-222401.json" >/dev/null
A=$(cid 22240119610520011) B=$(cid 22240119700808033) C=$(cid 22240119800101022) D=$(cid 22240119851111044)
run enrol --id "$A" --name 金顺姬 --region 222401 --date 2017-01-10 >/dev/null
run enrol --id "$B" --name 朴哲 --region 222401 --date 2017-01-10 >/dev/null
run enrol --id "$C" --name 李明 --region 222401 --date 2017-01-10 >/dev/null
run enrol --id "$D" --name 崔英 --region 222401 --date 2017-01-10 >/dev/null
# Collections 2018-2025, one file a year (one stream, a few commits each): A pays 500 every year.
header="receipt_number,citizen_id,name,region_code,contribution_year,amount_yuan,collection_date,tax_office,batch_id"
for y in $(seq 2018 2025); do
  {
    echo "$header"
    echo "RA$y,$A,金顺姬,222401,$y,500,$y-03-15,12224010000,TX$y"
    echo "RB$y,$B,朴哲,222401,$y,200,$y-03-16,12224010000,TX$y"
    echo "RC$y,$C,李明,222401,$y,100,$y-04-01,12224010000,TX$y"
    if (( y % 2 == 0 )); then echo "RD$y,$D,崔英,222401,$y,300,$y-05-01,12224010000,TX$y"; fi
  } >"$work/collections-$y.csv"
  run import --batch-size 2 "$work/collections-$y.csv" >/dev/null
done
run funds receive --region 222401 --purpose contribution_subsidy --year 2025 --amount 1000 \
  --date 2025-06-01 --ref CZ-CS-2025 >/dev/null
# The 2025 government subsidy, and interest for every year (posted 31 December), so balances
# hold more than contributions.
run job run --kind government_subsidy --region 222401 --period 2025 --date 2025-12-01 >/dev/null
for y in $(seq 2018 2025); do run job run --kind interest --region 222401 --period "$y" >/dev/null; done
# A late enrolment (one event, one commit) that no checkpoint signs: the export's unsigned tail.
for n in 1 2; do
  out=$(run enrol --id "$(cid 2224011990010100$n)" --name 韩$n --region 222401 --date 2025-07-01)
  (( $(sed -E 's/.* sequence ([0-9]+)$/\1/' <<<"$out") % 5 != 0 )) && break
done

# The server-side chain check gives the head.
out=$(run audit verify-chain)
expect "$out" "^chain ok from=1 to=[0-9]+$" "audit verify-chain"
head_seq=$(sed -E 's/.* to=//' <<<"$out")
(( head_seq >= 30 )) || fail "expected at least 30 events, the head is $head_seq"

# --- export, and the offline verification ---
out=$(run export "$work/export.bin" --pubkey-out "$work/server.pub")
expect "$out" "^exported events=$head_seq first=1 last=$head_seq checkpoints=[1-9][0-9]* bytes=[0-9]+$" "export"
expect "$out" "^server public key written to " "export --pubkey-out"
[[ $(sed -nE 's/.* bytes=([0-9]+)$/\1/p' <<<"$out") == $(stat -c %s "$work/export.bin") ]] ||
  fail "export: bytes= is not the file's size"
cmp -s "$work/server.pub" "$work/keys/checkpoint.pub" ||
  fail "the server's public key differs from make-checkpoint-key.sh's checkpoint.pub"
checkpoints=$(sed -nE 's/^exported .* checkpoints=([0-9]+) .*/\1/p' <<<"$out")

# The export's records: "TYPE OFFSET LENGTH SEQUENCE" per line (OFFSET of the 5-byte header).
# Both an event and a checkpoint start with field 1, the sequence (a varint).
python3 - "$work/export.bin" >"$work/records" <<'EOF'
import struct, sys
data = open(sys.argv[1], "rb").read()
assert data[:16] == b"LEDGER-EXPORT-1\n"
off = 16
while off < len(data):
    kind, length = chr(data[off]), struct.unpack(">I", data[off + 1:off + 5])[0]
    payload = data[off + 5:off + 5 + length]
    assert payload[0] == 0x08, "field 1 first"
    seq, shift, i = 0, 0, 1
    while True:
        seq |= (payload[i] & 0x7F) << shift
        shift += 7
        i += 1
        if payload[i - 1] < 0x80:
            break
    print(kind, off, length, seq)
    off += 5 + length
EOF
[[ $(grep -c '^E ' "$work/records") -eq $head_seq ]] || fail "the export does not hold $head_seq events"
[[ $(grep -c '^C ' "$work/records") -eq $checkpoints ]] || fail "the export does not hold $checkpoints checkpoints"
# Every checkpoint right after the event it signs.
awk '$1 == "C" && !(prev_kind == "E" && prev_seq == $4) { bad = 1 } { prev_kind = $1; prev_seq = $4 }
     END { exit bad }' "$work/records" || fail "a checkpoint is not right after its event"
last_signed=$(awk '$1 == "C" { s = $4 } END { print s }' "$work/records")
first_signed=$(awk '$1 == "C" { print $4; exit }' "$work/records")

verify_out=$("$ledgerctl" verify "$work/export.bin" --pubkey "$work/keys/checkpoint.pub" 2>"$work/verify.err") ||
  fail "verify of the untouched export failed: $(cat "$work/verify.err")"
[[ $verify_out == "verified events=$head_seq first=1 last=$head_seq checkpoints=$checkpoints last_signed=$last_signed" ]] ||
  fail "verify printed: $verify_out"
(( last_signed < head_seq )) || fail "the last event is signed: no unsigned tail to warn about"
grep -qE "^warning: events $((last_signed + 1))\.\.$head_seq follow the last signed checkpoint" "$work/verify.err" ||
  fail "verify: no warning about the unsigned tail: $(cat "$work/verify.err")"
printf '%s\n' "\$ ledgerctl verify export.bin --pubkey checkpoint.pub" "  $verify_out" >&2
[[ -s $work/verify.err ]] && sed 's/^/  (stderr) /' "$work/verify.err" >&2

# tampered NAME FILE SEQUENCE REASON_REGEX: verify must exit 2 naming SEQUENCE and the reason.
tampered() {
  local name=$1 file=$2 seq=$3 reason=$4 pubkey=${5:-$work/keys/checkpoint.pub} out rc=0
  out=$("$ledgerctl" verify "$file" --pubkey "$pubkey" 2>&1) || rc=$?
  [[ $rc -eq 2 ]] || fail "$name: verify exited $rc, expected 2: $out"
  [[ $out =~ ^"verification FAILED at sequence $seq: " ]] || fail "$name: expected sequence $seq: $out"
  expect "$out" "$reason" "$name"
  echo "tamper ($name): $out" >&2
}
# The record lines of events that a checkpoint does / does not follow, in the middle third.
record() { awk -v k="$1" -v s="$2" '$1 == k && $4 == s' "$work/records"; }
mid=$(( head_seq / 2 ))
unsigned_mid=$(awk -v lo=$((head_seq / 3)) -v hi=$((2 * head_seq / 3)) '
  $1 == "E" { if (e != "" && e >= lo && e <= hi) { print e; exit } e = $4; next }
  { e = "" }' "$work/records")  # an event followed by another event
[[ -n $unsigned_mid ]] || fail "no unsigned event in the middle third"

# (1) A byte changed inside a contribution event's payload: its receipt number, so it still
# decodes. Its successor no longer links to it (an event's hash is only in its successor).
flip() {  # SEQUENCE OUT: change the first digit of the event's receipt number (R?YYYY)
  python3 - "$work/export.bin" "$2" $(record E "$1" | cut -d' ' -f2,3) <<'EOF'
import re, sys
src, dst, off, length = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
data = bytearray(open(src, "rb").read())
payload = bytes(data[off + 5:off + 5 + length])
m = re.search(rb"R[ABCD](20\d\d)", payload)
assert m, "no receipt number in the event"
at = off + 5 + m.start(1) + 3
data[at] = ord("0") + (data[at] - ord("0") + 1) % 10
open(dst, "wb").write(data)
EOF
}
# Contribution events (their payload holds a receipt number): one a checkpoint follows, one not.
is_contribution() { python3 -c 'import re, sys
d = open(sys.argv[1], "rb").read()[int(sys.argv[2]):][:int(sys.argv[3]) + 5]
sys.exit(0 if re.search(rb"R[ABCD]20\d\d", d) else 1)' "$work/export.bin" $(record E "$1" | cut -d' ' -f2,3); }
flipped=""
for s in $(awk '$1 == "E" { print $4 }' "$work/records"); do
  (( s >= unsigned_mid )) || continue
  [[ -z $(record C "$s") ]] && is_contribution "$s" && { flipped=$s; break; }
done
[[ -n $flipped ]] || fail "no unsigned contribution event to alter"
flip "$flipped" "$work/t-flip.bin"
tampered "byte changed in event $flipped" "$work/t-flip.bin" $((flipped + 1)) \
  "event $((flipped + 1)) does not link to the hash of event $flipped"
signed=""
for s in $(awk '$1 == "C" { print $4 }' "$work/records"); do
  is_contribution "$s" && { signed=$s; break; }
done
[[ -n $signed ]] || fail "no signed contribution event to alter"
flip "$signed" "$work/t-flip-signed.bin"
tampered "byte changed in signed event $signed" "$work/t-flip-signed.bin" "$signed" \
  "event $signed does not hash to the signed checkpoint's chain hash"

# (2) Truncated in the middle of an event record.
read -r _ off len _ < <(record E "$mid")
head -c $((off + 5 + len / 2)) "$work/export.bin" >"$work/t-trunc.bin"
tampered "truncated inside event $mid" "$work/t-trunc.bin" "$mid" \
  "truncated: the record after sequence $((mid - 1)) is cut off"

# (3) Two events swapped (unsigned_mid and its successor: no checkpoint between them).
python3 - "$work/export.bin" "$work/t-swap.bin" $(record E "$unsigned_mid" | cut -d' ' -f2,3) \
  $(record E $((unsigned_mid + 1)) | cut -d' ' -f2,3) <<'EOF'
import sys
src, dst, a, alen, b, blen = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:])
d = open(src, "rb").read()
assert a + 5 + alen == b
open(dst, "wb").write(d[:a] + d[b:b + 5 + blen] + d[a:a + 5 + alen] + d[b + 5 + blen:])
EOF
tampered "events $unsigned_mid and $((unsigned_mid + 1)) swapped" "$work/t-swap.bin" "$unsigned_mid" \
  "expected sequence $unsigned_mid, found $((unsigned_mid + 1)) \(events missing or out of order\)"

# (3b) An event removed.
read -r _ off len _ < <(record E "$unsigned_mid")
{ head -c "$off" "$work/export.bin"; tail -c +$((off + 5 + len + 1)) "$work/export.bin"; } >"$work/t-drop.bin"
tampered "event $unsigned_mid removed" "$work/t-drop.bin" "$unsigned_mid" \
  "expected sequence $unsigned_mid, found $((unsigned_mid + 1))"

# (4) The right file, the wrong public key: the first checkpoint's signature fails.
tampered "another public key" "$work/export.bin" "$first_signed" \
  "the signature of checkpoint $first_signed does not verify with the public key" "$work/other/checkpoint.pub"

# A file that is not an export, and a key file that is not a public key (exit 1: not damage).
printf 'hello' >"$work/not-an-export"
tampered "not an export" "$work/not-an-export" 0 "not a ledger export \(bad magic\)"
rc=0; out=$("$ledgerctl" verify "$work/export.bin" --pubkey "$work/keys/checkpoint.key" 2>&1) || rc=$?
[[ $rc -eq 1 ]] || fail "verify with a private key as --pubkey exited $rc, expected 1: $out"
expect "$out" "^error: .*checkpoint.key: the public key is not a PEM Ed25519 public key" "a bad --pubkey"

# A sub-range export verifies on its own (it starts at a checkpointed event's successor).
out=$(run export "$work/range.bin" --from $((first_signed + 1)) --to "$last_signed")
expect "$out" "^exported events=$((last_signed - first_signed)) first=$((first_signed + 1)) last=$last_signed " "range export"
out=$(run verify "$work/range.bin" --pubkey "$work/keys/checkpoint.pub")
expect "$out" "^verified events=$((last_signed - first_signed)) first=$((first_signed + 1)) last=$last_signed checkpoints=[0-9]+ last_signed=$last_signed$" "range verify"

# --- the server-side audit reads ---
out=$(run audit replay)
expect "$out" "^replay equal=true sequence=$head_seq events=$head_seq rows=[1-9][0-9]* seconds=[0-9.]+ events_per_s=[0-9]+$" "audit replay"

account=$(run account "$A")
account_total=$(sed -nE 's/^total +([0-9.]+) yuan$/\1/p' <<<"$account")
[[ -n $account_total ]] || fail "no total in ledgerctl account"
(( $(fen "$account_total") > 400000 )) || fail "A's total $account_total: no interest or subsidy?"
out=$(run audit balance --id "$A")
expect "$out" "^total +$account_total yuan$" "audit balance = ledgerctl account's total"
# By source: the account's principal + interest.
for source in personal government; do
  read -r principal interest < <(sed -nE "s/^  $source +([0-9.]+) +([0-9.]+)$/\1 \2/p" <<<"$account")
  [[ -n $principal ]] || fail "no $source line in ledgerctl account"
  expect "$out" "^  $source +$(yuan $(( $(fen "$principal") + $(fen "$interest") )))$" \
    "audit balance $source = principal + interest"
done
out=$(run audit balance --id "$A" --as-of-date 2018-12-30)
expect "$out" "^total +500.00 yuan$" "A's balance before the 2018 interest (31 December)"
expect "$out" "^events applied +1$" "one contribution by 2018-12-30"
# As of the end of 2019 = the opening balance of A's 2020 statement (another projection).
out=$(run audit balance --id "$A" --as-of-date 2019-12-31)
opening=$(run statement "$A" --year 2020 | sed -n '/^opening balance/,/^  total/p' | sed -nE 's/^  total +//p')
[[ -n $opening ]] || fail "no opening balance in the 2020 statement"
expect "$out" "^total +$opening yuan$" "balance as of 2019-12-31 = the 2020 statement's opening"
expect "$out" "^events applied +4$" "two contributions and two years' interest by 2019-12-31"
a2019=$(run audit events --id "$A" --type contribution_collected | awk '$2 == "2019-03-15" { print $1 }')
[[ -n $a2019 ]] || fail "no 2019 contribution event for A"
out=$(run audit balance --id "$A" --as-of-sequence "$a2019")
expect "$out" "^total +1000.00 yuan$" "A's balance as of the sequence of the 2019 contribution"
out=$(run audit balance --account 222401/suspense)
expect "$out" "^total +0.00 yuan$" "a ledger account's balance"

events=$(run audit events --id "$A" --type contribution_collected)
[[ $(wc -l <<<"$events") -eq 8 ]] || fail "expected 8 contribution events for A"
expect "$events" "^ +[0-9]+  2025-03-15  contribution_collected +222401  RA2025 +[0-9a-f]{16}$" "event line"
json=$(run audit events --from "$mid" --to "$mid" --json)
python3 -c 'import json, sys; e = json.loads(sys.argv[1]); assert int(e["sequence"]) == int(sys.argv[2]), e' \
  "$json" "$mid" || fail "audit events --json: $json"
[[ $(run audit events | wc -l) -eq $head_seq ]] || fail "audit events does not list every event"
rc=0; out=$(ctl audit events --from $((head_seq + 1)) 2>&1) || rc=$?
[[ $rc -eq 1 ]] || fail "audit events beyond the head exited $rc, expected 1: $out"
expect "$out" "^error: rpc failed: code 11: " "beyond the head is OUT_OF_RANGE"

# Offline means offline: with the server stopped the export still verifies.
stop
out=$("$ledgerctl" --server 127.0.0.1:1 verify "$work/export.bin" --pubkey "$work/keys/checkpoint.pub" 2>/dev/null) ||
  fail "verify needs a server?"
[[ $out == "$verify_out" ]] || fail "offline verify printed: $out"

# After a restart the projections still equal a replay of the log, and the export is the same.
start
out=$(run audit replay)
expect "$out" "^replay equal=true sequence=$head_seq events=$head_seq " "audit replay after a restart"
run export "$work/export-2.bin" >/dev/null
cmp -s "$work/export.bin" "$work/export-2.bin" || fail "a second export of the same log differs"
stop

echo "----- ledgerctl verify (untouched export) -----"
echo "$verify_out"
cat "$work/verify.err"
echo "PASS"
