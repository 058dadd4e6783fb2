// The ledger: one pooling fund's immutable, hash-chained event log with its projections.
//
// Commands (push collections, enrol, adopt a policy) are queued to a single writer thread. The
// writer takes every queued command (up to kCommitRecordsMax records), validates each in order
// against the committed state plus the effects of the commands before it in the same group, turns
// the accepted ones into events, and commits events, chain head, idempotency index and
// projections in ONE synced RocksDB WriteBatch (group commit). Callers are answered only after
// that commit returns: an acknowledged command is durable, and a crash leaves all of a group or
// none of it. Projections therefore never lag the log.
//
// Thread safety: every public method may be called from any thread concurrently.
#ifndef LEDGER_LEDGER_H_
#define LEDGER_LEDGER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "google/protobuf/repeated_field.h"
#include "ledger/limits.h"
#include "ledger/types.h"
#include "ledger/v1/commands.pb.h"
#include "ledger/v1/events.pb.h"
#include "ledger/v1/policy.pb.h"
#include "ledger/v1/reconciliation.pb.h"
#include "ledger/v1/records.pb.h"

namespace rocksdb {
class FileSystem;
}  // namespace rocksdb

namespace ledger {

// What one group commit did; handed to Options::on_commit.
struct CommitInfo {
  uint64_t commands = 0;
  uint64_t events = 0;
  uint64_t commit_us = 0;  // the synced WriteBatch (fsync included)
  std::map<std::string, uint64_t> events_by_type;  // "contribution_collected" → count
};

// RocksDB's own view of its size, for monitoring.
struct StorageStats {
  uint64_t sst_bytes = 0;                 // all SST files, every column family
  uint64_t memtable_bytes = 0;            // all memtables
  uint64_t pending_compaction_bytes = 0;  // estimated bytes compaction still has to rewrite
};

// Where the authoritative event log is kept (log.backend).
enum class LogBackend {
  kRocksDb,   // the data directory's own RocksDB (default)
  kPostgres,  // PostgreSQL (ledger/pg/pg_log.h); the data directory holds a copy and the
              // projections, caught up from PostgreSQL on open
};

struct Options {
  // RocksDB data directory; created if missing.
  std::string data_dir;
  LogBackend log_backend = LogBackend::kRocksDb;
  // kPostgres: the libpq conninfo, the ledger's id in the shared tables, and how long a COMMIT
  // may wait for the synchronous standby before the group is in doubt (answered UNAVAILABLE
  // "commit_in_doubt: ...", never acknowledged).
  std::string postgres_conninfo;
  std::string postgres_ledger_id = "ledger";
  int postgres_commit_deadline_ms = 5'000;
  // kPostgres on a node under Patroni (deploy/ha/): true while this node's PostgreSQL is the
  // primary; asked by the writer before every group and every 100 ms when idle, so it must be
  // quick (ledgerd's answers from a cached poll of Patroni's REST API). While false, writes are
  // answered UNAVAILABLE "not_leader: …" and the projections follow the log up to the
  // acknowledged sequence the writer publishes (ledger/replication.h). Null: this node always
  // writes, and Open catches up from PostgreSQL before it returns.
  std::function<bool()> postgres_is_primary;
  // Re-hash the whole log when opening (O(events)). When false, only the chain head is checked
  // against the last event.
  bool verify_chain_on_open = true;
  // Microseconds since the Unix epoch. Read by the writer only, once per commit, to stamp
  // `recorded_time_us` and to reject business dates in the future. Default: the system clock.
  std::function<int64_t()> clock_us;
  // Ed25519 private key (PEM) to sign checkpoints with; empty: no checkpoints are signed.
  std::string checkpoint_key_pem;
  // A checkpoint is signed in the commit that reaches each multiple of this many events.
  uint64_t checkpoint_interval_events = 10'000;
  // Called by the writer thread after every successful commit, before callers are answered.
  // Must be quick and must not call back into the ledger. Default: none.
  std::function<void(const CommitInfo&)> on_commit;
  // The filesystem RocksDB uses; null (default): the normal POSIX one. Tests inject faults here.
  std::shared_ptr<rocksdb::FileSystem> file_system;
};

// Counters of the group-commit writer since Open (monotonic).
struct WriterStats {
  uint64_t commits = 0;     // synced WriteBatches
  uint64_t commands = 0;    // commands answered (a PushCollections call is one command)
  uint64_t records = 0;     // collection records decided
  uint64_t events = 0;      // events appended
  uint64_t commit_us = 0;   // time spent in WriteSynced (the fsync'd write), summed
};

// A collection push handed to the writer without waiting for it (Ledger::SubmitCollections).
class PendingPush {
 public:
  PendingPush(PendingPush&&) noexcept;
  PendingPush& operator=(PendingPush&&) noexcept;
  // Waits for the writer if Wait() was not called: it still reads the records.
  ~PendingPush();

