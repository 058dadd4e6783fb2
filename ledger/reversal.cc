#include "ledger/reversal.h"

#include "ledger/account.h"
#include "ledger/citizen_id.h"
#include "ledger/dates.h"
#include "ledger/lifecycle.h"
#include "ledger/money.h"
#include "ledger/status_macros.h"
#include "ledger/strings.h"
#include "ledger/subsidy_reversal.h"

namespace ledger {
namespace {

// Step 5: the account still holds the money the reversal takes back.
absl::StatusOr<command::Check> CheckAccountHolds(ReversalKind kind,
                                                 const v1::EventEnvelope& original_event,
                                                 std::string_view receipt_number,
                                                 absl::CivilDay date, WorkingState& state) {
  const v1::ContributionCollected& original = original_event.contribution_collected();
  LEDGER_ASSIGN_OR_RETURN(const v1::Account* a, state.FindAccount(original.citizen_id()));
  LEDGER_CHECK(a != nullptr, "a contribution credited to an account that does not exist");
  const bool refund = kind == ReversalKind::kRefund;
  if (refund && a->status() != v1::PARTICIPANT_STATUS_CONTRIBUTING) {
    return command::WrongState(
        *a, "a contribution in the account is refunded only before the pension starts");
  }
  if (a->region_code() != original_event.region_code()) {
    if (refund) {
      return command::WrongState(*a, StrCat("it was transferred to region ", a->region_code(),
                                            "; a receipt of ", original_event.region_code(),
                                            " is not refunded from it"));
    }
    return Reject(v1::REASON_WRONG_STATE,
                  StrCat(MaskCitizenId(original.citizen_id()), " was transferred to region ",
                         a->region_code(), "; receipt ", receipt_number,
                         " cannot be cancelled in ", original_event.region_code()));
  }
  // The contribution and the subsidies it takes with it (ledger/subsidy_reversal.h).
  auto debits = SubsidyReversalDebits(PlanSubsidyReversals(
      *a, original, original_event.region_code(), date, state, 0, receipt_number, 0));
  debits.insert(debits.begin(), {v1::FUNDING_SOURCE_PERSONAL, original.amount_fen()});
  if (!DebitsKeepBalance(*a, debits, date, state)) {
    std::string clawback;
    for (size_t i = 1; i < debits.size(); ++i) {
      clawback += StrCat(" and ", FormatFen(debits[i].second), " of ",
                         SourceName(debits[i].first), " subsidy");
    }
    return Reject(v1::REASON_INSUFFICIENT_BALANCE,
                  StrCat("personal contributions hold ",
                         FormatFen(SourceBalanceFen(*a, v1::FUNDING_SOURCE_PERSONAL)),
                         refund ? ", cannot refund " : ", cannot cancel ",
                         FormatFen(original.amount_fen()), clawback));
  }
  return command::Check();
}

}  // namespace

bool InAccount(const v1::ContributionCollected& collected) {
  return collected.suspense_reason() == v1::SUSPENSE_REASON_UNSPECIFIED;
}

absl::StatusOr<Decided<v1::EventEnvelope>> CheckReversal(
    ReversalKind kind, const std::optional<ReceiptEntry>& receipt, std::string_view receipt_number,
    absl::CivilDay date, WorkingState& state,
    absl::FunctionRef<command::Check(const v1::EventEnvelope& original)> own_checks) {
  const bool refund = kind == ReversalKind::kRefund;
  if (!receipt) {
    return Reject(v1::REASON_ORIGINAL_NOT_FOUND, StrCat("no collection with receipt ", receipt_number));
  }
  if (receipt->cancelled_sequence != 0) {
    return Reject(v1::REASON_ALREADY_CANCELLED,
                  StrCat("receipt ", receipt_number,
                         refund ? " was already cancelled or refunded at sequence "
                                : " was already cancelled at sequence ",
                         receipt->cancelled_sequence, refund ? "" : " by a different record"));
  }
  LEDGER_ASSIGN_OR_RETURN(v1::EventEnvelope original_event,
                          state.Event(receipt->collected_sequence));
  if (auto rej = own_checks(original_event)) return *rej;
  const v1::ContributionCollected& original = original_event.contribution_collected();
  if (date < StoredDate(original.collection_date())) {
    return Reject(v1::REASON_INVALID_DATE,
                  StrCat(refund ? "refund date " : "cancel date ", FormatDate(date),
                         " is before the collection date ", original.collection_date()));
  }
  if (InAccount(original)) {
    LEDGER_ASSIGN_OR_RETURN(command::Check rej,
                            CheckAccountHolds(kind, original_event, receipt_number, date, state));
    if (rej) return *rej;
  }
  return original_event;
}

}  // namespace ledger
