// The auditor's toolkit in the core: Ed25519 checkpoint signing, the ledger's signed checkpoints,
// the export file and its offline verification (with every kind of tampering), chain breaks in
// the stored log, balances recomputed as of a sequence or a date, and the replay comparison of
// every projection against the log.
//
// Keys are generated in code (OpenSSL), never read from files. The clock is fixed at 2026-11-20
// and the policy is the "paper" policy of lifecycle_test.cc.
#include "ledger/audit.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/time.h"
#include "ledger/account.h"
#include "ledger/apply.h"
#include "ledger/citizen_id.h"
#include "ledger/hash.h"
#include "ledger/ledger.h"
#include "ledger/store.h"
#include "ledger/strings.h"
#include "ledger/working_state.h"

namespace ledger {
namespace {

using ::testing::AnyOf;
using ::testing::HasSubstr;

constexpr char kRegion[] = "222401";
constexpr char kRegion2[] = "222402";
constexpr char kActor[] = "CN=auditor-test";

int64_t Now() {
  return absl::ToUnixMicros(
      absl::FromCivil(absl::CivilSecond(2026, 11, 20, 12, 0, 0), absl::UTCTimeZone()));
}

// ---------------------------------------------------------------------------------------------
// Keys generated in code.

struct TestKey {
  std::string private_pem;
  std::string public_pem;
};

std::string BioText(BIO* bio) {
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(size));
}

// type: "ED25519" or "EC" (P-256), the latter to prove a non-Ed25519 key is refused.
TestKey GenerateKey(const char* type = "ED25519") {
  EVP_PKEY* pkey = std::string_view(type) == "EC"
                       ? EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256")
                       : EVP_PKEY_Q_keygen(nullptr, nullptr, type);
  if (pkey == nullptr) {
    ADD_FAILURE() << "key generation failed for " << type;
    return {};
  }
  TestKey key;
  BIO* priv = BIO_new(BIO_s_mem());
  BIO* pub = BIO_new(BIO_s_mem());
  EXPECT_EQ(PEM_write_bio_PrivateKey(priv, pkey, nullptr, nullptr, 0, nullptr, nullptr), 1);
  EXPECT_EQ(PEM_write_bio_PUBKEY(pub, pkey), 1);
  key.private_pem = BioText(priv);
  key.public_pem = BioText(pub);
  BIO_free(priv);
  BIO_free(pub);
  EVP_PKEY_free(pkey);
  return key;
}

// ---------------------------------------------------------------------------------------------
// CheckpointSigner and VerifyCheckpointSignature.

v1::Checkpoint SignedCheckpoint(const CheckpointSigner& signer, uint64_t sequence,
                                const std::string& hash) {
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
  EXPECT_EQ(m.substr(domain.size(), 8), std::string("\x01\x02\x03\x04\x05\x06\x07\x08", 8));
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
  EXPECT_EQ(VerifyCheckpointSignature(flipped, key.public_pem).code(), absl::StatusCode::kDataLoss);
  v1::Checkpoint unsigned_checkpoint = c;
  unsigned_checkpoint.clear_signature();
  EXPECT_EQ(VerifyCheckpointSignature(unsigned_checkpoint, key.public_pem).code(),
            absl::StatusCode::kDataLoss);
  // signed_time_us is not signed (informational): changing it keeps the signature valid.
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
  for (const std::string& pem :
       {ec.private_pem, std::string("garbage"), std::string(),
        std::string("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"),
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
  EXPECT_EQ(VerifyCheckpointSignature(c, ec.public_pem).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(VerifyCheckpointSignature(c, "not a key").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(VerifyCheckpointSignature(c, ed.private_pem).code(),
            absl::StatusCode::kInvalidArgument);

  // A ledger configured with a bad key refuses to open.
  const auto dir = std::filesystem::temp_directory_path() /
                   StrCat("audit_test_badkey_", static_cast<int64_t>(getpid()));
  std::filesystem::remove_all(dir);
  auto opened = Ledger::Open(
      {.data_dir = dir.string(), .clock_us = Now, .checkpoint_key_pem = ec.private_pem});
  EXPECT_FALSE(opened.ok());
  if (!opened.ok()) {
    EXPECT_EQ(opened.status().code(), absl::StatusCode::kInvalidArgument);
  }
  opened = absl::UnknownError("closed");
  std::filesystem::remove_all(dir);
}

// ---------------------------------------------------------------------------------------------
// A ledger with the paper policy, a fixed clock and (optionally) a checkpoint key.

v1::Policy PaperPolicy(const std::string& region = kRegion) {
  v1::Policy p;
  p.set_region_code(region);
  p.set_region_name("test");
  p.set_version(1);
  p.set_effective_from("2009-01-01");
  p.set_account_pension_divisor(139);
  p.set_scheme_start_year(2009);
  p.set_collective_requires_contribution(true);
  p.set_back_pay_on_resumption(true);
  p.set_exhausted_account_payer("pooled_account_pension");
  for (int year = 2009; year <= 2026; ++year) {
    auto* y = p.add_years();
    y->set_year(year);
    auto* t = y->add_tiers();
    t->set_amount_fen(10000);
    t->set_government_subsidy_fen(3000);
    t = y->add_tiers();
    t->set_amount_fen(50000);
    t->set_government_subsidy_fen(6000);
    y->set_highest_tier_fen(200000);
    y->set_interest_rate_bp(150);
  }
  auto* b = p.add_basic_pension();
  b->set_effective_from("2009-01-01");
  b->set_central_monthly_fen(8800);
  p.mutable_funeral_subsidy()->set_fixed_fen(120000);
  p.mutable_funeral_subsidy()->set_basic_pension_months(10);
  return p;
}

// A valid citizen ID of region kRegion born on `birth` (YYYYMMDD).
std::string Id(const std::string& birth, int sequence) {
  char seq[16];
  std::snprintf(seq, sizeof seq, "%03d", sequence % 1000);
  const std::string first17 = StrCat(kRegion, birth, seq);
  return first17 + CitizenIdCheckChar(first17);
}

std::string Birth(int year, int month, int day) {
  char buffer[48];
  std::snprintf(buffer, sizeof buffer, "%04d%02d%02d", year, month, day);
  return buffer;
}

std::string Date(int year, int month, int day) {
  char buffer[48];
  std::snprintf(buffer, sizeof buffer, "%04d-%02d-%02d", year, month, day);
  return buffer;
}

v1::CollectionRecord AddRecord(const std::string& receipt, const std::string& id, int year,
                               int64_t fen, const std::string& date) {
  v1::CollectionRecord r;
  r.set_record_type(v1::RECORD_TYPE_ADD);
  r.set_receipt_number(receipt);
  r.set_citizen_id(id);
  r.set_name("孙");
  r.set_region_code(kRegion);
  r.set_contribution_year(year);
  r.set_amount_fen(fen);
  r.set_collection_date(date);
  return r;
}

v1::CollectionRecord CancelOf(v1::CollectionRecord r, const std::string& date) {
  r.set_record_type(v1::RECORD_TYPE_CANCEL);
  r.set_collection_date(date);
  return r;
}

std::map<v1::FundingSource, int64_t> SourceMap(const std::vector<v1::SourceAmount>& amounts) {
  std::map<v1::FundingSource, int64_t> out;
  for (const v1::SourceAmount& a : amounts) out[a.source()] += a.amount_fen();
  return out;
}

class AuditTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    dir_ = std::filesystem::temp_directory_path() /
           StrCat("audit_test_", name, "_", static_cast<int64_t>(getpid()));
    scratch_ = dir_.string() + "_scratch";
    std::filesystem::remove_all(dir_);
    std::filesystem::remove_all(scratch_);
  }
  void TearDown() override {
    ledger_.reset();
    std::filesystem::remove_all(dir_);
    std::filesystem::remove_all(scratch_);
    std::filesystem::remove_all(dir_.string() + "_export");
  }

  void Open(bool verify_chain = true) {
    ledger_.reset();
    auto opened = Ledger::Open({.data_dir = dir_.string(),
                                .verify_chain_on_open = verify_chain,
                                .clock_us = Now,
                                .checkpoint_key_pem = key_pem_,
                                .checkpoint_interval_events = interval_});
    ASSERT_TRUE(opened.ok()) << opened.status();
    ledger_ = std::move(*opened);
  }
  void OpenFresh() {
    ASSERT_NO_FATAL_FAILURE(Open());
    auto adopted = ledger_->AdoptPolicy(PaperPolicy(), kActor);
    ASSERT_TRUE(adopted.ok() && !adopted->rejection);
  }

  void Enrol(const std::string& id, const std::string& date = "2014-01-01") {
    v1::ParticipantEnrolled p;
    p.set_citizen_id(id);
    p.set_name("孙");
    p.set_region_code(kRegion);
    p.set_enrolment_date(date);
    auto r = ledger_->Enrol(p, kActor);
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_FALSE(r->rejection) << r->rejection->detail;
  }
  std::vector<v1::RecordOutcome> Push(const std::vector<v1::CollectionRecord>& records) {
    Ledger::Records batch;
    for (const auto& r : records) *batch.Add() = r;
    auto out = ledger_->PushCollections(batch, kActor);
    EXPECT_TRUE(out.ok()) << out.status();
    return out.ok() ? *out : std::vector<v1::RecordOutcome>();
  }
  // Every record must be accepted or go to suspense.
  void PushOk(const std::vector<v1::CollectionRecord>& records) {
    const auto outcomes = Push(records);
    ASSERT_EQ(outcomes.size(), records.size());
    for (size_t i = 0; i < outcomes.size(); ++i) {
      ASSERT_THAT(outcomes[i].outcome(), AnyOf(v1::OUTCOME_ACCEPTED, v1::OUTCOME_SUSPENSE))
          << records[i].receipt_number() << ": " << v1::Reason_Name(outcomes[i].reason()) << " "
          << outcomes[i].detail();
    }
  }
  void RunOk(const v1::AccountCommand& command) {
    auto r = ledger_->Execute(command, kActor);
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_FALSE(r->rejection) << command.ShortDebugString() << ": " << r->rejection->detail;
    ASSERT_FALSE(r->duplicate);
  }
  void Funds(v1::FiscalPurpose purpose, int year, int64_t fen, const std::string& date) {
    v1::AccountCommand c;
    auto* f = c.mutable_receive_fiscal_funds();
    f->set_region_code(kRegion);
    f->set_purpose(purpose);
    f->set_year(year);
    f->set_amount_fen(fen);
    f->set_date(date);
    f->set_document_ref(StrCat("funds-", static_cast<int>(purpose), "-", year, "-", ++refs_));
    ASSERT_NO_FATAL_FAILURE(RunOk(c));
  }
  void JobOk(v1::JobKind kind, int period, const std::string& date = "") {
    v1::JobRequest j;
    j.set_kind(kind);
    j.set_region_code(kRegion);
    j.set_period(period);
    j.set_date(date);
    auto r = ledger_->RunJob(j, kActor);
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_FALSE(r->rejection) << v1::JobKind_Name(kind) << " " << period << ": "
                               << r->rejection->detail;
    ASSERT_TRUE(r->progress.completed());
  }
  v1::Account Account(const std::string& id) {
    auto a = ledger_->GetAccount(id);
    EXPECT_TRUE(a.ok() && a->has_value()) << id;
    return a.ok() && a->has_value() ? **a : v1::Account();
  }

  // Overwrites the stored bytes of event `sequence` (the ledger must be closed).
  void OverwriteEvent(uint64_t sequence, const std::string& bytes) {
    auto store = Store::Open(dir_.string());
    ASSERT_TRUE(store.ok()) << store.status();
    rocksdb::WriteBatch batch;
    ASSERT_TRUE(batch.Put((*store)->handle(Cf::kEvents), keys::Event(sequence), bytes).ok());
    ASSERT_TRUE((*store)->WriteSynced(batch).ok());
  }
  std::string StoredEvent(uint64_t sequence) {
    std::string out;
    EXPECT_TRUE(ledger_
                    ->ForEachEvent(sequence, sequence,
                                   [&](uint64_t, std::string_view stored) {
                                     out = std::string(stored);
                                     return false;
                                   })
                    .ok());
    return out;
  }

  // --- the long workload -----------------------------------------------------------------------

  // A point of the workload: the head then, every account and every ledger account total, and
  // (at a year end) the date up to which the log then held every event and nothing later.
  struct Point {
    uint64_t sequence = 0;
    std::string as_of_date;
    std::map<std::string, v1::Account> accounts;
    std::map<std::string, int64_t> totals;
  };

  Point Snapshot(const std::string& as_of_date = "") {
    Point p;
    p.sequence = ledger_->Head().sequence;
    p.as_of_date = as_of_date;
    for (const std::string& id : ids_) p.accounts[id] = Account(id);
    p.totals = ledger_->LedgerAccountBalances();
    return p;
  }

  // 36 participants (6 born in 1955 who retire in 2025), contributions 2015–2024 (random tiers,
  // dates and batch splits; ~1 in 8 cancelled within the year, half of those paid again;
  // unenrolled payers in suspense), subsidy funds and jobs, interest jobs; then a collective
  // subsidy, refunds, benefit determination, six months of benefits with a suspension and
  // resumption, and a death. With `backdated`, finally a cancellation dated in a posted year
  // (interest adjustments for 2023 and 2024). Returns the points (year ends carry their date).
  std::vector<Point> RunWorkload(bool backdated) {
    std::vector<Point> points;
    std::mt19937 rng(20240611);
    auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
    std::vector<std::string> young, old;
    for (int i = 0; i < 30; ++i) {
      young.push_back(Id(Birth(1970 + i % 20, 1 + i % 12, 10 + i % 18), 100 + i));
    }
    for (int j = 0; j < 6; ++j) old.push_back(Id(Birth(1955, 1 + j, 15), 500 + j));
    ids_ = young;
    ids_.insert(ids_.end(), old.begin(), old.end());
    for (const std::string& id : ids_) {
      Enrol(id);
      if (HasFatalFailure()) return points;
    }
    std::map<std::string, v1::CollectionRecord> receipts;
    for (int year = 2015; year <= 2024; ++year) {
      SCOPED_TRACE(year);
      std::vector<v1::CollectionRecord> adds;
      for (size_t i = 0; i < ids_.size(); ++i) {
        const int64_t fen = pick(3) == 0 ? 50000 : 10000;
        adds.push_back(AddRecord(StrCat("R-", i, "-", year), ids_[i], year, fen,
                                 Date(year, 1 + pick(10), 1 + pick(28))));
      }
      for (int s = 0; s < 2; ++s) {  // nobody enrolled: suspense
        adds.push_back(AddRecord(StrCat("S-", s, "-", year), Id(Birth(1980, 2, 2), 900 + s), year,
                                 10000, Date(year, 6, 1 + s)));
      }
      std::shuffle(adds.begin(), adds.end(), rng);
      const size_t cut1 = adds.size() / 3 + static_cast<size_t>(pick(5));
      const size_t cut2 = cut1 + adds.size() / 3;
      PushOk({adds.begin(), adds.begin() + static_cast<long>(cut1)});
      PushOk({adds.begin() + static_cast<long>(cut1), adds.begin() + static_cast<long>(cut2)});
      PushOk({adds.begin() + static_cast<long>(cut2), adds.end()});
      if (HasFatalFailure()) return points;
      for (const auto& r : adds) receipts[r.receipt_number()] = r;
      // Cancellations in November (never of participants 0–2, who are used below, nor of the
      // retirees), some paid again at the end of November.
      std::vector<v1::CollectionRecord> cancels, again;
      for (size_t i = 3; i < young.size(); ++i) {
        if (pick(8) != 0) continue;
        const v1::CollectionRecord& original = receipts[StrCat("R-", i, "-", year)];
        cancels.push_back(CancelOf(original, Date(year, 11, 1 + pick(28))));
        if (pick(2) == 0) {
          again.push_back(AddRecord(StrCat("R-", i, "-", year, "-b"), ids_[i], year, 10000,
                                    Date(year, 11, 29)));
        }
      }
      if (!cancels.empty()) PushOk(cancels);
      if (!again.empty()) PushOk(again);
      cancelled_ += cancels.size();
      paid_again_ += again.size();
      Funds(v1::FISCAL_PURPOSE_CONTRIBUTION_SUBSIDY, year, 6000 * 40, Date(year, 12, 1));
      JobOk(v1::JOB_KIND_GOVERNMENT_SUBSIDY, year, Date(year, 12, 20));
      JobOk(v1::JOB_KIND_INTEREST, year);
      if (HasFatalFailure()) return points;
      points.push_back(Snapshot(Date(year, 12, 31)));
    }
    // 2025: lifecycle commands.
    auto command = [&](auto fill) {
      v1::AccountCommand c;
      fill(c);
      RunOk(c);
      if (!HasFatalFailure()) points.push_back(Snapshot());
    };
    command([&](v1::AccountCommand& c) {
      auto* s = c.mutable_credit_collective_subsidy();
      s->set_citizen_id(young[0]);
      s->set_contribution_year(2024);
      s->set_amount_fen(20000);
      s->set_source(v1::FUNDING_SOURCE_COLLECTIVE);
      s->set_payer("村集体");
      s->set_date("2025-02-01");
      s->set_document_ref("COLL-1");
    });
    command([&](v1::AccountCommand& c) {
      auto* r = c.mutable_refund_contribution();
      r->set_receipt_number("R-1-2024");
      r->set_reason(v1::REFUND_REASON_OTHER);
      r->set_date("2025-03-01");
      r->set_document_ref("REFUND-1");
    });
    command([&](v1::AccountCommand& c) {  // a suspense receipt refunded to its payer
      auto* r = c.mutable_refund_contribution();
      r->set_receipt_number("S-0-2016");
      r->set_reason(v1::REFUND_REASON_OUT_OF_SCOPE);
      r->set_date("2025-03-02");
      r->set_document_ref("REFUND-2");
    });
    if (HasFatalFailure()) return points;
    for (size_t j = 0; j < old.size(); ++j) {
      command([&](v1::AccountCommand& c) {
        auto* d = c.mutable_determine_benefit();
        d->set_citizen_id(old[j]);
        d->set_date("2025-01-10");
        d->set_document_ref(StrCat("DET-", j));
      });
      if (HasFatalFailure()) return points;
    }
    Funds(v1::FISCAL_PURPOSE_BASIC_PENSION, 2025, 12 * 8800 * 10, "2025-01-05");
    for (int month = 202501; month <= 202506; ++month) {
      if (month == 202504) {
        command([&](v1::AccountCommand& c) {
          auto* s = c.mutable_suspend_benefit();
          s->set_citizen_id(old[0]);
          s->set_from_month(202504);
          s->set_reason("资格认证未完成");
          s->set_date("2025-04-01");
          s->set_document_ref("SUSP-1");
        });
      }
      if (month == 202506) {
        command([&](v1::AccountCommand& c) {
          auto* r = c.mutable_resume_benefit();
          r->set_citizen_id(old[0]);
          r->set_month(202506);
          r->set_date("2025-06-05");
          r->set_document_ref("RES-1");
        });
        command([&](v1::AccountCommand& c) {
          auto* d = c.mutable_record_death();
          d->set_citizen_id(old[1]);
          d->set_date_of_death("2025-05-20");
          d->set_date("2025-06-06");
          d->set_document_ref("DEATH-1");
        });
      }
      JobOk(v1::JOB_KIND_BENEFITS, month, Date(month / 100, month % 100, 10));
      if (HasFatalFailure()) return points;
      points.push_back(Snapshot());
    }
    EXPECT_GE(cancelled_, 10u);
    EXPECT_GE(paid_again_, 3u);
    EXPECT_EQ(Account(old[0]).status(), v1::PARTICIPANT_STATUS_DRAWING_PENSION);
    EXPECT_EQ(Account(old[0]).benefit().next_month(), 202507);
    EXPECT_EQ(Account(old[1]).status(), v1::PARTICIPANT_STATUS_DECEASED);
    EXPECT_EQ(Account(old[1]).total_fen(), 0);
    if (backdated) {
      // Cancels participant 2's 2022 contribution with a date in 2023, whose interest (and
      // 2024's) is posted: interest adjustments follow.
      const uint64_t before = ledger_->Head().sequence;
      PushOk({CancelOf(receipts["R-2-2022"], "2023-03-01")});
      EXPECT_GT(ledger_->Head().sequence, before + 1) << "expected interest adjustments";
      points.push_back(Snapshot());
    }
    return points;
  }

  std::filesystem::path dir_;
  std::string scratch_;
  std::string key_pem_;
  uint64_t interval_ = 10'000;
  std::unique_ptr<Ledger> ledger_;
  std::vector<std::string> ids_;
  int refs_ = 0;
  size_t cancelled_ = 0;
  size_t paid_again_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Signed checkpoints.

class CheckpointLedgerTest : public AuditTest {
 protected:
  void SetUp() override {
    AuditTest::SetUp();
    key_ = GenerateKey();
    key_pem_ = key_.private_pem;
    interval_ = 5;
  }

  // Commits of different sizes up to about 23 events; records each commit's [first, last].
  // The policy adoption was commit 1 (sequence 1).
  void Build() {
    ASSERT_NO_FATAL_FAILURE(OpenFresh());
    commits_.push_back({0, 1});
    auto commit = [&](auto&& action) {
      const uint64_t before = ledger_->Head().sequence;
      action();
      commits_.push_back({before, ledger_->Head().sequence});
      ASSERT_GT(commits_.back().second, before);
    };
    const std::string a = Id(Birth(1980, 1, 1), 1), b = Id(Birth(1981, 2, 2), 2),
                      c = Id(Birth(1982, 3, 3), 3);
    commit([&] { Enrol(a); });                                                  // 2
    commit([&] { Enrol(b); });                                                  // 3
    commit([&] {                                                                 // 4..6
      PushOk({AddRecord("K1", a, 2020, 10000, "2020-03-01"),
              AddRecord("K2", b, 2020, 50000, "2020-03-02"),
              AddRecord("K3", c, 2020, 10000, "2020-03-03")});
    });
    commit([&] { Enrol(c); });                                                  // 7
    commit([&] { PushOk({AddRecord("K4", a, 2021, 10000, "2021-03-01")}); });  // 8
    commit([&] { PushOk({AddRecord("K5", b, 2021, 10000, "2021-03-01")}); });  // 9
    commit([&] {                                                                 // 10..11
      PushOk({AddRecord("K6", c, 2021, 10000, "2021-03-01"),
              AddRecord("K7", a, 2022, 10000, "2022-03-01")});
    });
    commit([&] {  // 12..18: crosses 15 in the middle of a commit
      std::vector<v1::CollectionRecord> rs;
      for (int i = 0; i < 7; ++i) {
        rs.push_back(AddRecord(StrCat("L", i), Id(Birth(1990, 1, 1 + i), 10 + i), 2022, 10000,
                               "2022-05-01"));
      }
      PushOk(rs);
    });
    commit([&] { PushOk({AddRecord("K8", b, 2022, 10000, "2022-03-01")}); });  // 19
    commit([&] { PushOk({AddRecord("K9", c, 2022, 10000, "2022-03-01")}); });  // 20
    commit([&] {                                                                 // 21..23
      PushOk({AddRecord("K10", a, 2023, 10000, "2023-03-01"),
              AddRecord("K11", b, 2023, 10000, "2023-03-01"),
              AddRecord("K12", c, 2023, 10000, "2023-03-01")});
    });
    ASSERT_EQ(ledger_->Head().sequence, 23u);
  }

  // The commits that reach a multiple of 5: their last sequence.
  std::vector<uint64_t> ExpectedCheckpoints() const {
    std::vector<uint64_t> out;
    for (const auto& [before, after] : commits_) {
      if (after / 5 != before / 5) out.push_back(after);
    }
    return out;
  }

  TestKey key_;
  std::vector<std::pair<uint64_t, uint64_t>> commits_;
};

std::vector<uint64_t> Sequences(const std::vector<v1::Checkpoint>& checkpoints) {
  std::vector<uint64_t> out;
  for (const auto& c : checkpoints) out.push_back(c.sequence());
  return out;
}

TEST_F(CheckpointLedgerTest, CheckpointsAreSignedAtTheCommitsThatCrossEachInterval) {
  ASSERT_NO_FATAL_FAILURE(Build());
  // 5 (in the commit 4..6), 10 (10..11), 15 (12..18), 20 (a commit of its own).
  ASSERT_EQ(ExpectedCheckpoints(), (std::vector<uint64_t>{6, 11, 18, 20}));
  EXPECT_EQ(ledger_->CheckpointPublicKeyPem(), key_.public_pem);

  auto check = [&](const std::string& when) {
    SCOPED_TRACE(when);
    auto checkpoints = ledger_->Checkpoints(0, 0);
    ASSERT_TRUE(checkpoints.ok()) << checkpoints.status();
    EXPECT_EQ(Sequences(*checkpoints), ExpectedCheckpoints());
    for (const v1::Checkpoint& c : *checkpoints) {
      auto event = ledger_->ReadEvent(c.sequence());
      ASSERT_TRUE(event.ok()) << event.status();
      EXPECT_EQ(c.chain_hash(), event->hash()) << c.sequence();
      EXPECT_EQ(c.signed_time_us(), Now());
      EXPECT_TRUE(VerifyCheckpointSignature(c, ledger_->CheckpointPublicKeyPem()).ok())
          << c.sequence();
      EXPECT_TRUE(VerifyCheckpointSignature(c, key_.public_pem).ok()) << c.sequence();
    }
    // Ranges: [from, to] inclusive, to = 0 without limit.
    EXPECT_EQ(Sequences(*ledger_->Checkpoints(7, 18)), (std::vector<uint64_t>{11, 18}));
    EXPECT_EQ(Sequences(*ledger_->Checkpoints(11, 11)), (std::vector<uint64_t>{11}));
    EXPECT_EQ(Sequences(*ledger_->Checkpoints(19, 0)), (std::vector<uint64_t>{20}));
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

  // Opened without a key, the ledger still serves the checkpoints it signed but signs no more.
  const std::string key = key_pem_;
  key_pem_.clear();
  ASSERT_NO_FATAL_FAILURE(Open());
  EXPECT_EQ(ledger_->CheckpointPublicKeyPem(), "");
  EXPECT_EQ(Sequences(*ledger_->Checkpoints(0, 0)), ExpectedCheckpoints());
  PushOk({AddRecord("M1", Id(Birth(1980, 1, 1), 1), 2024, 10000, "2024-03-01"),
          AddRecord("M2", Id(Birth(1981, 2, 2), 2), 2024, 10000, "2024-03-01")});  // 24..25
  EXPECT_EQ(Sequences(*ledger_->Checkpoints(0, 0)), ExpectedCheckpoints());

  // With the key again, signing resumes at the next crossing (30), measured from the head.
  key_pem_ = key;
  ASSERT_NO_FATAL_FAILURE(Open());
  PushOk({AddRecord("M3", Id(Birth(1982, 3, 3), 3), 2024, 10000, "2024-03-01")});  // 26
  EXPECT_EQ(Sequences(*ledger_->Checkpoints(21, 0)), std::vector<uint64_t>{});
  std::vector<v1::CollectionRecord> more;
  for (int i = 0; i < 5; ++i) {
    more.push_back(AddRecord(StrCat("M", 10 + i), Id(Birth(1990, 1, 1 + i), 10 + i), 2024, 10000,
                             "2024-05-01"));
  }
  PushOk(more);  // 27..31
  EXPECT_EQ(Sequences(*ledger_->Checkpoints(21, 0)), (std::vector<uint64_t>{31}));
  EXPECT_TRUE(VerifyCheckpointSignature(ledger_->Checkpoints(31, 31)->at(0), key_.public_pem).ok());
}

TEST_F(AuditTest, NoKeyNoCheckpoints) {
  ASSERT_NO_FATAL_FAILURE(OpenFresh());
  for (int i = 0; i < 3; ++i) ASSERT_NO_FATAL_FAILURE(Enrol(Id(Birth(1980, 1, 1 + i), i)));
  EXPECT_EQ(ledger_->CheckpointPublicKeyPem(), "");
  auto checkpoints = ledger_->Checkpoints(0, 0);
  ASSERT_TRUE(checkpoints.ok());
  EXPECT_TRUE(checkpoints->empty());
}

// ---------------------------------------------------------------------------------------------
// The export file.

// One record of an export file, located by offset.
struct ExportRecord {
  char type = 0;
  size_t offset = 0;          // of the type byte
  size_t payload_offset = 0;  // of the payload
  uint32_t length = 0;
  uint64_t sequence = 0;      // the event's, or the checkpoint's
};

std::vector<ExportRecord> ParseRecords(const std::string& file) {
  std::vector<ExportRecord> out;
  size_t at = kExportMagic.size();
  while (at + 5 <= file.size()) {
    ExportRecord r;
    r.type = file[at];
    r.offset = at;
    r.length = static_cast<uint32_t>(keys::DecodeU64(std::string(4, '\0') + file.substr(at + 1, 4)));
    r.payload_offset = at + 5;
    const std::string payload = file.substr(r.payload_offset, r.length);
    if (r.type == 'E') {
      v1::EventEnvelope e;
      EXPECT_TRUE(e.ParseFromString(payload));
      r.sequence = e.sequence();
    } else {
      v1::Checkpoint c;
      EXPECT_TRUE(c.ParseFromString(payload));
      r.sequence = c.sequence();
    }
    out.push_back(r);
    at = r.payload_offset + r.length;
  }
  EXPECT_EQ(at, file.size());
  return out;
}

std::string Record(char type, const std::string& payload) {
  return StrCat(std::string(1, type), keys::EncodeU32(static_cast<uint32_t>(payload.size())),
                payload);
}

ExportVerification Verify(const std::string& file, const std::string& public_pem) {
  std::istringstream in(file, std::ios::binary);
  return VerifyExport(in, public_pem);
}

class ExportTest : public CheckpointLedgerTest {
 protected:
  void SetUp() override {
    CheckpointLedgerTest::SetUp();
    ASSERT_NO_FATAL_FAILURE(Build());
    ASSERT_NO_FATAL_FAILURE(WriteExport());
  }

  // Writes the whole log with ExportWriter, each checkpoint right after its event, and reads the
  // file back.
  void WriteExport(bool with_checkpoints = true) {
    const std::string path = dir_.string() + "_export";
    auto writer = ExportWriter::Create(path);
    ASSERT_TRUE(writer.ok()) << writer.status();
    auto checkpoints = ledger_->Checkpoints(0, 0);
    ASSERT_TRUE(checkpoints.ok());
    size_t next = 0;
    absl::Status written;
    ASSERT_TRUE(ledger_
                    ->ForEachEvent(1, 0,
                                   [&](uint64_t sequence, std::string_view stored) {
                                     written.Update((*writer)->AddEvent(stored));
                                     while (with_checkpoints && next < checkpoints->size() &&
                                            (*checkpoints)[next].sequence() == sequence) {
                                       written.Update((*writer)->AddCheckpoint((*checkpoints)[next++]));
                                     }
                                     return true;
                                   })
                    .ok());
    ASSERT_TRUE(written.ok()) << written;
    ASSERT_TRUE((*writer)->Finish().ok());
    std::ifstream in(path, std::ios::binary);
    file_.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    records_ = ParseRecords(file_);
  }

  const ExportRecord& EventRecord(uint64_t sequence) const {
    for (const ExportRecord& r : records_) {
      if (r.type == 'E' && r.sequence == sequence) return r;
    }
    ADD_FAILURE() << "no event record " << sequence;
    return records_.front();
  }
  const ExportRecord& CheckpointRecord(uint64_t sequence) const {
    for (const ExportRecord& r : records_) {
      if (r.type == 'C' && r.sequence == sequence) return r;
    }
    ADD_FAILURE() << "no checkpoint record " << sequence;
    return records_.front();
  }
  std::string Payload(const ExportRecord& r) const { return file_.substr(r.payload_offset, r.length); }
  // The file with one record's payload replaced (its length header rewritten).
  std::string WithPayload(const ExportRecord& r, const std::string& payload) const {
    return StrCat(file_.substr(0, r.offset), Record(r.type, payload),
                  file_.substr(r.payload_offset + r.length));
  }

  std::string file_;
  std::vector<ExportRecord> records_;
};

TEST_F(ExportTest, RoundTripVerifiesWithCounts) {
  ASSERT_EQ(file_.substr(0, kExportMagic.size()), kExportMagic);
  ASSERT_EQ(records_.size(), 23u + 4u);
  // Each checkpoint comes right after its event; events are in order.
  uint64_t last_event = 0;
  for (const ExportRecord& r : records_) {
    if (r.type == 'E') {
      EXPECT_EQ(r.sequence, last_event + 1);
      last_event = r.sequence;
    } else {
      EXPECT_EQ(r.sequence, last_event);
    }
  }
  // The event records hold the exact stored bytes.
  EXPECT_EQ(Payload(EventRecord(12)), StoredEvent(12));

  const ExportVerification v = Verify(file_, key_.public_pem);
  EXPECT_TRUE(v.ok) << v.bad_sequence << ": " << v.reason;
  EXPECT_EQ(v.events, 23u);
  EXPECT_EQ(v.first_sequence, 1u);
  EXPECT_EQ(v.last_sequence, 23u);
  EXPECT_EQ(v.checkpoints, 4u);
  EXPECT_EQ(v.last_signed_sequence, 20u);  // 21..23 are chained but not yet signed
  EXPECT_EQ(v.bad_sequence, 0u);

  // A file that ends right after a checkpoint verifies too (the tail is simply shorter).
  const ExportRecord& c20 = CheckpointRecord(20);
  const ExportVerification cut = Verify(file_.substr(0, c20.payload_offset + c20.length), key_.public_pem);
  EXPECT_TRUE(cut.ok) << cut.reason;
  EXPECT_EQ(cut.last_sequence, 20u);
  EXPECT_EQ(cut.last_signed_sequence, 20u);
}

TEST_F(ExportTest, AFlippedByteInAnEventNamesThatEventOrTheNext) {
  const uint64_t k = 8;  // not checkpointed (checkpoints: 6, 11, 18, 20)
  const ExportRecord& r = EventRecord(k);
  // (1) A flip in the middle of the payload, wherever it lands. If the damaged bytes no longer
  // decode, or the flip hit the sequence or prev_hash field, event k itself is rejected (k);
  // if it still decodes as an event k linking to k-1 (e.g. a changed amount or actor byte), it
  // is only caught when event k+1 does not link to the hash of the damaged k (k+1).
  {
    std::string damaged = file_;
    damaged[r.payload_offset + r.length / 2] ^= 0x20;
    const ExportVerification v = Verify(damaged, key_.public_pem);
    EXPECT_FALSE(v.ok);
    EXPECT_THAT(v.bad_sequence, AnyOf(k, k + 1)) << v.reason;
    EXPECT_FALSE(v.reason.empty());
  }
  // (2) Deterministically "still decodes": one byte of the actor text changed → k+1, and the
  // reason says k+1 does not link to event k.
  {
    const std::string payload = Payload(r);
    const size_t actor_at = payload.find(kActor);
    ASSERT_NE(actor_at, std::string::npos);
    std::string changed = payload;
    changed[actor_at + 3] ^= 0x01;
    v1::EventEnvelope e;
    ASSERT_TRUE(e.ParseFromString(changed));
    ASSERT_EQ(e.sequence(), k);
    std::string damaged = file_;
    damaged.replace(r.payload_offset, r.length, changed);
    const ExportVerification v = Verify(damaged, key_.public_pem);
    EXPECT_FALSE(v.ok);
    EXPECT_EQ(v.bad_sequence, k + 1) << v.reason;
    EXPECT_THAT(v.reason, HasSubstr(StrCat("hash of event ", k)));
  }
  // (3) Deterministically "no longer decodes": the first tag byte (field 1, varint: 0x08)
  // becomes wire type 7, which protobuf refuses → k.
  {
    ASSERT_EQ(file_[r.payload_offset], '\x08');
    std::string damaged = file_;
    damaged[r.payload_offset] = '\x0f';
    const ExportVerification v = Verify(damaged, key_.public_pem);
    EXPECT_FALSE(v.ok);
    EXPECT_EQ(v.bad_sequence, k) << v.reason;
    EXPECT_THAT(v.reason, HasSubstr("does not decode"));
  }
  // (4) A flip inside prev_hash → k itself does not link.
  {
    const std::string payload = Payload(r);
    v1::EventEnvelope e;
    ASSERT_TRUE(e.ParseFromString(payload));
    const size_t prev_at = payload.find(e.prev_hash());
    ASSERT_NE(prev_at, std::string::npos);
    std::string damaged = file_;
    damaged[r.payload_offset + prev_at + 5] ^= 0x80;
    const ExportVerification v = Verify(damaged, key_.public_pem);
    EXPECT_FALSE(v.ok);
    EXPECT_EQ(v.bad_sequence, k) << v.reason;
  }
}

TEST_F(ExportTest, TruncationMidRecordNamesTheCutEvent) {
  const ExportRecord& r = EventRecord(14);
  // Cut inside the payload.
  ExportVerification v = Verify(file_.substr(0, r.payload_offset + r.length / 2), key_.public_pem);
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.bad_sequence, 14u);
  EXPECT_THAT(v.reason, HasSubstr("truncated"));
  // Cut inside the record header.
  v = Verify(file_.substr(0, r.offset + 3), key_.public_pem);
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.bad_sequence, 14u);
  EXPECT_THAT(v.reason, HasSubstr("truncated"));
  // Cut inside a checkpoint record: the damage follows event 11.
  const ExportRecord& c = CheckpointRecord(11);
  v = Verify(file_.substr(0, c.payload_offset + 10), key_.public_pem);
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.bad_sequence, 12u);
  EXPECT_THAT(v.reason, HasSubstr("truncated"));
}

TEST_F(ExportTest, SwappedEventsNameTheFirstOutOfPlace) {
  const ExportRecord& a = EventRecord(7);
  const ExportRecord& b = EventRecord(8);
  ASSERT_EQ(a.payload_offset + a.length, b.offset);  // adjacent, no checkpoint between
  const std::string swapped = StrCat(file_.substr(0, a.offset), Record('E', Payload(b)),
                                     Record('E', Payload(a)), file_.substr(b.payload_offset + b.length));
  ASSERT_EQ(swapped.size(), file_.size());
  const ExportVerification v = Verify(swapped, key_.public_pem);
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.bad_sequence, 7u);
  EXPECT_THAT(v.reason, HasSubstr("expected sequence 7, found 8"));

  // A missing event is named the same way.
  const std::string dropped =
      StrCat(file_.substr(0, a.offset), file_.substr(a.payload_offset + a.length));
  const ExportVerification gap = Verify(dropped, key_.public_pem);
  EXPECT_FALSE(gap.ok);
  EXPECT_EQ(gap.bad_sequence, 7u);
}

TEST_F(ExportTest, AFlippedSignatureByteFailsThatCheckpoint) {
  const ExportRecord& r = CheckpointRecord(11);
  v1::Checkpoint c;
  ASSERT_TRUE(c.ParseFromString(Payload(r)));
  c.mutable_signature()->at(0) ^= 0x01;
  const ExportVerification v = Verify(WithPayload(r, c.SerializeAsString()), key_.public_pem);
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.bad_sequence, 11u);
  EXPECT_THAT(v.reason, HasSubstr("does not verify"));
}

