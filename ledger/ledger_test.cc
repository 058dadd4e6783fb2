// Tests of the ledger core through its public API (ledger.h), plus the storage it leaves behind.
#include "ledger/ledger.h"

#include <google/protobuf/util/json_util.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <set>
#include <thread>

#include "absl/time/civil_time.h"
#include "ledger/apply.h"
#include "ledger/hash.h"
#include "ledger/policy.h"
#include "ledger/store.h"
#include "ledger/strings.h"
#include "ledger/working_state.h"
#include "tests/support/fixtures.h"
#include "tests/support/opened_ledger.h"

namespace ledger {
namespace {

using ::testing::HasSubstr;

using testing::kRegion;
constexpr char kZhang[] = "22240119650315123X";
constexpr char kLi[] = "222401198001014568";

int64_t FixedNow() { return testing::CivilMicros(absl::CivilSecond(2025, 6, 30, 12, 0, 0)); }

v1::Policy MakePolicy(uint32_t version, std::string effective_from,
                      std::vector<int64_t> tiers_yuan) {
  v1::Policy p;
  p.set_region_code(kRegion);
  p.set_region_name("test");
  p.set_version(version);
  p.set_effective_from(std::move(effective_from));
  p.set_account_pension_divisor(139);
  for (int year = 2024; year <= 2026; ++year) {
    auto* y = p.add_years();
    y->set_year(year);
    for (int64_t t : tiers_yuan) {
      auto* tier = y->add_tiers();
      tier->set_amount_fen(t * 100);
      tier->set_government_subsidy_fen(3000);
    }
    y->set_highest_tier_fen(tiers_yuan.back() * 100);
    y->set_interest_rate_bp(361);
  }
  return p;
}

v1::CollectionRecord Record(std::string receipt, std::string id, int64_t yuan,
                            std::string date = "2025-03-14", int year = 2025) {
  v1::CollectionRecord r = testing::AddRecord(receipt, id, year, yuan * 100, date);
  r.set_name("张三");
  r.set_tax_office("12224010000");
  r.set_batch_id("TX1");
  return r;
}

// A citizen ID of the test region, born 1970, with serial `n` (0..999) and a valid check char.
std::string MakeId(int n) { return testing::CitizenId("19700101", n); }

// Enrolments by "agency", collections by "tax", the clock at 2025-06-30 12:00 UTC.
class LedgerTest : public testing::OpenedLedgerTest {
 protected:
  void SetUp() override {
    actor_ = "agency";
    SetNow(FixedNow());
    ASSERT_NO_FATAL_FAILURE(Open());
    auto adopted = ledger_->AdoptPolicy(MakePolicy(1, "2014-01-01", {100, 200, 500}), "admin");
    ASSERT_TRUE(adopted.ok() && !adopted->rejection);
    Enrol(kZhang);
  }

  void Enrol(const std::string& id) { OpenedLedgerTest::Enrol(id, "2024-12-01", "张三"); }

  std::vector<v1::RecordOutcome> Push(const std::vector<v1::CollectionRecord>& records) {
    return OpenedLedgerTest::Push(records, "tax");
  }

