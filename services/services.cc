#include "services/services.h"

#include <arpa/inet.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <filesystem>
#include <functional>
#include <fstream>
#include <future>
#include <mutex>
#include <optional>
#include <sstream>

#include "ledger/apply.h"
#include "ledger/citizen_id.h"
#include "ledger/dates.h"
#include "ledger/hash.h"
#include "ledger/limits.h"
#include "ledger/recon.h"
#include "ledger/strings.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/health_check_service_interface.h"
#include "spdlog/spdlog.h"

namespace services {
namespace {

using ledger::StrCat;
namespace v1 = ledger::v1;

constexpr char kPushCollections[] = "/ledger.v1.CollectionService/PushCollections";
constexpr char kStreamCollections[] = "/ledger.v1.CollectionService/StreamCollections";
constexpr char kEnrol[] = "/ledger.v1.AccountService/Enrol";
constexpr char kGetAccount[] = "/ledger.v1.AccountService/GetAccount";
constexpr char kCreditCollectiveSubsidy[] = "/ledger.v1.AccountService/CreditCollectiveSubsidy";
constexpr char kRefundContribution[] = "/ledger.v1.AccountService/RefundContribution";
constexpr char kDetermineBenefit[] = "/ledger.v1.AccountService/DetermineBenefit";
constexpr char kSuspendBenefit[] = "/ledger.v1.AccountService/SuspendBenefit";
constexpr char kResumeBenefit[] = "/ledger.v1.AccountService/ResumeBenefit";
constexpr char kRecordDeath[] = "/ledger.v1.AccountService/RecordDeath";
constexpr char kTransferOut[] = "/ledger.v1.AccountService/TransferOut";
constexpr char kTransferIn[] = "/ledger.v1.AccountService/TransferIn";
constexpr char kRunJob[] = "/ledger.v1.AccountService/RunJob";
constexpr char kGetStatement[] = "/ledger.v1.AccountService/GetStatement";
constexpr char kReceiveFiscalFunds[] = "/ledger.v1.FundService/ReceiveFiscalFunds";
constexpr char kGetLedgerBalances[] = "/ledger.v1.FundService/GetLedgerBalances";
constexpr char kReceiveTaxRemittance[] = "/ledger.v1.FundService/ReceiveTaxRemittance";
constexpr char kTransferBetweenFundAccounts[] =
    "/ledger.v1.FundService/TransferBetweenFundAccounts";
constexpr char kReceiveBankInterest[] = "/ledger.v1.FundService/ReceiveBankInterest";
constexpr char kReportBankBalance[] = "/ledger.v1.FundService/ReportBankBalance";
constexpr char kGetFundBalance[] = "/ledger.v1.FundService/GetFundBalance";
constexpr char kGetReconciliation[] = "/ledger.v1.FundService/GetReconciliation";
constexpr char kReportDailyTotals[] = "/ledger.v1.CollectionService/ReportDailyTotals";
constexpr char kStreamEvents[] = "/ledger.v1.AuditService/StreamEvents";
constexpr char kVerifyChain[] = "/ledger.v1.AuditService/VerifyChain";
constexpr char kGetCheckpoints[] = "/ledger.v1.AuditService/GetCheckpoints";
constexpr char kBalanceAsOf[] = "/ledger.v1.AuditService/BalanceAsOf";
constexpr char kReplayCompare[] = "/ledger.v1.AuditService/ReplayCompare";
constexpr char kAdoptPolicy[] = "/ledger.v1.PolicyService/AdoptPolicy";
constexpr char kGetPolicy[] = "/ledger.v1.PolicyService/GetPolicy";
constexpr char kBackup[] = "/ledger.v1.AdminService/Backup";

// One structured log line per call, written when the call ends. Carries no personal data: status
// messages from the ledger mask citizen IDs, and records are only counted.
class CallLog {
 public:
  CallLog(std::string_view method, Metrics* metrics)
      : method_(method), metrics_(metrics), start_(std::chrono::steady_clock::now()) {}
  void set_actor(std::string actor) { actor_ = std::move(actor); }
  void set_records(size_t records) { records_ = records; }

  grpc::Status Done(grpc::Status status) {
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start_)
            .count();
    if (metrics_) metrics_->ObserveRpc(method_, static_cast<int>(status.error_code()), ms / 1e3);
    if (status.ok()) {
      spdlog::info("rpc method={} actor=\"{}\" code=OK ms={:.3f} records={}", method_, actor_, ms,
                   records_);
    } else {
      spdlog::info("rpc method={} actor=\"{}\" code={} ms={:.3f} records={} error=\"{}\"",
                   method_, actor_, static_cast<int>(status.error_code()), ms, records_,
                   status.error_message());
    }
    return status;
  }

 private:
  std::string_view method_;
  Metrics* metrics_;
  std::chrono::steady_clock::time_point start_;
  std::string actor_ = "-";
  size_t records_ = 0;
};

grpc::Status LimitExceeded(grpc::ServerContextBase* context, grpc::StatusCode code, const char* limit,
                           std::string message) {
  context->AddTrailingMetadata(kReasonMetadataKey, limit);
  return grpc::Status(code, message);
}

v1::RecordOutcome Rejected(uint32_t index, v1::Reason reason, std::string detail) {
  v1::RecordOutcome o;
  o.set_index(index);
  o.set_outcome(v1::OUTCOME_REJECTED);
  o.set_reason(reason);
  o.set_detail(std::move(detail));
  return o;
}

void Count(const std::vector<v1::RecordOutcome>& outcomes, uint32_t index_offset,
           v1::PushCollectionsResponse* response) {
  for (const v1::RecordOutcome& o : outcomes) {
    switch (o.outcome()) {
      case v1::OUTCOME_ACCEPTED: response->set_accepted_count(response->accepted_count() + 1); break;
      case v1::OUTCOME_DUPLICATE: response->set_duplicate_count(response->duplicate_count() + 1); break;
      case v1::OUTCOME_SUSPENSE: response->set_suspense_count(response->suspense_count() + 1); break;
      default: response->set_rejected_count(response->rejected_count() + 1); break;
    }
    v1::RecordOutcome* added = response->add_outcomes();
    *added = o;
    added->set_index(o.index() + index_offset);
  }
}

// What every handler does first: authorize the caller for the method (its actor then goes in the
// call's log line) and find the ledger, which is absent while ledgerd is still opening it.
class Gate {
 public:
  Gate(const std::atomic<ledger::Ledger*>& ledger, const Authorizer& auth, Metrics* metrics)
      : ledger_(ledger), auth_(auth), metrics_(metrics) {}