  // Blocks until the push is committed (durable) or failed; then exactly as PushCollections.
  // Call at most once.
  [[nodiscard]] absl::StatusOr<std::vector<v1::RecordOutcome>> Wait();
  // True once Wait() would not block.
  [[nodiscard]] bool Ready() const;

  struct State;

 private:
  friend class Ledger;
  explicit PendingPush(std::shared_ptr<State> state);
  std::shared_ptr<State> state_;
};

// A single command (enrol, adopt a policy, a lifecycle or fund command) handed to the writer
// without waiting for it (Ledger::SubmitEnrol, SubmitPolicy, Submit).
class PendingCommand {
 public:
  PendingCommand(PendingCommand&&) noexcept;
  PendingCommand& operator=(PendingCommand&&) noexcept;
  // Waits for the writer if Wait() was not called: it still reads the command.
  ~PendingCommand();

  // Blocks until the command is committed (durable), rejected or failed; then exactly as Enrol,
  // AdoptPolicy or Execute. Call at most once.
  [[nodiscard]] absl::StatusOr<CommandResult> Wait();
  // True once Wait() would not block.
  [[nodiscard]] bool Ready() const;

  struct State;

 private:
  friend class Ledger;
  explicit PendingCommand(std::shared_ptr<State> state);
  std::shared_ptr<State> state_;
};

class Ledger {
 public:
  // Opens (or creates) the ledger, checks the chain (see Options), loads policies and ledger
  // account totals, and starts the writer. DATA_LOSS if the log or its head is damaged.
  static absl::StatusOr<std::unique_ptr<Ledger>> Open(Options options);

  // Drops every projection and rebuilds it by replaying the log from sequence 1, verifying the
  // chain as it goes, `events_per_batch` events per write. Offline: the ledger at `data_dir`
  // must not be open elsewhere.
  static absl::Status RebuildProjections(const std::string& data_dir,
                                         size_t events_per_batch = kReplayEventsPerBatchMax);

  // Finishes queued commands, stops the writer, closes the database.
  ~Ledger();
  Ledger(const Ledger&) = delete;
  Ledger& operator=(const Ledger&) = delete;

  // Validates and commits collection records (at most kCommitRecordsMax). Returns one outcome
  // per record, in order, after the accepted ones are durable. Record checks, in order:
  //   ADD:    record type, receipt number, citizen ID, text fields, amount > 0, date valid;
  //           then a receipt already recorded → DUPLICATE (same content) or
  //           DUPLICATE_RECEIPT_CONFLICT; then region known, policy in force on the date,
  //           date not in the future, contribution year plausible, amount is a tier;
  //           then suspense (not enrolled, deceased, drawing pension, terminated, other region,
  //           year already paid) or ACCEPTED.
  //   CANCEL: the same syntax checks; then ORIGINAL_NOT_FOUND, an identical earlier cancel →
  //           DUPLICATE, ALREADY_CANCELLED (differing cancel), CANCEL_MISMATCH, DATE_IN_FUTURE,
  //           INVALID_DATE (before the original), INSUFFICIENT_BALANCE; else ACCEPTED.
  // A non-OK status means the commit failed (storage); nothing in the call was applied.
  using Records = google::protobuf::RepeatedPtrField<v1::CollectionRecord>;
  [[nodiscard]] absl::StatusOr<std::vector<v1::RecordOutcome>> PushCollections(
      const Records& records, std::string_view actor);

