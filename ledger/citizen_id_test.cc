#include "ledger/citizen_id.h"

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/time/civil_time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ledger/dates.h"

namespace ledger {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr std::string_view kBeijingId = "11010519491231002X";
constexpr std::string_view kStandardExampleId = "440524188001010014";
constexpr std::string_view kBadCheckId = "530102192005080119";

// An 18-character ID with the given area code (6 digits), birth date text (8 characters) and
// sequence (3 digits), ending in the correct GB 11643 check character.
std::string IdWithCheck(std::string_view area, std::string_view birth, std::string_view seq) {
  std::string first17 = std::string(area) + std::string(birth) + std::string(seq);
  return first17 + CitizenIdCheckChar(first17);
}

// --- CitizenIdCheckChar ---

TEST(CitizenIdCheckCharTest, KnownIds) {
  EXPECT_EQ(CitizenIdCheckChar(kBeijingId.substr(0, 17)), 'X');
  EXPECT_EQ(CitizenIdCheckChar(kStandardExampleId.substr(0, 17)), '4');
  // The real check character of 53010219200508011 is 'X', not the '9' the ID carries.
  EXPECT_EQ(CitizenIdCheckChar(kBadCheckId.substr(0, 17)), 'X');
}

TEST(CitizenIdCheckCharTest, AllZerosGivesOne) {
  // Weighted sum 0, 0 mod 11 indexes '1'.
  EXPECT_EQ(CitizenIdCheckChar("00000000000000000"), '1');
}

// --- ValidateCitizenId ---

TEST(ValidateCitizenIdTest, AcceptsValidIdWithUpperCaseX) {
  EXPECT_TRUE(ValidateCitizenId(kBeijingId).ok()) << ValidateCitizenId(kBeijingId);
}

TEST(ValidateCitizenIdTest, AcceptsValidIdWithDigitCheck) {
  const std::string id = IdWithCheck("440524", "19800101", "001");
  ASSERT_NE(id.back(), 'X');
  EXPECT_TRUE(ValidateCitizenId(id).ok()) << ValidateCitizenId(id);
}

// 440524188001010014 is the GB 11643 standard's own example (born 1880): the validator follows
// the standard, so it is valid; plausibility of age is a rule checked elsewhere.
TEST(ValidateCitizenIdTest, AcceptsTheStandardsOwnExampleBornIn1880) {
  EXPECT_TRUE(ValidateCitizenId(kStandardExampleId).ok()) << ValidateCitizenId(kStandardExampleId);
}

TEST(ValidateCitizenIdTest, RejectsWrongCheckDigit) {
  const absl::Status status = ValidateCitizenId(kBadCheckId);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("check digit"));
}

TEST(ValidateCitizenIdTest, RejectsEveryWrongCheckCharacter) {
  const std::string first17(kBeijingId.substr(0, 17));
  for (char c : std::string_view("0123456789X")) {
    if (c == 'X') continue;
    EXPECT_EQ(ValidateCitizenId(first17 + c).code(), absl::StatusCode::kInvalidArgument) << c;
  }
}

TEST(ValidateCitizenIdTest, RejectsLowerCaseX) {
  const std::string id = std::string(kBeijingId.substr(0, 17)) + "x";
  EXPECT_EQ(ValidateCitizenId(id).code(), absl::StatusCode::kInvalidArgument);
}

TEST(ValidateCitizenIdTest, RejectsWrongLength) {
  const std::string id(kBeijingId);
  for (const std::string& bad : {id.substr(0, 17), id + "0", std::string(), id.substr(0, 15)}) {
    const absl::Status status = ValidateCitizenId(bad);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(status.message(), HasSubstr("18 characters")) << bad;
  }
}

TEST(ValidateCitizenIdTest, RejectsNonDigitInFirst17) {
  const std::string id(kBeijingId);
  for (size_t pos : {0, 5, 9, 16}) {
    for (char c : {'A', 'X', ' ', '-', '/', ':'}) {
      std::string bad = id;
      bad[pos] = c;
      const absl::Status status = ValidateCitizenId(bad);
      EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << bad;
      EXPECT_THAT(status.message(), HasSubstr("non-digit")) << bad;
    }
  }
}

TEST(ValidateCitizenIdTest, RejectsNonDigitNonXCheckCharacter) {
  const std::string first17(kBeijingId.substr(0, 17));
  for (char c : {'A', 'Y', ' ', '\0'}) {
    EXPECT_EQ(ValidateCitizenId(first17 + c).code(), absl::StatusCode::kInvalidArgument);
  }
}

