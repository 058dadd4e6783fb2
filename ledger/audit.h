// The auditor's toolkit in the core: Ed25519 signed checkpoints, the export file format and its
// offline verification, and balances recomputed from the log as of a point in the past.
//
// Export file format (version 1), everything big-endian:
//   magic   "LEDGER-EXPORT-1\n" (16 bytes)
//   records until end of file, each: 1 type byte, u32 payload length, payload
//     'E'  an event: its exact stored bytes (the deterministic EventEnvelope serialization with
//          `hash` empty; the event's hash is SHA-256 of these bytes). Events come in sequence
//          order from sequence 1 (or from the exported range's start), without gaps.
//     'C'  a checkpoint: a serialized v1::Checkpoint, written after the event it signs.
// Verification needs only the file and the public key: every event must decode, carry the next
// sequence and link to its predecessor's hash; every checkpoint must name an event already read,
// carry that event's hash, and bear a valid Ed25519 signature over CheckpointMessage().
#ifndef LEDGER_AUDIT_H_
#define LEDGER_AUDIT_H_

#include <cstdint>
#include <fstream>
#include <istream>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "ledger/v1/events.pb.h"
#include "ledger/v1/records.pb.h"

namespace ledger {

// The bytes a checkpoint signs: "ledger-checkpoint-v1\n" + u64 BE sequence + 32-byte hash.
std::string CheckpointMessage(uint64_t sequence, std::string_view chain_hash);

// Signs checkpoints with an Ed25519 private key.
class CheckpointSigner {
 public:
  // From a PEM private key (PKCS#8, as `openssl genpkey -algorithm ed25519` writes it).
  static absl::StatusOr<std::unique_ptr<CheckpointSigner>> FromPem(std::string_view pem);
  ~CheckpointSigner();
  std::string Sign(std::string_view message) const;
  // The public key, PEM (SubjectPublicKeyInfo): what the deployment publishes.
  const std::string& public_key_pem() const { return public_key_pem_; }

 private:
  struct Key;
  explicit CheckpointSigner(std::unique_ptr<Key> key, std::string public_key_pem);
  std::unique_ptr<Key> key_;
  std::string public_key_pem_;
};

// OK if `checkpoint.signature` is a valid signature by `public_key_pem` over its message.
absl::Status VerifyCheckpointSignature(const v1::Checkpoint& checkpoint,
                                       std::string_view public_key_pem);

inline constexpr std::string_view kExportMagic = "LEDGER-EXPORT-1\n";

class ExportWriter {
 public:
  static absl::StatusOr<std::unique_ptr<ExportWriter>> Create(const std::string& path);
  absl::Status AddEvent(std::string_view stored);
  absl::Status AddCheckpoint(const v1::Checkpoint& checkpoint);
  absl::Status Finish();  // flushes and closes

 private:
  explicit ExportWriter(std::ofstream out) : out_(std::move(out)) {}
  absl::Status Record(char type, std::string_view payload);
  std::ofstream out_;
};

struct ExportVerification {
  bool ok = false;
  uint64_t events = 0;
  uint64_t first_sequence = 0;
  uint64_t last_sequence = 0;
  uint64_t checkpoints = 0;
  uint64_t last_signed_sequence = 0;  // events after it are hash-chained but not signed
  // When !ok: the first bad sequence (0 if the damage is not in an event) and why.
  uint64_t bad_sequence = 0;
  std::string reason;
};

ExportVerification VerifyExport(std::istream& in, std::string_view public_key_pem);

}  // namespace ledger

#endif  // LEDGER_AUDIT_H_
