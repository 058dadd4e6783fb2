// Citizen ID numbers (居民身份证号码, GB 11643-1999): the participant's social security number.
#ifndef LEDGER_CITIZEN_ID_H_
#define LEDGER_CITIZEN_ID_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"

namespace ledger {

// The GB 11643 check character for the first 17 digits: weights 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2,
// sum mod 11 indexes "10X98765432". `first17` must be 17 ASCII digits.
char CitizenIdCheckChar(std::string_view first17);

// OK when `id` is 18 characters: 17 digits, then a digit or upper-case 'X' equal to the check
// character, with a real birth date (digits 7–14, YYYYMMDD, year 1800 or later: the
// standard's own example 440524188001010014 is born in 1880). Otherwise
// INVALID_ARGUMENT saying which part is wrong (the ID itself is masked in the message).
absl::Status ValidateCitizenId(std::string_view id);

// Birth date encoded in a valid ID.
absl::CivilDay CitizenIdBirthDate(std::string_view valid_id);

// Completed years of age on `day`.
int AgeOn(absl::CivilDay birth, absl::CivilDay day);

// Masks an ID for logs and error messages: the first 4 and last 4 characters stay
// ("222401199001011234" → "2224**********1234"). Anything that is not 18 characters long is
// masked whole except its length.
std::string MaskCitizenId(std::string_view id);

}  // namespace ledger

#endif  // LEDGER_CITIZEN_ID_H_
