// Issue 16, points 1, 2 and 7 through the gRPC seam (the in-process server, clock 2026-11-20,
// the paper policy of tests/support/fixtures: tier 100 earns a 30.00 government subsidy):
//   1. a cancelled (撤销) or refunded contribution takes its year's subsidies with it;
//   2. payment on behalf (代缴) only for people still contributing;
//   7. back payments (补缴) beyond 15 years in total go to suspense.
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

class SubsidyRulesGrpcTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_NO_FATAL_FAILURE(Start(PaperPolicy())); }

  void Start(const v1::Policy& policy) {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    node_ = std::make_unique<Node>(StrCat(::testing::TempDir(), "subsidy_rules_grpc_",
                                          info->name(), "_", static_cast<int64_t>(getpid())));
    node_->Start();
    node_->Adopt(policy);
  }

  Node& A() { return *node_; }

  // `id` enrolled, its 2025 contribution (tier 100) collected, the 2025 government subsidy
  // (30.00) credited in December and a 900.00 collective subsidy in March 2026.
  v1::CollectionRecord Subsidised(const std::string& id) {
    A().Enrol(id, "2020-06-01");
    const v1::CollectionRecord add = AddRecord(StrCat("R-", id.substr(14)), id, 2025, 10000,
                                               "2025-11-10");
    A().PushAccepted({add});
    A().FundsOk(v1::FISCAL_PURPOSE_CONTRIBUTION_SUBSIDY, 2025, 3000, "2025-12-01");
    EXPECT_EQ(A().JobOk(v1::JOB_KIND_GOVERNMENT_SUBSIDY, 2025, "2025-12-20").accounts_credited(),
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
    EXPECT_TRUE(rpc.ok()) << Describe(rpc);
    const v1::Account a = A().Account(id);
    EXPECT_EQ(SourceFen(a, v1::FUNDING_SOURCE_GOVERNMENT), 3000);
    EXPECT_EQ(SourceFen(a, v1::FUNDING_SOURCE_COLLECTIVE), 90000);
    return add;
  }

  // Every movement the account saw, with what a reversal must have given back.
  void ExpectSubsidiesGivenBack(const std::string& id, const std::string& reference) {
    const v1::Account a = A().Account(id);
    // Before the change: 3000 and 90000 stayed in the account after the reversal.
    EXPECT_EQ(SourceFen(a, v1::FUNDING_SOURCE_GOVERNMENT), 0);
    EXPECT_EQ(SourceFen(a, v1::FUNDING_SOURCE_COLLECTIVE), 0);
    EXPECT_EQ(SourceFen(a, v1::FUNDING_SOURCE_PERSONAL), 0);
    EXPECT_EQ(a.contribution_years(), 0u);
    for (const auto& y : a.years()) {
      EXPECT_EQ(y.government_subsidy_fen(), 0) << y.year();
      EXPECT_EQ(y.collective_sponsorship_fen(), 0) << y.year();
    }
    const BalanceMap balances = A().Balances();
    EXPECT_EQ(At(balances, "fiscal_funds/contribution_subsidy/2025"), -3000);  // available again
    EXPECT_EQ(At(balances, "collective_refunds_payable"), -90000);  // owed back to the village
    EXPECT_EQ(Sum(balances), 0);
    // The fund received 30.00 and used nothing in the end: exact, no break.
    const v1::Reconciliation recon = A().Recon();
    bool found = false;
    for (const auto& f : recon.fiscal_funds()) {
      if (f.purpose() != v1::FISCAL_PURPOSE_CONTRIBUTION_SUBSIDY || f.year() != 2025) continue;
      found = true;
      EXPECT_EQ(f.received_fen(), 3000);
      EXPECT_EQ(f.used_fen(), 0);
      EXPECT_EQ(f.unused_fen(), 3000);
    }
    EXPECT_TRUE(found);
    EXPECT_EQ(recon.summary().fiscal_funds_in_break(), 0u);
    // The statement shows each movement back, under the reversal's reference.
    const v1::Statement st = A().StatementOk(id, 2026);
    int government = 0, collective = 0;
    for (const auto& line : st.lines()) {
      if (line.kind() == "government_subsidy_reversed") {
        ++government;
        EXPECT_EQ(line.total_fen(), -3000);
        EXPECT_EQ(line.reference(), reference);
      }
      if (line.kind() == "collective_subsidy_reversed") {
        ++collective;
        EXPECT_EQ(line.total_fen(), -90000);
        EXPECT_EQ(line.reference(), reference);
      }
    }
    EXPECT_EQ(government, 1);
    EXPECT_EQ(collective, 1);
  }

  std::unique_ptr<Node> node_;
};

TEST_F(SubsidyRulesGrpcTest, CancellationTakesTheYearsSubsidiesBack) {
  const std::string id = CitizenId("19700303", 789);
  const v1::CollectionRecord add = Subsidised(id);
  A().PushAccepted({CancelOf(add, "2026-05-06")});
  ExpectSubsidiesGivenBack(id, add.receipt_number());
}

