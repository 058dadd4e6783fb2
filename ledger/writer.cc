#include "ledger/event_names.h"
#include "ledger/writer.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include <pthread.h>

#include "ledger/apply.h"
#include "ledger/catch_up.h"
#include "ledger/dates.h"
#include "ledger/limits.h"
#include "ledger/rules.h"
#include "ledger/status_macros.h"
#include "ledger/strings.h"
#include "ledger/subsidy_reversal.h"

namespace ledger {

namespace {

// With replication: how long the writer waits for a command before it publishes (leader) or
// follows the log (follower), and so how stale a follower's projections may be.
constexpr auto kReplicationTick = std::chrono::milliseconds(100);

// A group's projection rows, in a batch with room for its events too.
rocksdb::WriteBatch ProjectionsBatch(const WorkingState& state) {
  rocksdb::WriteBatch batch = state.ReserveBatch(/*with_events=*/true);
  state.AddProjections(batch);
  return batch;
}

// What deciding one command needs besides its request.
struct Step {
  WorkingState& state;
  const Store& store;
  const Appender& append;  // stamps actor and recorded time, then appends to `state`
  absl::CivilDay today;
  CommandResult& result;
};

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

// Appends a collection record's event (collected or cancelled) and, when money reached or left
// the account, the interest adjustments that follow from it.
absl::Status AppendCollection(const v1::CollectionRecord& record, Decision& d,
                              v1::RecordOutcome& o, const Step& s) {
  const v1::SuspenseReason suspense = d.event->contribution_collected().suspense_reason();
  o.set_outcome(suspense == v1::SUSPENSE_REASON_UNSPECIFIED ? v1::OUTCOME_ACCEPTED
                                                           : v1::OUTCOME_SUSPENSE);
  o.set_suspense_reason(suspense);
  const bool in_account = d.event->has_contribution_collected()
                              ? suspense == v1::SUSPENSE_REASON_UNSPECIFIED
                              : d.event->contribution_cancelled().original_suspense_reason() ==
                                    v1::SUSPENSE_REASON_UNSPECIFIED;
  const absl::CivilDay date = StoredDate(d.event->effective_date());
  const int year = static_cast<int>(date.year());
  const bool cancel = d.event->has_contribution_cancelled();
  const std::string region = d.event->region_code();
  const uint32_t policy_version = d.event->policy_version();
  LEDGER_ASSIGN_OR_RETURN(uint64_t seq, s.append(std::move(*d.event)));
  o.set_sequence(seq);
  if (!in_account) return absl::OkStatus();
  LEDGER_RETURN_IF_ERROR(AppendInterestAdjustments(s.state, record.citizen_id(), year, seq,
                                                   record.receipt_number(), s.append));
  if (!cancel) return absl::OkStatus();
  // A cancellation takes the year's subsidies with it (ledger/subsidy_reversal.h).
  return AppendSubsidyReversals(s.state, CollectedFrom(record, v1::SUSPENSE_REASON_UNSPECIFIED),
                                region, date, seq, record.receipt_number(), policy_version,
                                s.append);
}

absl::Status Decide(CollectionsRequest& r, const Step& s) {
  r.outcomes.reserve(r.records->size());
  std::vector<std::string_view> citizen_ids, receipt_numbers;
  citizen_ids.reserve(r.records->size());
  receipt_numbers.reserve(r.records->size());
  for (const v1::CollectionRecord& record : *r.records) {
    citizen_ids.push_back(record.citizen_id());
    receipt_numbers.push_back(record.receipt_number());
  }
  LEDGER_RETURN_IF_ERROR(s.state.Prefetch(citizen_ids, receipt_numbers));
  for (int i = 0; i < r.records->size(); ++i) {
    const v1::CollectionRecord& record = r.records->Get(i);
    LEDGER_ASSIGN_OR_RETURN(Decision d, DecideCollection(record, s.state, s.today));
    v1::RecordOutcome o = OutcomeFor(static_cast<uint32_t>(i), d);
    if (d.event) LEDGER_RETURN_IF_ERROR(AppendCollection(record, d, o, s));
    r.outcomes.push_back(std::move(o));
  }
  return absl::OkStatus();
}

// Enrolment and policy adoption: a rejection, a duplicate, or one event.
absl::Status Record(absl::StatusOr<Decision> decided, const Step& s) {
  if (!decided.ok()) return decided.status();
  Decision& d = *decided;
  s.result.rejection = d.rejection;
  s.result.duplicate = d.duplicate_of != 0;
  s.result.sequence = d.duplicate_of;
  if (d.event) {
    LEDGER_ASSIGN_OR_RETURN(s.result.sequence, s.append(std::move(*d.event)));
  }
  return absl::OkStatus();
}

absl::Status Decide(EnrolRequest& r, const Step& s) {
  return Record(DecideEnrolment(*r.enrolment, s.state, s.today), s);
}

absl::Status Decide(PolicyRequest& r, const Step& s) {
  return Record(DecidePolicy(*r.policy, s.state), s);
}

absl::Status Decide(AccountRequest& r, const Step& s) {
  LEDGER_ASSIGN_OR_RETURN(s.result, ExecuteAccountCommand(*r.command, s.state, s.today, s.append));
  return absl::OkStatus();
}

absl::Status Decide(BackupRequest&, const Step&) {
  return absl::OkStatus();  // runs after the group's commit (Writer::Answer)
}

// A job step's answer: a rejection, or the cursor to continue from.
absl::Status RecordJob(absl::StatusOr<std::variant<Rejection, JobCursor>> r, JobCursor& cursor,
                       const Step& s) {
  if (!r.ok()) return r.status();
  if (auto* rejection = std::get_if<Rejection>(&*r)) {
    s.result.rejection = *rejection;
  } else {
    cursor = std::get<JobCursor>(std::move(*r));
  }
  return absl::OkStatus();
}

absl::Status Decide(JobStartRequest& r, const Step& s) {
  return RecordJob(StartJob(*r.job, s.state, s.store, s.today), r.cursor, s);
}

absl::Status Decide(JobChunkRequest& r, const Step& s) {
  return RecordJob(RunJobChunk(*r.job, r.cursor, kJobChunkAccountsMax, s.state, s.store, s.today,
                               s.append),
                   r.cursor, s);
}

}  // namespace

size_t Command::weight() const {
  if (std::holds_alternative<JobChunkRequest>(request)) return kJobChunkAccountsMax;
  if (const auto* r = std::get_if<CollectionsRequest>(&request)) {
    return std::max<size_t>(1, r->records->size());
  }
  return 1;
}

Writer::Writer(Store& store, EventLog& log, CommittedState committed, WriterOptions options)
    : store_(store),
      log_(log),
      clock_(std::move(options.clock_us)),
      on_commit_(std::move(options.on_commit)),
      signer_(std::move(options.signer)),
      checkpoint_interval_(std::max<uint64_t>(1, options.checkpoint_interval_events)),
      authoritative_(options.authoritative),
      replication_(options.replication),
      committed_(std::move(committed)) {
  committer_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "ledger-commit");  // visible in top, perf, gdb
    CommitLoop();
  });
  writer_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "ledger-writer");
    WriterLoop();
  });
}

