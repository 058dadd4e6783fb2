// CollectionService: the tax bureau's collections, one message (PushCollections) or a stream of
// them (StreamCollections), and its daily totals; all on the callback API with raw bytes, so that
// no gRPC thread waits on a commit and a message that does not parse is answered as such.
#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>

#include "ledger/limits.h"
#include "ledger/strings.h"
#include "ledger/v1/services.grpc.pb.h"
#include "services/call.h"
#include "services/scoped_push.h"
#include "services/service_impls.h"
#include "services/unary_call.h"

namespace services {
namespace {

using ledger::StrCat;
namespace v1 = ledger::v1;

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
        gate_(gate),
        log_(methods::kStreamCollections, gate.metrics()),
        open_streams_(open_streams),
        deadline_(std::chrono::steady_clock::now() +
                  std::chrono::seconds(ledger::kStreamDurationSecondsMax)) {
    auto admitted = gate.Authorize(context, methods::kStreamCollections, log_);
    if (!admitted.ok()) {
      Finish(log_.Done(FromAbsl(admitted.status())));
      return;
    }
    caller_ = std::move(admitted->caller);
    ledger_ = &admitted->ledger;
    min_sequence_.Start(context, *ledger_, [this](absl::Status applied) {
      if (!applied.ok()) return Finish(log_.Done(FromAbsl(applied)));
      Open();
    });
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

  // Admitted: takes a slot among the open streams and reads the first message.
  void Open() {
    if (open_streams_.fetch_add(1) >= ledger::kConcurrentStreamsMax) {
      open_streams_.fetch_sub(1);
      Finish(log_.Done(LimitExceeded(context_, grpc::StatusCode::RESOURCE_EXHAUSTED,
                                     "concurrent_streams_max",
                                     StrCat(ledger::kConcurrentStreamsMax,
                                            " collection streams are already open; retry later"))));
      return;
    }
    reading_ = true;
    StartRead(&request_bytes_);
  }

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
      grpc::Status status =
          failed_.ok() ? std::move(end_status_) : gate_.WithReason(context_, FromAbsl(failed_));
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
  const Gate& gate_;  // the service's, which outlives its calls
  CallLog log_;
  std::atomic<int>& open_streams_;  // this stream holds a slot from admission until Act(kFinish)
  const std::chrono::steady_clock::time_point deadline_;
  Caller caller_;
  ledger::Ledger* ledger_ = nullptr;
  MinSequenceWait min_sequence_;
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

using S = v1::CollectionService;

class CollectionServiceImpl final
    : public RawCallback<S::Service, S::WithRawCallbackMethod_PushCollections,
                         S::WithRawCallbackMethod_StreamCollections,
                         S::WithRawCallbackMethod_ReportDailyTotals> {
 public:
  explicit CollectionServiceImpl(Gate gate) : gate_(gate) {}

  // The tax office's control totals for a day, answered with that day's reconciliation (read on
  // a gRPC thread once the report is committed).
  grpc::ServerUnaryReactor* ReportDailyTotals(grpc::CallbackServerContext* context,
                                              const grpc::ByteBuffer* request,
                                              grpc::ByteBuffer* response) override {
    return ServeCommand<v1::ReportDailyTotalsRequest, v1::ReportDailyTotalsResponse>(
        gate_, methods::kReportDailyTotals, context, request, response,
        [context](Gate::Admitted& call, CallLog&, v1::ReportDailyTotalsRequest& r,
                  std::function<void()> on_ready) {
          v1::AccountCommand command;
          *command.mutable_report_daily_totals() = r;  // the answer reads `r` again
          return SubmitAccountCommand(context, call, std::move(command), std::move(on_ready));
        },
        [context](Gate::Admitted& call, const v1::ReportDailyTotalsRequest& r,
                  ledger::PendingCommand& pending,
                  v1::ReportDailyTotalsResponse* answer) -> grpc::Status {
          if (grpc::Status st = AccountCommandAnswer(context, pending, answer->mutable_result());
              !st.ok()) {
            return st;
          }
          auto day = call.ledger.ReconcileTaxDay(r.region_code(), r.collection_date(),
                                                 r.tax_office());
          if (!day.ok()) return FromAbsl(day.status());
          if (*day) *answer->mutable_reconciliation() = std::move(**day);
          return grpc::Status::OK;
        },
        AnswerOn::kGrpcThread);
  }

  // The records go to the writer at once and are answered from the writer's thread once decided
  // (with 64 callers, 64 threads blocked on commits made the tail latency).
  grpc::ServerUnaryReactor* PushCollections(grpc::CallbackServerContext* context,
                                            const grpc::ByteBuffer* request,
                                            grpc::ByteBuffer* response) override {
    return ServeCommand<v1::PushCollectionsRequest, v1::PushCollectionsResponse>(
        gate_, methods::kPushCollections, context, request, response,
        [context](Gate::Admitted& call, CallLog& log, v1::PushCollectionsRequest& r,
                  std::function<void()> on_ready) -> Submitted<ScopedPush> {
          log.set_records(r.records_size());
          if (static_cast<size_t>(r.records_size()) > ledger::kBatchRecordsMax) {
            return LimitExceeded(context, grpc::StatusCode::RESOURCE_EXHAUSTED,
                                 "batch_records_max",
                                 StrCat(r.records_size(), " records in one request; at most ",
                                        ledger::kBatchRecordsMax));
          }
          // The call lives until it is answered, after the push is decided: the records are lent.
          std::shared_ptr<const ledger::Ledger::Records> records(std::shared_ptr<void>(),
                                                                  &r.records());
          return ScopedPush::Submit(call.ledger, call.caller, std::move(records),
                                    std::move(on_ready));
        },
        [](Gate::Admitted&, const v1::PushCollectionsRequest&, ScopedPush& push,
           v1::PushCollectionsResponse* answer) -> grpc::Status {
          auto outcomes = push.Wait();
          if (!outcomes.ok()) return FromAbsl(outcomes.status());
          Count(*outcomes, 0, answer);
          return grpc::Status::OK;
        });
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

}  // namespace

std::unique_ptr<grpc::Service> NewCollectionService(Gate gate) {
  return std::make_unique<CollectionServiceImpl>(gate);
}

}  // namespace services
