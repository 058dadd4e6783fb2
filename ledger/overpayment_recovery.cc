// Recovery of an overpayment the estate could not cover (issue 16, point 6): what is outstanding
// for a participant is every overpayment recognised less what an inheritance offset and what was
// recovered or written off before; a recovery is never more than that.
#include <string>
#include <vector>

#include "ledger/citizen_id.h"
#include "ledger/lifecycle_internal.h"
#include "ledger/limits.h"
#include "ledger/money.h"
#include "ledger/status_macros.h"
#include "ledger/strings.h"
#include "ledger/working_state.h"

namespace ledger::lifecycle {
namespace {

int64_t Outstanding(const std::vector<v1::EventEnvelope>& events) {
  int64_t outstanding = 0;
  for (const v1::EventEnvelope& e : events) {
    if (e.has_benefit_overpayment_recognized()) {
      outstanding += e.benefit_overpayment_recognized().total_fen();
    } else if (e.has_inheritance_paid()) {
      outstanding -= e.inheritance_paid().overpayment_offset_fen();
    } else if (e.has_termination_balance_paid()) {
      outstanding -= e.termination_balance_paid().overpayment_offset_fen();
    } else if (e.has_benefit_overpayment_recovered()) {
      outstanding -= e.benefit_overpayment_recovered().amount_fen();
    }
  }
  return outstanding;
}

}  // namespace

Check CheckRecoveryFields(const v1::RecordOverpaymentRecoveryRequest& r, absl::CivilDay today,
                          absl::CivilDay& date) {
  if (auto st = ValidateCitizenId(r.citizen_id()); !st.ok()) {
    return Reject(v1::REASON_INVALID_CITIZEN_ID, std::string(st.message()));
  }
  if (auto rej = CheckAmount(r.amount_fen(), kAmountFenMax)) return rej;
  if (r.method() != v1::OVERPAYMENT_RECOVERY_METHOD_RECOVERED &&
      r.method() != v1::OVERPAYMENT_RECOVERY_METHOD_WRITTEN_OFF) {
    return Reject(v1::REASON_INVALID_FIELD, "method must be RECOVERED or WRITTEN_OFF");
  }
  return CheckDate(r.date(), "date", today, date);
}

Outcome RecoverOverpayment(const v1::RecordOverpaymentRecoveryRequest& r, Context& c,
                           absl::CivilDay date) {
  LEDGER_ASSIGN_OR_RETURN(const v1::Account* a, c.state.FindAccount(r.citizen_id()));
  if (a == nullptr) return UnknownParticipant(r.citizen_id());
  LEDGER_ASSIGN_OR_RETURN(auto events, c.state.ParticipantEvents(a->citizen_id()));
  const int64_t outstanding = Outstanding(events);
  if (r.amount_fen() > outstanding) {
    return Reject(v1::REASON_OVER_OUTSTANDING_OVERPAYMENT,
                  StrCat(MaskCitizenId(a->citizen_id()), " has ", FormatFen(outstanding),
                         " of overpayment outstanding; cannot record ", FormatFen(r.amount_fen())));
  }
  auto policy_or = PolicyFor(c.state, a->region_code(), date);
  if (auto* rej = std::get_if<Rejection>(&policy_or)) return *rej;
  v1::EventEnvelope e = Envelope(a->region_code(), date, c.document_ref,
                                 std::get<const v1::Policy*>(policy_or)->version());
  auto* rec_event = e.mutable_benefit_overpayment_recovered();
  rec_event->set_citizen_id(a->citizen_id());
  rec_event->set_amount_fen(r.amount_fen());
  rec_event->set_method(r.method());
  Recorder rec{c.state, c.append};
  LEDGER_RETURN_IF_ERROR(rec.Add(std::move(e), false));
  return rec.result;
}

}  // namespace ledger::lifecycle
