// Ed25519 checkpoint signing (CheckpointSigner, VerifyCheckpointSignature) and
// the ledger's signed checkpoints. Keys are generated in code
// (ledger/testing/audit_fixture.h).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "ledger/audit.h"
#include "ledger/hash.h"
#include "ledger/ledger.h"
#include "ledger/strings.h"
#include "ledger/testing/audit_fixture.h"

namespace ledger::testing {
namespace {

using ::testing::HasSubstr;

// ---------------------------------------------------------------------------------------------
// CheckpointSigner and VerifyCheckpointSignature.

v1::Checkpoint SignedCheckpoint(const CheckpointSigner &signer,
                                uint64_t sequence, const std::string &hash) {
  v1::Checkpoint c;
  c.set_sequence(sequence);
  c.set_chain_hash(hash);
  c.set_signature(signer.Sign(CheckpointMessage(sequence, hash)));
  return c;
}

TEST(CheckpointSignerTest, MessageLayoutIsDomainThenBigEndianSequenceThenHash) {
  const std::string hash = Sha256("event bytes");
  const std::string m = CheckpointMessage(0x0102030405060708ull, hash);
  const std::string domain = "ledger-checkpoint-v1\n";
  ASSERT_EQ(m.size(), domain.size() + 8 + 32);
  EXPECT_EQ(m.substr(0, domain.size()), domain);
  EXPECT_EQ(m.substr(domain.size(), 8),
            std::string("\x01\x02\x03\x04\x05\x06\x07\x08", 8));
  EXPECT_EQ(m.substr(domain.size() + 8), hash);
}

TEST(CheckpointSignerTest, SignVerifyRoundTrip) {
  const TestKey key = GenerateKey();
  auto signer = CheckpointSigner::FromPem(key.private_pem);
  ASSERT_TRUE(signer.ok()) << signer.status();
  // The signer publishes exactly the public half of the key it was given.
  EXPECT_EQ((*signer)->public_key_pem(), key.public_pem);
  EXPECT_THAT((*signer)->public_key_pem(), HasSubstr("BEGIN PUBLIC KEY"));

  const std::string hash = Sha256("the 42nd event");
  const v1::Checkpoint c = SignedCheckpoint(**signer, 42, hash);
  EXPECT_EQ(c.signature().size(), 64u);
  EXPECT_TRUE(VerifyCheckpointSignature(c, key.public_pem).ok());
  // Ed25519 is deterministic: the same message signs to the same bytes.
  EXPECT_EQ((*signer)->Sign(CheckpointMessage(42, hash)), c.signature());

  // Every signed field is covered: changing any of them breaks the signature.
  v1::Checkpoint other_sequence = c;
  other_sequence.set_sequence(43);
  EXPECT_EQ(VerifyCheckpointSignature(other_sequence, key.public_pem).code(),
            absl::StatusCode::kDataLoss);
  v1::Checkpoint other_hash = c;
  other_hash.set_chain_hash(Sha256("another event"));
  EXPECT_EQ(VerifyCheckpointSignature(other_hash, key.public_pem).code(),
            absl::StatusCode::kDataLoss);
  v1::Checkpoint flipped = c;
  flipped.mutable_signature()->at(10) ^= 0x01;
  EXPECT_EQ(VerifyCheckpointSignature(flipped, key.public_pem).code(),
            absl::StatusCode::kDataLoss);
  v1::Checkpoint unsigned_checkpoint = c;
  unsigned_checkpoint.clear_signature();
  EXPECT_EQ(
      VerifyCheckpointSignature(unsigned_checkpoint, key.public_pem).code(),
      absl::StatusCode::kDataLoss);
  // signed_time_us is not signed (informational): changing it keeps the
  // signature valid.
  v1::Checkpoint later = c;
  later.set_signed_time_us(123);
  EXPECT_TRUE(VerifyCheckpointSignature(later, key.public_pem).ok());
}

TEST(CheckpointSignerTest, AnotherKeysSignatureDoesNotVerify) {
  const TestKey key = GenerateKey();
  const TestKey other = GenerateKey();
  ASSERT_NE(key.public_pem, other.public_pem);
  auto signer = CheckpointSigner::FromPem(key.private_pem);
  ASSERT_TRUE(signer.ok()) << signer.status();
  const v1::Checkpoint c = SignedCheckpoint(**signer, 7, Sha256("seven"));
  const absl::Status wrong = VerifyCheckpointSignature(c, other.public_pem);
  EXPECT_EQ(wrong.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(wrong.message()), HasSubstr("checkpoint 7"));
  EXPECT_TRUE(VerifyCheckpointSignature(c, key.public_pem).ok());
}

TEST(CheckpointSignerTest, NonEd25519AndGarbageKeysAreRejected) {
  const TestKey ec = GenerateKey("EC");
  ASSERT_FALSE(ec.private_pem.empty());
  const TestKey ed = GenerateKey();
  for (const std::string &pem :
       {ec.private_pem, std::string("garbage"), std::string(),
        std::string(
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"),
        ed.public_pem /* a public key is not a private key */}) {
    auto signer = CheckpointSigner::FromPem(pem);
    EXPECT_FALSE(signer.ok()) << pem;
    if (!signer.ok()) {
      EXPECT_EQ(signer.status().code(), absl::StatusCode::kInvalidArgument);
    }
  }
  // The verifier refuses a non-Ed25519 or unreadable public key.
  auto signer = CheckpointSigner::FromPem(ed.private_pem);
  ASSERT_TRUE(signer.ok()) << signer.status();
  const v1::Checkpoint c = SignedCheckpoint(**signer, 1, Sha256("one"));
  EXPECT_EQ(VerifyCheckpointSignature(c, ec.public_pem).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(VerifyCheckpointSignature(c, "not a key").code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(VerifyCheckpointSignature(c, ed.private_pem).code(),
            absl::StatusCode::kInvalidArgument);

  // A ledger configured with a bad key refuses to open.
  const auto dir = std::filesystem::temp_directory_path() /
                   StrCat("audit_test_badkey_", static_cast<int64_t>(getpid()));
  std::filesystem::remove_all(dir);
  auto opened = Ledger::Open({.data_dir = dir.string(),
                              .clock_us = Now,
                              .checkpoint_key_pem = ec.private_pem});
  EXPECT_FALSE(opened.ok());
  if (!opened.ok()) {
    EXPECT_EQ(opened.status().code(), absl::StatusCode::kInvalidArgument);
  }
  opened = absl::UnknownError("closed");
  std::filesystem::remove_all(dir);
}

TEST_F(CheckpointLedgerTest,
       CheckpointsAreSignedAtTheCommitsThatCrossEachInterval) {
  ASSERT_NO_FATAL_FAILURE(Build());
  // 5 (in the commit 4..6), 10 (10..11), 15 (12..18), 20 (a commit of its own).
  ASSERT_EQ(ExpectedCheckpoints(), (std::vector<uint64_t>{6, 11, 18, 20}));
  EXPECT_EQ(ledger_->CheckpointPublicKeyPem(), key_.public_pem);

  auto check = [&](const std::string &when) {
    SCOPED_TRACE(when);
    auto checkpoints = ledger_->Checkpoints(0, 0);
    ASSERT_TRUE(checkpoints.ok()) << checkpoints.status();
    EXPECT_EQ(Sequences(*checkpoints), ExpectedCheckpoints());
    for (const v1::Checkpoint &c : *checkpoints) {
      auto event = ledger_->ReadEvent(c.sequence());
      ASSERT_TRUE(event.ok()) << event.status();
      EXPECT_EQ(c.chain_hash(), event->hash()) << c.sequence();
      EXPECT_EQ(c.signed_time_us(), Now());
      EXPECT_TRUE(
          VerifyCheckpointSignature(c, ledger_->CheckpointPublicKeyPem()).ok())
          << c.sequence();
      EXPECT_TRUE(VerifyCheckpointSignature(c, key_.public_pem).ok())
          << c.sequence();
    }
    // Ranges: [from, to] inclusive, to = 0 without limit.
    EXPECT_EQ(Sequences(*ledger_->Checkpoints(7, 18)),
              (std::vector<uint64_t>{11, 18}));
    EXPECT_EQ(Sequences(*ledger_->Checkpoints(11, 11)),
              (std::vector<uint64_t>{11}));
    EXPECT_EQ(Sequences(*ledger_->Checkpoints(19, 0)),
              (std::vector<uint64_t>{20}));
    EXPECT_TRUE(ledger_->Checkpoints(21, 0)->empty());
    EXPECT_TRUE(ledger_->Checkpoints(1, 5)->empty());
  };
  check("as written");

  ledger_.reset();
  ASSERT_NO_FATAL_FAILURE(Open());
  check("after close and reopen");

  ledger_.reset();
  ASSERT_TRUE(Ledger::RebuildProjections(dir_.string()).ok());
  ASSERT_NO_FATAL_FAILURE(Open());
  check("after rebuilding the projections (checkpoints are not a projection)");

  // Opened without a key, the ledger still serves the checkpoints it signed but
  // signs no more.
  const std::string key = checkpoint_key_pem_;
  checkpoint_key_pem_.clear();
  ASSERT_NO_FATAL_FAILURE(Open());
  EXPECT_EQ(ledger_->CheckpointPublicKeyPem(), "");
  EXPECT_EQ(Sequences(*ledger_->Checkpoints(0, 0)), ExpectedCheckpoints());
  PushOk({AddRecord("M1", CitizenId(Birth(1980, 1, 1), 1), 2024, 10000,
                    "2024-03-01"),
          AddRecord("M2", CitizenId(Birth(1981, 2, 2), 2), 2024, 10000,
                    "2024-03-01")}); // 24..25
  EXPECT_EQ(Sequences(*ledger_->Checkpoints(0, 0)), ExpectedCheckpoints());

  // With the key again, signing resumes at the next crossing (30), measured
  // from the head.
  checkpoint_key_pem_ = key;
  ASSERT_NO_FATAL_FAILURE(Open());
  PushOk({AddRecord("M3", CitizenId(Birth(1982, 3, 3), 3), 2024, 10000,
                    "2024-03-01")}); // 26
  EXPECT_EQ(Sequences(*ledger_->Checkpoints(21, 0)), std::vector<uint64_t>{});
  std::vector<v1::CollectionRecord> more;
  for (int i = 0; i < 5; ++i) {
    more.push_back(AddRecord(StrCat("M", 10 + i),
                             CitizenId(Birth(1990, 1, 1 + i), 10 + i), 2024,
                             10000, "2024-05-01"));
  }
  PushOk(more); // 27..31
  EXPECT_EQ(Sequences(*ledger_->Checkpoints(21, 0)),
            (std::vector<uint64_t>{31}));
  EXPECT_TRUE(VerifyCheckpointSignature(ledger_->Checkpoints(31, 31)->at(0),
                                        key_.public_pem)
                  .ok());
}

TEST_F(AuditTest, NoKeyNoCheckpoints) {
  ASSERT_NO_FATAL_FAILURE(OpenFresh());
  for (int i = 0; i < 3; ++i)
    ASSERT_NO_FATAL_FAILURE(Enrol(CitizenId(Birth(1980, 1, 1 + i), i)));
  EXPECT_EQ(ledger_->CheckpointPublicKeyPem(), "");
  auto checkpoints = ledger_->Checkpoints(0, 0);
  ASSERT_TRUE(checkpoints.ok());
  EXPECT_TRUE(checkpoints->empty());
}

} // namespace
} // namespace ledger::testing
