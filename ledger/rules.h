// Business rules: decide what a command does against the working state, in the order documented
// on Ledger's methods. Deciding changes nothing; the writer appends the event it returns.
#ifndef LEDGER_RULES_H_
#define LEDGER_RULES_H_

#include <cstdint>
#include <optional>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "ledger/text.h"  // IsCleanText, QuoteForDetail: the rules' text checks, for their callers
#include "ledger/types.h"
#include "ledger/v1/records.pb.h"

namespace ledger {

class WorkingState;

// Exactly one of: a rejection; a duplicate of an earlier event; an event to append (its
// sequence, prev_hash, actor and recorded_time_us are set by the writer).
struct Decision {
  Decision() = default;
  Decision(Rejection r) : rejection(std::move(r)) {}  // NOLINT: a rejection is a decision

  std::optional<Rejection> rejection;
  uint64_t duplicate_of = 0;
  std::optional<v1::EventEnvelope> event;
};

// `today` is the recording day (China Standard Time), for "not in the future" checks.
absl::StatusOr<Decision> DecideCollection(const v1::CollectionRecord& record, WorkingState& state,
                                          absl::CivilDay today);
absl::StatusOr<Decision> DecideEnrolment(const v1::ParticipantEnrolled& enrolment,
                                         WorkingState& state, absl::CivilDay today);
absl::StatusOr<Decision> DecidePolicy(const v1::Policy& policy, WorkingState& state);

// The ContributionCollected event body an accepted ADD record becomes.
v1::ContributionCollected CollectedFrom(const v1::CollectionRecord& record,
                                        v1::SuspenseReason suspense);

}  // namespace ledger

#endif  // LEDGER_RULES_H_
