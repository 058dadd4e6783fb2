// gRPC front of the ledger: the server that hosts its services (Collection, Account, Fund, Policy,
// Audit, Admin; each in its own <name>_service.cc), with mutual TLS and the health check. How a
// call is gated, logged and answered is services/call.h; who may call what, services/methods.h.
#ifndef SERVICES_SERVICES_H_
#define SERVICES_SERVICES_H_

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "grpcpp/grpcpp.h"
#include "ledger/ledger.h"
#include "ledger/v1/services.grpc.pb.h"
#include "services/auth.h"
#include "services/health_client.h"
#include "services/health_service.h"
#include "services/metrics.h"

namespace services {

// Trailing-metadata key carrying the machine-readable reason of a failed call: a
// ledger.v1.Reason name (e.g. "REASON_UNKNOWN_REGION"), a limit name ("batch_records_max"), or
// "malformed_message" (a stream message that does not parse).
inline constexpr char kReasonMetadataKey[] = "ledger-reason";

struct TlsFiles {
  std::string cert_file;       // server certificate chain (PEM)
  std::string key_file;        // its private key (PEM)
  std::string client_ca_file;  // CA(s) client certificates must chain to (PEM)
};

struct ServerOptions {
  // host:port; port 0 picks a free one (see RunningServer::port).
  std::string listen_address = "127.0.0.1:50051";
  // Mutual TLS: required unless `insecure_plaintext`.
  std::optional<TlsFiles> tls;
  // Plain text, for loopback development only: every caller has every role.
  bool insecure_plaintext = false;
  // Under Patroni: the leader's ledgerd address ("" unknown), sent with a write refused
  // "not_leader" (trailing metadata ledger-leader). Empty: no hints.
  std::function<std::string()> leader_hint;
  // Where to count calls (ledger_rpc_*); nullptr: nowhere. Must outlive the server.
  Metrics* metrics = nullptr;
  // Scratch directory AuditService.ReplayCompare rebuilds the projections into (replaced and
  // removed by each comparison). Empty: a fresh name in the temp directory.
  std::string replay_scratch_dir;
};

// Keeps grpc.health.v1 in step with the ledger's storage: NOT_SERVING while it is read-only
// after a failed write (Ledger::WriteState), SERVING again once a commit resumes it.
class HealthWatch {
 public:
  HealthWatch(const std::atomic<ledger::Ledger*>& ledger, HealthService& health);
  ~HealthWatch();  // stops watching
  HealthWatch(const HealthWatch&) = delete;
  HealthWatch& operator=(const HealthWatch&) = delete;

 private:
  std::mutex mu_;
  std::condition_variable stop_cv_;
  bool stop_ = false;
  std::thread thread_;
};

struct RunningServer {
  RunningServer() = default;
  RunningServer(RunningServer&&) = default;
  // Tears down in the destructor's order (the health watch first, the ledger pointer the watch
  // and the services read last), then moves `other` in: the defaulted one would free that
  // pointer first.
  RunningServer& operator=(RunningServer&& other) noexcept;
  ~RunningServer() = default;

  // Serves `ledger` from now on and reports SERVING (and NOT_SERVING while its storage is
  // read-only, see HealthWatch). `ledger` must outlive this, or StopHealthWatch() first.
  void Serve(ledger::Ledger& ledger);
  // Stops following the ledger's storage state; health stays as it is. Before Shutdown.
  void StopHealthWatch() { health_watch.reset(); }

  // The ledger the services use; null while starting (calls get UNAVAILABLE, reason "starting").
  std::unique_ptr<std::atomic<ledger::Ledger*>> ledger;
  std::unique_ptr<Authorizer> authorizer;
  std::unique_ptr<grpc::Service> collection;
  std::unique_ptr<grpc::Service> account;
  std::unique_ptr<grpc::Service> policy;
  std::unique_ptr<grpc::Service> admin;
  std::unique_ptr<grpc::Service> fund;
  std::unique_ptr<grpc::Service> audit;
  std::unique_ptr<HealthService> health;  // grpc.health.v1; outlives the server that calls it
  std::unique_ptr<grpc::Server> server;
  int port = 0;
  std::unique_ptr<HealthWatch> health_watch;  // last: stopped first
};

// True for 127.0.0.0/8, localhost and [::1] listen addresses.
bool IsLoopbackAddress(const std::string& listen_address);

// Besides the ledger's services the server offers grpc.health.v1 (SERVING once started;
// ledgerd sets NOT_SERVING when it begins to stop) and server reflection, both open to any
// connected caller: they reveal the schema and the serving state, no ledger data.
//
// Builds and starts the server on `options.listen_address`: mutual TLS, or plain text on a
// loopback address only. FAILED_PRECONDITION for plain text elsewhere or for neither;
// INVALID_ARGUMENT if a TLS file cannot be read; UNAVAILABLE if the port cannot be bound.
absl::StatusOr<RunningServer> StartServer(ledger::Ledger& ledger, const ServerOptions& options);

// The same, but listening before the ledger is open: health NOT_SERVING, every ledger call
// UNAVAILABLE (reason "starting") until RunningServer::Serve.
absl::StatusOr<RunningServer> StartServerStarting(const ServerOptions& options);

}  // namespace services

#endif  // SERVICES_SERVICES_H_