  struct Admitted {
    Caller caller;
    ledger::Ledger& ledger;
  };

  // On failure the reason is already attached to `context`; answer with log.Done(status).
  absl::StatusOr<Admitted> Admit(grpc::ServerContextBase* context, std::string_view method,
                                 CallLog& log) const {
    auto caller = auth_.Authorize(context, method);
    if (!caller.ok()) return caller.status();
    log.set_actor(caller->actor);
    ledger::Ledger* ledger = ledger_.load();
    if (ledger == nullptr) {
      context->AddTrailingMetadata(kReasonMetadataKey, "starting");
      return absl::UnavailableError("the ledger is starting (verifying its log); retry shortly");
    }
    return Admitted{std::move(*caller), *ledger};
  }

  Metrics* metrics() const { return metrics_; }

 private:
  const std::atomic<ledger::Ledger*>& ledger_;
  const Authorizer& auth_;
  Metrics* metrics_;
};

// The answer to a single ledger command (enrol, adopt): a storage error, its typed rejection, or
// the sequence that records it (with `duplicate` for a resend).
template <typename Response>
grpc::Status CommandAnswer(grpc::ServerContext* context,
                           const absl::StatusOr<ledger::CommandResult>& result,
                           Response* response) {
  if (!result.ok()) return FromAbsl(result.status());
  if (result->rejection) return RejectionStatus(context, *result->rejection);
  response->set_sequence(result->sequence);
  response->set_duplicate(result->duplicate);
  return grpc::Status::OK;
}

grpc::Status RegionDenied(grpc::ServerContext* context, std::string_view region) {
  return RejectionStatus(context, {v1::REASON_REGION_NOT_PERMITTED,
                                   StrCat("the caller's certificate does not cover region '",
                                          region, "'")});
}

// A lifecycle command, end to end: authorize the method and the region the command acts in,
// execute, answer with its sequences or its typed rejection; on success `then` may add to the
// answer.
grpc::Status RunAccountCommand(const Gate& gate, grpc::ServerContext* context, const char* method,
                               const v1::AccountCommand& command, v1::CommandResponse* response,
                               const std::function<absl::Status(ledger::Ledger&)>& then = {}) {
  CallLog log(method, gate.metrics());
  auto admitted = gate.Admit(context, method, log);
  if (!admitted.ok()) return log.Done(FromAbsl(admitted.status()));
  auto region = admitted->ledger.CommandRegion(command);
  if (!region.ok()) return log.Done(FromAbsl(region.status()));
  if (!region->empty() && !admitted->caller.MayAccessRegion(*region)) {
    return log.Done(RegionDenied(context, *region));
  }
  auto result = admitted->ledger.Execute(command, admitted->caller.actor);
  if (!result.ok()) return log.Done(FromAbsl(result.status()));
  if (result->rejection) return log.Done(RejectionStatus(context, *result->rejection));
  response->set_first_sequence(result->sequence);
  response->set_last_sequence(result->last_sequence);
  response->set_duplicate(result->duplicate);
  if (then) {
    if (auto st = then(admitted->ledger); !st.ok()) return log.Done(FromAbsl(st));
  }
  return log.Done(grpc::Status::OK);
}

// One message's records submitted for `caller`. Records for regions outside the caller's
// certificate are rejected here (REGION_NOT_PERMITTED) and never reach the ledger; the rest are
// queued for the writer at once, and Wait() merges both back into request order.
class ScopedPush {
 public:
  static ScopedPush Submit(ledger::Ledger& ledger, const Caller& caller,
                           std::shared_ptr<const ledger::Ledger::Records> records,
                           std::function<void()> on_ready = {}) {
    if (caller.regions.empty()) {
      return ScopedPush({}, {}, false,
                        ledger.SubmitCollections(std::move(records), caller.actor,
                                                 std::move(on_ready)));
    }
    std::vector<v1::RecordOutcome> outcomes(records->size());
    auto permitted = std::make_shared<ledger::Ledger::Records>();
    std::vector<int> positions;
    for (int i = 0; i < records->size(); ++i) {
      const v1::CollectionRecord& r = records->Get(i);
      if (caller.MayAccessRegion(r.region_code())) {
        *permitted->Add() = r;
        positions.push_back(i);
      } else {
        outcomes[i] = Rejected(i, v1::REASON_REGION_NOT_PERMITTED,
                               StrCat("the caller's certificate does not cover region '",
                                      r.region_code(), "'"));
      }
    }
    return ScopedPush(std::move(outcomes), std::move(positions), true,
                      ledger.SubmitCollections(std::move(permitted), caller.actor,
                                               std::move(on_ready)));
  }

  bool Ready() const { return pending_.Ready(); }

  absl::StatusOr<std::vector<v1::RecordOutcome>> Wait() {
    auto pushed = pending_.Wait();
    if (!pushed.ok() || !scoped_) return pushed;
    for (size_t j = 0; j < pushed->size(); ++j) {
      outcomes_[positions_[j]] = std::move((*pushed)[j]);
      outcomes_[positions_[j]].set_index(positions_[j]);
    }
    return std::move(outcomes_);
  }

 private:
  ScopedPush(std::vector<v1::RecordOutcome> outcomes, std::vector<int> positions, bool scoped,
             ledger::PendingPush pending)
      : outcomes_(std::move(outcomes)),
        positions_(std::move(positions)),
        scoped_(scoped),
        pending_(std::move(pending)) {}

