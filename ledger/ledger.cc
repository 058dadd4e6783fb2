#include "ledger/ledger.h"

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <future>
#include <mutex>
#include <thread>

#include <pthread.h>

#include "absl/status/status.h"
#include "ledger/strings.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "ledger/dates.h"
#include "ledger/apply.h"
#include "ledger/audit.h"
#include "ledger/funds.h"
#include "ledger/hash.h"
#include "ledger/lifecycle.h"
#include "ledger/recon.h"
#include "ledger/limits.h"
#include "ledger/statement.h"
#include "ledger/rules.h"
#include "ledger/status_macros.h"
#include "ledger/store.h"
#include "ledger/working_state.h"

namespace ledger {

namespace internal {
void CheckFailed(const char* file, int line, const char* cond, std::string_view msg) {
  std::fprintf(stderr, "LEDGER INVARIANT FAILED at %s:%d: %s (%.*s)\n", file, line, cond,
               static_cast<int>(msg.size()), msg.data());
  std::fflush(stderr);
  std::abort();
}
}  // namespace internal

namespace {

// A queued command and the slot for its answer.
struct Command {
  enum class Kind { kCollections, kEnrol, kPolicy, kBackup, kAccount, kJobStart, kJobChunk };
  Kind kind;
  std::string_view actor;
  const Ledger::Records* records = nullptr;
  const v1::ParticipantEnrolled* enrolment = nullptr;
  const v1::Policy* policy = nullptr;
  const std::string* backup_directory = nullptr;
  const v1::AccountCommand* account_command = nullptr;
  const v1::JobRequest* job = nullptr;

  std::vector<v1::RecordOutcome> outcomes;
  CommandResult result;
  JobCursor cursor;  // jobs: in and out
  absl::Status status;
  std::promise<void> done;
  std::function<void()> on_ready;  // called after `done` is set (the command may be gone by then)

