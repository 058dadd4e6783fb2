// Prometheus metrics, served over HTTP on their own port (prometheus-cpp). Names and units:
//   ledger_rpc_requests_total{method,code}      counter   calls answered, by gRPC status code
//   ledger_rpc_duration_seconds{method}         histogram time from call start to answer
//   ledger_commit_events                        histogram events per group commit
//   ledger_commit_fsync_seconds                 histogram the synced WriteBatch of a commit
//   ledger_events_total{type}                   counter   events appended, by type
//   ledger_last_sequence                        gauge     sequence of the last committed event
//   ledger_rocksdb_sst_bytes                    gauge     all SST files
//   ledger_rocksdb_memtable_bytes               gauge     all memtables
//   ledger_rocksdb_pending_compaction_bytes     gauge     estimated bytes compaction must rewrite
// The last four are read from the ledger when scraped.
#ifndef SERVICES_METRICS_H_
#define SERVICES_METRICS_H_

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "ledger/ledger.h"

namespace services {

class Metrics {
 public:
  // Serves /metrics on `listen_address` (host:port). UNAVAILABLE if it cannot bind.
  static absl::StatusOr<std::unique_ptr<Metrics>> Start(const std::string& listen_address);
  ~Metrics();

  // The scrape-time gauges read `ledger` from now on (nullptr: stop reading it).
  void Watch(const ledger::Ledger* ledger);

  // Thread-safe.
  void ObserveRpc(std::string_view method, int code, double seconds);
  void ObserveCommit(const ledger::CommitInfo& commit);

  // The port actually bound (for "host:0").
  int port() const;

  class Impl;

 private:
  explicit Metrics(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace services

#endif  // SERVICES_METRICS_H_
