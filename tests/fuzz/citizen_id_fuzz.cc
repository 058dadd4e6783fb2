// Fuzzes citizen ID validation (ledger/citizen_id.h).
//
// Properties:
//   - ValidateCitizenId agrees with an independent reference: 18 characters, 17 ASCII digits, a
//     real birth date (year ≥ 1800) in digits 7–14, and the ISO 7064 MOD 11-2 check character,
//     computed here from its definition (weight of position i is 2^(17-i) mod 11, check value
//     (12 − sum mod 11) mod 11, 10 written 'X') rather than from the ledger's weight table.
//   - A rejection is INVALID_ARGUMENT and never shows the ID (masked in the message).
//   - For a valid ID: CitizenIdCheckChar(first 17) is its last character; the birth date is the
//     digits'; age 0 on the birth day, 1 a year later, −1 … never; MaskCitizenId keeps 4 + 4.
//   - Every single-digit substitution and every adjacent transposition of the first 17 digits of
//     a valid ID makes it invalid (what MOD 11-2 guarantees).
//   - MaskCitizenId of anything never contains the middle of an 18-character ID.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "absl/time/civil_time.h"
#include "fuzz_check.h"
#include "ledger/citizen_id.h"
#include "ledger/strings.h"

namespace {

using ledger::StrCat;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

char ReferenceCheckChar(std::string_view first17) {
  int sum = 0;
  for (int i = 0; i < 17; ++i) {
    int weight = 1;
    for (int k = 0; k < 17 - i; ++k) weight = weight * 2 % 11;
    sum += (first17[i] - '0') * weight;
  }
  const int check = (12 - sum % 11) % 11;
  return check == 10 ? 'X' : static_cast<char>('0' + check);
}

bool ReferenceDateOk(std::string_view id) {
  const int year = std::stoi(std::string(id.substr(6, 4)));
  const int month = std::stoi(std::string(id.substr(10, 2)));
  const int day = std::stoi(std::string(id.substr(12, 2)));
  if (year < 1800 || month < 1 || month > 12 || day < 1) return false;
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return day <= kDays[month - 1] + (month == 2 && leap ? 1 : 0);
}

bool ReferenceValid(std::string_view id) {
  if (id.size() != 18) return false;
  for (int i = 0; i < 17; ++i) {
    if (!IsDigit(id[i])) return false;
  }
  return ReferenceDateOk(id) && id[17] == ReferenceCheckChar(id.substr(0, 17));
}

std::string Printable(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7f) {
      out.push_back(static_cast<char>(c));
    } else {
      out += StrCat("\\x", "0123456789abcdef"[c >> 4], "0123456789abcdef"[c & 15]);
    }
  }
  return out;
}

void CheckValidId(const std::string& id) {
  FUZZ_CHECK(ledger::CitizenIdCheckChar(std::string_view(id).substr(0, 17)) == id[17], id);
  const absl::CivilDay birth = ledger::CitizenIdBirthDate(id);
  FUZZ_CHECK(birth.year() == std::stoi(id.substr(6, 4)) &&
                 birth.month() == std::stoi(id.substr(10, 2)) &&
                 birth.day() == std::stoi(id.substr(12, 2)),
             StrCat(id, " birth date"));
  FUZZ_CHECK(ledger::AgeOn(birth, birth) == 0, StrCat(id, " age on the birth day"));
  FUZZ_CHECK(ledger::AgeOn(birth, birth - 1) == -1, StrCat(id, " age the day before birth"));
  const absl::CivilDay first_birthday(birth.year() + 1, birth.month(), birth.day());
  FUZZ_CHECK(ledger::AgeOn(birth, first_birthday) == 1, StrCat(id, " age on the first birthday"));
  FUZZ_CHECK(ledger::AgeOn(birth, absl::CivilDay(birth.year() + 60, 12, 31)) == 60,
             StrCat(id, " age at the end of the 60th year"));
  const std::string masked = ledger::MaskCitizenId(id);
  FUZZ_CHECK(masked == StrCat(id.substr(0, 4), "**********", id.substr(14)),
             StrCat(id, " masked as ", masked));

  // MOD 11-2 catches every single substitution and every adjacent transposition.
  for (size_t i = 0; i < 17; ++i) {
    std::string changed = id;
    changed[i] = static_cast<char>('0' + (id[i] - '0' + 1) % 10);
    FUZZ_CHECK(!ledger::ValidateCitizenId(changed).ok(),
               StrCat(changed, " (", id, " with digit ", i + 1, " changed) is valid"));
    if (i + 1 < 17 && id[i] != id[i + 1]) {
      std::string swapped = id;
      std::swap(swapped[i], swapped[i + 1]);
      FUZZ_CHECK(!ledger::ValidateCitizenId(swapped).ok(),
                 StrCat(swapped, " (", id, " with digits ", i + 1, ",", i + 2,
                        " swapped) is valid"));
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string id(reinterpret_cast<const char*>(data), size);
  const absl::Status status = ledger::ValidateCitizenId(id);
  const bool expected = ReferenceValid(id);
  FUZZ_CHECK(status.ok() == expected,
             StrCat("'", Printable(id), "': ledger says ", status.ToString(), ", reference says ",
                    expected ? "valid" : "invalid"));
  if (status.ok()) {
    CheckValidId(id);
  } else {
    FUZZ_CHECK(absl::IsInvalidArgument(status), status.ToString());
    // The message masks the ID. (Only checked when the ID is 17 digits + 1: then no part of the
    // message's fixed text can spell it.)
    bool digits = id.size() == 18;
    for (size_t i = 0; digits && i < 17; ++i) digits = IsDigit(id[i]);
    if (digits) {
      FUZZ_CHECK(status.message().find(id.substr(4, 10)) == absl::string_view::npos,
                 StrCat("the message shows the ID: ", Printable(std::string(status.message()))));
    }
  }
  // Masking never shows the middle ten characters of an 18-character ID.
  const std::string masked = ledger::MaskCitizenId(id);
  if (id.size() == 18) {
    FUZZ_CHECK(masked.size() == 18 && masked.substr(4, 10) == "**********",
               StrCat("'", Printable(id), "' masked as '", Printable(masked), "'"));
  } else {
    FUZZ_CHECK(masked == StrCat("<", id.size(), " chars>"), Printable(masked));
  }
  return 0;
}
