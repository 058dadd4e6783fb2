// One unary call of any service, written once, on gRPC's callback API with the request and the
// answer as raw bytes. Internal to services/.
//
// Every unary method goes through the same steps, in order: the Gate authorizes the caller (its
// role for the method, then the ledger, absent while ledgerd is still opening it); the request is
// parsed here, so that one that does not parse is INVALID_ARGUMENT "malformed_message" whatever
// the method (gRPC's own parsing answers INTERNAL or UNIMPLEMENTED); the call's
// ledger-min-sequence is awaited on a gRPC alarm, not a sleeping thread (MinSequenceWait); then
// the method's body, in one of three ways:
//   ServeRead     a short read, on the callback thread, answered at once;
//   ServeCommand  a command handed to the writer and answered once the writer has decided it,
//                 from its on_ready notification: no gRPC thread waits on a commit;
//   ServeLong     a call that may take seconds (a scan of the log, a replay, a backup) on a
//                 thread of its own, as the synchronous API would, so that it holds none of
//                 gRPC's few callback threads.
// Each call ends with one CallLog line and its metrics, and `not_leader` / `commit_in_doubt`
// reasons on its trailers (Gate::WithReason).
#ifndef SERVICES_UNARY_CALL_H_
#define SERVICES_UNARY_CALL_H_

#include <atomic>
#include <chrono>
#include <functional>
#include <optional>
#include <thread>
#include <utility>
#include <variant>

#include "grpcpp/alarm.h"
#include "grpcpp/grpcpp.h"
#include "ledger/ledger.h"
#include "ledger/strings.h"
#include "services/call.h"

namespace services {

// A generated service base with the listed methods on the raw callback API:
// RawCallback<S::Service, S::WithRawCallbackMethod_A, S::WithRawCallbackMethod_B> is
// S::WithRawCallbackMethod_A<S::WithRawCallbackMethod_B<S::Service>>.
template <typename Base, template <typename> class... Raw>
struct RawCallbackOf;
template <typename Base>
struct RawCallbackOf<Base> {
  using type = Base;
};
template <typename Base, template <typename> class First, template <typename> class... Rest>
struct RawCallbackOf<Base, First, Rest...> {
  using type = First<typename RawCallbackOf<Base, Rest...>::type>;
};
template <typename Base, template <typename> class... Raw>
using RawCallback = typename RawCallbackOf<Base, Raw...>::type;

// The steps every unary call shares; Run() is the method's body and ends in Answer().
template <typename Request, typename Response>
class UnaryCall : public grpc::ServerUnaryReactor {
 public:
  void OnDone() override { delete this; }
  // The reactions (OnDone above, OnCancel: none) are trivial, so gRPC may run them where the call
  // ends instead of handing each call's OnDone to its executor thread: that hop was a futex wake
  // and a context switch per call, half the futex calls of the read benchmark.
  bool InternalInlineable() override { return true; }

 protected:
  UnaryCall(grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
            grpc::ByteBuffer* response, const Gate& gate, const Method& method)
      : context_(context),
        request_bytes_(request),
        response_bytes_(response),
        gate_(gate),
        method_(method),
        log_(method, gate.metrics()) {}

  // Admits, parses, waits for the min sequence, then Run(). Called once, after construction.
  void Start() {
    auto admitted = gate_.Authorize(context_, method_, log_);
    if (!admitted.ok()) return Finish(log_.Done(FromAbsl(admitted.status())));
    admitted_.emplace(std::move(*admitted));
    grpc::ByteBuffer bytes(*request_bytes_);  // the parser takes a mutable buffer; no data copied
    if (!grpc::SerializationTraits<Request>::Deserialize(&bytes, &request_).ok()) {
      return Finish(log_.Done(
          LimitExceeded(context_, grpc::StatusCode::INVALID_ARGUMENT, "malformed_message",
                        ledger::StrCat("the request is not a valid ", Request::descriptor()->name(),
                                       " (is every text field UTF-8?); nothing was applied"))));
    }
    min_sequence_.Start(context_, admitted_->ledger, [this](absl::Status applied) {
      if (!applied.ok()) return Finish(log_.Done(FromAbsl(applied)));
      Run();
    });
  }

