#include "ledger/audit.h"

#include <openssl/evp.h>
#include <openssl/pem.h>

#include <optional>
#include <utility>

#include "ledger/hash.h"
#include "ledger/store.h"
#include "ledger/strings.h"

namespace ledger {
namespace {

constexpr std::string_view kCheckpointDomain = "ledger-checkpoint-v1\n";
constexpr uint32_t kRecordBytesMax = 64 * 1024 * 1024;

struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct PkeyDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyDeleter>;

std::unique_ptr<BIO, BioDeleter> MemBio(std::string_view pem) {
  return std::unique_ptr<BIO, BioDeleter>(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

}  // namespace

std::string CheckpointMessage(uint64_t sequence, std::string_view chain_hash) {
  return StrCat(kCheckpointDomain, keys::EncodeU64(sequence), chain_hash);
}

struct CheckpointSigner::Key {
  Pkey pkey;
};

CheckpointSigner::CheckpointSigner(std::unique_ptr<Key> key, std::string public_key_pem)
    : key_(std::move(key)), public_key_pem_(std::move(public_key_pem)) {}
CheckpointSigner::~CheckpointSigner() = default;

absl::StatusOr<std::unique_ptr<CheckpointSigner>> CheckpointSigner::FromPem(std::string_view pem) {
  auto bio = MemBio(pem);
  Pkey pkey(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!pkey || EVP_PKEY_get_base_id(pkey.get()) != EVP_PKEY_ED25519) {
    return absl::InvalidArgumentError("the checkpoint key is not a PEM Ed25519 private key");
  }
  std::unique_ptr<BIO, BioDeleter> out(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_PUBKEY(out.get(), pkey.get()) != 1) {
    return absl::InternalError("cannot write the checkpoint public key");
  }
  char* data = nullptr;
  const long size = BIO_get_mem_data(out.get(), &data);
  auto key = std::make_unique<Key>();
  key->pkey = std::move(pkey);
  return std::unique_ptr<CheckpointSigner>(
      new CheckpointSigner(std::move(key), std::string(data, static_cast<size_t>(size))));
}

std::string CheckpointSigner::Sign(std::string_view message) const {
  std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> ctx(EVP_MD_CTX_new());
  std::string signature(64, '\0');
  size_t size = signature.size();
  const bool ok =
      ctx && EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key_->pkey.get()) == 1 &&
      EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &size,
                     reinterpret_cast<const unsigned char*>(message.data()), message.size()) == 1;
  if (!ok || size != 64) {
    std::fprintf(stderr, "LEDGER INVARIANT FAILED: Ed25519 signing failed\n");
    std::abort();
  }
  return signature;
}

absl::Status VerifyCheckpointSignature(const v1::Checkpoint& checkpoint,
                                       std::string_view public_key_pem) {
  auto bio = MemBio(public_key_pem);
  Pkey pkey(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  if (!pkey || EVP_PKEY_get_base_id(pkey.get()) != EVP_PKEY_ED25519) {
    return absl::InvalidArgumentError("the public key is not a PEM Ed25519 public key");
  }
  const std::string message = CheckpointMessage(checkpoint.sequence(), checkpoint.chain_hash());
  std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> ctx(EVP_MD_CTX_new());
  const bool ok =
      ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, pkey.get()) == 1 &&
      EVP_DigestVerify(ctx.get(),
                       reinterpret_cast<const unsigned char*>(checkpoint.signature().data()),
                       checkpoint.signature().size(),
                       reinterpret_cast<const unsigned char*>(message.data()), message.size()) == 1;
  if (!ok) {
    return absl::DataLossError(StrCat("the signature of checkpoint ", checkpoint.sequence(),
                                      " does not verify with the public key"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<ExportWriter>> ExportWriter::Create(const std::string& path) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return absl::UnavailableError(StrCat("cannot create ", path));
  out.write(kExportMagic.data(), static_cast<std::streamsize>(kExportMagic.size()));
  return std::unique_ptr<ExportWriter>(new ExportWriter(std::move(out)));
}

absl::Status ExportWriter::Record(char type, std::string_view payload) {
  char header[5] = {type};
  const std::string length = keys::EncodeU32(static_cast<uint32_t>(payload.size()));
  std::copy(length.begin(), length.end(), header + 1);
  out_.write(header, sizeof header);
  out_.write(payload.data(), static_cast<std::streamsize>(payload.size()));
  if (!out_) return absl::UnavailableError("writing the export failed");
  return absl::OkStatus();
}

absl::Status ExportWriter::AddEvent(std::string_view stored) { return Record('E', stored); }

absl::Status ExportWriter::AddCheckpoint(const v1::Checkpoint& checkpoint) {
  return Record('C', checkpoint.SerializeAsString());
}

absl::Status ExportWriter::Finish() {
  out_.flush();
  out_.close();
  if (out_.fail()) return absl::UnavailableError("closing the export failed");
  return absl::OkStatus();
}

namespace {

// Why an export does not verify: the sequence to blame (0: none in particular) and the reason.
struct Failure {
  Failure(uint64_t sequence, std::string reason) : sequence(sequence), reason(std::move(reason)) {}
  uint64_t sequence;
  std::string reason;
};

// An event record: decodes, continues the sequence, links to `previous_hash`. Counts it in `v`.
std::optional<Failure> ReadEventRecord(const std::string& payload, ExportVerification& v,
                                       std::string& previous_hash) {
  const uint64_t after = v.last_sequence;
  v1::EventEnvelope e;
  if (!e.ParseFromString(payload)) {
    return Failure(after + 1, StrCat("event after sequence ", after, " does not decode"));
  }
  const uint64_t expected = v.events == 0 ? e.sequence() : after + 1;
  if (v.events == 0 && e.sequence() == 0) return Failure(0, "the first event has sequence 0");
  if (e.sequence() != expected) {
    return Failure(expected, StrCat("expected sequence ", expected, ", found ", e.sequence(),
                                    " (events missing or out of order)"));
  }
  if (v.events == 0 && e.sequence() == 1 && e.prev_hash() != std::string(32, '\0')) {
    return Failure(1, "event 1 does not start from the genesis hash");
  }
  if (v.events > 0 && e.prev_hash() != previous_hash) {
    return Failure(e.sequence(), StrCat("event ", e.sequence(),
                                        " does not link to the hash of event ", e.sequence() - 1,
                                        " (altered, or a neighbour was)"));
  }
  previous_hash = Sha256(payload);
  if (v.events == 0) v.first_sequence = e.sequence();
  ++v.events;
  v.last_sequence = e.sequence();
  return std::nullopt;
}

// A checkpoint record: right after the event it signs, over that event's hash, signed by the key.
std::optional<Failure> ReadCheckpointRecord(const std::string& payload, ExportVerification& v,
                                            const std::string& previous_hash,
                                            std::string_view public_key_pem) {
  const uint64_t after = v.last_sequence;
  v1::Checkpoint c;
  if (!c.ParseFromString(payload)) {
    return Failure(0, StrCat("checkpoint after sequence ", after, " does not decode"));
  }
  if (c.sequence() != v.last_sequence || v.events == 0) {
    return Failure(c.sequence(),
                   StrCat("checkpoint for sequence ", c.sequence(),
                          " is not right after its event (last event read: ", after, ")"));
  }
  if (c.chain_hash() != previous_hash) {
    return Failure(c.sequence(), StrCat("event ", c.sequence(),
                                        " does not hash to the signed checkpoint's chain hash"));
  }
  if (auto st = VerifyCheckpointSignature(c, public_key_pem); !st.ok()) {
    return Failure(c.sequence(), std::string(st.message()));
  }
  ++v.checkpoints;
  v.last_signed_sequence = c.sequence();
  return std::nullopt;
}

}  // namespace

ExportVerification VerifyExport(std::istream& in, std::string_view public_key_pem) {
  ExportVerification v;
  auto fail = [&](uint64_t sequence, std::string reason) {
    v.ok = false;
    v.bad_sequence = sequence;
    v.reason = std::move(reason);
    return v;
  };
  std::string magic(kExportMagic.size(), '\0');
  if (!in.read(magic.data(), static_cast<std::streamsize>(magic.size())) || magic != kExportMagic) {
    return fail(0, "not a ledger export (bad magic)");
  }
  std::string previous_hash;  // of the last event read; empty before the first
  std::string payload;
  for (;;) {
    char header[5];
    in.read(header, sizeof header);
    if (in.gcount() == 0 && in.eof()) break;
    const uint64_t after = v.last_sequence;
    if (in.gcount() != sizeof header) {
      return fail(after + 1, StrCat("truncated: a record header after sequence ", after, " is cut off"));
    }
    const uint32_t length = static_cast<uint32_t>(keys::DecodeU64(
        std::string(4, '\0') + std::string(header + 1, 4)));
    if (length > kRecordBytesMax) {
      return fail(after + 1, StrCat("record after sequence ", after, " claims ", length, " bytes"));
    }
    payload.resize(length);
    in.read(payload.data(), length);
    if (static_cast<uint32_t>(in.gcount()) != length) {
      return fail(after + 1, StrCat("truncated: the record after sequence ", after, " is cut off"));
    }
    std::optional<Failure> failure;
    if (header[0] == 'E') {
      failure = ReadEventRecord(payload, v, previous_hash);
    } else if (header[0] == 'C') {
      failure = ReadCheckpointRecord(payload, v, previous_hash, public_key_pem);
    } else {
      failure = Failure(after + 1, StrCat("unknown record type after sequence ", after));
    }
    if (failure) return fail(failure->sequence, std::move(failure->reason));
  }
  if (v.events == 0) return fail(0, "the export holds no events");
  if (v.checkpoints == 0) return fail(0, "the export holds no signed checkpoint: nothing ties it to the server's key");
  v.ok = true;
  return v;
}

}  // namespace ledger
