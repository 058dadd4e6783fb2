// ledger-bench: measures the ledger through its real gRPC seam.
//
//   ledger-bench SCENARIO [options]     SCENARIO: ingest | latency | read | replay | disk |
//                                                 storage-limit | interest | benefits | all |
//                                                 sustained (not in `all`: it runs for minutes)
//
// Without --server it starts its own ledger and server in this process on a fresh temporary data
// directory (plain text on loopback, or mutual TLS with --tls-dir), so client and server share the
// machine as they would in a same-host deployment. Each scenario ends with ONE line of key=value
// pairs, starting with `scenario=`, for scripts. Every write is durable (fsync'd) before it is
// acknowledged, exactly as in production: nothing here weakens durability.
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "CLI/CLI.hpp"
#include "absl/synchronization/mutex.h"
#include "grpcpp/grpcpp.h"
#include "ledger/citizen_id.h"
#include "ledger/ledger.h"
#include "ledger/limits.h"
#include "ledger/policy.h"
#include "ledger/rules.h"
#include "ledger/store.h"
#include "ledger/strings.h"
#include "ledger/v1/services.grpc.pb.h"
#include "ledger/working_state.h"
#include "services/services.h"
#include "spdlog/spdlog.h"

namespace {

namespace v1 = ledger::v1;
using ledger::StrCat;
using Clock = std::chrono::steady_clock;

constexpr char kRegion[] = "222401";
constexpr int64_t kTiersFen[] = {10000, 20000, 50000, 100000, 200000};

struct Config {
  std::string server;   // empty: embedded
  std::string tls_dir;  // ca.crt + tax-bureau/fund-agency certs (make-dev-certs.sh layout)
  std::string data_dir;
  std::string policy_file = "deploy/policies/yanji-222401.json";
  size_t records = 100'000;
  size_t batch_size = 1'000;
  size_t latency_calls = 2'000;
  size_t reads = 200'000;
  size_t pensioners = 100'000;
  int concurrency = 64;
  int seconds = 300;  // sustained
};

// Resident set size of this process (which holds the embedded server), MiB.
double RssMib() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (line.starts_with("VmRSS:")) return std::stod(line.substr(6)) / 1024.0;
  }
  return 0;
}

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