  virtual void Run() = 0;

  // Ends the call with `status` and, when it is OK, `response_`. The last thing done with it.
  void Answer(grpc::Status status) {
    status = gate_.WithReason(context_, std::move(status));
    if (status.ok()) {
      bool own_buffer = false;
      status =
          grpc::SerializationTraits<Response>::Serialize(response_, response_bytes_, &own_buffer);
    }
    Finish(log_.Done(std::move(status)));
  }

  grpc::CallbackServerContext* const context_;
  const grpc::ByteBuffer* const request_bytes_;
  grpc::ByteBuffer* const response_bytes_;
  const Gate& gate_;  // the service's, which outlives its calls
  const Method& method_;
  CallLog log_;
  std::optional<Gate::Admitted> admitted_;
  MinSequenceWait min_sequence_;
  Request request_;
  Response response_;
};

// A read (or a check): `body(admitted, request, response)` returns the answer's status; it runs
// on the callback thread, or on a thread of its own (started per call, as the synchronous API
// does) for one that may take seconds.
template <typename Request, typename Response, typename Body>
class ReadCall final : public UnaryCall<Request, Response> {
 public:
  static ReadCall* New(grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
                       grpc::ByteBuffer* response, const Gate& gate, const Method& method,
                       Body body, bool own_thread) {
    auto* call =
        new ReadCall(context, request, response, gate, method, std::move(body), own_thread);
    call->Start();
    return call;
  }

 private:
  ReadCall(grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
           grpc::ByteBuffer* response, const Gate& gate, const Method& method, Body body,
           bool own_thread)
      : UnaryCall<Request, Response>(context, request, response, gate, method),
        body_(std::move(body)),
        own_thread_(own_thread) {}

  void Run() override {
    if (!own_thread_) return Respond();
    std::thread([this] { Respond(); }).detach();  // answering is its last touch of the call
  }

  void Respond() { this->Answer(body_(*this->admitted_, this->request_, &this->response_)); }

  Body body_;
  const bool own_thread_;
};

template <typename Request, typename Response, typename Body>
grpc::ServerUnaryReactor* ServeRead(const Gate& gate, const Method& method,
                                    grpc::CallbackServerContext* context,
                                    const grpc::ByteBuffer* request, grpc::ByteBuffer* response,
                                    Body body) {
  return ReadCall<Request, Response, Body>::New(context, request, response, gate, method,
                                                std::move(body), /*own_thread=*/false);
}

template <typename Request, typename Response, typename Body>
grpc::ServerUnaryReactor* ServeLong(const Gate& gate, const Method& method,
                                    grpc::CallbackServerContext* context,
                                    const grpc::ByteBuffer* request, grpc::ByteBuffer* response,
                                    Body body) {
  return ReadCall<Request, Response, Body>::New(context, request, response, gate, method,
                                                std::move(body), /*own_thread=*/true);
}

// Where a command's `answer` runs.
enum class AnswerOn {
  kReady,       // where the command became ready: the writer's thread, mostly; must be quick
  kGrpcThread,  // a gRPC callback thread: for an answer that reads the ledger
};

// A command: `submit(admitted, log, request, on_ready)` refuses the call or hands the command to
// the writer, which calls `on_ready` once it has decided it; then `answer(admitted, request,
// pending, response)` returns the answer's status.
template <typename Request, typename Response, typename Pending, typename Submit, typename Answer>
class CommandCall final : public UnaryCall<Request, Response> {
 public:
  static CommandCall* New(grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
                          grpc::ByteBuffer* response, const Gate& gate, const Method& method,
                          Submit submit, Answer answer, AnswerOn answer_on) {
    auto* call = new CommandCall(context, request, response, gate, method, std::move(submit),
                                 std::move(answer), answer_on);
    call->Start();
    return call;
  }

