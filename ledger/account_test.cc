// The account arithmetic: the two named roundings, the interest formula and DOMAIN.md's paper
// check (Sun, Su & Xian 2020).
#include "ledger/account.h"

#include <gtest/gtest.h>

namespace ledger {
namespace {

using v1::FUNDING_SOURCE_GOVERNMENT;
using v1::FUNDING_SOURCE_PERSONAL;

TEST(DivRoundHalfUpTest, RoundsHalfAwayFromZero) {
  EXPECT_EQ(DivRoundHalfUp(5, 10), 1);    // 0.5 → 1
  EXPECT_EQ(DivRoundHalfUp(4, 10), 0);    // 0.4 → 0
  EXPECT_EQ(DivRoundHalfUp(15, 10), 2);   // 1.5 → 2
  EXPECT_EQ(DivRoundHalfUp(-5, 10), -1);  // −0.5 → −1
  EXPECT_EQ(DivRoundHalfUp(-4, 10), 0);
  EXPECT_EQ(DivRoundHalfUp(216868, 139), 1560);  // 2168.68 ÷ 139 = 15.602… → 15.60
  EXPECT_EQ(DivRoundHalfUp(934200, 139), 6721);  // 9342.00 ÷ 139 = 67.208… → 67.21
}

TEST(SplitLargestRemainderTest, PartsAddUpAndFollowTheWeights) {
  EXPECT_EQ(SplitLargestRemainder(10, {1, 1, 1}), (std::vector<int64_t>{4, 3, 3}));  // tie → first
  EXPECT_EQ(SplitLargestRemainder(10, {0, 1, 1}), (std::vector<int64_t>{0, 5, 5}));
  EXPECT_EQ(SplitLargestRemainder(7, {2, 5}), (std::vector<int64_t>{2, 5}));
  EXPECT_EQ(SplitLargestRemainder(100, {1, 2, 3}), (std::vector<int64_t>{17, 33, 50}));
  EXPECT_EQ(SplitLargestRemainder(0, {0, 0}), (std::vector<int64_t>{0, 0}));
  // Larger remainder wins regardless of position: 1/3·2 = 0.67 vs 2/3·2 = 1.33.
  EXPECT_EQ(SplitLargestRemainder(2, {1, 2}), (std::vector<int64_t>{1, 1}));
  // Ties among equal remainders go to the earlier sources, never to one without weight.
  EXPECT_EQ(SplitLargestRemainder(2, {3, 0, 3, 3}), (std::vector<int64_t>{1, 0, 1, 0}));
  EXPECT_EQ(SplitLargestRemainder(1, {0, 1, 1}), (std::vector<int64_t>{0, 1, 0}));
  // Weights beyond 64 bits (fen-months of large balances) split exactly.
  const Int128 big = Int128{1} << 70;
  EXPECT_EQ(SplitLargestRemainder(3, {big, big}), (std::vector<int64_t>{2, 1}));
  EXPECT_EQ(SplitLargestRemainder(1'000'000'007, {big, 2 * big, 0}),
            (std::vector<int64_t>{333'333'336, 666'666'671, 0}));
}

v1::Account Empty() {
  v1::Account a;
  a.set_citizen_id("11010519491231002X");
  return a;
}

// 15 years of (personal + subsidy) arriving in December, 1.5 %, interest posted each year end.
int64_t PaperBalance(int64_t personal_fen, int64_t subsidy_fen) {
  v1::Account a = Empty();
  for (int year = 2010; year < 2025; ++year) {
    RecordMovement(a, FUNDING_SOURCE_PERSONAL, personal_fen, absl::CivilDay(year, 12, 20));
    RecordMovement(a, FUNDING_SOURCE_GOVERNMENT, subsidy_fen, absl::CivilDay(year, 12, 20));
    const YearInterest interest = ComputeInterest(a, year, 150);
    int64_t parts = 0;
    for (const auto& p : interest.parts) {
      RecordInterest(a, p.source(), p.amount_fen(), year);
      parts += p.amount_fen();
    }
    EXPECT_EQ(parts, interest.total_fen) << year;
  }
  return a.total_fen();
}

TEST(PaperCheckTest, SunSuXian2020Table3) {
  // 100 + 30 yuan: balance 2168.68, account pension 15.60, + basic 88 = 103.60 a month.
  const int64_t low = PaperBalance(10000, 3000);
  EXPECT_EQ(low, 216868);
  EXPECT_EQ(DivRoundHalfUp(low, 139) + 8800, 10360);
  // 500 + 60 yuan: balance 9342.00, pension 67.21 + 88 = 155.21.
  const int64_t high = PaperBalance(50000, 6000);
  EXPECT_EQ(high, 934200);
  EXPECT_EQ(DivRoundHalfUp(high, 139) + 8800, 15521);
}

TEST(InterestTest, MoneyEarnsFromTheMonthAfterItArrives) {
  v1::Account a = Empty();
  RecordMovement(a, FUNDING_SOURCE_PERSONAL, 120000, absl::CivilDay(2020, 1, 15));  // 11 months
  RecordMovement(a, FUNDING_SOURCE_PERSONAL, 120000, absl::CivilDay(2020, 12, 1));  // 0 months
  // 1200 yuan × 10 % × 11/12 = 110.00 yuan.
  EXPECT_EQ(ComputeInterest(a, 2020, 1000).total_fen, 11000);
  // A debit in June stops earning for the 6 months after it: −600 × 10 % × 6/12 = −30.
  RecordMovement(a, FUNDING_SOURCE_PERSONAL, -60000, absl::CivilDay(2020, 6, 30));
  EXPECT_EQ(ComputeInterest(a, 2020, 1000).total_fen, 8000);
  // The next year the opening balance (1800 yuan) earns all 12 months.
  EXPECT_EQ(ComputeInterest(a, 2021, 1000).total_fen, 18000);
}

TEST(InterestTest, OneRoundingOnTheTotalThenSplitBySource) {
  v1::Account a = Empty();
  // Each source alone would earn 0.5 fen (rounding up to 1 each, 2 in all); the total is
  // 1 fen exactly, split by largest remainder with the tie going to the first source.
  RecordMovement(a, FUNDING_SOURCE_PERSONAL, 100, absl::CivilDay(2019, 6, 1));
  RecordMovement(a, FUNDING_SOURCE_GOVERNMENT, 100, absl::CivilDay(2019, 6, 1));
  const YearInterest i = ComputeInterest(a, 2020, 50);  // 100 fen × 0.5 % = 0.5 fen per source
  EXPECT_EQ(i.total_fen, 1);
  ASSERT_EQ(i.parts.size(), 1u);
  EXPECT_EQ(i.parts[0].source(), FUNDING_SOURCE_PERSONAL);
}

TEST(BalanceTest, DebitsTakePrincipalThenInterest) {
  v1::Account a = Empty();
  RecordMovement(a, FUNDING_SOURCE_PERSONAL, 1000, absl::CivilDay(2020, 1, 1));
  RecordInterest(a, FUNDING_SOURCE_PERSONAL, 100, 2020);
  RecordMovement(a, FUNDING_SOURCE_PERSONAL, -1050, absl::CivilDay(2021, 3, 1));
  EXPECT_EQ(a.balances(0).principal_fen(), 0);
  EXPECT_EQ(a.balances(0).interest_fen(), 50);
  EXPECT_FALSE(AnyBalanceNegative(a));
  RecordInterest(a, FUNDING_SOURCE_PERSONAL, -60, 2020);  // an adjustment larger than interest
  EXPECT_TRUE(AnyBalanceNegative(a));
  EXPECT_EQ(a.total_fen(), -10);
}

TEST(BalanceTest, OpeningIsEveryEarlierMovementAndInterest) {
  v1::Account a = Empty();
  RecordMovement(a, FUNDING_SOURCE_PERSONAL, 1000, absl::CivilDay(2019, 5, 1));
  RecordInterest(a, FUNDING_SOURCE_PERSONAL, 7, 2019);
  RecordMovement(a, FUNDING_SOURCE_GOVERNMENT, 300, absl::CivilDay(2020, 5, 1));
  const std::vector<int64_t> opening = OpeningBySource(a, 2021);
  EXPECT_EQ(opening[0], 1007);
  EXPECT_EQ(opening[1], 300);
  EXPECT_EQ(OpeningBySource(a, 2019)[0], 0);
}

}  // namespace
}  // namespace ledger