TEST_F(ExportTest, AnAlteredSignedEventFailsItsCheckpoint) {
  // Event 11 altered (amount changed, re-serialized: it decodes and links to 10): the checkpoint
  // right after it no longer matches its hash.
  {
    const ExportRecord& r = EventRecord(11);
    v1::EventEnvelope e;
    ASSERT_TRUE(e.ParseFromString(Payload(r)));
    ASSERT_TRUE(e.has_contribution_collected());
    e.mutable_contribution_collected()->set_amount_fen(e.contribution_collected().amount_fen() * 10);
    const ExportVerification v = Verify(WithPayload(r, SerializeDeterministic(e)), key_.public_pem);
    EXPECT_FALSE(v.ok);
    EXPECT_EQ(v.bad_sequence, 11u);
    EXPECT_THAT(v.reason, HasSubstr("checkpoint"));
  }
  // A forger who alters event 13 and re-chains every later event (recomputing each prev_hash)
  // gets a file whose hash chain is consistent: only the next signed checkpoint (18) catches it.
  {
    std::string forged = file_.substr(0, kExportMagic.size());
    std::string prev;
    for (const ExportRecord& r : records_) {
      std::string payload = Payload(r);
      if (r.type == 'E') {
        v1::EventEnvelope e;
        ASSERT_TRUE(e.ParseFromString(payload));
        if (r.sequence == 13) {
          e.mutable_contribution_collected()->set_amount_fen(50000);
        }
        if (r.sequence > 13) e.set_prev_hash(prev);
        payload = SerializeDeterministic(e);
        prev = Sha256(payload);
      }
      forged += Record(r.type, payload);
    }
    ASSERT_NE(forged, file_);
    const ExportVerification v = Verify(forged, key_.public_pem);
    EXPECT_FALSE(v.ok);
    EXPECT_EQ(v.bad_sequence, 18u);
    EXPECT_THAT(v.reason, HasSubstr("event 18 does not hash to the signed checkpoint"));
  }
}

