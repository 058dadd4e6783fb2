// ledger-bench's harness: the ledger it drives (an embedded ledger and server, or a running
// ledgerd), the records and IDs it sends, and the scenarios (scenarios.cc; the PostgreSQL peer in
// postgres_peer.cc). It reaches the ledger through its public API and the gRPC stubs only; the
// storage scenarios' direct RocksDB writes and the peer's private PostgreSQL server are test
// support (tests/support/bulk_log.h, pg_server.h).
#ifndef TOOLS_LEDGER_BENCH_BENCH_H_
#define TOOLS_LEDGER_BENCH_BENCH_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "grpcpp/grpcpp.h"
#include "ledger/ledger.h"
#include "ledger/v1/services.grpc.pb.h"
#include "services/services.h"

namespace bench {

namespace v1 = ledger::v1;
using Clock = std::chrono::steady_clock;

struct Config {
  std::string server;   // empty: embedded
  std::string tls_dir;  // ca.crt + tax-bureau/fund-agency certs (make-dev-certs.sh layout)
  std::string data_dir;
  // --log-backend postgres: the embedded ledger's log in this PostgreSQL (e.g. the primary of
  // deploy/ha/local-cluster.sh), under a ledger id of its own. Empty: RocksDB.
  std::string log_backend = "rocksdb";
  std::string postgres_conninfo;
  std::string postgres_ledger_id;
  // Empty: the demo policy found from the binary's directory upwards (DemoPolicyPath()).
  std::string policy_file;
  size_t records = 100'000;
  size_t batch_size = 1'000;
  size_t latency_calls = 2'000;
  size_t reads = 200'000;
  size_t pensioners = 100'000;
  int concurrency = 64;
  int seconds = 300;  // sustained
};

// Every account the bench makes is in this region.
inline constexpr char kRegion[] = "222401";
// Distinct CitizenId(n) for n below this.
inline constexpr size_t kDistinctIdsMax = 13'440'000;
// Distinct PensionerId(n) for n below this.
inline constexpr size_t kDistinctPensionerIdsMax = 3'360'000;

// Citizen ID number `n`: region 222401, birth dates spread over 1960–1999.
std::string CitizenId(size_t n);
// Pensioner number `n`: born 1940–1949 (60 before the scheme's 2009 start).
std::string PensionerId(size_t n);
// Record `n` of a run: receipt `<run><n>` for CitizenId(n), one of five tier amounts.
v1::CollectionRecord MakeRecord(const std::string& run, size_t n);

double Seconds(Clock::time_point since);
// CPU time this process has used (user and system, every thread), in seconds. With the embedded
// server that is client and server together. A busy host makes it vary too (shared caches and
// cores: the same build measured 18-28 us per ingested record in one evening), so builds are
// still compared in alternating runs.
double CpuSeconds();
// Latency percentile from a sorted sample, in microseconds.
double Percentile(const std::vector<double>& sorted_us, double p);
// Resident set size of this process (which holds the embedded server), MiB.
double RssMib();
// Ends the process with exit 1 and "ledger-bench: <why>" (what the smoke test fails on).
[[noreturn]] void Die(const std::string& why);

class Bench {
 public:
  explicit Bench(Config config) : config_(std::move(config)) {}
  ~Bench();

  // Starts the embedded ledger and server unless --server names one, and adopts the policy.
  bool Start();

  // The scenarios (scenarios.cc). Each ends with one `scenario=…` line of key=value pairs.
  void Ingest();
  void Sustained();
  void Latency();
  void Read();
  void Disk();
  void Replay();
  void StorageLimit();
  void Interest();
  void Benefits();
  // The ingest workload on a plain PostgreSQL event store of its own (postgres_peer.cc).
  void PostgresPeer();
  // The lines relating the figures measured in this run: `scenario=summary` (ingest against the
  // storage limit) and, when the peer ran too, `scenario=compare`.
  void Summary();

 private:
  struct JobTiming {
    v1::JobProgress progress;
    double seconds = 0;
  };

  int Tls() const { return config_.tls_dir.empty() ? 0 : 1; }
  bool OpenEmbedded();
  void StopEmbedded();
  // An offline scenario's start: stops the embedded ledger, noting its last sequence in
  // `events`; without one, prints the scenario as skipped and returns false.
  bool StopForOffline(const char* scenario, uint64_t& events);
  // An offline scenario's end: the embedded ledger and server again (ends the process if not).
  void Reopen(const char* after);
  // One channel per call site: in embedded plain-text mode every caller has every role; with
  // TLS, `role` picks the certificate.
  std::shared_ptr<grpc::Channel> Connect(std::string_view role = "tax-bureau") const;
  bool AdoptPolicy();
  // What the group-commit writer did since the last report (embedded only).
  void WriterReport(const char* after);
  JobTiming RunJob(const v1::JobRequest& request);
  // Enrols participants [enrolled_, n) with `concurrency` callers; returns the seconds it took.
  double EnrolAll(size_t n);
  // Enrols `n` IDs id(0) … id(n - 1) with `concurrency` callers; `what` names a failure.
  void Enrol(size_t n, const std::function<std::string(size_t)>& id, const char* what);
  // The connections a scenario's concurrent callers share (InFlight), each connected (TLS
  // handshake included) before any call is timed.
  std::vector<std::shared_ptr<grpc::Channel>> Callers(std::string_view role = "tax-bureau") const;
  // Sustained's load: one caller's streams, back to back until `deadline`.
  struct Interval;
  void SustainedCaller(int caller, Clock::time_point start, Clock::time_point deadline,
                       std::vector<std::unique_ptr<Interval>>& intervals);
  // Benefits' preparation: n pensioners with a contribution, pension determined; returns the
  // seconds the determinations took.
  double PreparePensioners(size_t n);

  Config config_;
  std::string run_;
  bool owns_data_dir_ = false;
  bool embedded_ = false;
  std::unique_ptr<ledger::Ledger> ledger_;
  services::RunningServer server_;
  std::shared_ptr<grpc::Channel> channel_;
  size_t enrolled_ = 0;
  size_t ingested_ = 0;
  int latency_round_ = 0;
  ledger::WriterStats last_;
  double ingest_records_per_s_ = 0;
  double limit_records_per_s_ = 0;
  double postgres_records_per_s_ = 0;
};

}  // namespace bench

#endif  // TOOLS_LEDGER_BENCH_BENCH_H_
