// Deterministic apply: event → postings → projection changes. Reads no clock, no randomness, no
// configuration: only the event and the state. The write path and replay both run exactly this,
// so replaying the log on another machine yields byte-identical projections.
#ifndef LEDGER_APPLY_H_
#define LEDGER_APPLY_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "ledger/v1/events.pb.h"

namespace ledger {

class WorkingState;

// Chart of accounts used by postings. Person accounts are "person/<citizen id>/<source>"; their
// balances live in the account projection and roll up, per region, into the control account
// "individual_accounts/<source>".
namespace accounts {
inline constexpr std::string_view kTaxReceivable = "tax_receivable";
inline constexpr std::string_view kSuspense = "suspense";
inline constexpr std::string_view kPersonPrefix = "person/";
inline constexpr std::string_view kIndividualControlPrefix = "individual_accounts/";
inline constexpr std::string_view kPersonal = "personal";
std::string Person(std::string_view citizen_id, std::string_view source);
}  // namespace accounts

// The double-entry postings of an event (empty for non-money events). Every posting has a
// positive amount; each one debits and credits the same amount, so every event balances.
std::vector<v1::Posting> PostingsFor(const v1::EventEnvelope& event);

// Applies a committed (or replayed) event to the state. Invariant violations (a person bucket
// below zero, an event for an account that does not exist) crash: validation must have
// prevented them, and continuing would serve wrong balances. Non-OK only for storage reads.
absl::Status Apply(const v1::EventEnvelope& event, WorkingState& state);

}  // namespace ledger

#endif  // LEDGER_APPLY_H_
