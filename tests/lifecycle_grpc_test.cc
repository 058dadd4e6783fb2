// The account lifecycle (issue 3) end to end through the gRPC seam: a real ledger on a temporary
// RocksDB directory, the real server on a loopback port in plain text, a clock fixed at
// 2026-11-20, and generated client stubs. Every command and job goes through AccountService /
// FundService; the in-process ledger is read only for its chain head (to prove a rejection
// wrote nothing).
//
// The "paper" policy and its numbers are those of ledger/lifecycle_test.cc (Sun, Su & Xian,
// Sustainability 2020, Table 3: 15 years, December contributions, 1.5 %, divisor 139, basic
// pension 88 yuan): tier 100 + 30 → 2168.68 yuan, pension 15.60 + 88; tier 500 + 60 → 9342.00,
// pension 67.21 + 88 = 155.21.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "ledger/citizen_id.h"
#include "ledger/ledger.h"
#include "ledger/strings.h"
#include "ledger/v1/services.grpc.pb.h"
#include "services/services.h"
#include "tests/support/grpc_node.h"

namespace {

namespace v1 = ledger::v1;
using namespace ledger::testing;  // NOLINT: the shared fixtures of the gRPC tests
using ::ledger::StrCat;
using ::testing::HasSubstr;

class LifecycleGrpcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(node_ = NewNode("a"));
    ASSERT_NO_FATAL_FAILURE(node_->Adopt(PaperPolicy()));
  }

  // A further ledger with its own data directory, started.
  std::unique_ptr<Node> NewNode(const std::string& name) {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    auto node = std::make_unique<Node>(StrCat(::testing::TempDir(), "lifecycle_grpc_", info->name(),
                                              "_", name, "_", static_cast<int64_t>(getpid())));
    node->Start();
    return node;
  }

  Node& A() { return *node_; }

  std::unique_ptr<Node> node_;
};

v1::DetermineBenefitRequest DetermineRequest(const std::string& id, const std::string& date,
                                             const std::string& ref) {
  v1::DetermineBenefitRequest r;
  r.set_citizen_id(id);
  r.set_date(date);
  r.set_document_ref(ref);
  return r;
}

v1::CreditCollectiveSubsidyRequest CollectiveRequest(const std::string& id, int year, int64_t fen,
                                                     const std::string& date,
                                                     const std::string& ref) {
  v1::CreditCollectiveSubsidyRequest r;
  r.set_citizen_id(id);
  r.set_contribution_year(year);
  r.set_amount_fen(fen);
  r.set_source(v1::FUNDING_SOURCE_COLLECTIVE);
  r.set_payer("村集体");
  r.set_date(date);
  r.set_document_ref(ref);
  return r;
}

// --- (a) a whole life, every balance asserted -------------------------------------------------

TEST_F(LifecycleGrpcTest, WholeLifeMatchesThePaperAndSettlesOnDeath) {
  const std::string sun = CitizenId("19650615");          // tier 100; 60 on 2025-06-15
  const std::string su = CitizenId("19650110", 456);    // tier 500
  const std::string xian = CitizenId("19700303", 789);  // tier 100 + a collective subsidy in 2015
  for (const std::string& id : {sun, su, xian}) {
    ASSERT_NO_FATAL_FAILURE(A().Enrol(id, "2009-06-01"));
  }
  constexpr int64_t kCollective = 20000;
  int64_t interest_2015_sun = 0;
  for (int year = 2010; year <= 2024; ++year) {
    SCOPED_TRACE(year);
    const std::string december = StrCat(year, "-12-20");
    if (year == 2015) {
      // The village pays 200 yuan for Xian's 2014 contribution, credited in March 2015: it earns
      // interest from April (9 months of 2015).
      v1::CommandResponse credited;
      Rpc rpc = A().Collective(
          CollectiveRequest(xian, 2014, kCollective, "2015-03-10", "COLL-2014-XIAN"), &credited);
      ASSERT_TRUE(rpc.ok()) << Describe(rpc);
      EXPECT_FALSE(credited.duplicate());
      EXPECT_EQ(credited.last_sequence(), credited.first_sequence());  // 2015 not yet posted
      EXPECT_EQ(A().Account(xian).last_sequence(), credited.first_sequence());
    }
    A().PushAccepted({AddRecord(StrCat("R-SUN-", year), sun, year, 10000, december),
                      AddRecord(StrCat("R-SU-", year), su, year, 50000, december),
                      AddRecord(StrCat("R-XIAN-", year), xian, year, 10000, december)});
    A().FundsOk(v1::FISCAL_PURPOSE_CONTRIBUTION_SUBSIDY, year, 3000 + 6000 + 3000,
                StrCat(year, "-12-01"));
    const v1::JobProgress subsidy = A().JobOk(v1::JOB_KIND_GOVERNMENT_SUBSIDY, year, december);
    EXPECT_EQ(subsidy.accounts_credited(), 3u);
    EXPECT_EQ(subsidy.total_fen(), 12000);
    EXPECT_EQ(At(A().Balances(), StrCat("fiscal_funds/contribution_subsidy/", year)), 0);
    const v1::JobProgress interest = A().JobOk(v1::JOB_KIND_INTEREST, year);
    EXPECT_EQ(interest.accounts_credited(), year == 2010 ? 0u : 3u);  // 2010: all in December
    if (year == 2015) {
      const v1::Account s = A().Account(sun);
      const v1::Account x = A().Account(xian);
      interest_2015_sun = YearInterestTotal(s, 2015);
      EXPECT_GT(interest_2015_sun, 0);
      // 200 yuan × 1.5 % × 9/12 = 2.25 yuan more than Sun (same contributions otherwise).
      EXPECT_EQ(YearInterestTotal(x, 2015) - interest_2015_sun, 225);
      EXPECT_EQ(interest.total_fen(), YearInterestTotal(s, 2015) + YearInterestTotal(x, 2015) +
                                          YearInterestTotal(A().Account(su), 2015));
    }
  }

  v1::Account a = A().Account(sun);
  EXPECT_EQ(a.total_fen(), 216868);  // the paper: 2168.68 yuan
  EXPECT_EQ(a.contribution_years(), 15u);
  EXPECT_EQ(SourceFen(a, v1::FUNDING_SOURCE_PERSONAL) + SourceFen(a, v1::FUNDING_SOURCE_GOVERNMENT),
            216868);
  EXPECT_GT(SourceFen(a, v1::FUNDING_SOURCE_GOVERNMENT), 15 * 3000);  // subsidy earns interest too
  const v1::Account b = A().Account(su);
  EXPECT_EQ(b.total_fen(), 934200);  // the paper: 9342.00 yuan
  EXPECT_EQ(b.contribution_years(), 15u);
  const v1::Account x = A().Account(xian);
  EXPECT_EQ(SourceFen(x, v1::FUNDING_SOURCE_PERSONAL) +
                SourceFen(x, v1::FUNDING_SOURCE_GOVERNMENT) +
                SourceFen(x, v1::FUNDING_SOURCE_COLLECTIVE),
            x.total_fen());
  EXPECT_GT(SourceFen(x, v1::FUNDING_SOURCE_COLLECTIVE), kCollective);  // with its interest
  EXPECT_GT(x.total_fen(), a.total_fen() + kCollective);

  // Benefit determination: 2168.68 / 139 = 15.60 a month (+ 88 basic = 103.60).
  v1::CommandResponse determined;
  Rpc rpc = A().Determine(DetermineRequest(sun, "2025-07-01", "D-SUN"), &determined);
  ASSERT_TRUE(rpc.ok()) << Describe(rpc);
  a = A().Account(sun);
  EXPECT_EQ(a.status(), v1::PARTICIPANT_STATUS_DRAWING_PENSION);
  EXPECT_EQ(a.benefit().account_pension_monthly_fen(), 1560);
  EXPECT_EQ(a.benefit().account_pension_monthly_fen() + kBasic, 10360);
  EXPECT_EQ(a.benefit().start_month(), 202507);
  EXPECT_EQ(a.benefit().next_month(), 202507);
  EXPECT_EQ(a.benefit().balance_at_start_fen(), 216868);
  EXPECT_EQ(a.benefit().contribution_years(), 15u);
  EXPECT_EQ(a.last_sequence(), determined.first_sequence());

  constexpr int64_t kBasicReceived = 12 * kBasic;
  A().FundsOk(v1::FISCAL_PURPOSE_BASIC_PENSION, 2025, kBasicReceived, "2025-07-01");
  // The payment account pays the four months and the funeral subsidy (issue 16, point 4).
  constexpr int64_t kSwept = 4 * (kBasic + 1560) + kFuneralFixed + 10 * kBasic;
  A().SweepToPaymentOk(kSwept, "2025-07-01");
  for (int month = 202507; month <= 202510; ++month) {
    SCOPED_TRACE(month);
    const v1::JobProgress paid = A().JobOk(v1::JOB_KIND_BENEFITS, month, DayOf(month, 10));
    EXPECT_EQ(paid.accounts_credited(), 1u);
    EXPECT_EQ(paid.total_fen(), kBasic + 1560);
  }
  a = A().Account(sun);
  EXPECT_EQ(a.total_fen(), 216868 - 4 * 1560);
  EXPECT_EQ(a.benefit().paid_basic_fen(), 4 * kBasic);
  EXPECT_EQ(a.benefit().paid_account_fen(), 4 * 1560);
  EXPECT_EQ(a.benefit().paid_pooled_fen(), 0);
  EXPECT_EQ(a.benefit().next_month(), 202511);
  EXPECT_EQ(At(A().Balances(), "fiscal_funds/basic_pension/2025"), -(kBasicReceived - 4 * kBasic));

  // Died on 2025-08-20, recorded 2025-11-01: September and October were paid after the month of
  // death and are an overpayment, offset against what the heirs receive.
  v1::RecordDeathRequest death;
  death.set_citizen_id(sun);
  death.set_date_of_death("2025-08-20");
  death.set_date("2025-11-01");
  death.set_document_ref("DEATH-SUN");
  v1::CommandResponse settled;
  rpc = A().Death(death, &settled);
  ASSERT_TRUE(rpc.ok()) << Describe(rpc);
  EXPECT_FALSE(settled.duplicate());
  // Interest to the date of death (issue 16, point 6), died, overpayment recognised, funeral
  // subsidy, inheritance: one commit, five events.
  EXPECT_EQ(settled.last_sequence() - settled.first_sequence(), 4u);
  EXPECT_EQ(A().Head().sequence, settled.last_sequence());

  a = A().Account(sun);
  EXPECT_EQ(a.status(), v1::PARTICIPANT_STATUS_DECEASED);
  EXPECT_EQ(a.date_of_death(), "2025-08-20");
  EXPECT_EQ(a.total_fen(), 0);
  for (const v1::SourceBalance& s : a.balances()) {
    EXPECT_EQ(s.principal_fen() + s.interest_fen(), 0) << v1::FundingSource_Name(s.source());
  }
  const int64_t funeral = kFuneralFixed + 10 * kBasic;  // 1200 + 10 × 88 = 2080 yuan
  const int64_t overpaid = 2 * kBasic + 2 * 1560;
  // 2025's interest for January to August: 2168.68 × 8 months, less July's 15.60 for one month,
  // × 1.5 % / 12 = 21.6673 → 21.67 (August's payment and later earn nothing before the death).
  const int64_t accrued = 2167;
  // The account parts come back first.
  const int64_t estate = 216868 + accrued - 4 * 1560 + 2 * 1560;
  const auto balances = A().Balances();
  EXPECT_EQ(At(balances, "heirs_payable"), -(estate + funeral - overpaid));
  EXPECT_EQ(At(balances, "overpayment_receivable"), 0);  // fully offset
  EXPECT_EQ(At(balances, "overpaid_benefits"), -2 * kBasic);
  EXPECT_EQ(At(balances, "funeral_subsidy_paid"), 208000);
  EXPECT_EQ(funeral, 208000);
  EXPECT_EQ(At(balances, "fiscal_funds/basic_pension/2025"), -(kBasicReceived - 4 * kBasic));
  EXPECT_EQ(At(balances, "fund.payment"), kSwept - 4 * (kBasic + 1560));
  // Sun's part of the individual accounts is gone: what is left is exactly Su's and Xian's.
  EXPECT_EQ(SumPrefix(balances, "individual_accounts/"),
            -(A().Account(su).total_fen() + A().Account(xian).total_fen()));
  EXPECT_EQ(SumPrefix(balances, ""), 0);  // double entry: the region's books balance

  // The statement of 2025: opening 2168.68, four payments, the interest to the death, two
  // returned, the inheritance.
  const v1::Statement st = A().StatementOk(sun, 2025);
  EXPECT_EQ(st.opening_total_fen(), 216868);
  EXPECT_EQ(st.closing_total_fen(), 0);
  EXPECT_EQ(st.interest_fen(), accrued);
  EXPECT_EQ(st.paid_out_fen(), 216868 + accrued);
  std::vector<std::string> kinds;
  int64_t lines_total = 0;
  for (const v1::StatementLine& line : st.lines()) {
    kinds.push_back(line.kind());
    lines_total += line.total_fen();
  }
  EXPECT_THAT(kinds,
              ::testing::ElementsAre("benefit_paid", "benefit_paid", "benefit_paid", "benefit_paid",
                                     "interest_accrued", "benefit_overpayment_recognized",
                                     "inheritance_paid"));
  EXPECT_EQ(lines_total, -216868);
  if (st.lines_size() == 7) {
    for (int i = 0; i < 4; ++i) {
      EXPECT_EQ(st.lines(i).month(), 202507 + i);
      EXPECT_EQ(st.lines(i).total_fen(), -1560);
    }
    EXPECT_EQ(st.lines(4).total_fen(), accrued);
    EXPECT_EQ(st.lines(4).sequence(), settled.first_sequence());
    EXPECT_EQ(st.lines(4).date(), "2025-08-20");  // dated the death
    EXPECT_EQ(st.lines(5).total_fen(), 2 * 1560);
    EXPECT_EQ(st.lines(6).total_fen(), -estate);
    EXPECT_EQ(st.lines(6).sequence(), settled.last_sequence());
  }
  // The year before closes where 2025 opens.
  EXPECT_EQ(A().StatementOk(sun, 2024).closing_total_fen(), 216868);

  // Su's pension, determined after the last benefit run: 9342.00 / 139 = 67.21 (+ 88 = 155.21).
  rpc = A().Determine(DetermineRequest(su, "2025-11-15", "D-SU"), &determined);
  ASSERT_TRUE(rpc.ok()) << Describe(rpc);
  const v1::Account su_now = A().Account(su);
  EXPECT_EQ(su_now.benefit().account_pension_monthly_fen(), 6721);
  EXPECT_EQ(su_now.benefit().account_pension_monthly_fen() + kBasic, 15521);
  EXPECT_EQ(su_now.benefit().start_month(), 202511);  // the determination's month (60 in Jan)
}

