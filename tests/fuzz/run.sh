#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan, in build-fuzz/) and runs each for
# SECONDS_PER_TARGET seconds (default 20) on a copy of its seed corpus (tests/fuzz/corpus/<target>/,
# never written to) with its dictionary. Exits non-zero if any target finds a crash, a leak, a
# timeout or a failed property, printing the reproducer; reproduce with
#   build-fuzz/tests/fuzz/<target> <reproducer>
# Usage: tests/fuzz/run.sh [SECONDS_PER_TARGET]
set -euo pipefail
cd "$(dirname "$0")/../.."

seconds=${1:-20}
if ! [[ $seconds =~ ^[0-9]+$ ]] || [ "$seconds" -lt 1 ]; then
  echo "usage: $0 [SECONDS_PER_TARGET]" >&2
  exit 2
fi
targets=(fuzz_collection_csv fuzz_money fuzz_citizen_id fuzz_policy fuzz_ledger_commands)
build=build-fuzz
work=$build/fuzz-work            # corpus copies and logs, replaced on every run
artifacts=$build/fuzz-artifacts  # reproducers, kept

start=$(date +%s)
generator=()
if command -v ninja >/dev/null; then generator=(-G Ninja); fi
# tests/fuzz/CMakeLists.txt instruments the libraries under test itself.
cmake -S . -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_CXX_FLAGS= -DLEDGER_FUZZ=ON >/dev/null
# Only the fuzz targets and what they link (not the whole project); two jobs at most.
cmake --build "$build" --target ledger_fuzzers -j2
built=$(date +%s)
echo "fuzz: build took $((built - start)) s"

rm -rf "$work"
mkdir -p "$work" "$artifacts"
# fuzz_ledger_commands keeps its RocksDB copies here: in memory, removed afterwards.
scratch=$(mktemp -d "${FUZZ_SCRATCH:-/dev/shm}/ledger-fuzz.XXXXXX" 2>/dev/null || mktemp -d)
trap 'rm -rf "$scratch"' EXIT

# What a finding looks like in a log: a property, a ledger invariant, a sanitizer.
finding='FUZZ_CHECK failed|LEDGER INVARIANT FAILED|ERROR: (Address|Leak)Sanitizer|ERROR: libFuzzer'
finding+='|runtime error'
failed=()
for t in "${targets[@]}"; do
  # Reproducers of bugs found earlier (tests/fuzz/crashes/<target>-*) run first, as regression
  # inputs: each must pass once its bug is fixed.
  known=(tests/fuzz/crashes/"$t"-*)
  if [ -e "${known[0]}" ]; then
    rm -rf "${scratch:?}"/*
    if TMPDIR=$scratch "$build/tests/fuzz/$t" "${known[@]}" >"$work/$t.known.log" 2>&1; then
      echo "fuzz: $t: ${#known[@]} earlier reproducer(s) pass"
    else
      failed+=("$t(known)")
      echo "fuzz: $t: an earlier reproducer still fails; log: $work/$t.known.log"
      grep -a -E -A1 "$finding" "$work/$t.known.log" | head -n 4 | sed 's/^/    /' || true
      grep -a -o '^Running: .*' "$work/$t.known.log" | tail -n 1 | sed 's/^/    /' || true
    fi
  fi
  mkdir -p "$work/$t/corpus"
  cp tests/fuzz/corpus/"$t"/* "$work/$t/corpus/"
  dict=()
  if [ -f "tests/fuzz/dict/$t.dict" ]; then dict=(-dict="tests/fuzz/dict/$t.dict"); fi
  before=$(ls "$artifacts" | wc -l)
  rm -rf "${scratch:?}"/*
  set +e
  TMPDIR=$scratch ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    "$build/tests/fuzz/$t" "$work/$t/corpus" "${dict[@]}" -max_total_time="$seconds" \
    -timeout=30 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$artifacts/$t-" \
    >"$work/$t/log" 2>&1
  rc=$?
  set -e
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$t/log")
  cov=$(grep -o 'cov: [0-9]*' "$work/$t/log" | tail -n 1 || true)
  if [ "$rc" -ne 0 ]; then
    failed+=("$t")
    echo "fuzz: $t FAILED (exit $rc); log: $work/$t/log"
    grep -a -E -A1 "$finding" "$work/$t/log" | head -n 4 | sed 's/^/    /' || true
    grep -a -o "Test unit written to .*" "$work/$t/log" | sed 's/^/    /' || true
    # fuzz_ledger_commands runs a session of inputs on one ledger: the session's steps, kept
    # beside it, reproduce the failure on their own (the last input alone may not).
    for h in "$scratch"/ledger-fuzz-*/history.txtpb; do
      [ -f "$h" ] || continue
      keep="$artifacts/$t-session-$(date +%Y%m%d-%H%M%S)-$$.txtpb"
      cp "$h" "$keep"
      echo "    session reproducer: $keep"
    done
    if [ "$(ls "$artifacts" | wc -l)" -eq "$before" ]; then
      echo "    (no reproducer written; see the log)"
    fi
  else
    echo "fuzz: $t ok: ${runs:-?} inputs in ${seconds} s, ${cov:-cov: ?}"
  fi
done

echo "fuzz: total $(( $(date +%s) - start )) s"
if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz: FAILED: ${failed[*]} (reproduce: $build/tests/fuzz/<target> <reproducer>)" >&2
  exit 1
fi
echo "fuzz: PASS"