Writer::~Writer() {
  {
    std::lock_guard lock(queue_mu_);
    stopping_ = true;
  }
  queue_cv_.notify_all();
  writer_.join();  // drains: nothing is in flight afterwards
  {
    std::lock_guard lock(flight_mu_);
    stop_committing_ = true;
  }
  flight_cv_.notify_all();
  committer_.join();
}

std::future<void> Writer::Enqueue(Command& c) {
  std::future<void> done = c.done.get_future();
  {
    std::unique_lock lock(queue_mu_);
    space_cv_.wait(lock, [&] { return queue_.size() < kWriterQueueCommandsMax; });
    queue_.push_back(&c);
  }
  queue_cv_.notify_one();
  return done;
}

ChainHead Writer::Head() const {
  absl::MutexLock lock(&published_mu_);
  return committed_.head;
}

std::optional<v1::Policy> Writer::LatestPolicy(std::string_view region) const {
  absl::MutexLock lock(&published_mu_);
  const v1::Policy* p = committed_.policies.Latest(region);
  return p ? std::optional<v1::Policy>(*p) : std::nullopt;
}

std::map<std::string, int64_t> Writer::Totals() const {
  absl::MutexLock lock(&published_mu_);
  return committed_.ledger_totals;
}

WriterStats Writer::Stats() const {
  absl::MutexLock lock(&published_mu_);
  return stats_;
}

