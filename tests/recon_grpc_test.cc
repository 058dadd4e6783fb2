// Reconciliation (issue 4) through the gRPC seam: the tax bureau's daily totals against the
// receipts the ledger holds (breaks appear, then clear on a late record, a cancellation or a
// corrected report), the fund's bank accounts against their statements, fiscal funds received
// against used, and the individual accounts against their control accounts, kept current on every
// commit, identical after a restart and after a replay from the log.
#include <unistd.h>

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ledger/strings.h"
#include "tests/support/grpc_node.h"

namespace {

namespace v1 = ledger::v1;
using namespace ledger::testing;  // NOLINT: the shared fixtures of the gRPC tests
using ::ledger::StrCat;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kOffice[] = "22240100";
constexpr char kOffice2[] = "22240200";

class ReconGrpcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    node_ = std::make_unique<Node>(StrCat(::testing::TempDir(), "recon_grpc_", info->name(), "_",
                                          static_cast<int64_t>(getpid())));
    ASSERT_NO_FATAL_FAILURE(node_->Start());
    ASSERT_NO_FATAL_FAILURE(node_->Adopt(PaperPolicy()));
    for (const std::string& id : {a_, b_, c_}) ASSERT_NO_FATAL_FAILURE(node_->Enrol(id, "2020-01-01"));
  }

  v1::CollectionRecord Receipt(const std::string& receipt, const std::string& id, int64_t fen,
                               const std::string& date, const std::string& office = kOffice,
                               int year = 2025) {
    v1::CollectionRecord r = AddRecord(receipt, id, year, fen, date);
    r.set_tax_office(office);
    return r;
  }

  static v1::ReportDailyTotalsRequest Totals(const std::string& date, const std::string& office,
                                             uint64_t count, int64_t total,
                                             std::vector<std::string> receipts,
                                             const std::string& ref) {
    v1::ReportDailyTotalsRequest r;
    r.set_region_code(kRegion);
    r.set_collection_date(date);
    r.set_tax_office(office);
    r.set_record_count(count);
    r.set_total_fen(total);
    for (auto& receipt : receipts) r.add_receipt_numbers(receipt);
    r.set_document_ref(ref);
    return r;
  }

  // A report that must be recorded; returns the day's reconciliation in the answer.
  v1::TaxDayReconciliation ReportOk(const v1::ReportDailyTotalsRequest& request) {
    v1::ReportDailyTotalsResponse response;
    Rpc rpc = node_->ReportTotals(request, &response);
    EXPECT_TRUE(rpc.ok()) << Describe(rpc);
    EXPECT_GT(response.result().first_sequence(), 0u);
    return response.reconciliation();
  }

  // The one tax day of `date` and `office` in the reconciliation.
  v1::TaxDayReconciliation Day(const std::string& date, const std::string& office = kOffice) {
    v1::ReconciliationRequest request;
    request.set_from_date(date);
    request.set_to_date(date);
    request.set_tax_office(office);
    const v1::Reconciliation recon = node_->Recon(request);
    EXPECT_EQ(recon.tax_days_size(), 1) << recon.DebugString();
    return recon.tax_days_size() == 1 ? recon.tax_days(0) : v1::TaxDayReconciliation();
  }

  v1::CommandResponse FundOk(const v1::ReceiveTaxRemittanceRequest& r) {
    v1::CommandResponse out;
    Rpc rpc = node_->Fund(&v1::FundService::Stub::ReceiveTaxRemittance, r, &out);
    EXPECT_TRUE(rpc.ok()) << Describe(rpc);
    return out;
  }

  Rpc Sweep(v1::BankAccount from, v1::BankAccount to, int64_t fen, const std::string& date,
            const std::string& ref) {
    v1::TransferBetweenFundAccountsRequest r;
    r.set_region_code(kRegion);
    r.set_from_account(from);
    r.set_to_account(to);
    r.set_amount_fen(fen);
    r.set_date(date);
    r.set_document_ref(ref);
    v1::CommandResponse out;
    return node_->Fund(&v1::FundService::Stub::TransferBetweenFundAccounts, r, &out);
  }

  Rpc Statement(v1::BankAccount account, int64_t fen, const std::string& date,
                const std::string& ref) {
    v1::ReportBankBalanceRequest r;
    r.set_region_code(kRegion);
    r.set_bank_account(account);
    r.set_balance_fen(fen);
    r.set_date(date);
    r.set_document_ref(ref);
    v1::CommandResponse out;
    return node_->Fund(&v1::FundService::Stub::ReportBankBalance, r, &out);
  }

  int64_t FundBalance(v1::BankAccount account, const std::string& as_of) {
    v1::GetFundBalanceRequest r;
    r.set_region_code(kRegion);
    r.set_bank_account(account);
    r.set_as_of_date(as_of);
    v1::FundBalance out;
    Rpc rpc = node_->Fund(&v1::FundService::Stub::GetFundBalance, r, &out);
    EXPECT_TRUE(rpc.ok()) << Describe(rpc);
    return out.balance_fen();
  }

  std::unique_ptr<Node> node_;
  const std::string a_ = CitizenId("19700101", 111);
  const std::string b_ = CitizenId("19700202", 222);
  const std::string c_ = CitizenId("19700303", 333);
};