  int64_t Personal(const std::string& id) {
    auto account = ledger_->GetAccount(id);
    EXPECT_TRUE(account.ok() && account->has_value());
    for (const auto& b : (*account)->balances()) {
      if (b.source() == v1::FUNDING_SOURCE_PERSONAL) return b.principal_fen();
    }
    return 0;
  }
};

TEST_F(LedgerTest, EventsCarryEnvelopeFieldsAndChainToTheirPredecessor) {
  auto outcomes = Push({Record("R1", kZhang, 200)});
  ASSERT_EQ(outcomes[0].outcome(), v1::OUTCOME_ACCEPTED);
  auto event = ledger_->ReadEvent(outcomes[0].sequence());
  ASSERT_TRUE(event.ok());
  EXPECT_EQ(event->sequence(), 3u);
  EXPECT_EQ(event->effective_date(), "2025-03-14");
  EXPECT_EQ(event->recorded_time_us(), FixedNow());
  EXPECT_EQ(event->actor(), "tax");
  EXPECT_EQ(event->external_ref(), "R1");
  EXPECT_EQ(event->policy_version(), 1u);
  auto previous = ledger_->ReadEvent(2);
  ASSERT_TRUE(previous.ok());
  EXPECT_EQ(event->prev_hash(), previous->hash());
  EXPECT_EQ(ledger_->Head().hash, event->hash());
  auto first = ledger_->ReadEvent(1);
  EXPECT_EQ(first->prev_hash(), GenesisHash());
  EXPECT_TRUE(ledger_->VerifyChain().ok());
}

TEST_F(LedgerTest, ConcurrentPushesAreGroupCommittedWithDenseSequences) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 100;
  const uint64_t before = ledger_->Head().sequence;
  std::vector<std::thread> threads;
  std::mutex mu;
  std::set<uint64_t> sequences;
  std::atomic<int> accepted{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        // Not enrolled: suspense, so every record commits whatever the year.
        v1::CollectionRecord r = Record(StrCat("T", t, "-", i), MakeId(t * kPerThread + i), 100);
        Ledger::Records one;
        *one.Add() = r;
        auto outcome = ledger_->PushCollections(one, "tax");
        ASSERT_TRUE(outcome.ok());
        ASSERT_EQ((*outcome)[0].outcome(), v1::OUTCOME_SUSPENSE);
        std::lock_guard lock(mu);
        sequences.insert((*outcome)[0].sequence());
        ++accepted;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(accepted.load(), kThreads * kPerThread);
  ASSERT_EQ(sequences.size(), static_cast<size_t>(kThreads * kPerThread));
  EXPECT_EQ(*sequences.begin(), before + 1);
  EXPECT_EQ(*sequences.rbegin(), before + kThreads * kPerThread);
  EXPECT_EQ(ledger_->Head().sequence, before + kThreads * kPerThread);
  EXPECT_TRUE(ledger_->VerifyChain().ok());
  EXPECT_EQ(ledger_->LedgerAccountBalances().at("222401/suspense"),
            -int64_t{kThreads * kPerThread * 100 * 100});
}

// The writer decides a group while the one before it syncs (writer.h): a job chunk decided on
// top of pushes and enrolments in flight credits every account once, and what it leaves is
// what a replay of the log builds.
TEST_F(LedgerTest, AJobOverlappingPushesAndEnrolmentsCreditsEachAccountOnce) {
  constexpr int kAccounts = 200;
  for (int i = 0; i < kAccounts; ++i) {
    Enrol(MakeId(i));
    ASSERT_EQ(Push({Record(StrCat("Y24-", i), MakeId(i), 200, "2024-03-14", 2024)})[0].outcome(),
              v1::OUTCOME_ACCEPTED);
  }
  v1::JobRequest interest;
  interest.set_kind(v1::JOB_KIND_INTEREST);
  interest.set_region_code(kRegion);
  interest.set_period(2024);
  std::atomic<bool> job_done{false};
  std::thread pushes([&] {
    for (int i = 0; !job_done.load() || i < 50; ++i) {
      Ledger::Records one;
      *one.Add() = Record(StrCat("Y25-", i), MakeId(i % kAccounts), 200);
      ASSERT_TRUE(ledger_->PushCollections(one, "tax").ok());
    }
  });
  std::thread enrolments([&] {
    for (int i = 0; !job_done.load() || i < 50; ++i) Enrol(MakeId(kAccounts + i));
  });
  auto job = ledger_->RunJob(interest, "agency");
  job_done = true;
  pushes.join();
  enrolments.join();
  ASSERT_TRUE(job.ok()) << job.status();
  ASSERT_FALSE(job->rejection) << job->rejection->detail;
  EXPECT_TRUE(job->progress.completed());
  EXPECT_EQ(job->progress.accounts_credited(), uint64_t{kAccounts});
  for (int i = 0; i < kAccounts + 50; ++i) {
    auto events = ledger_->ParticipantEvents(MakeId(i));
    ASSERT_TRUE(events.ok()) << events.status();
    const auto posted = std::count_if(events->begin(), events->end(), [](const auto& e) {
      return e.has_interest_posted() && e.interest_posted().year() == 2024 &&
             e.effective_date() == "2024-12-31" && e.external_ref() == "job/interest/2024";
    });
    EXPECT_EQ(posted, i < kAccounts ? 1 : 0) << MakeId(i);
  }
  int64_t sum = 0;
  for (const auto& [account, fen] : ledger_->LedgerAccountBalances()) sum += fen;
  EXPECT_EQ(sum, 0);
  EXPECT_TRUE(ledger_->VerifyChain().ok());
  auto compared = ledger_->ReplayCompare((dir_ / "scratch").string());
  ASSERT_TRUE(compared.ok()) << compared.status();
  EXPECT_TRUE(compared->equal) << compared->first_difference;
  const uint64_t head = ledger_->Head().sequence;
  auto again = ledger_->RunJob(interest, "agency");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->progress.completed());
  EXPECT_EQ(ledger_->Head().sequence, head) << "a second run credited again";
}

TEST_F(LedgerTest, LaterRecordsInOneCallSeeEarlierOnes) {
  // The second record for the same year, in the same call, sees the first one's contribution.
  auto outcomes = Push({Record("A1", kZhang, 200), Record("A2", kZhang, 500),
                        Record("A1", kZhang, 200)});
  EXPECT_EQ(outcomes[0].outcome(), v1::OUTCOME_ACCEPTED);
  EXPECT_EQ(outcomes[1].outcome(), v1::OUTCOME_SUSPENSE);
  EXPECT_EQ(outcomes[1].suspense_reason(), v1::SUSPENSE_REASON_YEAR_ALREADY_PAID);
  EXPECT_EQ(outcomes[2].outcome(), v1::OUTCOME_DUPLICATE);
  EXPECT_EQ(outcomes[2].sequence(), outcomes[0].sequence());
  EXPECT_EQ(Personal(kZhang), 20000);
}

TEST_F(LedgerTest, PolicyVersionInForceDecidesTheTiers) {
  // v2 from 2026 replaces the 200-yuan tier with 300.
  auto adopted = ledger_->AdoptPolicy(MakePolicy(2, "2026-01-01", {100, 300, 500}), "admin");
  ASSERT_TRUE(adopted.ok() && !adopted->rejection);
  auto outcomes = Push({Record("P1", kZhang, 200, "2025-03-14", 2025)});
  ASSERT_EQ(outcomes[0].outcome(), v1::OUTCOME_ACCEPTED);
  EXPECT_EQ(ledger_->ReadEvent(outcomes[0].sequence())->policy_version(), 1u);
  EXPECT_EQ(ledger_->LatestPolicy(kRegion)->version(), 2u);
}

TEST_F(LedgerTest, PolicyAdoptionRules) {
  const v1::Policy v1_policy = MakePolicy(1, "2014-01-01", {100, 200, 500});
  auto again = ledger_->AdoptPolicy(v1_policy, "admin");
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->duplicate);
  EXPECT_EQ(again->sequence, 1u);

