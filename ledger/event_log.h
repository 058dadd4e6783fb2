// The event log as a backend sees it: stored event bytes keyed by sequence, appended in groups
// at an expected chain head, read back in order. Everything else the ledger keeps (accounts,
// idempotency index, totals, the projections' head in `meta`) is a projection of the log and
// lives in the local RocksDB store whatever the backend.
//
// What every implementation must keep true:
//   - Sequences are dense from 1; event n's stored bytes are exactly what the writer encoded
//     (SerializeDeterministic, `hash` empty). The chain head is (last sequence, SHA-256 of its
//     stored bytes); the empty log's head is (0, GenesisHash()).
//   - Append is all or nothing, and happens only at the expected head: if the durable head is
//     not `expected`, nothing is appended and the call fails.
//   - Events are never changed or removed once durable.
//
// RocksDB (RocksDbLog, ledger/rocksdb_log.h): the `events` column family of the ledger's own
// Store. Append does not write: it checks the durable head and adds the events to the
// WriteBatch the writer then commits synced with the projections, so events and projections
// are one atomic commit (a crash keeps both or neither).
//
// PostgreSQL (PostgresLog, ledger/pg/postgres_log.h): Append runs one transaction: a
// compare-and-swap of the head row from `expected` to `group.head` under the writer's term,
// COPY of the group's events, and the group's idempotency rows and checkpoints, which it reads
// from `same_batch` (the writer has added the projections there first); it changes nothing in
// `same_batch` and returns once the COMMIT is acknowledged by the synchronous standby. The
// writer then adds the local copy of the events (RocksDbLog) and commits the projections to
// the local RocksDB. Projections may therefore lag the log after a crash, an in-doubt commit or
// another writer's append: on open, and before the next group after a failed append, the
// ledger replays the log from the projections' head (meta) to DurableHead() (ledger/catch_up.h).
//
// Thread safety: reads may run concurrently with each other and with one Append.
#ifndef LEDGER_EVENT_LOG_H_
#define LEDGER_EVENT_LOG_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "ledger/types.h"
#include "ledger/v1/events.pb.h"
#include "rocksdb/write_batch.h"

namespace ledger {

// One group commit's events, in order.
struct EventGroup {
  uint64_t first_sequence = 0;                  // the head's sequence before the group, plus one
  std::span<const std::string> stored;          // the bytes to store, one per event
  std::span<const v1::EventEnvelope> parsed;    // the same events decoded, `hash` filled in
  ChainHead head;                               // the chain head after the group's last event
};

class EventLog {
 public:
  // `sequence` and the event's stored bytes; return false to stop.
  using Visitor = std::function<bool(uint64_t sequence, std::string_view stored)>;

  virtual ~EventLog() = default;

  // The head of what is durably stored: the last event's sequence and the SHA-256 of its bytes,
  // (0, GenesisHash()) when the log is empty. DATA_LOSS when the log cannot be read.
  virtual absl::StatusOr<ChainHead> DurableHead() const = 0;

  // The stored bytes of event `sequence`, nullopt when there is none. A read failure is an
  // error (UNAVAILABLE, or DATA_LOSS for corruption), not an absent event.
  virtual absl::StatusOr<std::optional<std::string>> Read(uint64_t sequence) const = 0;

  // Visits the stored events with sequence ≥ `from` (0: from the very first key) and ≤ `to`
  // (0: to the last), in ascending order, one at a time, until `visit` returns false. Visits
  // what is stored: a gap is not reported here (chain verification finds it). A read failure
  // ends the scan with DATA_LOSS (corruption) or UNAVAILABLE, the backend's message kept.
  virtual absl::Status Scan(uint64_t from, uint64_t to, const Visitor& visit) const = 0;

  // Appends `group` after `expected`, as one unit. Fails, appending nothing, when the durable
  // head is not `expected` (ABORTED) or the head cannot be read. Whether the group is durable
  // when this returns depends on the backend (see the file comment): RocksDB adds its writes to
  // `same_batch` and the group is durable once the caller's synced write of that batch succeeds.
  virtual absl::Status Append(const ChainHead& expected, const EventGroup& group,
                              rocksdb::WriteBatch& same_batch) = 0;
};

}  // namespace ledger

#endif  // LEDGER_EVENT_LOG_H_