// --- (b) backdated movements against a from-scratch recomputation ----------------------------

// Ledger A posts 2020–2022 interest and then receives three movements dated in 2021 (a
// collection, a collective subsidy, the cancellation of a 2020 receipt); ledger B receives the
// same movements on time, before its interest jobs. Every balance and every year's interest by
// source must come out the same; A must have appended InterestAdjusted events in the same commits.
class LifecycleGrpcBackdatedTest : public LifecycleGrpcTest {
 protected:
  static std::string Person() { return CitizenId("19800202", 321); }

  static void History(Node& n) {
    ASSERT_NO_FATAL_FAILURE(n.Enrol(Person(), "2019-01-01"));
    n.PushAccepted({AddRecord("R-2019", Person(), 2019, 50000, "2019-06-01"),
                    AddRecord("R-2020", Person(), 2020, 10000, "2020-03-15")});
  }

  static void Interest(Node& n) {
    for (int year = 2020; year <= 2022; ++year) {
      const v1::JobProgress p = n.JobOk(v1::JOB_KIND_INTEREST, year);
      EXPECT_EQ(p.accounts_credited(), 1u) << year;
    }
  }

  struct Sequences {
    uint64_t collection = 0;
    v1::CommandResponse collective;
    uint64_t cancel = 0;
    uint64_t head_after_collection = 0;
    uint64_t head_after_cancel = 0;
  };

  static Sequences Movements(Node& n) {
    Sequences s;
    std::vector<uint64_t> seq =
        n.PushAccepted({AddRecord("R-2021", Person(), 2021, 10000, "2021-05-10")});
    if (!seq.empty()) s.collection = seq[0];
    s.head_after_collection = n.Head().sequence;
    Rpc rpc = n.Collective(CollectiveRequest(Person(), 2021, 20000, "2021-08-01", "COLL-2021"),
                           &s.collective);
    EXPECT_TRUE(rpc.ok()) << Describe(rpc);
    v1::CollectionRecord cancel = AddRecord("R-2020", Person(), 2020, 10000, "2021-02-01");
    cancel.set_record_type(v1::RECORD_TYPE_CANCEL);
    cancel.set_batch_id("BATCH-2");
    seq = n.PushAccepted({cancel});
    if (!seq.empty()) s.cancel = seq[0];
    s.head_after_cancel = n.Head().sequence;
    return s;
  }
};

TEST_F(LifecycleGrpcBackdatedTest, BackdatedMovementsAdjustInterestToTheOnTimeResult) {
  std::unique_ptr<Node> b;
  ASSERT_NO_FATAL_FAILURE(b = NewNode("b"));
  ASSERT_NO_FATAL_FAILURE(b->Adopt(PaperPolicy()));

  // A: interest first, then the backdated movements.
  ASSERT_NO_FATAL_FAILURE(History(A()));
  ASSERT_NO_FATAL_FAILURE(Interest(A()));
  const v1::Account a_before = A().Account(Person());
  const Sequences a = Movements(A());
  // B: the same movements on time, then interest.
  ASSERT_NO_FATAL_FAILURE(History(*b));
  const Sequences on_time = Movements(*b);
  ASSERT_NO_FATAL_FAILURE(Interest(*b));

  // Each backdated movement in A was followed, in its own commit, by the adjustments of 2021 and
  // 2022 (both years' interest change); on time in B, nothing needs adjusting.
  EXPECT_EQ(a.head_after_collection, a.collection + 2);
  EXPECT_EQ(a.collective.last_sequence(), a.collective.first_sequence() + 2);
  EXPECT_EQ(a.head_after_cancel, a.cancel + 2);
  EXPECT_EQ(on_time.collective.last_sequence(), on_time.collective.first_sequence());
  EXPECT_EQ(on_time.head_after_cancel, on_time.cancel);

  // A's statements show the adjustments right after their causes, on 31 December.
  for (int year : {2021, 2022}) {
    SCOPED_TRACE(year);
    const v1::Statement st = A().StatementOk(Person(), year);
    std::vector<uint64_t> adjusted;
    int64_t adjusted_total = 0;
    for (const v1::StatementLine& line : st.lines()) {
      if (line.kind() != "interest_adjusted") continue;
      adjusted.push_back(line.sequence());
      adjusted_total += line.total_fen();
      EXPECT_EQ(line.date(), StrCat(year, "-12-31"));
      EXPECT_NE(line.total_fen(), 0);
    }
    const uint64_t offset = year == 2021 ? 1 : 2;
    EXPECT_THAT(adjusted,
                ::testing::ElementsAre(a.collection + offset,
                                       a.collective.first_sequence() + offset, a.cancel + offset));
    // The year's interest in A's statement (posted + adjusted) equals B's (posted once).
    const v1::Statement on_time_st = b->StatementOk(Person(), year);
    EXPECT_EQ(st.interest_fen(), on_time_st.interest_fen());
    EXPECT_EQ(st.opening_total_fen(), on_time_st.opening_total_fen());
    EXPECT_EQ(st.closing_total_fen(), on_time_st.closing_total_fen());
    int on_time_adjustments = 0;
    for (const v1::StatementLine& line : on_time_st.lines()) {
      on_time_adjustments += line.kind() == "interest_adjusted";
    }
    EXPECT_EQ(on_time_adjustments, 0);
    EXPECT_EQ(YearInterestTotal(A().Account(Person()), year) - YearInterestTotal(a_before, year),
              adjusted_total);
  }
  // 2020 is untouched: every movement is dated in 2021.
  EXPECT_EQ(YearInterestTotal(A().Account(Person()), 2020), YearInterestTotal(a_before, 2020));

  const v1::Account late = A().Account(Person());
  const v1::Account timely = b->Account(Person());
  EXPECT_EQ(late.total_fen(), timely.total_fen());
  EXPECT_EQ(late.contribution_years(), timely.contribution_years());
  EXPECT_EQ(late.contribution_years(), 2u);  // 2019 and 2021; 2020 was cancelled
  ASSERT_EQ(late.balances_size(), timely.balances_size());
  for (int i = 0; i < late.balances_size(); ++i) {
    SCOPED_TRACE(v1::FundingSource_Name(timely.balances(i).source()));
    EXPECT_EQ(late.balances(i).source(), timely.balances(i).source());
    EXPECT_EQ(late.balances(i).principal_fen() + late.balances(i).interest_fen(),
              timely.balances(i).principal_fen() + timely.balances(i).interest_fen());
    EXPECT_TRUE(ProtoEquals(timely.balances(i), late.balances(i)));
  }
  for (int year = 2019; year <= 2022; ++year) {
    for (v1::FundingSource source : {v1::FUNDING_SOURCE_PERSONAL, v1::FUNDING_SOURCE_COLLECTIVE}) {
      SCOPED_TRACE(StrCat(year, " ", v1::FundingSource_Name(source)));
      EXPECT_EQ(YearInterest(late, year, source), YearInterest(timely, year, source));
    }
  }
  EXPECT_GT(YearInterest(late, 2022, v1::FUNDING_SOURCE_COLLECTIVE), 0);
  // The books of both ledgers agree account by account.
  EXPECT_EQ(A().Balances(), b->Balances());
}

