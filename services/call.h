// What every call of every service goes through, written once: the gate (the caller's role for the
// method, then the ledger, absent while ledgerd is still opening it), the call's log line and
// metrics, and the mapping of ledger rejections and errors to gRPC statuses and trailing reasons.
// Internal to services/.
#ifndef SERVICES_CALL_H_
#define SERVICES_CALL_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "grpcpp/alarm.h"
#include "grpcpp/grpcpp.h"
#include "ledger/ledger.h"
#include "ledger/types.h"
#include "ledger/v1/commands.pb.h"
#include "ledger/v1/services.pb.h"
#include "services/auth.h"
#include "services/methods.h"
#include "services/metrics.h"

namespace services {

// Maps a business rejection to its gRPC status and attaches the reason to `context`:
// malformed input → INVALID_ARGUMENT, rule violation → FAILED_PRECONDITION,
// conflict with what is recorded → ALREADY_EXISTS, outside the caller's scope →
// PERMISSION_DENIED, no verified identity → UNAUTHENTICATED.
grpc::Status RejectionStatus(grpc::ServerContextBase* context, const ledger::Rejection& rejection);
grpc::StatusCode ReasonCode(ledger::v1::Reason reason);

// Maps a storage / internal error from the ledger (UNAVAILABLE, RESOURCE_EXHAUSTED, DATA_LOSS …).
grpc::Status FromAbsl(const absl::Status& status);

// Request metadata of a read that must see at least this sequence (a write's answer, read on
// another node of a replicated ledger): the call waits up to 5 s (within its deadline) until
// this node has applied it, else UNAVAILABLE reason `behind`; a value that is not a decimal
// sequence is INVALID_ARGUMENT `malformed_message`.
inline constexpr char kMinSequenceMetadataKey[] = "ledger-min-sequence";
// The wait, sleeping on the calling thread (the synchronous API's streaming methods).
absl::Status AwaitMinSequence(grpc::ServerContextBase* context, const ledger::Ledger& ledger);

// The same wait without holding a thread (the callback API): checks at once, then every 10 ms on
// a gRPC alarm, and calls `then` once with the outcome, on the thread that checked last. Lives
// in the call's reactor, which must not finish before `then` runs.
class MinSequenceWait {
 public:
  void Start(grpc::ServerContextBase* context, const ledger::Ledger& ledger,
             std::function<void(absl::Status)> then);

 private:
  void Check();

  grpc::ServerContextBase* context_ = nullptr;
  const ledger::Ledger* ledger_ = nullptr;
  uint64_t min_ = 0;
  std::chrono::system_clock::time_point give_up_;
  std::function<void(absl::Status)> then_;
  std::optional<grpc::Alarm> alarm_;
};

// Trailing-metadata key of a write refused "not_leader": the leader's ledgerd address, when
// this node knows it.
inline constexpr char kLeaderMetadataKey[] = "ledger-leader";

// A named limit passed (or a message that does not parse): `limit` is the trailing reason.
grpc::Status LimitExceeded(grpc::ServerContextBase* context, grpc::StatusCode code,
                           const char* limit, std::string message);

// REGION_NOT_PERMITTED: the caller's certificate does not cover `region`.
grpc::Status RegionDenied(grpc::ServerContextBase* context, std::string_view region);

// NOT_FOUND "<masked id> is not enrolled": also the answer for an account outside the caller's
// regions, so that a caller cannot learn who is enrolled elsewhere.
grpc::Status NotEnrolled(std::string_view citizen_id);

// One structured log line per call, written when the call ends. Carries no personal data: status
// messages from the ledger mask citizen IDs, and records are only counted.
class CallLog {
 public:
  CallLog(const Method& method, Metrics* metrics)
      : method_(method.path), metrics_(metrics), start_(std::chrono::steady_clock::now()) {}
  void set_actor(std::string actor) { actor_ = std::move(actor); }
  void set_records(size_t records) { records_ = records; }

  // Logs and counts the call's end; returns `status` to answer with.
  grpc::Status Done(grpc::Status status);