absl::Status Writer::WriteState() const {
  absl::MutexLock lock(&published_mu_);
  return published_write_error_;
}

void Writer::WriterLoop() {
  for (;;) {
    bool stopping = false;
    const std::vector<Command*> group = TakeGroup(stopping);
    if (group.empty()) {
      Drain().IgnoreError();  // its commands have their answers
      if (stopping) return;   // everything queued has been answered
      Idle();
    } else if (replication_ != nullptr && !Leading()) {
      RecordStats(group, 0, absl::OkStatus(), 0);
      Answer(group, absl::UnavailableError(
                        "not_leader: this node's PostgreSQL is not the primary (Patroni); "
                        "send writes to the leader"));
      // Writes sent here must not keep the projections from following the log.
      if (std::chrono::steady_clock::now() - last_idle_ >= kReplicationTick) Idle();
    } else {
      CommitGroup(group);
    }
    drained_.reset();  // after the next group is handed over (Drain)
  }
}

bool Writer::Leading() {
  const bool primary = replication_->IsPrimary();
  if (primary != leading_) Drain().IgnoreError();  // a term begins or ends with nothing in flight
  if (primary && !leading_) needs_catch_up_ = true;  // a new term, and what it holds
  if (!primary && leading_) {
    replication_->Resign();
    needs_catch_up_ = false;
  }
  leading_ = primary;
  return leading_;
}

void Writer::Idle() {
  if (replication_ == nullptr) return;
  last_idle_ = std::chrono::steady_clock::now();
  if (Leading()) {
    // Errors are the next append's to report (the term ends on them).
    if (CatchUpIfNeeded().ok()) replication_->PublishAcknowledged().IgnoreError();
    return;
  }
  const EventLog& acknowledged = replication_->Acknowledged();
  absl::StatusOr<ChainHead> head = acknowledged.DurableHead();
  if (!head.ok() || head->sequence <= WriterView().head.sequence) return;
  // A failure (the node's PostgreSQL restarting, a damaged event) leaves the projections where
  // they are; the next tick tries again.
  CatchUp(store_, log_, acknowledged, WriterState(), &published_mu_).IgnoreError();
}

std::vector<Command*> Writer::TakeGroup(bool& stopping) {
  std::vector<Command*> group;
  {
    std::unique_lock lock(queue_mu_);
    const auto ready = [&] { return stopping_ || !queue_.empty(); };
    if (replication_ != nullptr) {
      queue_cv_.wait_for(lock, kReplicationTick, ready);
    } else {
      queue_cv_.wait(lock, ready);
    }
    stopping = stopping_;
    size_t weight = 0;
    while (!queue_.empty() &&
           (group.empty() || weight + queue_.front()->weight() <= kCommitRecordsMax)) {
      weight += queue_.front()->weight();
      group.push_back(queue_.front());
      queue_.pop_front();
    }
  }
  if (!group.empty()) space_cv_.notify_all();
  return group;
}

