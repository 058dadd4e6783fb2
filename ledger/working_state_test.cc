// WorkingState's batched reads (Prefetch): they answer as the one-by-one reads would, and never
// read past a predecessor group's rows.
#include "ledger/working_state.h"

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gtest/gtest.h"
#include "ledger/rocksdb_log.h"
#include "ledger/store.h"
#include "rocksdb/write_batch.h"
#include "tests/support/test_dir.h"

namespace ledger {
namespace {

class WorkingStatePrefetchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ledger::testing::TestDir("working_state");
    auto store = Store::Open(dir_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    log_ = std::make_unique<RocksDbLog>(*store_);
  }
  void TearDown() override {
    log_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  void PutAccount(const std::string& citizen_id, int64_t total_fen) {
    v1::Account account;
    account.set_citizen_id(citizen_id);
    account.set_total_fen(total_fen);
    rocksdb::WriteBatch batch;
    ASSERT_TRUE(
        batch.Put(store_->handle(Cf::kAccounts), citizen_id, account.SerializeAsString()).ok());
    ASSERT_TRUE(store_->WriteSynced(batch).ok());
  }
  void PutReceipt(const std::string& number, uint64_t collected, uint64_t cancelled) {
    rocksdb::WriteBatch batch;
    ASSERT_TRUE(batch
                    .Put(store_->handle(Cf::kIdempotency), keys::Receipt(number),
                         keys::EncodeU64(collected) + keys::EncodeU64(cancelled))
                    .ok());
    ASSERT_TRUE(store_->WriteSynced(batch).ok());
  }
  void DeleteAccount(const std::string& citizen_id) {
    rocksdb::WriteBatch batch;
    ASSERT_TRUE(batch.Delete(store_->handle(Cf::kAccounts), citizen_id).ok());
    ASSERT_TRUE(store_->WriteSynced(batch).ok());
  }

  std::string dir_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<RocksDbLog> log_;
  CommittedState committed_;
};

TEST_F(WorkingStatePrefetchTest, AnswersAsFindWouldForPresentMissingAndRepeatedKeys) {
  PutAccount("A", 1200);
  PutReceipt("R1", 7, 9);
  WorkingState state(*store_, *log_, committed_);
  const std::vector<std::string_view> ids = {"A", "X", "A"};
  const std::vector<std::string_view> receipts = {"R1", "R2", "R1"};
  ASSERT_TRUE(state.Prefetch(ids, receipts).ok());

  // What was read is what the state answers, even once the store has moved on: the rows were
  // read by the prefetch, not by the finds below.
  DeleteAccount("A");
  PutAccount("X", 5);
  auto a = state.FindAccount("A");
  ASSERT_TRUE(a.ok());
  ASSERT_NE(*a, nullptr);
  EXPECT_EQ((*a)->total_fen(), 1200);
  auto x = state.FindAccount("X");
  ASSERT_TRUE(x.ok());
  EXPECT_EQ(*x, nullptr);  // not enrolled when prefetched
  auto r1 = state.FindReceipt("R1");
  ASSERT_TRUE(r1.ok());
  ASSERT_TRUE(r1->has_value());
  EXPECT_EQ((*r1)->collected_sequence, 7u);
  EXPECT_EQ((*r1)->cancelled_sequence, 9u);
  auto r2 = state.FindReceipt("R2");
  ASSERT_TRUE(r2.ok());
  EXPECT_FALSE(r2->has_value());
}

TEST_F(WorkingStatePrefetchTest, LeavesThePredecessorsRowsToThePredecessor) {
  PutAccount("A", 1200);
  WorkingState in_flight(*store_, *log_, committed_);
  auto theirs = in_flight.ChangeAccount("A");
  ASSERT_TRUE(theirs.ok());
  (*theirs)->set_total_fen(1500);  // changed by the group in flight, not yet in the store
  in_flight.PutReceipt("R1", ReceiptEntry{11, 0});

  WorkingState next(*store_, *log_, in_flight);
  const std::vector<std::string_view> ids = {"A"};
  const std::vector<std::string_view> receipts = {"R1"};
  ASSERT_TRUE(next.Prefetch(ids, receipts).ok());
  auto a = next.FindAccount("A");
  ASSERT_TRUE(a.ok());
  ASSERT_NE(*a, nullptr);
  EXPECT_EQ((*a)->total_fen(), 1500);
  auto r1 = next.FindReceipt("R1");
  ASSERT_TRUE(r1.ok());
  ASSERT_TRUE(r1->has_value());
  EXPECT_EQ((*r1)->collected_sequence, 11u);
}

}  // namespace
}  // namespace ledger
