// Issue 16, points 4 and 6, through the gRPC seam (the in-process server of tests/support/, a
// clock at 2026-11-20, the paper policy: 1.5 % a year, basic pension 88 yuan, funeral subsidy
// 1200 yuan + 10 months of basic pension):
//   4. a death's payments (arrears and funeral subsidy) the payment account cannot cover are
//      refused, all or nothing (the benefits job's check is in lifecycle_grpc_test.cc);
//   6. a death or a transfer out first credits the interest to its date (InterestAccrued), and
//      an overpayment the estate could not cover is recovered or written off, never more than is
//      outstanding.
#include <unistd.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "ledger/money.h"
#include "ledger/strings.h"
#include "ledger/v1/services.grpc.pb.h"
#include "tests/support/grpc_node.h"

namespace {

namespace v1 = ledger::v1;
using namespace ledger::testing;  // NOLINT: the shared fixtures of the gRPC tests
using ::ledger::StrCat;
using ::testing::HasSubstr;

constexpr char kRegion3[] = "222403";  // the paper policy without a funeral subsidy

class SettlementGrpcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    node_ = std::make_unique<Node>(StrCat(::testing::TempDir(), "settlement_grpc_", info->name(),
                                          "_", static_cast<int64_t>(getpid())));
    node_->Start();
    ASSERT_NO_FATAL_FAILURE(node_->Adopt(PaperPolicy()));
    ASSERT_NO_FATAL_FAILURE(node_->Adopt(PaperPolicy(kRegion2)));
  }

  Node& A() { return *node_; }

  Rpc Recover(const std::string& id, int64_t fen, v1::OverpaymentRecoveryMethod method,
              const std::string& ref, v1::CommandResponse* out) {
    v1::RecordOverpaymentRecoveryRequest r;
    r.set_citizen_id(id);
    r.set_amount_fen(fen);
    r.set_method(method);
    r.set_date("2025-06-01");
    r.set_document_ref(ref);
    return A().Call(&v1::AccountService::Stub::RecordOverpaymentRecovery, r, out);
  }

  // A contributor enrolled in 2024: 500 yuan collected 2024-12-20 (2024's interest posted:
  // nothing, it arrived in December) and 500 yuan collected 2025-03-15.
  void MakeContributor(const std::string& id) {
    ASSERT_NO_FATAL_FAILURE(A().Enrol(id, "2024-01-01"));
    A().PushAccepted({AddRecord(StrCat("R-", id, "-2024"), id, 2024, 50000, "2024-12-20"),
                      AddRecord(StrCat("R-", id, "-2025"), id, 2025, 50000, "2025-03-15")});
    A().JobOk(v1::JOB_KIND_INTEREST, 2024);
  }

  std::unique_ptr<Node> node_;
};

v1::RecordDeathRequest DeathRequest(const std::string& id, const std::string& died,
                                    const std::string& date, const std::string& ref) {
  v1::RecordDeathRequest r;
  r.set_citizen_id(id);
  r.set_date_of_death(died);
  r.set_date(date);
  r.set_document_ref(ref);
  return r;
}

// The InterestAccrued events of the account's statement for `year`.
std::vector<v1::StatementLine> Accrued(const v1::Statement& st) {
  std::vector<v1::StatementLine> out;
  for (const auto& line : st.lines()) {
    if (line.kind() == "interest_accrued") out.push_back(line);
  }
  return out;
}

