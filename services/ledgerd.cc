// ledgerd: the pension ledger server. Embedded RocksDB data directory, gRPC with mutual TLS.
#include <csignal>
#include <fstream>
#include <sstream>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "CLI/CLI.hpp"
#include "absl/synchronization/mutex.h"
#include "ledger/hash.h"
#include "ledger/ledger.h"
#include "services/config.h"
#include "services/services.h"
#include "spdlog/pattern_formatter.h"
#include "spdlog/spdlog.h"

namespace {

// spdlog flag %j: the log message escaped for a JSON string.
class JsonEscapedMessage final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    static constexpr char kHex[] = "0123456789abcdef";
    for (char c : std::string_view(msg.payload.data(), msg.payload.size())) {
      if (c == '"' || c == '\\') {
        dest.push_back('\\');
        dest.push_back(c);
      } else if (static_cast<unsigned char>(c) < 0x20) {
        const char escaped[] = {'\\', 'u', '0', '0', kHex[(c >> 4) & 0xf], kHex[c & 0xf]};
        dest.append(escaped, escaped + sizeof escaped);
      } else {
        dest.push_back(c);
      }
    }
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JsonEscapedMessage>();
  }
};

void UseJsonLogs() {
  auto formatter = std::make_unique<spdlog::pattern_formatter>();
  formatter->add_flag<JsonEscapedMessage>('j').set_pattern(
      R"({"time":"%Y-%m-%dT%H:%M:%S.%f%z","level":"%l","thread":%t,"msg":"%j"})");
  spdlog::set_formatter(std::move(formatter));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ledgerd: urban and rural residents' pension account ledger server"};
  // Flags override the config file, which overrides the defaults (services/config.h).
  services::LedgerdConfig flags;
  std::string config_file;
  bool print_config = false;
  app.add_option("--config", config_file, "TOML configuration file (see deploy/ledgerd.toml)");
  app.add_flag("--print-config", print_config, "print the effective configuration and exit");
  auto* o_data = app.add_option("--data-dir", flags.data_dir, "RocksDB data directory");
  auto* o_listen = app.add_option("--listen", flags.listen, "host:port for gRPC");
  auto* o_cert = app.add_option("--tls-cert", flags.tls_cert, "server certificate chain (PEM)");
  auto* o_key = app.add_option("--tls-key", flags.tls_key, "server private key (PEM)");
  auto* o_ca = app.add_option("--tls-client-ca", flags.tls_client_ca,
                              "CA that client certificates must chain to (PEM); role = their OU");
  auto* o_metrics = app.add_option("--metrics-listen", flags.metrics_listen,
                                   "host:port for Prometheus /metrics; empty disables it");
  auto* o_plain = app.add_flag("--insecure-plaintext", flags.insecure_plaintext,
                               "no TLS, loopback only, every caller has every role (development)");
  auto* o_verify = app.add_option("--verify-chain-on-start", flags.verify_chain_on_start,
                                  "re-hash the whole event log before serving");
  auto* o_log = app.add_option("--log-format", flags.log_format, "text or json");
  auto* o_ckey = app.add_option("--checkpoint-key", flags.checkpoint_key,
                                "Ed25519 private key (PEM) signing checkpoints");
  auto* o_cint = app.add_option("--checkpoint-interval", flags.checkpoint_interval_events,
                                "a signed checkpoint every this many events");
  CLI11_PARSE(app, argc, argv);

  services::LedgerdConfig config;
  if (!config_file.empty()) {
    auto loaded = services::LoadConfig(config_file, config);
    if (!loaded.ok()) {
      spdlog::critical("{}", std::string(loaded.status().message()));
      return 1;
    }
    config = *loaded;
  }
  if (o_data->count()) config.data_dir = flags.data_dir;
  if (o_listen->count()) config.listen = flags.listen;
  if (o_cert->count()) config.tls_cert = flags.tls_cert;
  if (o_key->count()) config.tls_key = flags.tls_key;
  if (o_ca->count()) config.tls_client_ca = flags.tls_client_ca;
  if (o_metrics->count()) config.metrics_listen = flags.metrics_listen;
  if (o_plain->count()) config.insecure_plaintext = flags.insecure_plaintext;
  if (o_verify->count()) config.verify_chain_on_start = flags.verify_chain_on_start;
  if (o_ckey->count()) config.checkpoint_key = flags.checkpoint_key;
  if (o_cint->count()) config.checkpoint_interval_events = flags.checkpoint_interval_events;
  if (o_log->count()) config.log_format = flags.log_format;
  if (auto st = services::ValidateConfig(config); !st.ok()) {
    spdlog::critical("configuration: {}", std::string(st.message()));
    return 1;
  }
  if (print_config) {
    std::fputs(services::ToToml(config).c_str(), stdout);
    return 0;
  }
  if (config.log_format == "json") UseJsonLogs();
  // Debian's abseil checks every absl::Mutex acquisition for lock-order cycles (gRPC takes many);
  // that is a debugging aid, measurably costly on the request path.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);

  services::ServerOptions server_options{.listen_address = config.listen,
                                         .insecure_plaintext = config.insecure_plaintext};
  if (!config.tls_cert.empty()) {
    server_options.tls = services::TlsFiles{config.tls_cert, config.tls_key, config.tls_client_ca};
  }
  const std::string& data_dir = config.data_dir;
  const bool verify_chain = config.verify_chain_on_start;
  const std::string& metrics_listen = config.metrics_listen;

  // Block the shutdown signals in every thread; one thread waits for them below.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  std::unique_ptr<services::Metrics> metrics;
  ledger::Options options{.data_dir = data_dir, .verify_chain_on_open = verify_chain};
  server_options.replay_scratch_dir = data_dir + ".replay-scratch";
  options.checkpoint_interval_events = static_cast<uint64_t>(config.checkpoint_interval_events);
  if (!config.checkpoint_key.empty()) {
    std::ifstream in(config.checkpoint_key);
    std::ostringstream pem;
    pem << in.rdbuf();
    if (!in || pem.str().empty()) {
      spdlog::critical("cannot read the checkpoint key '{}'", config.checkpoint_key);
      return 1;
    }
    options.checkpoint_key_pem = pem.str();
    spdlog::info("signing a checkpoint every {} events with {}", config.checkpoint_interval_events,
                 config.checkpoint_key);
  } else {
    spdlog::warn("no checkpoint key: checkpoints are not signed (audit.checkpoint_key)");
  }
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
  // Listen first, reporting NOT_SERVING (and answering UNAVAILABLE "starting") while the ledger
  // is opened and its log verified, which takes a while on a large ledger; then serve.
  auto server = services::StartServerStarting(server_options);
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
                 server->port, config.tls_client_ca);
  }
  spdlog::info("opening ledger data_dir={} verify_chain_on_start={} (health NOT_SERVING)",
               data_dir, verify_chain);
  auto ledger = ledger::Ledger::Open(std::move(options));
  if (!ledger.ok()) {
    spdlog::critical("cannot open ledger: {}", std::string(ledger.status().ToString()));
    server->server->Shutdown();
    return 1;
  }
  if (metrics) metrics->Watch(ledger->get());
  const ledger::ChainHead head = (*ledger)->Head();
  spdlog::info("ledger open last_sequence={} chain_head={}", head.sequence,
               ledger::HexEncode(head.hash));
  server->Serve(**ledger);
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
    server->StopHealthWatch();
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
