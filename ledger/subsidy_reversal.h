// The subsidies a reversed contribution takes with it (issue 16, point 1; docs/RULES.md §1).
// "须在本人参保并按规定选择缴费后方可享受补贴": a cancelled (撤销) or refunded contribution gives
// back, in the same commit and dated like the reversal:
//   - the government contribution subsidy credited for its year, less what the tier still paid
//     for the year (another contribution, not back-paid, not transferred in) earns under the
//     policy in force on the reversal date: GovernmentSubsidyReversed, back to the fiscal fund;
//   - the collective subsidies and sponsorships of the year, by source, when no contribution and
//     no 代缴 remains for the year and the policy requires a contribution for them:
//     CollectiveSubsidyReversed, owed back to the payer (collective_refunds_payable);
//   - the village cadre subsidy of the year when no personal contribution remains for it
//     (whatever 代缴 or the policy's collective rule): CadreSubsidyReversed, back to the fiscal
//     funds of the program's purpose (issue 16, point 8).
// 代缴 (paid on behalf) is not tied to a contribution and stays.
// Writer thread only.
#ifndef LEDGER_SUBSIDY_REVERSAL_H_
#define LEDGER_SUBSIDY_REVERSAL_H_

#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/civil_time.h"
#include "ledger/types.h"
#include "ledger/v1/events.pb.h"
#include "ledger/v1/records.pb.h"
#include "ledger/working_state.h"

namespace ledger {

// The reversal events (without the interest adjustments they cause) the reversal of `original`
// (an in-account ContributionCollected) on `date` causes on account `a`. The reversed
// contribution is left out of `a` by its receipt number, so this plans the same before and
// after the reversal itself is applied. `caused_by` and `ref` go into the events.
std::vector<v1::EventEnvelope> PlanSubsidyReversals(const v1::Account& a,
                                                    const v1::ContributionCollected& original,
                                                    std::string_view region, absl::CivilDay date,
                                                    const WorkingState& state,
                                                    uint64_t caused_by, std::string_view ref,
                                                    uint32_t policy_version);

// The debits, by source, of those events.
std::vector<std::pair<v1::FundingSource, int64_t>> SubsidyReversalDebits(
    const std::vector<v1::EventEnvelope>& reversals);

// After the reversal `caused_by` of `original` was appended: appends its subsidy reversals, each
// followed by the interest adjustments it causes.
absl::Status AppendSubsidyReversals(WorkingState& state,
                                    const v1::ContributionCollected& original,
                                    std::string_view region, absl::CivilDay date,
                                    uint64_t caused_by, std::string_view ref,
                                    uint32_t policy_version, const Appender& append);

}  // namespace ledger

#endif  // LEDGER_SUBSIDY_REVERSAL_H_
