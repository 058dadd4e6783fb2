// The interest adjustments a backdated movement causes: a credit, debit or reversal dated in a
// year whose interest is already posted changes that year's interest and every later posted
// year's; each change is recorded as InterestAdjusted under the movement's reference.
#include <algorithm>
#include <map>
#include <optional>

#include "ledger/account.h"
#include "ledger/command_checks.h"
#include "ledger/dates.h"
#include "ledger/lifecycle.h"
#include "ledger/lifecycle_internal.h"
#include "ledger/policy.h"
#include "ledger/status_macros.h"
#include "ledger/strings.h"
#include "ledger/working_state.h"

namespace ledger {
namespace {

// The interest rate of `year` for a region: the policy in force on 31 December of that year.
std::optional<uint32_t> InterestRate(const PolicyBook& book, std::string_view region, int year) {
  const v1::Policy* policy = book.InForce(region, absl::CivilDay(year, 12, 31));
  if (policy == nullptr) return std::nullopt;
  const v1::YearRules* rules = PolicyBook::Year(*policy, year);
  if (rules == nullptr) return std::nullopt;
  return rules->interest_rate_bp();
}

// The InterestAdjusted a posted `year` needs now, or nullopt when nothing changed.
std::optional<v1::InterestAdjusted> PlanAdjustment(const v1::Account& account, int year,
                                                   uint32_t rate_bp) {
  const YearInterest now = ComputeInterest(account, year, rate_bp);
  std::map<v1::FundingSource, int64_t> delta;
  for (const auto& p : now.parts) delta[p.source()] += p.amount_fen();
  if (const v1::AccountYear* y = FindYear(account, year)) {
    for (const auto& s : y->sources()) delta[s.source()] -= s.interest_fen();
  }
  v1::InterestAdjusted adjusted;
  adjusted.set_citizen_id(account.citizen_id());
  adjusted.set_year(year);
  adjusted.set_rate_bp(rate_bp);
  for (const auto& [source, amount] : delta) {
    if (amount == 0) continue;
    v1::SourceAmount* part = adjusted.add_parts();
    part->set_source(source);
    part->set_amount_fen(amount);
    adjusted.set_delta_fen(adjusted.delta_fen() + amount);
  }
  if (adjusted.parts().empty()) return std::nullopt;
  return adjusted;
}

// Applies the adjustments of years [from, posted] to `account` (a copy, to simulate).
void SimulateAdjustments(v1::Account& account, int from, int posted, const WorkingState& state) {
  for (int year = from; year <= posted; ++year) {
    const auto rate = InterestRate(state.policies(), account.region_code(), year);
    if (!rate) continue;
    if (auto adjusted = PlanAdjustment(account, year, *rate)) {
      for (const auto& p : adjusted->parts()) RecordInterest(account, p.source(), p.amount_fen(), year);
    }
  }
}

}  // namespace

namespace lifecycle {

int PostedThrough(const v1::Account& account, const WorkingState& state) {
  return std::max(state.JobMark(account.region_code(), v1::JOB_KIND_INTEREST).value_or(0),
                  LastInterestYear(account));
}

command::Check NotInPostedYear(const v1::Account& account, absl::CivilDay date,
                               const WorkingState& state) {
  const int posted = PostedThrough(account, state);
  if (date.year() <= posted) {
    return Reject(v1::REASON_INVALID_DATE,
                  StrCat("date ", FormatDate(date), " falls in ", date.year(),
                         ", whose interest is already posted"));
  }
  return std::nullopt;
}

}  // namespace lifecycle

absl::Status AppendInterestAdjustments(WorkingState& state, std::string_view citizen_id, int year,
                                       uint64_t caused_by, std::string_view external_ref,
                                       const Appender& append) {
  LEDGER_ASSIGN_OR_RETURN(v1::Account * account, state.FindAccount(citizen_id));
  if (account == nullptr) return absl::OkStatus();
  const int posted = lifecycle::PostedThrough(*account, state);
  for (int y = year; y <= posted; ++y) {
    const auto rate = InterestRate(state.policies(), account->region_code(), y);
    if (!rate) continue;
    auto adjusted = PlanAdjustment(*account, y, *rate);
    if (!adjusted) continue;
    adjusted->set_caused_by_sequence(caused_by);
    v1::EventEnvelope e =
        command::Envelope(account->region_code(), absl::CivilDay(y, 12, 31), external_ref, 0);
    if (const v1::Policy* p = state.policies().InForce(account->region_code(), absl::CivilDay(y, 12, 31))) {
      e.set_policy_version(p->version());
    }
    *e.mutable_interest_adjusted() = *std::move(adjusted);
    LEDGER_RETURN_IF_ERROR(append(std::move(e)).status());  // Apply updates `account`
  }
  return absl::OkStatus();
}

bool DebitKeepsBalance(const v1::Account& account, v1::FundingSource source, int64_t amount_fen,
                       absl::CivilDay date, const WorkingState& state) {
  return DebitsKeepBalance(account, {{source, amount_fen}}, date, state);
}

bool DebitsKeepBalance(const v1::Account& account,
                       const std::vector<std::pair<v1::FundingSource, int64_t>>& debits,
                       absl::CivilDay date, const WorkingState& state) {
  v1::Account sim = account;
  for (const auto& [source, amount_fen] : debits) {
    if (SourceBalanceFen(sim, source) < amount_fen) return false;
    RecordMovement(sim, source, -amount_fen, date);
  }
  SimulateAdjustments(sim, static_cast<int>(date.year()), lifecycle::PostedThrough(account, state),
                      state);
  return !AnyBalanceNegative(sim);
}

}  // namespace ledger
