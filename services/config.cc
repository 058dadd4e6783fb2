#include "services/config.h"

#include <map>
#include <set>

#include "absl/status/status.h"
#include "ledger/strings.h"
#include "services/patroni.h"
#include "toml++/toml.h"

namespace services {
namespace {

using ledger::StrCat;

std::string Quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

// Where a key's value goes: one of the three is set.
struct Slot {
  std::string* text = nullptr;
  bool* flag = nullptr;
  int64_t* number = nullptr;
};
// The keys each table may hold ("" is the top level).
using Schema = std::map<std::string, std::map<std::string, Slot>>;

Schema SchemaOf(LedgerdConfig& config) {
  return {
      {"",
       {{"data_dir", {&config.data_dir}},
        {"verify_chain_on_start", {nullptr, &config.verify_chain_on_start}},
        {"log_format", {&config.log_format}}}},
      {"server",
       {{"listen", {&config.listen}}, {"insecure_plaintext", {nullptr, &config.insecure_plaintext}}}},
      {"tls",
       {{"cert", {&config.tls_cert}},
        {"key", {&config.tls_key}},
        {"client_ca", {&config.tls_client_ca}}}},
      {"metrics", {{"listen", {&config.metrics_listen}}}},
      {"audit",
       {{"checkpoint_key", {&config.checkpoint_key}},
        {"checkpoint_interval_events", {nullptr, nullptr, &config.checkpoint_interval_events}}}},
      {"log",
       {{"backend", {&config.log_backend}},
        {"postgres_conninfo", {&config.postgres_conninfo}},
        {"postgres_ledger_id", {&config.postgres_ledger_id}},
        {"commit_deadline_ms", {nullptr, nullptr, &config.commit_deadline_ms}}}},
      {"ha", {{"patroni_url", {&config.patroni_url}}, {"peers", {&config.ha_peers}}}},
  };
}

absl::Status BadKey(const std::string& path, const std::string& key, const std::string& why) {
  return absl::InvalidArgumentError(StrCat("config ", path, ": key '", key, "': ", why));
}

absl::StatusOr<toml::table> ParseToml(const std::string& path) {
  try {
    return toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    if (std::string(e.description()).find("File could not be opened") != std::string::npos) {
      return absl::NotFoundError(StrCat("config ", path, ": cannot be read"));
    }
    return absl::InvalidArgumentError(StrCat("config ", path, ": line ", where.line, ": ",
                                             std::string(e.description())));
  }
}

// Stores the values of `table` (named `table_name` in `schema`) where the schema says.
absl::Status ApplyTable(const std::string& path, const Schema& schema,
                        const std::string& table_name, const toml::table& table) {
  const auto& keys = schema.at(table_name);
  for (const auto& [key_node, value] : table) {
    const std::string key(key_node.str());
    const std::string full = table_name.empty() ? key : StrCat(table_name, ".", key);
    if (table_name.empty() && schema.contains(key)) continue;  // a sub-table, handled by the caller
    auto slot = keys.find(key);
    if (slot == keys.end()) return BadKey(path, full, "unknown key");
    if (slot->second.text) {
      auto s = value.value<std::string>();
      if (!value.is_string() || !s) return BadKey(path, full, "expected a string");
      *slot->second.text = *s;
    } else if (slot->second.number) {
      auto n = value.value<int64_t>();
      if (!value.is_integer() || !n) return BadKey(path, full, "expected an integer");
      *slot->second.number = *n;
    } else {
      auto b = value.value<bool>();
      if (!value.is_boolean() || !b) return BadKey(path, full, "expected true or false");
      *slot->second.flag = *b;
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<LedgerdConfig> LoadConfig(const std::string& path, LedgerdConfig config) {
  auto root = ParseToml(path);
  if (!root.ok()) return root.status();
  const Schema schema = SchemaOf(config);
  if (auto st = ApplyTable(path, schema, "", *root); !st.ok()) return st;
  for (const auto& [name_node, node] : *root) {
    const std::string name(name_node.str());
    if (!schema.contains(name) || name.empty()) continue;
    if (!node.is_table()) return BadKey(path, name, "expected a table ([" + name + "])");
    if (auto st = ApplyTable(path, schema, name, *node.as_table()); !st.ok()) return st;
  }
  if (auto st = ValidateConfig(config); !st.ok()) {
    return absl::InvalidArgumentError(StrCat("config ", path, ": ", std::string(st.message())));
  }
  return config;
}

absl::Status ValidateConfig(const LedgerdConfig& c) {
  if (c.log_format != "text" && c.log_format != "json") {
    return absl::InvalidArgumentError("key 'log_format': must be \"text\" or \"json\"");
  }
  if (c.data_dir.empty()) return absl::InvalidArgumentError("key 'data_dir': must not be empty");
  if (c.listen.find(':') == std::string::npos) {
    return absl::InvalidArgumentError("key 'server.listen': must be host:port");
  }
  const int tls_files = !c.tls_cert.empty() + !c.tls_key.empty() + !c.tls_client_ca.empty();
  if (tls_files != 0 && tls_files != 3) {
    return absl::InvalidArgumentError("keys 'tls.cert', 'tls.key', 'tls.client_ca' go together");
  }
  if (c.checkpoint_interval_events < 1) {
    return absl::InvalidArgumentError("key 'audit.checkpoint_interval_events': must be at least 1");
  }
  if (c.log_backend != "rocksdb" && c.log_backend != "postgres") {
    return absl::InvalidArgumentError("key 'log.backend': must be \"rocksdb\" or \"postgres\"");
  }
  if (c.log_backend == "postgres" && c.postgres_conninfo.empty()) {
    return absl::InvalidArgumentError("key 'log.postgres_conninfo': required by log.backend postgres");
  }
  if (c.postgres_ledger_id.empty()) {
    return absl::InvalidArgumentError("key 'log.postgres_ledger_id': must not be empty");
  }
  if (c.commit_deadline_ms < 1 || c.commit_deadline_ms > 3'600'000) {
    return absl::InvalidArgumentError("key 'log.commit_deadline_ms': must be in [1, 3600000]");
  }
  if (!c.patroni_url.empty() && c.log_backend != "postgres") {
    return absl::InvalidArgumentError("key 'ha.patroni_url': needs log.backend postgres");
  }
  if (!c.patroni_url.starts_with("http://") && !c.patroni_url.empty()) {
    return absl::InvalidArgumentError("key 'ha.patroni_url': must be http://host:port");
  }
  if (auto peers = ParsePeers(c.ha_peers); !peers.ok()) {
    return absl::InvalidArgumentError(StrCat("key 'ha.peers': ", std::string(peers.status().message())));
  }
  if (tls_files == 3 && c.insecure_plaintext) {
    return absl::InvalidArgumentError("'server.insecure_plaintext' and the tls keys exclude each other");
  }
  return absl::OkStatus();
}

std::string ToToml(const LedgerdConfig& c) {
  return StrCat("data_dir = ", Quote(c.data_dir), "\n",                                   //
                "verify_chain_on_start = ", c.verify_chain_on_start ? "true" : "false", "\n",  //
                "log_format = ", Quote(c.log_format), "\n",                               //
                "\n[server]\n",                                                           //
                "listen = ", Quote(c.listen), "\n",                                       //
                "insecure_plaintext = ", c.insecure_plaintext ? "true" : "false", "\n",   //
                "\n[tls]\n",                                                              //
                "cert = ", Quote(c.tls_cert), "\n",                                       //
                "key = ", Quote(c.tls_key), "\n",                                         //
                "client_ca = ", Quote(c.tls_client_ca), "\n",                             //
                "\n[metrics]\n",                                                          //
                "listen = ", Quote(c.metrics_listen), "\n",                              //
                "\n[audit]\n",                                                            //
                "checkpoint_key = ", Quote(c.checkpoint_key), "\n",                       //
                "checkpoint_interval_events = ", c.checkpoint_interval_events, "\n",     //
                "\n[log]\n",                                                              //
                "backend = ", Quote(c.log_backend), "\n",                                 //
                "postgres_conninfo = ", Quote(c.postgres_conninfo), "\n",                 //
                "postgres_ledger_id = ", Quote(c.postgres_ledger_id), "\n",               //
                "commit_deadline_ms = ", c.commit_deadline_ms, "\n",                     //
                "\n[ha]\n",                                                              //
                "patroni_url = ", Quote(c.patroni_url), "\n",                             //
                "peers = ", Quote(c.ha_peers), "\n");
}

}  // namespace services
