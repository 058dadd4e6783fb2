// Moving a ledger between backends (ledger/pg/migrate.h): a RocksDB ledger's log copied into
// PostgreSQL opens there with the same head, accounts and duplicates; and back, a data
// directory caught up from PostgreSQL runs on RocksDB alone.
#include "ledger/pg/migrate.h"

#include <filesystem>
#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "ledger/store.h"
#include "tests/support/fixtures.h"
#include "tests/support/opened_ledger.h"
#include "tests/support/pg_server.h"

namespace ledger {
namespace {

using ::ledger::testing::PgServer;

class MigrateLogTest : public testing::OpenedLedgerTest {
 protected:
  void SetUp() override {
    server_ = testing::SharedPgServer();
    ASSERT_NE(server_, nullptr);
    Open();  // RocksDB
    AdoptPolicy(testing::PaperPolicy());
    Enrol(id_, "2026-01-05");
    PushOk({testing::AddRecord("R1", id_, 2026, 10'000, "2026-03-01")});
  }
  void UsePostgres(const std::string& ledger_id) {
    configure_ = [this, ledger_id](Options& o) {
      o.log_backend = LogBackend::kPostgres;
      o.postgres_conninfo = server_->conninfo("ledger");
      o.postgres_ledger_id = ledger_id;
    };
  }

  PgServer* server_ = nullptr;
  const std::string id_ = testing::CitizenId("19700101", 7);
};

TEST_F(MigrateLogTest, ARocksDbLedgerMovesToPostgresAndBack) {
  const ChainHead head = ledger_->Head();
  const std::string account = Account(id_).SerializeAsString();
  Close();
  const absl::StatusOr<CopiedLog> copied =
      CopyLogToPostgres(dir_.string(), server_->conninfo("migrate"), "moved");
  ASSERT_TRUE(copied.ok()) << copied.status();
  EXPECT_EQ(copied->head.sequence, head.sequence);
  EXPECT_EQ(copied->head.hash, head.hash);
  EXPECT_GT(copied->refs, 0u);  // the receipt, the enrolment, the policy
  // Again into the same ledger id: refused, nothing changes.
  EXPECT_EQ(CopyLogToPostgres(dir_.string(), server_->conninfo("migrate"), "moved").status().code(),
            absl::StatusCode::kFailedPrecondition);

  // The same directory on postgres: nothing to catch up, a resend is a duplicate.
  UsePostgres("moved");
  Open();
  EXPECT_EQ(ledger_->Head().hash, head.hash);
  const auto again = Push({testing::AddRecord("R1", id_, 2026, 10'000, "2026-03-01")});
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].outcome(), v1::OUTCOME_DUPLICATE);
  PushOk({testing::AddRecord("R2", id_, 2025, 10'000, "2026-03-02")});
  const ChainHead moved_head = ledger_->Head();
  const std::string moved_account = Account(id_).SerializeAsString();
  Close();

  // Back: a fresh directory catches up from PostgreSQL, then runs on RocksDB alone.
  std::filesystem::remove_all(dir_);
  Open();
  Close();
  configure_ = nullptr;
  Open();
  EXPECT_EQ(ledger_->Head().sequence, moved_head.sequence);
  EXPECT_EQ(ledger_->Head().hash, moved_head.hash);
  EXPECT_EQ(Account(id_).SerializeAsString(), moved_account);
  EXPECT_NE(moved_account, account);
}

TEST_F(MigrateLogTest, ADamagedLocalChainOrNoLedgerIsNotCopied) {
  Close();
  EXPECT_EQ(CopyLogToPostgres(dir_.string() + "-absent", server_->conninfo("migrate"), "absent")
                .status()
                .code(),
            absl::StatusCode::kNotFound);
  {
    // Event 2's bytes altered on disk: its hash no longer links to event 3.
    auto store = Store::Open(dir_.string());
    ASSERT_TRUE(store.ok()) << store.status();
    auto stored = (*store)->Get(Cf::kEvents, keys::Event(2));
    ASSERT_TRUE(stored.ok() && stored->has_value());
    std::string altered = **stored;
    altered.back() ^= 1;
    rocksdb::WriteBatch batch;
    batch.Put((*store)->handle(Cf::kEvents), keys::Event(2), altered);
    ASSERT_TRUE((*store)->WriteSynced(batch).ok());
  }
  const absl::StatusOr<CopiedLog> copied =
      CopyLogToPostgres(dir_.string(), server_->conninfo("migrate"), "damaged");
  EXPECT_EQ(copied.status().code(), absl::StatusCode::kDataLoss) << copied.status();
  EXPECT_EQ(server_->Query("SELECT count(*) FROM ledger_log.events WHERE ledger = 'damaged'")
                .value_or(std::vector<std::string>{"0"})
                .at(0),
            "0");
}

}  // namespace
}  // namespace ledger
