// Issue 16, point 5 (termination, 关系注销, and 双领) and point 6 for termination, through the
// gRPC seam (the in-process server of tests/support/, a clock at 2026-11-20, the paper policy:
// 1.5 % a year, basic pension 88 yuan):
//   - settled abroad: the interest to the date, then the balance less the government money
//     refunded to the participant, the government subsidy back to the fiscal fund it came from
//     (its interest to the pool); the account is TERMINATED and later commands are refused;
//   - joined the employees' scheme: the whole balance moves over;
//   - 双领: the basic pension paid for the overlap is an overpayment, offset against the refund
//     and recovered afterwards; months due before the overlap are paid first, out of the payment
//     account (all or nothing).
#include <unistd.h>

#include <cstdint>
#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "ledger/strings.h"
#include "ledger/v1/services.grpc.pb.h"
#include "tests/support/grpc_node.h"

namespace {

namespace v1 = ledger::v1;
using namespace ledger::testing;  // NOLINT: the shared fixtures of the gRPC tests
using ::ledger::StrCat;
using ::testing::HasSubstr;

class TerminationGrpcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    node_ = std::make_unique<Node>(StrCat(::testing::TempDir(), "termination_grpc_",
                                          info->name(), "_", static_cast<int64_t>(getpid())));
    node_->Start();
    ASSERT_NO_FATAL_FAILURE(node_->Adopt(PaperPolicy()));
  }

  Node& A() { return *node_; }

  Rpc Terminate(const std::string& id, v1::TerminationReason reason, const std::string& date,
                const std::string& ref, v1::CommandResponse* out, int from_month = 0) {
    v1::TerminateParticipantRequest r;
    r.set_citizen_id(id);
    r.set_reason(reason);
    r.set_employee_pension_from_month(from_month);
    r.set_date(date);
    r.set_document_ref(ref);
    return A().Call(&v1::AccountService::Stub::TerminateParticipant, r, out);
  }

  // A contributor enrolled in 2020: 100.00 (tier 100) collected 2025-11-10, the 2025
  // government subsidy (30.00) credited in December, 900.00 collective subsidy in March 2026.
  void MakeSubsidised(const std::string& id) {
    A().Enrol(id, "2020-06-01");
    A().PushAccepted({AddRecord(StrCat("R-", id.substr(14)), id, 2025, 10000, "2025-11-10")});
    A().FundsOk(v1::FISCAL_PURPOSE_CONTRIBUTION_SUBSIDY, 2025, 3000, "2025-12-01");
    ASSERT_EQ(A().JobOk(v1::JOB_KIND_GOVERNMENT_SUBSIDY, 2025, "2025-12-20").accounts_credited(),
              1u);
    v1::CreditCollectiveSubsidyRequest c;
    c.set_citizen_id(id);
    c.set_contribution_year(2025);
    c.set_amount_fen(90000);
    c.set_source(v1::FUNDING_SOURCE_COLLECTIVE);
    c.set_payer("村集体");
    c.set_date("2026-03-10");
    c.set_document_ref(StrCat("COLL-", id.substr(14)));
    v1::CommandResponse r;
    const Rpc rpc = A().Collective(c, &r);
    ASSERT_TRUE(rpc.ok()) << Describe(rpc);
  }

  // A pensioner from 2025-01 (100.00 in the account, 0.72 a month from it), the basic pension
  // of 2025 received and swept into the payment account, paid January to `paid_through`.
  void MakePensioner(const std::string& id, int paid_through) {
    A().Enrol(id, "2010-01-01");
    A().PushAccepted({AddRecord(StrCat("R-", id.substr(14)), id, 2010, 10000, "2010-06-01")});
    v1::DetermineBenefitRequest determine;
    determine.set_citizen_id(id);
    determine.set_date("2025-01-05");
    determine.set_document_ref(StrCat("D-", id.substr(14)));
    v1::CommandResponse response;
    const Rpc rpc = A().Determine(determine, &response);
    ASSERT_TRUE(rpc.ok()) << Describe(rpc);
    A().FundsOk(v1::FISCAL_PURPOSE_BASIC_PENSION, 2025, 12 * kBasic, "2025-01-02");
    A().RemitToSpecialOk(12 * (kBasic + 72), "2025-01-02");
    A().SweepToPaymentOk(paid_through % 100 * (kBasic + 72), "2025-01-02");
    for (int month = 202501; month <= paid_through; ++month) {
      A().JobOk(v1::JOB_KIND_BENEFITS, month, StrCat("2025-0", month % 100, "-10"));
    }
  }

  std::unique_ptr<Node> node_;
};

