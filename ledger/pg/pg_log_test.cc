// PgEventLog against a private PostgreSQL 15 (tests/support/pg_server.h), one server for the
// suite and one ledger id per test: the dense hash chain and byte identity, references,
// checkpoints, competing writers, the epoch rule and in-doubt commits.
#include "ledger/pg/pg_log.h"

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ledger/hash.h"
#include "ledger/pg/acknowledged_log.h"
#include "ledger/v1/events.pb.h"
#include "tests/support/pg_server.h"

namespace ledger {
namespace {

using ::ledger::testing::PgServer;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;
using ::testing::StartsWith;
using ::testing::UnorderedElementsAre;

using Refs = std::vector<std::pair<std::string, std::string>>;

constexpr char kAbsentStandby[] = "no_such_standby";

// A group of `n` envelopes following `head`, and the head after it.
struct Group {
  std::vector<std::string> envelopes;
  ChainHead head;
};

Group MakeGroup(const ChainHead& head, int n, absl::string_view tag) {
  Group g{{}, head};
  for (int i = 0; i < n; ++i) {
    v1::EventEnvelope e;
    e.set_sequence(g.head.sequence + 1);
    e.set_effective_date("2026-12-06");
    e.set_recorded_time_us(1'800'000'000'000'000 + g.head.sequence);
    e.set_actor("pg-log-test");
    e.set_external_ref(absl::StrCat(tag, "-", i));
    e.set_region_code("222401");
    e.set_prev_hash(g.head.hash);
    g.envelopes.push_back(e.SerializeAsString());
    g.head = ChainHead{e.sequence(), Sha256(g.envelopes.back())};
  }
  return g;
}

// gmock's string matchers take std::string; Debian's absl::string_view is not std::string_view.
std::string Message(const absl::Status& s) { return std::string(s.message()); }

ChainHead Genesis() { return ChainHead{0, GenesisHash()}; }

bool SameHead(const ChainHead& a, const ChainHead& b) {
  return a.sequence == b.sequence && a.hash == b.hash;
}

class PgEventLogTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<std::unique_ptr<PgServer>> server = PgServer::Start({});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(server).value().release();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(server_, nullptr) << "the PostgreSQL server did not start"; }
  // A test that stopped half way must not leave commits waiting for the absent standby.
  void TearDown() override {
    if (server_ != nullptr &&
        server_->Query("SHOW synchronous_standby_names").value() != std::vector<std::string>{""}) {
      EXPECT_TRUE(server_->SetSynchronousStandbyNames("").ok());
    }
  }

  // Each test has its own ledger in the shared server.
  static std::string LedgerId() {
    return ::testing::UnitTest::GetInstance()->current_test_info()->name();
  }

  static std::unique_ptr<PgEventLog> OpenLog(std::string_view app,
                                             PgEventLog::Options options = {}) {
    absl::StatusOr<std::unique_ptr<PgEventLog>> log =
        PgEventLog::Open(server_->conninfo(app), LedgerId(), std::move(options));
    EXPECT_TRUE(log.ok()) << log.status();
    return log.ok() ? std::move(log).value() : nullptr;
  }

  static std::vector<std::string> ReadAll(PgEventLog& log, uint64_t from, uint64_t to) {
    std::vector<std::string> out;
    absl::Status s = log.ReadRange(from, to, [&](uint64_t seq, std::string_view bytes) {
      EXPECT_EQ(seq, from + out.size());
      out.emplace_back(bytes);
      return absl::OkStatus();
    });
    EXPECT_TRUE(s.ok()) << s;
    return out;
  }

  // Column `column` of this ledger's events, hex, in seq order, as the server holds them.
  static std::vector<std::string> StoredHex(absl::string_view column) {
    return server_
        ->Query(absl::StrCat("SELECT encode(", column, ", 'hex') FROM ledger_log.events ",
                             "WHERE ledger = '", LedgerId(), "' ORDER BY seq"))
        .value();
  }

