// ledgerctl's client plumbing, written once: the global options, the channel they describe, and
// the one way every subcommand makes a call (a deadline on every call, one error line on failure).
//
// Exit codes: 0 success; 1 error (connection, file, rejected command); 2 a verification found
// damage or a difference (export, chain, replay); 3 an import finished but some rows were
// rejected (each is printed with its line number).
#ifndef TOOLS_LEDGERCTL_CLIENT_H_
#define TOOLS_LEDGERCTL_CLIENT_H_

#include <google/protobuf/message.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "absl/status/statusor.h"
#include "grpcpp/grpcpp.h"
#include "ledger/limits.h"
#include "ledger/v1/services.grpc.pb.h"

namespace ledgerctl {

inline constexpr int kExitError = 1;
inline constexpr int kExitVerifyFailed = 2;
inline constexpr int kExitRowsRejected = 3;

// How to reach the server: mutual TLS when --ca/--cert/--key are given, else plain text. Filled
// in by parsing; read only when a command runs.
struct Globals {
  // --server, once per node. Unary calls go to the first and move on (see CallUnary).
  std::vector<std::string> servers = {"127.0.0.1:50051"};
  // --retry-for: how long a unary call keeps resending after a retryable failure; negative:
  // 60 s with several servers, none with one.
  int retry_for_seconds = -1;
  // --min-sequence: a read is answered only by a node that has applied this sequence.
  uint64_t min_sequence = 0;
  std::string ca_file, cert_file, key_file;
};

// Whether a failed call may be resent as is: the server could not answer (UNAVAILABLE: down,
// starting, not the leader, a commit in doubt) or did not in time (DEADLINE_EXCEEDED). Every
// command carries its idempotency key (receipt number, document reference), so a resend of one
// that did commit is answered as a duplicate of the original sequence.
bool Retryable(const grpc::Status& status);

// Where a failed call says to go next: the `ledger-leader` trailer of a "not_leader" answer, or
// "" (then the next --server in turn).
std::string LeaderHint(const grpc::ClientContext& context);

// Where a call goes, and whether a failed one is resent: a Retryable failure, for up to
// --retry-for seconds from construction (default: 60 with several --server, 0 with one), to the
// leader the answer named or else the next --server in turn.
class Resender {
 public:
  // Starts at the `first`-th --server (modulo their number).
  explicit Resender(const Globals& globals, size_t first = 0);
  const std::string& server() const { return server_; }
  // The position of server() among the --server addresses, for the next call to start from.
  size_t position() const { return next_; }
  // After a failed call: false when it is not resent; else waits (100 ms doubling to 2 s), says
  // on stderr what failed and where the resend goes, and moves server() there.
  bool Resend(const grpc::Status& status, std::string leader_hint);

 private:
  const Globals& globals_;
  const std::chrono::steady_clock::time_point give_up_;
  size_t next_;
  std::string server_;
  int attempt_ = 0;
};

// Prints "error: <what>" to stderr; returns kExitError.
int Fail(const std::string& what);

// The whole file, or NOT_FOUND "cannot open <path>".
absl::StatusOr<std::string> ReadFile(const std::string& path);

// Indented JSON with the proto field names, as `--json` prints.
std::string ToJson(const google::protobuf::Message& message);

// A channel to `server` (default: the first --server) with the global options' credentials. A
// certificate file that cannot be read ends the process with exit 1.
std::shared_ptr<grpc::Channel> Connect(const Globals& globals, const std::string& server = "");

// One call's client side: the channel, and a ClientContext whose deadline is set, so a hung server
// never hangs an operator's script.
class Rpc {
 public:
  Rpc(const Globals& globals, int deadline_seconds);
  // Another call on an existing channel (an import's next stream, an export's second read).
  Rpc(std::shared_ptr<grpc::Channel> channel, int deadline_seconds);

  const std::shared_ptr<grpc::Channel>& channel() const { return channel_; }
  grpc::ClientContext* context() { return &context_; }
  template <typename Service>
  std::unique_ptr<typename Service::Stub> Stub() const {
    return Service::NewStub(channel_);
  }
  // Prints "error: rpc failed: code N: <message>" (plus " [reason=…]" when the server sent its
  // ledger-reason trailer); returns kExitError.
  int Failed(const grpc::Status& status) const;

 private:
  std::shared_ptr<grpc::Channel> channel_;
  grpc::ClientContext context_;
};

// The unary call every subcommand makes: `method` of a new stub on a channel to `target` (the
// Globals, or a channel already open), under a deadline; a failed call prints its error and
// returns kExitError, a successful one returns `then(response)`. With the Globals, a retryable
// failure is resent (Retryable) for up to --retry-for seconds: to the leader the answer names,
// else to the next --server.
template <typename Target, typename Stub, typename Request, typename Response, typename Then>
int CallUnary(const Target& target,
              grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&, Response*),
              const Request& request, Then&& then,
              int deadline_seconds = ledger::kClientUnaryDeadlineSeconds) {
  if constexpr (std::is_same_v<Target, Globals>) {
    const Globals& g = target;
    for (Resender resender(g);;) {
      Rpc rpc(Connect(g, resender.server()), deadline_seconds);
      if (g.min_sequence > 0) {
        rpc.context()->AddMetadata("ledger-min-sequence", std::to_string(g.min_sequence));
      }
      Stub stub(rpc.channel());
      Response response;
      const grpc::Status st = (stub.*method)(rpc.context(), request, &response);
      if (st.ok()) return then(response);
      if (!resender.Resend(st, LeaderHint(*rpc.context()))) return rpc.Failed(st);
    }
  } else {
    Rpc rpc(target, deadline_seconds);
    Stub stub(rpc.channel());
    Response response;
    if (grpc::Status st = (stub.*method)(rpc.context(), request, &response); !st.ok()) {
      return rpc.Failed(st);
    }
    return then(response);
  }
}

// Prints a command's `<what>: sequence=<first>..<last>` (plus ` duplicate=true` when the server
// had already recorded the same command under its reference); returns 0.
int PrintCommandResult(std::string_view what, const ledger::v1::CommandResponse& response);

// Sends one command answered by CommandResponse (the lifecycle and fund commands) and prints it.
template <typename Stub, typename Request>
int SendCommand(const Globals& globals, std::string_view what, const Request& request,
                grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&,
                                             ledger::v1::CommandResponse*)) {
  return CallUnary(globals, method, request, [what](const ledger::v1::CommandResponse& r) {
    return PrintCommandResult(what, r);
  });
}

}  // namespace ledgerctl

#endif  // TOOLS_LEDGERCTL_CLIENT_H_
