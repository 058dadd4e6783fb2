#!/usr/bin/env bash
# Installs the Debian 12 packages the ledger builds and tests with (`--ha`: and the three-node
# cluster's Patroni and etcd). Idempotent: when every
# package is already installed it changes nothing and makes no network call.
set -euo pipefail

packages=(
  cmake ninja-build g++ pkg-config openssl
  protobuf-compiler libprotobuf-dev libgrpc++-dev protobuf-compiler-grpc
  librocksdb-dev libabsl-dev libssl-dev libcli11-dev libspdlog-dev prometheus-cpp-dev
  libtomlplusplus-dev libjemalloc-dev
  libgtest-dev libgmock-dev
  # the replicated log (log.backend = postgres): libpq; its tests start a private PostgreSQL 15
  libpq-dev postgresql-15
  # reliability and reports: libFuzzer targets (clang), the HTML report's headless screenshot
  clang libclang-rt-14-dev chromium fonts-wqy-microhei
)
# --ha: the three-node cluster (deploy/ha/local-cluster.sh, tests/ha/failover.sh) as well.
if [[ "${1:-}" == "--ha" ]]; then
  packages+=(patroni etcd-server etcd-client curl python3)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
echo "install-deps: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
