// The name of an event's type, as the log listing, the metrics and the auditor's filters show it:
// the envelope's oneof field name ("contribution_collected").
#ifndef LEDGER_EVENT_NAMES_H_
#define LEDGER_EVENT_NAMES_H_

#include <string>

#include "ledger/v1/events.pb.h"

namespace ledger {

// "none" for an envelope without an event.
std::string EventTypeName(const v1::EventEnvelope& event);

}  // namespace ledger

#endif  // LEDGER_EVENT_NAMES_H_
