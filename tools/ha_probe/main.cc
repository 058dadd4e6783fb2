// ledger-ha-probe: the client side of the replicated ledger's failure tests (tests/ha/).
//
//   ledger-ha-probe load  --server A --server B --server C --seconds 60 --out acked.tsv
//       Several clients push collection batches for the whole time, each batch resent until it
//       is acknowledged (to the leader a refusal names, else the next server), exactly as a tax
//       bureau integrator would. Every acknowledged record is written to --out as
//       "<unix ms>\t<receipt>\t<sequence>\t<server>" the moment its answer arrives.
//   ledger-ha-probe check --server A --server B --server C --acked acked.tsv
//       Waits until every node shows the same chain head, then on each node: the chain verifies,
//       the sequence is dense, every acknowledged receipt is there exactly once at the sequence
//       it was acknowledged with, and the projections equal a scratch replay (ReplayCompare).
//       Prints one line per node and `acked=… lost=… duplicated=… moved=…`; exit 0 only when
//       nothing was lost, duplicated or moved and every node verified.
//   ledger-ha-probe gaps --acked acked.tsv --since <unix ms>
//       The write outage after a moment (a kill): the longest wait for an acknowledgement from
//       then on, `failover_s=…`.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/container/flat_hash_map.h"
#include "grpcpp/grpcpp.h"
#include "ledger/strings.h"
#include "ledger/v1/services.grpc.pb.h"
#include "tests/support/fixtures.h"

namespace {

namespace v1 = ledger::v1;
using ledger::StrCat;
using Clock = std::chrono::steady_clock;

constexpr int64_t kTiersFen[] = {20000, 30000, 50000, 80000, 100000};

int64_t UnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::shared_ptr<grpc::Channel> Channel(const std::string& server) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(256 * 1024 * 1024);
  return grpc::CreateCustomChannel(server, grpc::InsecureChannelCredentials(), args);
}

std::string Trailer(const grpc::ClientContext& context, const char* key) {
  const auto& trailers = context.GetServerTrailingMetadata();
  const auto it = trailers.find(key);
  return it == trailers.end() ? "" : std::string(it->second.data(), it->second.size());
}

struct LoadOptions {
  std::vector<std::string> servers;
  int clients = 4;
  int batch = 20;
  int seconds = 60;
  int give_up_seconds = 120;  // one batch unacknowledged this long: the run fails
  std::string out;
  std::string run = StrCat("HA", UnixMs() % 100000000, "-");
};

class AckLog {
 public:
  explicit AckLog(const std::string& path) : out_(path, std::ios::trunc) {}
  bool ok() const { return static_cast<bool>(out_); }
  void Write(const v1::PushCollectionsRequest& request, const v1::PushCollectionsResponse& r,
             const std::string& server) {
    const int64_t now = UnixMs();
    std::lock_guard lock(mu_);
    for (const v1::RecordOutcome& o : r.outcomes()) {
      if (o.outcome() == v1::OUTCOME_REJECTED) continue;
      out_ << now << '\t' << request.records(static_cast<int>(o.index())).receipt_number() << '\t'
           << o.sequence() << '\t' << server << '\n';
      ++acked_;
    }
    out_.flush();
  }
  uint64_t acked() {
    std::lock_guard lock(mu_);
    return acked_;
  }

 private:
  std::mutex mu_;
  std::ofstream out_;
  uint64_t acked_ = 0;
};