  std::vector<v1::RecordOutcome> outcomes_;  // rejections found here (scoped callers only)
  std::vector<int> positions_;               // request index of each submitted record
  bool scoped_;
  ledger::PendingPush pending_;
};

// One StreamCollections call. Each message is parsed here and handed to the writer at once; up to
// kStreamPipelineDepth messages are with the writer while the next is received, and their outcomes
// are counted in order as they become ready. Nothing blocks a gRPC thread on a commit: the writer
// calls OnReady() when a push is decided, which reads on or finishes the call.
//
// The call ends with OK after the client's last message is committed; with INVALID_ARGUMENT
// ("malformed_message") when a message does not parse; with a limit's status when one is passed;
// with CANCELLED when the client goes away; or with the storage error of a failed commit. Messages
// before the one that ends the call are committed whole (their outcomes are in the answer only on
// OK); nothing after it is read.
class StreamCollectionsReactor final : public grpc::ServerReadReactor<grpc::ByteBuffer> {
 public:
  StreamCollectionsReactor(grpc::CallbackServerContext* context, grpc::ByteBuffer* response,
                           const Gate& gate, std::atomic<int>& open_streams)
      : context_(context),
        response_bytes_(response),
        log_(kStreamCollections, gate.metrics()),
        open_streams_(open_streams),
        deadline_(std::chrono::steady_clock::now() +
                  std::chrono::seconds(ledger::kStreamDurationSecondsMax)) {
    auto admitted = gate.Admit(context, kStreamCollections, log_);
    if (!admitted.ok()) {
      Finish(log_.Done(FromAbsl(admitted.status())));
      return;
    }
    caller_ = std::move(admitted->caller);
    ledger_ = &admitted->ledger;
    if (open_streams_.fetch_add(1) >= ledger::kConcurrentStreamsMax) {
      open_streams_.fetch_sub(1);
      Finish(log_.Done(LimitExceeded(context, grpc::StatusCode::RESOURCE_EXHAUSTED,
                                     "concurrent_streams_max",
                                     StrCat(ledger::kConcurrentStreamsMax,
                                            " collection streams are already open; retry later"))));
      return;
    }
    reading_ = true;
    StartRead(&request_bytes_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      // The client half-closed, or gRPC dropped the call: the client went away, its deadline
      // passed, or a message exceeded kReceiveMessageBytesMax (the client sees RESOURCE_EXHAUSTED).
      EndInput(context_->IsCancelled()
                   ? grpc::Status(grpc::StatusCode::CANCELLED,
                                  StrCat("the stream was cancelled after ", received_, " records"))
                   : grpc::Status::OK);
      return;
    }
    ++messages_;
    v1::PushCollectionsRequest message;
    if (!grpc::SerializationTraits<v1::PushCollectionsRequest>::Deserialize(&request_bytes_,
                                                                            &message)
             .ok()) {
      EndInput(LimitExceeded(
          context_, grpc::StatusCode::INVALID_ARGUMENT, "malformed_message",
          StrCat("stream message ", messages_,
                 " is not a valid PushCollectionsRequest (is every text field UTF-8?); the ",
                 received_, " records before it are committed; resend from there")));
      return;
    }
    if (auto refused = Refuse(message); !refused.ok()) {
      EndInput(std::move(refused));
      return;
    }
    auto records = std::make_shared<ledger::Ledger::Records>();
    records->Swap(message.mutable_records());
    const auto offset = static_cast<uint32_t>(received_);
    received_ += records->size();
    {
      std::lock_guard lock(mu_);
      ++unanswered_;
    }
    ScopedPush push =
        ScopedPush::Submit(*ledger_, caller_, std::move(records), [this] { OnReady(); });
    Act(Locked([&] {
      in_flight_.emplace_back(offset, std::move(push));
      reading_ = false;
    }));
  }

  void OnDone() override { delete this; }

 private:
  enum class Action { kNone, kRead, kFinish };

  // A limit this message would pass; OK if none.
  grpc::Status Refuse(const v1::PushCollectionsRequest& message) {
    log_.set_records(received_ + message.records_size());
    if (std::chrono::steady_clock::now() > deadline_) {
      return LimitExceeded(context_, grpc::StatusCode::DEADLINE_EXCEEDED, "stream_duration_max",
                           StrCat("a stream may stay open ", ledger::kStreamDurationSecondsMax,
                                  " s (the first ", received_,
                                  " records are committed); open a new one"));
    }
    if (static_cast<size_t>(message.records_size()) > ledger::kBatchRecordsMax) {
      return LimitExceeded(context_, grpc::StatusCode::RESOURCE_EXHAUSTED, "batch_records_max",
                           StrCat(message.records_size(), " records in one stream message; at most ",
                                  ledger::kBatchRecordsMax, " (earlier messages are committed)"));
    }
    if (received_ + message.records_size() > ledger::kStreamRecordsMax) {
      return LimitExceeded(context_, grpc::StatusCode::RESOURCE_EXHAUSTED, "stream_records_max",
                           StrCat("more than ", ledger::kStreamRecordsMax,
                                  " records in one stream (the first ", received_,
                                  " are committed); open a new stream"));
    }
    return grpc::Status::OK;
  }

  // Reading is over (end of stream, or `status` ends the call once what is queued is answered).
  void EndInput(grpc::Status status) {
    Act(Locked([&] {
      if (end_status_.ok()) end_status_ = std::move(status);
      input_ended_ = true;
      reading_ = false;
    }));
  }

  // From the writer's thread: one of our pushes is decided.
  void OnReady() {
    Act(Locked([&] { --unanswered_; }));
  }

  // Runs `change` under the lock, then decides what comes next.
  template <typename F>
  Action Locked(F change) {
    std::lock_guard lock(mu_);
    change();
    while (!in_flight_.empty() && in_flight_.front().second.Ready()) {
      auto outcomes = in_flight_.front().second.Wait();
      if (outcomes.ok()) {
        Count(*outcomes, in_flight_.front().first, &response_);
      } else if (failed_.ok()) {
        failed_ = outcomes.status();
        input_ended_ = true;  // nothing more is read after a failed commit
      }
      in_flight_.pop_front();
    }
    if (!input_ended_ && !reading_ && in_flight_.size() < ledger::kStreamPipelineDepth) {
      reading_ = true;
      return Action::kRead;
    }
    if (input_ended_ && !reading_ && in_flight_.empty() && unanswered_ == 0 && !finished_) {
      finished_ = true;
      return Action::kFinish;
    }
    return Action::kNone;
  }

  // Outside the lock. Finishing is the last thing any thread does with this reactor.
  void Act(Action action) {
    if (action == Action::kRead) {
      StartRead(&request_bytes_);
    } else if (action == Action::kFinish) {
      grpc::Status status = failed_.ok() ? std::move(end_status_) : FromAbsl(failed_);
      log_.set_records(received_);
      if (status.ok()) {
        bool own_buffer = false;
        status = grpc::SerializationTraits<v1::PushCollectionsResponse>::Serialize(
            response_, response_bytes_, &own_buffer);
      }
      // The slot is free before the client can see the answer and open its next stream.
      open_streams_.fetch_sub(1);
      Finish(log_.Done(std::move(status)));
    }
  }

  grpc::CallbackServerContext* const context_;
  grpc::ByteBuffer* const response_bytes_;
  CallLog log_;
  std::atomic<int>& open_streams_;  // this stream holds a slot from admission until Act(kFinish)
  const std::chrono::steady_clock::time_point deadline_;
  Caller caller_;
  ledger::Ledger* ledger_ = nullptr;
  grpc::ByteBuffer request_bytes_;
  size_t messages_ = 0;  // read so far (only the reading side touches these two)
  size_t received_ = 0;  // records in them

