// Checks and helpers shared by the business rules: the commands of the account lifecycle
// (ledger/lifecycle.h), of the fund (ledger/funds.h) and the collection records (ledger/rules.h),
// and the one shape of a rule's answer. Writer thread only.
#ifndef LEDGER_COMMAND_CHECKS_H_
#define LEDGER_COMMAND_CHECKS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "absl/time/civil_time.h"
#include "ledger/types.h"
#include "ledger/v1/events.pb.h"
#include "ledger/v1/policy.pb.h"

namespace ledger {

class WorkingState;

// What a rule decided: the rejection saying why not, or the T it allows (a command's result, a
// job's cursor, the policy in force...). A rejection changes nothing.
template <class T>
using Decided = std::variant<Rejection, T>;

namespace command {

// A check's answer while a command is being decided: a rejection, or go on.
using Check = std::optional<Rejection>;

using ledger::Reject;
// UNKNOWN_PARTICIPANT: `citizen_id` (masked in the detail) is not enrolled.
Rejection UnknownParticipant(std::string_view citizen_id);
// WRONG_STATE: the account's status (named in the detail) is not the one the command `needs`.
Rejection WrongState(const v1::Account& account, std::string_view needs);
// A document reference: 1–kDocumentRefBytesMax printable ASCII characters.
bool IsReference(std::string_view s);
bool IsRegionCode(std::string_view s);
// A business date: valid and not after today. Fills `out`.
Check CheckDate(std::string_view text, std::string_view field, absl::CivilDay today,
                absl::CivilDay& out);
// 0 < amount ≤ max.
Check CheckAmount(int64_t amount_fen, int64_t max_fen);
// An envelope for a command's event (the writer fills sequence, hashes, actor and time).
v1::EventEnvelope Envelope(std::string_view region, absl::CivilDay date, std::string_view ref,
                           uint32_t policy_version);
// The same with the date formatted already (FormatDate).
v1::EventEnvelope Envelope(std::string_view region, std::string_view date_text,
                           std::string_view ref, uint32_t policy_version);
// The policy in force for `region` on `date`, or the rejection saying why there is none.
// Checked in this order: UNKNOWN_REGION, NO_POLICY_IN_FORCE.
Decided<const v1::Policy*> PolicyFor(const WorkingState& state, std::string_view region,
                                     absl::CivilDay date);

}  // namespace command
}  // namespace ledger

#endif  // LEDGER_COMMAND_CHECKS_H_
