// PgEventLog (ledger/pg/pg_log.h) behind the EventLog interface, for the writer in
// log.backend = postgres mode. Append commits the group to PostgreSQL (events, the group's
// idempotency rows and checkpoints, taken from `same_batch`) and returns once it is committed
// on the synchronous standby; it does not add anything to `same_batch`: the writer then adds
// the local copy of the events (RocksDbLog) and commits the projections to the local store.
// Reads go to PostgreSQL and see only what is acknowledged (up to DurableHead()).
#ifndef LEDGER_PG_POSTGRES_LOG_H_
#define LEDGER_PG_POSTGRES_LOG_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "ledger/event_log.h"
#include "ledger/pg/pg_log.h"

namespace ledger {

class PostgresLog final : public EventLog {
 public:
  // `idempotency_cf` and `checkpoints_cf`: the local store's column family IDs whose Puts in
  // `same_batch` are the group's references and checkpoints (ledger/store.h).
  PostgresLog(std::unique_ptr<PgEventLog> pg, uint32_t idempotency_cf, uint32_t checkpoints_cf)
      : pg_(std::move(pg)), idempotency_cf_(idempotency_cf), checkpoints_cf_(checkpoints_cf) {}

  absl::StatusOr<ChainHead> DurableHead() const override;
  absl::StatusOr<std::optional<std::string>> Read(uint64_t sequence) const override;
  // Visits [max(from, 1), min(to or the head, head)] and checks the chain on the way
  // (PgEventLog::ReadRange): a gap or a broken link ends the scan with DATA_LOSS.
  absl::Status Scan(uint64_t from, uint64_t to, const Visitor& visit) const override;
  // Errors as PgEventLog::Append: ABORTED "head_moved:" / "fenced:", UNAVAILABLE
  // "commit_in_doubt:" or another UNAVAILABLE (not committed).
  absl::Status Append(const ChainHead& expected, const EventGroup& group,
                      rocksdb::WriteBatch& same_batch) override;

  PgEventLog& pg() const { return *pg_; }

 private:
  // PgEventLog serializes its calls itself; const reads still begin a term when needed.
  const std::unique_ptr<PgEventLog> pg_;
  const uint32_t idempotency_cf_;
  const uint32_t checkpoints_cf_;
};

}  // namespace ledger

#endif  // LEDGER_PG_POSTGRES_LOG_H_