// --- (c) suspension and resumption; transfers ------------------------------------------------

// A pensioner of `region`: born 1950-03-01 (60 in 2010: one contribution year needed, scheme
// start 2009), one 100-yuan contribution in 2010, pension determined from January 2025
// (100 / 139 = 0.72 a month), basic pension funds for 2025 received and, with the remitted
// contribution, swept into the payment account.
void MakePensioner(Node& n, const std::string& id, const std::string& region,
                   bool receive_funds = true) {
  ASSERT_NO_FATAL_FAILURE(n.Enrol(id, "2010-01-01", region));
  n.PushAccepted({AddRecord(StrCat("R-", id, "-2010"), id, 2010, 10000, "2010-06-01", region)});
  v1::CommandResponse response;
  Rpc rpc = n.Determine(DetermineRequest(id, "2025-01-05", StrCat("D-", id)), &response);
  ASSERT_TRUE(rpc.ok()) << Describe(rpc);
  const v1::Account a = n.Account(id);
  ASSERT_EQ(a.status(), v1::PARTICIPANT_STATUS_DRAWING_PENSION);
  ASSERT_EQ(a.benefit().start_month(), 202501);
  ASSERT_EQ(a.benefit().account_pension_monthly_fen(), 72);
  if (receive_funds) {
    n.FundsOk(v1::FISCAL_PURPOSE_BASIC_PENSION, 2025, 12 * kBasic, "2025-01-02", region);
    n.RemitToSpecialOk(10000, "2025-01-02", region);
    n.SweepToPaymentOk(12 * kBasic + 10000, "2025-01-02", region);
  }
}

std::vector<int> PaidMonths(const v1::Statement& st) {
  std::vector<int> months;
  for (const v1::StatementLine& line : st.lines()) {
    if (line.kind() == "benefit_paid") months.push_back(line.month());
  }
  return months;
}

// Region 222401 pays the suspended months on resumption (back_pay_on_resumption), region 222402
// does not; the same story runs in both.
TEST_F(LifecycleGrpcTest, ResumptionPaysTheSuspendedMonthsOnlyWhereThePolicySaysSo) {
  ASSERT_NO_FATAL_FAILURE(A().Adopt(PaperPolicy(kRegion2, /*back_pay=*/false)));
  const std::string with = CitizenId("19500301", 111);
  const std::string without = CitizenId("19500301", 222, kRegion2);
  ASSERT_NO_FATAL_FAILURE(MakePensioner(A(), with, kRegion));
  ASSERT_NO_FATAL_FAILURE(MakePensioner(A(), without, kRegion2));

  for (const auto& [id, region] :
       {std::pair{with, std::string(kRegion)}, std::pair{without, std::string(kRegion2)}}) {
    SCOPED_TRACE(region);
    EXPECT_EQ(A().JobOk(v1::JOB_KIND_BENEFITS, 202501, "2025-01-10", region).accounts_credited(),
              1u);
    v1::SuspendBenefitRequest suspend;
    suspend.set_citizen_id(id);
    suspend.set_from_month(202502);
    suspend.set_reason("待遇资格认证未通过");
    suspend.set_date("2025-02-05");
    suspend.set_document_ref(StrCat("S-", id));
    v1::CommandResponse response;
    Rpc rpc = A().Suspend(suspend, &response);
    ASSERT_TRUE(rpc.ok()) << Describe(rpc);
    v1::Account a = A().Account(id);
    EXPECT_EQ(a.status(), v1::PARTICIPANT_STATUS_SUSPENDED);
    EXPECT_EQ(a.benefit().suspended_from(), 202502);
    // February and March: the runs complete but pay nothing.
    for (int month : {202502, 202503}) {
      const v1::JobProgress p = A().JobOk(v1::JOB_KIND_BENEFITS, month, DayOf(month, 10), region);
      EXPECT_EQ(p.accounts_credited(), 0u) << month;
      EXPECT_EQ(p.total_fen(), 0) << month;
    }
    a = A().Account(id);
    EXPECT_EQ(a.benefit().next_month(), 202502);
    EXPECT_EQ(a.benefit().paid_basic_fen(), kBasic);

    v1::ResumeBenefitRequest resume;
    resume.set_citizen_id(id);
    resume.set_month(202504);
    resume.set_date("2025-04-02");
    resume.set_document_ref(StrCat("RS-", id));
    rpc = A().Resume(resume, &response);
    ASSERT_TRUE(rpc.ok()) << Describe(rpc);
    a = A().Account(id);
    EXPECT_EQ(a.status(), v1::PARTICIPANT_STATUS_DRAWING_PENSION);
    EXPECT_EQ(a.benefit().suspended_from(), 0);
  }

  // April's run: with back pay, February, March and April; without, April only.
  v1::JobProgress p = A().JobOk(v1::JOB_KIND_BENEFITS, 202504, "2025-04-10", kRegion);
  EXPECT_EQ(p.accounts_credited(), 1u);
  EXPECT_EQ(p.total_fen(), 3 * (kBasic + 72));
  p = A().JobOk(v1::JOB_KIND_BENEFITS, 202504, "2025-04-10", kRegion2);
  EXPECT_EQ(p.accounts_credited(), 1u);
  EXPECT_EQ(p.total_fen(), kBasic + 72);

  const v1::Account a = A().Account(with);
  EXPECT_EQ(a.benefit().paid_basic_fen(), 4 * kBasic);
  EXPECT_EQ(a.benefit().paid_account_fen(), 4 * 72);
  EXPECT_EQ(a.benefit().next_month(), 202505);
  EXPECT_EQ(a.total_fen(), 10000 - 4 * 72);
  const v1::Account b = A().Account(without);
  EXPECT_EQ(b.benefit().paid_basic_fen(), 2 * kBasic);
  EXPECT_EQ(b.benefit().paid_account_fen(), 2 * 72);
  EXPECT_EQ(b.benefit().next_month(), 202505);
  EXPECT_EQ(b.total_fen(), 10000 - 2 * 72);
  EXPECT_THAT(PaidMonths(A().StatementOk(with, 2025)),
              ::testing::ElementsAre(202501, 202502, 202503, 202504));
  EXPECT_THAT(PaidMonths(A().StatementOk(without, 2025)), ::testing::ElementsAre(202501, 202504));
  EXPECT_EQ(At(A().Balances(kRegion), "fiscal_funds/basic_pension/2025"), -(12 - 4) * kBasic);
  EXPECT_EQ(At(A().Balances(kRegion2), "fiscal_funds/basic_pension/2025"), -(12 - 2) * kBasic);
}