  std::mutex mu_;  // guards what follows
  std::deque<std::pair<uint32_t, ScopedPush>> in_flight_;  // request offset of each message
  int unanswered_ = 0;  // pushes whose OnReady() has not run (this must outlive them)
  bool reading_ = false;
  bool input_ended_ = false;
  bool finished_ = false;
  grpc::Status end_status_;
  absl::Status failed_;
  v1::PushCollectionsResponse response_;
};

// One PushCollections call on the callback API with raw bytes: a request that does not parse is
// INVALID_ARGUMENT ("malformed_message"; the typed callback API would answer UNIMPLEMENTED). The
// records go to the writer at once and the writer's thread answers once they are decided, so no
// gRPC thread waits on a commit (with 64 callers, 64 blocked threads made the tail latency).
class PushCollectionsReactor final : public grpc::ServerUnaryReactor {
 public:
  PushCollectionsReactor(grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
                         grpc::ByteBuffer* response, const Gate& gate)
      : response_bytes_(response), log_(kPushCollections, gate.metrics()) {
    auto admitted = gate.Admit(context, kPushCollections, log_);
    if (!admitted.ok()) {
      Finish(log_.Done(FromAbsl(admitted.status())));
      return;
    }
    grpc::ByteBuffer bytes(*request);  // the parser takes a mutable buffer; this copies no data
    if (!grpc::SerializationTraits<v1::PushCollectionsRequest>::Deserialize(&bytes, &request_)
             .ok()) {
      Finish(log_.Done(LimitExceeded(
          context, grpc::StatusCode::INVALID_ARGUMENT, "malformed_message",
          "the request is not a valid PushCollectionsRequest (is every text field UTF-8?); "
          "nothing was applied")));
      return;
    }
    log_.set_records(request_.records_size());
    if (static_cast<size_t>(request_.records_size()) > ledger::kBatchRecordsMax) {
      Finish(log_.Done(LimitExceeded(context, grpc::StatusCode::RESOURCE_EXHAUSTED,
                                     "batch_records_max",
                                     StrCat(request_.records_size(),
                                            " records in one request; at most ",
                                            ledger::kBatchRecordsMax))));
      return;
    }
    // This reactor lives until Finish, after the push is decided: the records are lent.
    std::shared_ptr<const ledger::Ledger::Records> records(std::shared_ptr<void>(),
                                                            &request_.records());
    push_.emplace(ScopedPush::Submit(admitted->ledger, admitted->caller, std::move(records),
                                     [this] { Arrive(); }));
    Arrive();
  }

  void OnDone() override { delete this; }

 private:
  // Called once the push is submitted (here) and once it is decided (the writer's thread), in
  // either order: the second one answers.
  void Arrive() {
    if (arrivals_.fetch_add(1) == 0) return;
    auto outcomes = push_->Wait();
    if (!outcomes.ok()) {
      Finish(log_.Done(FromAbsl(outcomes.status())));
      return;
    }
    v1::PushCollectionsResponse response;
    Count(*outcomes, 0, &response);
    bool own_buffer = false;
    Finish(log_.Done(grpc::SerializationTraits<v1::PushCollectionsResponse>::Serialize(
        response, response_bytes_, &own_buffer)));
  }

  grpc::ByteBuffer* const response_bytes_;
  CallLog log_;
  v1::PushCollectionsRequest request_;
  std::optional<ScopedPush> push_;
  std::atomic<int> arrivals_{0};
};

class CollectionServiceImpl final
    : public v1::CollectionService::WithRawCallbackMethod_PushCollections<
          v1::CollectionService::WithRawCallbackMethod_StreamCollections<
              v1::CollectionService::Service>> {
 public:
  explicit CollectionServiceImpl(Gate gate) : gate_(gate) {}

  grpc::Status ReportDailyTotals(grpc::ServerContext* context,
                                 const v1::ReportDailyTotalsRequest* request,
                                 v1::ReportDailyTotalsResponse* response) override {
    v1::AccountCommand command;
    *command.mutable_report_daily_totals() = *request;
    return RunAccountCommand(
        gate_, context, kReportDailyTotals, command, response->mutable_result(),
        [&](ledger::Ledger& ledger) -> absl::Status {
          auto day = ledger.ReconcileTaxDay(request->region_code(), request->collection_date(),
                                            request->tax_office());
          if (!day.ok()) return day.status();
          if (*day) *response->mutable_reconciliation() = std::move(**day);
          return absl::OkStatus();
        });
  }

  grpc::ServerUnaryReactor* PushCollections(grpc::CallbackServerContext* context,
                                            const grpc::ByteBuffer* request,
                                            grpc::ByteBuffer* response) override {
    return new PushCollectionsReactor(context, request, response, gate_);
  }

  // Served with the callback API on raw bytes, so that a message which does not parse ends the
  // stream with INVALID_ARGUMENT naming it (the typed API would take it for the end of the stream).
  grpc::ServerReadReactor<grpc::ByteBuffer>* StreamCollections(
      grpc::CallbackServerContext* context, grpc::ByteBuffer* response) override {
    return new StreamCollectionsReactor(context, response, gate_, open_streams_);
  }

 private:
  const Gate gate_;
  std::atomic<int> open_streams_{0};
};

class AccountServiceImpl final : public v1::AccountService::Service {
 public:
  explicit AccountServiceImpl(Gate gate) : gate_(gate) {}

  grpc::Status Enrol(grpc::ServerContext* context, const v1::EnrolRequest* request,
                     v1::EnrolResponse* response) override {
    CallLog log(kEnrol, gate_.metrics());
    auto admitted = gate_.Admit(context, kEnrol, log);
    if (!admitted.ok()) return log.Done(FromAbsl(admitted.status()));
    const Caller& caller = admitted->caller;
    ledger::Ledger& ledger = admitted->ledger;
    if (!caller.MayAccessRegion(request->participant().region_code())) {
      return log.Done(RegionDenied(context, request->participant().region_code()));
    }
    auto result = ledger.Enrol(request->participant(), caller.actor);
    return log.Done(CommandAnswer(context, result, response));
  }

