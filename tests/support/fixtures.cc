#include "tests/support/fixtures.h"

#include <cstdio>

#include "ledger/citizen_id.h"
#include "ledger/strings.h"

namespace ledger::testing {

v1::Policy PaperPolicy(std::string_view region, bool back_pay_on_resumption) {
  v1::Policy p;
  p.set_region_code(std::string(region));
  p.set_region_name(StrCat("paper ", region));
  p.set_version(1);
  p.set_effective_from("2009-01-01");
  p.set_source_documents("Sun, Su & Xian 2020, Table 3");
  p.set_account_pension_divisor(139);
  p.set_scheme_start_year(2009);
  p.set_collective_requires_contribution(true);
  p.set_back_pay_on_resumption(back_pay_on_resumption);
  p.set_exhausted_account_payer("pooled_account_pension");
  for (int year = 2009; year <= 2026; ++year) {
    v1::YearRules* y = p.add_years();
    y->set_year(year);
    v1::Tier* t = y->add_tiers();
    t->set_amount_fen(10000);
    t->set_government_subsidy_fen(3000);
    t = y->add_tiers();
    t->set_amount_fen(50000);
    t->set_government_subsidy_fen(6000);
    y->set_highest_tier_fen(200000);
    y->set_interest_rate_bp(150);
  }
  v1::BasicPensionRule* b = p.add_basic_pension();
  b->set_effective_from("2009-01-01");
  b->set_central_monthly_fen(8800);
  p.mutable_funeral_subsidy()->set_fixed_fen(120000);
  p.mutable_funeral_subsidy()->set_basic_pension_months(10);
  return p;
}

std::string CitizenId(std::string_view birth, int sequence, std::string_view region) {
  char seq[16];
  std::snprintf(seq, sizeof seq, "%03d", sequence % 1000);
  const std::string first17 = StrCat(region, birth, seq);
  return first17 + CitizenIdCheckChar(first17);
}

}  // namespace ledger::testing
