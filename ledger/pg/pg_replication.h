// Replication (ledger/replication.h) for log.backend = postgres under Patroni: the writer's
// PgEventLog (terms begun only once this node is primary), the follower's view of the log
// through the same node's PostgreSQL, and the caller's primary check (ledgerd asks Patroni's
// REST API; see services/patroni.h).
#ifndef LEDGER_PG_PG_REPLICATION_H_
#define LEDGER_PG_PG_REPLICATION_H_

#include <functional>
#include <utility>

#include "ledger/pg/acknowledged_log.h"
#include "ledger/pg/pg_log.h"
#include "ledger/replication.h"

namespace ledger {

class PgReplication final : public Replication {
 public:
  // `writer` must outlive this object.
  PgReplication(PgEventLog& writer, std::function<bool()> is_primary, std::string conninfo,
                std::string ledger_id, int statement_deadline_ms)
      : writer_(writer),
        is_primary_(std::move(is_primary)),
        acknowledged_(std::move(conninfo), std::move(ledger_id), statement_deadline_ms) {}

  bool IsPrimary() override { return is_primary_(); }
  const EventLog& Acknowledged() const override { return acknowledged_; }
  absl::Status PublishAcknowledged() override { return writer_.PublishAcknowledged(); }
  void Resign() override { writer_.Resign(); }

 private:
  PgEventLog& writer_;
  const std::function<bool()> is_primary_;
  PgAcknowledgedLog acknowledged_;
};

}  // namespace ledger

#endif  // LEDGER_PG_PG_REPLICATION_H_