  grpc::Status GetAccount(grpc::ServerContext* context, const v1::GetAccountRequest* request,
                          v1::Account* response) override {
    CallLog log(kGetAccount, gate_.metrics());
    auto admitted = gate_.Admit(context, kGetAccount, log);
    if (!admitted.ok()) return log.Done(FromAbsl(admitted.status()));
    const Caller& caller = admitted->caller;
    ledger::Ledger& ledger = admitted->ledger;
    if (auto st = ledger::ValidateCitizenId(request->citizen_id()); !st.ok()) {
      return log.Done(RejectionStatus(
          context, {v1::REASON_INVALID_CITIZEN_ID, std::string(st.message())}));
    }
    auto account = ledger.GetAccount(request->citizen_id());
    if (!account.ok()) return log.Done(FromAbsl(account.status()));
    if (!account->has_value() || !caller.MayAccessRegion((*account)->region_code())) {
      // Outside the caller's regions looks exactly like "not enrolled": no existence oracle.
      return log.Done(grpc::Status(
          grpc::StatusCode::NOT_FOUND,
          StrCat(ledger::MaskCitizenId(request->citizen_id()), " is not enrolled")));
    }
    *response = std::move(**account);
    return log.Done(grpc::Status::OK);
  }

#define LEDGER_ACCOUNT_COMMAND(Method, field, method_name)                                     \
  grpc::Status Method(grpc::ServerContext* context, const v1::Method##Request* request,        \
                      v1::CommandResponse* response) override {                                \
    v1::AccountCommand command;                                                               \
    *command.mutable_##field() = *request;                                                    \
    return RunAccountCommand(gate_, context, method_name, command, response);                 \
  }
  LEDGER_ACCOUNT_COMMAND(CreditCollectiveSubsidy, credit_collective_subsidy, kCreditCollectiveSubsidy)
  LEDGER_ACCOUNT_COMMAND(RefundContribution, refund_contribution, kRefundContribution)
  LEDGER_ACCOUNT_COMMAND(DetermineBenefit, determine_benefit, kDetermineBenefit)
  LEDGER_ACCOUNT_COMMAND(SuspendBenefit, suspend_benefit, kSuspendBenefit)
  LEDGER_ACCOUNT_COMMAND(ResumeBenefit, resume_benefit, kResumeBenefit)
  LEDGER_ACCOUNT_COMMAND(RecordDeath, record_death, kRecordDeath)
  LEDGER_ACCOUNT_COMMAND(TransferOut, transfer_out, kTransferOut)
  LEDGER_ACCOUNT_COMMAND(TransferIn, transfer_in, kTransferIn)
#undef LEDGER_ACCOUNT_COMMAND

  grpc::Status RunJob(grpc::ServerContext* context, const v1::JobRequest* request,
                      grpc::ServerWriter<v1::JobProgress>* writer) override {
    CallLog log(kRunJob, gate_.metrics());
    auto admitted = gate_.Admit(context, kRunJob, log);
    if (!admitted.ok()) return log.Done(FromAbsl(admitted.status()));
    if (!admitted->caller.MayAccessRegion(request->region_code())) {
      return log.Done(RegionDenied(context, request->region_code()));
    }
    // Progress goes out after each chunk; a client that stops reading only loses progress
    // messages (the job itself runs on to completion: every chunk is its own commit).
    auto outcome = admitted->ledger.RunJob(*request, admitted->caller.actor,
                                           [&](const v1::JobProgress& p) { writer->Write(p); });
    if (!outcome.ok()) return log.Done(FromAbsl(outcome.status()));
    log.set_records(outcome->progress.accounts_credited());
    if (outcome->rejection) return log.Done(RejectionStatus(context, *outcome->rejection));
    writer->Write(outcome->progress);
    return log.Done(grpc::Status::OK);
  }

  grpc::Status GetStatement(grpc::ServerContext* context, const v1::GetStatementRequest* request,
                            v1::Statement* response) override {
    CallLog log(kGetStatement, gate_.metrics());
    auto admitted = gate_.Admit(context, kGetStatement, log);
    if (!admitted.ok()) return log.Done(FromAbsl(admitted.status()));
    if (auto st = ledger::ValidateCitizenId(request->citizen_id()); !st.ok()) {
      return log.Done(RejectionStatus(
          context, {v1::REASON_INVALID_CITIZEN_ID, std::string(st.message())}));
    }
    if (request->year() < ledger::kFirstContributionYear || request->year() > 2999) {
      return log.Done(RejectionStatus(
          context, {v1::REASON_INVALID_PERIOD, StrCat("year ", request->year(), " is implausible")}));
    }
    auto statement = admitted->ledger.GetStatement(request->citizen_id(), request->year());
    if (!statement.ok()) return log.Done(FromAbsl(statement.status()));
    if (!statement->has_value() || !admitted->caller.MayAccessRegion((*statement)->region_code())) {
      return log.Done(grpc::Status(
          grpc::StatusCode::NOT_FOUND,
          StrCat(ledger::MaskCitizenId(request->citizen_id()), " is not enrolled")));
    }
    *response = std::move(**statement);
    return log.Done(grpc::Status::OK);
  }

