// The single writer: the bounded command queue, group commit, checkpoint signing, recovery from
// a failed write, and the committed state readers see (published after every commit).
//
// What must stay true: commands are decided in queue order, each against the committed state
// plus the commands before it in its group; a group's events, projections and checkpoint are
// one synced write; a command is answered only after that write returns, and a failed write
// applies nothing of the group (on disk or in memory) and fails every command in it.
//
// Pipelined: two threads. The writer thread decides group N+1 on top of group N (its working
// state, ledger/working_state.h) while the commit thread writes and syncs N. N+1 goes to the
// commit thread only once N is durable, published and answered; if N's write fails, N+1 (decided
// on what was never written) is failed too, unwritten, and so is every answer it holds, even a
// rejection or a duplicate. Nothing is published or answered before its own group's sync.
// With an authoritative log (postgres), a group is committed there first; when that append or
// the local write after it fails (in doubt, another writer's head, a storage error) the group
// is failed and the local store catches up from the authoritative log before the next group
// is decided, so nothing is decided against a state the log does not hold.
#ifndef LEDGER_WRITER_H_
#define LEDGER_WRITER_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <variant>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/civil_time.h"
#include "ledger/audit.h"
#include "ledger/event_log.h"
#include "ledger/ledger.h"
#include "ledger/lifecycle.h"
#include "ledger/replication.h"
#include "ledger/store.h"
#include "ledger/working_state.h"

namespace ledger {

// One request per command kind. Pointers are the caller's and stay valid until it is answered.
struct CollectionsRequest {
  const Ledger::Records* records = nullptr;
  std::vector<v1::RecordOutcome> outcomes;  // out: one per record, in order
};
struct EnrolRequest {
  const v1::ParticipantEnrolled* enrolment = nullptr;
};
struct PolicyRequest {
  const v1::Policy* policy = nullptr;
};
struct AccountRequest {
  const v1::AccountCommand* command = nullptr;
};
// Runs after its group's commit and before the next: the copy holds exactly that head.
struct BackupRequest {
  const std::string* directory = nullptr;
};
struct JobStartRequest {
  const v1::JobRequest* job = nullptr;
  JobCursor cursor;  // out
};
struct JobChunkRequest {
  const v1::JobRequest* job = nullptr;
  JobCursor cursor;  // in and out
};
using Request = std::variant<CollectionsRequest, EnrolRequest, PolicyRequest, AccountRequest,
                             BackupRequest, JobStartRequest, JobChunkRequest>;

// A queued command and the slot for its answer.
struct Command {
  Request request;
  std::string_view actor;
  CommandResult result;  // enrol, policy, account; jobs: a rejection; backup: the sequence
  absl::Status status;   // non-OK: the commit failed, nothing of the command applied
  std::promise<void> done;
  std::function<void()> on_ready;  // called after `done` is set (the command may be gone by then)
  // Called once the command is decided, before it is durable (a job's next chunk can be queued
  // then); or with its answer, before `done`, if it is answered undecided.
  std::function<void()> on_decided;

  // Its share of a group's kCommitRecordsMax.
  size_t weight() const;
};

struct WriterOptions {
  std::function<int64_t()> clock_us;                  // required
  std::function<void(const CommitInfo&)> on_commit;   // may be empty
  std::unique_ptr<CheckpointSigner> signer;           // null: no checkpoints
  uint64_t checkpoint_interval_events = 10'000;
  // log.backend = postgres: the authoritative log, appended to (and committed) before the local
  // store's synced write of the events' copy and the projections; it must outlive the writer.
  // Null: `log` is the only log and its append rides in that write.
  EventLog* authoritative = nullptr;
  // With `authoritative`, on a node under Patroni: decides per group whether this node writes
  // (ledger/replication.h); must outlive the writer. Null: this node always writes.
  Replication* replication = nullptr;
};

class Writer {
 public:
  // Starts the writer thread. `store` and `log` must outlive the writer.
  Writer(Store& store, EventLog& log, CommittedState committed, WriterOptions options);
  // Answers everything queued, then stops the thread.
  ~Writer();
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  // Queues `c` (blocking while the queue is full) and returns the future the writer fulfils once
  // it has answered `c`. `c` must stay alive until then.
  std::future<void> Enqueue(Command& c) ABSL_LOCKS_EXCLUDED(queue_mu_);
  // Enqueue and wait.
  void Run(Command& c) { Enqueue(c).wait(); }

  const CheckpointSigner* signer() const { return signer_.get(); }

  // Consistent copies of what readers may see.
  ChainHead Head() const ABSL_LOCKS_EXCLUDED(published_mu_);
  std::optional<v1::Policy> LatestPolicy(std::string_view region) const
      ABSL_LOCKS_EXCLUDED(published_mu_);
  std::map<std::string, int64_t> Totals() const ABSL_LOCKS_EXCLUDED(published_mu_);
  WriterStats Stats() const ABSL_LOCKS_EXCLUDED(published_mu_);
  absl::Status WriteState() const ABSL_LOCKS_EXCLUDED(published_mu_);

