#include "tools/ledger_bench/bench.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include <sys/resource.h>

#include "ledger/policy.h"
#include "ledger/strings.h"
#include "tests/support/fixtures.h"
#include "tools/ledger_bench/in_flight.h"

namespace bench {
namespace {

using ledger::StrCat;

constexpr int64_t kTiersFen[] = {10000, 20000, 50000, 100000, 200000};

// Connections a scenario's concurrent callers share: more than one, so that the server's
// transport work for them is not serialised on one connection.
constexpr int kCallerChannels = 4;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// ID number `n` of people born in [first_year, first_year + years): year, then month, day (1–28)
// and serial vary, so n < years · 12 · 28 · 1000 are distinct.
std::string IdBorn(size_t n, int first_year, int years) {
  const size_t span = static_cast<size_t>(years);
  const int year = first_year + static_cast<int>(n % span);
  const int month = 1 + static_cast<int>((n / span) % 12);
  const int day = 1 + static_cast<int>((n / (span * 12)) % 28);
  const int serial = static_cast<int>((n / (span * 12 * 28)) % 1000);
  char birth[16];
  std::snprintf(birth, sizeof birth, "%04d%02d%02d", year, month, day);
  return ledger::testing::CitizenId(birth, serial, kRegion);
}

}  // namespace

std::string CitizenId(size_t n) { return IdBorn(n, 1960, 40); }

std::string PensionerId(size_t n) { return IdBorn(n, 1940, 10); }

v1::CollectionRecord MakeRecord(const std::string& run, size_t n) {
  v1::CollectionRecord r;
  r.set_record_type(v1::RECORD_TYPE_ADD);
  r.set_receipt_number(StrCat(run, n));
  r.set_citizen_id(CitizenId(n));
  r.set_name("居民");
  r.set_region_code(kRegion);
  r.set_contribution_year(2025);
  r.set_amount_fen(kTiersFen[n % 5]);
  r.set_collection_date("2025-03-14");
  r.set_tax_office("12224010000");
  r.set_batch_id("BENCH");
  return r;
}

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

double CpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

double Percentile(const std::vector<double>& sorted_us, double p) {
  if (sorted_us.empty()) return 0;
  const size_t i = std::min(sorted_us.size() - 1, static_cast<size_t>(p * sorted_us.size()));
  return sorted_us[i];
}

double RssMib() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (line.starts_with("VmRSS:")) return std::stod(line.substr(6)) / 1024.0;
  }
  return 0;
}

void Die(const std::string& why) {
  std::fprintf(stderr, "ledger-bench: %s\n", why.c_str());
  std::exit(1);
}