  size_t weight() const {
    if (kind == Kind::kJobChunk) return kJobChunkAccountsMax;
    return kind == Kind::kCollections ? std::max<size_t>(1, records->size()) : 1;
  }
};

absl::Status CheckAgainstHead(const Store& store, const ChainHead& head) {
  auto it = store.NewIterator(Cf::kEvents);
  it->SeekToLast();
  if (!it->status().ok()) return absl::DataLossError(it->status().ToString());
  const uint64_t last_in_log = it->Valid() ? keys::DecodeU64(it->key().ToStringView()) : 0;
  if (last_in_log != head.sequence) {
    return absl::DataLossError(StrCat(
        "the log ends at sequence ", last_in_log, " but the projections are at ", head.sequence,
        "; run `ledgerctl rebuild` (offline) to rebuild projections from the log"));
  }
  if (head.sequence == 0) return absl::OkStatus();
  if (Sha256(it->value().ToStringView()) != head.hash) {
    return absl::DataLossError(StrCat("event ", head.sequence,
                                            " does not hash to the recorded chain head"));
  }
  return absl::OkStatus();
}

absl::StatusOr<CommittedState> LoadCommitted(const Store& store) {
  CommittedState state;
  state.head.hash = GenesisHash();
  LEDGER_ASSIGN_OR_RETURN(auto last, store.Get(Cf::kMeta, keys::kLastSequence));
  LEDGER_ASSIGN_OR_RETURN(auto head, store.Get(Cf::kMeta, keys::kChainHead));
  if (last.has_value() != head.has_value() || (last && (last->size() != 8 || head->size() != 32))) {
    return absl::DataLossError("meta: last_sequence and chain_head are damaged");
  }
  if (last) state.head = ChainHead{keys::DecodeU64(*last), *head};
  LEDGER_ASSIGN_OR_RETURN(auto policies, store.Scan(Cf::kPolicies));
  for (const auto& [key, value] : policies) {
    v1::Policy p;
    if (!p.ParseFromString(value)) return absl::DataLossError("a stored policy does not decode");
    state.policies.Add(p);
  }
  LEDGER_ASSIGN_OR_RETURN(auto marks, store.Scan(Cf::kJobs));
  for (const auto& [key, value] : marks) {
    if (value.size() != 4) return absl::DataLossError("a job mark is damaged");
    state.job_marks[key] = static_cast<int32_t>(keys::DecodeU64(std::string(4, '\0') + value));
  }
  LEDGER_ASSIGN_OR_RETURN(auto totals, store.Scan(Cf::kLedgerAccounts));
  int64_t sum = 0;
  for (const auto& [key, value] : totals) {
    if (value.size() != 8) return absl::DataLossError("a ledger account balance is damaged");
    state.ledger_totals[key] = keys::DecodeI64(value);
    sum += keys::DecodeI64(value);
  }
  if (sum != 0) return absl::DataLossError("ledger accounts do not sum to zero");
  return state;
}

absl::Status EnsureSchema(Store& store) {
  LEDGER_ASSIGN_OR_RETURN(auto schema, store.Get(Cf::kMeta, keys::kSchemaVersion));
  if (schema) {
    if (*schema != keys::kCurrentSchemaVersion) {
      return absl::FailedPreconditionError(
          StrCat("data directory has schema version ", *schema, "; this build reads ",
                       keys::kCurrentSchemaVersion));
    }
    return absl::OkStatus();
  }
  rocksdb::WriteBatch batch;
  batch.Put(store.handle(Cf::kMeta), std::string(keys::kSchemaVersion),
            std::string(keys::kCurrentSchemaVersion));
  return store.WriteSynced(batch);
}

// The first break in the chain over [from, to] (to = 0: the head), or nullopt. OUT_OF_RANGE for
// a range outside [1, head]; a storage read failure is an error, not a break.
absl::StatusOr<std::optional<Ledger::ChainBreak>> FindBreak(const Store& store, uint64_t from,
                                                            uint64_t to, const ChainHead& head) {
  if (to == 0) to = head.sequence;
  if (from == 0 || from > to || to > head.sequence) {
    return absl::OutOfRangeError(
        StrCat("range [", from, ", ", to, "] is outside [1, ", head.sequence, "]"));
  }
  using Break = std::optional<Ledger::ChainBreak>;
  auto broken = [](uint64_t sequence, std::string reason) {
    return Break(Ledger::ChainBreak{sequence, std::move(reason)});
  };
  std::string prev = GenesisHash();
  if (from > 1) {
    LEDGER_ASSIGN_OR_RETURN(auto bytes, store.Get(Cf::kEvents, keys::Event(from - 1)));
    if (!bytes) return broken(from - 1, StrCat("event ", from - 1, " is missing"));
    prev = Sha256(*bytes);
  }
  auto it = store.NewIterator(Cf::kEvents);
  uint64_t expected = from;
  for (it->Seek(keys::Event(from)); it->Valid() && expected <= to; it->Next(), ++expected) {
    const uint64_t key = keys::DecodeU64(it->key().ToStringView());
    if (key != expected) {
      return broken(expected, StrCat("event ", expected, " is missing (next is ", key, ")"));
    }
    v1::EventEnvelope e;
    if (!e.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return broken(expected, StrCat("event ", expected, " does not decode"));
    }
    if (e.sequence() != expected) {
      return broken(expected, StrCat("event ", expected, " carries sequence ", e.sequence()));
    }
    if (e.prev_hash() != prev) {
      return broken(expected, StrCat("event ", expected, " does not link to the hash of event ",
                                     expected - 1));
    }
    prev = Sha256(it->value().ToStringView());
  }
  if (!it->status().ok()) {
    if (it->status().IsCorruption()) return broken(expected, it->status().ToString());
    return absl::UnavailableError(it->status().ToString());
  }
  if (expected <= to) return broken(expected, StrCat("event ", expected, " is missing"));
  // The range's last event is vouched for by what follows it: the recorded chain head, or the
  // next event's link.
  if (to == head.sequence) {
    if (prev != head.hash) return broken(to, "the last event does not hash to the recorded chain head");
  } else {
    // (A missing or undecodable successor is a break outside the range, not this event's.)
    LEDGER_ASSIGN_OR_RETURN(auto next_bytes, store.Get(Cf::kEvents, keys::Event(to + 1)));
    v1::EventEnvelope next;
    if (next_bytes && next.ParseFromString(*next_bytes) && next.prev_hash() != prev) {
      return broken(to, StrCat("event ", to, " does not hash to the link event ", to + 1,
                               " holds"));
    }
  }
  return Break();
}

absl::Status VerifyRange(const Store& store, uint64_t from, uint64_t to, const ChainHead& head) {
  LEDGER_ASSIGN_OR_RETURN(auto found, FindBreak(store, from, to, head));
  if (found) return absl::DataLossError(found->reason);
  return absl::OkStatus();
}

v1::RecordOutcome OutcomeFor(uint32_t index, const Decision& d) {
  v1::RecordOutcome o;
  o.set_index(index);
  if (d.rejection) {
    o.set_outcome(v1::OUTCOME_REJECTED);
    o.set_reason(d.rejection->reason);
    o.set_detail(d.rejection->detail);
  } else if (d.duplicate_of != 0) {
    o.set_outcome(v1::OUTCOME_DUPLICATE);
    o.set_sequence(d.duplicate_of);
  }
  return o;
}

}  // namespace

class Ledger::Impl {
 public:
  Impl(std::unique_ptr<Store> store, CommittedState committed, std::function<int64_t()> clock,
       std::function<void(const CommitInfo&)> on_commit,
       std::unique_ptr<CheckpointSigner> signer, uint64_t checkpoint_interval)
      : store_(std::move(store)),
        committed_(std::move(committed)),
        clock_(std::move(clock)),
        on_commit_(std::move(on_commit)),
        signer_(std::move(signer)),
        checkpoint_interval_(std::max<uint64_t>(1, checkpoint_interval)) {
    writer_ = std::thread([this] {
      pthread_setname_np(pthread_self(), "ledger-writer");  // visible in top, perf, gdb
      WriterLoop();
    });
  }

  ~Impl() {
    {
      std::lock_guard lock(queue_mu_);
      stopping_ = true;
    }
    queue_cv_.notify_all();
    writer_.join();
  }

  // Queues `c` (blocking while the queue is full) and returns the future the writer fulfils once
  // it has answered `c`. `c` must stay alive until then.
  std::future<void> Enqueue(Command& c) {
    std::future<void> done = c.done.get_future();
    {
      std::unique_lock lock(queue_mu_);
      space_cv_.wait(lock, [&] { return queue_.size() < kWriterQueueCommandsMax; });
      queue_.push_back(&c);
    }
    queue_cv_.notify_one();
    return done;
  }

  void Run(Command& c) { Enqueue(c).wait(); }

  const Store& store() const { return *store_; }
  const CheckpointSigner* signer() const { return signer_.get(); }

  // A consistent copy of what readers may see.
  ChainHead Head() const {
    absl::MutexLock lock(&published_mu_);
    return committed_.head;
  }
  std::optional<v1::Policy> LatestPolicy(std::string_view region) const {
    absl::MutexLock lock(&published_mu_);
    const v1::Policy* p = committed_.policies.Latest(region);
    return p ? std::optional<v1::Policy>(*p) : std::nullopt;
  }
  std::map<std::string, int64_t> Totals() const {
    absl::MutexLock lock(&published_mu_);
    return committed_.ledger_totals;
  }
  WriterStats Stats() const {
    absl::MutexLock lock(&published_mu_);
    return stats_;
  }
  absl::Status WriteState() const {
    absl::MutexLock lock(&published_mu_);
    return published_write_error_;
  }

