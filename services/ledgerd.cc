// ledgerd: the pension ledger server. Embedded RocksDB data directory, gRPC with mutual TLS.
#include <csignal>
#include <fstream>
#include <sstream>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <thread>

#include "CLI/CLI.hpp"
#include "absl/synchronization/mutex.h"
#include "ledger/hash.h"
#include "ledger/ledger.h"
#include "services/config.h"
#include "services/patroni.h"
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

// The setting flags, each overriding the config file's value when given.
struct SettingFlags {
  services::LedgerdConfig values;
  CLI::Option* data_dir = nullptr;
  CLI::Option* listen = nullptr;
  CLI::Option* cert = nullptr;
  CLI::Option* key = nullptr;
  CLI::Option* client_ca = nullptr;
  CLI::Option* metrics = nullptr;
  CLI::Option* plaintext = nullptr;
  CLI::Option* verify = nullptr;
  CLI::Option* log_format = nullptr;
  CLI::Option* checkpoint_key = nullptr;
  CLI::Option* checkpoint_interval = nullptr;
  CLI::Option* log_backend = nullptr;
  CLI::Option* postgres_conninfo = nullptr;
  CLI::Option* patroni_url = nullptr;
  CLI::Option* ha_peers = nullptr;
};

void AddSettingFlags(CLI::App& app, SettingFlags& f) {
  services::LedgerdConfig& v = f.values;
  f.data_dir = app.add_option("--data-dir", v.data_dir, "RocksDB data directory");
  f.listen = app.add_option("--listen", v.listen, "host:port for gRPC");
  f.cert = app.add_option("--tls-cert", v.tls_cert, "server certificate chain (PEM)");
  f.key = app.add_option("--tls-key", v.tls_key, "server private key (PEM)");
  f.client_ca = app.add_option("--tls-client-ca", v.tls_client_ca,
                               "CA that client certificates must chain to (PEM); role = their OU");
  f.metrics = app.add_option("--metrics-listen", v.metrics_listen,
                             "host:port for Prometheus /metrics; empty disables it");
  f.plaintext = app.add_flag("--insecure-plaintext", v.insecure_plaintext,
                             "no TLS, loopback only, every caller has every role (development)");
  f.verify = app.add_option("--verify-chain-on-start", v.verify_chain_on_start,
                            "re-hash the whole event log before serving");
  f.log_format = app.add_option("--log-format", v.log_format, "text or json");
  f.checkpoint_key = app.add_option("--checkpoint-key", v.checkpoint_key,
                                    "Ed25519 private key (PEM) signing checkpoints");
  f.checkpoint_interval = app.add_option("--checkpoint-interval", v.checkpoint_interval_events,
                                         "a signed checkpoint every this many events");
  f.log_backend = app.add_option("--log-backend", v.log_backend,
                                 "where the event log is kept: rocksdb or postgres");
  f.postgres_conninfo = app.add_option("--postgres-conninfo", v.postgres_conninfo,
                                       "libpq conninfo of the PostgreSQL log (log backend postgres)");
  f.patroni_url = app.add_option("--patroni-url", v.patroni_url,
                                 "this node's Patroni REST API (http://host:port): write only while "
                                 "it names this node's PostgreSQL the primary");
  f.ha_peers = app.add_option("--ha-peers", v.ha_peers,
                              "leader hints: Patroni member name=ledgerd host:port, comma-separated");
}

void ApplySettingFlags(const SettingFlags& f, services::LedgerdConfig& config) {
  const services::LedgerdConfig& v = f.values;
  if (f.data_dir->count()) config.data_dir = v.data_dir;
  if (f.listen->count()) config.listen = v.listen;
  if (f.cert->count()) config.tls_cert = v.tls_cert;
  if (f.key->count()) config.tls_key = v.tls_key;
  if (f.client_ca->count()) config.tls_client_ca = v.tls_client_ca;
  if (f.metrics->count()) config.metrics_listen = v.metrics_listen;
  if (f.plaintext->count()) config.insecure_plaintext = v.insecure_plaintext;
  if (f.verify->count()) config.verify_chain_on_start = v.verify_chain_on_start;
  if (f.checkpoint_key->count()) config.checkpoint_key = v.checkpoint_key;
  if (f.checkpoint_interval->count()) {
    config.checkpoint_interval_events = v.checkpoint_interval_events;
  }
  if (f.log_format->count()) config.log_format = v.log_format;
  if (f.log_backend->count()) config.log_backend = v.log_backend;
  if (f.postgres_conninfo->count()) config.postgres_conninfo = v.postgres_conninfo;
  if (f.patroni_url->count()) config.patroni_url = v.patroni_url;
  if (f.ha_peers->count()) config.ha_peers = v.ha_peers;
}

// Under Patroni: the watch the writer asks before every group, and the leader hint a refused
// write carries. Null (and true) without Patroni.
bool WatchPatroni(const services::LedgerdConfig& config, ledger::Options& options,
                  services::ServerOptions& server_options,
                  std::unique_ptr<services::PatroniWatch>& watch) {
  if (config.patroni_url.empty()) return true;
  auto started = services::PatroniWatch::Start(
      {.url = config.patroni_url, .peers = *services::ParsePeers(config.ha_peers)});
  if (!started.ok()) {
    spdlog::critical("{}", std::string(started.status().message()));
    return false;
  }
  watch = std::move(*started);
  options.postgres_is_primary = [w = watch.get()] { return w->IsPrimary(); };
  server_options.leader_hint = [w = watch.get()] { return w->LeaderHint(); };
  spdlog::info("writes follow Patroni at {}: served only while it names this node primary",
               config.patroni_url);
  return true;
}