TEST_F(LifecycleGrpcTest, TransferOutAndInKeepsBalancesBySourceAndYears) {
  ASSERT_NO_FATAL_FAILURE(A().Adopt(PaperPolicy(kRegion2)));
  const std::string mover = CitizenId("19850505", 333);
  const std::string stayer = CitizenId("19850505", 444);
  for (const std::string& id : {mover, stayer}) {
    ASSERT_NO_FATAL_FAILURE(A().Enrol(id, "2017-01-01"));
  }
  // Three years with every source but sponsorship: contributions (two tiers), government
  // subsidy, a collective subsidy, interest.
  const std::map<int, std::pair<int64_t, std::string>> paid = {
      {2018, {10000, "2018-03-01"}}, {2019, {50000, "2019-04-01"}}, {2020, {10000, "2020-05-01"}}};
  for (const auto& [year, contribution] : paid) {
    A().PushAccepted(
        {AddRecord(StrCat("R-M-", year), mover, year, contribution.first, contribution.second),
         AddRecord(StrCat("R-S-", year), stayer, year, 10000, contribution.second)});
    if (year == 2019) {
      v1::CommandResponse response;
      Rpc rpc = A().Collective(CollectiveRequest(mover, 2019, 20000, "2019-09-01", "COLL-M-2019"),
                               &response);
      ASSERT_TRUE(rpc.ok()) << Describe(rpc);
    }
    A().FundsOk(v1::FISCAL_PURPOSE_CONTRIBUTION_SUBSIDY, year, 9000, StrCat(year, "-06-01"));
    A().JobOk(v1::JOB_KIND_GOVERNMENT_SUBSIDY, year, StrCat(year, "-06-20"));
    A().JobOk(v1::JOB_KIND_INTEREST, year);
  }
  const v1::Account before = A().Account(mover);
  ASSERT_EQ(before.contribution_years(), 3u);
  ASSERT_GT(SourceFen(before, v1::FUNDING_SOURCE_GOVERNMENT), 0);
  ASSERT_GT(SourceFen(before, v1::FUNDING_SOURCE_COLLECTIVE), 20000);
  const int64_t stayer_total = A().Account(stayer).total_fen();

  v1::TransferOutRequest out;
  out.set_citizen_id(mover);
  out.set_to_region(kRegion2);
  out.set_date("2021-03-01");
  out.set_document_ref("TO-M");
  v1::CommandResponse moved_out;
  Rpc rpc = A().TransferOut(out, &moved_out);
  ASSERT_TRUE(rpc.ok()) << Describe(rpc);
  // The interest to the date of the transfer first (issue 16, point 6): 2021's for January to
  // March on the whole balance, 3 months × 1.5 % / 12, one half-up rounding; then the transfer.
  EXPECT_EQ(moved_out.last_sequence(), moved_out.first_sequence() + 1);
  const int64_t accrued = (before.total_fen() * 3 * 150 + 60000) / 120000;
  ASSERT_GT(accrued, 0);
  const v1::Statement st2021 = A().StatementOk(mover, 2021);
  ASSERT_GE(st2021.lines_size(), 1);
  const v1::StatementLine& accrual = st2021.lines(0);
  EXPECT_EQ(accrual.kind(), "interest_accrued");
  EXPECT_EQ(accrual.sequence(), moved_out.first_sequence());
  EXPECT_EQ(accrual.total_fen(), accrued);
  EXPECT_EQ(st2021.interest_fen(), accrued);
  auto accrued_from = [&](v1::FundingSource source) {
    int64_t fen = 0;
    for (const v1::SourceAmount& p : accrual.parts()) {
      if (p.source() == source) fen += p.amount_fen();
    }
    return fen;
  };
  v1::Account a = A().Account(mover);
  EXPECT_EQ(a.status(), v1::PARTICIPANT_STATUS_TRANSFERRED_OUT);
  EXPECT_EQ(a.transferred_to(), kRegion2);
  EXPECT_EQ(a.total_fen(), 0);
  auto region1 = A().Balances(kRegion);
  EXPECT_EQ(At(region1, "transfers_in_transit"), -(before.total_fen() + accrued));
  EXPECT_EQ(SumPrefix(region1, "individual_accounts/"), -stayer_total);

  // The money arrives in 222402, within this ledger: balances and years come from the transfer-out.
  v1::TransferInRequest in;
  in.set_citizen_id(mover);
  in.set_from_region(kRegion);
  in.set_to_region(kRegion2);
  in.set_date("2021-04-01");
  in.set_document_ref("TI-M");
  v1::CommandResponse moved_in;
  rpc = A().TransferIn(in, &moved_in);
  ASSERT_TRUE(rpc.ok()) << Describe(rpc);
  EXPECT_GT(moved_in.first_sequence(), moved_out.last_sequence());
  a = A().Account(mover);
  EXPECT_EQ(a.status(), v1::PARTICIPANT_STATUS_CONTRIBUTING);
  EXPECT_EQ(a.region_code(), kRegion2);
  EXPECT_EQ(a.transferred_to(), "");
  EXPECT_EQ(a.total_fen(), before.total_fen() + accrued);
  for (v1::FundingSource source :
       {v1::FUNDING_SOURCE_PERSONAL, v1::FUNDING_SOURCE_GOVERNMENT, v1::FUNDING_SOURCE_COLLECTIVE,
        v1::FUNDING_SOURCE_SPONSORSHIP, v1::FUNDING_SOURCE_TRANSFER_IN}) {
    EXPECT_EQ(SourceFen(a, source), SourceFen(before, source) + accrued_from(source))
        << v1::FundingSource_Name(source);
  }
  EXPECT_EQ(a.contribution_years(), 3u);
  std::vector<int> years;
  for (const v1::YearContribution& c : a.contributions()) years.push_back(c.year());
  EXPECT_THAT(years, ::testing::UnorderedElementsAre(2018, 2019, 2020));

  // The books: the transit account is settled across the two regions, and each region's
  // individual-account controls hold exactly its own participants' balances.
  region1 = A().Balances(kRegion);
  const auto region2 = A().Balances(kRegion2);
  EXPECT_EQ(At(region1, "transfers_in_transit") + At(region2, "transfers_in_transit"), 0);
  EXPECT_EQ(SumPrefix(region1, "individual_accounts/"), -stayer_total);
  EXPECT_EQ(SumPrefix(region2, "individual_accounts/"), -(before.total_fen() + accrued));

  // A resend is the original answer; the new region now takes the participant's contributions.
  v1::CommandResponse again;
  rpc = A().TransferIn(in, &again);
  ASSERT_TRUE(rpc.ok()) << Describe(rpc);
  EXPECT_TRUE(again.duplicate());
  EXPECT_EQ(again.first_sequence(), moved_in.first_sequence());
  EXPECT_EQ(again.last_sequence(), moved_in.last_sequence());
  const v1::PushCollectionsResponse pushed =
      A().Push({AddRecord("R-M-2021-OLD", mover, 2021, 10000, "2021-05-01", kRegion),
                AddRecord("R-M-2021", mover, 2021, 10000, "2021-05-01", kRegion2)});
  ASSERT_EQ(pushed.outcomes_size(), 2);
  EXPECT_EQ(pushed.outcomes(0).outcome(), v1::OUTCOME_SUSPENSE);
  EXPECT_EQ(pushed.outcomes(0).suspense_reason(), v1::SUSPENSE_REASON_REGION_MISMATCH);
  EXPECT_EQ(pushed.outcomes(1).outcome(), v1::OUTCOME_ACCEPTED);
  EXPECT_EQ(A().Account(mover).contribution_years(), 4u);
}