TEST(ValidateCitizenIdTest, RejectsImpossibleBirthDateEvenWithCorrectCheckChar) {
  for (std::string_view birth : {"19491301", "19490230", "19490229", "19490000", "19490100",
                                 "19490132", "19000229", "17991231", "00000101"}) {
    const std::string id = IdWithCheck("110105", birth, "002");
    const absl::Status status = ValidateCitizenId(id);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << id;
    EXPECT_THAT(status.message(), HasSubstr("birth date")) << id;
  }
}

TEST(ValidateCitizenIdTest, AcceptsEdgeBirthDates) {
  for (std::string_view birth : {"20000229", "19000101", "19961231", "20240229"}) {
    const std::string id = IdWithCheck("110105", birth, "002");
    EXPECT_TRUE(ValidateCitizenId(id).ok()) << id << ": " << ValidateCitizenId(id);
  }
}

TEST(ValidateCitizenIdTest, ErrorMessagesNeverContainTheRawId) {
  const std::string good(kBeijingId);
  std::string non_digit = good;
  non_digit[8] = 'A';
  const std::string bad_date = IdWithCheck("110105", "19491301", "002");
  const std::string lower_x = good.substr(0, 17) + "x";
  const std::string bad_check(kBadCheckId);
  for (const std::string& id : {non_digit, bad_date, lower_x, bad_check, good + "1"}) {
    const absl::Status status = ValidateCitizenId(id);
    ASSERT_FALSE(status.ok()) << id;
    const std::string message(status.message());
    EXPECT_THAT(message, Not(HasSubstr(id)));
    // The birth date (digits 7-14) is the sensitive middle: it must be masked too.
    EXPECT_THAT(message, Not(HasSubstr(id.substr(6, 8))));
  }
}

// --- CitizenIdBirthDate and AgeOn ---

TEST(CitizenIdBirthDateTest, ExtractsDigits7To14) {
  EXPECT_EQ(CitizenIdBirthDate(kBeijingId), absl::CivilDay(1949, 12, 31));
  EXPECT_EQ(CitizenIdBirthDate(IdWithCheck("110105", "20000229", "002")),
            absl::CivilDay(2000, 2, 29));
}

TEST(AgeOnTest, AroundBirthday) {
  const absl::CivilDay birth(1949, 12, 31);
  EXPECT_EQ(AgeOn(birth, birth), 0);
  EXPECT_EQ(AgeOn(birth, absl::CivilDay(1950, 12, 30)), 0);
  EXPECT_EQ(AgeOn(birth, absl::CivilDay(1950, 12, 31)), 1);
  EXPECT_EQ(AgeOn(birth, absl::CivilDay(2024, 12, 30)), 74);
  EXPECT_EQ(AgeOn(birth, absl::CivilDay(2024, 12, 31)), 75);
  EXPECT_EQ(AgeOn(birth, absl::CivilDay(2025, 1, 1)), 75);
}

TEST(AgeOnTest, SameMonthEarlierAndLaterDay) {
  const absl::CivilDay birth(1964, 6, 15);
  EXPECT_EQ(AgeOn(birth, absl::CivilDay(2024, 6, 14)), 59);
  EXPECT_EQ(AgeOn(birth, absl::CivilDay(2024, 6, 15)), 60);
  EXPECT_EQ(AgeOn(birth, absl::CivilDay(2024, 6, 16)), 60);
  EXPECT_EQ(AgeOn(birth, absl::CivilDay(2024, 5, 31)), 59);
  EXPECT_EQ(AgeOn(birth, absl::CivilDay(2024, 7, 1)), 60);
}

TEST(AgeOnTest, LeapDayBirthdayCompletesYearOnMarch1InCommonYears) {
  const absl::CivilDay birth(2000, 2, 29);
  EXPECT_EQ(AgeOn(birth, absl::CivilDay(2001, 2, 28)), 0);
  EXPECT_EQ(AgeOn(birth, absl::CivilDay(2001, 3, 1)), 1);
  EXPECT_EQ(AgeOn(birth, absl::CivilDay(2023, 2, 28)), 22);
  EXPECT_EQ(AgeOn(birth, absl::CivilDay(2023, 3, 1)), 23);
  EXPECT_EQ(AgeOn(birth, absl::CivilDay(2024, 2, 28)), 23);
  EXPECT_EQ(AgeOn(birth, absl::CivilDay(2024, 2, 29)), 24);
}

// --- MaskCitizenId ---

