// Caller-supplied text: what a field may hold, and how a rejection's detail quotes it. A leaf:
// it includes nothing of the ledger's own.
#ifndef LEDGER_TEXT_H_
#define LEDGER_TEXT_H_

#include <cstddef>
#include <string>
#include <string_view>

namespace ledger {

// True when `text` is valid UTF-8 without control characters and at most `max_bytes` long.
bool IsCleanText(std::string_view text, size_t max_bytes);
// Caller text for a rejection's detail: at most 32 bytes, quoted, anything but printable ASCII
// shown as '?', so a detail never carries control characters or a whole hostile field.
std::string QuoteForDetail(std::string_view text);

}  // namespace ledger

#endif  // LEDGER_TEXT_H_