// Validates every command of the group in order, on top of the group in flight; once that one is
// durable, hands this one's events and projections to the commit thread, which writes them in one
// synced WriteBatch, publishes the new committed state, then answers. On a storage error nothing
// of the group is applied (in memory or on disk) and every command gets the error.
void Writer::CommitGroup(const std::vector<Command*>& group) {
  const int64_t now_us = clock_();
  const absl::CivilDay today = BeijingDay(now_us);
  // A job scans the store's accounts: it needs the accounts created in flight to be there.
  const bool scans_accounts = std::any_of(group.begin(), group.end(), [](const Command* c) {
    return std::holds_alternative<JobStartRequest>(c->request) ||
           std::holds_alternative<JobChunkRequest>(c->request);
  });
  if (in_flight_ && (needs_catch_up_ || InFlightDone() ||
                     (scans_accounts && in_flight_->state->created_accounts()))) {
    Drain().IgnoreError();  // a group done (or failed) meanwhile is no base for this one
  }
  if (absl::Status caught_up = CatchUpIfNeeded(); !caught_up.ok()) {
    RecordStats(group, 0, caught_up, 0);
    Answer(group, caught_up);
    return;
  }
  auto state = in_flight_ ? std::make_unique<WorkingState>(store_, log_, *in_flight_->state)
                          : std::make_unique<WorkingState>(store_, log_, WriterView());
  size_t weight = 0;  // about one event per record or account
  for (const Command* c : group) weight += c->weight();
  state->ReserveEvents(weight);
  absl::Status status;
  for (Command* c : group) {
    status = Execute(*c, *state, now_us, today);
    if (!status.ok()) break;
  }
  for (Command* c : group) {
    if (c->on_decided) std::exchange(c->on_decided, nullptr)();
  }
  state->ForgetPredecessor();
  // Whichever thread would otherwise wait builds the group's projection rows (they depend only
  // on this state, which holds the group ahead's effects): here, if the group ahead is still
  // being committed (ingest, where commits are the longer part), else the commit thread (a job,
  // where deciding is). The log's events and a checkpoint follow the durable head: the commit
  // thread adds those.
  std::optional<rocksdb::WriteBatch> batch;
  if (status.ok() && !state->empty() && in_flight_ && !InFlightDone()) {
    batch = ProjectionsBatch(*state);
  }
  // Every answer of this group rests on the group before: it waits for that one's sync.
  if (const absl::Status before = Drain(); !before.ok()) {
    status = absl::Status(before.code(),
                          StrCat("not written: the commit before it failed (", before.message(),
                                 "), and this one was decided on it; nothing of it was applied"));
  }
  if (!status.ok() || state->empty()) {
    RecordStats(group, 0, status, 0);
    Answer(group, status);
    return;
  }
  in_flight_ = std::make_unique<InFlight>(InFlight{
      .group = group, .state = std::move(state), .batch = std::move(batch), .now_us = now_us});
  {
    std::lock_guard lock(flight_mu_);
    to_commit_ = in_flight_.get();
  }
  flight_cv_.notify_all();
}

bool Writer::InFlightDone() {
  std::lock_guard lock(flight_mu_);
  return to_commit_ == nullptr;
}

absl::Status Writer::Drain() {
  if (!in_flight_) return absl::OkStatus();
  absl::Status status;
  bool commit_thread_idle = false;
  {
    std::unique_lock lock(flight_mu_);
    commit_thread_idle = to_commit_ == nullptr;
    flight_cv_.wait(lock, [&] { return to_commit_ == nullptr; });
    status = flight_status_;
    // Freeing a group's state takes milliseconds for a job's chunk of 10,000 accounts. It is
    // done by whichever thread the other waits for less: the commit thread when it was done
    // before this one came to wait (the interest job), else this thread, once the next group
    // is handed over (WriterLoop; ingest).
    if (commit_thread_idle) retired_.push_back(std::move(in_flight_));
  }
  if (commit_thread_idle) {
    flight_cv_.notify_all();
  } else {
    drained_ = std::move(in_flight_);
  }
  if (!status.ok() && authoritative_ != nullptr) needs_catch_up_ = true;
  // Best effort now, so readers see the log's state; retried before the next group otherwise.
  CatchUpIfNeeded().IgnoreError();
  return status;
}