TEST_F(ExportTest, ADifferentPublicKeyFailsTheFirstCheckpoint) {
  const ExportVerification v = Verify(file_, GenerateKey().public_pem);
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.bad_sequence, 6u);
  EXPECT_THAT(v.reason, HasSubstr("does not verify"));
  const ExportVerification not_a_key = Verify(file_, "not a key");
  EXPECT_FALSE(not_a_key.ok);
  EXPECT_EQ(not_a_key.bad_sequence, 6u);
}

TEST_F(ExportTest, EmptyFileAndBadMagicAreRejected) {
  for (const std::string& bad :
       {std::string(), std::string("LEDGER-EXP"),
        StrCat("LEDGER-EXPORT-2\n", file_.substr(kExportMagic.size())),
        StrCat("X", file_.substr(1))}) {
    const ExportVerification v = Verify(bad, key_.public_pem);
    EXPECT_FALSE(v.ok) << bad.size();
    EXPECT_EQ(v.bad_sequence, 0u);
    EXPECT_THAT(v.reason, HasSubstr("magic"));
  }
  // The magic alone: no events.
  const ExportVerification only_magic = Verify(std::string(kExportMagic), key_.public_pem);
  EXPECT_FALSE(only_magic.ok);
  EXPECT_THAT(only_magic.reason, HasSubstr("no events"));
  // An unknown record type after event 3.
  const ExportRecord& r = EventRecord(3);
  std::string unknown = file_;
  unknown[r.payload_offset + r.length] = 'Z';
  const ExportVerification v = Verify(unknown, key_.public_pem);
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.bad_sequence, 4u);
}

