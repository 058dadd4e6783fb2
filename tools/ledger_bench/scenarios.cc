// ledger-bench's scenarios: what each measures and the one `scenario=` line it prints.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "ledger/limits.h"
#include "ledger/strings.h"
#include "tests/support/bulk_log.h"
#include "tools/ledger_bench/bench.h"
#include "tools/ledger_bench/in_flight.h"

namespace bench {

using ledger::StrCat;

void Bench::Ingest() {
  const size_t n = std::min(config_.records, kDistinctIdsMax);
  const double enrol_s = EnrolAll(n);
  WriterReport("enrol");
  auto stub = v1::CollectionService::NewStub(channel_);
  const auto start = Clock::now();
  const double cpu_start = CpuSeconds();
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
  const double cpu_s = CpuSeconds() - cpu_start;
  ingest_records_per_s_ = n / s;
  ingested_ = n;
  WriterReport("ingest");
  std::printf(
      "scenario=ingest records=%zu batch_size=%zu accepted=%zu not_accepted=%zu "
      "seconds=%.3f ingest_records_per_s=%.0f cpu_us_per_record=%.1f enrol_per_s=%.0f tls=%d\n",
      n, config_.batch_size, accepted, other, s, n / s, cpu_s * 1e6 / n, n / enrol_s, Tls());
}

// One 10 s interval of the sustained run: the streams that ended in it.
struct Bench::Interval {
  absl::Mutex mu;
  std::vector<double> stream_ms;
  size_t records = 0, errors = 0;
};

namespace {
constexpr double kIntervalSeconds = 10;
}  // namespace

void Bench::SustainedCaller(int caller, Clock::time_point start, Clock::time_point deadline,
                            std::vector<std::unique_ptr<Interval>>& intervals) {
  constexpr int kMessagesPerStream = 4;
  const int count = static_cast<int>(intervals.size());
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
        v1::CollectionRecord r = MakeRecord(StrCat(run_, "S", caller, "-", round, "-", m, "-"), j);
        *message.add_records() = std::move(r);
      }
      if (!writer->Write(message)) break;
    }
    writer->WritesDone();
    const grpc::Status st = writer->Finish();
    const auto end = Clock::now();
    const int slot = std::min(
        count - 1,
        static_cast<int>(std::chrono::duration<double>(end - start).count() / kIntervalSeconds));
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
}