// The effective configuration: the defaults, overridden by the config file, overridden by the
// flags (services/config.h). None if ledgerd is to exit now, with `exit_code` (--help,
// --print-config, a bad flag or configuration).
std::optional<services::LedgerdConfig> Configure(int argc, char** argv, int& exit_code) {
  CLI::App app{"ledgerd: urban and rural residents' pension account ledger server"};
  SettingFlags flags;
  std::string config_file;
  bool print_config = false;
  app.add_option("--config", config_file, "TOML configuration file (see deploy/ledgerd.toml)");
  app.add_flag("--print-config", print_config, "print the effective configuration and exit");
  AddSettingFlags(app, flags);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    exit_code = app.exit(e);
    return std::nullopt;
  }
  services::LedgerdConfig config;
  exit_code = 1;
  if (!config_file.empty()) {
    auto loaded = services::LoadConfig(config_file, config);
    if (!loaded.ok()) {
      spdlog::critical("{}", std::string(loaded.status().message()));
      return std::nullopt;
    }
    config = *loaded;
  }
  ApplySettingFlags(flags, config);
  if (auto st = services::ValidateConfig(config); !st.ok()) {
    spdlog::critical("configuration: {}", std::string(st.message()));
    return std::nullopt;
  }
  if (print_config) {
    std::fputs(services::ToToml(config).c_str(), stdout);
    exit_code = 0;
    return std::nullopt;
  }
  return config;
}

// Reads the checkpoint signing key into `options` (or warns that checkpoints go unsigned).
bool UseCheckpointKey(const services::LedgerdConfig& config, ledger::Options& options) {
  options.checkpoint_interval_events = static_cast<uint64_t>(config.checkpoint_interval_events);
  if (config.checkpoint_key.empty()) {
    spdlog::warn("no checkpoint key: checkpoints are not signed (audit.checkpoint_key)");
    return true;
  }
  std::ifstream in(config.checkpoint_key);
  std::ostringstream pem;
  pem << in.rdbuf();
  if (!in || pem.str().empty()) {
    spdlog::critical("cannot read the checkpoint key '{}'", config.checkpoint_key);
    return false;
  }
  options.checkpoint_key_pem = pem.str();
  spdlog::info("signing a checkpoint every {} events with {}", config.checkpoint_interval_events,
               config.checkpoint_key);
  return true;
}

void LogListening(const services::ServerOptions& server_options, int port,
                  const std::string& client_ca) {
  if (server_options.insecure_plaintext) {
    spdlog::warn(
        "PLAINTEXT gRPC on {} (port {}): loopback development only; no caller is "
        "authenticated and every caller has every role",
        server_options.listen_address, port);
  } else {
    spdlog::info("mutual TLS on {} (port {}): client CA {}", server_options.listen_address, port,
                 client_ca);
  }
}

// Blocks SIGINT and SIGTERM in this thread and every thread it starts from now on; one thread
// waits for them (StopOnSignal). Returns the set.
sigset_t BlockShutdownSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return signals;
}

// First SIGINT/SIGTERM: report NOT_SERVING, stop accepting, let in-flight calls finish (up to
// 10 s); the caller then closes the ledger, which answers queued commands and syncs. A second
// signal ends the process at once: once the first arrives this thread takes the default
// dispositions and unblocks both signals, and every other thread still blocks them. (Anything
// acknowledged is already on disk; anything not yet answered was never acknowledged.)
std::thread StopOnSignal(const sigset_t& signals, services::RunningServer& server) {
  return std::thread([&signals, &server] {
    int received = 0;
    sigwait(&signals, &received);
    spdlog::info("signal {} received: finishing in-flight calls and stopping (again to exit now)",
                 received);
    std::signal(SIGINT, SIG_DFL);
    std::signal(SIGTERM, SIG_DFL);
    pthread_sigmask(SIG_UNBLOCK, &signals, nullptr);
    server.StopHealthWatch();
    server.health->SetServing(false);
    server.server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(10));
  });
}

}  // namespace

int main(int argc, char** argv) {
  int exit_code = 0;
  const std::optional<services::LedgerdConfig> configured = Configure(argc, argv, exit_code);
  if (!configured) return exit_code;
  const services::LedgerdConfig& config = *configured;
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

  const sigset_t signals = BlockShutdownSignals();

  std::unique_ptr<services::Metrics> metrics;
  ledger::Options options{.data_dir = data_dir, .verify_chain_on_open = verify_chain};
  if (config.log_backend == "postgres") {
    options.log_backend = ledger::LogBackend::kPostgres;
    options.postgres_conninfo = config.postgres_conninfo;
    options.postgres_ledger_id = config.postgres_ledger_id;
    options.postgres_commit_deadline_ms = static_cast<int>(config.commit_deadline_ms);
  }
  server_options.replay_scratch_dir = data_dir + ".replay-scratch";
  if (!UseCheckpointKey(config, options)) return 1;
  std::unique_ptr<services::PatroniWatch> patroni;  // outlives the ledger and the server
  if (!WatchPatroni(config, options, server_options, patroni)) return 1;
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
  LogListening(server_options, server->port, config.tls_client_ca);
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

  std::thread signal_waiter = StopOnSignal(signals, *server);
  server->server->Wait();
  signal_waiter.join();
  if (metrics) metrics->Watch(nullptr);
  ledger->reset();  // drains the writer and closes RocksDB (everything acknowledged is synced)
  spdlog::info("ledgerd stopped");
  return 0;
}
