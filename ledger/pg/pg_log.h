// The event log kept in PostgreSQL (log.backend = postgres): the authoritative events, external
// references (the idempotency rows), chain head and signed checkpoints of one ledger, written by
// one writer at a time and acknowledged only once on the synchronous standby.
//
// Schema (created if missing, in the PostgreSQL schema `ledger_log`; `ledger` is the ledger id):
//   events      (ledger text, seq bigint, envelope bytea, prev_hash bytea, hash bytea,
//                PRIMARY KEY (ledger, seq))
//               envelope: the stored EventEnvelope bytes, identical to RocksDB's `events` value
//               (deterministic serialization, `hash` empty); hash = SHA-256(envelope);
//               prev_hash = the previous event's hash (genesis: 32 zero bytes), equal to the
//               envelope's own prev_hash.
//   refs        (ledger text, ref_key bytea, value bytea, seq bigint,
//                PRIMARY KEY (ledger, ref_key))
//               the RocksDB `idempotency` rows, key → value unchanged (a document's value holds
//               the command digest); seq: the last sequence of the group that last wrote it.
//   chain_head  (ledger text PRIMARY KEY, seq bigint, hash bytea, epoch bigint, writer text,
//                acked_seq bigint)
//               the last committed event (seq 0 and 32 zero bytes for an empty log); epoch: the
//               current writer's term; writer: who began it; acked_seq: the head this term knew
//               to be on the synchronous standby when it last wrote the row (what followers may
//               read, see PublishAcknowledged).
//   checkpoints (ledger text, seq bigint, checkpoint bytea, PRIMARY KEY (ledger, seq))
//               serialized v1::Checkpoint signing the chain at `seq`.
//
// Terms. A writer begins a term when it connects: in one transaction it increments `epoch` and
// reads the head, and that transaction commits synchronously before anything is served. Every
// later write moves or touches chain_head only WHERE (seq, hash, epoch) are what this writer
// last committed, so a writer whose epoch is not the latest can no longer commit anything. The
// synchronous commit of the term also covers every row visible at that point: a row committed
// only locally before (an in-doubt COMMIT of an earlier term) has a lower commit LSN, so it is
// on the synchronous standby once the term's commit is acknowledged. A row that exists only on
// a deposed primary is therefore never reported: a writer connected there cannot begin a term
// (its commit is never acknowledged).
//
// Thread-safe: calls are serialized on one connection.
#ifndef LEDGER_PG_PG_LOG_H_
#define LEDGER_PG_PG_LOG_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "ledger/pg/pg_conn.h"
#include "ledger/types.h"

namespace ledger {

class PgEventLog {
 public:
  struct Options {
    // How long a COMMIT may take to be acknowledged (locally and by the synchronous standby).
    // Past it the commit is in doubt; it is never cancelled.
    int commit_deadline_ms = 5'000;
    // Every other statement, and connecting.
    int statement_deadline_ms = 10'000;
    // Stored in chain_head.writer when a term begins (for operators). Empty: "pid <pid>".
    std::string writer_name;
    // Events fetched per round trip by ReadRange.
    int read_page_events = 1'000;
    // Open connects and begins a term only when false. True (a node under Patroni, see
    // deploy/ha/): the first call that needs a term begins it, once the node's PostgreSQL is
    // the primary; Open itself touches no server.
    bool defer_term = false;
  };

  // Connects, creates the schema if missing and begins a term (see above). UNAVAILABLE when the
  // server cannot be reached or the term's commit is not acknowledged within the deadline.
  static absl::StatusOr<std::unique_ptr<PgEventLog>> Open(std::string conninfo,
                                                          std::string ledger_id, Options options);
  ~PgEventLog();

  // Appends one group in one transaction: the CAS on chain_head (expected seq and hash, this
  // term's epoch) first, so a fenced writer writes no rows; then COPY of the events; the refs
  // (upserted: a later value replaces an earlier one, as a RocksDB Put does; within the group
  // the last value of a key wins); the checkpoints; then COMMIT, synchronously. Returns the new
  // head, which is then durable on the synchronous standby.
  //
  // Preconditions (checked; a violation crashes): at least one envelope; envelope i parses,
  // carries sequence expected.sequence + 1 + i and the previous event's hash as prev_hash (the
  // first links to expected.hash), and an empty `hash`; every checkpoint's seq is within
  // (expected.sequence, new head].
  //
  // Errors:
  //   ABORTED "head_moved: ..."  `expected` is not this term's head (e.g. after an in-doubt
  //                              commit resolved into the log); nothing was sent. Re-read
  //                              DurableHead() and the events after the caller's head.
  //   ABORTED "fenced: ..."      another writer began a later term or moved the head. Nothing
  //                              was written, and this object refuses every later call; only a
  //                              new Open (a new term) may write again.
  //   UNAVAILABLE "commit_in_doubt: ..."  the COMMIT was sent but did not return cleanly
  //                              (error, lost connection, deadline, a sync-rep warning). The
  //                              group may or may not be in the log; never acknowledge it. The
  //                              connection is closed without cancelling; the next call begins
  //                              a new term, whose head includes the group if it committed.
  //                              Resolve a resend with ResolveRefs.
  //   UNAVAILABLE (other)        the group was not committed (connection, server, deadline
  //                              before COMMIT); the next call begins a new term.
  absl::StatusOr<ChainHead> Append(
      const ChainHead& expected, const std::vector<std::string>& envelopes,
      const std::vector<std::pair<std::string, std::string>>& refs,
      const std::vector<std::pair<uint64_t, std::string>>& checkpoints);