// Sustained load: `concurrency` client streams push collections back to back for `seconds`
// (each stream: 4 messages of batch_size records, then the next stream). One line per 10 s
// interval (records/s, errors, stream latency p50/p99, RSS), then the summary line: no errors,
// memory flat and latency stable is the pass mark, read by a person (not CI).
void Bench::Sustained() {
  std::vector<std::unique_ptr<Interval>> intervals;
  const int count = std::max(1, static_cast<int>(config_.seconds / kIntervalSeconds));
  for (int i = 0; i < count; ++i) intervals.push_back(std::make_unique<Interval>());
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::seconds(count * static_cast<int>(kIntervalSeconds));
  std::vector<std::thread> streams;
  for (int t = 0; t < config_.concurrency; ++t) {
    streams.emplace_back([&, t] { SustainedCaller(t, start, deadline, intervals); });
  }
  std::vector<double> rss(count), p99(count);
  // Interval i is reported once it is over (a stream counts in the interval it ends in; the
  // last one also takes the streams still running at the deadline).
  auto report = [&](int i) {
    Interval& in = *intervals[i];
    absl::MutexLock lock(&in.mu);
    std::sort(in.stream_ms.begin(), in.stream_ms.end());
    p99[i] = Percentile(in.stream_ms, 0.99);
    std::printf(
        "sustained interval=%d records_per_s=%.0f streams=%zu errors=%zu p50_ms=%.1f "
        "p99_ms=%.1f rss_mib=%.0f\n",
        i + 1, in.records / kIntervalSeconds, in.stream_ms.size(), in.errors,
        Percentile(in.stream_ms, 0.5), p99[i], rss[i]);
    std::fflush(stdout);
  };
  for (int i = 0; i < count; ++i) {
    std::this_thread::sleep_until(
        start + std::chrono::milliseconds(static_cast<int>((i + 1) * kIntervalSeconds * 1000)));
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
  std::printf(
      "scenario=sustained seconds=%.0f streams=%d batch_size=%zu records=%zu errors=%zu "
      "records_per_s=%.0f rss_first_mib=%.0f rss_last_mib=%.0f rss_max_mib=%.0f "
      "p99_first_ms=%.1f p99_last_ms=%.1f tls=%d\n",
      Seconds(start), config_.concurrency, config_.batch_size, records, errors,
      records / Seconds(start), rss.front(), rss.back(), *std::max_element(rss.begin(), rss.end()),
      p99.front(), p99.back(), Tls());
}

// Single-record unary pushes of fresh receipts (suspense: nobody is enrolled under these IDs),
// at concurrency 1 and then --concurrency.
void Bench::Latency() {
  const auto stubs = StubsOf<v1::CollectionService>(Callers());
  for (int concurrency : {1, config_.concurrency}) {
    const std::string run = StrCat(run_, "L", ++latency_round_);
    std::vector<double> us = InFlight<v1::PushCollectionsRequest, v1::PushCollectionsResponse>(
        concurrency, config_.latency_calls,
        [&](size_t i, v1::PushCollectionsRequest* request) {
          *request->add_records() = MakeRecord(run, kDistinctIdsMax - 1 - i);
        },
        [&](size_t i, grpc::ClientContext* context, const v1::PushCollectionsRequest* request,
            v1::PushCollectionsResponse* response, std::function<void(grpc::Status)> done) {
          stubs[i % stubs.size()]->async()->PushCollections(context, request, response,
                                                            std::move(done));
        },
        "latency push");
    std::sort(us.begin(), us.end());
    std::printf(
        "scenario=latency concurrency=%d calls=%zu p50_us=%.0f p99_us=%.0f "
        "max_us=%.0f tls=%d\n",
        concurrency, us.size(), Percentile(us, 0.50), Percentile(us, 0.99),
        us.empty() ? 0 : us.back(), Tls());
    WriterReport("latency");
  }
}

void Bench::Read() {
  const size_t accounts = std::min<size_t>(std::max<size_t>(enrolled_, 10'000), kDistinctIdsMax);
  if (enrolled_ < accounts) EnrolAll(accounts);
  const auto stubs = StubsOf<v1::AccountService>(Callers("fund-agency"));
  std::vector<std::string> ids;  // made before the clock starts: the server's cores are shared
  for (size_t n = 0; n < accounts; ++n) ids.push_back(CitizenId(n));
  const auto start = Clock::now();
  std::vector<double> us = InFlight<v1::GetAccountRequest, v1::Account>(
      config_.concurrency, config_.reads,
      [&](size_t i, v1::GetAccountRequest* request) {
        request->set_citizen_id(ids[(i * 7919) % accounts]);
      },
      [&](size_t i, grpc::ClientContext* context, const v1::GetAccountRequest* request,
          v1::Account* account, std::function<void(grpc::Status)> done) {
        stubs[i % stubs.size()]->async()->GetAccount(context, request, account, std::move(done));
      },
      "read");
  const double s = Seconds(start);
  std::sort(us.begin(), us.end());
  std::printf(
      "scenario=read concurrency=%d reads=%zu accounts=%zu seconds=%.3f "
      "reads_per_s=%.0f p50_us=%.0f p99_us=%.0f tls=%d\n",
      config_.concurrency, us.size(), accounts, s, us.size() / s, Percentile(us, 0.50),
      Percentile(us, 0.99), Tls());
}

// Bytes on disk per event once everything is flushed and fully compacted (embedded only).
void Bench::Disk() {
  uint64_t events = 0;
  if (!StopForOffline("disk", events)) return;
  if (auto st = ledger::testing::CompactStore(config_.data_dir); !st.ok()) {
    Die(std::string(st.message()));
  }
  uint64_t bytes = 0;
  for (const auto& f : std::filesystem::recursive_directory_iterator(config_.data_dir)) {
    if (f.is_regular_file()) bytes += f.file_size();
  }
  std::printf("scenario=disk events=%llu bytes=%llu disk_bytes_per_event=%.0f\n",
              static_cast<unsigned long long>(events), static_cast<unsigned long long>(bytes),
              static_cast<double>(bytes) / std::max<uint64_t>(1, events));
  Reopen("compaction");
}

// Rebuilds every projection from the log of the embedded ledger (stopped first).
void Bench::Replay() {
  uint64_t events = 0;
  if (!StopForOffline("replay", events)) return;
  const auto start = Clock::now();
  if (auto st = ledger::Ledger::RebuildProjections(config_.data_dir); !st.ok()) {
    Die(StrCat("replay: ", std::string(st.message())));
  }
  const double s = Seconds(start);
  std::printf("scenario=replay events=%llu seconds=%.3f events_per_s=%.0f\n",
              static_cast<unsigned long long>(events), s, events / s);
  Reopen("replay");
}

// The physical limit: the same keys and bytes per record the ledger writes for an accepted
// collection, the same column families and options, the same batch size and sync = true; no
// gRPC, no validation, no reads (tests/support/bulk_log.h).
void Bench::StorageLimit() {
  const std::string dir =
      StrCat(config_.data_dir.empty() ? "/tmp/ledger-bench" : config_.data_dir, "-storage-limit");
  std::filesystem::remove_all(dir);
  auto writer = ledger::testing::BulkLogWriter::Open(dir, kRegion);
  if (!writer.ok()) Die(std::string(writer.status().message()));
  const size_t n = std::min(config_.records, kDistinctIdsMax);
  const auto start = Clock::now();
  const double cpu_start = CpuSeconds();
  std::vector<v1::CollectionRecord> batch;
  for (size_t first = 0; first < n; first += config_.batch_size) {
    batch.clear();
    for (size_t i = first; i < std::min(n, first + config_.batch_size); ++i) {
      batch.push_back(MakeRecord(run_, i));
    }
    if (auto st = (*writer)->WriteBatch(batch, first + 1); !st.ok()) {
      Die(std::string(st.message()));
    }
  }
  const double s = Seconds(start);
  const double cpu_s = CpuSeconds() - cpu_start;
  limit_records_per_s_ = n / s;
  writer->reset();
  std::filesystem::remove_all(dir);
  std::printf(
      "scenario=storage-limit records=%zu batch_size=%zu seconds=%.3f "
      "limit_records_per_s=%.0f cpu_us_per_record=%.1f\n",
      n, config_.batch_size, s, n / s, cpu_s * 1e6 / n);
}

// The annual interest job for 2025 over every account the ingest scenario filled (it runs
// ingest first if it has not run): one gRPC RunJob call, timed from request to completion.
void Bench::Interest() {
  if (ingested_ == 0) Ingest();
  v1::JobRequest request;
  request.set_kind(v1::JOB_KIND_INTEREST);
  request.set_region_code(kRegion);
  request.set_period(2025);
  const JobTiming t = RunJob(request);
  std::printf(
      "scenario=interest accounts=%llu accounts_credited=%llu events=%llu seconds=%.3f "
      "accounts_per_s=%.0f\n",
      static_cast<unsigned long long>(t.progress.accounts_scanned()),
      static_cast<unsigned long long>(t.progress.accounts_credited()),
      static_cast<unsigned long long>(t.progress.events()), t.seconds,
      t.progress.accounts_scanned() / t.seconds);
}

double Bench::PreparePensioners(size_t n) {
  Enrol(n, PensionerId, "enrol pensioner");
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
  const auto accounts = StubsOf<v1::AccountService>(Callers("fund-agency"));
  const auto determine_start = Clock::now();
  InFlight<v1::DetermineBenefitRequest, v1::CommandResponse>(
      config_.concurrency, n,
      [&](size_t i, v1::DetermineBenefitRequest* request) {
        request->set_citizen_id(PensionerId(i));
        request->set_date("2026-01-05");
        request->set_document_ref(StrCat(run_, "D", i));
      },
      [&](size_t i, grpc::ClientContext* context, const v1::DetermineBenefitRequest* request,
          v1::CommandResponse* response, std::function<void(grpc::Status)> done) {
        accounts[i % accounts.size()]->async()->DetermineBenefit(context, request, response,
                                                                 std::move(done));
      },
      "determine benefit");
  return Seconds(determine_start);
}

// A month's benefit run over --pensioners pensioners: enrolled (born 1940–1949, already 60 when
// the scheme started, so no contribution years are required), each with one contribution,
// pension determined, basic-pension funds received; then one timed RunJob for January 2026.
void Bench::Benefits() {
  const size_t n = std::min<size_t>(config_.pensioners, kDistinctPensionerIdsMax);
  const double determine_s = PreparePensioners(n);
  {
    auto funds = v1::FundService::NewStub(Connect("fund-agency"));
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
    // The payment account must hold the whole run: sweep the funds into it.
    grpc::ClientContext sweep_context;
    v1::TransferBetweenFundAccountsRequest sweep;
    sweep.set_region_code(kRegion);
    sweep.set_from_account(v1::BANK_ACCOUNT_SPECIAL);
    sweep.set_to_account(v1::BANK_ACCOUNT_PAYMENT);
    sweep.set_amount_fen(request.amount_fen());
    sweep.set_date("2026-01-05");
    sweep.set_document_ref(StrCat(run_, "SWEEP"));
    if (auto st = funds->TransferBetweenFundAccounts(&sweep_context, sweep, &response); !st.ok()) {
      Die(StrCat("sweep: ", st.error_message()));
    }
  }
  v1::JobRequest request;
  request.set_kind(v1::JOB_KIND_BENEFITS);
  request.set_region_code(kRegion);
  request.set_period(202601);
  request.set_date("2026-01-10");
  const JobTiming t = RunJob(request);
  std::printf(
      "scenario=benefits pensioners=%zu accounts=%llu paid=%llu seconds=%.3f "
      "accounts_per_s=%.0f determinations_per_s=%.0f\n",
      n, static_cast<unsigned long long>(t.progress.accounts_scanned()),
      static_cast<unsigned long long>(t.progress.accounts_credited()), t.seconds,
      t.progress.accounts_scanned() / t.seconds, n / determine_s);
}

}  // namespace bench
