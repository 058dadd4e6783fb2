// ledgerctl's client plumbing, written once: the global options, the channel they describe, and
// the one way every subcommand makes a call (a deadline on every call, one error line on failure).
//
// Exit codes: 0 success; 1 error (connection, file, rejected command); 2 a verification found
// damage or a difference (export, chain, replay); 3 an import finished but some rows were
// rejected (each is printed with its line number).
#ifndef TOOLS_LEDGERCTL_CLIENT_H_
#define TOOLS_LEDGERCTL_CLIENT_H_

#include <google/protobuf/message.h>

#include <cstdio>
#include <memory>
#include <string>
#include <string_view>

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
  std::string server = "127.0.0.1:50051";
  std::string ca_file, cert_file, key_file;
};

// Prints "error: <what>" to stderr; returns kExitError.
int Fail(const std::string& what);

// The whole file, or NOT_FOUND "cannot open <path>".
absl::StatusOr<std::string> ReadFile(const std::string& path);

// Indented JSON with the proto field names, as `--json` prints.
std::string ToJson(const google::protobuf::Message& message);

// A channel to the server the global options name. A certificate file that cannot be read ends
// the process with exit 1.
std::shared_ptr<grpc::Channel> Connect(const Globals& globals);

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
// returns kExitError, a successful one returns `then(response)`.
template <typename Target, typename Stub, typename Request, typename Response, typename Then>
int CallUnary(const Target& target,
              grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&, Response*),
              const Request& request, Then&& then,
              int deadline_seconds = ledger::kClientUnaryDeadlineSeconds) {
  Rpc rpc(target, deadline_seconds);
  Stub stub(rpc.channel());
  Response response;
  if (grpc::Status st = (stub.*method)(rpc.context(), request, &response); !st.ok()) {
    return rpc.Failed(st);
  }
  return then(response);
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
