// The lifecycle model's policy and calendar: two policy versions built in code (v1 from 2009,
// v2 from 2024-01-01), the rule lookups the model uses to predict the ledger (tiers, caps, basic
// pension, interest rates, funeral subsidy) and the fixed clock. Test-only (lifecycle_model_test).
#ifndef LEDGER_TESTING_MODEL_POLICY_H_
#define LEDGER_TESTING_MODEL_POLICY_H_

#include <cstdint>
#include <vector>

#include "absl/time/civil_time.h"
#include "ledger/v1/policy.pb.h"
#include "tests/support/fixtures.h"

namespace ledger::model {

using Day = absl::CivilDay;
using ::ledger::testing::kRegion;

inline constexpr char kActor[] = "CN=model";
inline const Day kToday(2026, 11, 20);
inline const Day kStart(2019, 1, 1);
inline constexpr int kFirstPolicyYear = 2009;
inline constexpr int kLastPolicyYear = 2026;
inline constexpr int kSchemeStart = 2021;        // P2 needs 3 contribution years, P1 4, P0 5, P5 6
inline constexpr int kFirstInterestYear = 2019;  // the first year of the simulated calendar
inline constexpr int kEarliestContributionYear = 2009;
inline constexpr uint32_t kDivisor = 139;
inline constexpr int64_t kPaidOnBehalfFen = 10000;
inline constexpr uint32_t kFuneralMonths = 10;
inline constexpr char kPooledPayer[] = "pooled_account_pension";
inline const Day kWholeBalanceInheritable(2014, 2, 21);

// Two policy versions: v1 from 2009, v2 from 2024-01-01. From the contribution year 2023 on, v2
// adds a 2000-yuan tier, raises the 1000-yuan tier's subsidy, the cap on collective subsidy +
// sponsorship and the interest rate; it raises the local basic pension from 2025-07 and adds a
// 2026 rule, and pays a larger funeral subsidy. Every rule must come from the version in force
// on the right date (the collection, credit, job, or 31 December for interest).
inline const Day kV2From(2024, 1, 1);
inline int VersionOn(Day d) { return d >= kV2From ? 2 : 1; }

struct TierRule {
  int64_t amount, subsidy;
};
std::vector<TierRule> Tiers(int version, int year);
inline constexpr int64_t kAllTiers[] = {10000, 30000, 50000, 100000, 200000};
int64_t HighestTier(int version, int year);
int64_t FuneralFixed(int version);

struct BasicRule {
  Day from;
  int64_t central, local, per_extra_year;
};
std::vector<BasicRule> BasicRules(int version);

// Varied rates (odd values exercise the rounding); 2021 pays none.
uint32_t RateBp(int version, int year);
// A year's interest rate: the policy in force on its 31 December.
uint32_t InterestRate(int year);

// 2026-11-20 12:00 in China Standard Time.
int64_t NowUs();

v1::Policy ModelPolicy(int version = 1);

}  // namespace ledger::model

#endif  // LEDGER_TESTING_MODEL_POLICY_H_