 private:
  const Gate gate_;
};

class FundServiceImpl final : public v1::FundService::Service {
 public:
  explicit FundServiceImpl(Gate gate) : gate_(gate) {}

#define LEDGER_FUND_COMMAND(Method, field)                                                     \
  grpc::Status Method(grpc::ServerContext* context, const v1::Method##Request* request,        \
                      v1::CommandResponse* response) override {                                \
    v1::AccountCommand command;                                                               \
    *command.mutable_##field() = *request;                                                    \
    return RunAccountCommand(gate_, context, k##Method, command, response);                   \
  }
  LEDGER_FUND_COMMAND(ReceiveFiscalFunds, receive_fiscal_funds)
  LEDGER_FUND_COMMAND(ReceiveTaxRemittance, receive_tax_remittance)
  LEDGER_FUND_COMMAND(TransferBetweenFundAccounts, transfer_between_fund_accounts)
  LEDGER_FUND_COMMAND(ReceiveBankInterest, receive_bank_interest)
  LEDGER_FUND_COMMAND(ReportBankBalance, report_bank_balance)
#undef LEDGER_FUND_COMMAND

  grpc::Status GetFundBalance(grpc::ServerContext* context,
                              const v1::GetFundBalanceRequest* request,
                              v1::FundBalance* response) override {
    CallLog log(kGetFundBalance, gate_.metrics());
    auto admitted = gate_.Admit(context, kGetFundBalance, log);
    if (!admitted.ok()) return log.Done(FromAbsl(admitted.status()));
    if (!admitted->caller.MayAccessRegion(request->region_code())) {
      return log.Done(RegionDenied(context, request->region_code()));
    }
    auto balance = admitted->ledger.FundBalanceAsOf(request->region_code(),
                                                    request->bank_account(), request->as_of_date());
    if (!balance.ok()) return log.Done(FromAbsl(balance.status()));
    response->set_region_code(request->region_code());
    response->set_bank_account(request->bank_account());
    response->set_as_of_date(request->as_of_date());
    response->set_balance_fen(balance->balance_fen);
    response->set_ledger_account(std::string(ledger::accounts::BankLedgerAccount(request->bank_account())));
    response->set_as_of_sequence(balance->as_of_sequence);
    return log.Done(grpc::Status::OK);
  }

  grpc::Status GetReconciliation(grpc::ServerContext* context,
                                 const v1::ReconciliationRequest* request,
                                 v1::Reconciliation* response) override {
    CallLog log(kGetReconciliation, gate_.metrics());
    auto admitted = gate_.Admit(context, kGetReconciliation, log);
    if (!admitted.ok()) return log.Done(FromAbsl(admitted.status()));
    v1::ReconciliationRequest scoped = *request;
    const Caller& caller = admitted->caller;
    if (scoped.region_code().empty() && caller.regions.size() == 1) {
      scoped.set_region_code(caller.regions.front());
    }
    if (scoped.region_code().empty() && !caller.regions.empty()) {
      return log.Done(RejectionStatus(
          context, {v1::REASON_REGION_NOT_PERMITTED,
                    "the caller's certificate covers several regions: name one"}));
    }
    if (!caller.MayAccessRegion(scoped.region_code())) {
      return log.Done(RegionDenied(context, scoped.region_code()));
    }
    auto recon = admitted->ledger.Reconcile(scoped);
    if (!recon.ok()) return log.Done(FromAbsl(recon.status()));
    *response = std::move(*recon);
    return log.Done(grpc::Status::OK);
  }

  grpc::Status GetLedgerBalances(grpc::ServerContext* context,
                                 const v1::GetLedgerBalancesRequest* request,
                                 v1::LedgerBalances* response) override {
    CallLog log(kGetLedgerBalances, gate_.metrics());
    auto admitted = gate_.Admit(context, kGetLedgerBalances, log);
    if (!admitted.ok()) return log.Done(FromAbsl(admitted.status()));
    if (!admitted->caller.MayAccessRegion(request->region_code())) {
      return log.Done(RegionDenied(context, request->region_code()));
    }
    const std::string prefix = StrCat(request->region_code(), "/");
    for (const auto& [key, balance] : admitted->ledger.LedgerAccountBalances()) {
      if (key.starts_with(prefix)) (*response->mutable_balances_fen())[key.substr(prefix.size())] = balance;
    }
    return log.Done(grpc::Status::OK);
  }

 private:
  const Gate gate_;
};

class PolicyServiceImpl final : public v1::PolicyService::Service {
 public:
  explicit PolicyServiceImpl(Gate gate) : gate_(gate) {}

  grpc::Status AdoptPolicy(grpc::ServerContext* context, const v1::AdoptPolicyRequest* request,
                           v1::AdoptPolicyResponse* response) override {
    CallLog log(kAdoptPolicy, gate_.metrics());
    auto admitted = gate_.Admit(context, kAdoptPolicy, log);
    if (!admitted.ok()) return log.Done(FromAbsl(admitted.status()));
    const Caller& caller = admitted->caller;
    ledger::Ledger& ledger = admitted->ledger;
    if (!caller.MayAccessRegion(request->policy().region_code())) {
      return log.Done(RegionDenied(context, request->policy().region_code()));
    }
    auto result = ledger.AdoptPolicy(request->policy(), caller.actor);
    return log.Done(CommandAnswer(context, result, response));
  }

  grpc::Status GetPolicy(grpc::ServerContext* context, const v1::GetPolicyRequest* request,
                         v1::Policy* response) override {
    CallLog log(kGetPolicy, gate_.metrics());
    auto admitted = gate_.Admit(context, kGetPolicy, log);
    if (!admitted.ok()) return log.Done(FromAbsl(admitted.status()));
    ledger::Ledger& ledger = admitted->ledger;
    auto policy = ledger.LatestPolicy(request->region_code());
    if (!policy) {
      return log.Done(grpc::Status(
          grpc::StatusCode::NOT_FOUND,
          StrCat("no policy adopted for region '", request->region_code(), "'")));
    }
    *response = std::move(*policy);
    return log.Done(grpc::Status::OK);
  }

 private:
  const Gate gate_;
};

class AuditServiceImpl final : public v1::AuditService::Service {
 public:
  AuditServiceImpl(Gate gate, std::string scratch_dir)
      : gate_(gate),
        scratch_dir_(!scratch_dir.empty()
                         ? std::move(scratch_dir)
                         : (std::filesystem::temp_directory_path() /
                            StrCat("ledger-replay-scratch-", getpid(), "-",
                                   reinterpret_cast<uintptr_t>(this)))
                               .string()) {}

  grpc::Status StreamEvents(grpc::ServerContext* context, const v1::StreamEventsRequest* request,
                            grpc::ServerWriter<v1::AuditEvent>* writer) override {
    CallLog log(kStreamEvents, gate_.metrics());
    auto admitted = gate_.Admit(context, kStreamEvents, log);
    if (!admitted.ok()) return log.Done(FromAbsl(admitted.status()));
    const Caller& caller = admitted->caller;
    if (!request->region_code().empty() && !caller.MayAccessRegion(request->region_code())) {
      return log.Done(RegionDenied(context, request->region_code()));
    }
    size_t sent = 0;
    bool cancelled = false;
    absl::Status decode;
    // One event at a time: Write() returns once the message is handed to the transport (HTTP/2
    // flow control), so a slow reader keeps the server at one event in flight.
    auto status = admitted->ledger.ForEachEvent(
        request->from_sequence(), request->to_sequence(), [&](uint64_t, std::string_view stored) {
          if (context->IsCancelled()) {
            cancelled = true;
            return false;
          }
          v1::AuditEvent out;
          if (!out.mutable_event()->ParseFromArray(stored.data(), static_cast<int>(stored.size()))) {
            decode = absl::DataLossError("an event does not decode");
            return false;
          }
          const v1::EventEnvelope& e = out.event();
          if ((!request->citizen_id().empty() && ledger::ParticipantOf(e) != request->citizen_id()) ||
              (!request->event_type().empty() && ledger::EventTypeName(e) != request->event_type()) ||
              (!request->region_code().empty() && e.region_code() != request->region_code()) ||
              !caller.MayAccessRegion(e.region_code())) {
            return true;
          }
          out.mutable_event()->set_hash(ledger::Sha256(stored));
          out.set_stored(std::string(stored));
          if (!writer->Write(out)) {  // the stream is gone: the reader cancelled or went away
            cancelled = true;
            return false;
          }
          ++sent;
          return true;
        });
    log.set_records(sent);
    if (!status.ok()) return log.Done(FromAbsl(status));
    if (!decode.ok()) return log.Done(FromAbsl(decode));
    if (cancelled) return log.Done(grpc::Status(grpc::StatusCode::CANCELLED, "the reader went away"));
    return log.Done(grpc::Status::OK);
  }

