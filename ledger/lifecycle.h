// The account lifecycle: deciding and recording subsidies, refunds, benefits, death, transfers,
// the region-wide batch jobs (government subsidy, interest, monthly benefits) and the interest
// adjustments backdated movements cause. Runs on the writer thread against a WorkingState.
//
// Every command checks, in this order: its fields (INVALID_*), its document reference (a resend
// is a duplicate; a different command under a used reference is DUPLICATE_REFERENCE_CONFLICT),
// the participant (UNKNOWN_PARTICIPANT) and its state (WRONG_STATE), the policy for the date
// (UNKNOWN_REGION, NO_POLICY_IN_FORCE), then the command's own rules. A rejection changes
// nothing; otherwise all of the command's events are appended to the same commit.
//
// Decisions the sources leave open, made here:
//   - A debit (cancellation, refund, benefit, inheritance, transfer) takes a source's principal
//     first, then its interest; the account pension is drawn from the sources in proportion to
//     their balances (largest remainder), so each source keeps its share of the account.
//   - The pension starts the month after the 60th birthday, or the determination's month if later.
//   - Benefits, death and transfers may not be dated in a year whose interest is posted; credits,
//     cancellations and refunds may (they adjust the interest of that year and every later one).
//   - Deceased and transferred-out accounts earn no interest: their settlement empties them.
//   - Death pays the months due up to and including the month of death that were not paid yet
//     (against basic-pension funds, like any month), then recognises months paid after it as an
//     overpayment; the funeral subsidy follows the policy in force on the date of death.
//
// Implemented by the files ledger/lifecycle_internal.h lists, one job each.
#ifndef LEDGER_LIFECYCLE_H_
#define LEDGER_LIFECYCLE_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "ledger/types.h"
#include "ledger/v1/commands.pb.h"

namespace ledger {

class WorkingState;
class Store;

absl::StatusOr<CommandResult> ExecuteAccountCommand(const v1::AccountCommand& command,
                                                    WorkingState& state, absl::CivilDay today,
                                                    const Appender& append);

// After a movement on `citizen_id`'s account dated in `year` was appended as `caused_by`:
// appends InterestAdjusted for that year and every later year whose interest is posted, under
// the cause's external reference.
absl::Status AppendInterestAdjustments(WorkingState& state, std::string_view citizen_id,
                                       int year, uint64_t caused_by,
                                       std::string_view external_ref, const Appender& append);

// Would a debit of `amount_fen` on `source` dated `date` (with the interest adjustments it causes)
// keep every balance of the account at or above zero?
// The same for several debits on the same date, each (source, amount).
bool DebitsKeepBalance(const v1::Account& account,
                       const std::vector<std::pair<v1::FundingSource, int64_t>>& debits,
                       absl::CivilDay date, const WorkingState& state);
bool DebitKeepsBalance(const v1::Account& account, v1::FundingSource source, int64_t amount_fen,
                       absl::CivilDay date, const WorkingState& state);

// A job's state between chunks.
struct JobCursor {
  std::string after_key;  // last account key processed ("" = from the start)
  v1::JobProgress progress;
};

// Validates a job and, for the jobs that spend fiscal funds, checks that the funds cover the
// whole job (a shortfall is a rejection naming it; nothing is credited). A period already
// completed returns a cursor with progress.completed set.
absl::StatusOr<std::variant<Rejection, JobCursor>> StartJob(const v1::JobRequest& request,
                                                           WorkingState& state, const Store& store,
                                                           absl::CivilDay today);

// Processes up to `max_accounts` accounts after `cursor`, appending their events; at the end of
// the accounts appends JobCompleted and sets progress.completed.
absl::StatusOr<std::variant<Rejection, JobCursor>> RunJobChunk(const v1::JobRequest& request,
                                                              JobCursor cursor,
                                                              size_t max_accounts,
                                                              WorkingState& state,
                                                              const Store& store,
                                                              absl::CivilDay today,
                                                              const Appender& append);

}  // namespace ledger

#endif  // LEDGER_LIFECYCLE_H_
