// The server: its credentials (mutual TLS, or plain text on loopback), building and starting it
// with every service, the switch from "starting" to serving a ledger, and the health watch.
#include <arpa/inet.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <string_view>

#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "ledger/limits.h"
#include "ledger/strings.h"
#include "services/call.h"
#include "services/service_impls.h"
#include "services/services.h"
#include "spdlog/spdlog.h"

namespace services {
namespace {

using ledger::StrCat;

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
  const Gate gate(*running.ledger, *running.authorizer, options.metrics, options.leader_hint);
  running.collection = NewCollectionService(gate);
  running.account = NewAccountService(gate);
  running.policy = NewPolicyService(gate);
  running.admin = NewAdminService(gate);
  running.fund = NewFundService(gate);
  running.audit = NewAuditService(gate, options.replay_scratch_dir);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen_address, *credentials, &running.port);
  builder.SetMaxReceiveMessageSize(ledger::kReceiveMessageBytesMax);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, ledger::kStreamsPerConnectionMax);
  // gRPC enables SO_REUSEPORT by default: a second ledgerd on the same port would then split
  // clients between two different ledgers. Binding a port in use must fail instead.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  // Every unary method is on the callback API (services/unary_call.h); the synchronous API's
  // threads serve only the server streams (RunJob, StreamEvents), health and reflection, so its
  // default pollers suffice.
  builder.RegisterService(running.collection.get());
  builder.RegisterService(running.account.get());
  builder.RegisterService(running.policy.get());
  builder.RegisterService(running.admin.get());
  builder.RegisterService(running.fund.get());
  builder.RegisterService(running.audit.get());
  running.health = std::make_unique<HealthService>();  // NOT_SERVING until Serve()
  builder.RegisterService(running.health.get());
  running.server = builder.BuildAndStart();
  if (!running.server || running.port == 0) {
    return absl::UnavailableError(StrCat("cannot listen on ", options.listen_address));
  }
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
  health->SetServing(true);
  health_watch = std::make_unique<HealthWatch>(*this->ledger, *health);
}

HealthWatch::HealthWatch(const std::atomic<ledger::Ledger*>& ledger, HealthService& health)
    : thread_([this, &ledger, &health] {
        bool serving = true;
        std::unique_lock lock(mu_);
        while (!stop_cv_.wait_for(lock, std::chrono::milliseconds(200), [&] { return stop_; })) {
          const ledger::Ledger* l = ledger.load();
          if (l == nullptr) continue;
          const absl::Status state = l->WriteState();
          if (state.ok() == serving) continue;
          serving = state.ok();
          health.SetServing(serving);
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
