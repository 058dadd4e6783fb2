// The EventLog contract (ledger/event_log.h) checked against both backends: RocksDbLog over a
// fresh store, PostgresLog over a private PostgreSQL 15 (tests/support/pg_server.h, started
// once per process when a PostgreSQL case first runs). Each case commits groups as the writer
// does (Append, then the local batch written synced) and checks what reads see.
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gtest/gtest.h"
#include "ledger/hash.h"
#include "ledger/pg/pg_log.h"
#include "ledger/pg/postgres_log.h"
#include "ledger/rocksdb_log.h"
#include "ledger/store.h"
#include "ledger/v1/events.pb.h"
#include "tests/support/pg_server.h"
#include "tests/support/test_dir.h"

namespace ledger {
namespace {

using ::ledger::testing::PgServer;

// One group of `n` events after `head`: stored bytes, parsed envelopes and the new head.
struct Group {
  std::vector<std::string> stored;
  std::vector<v1::EventEnvelope> parsed;
  ChainHead before;
  ChainHead head;

  EventGroup View() const {
    return EventGroup{before.sequence + 1, stored, parsed, head};
  }
};

Group MakeGroup(const ChainHead& head, int n) {
  Group g{{}, {}, head, head};
  for (int i = 0; i < n; ++i) {
    v1::EventEnvelope e;
    e.set_sequence(g.head.sequence + 1);
    e.set_effective_date("2026-12-06");
    e.set_recorded_time_us(1'800'000'000'000'000 + g.head.sequence);
    e.set_actor("conformance");
    e.set_external_ref(absl::StrCat("ref-", e.sequence()));
    e.set_region_code("222401");
    e.set_prev_hash(g.head.hash);
    g.stored.push_back(e.SerializeAsString());
    g.head = ChainHead{e.sequence(), Sha256(g.stored.back())};
    e.set_hash(g.head.hash);
    g.parsed.push_back(std::move(e));
  }
  return g;
}

ChainHead Genesis() { return ChainHead{0, GenesisHash()}; }

std::string CaseName() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  return absl::StrReplaceAll(absl::StrCat(info->test_suite_name(), "_", info->name()),
                             {{"/", "_"}});
}

class RocksDbBackend {
 public:
  static constexpr char kName[] = "RocksDb";
  RocksDbBackend() : dir_(::ledger::testing::TestDir("event_log_conformance")) { Reopen(); }

  EventLog& log() { return *log_; }
  absl::Status Commit(const ChainHead& expected, const EventGroup& group) {
    rocksdb::WriteBatch batch;
    if (absl::Status s = log_->Append(expected, group, batch); !s.ok()) return s;
    return store_->WriteSynced(batch);
  }
  void Reopen() {
    log_.reset();
    store_.reset();
    auto store = Store::Open(dir_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(store).value();
    log_ = std::make_unique<RocksDbLog>(*store_);
  }

 private:
  std::string dir_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<RocksDbLog> log_;
};

// The process's PostgreSQL server, started by the first PostgreSQL case, stopped at exit.
class PgEnvironment : public ::testing::Environment {
 public:
  static PgServer* Server() {
    if (server_ == nullptr) {
      auto started = PgServer::Start({});
      EXPECT_TRUE(started.ok()) << started.status();
      if (started.ok()) server_ = std::move(started).value();
    }
    return server_.get();
  }
  void TearDown() override { server_.reset(); }

 private:
  static std::unique_ptr<PgServer> server_;
};
std::unique_ptr<PgServer> PgEnvironment::server_;
[[maybe_unused]] ::testing::Environment* const kPgEnvironment =
    ::testing::AddGlobalTestEnvironment(new PgEnvironment);

class PostgresBackend {
 public:
  static constexpr char kName[] = "Postgres";
  PostgresBackend() : ledger_id_(CaseName()) { Reopen(); }

  EventLog& log() { return *log_; }
  absl::Status Commit(const ChainHead& expected, const EventGroup& group) {
    rocksdb::WriteBatch batch;  // no references or checkpoints in these groups
    return log_->Append(expected, group, batch);
  }
  void Reopen() {
    log_.reset();
    PgServer* server = PgEnvironment::Server();
    ASSERT_NE(server, nullptr);
    auto pg = PgEventLog::Open(server->conninfo("conformance"), ledger_id_, {});
    ASSERT_TRUE(pg.ok()) << pg.status();
    log_ = std::make_unique<PostgresLog>(std::move(pg).value(), /*idempotency_cf=*/1,
                                         /*checkpoints_cf=*/8);
  }

 private:
  std::string ledger_id_;
  std::unique_ptr<PostgresLog> log_;
};

template <typename Backend>
class EventLogConformanceTest : public ::testing::Test {
 protected:
  // Commits groups of these sizes after the current head; returns every stored event in order.
  std::vector<std::string> CommitGroups(std::initializer_list<int> sizes) {
    std::vector<std::string> all;
    for (int n : sizes) {
      const Group g = MakeGroup(head_, n);
      const absl::Status s = backend_.Commit(head_, g.View());
      EXPECT_TRUE(s.ok()) << s;
      head_ = g.head;
      all.insert(all.end(), g.stored.begin(), g.stored.end());
    }
    return all;
  }

