// The event log in the ledger's own RocksDB store: the `events` column family (key: u64 BE
// sequence, value: stored EventEnvelope bytes; layout in ledger/store.h). Appends ride in the
// writer's WriteBatch, so events and projections commit atomically (ledger/event_log.h).
#ifndef LEDGER_ROCKSDB_LOG_H_
#define LEDGER_ROCKSDB_LOG_H_

#include "ledger/event_log.h"
#include "ledger/store.h"

namespace ledger {

class RocksDbLog final : public EventLog {
 public:
  // `store` must outlive the log.
  explicit RocksDbLog(const Store& store) : store_(store) {}

  absl::StatusOr<ChainHead> DurableHead() const override;
  absl::StatusOr<std::optional<std::string>> Read(uint64_t sequence) const override;
  absl::Status Scan(uint64_t from, uint64_t to, const Visitor& visit) const override;
  // Checks the durable head by point reads (event `expected.sequence` hashes to `expected.hash`
  // and no event follows it), then adds one Put per event to `same_batch`, in sequence order.
  absl::Status Append(const ChainHead& expected, const EventGroup& group,
                      rocksdb::WriteBatch& same_batch) override;

 private:
  const Store& store_;
};

}  // namespace ledger

#endif  // LEDGER_ROCKSDB_LOG_H_