std::vector<std::string> NotReported(const v1::TaxDayReconciliation& d) {
  std::vector<std::string> out;
  for (const auto& r : d.not_reported()) out.push_back(StrCat(r.receipt_number(), "=", r.amount_fen()));
  return out;
}

TEST_F(ReconGrpcTest, TaxDayBreaksAppearAndClearOnALateRecordACancellationOrACorrectedReport) {
  // Day 1: the ledger holds two receipts; the tax bureau has not reported yet.
  node_->PushAccepted({Receipt("R1", a_, 50000, "2025-03-10"), Receipt("R2", b_, 10000, "2025-03-10")});
  v1::TaxDayReconciliation day = Day("2025-03-10");
  EXPECT_EQ(day.status(), v1::RECON_STATUS_AWAITING_REPORT);
  EXPECT_EQ(day.ledger_count(), 2u);
  EXPECT_EQ(day.ledger_total_fen(), 60000);

  // It reports three, listing them: R3 never reached the ledger.
  day = ReportOk(Totals("2025-03-10", kOffice, 3, 110000, {"R1", "R2", "R3"}, "TAX-0310-1"));
  EXPECT_EQ(day.status(), v1::RECON_STATUS_BREAK);
  EXPECT_THAT(day.missing_in_ledger(), ElementsAre("R3"));
  EXPECT_TRUE(day.not_reported().empty());
  EXPECT_EQ(day.difference_fen(), 50000);
  v1::Reconciliation recon = node_->Recon();
  EXPECT_EQ(recon.summary().tax_days_in_break(), 1u);
  EXPECT_EQ(recon.summary().breaks(), 1u);
  EXPECT_EQ(recon.summary().tax_difference_fen(), 50000);

  // R3 arrives late: the break clears.
  node_->PushAccepted({Receipt("R3", c_, 50000, "2025-03-10")});
  day = Day("2025-03-10");
  EXPECT_EQ(day.status(), v1::RECON_STATUS_MATCHED);
  EXPECT_EQ(day.ledger_count(), 3u);
  EXPECT_EQ(day.difference_fen(), 0);
  EXPECT_TRUE(day.missing_in_ledger().empty());

  // Day 2: the ledger holds R4 and R5, the report lists only R4.
  node_->PushAccepted({Receipt("R4", a_, 10000, "2025-03-11", kOffice2, 2024),
                       Receipt("R5", b_, 50000, "2025-03-11", kOffice2, 2024)});
  day = ReportOk(Totals("2025-03-11", kOffice2, 1, 10000, {"R4"}, "TAX-0311-1"));
  EXPECT_EQ(day.status(), v1::RECON_STATUS_BREAK);
  EXPECT_THAT(NotReported(day), ElementsAre("R5=50000"));
  EXPECT_EQ(day.difference_fen(), -50000);
  // The tax bureau cancels R5 (the correction): the receipt leaves its collection day.
  v1::CollectionRecord cancel = Receipt("R5", b_, 50000, "2025-03-12", kOffice2, 2024);
  cancel.set_record_type(v1::RECORD_TYPE_CANCEL);
  node_->PushAccepted({cancel});
  day = Day("2025-03-11", kOffice2);
  EXPECT_EQ(day.status(), v1::RECON_STATUS_MATCHED);
  EXPECT_EQ(day.ledger_count(), 1u);
  EXPECT_TRUE(day.not_reported().empty());

  // Day 3: totals only (no receipt numbers), wrong; a corrected report supersedes it.
  node_->PushAccepted({Receipt("R6", c_, 10000, "2025-03-13", kOffice, 2024)});
  day = ReportOk(Totals("2025-03-13", kOffice, 1, 20000, {}, "TAX-0313-1"));
  EXPECT_EQ(day.status(), v1::RECON_STATUS_BREAK);
  EXPECT_FALSE(day.receipts_listed());
  EXPECT_EQ(day.difference_fen(), 10000);
  const uint64_t first_report = day.report_sequence();
  day = ReportOk(Totals("2025-03-13", kOffice, 1, 10000, {}, "TAX-0313-2"));
  EXPECT_EQ(day.status(), v1::RECON_STATUS_MATCHED);
  EXPECT_GT(day.report_sequence(), first_report);

  recon = node_->Recon();
  EXPECT_EQ(recon.summary().tax_days(), 3u);
  EXPECT_EQ(recon.summary().tax_days_matched(), 3u);
  EXPECT_EQ(recon.summary().breaks(), 0u);
  ASSERT_EQ(recon.months_size(), 1);
  EXPECT_EQ(recon.months(0).month(), 202503);
  EXPECT_EQ(recon.months(0).collections_fen(), 50000 + 10000 + 50000 + 10000 + 10000);
  EXPECT_EQ(recon.months(0).collection_receipts(), 5u);

  // A resend is a duplicate; the same report number with other figures is refused.
  v1::ReportDailyTotalsResponse response;
  Rpc rpc = node_->ReportTotals(Totals("2025-03-13", kOffice, 1, 10000, {}, "TAX-0313-2"), &response);
  ASSERT_TRUE(rpc.ok()) << Describe(rpc);
  EXPECT_TRUE(response.result().duplicate());
  const auto head = node_->Head().sequence;
  rpc = node_->ReportTotals(Totals("2025-03-13", kOffice, 2, 10000, {}, "TAX-0313-2"), &response);
  EXPECT_EQ(rpc.status.error_code(), grpc::StatusCode::ALREADY_EXISTS) << Describe(rpc);
  EXPECT_EQ(rpc.reason, "REASON_DUPLICATE_REFERENCE_CONFLICT");

  // Bad reports: a clear reason, nothing recorded.
  struct Bad {
    v1::ReportDailyTotalsRequest request;
    grpc::StatusCode code;
    std::string reason;
  };
  std::vector<Bad> bad = {
      {Totals("2025-03-14", kOffice, 2, 10000, {"R7"}, "BAD-1"), grpc::StatusCode::INVALID_ARGUMENT,
       "REASON_INVALID_FIELD"},
      {Totals("2025-03-14", kOffice, 2, 10000, {"R7", "R7"}, "BAD-2"),
       grpc::StatusCode::INVALID_ARGUMENT, "REASON_INVALID_FIELD"},
      {Totals("2026-12-01", kOffice, 0, 0, {}, "BAD-3"), grpc::StatusCode::INVALID_ARGUMENT,
       "REASON_DATE_IN_FUTURE"},
      {Totals("2025-02-30", kOffice, 0, 0, {}, "BAD-4"), grpc::StatusCode::INVALID_ARGUMENT,
       "REASON_INVALID_DATE"},
      {Totals("2025-03-14", kOffice, 1, -5, {}, "BAD-5"), grpc::StatusCode::INVALID_ARGUMENT,
       "REASON_INVALID_FIELD"},
      {Totals("2025-03-14", std::string(40, 'X'), 1, 5, {}, "BAD-6"),
       grpc::StatusCode::INVALID_ARGUMENT, "REASON_INVALID_FIELD"},
      {Totals("2025-03-14", kOffice, 1, 5, {"bad receipt"}, "BAD-7"),
       grpc::StatusCode::INVALID_ARGUMENT, "REASON_MISSING_RECEIPT_NUMBER"},
      {Totals("2025-03-14", kOffice, 1, 5, {}, ""), grpc::StatusCode::INVALID_ARGUMENT,
       "REASON_INVALID_FIELD"},
  };
  v1::ReportDailyTotalsRequest unknown_region = Totals("2025-03-14", kOffice, 1, 5, {}, "BAD-8");
  unknown_region.set_region_code("999999");
  bad.push_back({unknown_region, grpc::StatusCode::INVALID_ARGUMENT, "REASON_UNKNOWN_REGION"});
  for (const Bad& b : bad) {
    SCOPED_TRACE(b.request.ShortDebugString());
    rpc = node_->ReportTotals(b.request, &response);
    EXPECT_EQ(rpc.status.error_code(), b.code) << Describe(rpc);
    EXPECT_EQ(rpc.reason, b.reason);
  }
  EXPECT_EQ(node_->Head().sequence, head);

  // An unknown date, office or region is an empty result, not an error; a malformed one is.
  v1::ReconciliationRequest request;
  request.set_from_date("2024-01-01");
  request.set_to_date("2024-01-31");
  recon = node_->Recon(request);
  EXPECT_EQ(recon.tax_days_size(), 0);
  EXPECT_EQ(recon.bank_statements_size(), 0);
  request.Clear();
  request.set_tax_office("NO-SUCH-OFFICE");
  EXPECT_EQ(node_->Recon(request).tax_days_size(), 0);
  request.Clear();
  request.set_region_code("999999");
  recon = node_->Recon(request);
  EXPECT_EQ(recon.tax_days_size(), 0);
  EXPECT_EQ(recon.individual_accounts_size(), 0);
  for (auto [from, to] : {std::pair("2025-13-01", ""), std::pair("2025-03-10", "2025-03-01")}) {
    request.Clear();
    request.set_from_date(from);
    request.set_to_date(to);
    v1::Reconciliation ignored;
    rpc = node_->Fund(&v1::FundService::Stub::GetReconciliation, request, &ignored);
    EXPECT_EQ(rpc.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << Describe(rpc);
  }

  // The projection is rebuilt from the log byte for byte, and survives a restart.
  auto replay = node_->ledger().ReplayCompare(StrCat(::testing::TempDir(), "recon_replay_", getpid()));
  ASSERT_TRUE(replay.ok()) << replay.status();
  EXPECT_TRUE(replay->equal) << replay->first_difference;
  const v1::Reconciliation before = node_->Recon();
  ASSERT_NO_FATAL_FAILURE(node_->Restart());
  EXPECT_TRUE(ProtoEquals(before, node_->Recon()));
}

TEST_F(ReconGrpcTest, FundAccountsBankStatementsFiscalFundsAndIndividualAccounts) {
  node_->PushAccepted({Receipt("F1", a_, 50000, "2025-03-10"), Receipt("F2", b_, 10000, "2025-03-10")});
  // The tax bureau remits into the income account; the agency sweeps it on to special.
  v1::ReceiveTaxRemittanceRequest remit;
  remit.set_region_code(kRegion);
  remit.set_bank_account(v1::BANK_ACCOUNT_INCOME);
  remit.set_amount_fen(60000);
  remit.set_tax_office(kOffice);
  remit.set_date("2025-03-15");
  remit.set_document_ref("REMIT-1");
  FundOk(remit);
  Rpc rpc = Sweep(v1::BANK_ACCOUNT_INCOME, v1::BANK_ACCOUNT_SPECIAL, 60000, "2025-03-16", "SWEEP-1");
  ASSERT_TRUE(rpc.ok()) << Describe(rpc);
  node_->FundsOk(v1::FISCAL_PURPOSE_BASIC_PENSION, 2025, 100000, "2025-03-20");
  node_->FundsOk(v1::FISCAL_PURPOSE_CONTRIBUTION_SUBSIDY, 2025, 12000, "2025-03-20");
  rpc = Sweep(v1::BANK_ACCOUNT_SPECIAL, v1::BANK_ACCOUNT_PAYMENT, 50000, "2025-03-25", "SWEEP-2");
  ASSERT_TRUE(rpc.ok()) << Describe(rpc);
  v1::ReceiveBankInterestRequest interest;
  interest.set_region_code(kRegion);
  interest.set_bank_account(v1::BANK_ACCOUNT_SPECIAL);
  interest.set_amount_fen(12);
  interest.set_date("2025-03-31");
  interest.set_document_ref("BANK-INT-1");
  v1::CommandResponse out;
  rpc = node_->Fund(&v1::FundService::Stub::ReceiveBankInterest, interest, &out);
  ASSERT_TRUE(rpc.ok()) << Describe(rpc);

  // Double entry: what the tax bureau owed is in the bank, split as swept.
  const auto balances = node_->Balances();
  EXPECT_EQ(At(balances, "tax_receivable"), 0);
  EXPECT_EQ(At(balances, "fund.income"), 0);
  EXPECT_EQ(At(balances, "fund.special"), 60000 + 100000 + 12000 - 50000 + 12);
  EXPECT_EQ(At(balances, "fund.payment"), 50000);
  EXPECT_EQ(At(balances, "bank_interest_income"), -12);
  // Balances as of a date come from the movements of each day.
  EXPECT_EQ(FundBalance(v1::BANK_ACCOUNT_SPECIAL, "2025-03-15"), 0);
  EXPECT_EQ(FundBalance(v1::BANK_ACCOUNT_SPECIAL, "2025-03-16"), 60000);
  EXPECT_EQ(FundBalance(v1::BANK_ACCOUNT_SPECIAL, "2025-03-20"), 172000);
  EXPECT_EQ(FundBalance(v1::BANK_ACCOUNT_SPECIAL, ""), 122012);
  EXPECT_EQ(FundBalance(v1::BANK_ACCOUNT_INCOME, "2025-03-15"), 60000);

  // A sweep larger than its source, a sweep the wrong way, a remittance into the payment
  // account: refused, nothing recorded.
  const auto head = node_->Head().sequence;
  rpc = Sweep(v1::BANK_ACCOUNT_PAYMENT, v1::BANK_ACCOUNT_SPECIAL, 50001, "2025-03-31", "SWEEP-X");
  EXPECT_EQ(rpc.status.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << Describe(rpc);
  EXPECT_EQ(rpc.reason, "REASON_INSUFFICIENT_FUND_BALANCE");
  EXPECT_THAT(rpc.status.error_message(), HasSubstr("fund.payment holds 500.00"));
  rpc = Sweep(v1::BANK_ACCOUNT_INCOME, v1::BANK_ACCOUNT_PAYMENT, 1, "2025-03-31", "SWEEP-Y");
  EXPECT_EQ(rpc.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << Describe(rpc);
  remit.set_bank_account(v1::BANK_ACCOUNT_PAYMENT);
  remit.set_document_ref("REMIT-X");
  rpc = node_->Fund(&v1::FundService::Stub::ReceiveTaxRemittance, remit, &out);
  EXPECT_EQ(rpc.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << Describe(rpc);
  rpc = Statement(static_cast<v1::BankAccount>(9), 0, "2025-03-31", "STMT-X");
  EXPECT_EQ(rpc.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << Describe(rpc);
  EXPECT_EQ(node_->Head().sequence, head);

  // Bank statements: special agrees; payment is 10 yuan short, then corrected.
  ASSERT_TRUE(Statement(v1::BANK_ACCOUNT_SPECIAL, 122012, "2025-03-31", "STMT-S-0331").ok());
  ASSERT_TRUE(Statement(v1::BANK_ACCOUNT_PAYMENT, 49000, "2025-03-31", "STMT-P-0331").ok());
  ASSERT_TRUE(Statement(v1::BANK_ACCOUNT_SPECIAL, 60000, "2025-03-16", "STMT-S-0316").ok());
  v1::Reconciliation recon = node_->Recon();
  ASSERT_EQ(recon.bank_statements_size(), 3);
  EXPECT_EQ(recon.summary().bank_statements_in_break(), 1u);
  for (const auto& b : recon.bank_statements()) {
    SCOPED_TRACE(b.ShortDebugString());
    if (b.bank_account() == v1::BANK_ACCOUNT_PAYMENT) {
      EXPECT_EQ(b.status(), v1::RECON_STATUS_BREAK);
      EXPECT_EQ(b.ledger_fen(), 50000);
      EXPECT_EQ(b.difference_fen(), -1000);
    } else {
      EXPECT_EQ(b.status(), v1::RECON_STATUS_MATCHED);
    }
  }
  ASSERT_EQ(recon.months_size(), 1);
  EXPECT_EQ(recon.months(0).bank_breaks(), 1u);
  EXPECT_EQ(recon.months(0).special_balance_fen(), 122012);
  EXPECT_EQ(recon.months(0).payment_balance_fen(), 50000);
  ASSERT_TRUE(Statement(v1::BANK_ACCOUNT_PAYMENT, 50000, "2025-03-31", "STMT-P-0331-2").ok());
  recon = node_->Recon();
  EXPECT_EQ(recon.summary().bank_statements(), 3u);
  EXPECT_EQ(recon.summary().bank_statements_in_break(), 0u);

  // Fiscal funds: the 2025 subsidy job credits 60 + 30 yuan of the 120 received.
  node_->JobOk(v1::JOB_KIND_GOVERNMENT_SUBSIDY, 2025, "2025-12-01");
  recon = node_->Recon();
  bool found = false;
  for (const auto& f : recon.fiscal_funds()) {
    if (f.purpose() != v1::FISCAL_PURPOSE_CONTRIBUTION_SUBSIDY) continue;
    found = true;
    EXPECT_EQ(f.year(), 2025);
    EXPECT_EQ(f.received_fen(), 12000);
    EXPECT_EQ(f.used_fen(), 9000);
    EXPECT_EQ(f.unused_fen(), 3000);
    EXPECT_EQ(f.status(), v1::RECON_STATUS_MATCHED);
  }
  EXPECT_TRUE(found);
  EXPECT_EQ(recon.summary().fiscal_funds(), 2u);

  // Individual accounts: the sum of the accounts equals the control accounts, per source.
  ASSERT_EQ(recon.individual_accounts_size(), 1);
  const auto& ind = recon.individual_accounts(0);
  EXPECT_EQ(ind.status(), v1::RECON_STATUS_MATCHED);
  EXPECT_EQ(ind.accounts(), 3u);
  EXPECT_EQ(ind.accounts_total_fen(),
            node_->Account(a_).total_fen() + node_->Account(b_).total_fen() + node_->Account(c_).total_fen());
  EXPECT_EQ(ind.accounts_total_fen(), 60000 + 9000);
  EXPECT_EQ(ind.difference_fen(), 0);
  EXPECT_EQ(recon.summary().breaks(), 0u);

  auto replay = node_->ledger().ReplayCompare(StrCat(::testing::TempDir(), "recon_replay2_", getpid()));
  ASSERT_TRUE(replay.ok()) << replay.status();
  EXPECT_TRUE(replay->equal) << replay->first_difference;
}

}  // namespace