void Writer::CommitLoop() {
  for (;;) {
    InFlight* f = nullptr;
    std::vector<std::unique_ptr<InFlight>> retired;
    {
      std::unique_lock lock(flight_mu_);
      flight_cv_.wait(lock, [&] {
        return to_commit_ != nullptr || !retired_.empty() || stop_committing_;
      });
      retired.swap(retired_);
      if (to_commit_ == nullptr && retired.empty()) return;
      f = to_commit_;
    }
    if (f == nullptr) continue;  // `retired` is freed on the way round
    uint64_t commit_us = 0;
    const absl::Status status =
        Commit(*f->state, std::move(f->batch), f->group.size(), f->now_us, commit_us);
    RecordStats(f->group, f->state->appended(), status, commit_us);
    // Marked done before it is answered: a command sent after this answer (a resend after a
    // failure) must find the group done, not be decided on it and fail with its error. The next
    // group's commit waits on this thread, so answers still go out in commit order.
    const std::vector<Command*> group = f->group;  // `f` is the writer's to free once done
    Settle(group, status);
    {
      std::lock_guard lock(flight_mu_);
      flight_status_ = status;
      to_commit_ = nullptr;
    }
    flight_cv_.notify_all();
    Notify(group);
  }
}

absl::Status Writer::Execute(Command& c, WorkingState& state, int64_t now_us,
                             absl::CivilDay today) {
  const Appender appender = [&](v1::EventEnvelope e) -> absl::StatusOr<uint64_t> {
    e.set_actor(std::string(c.actor));
    e.set_recorded_time_us(now_us);
    return state.Append(std::move(e));
  };
  const Step step{state, store_, appender, today, c.result};
  return std::visit([&](auto& request) { return Decide(request, step); }, c.request);
}

absl::Status Writer::Commit(const WorkingState& state,
                            std::optional<rocksdb::WriteBatch> projections, size_t commands,
                            int64_t now_us, uint64_t& commit_us) {
  const size_t appended = state.appended();
  // One batch: the projections with their head, then the log's events and the checkpoint. It is
  // the group's only write, so all of it is durable or none.
  rocksdb::WriteBatch batch =
      projections ? std::move(*projections) : ProjectionsBatch(state);
  LEDGER_RETURN_IF_ERROR(log_.Append(WriterView().head, state.Events(), batch));
  AddCheckpoint(state, now_us, batch);
  const auto start = std::chrono::steady_clock::now();
  const absl::Status status = WriteGroup(state, batch);
  commit_us = std::chrono::duration_cast<std::chrono::microseconds>(
                  std::chrono::steady_clock::now() - start)
                  .count();
  if (!status.ok()) return status;
  {
    absl::MutexLock lock(&published_mu_);
    state.Publish(committed_);
  }
  if (on_commit_) {
    CommitInfo info{.commands = commands, .events = appended, .commit_us = commit_us};
    for (const v1::EventEnvelope& e : state.appended_events()) {
      ++info.events_by_type[EventTypeName(e)];
    }
    on_commit_(info);
  }
  return absl::OkStatus();
}

absl::Status Writer::WriteGroup(const WorkingState& state, rocksdb::WriteBatch& batch) {
  LEDGER_RETURN_IF_ERROR(ResumeAfterWriteError());
  if (authoritative_ != nullptr) {
    // Takes the group's references and checkpoints from `batch`; commits before the local
    // write, so the local store never holds what the log does not. (A failure: Drain() has
    // the local store catch up.)
    LEDGER_RETURN_IF_ERROR(authoritative_->Append(WriterView().head, state.Events(), batch));
  }
  absl::Status status = store_.WriteSynced(batch);
  if (!status.ok() && write_error_.ok()) SetWriteError(status);
  return status;
}

