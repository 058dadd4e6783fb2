// The small value types every layer of the core shares: a business rejection, a command's
// result, the chain head and the appender the writer hands to the rules. This header includes
// nothing of the ledger's own, so any module may include it without pulling in the facade.
#ifndef LEDGER_TYPES_H_
#define LEDGER_TYPES_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "ledger/v1/events.pb.h"
#include "ledger/v1/records.pb.h"

namespace ledger {

// A command's business rejection: a typed reason (checked in a documented order) and a message
// with personal data masked. A rejected command changes nothing.
struct Rejection {
  v1::Reason reason = v1::REASON_UNSPECIFIED;
  std::string detail;
};

// The one way to make a Rejection.
inline Rejection Reject(v1::Reason reason, std::string detail) {
  return Rejection{reason, std::move(detail)};
}

// Result of a single command (enrol, adopt policy, a lifecycle command).
struct CommandResult {
  // Sequence of the (first) event that records the command: new, or the original's if
  // `duplicate`.
  uint64_t sequence = 0;
  // Sequence of its last event (lifecycle commands may record several in one commit).
  uint64_t last_sequence = 0;
  bool duplicate = false;
  // Set when the command was rejected; then `sequence` is 0.
  std::optional<Rejection> rejection;
};

struct ChainHead {
  uint64_t sequence = 0;   // last committed sequence; 0 for an empty log
  std::string hash;        // SHA-256 of that event's stored bytes (genesis: 32 zero bytes)
};

// Appends an event (the writer stamps actor and time) and returns its sequence.
using Appender = std::function<absl::StatusOr<uint64_t>(v1::EventEnvelope)>;

}  // namespace ledger

#endif  // LEDGER_TYPES_H_