// Point 4: a pensioner (from 2025-01, 0.72 a month from the account) dies in February; January
// and February are still due (2 × 88.72) and the funeral subsidy is 1200 + 10 × 88 = 2080.00.
TEST_F(SettlementGrpcTest, DeathPaymentsThePaymentAccountCannotCoverAreRefused) {
  const std::string id = CitizenId("19500301", 111);
  ASSERT_NO_FATAL_FAILURE(A().Enrol(id, "2010-01-01"));
  A().PushAccepted({AddRecord("R-OLD-2010", id, 2010, 10000, "2010-06-01")});
  v1::DetermineBenefitRequest determine;
  determine.set_citizen_id(id);
  determine.set_date("2025-01-05");
  determine.set_document_ref("D-OLD");
  v1::CommandResponse response;
  Rpc rpc = A().Determine(determine, &response);
  ASSERT_TRUE(rpc.ok()) << Describe(rpc);
  A().FundsOk(v1::FISCAL_PURPOSE_BASIC_PENSION, 2025, 12 * kBasic, "2025-01-02");
  const int64_t need = 2 * (kBasic + 72) + kFuneralFixed + 10 * kBasic;
  A().RemitToSpecialOk(need, "2025-01-02");

  const auto head = A().Head();
  const auto before = A().Balances();
  rpc = A().Death(DeathRequest(id, "2025-02-10", "2025-03-01", "DEATH-OLD"), &response);
  EXPECT_EQ(rpc.status.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << Describe(rpc);
  EXPECT_EQ(rpc.reason, "REASON_INSUFFICIENT_PAYMENT_ACCOUNT");
  EXPECT_THAT(rpc.status.error_message(),
              HasSubstr(StrCat("fund.payment needs ", ledger::FormatFen(need), ", has 0.00")));
  EXPECT_EQ(A().Head().sequence, head.sequence);  // all or nothing
  EXPECT_EQ(A().Balances(), before);
  EXPECT_EQ(A().Account(id).status(), v1::PARTICIPANT_STATUS_DRAWING_PENSION);

  A().SweepToPaymentOk(need - 1, "2025-01-02");
  rpc = A().Death(DeathRequest(id, "2025-02-10", "2025-03-01", "DEATH-OLD"), &response);
  EXPECT_EQ(rpc.reason, "REASON_INSUFFICIENT_PAYMENT_ACCOUNT");
  EXPECT_THAT(rpc.status.error_message(), HasSubstr("short by 0.01"));

  A().SweepToPaymentOk(1, "2025-01-02");
  rpc = A().Death(DeathRequest(id, "2025-02-10", "2025-03-01", "DEATH-OLD"), &response);
  ASSERT_TRUE(rpc.ok()) << Describe(rpc);
  EXPECT_EQ(A().Account(id).status(), v1::PARTICIPANT_STATUS_DECEASED);
  // The arrears left the payment account; the funeral subsidy is owed to the heirs from it.
  EXPECT_EQ(At(A().Balances(), "fund.payment"), need - 2 * (kBasic + 72));
  EXPECT_EQ(At(A().Balances(), "funeral_subsidy_paid"), kFuneralFixed + 10 * kBasic);
}

// Point 6: died 2025-08-20: 2025's interest for January to August is credited before the estate
// is settled. 500 yuan × 8 months + 500 yuan × 5 months (from April) = 6500 yuan-months ×
// 1.5 % / 12 = 8.125 → 8.13 yuan (one half-up rounding), all personal.
TEST_F(SettlementGrpcTest, DeathCreditsTheInterestToTheDateOfDeath) {
  const std::string id = CitizenId("19700101", 222);
  ASSERT_NO_FATAL_FAILURE(MakeContributor(id));
  v1::CommandResponse response;
  Rpc rpc = A().Death(DeathRequest(id, "2025-08-20", "2025-09-01", "DEATH-C"), &response);
  ASSERT_TRUE(rpc.ok()) << Describe(rpc);
  const v1::Statement st = A().StatementOk(id, 2025);
  const auto accrued = Accrued(st);
  ASSERT_EQ(accrued.size(), 1u);
  EXPECT_EQ(accrued[0].total_fen(), 813);
  ASSERT_EQ(accrued[0].parts_size(), 1);
  EXPECT_EQ(accrued[0].parts(0).source(), v1::FUNDING_SOURCE_PERSONAL);
  EXPECT_EQ(accrued[0].sequence(), response.first_sequence());  // before the settlement
  EXPECT_EQ(st.interest_fen(), 813);
  EXPECT_EQ(st.closing_total_fen(), 0);
  const auto balances = A().Balances();
  EXPECT_EQ(At(balances, "heirs_payable"), -(100000 + 813));  // the heirs get the interest
  EXPECT_EQ(At(balances, "interest_expense"), 813);
  // The year's interest job later finds the closed account empty: nothing more.
  const v1::JobProgress interest = A().JobOk(v1::JOB_KIND_INTEREST, 2025);
  EXPECT_EQ(interest.accounts_credited(), 0u);
  EXPECT_EQ(At(A().Balances(), "interest_expense"), 813);
}

// Point 6: transferred out 2025-08-20 (the same 8.13 yuan goes with the balance), in again in
// region 222402 on 2025-09-01: 2025's interest job there pays October to December on the whole
// 1008.13 yuan (3 months × 1.5 % / 12 = 3.78), less nothing already paid for those months.
TEST_F(SettlementGrpcTest, TransferOutCreditsTheInterestToTheDateOfTransfer) {
  const std::string id = CitizenId("19700101", 333);
  ASSERT_NO_FATAL_FAILURE(MakeContributor(id));
  v1::TransferOutRequest out;
  out.set_citizen_id(id);
  out.set_to_region(kRegion2);
  out.set_date("2025-08-20");
  out.set_document_ref("OUT-C");
  v1::CommandResponse response;
  Rpc rpc = A().TransferOut(out, &response);
  ASSERT_TRUE(rpc.ok()) << Describe(rpc);
  EXPECT_EQ(response.last_sequence() - response.first_sequence(), 1u);  // accrued, then out
  EXPECT_EQ(At(A().Balances(), "transfers_in_transit"), -(100000 + 813));
  v1::TransferInRequest in;
  in.set_citizen_id(id);
  in.set_from_region(kRegion);
  in.set_to_region(kRegion2);
  in.set_date("2025-09-01");
  in.set_document_ref("IN-C");
  rpc = A().TransferIn(in, &response);
  ASSERT_TRUE(rpc.ok()) << Describe(rpc);
  EXPECT_EQ(A().Account(id).total_fen(), 100000 + 813);
  const v1::JobProgress interest = A().JobOk(v1::JOB_KIND_INTEREST, 2025, "", kRegion2);
  EXPECT_EQ(interest.accounts_credited(), 1u);
  EXPECT_EQ(interest.total_fen(), 378);  // 100813 × 3 × 150 / 120000 = 378.05
  const v1::Statement st = A().StatementOk(id, 2025);
  EXPECT_EQ(st.interest_fen(), 813 + 378);
  EXPECT_EQ(st.closing_total_fen(), 100000 + 813 + 378);
}

// Point 6: an overpayment no estate covers. A pensioner of the paper policy without a funeral
// subsidy, paid January to April 2025, died in January with an empty account: February to
// April (3 × 88.00) are outstanding; they are recovered and written off, never more.
TEST_F(SettlementGrpcTest, OutstandingOverpaymentIsRecoveredOrWrittenOffNeverMore) {
  v1::Policy policy = PaperPolicy(kRegion3);
  policy.mutable_funeral_subsidy()->set_fixed_fen(0);
  policy.mutable_funeral_subsidy()->set_basic_pension_months(0);
  ASSERT_NO_FATAL_FAILURE(A().Adopt(policy));
  const std::string id = CitizenId("19450501", 444, kRegion3);
  ASSERT_NO_FATAL_FAILURE(A().Enrol(id, "2020-01-01", kRegion3));
  v1::DetermineBenefitRequest determine;
  determine.set_citizen_id(id);
  determine.set_date("2025-01-05");
  determine.set_document_ref("D-P");
  v1::CommandResponse response;
  Rpc rpc = A().Determine(determine, &response);
  ASSERT_TRUE(rpc.ok()) << Describe(rpc);
  A().FundsOk(v1::FISCAL_PURPOSE_BASIC_PENSION, 2025, 4 * kBasic, "2025-01-02", kRegion3);
  A().SweepToPaymentOk(4 * kBasic, "2025-01-02", kRegion3);
  for (int month = 202501; month <= 202504; ++month) {
    A().JobOk(v1::JOB_KIND_BENEFITS, month, StrCat("2025-0", month % 100, "-10"), kRegion3);
  }
  rpc = A().Death(DeathRequest(id, "2025-01-20", "2025-05-01", "DEATH-P"), &response);
  ASSERT_TRUE(rpc.ok()) << Describe(rpc);
  EXPECT_EQ(At(A().Balances(kRegion3), "overpayment_receivable"), 3 * kBasic);

  const auto head = A().Head();
  rpc = Recover(id, 3 * kBasic + 1, v1::OVERPAYMENT_RECOVERY_METHOD_RECOVERED, "REC-1", &response);
  EXPECT_EQ(rpc.status.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << Describe(rpc);
  EXPECT_EQ(rpc.reason, "REASON_OVER_OUTSTANDING_OVERPAYMENT");
  EXPECT_THAT(rpc.status.error_message(), HasSubstr("264.00 of overpayment outstanding"));
  EXPECT_EQ(A().Head().sequence, head.sequence);

  rpc = Recover(id, 2 * kBasic, v1::OVERPAYMENT_RECOVERY_METHOD_RECOVERED, "REC-1", &response);
  ASSERT_TRUE(rpc.ok()) << Describe(rpc);
  rpc = Recover(id, kBasic, v1::OVERPAYMENT_RECOVERY_METHOD_WRITTEN_OFF, "REC-2", &response);
  ASSERT_TRUE(rpc.ok()) << Describe(rpc);
  const auto balances = A().Balances(kRegion3);
  EXPECT_EQ(At(balances, "overpayment_receivable"), 0);
  EXPECT_EQ(At(balances, "fund.payment"), 2 * kBasic);  // recovered into the payment account
  EXPECT_EQ(At(balances, "overpayment_written_off"), kBasic);
  rpc = Recover(id, 1, v1::OVERPAYMENT_RECOVERY_METHOD_WRITTEN_OFF, "REC-3", &response);
  EXPECT_EQ(rpc.reason, "REASON_OVER_OUTSTANDING_OVERPAYMENT");
  EXPECT_THAT(rpc.status.error_message(), HasSubstr("0.00 of overpayment outstanding"));
}

}  // namespace
