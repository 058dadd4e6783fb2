// SHA-256 for the event hash chain (OpenSSL).
#ifndef LEDGER_HASH_H_
#define LEDGER_HASH_H_

#include <string>
#include <string_view>

namespace ledger {

inline constexpr size_t kHashBytes = 32;

// SHA-256 of `data`, 32 raw bytes.
std::string Sha256(std::string_view data);

// The predecessor hash of sequence 1: 32 zero bytes.
const std::string& GenesisHash();

// Lower-case hex, for display.
std::string HexEncode(std::string_view bytes);

}  // namespace ledger

#endif  // LEDGER_HASH_H_
