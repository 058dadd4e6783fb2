#include "ledger/money.h"

#include "absl/status/status.h"
#include "ledger/strings.h"
#include "ledger/limits.h"

namespace ledger {

absl::StatusOr<int64_t> ParseYuanToFen(std::string_view text) {
  if (text.empty()) return absl::InvalidArgumentError("amount is empty");
  const size_t dot = text.find('.');
  const std::string_view whole = text.substr(0, dot);
  const std::string_view frac =
      dot == std::string_view::npos ? std::string_view() : text.substr(dot + 1);
  auto all_digits = [](std::string_view s) {
    for (char c : s) {
      if (c < '0' || c > '9') return false;
    }
    return true;
  };
  if (whole.empty() || !all_digits(whole) || !all_digits(frac) ||
      (dot != std::string_view::npos && frac.empty())) {
    return absl::InvalidArgumentError(
        StrCat("amount '", text, "' is not a plain decimal number of yuan"));
  }
  if (frac.size() > 2) {
    return absl::InvalidArgumentError(
        StrCat("amount '", text, "' has more than two decimals (fen)"));
  }
  // Digits beyond 12 in the whole part already exceed kAmountFenMax; stop before overflow.
  constexpr int64_t kWholeYuanMax = kAmountFenMax / 100;
  int64_t yuan = 0;
  for (char c : whole) {
    yuan = yuan * 10 + (c - '0');
    if (yuan > kWholeYuanMax) {
      return absl::InvalidArgumentError(StrCat("amount '", text, "' is too large"));
    }
  }
  int64_t fen = 0;
  if (!frac.empty()) fen += (frac[0] - '0') * 10;
  if (frac.size() == 2) fen += frac[1] - '0';
  const int64_t total = yuan * 100 + fen;
  if (total > kAmountFenMax) {
    return absl::InvalidArgumentError(StrCat("amount '", text, "' is too large"));
  }
  return total;
}

std::string FormatFen(int64_t fen) {
  // Work on the magnitude as unsigned so INT64_MIN formats too.
  const bool negative = fen < 0;
  const uint64_t magnitude = negative ? 0 - static_cast<uint64_t>(fen) : static_cast<uint64_t>(fen);
  const uint64_t cents = magnitude % 100;
  return StrCat(negative ? "-" : "", magnitude / 100, ".", cents < 10 ? "0" : "", cents);
}

}  // namespace ledger