  std::vector<std::pair<uint64_t, std::string>> ScanAll(uint64_t from, uint64_t to) {
    std::vector<std::pair<uint64_t, std::string>> out;
    const absl::Status s = backend_.log().Scan(from, to, [&](uint64_t seq, std::string_view e) {
      out.emplace_back(seq, std::string(e));
      return true;
    });
    EXPECT_TRUE(s.ok()) << s;
    return out;
  }

  void ExpectDurableHead(const ChainHead& want) {
    const absl::StatusOr<ChainHead> head = backend_.log().DurableHead();
    ASSERT_TRUE(head.ok()) << head.status();
    EXPECT_EQ(head->sequence, want.sequence);
    EXPECT_EQ(head->hash, want.hash);
  }

  Backend backend_;
  ChainHead head_ = Genesis();
};

struct BackendNames {
  template <typename B>
  static std::string GetName(int) {
    return B::kName;
  }
};

using Backends = ::testing::Types<RocksDbBackend, PostgresBackend>;
TYPED_TEST_SUITE(EventLogConformanceTest, Backends, BackendNames);

TYPED_TEST(EventLogConformanceTest, EmptyLogHasTheGenesisHead) {
  this->ExpectDurableHead(Genesis());
  const auto first = this->backend_.log().Read(1);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_FALSE(first->has_value());
  EXPECT_TRUE(this->ScanAll(0, 0).empty());
}

TYPED_TEST(EventLogConformanceTest, DenseSequenceAndChainWithIdenticalBytes) {
  const std::vector<std::string> all = this->CommitGroups({1, 3, 2});
  this->ExpectDurableHead(this->head_);
  const auto scanned = this->ScanAll(0, 0);
  ASSERT_EQ(scanned.size(), all.size());
  std::string prev = GenesisHash();
  for (size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(scanned[i].first, i + 1);
    EXPECT_EQ(scanned[i].second, all[i]);  // byte-identical
    v1::EventEnvelope e;
    ASSERT_TRUE(e.ParseFromString(scanned[i].second));
    EXPECT_EQ(e.sequence(), i + 1);
    EXPECT_EQ(e.prev_hash(), prev);
    prev = Sha256(scanned[i].second);
    const auto read = this->backend_.log().Read(i + 1);
    ASSERT_TRUE(read.ok()) << read.status();
    EXPECT_EQ(read->value_or(""), all[i]);
  }
  EXPECT_EQ(prev, this->head_.hash);
  const auto past = this->backend_.log().Read(all.size() + 1);
  ASSERT_TRUE(past.ok()) << past.status();
  EXPECT_FALSE(past->has_value());

  const auto middle = this->ScanAll(2, 4);
  ASSERT_EQ(middle.size(), 3u);
  EXPECT_EQ(middle.front().first, 2u);
  EXPECT_EQ(middle.back().second, all[3]);
  int visited = 0;
  ASSERT_TRUE(this->backend_.log()
                  .Scan(0, 0, [&](uint64_t, std::string_view) { return ++visited < 2; })
                  .ok());
  EXPECT_EQ(visited, 2);  // stops when the visitor says so
}

TYPED_TEST(EventLogConformanceTest, AppendAtAWrongHeadFailsAndAppendsNothing) {
  const std::vector<std::string> all = this->CommitGroups({2});
  const ChainHead stale{1, Sha256(all[0])};
  const ChainHead forged{2, Sha256("not the head")};
  for (const ChainHead& wrong : {Genesis(), stale, forged}) {
    const Group g = MakeGroup(wrong, 2);
    const absl::Status s = this->backend_.Commit(wrong, g.View());
    EXPECT_EQ(s.code(), absl::StatusCode::kAborted) << s;
    this->ExpectDurableHead(this->head_);
    const auto third = this->backend_.log().Read(3);
    ASSERT_TRUE(third.ok()) << third.status();
    EXPECT_FALSE(third->has_value());
  }
  this->CommitGroups({1});  // the right head still appends
  this->ExpectDurableHead(this->head_);
  EXPECT_EQ(this->ScanAll(0, 0).size(), 3u);
}

TYPED_TEST(EventLogConformanceTest, DurableHeadAndBytesSurviveReopen) {
  const std::vector<std::string> before = this->CommitGroups({3, 1});
  this->backend_.Reopen();
  this->ExpectDurableHead(this->head_);
  const std::vector<std::string> after = this->CommitGroups({2});
  const auto scanned = this->ScanAll(0, 0);
  ASSERT_EQ(scanned.size(), before.size() + after.size());
  for (size_t i = 0; i < before.size(); ++i) EXPECT_EQ(scanned[i].second, before[i]);
}

}  // namespace
}  // namespace ledger
