#include "ledger/event_names.h"

namespace ledger {

std::string EventTypeName(const v1::EventEnvelope& e) {
  const auto* field = v1::EventEnvelope::descriptor()->FindFieldByNumber(e.event_case());
  return field ? field->name() : "none";
}

}  // namespace ledger
