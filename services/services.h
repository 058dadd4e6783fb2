// gRPC front of the ledger: CollectionService, AccountService, PolicyService, and the server that
// hosts them. The mapping from ledger rejections to gRPC status codes lives here, once.
#ifndef SERVICES_SERVICES_H_
#define SERVICES_SERVICES_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/grpcpp.h"
#include "ledger/ledger.h"
#include "ledger/v1/services.grpc.pb.h"

namespace services {

// Trailing-metadata key carrying the machine-readable reason of a failed call: a
// ledger.v1.Reason name (e.g. "REASON_UNKNOWN_REGION") or a limit name ("batch_records_max").
inline constexpr char kReasonMetadataKey[] = "ledger-reason";

// Maps a business rejection to its gRPC status and attaches the reason to `context`:
// malformed input → INVALID_ARGUMENT, rule violation → FAILED_PRECONDITION,
// conflict with what is recorded → ALREADY_EXISTS.
grpc::Status RejectionStatus(grpc::ServerContext* context, const ledger::Rejection& rejection);
grpc::StatusCode ReasonCode(ledger::v1::Reason reason);

// Maps a storage / internal error from the ledger (UNAVAILABLE, RESOURCE_EXHAUSTED, DATA_LOSS …).
grpc::Status FromAbsl(const absl::Status& status);

// The identity recorded as an event's actor. Until mutual TLS lands this is the peer address,
// prefixed "unauthenticated:"; with TLS it will be the certificate subject.
std::string ActorOf(const grpc::ServerContext* context);

struct ServerOptions {
  // host:port; port 0 picks a free one (see RunningServer::port).
  std::string listen_address = "127.0.0.1:50051";
  // Largest request message accepted, in bytes. A full 10,000-record batch is about 1.5 MiB.
  int max_receive_message_bytes = 16 * 1024 * 1024;
};

struct RunningServer {
  std::unique_ptr<grpc::Service> collection;
  std::unique_ptr<grpc::Service> account;
  std::unique_ptr<grpc::Service> policy;
  std::unique_ptr<grpc::Server> server;
  int port = 0;
};

// True for 127.0.0.0/8, localhost and [::1] listen addresses.
bool IsLoopbackAddress(const std::string& listen_address);

// Builds and starts the server on `options.listen_address` (plain text: loopback only, until
// TLS). FAILED_PRECONDITION for a non-loopback address; UNAVAILABLE if the port cannot be bound.
absl::StatusOr<RunningServer> StartServer(ledger::Ledger& ledger, const ServerOptions& options);

}  // namespace services

#endif  // SERVICES_SERVICES_H_
