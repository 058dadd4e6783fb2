// Interest to the date an account closes (issue 16, point 6): on a death or a transfer out, the
// interest of every year the region has not posted yet, up to the year of the event, is credited
// before the settlement moves the balance: the annual formula (opening balance × months, each
// movement from the month after it arrives), the months counted up to the month of the event,
// one half-up rounding of the total, split by source by largest remainder.
#include <algorithm>
#include <map>
#include <vector>

#include "ledger/account.h"
#include "ledger/dates.h"
#include "ledger/lifecycle_internal.h"
#include "ledger/policy.h"
#include "ledger/statement.h"
#include "ledger/status_macros.h"
#include "ledger/strings.h"
#include "ledger/working_state.h"

namespace ledger::lifecycle {
namespace {

constexpr int kMonths = 12;
constexpr int64_t kBasisPointsPerUnit = 10000;

// The position of `source` in kSources.
size_t IndexOf(v1::FundingSource source) {
  for (size_t i = 0; i < std::size(kSources); ++i) {
    if (kSources[i] == source) return i;
  }
  return 0;  // unreachable: every source an account holds is one of kSources
}

bool IsInterest(const v1::EventEnvelope& e) {
  return e.has_interest_posted() || e.has_interest_adjusted() || e.has_interest_accrued();
}

// An earlier accrual of the year earns from the month after its through_month, like money
// arriving then (RecordAccruedInterest).
void AddAccrued(const v1::InterestAccrued& a, int year, int through_month,
                std::vector<Int128>& numerators) {
  if (a.year() != year || a.through_month() >= through_month) return;
  for (const auto& p : a.parts()) {
    numerators[IndexOf(p.source())] += Int128{p.amount_fen()} * (through_month - a.through_month());
  }
}

// The interest already credited to `account` for `year` (an earlier accrual), by source index.
std::vector<int64_t> AlreadyCredited(const v1::Account& account, int year) {
  std::vector<int64_t> out(std::size(kSources), 0);
  if (const v1::AccountYear* y = FindYear(account, year)) {
    for (const auto& s : y->sources()) out[IndexOf(s.source())] += s.interest_fen();
  }
  return out;
}

// `parts` less what was already credited for the year by source (never below zero).
YearInterest Deduct(const std::vector<int64_t>& parts, const std::vector<int64_t>& already) {
  YearInterest out;
  for (size_t i = 0; i < parts.size(); ++i) {
    const int64_t part = std::max<int64_t>(parts[i] - already[i], 0);
    if (part == 0) continue;
    v1::SourceAmount& p = out.parts.emplace_back();
    p.set_source(kSources[i]);
    p.set_amount_fen(part);
    out.total_fen += part;
  }
  return out;
}

}  // namespace

YearInterest DeductAccrued(const v1::Account& account, int year, const YearInterest& interest) {
  std::vector<int64_t> parts(std::size(kSources), 0);
  for (const auto& p : interest.parts) parts[IndexOf(p.source())] += p.amount_fen();
  return Deduct(parts, AlreadyCredited(account, year));
}

YearInterest InterestThrough(const v1::Account& account,
                             const std::vector<v1::EventEnvelope>& events, int year,
                             int through_month, uint32_t rate_bp) {
  const std::vector<int64_t> opening = OpeningBySource(account, year);
  std::vector<Int128> numerators(std::size(kSources), 0);  // fen-months
  for (size_t i = 0; i < opening.size(); ++i) numerators[i] = Int128{opening[i]} * through_month;
  for (const v1::EventEnvelope& e : events) {
    if (e.has_interest_accrued()) AddAccrued(e.interest_accrued(), year, through_month, numerators);
    if (IsInterest(e)) continue;
    auto date = ParseDate(e.effective_date());
    if (!date.ok() || date->year() != year || date->month() >= through_month) continue;
    for (const auto& [source, amount] : PersonDeltas(e, account.citizen_id())) {
      numerators[IndexOf(source)] += Int128{amount} * (through_month - date->month());
    }
  }
  Int128 sum = 0;
  for (Int128& n : numerators) {
    n = std::max<Int128>(n, 0);
    sum += n;
  }
  const int64_t total = DivRoundHalfUp(sum * rate_bp, kMonths * kBasisPointsPerUnit);
  if (total == 0) return {};
  return Deduct(SplitLargestRemainder(total, numerators), AlreadyCredited(account, year));
}

absl::StatusOr<std::vector<v1::EventEnvelope>> AccrueInterestTo(v1::Account& account,
                                                                absl::CivilDay event_day,
                                                                const AccrualContext& c) {
  std::vector<v1::EventEnvelope> out;
  const int first = std::max<int>(PostedThrough(account, c.state) + 1,
                                  static_cast<int>(StoredDate(account.enrolment_date()).year()));
  const int last = static_cast<int>(event_day.year());
  if (first > last) return out;
  LEDGER_ASSIGN_OR_RETURN(auto events, c.state.ParticipantEvents(account.citizen_id()));
  for (int year = first; year <= last; ++year) {
    // Dated like the annual posting (31 December), or the event's own day in its year; the rate
    // of the rules in force then (or at the recording, if that is earlier).
    const absl::CivilDay dated = year == last ? event_day : absl::CivilDay(year, 12, 31);
    const v1::Policy* in_force =
        c.state.policies().InForce(account.region_code(), std::min(dated, c.date));
    const v1::Policy& policy = in_force != nullptr ? *in_force : c.policy;
    const v1::YearRules* rules = PolicyBook::Year(policy, year);
    if (rules == nullptr) continue;
    const int through = year == last ? event_day.month() : kMonths;
    const YearInterest interest =
        InterestThrough(account, events, year, through, rules->interest_rate_bp());
    if (interest.total_fen == 0) continue;
    v1::EventEnvelope e = Envelope(account.region_code(), dated, c.document_ref, c.policy.version());
    auto* a = e.mutable_interest_accrued();
    a->set_citizen_id(account.citizen_id());
    a->set_year(year);
    a->set_through_month(through);
    a->set_rate_bp(rules->interest_rate_bp());
    a->set_total_fen(interest.total_fen);
    for (const auto& p : interest.parts) {
      *a->add_parts() = p;
      RecordAccruedInterest(account, p.source(), p.amount_fen(), year, through);
    }
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace ledger::lifecycle
