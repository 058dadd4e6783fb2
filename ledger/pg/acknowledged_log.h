// The PostgreSQL log as a follower sees it (a node under Patroni that is not the primary, see
// deploy/ha/): read-only, through the node's own PostgreSQL (a hot standby, or a deposed
// primary), and only up to the acknowledged sequence the writer has published
// (chain_head.acked_seq, PgEventLog::PublishAcknowledged). An event above it may be committed
// only on a primary that a failover discards; an event at or below it is on the synchronous
// standby, so every later leader holds it. Nothing here begins a term or writes.
#ifndef LEDGER_PG_ACKNOWLEDGED_LOG_H_
#define LEDGER_PG_ACKNOWLEDGED_LOG_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "ledger/event_log.h"
#include "ledger/pg/pg_conn.h"

namespace ledger {

class PgAcknowledgedLog final : public EventLog {
 public:
  PgAcknowledgedLog(std::string conninfo, std::string ledger_id, int statement_deadline_ms)
      : conninfo_(std::move(conninfo)),
        ledger_id_(std::move(ledger_id)),
        statement_deadline_ms_(statement_deadline_ms) {}

  // (acked_seq, the hash of that event); the empty log's head while the writer has created
  // nothing yet. UNAVAILABLE when the server cannot be reached (the next call reconnects).
  absl::StatusOr<ChainHead> DurableHead() const override;
  absl::StatusOr<std::optional<std::string>> Read(uint64_t sequence) const override;
  // Visits [max(from, 1), min(to or the head, head)], checking the chain on the way.
  absl::Status Scan(uint64_t from, uint64_t to, const Visitor& visit) const override;
  // A follower never appends: FAILED_PRECONDITION.
  absl::Status Append(const ChainHead& expected, const EventGroup& group,
                      rocksdb::WriteBatch& same_batch) override;

 private:
  absl::StatusOr<pg::Conn*> Connection() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<ChainHead> HeadLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status ScanLocked(uint64_t from, uint64_t to, const Visitor& visit) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string conninfo_;
  const std::string ledger_id_;
  const int statement_deadline_ms_;
  mutable absl::Mutex mu_;
  mutable std::unique_ptr<pg::Conn> conn_ ABSL_GUARDED_BY(mu_);  // null: connect on next use
};

}  // namespace ledger

#endif  // LEDGER_PG_ACKNOWLEDGED_LOG_H_