 private:
  std::string_view method_;
  Metrics* metrics_;
  std::chrono::steady_clock::time_point start_;
  std::string actor_ = "-";
  size_t records_ = 0;
};

// What every handler does first: authorize the caller for the method (its actor then goes in the
// call's log line) and find the ledger, which is absent while ledgerd is still opening it.
class Gate {
 public:
  Gate(const std::atomic<ledger::Ledger*>& ledger, const Authorizer& auth, Metrics* metrics,
       std::function<std::string()> leader_hint = {})
      : ledger_(ledger), auth_(auth), metrics_(metrics), leader_hint_(std::move(leader_hint)) {}

  struct Admitted {
    Caller caller;
    ledger::Ledger& ledger;
  };

  // On failure the reason is already attached to `context`; answer with log.Done(status).
  // Admit also waits (sleeping) for the call's ledger-min-sequence; Authorize leaves that to the
  // caller (MinSequenceWait).
  absl::StatusOr<Admitted> Admit(grpc::ServerContextBase* context, const Method& method,
                                 CallLog& log) const;
  absl::StatusOr<Admitted> Authorize(grpc::ServerContextBase* context, const Method& method,
                                     CallLog& log) const;

  // A synchronous call end to end: admit, run `body(admitted, log)` (which returns the answer's
  // status), log it. A call that is not admitted never reaches `body`.
  template <typename Body>
  grpc::Status Call(grpc::ServerContextBase* context, const Method& method, Body&& body) const {
    CallLog log(method, metrics_);
    auto admitted = Admit(context, method, log);
    if (!admitted.ok()) return log.Done(FromAbsl(admitted.status()));
    return log.Done(WithReason(context, body(*admitted, log)));
  }

  // `status`, with its machine-readable reason attached to `context` when the ledger's message
  // carries one (both UNAVAILABLE, both safe to resend: an idempotency key resolves it):
  //   commit_in_doubt  an append to the replicated log that may or may not have committed;
  //   not_leader       this node does not write now; `ledger-leader` names the node that does,
  //                    when known.
  grpc::Status WithReason(grpc::ServerContextBase* context, grpc::Status status) const;

  Metrics* metrics() const { return metrics_; }

 private:
  const std::atomic<ledger::Ledger*>& ledger_;
  const Authorizer& auth_;
  Metrics* metrics_;
  std::function<std::string()> leader_hint_;
};

// What a command's submission (services/unary_call.h, ServeCommand) returns: the status that
// refuses the call, or the command handed to the writer (a ledger::PendingCommand, a ScopedPush).
template <typename Pending>
using Submitted = std::variant<grpc::Status, Pending>;

// The answer to a single ledger command (enrol, adopt): a storage error, its typed rejection, or
// the sequence that records it (with `duplicate` for a resend).
template <typename Response>
grpc::Status CommandAnswer(grpc::ServerContextBase* context,
                           const absl::StatusOr<ledger::CommandResult>& result,
                           Response* response) {
  if (!result.ok()) return FromAbsl(result.status());
  if (result->rejection) return RejectionStatus(context, *result->rejection);
  response->set_sequence(result->sequence);
  response->set_duplicate(result->duplicate);
  return grpc::Status::OK;
}

// A lifecycle or fund command: refused unless the caller may act in the region the command acts
// in (Ledger::CommandRegion), else handed to the writer, which calls `on_ready` once it is decided.
Submitted<ledger::PendingCommand> SubmitAccountCommand(grpc::ServerContextBase* context,
                                                       Gate::Admitted& call,
                                                       ledger::v1::AccountCommand command,
                                                       std::function<void()> on_ready);
// Its answer, once decided: its first and last sequences, or its typed rejection.
grpc::Status AccountCommandAnswer(grpc::ServerContextBase* context,
                                  ledger::PendingCommand& pending,
                                  ledger::v1::CommandResponse* response);

}  // namespace services

#endif  // SERVICES_CALL_H_
