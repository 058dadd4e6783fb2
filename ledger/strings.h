// String concatenation over std types. Debian's abseil is built with its own absl::string_view
// (ABSL_OPTION_USE_STD_STRING_VIEW 0), so absl::StrCat does not accept std::string_view; this is
// the one replacement, for the std types the ledger uses.
#ifndef LEDGER_STRINGS_H_
#define LEDGER_STRINGS_H_

#include <concepts>
#include <string>
#include <string_view>

#include "absl/strings/string_view.h"

namespace ledger {
namespace strings_internal {
inline void Append(std::string& out, const std::string& s) { out.append(s); }
inline void Append(std::string& out, std::string_view s) { out.append(s); }
inline void Append(std::string& out, const char* s) { out.append(s); }
inline void Append(std::string& out, absl::string_view s) { out.append(s.data(), s.size()); }
inline void Append(std::string& out, char c) { out.push_back(c); }
template <std::integral T>
  requires(!std::same_as<T, char> && !std::same_as<T, bool>)
void Append(std::string& out, T v) {
  out.append(std::to_string(v));
}
// No floating point: it would otherwise convert silently to `char` (money is integer fen; format
// other figures explicitly).
template <std::floating_point T>
void Append(std::string& out, T v) = delete;
}  // namespace strings_internal

template <typename... Args>
std::string StrCat(const Args&... args) {
  std::string out;
  (strings_internal::Append(out, args), ...);
  return out;
}

}  // namespace ledger

#endif  // LEDGER_STRINGS_H_