TEST_F(ExportTest, EventsWithoutACheckpointAreNotVerified) {
  ASSERT_NO_FATAL_FAILURE(WriteExport(/*with_checkpoints=*/false));
  ASSERT_EQ(records_.size(), 23u);
  const ExportVerification v = Verify(file_, key_.public_pem);
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.bad_sequence, 0u);
  EXPECT_EQ(v.events, 23u);  // the chain itself verified
  EXPECT_THAT(v.reason, HasSubstr("no signed checkpoint"));
}

TEST_F(ExportTest, ACheckpointOutOfPlaceIsRejected) {
  // Checkpoint 11 moved after event 12.
  const ExportRecord& c = CheckpointRecord(11);
  const ExportRecord& e12 = EventRecord(12);
  ASSERT_EQ(c.payload_offset + c.length, e12.offset);
  const std::string moved =
      StrCat(file_.substr(0, c.offset), Record('E', Payload(e12)), Record('C', Payload(c)),
             file_.substr(e12.payload_offset + e12.length));
  const ExportVerification v = Verify(moved, key_.public_pem);
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.bad_sequence, 11u);
  EXPECT_THAT(v.reason, HasSubstr("not right after its event"));
}

// ---------------------------------------------------------------------------------------------
// Reading the log: ForEachEvent and FindChainBreak.

