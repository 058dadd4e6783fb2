// ledgerd's configuration: one TOML file, then command-line flags that override it.
//
//   data_dir = "./ledger-data"          # RocksDB data directory
//   verify_chain_on_start = true        # re-hash the whole log before serving
//   log_format = "text"                 # text | json (one JSON object per line)
//   [server]
//   listen = "127.0.0.1:50051"          # host:port for gRPC
//   insecure_plaintext = false          # no TLS; loopback only; every caller has every role
//   [tls]
//   cert = ""                           # server certificate chain (PEM)
//   key = ""                            # server private key (PEM)
//   client_ca = ""                      # CA client certificates must chain to (PEM)
//   [metrics]
//   listen = "127.0.0.1:9464"           # Prometheus /metrics; "" disables it
//   [audit]
//   checkpoint_key = ""                 # Ed25519 private key (PEM) signing checkpoints; "" = none
//   checkpoint_interval_events = 10000  # a signed checkpoint every this many events
//   [log]
//   backend = "rocksdb"                 # rocksdb (the data directory's own log) | postgres
//   postgres_conninfo = ""              # libpq conninfo of the PostgreSQL log (postgres)
//   postgres_ledger_id = "ledger"       # this ledger's id in the shared PostgreSQL tables
//   commit_deadline_ms = 5000           # a COMMIT not acknowledged by then is in doubt
//   [ha]                                # log.backend = postgres under Patroni (deploy/ha/)
//   patroni_url = ""                    # this node's Patroni REST API, e.g. http://127.0.0.1:8008;
//                                       # "" = this node always writes (no Patroni)
//   peers = ""                          # leader hints: "pg1=host:port,pg2=…" (member → ledgerd)
//
// An unknown key, a value of the wrong type or an invalid value stops start-up with the file, the
// key and the reason.
#ifndef SERVICES_CONFIG_H_
#define SERVICES_CONFIG_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace services {

struct LedgerdConfig {
  std::string data_dir = "./ledger-data";
  bool verify_chain_on_start = true;
  std::string log_format = "text";
  std::string listen = "127.0.0.1:50051";
  bool insecure_plaintext = false;
  std::string tls_cert;
  std::string tls_key;
  std::string tls_client_ca;
  std::string metrics_listen = "127.0.0.1:9464";
  std::string checkpoint_key;
  int64_t checkpoint_interval_events = 10'000;
  std::string log_backend = "rocksdb";
  std::string postgres_conninfo;
  std::string postgres_ledger_id = "ledger";
  int64_t commit_deadline_ms = 5'000;
  std::string patroni_url;
  std::string ha_peers;
};

// Reads `path` over `base` (keys absent from the file keep their value in `base`).
// INVALID_ARGUMENT "config FILE: key 'K': REASON"; NOT_FOUND if the file cannot be read.
absl::StatusOr<LedgerdConfig> LoadConfig(const std::string& path, LedgerdConfig base);

// Checks values that do not depend on the file's syntax (log_format, TLS completeness).
absl::Status ValidateConfig(const LedgerdConfig& config);

// The configuration as a TOML document that LoadConfig reads back unchanged.
std::string ToToml(const LedgerdConfig& config);

}  // namespace services

#endif  // SERVICES_CONFIG_H_
