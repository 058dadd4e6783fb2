#include "ledger/hash.h"

#include <openssl/evp.h>

#include <memory>

#include "ledger/status_macros.h"

#include "absl/strings/escaping.h"

namespace ledger {

// OpenSSL 3's one-shot SHA256() looks the algorithm up (EVP_MD_fetch) on every call, which
// showed in the write path's profile: fetch it once, and keep one digest context per thread.
std::string Sha256(std::string_view data) {
  static EVP_MD* const kSha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  thread_local const std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> context(
      EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  std::string out(kHashBytes, '\0');
  unsigned int size = 0;
  const bool ok = kSha256 != nullptr && context != nullptr &&
                  EVP_DigestInit_ex(context.get(), kSha256, nullptr) == 1 &&
                  EVP_DigestUpdate(context.get(), data.data(), data.size()) == 1 &&
                  EVP_DigestFinal_ex(context.get(), reinterpret_cast<unsigned char*>(out.data()),
                                     &size) == 1;
  LEDGER_CHECK(ok && size == kHashBytes, "SHA-256 failed");
  return out;
}

const std::string& GenesisHash() {
  static const std::string kGenesis(kHashBytes, '\0');
  return kGenesis;
}

std::string HexEncode(std::string_view bytes) { return absl::BytesToHexString(absl::string_view(bytes.data(), bytes.size())); }

}  // namespace ledger
