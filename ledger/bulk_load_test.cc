// BulkLoad: a batch loaded as SST files reads exactly as the same batch written, whatever the
// order of its rows, with later writes of a key winning and deletes removing stored rows.
#include "ledger/bulk_load.h"

#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "ledger/store.h"
#include "ledger/strings.h"
#include "rocksdb/write_batch.h"

namespace ledger {
namespace {

class BulkLoadTest : public testing::Test {
 protected:
  void SetUp() override {
    const std::string name = testing::UnitTest::GetInstance()->current_test_info()->name();
    for (const char* side : {"written", "loaded"}) {
      dirs_.push_back(std::filesystem::path(testing::TempDir()) /
                      StrCat("ledger_bulk_load_test_", name, "_", side, "_", getpid()));
      std::filesystem::remove_all(dirs_.back());
      auto store = Store::Open(dirs_.back().string());
      ASSERT_TRUE(store.ok()) << store.status();
      stores_.push_back(*std::move(store));
    }
  }
  void TearDown() override {
    stores_.clear();
    for (const auto& dir : dirs_) std::filesystem::remove_all(dir);
  }

  // The same rows (built by `fill` for each store's handles) written to the first store and
  // bulk-loaded into the second.
  template <typename Fill>
  void WriteAndLoad(Fill fill) {
    rocksdb::WriteBatch written, loaded;
    fill(*stores_[0], written);
    fill(*stores_[1], loaded);
    ASSERT_TRUE(stores_[0]->WriteSynced(written).ok());
    const absl::Status s = BulkLoad(*stores_[1], loaded);
    ASSERT_TRUE(s.ok()) << s;
  }

  void ExpectSameRows(Cf cf) {
    auto written = stores_[0]->Scan(cf);
    auto loaded = stores_[1]->Scan(cf);
    ASSERT_TRUE(written.ok() && loaded.ok());
    EXPECT_EQ(*loaded, *written) << CfName(cf);
  }

  std::vector<std::filesystem::path> dirs_;
  std::vector<std::unique_ptr<Store>> stores_;
};

TEST_F(BulkLoadTest, ReadsAsTheBatchWrittenInAnyOrderOverWhatIsStored) {
  // Rows in runs of ascending keys and out of order, a key written twice in one batch, and
  // thousands of rows in one family.
  WriteAndLoad([](Store& store, rocksdb::WriteBatch& batch) {
    for (int i = 0; i < 5000; ++i) {
      batch.Put(store.handle(Cf::kParticipantEvents), keys::ParticipantEvent("p", i % 2 ? i : 9999 - i), "");
    }
    batch.Put(store.handle(Cf::kAccounts), "b", "1");
    batch.Put(store.handle(Cf::kAccounts), "a", "1");
    batch.Put(store.handle(Cf::kAccounts), "c", "1");
    batch.Put(store.handle(Cf::kAccounts), "a", "2");
    batch.Put(store.handle(Cf::kRecon), "r1", "x");
    batch.Put(store.handle(Cf::kRecon), "r2", "y");
  });
  // A second load over the first: replaces, deletes (a stored row, a row of the same batch, a
  // row never stored) and adds.
  WriteAndLoad([](Store& store, rocksdb::WriteBatch& batch) {
    batch.Put(store.handle(Cf::kAccounts), "c", "3");
    batch.Delete(store.handle(Cf::kRecon), "r1");
    batch.Put(store.handle(Cf::kRecon), "r3", "z");
    batch.Delete(store.handle(Cf::kRecon), "r3");
    batch.Delete(store.handle(Cf::kRecon), "r0");
    batch.Put(store.handle(Cf::kRecon), "r2", "w");
    batch.Put(store.handle(Cf::kMeta), "last_sequence", keys::EncodeU64(7));
  });
  for (Cf cf : {Cf::kParticipantEvents, Cf::kAccounts, Cf::kRecon, Cf::kMeta, Cf::kIdempotency}) {
    ExpectSameRows(cf);
  }
  auto recon = stores_[1]->Scan(Cf::kRecon);
  ASSERT_TRUE(recon.ok());
  EXPECT_EQ(*recon, (std::vector<std::pair<std::string, std::string>>{{"r2", "w"}}));
  EXPECT_EQ(stores_[1]->Scan(Cf::kParticipantEvents)->size(), 5000u);
  EXPECT_FALSE(std::filesystem::exists(dirs_[1] / "bulk_load")) << "the files' directory is removed";
}

}  // namespace
}  // namespace ledger
