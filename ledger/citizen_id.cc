#include "ledger/citizen_id.h"

#include "absl/status/status.h"
#include "ledger/strings.h"

namespace ledger {
namespace {

constexpr int kWeights[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
constexpr char kCheckChars[] = "10X98765432";

int Digits(std::string_view s) {
  int v = 0;
  for (char c : s) v = v * 10 + (c - '0');
  return v;
}

}  // namespace

char CitizenIdCheckChar(std::string_view first17) {
  int sum = 0;
  for (int i = 0; i < 17; ++i) sum += (first17[i] - '0') * kWeights[i];
  return kCheckChars[sum % 11];
}

absl::Status ValidateCitizenId(std::string_view id) {
  if (id.size() != 18) {
    return absl::InvalidArgumentError(
        StrCat("citizen ID must be 18 characters, got ", id.size()));
  }
  for (int i = 0; i < 17; ++i) {
    if (id[i] < '0' || id[i] > '9') {
      return absl::InvalidArgumentError(StrCat("citizen ID ", MaskCitizenId(id),
                                                     " has a non-digit at position ", i + 1));
    }
  }
  const int year = Digits(id.substr(6, 4));
  const int month = Digits(id.substr(10, 2));
  const int day = Digits(id.substr(12, 2));
  const absl::CivilDay birth(year, month, day);
  if (year < 1800 || birth.year() != year || birth.month() != month || birth.day() != day) {
    return absl::InvalidArgumentError(
        StrCat("citizen ID ", MaskCitizenId(id), " encodes no valid birth date"));
  }
  const char expected = CitizenIdCheckChar(id.substr(0, 17));
  if (id[17] != expected) {
    return absl::InvalidArgumentError(
        StrCat("citizen ID ", MaskCitizenId(id), " fails the GB 11643 check digit"));
  }
  return absl::OkStatus();
}

absl::CivilDay CitizenIdBirthDate(std::string_view valid_id) {
  return absl::CivilDay(Digits(valid_id.substr(6, 4)), Digits(valid_id.substr(10, 2)),
                        Digits(valid_id.substr(12, 2)));
}

int AgeOn(absl::CivilDay birth, absl::CivilDay day) {
  int age = static_cast<int>(day.year() - birth.year());
  if (day.month() < birth.month() || (day.month() == birth.month() && day.day() < birth.day())) {
    --age;
  }
  return age;
}

std::string MaskCitizenId(std::string_view id) {
  if (id.size() != 18) return StrCat("<", id.size(), " chars>");
  return StrCat(id.substr(0, 4), std::string(10, '*'), id.substr(14, 4));
}

}  // namespace ledger