  // As PushCollections, but returns once the records are queued, so the caller can prepare its
  // next batch while this one is validated and committed (commands are applied in submission
  // order). At most kCommitRecordsMax records; more fail in Wait() with RESOURCE_EXHAUSTED.
  // `on_ready`, if given, is called exactly once after the push becomes Ready(): on the writer's
  // thread, or on the caller's before this returns when there is nothing to queue. It must be
  // quick and must not submit to the ledger.
  [[nodiscard]] PendingPush SubmitCollections(std::shared_ptr<const Records> records,
                                              std::string actor,
                                              std::function<void()> on_ready = {});

  // Enrols a resident. Checks, in order: citizen ID, name and text fields, enrolment date
  // (valid, not in the future), special group, region known, age ≥ 16 on the enrolment date,
  // then an enrolled ID → duplicate (identical) or ALREADY_ENROLLED.
  [[nodiscard]] absl::StatusOr<CommandResult> Enrol(const v1::ParticipantEnrolled& enrolment,
                                                    std::string_view actor);

  // Enrol, AdoptPolicy and Execute without waiting: each returns once the command is queued
  // (blocking only while the writer's queue is full). `on_ready`, if given, is called exactly once
  // on the writer's thread after the command becomes Ready(); it must be quick and must not
  // submit to the ledger.
  [[nodiscard]] PendingCommand SubmitEnrol(v1::ParticipantEnrolled enrolment, std::string actor,
                                           std::function<void()> on_ready = {});
  [[nodiscard]] PendingCommand SubmitPolicy(v1::Policy policy, std::string actor,
                                            std::function<void()> on_ready = {});
  [[nodiscard]] PendingCommand Submit(v1::AccountCommand command, std::string actor,
                                      std::function<void()> on_ready = {});

  // Adopts a policy version: ValidatePolicy, then the identical version already adopted →
  // duplicate, else POLICY_VERSION_NOT_NEWER unless the version is above the region's latest
  // and its effective_from is not earlier than the latest's (the same date corrects a version).
  [[nodiscard]] absl::StatusOr<CommandResult> AdoptPolicy(const v1::Policy& policy,
                                                          std::string_view actor);

  // A lifecycle command (subsidy, refund, benefit, suspension, death, transfer, fiscal funds);
  // validated in the order documented in ledger/lifecycle.h. All its events (with any interest
  // adjustments they cause) commit together.
  [[nodiscard]] absl::StatusOr<CommandResult> Execute(const v1::AccountCommand& command,
                                                      std::string_view actor);

  // Runs a batch job to completion in chunks of kJobChunkAccountsMax accounts, one commit each,
  // calling `on_progress` after each chunk. Idempotent per (account, period): re-running after an
  // interruption continues where it stopped. A rejection (bad period, funds short) changes
  // nothing in its chunk; chunks already committed stay.
  struct JobOutcome {
    std::optional<Rejection> rejection;
    v1::JobProgress progress;
  };
  [[nodiscard]] absl::StatusOr<JobOutcome> RunJob(
      const v1::JobRequest& request, std::string_view actor,
      const std::function<void(const v1::JobProgress&)>& on_progress = {});

  // Online backup: between two commits, writes a consistent copy of the whole ledger to
  // `directory` (a new directory on the server's filesystem) and returns the chain head it holds.
  // Writes pause only for the checkpoint itself. Restore = open a copy of that directory.
  [[nodiscard]] absl::StatusOr<ChainHead> Backup(const std::string& directory);

