#include "ledger/testing/audit_fixture.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <algorithm>
#include <string_view>

#include "absl/time/civil_time.h"
#include "ledger/store.h"
#include "ledger/strings.h"

namespace ledger::testing {

namespace {

std::string BioText(BIO* bio) {
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(size));
}

}  // namespace

int64_t Now() { return CivilMicros(absl::CivilSecond(2026, 11, 20, 12, 0, 0)); }

TestKey GenerateKey(const char* type) {
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

std::map<v1::FundingSource, int64_t> SourceMap(const std::vector<v1::SourceAmount>& amounts) {
  std::map<v1::FundingSource, int64_t> out;
  for (const v1::SourceAmount& a : amounts) out[a.source()] += a.amount_fen();
  return out;
}

std::vector<uint64_t> Sequences(const std::vector<v1::Checkpoint>& checkpoints) {
  std::vector<uint64_t> out;
  for (const auto& c : checkpoints) out.push_back(c.sequence());
  return out;
}

void AuditTest::SetUp() {
  actor_ = kAuditActor;
  scratch_ = Sibling("_scratch");
  Sibling("_export");
}

void AuditTest::OpenFresh() {
  ASSERT_NO_FATAL_FAILURE(Open());
  ASSERT_NO_FATAL_FAILURE(AdoptPolicy(PaperPolicy()));
}

void AuditTest::OverwriteEvent(uint64_t sequence, const std::string& bytes) {
  auto store = Store::Open(dir_.string());
  ASSERT_TRUE(store.ok()) << store.status();
  rocksdb::WriteBatch batch;
  ASSERT_TRUE(batch.Put((*store)->handle(Cf::kEvents), keys::Event(sequence), bytes).ok());
  ASSERT_TRUE((*store)->WriteSynced(batch).ok());
}

std::string AuditTest::StoredEvent(uint64_t sequence) {
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

AuditTest::Point AuditTest::Snapshot(const std::string& as_of_date) {
  Point p;
  p.sequence = ledger_->Head().sequence;
  p.as_of_date = as_of_date;
  for (const std::string& id : ids_) p.accounts[id] = Account(id);
  p.totals = ledger_->LedgerAccountBalances();
  return p;
}

std::vector<AuditTest::Point> AuditTest::RunWorkload(bool backdated) {
  std::vector<Point> points;
  rng_.seed(20240611);
  young_.clear();
  old_.clear();
  receipts_.clear();
  for (int i = 0; i < 30; ++i) {
    young_.push_back(CitizenId(Birth(1970 + i % 20, 1 + i % 12, 10 + i % 18), 100 + i));
  }
  for (int j = 0; j < 6; ++j) old_.push_back(CitizenId(Birth(1955, 1 + j, 15), 500 + j));
  ids_ = young_;
  ids_.insert(ids_.end(), old_.begin(), old_.end());
  for (const std::string& id : ids_) {
    Enrol(id);
    if (HasFatalFailure()) return points;
  }
  for (int year = 2015; year <= 2024; ++year) {
    WorkloadYear(year, points);
    if (HasFatalFailure()) return points;
  }
  WorkloadRetirement(points);
  if (HasFatalFailure()) return points;
  EXPECT_GE(cancelled_, 10u);
  EXPECT_GE(paid_again_, 3u);
  EXPECT_EQ(Account(old_[0]).status(), v1::PARTICIPANT_STATUS_DRAWING_PENSION);
  EXPECT_EQ(Account(old_[0]).benefit().next_month(), 202507);
  EXPECT_EQ(Account(old_[1]).status(), v1::PARTICIPANT_STATUS_DECEASED);
  EXPECT_EQ(Account(old_[1]).total_fen(), 0);
  if (backdated) {
    // Cancels participant 2's 2022 contribution with a date in 2023, whose interest (and
    // 2024's) is posted: interest adjustments follow.
    const uint64_t before = ledger_->Head().sequence;
    PushOk({CancelOf(receipts_["R-2-2022"], "2023-03-01")});
    EXPECT_GT(ledger_->Head().sequence, before + 1) << "expected interest adjustments";
    points.push_back(Snapshot());
  }
  return points;
}

void AuditTest::WorkloadYear(int year, std::vector<Point>& points) {
  SCOPED_TRACE(year);
  std::vector<v1::CollectionRecord> adds;
  for (size_t i = 0; i < ids_.size(); ++i) {
    const int64_t fen = Pick(3) == 0 ? 50000 : 10000;
    adds.push_back(AddRecord(StrCat("R-", i, "-", year), ids_[i], year, fen,
                             Date(year, 1 + Pick(10), 1 + Pick(28))));
  }
  for (int s = 0; s < 2; ++s) {  // nobody enrolled: suspense
    adds.push_back(AddRecord(StrCat("S-", s, "-", year), CitizenId(Birth(1980, 2, 2), 900 + s),
                             year, 10000, Date(year, 6, 1 + s)));
  }
  std::shuffle(adds.begin(), adds.end(), rng_);
  const size_t cut1 = adds.size() / 3 + static_cast<size_t>(Pick(5));
  const size_t cut2 = cut1 + adds.size() / 3;
  PushOk({adds.begin(), adds.begin() + static_cast<long>(cut1)});
  PushOk({adds.begin() + static_cast<long>(cut1), adds.begin() + static_cast<long>(cut2)});
  PushOk({adds.begin() + static_cast<long>(cut2), adds.end()});
  if (HasFatalFailure()) return;
  for (const auto& r : adds) receipts_[r.receipt_number()] = r;
  // Cancellations in November (never of participants 0–2, who are used below, nor of the
  // retirees), some paid again at the end of November.
  std::vector<v1::CollectionRecord> cancels, again;
  for (size_t i = 3; i < young_.size(); ++i) {
    if (Pick(8) != 0) continue;
    const v1::CollectionRecord& original = receipts_[StrCat("R-", i, "-", year)];
    cancels.push_back(CancelOf(original, Date(year, 11, 1 + Pick(28))));
    if (Pick(2) == 0) {
      again.push_back(
          AddRecord(StrCat("R-", i, "-", year, "-b"), ids_[i], year, 10000, Date(year, 11, 29)));
    }
  }
  if (!cancels.empty()) PushOk(cancels);
  if (!again.empty()) PushOk(again);
  cancelled_ += cancels.size();
  paid_again_ += again.size();
  Funds(v1::FISCAL_PURPOSE_CONTRIBUTION_SUBSIDY, year, 6000 * 40, Date(year, 12, 1));
  JobOk(v1::JOB_KIND_GOVERNMENT_SUBSIDY, year, Date(year, 12, 20));
  JobOk(v1::JOB_KIND_INTEREST, year);
  if (HasFatalFailure()) return;
  points.push_back(Snapshot(Date(year, 12, 31)));
}

void AuditTest::WorkloadRetirement(std::vector<Point>& points) {
  // 2025: lifecycle commands.
  auto command = [&](auto fill) {
    v1::AccountCommand c;
    fill(c);
    RunOk(c);
    if (!HasFatalFailure()) points.push_back(Snapshot());
  };
  command([&](v1::AccountCommand& c) {
    auto* s = c.mutable_credit_collective_subsidy();
    s->set_citizen_id(young_[0]);
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
  if (HasFatalFailure()) return;
  for (size_t j = 0; j < old_.size(); ++j) {
    command([&](v1::AccountCommand& c) {
      auto* d = c.mutable_determine_benefit();
      d->set_citizen_id(old_[j]);
      d->set_date("2025-01-10");
      d->set_document_ref(StrCat("DET-", j));
    });
    if (HasFatalFailure()) return;
  }
  Funds(v1::FISCAL_PURPOSE_BASIC_PENSION, 2025, 12 * 8800 * 10, "2025-01-05");
  // The payment account pays the benefits and the funeral subsidy (issue 16, point 4).
  command([&](v1::AccountCommand& c) {
    auto* t = c.mutable_transfer_between_fund_accounts();
    t->set_region_code(kRegion);
    t->set_from_account(v1::BANK_ACCOUNT_SPECIAL);
    t->set_to_account(v1::BANK_ACCOUNT_PAYMENT);
    t->set_amount_fen(12 * 8800 * 10);
    t->set_date("2025-01-05");
    t->set_document_ref("SWEEP-1");
  });
  if (HasFatalFailure()) return;
  for (int month = 202501; month <= 202506; ++month) {
    if (month == 202504) {
      command([&](v1::AccountCommand& c) {
        auto* s = c.mutable_suspend_benefit();
        s->set_citizen_id(old_[0]);
        s->set_from_month(202504);
        s->set_reason("资格认证未完成");
        s->set_date("2025-04-01");
        s->set_document_ref("SUSP-1");
      });
    }
    if (month == 202506) {
      command([&](v1::AccountCommand& c) {
        auto* r = c.mutable_resume_benefit();
        r->set_citizen_id(old_[0]);
        r->set_month(202506);
        r->set_date("2025-06-05");
        r->set_document_ref("RES-1");
      });
      command([&](v1::AccountCommand& c) {
        auto* d = c.mutable_record_death();
        d->set_citizen_id(old_[1]);
        d->set_date_of_death("2025-05-20");
        d->set_date("2025-06-06");
        d->set_document_ref("DEATH-1");
      });
    }
    JobOk(v1::JOB_KIND_BENEFITS, month, Date(month / 100, month % 100, 10));
    if (HasFatalFailure()) return;
    points.push_back(Snapshot());
  }
}

void CheckpointLedgerTest::SetUp() {
  AuditTest::SetUp();
  key_ = GenerateKey();
  checkpoint_key_pem_ = key_.private_pem;
  checkpoint_interval_events_ = 5;
}

void CheckpointLedgerTest::Build() {
  ASSERT_NO_FATAL_FAILURE(OpenFresh());
  commits_.push_back({0, 1});
  auto commit = [&](auto&& action) {
    const uint64_t before = ledger_->Head().sequence;
    action();
    commits_.push_back({before, ledger_->Head().sequence});
    ASSERT_GT(commits_.back().second, before);
  };
  const std::string a = CitizenId(Birth(1980, 1, 1), 1), b = CitizenId(Birth(1981, 2, 2), 2),
                    c = CitizenId(Birth(1982, 3, 3), 3);
  commit([&] { Enrol(a); });  // 2
  commit([&] { Enrol(b); });  // 3
  commit([&] {                // 4..6
    PushOk({AddRecord("K1", a, 2020, 10000, "2020-03-01"),
            AddRecord("K2", b, 2020, 50000, "2020-03-02"),
            AddRecord("K3", c, 2020, 10000, "2020-03-03")});
  });
  commit([&] { Enrol(c); });                                                 // 7
  commit([&] { PushOk({AddRecord("K4", a, 2021, 10000, "2021-03-01")}); });  // 8
  commit([&] { PushOk({AddRecord("K5", b, 2021, 10000, "2021-03-01")}); });  // 9
  commit([&] {                                                               // 10..11
    PushOk({AddRecord("K6", c, 2021, 10000, "2021-03-01"),
            AddRecord("K7", a, 2022, 10000, "2022-03-01")});
  });
  commit([&] {  // 12..18: crosses 15 in the middle of a commit
    std::vector<v1::CollectionRecord> rs;
    for (int i = 0; i < 7; ++i) {
      rs.push_back(AddRecord(StrCat("L", i), CitizenId(Birth(1990, 1, 1 + i), 10 + i), 2022, 10000,
                             "2022-05-01"));
    }
    PushOk(rs);
  });
  commit([&] { PushOk({AddRecord("K8", b, 2022, 10000, "2022-03-01")}); });  // 19
  commit([&] { PushOk({AddRecord("K9", c, 2022, 10000, "2022-03-01")}); });  // 20
  commit([&] {                                                               // 21..23
    PushOk({AddRecord("K10", a, 2023, 10000, "2023-03-01"),
            AddRecord("K11", b, 2023, 10000, "2023-03-01"),
            AddRecord("K12", c, 2023, 10000, "2023-03-01")});
  });
  ASSERT_EQ(ledger_->Head().sequence, 23u);
}

std::vector<uint64_t> CheckpointLedgerTest::ExpectedCheckpoints() const {
  std::vector<uint64_t> out;
  for (const auto& [before, after] : commits_) {
    if (after / 5 != before / 5) out.push_back(after);
  }
  return out;
}

}  // namespace ledger::testing
