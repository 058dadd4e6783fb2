#include "services/call.h"

#include <algorithm>
#include <chrono>
#include <thread>
#include <utility>

#include "absl/strings/numbers.h"

#include "ledger/citizen_id.h"
#include "ledger/strings.h"
#include "services/services.h"
#include "spdlog/spdlog.h"

namespace services {

using ledger::StrCat;
namespace v1 = ledger::v1;

grpc::StatusCode ReasonCode(v1::Reason reason) {
  const int n = static_cast<int>(reason);
  if (n >= 80) return grpc::StatusCode::FAILED_PRECONDITION;  // issue 16's rule violations
  if (n >= 70) return grpc::StatusCode::NOT_FOUND;
  if (n >= 60) return grpc::StatusCode::FAILED_PRECONDITION;
  if (n >= 50) return grpc::StatusCode::UNAUTHENTICATED;
  if (n >= 40) return grpc::StatusCode::PERMISSION_DENIED;
  if (n >= 30) return grpc::StatusCode::ALREADY_EXISTS;
  if (n >= 20) return grpc::StatusCode::FAILED_PRECONDITION;
  return grpc::StatusCode::INVALID_ARGUMENT;
}

grpc::Status RejectionStatus(grpc::ServerContextBase* context, const ledger::Rejection& rejection) {
  context->AddTrailingMetadata(kReasonMetadataKey, v1::Reason_Name(rejection.reason));
  return grpc::Status(ReasonCode(rejection.reason),
                      StrCat(v1::Reason_Name(rejection.reason), ": ", rejection.detail));
}

grpc::Status FromAbsl(const absl::Status& status) {
  // absl status codes are numerically the gRPC codes.
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

grpc::Status LimitExceeded(grpc::ServerContextBase* context, grpc::StatusCode code,
                           const char* limit, std::string message) {
  context->AddTrailingMetadata(kReasonMetadataKey, limit);
  return grpc::Status(code, message);
}

grpc::Status RegionDenied(grpc::ServerContextBase* context, std::string_view region) {
  return RejectionStatus(context, {v1::REASON_REGION_NOT_PERMITTED,
                                   StrCat("the caller's certificate does not cover region '",
                                          region, "'")});
}

grpc::Status NotEnrolled(std::string_view citizen_id) {
  return grpc::Status(grpc::StatusCode::NOT_FOUND,
                      StrCat(ledger::MaskCitizenId(citizen_id), " is not enrolled"));
}

grpc::Status Gate::WithReason(grpc::ServerContextBase* context, grpc::Status status) const {
  if (status.error_code() != grpc::StatusCode::UNAVAILABLE) return status;
  const std::string message = status.error_message();  // grpc::Status returns a copy
  for (std::string_view reason : {"commit_in_doubt", "not_leader"}) {
    if (!message.starts_with(reason)) continue;
    context->AddTrailingMetadata(kReasonMetadataKey, std::string(reason));
    if (reason == "not_leader" && leader_hint_) {
      if (std::string leader = leader_hint_(); !leader.empty()) {
        context->AddTrailingMetadata(kLeaderMetadataKey, leader);
      }
    }
  }
  return status;
}

grpc::Status CallLog::Done(grpc::Status status) {
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start_).count();
  if (metrics_) metrics_->ObserveRpc(method_, static_cast<int>(status.error_code()), ms / 1e3);
  if (status.ok()) {
    spdlog::info("rpc method={} actor=\"{}\" code=OK ms={:.3f} records={}", method_, actor_, ms,
                 records_);
  } else {
    spdlog::info("rpc method={} actor=\"{}\" code={} ms={:.3f} records={} error=\"{}\"", method_,
                 actor_, static_cast<int>(status.error_code()), ms, records_,
                 status.error_message());
  }
  return status;
}

absl::StatusOr<Gate::Admitted> Gate::Authorize(grpc::ServerContextBase* context,
                                               const Method& method, CallLog& log) const {
  auto caller = auth_.Authorize(context, method.path);
  if (!caller.ok()) return caller.status();
  log.set_actor(caller->actor);
  ledger::Ledger* ledger = ledger_.load();
  if (ledger == nullptr) {
    context->AddTrailingMetadata(kReasonMetadataKey, "starting");
    return absl::UnavailableError("the ledger is starting (verifying its log); retry shortly");
  }
  return Admitted{std::move(*caller), *ledger};
}

absl::StatusOr<Gate::Admitted> Gate::Admit(grpc::ServerContextBase* context, const Method& method,
                                           CallLog& log) const {
  auto admitted = Authorize(context, method, log);
  if (!admitted.ok()) return admitted;
  if (absl::Status applied = AwaitMinSequence(context, admitted->ledger); !applied.ok()) {
    return applied;
  }
  return admitted;
}

namespace {

constexpr auto kMinSequencePoll = std::chrono::milliseconds(10);

// The sequence the call's ledger-min-sequence names; 0 when it names none.
absl::StatusOr<uint64_t> MinSequence(grpc::ServerContextBase* context) {
  const auto& metadata = context->client_metadata();
  const auto it = metadata.find(kMinSequenceMetadataKey);
  if (it == metadata.end()) return 0;
  uint64_t min = 0;
  if (!absl::SimpleAtoi(absl::string_view(it->second.data(), it->second.size()), &min)) {
    context->AddTrailingMetadata(kReasonMetadataKey, "malformed_message");
    return absl::InvalidArgumentError(
        StrCat(kMinSequenceMetadataKey, " must be a sequence number (decimal)"));
  }
  return min;
}

// Up to 5 s, and never past the call's own deadline.
std::chrono::system_clock::time_point GiveUp(grpc::ServerContextBase* context) {
  return std::min(std::chrono::system_clock::now() + std::chrono::seconds(5),
                  context->deadline() - std::chrono::milliseconds(50));
}

absl::Status Behind(grpc::ServerContextBase* context, uint64_t applied, uint64_t min) {
  context->AddTrailingMetadata(kReasonMetadataKey, "behind");
  return absl::UnavailableError(StrCat("behind: this node has applied the log up to sequence ",
                                       applied, ", the call asks for ", min,
                                       "; retry, or read on the leader"));
}

}  // namespace

absl::Status AwaitMinSequence(grpc::ServerContextBase* context, const ledger::Ledger& ledger) {
  const auto min = MinSequence(context);
  if (!min.ok() || *min == 0) return min.status();
  const auto give_up = GiveUp(context);
  uint64_t applied = ledger.Head().sequence;
  while (applied < *min && std::chrono::system_clock::now() < give_up) {
    std::this_thread::sleep_for(kMinSequencePoll);
    applied = ledger.Head().sequence;
  }
  if (applied >= *min) return absl::OkStatus();
  return Behind(context, applied, *min);
}

void MinSequenceWait::Start(grpc::ServerContextBase* context, const ledger::Ledger& ledger,
                            std::function<void(absl::Status)> then) {
  const auto min = MinSequence(context);
  if (!min.ok()) return then(min.status());
  context_ = context;
  ledger_ = &ledger;
  min_ = *min;
  give_up_ = GiveUp(context);
  then_ = std::move(then);
  Check();
}

void MinSequenceWait::Check() {
  const uint64_t applied = min_ == 0 ? 0 : ledger_->Head().sequence;
  if (applied < min_ && std::chrono::system_clock::now() < give_up_) {
    // A fresh alarm each time: this may run inside the previous one's callback, which must not
    // be reset while it runs (destroying it there is safe).
    alarm_.emplace();
    alarm_->Set(std::chrono::system_clock::now() + kMinSequencePoll, [this](bool) { Check(); });
    return;
  }
  // `then` may finish the call, and the reactor holding this with it: nothing after it.
  auto then = std::move(then_);
  then(applied >= min_ ? absl::OkStatus() : Behind(context_, applied, min_));
}

Submitted<ledger::PendingCommand> SubmitAccountCommand(grpc::ServerContextBase* context,
                                                       Gate::Admitted& call,
                                                       v1::AccountCommand command,
                                                       std::function<void()> on_ready) {
  auto region = call.ledger.CommandRegion(command);
  if (!region.ok()) return FromAbsl(region.status());
  if (!region->empty() && !call.caller.MayAccessRegion(*region)) {
    return RegionDenied(context, *region);
  }
  return call.ledger.Submit(std::move(command), call.caller.actor, std::move(on_ready));
}

grpc::Status AccountCommandAnswer(grpc::ServerContextBase* context,
                                  ledger::PendingCommand& pending,
                                  v1::CommandResponse* response) {
  auto result = pending.Wait();
  if (!result.ok()) return FromAbsl(result.status());
  if (result->rejection) return RejectionStatus(context, *result->rejection);
  response->set_first_sequence(result->sequence);
  response->set_last_sequence(result->last_sequence);
  response->set_duplicate(result->duplicate);
  return grpc::Status::OK;
}

}  // namespace services