// Citizen ID number `n` (0 ≤ n < 10^8): region 222401, birth dates spread over 1960–1999.
std::string CitizenId(size_t n) {
  const int year = 1960 + static_cast<int>(n % 40);
  const int month = 1 + static_cast<int>((n / 40) % 12);
  const int day = 1 + static_cast<int>((n / 480) % 28);
  const size_t serial = (n / 13'440) % 1000;
  char first17[18];
  std::snprintf(first17, sizeof first17, "%s%04d%02d%02d%03zu", kRegion, year, month, day, serial);
  return std::string(first17, 17) + ledger::CitizenIdCheckChar(first17);
}
// Distinct IDs for n < 13,440,000.
constexpr size_t kDistinctIdsMax = 13'440'000;

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

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// Latency percentile from a sorted sample, in microseconds.
double Percentile(const std::vector<double>& sorted_us, double p) {
  if (sorted_us.empty()) return 0;
  const size_t i = std::min(sorted_us.size() - 1, static_cast<size_t>(p * sorted_us.size()));
  return sorted_us[i];
}

class Bench {
 public:
  explicit Bench(Config config) : config_(std::move(config)) {}

  bool Start() {
    run_ = StrCat("B", std::chrono::system_clock::now().time_since_epoch().count() % 1'000'000'000,
                  "-");
    if (config_.server.empty()) {
      if (config_.data_dir.empty()) {
        config_.data_dir = (std::filesystem::temp_directory_path() / StrCat("ledger-bench-", getpid()))
                               .string();
        owns_data_dir_ = true;
      }
      std::filesystem::remove_all(config_.data_dir);
      if (!OpenEmbedded()) return false;
    }
    channel_ = Connect();
    return AdoptPolicy();
  }

  ~Bench() {
    StopEmbedded();
    if (owns_data_dir_) std::filesystem::remove_all(config_.data_dir);
  }

  // ---------------------------------------------------------------- scenarios
  void Ingest() {
    const size_t n = std::min(config_.records, kDistinctIdsMax);
    const double enrol_s = EnrolAll(n);
    WriterReport("enrol");
    auto stub = v1::CollectionService::NewStub(channel_);
    const auto start = Clock::now();
    size_t accepted = 0, other = 0;
    for (size_t first = 0; first < n; first += ledger::kStreamRecordsMax) {
      grpc::ClientContext context;
      v1::PushCollectionsResponse response;
      auto writer = stub->StreamCollections(&context, &response);
      const size_t end = std::min(n, first + ledger::kStreamRecordsMax);
      v1::PushCollectionsRequest message;
      for (size_t i = first; i < end; i += config_.batch_size) {
        message.clear_records();
        for (size_t j = i; j < std::min(end, i + config_.batch_size); ++j) {
          *message.add_records() = MakeRecord(run_, j);
        }
        if (!writer->Write(message)) break;
      }
      writer->WritesDone();
      if (auto st = writer->Finish(); !st.ok()) Die(StrCat("ingest stream: ", st.error_message()));
      accepted += response.accepted_count();
      other += response.outcomes_size() - response.accepted_count();
    }
    const double s = Seconds(start);
    ingest_records_per_s_ = n / s;
    ingested_ = n;
    WriterReport("ingest");
    std::printf("scenario=ingest records=%zu batch_size=%zu accepted=%zu not_accepted=%zu "
                "seconds=%.3f ingest_records_per_s=%.0f enrol_per_s=%.0f tls=%d\n",
                n, config_.batch_size, accepted, other, s, n / s, n / enrol_s, Tls());
  }

  // Sustained load: `concurrency` client streams push collections back to back for `seconds`
  // (each stream: 4 messages of batch_size records, then the next stream). One line per 10 s
  // interval (records/s, errors, stream latency p50/p99, RSS), then the summary line: no errors,
  // memory flat and latency stable is the pass mark, read by a person (not CI).
  void Sustained() {
    constexpr double kIntervalSeconds = 10;
    constexpr int kMessagesPerStream = 4;
    struct Interval {
      absl::Mutex mu;
      std::vector<double> stream_ms;
      size_t records = 0, errors = 0;
    };
    std::vector<std::unique_ptr<Interval>> intervals;
    const int count = std::max(1, static_cast<int>(config_.seconds / kIntervalSeconds));
    for (int i = 0; i < count; ++i) intervals.push_back(std::make_unique<Interval>());
    const auto start = Clock::now();
    const auto deadline = start + std::chrono::seconds(count * static_cast<int>(kIntervalSeconds));
    std::vector<std::thread> streams;
    for (int t = 0; t < config_.concurrency; ++t) {
      streams.emplace_back([&, t] {
        auto stub = v1::CollectionService::NewStub(Connect());
        for (size_t round = 0; Clock::now() < deadline; ++round) {
          grpc::ClientContext context;
          v1::PushCollectionsResponse response;
          const auto begin = Clock::now();
          auto writer = stub->StreamCollections(&context, &response);
          v1::PushCollectionsRequest message;
          for (int m = 0; m < kMessagesPerStream; ++m) {
            message.clear_records();
            for (size_t j = 0; j < config_.batch_size; ++j) {
              v1::CollectionRecord r = MakeRecord(StrCat(run_, "S", t, "-", round, "-", m, "-"), j);
              *message.add_records() = std::move(r);
            }
            if (!writer->Write(message)) break;
          }
          writer->WritesDone();
          const grpc::Status st = writer->Finish();
          const auto end = Clock::now();
          const int slot = std::min(count - 1, static_cast<int>(std::chrono::duration<double>(
                                                   end - start).count() / kIntervalSeconds));
          Interval& in = *intervals[slot];
          absl::MutexLock lock(&in.mu);
          if (!st.ok() || response.rejected_count() > 0) {
            if (in.errors++ == 0) {
              std::fprintf(stderr, "sustained interval=%d first_error=\"%s\"\n", slot + 1,
                           st.ok() ? "a record was rejected" : st.error_message().c_str());
            }
          }
          in.records += response.outcomes_size();
          in.stream_ms.push_back(std::chrono::duration<double, std::milli>(end - begin).count());
        }
      });
    }
    std::vector<double> rss(count), p99(count);
    // Interval i is reported once it is over (a stream counts in the interval it ends in; the
    // last one also takes the streams still running at the deadline).
    auto report = [&](int i) {
      Interval& in = *intervals[i];
      absl::MutexLock lock(&in.mu);
      std::sort(in.stream_ms.begin(), in.stream_ms.end());
      p99[i] = Percentile(in.stream_ms, 0.99);
      std::printf("sustained interval=%d records_per_s=%.0f streams=%zu errors=%zu p50_ms=%.1f "
                  "p99_ms=%.1f rss_mib=%.0f\n",
                  i + 1, in.records / kIntervalSeconds, in.stream_ms.size(), in.errors,
                  Percentile(in.stream_ms, 0.5), p99[i], rss[i]);
      std::fflush(stdout);
    };
    for (int i = 0; i < count; ++i) {
      std::this_thread::sleep_until(start + std::chrono::milliseconds(
                                                static_cast<int>((i + 1) * kIntervalSeconds * 1000)));
      rss[i] = RssMib();
      if (i > 0) report(i - 1);
    }
    for (auto& t : streams) t.join();
    report(count - 1);
    size_t records = 0, errors = 0;
    for (auto& in : intervals) {
      records += in->records;
      errors += in->errors;
    }
    std::printf("scenario=sustained seconds=%.0f streams=%d batch_size=%zu records=%zu errors=%zu "
                "records_per_s=%.0f rss_first_mib=%.0f rss_last_mib=%.0f rss_max_mib=%.0f "
                "p99_first_ms=%.1f p99_last_ms=%.1f tls=%d\n",
                Seconds(start), config_.concurrency, config_.batch_size, records, errors,
                records / Seconds(start), rss.front(), rss.back(),
                *std::max_element(rss.begin(), rss.end()), p99.front(),
                p99.back(), Tls());
  }

  void Latency() {
    for (int concurrency : {1, config_.concurrency}) {
      std::vector<double> us = Concurrently(concurrency, config_.latency_calls,
                                            [&](size_t i) { return OnePush(i); });
      std::sort(us.begin(), us.end());
      std::printf("scenario=latency concurrency=%d calls=%zu p50_us=%.0f p99_us=%.0f "
                  "max_us=%.0f tls=%d\n",
                  concurrency, us.size(), Percentile(us, 0.50), Percentile(us, 0.99),
                  us.empty() ? 0 : us.back(), Tls());
      WriterReport("latency");
    }
  }

  void Read() {
    const size_t accounts = std::min<size_t>(std::max<size_t>(enrolled_, 10'000), kDistinctIdsMax);
    if (enrolled_ < accounts) EnrolAll(accounts);
    auto stub = v1::AccountService::NewStub(Connect("fund-agency"));
    const auto start = Clock::now();
    std::vector<double> us =
        Concurrently(config_.concurrency, config_.reads, [&](size_t i) {
          grpc::ClientContext context;
          v1::GetAccountRequest request;
          request.set_citizen_id(CitizenId((i * 7919) % accounts));
          v1::Account account;
          const auto t = Clock::now();
          if (auto st = stub->GetAccount(&context, request, &account); !st.ok()) {
            Die(StrCat("read: ", st.error_message()));
          }
          return Seconds(t) * 1e6;
        });
    const double s = Seconds(start);
    std::sort(us.begin(), us.end());
    std::printf("scenario=read concurrency=%d reads=%zu accounts=%zu seconds=%.3f "
                "reads_per_s=%.0f p50_us=%.0f p99_us=%.0f tls=%d\n",
                config_.concurrency, us.size(), accounts, s, us.size() / s,
                Percentile(us, 0.50), Percentile(us, 0.99), Tls());
  }

  // Bytes on disk per event once everything is flushed and fully compacted (embedded only).
  void Disk() {
    if (!embedded_) {
      std::printf("scenario=disk status=skipped reason=needs_embedded_ledger\n");
      return;
    }
    const uint64_t events = ledger_->Head().sequence;
    StopEmbedded();
    {
      auto store = ledger::Store::Open(config_.data_dir);
      if (!store.ok()) Die(std::string(store.status().message()));
      if (auto st = (*store)->CompactAll(); !st.ok()) Die(std::string(st.message()));
    }
    uint64_t bytes = 0;
    for (const auto& f : std::filesystem::recursive_directory_iterator(config_.data_dir)) {
      if (f.is_regular_file()) bytes += f.file_size();
    }
    std::printf("scenario=disk events=%llu bytes=%llu disk_bytes_per_event=%.0f\n",
                static_cast<unsigned long long>(events), static_cast<unsigned long long>(bytes),
                static_cast<double>(bytes) / std::max<uint64_t>(1, events));
    if (!OpenEmbedded()) Die("reopen after compaction");
    channel_ = Connect();
  }

  // Rebuilds every projection from the log of the embedded ledger (stopped first).
  void Replay() {
    if (!embedded_) {
      std::printf("scenario=replay status=skipped reason=needs_embedded_ledger\n");
      return;
    }
    const uint64_t events = ledger_->Head().sequence;
    StopEmbedded();
    const auto start = Clock::now();
    if (auto st = ledger::Ledger::RebuildProjections(config_.data_dir); !st.ok()) {
      Die(StrCat("replay: ", std::string(st.message())));
    }
    const double s = Seconds(start);
    std::printf("scenario=replay events=%llu seconds=%.3f events_per_s=%.0f\n",
                static_cast<unsigned long long>(events), s, events / s);
    if (!OpenEmbedded()) Die("reopen after replay");
    channel_ = Connect();
  }

  // The physical limit: the same keys and bytes per record the ledger writes for an accepted
  // collection (event, idempotency entry, account projection; per commit the ledger-account
  // totals and the chain head), the same column families and options, the same batch size and
  // sync = true; no gRPC, no validation, no reads.
  void StorageLimit() {
    const std::string dir = StrCat(config_.data_dir.empty() ? "/tmp/ledger-bench" : config_.data_dir,
                                   "-storage-limit");
    std::filesystem::remove_all(dir);
    auto store = ledger::Store::Open(dir);
    if (!store.ok()) Die(std::string(store.status().message()));
    const size_t n = std::min(config_.records, kDistinctIdsMax);
    v1::EventEnvelope event;
    event.set_effective_date("2025-03-14");
    event.set_recorded_time_us(1'750'000'000'000'000);
    event.set_actor("CN=tax-bureau-dev,OU=tax-bureau,O=Pension Ledger Dev");
    event.set_region_code(kRegion);
    event.set_policy_version(1);
    event.set_prev_hash(std::string(32, 'h'));
    const auto start = Clock::now();
    for (size_t first = 0; first < n; first += config_.batch_size) {
      rocksdb::WriteBatch batch;
      for (size_t i = first; i < std::min(n, first + config_.batch_size); ++i) {
        const v1::CollectionRecord r = MakeRecord(run_, i);
        event.set_sequence(i + 1);
        event.set_external_ref(r.receipt_number());
        *event.mutable_contribution_collected() =
            ledger::CollectedFrom(r, v1::SUSPENSE_REASON_UNSPECIFIED);
        v1::Account account;
        account.set_citizen_id(r.citizen_id());
        account.set_name(r.name());
        account.set_region_code(kRegion);
        account.set_enrolment_date("2024-12-01");
        account.set_status(v1::PARTICIPANT_STATUS_CONTRIBUTING);
        auto* b = account.add_balances();
        b->set_source(v1::FUNDING_SOURCE_PERSONAL);
        b->set_principal_fen(r.amount_fen());
        account.set_total_fen(r.amount_fen());
        account.set_contribution_years(1);
        auto* y = account.add_contributions();
        y->set_year(2025);
        y->set_amount_fen(r.amount_fen());
        y->set_receipt_number(r.receipt_number());
        account.set_last_sequence(i + 1);
        account.set_enrolled_sequence(i + 1);
        Put(**store, batch, ledger::Cf::kEvents, ledger::keys::Event(i + 1),
            ledger::SerializeDeterministic(event));
        Put(**store, batch, ledger::Cf::kIdempotency, ledger::keys::Receipt(r.receipt_number()),
            ledger::keys::EncodeU64(i + 1) + ledger::keys::EncodeU64(0));
        Put(**store, batch, ledger::Cf::kAccounts, r.citizen_id(), account.SerializeAsString());
      }
      for (const char* account : {"tax_receivable", "individual_accounts/personal", "suspense"}) {
        Put(**store, batch, ledger::Cf::kLedgerAccounts, ledger::keys::LedgerAccount(kRegion, account),
            ledger::keys::EncodeI64(0));
      }
      Put(**store, batch, ledger::Cf::kMeta, std::string(ledger::keys::kLastSequence),
          ledger::keys::EncodeU64(first));
      Put(**store, batch, ledger::Cf::kMeta, std::string(ledger::keys::kChainHead),
          std::string(32, 'h'));
      if (auto st = (*store)->WriteSynced(batch); !st.ok()) Die(std::string(st.message()));
    }
    const double s = Seconds(start);
    limit_records_per_s_ = n / s;
    store->reset();
    std::filesystem::remove_all(dir);
    std::printf("scenario=storage-limit records=%zu batch_size=%zu seconds=%.3f "
                "limit_records_per_s=%.0f\n",
                n, config_.batch_size, s, n / s);
  }

  // The annual interest job for 2025 over every account the ingest scenario filled (it runs
  // ingest first if it has not run): one gRPC RunJob call, timed from request to completion.
  void Interest() {
    if (ingested_ == 0) Ingest();
    v1::JobRequest request;
    request.set_kind(v1::JOB_KIND_INTEREST);
    request.set_region_code(kRegion);
    request.set_period(2025);
    const JobTiming t = RunJob(request);
    std::printf("scenario=interest accounts=%llu accounts_credited=%llu events=%llu seconds=%.3f "
                "accounts_per_s=%.0f\n",
                static_cast<unsigned long long>(t.progress.accounts_scanned()),
                static_cast<unsigned long long>(t.progress.accounts_credited()),
                static_cast<unsigned long long>(t.progress.events()), t.seconds,
                t.progress.accounts_scanned() / t.seconds);
  }

  // A month's benefit run over --pensioners pensioners: enrolled (born 1940–1949, already 60 when
  // the scheme started, so no contribution years are required), each with one contribution,
  // pension determined, basic-pension funds received; then one timed RunJob for January 2026.
  void Benefits() {
    const size_t n = std::min<size_t>(config_.pensioners, 3'360'000);  // distinct PensionerIds
    auto channel = Connect("fund-agency");
    auto accounts = v1::AccountService::NewStub(channel);
    Concurrently(config_.concurrency, n, [&](size_t i) {
      grpc::ClientContext context;
      v1::EnrolRequest request;
      auto* p = request.mutable_participant();
      p->set_citizen_id(PensionerId(i));
      p->set_name("居民");
      p->set_region_code(kRegion);
      p->set_enrolment_date("2024-12-01");
      v1::EnrolResponse response;
      if (auto st = accounts->Enrol(&context, request, &response); !st.ok()) {
        Die(StrCat("enrol pensioner: ", st.error_message()));
      }
      return 0.0;
    });
    auto collections = v1::CollectionService::NewStub(Connect());
    for (size_t first = 0; first < n; first += config_.batch_size) {
      grpc::ClientContext context;
      v1::PushCollectionsRequest request;
      for (size_t i = first; i < std::min(n, first + config_.batch_size); ++i) {
        v1::CollectionRecord r = MakeRecord(StrCat(run_, "P"), i);
        r.set_citizen_id(PensionerId(i));
        *request.add_records() = std::move(r);
      }
      v1::PushCollectionsResponse response;
      if (auto st = collections->PushCollections(&context, request, &response); !st.ok()) {
        Die(StrCat("pensioner contributions: ", st.error_message()));
      }
    }
    const auto determine_start = Clock::now();
    Concurrently(config_.concurrency, n, [&](size_t i) {
      grpc::ClientContext context;
      v1::DetermineBenefitRequest request;
      request.set_citizen_id(PensionerId(i));
      request.set_date("2026-01-05");
      request.set_document_ref(StrCat(run_, "D", i));
      v1::CommandResponse response;
      if (auto st = accounts->DetermineBenefit(&context, request, &response); !st.ok()) {
        Die(StrCat("determine benefit: ", st.error_message()));
      }
      return 0.0;
    });
    const double determine_s = Seconds(determine_start);
    {
      auto funds = v1::FundService::NewStub(channel);
      grpc::ClientContext context;
      v1::ReceiveFiscalFundsRequest request;
      request.set_region_code(kRegion);
      request.set_purpose(v1::FISCAL_PURPOSE_BASIC_PENSION);
      request.set_year(2026);
      request.set_amount_fen(static_cast<int64_t>(n) * 100'000);  // ≥ any month's basic pension
      request.set_date("2026-01-05");
      request.set_document_ref(StrCat(run_, "FUNDS"));
      v1::CommandResponse response;
      if (auto st = funds->ReceiveFiscalFunds(&context, request, &response); !st.ok()) {
        Die(StrCat("fiscal funds: ", st.error_message()));
      }
    }
    v1::JobRequest request;
    request.set_kind(v1::JOB_KIND_BENEFITS);
    request.set_region_code(kRegion);
    request.set_period(202601);
    request.set_date("2026-01-10");
    const JobTiming t = RunJob(request);
    std::printf("scenario=benefits pensioners=%zu accounts=%llu paid=%llu seconds=%.3f "
                "accounts_per_s=%.0f determinations_per_s=%.0f\n",
                n, static_cast<unsigned long long>(t.progress.accounts_scanned()),
                static_cast<unsigned long long>(t.progress.accounts_credited()), t.seconds,
                t.progress.accounts_scanned() / t.seconds, n / determine_s);
  }

  // What the group-commit writer did during the run (embedded only).
  void WriterReport(const char* after) {
    if (!embedded_) return;
    const ledger::WriterStats w = ledger_->Stats();
    const auto d = [&](uint64_t now, uint64_t before) { return static_cast<double>(now - before); };
    const double commits = std::max(1.0, d(w.commits, last_.commits));
    std::printf("writer after=%s commits=%.0f commands_per_commit=%.1f events_per_commit=%.1f "
                "commit_ms_avg=%.2f\n",
                after, d(w.commits, last_.commits), d(w.commands, last_.commands) / commits,
                d(w.events, last_.events) / commits, d(w.commit_us, last_.commit_us) / commits / 1e3);
    last_ = w;
  }

  void Summary() {
    if (ingest_records_per_s_ > 0 && limit_records_per_s_ > 0) {
      std::printf("scenario=summary ingest_records_per_s=%.0f limit_records_per_s=%.0f "
                  "ingest_fraction_of_limit=%.3f\n",
                  ingest_records_per_s_, limit_records_per_s_,
                  ingest_records_per_s_ / limit_records_per_s_);
    }
  }

 private:
  [[noreturn]] static void Die(const std::string& why) {
    std::fprintf(stderr, "ledger-bench: %s\n", why.c_str());
    std::exit(1);
  }

  static void Put(const ledger::Store& store, rocksdb::WriteBatch& batch, ledger::Cf cf,
                  const std::string& key, const std::string& value) {
    if (!batch.Put(store.handle(cf), key, value).ok()) Die("WriteBatch::Put");
  }

  int Tls() const { return config_.tls_dir.empty() ? 0 : 1; }

  bool OpenEmbedded() {
    auto ledger = ledger::Ledger::Open({.data_dir = config_.data_dir,
                                        .verify_chain_on_open = false});
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

  void StopEmbedded() {
    if (!embedded_) return;
    channel_.reset();
    server_.server->Shutdown();
    server_ = services::RunningServer();
    ledger_.reset();
    config_.server.clear();
    embedded_ = false;
  }

  struct JobTiming {
    v1::JobProgress progress;
    double seconds = 0;
  };
  JobTiming RunJob(const v1::JobRequest& request) {
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

  // Pensioner number `n`: born 1940–1949 (60 before the scheme's 2009 start).
  static std::string PensionerId(size_t n) {
    const int year = 1940 + static_cast<int>(n % 10);
    const int month = 1 + static_cast<int>((n / 10) % 12);
    const int day = 1 + static_cast<int>((n / 120) % 28);
    const size_t serial = (n / 3'360) % 1000;
    char first17[18];
    std::snprintf(first17, sizeof first17, "%s%04d%02d%02d%03zu", kRegion, year, month, day,
                  serial);
    return std::string(first17, 17) + ledger::CitizenIdCheckChar(first17);
  }

  // One channel per role is not needed: in embedded plain-text mode every caller has every role;
  // with TLS, a role's certificate is chosen per call kind below.
  std::shared_ptr<grpc::Channel> Connect(std::string_view role = "tax-bureau") const {
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(64 * 1024 * 1024);
    // Separate channels keep concurrent benchmark threads from sharing one HTTP/2 connection.
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    if (config_.tls_dir.empty()) {
      return grpc::CreateCustomChannel(config_.server, grpc::InsecureChannelCredentials(), args);
    }
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = ReadFile(StrCat(config_.tls_dir, "/ca.crt"));
    ssl.pem_cert_chain = ReadFile(StrCat(config_.tls_dir, "/", role, ".crt"));
    ssl.pem_private_key = ReadFile(StrCat(config_.tls_dir, "/", role, ".key"));
    return grpc::CreateCustomChannel(config_.server, grpc::SslCredentials(ssl), args);
  }

  bool AdoptPolicy() {
    auto policy = ledger::ParsePolicyJson(ReadFile(config_.policy_file));
    if (!policy.ok()) {
      std::cerr << "ledger-bench: " << config_.policy_file << ": " << policy.status() << "\n";
      return false;
    }
    auto stub = v1::PolicyService::NewStub(Connect("admin"));
    grpc::ClientContext context;
    v1::AdoptPolicyRequest request;
    *request.mutable_policy() = *policy;
    v1::AdoptPolicyResponse response;
    if (auto st = stub->AdoptPolicy(&context, request, &response); !st.ok()) {
      std::cerr << "ledger-bench: adopt policy: " << st.error_message() << "\n";
      return false;
    }
    return true;
  }

  // Enrols participants [enrolled_, n) with `concurrency` callers; returns the seconds it took.
  double EnrolAll(size_t n) {
    const auto start = Clock::now();
    if (n > enrolled_) {
      auto channel = Connect("fund-agency");
      auto stub = v1::AccountService::NewStub(channel);
      const size_t from = enrolled_;
      Concurrently(config_.concurrency, n - from, [&](size_t i) {
        grpc::ClientContext context;
        v1::EnrolRequest request;
        auto* p = request.mutable_participant();
        p->set_citizen_id(CitizenId(from + i));
        p->set_name("居民");
        p->set_region_code(kRegion);
        p->set_enrolment_date("2024-12-01");
        v1::EnrolResponse response;
        if (auto st = stub->Enrol(&context, request, &response); !st.ok()) {
          Die(StrCat("enrol: ", st.error_message()));
        }
        return 0.0;
      });
      enrolled_ = n;
    }
    return std::max(Seconds(start), 1e-9);
  }

  // A single-record unary push of a fresh receipt (suspense unless enrolled); its latency in µs.
  double OnePush(size_t i) {
    thread_local std::unique_ptr<v1::CollectionService::Stub> stub;
    if (!stub) {
      // Each caller connects (TLS handshake included) before its first call is timed.
      auto channel = Connect();
      if (!channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(30))) {
        Die("cannot connect");
      }
      stub = v1::CollectionService::NewStub(channel);
    }
    grpc::ClientContext context;
    v1::PushCollectionsRequest request;
    *request.add_records() = MakeRecord(StrCat(run_, "L", latency_round_), kDistinctIdsMax - 1 - i);
    v1::PushCollectionsResponse response;
    const auto t = Clock::now();
    if (auto st = stub->PushCollections(&context, request, &response); !st.ok()) {
      Die(StrCat("latency push: ", st.error_message()));
    }
    return Seconds(t) * 1e6;
  }

  // Runs `calls` invocations of `f(i)` across `threads` threads; returns every result.
  std::vector<double> Concurrently(int threads, size_t calls,
                                   const std::function<double(size_t)>& f) {
    ++latency_round_;
    std::atomic<size_t> next{0};
    std::vector<std::vector<double>> results(threads);
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] {
        for (size_t i; (i = next.fetch_add(1)) < calls;) results[t].push_back(f(i));
      });
    }
    for (auto& t : pool) t.join();
    std::vector<double> all;
    for (auto& r : results) all.insert(all.end(), r.begin(), r.end());
    return all;
  }

  Config config_;
  std::string run_;
  bool owns_data_dir_ = false;
  bool embedded_ = false;
  std::unique_ptr<ledger::Ledger> ledger_;
  services::RunningServer server_;
  std::shared_ptr<grpc::Channel> channel_;
  size_t enrolled_ = 0;
  size_t ingested_ = 0;
  int latency_round_ = 0;
  ledger::WriterStats last_;
  double ingest_records_per_s_ = 0;
  double limit_records_per_s_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ledger-bench: measure the pension ledger through gRPC"};
  Config config;
  std::string scenario;
  app.add_option("scenario", scenario,
                 "ingest|latency|read|replay|disk|storage-limit|interest|benefits|all|sustained")
      ->required()
      ->check(CLI::IsMember({"ingest", "latency", "read", "replay", "disk", "storage-limit",
                             "interest", "benefits", "all", "sustained"}));
  app.add_option("--server", config.server, "drive a running ledgerd (default: start one here)");
  app.add_option("--tls-dir", config.tls_dir,
                 "mutual TLS with make-dev-certs.sh's files (default: plain text, embedded only)");
  app.add_option("--data-dir", config.data_dir, "embedded ledger's data directory (default: temp)");
  app.add_option("--policy", config.policy_file, "policy JSON to adopt")->capture_default_str();
  app.add_option("--records", config.records, "records to ingest")->capture_default_str();
  app.add_option("--batch-size", config.batch_size, "records per stream message and per commit")
      ->check(CLI::Range(size_t{1}, ledger::kBatchRecordsMax))
      ->capture_default_str();
  app.add_option("--latency-calls", config.latency_calls, "unary pushes per concurrency level")
      ->capture_default_str();
  app.add_option("--reads", config.reads, "account reads")->capture_default_str();
  app.add_option("--pensioners", config.pensioners, "pensioners in the benefits scenario")
      ->capture_default_str();
  app.add_option("--concurrency", config.concurrency, "concurrent callers")->capture_default_str();
  app.add_option("--seconds", config.seconds, "sustained: how long, in seconds (10 s intervals)")
      ->check(CLI::Range(10, 86'400))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  // Debian's abseil checks every absl::Mutex acquisition for lock-order cycles (gRPC takes many);
  // that is a debugging aid, measurably costly on the request path.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  spdlog::set_level(spdlog::level::warn);  // no per-call log lines in the measurement

  Bench bench(config);
  if (!bench.Start()) return 1;
  const bool all = scenario == "all";
  if (all || scenario == "storage-limit" || scenario == "ingest") bench.StorageLimit();
  if (all || scenario == "ingest" || scenario == "replay" || scenario == "disk") bench.Ingest();
  if (all || scenario == "latency") bench.Latency();
  if (all || scenario == "read") bench.Read();
  if (all || scenario == "interest") bench.Interest();
  if (all || scenario == "benefits") bench.Benefits();
  if (all || scenario == "replay") bench.Replay();
  if (all || scenario == "disk") bench.Disk();
  if (scenario == "sustained") bench.Sustained();
  bench.Summary();
  return 0;
}
