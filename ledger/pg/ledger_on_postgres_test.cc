// A whole ledger on log.backend = postgres (a private PostgreSQL 15, tests/support/pg_server.h):
// commands commit to PostgreSQL first, a fresh data directory catches up from it on open, and
// an in-doubt commit is answered UNAVAILABLE commit_in_doubt and never acknowledged, the state
// reloading from the log before the next group.
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "tests/support/fixtures.h"
#include "tests/support/opened_ledger.h"
#include "tests/support/pg_server.h"

namespace ledger {
namespace {

using ::ledger::testing::PgServer;

class LedgerOnPostgresTest : public testing::OpenedLedgerTest {
 protected:
  void SetUp() override {
    server_ = testing::SharedPgServer();
    ASSERT_NE(server_, nullptr);
    ledger_id_ = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    configure_ = [this](Options& o) {
      o.log_backend = LogBackend::kPostgres;
      o.postgres_conninfo = server_->conninfo("ledger");
      o.postgres_ledger_id = ledger_id_;
      o.postgres_commit_deadline_ms = 500;
    };
    Open();
    AdoptPolicy(testing::PaperPolicy());
    Enrol(id_, "2026-01-05");
  }
  void TearDown() override {
    if (server_ != nullptr) {
      EXPECT_TRUE(server_->SetSynchronousStandbyNames("").ok());
    }
    OpenedLedgerTest::TearDown();
  }

  std::string PgCount(const std::string& table) {
    return server_
        ->Query("SELECT count(*) FROM ledger_log." + table + " WHERE ledger = '" + ledger_id_ +
                "'")
        .value()
        .at(0);
  }

  v1::CollectionRecord Record(const std::string& receipt) {
    return testing::AddRecord(receipt, id_, 2026, 10'000, "2026-03-01");
  }

  PgServer* server_ = nullptr;
  std::string ledger_id_;
  const std::string id_ = testing::CitizenId("19700101", 7);
};

TEST_F(LedgerOnPostgresTest, CommandsCommitToPostgresAndAFreshDataDirectoryCatchesUp) {
  PushOk({Record("R1"), Record("R2")});
  const ChainHead head = ledger_->Head();
  EXPECT_EQ(PgCount("events"), std::to_string(head.sequence));
  EXPECT_NE(PgCount("refs"), "0");  // the receipts' idempotency rows
  const v1::Account before = Account(id_);

  Close();
  std::filesystem::remove_all(dir_);  // a new node: nothing local
  Open();
  EXPECT_EQ(ledger_->Head().sequence, head.sequence);
  EXPECT_EQ(ledger_->Head().hash, head.hash);
  EXPECT_EQ(Account(id_).SerializeAsString(), before.SerializeAsString());
  const auto again = Push({Record("R1")});
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].outcome(), v1::OUTCOME_DUPLICATE);
}

TEST_F(LedgerOnPostgresTest, AnInDoubtCommitIsNeverAcknowledgedAndTheStateReloads) {
  const uint64_t before = ledger_->Head().sequence;
  ASSERT_TRUE(server_->SetSynchronousStandbyNames("no_such_standby").ok());
  Ledger::Records records;
  *records.Add() = Record("R1");
  const auto in_doubt = ledger_->PushCollections(records, actor_);
  ASSERT_FALSE(in_doubt.ok());
  EXPECT_EQ(in_doubt.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(absl::StartsWith(in_doubt.status().message(), "commit_in_doubt")) << in_doubt.status();
  EXPECT_EQ(ledger_->Head().sequence, before);  // nothing published

  // The waiting COMMIT is released and commits: the log has the group, the writer reloads it.
  ASSERT_TRUE(server_->SetSynchronousStandbyNames("").ok());
  PushOk({Record("R2")});
  const auto resent = Push({Record("R1")});
  ASSERT_EQ(resent.size(), 1u);
  EXPECT_EQ(resent[0].outcome(), v1::OUTCOME_DUPLICATE);
  EXPECT_EQ(resent[0].sequence(), before + 1);
  EXPECT_EQ(PgCount("events"), std::to_string(ledger_->Head().sequence));
}

}  // namespace
}  // namespace ledger