// Sends `request` until it is acknowledged or `give_up` passes. Returns the server that
// acknowledged it, "" on giving up.
std::string PushUntilAcked(const LoadOptions& o, const v1::PushCollectionsRequest& request,
                           size_t& next, v1::PushCollectionsResponse& response,
                           std::atomic<uint64_t>& resends) {
  const auto give_up = Clock::now() + std::chrono::seconds(o.give_up_seconds);
  std::string server = o.servers[next % o.servers.size()];
  for (int attempt = 0; Clock::now() < give_up; ++attempt) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    const grpc::Status st =
        v1::CollectionService::NewStub(Channel(server))->PushCollections(&context, request, &response);
    if (st.ok()) return server;
    if (st.error_code() != grpc::StatusCode::UNAVAILABLE &&
        st.error_code() != grpc::StatusCode::DEADLINE_EXCEEDED) {
      std::cerr << "ledger-ha-probe: " << server << " refused a batch for good: code "
                << st.error_code() << ": " << st.error_message() << "\n";
      return "";
    }
    ++resends;
    const std::string hint = Trailer(context, "ledger-leader");
    server = hint.empty() ? o.servers[++next % o.servers.size()] : hint;
    std::this_thread::sleep_for(std::chrono::milliseconds(std::min(1'000, 50 << std::min(attempt, 5))));
  }
  return "";
}

int Load(const LoadOptions& o) {
  AckLog log(o.out);
  if (!log.ok()) {
    std::cerr << "ledger-ha-probe: cannot write " << o.out << "\n";
    return 1;
  }
  const auto end = Clock::now() + std::chrono::seconds(o.seconds);
  std::atomic<bool> failed{false};
  std::atomic<uint64_t> resends{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < o.clients; ++c) {
    clients.emplace_back([&, c] {
      size_t next = static_cast<size_t>(c);
      for (int b = 0; Clock::now() < end && !failed; ++b) {
        v1::PushCollectionsRequest request;
        for (int i = 0; i < o.batch; ++i) {
          const int n = (c * 1'000'000 + b * o.batch + i) % 9'000'000;
          *request.add_records() = ledger::testing::AddRecord(
              StrCat(o.run, c, "-", b, "-", i), ledger::testing::NumberedCitizenId(n), 2025,
              kTiersFen[n % 5], "2025-03-14");
        }
        v1::PushCollectionsResponse response;
        const std::string server = PushUntilAcked(o, request, next, response, resends);
        if (server.empty()) {
          failed = true;
          break;
        }
        log.Write(request, response, server);
      }
    });
  }
  for (std::thread& t : clients) t.join();
  std::printf("load acked=%llu resends=%llu clients=%d batch=%d%s\n",
              static_cast<unsigned long long>(log.acked()),
              static_cast<unsigned long long>(resends.load()), o.clients, o.batch,
              failed ? " failed=a batch was never acknowledged" : "");
  return failed ? 1 : 0;
}

struct Acked {
  std::string receipt;
  uint64_t sequence = 0;
  int64_t at_ms = 0;
};

std::vector<Acked> ReadAcked(const std::string& path) {
  std::vector<Acked> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    Acked a;
    std::string server;
    if (fields >> a.at_ms >> a.receipt >> a.sequence >> server) out.push_back(std::move(a));
  }
  return out;
}

uint64_t HeadOf(const std::string& server, std::string* error) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
  v1::VerifyChainRequest request;
  request.set_from_sequence(1);  // to 0: the head
  v1::VerifyChainResponse r;
  const grpc::Status st =
      v1::AuditService::NewStub(Channel(server))->VerifyChain(&context, request, &r);
  if (!st.ok()) {
    *error = StrCat("VerifyChain: code ", static_cast<int>(st.error_code()), ": ", st.error_message());
    return 0;
  }
  if (!r.ok()) {
    *error = StrCat("chain broken at ", r.first_bad_sequence(), ": ", r.reason());
    return 0;
  }
  error->clear();
  return r.to_sequence();
}

struct NodeReport {
  uint64_t head = 0, events = 0, missing = 0, duplicated = 0, moved = 0;
  std::string problem;
};

NodeReport CheckNode(const std::string& server, const std::vector<Acked>& acked) {
  NodeReport report;
  report.head = HeadOf(server, &report.problem);
  if (!report.problem.empty()) return report;
  absl::flat_hash_map<std::string, std::vector<uint64_t>> seen;  // receipt → sequences
  grpc::ClientContext context;
  v1::StreamEventsRequest request;
  request.set_from_sequence(1);
  request.set_to_sequence(report.head);
  auto reader = v1::AuditService::NewStub(Channel(server))->StreamEvents(&context, request);
  v1::AuditEvent e;
  uint64_t expect = 1;
  while (reader->Read(&e)) {
    if (e.event().sequence() != expect) {
      report.problem = StrCat("sequence ", e.event().sequence(), " follows ", expect - 1);
      break;
    }
    ++expect;
    ++report.events;
    if (e.event().has_contribution_collected()) {
      seen[e.event().contribution_collected().receipt_number()].push_back(e.event().sequence());
    }
  }
  if (grpc::Status st = reader->Finish(); !st.ok() && report.problem.empty()) {
    report.problem = StrCat("StreamEvents: ", st.error_message());
  }
  for (const Acked& a : acked) {
    const auto it = seen.find(a.receipt);
    if (it == seen.end()) {
      ++report.missing;
    } else if (it->second.size() > 1) {
      ++report.duplicated;
    } else if (it->second.front() != a.sequence) {
      ++report.moved;
    }
  }
  grpc::ClientContext replay_context;
  v1::ReplayCompareResponse replay;
  const grpc::Status st = v1::AuditService::NewStub(Channel(server))
                              ->ReplayCompare(&replay_context, v1::ReplayCompareRequest(), &replay);
  if (!st.ok() && report.problem.empty()) {
    report.problem = StrCat("ReplayCompare: ", st.error_message());
  } else if (st.ok() && !replay.equal() && report.problem.empty()) {
    report.problem = StrCat("projections differ from a replay: ", replay.first_difference());
  }
  return report;
}

