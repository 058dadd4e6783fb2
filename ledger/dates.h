// Business dates: civil days written YYYY-MM-DD, in China Standard Time (UTC+8, no DST).
#ifndef LEDGER_DATES_H_
#define LEDGER_DATES_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"

namespace ledger {

// Parses exactly "YYYY-MM-DD" (zero-padded, years 1900–2999) naming a real day.
absl::StatusOr<absl::CivilDay> ParseDate(std::string_view text);

// A date read back from a recorded event or projection. It was validated before it was
// recorded, so one that does not parse is damage: a checked crash (LEDGER_CHECK), never
// undefined behaviour.
absl::CivilDay StoredDate(std::string_view text);

std::string FormatDate(absl::CivilDay day);

// Months are written as the integer YYYYMM (202511 = November 2025).
bool IsValidMonth(int yyyymm);  // years 1900–2999, months 1–12
int MonthOf(absl::CivilDay day);
int NextMonth(int yyyymm);
int PreviousMonth(int yyyymm);
absl::CivilDay FirstDayOf(int yyyymm);
absl::CivilDay LastDayOf(int yyyymm);

// The civil day in China Standard Time at `unix_us` microseconds since the epoch.
absl::CivilDay BeijingDay(int64_t unix_us);

}  // namespace ledger

#endif  // LEDGER_DATES_H_
