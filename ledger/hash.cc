#include "ledger/hash.h"

#include <openssl/sha.h>

#include "absl/strings/escaping.h"

namespace ledger {

std::string Sha256(std::string_view data) {
  std::string out(kHashBytes, '\0');
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(),
         reinterpret_cast<unsigned char*>(out.data()));
  return out;
}

const std::string& GenesisHash() {
  static const std::string kGenesis(kHashBytes, '\0');
  return kGenesis;
}

std::string HexEncode(std::string_view bytes) { return absl::BytesToHexString(absl::string_view(bytes.data(), bytes.size())); }

}  // namespace ledger
