// The pension: its determination (eligibility, start month, account pension), suspension and
// resumption, and the monthly benefit the benefits job and a death's arrears pay.
#include <algorithm>
#include <vector>

#include "ledger/account.h"
#include "ledger/apply.h"
#include "ledger/citizen_id.h"
#include "ledger/dates.h"
#include "ledger/lifecycle_internal.h"
#include "ledger/money.h"
#include "ledger/status_macros.h"
#include "ledger/strings.h"
#include "ledger/working_state.h"

namespace ledger::lifecycle {
namespace {

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

// The contribution years a participant born on `birth` needs under `policy`. Transition rule:
// those with fewer than 15 years between the scheme's start and 60 need every year from the
// start; those already 60 then need none.
uint32_t RequiredYears(absl::CivilDay birth, const v1::Policy& policy) {
  const int64_t year_turning_60 = birth.year() + kPensionAge;
  return static_cast<uint32_t>(std::clamp<int64_t>(
      year_turning_60 - policy.scheme_start_year(), 0, kFullContributionYears));
}

}  // namespace

int64_t BasicPension(const v1::Policy& policy, int month, uint32_t years) {
  const absl::CivilDay first = FirstDayOf(month);
  const v1::BasicPensionRule* rule = nullptr;
  for (const auto& r : policy.basic_pension()) {
    if (StoredDate(r.effective_from()) <= first) rule = &r;
  }
  if (rule == nullptr) return 0;
  const int64_t extra = years > kFullContributionYears ? years - kFullContributionYears : 0;
  return rule->central_monthly_fen() + rule->local_monthly_fen() +
         extra * rule->per_extra_year_monthly_fen();
}

Outcome Determine(const v1::DetermineBenefitRequest& r, Context& c, absl::CivilDay date) {
  LEDGER_ASSIGN_OR_RETURN(const v1::Account* a, c.state.FindAccount(r.citizen_id()));
  if (a == nullptr) return UnknownParticipant(r.citizen_id());
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
    return Reject(v1::REASON_NOT_ELIGIBLE, StrCat(MaskCitizenId(a->citizen_id()), " is ", age, " on ",
                                                  FormatDate(date), "; the pension age is 60"));
  }
  const uint32_t required = RequiredYears(birth, policy);
  const uint32_t years = CountContributionYears(*a);
  if (years < required) {
    return Reject(v1::REASON_NOT_ELIGIBLE,
                  StrCat(MaskCitizenId(a->citizen_id()), " has ", years, " contribution years; ",
                         required, " are required (scheme start ", policy.scheme_start_year(), ")"));
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
  LEDGER_ASSIGN_OR_RETURN(const v1::Account* a, c.state.FindAccount(r.citizen_id()));
  if (a == nullptr) return UnknownParticipant(r.citizen_id());
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
  LEDGER_ASSIGN_OR_RETURN(const v1::Account* a, c.state.FindAccount(r.citizen_id()));
  if (a == nullptr) return UnknownParticipant(r.citizen_id());
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

AccountPlan PlanBenefits(const v1::Account& a, const JobContext& j) {
  AccountPlan plan;
  if (!a.has_benefit() || (a.status() != v1::PARTICIPANT_STATUS_DRAWING_PENSION &&
                           a.status() != v1::PARTICIPANT_STATUS_SUSPENDED)) {
    return plan;
  }
  int last = j.request.period();
  if (a.status() == v1::PARTICIPANT_STATUS_SUSPENDED) {
    // Months before the suspension are still due.
    last = std::min(last, PreviousMonth(a.benefit().suspended_from()));
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

Decided<AccountPlan> PlanArrears(const v1::Account& a, int through_month, absl::CivilDay date,
                                 const v1::Policy& policy, const WorkingState& state,
                                 std::string_view event) {
  v1::JobRequest request;
  request.set_kind(v1::JOB_KIND_BENEFITS);
  request.set_region_code(a.region_code());
  request.set_period(through_month);
  AccountPlan arrears = PlanBenefits(a, JobContext{request, date, &policy});
  if (const std::string shortfalls = Shortfalls(arrears.fiscal, state, a.region_code());
      !shortfalls.empty()) {
    return Reject(v1::REASON_INSUFFICIENT_FISCAL_FUNDS,
                  StrCat("the months due up to ", event, " cannot be paid: ", shortfalls));
  }
  return arrears;
}

v1::Account Settled(const v1::Account& a, const AccountPlan& arrears,
                    const v1::BenefitOverpaymentRecognized& over, absl::CivilDay date) {
  v1::Account settled = a;
  for (const v1::EventEnvelope& e : arrears.events) {
    for (const auto& p : e.benefit_paid().account_parts()) {
      RecordMovement(settled, p.source(), -p.amount_fen(), date);
    }
  }
  for (const auto& p : over.account_parts()) RecordMovement(settled, p.source(), p.amount_fen(), date);
  return settled;
}

}  // namespace ledger::lifecycle
