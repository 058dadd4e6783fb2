# Shared by the process-level test scripts (source it after setting ledgerd, ledgerctl, src).
# Sets `work` (a temporary directory, removed on exit with any ledgerd still running) and `port`.
work=$(mktemp -d)
pid=""
cleanup() {
  if [[ -n $pid ]]; then kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; fi
  rm -rf "$work"
}
trap cleanup EXIT
# A free port below the kernel's ephemeral range (32768-): gRPC listens with SO_REUSEPORT, so a
# port another test's server got from the kernel could otherwise be shared.
port=$(python3 -c 'import random, socket
for _ in range(200):
    port = random.randint(20000, 32767)
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
    except OSError:
        continue
    print(port)
    break')
[[ -n $port ]] || { echo "FAIL: no free port"; exit 1; }

fail() {
  echo "FAIL: $*" >&2
  [[ -f $work/ledgerd.log ]] && tail -20 "$work/ledgerd.log" >&2
  exit 1
}
ctl() { "$ledgerctl" --server "127.0.0.1:$port" "$@"; }
# run ARGS...: ledgerctl must succeed; prints its stdout (and echoes the command to stderr).
run() {
  local out rc=0
  out=$(ctl "$@" 2>"$work/stderr") || rc=$?
  [[ $rc -eq 0 ]] || fail "ledgerctl $* exited $rc: $(cat "$work/stderr")"
  echo "\$ ledgerctl $*" >&2
  echo "$out" | sed 's/^/  /' >&2
  [[ -s $work/stderr ]] && sed 's/^/  (stderr) /' "$work/stderr" >&2
  echo "$out"
}
# reject REASON ARGS...: ledgerctl must exit 1 naming REASON (the ledger-reason trailer).
reject() {
  local reason=$1 out rc=0
  shift
  out=$(ctl "$@" 2>&1) || rc=$?
  [[ $rc -eq 1 ]] || fail "ledgerctl $* exited $rc, expected 1 ($reason): $out"
  grep -qF "[reason=$reason]" <<<"$out" || fail "ledgerctl $*: expected reason $reason, got: $out"
  echo "\$ ledgerctl $*  (rejected as expected)" >&2
  echo "  $out" >&2
}
# expect TEXT REGEX WHAT: TEXT must match the extended regular expression.
expect() { grep -qE -- "$2" <<<"$1" || fail "$3: expected /$2/ in:"$'\n'"$1"; }
fen() { local y=${1/./}; echo $((10#$y)); }  # "1234.56" → 123456 (always 2 decimals)
yuan() { printf '%d.%02d' $(($1 / 100)) $(($1 % 100)); }
# GB 11643 citizen ID from its first 17 digits.
cid() {
  python3 -c 'import sys
w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
f = sys.argv[1]
print(f + "10X98765432"[sum(int(d) * x for d, x in zip(f, w)) % 11])' "$1"
}
# start_ledgerd [LEDGERD ARGS...]: ledgerd on $work/data, plain text on loopback, until it serves.
start_ledgerd() {
  "$ledgerd" --data-dir "$work/data" --listen "127.0.0.1:$port" --insecure-plaintext \
    --metrics-listen "" "$@" >>"$work/ledgerd.log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || fail "ledgerd exited at start"
    [[ $(ctl health 2>&1) == SERVING ]] && return 0
    sleep 0.1
  done
  fail "ledgerd did not start"
}
stop_ledgerd() {
  kill -TERM "$pid"
  wait "$pid" || fail "ledgerd did not stop cleanly"
  pid=""
}