  auto changed = ledger_->AdoptPolicy(MakePolicy(1, "2014-01-01", {100, 300}), "admin");
  ASSERT_TRUE(changed->rejection);
  EXPECT_EQ(changed->rejection->reason, v1::REASON_POLICY_VERSION_NOT_NEWER);

  auto earlier = ledger_->AdoptPolicy(MakePolicy(2, "2013-01-01", {100}), "admin");
  ASSERT_TRUE(earlier->rejection);
  EXPECT_EQ(earlier->rejection->reason, v1::REASON_POLICY_VERSION_NOT_NEWER);

  v1::Policy invalid = MakePolicy(2, "2015-01-01", {200, 100});
  auto rejected = ledger_->AdoptPolicy(invalid, "admin");
  ASSERT_TRUE(rejected->rejection);
  EXPECT_EQ(rejected->rejection->reason, v1::REASON_INVALID_POLICY);
  EXPECT_THAT(rejected->rejection->detail, HasSubstr("ascending"));
  EXPECT_EQ(ledger_->Head().sequence, 2u) << "rejections append nothing";
}

// A policy file of versions (deploy/policies/yanji-222401.json) parses into the versions in
// order; versions out of order or of two regions are refused; a single document still parses.
TEST(PolicyFileTest, VersionsParseInOrderOrAreRefused) {
  auto json = [](std::vector<v1::Policy> versions) {
    v1::PolicyVersions file;
    for (auto& p : versions) *file.add_versions() = p;
    std::string out;
    EXPECT_TRUE(google::protobuf::util::MessageToJsonString(file, &out).ok());
    return out;
  };
  const v1::Policy first = MakePolicy(1, "2009-01-01", {100});
  const v1::Policy second = MakePolicy(2, "2026-01-01", {100, 200});
  auto both = ParsePolicyFileJson(json({first, second}));
  ASSERT_TRUE(both.ok()) << both.status();
  ASSERT_EQ(both->size(), 2u);
  EXPECT_EQ((*both)[1].effective_from(), "2026-01-01");

  auto reversed = ParsePolicyFileJson(json({second, first}));
  EXPECT_THAT(std::string(reversed.status().message()), HasSubstr("versions[1]"));
  v1::Policy other = second;
  other.set_region_code("222402");
  EXPECT_FALSE(ParsePolicyFileJson(json({first, other})).ok());
  EXPECT_FALSE(ParsePolicyFileJson(json({})).ok());

  std::string single;
  ASSERT_TRUE(google::protobuf::util::MessageToJsonString(first, &single).ok());
  auto one = ParsePolicyFileJson(single);
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_EQ(one->size(), 1u);
  EXPECT_FALSE(ParsePolicyFileJson("{\"versions\": [], \"typo\": 1}").ok());
}

