#include "ledger/command_checks.h"

#include <algorithm>

#include "ledger/citizen_id.h"
#include "ledger/dates.h"
#include "ledger/limits.h"
#include "ledger/policy.h"
#include "ledger/text.h"
#include "ledger/strings.h"
#include "ledger/working_state.h"

namespace ledger::command {
namespace {

// "PARTICIPANT_STATUS_DRAWING_PENSION" → "drawing pension".
std::string StatusName(v1::ParticipantStatus s) {
  std::string name = v1::ParticipantStatus_Name(s).substr(sizeof("PARTICIPANT_STATUS_") - 1);
  std::transform(name.begin(), name.end(), name.begin(), [](char c) { return c == '_' ? ' ' : c | 0x20; });
  return name;
}

}  // namespace

Rejection UnknownParticipant(std::string_view citizen_id) {
  return Reject(v1::REASON_UNKNOWN_PARTICIPANT, StrCat(MaskCitizenId(citizen_id), " is not enrolled"));
}

Rejection WrongState(const v1::Account& account, std::string_view needs) {
  return Reject(v1::REASON_WRONG_STATE, StrCat(MaskCitizenId(account.citizen_id()), " is ",
                                               StatusName(account.status()), "; ", needs));
}

bool IsReference(std::string_view s) {
  if (s.empty() || s.size() > kDocumentRefBytesMax) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x21 && c <= 0x7e; });
}

bool IsRegionCode(std::string_view s) {
  return s.size() == 6 && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

Check CheckDate(std::string_view text, std::string_view field, absl::CivilDay today,
                absl::CivilDay& out) {
  auto date = ParseDate(text);
  if (!date.ok()) {
    return Reject(v1::REASON_INVALID_DATE, StrCat(field, " ", QuoteForDetail(text), " is not YYYY-MM-DD"));
  }
  if (*date > today) {
    return Reject(v1::REASON_DATE_IN_FUTURE,
                  StrCat(field, " ", text, " is after today ", FormatDate(today)));
  }
  out = *date;
  return std::nullopt;
}

Check CheckAmount(int64_t amount_fen, int64_t max_fen) {
  if (amount_fen <= 0) {
    return Reject(v1::REASON_AMOUNT_NOT_POSITIVE, StrCat("amount_fen must be > 0, got ", amount_fen));
  }
  if (amount_fen > max_fen) {
    return Reject(v1::REASON_INVALID_FIELD, StrCat("amount_fen above ", max_fen));
  }
  return std::nullopt;
}

v1::EventEnvelope Envelope(std::string_view region, absl::CivilDay date, std::string_view ref,
                           uint32_t policy_version) {
  return Envelope(region, FormatDate(date), ref, policy_version);
}

v1::EventEnvelope Envelope(std::string_view region, std::string_view date_text,
                           std::string_view ref, uint32_t policy_version) {
  v1::EventEnvelope e;
  e.set_effective_date(std::string(date_text));
  e.set_region_code(std::string(region));
  e.set_external_ref(std::string(ref));
  e.set_policy_version(policy_version);
  return e;
}

Decided<const v1::Policy*> PolicyFor(const WorkingState& state, std::string_view region,
                                     absl::CivilDay date) {
  if (!state.policies().HasRegion(region)) {
    return Reject(v1::REASON_UNKNOWN_REGION,
                  StrCat("no policy adopted for region ", QuoteForDetail(region)));
  }
  const v1::Policy* p = state.policies().InForce(region, date);
  if (p == nullptr) {
    return Reject(v1::REASON_NO_POLICY_IN_FORCE,
                  StrCat("region ", region, " has no policy in force on ", FormatDate(date)));
  }
  return p;
}

}  // namespace ledger::command
