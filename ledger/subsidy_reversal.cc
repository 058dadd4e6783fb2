#include "ledger/subsidy_reversal.h"

#include <algorithm>

#include "ledger/account.h"
#include "ledger/command_checks.h"
#include "ledger/lifecycle.h"
#include "ledger/policy.h"
#include "ledger/status_macros.h"

namespace ledger {
namespace {

// What the contributions of `year` other than `receipt` earn as a government subsidy under
// `rules` (the subsidy job's rule: the first one not back-paid and not transferred in), and the
// tier that earns it.
std::pair<int64_t, int64_t> RemainingEarns(const v1::Account& a, int year, std::string_view receipt,
                                           const v1::YearRules* rules) {
  for (const auto& c : a.contributions()) {
    if (c.year() != year || c.receipt_number() == receipt) continue;
    if (c.back_payment() || !c.transferred_from().empty()) continue;
    const v1::Tier* tier = rules == nullptr ? nullptr : FindTier(*rules, c.amount_fen());
    return {tier == nullptr ? 0 : tier->government_subsidy_fen(), c.amount_fen()};
  }
  return {0, 0};
}

bool AnyContributionRemains(const v1::Account& a, int year, std::string_view receipt) {
  return std::any_of(a.contributions().begin(), a.contributions().end(), [&](const auto& c) {
    return c.year() == year && c.receipt_number() != receipt;
  });
}

}  // namespace

std::vector<v1::EventEnvelope> PlanSubsidyReversals(const v1::Account& a,
                                                    const v1::ContributionCollected& original,
                                                    std::string_view region, absl::CivilDay date,
                                                    const WorkingState& state,
                                                    uint64_t caused_by, std::string_view ref,
                                                    uint32_t policy_version) {
  std::vector<v1::EventEnvelope> out;
  const int year = original.contribution_year();
  const bool contribution_remains = AnyContributionRemains(a, year, original.receipt_number());
  const v1::AccountYear* y = FindYear(a, year);
  const v1::Policy* policy = state.policies().InForce(region, date);
  const v1::YearRules* rules = policy == nullptr ? nullptr : PolicyBook::Year(*policy, year);
  const auto [earns, tier] = RemainingEarns(a, year, original.receipt_number(), rules);
  if (const int64_t back = (y ? y->government_subsidy_fen() : 0) - earns; back > 0) {
    v1::EventEnvelope& e = out.emplace_back(command::Envelope(region, date, ref, policy_version));
    auto* g = e.mutable_government_subsidy_reversed();
    g->set_citizen_id(a.citizen_id());
    g->set_contribution_year(year);
    g->set_amount_fen(back);
    g->set_purpose(v1::FISCAL_PURPOSE_CONTRIBUTION_SUBSIDY);
    g->set_receipt_number(original.receipt_number());
    g->set_caused_by_sequence(caused_by);
    g->set_remaining_tier_fen(tier);
  }
  // The cadre subsidy needs the person's own contribution whatever the policy's collective rule
  // (渝人社发〔2014〕65号), and goes back to the fiscal funds it came from.
  for (const v1::CadreSubsidyYear& cadre : a.cadre_subsidies()) {
    if (cadre.year() != year || cadre.amount_fen() <= 0 || contribution_remains) continue;
    v1::EventEnvelope& e = out.emplace_back(command::Envelope(region, date, ref, policy_version));
    auto* c = e.mutable_cadre_subsidy_reversed();
    c->set_citizen_id(a.citizen_id());
    c->set_year(year);
    c->set_amount_fen(cadre.amount_fen());
    c->set_purpose(cadre.purpose());
    c->set_receipt_number(original.receipt_number());
    c->set_caused_by_sequence(caused_by);
  }
  const bool needs_contribution = policy != nullptr && policy->collective_requires_contribution();
  if (y == nullptr || !needs_contribution || y->paid_on_behalf_fen() > 0 || contribution_remains) {
    return out;
  }
  for (const v1::SourceAmount& s : y->collective_by_source()) {
    if (s.amount_fen() <= 0) continue;
    v1::EventEnvelope& e = out.emplace_back(command::Envelope(region, date, ref, policy_version));
    auto* c = e.mutable_collective_subsidy_reversed();
    c->set_citizen_id(a.citizen_id());
    c->set_contribution_year(year);
    c->set_amount_fen(s.amount_fen());
    c->set_source(s.source());
    c->set_receipt_number(original.receipt_number());
    c->set_caused_by_sequence(caused_by);
  }
  return out;
}

std::vector<std::pair<v1::FundingSource, int64_t>> SubsidyReversalDebits(
    const std::vector<v1::EventEnvelope>& reversals) {
  std::vector<std::pair<v1::FundingSource, int64_t>> out;
  for (const v1::EventEnvelope& e : reversals) {
    if (e.has_government_subsidy_reversed()) {
      out.emplace_back(v1::FUNDING_SOURCE_GOVERNMENT, e.government_subsidy_reversed().amount_fen());
    } else if (e.has_cadre_subsidy_reversed()) {
      out.emplace_back(v1::FUNDING_SOURCE_COLLECTIVE, e.cadre_subsidy_reversed().amount_fen());
    } else {
      out.emplace_back(e.collective_subsidy_reversed().source(),
                       e.collective_subsidy_reversed().amount_fen());
    }
  }
  return out;
}

absl::Status AppendSubsidyReversals(WorkingState& state,
                                    const v1::ContributionCollected& original,
                                    std::string_view region, absl::CivilDay date,
                                    uint64_t caused_by, std::string_view ref,
                                    uint32_t policy_version, const Appender& append) {
  LEDGER_ASSIGN_OR_RETURN(const v1::Account* a, state.FindAccount(original.citizen_id()));
  LEDGER_CHECK(a != nullptr, "a reversed contribution of an account that does not exist");
  std::vector<v1::EventEnvelope> events =
      PlanSubsidyReversals(*a, original, region, date, state, caused_by, ref, policy_version);
  for (v1::EventEnvelope& e : events) {
    LEDGER_ASSIGN_OR_RETURN(uint64_t seq, append(std::move(e)));
    LEDGER_RETURN_IF_ERROR(AppendInterestAdjustments(state, original.citizen_id(),
                                                     static_cast<int>(date.year()), seq, ref,
                                                     append));
  }
  return absl::OkStatus();
}

}  // namespace ledger
