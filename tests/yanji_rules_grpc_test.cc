// Issue 16, points 3, 9 and 10 through the gRPC seam (the in-process server, clock 2026-11-20):
//   3. a government subsidy for a year before the pension, credited after the determination,
//      recomputes the account pension (BenefitRecalculated) from the first unpaid month;
//   9. the demo policy's versions follow their sources: v1 from 2009 (the scheme's start, rules
//      for every year since) without the Yanji funeral subsidy, v2 from 2026-01-01 (延吉细则
//      第二十九条) with it;
//  10. enrolment records the attested eligibility and refuses the Yanji exclusions (第三条).
#include <unistd.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ledger/strings.h"
#include "ledger/v1/services.grpc.pb.h"
#include "tests/support/grpc_node.h"

namespace {

namespace v1 = ledger::v1;
using namespace ledger::testing;  // NOLINT: the shared fixtures of the gRPC tests
using ::ledger::StrCat;
using ::testing::HasSubstr;

class YanjiRulesGrpcTest : public ::testing::Test {
 protected:
  void Start(const std::vector<v1::Policy>& policies) {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    node_ = std::make_unique<Node>(StrCat(::testing::TempDir(), "yanji_rules_grpc_", info->name(),
                                          "_", static_cast<int64_t>(getpid())));
    node_->Start();
    for (const v1::Policy& p : policies) node_->Adopt(p);
  }

  void StartDemo() {
    auto versions = LoadDemoPolicies();
    ASSERT_TRUE(versions.ok()) << versions.status();
    ASSERT_NO_FATAL_FAILURE(Start(*versions));
  }

  Node& A() { return *node_; }

  // `id` enrolled in 2011 and contributing 100 yuan each year 2011–2025 (15 years).
  void FifteenYears(const std::string& id) {
    ASSERT_NO_FATAL_FAILURE(A().Enrol(id, "2011-01-01"));
    std::vector<v1::CollectionRecord> records;
    for (int year = 2011; year <= 2025; ++year) {
      records.push_back(AddRecord(StrCat("R-", id.substr(12), "-", year), id, year, 10000,
                                  StrCat(year, "-06-01")));
    }
    EXPECT_EQ(A().PushAccepted(records).size(), 15u);
  }

  Rpc Determine(const std::string& id, const std::string& date, v1::CommandResponse* out) {
    v1::DetermineBenefitRequest d;
    d.set_citizen_id(id);
    d.set_date(date);
    d.set_document_ref(StrCat("D-", id.substr(12)));
    return A().Determine(d, out);
  }

  // A pensioner from 2025-01 (born 1945: no contribution years required, balance 0) who dies on
  // `died`, recorded on `recorded`, with the payment account holding enough.
  void PensionerDies(const std::string& id, const std::string& died, const std::string& recorded) {
    ASSERT_NO_FATAL_FAILURE(A().Enrol(id, "2024-01-01"));
    v1::CommandResponse response;
    Rpc rpc = Determine(id, "2025-01-05", &response);
    ASSERT_TRUE(rpc.ok()) << Describe(rpc);
    v1::RecordDeathRequest death;
    death.set_citizen_id(id);
    death.set_date_of_death(died);
    death.set_date(recorded);
    death.set_document_ref(StrCat("DEATH-", id.substr(12)));
    rpc = A().Death(death, &response);
    ASSERT_TRUE(rpc.ok()) << Describe(rpc);
    EXPECT_EQ(A().Account(id).status(), v1::PARTICIPANT_STATUS_DECEASED);
  }

