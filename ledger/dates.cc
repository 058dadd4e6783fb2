#include "ledger/dates.h"

#include "absl/status/status.h"
#include "ledger/strings.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "ledger/status_macros.h"

namespace ledger {

absl::StatusOr<absl::CivilDay> ParseDate(std::string_view text) {
  auto bad = [&] {
    return absl::InvalidArgumentError(StrCat("date '", text, "' is not a valid YYYY-MM-DD"));
  };
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return bad();
  int parts[3] = {0, 0, 0};
  const std::pair<int, int> spans[3] = {{0, 4}, {5, 2}, {8, 2}};
  for (int p = 0; p < 3; ++p) {
    for (int i = spans[p].first; i < spans[p].first + spans[p].second; ++i) {
      if (text[i] < '0' || text[i] > '9') return bad();
      parts[p] = parts[p] * 10 + (text[i] - '0');
    }
  }
  const absl::CivilDay day(parts[0], parts[1], parts[2]);
  if (parts[0] < 1900 || parts[0] > 2999 || day.year() != parts[0] || day.month() != parts[1] ||
      day.day() != parts[2]) {
    return bad();
  }
  return day;
}

absl::CivilDay StoredDate(std::string_view text) {
  absl::StatusOr<absl::CivilDay> day = ParseDate(text);
  LEDGER_CHECK(day.ok(), StrCat("a recorded date does not parse: ", day.status().message()));
  return *day;
}

std::string FormatDate(absl::CivilDay day) {
  return absl::StrFormat("%04d-%02d-%02d", day.year(), day.month(), day.day());
}

bool IsValidMonth(int yyyymm) {
  const int year = yyyymm / 100, month = yyyymm % 100;
  return year >= 1900 && year <= 2999 && month >= 1 && month <= 12;
}

int MonthOf(absl::CivilDay day) { return static_cast<int>(day.year()) * 100 + day.month(); }

int NextMonth(int yyyymm) {
  return yyyymm % 100 == 12 ? (yyyymm / 100 + 1) * 100 + 1 : yyyymm + 1;
}

int PreviousMonth(int yyyymm) {
  return yyyymm % 100 == 1 ? (yyyymm / 100 - 1) * 100 + 12 : yyyymm - 1;
}

absl::CivilDay FirstDayOf(int yyyymm) { return absl::CivilDay(yyyymm / 100, yyyymm % 100, 1); }

absl::CivilDay LastDayOf(int yyyymm) { return FirstDayOf(NextMonth(yyyymm)) - 1; }

absl::CivilDay BeijingDay(int64_t unix_us) {
  static const absl::TimeZone kChinaStandardTime = absl::FixedTimeZone(8 * 60 * 60);
  return absl::ToCivilDay(absl::FromUnixMicros(unix_us), kChinaStandardTime);
}

}  // namespace ledger