 private:
  void WriterLoop() {
    for (;;) {
      std::vector<Command*> group;
      {
        std::unique_lock lock(queue_mu_);
        queue_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;  // stopping, and everything queued has been answered
        size_t weight = 0;
        while (!queue_.empty() &&
               (group.empty() || weight + queue_.front()->weight() <= kCommitRecordsMax)) {
          weight += queue_.front()->weight();
          group.push_back(queue_.front());
          queue_.pop_front();
        }
      }
      space_cv_.notify_all();
      CommitGroup(group);
    }
  }

  // Validates every command of the group in order, commits all resulting events in one synced
  // WriteBatch, publishes the new committed state, then answers. On a storage error nothing of
  // the group is applied (in memory or on disk) and every command gets the error.
  void CommitGroup(const std::vector<Command*>& group) {
    const int64_t now_us = clock_();
    const absl::CivilDay today = BeijingDay(now_us);
    WorkingState state(*store_, committed_);
    absl::Status status;
    for (Command* c : group) {
      status = Execute(*c, state, now_us, today);
      if (!status.ok()) break;
    }
    uint64_t commit_us = 0;
    const size_t appended = state.appended();
    if (status.ok() && !state.empty()) {
      rocksdb::WriteBatch batch = state.Batch(/*include_events=*/true);
      AddCheckpoint(state, now_us, batch);
      const auto start = std::chrono::steady_clock::now();
      status = ResumeAfterWriteError();
      if (status.ok()) status = store_->WriteSynced(batch);
      if (!status.ok() && write_error_.ok()) SetWriteError(status);
      commit_us = std::chrono::duration_cast<std::chrono::microseconds>(
                      std::chrono::steady_clock::now() - start)
                      .count();
      if (status.ok()) {
        absl::MutexLock lock(&published_mu_);
        state.Publish(committed_);
      }
      if (status.ok() && on_commit_) {
        CommitInfo info{.commands = group.size(), .events = appended, .commit_us = commit_us};
        for (const v1::EventEnvelope& e : state.appended_events()) {
          ++info.events_by_type[EventTypeName(e)];
        }
        on_commit_(info);
      }
    }
    {
      absl::MutexLock lock(&published_mu_);
      if (commit_us > 0) ++stats_.commits;
      stats_.commands += group.size();
      for (const Command* c : group) {
        if (c->kind == Command::Kind::kCollections) stats_.records += c->records->size();
      }
      if (status.ok()) stats_.events += appended;
      stats_.commit_us += commit_us;
    }
    for (Command* c : group) {
      if (!status.ok()) {
        c->status = status;
      } else if (c->kind == Command::Kind::kBackup) {
        // After this group's commit and before the next: the copy holds exactly `head`.
        c->status = store_->Checkpoint(*c->backup_directory);
        c->result.sequence = committed_.head.sequence;
      }
      // `c` may be freed as soon as `done` is set: take the notification out first.
      std::function<void()> on_ready = std::move(c->on_ready);
      c->done.set_value();
      if (on_ready) on_ready();
    }
  }

  absl::Status Execute(Command& c, WorkingState& state, int64_t now_us, absl::CivilDay today) {
    const Appender appender = [&](v1::EventEnvelope e) -> absl::StatusOr<uint64_t> {
      e.set_actor(std::string(c.actor));
      e.set_recorded_time_us(now_us);
      return state.Append(std::move(e));
    };
    auto append = [&](Decision& d) { return appender(std::move(*d.event)); };
    switch (c.kind) {
      case Command::Kind::kCollections: {
        c.outcomes.reserve(c.records->size());
        for (int i = 0; i < c.records->size(); ++i) {
          LEDGER_ASSIGN_OR_RETURN(Decision d, DecideCollection(c.records->Get(i), state, today));
          v1::RecordOutcome o = OutcomeFor(static_cast<uint32_t>(i), d);
          if (d.event) {
            const v1::SuspenseReason suspense =
                d.event->contribution_collected().suspense_reason();
            o.set_outcome(suspense == v1::SUSPENSE_REASON_UNSPECIFIED ? v1::OUTCOME_ACCEPTED
                                                                     : v1::OUTCOME_SUSPENSE);
            o.set_suspense_reason(suspense);
            const bool in_account =
                d.event->has_contribution_collected()
                    ? suspense == v1::SUSPENSE_REASON_UNSPECIFIED
                    : d.event->contribution_cancelled().original_suspense_reason() ==
                          v1::SUSPENSE_REASON_UNSPECIFIED;
            const int year = static_cast<int>(ParseDate(d.event->effective_date())->year());
            LEDGER_ASSIGN_OR_RETURN(uint64_t seq, append(d));
            o.set_sequence(seq);
            if (in_account) {
              const v1::CollectionRecord& r = c.records->Get(i);
              LEDGER_RETURN_IF_ERROR(AppendInterestAdjustments(state, r.citizen_id(), year, seq,
                                                               r.receipt_number(), appender));
            }
          }
          c.outcomes.push_back(std::move(o));
        }
        return absl::OkStatus();
      }
      case Command::Kind::kBackup:
        return absl::OkStatus();  // runs after the group's commit (CommitGroup)
      case Command::Kind::kAccount: {
        LEDGER_ASSIGN_OR_RETURN(c.result,
                                ExecuteAccountCommand(*c.account_command, state, today, appender));
        return absl::OkStatus();
      }
      case Command::Kind::kJobStart:
      case Command::Kind::kJobChunk: {
        absl::StatusOr<std::variant<Rejection, JobCursor>> r =
            c.kind == Command::Kind::kJobStart
                ? StartJob(*c.job, state, *store_, today)
                : RunJobChunk(*c.job, c.cursor, kJobChunkAccountsMax, state, *store_, today,
                              appender);
        if (!r.ok()) return r.status();
        if (auto* rejection = std::get_if<Rejection>(&*r)) {
          c.result.rejection = *rejection;
        } else {
          c.cursor = std::get<JobCursor>(std::move(*r));
        }
        return absl::OkStatus();
      }
      case Command::Kind::kEnrol:
      case Command::Kind::kPolicy: {
        absl::StatusOr<Decision> decided = c.kind == Command::Kind::kEnrol
                                               ? DecideEnrolment(*c.enrolment, state, today)
                                               : DecidePolicy(*c.policy, state);
        if (!decided.ok()) return decided.status();
        Decision& d = *decided;
        c.result.rejection = d.rejection;
        c.result.duplicate = d.duplicate_of != 0;
        c.result.sequence = d.duplicate_of;
        if (d.event) {
          LEDGER_ASSIGN_OR_RETURN(c.result.sequence, append(d));
        }
        return absl::OkStatus();
      }
    }
    return absl::InternalError("unknown command kind");
  }