TEST(MaskCitizenIdTest, KeepsFirstFourAndLastFour) {
  EXPECT_EQ(MaskCitizenId("222401199001011234"), "2224**********1234");
  EXPECT_EQ(MaskCitizenId("22240119900101123X"), "2224**********123X");
  EXPECT_EQ(MaskCitizenId(kBeijingId), "1101**********002X");
}

TEST(MaskCitizenIdTest, OtherLengthsShowOnlyTheLength) {
  EXPECT_EQ(MaskCitizenId(""), "<0 chars>");
  EXPECT_EQ(MaskCitizenId("22240119900101123"), "<17 chars>");
  EXPECT_EQ(MaskCitizenId("2224011990010112345"), "<19 chars>");
  EXPECT_EQ(MaskCitizenId("abc"), "<3 chars>");
}

// --- dates.h ---

TEST(ParseDateTest, AcceptsRealDays) {
  EXPECT_EQ(ParseDate("2025-02-28").value(), absl::CivilDay(2025, 2, 28));
  EXPECT_EQ(ParseDate("2024-02-29").value(), absl::CivilDay(2024, 2, 29));
  EXPECT_EQ(ParseDate("2000-02-29").value(), absl::CivilDay(2000, 2, 29));
  EXPECT_EQ(ParseDate("1900-01-01").value(), absl::CivilDay(1900, 1, 1));
  EXPECT_EQ(ParseDate("2999-12-31").value(), absl::CivilDay(2999, 12, 31));
}

TEST(ParseDateTest, RejectsMalformedOrImpossible) {
  for (std::string_view text :
       {"2025-02-29",  "1900-02-29", "2024-13-01", "2024-00-10", "2024-04-31",  "2024-01-00",
        "2024-01-32",  "2024-1-01",  "2024-01-1",  "20240101",   " 2024-01-01", "2024-01-01 ",
        "2024-01-01x", "1899-12-31", "3000-01-01", "",           "2024/01/01",  "2024-01--1",
        "+024-01-01",  "2024-0a-01", "abcd-ef-gh"}) {
    const auto parsed = ParseDate(text);
    EXPECT_FALSE(parsed.ok()) << "'" << text << "' parsed as " << FormatDate(*parsed);
    if (!parsed.ok()) {
      EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << text;
    }
  }
}

TEST(FormatDateTest, ZeroPads) {
  EXPECT_EQ(FormatDate(absl::CivilDay(2024, 1, 5)), "2024-01-05");
  EXPECT_EQ(FormatDate(absl::CivilDay(1900, 12, 31)), "1900-12-31");
}

TEST(FormatDateTest, RoundTripsThroughParseDate) {
  for (absl::CivilDay day(2023, 1, 1); day <= absl::CivilDay(2025, 12, 31); ++day) {
    const std::string text = FormatDate(day);
    const auto parsed = ParseDate(text);
    ASSERT_TRUE(parsed.ok()) << text << ": " << parsed.status();
    EXPECT_EQ(*parsed, day) << text;
  }
}

TEST(BeijingDayTest, MidnightBeijingIsSixteenHundredUtc) {
  // 2025-01-01T00:00:00Z is 1735689600 s; Beijing midnight is eight hours earlier in UTC.
  constexpr int64_t kMicros = 1'000'000;
  constexpr int64_t k2024_12_31T16_00Z = (1735689600 - 8 * 3600) * kMicros;
  EXPECT_EQ(BeijingDay(k2024_12_31T16_00Z), absl::CivilDay(2025, 1, 1));
  EXPECT_EQ(BeijingDay(k2024_12_31T16_00Z - kMicros), absl::CivilDay(2024, 12, 31));
  EXPECT_EQ(BeijingDay(k2024_12_31T16_00Z - 1), absl::CivilDay(2024, 12, 31));
  EXPECT_EQ(BeijingDay(1735689600 * kMicros), absl::CivilDay(2025, 1, 1));
}

TEST(BeijingDayTest, AroundTheEpoch) {
  EXPECT_EQ(BeijingDay(0), absl::CivilDay(1970, 1, 1));
  // 1969-12-31T23:59:59.999999Z is already 1970-01-01 07:59 in Beijing.
  EXPECT_EQ(BeijingDay(-1), absl::CivilDay(1970, 1, 1));
  // 1969-12-31T15:59:59.999999Z is 1969-12-31 23:59 in Beijing.
  EXPECT_EQ(BeijingDay(-8LL * 3600 * 1'000'000 - 1), absl::CivilDay(1969, 12, 31));
}

}  // namespace
}  // namespace ledger
