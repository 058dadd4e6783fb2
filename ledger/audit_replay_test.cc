// The replay comparison (ReplayCompare) of every projection against the log:
// equal after a long workload, consistent while writes continue, and naming a
// corrupted or missing projection row.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "ledger/hash.h"
#include "ledger/ledger.h"
#include "ledger/store.h"
#include "ledger/strings.h"
#include "ledger/testing/audit_fixture.h"
#include "ledger/working_state.h"

namespace ledger::testing {
namespace {

using ::testing::AnyOf;
using ::testing::HasSubstr;

// ---------------------------------------------------------------------------------------------
// Replay comparison.

TEST_F(AuditTest, ReplayCompareIsEqualAfterALongWorkloadAndAfterReopening) {
  ASSERT_NO_FATAL_FAILURE(OpenFresh());
  const std::vector<Point> points = RunWorkload(/*backdated=*/true);
  ASSERT_FALSE(HasFatalFailure());
  ASSERT_FALSE(points.empty());
  const uint64_t head = ledger_->Head().sequence;
  ASSERT_GT(head, 1000u);

  auto compare = [&](const std::string &when) {
    SCOPED_TRACE(when);
    auto compared = ledger_->ReplayCompare(scratch_);
    ASSERT_TRUE(compared.ok()) << compared.status();
    EXPECT_TRUE(compared->equal) << compared->first_difference;
    EXPECT_EQ(compared->first_difference, "");
    EXPECT_EQ(compared->sequence, head);
    EXPECT_EQ(compared->events_replayed, head);
    // At least the participant index rows (nearly every event names a
    // participant).
    EXPECT_GT(compared->rows_compared, head / 2);
    EXPECT_FALSE(std::filesystem::exists(scratch_))
        << "the scratch store is removed";
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

// The comparison reads the live projections and the log at one snapshot:
// commits landing while it runs never show up as differences.
TEST_F(AuditTest, ReplayCompareIsConsistentWhileWritesContinue) {
  ASSERT_NO_FATAL_FAILURE(OpenFresh());
  std::vector<std::string> people;
  for (int i = 0; i < 8; ++i) {
    people.push_back(CitizenId(Birth(1980, 1, 1 + i), i));
    ASSERT_NO_FATAL_FAILURE(Enrol(people.back()));
  }
  std::atomic<bool> stop{false};
  std::atomic<int> pushed{0};
  std::atomic<bool> finished{false};
  std::thread writer([&] {
    for (int n = 0; !stop.load() && n < 4000; ++n) {
      Ledger::Records batch;
      for (int j = 0; j < 5; ++j) {
        *batch.Add() =
            AddRecord(StrCat("W-", n, "-", j), people[(n + j) % people.size()],
                      2010 + (n * 5 + j) % 16, 10000, "2025-06-01");
      }
      auto out = ledger_->PushCollections(batch, kAuditActor);
      if (!out.ok())
        break;
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
    EXPECT_TRUE(compared->equal)
        << "round " << round << ": " << compared->first_difference;
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
  const std::string a = CitizenId(Birth(1980, 1, 1), 1),
                    b = CitizenId(Birth(1981, 2, 2), 2);
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
    ASSERT_TRUE(batch
                    .Put((*store)->handle(Cf::kAccounts), b,
                         SerializeDeterministic(account))
                    .ok());
    ASSERT_TRUE((*store)->WriteSynced(batch).ok());
  }
  ASSERT_NO_FATAL_FAILURE(Open(/*verify_chain=*/false));
  EXPECT_EQ(Account(b).total_fen(), 50001);
  compared = ledger_->ReplayCompare(scratch_);
  ASSERT_TRUE(compared.ok()) << compared.status();
  EXPECT_FALSE(compared->equal);
  // The accounts column family (Cf::kAccounts = 2) and b's key, in hex.
  EXPECT_THAT(compared->first_difference,
              AnyOf(HasSubstr("accounts"), HasSubstr("column family 2")))
      << compared->first_difference;
  EXPECT_THAT(compared->first_difference, HasSubstr(HexEncode(b)))
      << compared->first_difference;
  EXPECT_THAT(compared->first_difference,
              ::testing::Not(HasSubstr(HexEncode(a))));

  // b's row restored (equal again), then a row missing from the live
  // participant index (a's enrolment, sequence 2): named as rebuilt but not
  // live.
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
    ASSERT_TRUE((*store)
                    ->Get(Cf::kParticipantEvents, keys::ParticipantEvent(a, 2))
                    ->has_value());
    rocksdb::WriteBatch batch;
    ASSERT_TRUE(batch
                    .Delete((*store)->handle(Cf::kParticipantEvents),
                            keys::ParticipantEvent(a, 2))
                    .ok());
    ASSERT_TRUE((*store)->WriteSynced(batch).ok());
  }
  ASSERT_NO_FATAL_FAILURE(Open(false));
  compared = ledger_->ReplayCompare(scratch_);
  ASSERT_TRUE(compared.ok()) << compared.status();
  EXPECT_FALSE(compared->equal);
  EXPECT_THAT(compared->first_difference,
              HasSubstr(HexEncode(keys::ParticipantEvent(a, 2))))
      << compared->first_difference;
  EXPECT_THAT(compared->first_difference, HasSubstr("rebuilt but not live"))
      << compared->first_difference;
}

} // namespace
} // namespace ledger::testing
