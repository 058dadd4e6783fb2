// This node's Patroni, asked over its REST API (deploy/ha/): is our PostgreSQL the primary, and
// which node leads. ledgerd runs one PatroniWatch when log.backend = postgres under Patroni
// ([ha] patroni_url): the writer asks IsPrimary() before every group (ledger/replication.h) and
// a refused write carries LeaderHint() in its trailing metadata.
//
// Why the REST API and not libpq's target_session_attrs=read-write: a primary whose Patroni
// died keeps accepting read-write connections (the HA prototype's fence probe), but it is no
// longer the leader; Patroni's GET /primary answers 200 only on the node holding the leader
// lock. Anything else (another code, a refused connection, no answer within the timeout: a
// stopped Patroni) is "not primary". A poll answer is good for `validity_ms` only, so a
// watcher thread that stalls stops writes too.
#ifndef SERVICES_PATRONI_H_
#define SERVICES_PATRONI_H_

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/status/statusor.h"

namespace services {

struct HttpResponse {
  int status = 0;
  std::string body;
};
// One HTTP/1.0 GET of `path` from `host:port`, within `timeout_ms` (connect, send, read).
absl::StatusOr<HttpResponse> HttpGet(const std::string& host_port, const std::string& path,
                                     int timeout_ms);

// "pg1=127.0.0.1:50061,pg2=127.0.0.1:50062": Patroni member name → that node's ledgerd address.
absl::StatusOr<std::map<std::string, std::string>> ParsePeers(const std::string& text);

// The leader's member name in a GET /cluster body ("" when none is leader).
std::string LeaderOf(const std::string& cluster_json);

class PatroniWatch {
 public:
  struct Options {
    std::string url;                           // http://host:port of this node's Patroni
    std::map<std::string, std::string> peers;  // member name → ledgerd address (hints)
    int poll_ms = 250;
    int timeout_ms = 500;
    int validity_ms = 3'000;  // well inside Patroni's ttl (15 s), after which another node may lead
  };
  // INVALID_ARGUMENT when the url is not http://host:port. Starts polling at once.
  static absl::StatusOr<std::unique_ptr<PatroniWatch>> Start(Options options);
  ~PatroniWatch();
  PatroniWatch(const PatroniWatch&) = delete;
  PatroniWatch& operator=(const PatroniWatch&) = delete;

  bool IsPrimary() const;
  // The leader's ledgerd address from `peers`, "" while unknown.
  std::string LeaderHint() const;

 private:
  PatroniWatch(Options options, std::string host_port);
  void Poll();

  const Options options_;
  const std::string host_port_;
  std::atomic<int64_t> primary_until_ms_{0};  // steady clock; IsPrimary while now is before it
  mutable std::mutex mu_;
  std::string leader_hint_;  // guarded by mu_
  std::condition_variable stop_cv_;
  bool stop_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace services

#endif  // SERVICES_PATRONI_H_