bool Bench::Start() {
  run_ =
      StrCat("B", std::chrono::system_clock::now().time_since_epoch().count() % 1'000'000'000, "-");
  if (config_.server.empty()) {
    if (config_.data_dir.empty()) {
      config_.data_dir =
          (std::filesystem::temp_directory_path() / StrCat("ledger-bench-", getpid())).string();
      owns_data_dir_ = true;
    }
    std::filesystem::remove_all(config_.data_dir);
    if (!OpenEmbedded()) return false;
  }
  channel_ = Connect();
  return AdoptPolicy();
}

Bench::~Bench() {
  StopEmbedded();
  if (owns_data_dir_) std::filesystem::remove_all(config_.data_dir);
}

bool Bench::OpenEmbedded() {
  ledger::Options open{.data_dir = config_.data_dir, .verify_chain_on_open = false};
  if (!config_.postgres_conninfo.empty()) {
    open.log_backend = ledger::LogBackend::kPostgres;
    open.postgres_conninfo = config_.postgres_conninfo;
    open.postgres_ledger_id = config_.postgres_ledger_id;
  }
  auto ledger = ledger::Ledger::Open(std::move(open));
  if (!ledger.ok()) {
    std::cerr << "ledger-bench: " << ledger.status() << "\n";
    return false;
  }
  ledger_ = std::move(*ledger);
  services::ServerOptions options{.listen_address = "127.0.0.1:0"};
  if (config_.tls_dir.empty()) {
    options.insecure_plaintext = true;
  } else {
    options.tls = services::TlsFiles{StrCat(config_.tls_dir, "/server.crt"),
                                     StrCat(config_.tls_dir, "/server.key"),
                                     StrCat(config_.tls_dir, "/ca.crt")};
  }
  auto server = services::StartServer(*ledger_, options);
  if (!server.ok()) {
    std::cerr << "ledger-bench: " << server.status() << "\n";
    return false;
  }
  server_ = std::move(*server);
  config_.server = StrCat("127.0.0.1:", server_.port);
  embedded_ = true;
  return true;
}

void Bench::StopEmbedded() {
  if (!embedded_) return;
  channel_.reset();
  server_.server->Shutdown();
  server_ = services::RunningServer();
  ledger_.reset();
  config_.server.clear();
  embedded_ = false;
}

bool Bench::StopForOffline(const char* scenario, uint64_t& events) {
  if (!embedded_) {
    std::printf("scenario=%s status=skipped reason=needs_embedded_ledger\n", scenario);
    return false;
  }
  events = ledger_->Head().sequence;
  StopEmbedded();
  return true;
}

void Bench::Reopen(const char* after) {
  if (!OpenEmbedded()) Die(StrCat("reopen after ", after));
  channel_ = Connect();
}

std::shared_ptr<grpc::Channel> Bench::Connect(std::string_view role) const {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 * 1024 * 1024);
  // Separate channels keep concurrent benchmark threads from sharing one HTTP/2 connection.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  // No call is ever resent (a failed call ends the run): without the retry filter a call costs
  // about 6 % fewer instructions (callgrind, read scenario).
  args.SetInt(GRPC_ARG_ENABLE_RETRIES, 0);
  if (config_.tls_dir.empty()) {
    return grpc::CreateCustomChannel(config_.server, grpc::InsecureChannelCredentials(), args);
  }
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = ReadFile(StrCat(config_.tls_dir, "/ca.crt"));
  ssl.pem_cert_chain = ReadFile(StrCat(config_.tls_dir, "/", role, ".crt"));
  ssl.pem_private_key = ReadFile(StrCat(config_.tls_dir, "/", role, ".key"));
  return grpc::CreateCustomChannel(config_.server, grpc::SslCredentials(ssl), args);
}

namespace {

// The demo policy of the source tree: the first `deploy/policies/yanji-222401.json` found in the
// binary's directory or a parent of it (build/tools/ledger-bench → the repository root).
std::string DemoPolicyPath() {
  constexpr const char* kDemo = "deploy/policies/yanji-222401.json";
  std::error_code ec;
  std::filesystem::path dir = std::filesystem::read_symlink("/proc/self/exe", ec).parent_path();
  for (; !ec && !dir.empty(); dir = dir.parent_path()) {
    if (std::filesystem::exists(dir / kDemo)) return (dir / kDemo).string();
    if (dir == dir.root_path()) break;
  }
  return kDemo;  // relative to the working directory, as a last resort
}

}  // namespace

bool Bench::AdoptPolicy() {
  const std::string path = config_.policy_file.empty() ? DemoPolicyPath() : config_.policy_file;
  std::ifstream in(path);
  if (!in) {
    std::cerr << "ledger-bench: cannot read the policy " << path << " (give one with --policy)\n";
    return false;
  }
  auto versions = ledger::ParsePolicyFileJson(ReadFile(path));
  if (!versions.ok()) {
    std::cerr << "ledger-bench: " << path << ": " << versions.status() << "\n";
    return false;
  }
  auto stub = v1::PolicyService::NewStub(Connect("admin"));
  for (const v1::Policy& policy : *versions) {
    grpc::ClientContext context;
    v1::AdoptPolicyRequest request;
    *request.mutable_policy() = policy;
    v1::AdoptPolicyResponse response;
    if (auto st = stub->AdoptPolicy(&context, request, &response); !st.ok()) {
      std::cerr << "ledger-bench: adopt policy v" << policy.version() << ": "
                << st.error_message() << "\n";
      return false;
    }
  }
  return true;
}