TEST_F(LedgerTest, CancellationReversesTheCreditAndItsPostings) {
  auto added = Push({Record("C1", kZhang, 500)});
  ASSERT_EQ(added[0].outcome(), v1::OUTCOME_ACCEPTED);
  v1::CollectionRecord cancel = Record("C1", kZhang, 500, "2025-04-01");
  cancel.set_record_type(v1::RECORD_TYPE_CANCEL);
  auto cancelled = Push({cancel});
  ASSERT_EQ(cancelled[0].outcome(), v1::OUTCOME_ACCEPTED) << cancelled[0].detail();
  EXPECT_EQ(Personal(kZhang), 0);
  auto account = *ledger_->GetAccount(kZhang);
  EXPECT_EQ(account->contribution_years(), 0u);
  const auto totals = ledger_->LedgerAccountBalances();
  EXPECT_EQ(totals.at("222401/tax_receivable"), 0);
  EXPECT_EQ(totals.at("222401/individual_accounts/personal"), 0);
  // After the cancellation the year is free again for a new receipt.
  EXPECT_EQ(Push({Record("C2", kZhang, 200)})[0].outcome(), v1::OUTCOME_ACCEPTED);
}

TEST_F(LedgerTest, PostingsBalanceAndNameTheirAccounts) {
  auto outcomes = Push({Record("B1", kZhang, 200), Record("B2", kLi, 100)});
  for (const auto& o : outcomes) {
    auto event = ledger_->ReadEvent(o.sequence());
    ASSERT_TRUE(event.ok());
    const auto postings = PostingsFor(*event);
    ASSERT_EQ(postings.size(), 1u);
    EXPECT_EQ(postings[0].debit_account(), "tax_receivable");
    EXPECT_GT(postings[0].amount_fen(), 0);
  }
  EXPECT_EQ(PostingsFor(*ledger_->ReadEvent(outcomes[0].sequence()))[0].credit_account(),
            StrCat("person/", kZhang, "/personal"));
  EXPECT_EQ(PostingsFor(*ledger_->ReadEvent(outcomes[1].sequence()))[0].credit_account(),
            "suspense");
  int64_t sum = 0;
  for (const auto& [name, balance] : ledger_->LedgerAccountBalances()) sum += balance;
  EXPECT_EQ(sum, 0);
  EXPECT_TRUE(PostingsFor(*ledger_->ReadEvent(1)).empty()) << "policy adoption moves no money";
}

TEST_F(LedgerTest, RebuildFromTheLogReproducesProjectionsByteForByte) {
  Enrol(kLi);
  v1::CollectionRecord cancel = Record("X1", kLi, 100, "2025-04-01");
  cancel.set_record_type(v1::RECORD_TYPE_CANCEL);
  Push({Record("X1", kLi, 100), Record("X2", kZhang, 500), Record("X3", MakeId(7), 200)});
  Push({cancel, Record("X4", kLi, 200)});
  ledger_.reset();

  auto snapshot = [&] {
    auto store = Store::Open(dir_.string());
    EXPECT_TRUE(store.ok());
    std::vector<std::vector<std::pair<std::string, std::string>>> all;
    for (Cf cf : {Cf::kIdempotency, Cf::kAccounts, Cf::kLedgerAccounts, Cf::kPolicies,
                  Cf::kMeta}) {
      all.push_back(*(*store)->Scan(cf));
    }
    return all;
  };
  const auto before = snapshot();
  ASSERT_FALSE(before[1].empty());
  ASSERT_TRUE(Ledger::RebuildProjections(dir_.string()).ok());
  EXPECT_EQ(snapshot(), before);
  // In small batches each batch is replayed over the one still being written (its predecessor):
  // the same accounts, receipts and totals cross the batch boundaries.
  for (size_t per_batch : {1, 2, 3}) {
    ASSERT_TRUE(Ledger::RebuildProjections(dir_.string(), per_batch).ok()) << per_batch;
    EXPECT_EQ(snapshot(), before) << "rebuilt in batches of " << per_batch;
  }
  Reopen();
  EXPECT_EQ(Personal(kLi), 20000);
  EXPECT_EQ(Personal(kZhang), 50000);
}

