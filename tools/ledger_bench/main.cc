// ledger-bench: measures the ledger through its real gRPC seam.
//
//   ledger-bench SCENARIO [options]     SCENARIO: ingest | latency | read | replay | disk |
//                                                 storage-limit | interest | benefits |
//                                                 postgres-peer | compare | all |
//                                                 sustained (not in `all`: it runs for minutes)
//
// Without --server it starts its own ledger and server in this process on a fresh temporary data
// directory (plain text on loopback, or mutual TLS with --tls-dir), so client and server share the
// machine as they would in a same-host deployment. Each scenario ends with ONE line of key=value
// pairs, starting with `scenario=`, for scripts. Every write is durable (fsync'd) before it is
// acknowledged, exactly as in production: nothing here weakens durability.
//
// postgres-peer runs the ingest workload against the event store a team would build on plain
// PostgreSQL instead (a private server from initdb, fsync and synchronous_commit on;
// postgres_peer.cc); compare runs storage-limit, ingest and postgres-peer back to back and relates
// them in one `scenario=compare` line (`all` runs them too, once each).
#include <ctime>
#include <iostream>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/synchronization/mutex.h"
#include "ledger/limits.h"
#include "spdlog/spdlog.h"
#include "tools/ledger_bench/bench.h"

namespace {

void AddOptions(CLI::App& app, bench::Config& config) {
  app.add_option("--server", config.server, "drive a running ledgerd (default: start one here)");
  app.add_option("--tls-dir", config.tls_dir,
                 "mutual TLS with make-dev-certs.sh's files (default: plain text, embedded only)");
  app.add_option("--data-dir", config.data_dir, "embedded ledger's data directory (default: temp)");
  app.add_option("--log-backend", config.log_backend,
                 "embedded ledger's log: rocksdb (default) or postgres (--postgres-conninfo)")
      ->check(CLI::IsMember({"rocksdb", "postgres"}));
  app.add_option("--postgres-conninfo", config.postgres_conninfo,
                 "log backend postgres: libpq conninfo of the primary");
  app.add_option("--postgres-ledger-id", config.postgres_ledger_id,
                 "log backend postgres: the ledger id (default: bench-<unix seconds>, a new one)");
  app.add_option("--policy", config.policy_file,
                 "policy JSON to adopt (default: deploy/policies/yanji-222401.json of the source "
                 "tree the binary was built in, found from the binary's directory upwards, so "
                 "ledger-bench runs from any working directory)");
  app.add_option("--records", config.records, "records to ingest")->capture_default_str();
  app.add_option("--batch-size", config.batch_size, "records per stream message and per commit")
      ->check(CLI::Range(size_t{1}, ledger::kBatchRecordsMax))
      ->capture_default_str();
  app.add_option("--latency-calls", config.latency_calls, "unary pushes per concurrency level")
      ->capture_default_str();
  app.add_option("--reads", config.reads, "account reads")->capture_default_str();
  app.add_option("--pensioners", config.pensioners, "pensioners in the benefits scenario")
      ->capture_default_str();
  app.add_option("--concurrency", config.concurrency, "concurrent callers")->capture_default_str();
  app.add_option("--seconds", config.seconds, "sustained: how long, in seconds (10 s intervals)")
      ->check(CLI::Range(10, 86'400))
      ->capture_default_str();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ledger-bench: measure the pension ledger through gRPC"};
  bench::Config config;
  std::string scenario;
  app.add_option("scenario", scenario,
                 "ingest|latency|read|replay|disk|storage-limit|interest|benefits|postgres-peer|"
                 "compare|all|sustained; postgres-peer: the ingest workload on a plain "
                 "PostgreSQL 15 event store it starts from initdb; compare: storage-limit, ingest "
                 "and postgres-peer back to back, then one scenario=compare line")
      ->required()
      ->check(
          CLI::IsMember({"ingest", "latency", "read", "replay", "disk", "storage-limit", "interest",
                         "benefits", "postgres-peer", "compare", "all", "sustained"}));
  AddOptions(app, config);
  CLI11_PARSE(app, argc, argv);
  if (config.log_backend == "postgres" && config.postgres_conninfo.empty()) {
    std::cerr << "ledger-bench: --log-backend postgres needs --postgres-conninfo\n";
    return 1;
  }
  if (config.log_backend != "postgres") config.postgres_conninfo.clear();
  if (config.postgres_ledger_id.empty()) {
    config.postgres_ledger_id = "bench-" + std::to_string(std::time(nullptr));
  }
  // Debian's abseil checks every absl::Mutex acquisition for lock-order cycles (gRPC takes many);
  // that is a debugging aid, measurably costly on the request path.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  spdlog::set_level(spdlog::level::warn);  // no per-call log lines in the measurement

  bench::Bench bench(config);
  if (!bench.Start()) return 1;
  const bool all = scenario == "all";
  const bool compare = all || scenario == "compare";
  if (compare || scenario == "storage-limit" || scenario == "ingest") bench.StorageLimit();
  if (compare || scenario == "ingest" || scenario == "replay" || scenario == "disk") {
    bench.Ingest();
  }
  if (compare || scenario == "postgres-peer") bench.PostgresPeer();
  if (all || scenario == "latency") bench.Latency();
  if (all || scenario == "read") bench.Read();
  if (all || scenario == "interest") bench.Interest();
  if (all || scenario == "benefits") bench.Benefits();
  if (all || scenario == "replay") bench.Replay();
  if (all || scenario == "disk") bench.Disk();
  if (scenario == "sustained") bench.Sustained();
  bench.Summary();
  return 0;
}
