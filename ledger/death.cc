// A participant's death and the settlement of the account: the interest to the date of death is
// credited, the months still due are paid, months
// paid after the death are recognised as an overpayment, a pensioner's funeral subsidy is paid,
// and the balance is inherited (offset by the overpayment). All of it is decided before the first
// event is appended.
#include <algorithm>
#include <map>

#include "ledger/account.h"
#include "ledger/dates.h"
#include "ledger/lifecycle_internal.h"
#include "ledger/citizen_id.h"
#include "ledger/policy.h"
#include "ledger/status_macros.h"
#include "ledger/strings.h"
#include "ledger/working_state.h"

namespace ledger::lifecycle {
namespace {

// The date the DOMAIN rule on inheritance changed (国发〔2014〕8号): from then on the whole
// balance is inheritable; before, the government-subsidy part returned to the pool.
const absl::CivilDay kWholeBalanceInheritableFrom(2014, 2, 21);

// What a death settles. Empty messages (zero amounts) are not recorded.
struct Settlement {
  std::vector<v1::EventEnvelope> interest;  // InterestAccrued to the date of death, first
  AccountPlan arrears;                    // months due up to the month of death, paid now
  v1::BenefitOverpaymentRecognized over;  // months paid after it
  v1::FuneralSubsidyPaid funeral;
  v1::InheritancePaid inheritance;
  int64_t estate_fen = 0;                 // the balance left once the above are settled
};

// The account's own checks, in order: still open (WRONG_STATE), the death not before the
// enrolment and the recording not in a posted year (INVALID_DATE).
Check CheckAccount(const v1::RecordDeathRequest& r, const v1::Account& a, absl::CivilDay death,
                   absl::CivilDay date, const WorkingState& state) {
  if (a.status() == v1::PARTICIPANT_STATUS_DECEASED ||
      a.status() == v1::PARTICIPANT_STATUS_TRANSFERRED_OUT ||
      a.status() == v1::PARTICIPANT_STATUS_TERMINATED) {
    return WrongState(a, "the account is already closed");
  }
  if (death < StoredDate(a.enrolment_date())) {
    return Reject(v1::REASON_INVALID_DATE, StrCat("date_of_death ", r.date_of_death(),
                                                  " is before the enrolment on ", a.enrolment_date()));
  }
  return NotInPostedYear(a, date, state);
}

// The months paid after the month of death, with their account parts by source.
absl::StatusOr<v1::BenefitOverpaymentRecognized> Overpayment(const v1::Account& a, int death_month,
                                                             WorkingState& state) {
  v1::BenefitOverpaymentRecognized over;
  over.set_citizen_id(a.citizen_id());
  std::map<v1::FundingSource, int64_t> parts;
  if (a.has_benefit()) {
    LEDGER_ASSIGN_OR_RETURN(auto events, state.ParticipantEvents(a.citizen_id()));
    for (const auto& e : events) {
      if (!e.has_benefit_paid() || e.benefit_paid().month() <= death_month) continue;
      const auto& paid = e.benefit_paid();
      over.add_months(paid.month());
      over.set_basic_fen(over.basic_fen() + paid.basic_fen());
      over.set_pooled_fen(over.pooled_fen() + paid.pooled_fen());
      for (const auto& p : paid.account_parts()) parts[p.source()] += p.amount_fen();
    }
  }
  int64_t total = over.basic_fen() + over.pooled_fen();
  for (const auto& [source, amount] : parts) {
    v1::SourceAmount* p = over.add_account_parts();
    p->set_source(source);
    p->set_amount_fen(amount);
    total += amount;
  }
  over.set_total_fen(total);
  return over;
}

// A pensioner's funeral subsidy, by the rules in force at the death; none (amount 0) for others.
v1::FuneralSubsidyPaid FuneralSubsidy(const v1::Account& a, const v1::Policy& death_policy,
                                      int death_month) {
  v1::FuneralSubsidyPaid fs;
  if (!a.has_benefit()) return fs;
  const int64_t basic = BasicPension(death_policy, death_month, a.benefit().contribution_years());
  const v1::FuneralSubsidyRule& rule = death_policy.funeral_subsidy();
  fs.set_citizen_id(a.citizen_id());
  fs.set_amount_fen(rule.fixed_fen() + rule.basic_pension_months() * basic);
  fs.set_fixed_fen(rule.fixed_fen());
  fs.set_basic_pension_months(rule.basic_pension_months());
  fs.set_basic_pension_monthly_fen(basic);
  return fs;
}

// The estate of the settled account to the heirs (with the funeral subsidy), less the
// overpayment and, for a death before kWholeBalanceInheritableFrom, the government subsidies.
void Inherit(const v1::Account& settled, absl::CivilDay death, Settlement& s) {
  v1::InheritancePaid& inh = s.inheritance;
  inh.set_citizen_id(settled.citizen_id());
  for (const v1::SourceAmount& b : BalancesBySource(settled)) {
    *inh.add_parts() = b;
    s.estate_fen += b.amount_fen();
    if (b.source() == v1::FUNDING_SOURCE_GOVERNMENT && death < kWholeBalanceInheritableFrom) {
      inh.set_to_pool_fen(b.amount_fen());
    }
  }
  const int64_t owed_to_heirs = s.estate_fen - inh.to_pool_fen() + s.funeral.amount_fen();
  inh.set_overpayment_offset_fen(std::min(s.over.total_fen(), owed_to_heirs));
  inh.set_to_heirs_fen(owed_to_heirs - inh.overpayment_offset_fen());
}

absl::StatusOr<Decided<Settlement>> Settle(const v1::Account& a, absl::CivilDay death,
                                           absl::CivilDay date, const v1::Policy& policy,
                                           const v1::Policy& death_policy, WorkingState& state) {
  Settlement s;
  const int death_month = MonthOf(death);
  // Interest to the date of death, before anything else moves the balance (issue 16, point 6).
  v1::Account accrued = a;
  LEDGER_ASSIGN_OR_RETURN(s.interest,
                          AccrueInterestTo(accrued, death, AccrualContext{state, policy, date, ""}));
  if (a.has_benefit()) {
    auto arrears = PlanArrears(accrued, death_month, date, policy, state, "the death");
    if (auto* rej = std::get_if<Rejection>(&arrears)) return *rej;
    s.arrears = std::get<AccountPlan>(std::move(arrears));
  }
  LEDGER_ASSIGN_OR_RETURN(s.over, Overpayment(a, death_month, state));
  s.funeral = FuneralSubsidy(a, death_policy, death_month);
  // The arrears and the funeral subsidy are paid out of the payment account: all or nothing.
  if (const std::string short_by = PaymentShortfall(s.arrears.total_fen + s.funeral.amount_fen(),
                                                    state, a.region_code());
      !short_by.empty()) {
    return Reject(v1::REASON_INSUFFICIENT_PAYMENT_ACCOUNT,
                  StrCat("the arrears and funeral subsidy cannot be paid: ", short_by));
  }
  Inherit(Settled(accrued, s.arrears, s.over, date), death, s);
  return s;
}

// Appends the settlement: arrears, the death, overpayment, funeral subsidy, inheritance.
absl::StatusOr<CommandResult> Record(const v1::RecordDeathRequest& r, const v1::Account& a,
                                     Settlement& s, Context& c, absl::CivilDay date,
                                     uint32_t version) {
  Recorder rec{c.state, c.append};
  LEDGER_RETURN_IF_ERROR(rec.AddUnder(c.document_ref, s.interest));
  LEDGER_RETURN_IF_ERROR(rec.AddUnder(c.document_ref, s.arrears.events));
  v1::EventEnvelope died = Envelope(a.region_code(), date, c.document_ref, version);
  died.mutable_participant_died()->set_citizen_id(a.citizen_id());
  died.mutable_participant_died()->set_date_of_death(r.date_of_death());
  LEDGER_RETURN_IF_ERROR(rec.Add(std::move(died), false));
  if (s.over.total_fen() > 0) {
    v1::EventEnvelope e = Envelope(a.region_code(), date, c.document_ref, version);
    *e.mutable_benefit_overpayment_recognized() = s.over;
    LEDGER_RETURN_IF_ERROR(rec.Add(std::move(e), false));
  }
  if (s.funeral.amount_fen() > 0) {
    v1::EventEnvelope e = Envelope(a.region_code(), date, c.document_ref, version);
    *e.mutable_funeral_subsidy_paid() = s.funeral;
    LEDGER_RETURN_IF_ERROR(rec.Add(std::move(e), false));
  }
  if (s.estate_fen > 0 || s.inheritance.overpayment_offset_fen() > 0) {
    v1::EventEnvelope e = Envelope(a.region_code(), date, c.document_ref, version);
    *e.mutable_inheritance_paid() = s.inheritance;
    LEDGER_RETURN_IF_ERROR(rec.Add(std::move(e), false));
  }
  return rec.result;
}

}  // namespace

Outcome Death(const v1::RecordDeathRequest& r, Context& c, absl::CivilDay date) {
  const absl::CivilDay death = StoredDate(r.date_of_death());  // CheckFields validated it
  if (death > date) {
    return Reject(v1::REASON_INVALID_DATE, StrCat("date_of_death ", r.date_of_death(),
                                                  " is after the recording date ", r.date()));
  }
  LEDGER_ASSIGN_OR_RETURN(v1::Account * live, c.state.FindAccount(r.citizen_id()));
  if (live == nullptr) return UnknownParticipant(r.citizen_id());
  const v1::Account a = *live;  // the events below change the live account
  if (auto rej = CheckAccount(r, a, death, date, c.state)) return *rej;
  auto policy_or = PolicyFor(c.state, a.region_code(), date);
  if (auto* rej = std::get_if<Rejection>(&policy_or)) return *rej;
  const v1::Policy& policy = *std::get<const v1::Policy*>(policy_or);
  // The funeral subsidy and the basic pension of the month of death follow the rules in force
  // at the death (or, for a death before the region's first policy, at the recording).
  const v1::Policy* at_death = c.state.policies().InForce(a.region_code(), death);
  const v1::Policy& death_policy = at_death != nullptr ? *at_death : policy;
  LEDGER_ASSIGN_OR_RETURN(auto settlement, Settle(a, death, date, policy, death_policy, c.state));
  if (auto* rej = std::get_if<Rejection>(&settlement)) return *rej;
  LEDGER_ASSIGN_OR_RETURN(CommandResult result,
                          Record(r, a, std::get<Settlement>(settlement), c, date, policy.version()));
  return result;
}

}  // namespace ledger::lifecycle
