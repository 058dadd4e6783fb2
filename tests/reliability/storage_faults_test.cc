// Storage faults and corruption (issue 7, "Reliability"): the WAL write or fsync fails (ENOSPC,
// EIO) under a commit, and stored bytes are damaged while the ledger is closed.
//
// Write faults: a fault-injecting RocksDB FileSystem (faulty_fs.h) under a real ledger. The commit
// that hits the fault gets a retryable status (RESOURCE_EXHAUSTED for ENOSPC, UNAVAILABLE for EIO,
// the same codes over gRPC), nothing of it is acknowledged or visible (head, ledger balances,
// accounts unchanged), writes keep failing with that status while the fault lasts (RocksDB is
// read-only), and once the fault clears the next commit resumes RocksDB: the failed batch resent
// is applied exactly once, later resends are DUPLICATE, the chain verifies, replay equals, and a
// reopen holds exactly what was acknowledged.
//
// Corruption: a flipped byte in an `events` SST file, and an event rewritten with valid checksums
// (tampering) must make the open (or VerifyChain) fail with DATA_LOSS naming the file or the
// sequence, never serve the damaged data; a restore from the backup then re-push recovers.
#include <algorithm>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ledger/ledger.h"
#include "ledger/policy.h"
#include "ledger/store.h"
#include "ledger/strings.h"
#include "ledger/v1/services.grpc.pb.h"
#include "rocksdb/db.h"
#include "services/services.h"
#include "tests/reliability/faulty_fs.h"
#include "tests/support/fixtures.h"
#include "tests/support/test_dir.h"

namespace {

namespace v1 = ledger::v1;
using ::ledger::StrCat;
using namespace ::ledger::testing;  // NOLINT: the shared test fixtures
using ::ledger_test::FaultyFileSystem;

constexpr char kIdA[] = "22240119650315123X";  // enrolled
constexpr char kIdC[] = "222401199211207899";  // never enrolled: suspense

// 2025-06-30 12:00 UTC, plus one microsecond per call: every commit has its own recorded time,
// so a batch replayed from a stale WAL would not be byte-identical to its resend.
std::function<int64_t()> TickingClock() {
  auto next = std::make_shared<int64_t>(absl::ToUnixMicros(
      absl::FromCivil(absl::CivilSecond(2025, 6, 30, 12, 0, 0), absl::UTCTimeZone())));
  return [next] { return (*next)++; };
}

v1::CollectionRecord Add(std::string receipt, std::string citizen_id, int year, int64_t fen) {
  v1::CollectionRecord r = AddRecord(std::move(receipt), std::move(citizen_id), year, fen,
                                     StrCat(year, "-03-01"));
  r.set_batch_id("FAULTS-1");
  return r;
}

ledger::Ledger::Records Records(std::vector<v1::CollectionRecord> records) {
  ledger::Ledger::Records out;
  for (auto& r : records) *out.Add() = std::move(r);
  return out;
}

// The demo policy's v1 with its years from 2014 only: these tests write a few events and expect
// the log to fit one SST data block (FlippedByteInEventsSst… flips a byte in it).
v1::Policy DemoPolicy() {
  auto policy = LoadDemoPolicy2025();
  EXPECT_TRUE(policy.ok()) << policy.status();
  auto* years = policy->mutable_years();
  years->erase(std::remove_if(years->begin(), years->end(),
                              [](const v1::YearRules& y) { return y.year() < 2014; }),
               years->end());
  return *policy;
}

// What a reader can see.
struct Seen {
  ledger::ChainHead head;
  std::map<std::string, int64_t> balances;
  std::string account_a;
  bool operator==(const Seen& o) const {
    return head.sequence == o.head.sequence && head.hash == o.head.hash &&
           balances == o.balances && account_a == o.account_a;
  }
};

Seen Look(const ledger::Ledger& l) {
  Seen s{l.Head(), l.LedgerAccountBalances(), ""};
  auto account = l.GetAccount(kIdA);
  EXPECT_TRUE(account.ok()) << account.status();
  if (account.ok() && account->has_value()) s.account_a = (*account)->SerializeAsString();
  return s;
}

class LedgerFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TestDir("ledger_faults");
    std::filesystem::remove_all(dir_);
    std::filesystem::remove_all(dir_ + ".backup");
    fs_ = std::make_shared<FaultyFileSystem>();
    ASSERT_NO_FATAL_FAILURE(Reopen());
    auto adopted = ledger_->AdoptPolicy(DemoPolicy(), "test");
    ASSERT_TRUE(adopted.ok() && !adopted->rejection) << adopted.status();
    v1::ParticipantEnrolled p;
    p.set_citizen_id(kIdA);
    p.set_name("金哲");
    p.set_region_code(kRegion);
    p.set_enrolment_date("2020-01-01");
    auto enrolled = ledger_->Enrol(p, "test");
    ASSERT_TRUE(enrolled.ok() && !enrolled->rejection) << enrolled.status();
    auto pushed = ledger_->PushCollections(
        Records({Add("BASE0001", kIdA, 2024, 50000), Add("BASE0002", kIdC, 2024, 10000)}),
        "test");
    ASSERT_TRUE(pushed.ok()) << pushed.status();
  }

  void TearDown() override {
    ledger_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
    std::filesystem::remove_all(dir_ + ".backup", ignored);
    std::filesystem::remove_all(dir_ + ".restored", ignored);
    std::filesystem::remove_all(dir_ + ".scratch", ignored);
    std::filesystem::remove_all(dir_ + ".backup-copy", ignored);
  }

  void Reopen() {
    ledger_.reset();
    auto opened = ledger::Ledger::Open(
        {.data_dir = dir_, .clock_us = TickingClock(), .file_system = fs_});
    ASSERT_TRUE(opened.ok()) << opened.status();
    ledger_ = *std::move(opened);
  }

  void ExpectConsistent() {
    EXPECT_TRUE(ledger_->VerifyChain().ok());
    auto compared = ledger_->ReplayCompare(dir_ + ".scratch");
    ASSERT_TRUE(compared.ok()) << compared.status();
    EXPECT_TRUE(compared->equal) << compared->first_difference;
    int64_t sum = 0;
    for (const auto& [account, fen] : ledger_->LedgerAccountBalances()) sum += fen;
    EXPECT_EQ(sum, 0);
  }

  std::string dir_;
  std::shared_ptr<FaultyFileSystem> fs_;
  std::unique_ptr<ledger::Ledger> ledger_;
};

