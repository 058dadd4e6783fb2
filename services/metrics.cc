#include "services/metrics.h"

#include <atomic>
#include <exception>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "ledger/strings.h"
#include "prometheus/collectable.h"
#include "prometheus/counter.h"
#include "prometheus/exposer.h"
#include "prometheus/family.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace services {
namespace {

using ledger::StrCat;

// Gauges computed from the ledger at scrape time.
class LedgerCollector final : public prometheus::Collectable {
 public:
  void Watch(const ledger::Ledger* ledger) {
    absl::MutexLock lock(&mu_);
    ledger_ = ledger;
  }

  std::vector<prometheus::MetricFamily> Collect() const override {
    absl::MutexLock lock(&mu_);
    if (ledger_ == nullptr) return {};
    const ledger::StorageStats storage = ledger_->Storage();
    auto gauge = [](std::string name, std::string help, double value) {
      prometheus::MetricFamily family{std::move(name), std::move(help),
                                      prometheus::MetricType::Gauge, {}};
      prometheus::ClientMetric metric;
      metric.gauge.value = value;
      family.metric.push_back(std::move(metric));
      return family;
    };
    return {
        gauge("ledger_last_sequence", "Sequence of the last committed event.",
              static_cast<double>(ledger_->Head().sequence)),
        gauge("ledger_rocksdb_sst_bytes", "Bytes in RocksDB SST files, all column families.",
              static_cast<double>(storage.sst_bytes)),
        gauge("ledger_rocksdb_memtable_bytes", "Bytes in RocksDB memtables.",
              static_cast<double>(storage.memtable_bytes)),
        gauge("ledger_rocksdb_pending_compaction_bytes",
              "Estimated bytes RocksDB compaction still has to rewrite.",
              static_cast<double>(storage.pending_compaction_bytes)),
    };
  }

 private:
  mutable absl::Mutex mu_;
  const ledger::Ledger* ledger_ ABSL_GUARDED_BY(mu_) = nullptr;
};

}  // namespace

class Metrics::Impl {
 public:
  explicit Impl(std::unique_ptr<prometheus::Exposer> exposer)
      : exposer_(std::move(exposer)),
        registry_(std::make_shared<prometheus::Registry>()),
        collector_(std::make_shared<LedgerCollector>()),
        requests_(prometheus::BuildCounter()
                      .Name("ledger_rpc_requests_total")
                      .Help("gRPC calls answered, by method and status code.")
                      .Register(*registry_)),
        durations_(prometheus::BuildHistogram()
                       .Name("ledger_rpc_duration_seconds")
                       .Help("Time from the start of a gRPC call to its answer.")
                       .Register(*registry_)),
        commit_events_(prometheus::BuildHistogram()
                           .Name("ledger_commit_events")
                           .Help("Events written per group commit.")
                           .Register(*registry_)
                           .Add({}, prometheus::Histogram::BucketBoundaries{
                                        1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000,
                                        10000, 20000})),
        fsync_(prometheus::BuildHistogram()
                   .Name("ledger_commit_fsync_seconds")
                   .Help("Duration of a commit's synced WriteBatch (fsync included).")
                   .Register(*registry_)
                   .Add({}, prometheus::Histogram::BucketBoundaries{
                                0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                0.05, 0.1, 0.25, 1})),
        events_(prometheus::BuildCounter()
                    .Name("ledger_events_total")
                    .Help("Events appended to the log, by type.")
                    .Register(*registry_)) {
    exposer_->RegisterCollectable(registry_);
    exposer_->RegisterCollectable(collector_);
  }

  void ObserveRpc(std::string_view method, int code, double seconds) {
    const std::string m(method);
    requests_.Add({{"method", m}, {"code", std::to_string(code)}}).Increment();
    durations_
        .Add({{"method", m}}, prometheus::Histogram::BucketBoundaries{
                                  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                  0.05, 0.1, 0.25, 0.5, 1, 2.5, 10})
        .Observe(seconds);
  }

  void ObserveCommit(const ledger::CommitInfo& commit) {
    commit_events_.Observe(static_cast<double>(commit.events));
    fsync_.Observe(static_cast<double>(commit.commit_us) / 1e6);
    for (const auto& [type, count] : commit.events_by_type) {
      events_.Add({{"type", type}}).Increment(static_cast<double>(count));
    }
  }

  void Watch(const ledger::Ledger* ledger) { collector_->Watch(ledger); }
  int port() const { return exposer_->GetListeningPorts().front(); }

 private:
  std::unique_ptr<prometheus::Exposer> exposer_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::shared_ptr<LedgerCollector> collector_;
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& durations_;
  prometheus::Histogram& commit_events_;
  prometheus::Histogram& fsync_;
  prometheus::Family<prometheus::Counter>& events_;
};

absl::StatusOr<std::unique_ptr<Metrics>> Metrics::Start(const std::string& listen_address) {
  std::unique_ptr<prometheus::Exposer> exposer;
  try {  // prometheus-cpp (civetweb) reports a port it cannot bind by throwing
    exposer = std::make_unique<prometheus::Exposer>(listen_address);
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        StrCat("metrics: cannot listen on ", listen_address, ": ", std::string(e.what())));
  }
  return std::unique_ptr<Metrics>(new Metrics(std::make_unique<Impl>(std::move(exposer))));
}

Metrics::Metrics(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Metrics::~Metrics() = default;
void Metrics::Watch(const ledger::Ledger* ledger) { impl_->Watch(ledger); }
void Metrics::ObserveRpc(std::string_view method, int code, double seconds) {
  impl_->ObserveRpc(method, code, seconds);
}
void Metrics::ObserveCommit(const ledger::CommitInfo& commit) { impl_->ObserveCommit(commit); }
int Metrics::port() const { return impl_->port(); }

}  // namespace services
