#include "ledger/text.h"

#include <cstdint>

namespace ledger {

std::string QuoteForDetail(std::string_view text) {
  constexpr size_t kShown = 32;
  std::string out = "'";
  for (char c : text.substr(0, kShown)) {
    const auto u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u == 0x7f || u >= 0x80) ? '?' : c;
  }
  out += text.size() > kShown ? "'…" : "'";
  return out;
}

bool IsCleanText(std::string_view text, size_t max_bytes) {
  if (text.size() > max_bytes) return false;
  size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    size_t len;
    uint32_t cp;
    if (c < 0x80) {
      if (c < 0x20 || c == 0x7f) return false;  // C0 controls and DEL
      ++i;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      len = 2, cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      len = 3, cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      len = 4, cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > text.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(text[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    // Reject overlong encodings, surrogates and code points beyond Unicode.
    constexpr uint32_t kMinForLen[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMinForLen[len] || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) return false;
    if (cp >= 0x80 && cp <= 0x9f) return false;  // C1 controls (U+0085 is a line break)
    i += len;
  }
  return true;
}

}  // namespace ledger