TEST_F(SubsidyRulesGrpcTest, RefundTakesTheYearsSubsidiesBack) {
  const std::string id = CitizenId("19700303", 789);
  const v1::CollectionRecord add = Subsidised(id);
  v1::RefundContributionRequest r;
  r.set_receipt_number(add.receipt_number());
  r.set_reason(v1::REFUND_REASON_DUPLICATE_ENROLMENT);
  r.set_date("2026-05-06");
  r.set_document_ref("REFUND-1");
  v1::CommandResponse response;
  const Rpc rpc = A().Refund(r, &response);
  ASSERT_TRUE(rpc.ok()) << Describe(rpc);
  EXPECT_EQ(response.last_sequence(), response.first_sequence() + 2);  // refund + 2 reversals
  ExpectSubsidiesGivenBack(id, "REFUND-1");
}

TEST_F(SubsidyRulesGrpcTest, PaidOnBehalfOnlyForPeopleStillContributing) {
  v1::Policy policy = PaperPolicy();
  for (auto& y : *policy.mutable_years()) {
    v1::PaidOnBehalf* p = y.add_paid_on_behalf();
    p->set_group(v1::SPECIAL_GROUP_SEVERELY_DISABLED);
    p->set_amount_fen(10000);
  }
  ASSERT_NO_FATAL_FAILURE(Start(policy));
  const std::string pensioner = CitizenId("19490315", 111);  // 60 in 2009: needs no year
  const std::string contributor = CitizenId("19700303", 222);
  for (const std::string& id : {pensioner, contributor}) {
    v1::ParticipantEnrolled p = Participant(id, "残", "2009-06-01");
    p.set_special_group(v1::SPECIAL_GROUP_SEVERELY_DISABLED);
    v1::EnrolResponse r;
    const Rpc rpc = A().Enrol(p, &r);
    ASSERT_TRUE(rpc.ok()) << Describe(rpc);
  }
  v1::DetermineBenefitRequest d;
  d.set_citizen_id(pensioner);
  d.set_date("2010-01-10");
  d.set_document_ref("DET-1");
  v1::CommandResponse response;
  Rpc rpc = A().Determine(d, &response);
  ASSERT_TRUE(rpc.ok()) << Describe(rpc);
  A().FundsOk(v1::FISCAL_PURPOSE_PAID_ON_BEHALF, 2011, 20000, "2011-12-01");
  const v1::JobProgress job = A().JobOk(v1::JOB_KIND_GOVERNMENT_SUBSIDY, 2011, "2011-12-20");
  // Before the change: 2 accounts, 200.00 (the pensioner got a 代缴 year too).
  EXPECT_EQ(job.accounts_credited(), 1u);
  EXPECT_EQ(job.total_fen(), 10000);
  const v1::Account a = A().Account(pensioner);
  EXPECT_EQ(SourceFen(a, v1::FUNDING_SOURCE_GOVERNMENT), 0);
  for (const auto& y : a.years()) EXPECT_EQ(y.paid_on_behalf_fen(), 0) << y.year();
  EXPECT_EQ(SourceFen(A().Account(contributor), v1::FUNDING_SOURCE_GOVERNMENT), 10000);
}

TEST_F(SubsidyRulesGrpcTest, BackPaymentsBeyondFifteenYearsGoToSuspense) {
  const std::string id = CitizenId("19700303", 789);
  A().Enrol(id, "2009-06-01");
  std::vector<v1::CollectionRecord> fifteen;
  for (int year = 2009; year <= 2023; ++year) {
    fifteen.push_back(AddRecord(StrCat("R-BACK-", year), id, year, 10000, "2025-01-10"));
  }
  A().PushAccepted(fifteen);  // 15 back-paid years: allowed
  // Before the change: OUTCOME_ACCEPTED, a 16th back-paid year in the account.
  v1::PushCollectionsResponse out =
      A().Push({AddRecord("R-BACK-2024", id, 2024, 10000, "2025-01-10"),
                AddRecord("R-2025", id, 2025, 10000, "2025-01-10")});  // not a back payment
  ASSERT_EQ(out.outcomes_size(), 2);
  EXPECT_EQ(out.outcomes(0).outcome(), v1::OUTCOME_SUSPENSE);
  EXPECT_EQ(out.outcomes(0).suspense_reason(), v1::SUSPENSE_REASON_BACK_PAYMENT_LIMIT);
  EXPECT_EQ(out.outcomes(1).outcome(), v1::OUTCOME_ACCEPTED);
  const v1::Account a = A().Account(id);
  EXPECT_EQ(a.contributions_size(), 16);
  EXPECT_EQ(At(A().Balances(), "suspense"), -10000);
}

}  // namespace