void Bench::WriterReport(const char* after) {
  if (!embedded_) return;
  const ledger::WriterStats w = ledger_->Stats();
  const auto d = [&](uint64_t now, uint64_t before) { return static_cast<double>(now - before); };
  const double commits = std::max(1.0, d(w.commits, last_.commits));
  std::printf(
      "writer after=%s commits=%.0f commands_per_commit=%.1f events_per_commit=%.1f "
      "commit_ms_avg=%.2f\n",
      after, d(w.commits, last_.commits), d(w.commands, last_.commands) / commits,
      d(w.events, last_.events) / commits, d(w.commit_us, last_.commit_us) / commits / 1e3);
  last_ = w;
}

Bench::JobTiming Bench::RunJob(const v1::JobRequest& request) {
  auto stub = v1::AccountService::NewStub(Connect("fund-agency"));
  grpc::ClientContext context;
  JobTiming t;
  const auto start = Clock::now();
  auto reader = stub->RunJob(&context, request);
  for (v1::JobProgress p; reader->Read(&p);) t.progress = p;
  if (auto st = reader->Finish(); !st.ok()) Die(StrCat("job: ", st.error_message()));
  t.seconds = std::max(Seconds(start), 1e-9);
  WriterReport("job");
  return t;
}

void Bench::Enrol(size_t n, const std::function<std::string(size_t)>& id, const char* what) {
  const auto stubs = StubsOf<v1::AccountService>(Callers("fund-agency"));
  InFlight<v1::EnrolRequest, v1::EnrolResponse>(
      config_.concurrency, n,
      [&](size_t i, v1::EnrolRequest* request) {
        auto* p = request->mutable_participant();
        p->set_citizen_id(id(i));
        p->set_name("居民");
        p->set_region_code(kRegion);
        p->set_enrolment_date("2024-12-01");
      },
      [&](size_t i, grpc::ClientContext* context, const v1::EnrolRequest* request,
          v1::EnrolResponse* response, std::function<void(grpc::Status)> done) {
        stubs[i % stubs.size()]->async()->Enrol(context, request, response, std::move(done));
      },
      what);
}

double Bench::EnrolAll(size_t n) {
  const auto start = Clock::now();
  if (n > enrolled_) {
    const size_t from = enrolled_;
    Enrol(
        n - from, [from](size_t i) { return CitizenId(from + i); }, "enrol");
    enrolled_ = n;
  }
  return std::max(Seconds(start), 1e-9);
}

std::vector<std::shared_ptr<grpc::Channel>> Bench::Callers(std::string_view role) const {
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (int c = 0; c < kCallerChannels; ++c) {
    channels.push_back(Connect(role));
    if (!channels.back()->WaitForConnected(std::chrono::system_clock::now() +
                                           std::chrono::seconds(30))) {
      Die("cannot connect");
    }
  }
  return channels;
}

void Bench::Summary() {
  if (ingest_records_per_s_ > 0 && limit_records_per_s_ > 0) {
    std::printf(
        "scenario=summary ingest_records_per_s=%.0f limit_records_per_s=%.0f "
        "ingest_fraction_of_limit=%.3f\n",
        ingest_records_per_s_, limit_records_per_s_, ingest_records_per_s_ / limit_records_per_s_);
  }
  if (ingest_records_per_s_ > 0 && limit_records_per_s_ > 0 && postgres_records_per_s_ > 0) {
    std::printf(
        "scenario=compare ingest_records_per_s=%.0f postgres_records_per_s=%.0f ratio=%.2f "
        "limit_records_per_s=%.0f fraction_of_limit=%.3f\n",
        ingest_records_per_s_, postgres_records_per_s_,
        ingest_records_per_s_ / postgres_records_per_s_, limit_records_per_s_,
        ingest_records_per_s_ / limit_records_per_s_);
  }
}

}  // namespace bench