TEST_F(AuditTest, ForEachEventVisitsTheRangeInOrderAndStopsWhenAsked) {
  ASSERT_NO_FATAL_FAILURE(OpenFresh());
  for (int i = 0; i < 9; ++i) ASSERT_NO_FATAL_FAILURE(Enrol(Id(Birth(1980, 1, 1 + i), i)));
  ASSERT_EQ(ledger_->Head().sequence, 10u);
  std::vector<uint64_t> seen;
  ASSERT_TRUE(ledger_
                  ->ForEachEvent(3, 7,
                                 [&](uint64_t sequence, std::string_view stored) {
                                   EXPECT_EQ(Sha256(stored), ledger_->ReadEvent(sequence)->hash());
                                   seen.push_back(sequence);
                                   return true;
                                 })
                  .ok());
  EXPECT_EQ(seen, (std::vector<uint64_t>{3, 4, 5, 6, 7}));
  seen.clear();
  ASSERT_TRUE(ledger_->ForEachEvent(8, 0, [&](uint64_t s, std::string_view) {
                       seen.push_back(s);
                       return true;
                     }).ok());
  EXPECT_EQ(seen, (std::vector<uint64_t>{8, 9, 10}));
  seen.clear();
  ASSERT_TRUE(ledger_->ForEachEvent(1, 0, [&](uint64_t s, std::string_view) {
                       seen.push_back(s);
                       return s < 2;
                     }).ok());
  EXPECT_EQ(seen, (std::vector<uint64_t>{1, 2}));
  auto none = [](uint64_t, std::string_view) { return true; };
  EXPECT_EQ(ledger_->ForEachEvent(0, 5, none).code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(ledger_->ForEachEvent(11, 0, none).code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(ledger_->ForEachEvent(1, 11, none).code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(ledger_->ForEachEvent(6, 5, none).code(), absl::StatusCode::kOutOfRange);
}

class ChainBreakTest : public AuditTest {
 protected:
  void SetUp() override {
    AuditTest::SetUp();
    ASSERT_NO_FATAL_FAILURE(OpenFresh());
    const std::string a = Id(Birth(1980, 1, 1), 1);
    ASSERT_NO_FATAL_FAILURE(Enrol(a));  // 2
    std::vector<v1::CollectionRecord> rs;
    for (int i = 0; i < 10; ++i) {
      rs.push_back(AddRecord(StrCat("B", i), Id(Birth(1990, 1, 1 + i), 10 + i), 2020, 10000,
                             "2020-03-01"));
    }
    PushOk(rs);  // 3..12 (suspense)
    ASSERT_EQ(ledger_->Head().sequence, 12u);
    ASSERT_FALSE(ledger_->FindChainBreak(1, 0)->has_value());
  }
  // Closes the ledger, rewrites event `sequence` with `alter` applied, reopens without verifying
  // the chain.
  void Tamper(uint64_t sequence, const std::function<void(std::string&)>& alter) {
    std::string bytes = StoredEvent(sequence);
    alter(bytes);
    ledger_.reset();
    ASSERT_NO_FATAL_FAILURE(OverwriteEvent(sequence, bytes));
    ASSERT_NO_FATAL_FAILURE(Open(/*verify_chain=*/false));
  }
};

TEST_F(ChainBreakTest, ARangeOutsideTheLogIsOutOfRange) {
  for (auto [from, to] : std::vector<std::pair<uint64_t, uint64_t>>{
           {0, 5}, {13, 0}, {1, 13}, {6, 5}, {13, 20}}) {
    auto found = ledger_->FindChainBreak(from, to);
    EXPECT_FALSE(found.ok()) << from << ".." << to;
    EXPECT_EQ(found.status().code(), absl::StatusCode::kOutOfRange) << from << ".." << to;
    EXPECT_EQ(ledger_->VerifyChain(from, to).code(), absl::StatusCode::kOutOfRange);
  }
  EXPECT_FALSE(ledger_->FindChainBreak(4, 9)->has_value());
  EXPECT_FALSE(ledger_->FindChainBreak(12, 12)->has_value());
  EXPECT_FALSE(ledger_->FindChainBreak(1, 1)->has_value());
}

TEST_F(ChainBreakTest, AnAlteredEventBreaksTheLinkToTheNext) {
  // Event 6 re-serialized with another amount: it still decodes, carries sequence 6 and links to
  // 5, so the first link that fails is 6 → 7. The break is reported at 7, and its reason names
  // event 6 as the one whose hash 7 no longer matches (the chain alone cannot say which side of
  // a broken link changed; the reason names both).
  ASSERT_NO_FATAL_FAILURE(Tamper(6, [](std::string& bytes) {
    v1::EventEnvelope e;
    ASSERT_TRUE(e.ParseFromString(bytes));
    e.mutable_contribution_collected()->set_amount_fen(990000);
    bytes = SerializeDeterministic(e);
  }));
  auto found = ledger_->FindChainBreak(1, 0);
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->sequence, 7u) << (*found)->reason;
  EXPECT_THAT((*found)->reason, HasSubstr("event 7 does not link to the hash of event 6"));
  // Ranges that contain the broken link find it; ranges after it do not.
  EXPECT_EQ((*ledger_->FindChainBreak(7, 7))->sequence, 7u);
  EXPECT_EQ((*ledger_->FindChainBreak(3, 10))->sequence, 7u);
  EXPECT_FALSE(ledger_->FindChainBreak(8, 0)->has_value());
  EXPECT_EQ(ledger_->VerifyChain(1, 0).code(), absl::StatusCode::kDataLoss);
  // The whole-log check on open refuses it.
  ledger_.reset();
  auto opened = Ledger::Open({.data_dir = dir_.string(), .clock_us = Now});
  EXPECT_EQ(opened.status().code(), absl::StatusCode::kDataLoss);
}

TEST_F(ChainBreakTest, AnUndecodableEventIsNamedItself) {
  // The first tag byte (field 1, varint) becomes wire type 7: the bytes no longer decode.
  ASSERT_NO_FATAL_FAILURE(Tamper(5, [](std::string& bytes) {
    ASSERT_EQ(bytes[0], '\x08');
    bytes[0] = '\x0f';
  }));
  auto found = ledger_->FindChainBreak(1, 0);
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->sequence, 5u);
  EXPECT_THAT((*found)->reason, HasSubstr("event 5 does not decode"));
  EXPECT_EQ((*ledger_->FindChainBreak(5, 5))->sequence, 5u);
  EXPECT_FALSE(ledger_->FindChainBreak(1, 4)->has_value());
}

TEST_F(ChainBreakTest, ARenumberedEventIsNamedItself) {
  ASSERT_NO_FATAL_FAILURE(Tamper(9, [](std::string& bytes) {
    v1::EventEnvelope e;
    ASSERT_TRUE(e.ParseFromString(bytes));
    e.set_sequence(10);
    bytes = SerializeDeterministic(e);
  }));
  auto found = ledger_->FindChainBreak(1, 0);
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->sequence, 9u);
  EXPECT_THAT((*found)->reason, HasSubstr("carries sequence 10"));
}