  // The values of those `keys` that are in refs (absent keys are missing from the map). Found
  // values are returned only after a synchronous commit of this term that is later than the
  // read: a barrier transaction that touches chain_head under the same CAS as Append. So a
  // duplicate is never answered from a row that is committed only locally. When no key is
  // found, nothing is committed (an absence acknowledges nothing: the append that follows is).
  // Errors as Append's: "fenced:", "commit_in_doubt:" (nothing is reported; ask again).
  absl::StatusOr<absl::flat_hash_map<std::string, std::string>> ResolveRefs(
      const std::vector<std::string>& keys);

  // Visits events [from, to] in order, each checked on the way out: dense, prev_hash links,
  // hash = SHA-256(envelope) (DATA_LOSS otherwise). `to` must not exceed DurableHead(): what is
  // beyond it is not acknowledged (OUT_OF_RANGE). Stops at the first non-OK from `visit`.
  absl::Status ReadRange(uint64_t from, uint64_t to,
                         const std::function<absl::Status(uint64_t, std::string_view)>& visit);

  // The serialized checkpoints with seq in [from, to], in order.
  absl::StatusOr<std::vector<std::pair<uint64_t, std::string>>> ReadCheckpoints(uint64_t from,
                                                                                uint64_t to);

  // Makes this term's acknowledged head visible to followers (chain_head.acked_seq, which every
  // append sets to the head before its group, the last one known to be on the synchronous
  // standby): one synchronous touch of chain_head under the CAS, when an append left it behind.
  // A follower that sees acked_seq = n reads events up to n only, so it never applies an event
  // a failover could still lose. Errors as ResolveRefs'. No term: nothing to publish, OK.
  absl::Status PublishAcknowledged();

  // Ends the term without writing (this node is no longer the primary) and lifts a fence: the
  // next call that needs a term begins a new one (an epoch bump), wherever conninfo leads.
  void Resign();

  // The head as of this term's last acknowledged commit. Begins a new term first when the last
  // one ended (in doubt, connection lost).
  absl::StatusOr<ChainHead> DurableHead();

  // This term's epoch; 0 when no term is active (after an in-doubt commit, until the next call).
  uint64_t Epoch() const;

  // True once another writer fenced this one; every call then returns ABORTED.
  bool fenced() const;

 private:
  PgEventLog(std::string conninfo, std::string ledger_id, Options options);

  absl::Time StatementDeadline() const;
  // Begins a term on a fresh connection unless one is active.
  absl::Status EnsureTerm() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status CreateSchema() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status BeginTerm() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Moves chain_head from head_ to `next` (next == head_: touches it) WHERE seq, hash and epoch
  // are this term's; zero rows updated fences this writer.
  absl::Status CompareAndSet(const ChainHead& next, absl::string_view what)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // One synchronous commit of this term that touches chain_head under the CAS (and so publishes
  // the head as acknowledged): the barrier of ResolveRefs and PublishAcknowledged.
  absl::Status TouchHead(absl::string_view what) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status WriteGroup(const ChainHead& expected, const std::vector<std::string>& envelopes,
                          const std::vector<std::pair<std::string, std::string>>& refs,
                          const std::vector<std::pair<uint64_t, std::string>>& checkpoints,
                          uint64_t new_seq) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status UpsertRefs(const std::vector<std::pair<std::string, std::string>>& refs,
                          uint64_t new_seq, absl::Time deadline) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status InsertCheckpoints(const std::vector<std::pair<uint64_t, std::string>>& checkpoints,
                                 absl::Time deadline) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Closes the connection (no cancel) and ends the term; `status` passes through.
  absl::Status EndTerm(absl::Status status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status Fence(absl::string_view why) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status CheckUsable() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string conninfo_;
  const std::string ledger_id_;
  const Options options_;

  mutable absl::Mutex mu_;
  std::unique_ptr<pg::Conn> conn_ ABSL_GUARDED_BY(mu_);  // null: no term
  uint64_t epoch_ ABSL_GUARDED_BY(mu_) = 0;
  ChainHead head_ ABSL_GUARDED_BY(mu_);
  std::string fenced_ ABSL_GUARDED_BY(mu_);  // why, once fenced
  uint64_t published_ ABSL_GUARDED_BY(mu_) = 0;  // acked_seq as this term last committed it
};

// Visits events [from, to] of `ledger_id` through `conn`, `page_events` per round trip, each
// checked: dense, decodes with its own sequence, hash = SHA-256(envelope) and prev_hash links
// (the event before `from` is read too, not visited). DATA_LOSS when a check fails; a failed
// statement is returned with `connection_failed` set (the caller closes the connection).
// `last_hash` (out, on success): the hash of event `to`.
absl::Status ReadCheckedEvents(
    pg::Conn& conn, std::string_view ledger_id, uint64_t from, uint64_t to, int page_events,
    int statement_deadline_ms,
    const std::function<absl::Status(uint64_t, std::string_view)>& visit,
    std::string& last_hash, bool& connection_failed);

}  // namespace ledger

#endif  // LEDGER_PG_PG_LOG_H_