  grpc::Status VerifyChain(grpc::ServerContext* context, const v1::VerifyChainRequest* request,
                           v1::VerifyChainResponse* response) override {
    CallLog log(kVerifyChain, gate_.metrics());
    auto admitted = gate_.Admit(context, kVerifyChain, log);
    if (!admitted.ok()) return log.Done(FromAbsl(admitted.status()));
    const uint64_t to = request->to_sequence() == 0 ? admitted->ledger.Head().sequence
                                                    : request->to_sequence();
    auto found = admitted->ledger.FindChainBreak(request->from_sequence(), to);
    if (!found.ok()) return log.Done(FromAbsl(found.status()));
    response->set_from_sequence(request->from_sequence());
    response->set_to_sequence(to);
    response->set_ok(!found->has_value());
    if (found->has_value()) {
      response->set_first_bad_sequence((*found)->sequence);
      response->set_reason((*found)->reason);
    }
    return log.Done(grpc::Status::OK);
  }

  grpc::Status GetCheckpoints(grpc::ServerContext* context,
                              const v1::GetCheckpointsRequest* request,
                              v1::Checkpoints* response) override {
    CallLog log(kGetCheckpoints, gate_.metrics());
    auto admitted = gate_.Admit(context, kGetCheckpoints, log);
    if (!admitted.ok()) return log.Done(FromAbsl(admitted.status()));
    auto checkpoints =
        admitted->ledger.Checkpoints(request->from_sequence(), request->to_sequence());
    if (!checkpoints.ok()) return log.Done(FromAbsl(checkpoints.status()));
    for (auto& c : *checkpoints) *response->add_checkpoints() = std::move(c);
    response->set_public_key_pem(admitted->ledger.CheckpointPublicKeyPem());
    return log.Done(grpc::Status::OK);
  }

  grpc::Status BalanceAsOf(grpc::ServerContext* context, const v1::BalanceAsOfRequest* request,
                           v1::BalanceAsOfResponse* response) override {
    CallLog log(kBalanceAsOf, gate_.metrics());
    auto admitted = gate_.Admit(context, kBalanceAsOf, log);
    if (!admitted.ok()) return log.Done(FromAbsl(admitted.status()));
    ledger::Ledger& ledger = admitted->ledger;
    if (request->citizen_id().empty() == request->ledger_account().empty()) {
      return log.Done(RejectionStatus(
          context, {v1::REASON_INVALID_FIELD, "give exactly one of citizen_id and ledger_account"}));
    }
    if (!request->as_of_date().empty() && !ledger::ParseDate(request->as_of_date()).ok()) {
      return log.Done(RejectionStatus(
          context, {v1::REASON_INVALID_DATE,
                    StrCat("as_of_date '", request->as_of_date(), "' is not YYYY-MM-DD")}));
    }
    if (request->as_of_sequence() > ledger.Head().sequence) {
      return log.Done(grpc::Status(grpc::StatusCode::OUT_OF_RANGE,
                                   StrCat("as_of_sequence ", request->as_of_sequence(),
                                          " is beyond the head ", ledger.Head().sequence)));
    }
    absl::StatusOr<ledger::Ledger::BalanceAsOf> balance;
    if (!request->citizen_id().empty()) {
      auto account = ledger.GetAccount(request->citizen_id());
      if (!account.ok()) return log.Done(FromAbsl(account.status()));
      if (!account->has_value() || !admitted->caller.MayAccessRegion((*account)->region_code())) {
        return log.Done(grpc::Status(
            grpc::StatusCode::NOT_FOUND,
            StrCat(ledger::MaskCitizenId(request->citizen_id()), " is not enrolled")));
      }
      balance = ledger.ParticipantBalanceAsOf(request->citizen_id(), request->as_of_sequence(),
                                              request->as_of_date());
    } else {
      const std::string region = request->ledger_account().substr(0, request->ledger_account().find('/'));
      if (!admitted->caller.MayAccessRegion(region)) return log.Done(RegionDenied(context, region));
      balance = ledger.LedgerAccountBalanceAsOf(request->ledger_account(),
                                                request->as_of_sequence(), request->as_of_date());
    }
    if (!balance.ok()) return log.Done(FromAbsl(balance.status()));
    for (auto& b : balance->by_source) *response->add_balances() = std::move(b);
    response->set_total_fen(balance->total_fen);
    response->set_events_applied(balance->events);
    return log.Done(grpc::Status::OK);
  }

  grpc::Status ReplayCompare(grpc::ServerContext* context, const v1::ReplayCompareRequest* request,
                             v1::ReplayCompareResponse* response) override {
    CallLog log(kReplayCompare, gate_.metrics());
    auto admitted = gate_.Admit(context, kReplayCompare, log);
    if (!admitted.ok()) return log.Done(FromAbsl(admitted.status()));
    // One comparison at a time: each rebuilds the whole ledger into the scratch directory.
    std::unique_lock lock(replay_mu_, std::try_to_lock);
    if (!lock.owns_lock()) {
      return log.Done(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                                   "a replay comparison is already running"));
    }
    auto compared = admitted->ledger.ReplayCompare(scratch_dir_);
    if (!compared.ok()) return log.Done(FromAbsl(compared.status()));
    response->set_equal(compared->equal);
    response->set_sequence(compared->sequence);
    response->set_events_replayed(compared->events_replayed);
    response->set_seconds(compared->seconds);
    response->set_rows_compared(compared->rows_compared);
    response->set_first_difference(compared->first_difference);
    return log.Done(grpc::Status::OK);
  }

 private:
  const Gate gate_;
  const std::string scratch_dir_;
  std::mutex replay_mu_;
};

class AdminServiceImpl final : public v1::AdminService::Service {
 public:
  explicit AdminServiceImpl(Gate gate) : gate_(gate) {}

