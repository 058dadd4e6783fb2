// Two ledgers on one PostgreSQL log, as two nodes under Patroni see it (ledger/replication.h),
// with the test in Patroni's place deciding which node is primary: only the primary's ledger
// writes, the other answers UNAVAILABLE not_leader and follows the acknowledged log into its own
// projections; when the roles swap, the new primary begins a term, catches up and writes, and
// the old one follows it.
#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "tests/support/fixtures.h"
#include "tests/support/opened_ledger.h"
#include "tests/support/pg_server.h"

namespace ledger {
namespace {

using ::ledger::testing::PgServer;

class ReplicatedLedgerTest : public testing::OpenedLedgerTest {
 protected:
  void SetUp() override {
    server_ = testing::SharedPgServer();
    ASSERT_NE(server_, nullptr);
    ledger_id_ = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    configure_ = [this](Options& o) { Configure(o, a_primary_); };
    a_primary_ = true;
    Open();  // node A: ledger_
    Options b;
    b.data_dir = Sibling("-b");
    b.clock_us = [this] { return NowUs(); };
    Configure(b, b_primary_);
    auto opened = Ledger::Open(std::move(b));
    ASSERT_TRUE(opened.ok()) << opened.status();
    b_ = std::move(*opened);
    AdoptPolicy(testing::PaperPolicy());
    Enrol(id_, "2026-01-05");
  }
  void TearDown() override {
    b_.reset();
    OpenedLedgerTest::TearDown();
  }

  void Configure(Options& o, std::atomic<bool>& primary) {
    o.log_backend = LogBackend::kPostgres;
    o.postgres_conninfo = server_->conninfo("ledger");
    o.postgres_ledger_id = ledger_id_;
    o.postgres_is_primary = [&primary] { return primary.load(); };
  }

  v1::CollectionRecord Record(const std::string& receipt, int year = 2026) {
    return testing::AddRecord(receipt, id_, year, 10'000, "2026-03-01");
  }

  absl::StatusOr<std::vector<v1::RecordOutcome>> PushTo(Ledger& node, const std::string& receipt,
                                                        int year = 2026) {
    Ledger::Records records;
    *records.Add() = Record(receipt, year);
    return node.PushCollections(records, actor_);
  }

  // Waits (up to 10 s) until `follower` shows `leader`'s head.
  static bool Converges(const Ledger& follower, const Ledger& leader) {
    for (int i = 0; i < 200; ++i) {
      const ChainHead f = follower.Head(), l = leader.Head();
      if (f.sequence == l.sequence && f.hash == l.hash) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  PgServer* server_ = nullptr;
  std::string ledger_id_;
  std::atomic<bool> a_primary_{false};
  std::atomic<bool> b_primary_{false};
  std::unique_ptr<Ledger> b_;
  const std::string id_ = testing::CitizenId("19700101", 7);
};

TEST_F(ReplicatedLedgerTest, OnlyThePrimaryWritesAndTheOtherFollowsUpToTheAcknowledgedHead) {
  PushOk({Record("R1"), Record("R2")});
  const auto refused = PushTo(*b_, "R3");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(absl::StartsWith(refused.status().message(), "not_leader")) << refused.status();

  // A publishes its acknowledged head when idle; B applies it to its own projections.
  ASSERT_TRUE(Converges(*b_, *ledger_));
  auto on_b = b_->GetAccount(id_);
  ASSERT_TRUE(on_b.ok() && on_b->has_value());
  EXPECT_EQ((*on_b)->SerializeAsString(), Account(id_).SerializeAsString());
  EXPECT_EQ(server_
                ->Query("SELECT acked_seq = seq FROM ledger_log.chain_head WHERE ledger = '" +
                        ledger_id_ + "'")
                .value()
                .at(0),
            "t");
}

TEST_F(ReplicatedLedgerTest, WhenTheRolesSwapTheNewPrimaryCatchesUpAndTheOldOneFollows) {
  PushOk({Record("R1")});
  a_primary_ = false;  // Patroni moved the leader to B's node
  b_primary_ = true;
  const auto on_b = PushTo(*b_, "R2", 2025);
  ASSERT_TRUE(on_b.ok()) << on_b.status();
  ASSERT_EQ(on_b->size(), 1u);
  EXPECT_EQ((*on_b)[0].outcome(), v1::OUTCOME_ACCEPTED);
  // B caught up before deciding: R1 (written by A) is a duplicate of A's sequence there.
  const auto resent = PushTo(*b_, "R1");
  ASSERT_TRUE(resent.ok()) << resent.status();
  EXPECT_EQ((*resent)[0].outcome(), v1::OUTCOME_DUPLICATE);

  const auto on_a = PushTo(*ledger_, "R3");
  ASSERT_FALSE(on_a.ok());
  EXPECT_TRUE(absl::StartsWith(on_a.status().message(), "not_leader")) << on_a.status();
  ASSERT_TRUE(Converges(*ledger_, *b_));
  auto on_b_after = b_->GetAccount(id_);
  ASSERT_TRUE(on_b_after.ok() && on_b_after->has_value());
  EXPECT_EQ(Account(id_).SerializeAsString(), (*on_b_after)->SerializeAsString());

  // And back: A writes again in a new term, after B's events.
  b_primary_ = false;
  a_primary_ = true;
  PushOk({Record("R4")});
  EXPECT_EQ(ledger_->Head().sequence, b_->Head().sequence + 1);
  ASSERT_TRUE(Converges(*b_, *ledger_));
}

// Writes sent to the follower without pause are refused and do not keep it from following.
TEST_F(ReplicatedLedgerTest, RefusedWritesDoNotStopTheFollowerFollowing) {
  std::atomic<bool> done{false};
  std::atomic<int> refused{0};
  std::thread hammer([&] {
    for (int i = 0; !done; ++i) {
      const auto r = PushTo(*b_, "B" + std::to_string(i));
      if (!r.ok() && absl::StartsWith(r.status().message(), "not_leader")) ++refused;
    }
  });
  PushOk({Record("R1"), Record("R2", 2025)});
  const bool converged = Converges(*b_, *ledger_);
  done = true;
  hammer.join();
  EXPECT_TRUE(converged);
  EXPECT_GT(refused.load(), 0);
}

}  // namespace
}  // namespace ledger
