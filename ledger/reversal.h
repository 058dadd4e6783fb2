// The reversal of a collected contribution: the tax bureau's cancellation (a CANCEL record,
// ledger/rules.h) and a refund (RefundContribution, ledger/lifecycle.h) both undo one
// ContributionCollected and take its amount back out of the account. Their checks are written
// once, here, and run in this order:
//   1. the receipt names a collection (ORIGINAL_NOT_FOUND);
//   2. it is not reversed yet (ALREADY_CANCELLED; a cancellation checks for a resend first);
//   3. the kind's own comparison with the original (a cancellation must repeat it: CANCEL_MISMATCH,
//      DATE_IN_FUTURE);
//   4. the date is not before the collection (INVALID_DATE);
//   5. for money in the account (not in suspense): a refund only before the pension starts
//      (WRONG_STATE); the account is still in the receipt's region (WRONG_STATE: the money moved
//      with it); its personal balance bears the debit with the interest adjustments it causes
//      (INSUFFICIENT_BALANCE).
// Writer thread only.
#ifndef LEDGER_REVERSAL_H_
#define LEDGER_REVERSAL_H_

#include <optional>
#include <string_view>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "ledger/command_checks.h"
#include "ledger/types.h"
#include "ledger/v1/events.pb.h"
#include "ledger/working_state.h"

namespace ledger {

enum class ReversalKind { kCancellation, kRefund };

// True when the collection's money went into the account (not into suspense).
bool InAccount(const v1::ContributionCollected& collected);

// Checks the reversal of the collection `receipt` names (as found by its number) dated `date`,
// in the order above; `own_checks` is step 3. Returns the original ContributionCollected event.
absl::StatusOr<Decided<v1::EventEnvelope>> CheckReversal(
    ReversalKind kind, const std::optional<ReceiptEntry>& receipt, std::string_view receipt_number,
    absl::CivilDay date, WorkingState& state,
    absl::FunctionRef<command::Check(const v1::EventEnvelope& original)> own_checks);

}  // namespace ledger

#endif  // LEDGER_REVERSAL_H_
