// log.backend = postgres on a node under Patroni (deploy/ha/): which node writes is decided by
// Patroni, not by the ledger. The writer asks before every group whether this node's
// PostgreSQL is the primary. While it is, the writer begins a term there, catches up and
// commits groups, publishing the acknowledged head when idle. While it is not, every command is
// answered UNAVAILABLE "not_leader: …" and the writer follows the acknowledged log into the
// local store (projections on every node, never ahead of what a failover keeps).
#ifndef LEDGER_REPLICATION_H_
#define LEDGER_REPLICATION_H_

#include "absl/status/status.h"
#include "ledger/event_log.h"

namespace ledger {

class Replication {
 public:
  virtual ~Replication() = default;
  // True while this node may write (Patroni names its PostgreSQL the primary).
  virtual bool IsPrimary() = 0;
  // The log up to the acknowledged sequence the writer has published, read on this node.
  virtual const EventLog& Acknowledged() const = 0;
  // The writer, idle: makes its acknowledged head visible to followers.
  virtual absl::Status PublishAcknowledged() = 0;
  // The writer, no longer primary: ends its term.
  virtual void Resign() = 0;
};

}  // namespace ledger

#endif  // LEDGER_REPLICATION_H_
