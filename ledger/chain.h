// Chain verification over an EventLog: every event decodes, carries its own sequence and links
// to the SHA-256 of its predecessor's stored bytes; the last links to the recorded chain head.
#ifndef LEDGER_CHAIN_H_
#define LEDGER_CHAIN_H_

#include <cstdint>
#include <optional>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "ledger/event_log.h"
#include "ledger/ledger.h"
#include "ledger/types.h"

namespace ledger {

// The first break in the chain over [from, to] (to = 0: the head), or nullopt. OUT_OF_RANGE for
// a range outside [1, head]; a storage read failure is an error, not a break.
absl::StatusOr<std::optional<Ledger::ChainBreak>> FindBreak(const EventLog& log, uint64_t from,
                                                            uint64_t to, const ChainHead& head);

// FindBreak with a break as DATA_LOSS carrying its reason.
absl::Status VerifyRange(const EventLog& log, uint64_t from, uint64_t to, const ChainHead& head);

// The log's durable head is `head` (the projections' head, from meta): DATA_LOSS naming the
// mismatch otherwise.
absl::Status CheckAgainstHead(const EventLog& log, const ChainHead& head);

}  // namespace ledger

#endif  // LEDGER_CHAIN_H_
