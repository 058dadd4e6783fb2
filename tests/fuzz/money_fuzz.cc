// Fuzzes the yuan → fen parser and the fen → yuan formatter (ledger/money.h).
//
// Properties:
//   - ParseYuanToFen agrees exactly with an independent reference (a regular grammar and
//     arbitrary-length arithmetic): accepted iff the text is digits, optionally '.' and one or two
//     digits, with a value of at most kAmountFenMax fen; and then the value is the same.
//   - A rejection is INVALID_ARGUMENT with a message.
//   - An accepted amount formats (FormatFen) as "<digits>.<2 digits>" and parses back to the same
//     fen; FormatFen(-x) is "-" + FormatFen(x).
//   - FormatFen of any int64 (read from the input's first bytes, INT64_MIN included) has the
//     shape -?D+.DD and, inside the parser's range, parses back to its magnitude.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "ledger/limits.h"
#include "ledger/money.h"
#include "ledger/strings.h"

namespace {

using ledger::StrCat;

bool AllDigits(std::string_view s) {
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// The reference: nullopt-like -1 when the text must be rejected, else the fen value.
int64_t ReferenceFen(std::string_view text) {
  const size_t dot = text.find('.');
  std::string_view whole = text.substr(0, dot);
  std::string_view frac = dot == std::string_view::npos ? std::string_view() : text.substr(dot + 1);
  if (whole.empty() || !AllDigits(whole)) return -1;
  if (dot != std::string_view::npos && (frac.empty() || frac.size() > 2 || !AllDigits(frac))) {
    return -1;
  }
  while (whole.size() > 1 && whole.front() == '0') whole.remove_prefix(1);
  // kAmountFenMax is 10^10 fen (10^8 yuan, 9 digits): longer numbers are too large anyway; stop
  // them before the arithmetic.
  if (whole.size() > 12) return -1;
  int64_t fen = 0;  // at most 10^14: no overflow
  for (char c : whole) fen = fen * 10 + (c - '0');
  fen *= 100;
  if (frac.size() >= 1) fen += (frac[0] - '0') * 10;
  if (frac.size() == 2) fen += frac[1] - '0';
  if (fen > ledger::kAmountFenMax) return -1;
  return fen;
}

// -?D+.DD
bool HasFormattedShape(std::string_view s) {
  if (s.starts_with('-')) s.remove_prefix(1);
  return s.size() >= 4 && s[s.size() - 3] == '.' && AllDigits(s.substr(0, s.size() - 3)) &&
         AllDigits(s.substr(s.size() - 2)) && (s.size() == 4 || s[0] != '0');
}

void CheckFormat(int64_t fen) {
  const std::string text = ledger::FormatFen(fen);
  FUZZ_CHECK(HasFormattedShape(text), StrCat("FormatFen(", fen, ") = '", text, "'"));
  FUZZ_CHECK((fen < 0) == text.starts_with('-'), StrCat("FormatFen(", fen, ") = '", text, "'"));
  const std::string_view magnitude = std::string_view(text).substr(fen < 0 ? 1 : 0);
  // |fen| as unsigned (INT64_MIN has no positive int64).
  const uint64_t abs = fen < 0 ? 0 - static_cast<uint64_t>(fen) : static_cast<uint64_t>(fen);
  if (abs <= static_cast<uint64_t>(ledger::kAmountFenMax)) {
    auto back = ledger::ParseYuanToFen(magnitude);
    FUZZ_CHECK(back.ok() && static_cast<uint64_t>(*back) == abs,
               StrCat("FormatFen(", fen, ") = '", text, "' does not parse back: ",
                      back.ok() ? std::to_string(*back) : std::string(back.status().message())));
  }
  if (fen != std::numeric_limits<int64_t>::min() && fen > 0) {
    FUZZ_CHECK(ledger::FormatFen(-fen) == StrCat("-", text),
               StrCat("FormatFen(-", fen, ") = '", ledger::FormatFen(-fen), "'"));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const int64_t expected = ReferenceFen(text);
  const auto parsed = ledger::ParseYuanToFen(text);
  if (expected < 0) {
    FUZZ_CHECK(!parsed.ok(), StrCat("accepted '", text, "' as ", parsed.ok() ? *parsed : 0));
    FUZZ_CHECK(absl::IsInvalidArgument(parsed.status()) && !parsed.status().message().empty(),
               parsed.status().ToString());
  } else {
    FUZZ_CHECK(parsed.ok(), StrCat("rejected '", text, "': ", parsed.status().ToString()));
    FUZZ_CHECK(*parsed == expected, StrCat("'", text, "' parsed as ", *parsed, ", expected ",
                                           expected));
    CheckFormat(*parsed);
  }

  // The formatter over the whole int64 range.
  if (size >= sizeof(int64_t)) {
    int64_t raw;
    std::memcpy(&raw, data, sizeof raw);
    CheckFormat(raw);
    CheckFormat(raw % (ledger::kAmountFenMax + 1));
  }
  return 0;
}