absl::Status Writer::CatchUpIfNeeded() {
  if (!needs_catch_up_) return absl::OkStatus();
  LEDGER_RETURN_IF_ERROR(ResumeAfterWriteError());
  LEDGER_RETURN_IF_ERROR(
      CatchUp(store_, log_, *authoritative_, WriterState(), &published_mu_).status());
  needs_catch_up_ = false;
  return absl::OkStatus();
}

void Writer::RecordStats(const std::vector<Command*>& group, size_t appended,
                         const absl::Status& status, uint64_t commit_us) {
  absl::MutexLock lock(&published_mu_);
  if (commit_us > 0) ++stats_.commits;
  stats_.commands += group.size();
  for (const Command* c : group) {
    if (const auto* r = std::get_if<CollectionsRequest>(&c->request)) {
      stats_.records += r->records->size();
    }
  }
  if (status.ok()) stats_.events += appended;
  stats_.commit_us += commit_us;
}

void Writer::Answer(const std::vector<Command*>& group, const absl::Status& status) {
  Settle(group, status);
  Notify(group);
}

void Writer::Settle(const std::vector<Command*>& group, const absl::Status& status) {
  for (Command* c : group) {
    if (!status.ok()) {
      c->status = status;
    } else if (const auto* backup = std::get_if<BackupRequest>(&c->request)) {
      // After this group's commit and before the next: the copy holds exactly `head`.
      c->status = store_.Checkpoint(*backup->directory);
      c->result.sequence = WriterView().head.sequence;
    }
  }
}

void Writer::Notify(const std::vector<Command*>& group) {
  for (Command* c : group) {
    if (c->on_decided) std::exchange(c->on_decided, nullptr)();
    // `c` may be freed as soon as `done` is set: take the notification out first.
    std::function<void()> on_ready = std::move(c->on_ready);
    c->done.set_value();
    if (on_ready) on_ready();
  }
}

// After a failed write RocksDB refuses further writes until resumed. The next commit tries
// DB::Resume() (which flushes the memtables to new files, so the failed batch is never
// replayed). RocksDB can resume from ENOSPC while syncing the WAL once space is freed; after a
// failed WAL append or an EIO it cannot (a "fatal" background error): the ledger then stays
// read-only until restarted. Either way reads keep working and every write gets the failed
// write's retryable code (RESOURCE_EXHAUSTED for ENOSPC, else UNAVAILABLE) saying why.
absl::Status Writer::ResumeAfterWriteError() {
  if (write_error_.ok()) return absl::OkStatus();
  const absl::Status resumed = store_.Resume();
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

void Writer::SetWriteError(absl::Status status) {
  write_error_ = status;
  absl::MutexLock lock(&published_mu_);
  published_write_error_ = std::move(status);
}

// Signs the group's last event, in the group's own batch, when the group reaches a multiple of
// the checkpoint interval: the checkpoint is durable exactly when the events it signs are.
void Writer::AddCheckpoint(const WorkingState& state, int64_t now_us, rocksdb::WriteBatch& batch) {
  if (!signer_) return;
  const ChainHead& before = WriterView().head;
  const ChainHead& after = state.head();
  if (after.sequence / checkpoint_interval_ == before.sequence / checkpoint_interval_) return;
  v1::Checkpoint c;
  c.set_sequence(after.sequence);
  c.set_chain_hash(after.hash);
  c.set_signature(signer_->Sign(CheckpointMessage(after.sequence, after.hash)));
  c.set_signed_time_us(now_us);
  const auto s = batch.Put(store_.handle(Cf::kCheckpoints), keys::EncodeU64(after.sequence),
                           c.SerializeAsString());
  LEDGER_CHECK(s.ok(), s.ToString());
}

}  // namespace ledger