int Lines(const v1::Statement& st, const std::string& kind, const std::string& ref) {
  int n = 0;
  for (const auto& line : st.lines()) n += line.kind() == kind && line.reference() == ref;
  return n;
}

// Settled abroad on 2026-07-01. The interest to the date: 2025 (not posted) 100.00 × 1 month
// = 0.13; 2026 January to July: (100.13 + 30.00) × 7 + 900.00 × 4 months × 1.5 % / 12 = 5.64,
// of which the government source's share is 0.26. The government subsidy (30.00) goes back to
// the 2025 fund, its interest (0.26) to the pool, the rest (1005.51) is refunded.
TEST_F(TerminationGrpcTest, SettledAbroadRefundsTheBalanceLessTheGovernmentSubsidies) {
  const std::string id = CitizenId("19800101", 511);
  ASSERT_NO_FATAL_FAILURE(MakeSubsidised(id));
  v1::CommandResponse response;
  Rpc rpc = Terminate(id, v1::TERMINATION_REASON_SETTLED_ABROAD, "2026-07-01", "TERM-1", &response);
  ASSERT_TRUE(rpc.ok()) << Describe(rpc);

  const v1::Account a = A().Account(id);
  EXPECT_EQ(a.status(), v1::PARTICIPANT_STATUS_TERMINATED);
  EXPECT_EQ(a.termination_reason(), v1::TERMINATION_REASON_SETTLED_ABROAD);
  EXPECT_EQ(a.termination_date(), "2026-07-01");
  EXPECT_EQ(a.termination_document_ref(), "TERM-1");
  EXPECT_EQ(a.total_fen(), 0);
  const BalanceMap balances = A().Balances();
  EXPECT_EQ(At(balances, "interest_expense"), 13 + 564);
  EXPECT_EQ(At(balances, "refunds_payable"), -(10000 + 90000 + 13 + 564 - 26));
  EXPECT_EQ(At(balances, "fiscal_funds/contribution_subsidy/2025"), -3000);  // available again
  EXPECT_EQ(At(balances, "pooled_fund"), -26);
  EXPECT_EQ(Sum(balances), 0);
  // The fund received 30.00 and, in the end, used nothing: exact, no break.
  const v1::Reconciliation recon = A().Recon();
  bool found = false;
  for (const auto& f : recon.fiscal_funds()) {
    if (f.purpose() != v1::FISCAL_PURPOSE_CONTRIBUTION_SUBSIDY || f.year() != 2025) continue;
    found = true;
    EXPECT_EQ(f.received_fen(), 3000);
    EXPECT_EQ(f.used_fen(), 0);
  }
  EXPECT_TRUE(found);
  EXPECT_EQ(recon.summary().fiscal_funds_in_break(), 0u);
  // The statement shows each movement under the termination's reference.
  const v1::Statement st = A().StatementOk(id, 2026);
  EXPECT_EQ(Lines(st, "interest_accrued", "TERM-1"), 1);
  EXPECT_EQ(Lines(st, "termination_subsidy_returned", "TERM-1"), 1);
  EXPECT_EQ(Lines(st, "termination_balance_paid", "TERM-1"), 1);
  EXPECT_EQ(st.closing_total_fen(), 0);
  EXPECT_EQ(A().StatementOk(id, 2025).interest_fen(), 13);

  // Terminated: later commands are refused, nothing changes.
  const auto head = A().Head();
  rpc = Terminate(id, v1::TERMINATION_REASON_EMPLOYEE_SCHEME, "2026-08-01", "TERM-2", &response);
  EXPECT_EQ(rpc.reason, "REASON_WRONG_STATE");
  v1::RecordDeathRequest death;
  death.set_citizen_id(id);
  death.set_date_of_death("2026-08-01");
  death.set_date("2026-08-02");
  death.set_document_ref("DEATH-1");
  rpc = A().Death(death, &response);
  EXPECT_EQ(rpc.reason, "REASON_WRONG_STATE");
  EXPECT_EQ(A().Head().sequence, head.sequence);
  // Resending the same command is idempotent.
  rpc = Terminate(id, v1::TERMINATION_REASON_SETTLED_ABROAD, "2026-07-01", "TERM-1", &response);
  ASSERT_TRUE(rpc.ok()) << Describe(rpc);
  EXPECT_TRUE(response.duplicate());
}