  std::unique_ptr<Node> node_;
};

// Point 9: the versions and their dates.
TEST_F(YanjiRulesGrpcTest, DemoPolicyVersionsFollowTheirSourceDates) {
  ASSERT_NO_FATAL_FAILURE(StartDemo());
  auto versions = LoadDemoPolicies();
  ASSERT_TRUE(versions.ok());
  ASSERT_EQ(versions->size(), 2u);
  const v1::Policy& v1p = (*versions)[0];
  const v1::Policy& v2p = (*versions)[1];
  EXPECT_EQ(v1p.effective_from(), "2009-01-01");
  EXPECT_EQ(v1p.funeral_subsidy().fixed_fen(), 0);
  EXPECT_EQ(v2p.effective_from(), "2026-01-01");  // 本实施细则自 2026 年 1 月 1 日起施行
  EXPECT_EQ(v2p.funeral_subsidy().fixed_fen(), 120000);
  EXPECT_EQ(v2p.funeral_subsidy().basic_pension_months(), 10u);
  // Rules for every year from the scheme's start, in both versions.
  for (const v1::Policy* p : {&v1p, &v2p}) {
    EXPECT_EQ(p->years(0).year(), p->scheme_start_year()) << p->version();
  }
  grpc::ClientContext context;
  v1::GetPolicyRequest request;
  request.set_region_code(kRegion);
  v1::Policy served;
  ASSERT_TRUE(A().policies().GetPolicy(&context, request, &served).ok());
  EXPECT_EQ(served.version(), 2u);
}

// Point 9: someone turning 60 in 2026 needs 15 years (scheme start 2009) and can show them:
// 2011–2025 are payable under the demo policy. Before: no rules before 2014, 12 years at most.
TEST_F(YanjiRulesGrpcTest, SomeoneTurningSixtyIn2026CanShowFifteenYears) {
  ASSERT_NO_FATAL_FAILURE(StartDemo());
  const std::string id = CitizenId("19660315", 601);
  ASSERT_NO_FATAL_FAILURE(FifteenYears(id));
  EXPECT_EQ(A().Account(id).contribution_years(), 15u);
  v1::CommandResponse response;
  const Rpc rpc = Determine(id, "2026-04-01", &response);
  ASSERT_TRUE(rpc.ok()) << Describe(rpc);
  const v1::Account a = A().Account(id);
  EXPECT_EQ(a.status(), v1::PARTICIPANT_STATUS_DRAWING_PENSION);
  EXPECT_EQ(a.benefit().contribution_years(), 15u);
  EXPECT_EQ(a.benefit().start_month(), 202604);
}

// Point 9: the funeral subsidy (延吉细则 第二十六条) is paid for deaths from 2026-01-01 only.
TEST_F(YanjiRulesGrpcTest, FuneralSubsidyOnlyForDeathsFromTheRulesDate) {
  ASSERT_NO_FATAL_FAILURE(StartDemo());
  // The basic pension is 143 + 10 yuan a month; the second pensioner is owed 14 months at death.
  A().FundsOk(v1::FISCAL_PURPOSE_BASIC_PENSION, 2025, 24 * 15300, "2025-01-02");
  A().SweepToPaymentOk(24 * 15300, "2025-01-02");
  A().FundsOk(v1::FISCAL_PURPOSE_BASIC_PENSION, 2026, 12 * 15300, "2026-01-02");
  A().SweepToPaymentOk(12 * 15300, "2026-01-02");
  // Died February 2025 (v1 in force): January and February due, no funeral subsidy.
  ASSERT_NO_FATAL_FAILURE(PensionerDies(CitizenId("19450501", 901), "2025-02-10", "2025-03-01"));
  EXPECT_EQ(At(A().Balances(), "funeral_subsidy_paid"), 0);
  // Died February 2026 (v2): 1200 yuan + 10 × the basic pension of the month (143 + 10 yuan).
  ASSERT_NO_FATAL_FAILURE(PensionerDies(CitizenId("19450501", 902), "2026-02-10", "2026-03-01"));
  EXPECT_EQ(At(A().Balances(), "funeral_subsidy_paid"), 120000 + 10 * 15300);
  EXPECT_EQ(Sum(A().Balances()), 0);
}

// Point 10: the Yanji exclusions are refused with a typed reason, nothing recorded.
TEST_F(YanjiRulesGrpcTest, EnrolmentRefusesTheAttestedExclusions) {
  ASSERT_NO_FATAL_FAILURE(Start({PaperPolicy()}));
  const std::string id = CitizenId("19900101", 310);
  for (auto excluded : {v1::ELIGIBILITY_ATTESTATION_STUDENT, v1::ELIGIBILITY_ATTESTATION_PUBLIC_SERVANT,
                        v1::ELIGIBILITY_ATTESTATION_EMPLOYEE_SCHEME_MEMBER}) {
    v1::ParticipantEnrolled p = Participant(id, "朴");
    p.set_eligibility_attestation(excluded);
    const auto head = A().Head();
    v1::EnrolResponse response;
    const Rpc rpc = A().Enrol(p, &response);
    EXPECT_EQ(rpc.status.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << Describe(rpc);
    EXPECT_EQ(rpc.reason, "REASON_EXCLUDED_FROM_SCHEME");
    EXPECT_THAT(rpc.status.error_message(), HasSubstr(v1::EligibilityAttestation_Name(excluded)));
    EXPECT_EQ(A().Head().sequence, head.sequence);
    v1::Account a;
    EXPECT_EQ(A().GetAccount(id, &a).status.error_code(), grpc::StatusCode::NOT_FOUND);
  }
  v1::ParticipantEnrolled unknown = Participant(id, "朴");
  unknown.set_eligibility_attestation(static_cast<v1::EligibilityAttestation>(99));
  v1::EnrolResponse response;
  Rpc rpc = A().Enrol(unknown, &response);
  EXPECT_EQ(rpc.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << Describe(rpc);
  EXPECT_EQ(rpc.reason, "REASON_INVALID_FIELD");

  v1::ParticipantEnrolled eligible = Participant(id, "朴");
  eligible.set_eligibility_attestation(v1::ELIGIBILITY_ATTESTATION_ELIGIBLE);
  rpc = A().Enrol(eligible, &response);
  ASSERT_TRUE(rpc.ok()) << Describe(rpc);
  EXPECT_EQ(A().Account(id).eligibility_attestation(), v1::ELIGIBILITY_ATTESTATION_ELIGIBLE);
  // Not attested (enrolments before the rule, or a caller that does not say) is recorded as such.
  const std::string other = CitizenId("19900101", 311);
  ASSERT_NO_FATAL_FAILURE(A().Enrol(other, "2020-01-01"));
  EXPECT_EQ(A().Account(other).eligibility_attestation(), v1::ELIGIBILITY_ATTESTATION_UNSPECIFIED);
}

// Point 3: retired in February 2026, paid February and March; the 2025 government subsidy
// (30.00, tier 100) arrives in November 2026. The account pension becomes
// round_half_up((1500.00 + 30.00) ÷ 139) = 11.01 (was 1500.00 ÷ 139 = 10.79) from April, the
// first unpaid month; February and March stay as paid.
TEST_F(YanjiRulesGrpcTest, LateSubsidyRecalculatesTheAccountPension) {
  ASSERT_NO_FATAL_FAILURE(Start({PaperPolicy()}));
  const std::string id = CitizenId("19660115", 303);
  ASSERT_NO_FATAL_FAILURE(FifteenYears(id));
  v1::CommandResponse response;
  Rpc rpc = Determine(id, "2026-02-05", &response);
  ASSERT_TRUE(rpc.ok()) << Describe(rpc);
  EXPECT_EQ(A().Account(id).benefit().account_pension_monthly_fen(), 1079);
  A().FundsOk(v1::FISCAL_PURPOSE_BASIC_PENSION, 2026, 12 * kBasic, "2026-01-02");
  A().RemitToSpecialOk(20000, "2026-01-02");
  A().SweepToPaymentOk(6 * kBasic + 20000, "2026-01-03");
  A().JobOk(v1::JOB_KIND_BENEFITS, 202602, "2026-02-25");
  A().JobOk(v1::JOB_KIND_BENEFITS, 202603, "2026-03-25");
  EXPECT_EQ(A().Account(id).benefit().next_month(), 202604);

  A().FundsOk(v1::FISCAL_PURPOSE_CONTRIBUTION_SUBSIDY, 2025, 3000, "2026-11-01");
  EXPECT_EQ(A().JobOk(v1::JOB_KIND_GOVERNMENT_SUBSIDY, 2025, "2026-11-10").accounts_credited(),
            1u);
  v1::Account a = A().Account(id);
  EXPECT_EQ(SourceFen(a, v1::FUNDING_SOURCE_GOVERNMENT), 3000);
  // Before the change: 10.79 for life, the 30.00 outside the ÷139 base.
  EXPECT_EQ(a.benefit().account_pension_monthly_fen(), 1101);
  EXPECT_EQ(a.benefit().balance_at_start_fen(), 150000);
  EXPECT_EQ(a.benefit().late_credits_fen(), 3000);
  EXPECT_EQ(a.benefit().recalculated_from_month(), 202604);
  EXPECT_EQ(a.benefit().paid_account_fen(), 2 * 1079);  // months already paid are not revisited

  // The statement lists the recalculation under the job that credited the subsidy.
  const v1::Statement st = A().StatementOk(id, 2026);
  int recalculations = 0;
  for (const auto& line : st.lines()) {
    if (line.kind() != "benefit_recalculated") continue;
    ++recalculations;
    EXPECT_EQ(line.reference(), "job/government_subsidy/2025");
    EXPECT_EQ(line.month(), 202604);
    EXPECT_EQ(line.total_fen(), 0);
  }
  EXPECT_EQ(recalculations, 1);

  // April is paid at the new amount.
  A().JobOk(v1::JOB_KIND_BENEFITS, 202604, "2026-11-15");
  a = A().Account(id);
  EXPECT_EQ(a.benefit().paid_account_fen(), 2 * 1079 + 1101);
  EXPECT_EQ(Sum(A().Balances()), 0);
}

}  // namespace