  // Reads (concurrent with writes; each sees a committed state).
  absl::StatusOr<std::optional<v1::Account>> GetAccount(std::string_view citizen_id) const;
  std::optional<v1::Policy> LatestPolicy(std::string_view region_code) const;
  ChainHead Head() const;
  WriterStats Stats() const;
  StorageStats Storage() const;
  // OK while writes are accepted; after a failed write (ENOSPC, EIO) that RocksDB has not yet
  // resumed from, that failure: the ledger is read-only until a commit resumes it or a restart.
  absl::Status WriteState() const;
  // Ledger (double-entry) account balances, debits minus credits in fen, keyed
  // "<region>/<account>". Their sum is always zero.
  std::map<std::string, int64_t> LedgerAccountBalances() const;
  // --- the auditor's reads ---
  // Calls `visit(sequence, stored bytes)` for events [from, to] (to = 0: the head) in order,
  // reading one event at a time; stops early when `visit` returns false. OUT_OF_RANGE outside
  // [1, head].
  absl::Status ForEachEvent(uint64_t from, uint64_t to,
                            const std::function<bool(uint64_t, std::string_view)>& visit) const;
  // The first break in the chain over [from, to], or nullopt when it verifies. OUT_OF_RANGE
  // outside [1, head].
  struct ChainBreak {
    uint64_t sequence = 0;
    std::string reason;
  };
  absl::StatusOr<std::optional<ChainBreak>> FindChainBreak(uint64_t from, uint64_t to) const;
  // Signed checkpoints with sequence in [from, to] (to = 0: no limit), ascending.
  absl::StatusOr<std::vector<v1::Checkpoint>> Checkpoints(uint64_t from, uint64_t to) const;
  // The checkpoint public key (PEM); empty when no key is configured.
  std::string CheckpointPublicKeyPem() const;
  // Balance as of a sequence (0: no limit) and/or effective date (empty: no limit), recomputed
  // from the log: a participant's by source, or a ledger account's ("<region>/<account>").
  struct BalanceAsOf {
    std::vector<v1::SourceAmount> by_source;
    int64_t total_fen = 0;
    uint64_t events = 0;
  };
  absl::StatusOr<BalanceAsOf> ParticipantBalanceAsOf(std::string_view citizen_id,
                                                     uint64_t as_of_sequence,
                                                     std::string_view as_of_date) const;
  absl::StatusOr<BalanceAsOf> LedgerAccountBalanceAsOf(std::string_view ledger_account,
                                                       uint64_t as_of_sequence,
                                                       std::string_view as_of_date) const;
  // The four reconciliations (ledger/recon.h) at one consistent snapshot. INVALID_ARGUMENT for a
  // malformed region or date; an unknown one gives empty sections.
  absl::StatusOr<v1::Reconciliation> Reconcile(const v1::ReconciliationRequest& request) const;
  // One tax day's reconciliation; nullopt when the ledger holds neither receipts nor a report.
  absl::StatusOr<std::optional<v1::TaxDayReconciliation>> ReconcileTaxDay(
      std::string_view region, std::string_view collection_date,
      std::string_view tax_office) const;
  // A fund bank account's ledger balance at the end of `as_of_date` (empty: every movement).
  struct FundBalance {
    int64_t balance_fen = 0;
    uint64_t as_of_sequence = 0;
  };
  absl::StatusOr<FundBalance> FundBalanceAsOf(std::string_view region, v1::BankAccount account,
                                              std::string_view as_of_date) const;
  // Rebuilds every projection from the log into a scratch store under `scratch_dir` (created,
  // then removed) at one consistent snapshot, and compares it with the live projections byte
  // for byte.
  struct ReplayComparison {
    bool equal = false;
    uint64_t sequence = 0;
    uint64_t events_replayed = 0;
    uint64_t rows_compared = 0;
    double seconds = 0;
    std::string first_difference;
  };
  absl::StatusOr<ReplayComparison> ReplayCompare(const std::string& scratch_dir) const;

  // The region a lifecycle command acts in (the participant's, the receipt's, the fiscal funds'
  // or the transfer's destination), for authorization; "" when it names nothing recorded.
  absl::StatusOr<std::string> CommandRegion(const v1::AccountCommand& command) const;
  // Every event naming the participant, in order, with hashes.
  absl::StatusOr<std::vector<v1::EventEnvelope>> ParticipantEvents(
      std::string_view citizen_id) const;
  // The annual statement (对账单); nullopt when the participant is not enrolled.
  absl::StatusOr<std::optional<v1::Statement>> GetStatement(std::string_view citizen_id,
                                                            int year) const;
  // The event at `sequence` with `hash` filled in; NOT_FOUND beyond the head.
  absl::StatusOr<v1::EventEnvelope> ReadEvent(uint64_t sequence) const;

  // Re-hashes events [from, to] (to = 0: the head) and checks each links to its predecessor and
  // carries its own sequence. DATA_LOSS naming the first bad sequence and why.
  absl::Status VerifyChain(uint64_t from = 1, uint64_t to = 0) const;

  class Impl;

 private:
  explicit Ledger(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ledger

#endif  // LEDGER_LEDGER_H_