// --- write faults ----------------------------------------------------------------------------

struct FaultCase {
  FaultyFileSystem::Kind kind;
  FaultyFileSystem::Op op;
  absl::StatusCode expected;
  bool resumes_in_process;  // RocksDB resumes once the fault clears; else only a restart does
  const char* name;
};

class WalFaultTest : public LedgerFixture, public ::testing::WithParamInterface<FaultCase> {};

TEST_P(WalFaultTest, FailedCommitIsRetryableInvisibleAndResentExactlyOnce) {
  const FaultCase& fault = GetParam();
  const Seen before = Look(*ledger_);
  const uint64_t events_before = ledger_->Stats().events;
  const auto batch = Records({Add("FAULT0001", kIdA, 2025, 30000), Add("FAULT0002", kIdC, 2025,
                                                                         20000)});

  fs_->Inject(fault.kind, fault.op, ".log");
  auto failed = ledger_->PushCollections(batch, "test");
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().code(), fault.expected) << failed.status();
  EXPECT_GT(fs_->injected(), 0u);
  EXPECT_TRUE(Look(*ledger_) == before) << "a failed commit changed what readers see";
  EXPECT_EQ(ledger_->Stats().events, events_before);

  // While the fault lasts the ledger is read-only: every write gets the same retryable code and
  // says why; reads still work.
  for (int i = 0; i < 2; ++i) {
    auto again = ledger_->PushCollections(batch, "test");
    ASSERT_FALSE(again.ok());
    EXPECT_EQ(again.status().code(), fault.expected) << again.status();
    EXPECT_NE(again.status().message().find("injected fault"), std::string::npos)
        << again.status();
  }
  v1::ParticipantEnrolled p;
  p.set_citizen_id(kIdC);
  p.set_name("李明");
  p.set_region_code(kRegion);
  p.set_enrolment_date("2021-01-01");
  auto enrol = ledger_->Enrol(p, "test");
  ASSERT_FALSE(enrol.ok());
  EXPECT_EQ(enrol.status().code(), fault.expected) << enrol.status();
  EXPECT_TRUE(Look(*ledger_) == before);
  EXPECT_TRUE(ledger_->VerifyChain().ok());

  fs_->Clear();
  std::vector<v1::RecordOutcome> applied;  // the batch's outcomes when it was applied
  if (fault.resumes_in_process) {
    // ENOSPC on sync: the next commit resumes RocksDB and the resent batch is applied once.
    auto resent = ledger_->PushCollections(batch, "test");
    ASSERT_TRUE(resent.ok()) << resent.status();
    ASSERT_EQ(resent->size(), 2u);
    EXPECT_EQ((*resent)[0].outcome(), v1::OUTCOME_ACCEPTED);
    EXPECT_EQ((*resent)[1].outcome(), v1::OUTCOME_SUSPENSE);
    EXPECT_EQ((*resent)[0].sequence(), before.head.sequence + 1);
    applied = *resent;
  } else {
    // RocksDB cannot resume: read-only, with the same code, until restarted.
    auto refused = ledger_->PushCollections(batch, "test");
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.status().code(), fault.expected) << refused.status();
    EXPECT_NE(refused.status().message().find("restart ledgerd"), std::string::npos)
        << refused.status();
    EXPECT_TRUE(Look(*ledger_) == before);
    ASSERT_NO_FATAL_FAILURE(Reopen());
    // A failed write's outcome is unknown, as with any failed fsync: the batch is either absent
    // or there whole (replayed from the WAL). The resend makes it exactly once either way.
    const Seen reopened = Look(*ledger_);
    auto resent = ledger_->PushCollections(batch, "test");
    ASSERT_TRUE(resent.ok()) << resent.status();
    ASSERT_EQ(resent->size(), 2u);
    if (reopened == before) {
      EXPECT_EQ((*resent)[0].outcome(), v1::OUTCOME_ACCEPTED);
      EXPECT_EQ((*resent)[1].outcome(), v1::OUTCOME_SUSPENSE);
    } else {
      std::printf("note: %s: the failed batch was recovered from the WAL at restart\n", fault.name);
      EXPECT_EQ((*resent)[0].outcome(), v1::OUTCOME_DUPLICATE);
      EXPECT_EQ((*resent)[1].outcome(), v1::OUTCOME_DUPLICATE);
    }
    EXPECT_EQ((*resent)[0].sequence(), before.head.sequence + 1);
    applied = *resent;
  }
  const ledger::ChainHead after_resend = ledger_->Head();
  EXPECT_GT(after_resend.sequence, before.head.sequence);

  auto duplicate = ledger_->PushCollections(batch, "test");
  ASSERT_TRUE(duplicate.ok()) << duplicate.status();
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ((*duplicate)[i].outcome(), v1::OUTCOME_DUPLICATE);
    EXPECT_EQ((*duplicate)[i].sequence(), applied[i].sequence());
  }
  EXPECT_EQ(ledger_->Head().sequence, after_resend.sequence);

  auto enrolled = ledger_->Enrol(p, "test");
  ASSERT_TRUE(enrolled.ok()) << enrolled.status();
  EXPECT_FALSE(enrolled->rejection);
  EXPECT_FALSE(enrolled->duplicate);
  auto fresh = ledger_->PushCollections(Records({Add("AFTER0001", kIdA, 2025, 10000)}), "test");
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  // (2025 is already paid by FAULT0001: the second payment for the year goes to suspense.)
  EXPECT_NE((*fresh)[0].outcome(), v1::OUTCOME_REJECTED);
  ExpectConsistent();
  const Seen acknowledged = Look(*ledger_);

  // A restart holds exactly what was acknowledged: nothing of the failed attempts comes back
  // from the WAL.
  ASSERT_NO_FATAL_FAILURE(Reopen());
  EXPECT_TRUE(Look(*ledger_) == acknowledged);
  auto events = ledger_->ParticipantEvents(kIdA);
  ASSERT_TRUE(events.ok()) << events.status();
  int fault_receipts = 0;
  for (const v1::EventEnvelope& e : *events) {
    if (e.has_contribution_collected() &&
        e.contribution_collected().receipt_number() == "FAULT0001") {
      ++fault_receipts;
    }
  }
  EXPECT_EQ(fault_receipts, 1);
  ExpectConsistent();
}

