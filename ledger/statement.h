// The annual account statement (对账单), built from the participant's events: opening balance by
// source, every movement of the year (from the event's own postings), closing balance.
#ifndef LEDGER_STATEMENT_H_
#define LEDGER_STATEMENT_H_

#include <map>
#include <string_view>
#include <vector>

#include "ledger/v1/events.pb.h"
#include "ledger/v1/records.pb.h"

namespace ledger {

// The event's change to each of the participant's funding sources, credit positive (from the
// event's own postings).
std::map<v1::FundingSource, int64_t> PersonDeltas(const v1::EventEnvelope& event,
                                                  std::string_view citizen_id);

// `events`: every event naming the participant, in sequence order.
v1::Statement BuildStatement(const v1::Account& account,
                             const std::vector<v1::EventEnvelope>& events, int year);

}  // namespace ledger

#endif  // LEDGER_STATEMENT_H_