 private:
  void WriterLoop();
  // The next group: queued commands in order up to kCommitRecordsMax. Empty when `stopping`
  // (and drained) or, with replication, after kReplicationTick without a command.
  std::vector<Command*> TakeGroup(bool& stopping) ABSL_LOCKS_EXCLUDED(queue_mu_);
  // With replication: whether this node writes now. On becoming primary the next group (or
  // idle tick) first catches up from the authoritative log in a new term; on ceasing to be,
  // the term ends.
  bool Leading();
  // With replication, no command for a tick: the leader publishes its acknowledged head; a
  // follower applies what the acknowledged log holds beyond the local head.
  void Idle();
  // Decides the group (on top of the group in flight, if any), waits for the group in flight,
  // then hands this one to the commit thread.
  void CommitGroup(const std::vector<Command*>& group);
  absl::Status Execute(Command& c, WorkingState& state, int64_t now_us, absl::CivilDay today);
  // Waits until the group in flight (if any) is written, published and answered; returns how
  // its write went (OK when none was in flight). After a failure the local store catches up
  // from the authoritative log (if any) before the next group is decided.
  absl::Status Drain();
  // Whether the group in flight has been written and answered.
  bool InFlightDone() ABSL_LOCKS_EXCLUDED(flight_mu_);
  // The commit thread: writes each group handed to it, publishes, answers.
  void CommitLoop();
  // Commits the group's projection rows (`projections`, or built here if the writer did not),
  // its events and its checkpoint (if one is due) in one synced write; publishes, calls
  // on_commit.
  absl::Status Commit(const WorkingState& state, std::optional<rocksdb::WriteBatch> projections,
                      size_t commands, int64_t now_us, uint64_t& commit_us);
  void RecordStats(const std::vector<Command*>& group, size_t appended,
                   const absl::Status& status, uint64_t commit_us)
      ABSL_LOCKS_EXCLUDED(published_mu_);
  void Answer(const std::vector<Command*>& group, const absl::Status& status);
  // Answer's two halves: each command's status (a backup's copy taken here), then its
  // notification (`done`, `on_ready`).
  void Settle(const std::vector<Command*>& group, const absl::Status& status);
  void Notify(const std::vector<Command*>& group);
  absl::Status ResumeAfterWriteError();
  void SetWriteError(absl::Status status) ABSL_LOCKS_EXCLUDED(published_mu_);
  void AddCheckpoint(const WorkingState& state, int64_t now_us, rocksdb::WriteBatch& batch);
  // The group's writes: the authoritative append (if any), then the local synced write.
  absl::Status WriteGroup(const WorkingState& state, rocksdb::WriteBatch& batch);
  // Replays what the authoritative log holds beyond the local head, when needs_catch_up_.
  absl::Status CatchUpIfNeeded();

  // committed_ without the lock, for the thread that changes it: the commit thread while a group
  // is in flight, the writer thread (catching up, deciding a group with none in flight) when not.
  const CommittedState& WriterView() const ABSL_NO_THREAD_SAFETY_ANALYSIS { return committed_; }
  // For CatchUp, which publishes under published_mu_ itself.
  CommittedState& WriterState() ABSL_NO_THREAD_SAFETY_ANALYSIS { return committed_; }

  Store& store_;
  EventLog& log_;
  const std::function<int64_t()> clock_;
  const std::function<void(const CommitInfo&)> on_commit_;
  const std::unique_ptr<CheckpointSigner> signer_;
  const uint64_t checkpoint_interval_;
  EventLog* const authoritative_;
  Replication* const replication_;
  bool needs_catch_up_ = false;  // writer thread only
  bool leading_ = false;         // writer thread only (with replication)
  std::chrono::steady_clock::time_point last_idle_;  // writer thread only: the last Idle()

  // A group decided and handed to the commit thread, not yet answered. Owned by the writer
  // thread (the next group's state reads its state); the commit thread reads it until done.
  struct InFlight {
    std::vector<Command*> group;
    std::unique_ptr<WorkingState> state;
    // The group's projections, if the writer built them while waiting for the group ahead.
    std::optional<rocksdb::WriteBatch> batch;
    int64_t now_us = 0;
  };
  std::unique_ptr<InFlight> in_flight_;  // writer thread only
  std::unique_ptr<InFlight> drained_;    // writer thread only: done, freed after the next handover
  std::mutex flight_mu_;
  std::condition_variable flight_cv_;
  InFlight* to_commit_ ABSL_GUARDED_BY(flight_mu_) = nullptr;  // handed over, not yet done
  absl::Status flight_status_ ABSL_GUARDED_BY(flight_mu_);     // how the last one went
  // Groups done and drained, for the commit thread to free (Drain).
  std::vector<std::unique_ptr<InFlight>> retired_ ABSL_GUARDED_BY(flight_mu_);
  bool stop_committing_ ABSL_GUARDED_BY(flight_mu_) = false;

  // Written only by the writer thread, under the lock.
  mutable absl::Mutex published_mu_;
  CommittedState committed_ ABSL_GUARDED_BY(published_mu_);
  WriterStats stats_ ABSL_GUARDED_BY(published_mu_);
  absl::Status published_write_error_ ABSL_GUARDED_BY(published_mu_);  // write_error_ for readers
  // The last failed write not yet resumed from; the commit thread's while a group is in flight.
  absl::Status write_error_;

  // std, not absl: Debian's abseil is not built with -fsanitize=thread, so TSan does not see an
  // absl::Mutex order the handoff of commands between threads and reports the queue as a race
  // (pthread mutexes it does see). The annotations below document the locking all the same.
  std::mutex queue_mu_;
  std::condition_variable queue_cv_;  // a command was queued, or stopping
  std::condition_variable space_cv_;  // the queue has room
  std::deque<Command*> queue_ ABSL_GUARDED_BY(queue_mu_);
  bool stopping_ ABSL_GUARDED_BY(queue_mu_) = false;

  std::thread committer_;  // last: started once everything above is constructed
  std::thread writer_;
};

}  // namespace ledger

#endif  // LEDGER_WRITER_H_
