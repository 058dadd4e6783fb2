// Test support for the gRPC seam: one ledger on a temporary RocksDB directory, served in plain
// text on a loopback port with a clock fixed at 2026-11-20, with stubs and helpers for every
// service; the "paper" policy (Sun, Su & Xian 2020); valid citizen IDs; collection records.
#ifndef TESTS_GRPC_NODE_H_
#define TESTS_GRPC_NODE_H_

#include <google/protobuf/util/message_differencer.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "grpcpp/grpcpp.h"
#include "ledger/citizen_id.h"
#include "ledger/ledger.h"
#include "ledger/strings.h"
#include "ledger/v1/services.grpc.pb.h"
#include "services/services.h"

namespace ledger_test {

namespace v1 = ledger::v1;
using ::google::protobuf::util::MessageDifferencer;
using ::ledger::StrCat;

constexpr char kRegion[] = "222401";
constexpr char kRegion2[] = "222402";  // a second region with its own policy

// 2026-11-20 12:00 UTC = 20:00 in Beijing: "today" is 2026-11-20.
inline int64_t NowUs() {
  return absl::ToUnixMicros(
      absl::FromCivil(absl::CivilSecond(2026, 11, 20, 12, 0, 0), absl::UTCTimeZone()));
}

constexpr int64_t kBasic = 8800;           // basic pension, fen per month
constexpr int64_t kFuneralFixed = 120000;  // funeral subsidy: 1200 yuan + 10 × basic pension

// The paper's assumptions as a policy: tiers 100 (+30) and 500 (+60) yuan, 1.5 %, divisor 139,
// basic pension 88 yuan from 2009, Yanji's funeral rule, years 2009–2026.
inline v1::Policy PaperPolicy(const std::string& region = kRegion, bool back_pay = true) {
  v1::Policy p;
  p.set_region_code(region);
  p.set_region_name(StrCat("paper ", region));
  p.set_version(1);
  p.set_effective_from("2009-01-01");
  p.set_source_documents("Sun, Su & Xian 2020, Table 3");
  p.set_account_pension_divisor(139);
  p.set_scheme_start_year(2009);
  p.set_collective_requires_contribution(true);
  p.set_back_pay_on_resumption(back_pay);
  p.set_exhausted_account_payer("pooled_account_pension");
  for (int year = 2009; year <= 2026; ++year) {
    v1::YearRules* y = p.add_years();
    y->set_year(year);
    v1::Tier* t = y->add_tiers();
    t->set_amount_fen(10000);
    t->set_government_subsidy_fen(3000);
    t = y->add_tiers();
    t->set_amount_fen(50000);
    t->set_government_subsidy_fen(6000);
    y->set_highest_tier_fen(200000);
    y->set_interest_rate_bp(150);
  }
  v1::BasicPensionRule* b = p.add_basic_pension();
  b->set_effective_from("2009-01-01");
  b->set_central_monthly_fen(kBasic);
  p.mutable_funeral_subsidy()->set_fixed_fen(kFuneralFixed);
  p.mutable_funeral_subsidy()->set_basic_pension_months(10);
  return p;
}

// A valid citizen ID with the given birth date (YYYYMMDD), sequence and region prefix.
inline std::string Id(std::string_view birth, std::string_view sequence = "123",
               std::string_view region = kRegion) {
  const std::string first17 = StrCat(region, birth, sequence);
  return first17 + ledger::CitizenIdCheckChar(first17);
}

// The same ID with a wrong check character.
inline std::string BadCheck(const std::string& id) {
  std::string bad = id;
  bad.back() = bad.back() == '0' ? '1' : '0';
  return bad;
}

// "YYYY-MM-DD" for day `day` of month `yyyymm`.
inline std::string DayOf(int yyyymm, int day) {
  char buffer[48];
  std::snprintf(buffer, sizeof buffer, "%04d-%02d-%02d", yyyymm / 100, yyyymm % 100, day);
  return buffer;
}

inline std::string ReasonOf(const grpc::ClientContext& context) {
  const auto& trailers = context.GetServerTrailingMetadata();
  auto it = trailers.find(services::kReasonMetadataKey);
  return it == trailers.end() ? std::string() : std::string(it->second.data(), it->second.size());
}

// A finished RPC: its status and the machine-readable reason from the trailers.
struct Rpc {
  grpc::Status status;
  std::string reason;
  bool ok() const { return status.ok(); }
};

inline std::string Describe(const Rpc& r) {
  return StrCat(static_cast<int>(r.status.error_code()), " ", r.reason, " ",
                r.status.error_message());
}

inline int64_t At(const std::map<std::string, int64_t>& balances, const std::string& key) {
  auto it = balances.find(key);
  return it == balances.end() ? 0 : it->second;
}

// Σ of the balances whose key starts with `prefix`.
inline int64_t SumPrefix(const std::map<std::string, int64_t>& balances, std::string_view prefix) {
  int64_t sum = 0;
  for (const auto& [key, value] : balances) {
    if (key.starts_with(prefix)) sum += value;
  }
  return sum;
}

inline int64_t SourceFen(const v1::Account& a, v1::FundingSource source) {
  for (const v1::SourceBalance& b : a.balances()) {
    if (b.source() == source) return b.principal_fen() + b.interest_fen();
  }
  return 0;
}

// The interest credited to `source` for `year` (posted plus adjustments).
inline int64_t YearInterest(const v1::Account& a, int year, v1::FundingSource source) {
  for (const v1::AccountYear& y : a.years()) {
    if (y.year() != year) continue;
    for (const v1::SourceYear& s : y.sources()) {
      if (s.source() == source) return s.interest_fen();
    }
  }
  return 0;
}

inline int64_t YearInterestTotal(const v1::Account& a, int year) {
  int64_t sum = 0;
  for (const v1::AccountYear& y : a.years()) {
    if (y.year() != year) continue;
    for (const v1::SourceYear& s : y.sources()) sum += s.interest_fen();
  }
  return sum;
}

inline ::testing::AssertionResult ProtoEquals(const google::protobuf::Message& expected,
                                       const google::protobuf::Message& actual) {
  std::string diff;
  MessageDifferencer differencer;
  differencer.ReportDifferencesToString(&diff);
  if (differencer.Compare(expected, actual)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << diff;
}

inline v1::CollectionRecord AddRecord(const std::string& receipt, const std::string& id, int year,
                               int64_t fen, const std::string& date,
                               const std::string& region = kRegion) {
  v1::CollectionRecord r;
  r.set_record_type(v1::RECORD_TYPE_ADD);
  r.set_receipt_number(receipt);
  r.set_citizen_id(id);
  r.set_name("孙");
  r.set_region_code(region);
  r.set_contribution_year(year);
  r.set_amount_fen(fen);
  r.set_collection_date(date);
  r.set_tax_office("22240100");
  r.set_batch_id("BATCH-1");
  return r;
}

// One ledger in its own temporary directory, served on a free loopback port, with stubs.
class Node {
 public:
  explicit Node(std::string dir) : dir_(std::move(dir)) {}
  ~Node() {
    Stop();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  // Opens the ledger (from scratch unless `reopen`: then from what the directory holds,
  // verifying the whole chain) and serves it.
  void Start(bool reopen = false) {
    if (!reopen) std::filesystem::remove_all(dir_);
    auto opened =
        ledger::Ledger::Open({.data_dir = dir_, .verify_chain_on_open = true, .clock_us = NowUs});
    ASSERT_TRUE(opened.ok()) << opened.status();
    ledger_ = *std::move(opened);
    auto running = services::StartServer(
        *ledger_, {.listen_address = "127.0.0.1:0", .insecure_plaintext = true});
    ASSERT_TRUE(running.ok()) << running.status();
    server_ = std::make_unique<services::RunningServer>(*std::move(running));
    ASSERT_GT(server_->port, 0);
    auto channel = grpc::CreateChannel(StrCat("127.0.0.1:", server_->port),
                                       grpc::InsecureChannelCredentials());
    collections_ = v1::CollectionService::NewStub(channel);
    accounts_ = v1::AccountService::NewStub(channel);
    policies_ = v1::PolicyService::NewStub(channel);
    funds_ = v1::FundService::NewStub(channel);
  }

  void Stop() {
    collections_.reset();
    accounts_.reset();
    policies_.reset();
    funds_.reset();
    if (server_ != nullptr) {
      server_->server->Shutdown();
      server_->server->Wait();
      server_.reset();
    }
    ledger_.reset();
  }

  void Restart() {
    Stop();
    Start(/*reopen=*/true);
  }

  ledger::ChainHead Head() const { return ledger_->Head(); }
  ledger::Ledger& ledger() { return *ledger_; }

  void Adopt(const v1::Policy& policy) {
    grpc::ClientContext context;
    v1::AdoptPolicyRequest request;
    *request.mutable_policy() = policy;
    v1::AdoptPolicyResponse response;
    grpc::Status status = policies_->AdoptPolicy(&context, request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }

  void Enrol(const std::string& id, const std::string& date, const std::string& region = kRegion) {
    grpc::ClientContext context;
    v1::EnrolRequest request;
    v1::ParticipantEnrolled* p = request.mutable_participant();
    p->set_citizen_id(id);
    p->set_name("孙");
    p->set_region_code(region);
    p->set_enrolment_date(date);
    v1::EnrolResponse response;
    grpc::Status status = accounts_->Enrol(&context, request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    ASSERT_FALSE(response.duplicate());
  }

  v1::PushCollectionsResponse Push(const std::vector<v1::CollectionRecord>& records) {
    grpc::ClientContext context;
    v1::PushCollectionsRequest request;
    for (const v1::CollectionRecord& r : records) *request.add_records() = r;
    v1::PushCollectionsResponse response;
    grpc::Status status = collections_->PushCollections(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  // Pushes records that must all be accepted; returns their sequences.
  std::vector<uint64_t> PushAccepted(const std::vector<v1::CollectionRecord>& records) {
    const v1::PushCollectionsResponse response = Push(records);
    std::vector<uint64_t> sequences;
    EXPECT_EQ(response.outcomes_size(), static_cast<int>(records.size()));
    for (const v1::RecordOutcome& o : response.outcomes()) {
      EXPECT_EQ(o.outcome(), v1::OUTCOME_ACCEPTED)
          << v1::Outcome_Name(o.outcome()) << " " << o.detail();
      sequences.push_back(o.sequence());
    }
    return sequences;
  }

  // Any AccountService command with a CommandResponse.
  template <typename Request>
  Rpc Call(grpc::Status (v1::AccountService::Stub::*method)(grpc::ClientContext*, const Request&,
                                                            v1::CommandResponse*),
           const Request& request, v1::CommandResponse* response) {
    grpc::ClientContext context;
    grpc::Status status = (accounts_.get()->*method)(&context, request, response);
    return {status, ReasonOf(context)};
  }

  Rpc Collective(const v1::CreditCollectiveSubsidyRequest& r, v1::CommandResponse* out) {
    return Call(&v1::AccountService::Stub::CreditCollectiveSubsidy, r, out);
  }
  Rpc Refund(const v1::RefundContributionRequest& r, v1::CommandResponse* out) {
    return Call(&v1::AccountService::Stub::RefundContribution, r, out);
  }
  Rpc Determine(const v1::DetermineBenefitRequest& r, v1::CommandResponse* out) {
    return Call(&v1::AccountService::Stub::DetermineBenefit, r, out);
  }
  Rpc Suspend(const v1::SuspendBenefitRequest& r, v1::CommandResponse* out) {
    return Call(&v1::AccountService::Stub::SuspendBenefit, r, out);
  }
  Rpc Resume(const v1::ResumeBenefitRequest& r, v1::CommandResponse* out) {
    return Call(&v1::AccountService::Stub::ResumeBenefit, r, out);
  }
  Rpc Death(const v1::RecordDeathRequest& r, v1::CommandResponse* out) {
    return Call(&v1::AccountService::Stub::RecordDeath, r, out);
  }
  Rpc TransferOut(const v1::TransferOutRequest& r, v1::CommandResponse* out) {
    return Call(&v1::AccountService::Stub::TransferOut, r, out);
  }
  Rpc TransferIn(const v1::TransferInRequest& r, v1::CommandResponse* out) {
    return Call(&v1::AccountService::Stub::TransferIn, r, out);
  }

  // Any FundService call.
  template <typename Request, typename Response>
  Rpc Fund(grpc::Status (v1::FundService::Stub::*method)(grpc::ClientContext*, const Request&,
                                                         Response*),
           const Request& request, Response* response) {
    grpc::ClientContext context;
    grpc::Status status = (funds_.get()->*method)(&context, request, response);
    return {status, ReasonOf(context)};
  }

  // The tax bureau's daily control totals.
  Rpc ReportTotals(const v1::ReportDailyTotalsRequest& r, v1::ReportDailyTotalsResponse* out) {
    grpc::ClientContext context;
    grpc::Status status = collections_->ReportDailyTotals(&context, r, out);
    return {status, ReasonOf(context)};
  }

  // The reconciliation, which must be served.
  v1::Reconciliation Recon(const v1::ReconciliationRequest& request = {}) {
    v1::Reconciliation recon;
    Rpc rpc = Fund(&v1::FundService::Stub::GetReconciliation, request, &recon);
    EXPECT_TRUE(rpc.ok()) << Describe(rpc);
    return recon;
  }

  Rpc Funds(const v1::ReceiveFiscalFundsRequest& r, v1::CommandResponse* out) {
    grpc::ClientContext context;
    grpc::Status status = funds_->ReceiveFiscalFunds(&context, r, out);
    return {status, ReasonOf(context)};
  }

  // Fiscal funds that must be accepted (a fresh document reference each time).
  v1::CommandResponse FundsOk(v1::FiscalPurpose purpose, int year, int64_t fen,
                              const std::string& date, const std::string& region = kRegion) {
    v1::ReceiveFiscalFundsRequest r;
    r.set_region_code(region);
    r.set_purpose(purpose);
    r.set_year(year);
    r.set_amount_fen(fen);
    r.set_date(date);
    r.set_document_ref(
        StrCat("FUNDS-", region, "-", static_cast<int>(purpose), "-", year, "-", ++funds_refs_));
    v1::CommandResponse response;
    Rpc rpc = Funds(r, &response);
    EXPECT_TRUE(rpc.ok()) << Describe(rpc);
    EXPECT_FALSE(response.duplicate());
    EXPECT_GT(response.first_sequence(), 0u);
    return response;
  }

  // Runs a job through the server stream; `last` gets the last progress message.
  Rpc Job(v1::JobKind kind, int period, const std::string& date, v1::JobProgress* last,
          int* messages = nullptr, const std::string& region = kRegion) {
    grpc::ClientContext context;
    v1::JobRequest request;
    request.set_kind(kind);
    request.set_region_code(region);
    request.set_period(period);
    request.set_date(date);
    auto reader = accounts_->RunJob(&context, request);
    v1::JobProgress progress;
    int n = 0;
    while (reader->Read(&progress)) {
      ++n;
      if (last != nullptr) *last = progress;
    }
    grpc::Status status = reader->Finish();
    if (messages != nullptr) *messages = n;
    return {status, ReasonOf(context)};
  }

  // A job that must complete; returns its final progress.
  v1::JobProgress JobOk(v1::JobKind kind, int period, const std::string& date = "",
                        const std::string& region = kRegion) {
    v1::JobProgress last;
    int messages = 0;
    Rpc rpc = Job(kind, period, date, &last, &messages, region);
    EXPECT_TRUE(rpc.ok()) << v1::JobKind_Name(kind) << " " << period << ": " << Describe(rpc);
    EXPECT_GE(messages, 1);
    EXPECT_TRUE(last.completed()) << v1::JobKind_Name(kind) << " " << period;
    return last;
  }

  Rpc GetAccount(const std::string& id, v1::Account* account) {
    grpc::ClientContext context;
    v1::GetAccountRequest request;
    request.set_citizen_id(id);
    grpc::Status status = accounts_->GetAccount(&context, request, account);
    return {status, ReasonOf(context)};
  }

  v1::Account Account(const std::string& id) {
    v1::Account account;
    Rpc rpc = GetAccount(id, &account);
    EXPECT_TRUE(rpc.ok()) << Describe(rpc);
    return account;
  }

  std::map<std::string, int64_t> Balances(const std::string& region = kRegion) {
    grpc::ClientContext context;
    v1::GetLedgerBalancesRequest request;
    request.set_region_code(region);
    v1::LedgerBalances response;
    grpc::Status status = funds_->GetLedgerBalances(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return {response.balances_fen().begin(), response.balances_fen().end()};
  }

  Rpc Statement(const std::string& id, int year, v1::Statement* statement) {
    grpc::ClientContext context;
    v1::GetStatementRequest request;
    request.set_citizen_id(id);
    request.set_year(year);
    grpc::Status status = accounts_->GetStatement(&context, request, statement);
    return {status, ReasonOf(context)};
  }

  v1::Statement StatementOk(const std::string& id, int year) {
    v1::Statement statement;
    Rpc rpc = Statement(id, year, &statement);
    EXPECT_TRUE(rpc.ok()) << Describe(rpc);
    return statement;
  }

 private:
  std::string dir_;
  std::unique_ptr<ledger::Ledger> ledger_;
  std::unique_ptr<services::RunningServer> server_;
  std::unique_ptr<v1::CollectionService::Stub> collections_;
  std::unique_ptr<v1::AccountService::Stub> accounts_;
  std::unique_ptr<v1::PolicyService::Stub> policies_;
  std::unique_ptr<v1::FundService::Stub> funds_;
  int funds_refs_ = 0;
};

}  // namespace ledger_test

#endif  // TESTS_GRPC_NODE_H_