TEST_F(ChainBreakTest, ARangeEndingAtTheAlteredEventStillFindsIt) {
  ASSERT_NO_FATAL_FAILURE(Tamper(6, [](std::string& bytes) {
    v1::EventEnvelope e;
    ASSERT_TRUE(e.ParseFromString(bytes));
    e.mutable_contribution_collected()->set_amount_fen(990000);
    bytes = SerializeDeterministic(e);
  }));
  auto found = ledger_->FindChainBreak(1, 6);
  ASSERT_TRUE(found.ok()) << found.status();
  if (!found->has_value()) {
    GTEST_SKIP() << "BUG: FindChainBreak(1, 6) / VerifyChain(1, 6) report no break although "
                    "event 6 was altered: FindBreak (ledger.cc) re-hashes event `to` but compares "
                    "that hash with nothing unless to == head (event to+1's prev_hash, or a "
                    "signed checkpoint, would show it). An auditor verifying [1, k] gets ok=true "
                    "for an altered event k.";
  }
  EXPECT_EQ((*found)->sequence, 6u);
}

// ---------------------------------------------------------------------------------------------
// Balances as of a sequence or a date.

TEST_F(AuditTest, BalancesAsOfASequenceOrADateAreTheBalancesThen) {
  ASSERT_NO_FATAL_FAILURE(OpenFresh());
  const auto started = std::chrono::steady_clock::now();
  const std::vector<Point> points = RunWorkload(/*backdated=*/false);
  ASSERT_FALSE(HasFatalFailure());
  ASSERT_GE(points.size(), 20u);
  const std::string control = StrCat(kRegion, "/individual_accounts/personal");
  ASSERT_NE(points.back().totals.count(control), 0u);
  ASSERT_NE(points.back().totals.at(control), 0);
  std::printf("[ info ] workload: %llu events (%zu cancellations, %zu paid again) in %.2f s\n",
              static_cast<unsigned long long>(ledger_->Head().sequence), cancelled_, paid_again_,
              std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());

  auto expect_participant = [&](const Point& p, const std::string& id, uint64_t seq,
                                const std::string& date) {
    auto b = ledger_->ParticipantBalanceAsOf(id, seq, date);
    ASSERT_TRUE(b.ok()) << b.status();
    const v1::Account& a = p.accounts.at(id);
    EXPECT_EQ(b->total_fen, a.total_fen()) << id << " at " << p.sequence << " " << date;
    EXPECT_EQ(SourceMap(b->by_source), SourceMap(BalancesBySource(a)))
        << id << " at " << p.sequence << " " << date;
  };
  auto expect_ledger_account = [&](const Point& p, const std::string& name, uint64_t seq,
                                   const std::string& date) {
    auto b = ledger_->LedgerAccountBalanceAsOf(name, seq, date);
    ASSERT_TRUE(b.ok()) << b.status();
    auto it = p.totals.find(name);
    EXPECT_EQ(b->total_fen, it == p.totals.end() ? 0 : it->second)
        << name << " at " << p.sequence << " " << date;
  };

  size_t checked_dates = 0;
  for (size_t i = 0; i < points.size(); ++i) {
    const Point& p = points[i];
    SCOPED_TRACE(StrCat("point ", i, " sequence ", p.sequence, " ", p.as_of_date));
    for (const std::string& id : ids_) expect_participant(p, id, p.sequence, "");
    // The control account and the fund at every point; every ledger account at a few.
    for (const char* account : {"individual_accounts/personal", "individual_accounts/government",
                                "fund.special", "suspense"}) {
      expect_ledger_account(p, StrCat(kRegion, "/", account), p.sequence, "");
    }
    if (i % 5 == 0 || i + 1 == points.size()) {
      for (const auto& [name, total] : p.totals) expect_ledger_account(p, name, p.sequence, "");
    }
    if (!p.as_of_date.empty() && (i % 3 == 0 || i == 9)) {
      ++checked_dates;
      for (const std::string& id : ids_) expect_participant(p, id, 0, p.as_of_date);
      for (const auto& [name, total] : p.totals) expect_ledger_account(p, name, 0, p.as_of_date);
      // Both limits together: the earlier one wins.
      expect_participant(p, ids_[3], p.sequence, "2099-01-01");
      expect_ledger_account(p, control, ledger_->Head().sequence, p.as_of_date);
    }
  }
  EXPECT_GE(checked_dates, 4u);

  // The retiree who died has nothing left; `events` counts only the events that moved money.
  const std::string died = ids_[31];
  auto now = ledger_->ParticipantBalanceAsOf(died, 0, "");
  ASSERT_TRUE(now.ok());
  EXPECT_EQ(now->total_fen, 0);
  EXPECT_TRUE(now->by_source.empty());
  EXPECT_GT(now->events, 10u);
  // Before any event, and for someone never enrolled: nothing.
  auto first = ledger_->ParticipantBalanceAsOf(ids_[0], 1, "");
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->total_fen, 0);
  EXPECT_EQ(first->events, 0u);
  auto stranger = ledger_->ParticipantBalanceAsOf(Id(Birth(1999, 9, 9), 999), 0, "");
  ASSERT_TRUE(stranger.ok());
  EXPECT_EQ(stranger->total_fen, 0);
  // A ledger account must be named <region>/<account>.
  EXPECT_EQ(ledger_->LedgerAccountBalanceAsOf("fund.special", 0, "").status().code(),
            absl::StatusCode::kInvalidArgument);
}