 private:
  CommandCall(grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
              grpc::ByteBuffer* response, const Gate& gate, const Method& method, Submit submit,
              Answer answer, AnswerOn answer_on)
      : UnaryCall<Request, Response>(context, request, response, gate, method),
        submit_(std::move(submit)),
        answer_(std::move(answer)),
        answer_on_(answer_on) {}

  void Run() override {
    Submitted<Pending> submitted =
        submit_(*this->admitted_, this->log_, this->request_, [this] { Arrive(); });
    if (auto* refused = std::get_if<grpc::Status>(&submitted)) {
      return this->Answer(std::move(*refused));
    }
    pending_.emplace(std::move(std::get<Pending>(submitted)));
    Arrive();
  }

  // Called once the command is submitted (Run) and once it is decided (on_ready), in either
  // order: the second one answers.
  void Arrive() {
    if (arrivals_.fetch_add(1) == 0) return;
    if (answer_on_ == AnswerOn::kReady) return AnswerNow();
    hop_.emplace();
    hop_->Set(std::chrono::system_clock::now(), [this](bool) { AnswerNow(); });
  }

  void AnswerNow() {
    this->Answer(answer_(*this->admitted_, this->request_, *pending_, &this->response_));
  }

  Submit submit_;
  Answer answer_;
  const AnswerOn answer_on_;
  std::optional<Pending> pending_;
  std::atomic<int> arrivals_{0};
  std::optional<grpc::Alarm> hop_;  // AnswerOn::kGrpcThread: fires at once, on a gRPC thread
};

template <typename Request, typename Response, typename Submit, typename Answer>
grpc::ServerUnaryReactor* ServeCommand(const Gate& gate, const Method& method,
                                       grpc::CallbackServerContext* context,
                                       const grpc::ByteBuffer* request, grpc::ByteBuffer* response,
                                       Submit submit, Answer answer,
                                       AnswerOn answer_on = AnswerOn::kReady) {
  using Pending = std::variant_alternative_t<
      1, std::invoke_result_t<Submit&, Gate::Admitted&, CallLog&, Request&, std::function<void()>>>;
  return CommandCall<Request, Response, Pending, Submit, Answer>::New(
      context, request, response, gate, method, std::move(submit), std::move(answer), answer_on);
}

// A lifecycle or fund command (ledger.v1.AccountCommand, see SubmitAccountCommand):
// `into(request, command)` moves the request into the command's field.
template <typename Request, typename Into>
grpc::ServerUnaryReactor* ServeAccountCommand(const Gate& gate, const Method& method,
                                              grpc::CallbackServerContext* context,
                                              const grpc::ByteBuffer* request,
                                              grpc::ByteBuffer* response, Into into) {
  return ServeCommand<Request, ledger::v1::CommandResponse>(
      gate, method, context, request, response,
      [context, into](Gate::Admitted& call, CallLog&, Request& parsed,
                      std::function<void()> on_ready) {
        ledger::v1::AccountCommand command;
        into(parsed, command);
        return SubmitAccountCommand(context, call, std::move(command), std::move(on_ready));
      },
      [context](Gate::Admitted&, const Request&, ledger::PendingCommand& pending,
                ledger::v1::CommandResponse* answer) {
        return AccountCommandAnswer(context, pending, answer);
      });
}

// The handler of a service method that is one lifecycle or fund command: `Method` (its request
// type is ledger.v1.<Method>Request, its entry methods::k<Method>) goes into AccountCommand's
// `field`. For use inside a service class with a `gate_` member.
#define LEDGER_COMMAND_METHOD(Method, field)                                                    \
  grpc::ServerUnaryReactor* Method(grpc::CallbackServerContext* context,                        \
                                   const grpc::ByteBuffer* request, grpc::ByteBuffer* response) \
      override {                                                                                \
    return ServeAccountCommand<ledger::v1::Method##Request>(                                    \
        gate_, methods::k##Method, context, request, response,                                  \
        [](ledger::v1::Method##Request& r, ledger::v1::AccountCommand& command) {               \
          command.mutable_##field()->Swap(&r);                                                  \
        });                                                                                     \
  }

}  // namespace services

#endif  // SERVICES_UNARY_CALL_H_
