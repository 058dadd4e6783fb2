#include "ledger/lifecycle.h"

#include <algorithm>
#include <map>
#include <set>
#include <variant>

#include "ledger/account.h"
#include "ledger/apply.h"
#include "ledger/citizen_id.h"
#include "ledger/command_checks.h"
#include "ledger/dates.h"
#include "ledger/funds.h"
#include "ledger/hash.h"
#include "ledger/limits.h"
#include "ledger/money.h"
#include "ledger/policy.h"
#include "ledger/rules.h"
#include "ledger/status_macros.h"
#include "ledger/store.h"
#include "ledger/strings.h"
#include "ledger/working_state.h"

namespace ledger {
namespace {

using command::Check;
using command::CheckAmount;
using command::CheckDate;
using command::Envelope;
using command::IsReference;
using command::IsRegionCode;
using command::PolicyFor;
using command::Reject;

// The date the DOMAIN rule on inheritance changed (国发〔2014〕8号): from then on the whole
// balance is inheritable; before, the government-subsidy part returned to the pool.
const absl::CivilDay kWholeBalanceInheritableFrom(2014, 2, 21);
constexpr int kPensionAge = 60;
constexpr uint32_t kFullContributionYears = 15;


std::string Masked(std::string_view id) { return MaskCitizenId(id); }

std::string StatusName(v1::ParticipantStatus s) {
  std::string name = v1::ParticipantStatus_Name(s).substr(sizeof("PARTICIPANT_STATUS_") - 1);
  std::transform(name.begin(), name.end(), name.begin(), [](char c) { return c == '_' ? ' ' : c | 0x20; });
  return name;
}

Rejection WrongState(const v1::Account& a, std::string_view needed) {
  return Reject(v1::REASON_WRONG_STATE, StrCat(Masked(a.citizen_id()), " is ",
                                               StatusName(a.status()), "; ", needed));
}

// The interest rate of `year` for a region: the policy in force on 31 December of that year.
std::optional<uint32_t> InterestRate(const PolicyBook& book, std::string_view region, int year) {
  const v1::Policy* policy = book.InForce(region, absl::CivilDay(year, 12, 31));
  if (policy == nullptr) return std::nullopt;
  const v1::YearRules* rules = PolicyBook::Year(*policy, year);
  if (rules == nullptr) return std::nullopt;
  return rules->interest_rate_bp();
}

// The last year whose interest is posted for this account: the region's completed interest
// jobs, or a year this account was already credited in a job still running.
int PostedThrough(const v1::Account& account, const WorkingState& state) {
  return std::max(state.JobMark(account.region_code(), v1::JOB_KIND_INTEREST).value_or(0),
                  LastInterestYear(account));
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

// Money events of a command dated in a posted year are allowed for credits and reversals only.
Check NotInPostedYear(const v1::Account& account, absl::CivilDay date, const WorkingState& state) {
  const int posted = PostedThrough(account, state);
  if (date.year() <= posted) {
    return Reject(v1::REASON_INVALID_DATE,
                  StrCat("date ", FormatDate(date), " falls in ", date.year(),
                         ", whose interest is already posted"));
  }
  return std::nullopt;
}

// Basic pension per month for a pensioner with `years` contribution years, from the rule in
// force on the first day of `month`.
int64_t BasicPension(const v1::Policy& policy, int month, uint32_t years) {
  const absl::CivilDay first = FirstDayOf(month);
  const v1::BasicPensionRule* rule = nullptr;
  for (const auto& r : policy.basic_pension()) {
    if (*ParseDate(r.effective_from()) <= first) rule = &r;
  }
  if (rule == nullptr) return 0;
  const int64_t extra = years > kFullContributionYears ? years - kFullContributionYears : 0;
  return rule->central_monthly_fen() + rule->local_monthly_fen() +
         extra * rule->per_extra_year_monthly_fen();
}

// Draws `amount` from the account's sources in proportion to their balances.
std::vector<v1::SourceAmount> DrawProportionally(const v1::Account& account, int64_t amount) {
  std::vector<v1::SourceAmount> balances = BalancesBySource(account);
  std::vector<Int128> weights;
  for (const auto& b : balances) weights.push_back(b.amount_fen());
  const std::vector<int64_t> parts = SplitLargestRemainder(amount, weights);
  std::vector<v1::SourceAmount> out;
  for (size_t i = 0; i < balances.size(); ++i) {
    if (parts[i] == 0) continue;
    v1::SourceAmount& p = out.emplace_back();
    p.set_source(balances[i].source());
    p.set_amount_fen(parts[i]);
  }
  return out;
}

// Appends the events and, after each money movement, the adjustments it causes.
struct Recorder {
  WorkingState& state;
  const Appender& append;
  CommandResult result;

  absl::Status Add(v1::EventEnvelope e, bool adjust_interest) {
    const std::string id(ParticipantOf(e));
    const std::string ref = e.external_ref();
    const int year = static_cast<int>(ParseDate(e.effective_date())->year());
    LEDGER_ASSIGN_OR_RETURN(uint64_t seq, append(std::move(e)));
    if (result.sequence == 0) result.sequence = seq;
    result.last_sequence = seq;
    if (adjust_interest) {
      LEDGER_RETURN_IF_ERROR(AppendInterestAdjustments(state, id, year, seq, ref, append));
      result.last_sequence = state.head_sequence();
    }
    return absl::OkStatus();
  }
};

// ---------------------------------------------------------------------------------------------
// Commands

struct Context {
  WorkingState& state;
  absl::CivilDay today;
  const Appender& append;
  std::string_view document_ref;
};

using Outcome = absl::StatusOr<std::variant<Rejection, CommandResult>>;

absl::StatusOr<const v1::Account*> Participant(WorkingState& state, std::string_view id) {
  LEDGER_ASSIGN_OR_RETURN(const v1::Account* a, state.FindAccount(id));
  return a;
}

Rejection Unknown(std::string_view id) {
  return Reject(v1::REASON_UNKNOWN_PARTICIPANT, StrCat(Masked(id), " is not enrolled"));
}

Outcome CreditCollective(const v1::CreditCollectiveSubsidyRequest& r, Context& c,
                         absl::CivilDay date) {
  LEDGER_ASSIGN_OR_RETURN(const v1::Account* a, Participant(c.state, r.citizen_id()));
  if (a == nullptr) return Unknown(r.citizen_id());
  if (a->status() != v1::PARTICIPANT_STATUS_CONTRIBUTING) {
    return WrongState(*a, "subsidies are credited only before the pension starts");
  }
  auto policy_or = PolicyFor(c.state, a->region_code(), date);
  if (auto* rej = std::get_if<Rejection>(&policy_or)) return *rej;
  const v1::Policy& policy = *std::get<const v1::Policy*>(policy_or);
  const v1::YearRules* rules = PolicyBook::Year(policy, r.contribution_year());
  if (rules == nullptr) {
    return Reject(v1::REASON_IMPLAUSIBLE_YEAR,
                  StrCat("policy ", policy.region_code(), " v", policy.version(), " has no rules for ",
                         r.contribution_year()));
  }
  if (policy.collective_requires_contribution()) {
    const bool contributed =
        std::any_of(a->contributions().begin(), a->contributions().end(),
                    [&](const auto& y) { return y.year() == r.contribution_year(); });
    const v1::AccountYear* y = FindYear(*a, r.contribution_year());
    if (!contributed && (y == nullptr || y->paid_on_behalf_fen() == 0)) {
      return Reject(v1::REASON_NO_CONTRIBUTION_FOR_YEAR,
                    StrCat(Masked(a->citizen_id()), " has no contribution for ",
                           r.contribution_year(), "; the policy credits collective subsidy and "
                           "sponsorship only for a year the participant contributed"));
    }
  }
  const v1::AccountYear* y = FindYear(*a, r.contribution_year());
  const int64_t already = y ? y->collective_sponsorship_fen() : 0;
  if (already + r.amount_fen() > rules->highest_tier_fen()) {
    return Reject(v1::REASON_OVER_CAP,
                  StrCat("collective subsidy + sponsorship for ", r.contribution_year(),
                         " is capped at the highest tier ", FormatFen(rules->highest_tier_fen()),
                         "; already credited ", FormatFen(already), ", this would add ",
                         FormatFen(r.amount_fen())));
  }
  v1::EventEnvelope e = Envelope(a->region_code(), date, c.document_ref, policy.version());
  auto* s = e.mutable_collective_subsidy_credited();
  s->set_citizen_id(r.citizen_id());
  s->set_contribution_year(r.contribution_year());
  s->set_amount_fen(r.amount_fen());
  s->set_source(r.source());
  s->set_payer(r.payer());
  Recorder rec{c.state, c.append};
  LEDGER_RETURN_IF_ERROR(rec.Add(std::move(e), true));
  return rec.result;
}

Outcome Refund(const v1::RefundContributionRequest& r, Context& c, absl::CivilDay date) {
  LEDGER_ASSIGN_OR_RETURN(auto receipt, c.state.FindReceipt(r.receipt_number()));
  if (!receipt) {
    return Reject(v1::REASON_ORIGINAL_NOT_FOUND, StrCat("no collection with receipt ", r.receipt_number()));
  }
  if (receipt->cancelled_sequence != 0) {
    return Reject(v1::REASON_ALREADY_CANCELLED,
                  StrCat("receipt ", r.receipt_number(), " was already cancelled or refunded at sequence ",
                         receipt->cancelled_sequence));
  }
  LEDGER_ASSIGN_OR_RETURN(auto original_event, c.state.Event(receipt->collected_sequence));
  const auto& original = original_event.contribution_collected();
  if (date < *ParseDate(original.collection_date())) {
    return Reject(v1::REASON_INVALID_DATE, StrCat("refund date ", FormatDate(date),
                                                  " is before the collection date ",
                                                  original.collection_date()));
  }
  if (original.suspense_reason() == v1::SUSPENSE_REASON_UNSPECIFIED) {
    LEDGER_ASSIGN_OR_RETURN(const v1::Account* a, Participant(c.state, original.citizen_id()));
    if (a->status() != v1::PARTICIPANT_STATUS_CONTRIBUTING) {
      return WrongState(*a, "a contribution in the account is refunded only before the pension starts");
    }
    if (a->region_code() != original_event.region_code()) {
      // The money moved with the account: the receipt's region no longer holds it.
      return WrongState(*a, StrCat("it was transferred to region ", a->region_code(),
                                   "; a receipt of ", original_event.region_code(),
                                   " is not refunded from it"));
    }
    if (!DebitKeepsBalance(*a, v1::FUNDING_SOURCE_PERSONAL, original.amount_fen(), date, c.state)) {
      return Reject(v1::REASON_INSUFFICIENT_BALANCE,
                    StrCat("personal contributions hold ",
                           FormatFen(SourceBalanceFen(*a, v1::FUNDING_SOURCE_PERSONAL)),
                           ", cannot refund ", FormatFen(original.amount_fen())));
    }
  }
  v1::EventEnvelope e = Envelope(original_event.region_code(), date, c.document_ref,
                                 original_event.policy_version());
  auto* f = e.mutable_contribution_refunded();
  f->set_citizen_id(original.citizen_id());
  f->set_receipt_number(r.receipt_number());
  f->set_original_sequence(receipt->collected_sequence);
  f->set_contribution_year(original.contribution_year());
  f->set_amount_fen(original.amount_fen());
  f->set_reason(r.reason());
  f->set_original_suspense_reason(original.suspense_reason());
  Recorder rec{c.state, c.append};
  LEDGER_RETURN_IF_ERROR(
      rec.Add(std::move(e), original.suspense_reason() == v1::SUSPENSE_REASON_UNSPECIFIED));
  return rec.result;
}

Outcome Determine(const v1::DetermineBenefitRequest& r, Context& c, absl::CivilDay date) {
  LEDGER_ASSIGN_OR_RETURN(const v1::Account* a, Participant(c.state, r.citizen_id()));
  if (a == nullptr) return Unknown(r.citizen_id());
  if (a->status() != v1::PARTICIPANT_STATUS_CONTRIBUTING) {
    return WrongState(*a, "only a contributing participant's benefit can be determined");
  }
  if (auto rej = NotInPostedYear(*a, date, c.state)) return *rej;
  auto policy_or = PolicyFor(c.state, a->region_code(), date);
  if (auto* rej = std::get_if<Rejection>(&policy_or)) return *rej;
  const v1::Policy& policy = *std::get<const v1::Policy*>(policy_or);
  const absl::CivilDay birth = CitizenIdBirthDate(a->citizen_id());
  const int age = AgeOn(birth, date);
  if (age < kPensionAge) {
    return Reject(v1::REASON_NOT_ELIGIBLE, StrCat(Masked(a->citizen_id()), " is ", age, " on ",
                                                  FormatDate(date), "; the pension age is 60"));
  }
  // Transition rule: those with fewer than 15 years between the scheme's start and 60 need
  // every year from the start; those already 60 then need none.
  const int64_t year_turning_60 = birth.year() + kPensionAge;
  const uint32_t required = static_cast<uint32_t>(std::clamp<int64_t>(
      year_turning_60 - policy.scheme_start_year(), 0, kFullContributionYears));
  const uint32_t years = CountContributionYears(*a);
  if (years < required) {
    return Reject(v1::REASON_NOT_ELIGIBLE,
                  StrCat(Masked(a->citizen_id()), " has ", years, " contribution years; ", required,
                         " are required (scheme start ", policy.scheme_start_year(), ")"));
  }
  // The month after the 60th birthday (a Feb 29 birthday turns 60 on Mar 1 in common years).
  absl::CivilDay sixtieth(birth.year() + kPensionAge, birth.month(), birth.day());
  const int start = std::max(NextMonth(MonthOf(sixtieth)), MonthOf(date));
  v1::EventEnvelope e = Envelope(a->region_code(), date, c.document_ref, policy.version());
  auto* b = e.mutable_benefit_started();
  b->set_citizen_id(a->citizen_id());
  b->set_start_month(start);
  b->set_balance_fen(a->total_fen());
  b->set_divisor(policy.account_pension_divisor());
  b->set_account_pension_monthly_fen(DivRoundHalfUp(a->total_fen(), policy.account_pension_divisor()));
  b->set_contribution_years(years);
  b->set_required_years(required);
  Recorder rec{c.state, c.append};
  LEDGER_RETURN_IF_ERROR(rec.Add(std::move(e), false));
  return rec.result;
}

Outcome Suspend(const v1::SuspendBenefitRequest& r, Context& c, absl::CivilDay date) {
  LEDGER_ASSIGN_OR_RETURN(const v1::Account* a, Participant(c.state, r.citizen_id()));
  if (a == nullptr) return Unknown(r.citizen_id());
  if (a->status() != v1::PARTICIPANT_STATUS_DRAWING_PENSION) {
    return WrongState(*a, "only a pension being paid can be suspended");
  }
  if (r.from_month() < a->benefit().next_month()) {
    return Reject(v1::REASON_INVALID_PERIOD,
                  StrCat("months before ", a->benefit().next_month(), " are already paid; "
                         "suspension starts at the first unpaid month or later"));
  }
  auto policy_or = PolicyFor(c.state, a->region_code(), date);
  if (auto* rej = std::get_if<Rejection>(&policy_or)) return *rej;
  v1::EventEnvelope e = Envelope(a->region_code(), date, c.document_ref,
                                 std::get<const v1::Policy*>(policy_or)->version());
  auto* s = e.mutable_participant_suspended();
  s->set_citizen_id(a->citizen_id());
  s->set_from_month(r.from_month());
  s->set_reason(r.reason());
  Recorder rec{c.state, c.append};
  LEDGER_RETURN_IF_ERROR(rec.Add(std::move(e), false));
  return rec.result;
}

Outcome Resume(const v1::ResumeBenefitRequest& r, Context& c, absl::CivilDay date) {
  LEDGER_ASSIGN_OR_RETURN(const v1::Account* a, Participant(c.state, r.citizen_id()));
  if (a == nullptr) return Unknown(r.citizen_id());
  if (a->status() != v1::PARTICIPANT_STATUS_SUSPENDED) {
    return WrongState(*a, "only a suspended pension can be resumed");
  }
  if (r.month() < a->benefit().suspended_from()) {
    return Reject(v1::REASON_INVALID_PERIOD, StrCat("resumption month ", r.month(),
                                                    " is before the suspension from ",
                                                    a->benefit().suspended_from()));
  }
  auto policy_or = PolicyFor(c.state, a->region_code(), date);
  if (auto* rej = std::get_if<Rejection>(&policy_or)) return *rej;
  const v1::Policy& policy = *std::get<const v1::Policy*>(policy_or);
  v1::EventEnvelope e = Envelope(a->region_code(), date, c.document_ref, policy.version());
  auto* s = e.mutable_participant_resumed();
  s->set_citizen_id(a->citizen_id());
  s->set_month(r.month());
  s->set_back_pay(policy.back_pay_on_resumption());
  Recorder rec{c.state, c.append};
  LEDGER_RETURN_IF_ERROR(rec.Add(std::move(e), false));
  return rec.result;
}

// What a job does for one account: its events, and what they take from each fiscal fund.
struct AccountPlan {
  std::vector<v1::EventEnvelope> events;
  std::map<std::string, int64_t> fiscal;  // fiscal fund account → amount used
  int64_t total_fen = 0;
};

struct JobContext {
  const v1::JobRequest& request;
  absl::CivilDay date;           // the date the money moves
  const v1::Policy* policy;      // in force on `date`
};

AccountPlan PlanBenefits(const v1::Account& a, const JobContext& j);
std::string Shortfalls(const std::map<std::string, int64_t>& need, const WorkingState& state,
                       std::string_view region, bool& short_any);

Outcome Death(const v1::RecordDeathRequest& r, Context& c, absl::CivilDay date) {
  const absl::CivilDay death = *ParseDate(r.date_of_death());
  if (death > date) {
    return Reject(v1::REASON_INVALID_DATE, StrCat("date_of_death ", r.date_of_death(),
                                                  " is after the recording date ", r.date()));
  }
  LEDGER_ASSIGN_OR_RETURN(v1::Account * live, c.state.FindAccount(r.citizen_id()));
  if (live == nullptr) return Unknown(r.citizen_id());
  const v1::Account a = *live;  // the events below change the live account
  if (a.status() == v1::PARTICIPANT_STATUS_DECEASED ||
      a.status() == v1::PARTICIPANT_STATUS_TRANSFERRED_OUT ||
      a.status() == v1::PARTICIPANT_STATUS_TERMINATED) {
    return WrongState(a, "the account is already closed");
  }
  if (death < *ParseDate(a.enrolment_date())) {
    return Reject(v1::REASON_INVALID_DATE, StrCat("date_of_death ", r.date_of_death(),
                                                  " is before the enrolment on ", a.enrolment_date()));
  }
  if (auto rej = NotInPostedYear(a, date, c.state)) return *rej;
  auto policy_or = PolicyFor(c.state, a.region_code(), date);
  if (auto* rej = std::get_if<Rejection>(&policy_or)) return *rej;
  const v1::Policy& policy = *std::get<const v1::Policy*>(policy_or);
  // The funeral subsidy and the basic pension of the month of death follow the rules in force
  // at the death (or, for a death before the region's first policy, at the recording).
  const v1::Policy* at_death = c.state.policies().InForce(a.region_code(), death);
  const v1::Policy& death_policy = at_death != nullptr ? *at_death : policy;
  const bool pensioner = a.has_benefit();
  const int death_month = MonthOf(death);

  // Months up to and including the month of death not yet paid are still due: paid now, before
  // the estate is settled (against basic-pension funds like any month).
  v1::JobRequest arrears_request;
  arrears_request.set_kind(v1::JOB_KIND_BENEFITS);
  arrears_request.set_region_code(a.region_code());
  arrears_request.set_period(death_month);
  AccountPlan arrears;
  if (pensioner) {
    arrears = PlanBenefits(a, JobContext{arrears_request, date, &policy});
    bool short_any = false;
    const std::string shortfalls = Shortfalls(arrears.fiscal, c.state, a.region_code(), short_any);
    if (short_any) {
      return Reject(v1::REASON_INSUFFICIENT_FISCAL_FUNDS,
                    StrCat("the months due up to the death cannot be paid: ", shortfalls));
    }
  }

  // Months paid after the month of death.
  v1::BenefitOverpaymentRecognized over;
  over.set_citizen_id(a.citizen_id());
  std::map<v1::FundingSource, int64_t> over_parts;
  if (pensioner) {
    LEDGER_ASSIGN_OR_RETURN(auto events, c.state.ParticipantEvents(a.citizen_id()));
    for (const auto& e : events) {
      if (!e.has_benefit_paid() || e.benefit_paid().month() <= death_month) continue;
      const auto& paid = e.benefit_paid();
      over.add_months(paid.month());
      over.set_basic_fen(over.basic_fen() + paid.basic_fen());
      over.set_pooled_fen(over.pooled_fen() + paid.pooled_fen());
      for (const auto& p : paid.account_parts()) over_parts[p.source()] += p.amount_fen();
    }
  }
  int64_t over_total = over.basic_fen() + over.pooled_fen();
  v1::Account settled = a;  // the account as the settlement will see it
  for (const v1::EventEnvelope& e : arrears.events) {
    for (const auto& p : e.benefit_paid().account_parts()) {
      RecordMovement(settled, p.source(), -p.amount_fen(), date);
    }
  }
  for (const auto& [source, amount] : over_parts) {
    v1::SourceAmount* p = over.add_account_parts();
    p->set_source(source);
    p->set_amount_fen(amount);
    over_total += amount;
    RecordMovement(settled, source, amount, date);
  }
  over.set_total_fen(over_total);

  int64_t funeral = 0;
  v1::FuneralSubsidyPaid fs;
  if (pensioner) {
    const int64_t basic = BasicPension(death_policy, death_month, a.benefit().contribution_years());
    const v1::FuneralSubsidyRule& rule = death_policy.funeral_subsidy();
    funeral = rule.fixed_fen() + rule.basic_pension_months() * basic;
    fs.set_citizen_id(a.citizen_id());
    fs.set_amount_fen(funeral);
    fs.set_fixed_fen(rule.fixed_fen());
    fs.set_basic_pension_months(rule.basic_pension_months());
    fs.set_basic_pension_monthly_fen(basic);
  }

  v1::InheritancePaid inh;
  inh.set_citizen_id(a.citizen_id());
  int64_t estate = 0;
  for (const v1::SourceAmount& b : BalancesBySource(settled)) {
    *inh.add_parts() = b;
    estate += b.amount_fen();
    if (b.source() == v1::FUNDING_SOURCE_GOVERNMENT && death < kWholeBalanceInheritableFrom) {
      inh.set_to_pool_fen(b.amount_fen());
    }
  }
  const int64_t owed_to_heirs = estate - inh.to_pool_fen() + funeral;
  inh.set_overpayment_offset_fen(std::min(over_total, owed_to_heirs));
  inh.set_to_heirs_fen(owed_to_heirs - inh.overpayment_offset_fen());

  const uint32_t version = policy.version();
  Recorder rec{c.state, c.append};
  for (v1::EventEnvelope& e : arrears.events) {
    e.set_external_ref(std::string(c.document_ref));
    LEDGER_RETURN_IF_ERROR(rec.Add(std::move(e), false));
  }
  v1::EventEnvelope died = Envelope(a.region_code(), date, c.document_ref, version);
  died.mutable_participant_died()->set_citizen_id(a.citizen_id());
  died.mutable_participant_died()->set_date_of_death(r.date_of_death());
  LEDGER_RETURN_IF_ERROR(rec.Add(std::move(died), false));
  if (over_total > 0) {
    v1::EventEnvelope e = Envelope(a.region_code(), date, c.document_ref, version);
    *e.mutable_benefit_overpayment_recognized() = over;
    LEDGER_RETURN_IF_ERROR(rec.Add(std::move(e), false));
  }
  if (funeral > 0) {
    v1::EventEnvelope e = Envelope(a.region_code(), date, c.document_ref, version);
    *e.mutable_funeral_subsidy_paid() = fs;
    LEDGER_RETURN_IF_ERROR(rec.Add(std::move(e), false));
  }
  if (estate > 0 || inh.overpayment_offset_fen() > 0) {
    v1::EventEnvelope e = Envelope(a.region_code(), date, c.document_ref, version);
    *e.mutable_inheritance_paid() = inh;
    LEDGER_RETURN_IF_ERROR(rec.Add(std::move(e), false));
  }
  return rec.result;
}

std::vector<int32_t> ContributionYearList(const v1::Account& a) {
  std::set<int32_t> years;
  for (const auto& c : a.contributions()) years.insert(c.year());
  for (const auto& y : a.years()) {
    if (y.paid_on_behalf_fen() > 0) years.insert(y.year());
  }
  return {years.begin(), years.end()};
}

Outcome TransferOutOf(const v1::TransferOutRequest& r, Context& c, absl::CivilDay date) {
  if (!IsRegionCode(r.to_region())) {
    return Reject(v1::REASON_INVALID_FIELD, "to_region must be a 6-digit region code");
  }
  LEDGER_ASSIGN_OR_RETURN(const v1::Account* a, Participant(c.state, r.citizen_id()));
  if (a == nullptr) return Unknown(r.citizen_id());
  if (a->status() != v1::PARTICIPANT_STATUS_CONTRIBUTING) {
    return WrongState(*a, "only a contributing participant can transfer (none after the pension starts)");
  }
  if (r.to_region() == a->region_code()) {
    return Reject(v1::REASON_INVALID_FIELD, StrCat("the participant is already in region ", r.to_region()));
  }
  if (auto rej = NotInPostedYear(*a, date, c.state)) return *rej;
  auto policy_or = PolicyFor(c.state, a->region_code(), date);
  if (auto* rej = std::get_if<Rejection>(&policy_or)) return *rej;
  v1::EventEnvelope e = Envelope(a->region_code(), date, c.document_ref,
                                 std::get<const v1::Policy*>(policy_or)->version());
  auto* t = e.mutable_participant_transferred_out();
  t->set_citizen_id(a->citizen_id());
  t->set_to_region(r.to_region());
  for (const auto& b : BalancesBySource(*a)) *t->add_parts() = b;
  for (int32_t y : ContributionYearList(*a)) t->add_contribution_years(y);
  Recorder rec{c.state, c.append};
  LEDGER_RETURN_IF_ERROR(rec.Add(std::move(e), false));
  return rec.result;
}

bool SameParts(const google::protobuf::RepeatedPtrField<v1::SourceAmount>& a,
               const google::protobuf::RepeatedPtrField<v1::SourceAmount>& b) {
  if (a.size() != b.size()) return false;
  for (int i = 0; i < a.size(); ++i) {
    if (a[i].source() != b[i].source() || a[i].amount_fen() != b[i].amount_fen()) return false;
  }
  return true;
}

Outcome TransferInto(const v1::TransferInRequest& r, Context& c, absl::CivilDay date) {
  if (!IsRegionCode(r.from_region()) || !IsRegionCode(r.to_region()) ||
      r.from_region() == r.to_region()) {
    return Reject(v1::REASON_INVALID_FIELD, "from_region and to_region must be two different 6-digit codes");
  }
  std::set<v1::FundingSource> seen;
  for (const auto& p : r.parts()) {
    if (!v1::FundingSource_IsValid(p.source()) || p.source() == v1::FUNDING_SOURCE_UNSPECIFIED ||
        !seen.insert(p.source()).second) {
      return Reject(v1::REASON_INVALID_FIELD, "parts: each funding source at most once, and known");
    }
    if (auto rej = CheckAmount(p.amount_fen(), kAmountFenMax)) return *rej;
  }
  for (int32_t y : r.contribution_years()) {
    if (y < kFirstContributionYear || y > date.year()) {
      return Reject(v1::REASON_INVALID_PERIOD, StrCat("contribution year ", y, " is implausible"));
    }
  }
  LEDGER_ASSIGN_OR_RETURN(const v1::Account* a, Participant(c.state, r.citizen_id()));
  if (a == nullptr) return Unknown(r.citizen_id());
  auto policy_or = PolicyFor(c.state, r.to_region(), date);
  if (auto* rej = std::get_if<Rejection>(&policy_or)) return *rej;
  v1::EventEnvelope e = Envelope(r.to_region(), date, c.document_ref,
                                 std::get<const v1::Policy*>(policy_or)->version());
  auto* t = e.mutable_participant_transferred_in();
  t->set_citizen_id(a->citizen_id());
  t->set_from_region(r.from_region());
  if (a->status() == v1::PARTICIPANT_STATUS_TRANSFERRED_OUT) {
    // Within this ledger: the balance and years are exactly what left the other region.
    if (a->transferred_to() != r.to_region() || a->region_code() != r.from_region()) {
      return WrongState(*a, StrCat("it was transferred from ", a->region_code(), " to ",
                                   a->transferred_to()));
    }
    LEDGER_ASSIGN_OR_RETURN(auto events, c.state.ParticipantEvents(a->citizen_id()));
    const v1::ParticipantTransferredOut* out = nullptr;
    for (const auto& ev : events) {
      if (ev.has_participant_transferred_out()) out = &ev.participant_transferred_out();
    }
    LEDGER_CHECK(out != nullptr, "transferred-out account without its event");
    if ((!r.parts().empty() && !SameParts(r.parts(), out->parts())) ||
        (!r.contribution_years().empty() &&
         !std::equal(r.contribution_years().begin(), r.contribution_years().end(),
                     out->contribution_years().begin(), out->contribution_years().end()))) {
      return Reject(v1::REASON_INVALID_FIELD,
                    "parts or contribution_years differ from what was transferred out");
    }
    *t->mutable_parts() = out->parts();
    *t->mutable_contribution_years() = out->contribution_years();
  } else if (a->status() == v1::PARTICIPANT_STATUS_CONTRIBUTING && a->region_code() == r.to_region()) {
    // From another ledger: enrolled here first; the transfer document gives balance and years.
    if (r.parts().empty() && r.contribution_years().empty()) {
      return Reject(v1::REASON_INVALID_FIELD, "a transfer from another ledger needs parts or years");
    }
    *t->mutable_parts() = r.parts();
    *t->mutable_contribution_years() = r.contribution_years();
  } else {
    return WrongState(*a, StrCat("a transfer into ", r.to_region(),
                                 " needs an account transferred out to it, or enrolled there"));
  }
  Recorder rec{c.state, c.append};
  LEDGER_RETURN_IF_ERROR(rec.Add(std::move(e), true));
  return rec.result;
}

// Field checks shared by all commands: the citizen ID (where there is one), the dates, amounts
// and texts. Fills `date` (the command's business date).
Check CheckFields(const v1::AccountCommand& command, absl::CivilDay today, absl::CivilDay& date) {
  auto id_check = [](std::string_view id) -> Check {
    if (auto st = ValidateCitizenId(id); !st.ok()) {
      return Reject(v1::REASON_INVALID_CITIZEN_ID, std::string(st.message()));
    }
    return std::nullopt;
  };
  auto month_check = [](int month, std::string_view field) -> Check {
    if (!IsValidMonth(month)) {
      return Reject(v1::REASON_INVALID_PERIOD, StrCat(field, " ", month, " is not a YYYYMM month"));
    }
    return std::nullopt;
  };
  if (IsFundCommand(command)) return CheckFundFields(command, today, date);
  switch (command.command_case()) {
    case v1::AccountCommand::kCreditCollectiveSubsidy: {
      const auto& r = command.credit_collective_subsidy();
      if (auto rej = id_check(r.citizen_id())) return rej;
      if (r.source() != v1::FUNDING_SOURCE_COLLECTIVE && r.source() != v1::FUNDING_SOURCE_SPONSORSHIP) {
        return Reject(v1::REASON_INVALID_FIELD, "source must be COLLECTIVE or SPONSORSHIP");
      }
      if (r.payer().empty() || !IsCleanText(r.payer(), kNameBytesMax * 2)) {
        return Reject(v1::REASON_INVALID_FIELD, StrCat("payer must be 1-", kNameBytesMax * 2,
                                                       " bytes of UTF-8 text"));
      }
      if (auto rej = CheckAmount(r.amount_fen(), kAmountFenMax)) return rej;
      if (auto rej = CheckDate(r.date(), "date", today, date)) return rej;
      if (r.contribution_year() < kFirstContributionYear || r.contribution_year() > date.year() + 1) {
        return Reject(v1::REASON_IMPLAUSIBLE_YEAR, StrCat("contribution_year ", r.contribution_year(),
                                                          " is implausible on ", r.date()));
      }
      return std::nullopt;
    }
    case v1::AccountCommand::kRefundContribution: {
      const auto& r = command.refund_contribution();
      if (!IsReference(r.receipt_number()) || r.receipt_number().size() > kReceiptNumberBytesMax) {
        return Reject(v1::REASON_MISSING_RECEIPT_NUMBER, "receipt_number is missing or malformed");
      }
      if (r.reason() == v1::REFUND_REASON_UNSPECIFIED || !v1::RefundReason_IsValid(r.reason())) {
        return Reject(v1::REASON_INVALID_FIELD, "reason must be a known refund reason");
      }
      return CheckDate(r.date(), "date", today, date);
    }
    case v1::AccountCommand::kDetermineBenefit: {
      const auto& r = command.determine_benefit();
      if (auto rej = id_check(r.citizen_id())) return rej;
      return CheckDate(r.date(), "date", today, date);
    }
    case v1::AccountCommand::kSuspendBenefit: {
      const auto& r = command.suspend_benefit();
      if (auto rej = id_check(r.citizen_id())) return rej;
      if (auto rej = month_check(r.from_month(), "from_month")) return rej;
      if (!IsCleanText(r.reason(), kAddressBytesMax)) {
        return Reject(v1::REASON_INVALID_FIELD, "reason must be UTF-8 text");
      }
      return CheckDate(r.date(), "date", today, date);
    }
    case v1::AccountCommand::kResumeBenefit: {
      const auto& r = command.resume_benefit();
      if (auto rej = id_check(r.citizen_id())) return rej;
      if (auto rej = month_check(r.month(), "month")) return rej;
      return CheckDate(r.date(), "date", today, date);
    }
    case v1::AccountCommand::kRecordDeath: {
      const auto& r = command.record_death();
      if (auto rej = id_check(r.citizen_id())) return rej;
      absl::CivilDay death;
      if (auto rej = CheckDate(r.date_of_death(), "date_of_death", today, death)) return rej;
      return CheckDate(r.date(), "date", today, date);
    }
    case v1::AccountCommand::kTransferOut: {
      const auto& r = command.transfer_out();
      if (auto rej = id_check(r.citizen_id())) return rej;
      return CheckDate(r.date(), "date", today, date);
    }
    case v1::AccountCommand::kTransferIn: {
      const auto& r = command.transfer_in();
      if (auto rej = id_check(r.citizen_id())) return rej;
      return CheckDate(r.date(), "date", today, date);
    }
    default:
      break;
  }
  return Reject(v1::REASON_INVALID_FIELD, "no command given");
}

std::string_view DocumentRef(const v1::AccountCommand& command) {
  switch (command.command_case()) {
    case v1::AccountCommand::kReceiveFiscalFunds: return command.receive_fiscal_funds().document_ref();
    case v1::AccountCommand::kCreditCollectiveSubsidy: return command.credit_collective_subsidy().document_ref();
    case v1::AccountCommand::kRefundContribution: return command.refund_contribution().document_ref();
    case v1::AccountCommand::kDetermineBenefit: return command.determine_benefit().document_ref();
    case v1::AccountCommand::kSuspendBenefit: return command.suspend_benefit().document_ref();
    case v1::AccountCommand::kResumeBenefit: return command.resume_benefit().document_ref();
    case v1::AccountCommand::kRecordDeath: return command.record_death().document_ref();
    case v1::AccountCommand::kTransferOut: return command.transfer_out().document_ref();
    case v1::AccountCommand::kTransferIn: return command.transfer_in().document_ref();
    case v1::AccountCommand::kReceiveTaxRemittance: return command.receive_tax_remittance().document_ref();
    case v1::AccountCommand::kTransferBetweenFundAccounts: return command.transfer_between_fund_accounts().document_ref();
    case v1::AccountCommand::kReceiveBankInterest: return command.receive_bank_interest().document_ref();
    case v1::AccountCommand::kReportBankBalance: return command.report_bank_balance().document_ref();
    case v1::AccountCommand::kReportDailyTotals: return command.report_daily_totals().document_ref();
    case v1::AccountCommand::COMMAND_NOT_SET: break;
  }
  return {};
}

// ---------------------------------------------------------------------------------------------
// Jobs


bool Closed(const v1::Account& a) {
  return a.status() == v1::PARTICIPANT_STATUS_DECEASED ||
         a.status() == v1::PARTICIPANT_STATUS_TRANSFERRED_OUT ||
         a.status() == v1::PARTICIPANT_STATUS_TERMINATED;
}


AccountPlan PlanSubsidy(const v1::Account& a, const JobContext& j) {
  AccountPlan plan;
  const int year = j.request.period();
  const v1::YearRules* rules = PolicyBook::Year(*j.policy, year);
  if (rules == nullptr || Closed(a)) return plan;
  const v1::AccountYear* y = FindYear(a, year);
  auto add = [&](v1::FiscalPurpose purpose, int64_t amount, int64_t tier) {
    v1::EventEnvelope e = Envelope(a.region_code(), j.date,
                                   StrCat("job/government_subsidy/", year), j.policy->version());
    auto* g = e.mutable_government_subsidy_credited();
    g->set_citizen_id(a.citizen_id());
    g->set_contribution_year(year);
    g->set_amount_fen(amount);
    g->set_purpose(purpose);
    g->set_tier_fen(tier);
    plan.fiscal[accounts::FiscalFund(purpose, year)] += amount;
    plan.total_fen += amount;
    plan.events.push_back(std::move(e));
  };
  if (y == nullptr || y->government_subsidy_fen() == 0) {
    for (const auto& c : a.contributions()) {
      // Back-payments (补缴) and years transferred in earn no subsidy here.
      if (c.year() != year || c.back_payment() || !c.transferred_from().empty()) continue;
      if (const v1::Tier* tier = FindTier(*rules, c.amount_fen());
          tier != nullptr && tier->government_subsidy_fen() > 0) {
        add(v1::FISCAL_PURPOSE_CONTRIBUTION_SUBSIDY, tier->government_subsidy_fen(), c.amount_fen());
      }
      break;
    }
  }
  if (a.special_group() != v1::SPECIAL_GROUP_UNSPECIFIED && (y == nullptr || y->paid_on_behalf_fen() == 0) &&
      ParseDate(a.enrolment_date())->year() <= year) {
    for (const auto& p : rules->paid_on_behalf()) {
      if (p.group() == a.special_group() && p.amount_fen() > 0) {
        add(v1::FISCAL_PURPOSE_PAID_ON_BEHALF, p.amount_fen(), 0);
      }
    }
  }
  return plan;
}

AccountPlan PlanInterest(const v1::Account& a, const JobContext& j, uint32_t rate_bp) {
  AccountPlan plan;
  const int year = j.request.period();
  if (Closed(a)) return plan;
  if (const v1::AccountYear* y = FindYear(a, year); y != nullptr && y->interest_posted()) return plan;
  const YearInterest interest = ComputeInterest(a, year, rate_bp);
  if (interest.total_fen == 0) return plan;
  v1::EventEnvelope e = Envelope(a.region_code(), absl::CivilDay(year, 12, 31),
                                 StrCat("job/interest/", year), j.policy->version());
  auto* p = e.mutable_interest_posted();
  p->set_citizen_id(a.citizen_id());
  p->set_year(year);
  p->set_rate_bp(rate_bp);
  p->set_total_fen(interest.total_fen);
  for (const auto& part : interest.parts) *p->add_parts() = part;
  plan.total_fen = interest.total_fen;
  plan.events.push_back(std::move(e));
  return plan;
}

AccountPlan PlanBenefits(const v1::Account& a, const JobContext& j) {
  AccountPlan plan;
  if (!a.has_benefit() || (a.status() != v1::PARTICIPANT_STATUS_DRAWING_PENSION &&
                           a.status() != v1::PARTICIPANT_STATUS_SUSPENDED)) {
    return plan;
  }
  int last = j.request.period();
  if (a.status() == v1::PARTICIPANT_STATUS_SUSPENDED) {
    // Months before the suspension are still due.
    const int suspended = a.benefit().suspended_from();
    int before = suspended % 100 == 1 ? (suspended / 100 - 1) * 100 + 12 : suspended - 1;
    last = std::min(last, before);
  }
  v1::Account sim = a;
  for (int month = a.benefit().next_month(); month <= last; month = NextMonth(month)) {
    v1::EventEnvelope e = Envelope(a.region_code(), j.date, StrCat("job/benefits/", j.request.period()),
                                   j.policy->version());
    auto* b = e.mutable_benefit_paid();
    b->set_citizen_id(a.citizen_id());
    b->set_month(month);
    b->set_basic_fen(BasicPension(*j.policy, month, a.benefit().contribution_years()));
    const int64_t want = a.benefit().account_pension_monthly_fen();
    const int64_t drawn = std::min(want, sim.total_fen());
    for (const auto& p : DrawProportionally(sim, drawn)) {
      *b->add_account_parts() = p;
      RecordMovement(sim, p.source(), -p.amount_fen(), j.date);
    }
    if (want > drawn) {
      b->set_pooled_fen(want - drawn);
      b->set_pooled_payer(j.policy->exhausted_account_payer());
    }
    plan.fiscal[accounts::FiscalFund(v1::FISCAL_PURPOSE_BASIC_PENSION, month / 100)] += b->basic_fen();
    plan.total_fen += b->basic_fen() + want;
    plan.events.push_back(std::move(e));
  }
  return plan;
}

// Validates the request; fills the job context. For interest, `rate` too.
std::variant<Rejection, JobContext> CheckJob(const v1::JobRequest& r, const WorkingState& state,
                                             absl::CivilDay today, uint32_t& rate) {
  auto reject = [](v1::Reason reason, std::string detail) -> std::variant<Rejection, JobContext> {
    return Reject(reason, std::move(detail));
  };
  const bool monthly = r.kind() == v1::JOB_KIND_BENEFITS;
  if (r.kind() != v1::JOB_KIND_GOVERNMENT_SUBSIDY && r.kind() != v1::JOB_KIND_INTEREST && !monthly) {
    return reject(v1::REASON_INVALID_FIELD, "kind must be GOVERNMENT_SUBSIDY, INTEREST or BENEFITS");
  }
  if (monthly ? !IsValidMonth(r.period())
              : (r.period() < kFirstContributionYear || r.period() > 2999)) {
    return reject(v1::REASON_INVALID_PERIOD,
                  StrCat("period ", r.period(), monthly ? " is not a YYYYMM month" : " is not a plausible year"));
  }
  absl::CivilDay date = today;
  if (r.kind() == v1::JOB_KIND_INTEREST) {
    date = absl::CivilDay(r.period(), 12, 31);
    if (date > today) {
      return reject(v1::REASON_INVALID_PERIOD, StrCat("interest for ", r.period(),
                                                      " is posted on 31 December, after the year"));
    }
  } else if (!r.date().empty()) {
    if (auto rej = CheckDate(r.date(), "date", today, date)) return *rej;
  }
  if (r.kind() == v1::JOB_KIND_GOVERNMENT_SUBSIDY && r.period() > date.year()) {
    return reject(v1::REASON_INVALID_PERIOD, StrCat("subsidy for ", r.period(),
                                                    " cannot be credited on ", FormatDate(date)));
  }
  if (monthly && date < FirstDayOf(r.period())) {
    return reject(v1::REASON_INVALID_PERIOD, StrCat("benefits for ", r.period(),
                                                    " cannot be paid on ", FormatDate(date)));
  }
  if (monthly && date.year() <= state.JobMark(r.region_code(), v1::JOB_KIND_INTEREST).value_or(0)) {
    return reject(v1::REASON_INVALID_DATE, StrCat("payment date ", FormatDate(date), " falls in ",
                                                  date.year(), ", whose interest is already posted"));
  }
  auto policy_or = PolicyFor(state, r.region_code(), date);
  if (auto* rej = std::get_if<Rejection>(&policy_or)) return *rej;
  const v1::Policy* policy = std::get<const v1::Policy*>(policy_or);
  if (r.kind() != v1::JOB_KIND_BENEFITS && PolicyBook::Year(*policy, r.period()) == nullptr) {
    return reject(v1::REASON_IMPLAUSIBLE_YEAR, StrCat("policy ", r.region_code(), " v", policy->version(),
                                                      " has no rules for ", r.period()));
  }
  if (r.kind() == v1::JOB_KIND_INTEREST) rate = PolicyBook::Year(*policy, r.period())->interest_rate_bp();
  if (r.kind() != v1::JOB_KIND_GOVERNMENT_SUBSIDY) {
    if (auto mark = state.JobMark(r.region_code(), r.kind()); mark && r.period() > *mark) {
      const int next = monthly ? NextMonth(*mark) : *mark + 1;
      if (r.period() != next) {
        return reject(v1::REASON_PERIOD_OUT_OF_ORDER,
                      StrCat("region ", r.region_code(), " completed ", *mark, "; the next period is ", next));
      }
    }
  }
  return JobContext{r, date, policy};
}

AccountPlan Plan(const v1::Account& a, const JobContext& j, uint32_t rate) {
  if (a.region_code() != j.request.region_code()) return {};
  switch (j.request.kind()) {
    case v1::JOB_KIND_GOVERNMENT_SUBSIDY: return PlanSubsidy(a, j);
    case v1::JOB_KIND_INTEREST: return PlanInterest(a, j, rate);
    case v1::JOB_KIND_BENEFITS: return PlanBenefits(a, j);
    default: return {};
  }
}

std::string Shortfalls(const std::map<std::string, int64_t>& need, const WorkingState& state,
                       std::string_view region, bool& short_any) {
  std::string out;
  short_any = false;
  for (const auto& [fund, amount] : need) {
    const int64_t available = -state.LedgerTotal(region, fund);
    if (amount > available) {
      short_any = true;
      out += StrCat(out.empty() ? "" : "; ", fund, " needs ", FormatFen(amount), ", has ",
                    FormatFen(available), ", short by ", FormatFen(amount - available));
    }
  }
  return out;
}

}  // namespace

absl::StatusOr<CommandResult> ExecuteAccountCommand(const v1::AccountCommand& command,
                                                    WorkingState& state, absl::CivilDay today,
                                                    const Appender& append) {
  CommandResult result;
  absl::CivilDay date;
  if (auto rej = CheckFields(command, today, date)) {
    result.rejection = *rej;
    return result;
  }
  const std::string_view ref = DocumentRef(command);
  if (!IsReference(ref)) {
    result.rejection = Reject(v1::REASON_INVALID_FIELD,
                              StrCat("document_ref must be 1-", kDocumentRefBytesMax,
                                     " printable ASCII characters"));
    return result;
  }
  const std::string digest = Sha256(SerializeDeterministic(command));
  LEDGER_ASSIGN_OR_RETURN(auto document, state.FindDocument(ref));
  if (document) {
    if (document->digest == digest) {
      result.sequence = document->first_sequence;
      result.last_sequence = document->last_sequence;
      result.duplicate = true;
    } else {
      result.rejection = Reject(v1::REASON_DUPLICATE_REFERENCE_CONFLICT,
                                StrCat("document_ref ", ref, " was used at sequence ",
                                       document->first_sequence, " by a different command"));
    }
    return result;
  }
  // Every event of the command carries its digest: apply() records the document reference.
  const Appender with_digest = [&](v1::EventEnvelope e) {
    e.set_command_digest(digest);
    return append(std::move(e));
  };
  Context c{state, today, with_digest, ref};
  Outcome outcome;
  if (IsFundCommand(command)) outcome = ExecuteFundCommand(command, state, date, ref, with_digest);
  switch (command.command_case()) {
    case v1::AccountCommand::kCreditCollectiveSubsidy: outcome = CreditCollective(command.credit_collective_subsidy(), c, date); break;
    case v1::AccountCommand::kRefundContribution: outcome = Refund(command.refund_contribution(), c, date); break;
    case v1::AccountCommand::kDetermineBenefit: outcome = Determine(command.determine_benefit(), c, date); break;
    case v1::AccountCommand::kSuspendBenefit: outcome = Suspend(command.suspend_benefit(), c, date); break;
    case v1::AccountCommand::kResumeBenefit: outcome = Resume(command.resume_benefit(), c, date); break;
    case v1::AccountCommand::kRecordDeath: outcome = Death(command.record_death(), c, date); break;
    case v1::AccountCommand::kTransferOut: outcome = TransferOutOf(command.transfer_out(), c, date); break;
    case v1::AccountCommand::kTransferIn: outcome = TransferInto(command.transfer_in(), c, date); break;
    default: break;  // the fund commands above; COMMAND_NOT_SET
  }
  if (!outcome.ok()) return outcome.status();
  if (auto* rej = std::get_if<Rejection>(&*outcome)) {
    result.rejection = *rej;
    return result;
  }
  return std::get<CommandResult>(*outcome);
}

absl::Status AppendInterestAdjustments(WorkingState& state, std::string_view citizen_id, int year,
                                       uint64_t caused_by, std::string_view external_ref,
                                       const Appender& append) {
  LEDGER_ASSIGN_OR_RETURN(v1::Account * account, state.FindAccount(citizen_id));
  if (account == nullptr) return absl::OkStatus();
  const int posted = PostedThrough(*account, state);
  for (int y = year; y <= posted; ++y) {
    const auto rate = InterestRate(state.policies(), account->region_code(), y);
    if (!rate) continue;
    auto adjusted = PlanAdjustment(*account, y, *rate);
    if (!adjusted) continue;
    adjusted->set_caused_by_sequence(caused_by);
    v1::EventEnvelope e =
        Envelope(account->region_code(), absl::CivilDay(y, 12, 31), external_ref, 0);
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
  if (SourceBalanceFen(account, source) < amount_fen) return false;
  v1::Account sim = account;
  RecordMovement(sim, source, -amount_fen, date);
  SimulateAdjustments(sim, static_cast<int>(date.year()), PostedThrough(account, state), state);
  return !AnyBalanceNegative(sim);
}

absl::StatusOr<std::variant<Rejection, JobCursor>> StartJob(const v1::JobRequest& request,
                                                           WorkingState& state, const Store& store,
                                                           absl::CivilDay today) {
  uint32_t rate = 0;
  auto checked = CheckJob(request, state, today, rate);
  if (auto* rej = std::get_if<Rejection>(&checked)) return *rej;
  const JobContext& j = std::get<JobContext>(checked);
  JobCursor cursor;
  if (request.kind() != v1::JOB_KIND_GOVERNMENT_SUBSIDY) {
    if (auto mark = state.JobMark(request.region_code(), request.kind()); mark && request.period() <= *mark) {
      cursor.progress.set_completed(true);  // done before: nothing to do
      return cursor;
    }
  }
  if (request.kind() == v1::JOB_KIND_INTEREST) return cursor;
  // Jobs that spend fiscal funds: the whole job must be covered before anything is credited.
  std::map<std::string, int64_t> need;
  auto it = store.NewIterator(Cf::kAccounts);
  v1::Account scratch;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const v1::Account* a =
        state.PeekAccountRow(it->key().ToStringView(), it->value().ToStringView(), scratch);
    if (a == nullptr) continue;
    for (const auto& [fund, amount] : Plan(*a, j, rate).fiscal) need[fund] += amount;
  }
  if (!it->status().ok()) return absl::UnavailableError(it->status().ToString());
  bool short_any = false;
  std::string shortfalls = Shortfalls(need, state, request.region_code(), short_any);
  if (short_any) {
    return Reject(v1::REASON_INSUFFICIENT_FISCAL_FUNDS, StrCat("nothing credited: ", shortfalls));
  }
  return cursor;
}

absl::StatusOr<std::variant<Rejection, JobCursor>> RunJobChunk(const v1::JobRequest& request,
                                                              JobCursor cursor,
                                                              size_t max_accounts,
                                                              WorkingState& state,
                                                              const Store& store,
                                                              absl::CivilDay today,
                                                              const Appender& append) {
  uint32_t rate = 0;
  auto checked = CheckJob(request, state, today, rate);
  if (auto* rej = std::get_if<Rejection>(&checked)) return *rej;
  const JobContext& j = std::get<JobContext>(checked);
  auto it = store.NewIterator(Cf::kAccounts);
  if (cursor.after_key.empty()) {
    it->SeekToFirst();
  } else {
    it->Seek(cursor.after_key);
    if (it->Valid() && it->key().ToStringView() == cursor.after_key) it->Next();
  }
  v1::JobProgress& progress = cursor.progress;
  for (size_t n = 0; it->Valid() && n < max_accounts; ++n, it->Next()) {
    const std::string id = it->key().ToString();
    LEDGER_ASSIGN_OR_RETURN(v1::Account * a, state.AccountFromRow(id, it->value().ToStringView()));
    cursor.after_key = id;
    progress.set_accounts_scanned(progress.accounts_scanned() + 1);
    if (a == nullptr) continue;
    AccountPlan plan = Plan(*a, j, rate);
    if (plan.events.empty()) continue;
    bool short_any = false;
    std::string shortfalls = Shortfalls(plan.fiscal, state, request.region_code(), short_any);
    if (short_any) {
      return Reject(v1::REASON_INSUFFICIENT_FISCAL_FUNDS,
                    StrCat("stopped after ", progress.accounts_scanned() - 1,
                           " accounts (what was credited stays; re-run after funds arrive): ", shortfalls));
    }
    for (v1::EventEnvelope& e : plan.events) {
      const bool adjusts = !e.has_interest_posted();
      const int year = static_cast<int>(ParseDate(e.effective_date())->year());
      const std::string ref = e.external_ref();
      LEDGER_ASSIGN_OR_RETURN(uint64_t seq, append(std::move(e)));
      progress.set_events(progress.events() + 1);
      if (adjusts) {
        LEDGER_RETURN_IF_ERROR(AppendInterestAdjustments(state, id, year, seq, ref, append));
      }
    }
    progress.set_accounts_credited(progress.accounts_credited() + 1);
    progress.set_total_fen(progress.total_fen() + plan.total_fen);
  }
  if (!it->status().ok()) return absl::UnavailableError(it->status().ToString());
  if (!it->Valid()) {
    v1::EventEnvelope e = Envelope(request.region_code(), j.date,
                                   StrCat("job/", static_cast<int>(request.kind()), "/", request.period()), j.policy->version());
    auto* done = e.mutable_job_completed();
    done->set_kind(request.kind());
    done->set_period(request.period());
    done->set_accounts(progress.accounts_credited());
    done->set_total_fen(progress.total_fen());
    LEDGER_RETURN_IF_ERROR(append(std::move(e)).status());
    progress.set_events(progress.events() + 1);
    progress.set_completed(true);
  }
  return cursor;
}

}  // namespace ledger