INSTANTIATE_TEST_SUITE_P(
    Faults, WalFaultTest,
    ::testing::Values(
        FaultCase{FaultyFileSystem::Kind::kNoSpace, FaultyFileSystem::Op::kAppend,
                  absl::StatusCode::kResourceExhausted, false, "EnospcOnAppend"},
        FaultCase{FaultyFileSystem::Kind::kNoSpace, FaultyFileSystem::Op::kSync,
                  absl::StatusCode::kResourceExhausted, true, "EnospcOnSync"},
        FaultCase{FaultyFileSystem::Kind::kIOError, FaultyFileSystem::Op::kAppend,
                  absl::StatusCode::kUnavailable, false, "EioOnAppend"},
        FaultCase{FaultyFileSystem::Kind::kIOError, FaultyFileSystem::Op::kSync,
                  absl::StatusCode::kUnavailable, false, "EioOnSync"}),
    [](const ::testing::TestParamInfo<FaultCase>& info) { return info.param.name; });

// --- the pipelined writer: a group decided while the one before it syncs ----------------------

// How long to let the writer decide the second group while the first one's sync is held. The
// assertions hold whenever it is decided; this only makes it likely that it is decided on top of
// the first group, which is the case they are about.
constexpr auto kDecideWhileHeld = std::chrono::milliseconds(300);