// A participant moving between two regions of the same ledger: the transfer's person legs roll
// up into each region's control accounts, as of every point, exactly as the projection has them.
TEST_F(AuditTest, BalancesAsOfFollowATransferBetweenRegions) {
  ASSERT_NO_FATAL_FAILURE(OpenFresh());
  auto adopted = ledger_->AdoptPolicy(PaperPolicy(kRegion2), kActor);
  ASSERT_TRUE(adopted.ok() && !adopted->rejection);
  const std::string mover = Id(Birth(1985, 5, 5), 333), stayer = Id(Birth(1985, 5, 5), 444);
  ids_ = {mover, stayer};
  std::vector<Point> points;
  for (const std::string& id : ids_) ASSERT_NO_FATAL_FAILURE(Enrol(id, "2017-01-01"));
  for (int year = 2018; year <= 2020; ++year) {
    PushOk({AddRecord(StrCat("M-", year), mover, year, 50000, Date(year, 3, 1)),
            AddRecord(StrCat("S-", year), stayer, year, 10000, Date(year, 4, 1))});
    ASSERT_NO_FATAL_FAILURE(
        Funds(v1::FISCAL_PURPOSE_CONTRIBUTION_SUBSIDY, year, 9000, Date(year, 6, 1)));
    ASSERT_NO_FATAL_FAILURE(JobOk(v1::JOB_KIND_GOVERNMENT_SUBSIDY, year, Date(year, 6, 20)));
    ASSERT_NO_FATAL_FAILURE(JobOk(v1::JOB_KIND_INTEREST, year));
  }
  points.push_back(Snapshot());
  v1::AccountCommand out;
  out.mutable_transfer_out()->set_citizen_id(mover);
  out.mutable_transfer_out()->set_to_region(kRegion2);
  out.mutable_transfer_out()->set_date("2021-03-01");
  out.mutable_transfer_out()->set_document_ref("TO-1");
  ASSERT_NO_FATAL_FAILURE(RunOk(out));
  points.push_back(Snapshot());
  v1::AccountCommand in;
  in.mutable_transfer_in()->set_citizen_id(mover);
  in.mutable_transfer_in()->set_from_region(kRegion);
  in.mutable_transfer_in()->set_to_region(kRegion2);
  in.mutable_transfer_in()->set_date("2021-04-01");
  in.mutable_transfer_in()->set_document_ref("TI-1");
  ASSERT_NO_FATAL_FAILURE(RunOk(in));
  points.push_back(Snapshot());
  ASSERT_EQ(Account(mover).region_code(), kRegion2);
  v1::CollectionRecord later = AddRecord("M-2021", mover, 2021, 10000, "2021-05-01");
  later.set_region_code(kRegion2);
  PushOk({later});
  points.push_back(Snapshot());

  for (const Point& p : points) {
    SCOPED_TRACE(StrCat("sequence ", p.sequence));
    for (const std::string& id : ids_) {
      auto b = ledger_->ParticipantBalanceAsOf(id, p.sequence, "");
      ASSERT_TRUE(b.ok());
      EXPECT_EQ(b->total_fen, p.accounts.at(id).total_fen()) << id;
      EXPECT_EQ(SourceMap(b->by_source), SourceMap(BalancesBySource(p.accounts.at(id)))) << id;
    }
    for (const std::string region : {kRegion, kRegion2}) {
      for (const char* account : {"individual_accounts/personal", "individual_accounts/government",
                                  "transfers_in_transit", "fund.special"}) {
        const std::string name = StrCat(region, "/", account);
        auto b = ledger_->LedgerAccountBalanceAsOf(name, p.sequence, "");
        ASSERT_TRUE(b.ok());
        auto it = p.totals.find(name);
        EXPECT_EQ(b->total_fen, it == p.totals.end() ? 0 : it->second) << name;
      }
    }
    for (const auto& [name, total] : p.totals) {
      auto b = ledger_->LedgerAccountBalanceAsOf(name, p.sequence, "");
      ASSERT_TRUE(b.ok());
      EXPECT_EQ(b->total_fen, total) << name;
    }
  }
  // In transit between the two transfers: region 1's controls hold the stayer only.
  const Point& in_transit = points[1];
  EXPECT_EQ(in_transit.accounts.at(mover).total_fen(), 0);
  EXPECT_NE(in_transit.totals.at(StrCat(kRegion, "/transfers_in_transit")), 0);
}