  static PgServer* server_;
};

PgServer* PgEventLogTest::server_ = nullptr;

TEST_F(PgEventLogTest, DenseChainOverAppendsAndReopenWithIdenticalBytes) {
  std::vector<std::string> all;
  ChainHead head = Genesis();
  {
    auto log = OpenLog("chain");
    ASSERT_NE(log, nullptr);
    EXPECT_GE(log->Epoch(), 1u);
    ASSERT_TRUE(SameHead(log->DurableHead().value(), Genesis()));
    for (int n : {1, 5, 20}) {
      Group g = MakeGroup(head, n, absl::StrCat("g", n));
      absl::StatusOr<ChainHead> next = log->Append(head, g.envelopes, {}, {});
      ASSERT_TRUE(next.ok()) << next.status();
      EXPECT_TRUE(SameHead(*next, g.head));
      head = *next;
      all.insert(all.end(), g.envelopes.begin(), g.envelopes.end());
    }
    EXPECT_EQ(ReadAll(*log, 1, 26), all);
  }
  auto reopened = OpenLog("chain");
  ASSERT_NE(reopened, nullptr);
  EXPECT_TRUE(SameHead(reopened->DurableHead().value(), head));
  Group more = MakeGroup(head, 3, "after-reopen");
  ASSERT_TRUE(reopened->Append(head, more.envelopes, {}, {}).ok());
  all.insert(all.end(), more.envelopes.begin(), more.envelopes.end());
  // A range that starts mid-log is checked from its predecessor's hash.
  EXPECT_EQ(ReadAll(*reopened, 10, 29), std::vector<std::string>(all.begin() + 9, all.end()));

  // Byte identity: the server holds exactly the envelopes, their SHA-256 and the links.
  std::vector<std::string> envelopes, hashes, links;
  std::string prev = GenesisHash();
  for (const std::string& e : all) {
    envelopes.push_back(HexEncode(e));
    links.push_back(HexEncode(prev));
    prev = Sha256(e);
    hashes.push_back(HexEncode(prev));
  }
  EXPECT_EQ(StoredHex("envelope"), envelopes);
  EXPECT_EQ(StoredHex("hash"), hashes);
  EXPECT_EQ(StoredHex("prev_hash"), links);
}

TEST_F(PgEventLogTest, ReadRangeStaysWithinTheDurableHead) {
  auto log = OpenLog("range");
  ASSERT_NE(log, nullptr);
  auto ignore = [](uint64_t, std::string_view) { return absl::OkStatus(); };
  EXPECT_EQ(log->ReadRange(1, 1, ignore).code(), absl::StatusCode::kOutOfRange);
  Group g = MakeGroup(Genesis(), 4, "r");
  ASSERT_TRUE(log->Append(Genesis(), g.envelopes, {}, {}).ok());
  EXPECT_EQ(log->ReadRange(0, 2, ignore).code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(log->ReadRange(3, 2, ignore).code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(log->ReadRange(1, 5, ignore).code(), absl::StatusCode::kOutOfRange);
  int visited = 0;
  absl::Status stop = log->ReadRange(1, 4, [&](uint64_t seq, std::string_view) {
    ++visited;
    return seq == 2 ? absl::CancelledError("enough") : absl::OkStatus();
  });
  EXPECT_EQ(stop.code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(visited, 2);
  EXPECT_TRUE(SameHead(log->DurableHead().value(), g.head));
}

TEST_F(PgEventLogTest, ReadRangeReportsATamperedEventAsDataLoss) {
  auto log = OpenLog("tamper");
  ASSERT_NE(log, nullptr);
  Group g = MakeGroup(Genesis(), 3, "t");
  ASSERT_TRUE(log->Append(Genesis(), g.envelopes, {}, {}).ok());
  ASSERT_TRUE(server_
                  ->Query(absl::StrCat("UPDATE ledger_log.events SET envelope = envelope || '\\x00'"
                                       " WHERE ledger = '",
                                       LedgerId(), "' AND seq = 2"))
                  .ok());
  absl::Status s =
      log->ReadRange(1, 3, [](uint64_t, std::string_view) { return absl::OkStatus(); });
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_THAT(Message(s), HasSubstr("event 2"));
}

TEST_F(PgEventLogTest, RefsAndCheckpointsCommitWithTheirGroup) {
  auto log = OpenLog("refs");
  ASSERT_NE(log, nullptr);
  EXPECT_TRUE(log->ResolveRefs({}).value().empty());
  Group g1 = MakeGroup(Genesis(), 2, "a");
  // Within one group the last value of a key wins, as in one RocksDB WriteBatch.
  const Refs refs1 = {{"r1", "v-first"}, {"d9", "digest"}, {"r1", "v-second"}};
  ASSERT_TRUE(log->Append(Genesis(), g1.envelopes, refs1, {}).ok());
  EXPECT_THAT(log->ResolveRefs({"r1", "d9", "absent"}).value(),
              UnorderedElementsAre(Pair("r1", "v-second"), Pair("d9", "digest")));
  EXPECT_TRUE(log->ResolveRefs({"absent"}).value().empty());

  // A later group replaces a value (a receipt's cancellation) and signs a checkpoint.
  Group g2 = MakeGroup(g1.head, 3, "b");
  v1::Checkpoint c;
  c.set_sequence(g2.head.sequence);
  c.set_chain_hash(g2.head.hash);
  c.set_signature("signature");
  ASSERT_TRUE(log->Append(g1.head, g2.envelopes, {{"r1", "v-cancelled"}},
                          {{g2.head.sequence, c.SerializeAsString()}})
                  .ok());
  EXPECT_THAT(log->ResolveRefs({"r1"}).value(), ElementsAre(Pair("r1", "v-cancelled")));
  EXPECT_THAT(log->ReadCheckpoints(1, 100).value(),
              ElementsAre(Pair(g2.head.sequence, c.SerializeAsString())));
  EXPECT_TRUE(log->ReadCheckpoints(1, 4).value().empty());
}

TEST_F(PgEventLogTest, CompetingWritersExactlyOneWinsAndTheLoserNeverAcks) {
  auto first = OpenLog("writer-a");
  ASSERT_NE(first, nullptr);
  Group base = MakeGroup(Genesis(), 2, "base");
  ASSERT_TRUE(first->Append(Genesis(), base.envelopes, {}, {}).ok());
  auto second = OpenLog("writer-b");  // begins a later term
  ASSERT_NE(second, nullptr);
  EXPECT_GT(second->Epoch(), first->Epoch());

  Group from_a = MakeGroup(base.head, 3, "from-a");
  Group from_b = MakeGroup(base.head, 4, "from-b");
  absl::StatusOr<ChainHead> result_a, result_b;
  std::thread a([&] { result_a = first->Append(base.head, from_a.envelopes, {{"ka", "a"}}, {}); });
  std::thread b([&] { result_b = second->Append(base.head, from_b.envelopes, {{"kb", "b"}}, {}); });
  a.join();
  b.join();
  ASSERT_TRUE(result_b.ok()) << result_b.status();
  EXPECT_EQ(result_a.status().code(), absl::StatusCode::kAborted);
  EXPECT_THAT(Message(result_a.status()), StartsWith("fenced:"));
  EXPECT_TRUE(first->fenced());
  // The loser refuses everything from now on, even reads and reference answers.
  EXPECT_EQ(first->DurableHead().status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(first->ResolveRefs({"kb"}).status().code(), absl::StatusCode::kAborted);

  std::vector<std::string> expected = base.envelopes;
  expected.insert(expected.end(), from_b.envelopes.begin(), from_b.envelopes.end());
  EXPECT_EQ(ReadAll(*second, 1, 6), expected);
  EXPECT_TRUE(second->ResolveRefs({"ka"}).value().empty());

  // The loser, reopened, continues from the winner's head (and fences the winner in turn).
  auto again = OpenLog("writer-a");
  ASSERT_NE(again, nullptr);
  ASSERT_TRUE(SameHead(again->DurableHead().value(), from_b.head));
  Group next = MakeGroup(from_b.head, 1, "next");
  ASSERT_TRUE(again->Append(from_b.head, next.envelopes, {}, {}).ok());
  EXPECT_EQ(
      second->Append(from_b.head, MakeGroup(from_b.head, 1, "x").envelopes, {}, {}).status().code(),
      absl::StatusCode::kAborted);
  EXPECT_EQ(ReadAll(*again, 1, 7).size(), 7u);
}

TEST_F(PgEventLogTest, AHeadMovedBehindTheWriterFencesItBeforeAnyRowIsWritten) {
  auto log = OpenLog("moved");
  ASSERT_NE(log, nullptr);
  Group g1 = MakeGroup(Genesis(), 1, "one");
  ASSERT_TRUE(log->Append(Genesis(), g1.envelopes, {}, {}).ok());
  // Same epoch, different hash: the (seq, hash) half of the CAS.
  ASSERT_TRUE(server_
                  ->Query(absl::StrCat("UPDATE ledger_log.chain_head SET hash = sha256(hash) "
                                       "WHERE ledger = '",
                                       LedgerId(), "'"))
                  .ok());
  Group g2 = MakeGroup(g1.head, 2, "two");
  absl::StatusOr<ChainHead> r = log->Append(g1.head, g2.envelopes, {{"k", "v"}}, {});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kAborted);
  EXPECT_THAT(Message(r.status()), StartsWith("fenced:"));
  EXPECT_EQ(StoredHex("envelope").size(), 1u);
}

TEST_F(PgEventLogTest, AStaleExpectedHeadIsRefusedWithoutWriting) {
  auto log = OpenLog("stale");
  ASSERT_NE(log, nullptr);
  Group g1 = MakeGroup(Genesis(), 1, "one");
  ASSERT_TRUE(log->Append(Genesis(), g1.envelopes, {}, {}).ok());
  absl::StatusOr<ChainHead> r =
      log->Append(Genesis(), MakeGroup(Genesis(), 1, "x").envelopes, {}, {});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kAborted);
  EXPECT_THAT(Message(r.status()), StartsWith("head_moved:"));
  EXPECT_FALSE(log->fenced());
  EXPECT_TRUE(log->Append(g1.head, MakeGroup(g1.head, 1, "two").envelopes, {}, {}).ok());
}

TEST_F(PgEventLogTest, EpochRuleANewTermFencesTheOldWriterAndItsDuplicateAnswers) {
  auto old_writer = OpenLog("epoch-old");
  ASSERT_NE(old_writer, nullptr);
  const uint64_t old_epoch = old_writer->Epoch();
  Group g = MakeGroup(Genesis(), 2, "g");
  ASSERT_TRUE(old_writer->Append(Genesis(), g.envelopes, {{"key", "value"}}, {}).ok());

  auto new_writer = OpenLog("epoch-new");
  ASSERT_NE(new_writer, nullptr);
  EXPECT_EQ(new_writer->Epoch(), old_epoch + 1);
  EXPECT_EQ(server_
                ->Query(absl::StrCat("SELECT epoch FROM ledger_log.chain_head WHERE ledger = '",
                                     LedgerId(), "'"))
                .value(),
            std::vector<std::string>{absl::StrCat(old_epoch + 1)});
  // The deposed writer may not answer a duplicate, though the row is there: the barrier fails.
  absl::StatusOr<absl::flat_hash_map<std::string, std::string>> dup =
      old_writer->ResolveRefs({"key"});
  EXPECT_EQ(dup.status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(old_writer->Append(g.head, MakeGroup(g.head, 1, "x").envelopes, {}, {}).status().code(),
            absl::StatusCode::kAborted);
  EXPECT_THAT(new_writer->ResolveRefs({"key"}).value(), ElementsAre(Pair("key", "value")));
}

TEST_F(PgEventLogTest, NothingIsServedBeforeTheTermsCommitIsAcknowledged) {
  ASSERT_TRUE(server_->SetSynchronousStandbyNames(kAbsentStandby).ok());
  PgEventLog::Options options;
  options.commit_deadline_ms = 300;
  const absl::Time start = absl::Now();
  absl::StatusOr<std::unique_ptr<PgEventLog>> log =
      PgEventLog::Open(server_->conninfo("term-start"), LedgerId(), options);
  EXPECT_EQ(log.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(Message(log.status()), StartsWith("commit_in_doubt:"));
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  EXPECT_EQ(server_->SyncRepWaiters("term-start").value(), 1);
  ASSERT_TRUE(server_->SetSynchronousStandbyNames("").ok());
  // Released, the abandoned term's commit completes; a new term begins after it.
  auto reopened = OpenLog("term-start");
  ASSERT_NE(reopened, nullptr);
  EXPECT_TRUE(SameHead(reopened->DurableHead().value(), Genesis()));
}

TEST_F(PgEventLogTest, InDoubtCommitIsNeverCancelledAndTheResendFindsTheOriginal) {
  PgEventLog::Options options;
  options.commit_deadline_ms = 500;
  options.statement_deadline_ms = 1'000;
  auto log = OpenLog("in-doubt", options);
  ASSERT_NE(log, nullptr);
  Group g1 = MakeGroup(Genesis(), 2, "g1");
  ASSERT_TRUE(log->Append(Genesis(), g1.envelopes, {{"k1", "v1"}}, {}).ok());
  const uint64_t epoch = log->Epoch();

  ASSERT_TRUE(server_->SetSynchronousStandbyNames(kAbsentStandby).ok());
  Group g2 = MakeGroup(g1.head, 3, "g2");
  const absl::Time start = absl::Now();
  absl::StatusOr<ChainHead> r = log->Append(g1.head, g2.envelopes, {{"k2", "v2"}}, {});
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(500) + absl::Seconds(5));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(Message(r.status()), StartsWith("commit_in_doubt:"));
  EXPECT_EQ(log->Epoch(), 0u);
  EXPECT_FALSE(log->fenced());
  // Still waiting for the standby: closed, never cancelled.
  EXPECT_EQ(server_->SyncRepWaiters("in-doubt").value(), 1);
  // No new term while the in-doubt commit holds the head.
  EXPECT_EQ(log->DurableHead().status().code(), absl::StatusCode::kUnavailable);

  ASSERT_TRUE(server_->SetSynchronousStandbyNames("").ok());
  // Released, the group committed; the new term's head includes it and the resend resolves.
  EXPECT_TRUE(SameHead(log->DurableHead().value(), g2.head));
  EXPECT_GT(log->Epoch(), epoch);
  EXPECT_THAT(log->ResolveRefs({"k2"}).value(), ElementsAre(Pair("k2", "v2")));
  EXPECT_EQ(ReadAll(*log, 3, 5), g2.envelopes);
  absl::StatusOr<ChainHead> stale = log->Append(g1.head, g2.envelopes, {}, {});
  EXPECT_THAT(Message(stale.status()), StartsWith("head_moved:"));
}

TEST_F(PgEventLogTest, ACommitReturningWithTheSyncRepCancelWarningIsInDoubt) {
  PgEventLog::Options options;
  options.commit_deadline_ms = 60'000;
  auto log = OpenLog("cancelled-wait", options);
  ASSERT_NE(log, nullptr);
  ASSERT_TRUE(server_->SetSynchronousStandbyNames(kAbsentStandby).ok());
  // An operator (or a driver's timeout) cancels the waiting COMMIT: the server then reports
  // success for a commit that exists only locally.
  std::atomic<bool> cancelled = false;
  std::thread op([&] {
    const absl::Time give_up = absl::Now() + absl::Seconds(30);
    while (absl::Now() < give_up && server_->SyncRepWaiters("cancelled-wait").value_or(0) == 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    cancelled = server_
                    ->Query(
                        "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE "
                        "application_name = 'cancelled-wait' AND wait_event = 'SyncRep'")
                    .ok();
  });
  Group g = MakeGroup(Genesis(), 1, "g");
  absl::StatusOr<ChainHead> r = log->Append(Genesis(), g.envelopes, {{"k", "v"}}, {});
  op.join();
  EXPECT_TRUE(cancelled);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(Message(r.status()), StartsWith("commit_in_doubt:"));
  EXPECT_THAT(Message(r.status()), HasSubstr("warning"));
  ASSERT_TRUE(server_->SetSynchronousStandbyNames("").ok());
  EXPECT_TRUE(SameHead(log->DurableHead().value(), g.head));
}

TEST_F(PgEventLogTest, ADuplicateIsAnsweredOnlyAfterASynchronousCommit) {
  PgEventLog::Options options;
  options.commit_deadline_ms = 300;
  auto log = OpenLog("barrier", options);
  ASSERT_NE(log, nullptr);
  Group g = MakeGroup(Genesis(), 1, "g");
  ASSERT_TRUE(log->Append(Genesis(), g.envelopes, {{"k", "v"}}, {}).ok());
  ASSERT_TRUE(server_->SetSynchronousStandbyNames(kAbsentStandby).ok());
  absl::StatusOr<absl::flat_hash_map<std::string, std::string>> dup = log->ResolveRefs({"k"});
  EXPECT_EQ(dup.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(Message(dup.status()), StartsWith("commit_in_doubt:"));
  EXPECT_EQ(server_->SyncRepWaiters("barrier").value(), 1);
  ASSERT_TRUE(server_->SetSynchronousStandbyNames("").ok());
  EXPECT_THAT(log->ResolveRefs({"k"}).value(), ElementsAre(Pair("k", "v")));
}

TEST_F(PgEventLogTest, AnAppendThatDoesNotChainIsACheckedCrash) {
  auto log = OpenLog("crash");
  ASSERT_NE(log, nullptr);
  Group g = MakeGroup(Genesis(), 2, "g");
  std::vector<std::string> swapped = {g.envelopes[1], g.envelopes[0]};
  EXPECT_DEATH((void)log->Append(Genesis(), swapped, {}, {}), "dense");
  Group wrong_link = MakeGroup(ChainHead{0, Sha256("elsewhere")}, 1, "w");
  EXPECT_DEATH((void)log->Append(Genesis(), wrong_link.envelopes, {}, {}), "predecessor");
}

}  // namespace
}  // namespace ledger

namespace ledger {
namespace {

// Followers read only what is acknowledged: every append records the head before it (known to
// be on the synchronous standby) as acked_seq, PublishAcknowledged brings it to the head, and the
// acknowledged log (a follower's view) never shows an event beyond it.
TEST_F(PgEventLogTest, TheAcknowledgedLogEndsAtThePublishedHead) {
  std::unique_ptr<PgEventLog> log = OpenLog("writer");
  ASSERT_NE(log, nullptr);
  PgAcknowledgedLog follower(server_->conninfo("follower"), LedgerId(), 5'000);
  const auto acked = [&] {
    return server_
        ->Query(absl::StrCat("SELECT acked_seq FROM ledger_log.chain_head WHERE ledger = '",
                             LedgerId(), "'"))
        .value()
        .at(0);
  };
  const Group first = MakeGroup(Genesis(), 2, "a");
  ASSERT_TRUE(log->Append(Genesis(), first.envelopes, {}, {}).ok());
  EXPECT_EQ(acked(), "0");
  EXPECT_EQ(follower.DurableHead()->sequence, 0u);
  const Group second = MakeGroup(first.head, 3, "b");
  ASSERT_TRUE(log->Append(first.head, second.envelopes, {}, {}).ok());
  EXPECT_EQ(acked(), "2");
  const absl::StatusOr<ChainHead> partial = follower.DurableHead();
  ASSERT_TRUE(partial.ok()) << partial.status();
  EXPECT_TRUE(SameHead(*partial, first.head));
  std::vector<uint64_t> seen;
  ASSERT_TRUE(follower.Scan(0, 0, [&](uint64_t seq, std::string_view) {
    seen.push_back(seq);
    return true;
  }).ok());
  EXPECT_THAT(seen, ElementsAre(1, 2));
  EXPECT_FALSE(follower.Read(3)->has_value());

  ASSERT_TRUE(log->PublishAcknowledged().ok());
  EXPECT_EQ(acked(), "5");
  EXPECT_TRUE(SameHead(*follower.DurableHead(), second.head));
  EXPECT_EQ(*follower.Read(5), second.envelopes.back());
  // Nothing to publish: no transaction, acked_seq stays.
  ASSERT_TRUE(log->PublishAcknowledged().ok());
  EXPECT_EQ(acked(), "5");
  // A follower never appends.
  rocksdb::WriteBatch batch;
  EXPECT_EQ(follower.Append(second.head, EventGroup{}, batch).code(),
            absl::StatusCode::kFailedPrecondition);
}

// A writer that resigns (its node is no longer primary) begins a new term on its next call, even
// after another writer fenced it, and sees that writer's head.
TEST_F(PgEventLogTest, AResignedWriterBeginsANewTermWhenItWritesAgain) {
  std::unique_ptr<PgEventLog> a = OpenLog("a");
  ASSERT_NE(a, nullptr);
  const Group first = MakeGroup(Genesis(), 1, "a");
  ASSERT_TRUE(a->Append(Genesis(), first.envelopes, {}, {}).ok());
  std::unique_ptr<PgEventLog> b = OpenLog("b");  // a later term fences a
  ASSERT_NE(b, nullptr);
  const Group second = MakeGroup(first.head, 1, "b");
  ASSERT_TRUE(b->Append(first.head, second.envelopes, {}, {}).ok());
  EXPECT_THAT(Message(a->Append(first.head, MakeGroup(first.head, 1, "x").envelopes, {}, {})
                          .status()),
              StartsWith("fenced"));
  a->Resign();
  const absl::StatusOr<ChainHead> head = a->DurableHead();
  ASSERT_TRUE(head.ok()) << head.status();
  EXPECT_TRUE(SameHead(*head, second.head));
  EXPECT_TRUE(a->Append(second.head, MakeGroup(second.head, 1, "a2").envelopes, {}, {}).ok());
}

// With defer_term, Open touches no server: the term begins with the first call that needs one.
TEST_F(PgEventLogTest, ADeferredTermBeginsOnFirstUse) {
  PgEventLog::Options options;
  options.defer_term = true;
  absl::StatusOr<std::unique_ptr<PgEventLog>> unreachable =
      PgEventLog::Open("host=127.0.0.1 port=1 connect_timeout=1", LedgerId(), options);
  ASSERT_TRUE(unreachable.ok()) << unreachable.status();
  EXPECT_EQ((*unreachable)->Epoch(), 0u);
  EXPECT_EQ((*unreachable)->DurableHead().status().code(), absl::StatusCode::kUnavailable);
  std::unique_ptr<PgEventLog> log = OpenLog("deferred", options);
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(log->Epoch(), 0u);
  ASSERT_TRUE(log->DurableHead().ok());
  EXPECT_GT(log->Epoch(), 0u);
}

}  // namespace
}  // namespace ledger
