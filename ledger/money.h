// Money is integer fen (1 yuan = 100 fen) in an int64, everywhere. These are the only two
// conversions between text and fen; neither goes through floating point.
#ifndef LEDGER_MONEY_H_
#define LEDGER_MONEY_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace ledger {

// Parses a yuan amount written as plain decimal text into fen, exactly.
// Accepted: one or more digits, optionally '.' and one or two digits ("200", "200.5", "200.50").
// Rejected with INVALID_ARGUMENT and a reason: empty, a sign ("-5", "+5"), an exponent ("1e3"),
// more than two decimals ("1.234"), a bare or leading/trailing '.', any other character, or more
// than kAmountFenMax fen. Zero parses ("0.00" → 0); whether zero is allowed is a rule, not syntax.
absl::StatusOr<int64_t> ParseYuanToFen(std::string_view text);

// Formats fen as yuan with exactly two decimals: 123456 → "1234.56", -5 → "-0.05".
std::string FormatFen(int64_t fen);

}  // namespace ledger

#endif  // LEDGER_MONEY_H_