TEST_F(LedgerFixture, AnAnswerDecidedOnAGroupInFlightWaitsForThatGroupsSync) {
  const uint64_t head = ledger_->Head().sequence;
  fs_->HoldNextSync();
  auto first = std::async(std::launch::async, [&] {
    return ledger_->PushCollections(Records({Add("PIPE0001", kIdA, 2025, 30000)}), "test");
  });
  fs_->WaitUntilHeld();
  // The same receipt again: decided as a duplicate of the first push, which is not durable yet.
  auto second = std::async(std::launch::async, [&] {
    return ledger_->PushCollections(Records({Add("PIPE0001", kIdA, 2025, 30000)}), "test");
  });
  EXPECT_EQ(second.wait_for(kDecideWhileHeld), std::future_status::timeout)
      << "answered before the group it rests on was synced";
  EXPECT_EQ(ledger_->Head().sequence, head) << "published before its sync";
  fs_->ReleaseSync();
  auto a = first.get();
  auto b = second.get();
  ASSERT_TRUE(a.ok() && b.ok()) << a.status() << " / " << b.status();
  EXPECT_EQ((*a)[0].outcome(), v1::OUTCOME_ACCEPTED);
  EXPECT_EQ((*b)[0].outcome(), v1::OUTCOME_DUPLICATE);
  EXPECT_EQ((*b)[0].sequence(), (*a)[0].sequence());
  ExpectConsistent();
}

TEST_F(LedgerFixture, AGroupDecidedOnAFailedCommitFailsUnwrittenAndItsResendAppliesOnce) {
  const Seen before = Look(*ledger_);
  const auto first_batch = Records({Add("PIPE0001", kIdA, 2025, 30000)});
  // Decided on the first: its first record a duplicate of the first batch, its second a second
  // payment for 2025 (suspense while the first stands).
  const auto second_batch =
      Records({Add("PIPE0001", kIdA, 2025, 30000), Add("PIPE0002", kIdA, 2025, 20000)});
  fs_->HoldNextSync();
  auto first = std::async(std::launch::async,
                          [&] { return ledger_->PushCollections(first_batch, "test"); });
  fs_->WaitUntilHeld();
  auto second = std::async(std::launch::async,
                           [&] { return ledger_->PushCollections(second_batch, "test"); });
  std::this_thread::sleep_for(kDecideWhileHeld);
  fs_->Inject(FaultyFileSystem::Kind::kNoSpace, FaultyFileSystem::Op::kSync, ".log");
  fs_->ReleaseSync();
  auto a = first.get();
  auto b = second.get();
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().code(), absl::StatusCode::kResourceExhausted) << a.status();
  // Whether it was decided on the failed group (and so never written) or after it (and its own
  // sync failed), the second push failed, retryably, and nothing of either is visible.
  ASSERT_FALSE(b.ok()) << "acknowledged what rests on a failed commit";
  EXPECT_EQ(b.status().code(), absl::StatusCode::kResourceExhausted) << b.status();
  EXPECT_TRUE(Look(*ledger_) == before);

  fs_->Clear();
  // Resent in the other order: each is applied once, decided on what is durable.
  auto b2 = ledger_->PushCollections(second_batch, "test");
  ASSERT_TRUE(b2.ok()) << b2.status();
  EXPECT_EQ((*b2)[0].outcome(), v1::OUTCOME_ACCEPTED);
  EXPECT_EQ((*b2)[0].sequence(), before.head.sequence + 1);
  EXPECT_EQ((*b2)[1].outcome(), v1::OUTCOME_SUSPENSE);
  auto a2 = ledger_->PushCollections(first_batch, "test");
  ASSERT_TRUE(a2.ok()) << a2.status();
  EXPECT_EQ((*a2)[0].outcome(), v1::OUTCOME_DUPLICATE);
  EXPECT_EQ((*a2)[0].sequence(), (*b2)[0].sequence());
  ExpectConsistent();
  const Seen acknowledged = Look(*ledger_);
  ASSERT_NO_FATAL_FAILURE(Reopen());
  EXPECT_TRUE(Look(*ledger_) == acknowledged);
}

