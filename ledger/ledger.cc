// The Ledger facade's commands: each becomes a Command queued to the writer (ledger/writer.h),
// answered once its group is durable. Opening is in open.cc, reads in reads.cc and
// audit_reads.cc, replay in replay.cc.
#include "ledger/ledger.h"

#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>

#include "absl/status/status.h"
#include "ledger/hash.h"
#include "ledger/ledger_impl.h"
#include "ledger/limits.h"
#include "ledger/status_macros.h"
#include "ledger/strings.h"
#include "ledger/writer.h"

namespace ledger {

namespace {

absl::Status TooManyRecords(size_t records) {
  return absl::ResourceExhaustedError(
      StrCat(records, " records exceed the commit limit of ", kCommitRecordsMax));
}

// A command on the writer's queue and the handle its caller waits on (PendingPush, PendingCommand).
struct Queued {
  Command command;
  std::future<void> done;  // invalid: nothing was queued
  bool waited = false;

  void Enqueue(Writer& writer, std::function<void()> on_ready) {
    command.on_ready = std::move(on_ready);
    done = writer.Enqueue(command);
  }
  bool Ready() const {
    return !done.valid() || done.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
  }
  void Wait() {
    waited = true;
    if (done.valid()) done.wait();
  }
  // A handle dropped unwaited still waits: the writer reads the command until it answers.
  ~Queued() {
    if (!waited && done.valid()) done.wait();
  }
};

// The writer's request for each kind of single command.
Request RequestFor(const v1::ParticipantEnrolled& enrolment) {
  return EnrolRequest{.enrolment = &enrolment};
}
Request RequestFor(const v1::Policy& policy) { return PolicyRequest{.policy = &policy}; }
Request RequestFor(const v1::AccountCommand& command) {
  return AccountRequest{.command = &command};
}

}  // namespace

Ledger::Ledger(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Ledger::~Ledger() = default;

absl::StatusOr<std::vector<v1::RecordOutcome>> Ledger::PushCollections(const Records& records,
                                                                      std::string_view actor) {
  if (static_cast<size_t>(records.size()) > kCommitRecordsMax) {
    return TooManyRecords(records.size());
  }
  if (records.empty()) return std::vector<v1::RecordOutcome>();
  Command c{.request = CollectionsRequest{.records = &records}, .actor = actor};
  impl_->writer().Run(c);
  if (!c.status.ok()) return c.status;
  return std::move(std::get<CollectionsRequest>(c.request).outcomes);
}

struct PendingPush::State {
  std::shared_ptr<const Ledger::Records> records;
  std::string actor;
  std::optional<absl::Status> early_failure;  // an error found before queueing
  Queued queued;                              // last: destroyed (and waited for) first
};

PendingPush::PendingPush(std::shared_ptr<State> state) : state_(std::move(state)) {}
PendingPush::PendingPush(PendingPush&&) noexcept = default;
PendingPush& PendingPush::operator=(PendingPush&&) noexcept = default;
PendingPush::~PendingPush() = default;

bool PendingPush::Ready() const { return state_->early_failure || state_->queued.Ready(); }

absl::StatusOr<std::vector<v1::RecordOutcome>> PendingPush::Wait() {
  state_->queued.Wait();
  if (state_->early_failure) return *state_->early_failure;
  const Command& c = state_->queued.command;
  if (!c.status.ok()) return c.status;
  auto* push = std::get_if<CollectionsRequest>(&state_->queued.command.request);
  if (push == nullptr) return std::vector<v1::RecordOutcome>();
  return std::move(push->outcomes);
}

PendingPush Ledger::SubmitCollections(std::shared_ptr<const Records> records, std::string actor,
                                      std::function<void()> on_ready) {
  auto state = std::make_shared<PendingPush::State>();
  state->records = std::move(records);
  state->actor = std::move(actor);
  if (static_cast<size_t>(state->records->size()) > kCommitRecordsMax) {
    state->early_failure = TooManyRecords(state->records->size());
  } else if (!state->records->empty()) {  // empty: Wait() answers with no outcomes
    state->queued.command.request = CollectionsRequest{.records = state->records.get()};
    state->queued.command.actor = state->actor;
    state->queued.Enqueue(impl_->writer(), std::move(on_ready));
    return PendingPush(std::move(state));
  }
  if (on_ready) on_ready();
  return PendingPush(std::move(state));
}

struct PendingCommand::State {
  // The command as decided: fields this version does not know (a newer client's) are dropped
  // first, so they are never stored in the log and never make a resend differ from its original.
  std::variant<v1::ParticipantEnrolled, v1::Policy, v1::AccountCommand> message;
  std::string actor;
  Queued queued;  // last: destroyed (and waited for) first

  template <typename Message>
  static std::shared_ptr<State> Queue(Writer& writer, Message message, std::string actor,
                                      std::function<void()> on_ready) {
    message.DiscardUnknownFields();
    auto state = std::make_shared<State>();
    state->actor = std::move(actor);
    state->queued.command.request =
        RequestFor(state->message.emplace<Message>(std::move(message)));
    state->queued.command.actor = state->actor;
    state->queued.Enqueue(writer, std::move(on_ready));
    return state;
  }
};

PendingCommand::PendingCommand(std::shared_ptr<State> state) : state_(std::move(state)) {}
PendingCommand::PendingCommand(PendingCommand&&) noexcept = default;
PendingCommand& PendingCommand::operator=(PendingCommand&&) noexcept = default;
PendingCommand::~PendingCommand() = default;

bool PendingCommand::Ready() const { return state_->queued.Ready(); }

absl::StatusOr<CommandResult> PendingCommand::Wait() {
  state_->queued.Wait();
  const Command& c = state_->queued.command;
  if (!c.status.ok()) return c.status;
  return c.result;
}

PendingCommand Ledger::SubmitEnrol(v1::ParticipantEnrolled enrolment, std::string actor,
                                   std::function<void()> on_ready) {
  return PendingCommand(PendingCommand::State::Queue(impl_->writer(), std::move(enrolment),
                                                     std::move(actor), std::move(on_ready)));
}

PendingCommand Ledger::SubmitPolicy(v1::Policy policy, std::string actor,
                                    std::function<void()> on_ready) {
  return PendingCommand(PendingCommand::State::Queue(impl_->writer(), std::move(policy),
                                                     std::move(actor), std::move(on_ready)));
}

PendingCommand Ledger::Submit(v1::AccountCommand command, std::string actor,
                              std::function<void()> on_ready) {
  return PendingCommand(PendingCommand::State::Queue(impl_->writer(), std::move(command),
                                                     std::move(actor), std::move(on_ready)));
}

absl::StatusOr<CommandResult> Ledger::Enrol(const v1::ParticipantEnrolled& enrolment,
                                            std::string_view actor) {
  return SubmitEnrol(enrolment, std::string(actor)).Wait();
}

absl::StatusOr<CommandResult> Ledger::AdoptPolicy(const v1::Policy& policy,
                                                  std::string_view actor) {
  return SubmitPolicy(policy, std::string(actor)).Wait();
}

absl::StatusOr<CommandResult> Ledger::Execute(const v1::AccountCommand& command,
                                              std::string_view actor) {
  return Submit(command, std::string(actor)).Wait();
}

namespace {

// One chunk of a job on the writer: queued, decided (its cursor is then final), answered.
struct JobChunk {
  Command command;
  std::promise<void> decided;
  std::future<void> done;

  const JobCursor& cursor() const { return std::get<JobChunkRequest>(command.request).cursor; }
};

// Queues the chunk that continues from `from` and waits until the writer has decided it.
std::unique_ptr<JobChunk> SubmitChunk(Writer& writer, const v1::JobRequest& request,
                                      JobCursor from, std::string_view actor) {
  auto chunk = std::make_unique<JobChunk>();
  chunk->command.request = JobChunkRequest{.job = &request, .cursor = std::move(from)};
  chunk->command.actor = actor;
  chunk->command.on_decided = [decided = &chunk->decided] { decided->set_value(); };
  std::future<void> decided = chunk->decided.get_future();
  chunk->done = writer.Enqueue(chunk->command);
  decided.wait();
  return chunk;
}

}  // namespace

absl::StatusOr<Ledger::JobOutcome> Ledger::RunJob(
    const v1::JobRequest& request, std::string_view actor,
    const std::function<void(const v1::JobProgress&)>& on_progress) {
  JobOutcome outcome;
  Command start{.request = JobStartRequest{.job = &request}, .actor = actor};
  impl_->writer().Run(start);
  if (!start.status.ok()) return start.status;
  if (start.result.rejection) {
    outcome.rejection = start.result.rejection;
    return outcome;
  }
  JobCursor cursor = std::move(std::get<JobStartRequest>(start.request).cursor);
  // Chunk N+1 is queued as soon as chunk N is decided, so the writer decides it while N is
  // written; N's progress is reported once N is durable. A chunk decided on a chunk whose write
  // failed fails too: the first failure is the job's answer.
  std::unique_ptr<JobChunk> previous;
  while (true) {
    const JobCursor& from = previous ? previous->cursor() : cursor;
    std::unique_ptr<JobChunk> next;
    if (!from.progress.completed() && !(previous && previous->command.result.rejection)) {
      next = SubmitChunk(impl_->writer(), request, from, actor);
    }
    if (previous) {
      previous->done.wait();
      if (!previous->command.status.ok()) {
        if (next) next->done.wait();
        return previous->command.status;
      }
      outcome.progress = previous->cursor().progress;
      if (previous->command.result.rejection) {
        outcome.rejection = previous->command.result.rejection;
        return outcome;
      }
      if (on_progress) on_progress(outcome.progress);
    } else {
      outcome.progress = cursor.progress;
    }
    if (!next) return outcome;
    previous = std::move(next);
  }
}

absl::StatusOr<ChainHead> Ledger::Backup(const std::string& directory) {
  if (directory.empty()) return absl::InvalidArgumentError("backup directory is empty");
  Command c{.request = BackupRequest{.directory = &directory}};
  impl_->writer().Run(c);
  if (!c.status.ok()) return c.status;
  // The writer is past the checkpoint, but the head it recorded is what the copy holds.
  if (c.result.sequence == 0) return ChainHead{0, GenesisHash()};
  LEDGER_ASSIGN_OR_RETURN(v1::EventEnvelope last, ReadEvent(c.result.sequence));
  return ChainHead{c.result.sequence, last.hash()};
}

}  // namespace ledger
