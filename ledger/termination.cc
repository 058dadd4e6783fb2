// Termination (关系注销, issue 16 point 5; docs/RULES.md §5): the relationship with the scheme
// ends on the command's date. The interest to that date is credited; then, by the reason:
//   - joined the employees' scheme: the whole balance moves over (employee_scheme_payable);
//   - settled abroad, or 双领 (drawing the employees' pension too): the government money goes
//     back (its principal to the fiscal funds it came from, the rest to the pool) and the rest
//     of the balance is refunded to the participant (refunds_payable). For 双领 the months still
//     due before the employees' pension are paid first, and the basic pension paid for the
//     overlap is an overpayment, offset first against the refund.
// All of it is decided before the first event is appended.
#include <algorithm>
#include <map>
#include <utility>

#include "ledger/account.h"
#include "ledger/dates.h"
#include "ledger/lifecycle_internal.h"
#include "ledger/status_macros.h"
#include "ledger/strings.h"
#include "ledger/working_state.h"

namespace ledger::lifecycle {
namespace {

struct Settlement {
  std::vector<v1::EventEnvelope> interest;  // InterestAccrued to the date, first
  AccountPlan arrears;                      // 双领: months due before the employees' pension
  v1::BenefitOverpaymentRecognized over;    // 双领: the basic pension paid for the overlap
  v1::TerminationSubsidyReturned subsidy;
  v1::TerminationBalancePaid paid;
};

bool IsPensioner(const v1::Account& a) {
  return a.status() == v1::PARTICIPANT_STATUS_DRAWING_PENSION ||
         a.status() == v1::PARTICIPANT_STATUS_SUSPENDED;
}

// The account's own checks, in order: the state the reason needs (WRONG_STATE), the date not
// before the enrolment and not in a posted year (INVALID_DATE), the employees' pension not
// starting after the date (INVALID_PERIOD).
Check CheckAccount(const v1::TerminateParticipantRequest& r, const v1::Account& a,
                   absl::CivilDay date, const WorkingState& state) {
  if (r.reason() == v1::TERMINATION_REASON_DOUBLE_RECEIPT) {
    if (!IsPensioner(a)) return WrongState(a, "双领 ends the relationship of a pensioner");
  } else if (a.status() != v1::PARTICIPANT_STATUS_CONTRIBUTING) {
    return WrongState(a, "only a contributing participant's relationship ends this way (a "
                         "pensioner's ends by death or 双领)");
  }
  if (date < StoredDate(a.enrolment_date())) {
    return Reject(v1::REASON_INVALID_DATE, StrCat("date ", r.date(), " is before the enrolment on ",
                                                  a.enrolment_date()));
  }
  if (auto rej = NotInPostedYear(a, date, state)) return rej;
  if (r.employee_pension_from_month() > MonthOf(date)) {
    return Reject(v1::REASON_INVALID_PERIOD,
                  StrCat("employee_pension_from_month ", r.employee_pension_from_month(),
                         " is after the termination date ", r.date()));
  }
  return std::nullopt;
}

// The basic pension paid for the months from `from_month` on (双领: recovered; the account
// pension was the participant's own money and is not).
absl::StatusOr<v1::BenefitOverpaymentRecognized> OverlapBasicPension(const v1::Account& a,
                                                                     int from_month,
                                                                     WorkingState& state) {
  v1::BenefitOverpaymentRecognized over;
  over.set_citizen_id(a.citizen_id());
  LEDGER_ASSIGN_OR_RETURN(auto events, state.ParticipantEvents(a.citizen_id()));
  for (const auto& e : events) {
    if (!e.has_benefit_paid() || e.benefit_paid().month() < from_month) continue;
    over.add_months(e.benefit_paid().month());
    over.set_basic_fen(over.basic_fen() + e.benefit_paid().basic_fen());
  }
  over.set_total_fen(over.basic_fen());
  return over;
}

// The government subsidies this region credited to the account, by purpose and contribution
// year, net of reversals.
absl::StatusOr<std::map<std::pair<int, v1::FiscalPurpose>, int64_t>> CreditedSubsidies(
    const v1::Account& a, WorkingState& state) {
  std::map<std::pair<int, v1::FiscalPurpose>, int64_t> credited;
  LEDGER_ASSIGN_OR_RETURN(auto events, state.ParticipantEvents(a.citizen_id()));
  for (const auto& e : events) {
    if (e.region_code() != a.region_code()) continue;
    if (e.has_government_subsidy_credited()) {
      const auto& g = e.government_subsidy_credited();
      credited[{g.contribution_year(), g.purpose()}] += g.amount_fen();
    } else if (e.has_government_subsidy_reversed()) {
      const auto& g = e.government_subsidy_reversed();
      credited[{g.contribution_year(), g.purpose()}] -= g.amount_fen();
    }
  }
  return credited;
}

// The government source of the settled account given back: its principal to the fiscal funds,
// the latest contribution years first, each at most what was credited for it; the rest (its
// interest; principal this region did not credit) to the pool.
absl::StatusOr<v1::TerminationSubsidyReturned> ReturnSubsidies(const v1::Account& settled,
                                                               WorkingState& state) {
  v1::TerminationSubsidyReturned ret;
  ret.set_citizen_id(settled.citizen_id());
  int64_t principal = 0;
  for (const v1::SourceBalance& b : settled.balances()) {
    if (b.source() != v1::FUNDING_SOURCE_GOVERNMENT) continue;
    principal = b.principal_fen();
    ret.set_total_fen(b.principal_fen() + b.interest_fen());
  }
  LEDGER_ASSIGN_OR_RETURN(auto credited, CreditedSubsidies(settled, state));
  int64_t returned = 0;
  for (auto it = credited.rbegin(); it != credited.rend() && principal > 0; ++it) {
    const int64_t amount = std::min(principal, it->second);
    if (amount <= 0) continue;
    v1::TerminationSubsidyReturn* r = ret.add_returns();
    r->set_purpose(it->first.second);
    r->set_year(it->first.first);
    r->set_amount_fen(amount);
    principal -= amount;
    returned += amount;
  }
  ret.set_to_pool_fen(ret.total_fen() - returned);
  return ret;
}

absl::StatusOr<Decided<Settlement>> Settle(const v1::TerminateParticipantRequest& r,
                                           const v1::Account& a, absl::CivilDay date,
                                           const v1::Policy& policy, WorkingState& state) {
  Settlement s;
  v1::Account accrued = a;
  LEDGER_ASSIGN_OR_RETURN(
      s.interest, AccrueInterestTo(accrued, date, AccrualContext{state, policy, date, ""}));
  const bool double_receipt = r.reason() == v1::TERMINATION_REASON_DOUBLE_RECEIPT;
  if (double_receipt) {
    auto arrears = PlanArrears(accrued, PreviousMonth(r.employee_pension_from_month()), date,
                               policy, state, "the employees' pension");
    if (auto* rej = std::get_if<Rejection>(&arrears)) return *rej;
    s.arrears = std::get<AccountPlan>(std::move(arrears));
    // The arrears are paid out of the payment account: all or nothing.
    if (const std::string short_by = PaymentShortfall(s.arrears.total_fen, state, a.region_code());
        !short_by.empty()) {
      return Reject(v1::REASON_INSUFFICIENT_PAYMENT_ACCOUNT,
                    StrCat("the months due before the employees' pension cannot be paid: ",
                           short_by));
    }
    LEDGER_ASSIGN_OR_RETURN(s.over,
                            OverlapBasicPension(a, r.employee_pension_from_month(), state));
  }
  const v1::Account settled = Settled(accrued, s.arrears, s.over, date);
  const bool to_scheme = r.reason() == v1::TERMINATION_REASON_EMPLOYEE_SCHEME;
  if (!to_scheme) {
    LEDGER_ASSIGN_OR_RETURN(s.subsidy, ReturnSubsidies(settled, state));
  }
  v1::TerminationBalancePaid& paid = s.paid;
  paid.set_citizen_id(a.citizen_id());
  paid.set_payee(to_scheme ? v1::TERMINATION_PAYEE_EMPLOYEE_SCHEME
                           : v1::TERMINATION_PAYEE_PARTICIPANT);
  int64_t owed = 0;
  for (const v1::SourceAmount& b : BalancesBySource(settled)) {
    if (!to_scheme && b.source() == v1::FUNDING_SOURCE_GOVERNMENT) continue;
    *paid.add_parts() = b;
    owed += b.amount_fen();
  }
  paid.set_overpayment_offset_fen(std::min(s.over.total_fen(), owed));
  paid.set_to_payee_fen(owed - paid.overpayment_offset_fen());
  return s;
}

absl::StatusOr<CommandResult> Record(const v1::TerminateParticipantRequest& r,
                                     const v1::Account& a, Settlement& s, Context& c,
                                     absl::CivilDay date, uint32_t version) {
  Recorder rec{c.state, c.append};
  LEDGER_RETURN_IF_ERROR(rec.AddUnder(c.document_ref, s.interest));
  LEDGER_RETURN_IF_ERROR(rec.AddUnder(c.document_ref, s.arrears.events));
  v1::EventEnvelope ended = Envelope(a.region_code(), date, c.document_ref, version);
  auto* t = ended.mutable_participant_terminated();
  t->set_citizen_id(a.citizen_id());
  t->set_reason(r.reason());
  t->set_employee_pension_from_month(r.employee_pension_from_month());
  LEDGER_RETURN_IF_ERROR(rec.Add(std::move(ended), false));
  if (s.over.total_fen() > 0) {
    v1::EventEnvelope e = Envelope(a.region_code(), date, c.document_ref, version);
    *e.mutable_benefit_overpayment_recognized() = s.over;
    LEDGER_RETURN_IF_ERROR(rec.Add(std::move(e), false));
  }
  if (s.subsidy.total_fen() > 0) {
    v1::EventEnvelope e = Envelope(a.region_code(), date, c.document_ref, version);
    *e.mutable_termination_subsidy_returned() = s.subsidy;
    LEDGER_RETURN_IF_ERROR(rec.Add(std::move(e), false));
  }
  if (!s.paid.parts().empty() || s.paid.overpayment_offset_fen() > 0) {
    v1::EventEnvelope e = Envelope(a.region_code(), date, c.document_ref, version);
    *e.mutable_termination_balance_paid() = s.paid;
    LEDGER_RETURN_IF_ERROR(rec.Add(std::move(e), false));
  }
  return rec.result;
}

}  // namespace

Outcome Terminate(const v1::TerminateParticipantRequest& r, Context& c, absl::CivilDay date) {
  LEDGER_ASSIGN_OR_RETURN(v1::Account * live, c.state.FindAccount(r.citizen_id()));
  if (live == nullptr) return UnknownParticipant(r.citizen_id());
  const v1::Account a = *live;  // the events below change the live account
  if (auto rej = CheckAccount(r, a, date, c.state)) return *rej;
  auto policy_or = PolicyFor(c.state, a.region_code(), date);
  if (auto* rej = std::get_if<Rejection>(&policy_or)) return *rej;
  const v1::Policy& policy = *std::get<const v1::Policy*>(policy_or);
  LEDGER_ASSIGN_OR_RETURN(auto settlement, Settle(r, a, date, policy, c.state));
  if (auto* rej = std::get_if<Rejection>(&settlement)) return *rej;
  LEDGER_ASSIGN_OR_RETURN(CommandResult result,
                          Record(r, a, std::get<Settlement>(settlement), c, date, policy.version()));
  return result;
}

}  // namespace ledger::lifecycle
