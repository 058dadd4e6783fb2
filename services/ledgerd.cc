// ledgerd: the pension ledger server. Embedded RocksDB data directory, gRPC with mutual TLS.
#include <csignal>
#include <cstdlib>
#include <thread>

#include "CLI/CLI.hpp"
#include "absl/synchronization/mutex.h"
#include "ledger/hash.h"
#include "ledger/ledger.h"
#include "services/services.h"
#include "spdlog/spdlog.h"

int main(int argc, char** argv) {
  CLI::App app{"ledgerd: urban and rural residents' pension account ledger server"};
  std::string data_dir = "./ledger-data";
  services::ServerOptions server_options;
  bool verify_chain = true;
  services::TlsFiles tls;
  app.add_option("--data-dir", data_dir, "RocksDB data directory (created if missing)")
      ->capture_default_str();
  app.add_option("--listen", server_options.listen_address, "host:port to listen on")
      ->capture_default_str();
  app.add_option("--tls-cert", tls.cert_file, "server certificate chain (PEM)");
  app.add_option("--tls-key", tls.key_file, "server private key (PEM)");
  app.add_option("--tls-client-ca", tls.client_ca_file,
                 "CA that client certificates must chain to (PEM); roles come from their OU");
  std::string metrics_listen = "127.0.0.1:9464";
  app.add_option("--metrics-listen", metrics_listen,
                 "host:port for Prometheus /metrics (plain HTTP); empty disables it")
      ->capture_default_str();
  app.add_flag("--insecure-plaintext", server_options.insecure_plaintext,
               "no TLS, loopback addresses only, every caller has every role (development)");
  app.add_option("--verify-chain-on-start", verify_chain,
                 "re-hash the whole event log before serving")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  // Debian's abseil checks every absl::Mutex acquisition for lock-order cycles (gRPC takes many);
  // that is a debugging aid, measurably costly on the request path.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  if (!tls.cert_file.empty() || !tls.key_file.empty() || !tls.client_ca_file.empty()) {
    if (server_options.insecure_plaintext) {
      spdlog::critical("--insecure-plaintext and --tls-* exclude each other");
      return 1;
    }
    server_options.tls = tls;
  }

  // Block the shutdown signals in every thread; one thread waits for them below.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  std::unique_ptr<services::Metrics> metrics;
  ledger::Options options{.data_dir = data_dir, .verify_chain_on_open = verify_chain};
  if (!metrics_listen.empty()) {
    auto started = services::Metrics::Start(metrics_listen);
    if (!started.ok()) {
      spdlog::critical("{}", std::string(started.status().message()));
      return 1;
    }
    metrics = std::move(*started);
    options.on_commit = [m = metrics.get()](const ledger::CommitInfo& c) { m->ObserveCommit(c); };
    server_options.metrics = metrics.get();
    spdlog::info("metrics on http://{}/metrics", metrics_listen);
  }
  spdlog::info("opening ledger data_dir={} verify_chain_on_start={}", data_dir, verify_chain);
  auto ledger = ledger::Ledger::Open(std::move(options));
  if (!ledger.ok()) {
    spdlog::critical("cannot open ledger: {}", std::string(ledger.status().ToString()));
    return 1;
  }
  if (metrics) metrics->Watch(ledger->get());
  const ledger::ChainHead head = (*ledger)->Head();
  spdlog::info("ledger open last_sequence={} chain_head={}", head.sequence,
               ledger::HexEncode(head.hash));

  auto server = services::StartServer(**ledger, server_options);
  if (!server.ok()) {
    spdlog::critical("cannot start server: {}", std::string(server.status().ToString()));
    return 1;
  }
  if (server_options.insecure_plaintext) {
    spdlog::warn(
        "PLAINTEXT gRPC on {} (port {}): loopback development only; no caller is "
        "authenticated and every caller has every role",
        server_options.listen_address, server->port);
  } else {
    spdlog::info("mutual TLS on {} (port {}): client CA {}", server_options.listen_address,
                 server->port, tls.client_ca_file);
  }
  spdlog::info("ledgerd serving; SIGINT or SIGTERM stops it");

  // First SIGINT/SIGTERM: report NOT_SERVING, stop accepting, let in-flight calls finish (up to
  // 10 s), then close the ledger, which answers queued commands and syncs. A second signal ends
  // the process at once: once the first arrives this thread takes the default dispositions and
  // unblocks both signals, and every other thread still blocks them. (Anything acknowledged is
  // already on disk; anything not yet answered was never acknowledged.)
  std::thread signal_waiter([&] {
    int received = 0;
    sigwait(&signals, &received);
    spdlog::info("signal {} received: finishing in-flight calls and stopping (again to exit now)",
                 received);
    std::signal(SIGINT, SIG_DFL);
    std::signal(SIGTERM, SIG_DFL);
    pthread_sigmask(SIG_UNBLOCK, &signals, nullptr);
    server->server->GetHealthCheckService()->SetServingStatus(false);
    server->server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(10));
  });
  server->server->Wait();
  signal_waiter.join();
  if (metrics) metrics->Watch(nullptr);
  ledger->reset();  // drains the writer and closes RocksDB (everything acknowledged is synced)
  spdlog::info("ledgerd stopped");
  return 0;
}