  // After a failed write RocksDB refuses further writes until resumed. The next commit tries
  // DB::Resume() (which flushes the memtables to new files, so the failed batch is never
  // replayed). RocksDB can resume from ENOSPC while syncing the WAL once space is freed; after a
  // failed WAL append or an EIO it cannot (a "fatal" background error): the ledger then stays
  // read-only until restarted. Either way reads keep working and every write gets the failed
  // write's retryable code (RESOURCE_EXHAUSTED for ENOSPC, else UNAVAILABLE) saying why.
  absl::Status ResumeAfterWriteError() {
    if (write_error_.ok()) return absl::OkStatus();
    const absl::Status resumed = store_->Resume();
    if (resumed.ok()) {
      SetWriteError(absl::OkStatus());
      return resumed;
    }
    // The failed write's own code while it is retryable (ENOSPC: RESOURCE_EXHAUSTED, EIO:
    // UNAVAILABLE); anything else (a corrupted WAL, an unrecoverable error): UNAVAILABLE.
    const absl::StatusCode code = write_error_.code() == absl::StatusCode::kResourceExhausted
                                      ? write_error_.code()
                                      : absl::StatusCode::kUnavailable;
    return absl::Status(
        code, StrCat("storage is read-only since a failed write (", write_error_.message(),
                     "); RocksDB cannot resume (", resumed.message(),
                     "): fix the cause (disk space, device) and restart ledgerd, then resend: "
                     "a resent batch is applied once"));
  }

  void SetWriteError(absl::Status status) {
    write_error_ = status;
    absl::MutexLock lock(&published_mu_);
    published_write_error_ = std::move(status);
  }

  // Signs the group's last event, in the group's own batch, when the group reaches a multiple of
  // the checkpoint interval: the checkpoint is durable exactly when the events it signs are.
  void AddCheckpoint(const WorkingState& state, int64_t now_us, rocksdb::WriteBatch& batch) {
    if (!signer_) return;
    const ChainHead& before = committed_.head;
    const ChainHead& after = state.head();
    if (after.sequence / checkpoint_interval_ == before.sequence / checkpoint_interval_) return;
    v1::Checkpoint c;
    c.set_sequence(after.sequence);
    c.set_chain_hash(after.hash);
    c.set_signature(signer_->Sign(CheckpointMessage(after.sequence, after.hash)));
    c.set_signed_time_us(now_us);
    const auto s = batch.Put(store_->handle(Cf::kCheckpoints), keys::EncodeU64(after.sequence),
                             c.SerializeAsString());
    LEDGER_CHECK(s.ok(), s.ToString());
  }

  std::unique_ptr<Store> store_;
  // Written only by the writer thread (under published_mu_); read by the writer without the lock
  // and by readers with it.
  mutable absl::Mutex published_mu_;
  CommittedState committed_;
  WriterStats stats_;  // guarded by published_mu_
  absl::Status published_write_error_;  // write_error_ for readers; guarded by published_mu_
  absl::Status write_error_;  // the last failed write not yet resumed from; writer thread only
  std::function<int64_t()> clock_;
  std::function<void(const CommitInfo&)> on_commit_;
  const std::unique_ptr<CheckpointSigner> signer_;
  const uint64_t checkpoint_interval_;

