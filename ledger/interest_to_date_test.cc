// The arithmetic of the interest to the date an account closes (issue 16, point 6): the annual
// formula with the months counted up to the month of the event, one half-up rounding, less what
// an earlier accrual of the year already credited; and the annual job's deduction of it.
#include <gtest/gtest.h>

#include <vector>

#include "ledger/account.h"
#include "ledger/lifecycle_internal.h"

namespace ledger {
namespace {

using v1::FUNDING_SOURCE_GOVERNMENT;
using v1::FUNDING_SOURCE_PERSONAL;

constexpr char kId[] = "22240119700101222X";

v1::EventEnvelope Collected(int year, int64_t fen, const char* date) {
  v1::EventEnvelope e;
  e.set_effective_date(date);
  auto* c = e.mutable_contribution_collected();
  c->set_receipt_number(date);
  c->set_citizen_id(kId);
  c->set_contribution_year(year);
  c->set_amount_fen(fen);
  c->set_collection_date(date);
  return e;
}

// 500 yuan arrived 2024-12-20 (the opening of 2025) and 500 yuan 2025-03-15.
struct Fixture {
  v1::Account account;
  std::vector<v1::EventEnvelope> events;
  Fixture() {
    account.set_citizen_id(kId);
    RecordMovement(account, FUNDING_SOURCE_PERSONAL, 50000, absl::CivilDay(2024, 12, 20));
    RecordMovement(account, FUNDING_SOURCE_PERSONAL, 50000, absl::CivilDay(2025, 3, 15));
    events = {Collected(2024, 50000, "2024-12-20"), Collected(2025, 50000, "2025-03-15")};
  }
};

TEST(InterestThroughTest, CountsTheMonthsUpToTheMonthOfTheEvent) {
  const Fixture f;
  // August: 500 × 8 + 500 × 5 (April–August) = 6500 yuan-months × 1.5 % / 12 = 8.125 → 8.13.
  YearInterest i = lifecycle::InterestThrough(f.account, f.events, 2025, 8, 150);
  EXPECT_EQ(i.total_fen, 813);
  ASSERT_EQ(i.parts.size(), 1u);
  EXPECT_EQ(i.parts[0].source(), FUNDING_SOURCE_PERSONAL);
  // March: the money of March earns nothing yet; 500 × 3 × 1.5 % / 12 = 1.875 → 1.88.
  EXPECT_EQ(lifecycle::InterestThrough(f.account, f.events, 2025, 3, 150).total_fen, 188);
  // January: one month of the opening: 0.625 → 0.63.
  EXPECT_EQ(lifecycle::InterestThrough(f.account, f.events, 2025, 1, 150).total_fen, 63);
}

TEST(InterestThroughTest, TheWholeYearIsTheAnnualPosting) {
  const Fixture f;
  for (uint32_t rate : {150u, 262u, 361u, 831u}) {
    SCOPED_TRACE(rate);
    EXPECT_EQ(lifecycle::InterestThrough(f.account, f.events, 2025, 12, rate).total_fen,
              ComputeInterest(f.account, 2025, rate).total_fen);
  }
}

TEST(InterestThroughTest, SplitsBySourceAndDeductsAnEarlierAccrual) {
  Fixture f;
  RecordMovement(f.account, FUNDING_SOURCE_GOVERNMENT, 30000, absl::CivilDay(2024, 12, 20));
  v1::EventEnvelope subsidy;
  subsidy.set_effective_date("2024-12-20");
  auto* g = subsidy.mutable_government_subsidy_credited();
  g->set_citizen_id(kId);
  g->set_contribution_year(2024);
  g->set_amount_fen(30000);
  g->set_purpose(v1::FISCAL_PURPOSE_CONTRIBUTION_SUBSIDY);
  f.events.push_back(subsidy);
  // Through June: personal 500 × 6 + 500 × 3 = 4500, government 300 × 6 = 1800 yuan-months:
  // 6300 × 1.5 % / 12 = 7.875 → 7.88, split 4500 : 1800 = 5.625 : 2.25 → 5.63 + 2.25.
  const YearInterest june = lifecycle::InterestThrough(f.account, f.events, 2025, 6, 150);
  EXPECT_EQ(june.total_fen, 788);
  ASSERT_EQ(june.parts.size(), 2u);
  EXPECT_EQ(june.parts[0].amount_fen(), 563);
  EXPECT_EQ(june.parts[1].amount_fen(), 225);
  // Credited (an accrual through June), the same computation through June owes nothing more,
  // and the annual job deducts it from the whole year's interest.
  for (const auto& p : june.parts) {
    RecordAccruedInterest(f.account, p.source(), p.amount_fen(), 2025, 6);
  }
  v1::EventEnvelope accrued;
  accrued.set_effective_date("2025-06-30");
  auto* a = accrued.mutable_interest_accrued();
  a->set_citizen_id(kId);
  a->set_year(2025);
  a->set_through_month(6);
  for (const auto& p : june.parts) *a->add_parts() = p;
  f.events.push_back(accrued);
  EXPECT_EQ(lifecycle::InterestThrough(f.account, f.events, 2025, 6, 150).total_fen, 0);
  const YearInterest whole = ComputeInterest(f.account, 2025, 150);
  const YearInterest rest = lifecycle::DeductAccrued(f.account, 2025, whole);
  EXPECT_EQ(rest.total_fen, whole.total_fen - 788);
  // The accrued interest itself earns from July: the year's interest includes 7.88 × 6 months.
  EXPECT_EQ(whole.total_fen, (int64_t{(50000 * 12 + 50000 * 9 + 30000 * 12 + 788 * 6) * 150} +
                              60000) / 120000);
}

}  // namespace
}  // namespace ledger
