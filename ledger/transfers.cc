// Transfers between regions: out of the participant's region (the balance and contribution
// years leave with the event) and into a region, from an account of this ledger transferred out
// to it or from another ledger's transfer document.
#include <algorithm>
#include <set>
#include <vector>

#include "ledger/account.h"
#include "ledger/limits.h"
#include "ledger/lifecycle_internal.h"
#include "ledger/status_macros.h"
#include "ledger/strings.h"
#include "ledger/working_state.h"

namespace ledger::lifecycle {
namespace {

using command::IsRegionCode;

std::vector<int32_t> ContributionYearList(const v1::Account& a) {
  std::set<int32_t> years;
  for (const auto& c : a.contributions()) years.insert(c.year());
  for (const auto& y : a.years()) {
    if (y.paid_on_behalf_fen() > 0) years.insert(y.year());
  }
  return {years.begin(), years.end()};
}

bool SameParts(const google::protobuf::RepeatedPtrField<v1::SourceAmount>& a,
               const google::protobuf::RepeatedPtrField<v1::SourceAmount>& b) {
  if (a.size() != b.size()) return false;
  for (int i = 0; i < a.size(); ++i) {
    if (a[i].source() != b[i].source() || a[i].amount_fen() != b[i].amount_fen()) return false;
  }
  return true;
}

// The transfer-in request's own fields: two different regions, each funding source at most once
// with a valid amount, plausible years.
Check CheckTransferIn(const v1::TransferInRequest& r, absl::CivilDay date) {
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
    if (auto rej = CheckAmount(p.amount_fen(), kAmountFenMax)) return rej;
  }
  for (int32_t y : r.contribution_years()) {
    if (y < kFirstContributionYear || y > date.year()) {
      return Reject(v1::REASON_INVALID_PERIOD, StrCat("contribution year ", y, " is implausible"));
    }
  }
  return std::nullopt;
}

// Within this ledger: the balance and years are exactly what left the other region; the
// request may repeat them but not differ.
absl::StatusOr<Check> FromThisLedger(const v1::TransferInRequest& r, const v1::Account& a,
                                     WorkingState& state, v1::ParticipantTransferredIn& t) {
  if (a.transferred_to() != r.to_region() || a.region_code() != r.from_region()) {
    return WrongState(a, StrCat("it was transferred from ", a.region_code(), " to ",
                                a.transferred_to()));
  }
  LEDGER_ASSIGN_OR_RETURN(auto events, state.ParticipantEvents(a.citizen_id()));
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
  *t.mutable_parts() = out->parts();
  *t.mutable_contribution_years() = out->contribution_years();
  return Check();
}

}  // namespace

Outcome TransferOutOf(const v1::TransferOutRequest& r, Context& c, absl::CivilDay date) {
  if (!IsRegionCode(r.to_region())) {
    return Reject(v1::REASON_INVALID_FIELD, "to_region must be a 6-digit region code");
  }
  LEDGER_ASSIGN_OR_RETURN(const v1::Account* a, c.state.FindAccount(r.citizen_id()));
  if (a == nullptr) return UnknownParticipant(r.citizen_id());
  if (a->status() != v1::PARTICIPANT_STATUS_CONTRIBUTING) {
    return WrongState(*a, "only a contributing participant can transfer (none after the pension starts)");
  }
  if (r.to_region() == a->region_code()) {
    return Reject(v1::REASON_INVALID_FIELD, StrCat("the participant is already in region ", r.to_region()));
  }
  if (auto rej = NotInPostedYear(*a, date, c.state)) return *rej;
  auto policy_or = PolicyFor(c.state, a->region_code(), date);
  if (auto* rej = std::get_if<Rejection>(&policy_or)) return *rej;
  const v1::Policy& policy = *std::get<const v1::Policy*>(policy_or);
  // The interest to the date of the transfer goes with the balance (issue 16, point 6).
  v1::Account accrued = *a;
  LEDGER_ASSIGN_OR_RETURN(
      std::vector<v1::EventEnvelope> interest,
      AccrueInterestTo(accrued, date, AccrualContext{c.state, policy, date, c.document_ref}));
  v1::EventEnvelope e = Envelope(accrued.region_code(), date, c.document_ref, policy.version());
  auto* t = e.mutable_participant_transferred_out();
  t->set_citizen_id(accrued.citizen_id());
  t->set_to_region(r.to_region());
  for (const auto& b : BalancesBySource(accrued)) *t->add_parts() = b;
  for (int32_t y : ContributionYearList(accrued)) t->add_contribution_years(y);
  Recorder rec{c.state, c.append};
  for (v1::EventEnvelope& i : interest) {
    LEDGER_RETURN_IF_ERROR(rec.Add(std::move(i), false));
  }
  LEDGER_RETURN_IF_ERROR(rec.Add(std::move(e), false));
  return rec.result;
}

Outcome TransferInto(const v1::TransferInRequest& r, Context& c, absl::CivilDay date) {
  if (auto rej = CheckTransferIn(r, date)) return *rej;
  LEDGER_ASSIGN_OR_RETURN(const v1::Account* a, c.state.FindAccount(r.citizen_id()));
  if (a == nullptr) return UnknownParticipant(r.citizen_id());
  auto policy_or = PolicyFor(c.state, r.to_region(), date);
  if (auto* rej = std::get_if<Rejection>(&policy_or)) return *rej;
  v1::EventEnvelope e = Envelope(r.to_region(), date, c.document_ref,
                                 std::get<const v1::Policy*>(policy_or)->version());
  auto* t = e.mutable_participant_transferred_in();
  t->set_citizen_id(a->citizen_id());
  t->set_from_region(r.from_region());
  if (a->status() == v1::PARTICIPANT_STATUS_TRANSFERRED_OUT) {
    LEDGER_ASSIGN_OR_RETURN(Check rej, FromThisLedger(r, *a, c.state, *t));
    if (rej) return *rej;
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

}  // namespace ledger::lifecycle
