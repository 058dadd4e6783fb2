// The Ledger facade's commands: each becomes a Command queued to the writer (ledger/writer.h),
// answered once its group is durable. Opening is in open.cc, reads in reads.cc and
// audit_reads.cc, replay in replay.cc.
#include "ledger/ledger.h"

#include <chrono>
#include <future>
#include <memory>
#include <utility>

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

// Fields this version does not know (a newer client's) are dropped before a command is decided:
// they are never stored in the log, and never make a resend differ from its original.
template <typename Message>
Message KnownFieldsOnly(const Message& message) {
  Message known = message;
  known.DiscardUnknownFields();
  return known;
}

// Runs a single-result command on the writer.
absl::StatusOr<CommandResult> RunForResult(Writer& writer, Request request,
                                           std::string_view actor) {
  Command c{.request = std::move(request), .actor = actor};
  writer.Run(c);
  if (!c.status.ok()) return c.status;
  return c.result;
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
  auto* push = std::get_if<CollectionsRequest>(&state_->command.request);
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
    state->command.request = CollectionsRequest{.records = state->records.get()};
    state->command.actor = state->actor;
    state->command.on_ready = std::move(on_ready);
    state->done = impl_->writer().Enqueue(state->command);
    return PendingPush(std::move(state));
  }
  if (on_ready) on_ready();
  return PendingPush(std::move(state));
}

absl::StatusOr<CommandResult> Ledger::Enrol(const v1::ParticipantEnrolled& sent,
                                            std::string_view actor) {
  const v1::ParticipantEnrolled enrolment = KnownFieldsOnly(sent);
  return RunForResult(impl_->writer(), EnrolRequest{.enrolment = &enrolment}, actor);
}

absl::StatusOr<CommandResult> Ledger::AdoptPolicy(const v1::Policy& sent,
                                                  std::string_view actor) {
  const v1::Policy policy = KnownFieldsOnly(sent);
  return RunForResult(impl_->writer(), PolicyRequest{.policy = &policy}, actor);
}

absl::StatusOr<CommandResult> Ledger::Execute(const v1::AccountCommand& sent,
                                              std::string_view actor) {
  const v1::AccountCommand command = KnownFieldsOnly(sent);
  return RunForResult(impl_->writer(), AccountRequest{.command = &command}, actor);
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