  grpc::Status Backup(grpc::ServerContext* context, const v1::BackupRequest* request,
                      v1::BackupResponse* response) override {
    CallLog log(kBackup, gate_.metrics());
    auto admitted = gate_.Admit(context, kBackup, log);
    if (!admitted.ok()) return log.Done(FromAbsl(admitted.status()));
    ledger::Ledger& ledger = admitted->ledger;
    const std::filesystem::path dir(request->directory());
    if (!dir.is_absolute() || std::filesystem::exists(dir)) {
      return log.Done(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                   StrCat("backup directory '", request->directory(),
                                          "' must be an absolute path that does not exist")));
    }
    auto head = ledger.Backup(request->directory());
    if (!head.ok()) return log.Done(FromAbsl(head.status()));
    response->set_sequence(head->sequence);
    response->set_chain_head(head->hash);
    spdlog::info("backup directory=\"{}\" sequence={}", request->directory(), head->sequence);
    return log.Done(grpc::Status::OK);
  }

 private:
  const Gate gate_;
};

absl::StatusOr<std::string> ReadPem(const std::string& path, std::string_view what) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  if (!in || text.str().empty()) {
    return absl::InvalidArgumentError(StrCat("cannot read the ", what, " from '", path, "'"));
  }
  return text.str();
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> Credentials(const ServerOptions& o) {
  if (o.insecure_plaintext) {
    if (!IsLoopbackAddress(o.listen_address)) {
      return absl::FailedPreconditionError(
          StrCat("refusing plain text on ", o.listen_address,
                 ": --insecure-plaintext is for loopback only (127.0.0.1, [::1], localhost)"));
    }
    return grpc::InsecureServerCredentials();
  }
  if (!o.tls) {
    return absl::FailedPreconditionError(
        "TLS is required: give the server certificate, key and client CA (deploy/tls/"
        "make-dev-certs.sh makes development ones), or --insecure-plaintext on loopback");
  }
  grpc::SslServerCredentialsOptions ssl(GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY);
  auto ca = ReadPem(o.tls->client_ca_file, "client CA");
  auto cert = ReadPem(o.tls->cert_file, "server certificate");
  auto key = ReadPem(o.tls->key_file, "server key");
  for (const auto* s : {&ca, &cert, &key}) {
    if (!s->ok()) return s->status();
  }
  ssl.pem_root_certs = *ca;
  ssl.pem_key_cert_pairs.push_back({*key, *cert});
  return grpc::SslServerCredentials(ssl);
}

}  // namespace

grpc::StatusCode ReasonCode(v1::Reason reason) {
  const int n = static_cast<int>(reason);
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

bool IsLoopbackAddress(const std::string& listen_address) {
  const size_t colon = listen_address.rfind(':');
  if (colon == std::string::npos) return false;
  const std::string host = listen_address.substr(0, colon);
  if (host == "localhost" || host == "[::1]") return true;
  // Only an IPv4 literal in 127.0.0.0/8: a host *name* could resolve anywhere.
  in_addr address{};
  return inet_pton(AF_INET, host.c_str(), &address) == 1 &&
         (ntohl(address.s_addr) >> 24) == 127;
}

absl::StatusOr<RunningServer> StartServerStarting(const ServerOptions& options) {
  auto credentials = Credentials(options);
  if (!credentials.ok()) return credentials.status();
  RunningServer running;
  running.ledger = std::make_unique<std::atomic<ledger::Ledger*>>(nullptr);
  running.authorizer = std::make_unique<Authorizer>(options.insecure_plaintext);
  const Gate gate(*running.ledger, *running.authorizer, options.metrics);
  running.collection = std::make_unique<CollectionServiceImpl>(gate);
  running.account = std::make_unique<AccountServiceImpl>(gate);
  running.policy = std::make_unique<PolicyServiceImpl>(gate);
  running.admin = std::make_unique<AdminServiceImpl>(gate);
  running.fund = std::make_unique<FundServiceImpl>(gate);
  running.audit = std::make_unique<AuditServiceImpl>(gate, options.replay_scratch_dir);
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen_address, *credentials, &running.port);
  builder.SetMaxReceiveMessageSize(ledger::kReceiveMessageBytesMax);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, ledger::kStreamsPerConnectionMax);
  // gRPC enables SO_REUSEPORT by default: a second ledgerd on the same port would then split
  // clients between two different ledgers. Binding a port in use must fail instead.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  // Enough threads polling for new calls that concurrent callers reach the writer together
  // (and share its fsync) instead of trickling in one thread start at a time.
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MIN_POLLERS, 16);
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS, 128);
  builder.RegisterService(running.collection.get());
  builder.RegisterService(running.account.get());
  builder.RegisterService(running.policy.get());
  builder.RegisterService(running.admin.get());
  builder.RegisterService(running.fund.get());
  builder.RegisterService(running.audit.get());
  running.server = builder.BuildAndStart();
  if (!running.server || running.port == 0) {
    return absl::UnavailableError(StrCat("cannot listen on ", options.listen_address));
  }
  running.server->GetHealthCheckService()->SetServingStatus(false);
  return running;
}

RunningServer& RunningServer::operator=(RunningServer&& other) noexcept {
  if (this != &other) {
    std::destroy_at(this);  // the destructor's order, whatever members are added
    std::construct_at(this, std::move(other));
  }
  return *this;
}

void RunningServer::Serve(ledger::Ledger& ledger) {
  this->ledger->store(&ledger);
  server->GetHealthCheckService()->SetServingStatus(true);
  health_watch = std::make_unique<HealthWatch>(*this->ledger, *server);
}

HealthWatch::HealthWatch(const std::atomic<ledger::Ledger*>& ledger, grpc::Server& server)
    : thread_([this, &ledger, &server] {
        bool serving = true;
        std::unique_lock lock(mu_);
        while (!stop_cv_.wait_for(lock, std::chrono::milliseconds(200), [&] { return stop_; })) {
          const ledger::Ledger* l = ledger.load();
          if (l == nullptr) continue;
          const absl::Status state = l->WriteState();
          if (state.ok() == serving) continue;
          serving = state.ok();
          server.GetHealthCheckService()->SetServingStatus(serving);
          if (serving) {
            spdlog::info("storage writable again: health SERVING");
          } else {
            spdlog::error("storage read-only after a failed write: health NOT_SERVING ({})",
                          std::string(state.message()));
          }
        }
      }) {}

HealthWatch::~HealthWatch() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  stop_cv_.notify_all();
  thread_.join();
}

absl::StatusOr<RunningServer> StartServer(ledger::Ledger& ledger, const ServerOptions& options) {
  auto running = StartServerStarting(options);
  if (running.ok()) running->Serve(ledger);
  return running;
}

}  // namespace services