  std::mutex queue_mu_;
  std::condition_variable queue_cv_;  // a command was queued, or stopping
  std::condition_variable space_cv_;  // the queue has room
  std::deque<Command*> queue_;        // guarded by queue_mu_
  bool stopping_ = false;             // guarded by queue_mu_
  std::thread writer_;
};

Ledger::Ledger(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Ledger::~Ledger() = default;

absl::StatusOr<std::unique_ptr<Ledger>> Ledger::Open(Options options) {
  if (options.data_dir.empty()) return absl::InvalidArgumentError("data_dir is required");
  if (!options.clock_us) options.clock_us = [] { return absl::ToUnixMicros(absl::Now()); };
  LEDGER_ASSIGN_OR_RETURN(auto store, Store::Open(options.data_dir, options.file_system));
  LEDGER_RETURN_IF_ERROR(EnsureSchema(*store));
  LEDGER_ASSIGN_OR_RETURN(auto rebuilding, store->Get(Cf::kMeta, keys::kRebuildInProgress));
  if (rebuilding) {
    return absl::FailedPreconditionError(
        "a projection rebuild did not finish; run `ledgerctl rebuild` (offline) again");
  }
  LEDGER_ASSIGN_OR_RETURN(CommittedState committed, LoadCommitted(*store));
  LEDGER_RETURN_IF_ERROR(CheckAgainstHead(*store, committed.head));
  if (options.verify_chain_on_open && committed.head.sequence > 0) {
    LEDGER_RETURN_IF_ERROR(VerifyRange(*store, 1, 0, committed.head));
  }
  std::unique_ptr<CheckpointSigner> signer;
  if (!options.checkpoint_key_pem.empty()) {
    LEDGER_ASSIGN_OR_RETURN(signer, CheckpointSigner::FromPem(options.checkpoint_key_pem));
  }
  return std::unique_ptr<Ledger>(new Ledger(std::make_unique<Impl>(
      std::move(store), std::move(committed), std::move(options.clock_us),
      std::move(options.on_commit), std::move(signer), options.checkpoint_interval_events)));
}

namespace {

// Replays the events `it` yields (from sequence 1, up to `last`; 0: to the end) into `target`'s
// projections, `per_batch` events per unlogged write. Returns the number replayed.
absl::StatusOr<uint64_t> ReplayInto(rocksdb::Iterator& it, uint64_t last, Store& target,
                                    size_t per_batch) {
  CommittedState committed;
  committed.head.hash = GenesisHash();
  uint64_t replayed = 0;
  it.SeekToFirst();
  auto more = [&] { return it.Valid() && (last == 0 || replayed < last); };
  while (more()) {
    WorkingState state(target, committed);
    for (size_t n = 0; more() && n < std::max<size_t>(1, per_batch); ++n, it.Next(), ++replayed) {
      LEDGER_RETURN_IF_ERROR(
          state.Replay(keys::DecodeU64(it.key().ToStringView()), it.value().ToStringView()));
    }
    if (!it.status().ok()) return absl::DataLossError(it.status().ToString());
    rocksdb::WriteBatch batch = state.Batch(/*include_events=*/false);
    LEDGER_RETURN_IF_ERROR(target.WriteUnlogged(batch));
    state.Publish(committed);
  }
  if (!it.status().ok()) return absl::DataLossError(it.status().ToString());
  return replayed;
}

}  // namespace

absl::Status Ledger::RebuildProjections(const std::string& data_dir, size_t events_per_batch) {
  LEDGER_ASSIGN_OR_RETURN(auto store, Store::Open(data_dir));
  LEDGER_RETURN_IF_ERROR(store->DropProjections());
  // Marked in progress (durably) before anything is rebuilt, cleared only after every rebuilt
  // projection is flushed: a crash in between leaves a ledger that refuses to open.
  rocksdb::WriteBatch mark;
  mark.Put(store->handle(Cf::kMeta), std::string(keys::kRebuildInProgress), "1");
  LEDGER_RETURN_IF_ERROR(store->WriteSynced(mark));
  LEDGER_RETURN_IF_ERROR(EnsureSchema(*store));
  auto it = store->NewIterator(Cf::kEvents);
  LEDGER_RETURN_IF_ERROR(ReplayInto(*it, 0, *store, events_per_batch).status());
  LEDGER_RETURN_IF_ERROR(store->FlushProjections());
  rocksdb::WriteBatch done;
  done.Delete(store->handle(Cf::kMeta), std::string(keys::kRebuildInProgress));
  return store->WriteSynced(done);
}

absl::StatusOr<std::vector<v1::RecordOutcome>> Ledger::PushCollections(const Records& records,
                                                                      std::string_view actor) {
  if (static_cast<size_t>(records.size()) > kCommitRecordsMax) {
    return absl::ResourceExhaustedError(
        StrCat(records.size(), " records exceed the commit limit of ", kCommitRecordsMax));
  }
  if (records.empty()) return std::vector<v1::RecordOutcome>();
  Command c{.kind = Command::Kind::kCollections, .actor = actor, .records = &records};
  impl_->Run(c);
  if (!c.status.ok()) return c.status;
  return std::move(c.outcomes);
}

struct PendingPush::State {
  std::shared_ptr<const Ledger::Records> records;
  std::string actor;
  Command command;
  std::future<void> done;
  std::optional<absl::Status> early_failure;  // an error found before queueing
  bool waited = false;
};

PendingPush::PendingPush(std::shared_ptr<State> state) : state_(std::move(state)) {}
PendingPush::PendingPush(PendingPush&&) noexcept = default;
PendingPush& PendingPush::operator=(PendingPush&&) noexcept = default;
PendingPush::~PendingPush() {
  if (state_ && !state_->waited && state_->done.valid()) state_->done.wait();
}

bool PendingPush::Ready() const {
  return state_->early_failure || !state_->done.valid() ||
         state_->done.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
}

absl::StatusOr<std::vector<v1::RecordOutcome>> PendingPush::Wait() {
  state_->waited = true;
  if (state_->early_failure) return *state_->early_failure;
  if (state_->done.valid()) state_->done.wait();
  if (!state_->command.status.ok()) return state_->command.status;
  return std::move(state_->command.outcomes);
}

PendingPush Ledger::SubmitCollections(std::shared_ptr<const Records> records, std::string actor,
                                      std::function<void()> on_ready) {
  auto state = std::make_shared<PendingPush::State>();
  state->records = std::move(records);
  state->actor = std::move(actor);
  if (static_cast<size_t>(state->records->size()) > kCommitRecordsMax) {
    state->early_failure = absl::ResourceExhaustedError(StrCat(
        state->records->size(), " records exceed the commit limit of ", kCommitRecordsMax));
  } else if (!state->records->empty()) {  // empty: Wait() answers with no outcomes
    state->command.kind = Command::Kind::kCollections;
    state->command.actor = state->actor;
    state->command.records = state->records.get();
    state->command.on_ready = std::move(on_ready);
    state->done = impl_->Enqueue(state->command);
    return PendingPush(std::move(state));
  }
  if (on_ready) on_ready();
  return PendingPush(std::move(state));
}

// Fields this version does not know (a newer client's) are dropped before a command is decided:
// they are never stored in the log, and never make a resend differ from its original.
template <typename Message>
Message KnownFieldsOnly(const Message& message) {
  Message known = message;
  known.DiscardUnknownFields();
  return known;
}

absl::StatusOr<CommandResult> Ledger::Enrol(const v1::ParticipantEnrolled& sent,
                                            std::string_view actor) {
  const v1::ParticipantEnrolled enrolment = KnownFieldsOnly(sent);
  Command c{.kind = Command::Kind::kEnrol, .actor = actor, .enrolment = &enrolment};
  impl_->Run(c);
  if (!c.status.ok()) return c.status;
  return c.result;
}

absl::StatusOr<CommandResult> Ledger::AdoptPolicy(const v1::Policy& sent,
                                                  std::string_view actor) {
  const v1::Policy policy = KnownFieldsOnly(sent);
  Command c{.kind = Command::Kind::kPolicy, .actor = actor, .policy = &policy};
  impl_->Run(c);
  if (!c.status.ok()) return c.status;
  return c.result;
}

absl::StatusOr<CommandResult> Ledger::Execute(const v1::AccountCommand& sent,
                                              std::string_view actor) {
  const v1::AccountCommand command = KnownFieldsOnly(sent);
  Command c{.kind = Command::Kind::kAccount, .actor = actor, .account_command = &command};
  impl_->Run(c);
  if (!c.status.ok()) return c.status;
  return c.result;
}

absl::StatusOr<Ledger::JobOutcome> Ledger::RunJob(
    const v1::JobRequest& request, std::string_view actor,
    const std::function<void(const v1::JobProgress&)>& on_progress) {
  JobOutcome outcome;
  Command start{.kind = Command::Kind::kJobStart, .actor = actor, .job = &request};
  impl_->Run(start);
  if (!start.status.ok()) return start.status;
  if (start.result.rejection) {
    outcome.rejection = start.result.rejection;
    return outcome;
  }
  JobCursor cursor = std::move(start.cursor);
  while (!cursor.progress.completed()) {
    Command chunk{.kind = Command::Kind::kJobChunk, .actor = actor, .job = &request};
    chunk.cursor = std::move(cursor);
    impl_->Run(chunk);
    if (!chunk.status.ok()) return chunk.status;
    cursor = std::move(chunk.cursor);
    if (chunk.result.rejection) {
      outcome.rejection = chunk.result.rejection;
      break;
    }
    if (on_progress) on_progress(cursor.progress);
  }
  outcome.progress = cursor.progress;
  return outcome;
}

absl::StatusOr<std::string> Ledger::CommandRegion(const v1::AccountCommand& command) const {
  auto account_region = [&](std::string_view id) -> absl::StatusOr<std::string> {
    LEDGER_ASSIGN_OR_RETURN(auto account, GetAccount(id));
    return account ? account->region_code() : std::string();
  };
  if (IsFundCommand(command)) return std::string(FundCommandRegion(command));
  switch (command.command_case()) {
    case v1::AccountCommand::kTransferIn: return command.transfer_in().to_region();
    case v1::AccountCommand::kRefundContribution: {
      LEDGER_ASSIGN_OR_RETURN(auto entry, impl_->store().Get(Cf::kIdempotency,
                                                             keys::Receipt(command.refund_contribution().receipt_number())));
      if (!entry || entry->size() != 16) return std::string();
      LEDGER_ASSIGN_OR_RETURN(auto event, ReadEvent(keys::DecodeU64(*entry)));
      return event.region_code();
    }
    case v1::AccountCommand::kCreditCollectiveSubsidy: return account_region(command.credit_collective_subsidy().citizen_id());
    case v1::AccountCommand::kDetermineBenefit: return account_region(command.determine_benefit().citizen_id());
    case v1::AccountCommand::kSuspendBenefit: return account_region(command.suspend_benefit().citizen_id());
    case v1::AccountCommand::kResumeBenefit: return account_region(command.resume_benefit().citizen_id());
    case v1::AccountCommand::kRecordDeath: return account_region(command.record_death().citizen_id());
    case v1::AccountCommand::kTransferOut: return account_region(command.transfer_out().citizen_id());
    default: break;  // the fund commands above; COMMAND_NOT_SET
  }
  return std::string();
}

absl::StatusOr<std::vector<v1::EventEnvelope>> Ledger::ParticipantEvents(
    std::string_view citizen_id) const {
  const ChainHead head = Head();
  std::vector<v1::EventEnvelope> out;
  auto it = impl_->store().NewIterator(Cf::kParticipantEvents);
  const rocksdb::Slice prefix(citizen_id.data(), citizen_id.size());
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    const uint64_t sequence = keys::DecodeU64(it->key().ToStringView().substr(citizen_id.size()));
    if (sequence > head.sequence) break;
    LEDGER_ASSIGN_OR_RETURN(v1::EventEnvelope e, ReadEvent(sequence));
    out.push_back(std::move(e));
  }
  if (!it->status().ok()) return absl::UnavailableError(it->status().ToString());
  return out;
}

absl::StatusOr<std::optional<v1::Statement>> Ledger::GetStatement(std::string_view citizen_id,
                                                                  int year) const {
  LEDGER_ASSIGN_OR_RETURN(auto account, GetAccount(citizen_id));
  if (!account) return std::nullopt;
  LEDGER_ASSIGN_OR_RETURN(auto events, ParticipantEvents(citizen_id));
  return BuildStatement(*account, events, year);
}

absl::StatusOr<ChainHead> Ledger::Backup(const std::string& directory) {
  if (directory.empty()) return absl::InvalidArgumentError("backup directory is empty");
  Command c{.kind = Command::Kind::kBackup, .backup_directory = &directory};
  impl_->Run(c);
  if (!c.status.ok()) return c.status;
  // The writer is past the checkpoint, but the head it recorded is what the copy holds.
  if (c.result.sequence == 0) return ChainHead{0, GenesisHash()};
  LEDGER_ASSIGN_OR_RETURN(v1::EventEnvelope last, ReadEvent(c.result.sequence));
  return ChainHead{c.result.sequence, last.hash()};
}

absl::StatusOr<std::optional<v1::Account>> Ledger::GetAccount(std::string_view citizen_id) const {
  LEDGER_ASSIGN_OR_RETURN(auto bytes, impl_->store().Get(Cf::kAccounts, citizen_id));
  if (!bytes) return std::nullopt;
  v1::Account account;
  if (!account.ParseFromString(*bytes)) {
    return absl::DataLossError("the account projection does not decode");
  }
  return account;
}

std::optional<v1::Policy> Ledger::LatestPolicy(std::string_view region_code) const {
  return impl_->LatestPolicy(region_code);
}

ChainHead Ledger::Head() const { return impl_->Head(); }
WriterStats Ledger::Stats() const { return impl_->Stats(); }
absl::Status Ledger::WriteState() const { return impl_->WriteState(); }

StorageStats Ledger::Storage() const {
  const Store& store = impl_->store();
  return StorageStats{store.SumProperty("rocksdb.total-sst-files-size"),
                      store.SumProperty("rocksdb.cur-size-all-mem-tables"),
                      store.SumProperty("rocksdb.estimate-pending-compaction-bytes")};
}

std::map<std::string, int64_t> Ledger::LedgerAccountBalances() const { return impl_->Totals(); }

absl::StatusOr<v1::EventEnvelope> Ledger::ReadEvent(uint64_t sequence) const {
  if (sequence == 0 || sequence > Head().sequence) {
    return absl::NotFoundError(StrCat("no event ", sequence));
  }
  LEDGER_ASSIGN_OR_RETURN(auto bytes, impl_->store().Get(Cf::kEvents, keys::Event(sequence)));
  if (!bytes) return absl::DataLossError(StrCat("event ", sequence, " is missing"));
  v1::EventEnvelope e;
  if (!e.ParseFromString(*bytes)) {
    return absl::DataLossError(StrCat("event ", sequence, " does not decode"));
  }
  e.set_hash(Sha256(*bytes));
  return e;
}

absl::Status Ledger::VerifyChain(uint64_t from, uint64_t to) const {
  // Kept for callers that want a status: a break is DATA_LOSS.
  return VerifyRange(impl_->store(), from, to, Head());
}

absl::StatusOr<std::optional<Ledger::ChainBreak>> Ledger::FindChainBreak(uint64_t from,
                                                                         uint64_t to) const {
  return FindBreak(impl_->store(), from, to, Head());
}

absl::Status Ledger::ForEachEvent(
    uint64_t from, uint64_t to, const std::function<bool(uint64_t, std::string_view)>& visit) const {
  const ChainHead head = Head();
  if (to == 0) to = head.sequence;
  if (from == 0 || from > to || to > head.sequence) {
    return absl::OutOfRangeError(
        StrCat("range [", from, ", ", to, "] is outside [1, ", head.sequence, "]"));
  }
  auto it = impl_->store().NewIterator(Cf::kEvents);
  for (it->Seek(keys::Event(from)); it->Valid(); it->Next()) {
    const uint64_t sequence = keys::DecodeU64(it->key().ToStringView());
    if (sequence > to || !visit(sequence, it->value().ToStringView())) break;
  }
  if (!it->status().ok()) return absl::DataLossError(it->status().ToString());
  return absl::OkStatus();
}

absl::StatusOr<std::vector<v1::Checkpoint>> Ledger::Checkpoints(uint64_t from, uint64_t to) const {
  std::vector<v1::Checkpoint> out;
  auto it = impl_->store().NewIterator(Cf::kCheckpoints);
  for (it->Seek(keys::EncodeU64(from)); it->Valid(); it->Next()) {
    if (to != 0 && keys::DecodeU64(it->key().ToStringView()) > to) break;
    v1::Checkpoint c;
    if (!c.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return absl::DataLossError("a stored checkpoint does not decode");
    }
    out.push_back(std::move(c));
  }
  if (!it->status().ok()) return absl::DataLossError(it->status().ToString());
  return out;
}

std::string Ledger::CheckpointPublicKeyPem() const {
  return impl_->signer() ? impl_->signer()->public_key_pem() : std::string();
}

namespace {

bool WithinAsOf(const v1::EventEnvelope& e, uint64_t as_of_sequence, std::string_view as_of_date) {
  return (as_of_sequence == 0 || e.sequence() <= as_of_sequence) &&
         (as_of_date.empty() || e.effective_date() <= as_of_date);
}

}  // namespace

absl::StatusOr<Ledger::BalanceAsOf> Ledger::ParticipantBalanceAsOf(
    std::string_view citizen_id, uint64_t as_of_sequence, std::string_view as_of_date) const {
  LEDGER_ASSIGN_OR_RETURN(auto events, ParticipantEvents(citizen_id));
  std::map<v1::FundingSource, int64_t> by_source;
  BalanceAsOf out;
  for (const v1::EventEnvelope& e : events) {
    if (!WithinAsOf(e, as_of_sequence, as_of_date)) continue;
    const auto deltas = PersonDeltas(e, citizen_id);
    if (deltas.empty()) continue;
    ++out.events;
    for (const auto& [source, amount] : deltas) by_source[source] += amount;
  }
  for (const auto& [source, amount] : by_source) {
    if (amount == 0) continue;
    v1::SourceAmount& a = out.by_source.emplace_back();
    a.set_source(source);
    a.set_amount_fen(amount);
    out.total_fen += amount;
  }
  return out;
}

absl::StatusOr<v1::Reconciliation> Ledger::Reconcile(
    const v1::ReconciliationRequest& request) const {
  const Store& store = impl_->store();
  const auto snapshot = store.Snapshot();
  LEDGER_ASSIGN_OR_RETURN(auto last, store.Get(Cf::kMeta, keys::kLastSequence, snapshot.get()));
  return BuildReconciliation(store, snapshot.get(), last ? keys::DecodeU64(*last) : 0, request);
}

absl::StatusOr<std::optional<v1::TaxDayReconciliation>> Ledger::ReconcileTaxDay(
    std::string_view region, std::string_view collection_date, std::string_view tax_office) const {
  const auto snapshot = impl_->store().Snapshot();
  return ledger::ReconcileTaxDay(impl_->store(), snapshot.get(), region, collection_date,
                                 tax_office);
}

absl::StatusOr<Ledger::FundBalance> Ledger::FundBalanceAsOf(std::string_view region,
                                                            v1::BankAccount account,
                                                            std::string_view as_of_date) const {
  if (accounts::BankLedgerAccount(account).empty()) {
    return absl::InvalidArgumentError("bank_account must be INCOME, SPECIAL or PAYMENT");
  }
  std::string date;
  if (!as_of_date.empty()) {
    auto day = ParseDate(as_of_date);
    if (!day.ok()) {
      return absl::InvalidArgumentError(StrCat("as_of_date '", as_of_date, "' is not YYYY-MM-DD"));
    }
    date = FormatDate(*day);
  }
  const Store& store = impl_->store();
  const auto snapshot = store.Snapshot();
  LEDGER_ASSIGN_OR_RETURN(auto last, store.Get(Cf::kMeta, keys::kLastSequence, snapshot.get()));
  FundBalance out;
  out.as_of_sequence = last ? keys::DecodeU64(*last) : 0;
  LEDGER_ASSIGN_OR_RETURN(out.balance_fen,
                          ledger::FundBalanceAsOf(store, snapshot.get(), region, account, date));
  return out;
}

absl::StatusOr<Ledger::BalanceAsOf> Ledger::LedgerAccountBalanceAsOf(
    std::string_view ledger_account, uint64_t as_of_sequence, std::string_view as_of_date) const {
  const size_t slash = ledger_account.find('/');
  if (slash == std::string_view::npos) {
    return absl::InvalidArgumentError("a ledger account is named <region>/<account>");
  }
  const std::string_view region = ledger_account.substr(0, slash);
  const std::string_view account = ledger_account.substr(slash + 1);
  const bool control = account.starts_with(accounts::kIndividualControlPrefix);
  BalanceAsOf out;
  if (Head().sequence == 0) return out;
  absl::Status failed;
  LEDGER_RETURN_IF_ERROR(ForEachEvent(1, as_of_sequence, [&](uint64_t, std::string_view stored) {
    v1::EventEnvelope e;
    if (!e.ParseFromArray(stored.data(), static_cast<int>(stored.size()))) {
      failed = absl::DataLossError("an event does not decode");
      return false;
    }
    if (e.region_code() != region || !WithinAsOf(e, as_of_sequence, as_of_date)) return true;
    int64_t delta = 0;
    // Person legs roll up, in the event's region, into individual_accounts/<source>.
    auto name = [&](const std::string& leg) -> std::string {
      if (!control || !leg.starts_with(accounts::kPersonPrefix)) return leg;
      return StrCat(accounts::kIndividualControlPrefix, leg.substr(leg.rfind('/') + 1));
    };
    for (const v1::Posting& p : PostingsFor(e)) {
      if (name(p.debit_account()) == account) delta += p.amount_fen();
      if (name(p.credit_account()) == account) delta -= p.amount_fen();
    }
    if (delta != 0) {
      out.total_fen += delta;
      ++out.events;
    }
    return true;
  }));
  LEDGER_RETURN_IF_ERROR(failed);
  return out;
}

absl::StatusOr<Ledger::ReplayComparison> Ledger::ReplayCompare(
    const std::string& scratch_dir) const {
  const auto start = std::chrono::steady_clock::now();
  const Store& live = impl_->store();
  // One snapshot holds whole commits only: its own last_sequence is the head it shows.
  const auto snapshot = live.Snapshot();
  LEDGER_ASSIGN_OR_RETURN(auto last, live.Get(Cf::kMeta, keys::kLastSequence, snapshot.get()));
  ReplayComparison out;
  out.sequence = last ? keys::DecodeU64(*last) : 0;
  std::error_code error;
  std::filesystem::remove_all(scratch_dir, error);
  {
    LEDGER_ASSIGN_OR_RETURN(auto scratch, Store::Open(scratch_dir));
    LEDGER_RETURN_IF_ERROR(EnsureSchema(*scratch));
    auto events = live.NewIterator(Cf::kEvents, snapshot.get());
    LEDGER_ASSIGN_OR_RETURN(out.events_replayed,
                            ReplayInto(*events, out.sequence, *scratch, kReplayEventsPerBatchMax));
    out.equal = true;
    for (Cf cf : {Cf::kIdempotency, Cf::kAccounts, Cf::kLedgerAccounts, Cf::kPolicies,
                  Cf::kParticipantEvents, Cf::kJobs, Cf::kRecon, Cf::kMeta}) {
      auto a = live.NewIterator(cf, snapshot.get());
      auto b = scratch->NewIterator(cf);
      a->SeekToFirst();
      b->SeekToFirst();
      while (out.equal && (a->Valid() || b->Valid())) {
        ++out.rows_compared;
        const int order = !a->Valid() ? 1 : !b->Valid() ? -1 : a->key().compare(b->key());
        const std::string cf_name = StrCat("column family ", CfName(cf));
        if (order != 0) {
          const auto& side = order < 0 ? a : b;
          out.first_difference = StrCat(cf_name, " key ", HexEncode(side->key().ToStringView()),
                                        order < 0 ? " is live but not rebuilt"
                                                  : " is rebuilt but not live");
          out.equal = false;
        } else if (a->value() != b->value()) {
          out.first_difference =
              StrCat(cf_name, " key ", HexEncode(a->key().ToStringView()), ": live ",
                     a->value().size(), " bytes ", HexEncode(a->value().ToStringView().substr(0, 64)),
                     " != rebuilt ", b->value().size(), " bytes ",
                     HexEncode(b->value().ToStringView().substr(0, 64)));
          out.equal = false;
        } else {
          a->Next();
          b->Next();
        }
      }
      if (!a->status().ok() || !b->status().ok()) {
        return absl::DataLossError(StrCat(a->status().ToString(), " ", b->status().ToString()));
      }
      if (!out.equal) break;
    }
  }
  std::filesystem::remove_all(scratch_dir, error);
  out.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return out;
}

}  // namespace ledger