// The same over the in-process gRPC server: ENOSPC while syncing is RESOURCE_EXHAUSTED and the
// resend succeeds once space is back; EIO is UNAVAILABLE saying to restart, and after a restart
// the resend is applied exactly once.
TEST_F(LedgerFixture, GrpcCallerGetsRetryableCodeAndResendSucceeds) {
  std::unique_ptr<services::RunningServer> server;
  std::unique_ptr<v1::CollectionService::Stub> stub;
  auto start = [&] {
    auto running = services::StartServer(
        *ledger_, {.listen_address = "127.0.0.1:0", .insecure_plaintext = true,
                   .replay_scratch_dir = dir_ + ".scratch"});
    ASSERT_TRUE(running.ok()) << running.status();
    server = std::make_unique<services::RunningServer>(*std::move(running));
    stub = v1::CollectionService::NewStub(grpc::CreateChannel(
        StrCat("127.0.0.1:", server->port), grpc::InsecureChannelCredentials()));
  };
  auto stop = [&] {
    stub.reset();
    server->server->Shutdown();
    server->server->Wait();
    server.reset();
  };
  // grpc.health.v1 Check's `status` (1 SERVING, 2 NOT_SERVING), waiting up to 5 s for `want`:
  // HealthWatch follows the ledger's storage state every 200 ms.
  auto health_becomes = [&](int want) {
    int status = -1;
    for (int i = 0; i < 50 && status != want; ++i) {
      if (i > 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
      grpc::ClientContext context;
      (void)services::CheckHealth(grpc::CreateChannel(StrCat("127.0.0.1:", server->port),
                                                      grpc::InsecureChannelCredentials()),
                                  context, status);
    }
    return status == want;
  };
  auto push = [&](const std::string& receipt, v1::PushCollectionsResponse* response) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    v1::PushCollectionsRequest request;
    *request.add_records() = Add(receipt, kIdA, 2025, 30000);
    return stub->PushCollections(&context, request, response);
  };
  ASSERT_NO_FATAL_FAILURE(start());

  // ENOSPC: RESOURCE_EXHAUSTED, nothing changes; space back: the resend commits once.
  Seen before = Look(*ledger_);
  fs_->Inject(FaultyFileSystem::Kind::kNoSpace, FaultyFileSystem::Op::kSync, ".log");
  v1::PushCollectionsResponse response;
  grpc::Status status = push("GRPC0001", &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << status.error_message();
  EXPECT_EQ(response.outcomes_size(), 0);
  EXPECT_TRUE(Look(*ledger_) == before);
  EXPECT_EQ(ledger_->WriteState().code(), absl::StatusCode::kResourceExhausted)
      << ledger_->WriteState();
  EXPECT_TRUE(health_becomes(2)) << "NOT_SERVING while read-only";
  fs_->Clear();
  response.Clear();
  status = push("GRPC0001", &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(ledger_->WriteState().ok()) << ledger_->WriteState();
  EXPECT_TRUE(health_becomes(1)) << "SERVING again once a commit resumed the storage";
  ASSERT_EQ(response.outcomes_size(), 1);
  EXPECT_EQ(response.outcomes(0).outcome(), v1::OUTCOME_ACCEPTED);
  EXPECT_EQ(response.outcomes(0).sequence(), before.head.sequence + 1);

  // EIO: UNAVAILABLE, and read-only (saying so) until a restart.
  before = Look(*ledger_);
  fs_->Inject(FaultyFileSystem::Kind::kIOError, FaultyFileSystem::Op::kSync, ".log");
  response.Clear();
  status = push("GRPC0002", &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  fs_->Clear();
  response.Clear();
  status = push("GRPC0002", &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  EXPECT_NE(status.error_message().find("restart ledgerd"), std::string::npos)
      << status.error_message();
  EXPECT_TRUE(Look(*ledger_) == before);
  EXPECT_TRUE(health_becomes(2)) << "NOT_SERVING: read-only until a restart";
  stop();
  ASSERT_NO_FATAL_FAILURE(Reopen());
  ASSERT_NO_FATAL_FAILURE(start());
  response.Clear();
  status = push("GRPC0002", &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(response.outcomes_size(), 1);
  EXPECT_THAT(response.outcomes(0).outcome(),
              ::testing::AnyOf(v1::OUTCOME_SUSPENSE, v1::OUTCOME_DUPLICATE));
  EXPECT_EQ(response.outcomes(0).sequence(), before.head.sequence + 1);
  for (const char* receipt : {"GRPC0001", "GRPC0002"}) {
    v1::PushCollectionsResponse again;
    status = push(receipt, &again);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(again.outcomes(0).outcome(), v1::OUTCOME_DUPLICATE) << receipt;
  }
  stop();
  ExpectConsistent();
}

// --- corruption ------------------------------------------------------------------------------

// The live SST files of the `events` column family (full paths).
std::vector<std::string> EventSstFiles(const std::string& dir) {
  std::vector<std::string> names;
  EXPECT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), dir, &names).ok());
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const auto& n : names) descriptors.emplace_back(n, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  auto s = rocksdb::DB::OpenForReadOnly(rocksdb::DBOptions(), dir, descriptors, &handles, &db);
  EXPECT_TRUE(s.ok()) << s.ToString();
  std::vector<std::string> out;
  if (!s.ok()) return out;
  std::vector<rocksdb::LiveFileMetaData> files;
  db->GetLiveFilesMetaData(&files);
  for (const auto& f : files) {
    if (f.column_family_name == "events") out.push_back(f.db_path + f.name);
  }
  for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
  delete db;
  return out;
}

void FlipByte(const std::string& file, std::streamoff offset) {
  std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
  ASSERT_TRUE(f.good()) << file;
  f.seekg(offset);
  char c = 0;
  f.read(&c, 1);
  c = static_cast<char>(c ^ 0x5a);
  f.seekp(offset);
  f.write(&c, 1);
  ASSERT_TRUE(f.good());
}

std::vector<v1::CollectionRecord> LaterRecords() {
  return {Add("LATE0001", kIdA, 2023, 40000), Add("LATE0002", kIdC, 2023, 10000)};
}

// A flipped byte in an `events` SST file: the open fails with DATA_LOSS naming the file. Restore
// from the backup verifies; re-pushing everything the bureau sent applies exactly what the backup
// missed.
TEST_F(LedgerFixture, FlippedByteInEventsSstIsDataLossAndBackupRestoreRecovers) {
  // The backup flushes every memtable: the events so far are in SST files from here on.
  auto backup = ledger_->Backup(dir_ + ".backup");
  ASSERT_TRUE(backup.ok()) << backup.status();
  // The checkpoint hard-links the SST files: a byte flipped in the data directory would be
  // flipped in the backup too. Copied to other media (here: a copy), it is a backup.
  const std::string restored = dir_ + ".restored";
  const std::string copy = dir_ + ".backup-copy";
  std::filesystem::remove_all(copy);
  std::filesystem::copy(dir_ + ".backup", copy, std::filesystem::copy_options::recursive);
  auto later = ledger_->PushCollections(Records(LaterRecords()), "test");
  ASSERT_TRUE(later.ok()) << later.status();
  const ledger::ChainHead head_before = ledger_->Head();
  ledger_.reset();

  const std::vector<std::string> ssts = EventSstFiles(dir_);
  ASSERT_EQ(ssts.size(), 1u);
  ASSERT_NO_FATAL_FAILURE(FlipByte(ssts[0], 20));  // inside the first (only) data block

  for (bool verify : {true, false}) {
    auto opened = ledger::Ledger::Open(
        {.data_dir = dir_, .verify_chain_on_open = verify, .clock_us = TickingClock()});
    ASSERT_FALSE(opened.ok()) << "served a damaged log (verify_chain_on_open=" << verify << ")";
    EXPECT_EQ(opened.status().code(), absl::StatusCode::kDataLoss) << opened.status();
    EXPECT_NE(opened.status().message().find(std::filesystem::path(ssts[0]).filename().string()),
              std::string::npos)
        << opened.status();
  }

  // Recovery: restore the backup into a new directory (what `ledgerctl restore` does), verify,
  // compare the head with the one recorded at backup time, re-push.
  std::filesystem::copy(copy, restored, std::filesystem::copy_options::recursive);
  std::filesystem::remove_all(copy);
  auto opened = ledger::Ledger::Open({.data_dir = restored, .clock_us = TickingClock()});
  ASSERT_TRUE(opened.ok()) << opened.status();
  ledger_ = *std::move(opened);
  EXPECT_EQ(ledger_->Head().sequence, backup->sequence);
  EXPECT_EQ(ledger_->Head().hash, backup->hash);
  EXPECT_TRUE(ledger_->VerifyChain().ok());
  auto all = LaterRecords();
  all.insert(all.begin(), {Add("BASE0001", kIdA, 2024, 50000), Add("BASE0002", kIdC, 2024, 10000)});
  auto repushed = ledger_->PushCollections(Records(all), "test");
  ASSERT_TRUE(repushed.ok()) << repushed.status();
  EXPECT_EQ((*repushed)[0].outcome(), v1::OUTCOME_DUPLICATE);
  EXPECT_EQ((*repushed)[1].outcome(), v1::OUTCOME_DUPLICATE);
  EXPECT_EQ((*repushed)[2].outcome(), v1::OUTCOME_ACCEPTED);
  EXPECT_EQ((*repushed)[3].outcome(), v1::OUTCOME_SUSPENSE);
  EXPECT_EQ(ledger_->Head().sequence, head_before.sequence);
  dir_ = restored;  // ExpectConsistent's scratch dir and TearDown
  ExpectConsistent();
}

// An event rewritten with valid checksums (tampering, or a bug writing the log): the chain check
// at open fails with DATA_LOSS naming the first sequence that no longer links; with the open-time
// check off, VerifyChain does. The head event rewritten fails the open even without the check.
TEST_F(LedgerFixture, RewrittenEventIsDataLossNamingTheSequence) {
  const uint64_t head = ledger_->Head().sequence;
  ASSERT_GE(head, 3u);
  ledger_.reset();

  auto tamper = [&](uint64_t sequence) {
    auto store = ledger::Store::Open(dir_);
    ASSERT_TRUE(store.ok()) << store.status();
    auto bytes = (*store)->Get(ledger::Cf::kEvents, ledger::keys::Event(sequence));
    ASSERT_TRUE(bytes.ok() && bytes->has_value());
    v1::EventEnvelope e;
    ASSERT_TRUE(e.ParseFromString(**bytes));
    e.set_actor("mallory");
    std::string changed;
    ASSERT_TRUE(e.SerializeToString(&changed));
    ASSERT_NE(changed, **bytes);
    rocksdb::WriteBatch batch;
    batch.Put((*store)->handle(ledger::Cf::kEvents), ledger::keys::Event(sequence), changed);
    ASSERT_TRUE((*store)->WriteSynced(batch).ok());
  };

  ASSERT_NO_FATAL_FAILURE(tamper(2));
  auto opened = ledger::Ledger::Open({.data_dir = dir_, .clock_us = TickingClock()});
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(opened.status().message().find("event 3"), std::string::npos) << opened.status();

  opened = ledger::Ledger::Open(
      {.data_dir = dir_, .verify_chain_on_open = false, .clock_us = TickingClock()});
  ASSERT_TRUE(opened.ok()) << opened.status();
  absl::Status verified = (*opened)->VerifyChain();
  EXPECT_EQ(verified.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(verified.message().find("event 3"), std::string::npos) << verified;
  auto found = (*opened)->FindChainBreak(1, 0);
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->sequence, 3u);
  opened->reset();

  ASSERT_NO_FATAL_FAILURE(tamper(head));
  opened = ledger::Ledger::Open(
      {.data_dir = dir_, .verify_chain_on_open = false, .clock_us = TickingClock()});
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(opened.status().message().find(StrCat("event ", head)), std::string::npos)
      << opened.status();
}

}  // namespace