int Check(const std::vector<std::string>& servers, const std::string& acked_path,
          int converge_seconds) {
  const std::vector<Acked> acked = ReadAcked(acked_path);
  // The followers apply what the leader has published; wait until every node is at one head.
  const auto give_up = Clock::now() + std::chrono::seconds(converge_seconds);
  std::vector<uint64_t> heads(servers.size());
  for (;;) {
    std::string error;
    bool same = true;
    for (size_t i = 0; i < servers.size(); ++i) {
      heads[i] = HeadOf(servers[i], &error);
      same = same && error.empty() && heads[i] == heads[0];
    }
    if (same || Clock::now() >= give_up) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  uint64_t lost = 0, duplicated = 0, moved = 0;
  bool ok = true;
  for (const std::string& server : servers) {
    const NodeReport r = CheckNode(server, acked);
    std::printf("node=%s head=%llu events=%llu missing=%llu duplicated=%llu moved=%llu %s\n",
                server.c_str(), static_cast<unsigned long long>(r.head),
                static_cast<unsigned long long>(r.events),
                static_cast<unsigned long long>(r.missing),
                static_cast<unsigned long long>(r.duplicated),
                static_cast<unsigned long long>(r.moved),
                r.problem.empty() ? "chain=verified replay=equal" : ("problem=\"" + r.problem + "\"").c_str());
    lost = std::max(lost, r.missing);
    duplicated = std::max(duplicated, r.duplicated);
    moved = std::max(moved, r.moved);
    ok = ok && r.problem.empty() && r.head == heads[0];
  }
  std::printf("acked=%zu lost=%llu duplicated=%llu moved=%llu nodes_agree=%s\n", acked.size(),
              static_cast<unsigned long long>(lost), static_cast<unsigned long long>(duplicated),
              static_cast<unsigned long long>(moved), ok ? "yes" : "no");
  return ok && lost == 0 && duplicated == 0 && moved == 0 ? 0 : 1;
}

// The write outage a kill caused: the longest wait for an acknowledgement from the kill on (from
// the kill to the first one, then between consecutive ones). An answer already in flight when
// the kill landed does not hide the gap that follows it.
int Gaps(const std::string& acked_path, int64_t since_ms) {
  std::vector<int64_t> times;
  for (const Acked& a : ReadAcked(acked_path)) {
    if (a.at_ms > since_ms) times.push_back(a.at_ms);
  }
  if (times.empty()) {
    std::printf("failover_s=none (no acknowledgement after the kill)\n");
    return 1;
  }
  std::sort(times.begin(), times.end());
  int64_t longest = times.front() - since_ms;
  for (size_t i = 1; i < times.size(); ++i) longest = std::max(longest, times[i] - times[i - 1]);
  std::printf("failover_s=%.1f\n", static_cast<double>(longest) / 1000.0);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ledger-ha-probe: load and check a replicated ledger (tests/ha/)"};
  app.require_subcommand(1);
  LoadOptions load;
  auto* load_cmd = app.add_subcommand("load", "push collections until --seconds pass");
  load_cmd->add_option("--server", load.servers, "a node's ledgerd host:port")->required();
  load_cmd->add_option("--clients", load.clients)->capture_default_str();
  load_cmd->add_option("--batch", load.batch, "records per push")->capture_default_str();
  load_cmd->add_option("--seconds", load.seconds)->capture_default_str();
  load_cmd->add_option("--give-up-seconds", load.give_up_seconds)->capture_default_str();
  load_cmd->add_option("--run", load.run, "receipt number prefix (unique per run)");
  load_cmd->add_option("--out", load.out, "acknowledged records (TSV)")->required();

  std::vector<std::string> check_servers;
  std::string acked;
  int converge_seconds = 120;
  auto* check_cmd = app.add_subcommand("check", "every acknowledged record on every node");
  check_cmd->add_option("--server", check_servers, "a node's ledgerd host:port")->required();
  check_cmd->add_option("--acked", acked, "load's --out")->required();
  check_cmd->add_option("--converge-seconds", converge_seconds)->capture_default_str();

  int64_t since_ms = 0;
  auto* gaps_cmd = app.add_subcommand("gaps", "first acknowledgement after a moment");
  gaps_cmd->add_option("--acked", acked)->required();
  gaps_cmd->add_option("--since", since_ms, "unix milliseconds")->required();

  CLI11_PARSE(app, argc, argv);
  if (*load_cmd) return Load(load);
  if (*check_cmd) return Check(check_servers, acked, converge_seconds);
  return Gaps(acked, since_ms);
}