// Joined the employees' scheme: the whole balance, government subsidy and its interest
// included, moves over.
TEST_F(TerminationGrpcTest, JoiningTheEmployeesSchemeMovesTheWholeBalance) {
  const std::string id = CitizenId("19800101", 522);
  ASSERT_NO_FATAL_FAILURE(MakeSubsidised(id));
  v1::CommandResponse response;
  Rpc rpc = Terminate(id, v1::TERMINATION_REASON_EMPLOYEE_SCHEME, "2026-07-01", "TERM-E",
                      &response);
  ASSERT_TRUE(rpc.ok()) << Describe(rpc);
  EXPECT_EQ(A().Account(id).status(), v1::PARTICIPANT_STATUS_TERMINATED);
  const BalanceMap balances = A().Balances();
  EXPECT_EQ(At(balances, "employee_scheme_payable"), -(10000 + 3000 + 90000 + 13 + 564));
  EXPECT_EQ(At(balances, "fiscal_funds/contribution_subsidy/2025"), 0);  // used
  EXPECT_EQ(At(balances, "refunds_payable"), 0);
}

// The reason must fit the state: 双领 is a pensioner's, the others a contributor's.
TEST_F(TerminationGrpcTest, TheReasonMustFitTheState) {
  const std::string contributor = CitizenId("19800101", 533);
  ASSERT_NO_FATAL_FAILURE(MakeSubsidised(contributor));
  const std::string pensioner = CitizenId("19500301", 544);
  ASSERT_NO_FATAL_FAILURE(MakePensioner(pensioner, 202501));
  const auto head = A().Head();
  v1::CommandResponse response;
  Rpc rpc = Terminate(contributor, v1::TERMINATION_REASON_DOUBLE_RECEIPT, "2026-07-01", "T-A",
                      &response, 202601);
  EXPECT_EQ(rpc.status.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << Describe(rpc);
  EXPECT_EQ(rpc.reason, "REASON_WRONG_STATE");
  rpc = Terminate(pensioner, v1::TERMINATION_REASON_SETTLED_ABROAD, "2025-05-01", "T-B",
                  &response);
  EXPECT_EQ(rpc.reason, "REASON_WRONG_STATE");
  rpc = Terminate(pensioner, v1::TERMINATION_REASON_DOUBLE_RECEIPT, "2025-05-01", "T-C",
                  &response, 202506);
  EXPECT_EQ(rpc.reason, "REASON_INVALID_PERIOD");
  rpc = Terminate(pensioner, v1::TERMINATION_REASON_DOUBLE_RECEIPT, "2025-05-01", "T-D",
                  &response);
  EXPECT_EQ(rpc.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << Describe(rpc);
  rpc = Terminate(contributor, v1::TERMINATION_REASON_UNSPECIFIED, "2026-07-01", "T-E",
                  &response);
  EXPECT_EQ(rpc.reason, "REASON_INVALID_FIELD");
  EXPECT_EQ(A().Head().sequence, head.sequence);
}

// 双领: the employees' pension from 2025-03; the residents' pension was paid January to April.
// March and April's basic pension (2 × 88.00) is recovered: first from the refund of the
// balance, the rest stays outstanding and is recovered later, never more.
TEST_F(TerminationGrpcTest, DoubleReceiptRecoversTheBasicPensionOfTheOverlap) {
  const std::string id = CitizenId("19500301", 555);
  ASSERT_NO_FATAL_FAILURE(MakePensioner(id, 202504));
  v1::CommandResponse response;
  Rpc rpc = Terminate(id, v1::TERMINATION_REASON_DOUBLE_RECEIPT, "2025-05-01", "TERM-D",
                      &response, 202503);
  ASSERT_TRUE(rpc.ok()) << Describe(rpc);
  EXPECT_EQ(A().Account(id).status(), v1::PARTICIPANT_STATUS_TERMINATED);
  const BalanceMap balances = A().Balances();
  const int64_t refund = -At(balances, "interest_expense") + 10000 - 4 * 72;  // all personal
  EXPECT_GT(refund, 0);
  EXPECT_EQ(At(balances, "overpaid_benefits"), -2 * kBasic);
  EXPECT_EQ(At(balances, "refunds_payable"), 0);  // all of it offsets the overpayment
  const int64_t outstanding = 2 * kBasic - (10000 - 4 * 72 + At(balances, "interest_expense"));
  EXPECT_EQ(At(balances, "overpayment_receivable"), outstanding);
  EXPECT_EQ(Sum(balances), 0);
  const v1::Statement st = A().StatementOk(id, 2025);
  // The refund is an account movement under the termination's reference; the overpayment (basic
  // pension only) never touched the account, so it shows in the balances above, not here.
  EXPECT_EQ(Lines(st, "termination_balance_paid", "TERM-D"), 1);

  v1::RecordOverpaymentRecoveryRequest r;
  r.set_citizen_id(id);
  r.set_amount_fen(outstanding + 1);
  r.set_method(v1::OVERPAYMENT_RECOVERY_METHOD_RECOVERED);
  r.set_date("2025-06-01");
  r.set_document_ref("REC-D");
  rpc = A().Call(&v1::AccountService::Stub::RecordOverpaymentRecovery, r, &response);
  EXPECT_EQ(rpc.reason, "REASON_OVER_OUTSTANDING_OVERPAYMENT");
  r.set_amount_fen(outstanding);
  rpc = A().Call(&v1::AccountService::Stub::RecordOverpaymentRecovery, r, &response);
  ASSERT_TRUE(rpc.ok()) << Describe(rpc);
  EXPECT_EQ(At(A().Balances(), "overpayment_receivable"), 0);
}

// 双领 from 2025-04 with only January paid: February and March are still due and are paid
// first, out of the payment account, all or nothing.
TEST_F(TerminationGrpcTest, DoubleReceiptPaysTheMonthsDueBeforeItFromThePaymentAccount) {
  const std::string id = CitizenId("19500301", 566);
  ASSERT_NO_FATAL_FAILURE(MakePensioner(id, 202501));
  const auto head = A().Head();
  const auto before = A().Balances();
  v1::CommandResponse response;
  Rpc rpc = Terminate(id, v1::TERMINATION_REASON_DOUBLE_RECEIPT, "2025-05-01", "TERM-P",
                      &response, 202504);
  EXPECT_EQ(rpc.status.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << Describe(rpc);
  EXPECT_EQ(rpc.reason, "REASON_INSUFFICIENT_PAYMENT_ACCOUNT");
  EXPECT_THAT(rpc.status.error_message(), HasSubstr("short by 177.44"));
  EXPECT_EQ(A().Head().sequence, head.sequence);
  EXPECT_EQ(A().Balances(), before);

  A().SweepToPaymentOk(2 * (kBasic + 72), "2025-01-02");
  rpc = Terminate(id, v1::TERMINATION_REASON_DOUBLE_RECEIPT, "2025-05-01", "TERM-P", &response,
                  202504);
  ASSERT_TRUE(rpc.ok()) << Describe(rpc);
  const v1::Statement st = A().StatementOk(id, 2025);
  int paid = 0;
  for (const auto& line : st.lines()) {
    if (line.kind() == "benefit_paid" && line.reference() == "TERM-P") ++paid;
  }
  EXPECT_EQ(paid, 2);  // February and March
  EXPECT_EQ(At(A().Balances(), "overpaid_benefits"), 0);  // nothing overlapped
  EXPECT_EQ(At(A().Balances(), "fund.payment"), 0);
  EXPECT_EQ(At(A().Balances(), "overpayment_receivable"), 0);
}

}  // namespace