TEST_F(LifecycleGrpcTest, NoTransferAfterThePensionStarts) {
  ASSERT_NO_FATAL_FAILURE(A().Adopt(PaperPolicy(kRegion2)));
  const std::string pensioner = CitizenId("19500301", 555);
  ASSERT_NO_FATAL_FAILURE(MakePensioner(A(), pensioner, kRegion));
  const v1::Account before = A().Account(pensioner);
  const auto books = A().Balances(kRegion);
  const ledger::ChainHead head = A().Head();

  v1::TransferOutRequest out;
  out.set_citizen_id(pensioner);
  out.set_to_region(kRegion2);
  out.set_date("2025-03-01");
  out.set_document_ref("TO-P");
  v1::CommandResponse response;
  Rpc rpc = A().TransferOut(out, &response);
  EXPECT_EQ(rpc.status.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << Describe(rpc);
  EXPECT_EQ(rpc.reason, "REASON_WRONG_STATE");
  EXPECT_THAT(rpc.status.error_message(), HasSubstr("drawing pension"));
  EXPECT_EQ(A().Head().sequence, head.sequence);
  EXPECT_EQ(A().Head().hash, head.hash);
  EXPECT_TRUE(ProtoEquals(before, A().Account(pensioner)));
  EXPECT_EQ(A().Balances(kRegion), books);
}

// --- (d) bad input for every command ---------------------------------------------------------

constexpr grpc::StatusCode kInvalid = grpc::StatusCode::INVALID_ARGUMENT;
constexpr grpc::StatusCode kFailed = grpc::StatusCode::FAILED_PRECONDITION;
constexpr grpc::StatusCode kNotFound = grpc::StatusCode::NOT_FOUND;
constexpr grpc::StatusCode kExists = grpc::StatusCode::ALREADY_EXISTS;

constexpr char kBadDate[] = "2025-02-30";
constexpr char kTomorrow[] = "2026-11-21";

std::string Masked(const std::string& id) { return ledger::MaskCitizenId(id); }

// A copy of `message` changed by `edit`.
template <typename M, typename F>
M With(M message, F edit) {
  edit(message);
  return message;
}

// A ledger with participants in every state: a contributor (45, one 2020 contribution), a
// pensioner (from 2025-01), a pensioner of region 222402 whose basic pension funds have not
// arrived, an older contributor with too few years, a deceased participant; 2020's interest is
// posted. Each rejection must carry its gRPC code and `ledger-reason`, and change nothing: not the
// chain head, not the books of either region, not any account.
class LifecycleGrpcRejectionTest : public LifecycleGrpcTest {
 protected:
  void SetUp() override {
    LifecycleGrpcTest::SetUp();
    if (HasFatalFailure()) return;
    ASSERT_NO_FATAL_FAILURE(A().Adopt(PaperPolicy(kRegion2)));
    ASSERT_NO_FATAL_FAILURE(A().Enrol(contributor_, "2019-01-01"));
    A().PushAccepted({AddRecord("R-E-2020", contributor_, 2020, 10000, "2020-03-01")});
    ASSERT_NO_FATAL_FAILURE(A().Enrol(old_, "2010-01-01"));
    A().PushAccepted({AddRecord("R-O-2010", old_, 2010, 10000, "2010-06-01")});
    ASSERT_NO_FATAL_FAILURE(MakePensioner(A(), pensioner_, kRegion));
    ASSERT_NO_FATAL_FAILURE(MakePensioner(A(), unfunded_, kRegion2, /*receive_funds=*/false));
    ASSERT_NO_FATAL_FAILURE(A().Enrol(dead_, "2015-01-01"));
    v1::RecordDeathRequest death;
    death.set_citizen_id(dead_);
    death.set_date_of_death("2024-12-01");
    death.set_date("2025-01-02");
    death.set_document_ref("DEATH-X");
    Rpc rpc = A().Death(death, &death_);
    ASSERT_TRUE(rpc.ok()) << Describe(rpc);
    A().JobOk(v1::JOB_KIND_INTEREST, 2020);
    ASSERT_EQ(A().Account(contributor_).status(), v1::PARTICIPANT_STATUS_CONTRIBUTING);
    ASSERT_EQ(A().Account(dead_).status(), v1::PARTICIPANT_STATUS_DECEASED);
  }

  struct Snapshot {
    ledger::ChainHead head;
    std::map<std::string, int64_t> books1, books2;
    std::vector<v1::Account> accounts;
  };

  std::vector<std::string> Enrolled() const {
    return {contributor_, old_, pensioner_, unfunded_, dead_};
  }

  Snapshot Take() {
    Snapshot s{A().Head(), A().Balances(kRegion), A().Balances(kRegion2), {}};
    for (const std::string& id : Enrolled()) s.accounts.push_back(A().Account(id));
    return s;
  }

  void ExpectUnchanged(const Snapshot& before) {
    const Snapshot now = Take();
    EXPECT_EQ(now.head.sequence, before.head.sequence) << "the chain head moved";
    EXPECT_EQ(now.head.hash, before.head.hash);
    EXPECT_EQ(now.books1, before.books1);
    EXPECT_EQ(now.books2, before.books2);
    for (size_t i = 0; i < now.accounts.size(); ++i) {
      EXPECT_TRUE(ProtoEquals(before.accounts[i], now.accounts[i])) << Masked(Enrolled()[i]);
    }
  }

  // `call` must fail with `code` and `reason` (in the trailers), name every `parts` in its
  // message, leak no raw citizen ID, and change nothing.
  void ExpectRejected(const std::string& what, const std::function<Rpc()>& call,
                      grpc::StatusCode code, v1::Reason reason,
                      const std::vector<std::string>& parts = {}) {
    SCOPED_TRACE(what);
    const Snapshot before = Take();
    const Rpc rpc = call();
    EXPECT_EQ(rpc.status.error_code(), code) << Describe(rpc);
    EXPECT_EQ(rpc.reason, v1::Reason_Name(reason)) << Describe(rpc);
    for (const std::string& part : parts) {
      EXPECT_THAT(rpc.status.error_message(), HasSubstr(part));
    }
    for (const std::string& id :
         {contributor_, old_, pensioner_, unfunded_, dead_, stranger_, BadCheck(contributor_)}) {
      EXPECT_THAT(rpc.status.error_message(), ::testing::Not(HasSubstr(id)));
    }
    ExpectUnchanged(before);
  }

  template <typename Request>
  std::function<Rpc()> Send(Rpc (Node::*method)(const Request&, v1::CommandResponse*),
                            Request request) {
    return [this, method, request] {
      v1::CommandResponse response;
      Rpc rpc = (A().*method)(request, &response);
      EXPECT_EQ(response.first_sequence(), 0u);
      return rpc;
    };
  }

  std::function<Rpc()> SendJob(v1::JobKind kind, int period, std::string date,
                               std::string region = kRegion) {
    return [this, kind, period, date, region] {
      v1::JobProgress last;
      int messages = -1;
      Rpc rpc = A().Job(kind, period, date, &last, &messages, region);
      EXPECT_EQ(messages, 0) << "a rejected job streams no progress";
      return rpc;
    };
  }

  // Valid requests (each would be accepted or fail only on a rule), to break one field at a time.
  v1::ReceiveFiscalFundsRequest Funds() const {
    v1::ReceiveFiscalFundsRequest r;
    r.set_region_code(kRegion);
    r.set_purpose(v1::FISCAL_PURPOSE_CONTRIBUTION_SUBSIDY);
    r.set_year(2025);
    r.set_amount_fen(1000);
    r.set_date("2025-01-02");
    r.set_document_ref("F-BAD");
    return r;
  }
  v1::CreditCollectiveSubsidyRequest Collective() const {
    return CollectiveRequest(contributor_, 2020, 10000, "2025-01-02", "C-BAD");
  }
  v1::RefundContributionRequest Refund() const {
    v1::RefundContributionRequest r;
    r.set_receipt_number("R-E-2020");
    r.set_reason(v1::REFUND_REASON_DUPLICATE_ENROLMENT);
    r.set_date("2025-01-02");
    r.set_document_ref("RF-BAD");
    return r;
  }
  v1::DetermineBenefitRequest Determine() const {
    return DetermineRequest(contributor_, "2025-01-05", "D-BAD");
  }
  v1::SuspendBenefitRequest Suspend() const {
    v1::SuspendBenefitRequest r;
    r.set_citizen_id(pensioner_);
    r.set_from_month(202502);
    r.set_reason("未认证");
    r.set_date("2025-02-05");
    r.set_document_ref("S-BAD");
    return r;
  }
  v1::ResumeBenefitRequest Resume() const {
    v1::ResumeBenefitRequest r;
    r.set_citizen_id(pensioner_);
    r.set_month(202503);
    r.set_date("2025-03-05");
    r.set_document_ref("RS-BAD");
    return r;
  }
  v1::RecordDeathRequest Death() const {
    v1::RecordDeathRequest r;
    r.set_citizen_id(contributor_);
    r.set_date_of_death("2025-01-01");
    r.set_date("2025-01-10");
    r.set_document_ref("DE-BAD");
    return r;
  }
  v1::TransferOutRequest TransferOut() const {
    v1::TransferOutRequest r;
    r.set_citizen_id(contributor_);
    r.set_to_region(kRegion2);
    r.set_date("2025-01-02");
    r.set_document_ref("TO-BAD");
    return r;
  }
  v1::TransferInRequest TransferIn() const {
    v1::TransferInRequest r;
    r.set_citizen_id(contributor_);
    r.set_from_region(kRegion2);
    r.set_to_region(kRegion);
    v1::SourceAmount* part = r.add_parts();
    part->set_source(v1::FUNDING_SOURCE_PERSONAL);
    part->set_amount_fen(10000);
    r.add_contribution_years(2018);
    r.set_date("2025-01-02");
    r.set_document_ref("TI-BAD");
    return r;
  }

  const std::string contributor_ = CitizenId("19800101", 555);
  const std::string old_ = CitizenId("19600101", 777);  // 60 in 2020: needs 11 years, has 1
  const std::string pensioner_ = CitizenId("19500301", 666);
  const std::string unfunded_ = CitizenId("19500301", 667, kRegion2);
  const std::string dead_ = CitizenId("19700101", 888);
  const std::string stranger_ = CitizenId("19900101", 999);  // never enrolled
  v1::CommandResponse death_;
};

TEST_F(LifecycleGrpcRejectionTest, MalformedInputIsInvalidArgumentForEveryCommand) {
  const std::string bad_id = BadCheck(contributor_);
  using R = v1::Reason;
  const R kId = v1::REASON_INVALID_CITIZEN_ID, kDate = v1::REASON_INVALID_DATE,
          kFuture = v1::REASON_DATE_IN_FUTURE, kAmount = v1::REASON_AMOUNT_NOT_POSITIVE,
          kField = v1::REASON_INVALID_FIELD, kPeriod = v1::REASON_INVALID_PERIOD;

  // One field broken at a time in an otherwise valid request.
  auto funds = [&](auto edit) { return Send(&Node::Funds, With(Funds(), edit)); };
  auto collective = [&](auto edit) { return Send(&Node::Collective, With(Collective(), edit)); };
  auto refund = [&](auto edit) { return Send(&Node::Refund, With(Refund(), edit)); };
  auto determine = [&](auto edit) { return Send(&Node::Determine, With(Determine(), edit)); };
  auto suspend = [&](auto edit) { return Send(&Node::Suspend, With(Suspend(), edit)); };
  auto resume = [&](auto edit) { return Send(&Node::Resume, With(Resume(), edit)); };
  auto death = [&](auto edit) { return Send(&Node::Death, With(Death(), edit)); };
  auto transfer_out = [&](auto edit) {
    return Send(&Node::TransferOut, With(TransferOut(), edit));
  };
  auto transfer_in = [&](auto edit) { return Send(&Node::TransferIn, With(TransferIn(), edit)); };

  // ReceiveFiscalFunds
  ExpectRejected("funds amount 0", funds([](auto& r) { r.set_amount_fen(0); }), kInvalid, kAmount);
  ExpectRejected("funds amount -1", funds([](auto& r) { r.set_amount_fen(-1); }), kInvalid,
                 kAmount);
  ExpectRejected("funds bad date", funds([](auto& r) { r.set_date(kBadDate); }), kInvalid, kDate,
                 {kBadDate});
  ExpectRejected("funds slashed date", funds([](auto& r) { r.set_date("2025/01/02"); }), kInvalid,
                 kDate);
  ExpectRejected("funds no date", funds([](auto& r) { r.set_date(""); }), kInvalid, kDate);
  ExpectRejected("funds future", funds([](auto& r) { r.set_date(kTomorrow); }), kInvalid, kFuture,
                 {kTomorrow});
  ExpectRejected("funds purpose",
                 funds([](auto& r) { r.set_purpose(v1::FISCAL_PURPOSE_UNSPECIFIED); }), kInvalid,
                 kField);
  ExpectRejected("funds no ref", funds([](auto& r) { r.set_document_ref(""); }), kInvalid, kField,
                 {"document_ref"});
  ExpectRejected("funds ref with space", funds([](auto& r) { r.set_document_ref("F 1"); }),
                 kInvalid, kField, {"document_ref"});
  ExpectRejected("funds ref too long",
                 funds([](auto& r) { r.set_document_ref(std::string(65, 'F')); }), kInvalid,
                 kField);
  ExpectRejected("funds year 2008", funds([](auto& r) { r.set_year(2008); }), kInvalid, kPeriod);
  ExpectRejected("funds year 2027", funds([](auto& r) { r.set_year(2027); }), kInvalid, kPeriod);
  ExpectRejected("funds unknown region", funds([](auto& r) { r.set_region_code("999999"); }),
                 kInvalid, v1::REASON_UNKNOWN_REGION, {"999999"});

  // CreditCollectiveSubsidy
  ExpectRejected("collective bad id", collective([&](auto& r) { r.set_citizen_id(bad_id); }),
                 kInvalid, kId);
  ExpectRejected("collective short id", collective([](auto& r) { r.set_citizen_id("2224011980"); }),
                 kInvalid, kId);
  ExpectRejected("collective source personal",
                 collective([](auto& r) { r.set_source(v1::FUNDING_SOURCE_PERSONAL); }), kInvalid,
                 kField, {"source"});
  ExpectRejected("collective source unspecified",
                 collective([](auto& r) { r.set_source(v1::FUNDING_SOURCE_UNSPECIFIED); }),
                 kInvalid, kField, {"source"});
  ExpectRejected("collective source transfer_in",
                 collective([](auto& r) { r.set_source(v1::FUNDING_SOURCE_TRANSFER_IN); }),
                 kInvalid, kField, {"source"});
  ExpectRejected("collective no payer", collective([](auto& r) { r.set_payer(""); }), kInvalid,
                 kField, {"payer"});
  ExpectRejected("collective amount 0", collective([](auto& r) { r.set_amount_fen(0); }), kInvalid,
                 kAmount);
  ExpectRejected("collective amount -100", collective([](auto& r) { r.set_amount_fen(-100); }),
                 kInvalid, kAmount);
  ExpectRejected("collective bad date", collective([](auto& r) { r.set_date(kBadDate); }), kInvalid,
                 kDate);
  ExpectRejected("collective future", collective([](auto& r) { r.set_date(kTomorrow); }), kInvalid,
                 kFuture);
  ExpectRejected("collective no ref", collective([](auto& r) { r.set_document_ref(""); }), kInvalid,
                 kField, {"document_ref"});
  ExpectRejected("collective year 2030", collective([](auto& r) { r.set_contribution_year(2030); }),
                 kInvalid, v1::REASON_IMPLAUSIBLE_YEAR);

  // RefundContribution
  ExpectRejected("refund no receipt", refund([](auto& r) { r.set_receipt_number(""); }), kInvalid,
                 v1::REASON_MISSING_RECEIPT_NUMBER);
  ExpectRejected("refund receipt too long",
                 refund([](auto& r) { r.set_receipt_number(std::string(41, 'R')); }), kInvalid,
                 v1::REASON_MISSING_RECEIPT_NUMBER);
  ExpectRejected("refund no reason",
                 refund([](auto& r) { r.set_reason(v1::REFUND_REASON_UNSPECIFIED); }), kInvalid,
                 kField, {"reason"});
  ExpectRejected("refund bad date", refund([](auto& r) { r.set_date(kBadDate); }), kInvalid, kDate);
  ExpectRejected("refund future", refund([](auto& r) { r.set_date(kTomorrow); }), kInvalid,
                 kFuture);
  ExpectRejected("refund no ref", refund([](auto& r) { r.set_document_ref(""); }), kInvalid, kField,
                 {"document_ref"});
  ExpectRejected("refund before collection", refund([](auto& r) { r.set_date("2020-02-01"); }),
                 kInvalid, kDate, {"2020-03-01"});

  // DetermineBenefit
  ExpectRejected("determine bad id", determine([&](auto& r) { r.set_citizen_id(bad_id); }),
                 kInvalid, kId);
  ExpectRejected("determine bad date", determine([](auto& r) { r.set_date(kBadDate); }), kInvalid,
                 kDate);
  ExpectRejected("determine future", determine([](auto& r) { r.set_date(kTomorrow); }), kInvalid,
                 kFuture);
  ExpectRejected("determine no ref", determine([](auto& r) { r.set_document_ref(""); }), kInvalid,
                 kField, {"document_ref"});

  // SuspendBenefit
  ExpectRejected("suspend bad id", suspend([&](auto& r) { r.set_citizen_id(bad_id); }), kInvalid,
                 kId);
  ExpectRejected("suspend month 13", suspend([](auto& r) { r.set_from_month(202513); }), kInvalid,
                 kPeriod, {"202513"});
  ExpectRejected("suspend month 0", suspend([](auto& r) { r.set_from_month(202500); }), kInvalid,
                 kPeriod);
  ExpectRejected("suspend no month", suspend([](auto& r) { r.set_from_month(0); }), kInvalid,
                 kPeriod);
  ExpectRejected("suspend bad date", suspend([](auto& r) { r.set_date(kBadDate); }), kInvalid,
                 kDate);
  ExpectRejected("suspend future", suspend([](auto& r) { r.set_date(kTomorrow); }), kInvalid,
                 kFuture);
  ExpectRejected("suspend no ref", suspend([](auto& r) { r.set_document_ref(""); }), kInvalid,
                 kField, {"document_ref"});
  ExpectRejected("suspend before next unpaid month",
                 suspend([](auto& r) { r.set_from_month(202412); }), kInvalid, kPeriod, {"202501"});

  // ResumeBenefit
  ExpectRejected("resume bad id", resume([&](auto& r) { r.set_citizen_id(bad_id); }), kInvalid,
                 kId);
  ExpectRejected("resume month 13", resume([](auto& r) { r.set_month(202513); }), kInvalid, kPeriod,
                 {"202513"});
  ExpectRejected("resume bad date", resume([](auto& r) { r.set_date(kBadDate); }), kInvalid, kDate);
  ExpectRejected("resume future", resume([](auto& r) { r.set_date(kTomorrow); }), kInvalid,
                 kFuture);
  ExpectRejected("resume no ref", resume([](auto& r) { r.set_document_ref(""); }), kInvalid, kField,
                 {"document_ref"});

  // RecordDeath
  ExpectRejected("death bad id", death([&](auto& r) { r.set_citizen_id(bad_id); }), kInvalid, kId);
  ExpectRejected("death bad date of death",
                 death([](auto& r) { r.set_date_of_death("2025-13-01"); }), kInvalid, kDate,
                 {"date_of_death"});
  ExpectRejected("death bad date", death([](auto& r) { r.set_date(kBadDate); }), kInvalid, kDate);
  ExpectRejected("death future death", death([](auto& r) { r.set_date_of_death(kTomorrow); }),
                 kInvalid, kFuture);
  ExpectRejected("death future record", death([](auto& r) { r.set_date(kTomorrow); }), kInvalid,
                 kFuture);
  ExpectRejected("death after its recording",
                 death([](auto& r) { r.set_date_of_death("2025-02-01"); }), kInvalid, kDate,
                 {"2025-02-01"});
  ExpectRejected("death no ref", death([](auto& r) { r.set_document_ref(""); }), kInvalid, kField,
                 {"document_ref"});

  // TransferOut
  ExpectRejected("transfer out bad id", transfer_out([&](auto& r) { r.set_citizen_id(bad_id); }),
                 kInvalid, kId);
  ExpectRejected("transfer out bad date", transfer_out([](auto& r) { r.set_date(kBadDate); }),
                 kInvalid, kDate);
  ExpectRejected("transfer out future", transfer_out([](auto& r) { r.set_date(kTomorrow); }),
                 kInvalid, kFuture);
  ExpectRejected("transfer out no ref", transfer_out([](auto& r) { r.set_document_ref(""); }),
                 kInvalid, kField, {"document_ref"});
  ExpectRejected("transfer out 5-digit region",
                 transfer_out([](auto& r) { r.set_to_region("22240"); }), kInvalid, kField,
                 {"to_region"});
  ExpectRejected("transfer out to its own region",
                 transfer_out([](auto& r) { r.set_to_region(kRegion); }), kInvalid, kField,
                 {kRegion});

  // TransferIn
  ExpectRejected("transfer in bad id", transfer_in([&](auto& r) { r.set_citizen_id(bad_id); }),
                 kInvalid, kId);
  ExpectRejected("transfer in bad date", transfer_in([](auto& r) { r.set_date(kBadDate); }),
                 kInvalid, kDate);
  ExpectRejected("transfer in future", transfer_in([](auto& r) { r.set_date(kTomorrow); }),
                 kInvalid, kFuture);
  ExpectRejected("transfer in no ref", transfer_in([](auto& r) { r.set_document_ref(""); }),
                 kInvalid, kField, {"document_ref"});
  ExpectRejected("transfer in same regions",
                 transfer_in([](auto& r) { r.set_from_region(kRegion); }), kInvalid, kField);
  ExpectRejected("transfer in bad region",
                 transfer_in([](auto& r) { r.set_from_region("abcdef"); }), kInvalid, kField);
  ExpectRejected("transfer in part 0",
                 transfer_in([](auto& r) { r.mutable_parts(0)->set_amount_fen(0); }), kInvalid,
                 kAmount);
  ExpectRejected("transfer in part negative",
                 transfer_in([](auto& r) { r.mutable_parts(0)->set_amount_fen(-5); }), kInvalid,
                 kAmount);
  ExpectRejected("transfer in part source", transfer_in([](auto& r) {
                   r.mutable_parts(0)->set_source(v1::FUNDING_SOURCE_UNSPECIFIED);
                 }),
                 kInvalid, kField);
  ExpectRejected("transfer in source twice",
                 transfer_in([](auto& r) { *r.add_parts() = r.parts(0); }), kInvalid, kField);
  ExpectRejected("transfer in year 2008",
                 transfer_in([](auto& r) { r.add_contribution_years(2008); }), kInvalid, kPeriod,
                 {"2008"});
  ExpectRejected("transfer in year after its date",
                 transfer_in([](auto& r) { r.add_contribution_years(2026); }), kInvalid, kPeriod,
                 {"2026"});
  ExpectRejected("transfer in unknown region",
                 transfer_in([](auto& r) { r.set_to_region("999999"); }), kInvalid,
                 v1::REASON_UNKNOWN_REGION);

  // RunJob
  ExpectRejected("job kind", SendJob(v1::JOB_KIND_UNSPECIFIED, 2020, "2025-01-02"), kInvalid,
                 kField);
  ExpectRejected("job month 13", SendJob(v1::JOB_KIND_BENEFITS, 202513, "2025-12-20"), kInvalid,
                 kPeriod, {"202513"});
  ExpectRejected("job month as a year", SendJob(v1::JOB_KIND_BENEFITS, 2025, "2025-12-20"),
                 kInvalid, kPeriod);
  ExpectRejected("job benefits before the month",
                 SendJob(v1::JOB_KIND_BENEFITS, 202502, "2025-01-10"), kInvalid, kPeriod);
  ExpectRejected("job interest of this year", SendJob(v1::JOB_KIND_INTEREST, 2026, ""), kInvalid,
                 kPeriod);
  ExpectRejected("job interest 2008", SendJob(v1::JOB_KIND_INTEREST, 2008, ""), kInvalid, kPeriod);
  ExpectRejected("job subsidy bad date", SendJob(v1::JOB_KIND_GOVERNMENT_SUBSIDY, 2020, kBadDate),
                 kInvalid, kDate);
  ExpectRejected("job subsidy future", SendJob(v1::JOB_KIND_GOVERNMENT_SUBSIDY, 2020, kTomorrow),
                 kInvalid, kFuture);
  ExpectRejected("job subsidy before its year",
                 SendJob(v1::JOB_KIND_GOVERNMENT_SUBSIDY, 2026, "2025-01-02"), kInvalid, kPeriod);
  ExpectRejected("job unknown region",
                 SendJob(v1::JOB_KIND_GOVERNMENT_SUBSIDY, 2020, "2025-01-02", "999999"), kInvalid,
                 v1::REASON_UNKNOWN_REGION);

  // GetStatement
  ExpectRejected(
      "statement bad id",
      [&] {
        v1::Statement st;
        return A().Statement(bad_id, 2025, &st);
      },
      kInvalid, kId);
  ExpectRejected(
      "statement year 2008",
      [&] {
        v1::Statement st;
        return A().Statement(contributor_, 2008, &st);
      },
      kInvalid, kPeriod);
}

TEST_F(LifecycleGrpcRejectionTest, UnknownParticipantsAreNotFoundAndStatesAreChecked) {
  const std::string masked = Masked(stranger_);
  const v1::Reason kUnknown = v1::REASON_UNKNOWN_PARTICIPANT, kState = v1::REASON_WRONG_STATE;
  auto stranger = [&](auto request) {
    request.set_citizen_id(stranger_);
    return request;
  };
  ExpectRejected("collective", Send(&Node::Collective, stranger(Collective())), kNotFound, kUnknown,
                 {masked});
  ExpectRejected("determine", Send(&Node::Determine, stranger(Determine())), kNotFound, kUnknown,
                 {masked});
  ExpectRejected("suspend", Send(&Node::Suspend, stranger(Suspend())), kNotFound, kUnknown,
                 {masked});
  ExpectRejected("resume", Send(&Node::Resume, stranger(Resume())), kNotFound, kUnknown, {masked});
  ExpectRejected("death", Send(&Node::Death, stranger(Death())), kNotFound, kUnknown, {masked});
  ExpectRejected("transfer out", Send(&Node::TransferOut, stranger(TransferOut())), kNotFound,
                 kUnknown, {masked});
  ExpectRejected("transfer in", Send(&Node::TransferIn, stranger(TransferIn())), kNotFound,
                 kUnknown, {masked});
  {
    SCOPED_TRACE("statement");
    v1::Statement st;
    const Rpc rpc = A().Statement(stranger_, 2025, &st);
    EXPECT_EQ(rpc.status.error_code(), kNotFound) << Describe(rpc);
    EXPECT_THAT(rpc.status.error_message(), HasSubstr(masked));
  }
  ExpectRejected(
      "refund of an unknown receipt",
      Send(&Node::Refund, With(Refund(), [](auto& r) { r.set_receipt_number("R-NONE"); })), kFailed,
      v1::REASON_ORIGINAL_NOT_FOUND, {"R-NONE"});

  // The wrong state for the command: a pensioner, a contributor, the deceased.
  auto as = [](auto request, const std::string& id) {
    request.set_citizen_id(id);
    return request;
  };
  ExpectRejected("collective for a pensioner",
                 Send(&Node::Collective, as(Collective(), pensioner_)), kFailed, kState,
                 {"drawing pension"});
  ExpectRejected("collective for the deceased", Send(&Node::Collective, as(Collective(), dead_)),
                 kFailed, kState, {"deceased"});
  ExpectRejected("refund for a pensioner",
                 Send(&Node::Refund, With(Refund(),
                                          [&](auto& r) {
                                            r.set_receipt_number(StrCat("R-", pensioner_, "-2010"));
                                          })),
                 kFailed, kState);
  ExpectRejected("determine a pensioner again", Send(&Node::Determine, as(Determine(), pensioner_)),
                 kFailed, kState);
  ExpectRejected("determine the deceased", Send(&Node::Determine, as(Determine(), dead_)), kFailed,
                 kState);
  ExpectRejected("suspend a contributor", Send(&Node::Suspend, as(Suspend(), contributor_)),
                 kFailed, kState, {"contributing"});
  ExpectRejected("resume a pension being paid", Send(&Node::Resume, Resume()), kFailed, kState,
                 {"drawing pension"});
  ExpectRejected("death of the deceased", Send(&Node::Death, as(Death(), dead_)), kFailed, kState,
                 {"deceased"});
  ExpectRejected("transfer out a pensioner",
                 Send(&Node::TransferOut, as(TransferOut(), pensioner_)), kFailed, kState);
  ExpectRejected("transfer out the deceased", Send(&Node::TransferOut, as(TransferOut(), dead_)),
                 kFailed, kState);
  ExpectRejected("transfer in without a transfer out",
                 Send(&Node::TransferIn, With(TransferIn(),
                                              [](auto& r) {
                                                r.set_from_region(kRegion);
                                                r.set_to_region(kRegion2);
                                              })),
                 kFailed, kState);
  ExpectRejected("transfer in from another ledger without the document's balance",
                 Send(&Node::TransferIn, With(TransferIn(),
                                              [](auto& r) {
                                                r.clear_parts();
                                                r.clear_contribution_years();
                                              })),
                 kInvalid, v1::REASON_INVALID_FIELD);

  // Benefits, death and transfers may not be dated in a year whose interest is posted (2020).
  ExpectRejected("determine in a posted year",
                 Send(&Node::Determine, With(Determine(),
                                             [&](auto& r) {
                                               r.set_citizen_id(old_);
                                               r.set_date("2020-06-01");
                                             })),
                 kInvalid, v1::REASON_INVALID_DATE, {"2020"});
  ExpectRejected("death in a posted year",
                 Send(&Node::Death, With(Death(),
                                         [](auto& r) {
                                           r.set_date_of_death("2020-05-01");
                                           r.set_date("2020-06-01");
                                         })),
                 kInvalid, v1::REASON_INVALID_DATE, {"2020"});
  ExpectRejected(
      "transfer out in a posted year",
      Send(&Node::TransferOut, With(TransferOut(), [](auto& r) { r.set_date("2020-12-01"); })),
      kInvalid, v1::REASON_INVALID_DATE, {"2020"});

  // A suspended pension resumes at the suspension month or later.
  v1::CommandResponse suspended;
  Rpc rpc = A().Suspend(With(Suspend(),
                             [](auto& r) {
                               r.set_from_month(202503);
                               r.set_document_ref("S-OK");
                             }),
                        &suspended);
  ASSERT_TRUE(rpc.ok()) << Describe(rpc);
  ExpectRejected("resume before the suspension",
                 Send(&Node::Resume, With(Resume(), [](auto& r) { r.set_month(202502); })),
                 kInvalid, v1::REASON_INVALID_PERIOD, {"202503"});
  ExpectRejected("suspend a suspended pension",
                 Send(&Node::Suspend, With(Suspend(), [](auto& r) { r.set_from_month(202504); })),
                 kFailed, kState, {"suspended"});
}

TEST_F(LifecycleGrpcRejectionTest, RuleViolationsAreFailedPreconditionAndChangeNothing) {
  // Collective subsidy: only for a year with a contribution, and at most the highest tier.
  ExpectRejected(
      "collective without a contribution",
      Send(&Node::Collective, With(Collective(), [](auto& r) { r.set_contribution_year(2021); })),
      kFailed, v1::REASON_NO_CONTRIBUTION_FOR_YEAR, {"2021"});
  v1::CommandResponse credited;
  Rpc rpc = A().Collective(With(Collective(),
                                [](auto& r) {
                                  r.set_amount_fen(150000);
                                  r.set_document_ref("C-1");
                                }),
                           &credited);
  ASSERT_TRUE(rpc.ok()) << Describe(rpc);
  ExpectRejected(
      "collective over the cap",
      Send(&Node::Collective,
           With(Collective(),
                [](auto& r) {
                  r.set_amount_fen(60000);
                  r.set_source(v1::FUNDING_SOURCE_SPONSORSHIP);  // the cap is on both together
                })),
      kFailed, v1::REASON_OVER_CAP, {"2000.00", "1500.00", "600.00"});
  rpc = A().Collective(With(Collective(),
                            [](auto& r) {
                              r.set_amount_fen(50000);  // exactly up to the cap
                              r.set_document_ref("C-2");
                            }),
                       &credited);
  ASSERT_TRUE(rpc.ok()) << Describe(rpc);
  EXPECT_EQ(SourceFen(A().Account(contributor_), v1::FUNDING_SOURCE_COLLECTIVE), 200000);
  ExpectRejected("collective one fen over the cap",
                 Send(&Node::Collective, With(Collective(), [](auto& r) { r.set_amount_fen(1); })),
                 kFailed, v1::REASON_OVER_CAP, {"2000.00"});

  // Eligibility: age, then years (transition rule from the scheme start).
  ExpectRejected("determine at 45", Send(&Node::Determine, Determine()), kFailed,
                 v1::REASON_NOT_ELIGIBLE, {"45", "60"});
  ExpectRejected(
      "determine with 1 of 11 years",
      Send(&Node::Determine, With(Determine(), [&](auto& r) { r.set_citizen_id(old_); })), kFailed,
      v1::REASON_NOT_ELIGIBLE, {"has 1 contribution years", "11 are required"});

  // Jobs: years in order; fiscal funds must cover the whole job before anything is credited.
  ExpectRejected("interest 2022 after 2020", SendJob(v1::JOB_KIND_INTEREST, 2022, ""), kFailed,
                 v1::REASON_PERIOD_OUT_OF_ORDER, {"2021"});
  ExpectRejected("subsidy without funds",
                 SendJob(v1::JOB_KIND_GOVERNMENT_SUBSIDY, 2020, "2025-01-02"), kFailed,
                 v1::REASON_INSUFFICIENT_FISCAL_FUNDS, {"short by 30.00", "nothing credited"});
  A().FundsOk(v1::FISCAL_PURPOSE_CONTRIBUTION_SUBSIDY, 2020, 1000, "2025-01-02");
  ExpectRejected("subsidy with too little",
                 SendJob(v1::JOB_KIND_GOVERNMENT_SUBSIDY, 2020, "2025-01-02"), kFailed,
                 v1::REASON_INSUFFICIENT_FISCAL_FUNDS, {"short by 20.00"});
  EXPECT_EQ(SourceFen(A().Account(contributor_), v1::FUNDING_SOURCE_GOVERNMENT), 0);
  ExpectRejected("benefits without basic pension funds",
                 SendJob(v1::JOB_KIND_BENEFITS, 202501, "2025-01-10", kRegion2), kFailed,
                 v1::REASON_INSUFFICIENT_FISCAL_FUNDS, {"short by 88.00"});
  EXPECT_EQ(A().Account(unfunded_).benefit().next_month(), 202501);
  // Once the money is there, the same jobs run.
  A().FundsOk(v1::FISCAL_PURPOSE_CONTRIBUTION_SUBSIDY, 2020, 2000, "2025-01-03");
  EXPECT_EQ(A().JobOk(v1::JOB_KIND_GOVERNMENT_SUBSIDY, 2020, "2025-01-03").total_fen(), 3000);
  EXPECT_EQ(SourceFen(A().Account(contributor_), v1::FUNDING_SOURCE_GOVERNMENT), 3000);
  A().FundsOk(v1::FISCAL_PURPOSE_BASIC_PENSION, 2025, kBasic, "2025-01-03", kRegion2);
  // Issue 16, point 4: the payment account must hold the whole run (basic 88.00 + account 0.72).
  ExpectRejected("benefits with an empty payment account",
                 SendJob(v1::JOB_KIND_BENEFITS, 202501, "2025-01-10", kRegion2), kFailed,
                 v1::REASON_INSUFFICIENT_PAYMENT_ACCOUNT,
                 {"nothing paid", "fund.payment needs 88.72, has 0.00"});
  EXPECT_EQ(A().Account(unfunded_).benefit().next_month(), 202501);
  A().RemitToSpecialOk(72, "2025-01-03", kRegion2);
  A().SweepToPaymentOk(kBasic + 71, "2025-01-03", kRegion2);
  ExpectRejected("benefits one fen short in the payment account",
                 SendJob(v1::JOB_KIND_BENEFITS, 202501, "2025-01-10", kRegion2), kFailed,
                 v1::REASON_INSUFFICIENT_PAYMENT_ACCOUNT, {"short by 0.01"});
  A().SweepToPaymentOk(1, "2025-01-03", kRegion2);
  EXPECT_EQ(A().JobOk(v1::JOB_KIND_BENEFITS, 202501, "2025-01-10", kRegion2).accounts_credited(),
            1u);
  EXPECT_EQ(At(A().Balances(kRegion2), "fund.payment"), 0);
  EXPECT_EQ(A().Account(unfunded_).benefit().next_month(), 202502);
  // Benefit months in order too.
  ExpectRejected("benefits 202503 after 202501",
                 SendJob(v1::JOB_KIND_BENEFITS, 202503, "2025-03-10", kRegion2), kFailed,
                 v1::REASON_PERIOD_OUT_OF_ORDER, {"202502"});

  // A receipt is refunded once.
  v1::CommandResponse refunded;
  rpc = A().Refund(With(Refund(),
                        [](auto& r) {
                          r.set_receipt_number("R-O-2010");
                          r.set_document_ref("RF-1");
                        }),
                   &refunded);
  ASSERT_TRUE(rpc.ok()) << Describe(rpc);
  EXPECT_EQ(A().Account(old_).contribution_years(), 0u);
  ExpectRejected(
      "refund twice",
      Send(&Node::Refund, With(Refund(), [](auto& r) { r.set_receipt_number("R-O-2010"); })),
      kFailed, v1::REASON_ALREADY_CANCELLED, {"R-O-2010"});
}

TEST_F(LifecycleGrpcRejectionTest, DocumentReferencesMakeCommandsIdempotent) {
  // An identical resend returns the original sequences and writes nothing.
  const v1::CommandResponse funded =
      A().FundsOk(v1::FISCAL_PURPOSE_PAID_ON_BEHALF, 2025, 5000, "2025-01-02");
  v1::ReceiveFiscalFundsRequest request;
  request.set_region_code(kRegion);
  request.set_purpose(v1::FISCAL_PURPOSE_PAID_ON_BEHALF);
  request.set_year(2025);
  request.set_amount_fen(5000);
  request.set_date("2025-01-02");
  request.set_document_ref("F-OK");
  v1::CommandResponse first;
  Rpc rpc = A().Funds(request, &first);
  ASSERT_TRUE(rpc.ok()) << Describe(rpc);
  EXPECT_FALSE(first.duplicate());
  EXPECT_EQ(first.first_sequence(), funded.last_sequence() + 1);
  {
    const Snapshot before = Take();
    v1::CommandResponse again;
    rpc = A().Funds(request, &again);
    ASSERT_TRUE(rpc.ok()) << Describe(rpc);
    EXPECT_TRUE(again.duplicate());
    EXPECT_EQ(again.first_sequence(), first.first_sequence());
    EXPECT_EQ(again.last_sequence(), first.last_sequence());
    ExpectUnchanged(before);
  }
  // A command of several events (the death: died, inheritance) comes back whole.
  {
    const Snapshot before = Take();
    v1::RecordDeathRequest death;
    death.set_citizen_id(dead_);
    death.set_date_of_death("2024-12-01");
    death.set_date("2025-01-02");
    death.set_document_ref("DEATH-X");
    v1::CommandResponse again;
    rpc = A().Death(death, &again);
    ASSERT_TRUE(rpc.ok()) << Describe(rpc);
    EXPECT_TRUE(again.duplicate());
    EXPECT_EQ(again.first_sequence(), death_.first_sequence());
    EXPECT_EQ(again.last_sequence(), death_.last_sequence());
    ExpectUnchanged(before);
  }
  // A backdated collective subsidy (2020 is posted): credit + adjustment; the resend says so too.
  const v1::CreditCollectiveSubsidyRequest backdated =
      CollectiveRequest(contributor_, 2020, 12000, "2020-10-15", "C-BACK");
  v1::CommandResponse credited;
  rpc = A().Collective(backdated, &credited);
  ASSERT_TRUE(rpc.ok()) << Describe(rpc);
  EXPECT_EQ(credited.last_sequence(), credited.first_sequence() + 1);
  EXPECT_EQ(YearInterest(A().Account(contributor_), 2020, v1::FUNDING_SOURCE_COLLECTIVE),
            30);  // 120 yuan × 1.5 % × 2/12
  {
    const Snapshot before = Take();
    v1::CommandResponse again;
    rpc = A().Collective(backdated, &again);
    ASSERT_TRUE(rpc.ok()) << Describe(rpc);
    EXPECT_TRUE(again.duplicate());
    EXPECT_EQ(again.first_sequence(), credited.first_sequence());
    EXPECT_EQ(again.last_sequence(), credited.last_sequence());
    ExpectUnchanged(before);
  }

  // The same reference with different content, or for another command, is a conflict.
  ExpectRejected("same ref, other amount",
                 Send(&Node::Funds, With(request, [](auto& r) { r.set_amount_fen(5001); })),
                 kExists, v1::REASON_DUPLICATE_REFERENCE_CONFLICT, {"F-OK"});
  ExpectRejected("same ref, other command",
                 Send(&Node::Determine, DetermineRequest(old_, "2025-01-05", "F-OK")), kExists,
                 v1::REASON_DUPLICATE_REFERENCE_CONFLICT, {"F-OK"});
  ExpectRejected("same ref, other participant",
                 Send(&Node::Collective, With(backdated, [&](auto& r) { r.set_citizen_id(old_); })),
                 kExists, v1::REASON_DUPLICATE_REFERENCE_CONFLICT, {"C-BACK"});
  // The fields are checked before the reference: a malformed resend is malformed, not a conflict.
  ExpectRejected("same ref, malformed",
                 Send(&Node::Funds, With(request, [](auto& r) { r.set_amount_fen(0); })), kInvalid,
                 v1::REASON_AMOUNT_NOT_POSITIVE);
  // ... and the reference before the participant's state: a resend after the state changed is
  // still the original answer.
  v1::CommandResponse again;
  rpc = A().Determine(DetermineRequest(pensioner_, "2025-01-05", StrCat("D-", pensioner_)), &again);
  ASSERT_TRUE(rpc.ok()) << Describe(rpc);
  EXPECT_TRUE(again.duplicate());

  // The references survive a restart: resends are still duplicates with the original sequences.
  ASSERT_NO_FATAL_FAILURE(A().Restart());
  {
    const Snapshot before = Take();
    rpc = A().Collective(backdated, &again);
    ASSERT_TRUE(rpc.ok()) << Describe(rpc);
    EXPECT_TRUE(again.duplicate());
    EXPECT_EQ(again.first_sequence(), credited.first_sequence());
    EXPECT_EQ(again.last_sequence(), credited.last_sequence());
    ExpectUnchanged(before);
  }
  ExpectRejected("same ref, other amount, after a restart",
                 Send(&Node::Funds, With(request, [](auto& r) { r.set_amount_fen(5001); })),
                 kExists, v1::REASON_DUPLICATE_REFERENCE_CONFLICT, {"F-OK"});
}

}  // namespace
