#include "ledger/testing/model_policy.h"

#include "absl/strings/str_format.h"
#include "absl/time/time.h"

namespace ledger::model {

std::vector<TierRule> Tiers(int version, int year) {
  std::vector<TierRule> tiers = {{10000, 3000}, {30000, 4000}, {50000, 6000}, {100000, 8000}};
  if (version == 2 && year >= 2023) {
    tiers[3].subsidy = 9000;
    tiers.push_back({200000, 10000});
  }
  return tiers;
}
int64_t HighestTier(int version, int year) {
  return version == 2 && year >= 2023 ? 300000 : 200000;
}
int64_t FuneralFixed(int version) { return version == 2 ? 150000 : 120000; }

std::vector<BasicRule> BasicRules(int version) {
  std::vector<BasicRule> rules = {{Day(2009, 1, 1), 7000, 1000, 100},
                                  {Day(2024, 1, 1), 12300, 1500, 200},
                                  {Day(2025, 7, 1), 14300, 1500, 200}};
  if (version == 2) {
    rules[2].local = 2000;
    rules.push_back({Day(2026, 1, 1), 15000, 2000, 200});
  }
  return rules;
}

uint32_t RateBp(int version, int year) {
  if (year == 2021) return 0;
  return 100 + static_cast<uint32_t>(year * 37 % 400) + (version == 2 && year >= 2023 ? 50 : 0);
}
uint32_t InterestRate(int year) { return RateBp(VersionOn(Day(year, 12, 31)), year); }

int64_t NowUs() {
  return absl::ToUnixMicros(
      absl::FromCivil(absl::CivilSecond(2026, 11, 20, 12, 0, 0), absl::FixedTimeZone(8 * 3600)));
}

v1::Policy ModelPolicy(int version) {
  v1::Policy p;
  p.set_region_code(kRegion);
  p.set_region_name("model");
  p.set_version(version);
  p.set_effective_from(version == 1 ? "2009-01-01" : "2024-01-01");
  p.set_account_pension_divisor(kDivisor);
  p.set_scheme_start_year(kSchemeStart);
  p.set_collective_requires_contribution(true);
  p.set_back_pay_on_resumption(true);
  p.set_exhausted_account_payer(kPooledPayer);
  for (int year = kFirstPolicyYear; year <= kLastPolicyYear; ++year) {
    v1::YearRules* y = p.add_years();
    y->set_year(year);
    for (const TierRule& t : Tiers(version, year)) {
      v1::Tier* tier = y->add_tiers();
      tier->set_amount_fen(t.amount);
      tier->set_government_subsidy_fen(t.subsidy);
    }
    y->set_highest_tier_fen(HighestTier(version, year));
    y->set_interest_rate_bp(RateBp(version, year));
    v1::PaidOnBehalf* b = y->add_paid_on_behalf();
    b->set_group(v1::SPECIAL_GROUP_SEVERELY_DISABLED);
    b->set_amount_fen(kPaidOnBehalfFen);
  }
  for (const BasicRule& r : BasicRules(version)) {
    v1::BasicPensionRule* b = p.add_basic_pension();
    b->set_effective_from(
        absl::StrFormat("%04d-%02d-%02d", r.from.year(), r.from.month(), r.from.day()));
    b->set_central_monthly_fen(r.central);
    b->set_local_monthly_fen(r.local);
    b->set_per_extra_year_monthly_fen(r.per_extra_year);
  }
  p.mutable_funeral_subsidy()->set_fixed_fen(FuneralFixed(version));
  p.mutable_funeral_subsidy()->set_basic_pension_months(kFuneralMonths);
  return p;
}

}  // namespace ledger::model