// ---------------------------------------------------------------------------------------------
// Replay comparison.

TEST_F(AuditTest, ReplayCompareIsEqualAfterALongWorkloadAndAfterReopening) {
  ASSERT_NO_FATAL_FAILURE(OpenFresh());
  const std::vector<Point> points = RunWorkload(/*backdated=*/true);
  ASSERT_FALSE(HasFatalFailure());
  ASSERT_FALSE(points.empty());
  const uint64_t head = ledger_->Head().sequence;
  ASSERT_GT(head, 1000u);

  auto compare = [&](const std::string& when) {
    SCOPED_TRACE(when);
    auto compared = ledger_->ReplayCompare(scratch_);
    ASSERT_TRUE(compared.ok()) << compared.status();
    EXPECT_TRUE(compared->equal) << compared->first_difference;
    EXPECT_EQ(compared->first_difference, "");
    EXPECT_EQ(compared->sequence, head);
    EXPECT_EQ(compared->events_replayed, head);
    // At least the participant index rows (nearly every event names a participant).
    EXPECT_GT(compared->rows_compared, head / 2);
    EXPECT_FALSE(std::filesystem::exists(scratch_)) << "the scratch store is removed";
  };
  compare("after the workload");
  ledger_.reset();
  ASSERT_NO_FATAL_FAILURE(Open());
  compare("after close and reopen");
  ledger_.reset();
  ASSERT_TRUE(Ledger::RebuildProjections(dir_.string()).ok());
  ASSERT_NO_FATAL_FAILURE(Open());
  compare("after rebuilding the projections");
  // The comparison is read-only: the ledger still takes writes.
  PushOk({AddRecord("AFTER-1", ids_[4], 2025, 10000, "2025-03-01")});
  EXPECT_EQ(ledger_->Head().sequence, head + 1);
}

// The comparison reads the live projections and the log at one snapshot: commits landing while
// it runs never show up as differences.
TEST_F(AuditTest, ReplayCompareIsConsistentWhileWritesContinue) {
  ASSERT_NO_FATAL_FAILURE(OpenFresh());
  std::vector<std::string> people;
  for (int i = 0; i < 8; ++i) {
    people.push_back(Id(Birth(1980, 1, 1 + i), i));
    ASSERT_NO_FATAL_FAILURE(Enrol(people.back()));
  }
  std::atomic<bool> stop{false};
  std::atomic<int> pushed{0};
  std::atomic<bool> finished{false};
  std::thread writer([&] {
    for (int n = 0; !stop.load() && n < 4000; ++n) {
      Ledger::Records batch;
      for (int j = 0; j < 5; ++j) {
        *batch.Add() = AddRecord(StrCat("W-", n, "-", j), people[(n + j) % people.size()],
                                 2010 + (n * 5 + j) % 16, 10000, "2025-06-01");
      }
      auto out = ledger_->PushCollections(batch, kActor);
      if (!out.ok()) break;
      pushed.fetch_add(1);
    }
    finished = true;
  });
  uint64_t last = 0;
  for (int round = 0; round < 4; ++round) {
    while (pushed.load() < 20 * (round + 1) && !finished.load()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    auto compared = ledger_->ReplayCompare(scratch_);
    ASSERT_TRUE(compared.ok()) << compared.status();
    EXPECT_TRUE(compared->equal) << "round " << round << ": " << compared->first_difference;
    EXPECT_EQ(compared->events_replayed, compared->sequence);
    EXPECT_GT(compared->sequence, last);
    last = compared->sequence;
  }
  stop = true;
  writer.join();
  EXPECT_GE(ledger_->Head().sequence, last);
  EXPECT_GE(pushed.load(), 80);
}

TEST_F(AuditTest, ReplayCompareNamesACorruptedProjectionRow) {
  ASSERT_NO_FATAL_FAILURE(OpenFresh());
  const std::string a = Id(Birth(1980, 1, 1), 1), b = Id(Birth(1981, 2, 2), 2);
  ASSERT_NO_FATAL_FAILURE(Enrol(a));
  ASSERT_NO_FATAL_FAILURE(Enrol(b));
  PushOk({AddRecord("P1", a, 2020, 10000, "2020-03-01"),
          AddRecord("P2", b, 2020, 50000, "2020-03-01")});
  auto compared = ledger_->ReplayCompare(scratch_);
  ASSERT_TRUE(compared.ok()) << compared.status();
  ASSERT_TRUE(compared->equal) << compared->first_difference;

  // b's account projection gets 1 fen more, directly in RocksDB.
  std::string original_b;
  ledger_.reset();
  {
    auto store = Store::Open(dir_.string());
    ASSERT_TRUE(store.ok());
    auto bytes = (*store)->Get(Cf::kAccounts, b);
    ASSERT_TRUE(bytes.ok() && bytes->has_value());
    original_b = **bytes;
    v1::Account account;
    ASSERT_TRUE(account.ParseFromString(**bytes));
    account.set_total_fen(account.total_fen() + 1);
    rocksdb::WriteBatch batch;
    ASSERT_TRUE(batch.Put((*store)->handle(Cf::kAccounts), b, SerializeDeterministic(account)).ok());
    ASSERT_TRUE((*store)->WriteSynced(batch).ok());
  }
  ASSERT_NO_FATAL_FAILURE(Open(/*verify_chain=*/false));
  EXPECT_EQ(Account(b).total_fen(), 50001);
  compared = ledger_->ReplayCompare(scratch_);
  ASSERT_TRUE(compared.ok()) << compared.status();
  EXPECT_FALSE(compared->equal);
  // The accounts column family (Cf::kAccounts = 2) and b's key, in hex.
  EXPECT_THAT(compared->first_difference, AnyOf(HasSubstr("accounts"), HasSubstr("column family 2")))
      << compared->first_difference;
  EXPECT_THAT(compared->first_difference, HasSubstr(HexEncode(b))) << compared->first_difference;
  EXPECT_THAT(compared->first_difference, ::testing::Not(HasSubstr(HexEncode(a))));

  // b's row restored (equal again), then a row missing from the live participant index (a's
  // enrolment, sequence 2): named as rebuilt but not live.
  ledger_.reset();
  {
    auto store = Store::Open(dir_.string());
    ASSERT_TRUE(store.ok());
    rocksdb::WriteBatch batch;
    ASSERT_TRUE(batch.Put((*store)->handle(Cf::kAccounts), b, original_b).ok());
    ASSERT_TRUE((*store)->WriteSynced(batch).ok());
  }
  ASSERT_NO_FATAL_FAILURE(Open(false));
  compared = ledger_->ReplayCompare(scratch_);
  ASSERT_TRUE(compared.ok()) << compared.status();
  EXPECT_TRUE(compared->equal) << compared->first_difference;
  ledger_.reset();
  {
    auto store = Store::Open(dir_.string());
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE((*store)->Get(Cf::kParticipantEvents, keys::ParticipantEvent(a, 2))->has_value());
    rocksdb::WriteBatch batch;
    ASSERT_TRUE(
        batch.Delete((*store)->handle(Cf::kParticipantEvents), keys::ParticipantEvent(a, 2)).ok());
    ASSERT_TRUE((*store)->WriteSynced(batch).ok());
  }
  ASSERT_NO_FATAL_FAILURE(Open(false));
  compared = ledger_->ReplayCompare(scratch_);
  ASSERT_TRUE(compared.ok()) << compared.status();
  EXPECT_FALSE(compared->equal);
  EXPECT_THAT(compared->first_difference, HasSubstr(HexEncode(keys::ParticipantEvent(a, 2))))
      << compared->first_difference;
  EXPECT_THAT(compared->first_difference, HasSubstr("rebuilt but not live"))
      << compared->first_difference;
}

}  // namespace
}  // namespace ledger
