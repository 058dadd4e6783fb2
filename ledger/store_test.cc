#include "ledger/store.h"

#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ledger/hash.h"
#include "ledger/limits.h"
#include "rocksdb/write_batch.h"

namespace ledger {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;

// --- keys ---

TEST(KeysTest, U64RoundTrips) {
  for (uint64_t v :
       {uint64_t{0}, uint64_t{1}, uint64_t{255}, uint64_t{256}, uint64_t{0x0102030405060708},
        uint64_t{1} << 63, std::numeric_limits<uint64_t>::max()}) {
    const std::string bytes = keys::EncodeU64(v);
    ASSERT_EQ(bytes.size(), 8u) << v;
    EXPECT_EQ(keys::DecodeU64(bytes), v);
  }
}

TEST(KeysTest, U64IsBigEndian) {
  EXPECT_EQ(keys::EncodeU64(0), std::string(8, '\0'));
  EXPECT_EQ(keys::EncodeU64(0x0102030405060708), std::string("\x01\x02\x03\x04\x05\x06\x07\x08"));
  EXPECT_EQ(keys::EncodeU64(std::numeric_limits<uint64_t>::max()), std::string(8, '\xff'));
}

TEST(KeysTest, U64ByteOrderIsNumericOrder) {
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  const uint64_t ascending[] = {
      0, 1, 255, 256, 65535, 65536, 0xffffffff, uint64_t{1} << 32, uint64_t{1} << 63, kMax};
  for (size_t i = 0; i + 1 < std::size(ascending); ++i) {
    // std::string compares bytes as unsigned char, like RocksDB's bytewise comparator.
    EXPECT_LT(keys::EncodeU64(ascending[i]), keys::EncodeU64(ascending[i + 1]))
        << ascending[i] << " vs " << ascending[i + 1];
  }
}

TEST(KeysTest, I64RoundTrips) {
  for (int64_t v : {int64_t{0}, int64_t{1}, int64_t{-1}, int64_t{-5}, int64_t{-256},
                    int64_t{123456789}, int64_t{-123456789}, std::numeric_limits<int64_t>::min(),
                    std::numeric_limits<int64_t>::max()}) {
    const std::string bytes = keys::EncodeI64(v);
    ASSERT_EQ(bytes.size(), 8u) << v;
    EXPECT_EQ(keys::DecodeI64(bytes), v);
  }
}

TEST(KeysTest, I64IsTwosComplementBigEndian) {
  EXPECT_EQ(keys::EncodeI64(-1), std::string(8, '\xff'));
  EXPECT_EQ(keys::EncodeI64(std::numeric_limits<int64_t>::min()),
            std::string("\x80\0\0\0\0\0\0\0", 8));
  EXPECT_EQ(keys::EncodeI64(std::numeric_limits<int64_t>::max()),
            std::string("\x7f\xff\xff\xff\xff\xff\xff\xff", 8));
}

TEST(KeysTest, U32IsBigEndian) {
  EXPECT_EQ(keys::EncodeU32(1), std::string("\0\0\0\x01", 4));
  EXPECT_EQ(keys::EncodeU32(0x01020304), std::string("\x01\x02\x03\x04", 4));
}

TEST(KeysTest, EventKeyIsBigEndianSequence) {
  EXPECT_EQ(keys::Event(1), std::string("\0\0\0\0\0\0\0\x01", 8));
  EXPECT_EQ(keys::Event(1).size(), 8u);
  EXPECT_LT(keys::Event(255), keys::Event(256));
}

TEST(KeysTest, OtherKeys) {
  EXPECT_EQ(keys::Receipt("ABC"), "rABC");
  EXPECT_EQ(keys::Receipt(""), "r");
  EXPECT_EQ(keys::PolicyAdoption("110105", 2), std::string("p110105\0\0\0\x02", 11));
  EXPECT_EQ(keys::LedgerAccount("110105", "cash"), "110105/cash");
  EXPECT_EQ(keys::Policy("110105", 258), std::string("110105\0\0\x01\x02", 10));
}

// --- hash ---

TEST(HashTest, Sha256KnownVectors) {
  EXPECT_EQ(Sha256("abc").size(), kHashBytes);
  EXPECT_EQ(HexEncode(Sha256("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(HexEncode(Sha256("")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(HashTest, Sha256HashesEmbeddedNul) {
  EXPECT_NE(Sha256(std::string_view("a\0b", 3)), Sha256("a"));
}

TEST(HashTest, GenesisIs32ZeroBytes) {
  EXPECT_EQ(GenesisHash(), std::string(32, '\0'));
  EXPECT_EQ(GenesisHash().size(), kHashBytes);
}

TEST(HashTest, HexEncodeIsLowerCase) {
  EXPECT_EQ(HexEncode(std::string_view("\x00\xab\x10\xff", 4)), "00ab10ff");
  EXPECT_EQ(HexEncode(""), "");
}

// --- Store ---

class StoreTest : public testing::Test {
 protected:
  void SetUp() override {
    const testing::TestInfo* info = testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::filesystem::path(testing::TempDir()) /
           (std::string("ledger_store_test_") + info->name() + "_" + std::to_string(getpid()));
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<Store> OpenOrDie() {
    auto store = Store::Open(dir_.string());
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? *std::move(store) : nullptr;
  }

  static std::optional<std::string> GetOrDie(const Store& store, Cf cf, std::string_view key) {
    auto value = store.Get(cf, key);
    EXPECT_TRUE(value.ok()) << value.status();
    return value.ok() ? *value : std::nullopt;
  }

  std::filesystem::path dir_;
};

TEST_F(StoreTest, WriteGetAndReopen) {
  {
    std::unique_ptr<Store> store = OpenOrDie();
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(GetOrDie(*store, Cf::kMeta, keys::kLastSequence), std::nullopt);

    rocksdb::WriteBatch batch;
    ASSERT_TRUE(batch.Put(store->handle(Cf::kMeta), keys::kLastSequence, keys::EncodeU64(7)).ok());
    ASSERT_TRUE(batch.Put(store->handle(Cf::kAccounts), "11010519491231002X", "account").ok());
    ASSERT_TRUE(batch.Put(store->handle(Cf::kEvents), keys::Event(7), "event 7").ok());
    ASSERT_TRUE(store->WriteSynced(batch).ok());

    EXPECT_EQ(GetOrDie(*store, Cf::kMeta, keys::kLastSequence), keys::EncodeU64(7));
    EXPECT_EQ(GetOrDie(*store, Cf::kAccounts, "11010519491231002X"), "account");
    EXPECT_EQ(GetOrDie(*store, Cf::kEvents, keys::Event(7)), "event 7");
    // Absent keys, and present keys looked up in the wrong column family.
    EXPECT_EQ(GetOrDie(*store, Cf::kMeta, keys::kChainHead), std::nullopt);
    EXPECT_EQ(GetOrDie(*store, Cf::kAccounts, "440524198001010014"), std::nullopt);
    EXPECT_EQ(GetOrDie(*store, Cf::kAccounts, keys::kLastSequence), std::nullopt);
    EXPECT_EQ(GetOrDie(*store, Cf::kPolicies, "11010519491231002X"), std::nullopt);
  }
  std::unique_ptr<Store> reopened = OpenOrDie();
  ASSERT_NE(reopened, nullptr);
  EXPECT_EQ(GetOrDie(*reopened, Cf::kMeta, keys::kLastSequence), keys::EncodeU64(7));
  EXPECT_EQ(GetOrDie(*reopened, Cf::kAccounts, "11010519491231002X"), "account");
  EXPECT_EQ(GetOrDie(*reopened, Cf::kEvents, keys::Event(7)), "event 7");
  EXPECT_EQ(GetOrDie(*reopened, Cf::kMeta, keys::kChainHead), std::nullopt);
}

TEST_F(StoreTest, ScanIsInNumericOrderOfBigEndianKeys) {
  std::unique_ptr<Store> store = OpenOrDie();
  ASSERT_NE(store, nullptr);
  rocksdb::WriteBatch batch;
  for (uint64_t seq : {uint64_t{65536}, uint64_t{256}, uint64_t{1}, uint64_t{255}}) {
    ASSERT_TRUE(batch.Put(store->handle(Cf::kEvents), keys::Event(seq), std::to_string(seq)).ok());
  }
  ASSERT_TRUE(store->WriteSynced(batch).ok());
  auto scanned = store->Scan(Cf::kEvents);
  ASSERT_TRUE(scanned.ok()) << scanned.status();
  EXPECT_THAT(*scanned,
              ElementsAre(Pair(keys::Event(1), "1"), Pair(keys::Event(255), "255"),
                          Pair(keys::Event(256), "256"), Pair(keys::Event(65536), "65536")));
}

TEST_F(StoreTest, DropProjectionsKeepsOnlyEvents) {
  {
    std::unique_ptr<Store> store = OpenOrDie();
    ASSERT_NE(store, nullptr);
    rocksdb::WriteBatch batch;
    ASSERT_TRUE(batch.Put(store->handle(Cf::kEvents), keys::Event(1), "event 1").ok());
    ASSERT_TRUE(batch.Put(store->handle(Cf::kEvents), keys::Event(2), "event 2").ok());
    ASSERT_TRUE(batch.Put(store->handle(Cf::kMeta), keys::kLastSequence, keys::EncodeU64(2)).ok());
    ASSERT_TRUE(batch.Put(store->handle(Cf::kAccounts), "11010519491231002X", "account").ok());
    ASSERT_TRUE(batch
                    .Put(store->handle(Cf::kIdempotency), keys::Receipt("R1"),
                         keys::EncodeU64(1) + keys::EncodeU64(0))
                    .ok());
    ASSERT_TRUE(batch
                    .Put(store->handle(Cf::kLedgerAccounts), keys::LedgerAccount("110105", "cash"),
                         keys::EncodeI64(-100))
                    .ok());
    ASSERT_TRUE(batch.Put(store->handle(Cf::kPolicies), keys::Policy("110105", 1), "p").ok());
    ASSERT_TRUE(store->WriteSynced(batch).ok());

    ASSERT_TRUE(store->DropProjections().ok());

    EXPECT_EQ(GetOrDie(*store, Cf::kMeta, keys::kLastSequence), std::nullopt);
    EXPECT_EQ(GetOrDie(*store, Cf::kAccounts, "11010519491231002X"), std::nullopt);
    EXPECT_EQ(GetOrDie(*store, Cf::kEvents, keys::Event(1)), "event 1");
    EXPECT_EQ(GetOrDie(*store, Cf::kEvents, keys::Event(2)), "event 2");
    for (Cf cf : {Cf::kIdempotency, Cf::kAccounts, Cf::kLedgerAccounts, Cf::kPolicies, Cf::kMeta}) {
      auto scanned = store->Scan(cf);
      ASSERT_TRUE(scanned.ok()) << scanned.status();
      EXPECT_TRUE(scanned->empty()) << "column family " << static_cast<int>(cf);
    }

    // The recreated column families are usable.
    rocksdb::WriteBatch again;
    ASSERT_TRUE(again.Put(store->handle(Cf::kMeta), keys::kLastSequence, keys::EncodeU64(2)).ok());
    ASSERT_TRUE(store->WriteSynced(again).ok());
    EXPECT_EQ(GetOrDie(*store, Cf::kMeta, keys::kLastSequence), keys::EncodeU64(2));
  }
  // After reopening: the drop persisted, the events and the post-drop write survived.
  std::unique_ptr<Store> reopened = OpenOrDie();
  ASSERT_NE(reopened, nullptr);
  EXPECT_EQ(GetOrDie(*reopened, Cf::kAccounts, "11010519491231002X"), std::nullopt);
  EXPECT_EQ(GetOrDie(*reopened, Cf::kMeta, keys::kLastSequence), keys::EncodeU64(2));
  auto events = reopened->Scan(Cf::kEvents);
  ASSERT_TRUE(events.ok()) << events.status();
  EXPECT_THAT(*events,
              ElementsAre(Pair(keys::Event(1), "event 1"), Pair(keys::Event(2), "event 2")));
}

// A clean close of a store whose memtables hold more than kCloseFlushBytesMin writes them to
// table files, so the next open has no WAL to insert again; a small one closes without a flush.
TEST_F(StoreTest, ACleanCloseFlushesLargeMemtablesOnly) {
  auto table_files = [&] {
    size_t n = 0;
    for (const auto& f : std::filesystem::directory_iterator(dir_)) {
      n += f.path().extension() == ".sst";
    }
    return n;
  };
  const std::string value(16 << 10, 'v');
  auto write_rows = [&](Store& store, size_t first, size_t count) {
    rocksdb::WriteBatch batch;
    for (size_t i = first; i < first + count; ++i) {
      ASSERT_TRUE(batch.Put(store.handle(Cf::kAccounts), keys::EncodeU64(i), value).ok());
    }
    ASSERT_TRUE(store.WriteSynced(batch).ok());
  };
  {
    std::unique_ptr<Store> store = OpenOrDie();
    ASSERT_NE(store, nullptr);
    write_rows(*store, 0, 8);
  }
  EXPECT_EQ(table_files(), 0u) << "a small close flushed";
  const size_t rows = kCloseFlushBytesMin / value.size() + 64;
  {
    std::unique_ptr<Store> store = OpenOrDie();
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(table_files(), 1u) << "the reopen wrote the recovered rows out";
    for (size_t first = 8; first < rows; first += 100) write_rows(*store, first, 100);
  }
  EXPECT_EQ(table_files(), 2u) << "a large close did not flush";
  std::unique_ptr<Store> reopened = OpenOrDie();
  ASSERT_NE(reopened, nullptr);
  EXPECT_EQ(GetOrDie(*reopened, Cf::kAccounts, keys::EncodeU64(rows - 1)), value);
  EXPECT_EQ(GetOrDie(*reopened, Cf::kAccounts, keys::EncodeU64(0)), value);
}

// Compactions run at nice 19 (see Store::Open): after one has run, the thread that ran it, one
// of RocksDB's "rocksdb:low" threads, has the lowest priority.
TEST_F(StoreTest, CompactionsRunAtTheLowestCpuPriority) {
  std::unique_ptr<Store> store = OpenOrDie();
  ASSERT_NE(store, nullptr);
  for (uint64_t round = 0; round < 2; ++round) {
    rocksdb::WriteBatch batch;
    for (uint64_t i = 0; i < 100; ++i) {
      const std::string value = std::to_string(round);
      ASSERT_TRUE(batch.Put(store->handle(Cf::kAccounts), keys::EncodeU64(i), value).ok());
    }
    ASSERT_TRUE(store->WriteSynced(batch).ok());
  }
  ASSERT_TRUE(store->CompactAll().ok());
  std::vector<int> nice;  // of every compaction thread
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::string name;
    std::getline(std::ifstream(task.path() / "comm"), name);
    if (name.rfind("rocksdb:low", 0) != 0) continue;
    errno = 0;
    const int n = getpriority(PRIO_PROCESS, static_cast<id_t>(std::stoi(task.path().filename())));
    ASSERT_EQ(errno, 0);
    nice.push_back(n);
  }
  ASSERT_FALSE(nice.empty()) << "no rocksdb:low thread";
  EXPECT_THAT(nice, ::testing::Contains(19));
  EXPECT_EQ(GetOrDie(*store, Cf::kAccounts, keys::EncodeU64(99)), "1");
}

TEST_F(StoreTest, OpenFailsWhenPathIsAFile) {
  std::filesystem::create_directories(dir_);
  const std::filesystem::path file = dir_ / "not_a_directory";
  { std::ofstream(file) << "x"; }
  auto store = Store::Open((file / "db").string());
  EXPECT_FALSE(store.ok());
}

}  // namespace
}  // namespace ledger