TEST_F(LedgerTest, ATamperedEventIsDetectedOnOpen) {
  Push({Record("D1", kZhang, 200), Record("D2", kLi, 100)});
  const uint64_t tampered = 3;
  ledger_.reset();
  {
    auto store = Store::Open(dir_.string());
    ASSERT_TRUE(store.ok());
    auto bytes = (*store)->Get(Cf::kEvents, keys::Event(tampered));
    ASSERT_TRUE(bytes.ok() && bytes->has_value());
    v1::EventEnvelope e;
    ASSERT_TRUE(e.ParseFromString(**bytes));
    e.mutable_contribution_collected()->set_amount_fen(500000);  // 5000 yuan instead of 200
    rocksdb::WriteBatch batch;
    ASSERT_TRUE(batch.Put((*store)->handle(Cf::kEvents), keys::Event(tampered),
                          SerializeDeterministic(e)).ok());
    ASSERT_TRUE((*store)->WriteSynced(batch).ok());
  }
  auto opened = Ledger::Open({.data_dir = dir_.string(), .clock_us = FixedNow});
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(opened.status().message()), HasSubstr("event 4"));
  // Rebuilding from a damaged log fails the same way instead of serving wrong balances.
  EXPECT_EQ(Ledger::RebuildProjections(dir_.string()).code(), absl::StatusCode::kDataLoss);
}

TEST_F(LedgerTest, ProjectionsBehindTheLogRefuseToOpen) {
  Push({Record("E1", kZhang, 200)});
  ledger_.reset();
  {
    auto store = Store::Open(dir_.string());
    ASSERT_TRUE(store.ok());
    rocksdb::WriteBatch batch;
    ASSERT_TRUE(batch.Put((*store)->handle(Cf::kMeta), std::string(keys::kLastSequence),
                          keys::EncodeU64(2)).ok());
    ASSERT_TRUE((*store)->WriteSynced(batch).ok());
  }
  auto opened = Ledger::Open({.data_dir = dir_.string(), .clock_us = FixedNow});
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(opened.status().message()), HasSubstr("rebuild"));
  ASSERT_TRUE(Ledger::RebuildProjections(dir_.string()).ok());
  Reopen();
  EXPECT_EQ(Personal(kZhang), 20000);
  EXPECT_EQ(ledger_->Head().sequence, 3u);
}

TEST_F(LedgerTest, AnUnfinishedRebuildRefusesToOpenUntilRebuiltAgain) {
  Push({Record("G1", kZhang, 200)});
  ledger_.reset();
  {
    // What a crash between "rebuild started" and "rebuilt projections flushed" leaves behind.
    auto store = Store::Open(dir_.string());
    ASSERT_TRUE(store.ok());
    rocksdb::WriteBatch batch;
    ASSERT_TRUE(batch.Put((*store)->handle(Cf::kMeta), std::string(keys::kRebuildInProgress), "1")
                    .ok());
    ASSERT_TRUE((*store)->WriteSynced(batch).ok());
  }
  auto opened = Ledger::Open({.data_dir = dir_.string(), .clock_us = FixedNow});
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(opened.status().message()), HasSubstr("rebuild"));
  ASSERT_TRUE(Ledger::RebuildProjections(dir_.string(), /*events_per_batch=*/1).ok());
  Reopen();
  EXPECT_EQ(Personal(kZhang), 20000);
}

TEST_F(LedgerTest, EnrolmentRulesInOrder) {
  v1::ParticipantEnrolled p;
  p.set_citizen_id(kLi);
  p.set_name("李四");
  p.set_region_code(kRegion);
  p.set_enrolment_date("2025-07-01");  // after the fixed "today" 2025-06-30
  auto future = ledger_->Enrol(p, "agency");
  ASSERT_TRUE(future->rejection);
  EXPECT_EQ(future->rejection->reason, v1::REASON_DATE_IN_FUTURE);

  p.set_enrolment_date("2025-01-01");
  p.set_name("");
  EXPECT_EQ(ledger_->Enrol(p, "agency")->rejection->reason, v1::REASON_INVALID_FIELD);
  p.set_name("李四");
  p.set_region_code("999999");
  EXPECT_EQ(ledger_->Enrol(p, "agency")->rejection->reason, v1::REASON_UNKNOWN_REGION);
  p.set_region_code(kRegion);
  auto first = ledger_->Enrol(p, "agency");
  ASSERT_FALSE(first->rejection);
  auto again = ledger_->Enrol(p, "agency");
  EXPECT_TRUE(again->duplicate);
  EXPECT_EQ(again->sequence, first->sequence);
  p.set_phone("13800000000");
  EXPECT_EQ(ledger_->Enrol(p, "agency")->rejection->reason, v1::REASON_ALREADY_ENROLLED);
}

}  // namespace
}  // namespace ledger
