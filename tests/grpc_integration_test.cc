// End-to-end tests through the gRPC seam: a real ledger on a temporary RocksDB directory, the real
// server on a loopback port, and generated client stubs.
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "ledger/citizen_id.h"
#include "ledger/ledger.h"
#include "ledger/limits.h"
#include "ledger/policy.h"
#include "ledger/store.h"
#include "ledger/strings.h"
#include "ledger/v1/services.grpc.pb.h"
#include "services/services.h"
#include "tests/support/grpc_node.h"

namespace {

namespace v1 = ledger::v1;
using ::ledger::StrCat;
using namespace ::ledger::testing;  // NOLINT: the shared test fixtures
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kOtherRegion[] = "222402";      // a copy of the demo policy, adopted by some tests
constexpr char kIdA[] = "22240119650315123X";  // born 1965
constexpr char kIdB[] = "222401198001014568";  // born 1980
constexpr char kIdC[] = "222401199211207899";  // born 1992; never enrolled
constexpr char kIdTooYoung[] = "222401201001011230";  // born 2010
constexpr char kIdBadCheck[] = "222401198001014569";  // kIdB with a wrong check digit

// Every raw citizen ID the tests use by name; none may appear in an error message or detail.
constexpr const char* kNamedIds[] = {kIdA, kIdB, kIdC, kIdTooYoung, kIdBadCheck};

// 2025-06-30 at the given UTC time ("today" at noon UTC is 2025-06-30 in Beijing).
int64_t ClockAt(int hour_utc, int minute_utc) {
  return UtcMicros(2025, 6, 30, hour_utc, minute_utc);
}

// The cancellation (撤销) of `original`, dated `date`.
v1::CollectionRecord CancelOf(const v1::CollectionRecord& original, std::string date) {
  v1::CollectionRecord r = original;
  r.set_record_type(v1::RECORD_TYPE_CANCEL);
  r.set_collection_date(std::move(date));
  r.set_batch_id("BATCH-2");
  return r;
}

using RpcResult = Rpc;

void ExpectNoRawCitizenId(std::string_view text) {
  for (const char* id : kNamedIds) {
    EXPECT_THAT(std::string(text), Not(HasSubstr(id))) << "raw citizen ID leaked";
  }
}

// One record's expected outcome. `sequence` 0 means none.
struct Want {
  v1::Outcome outcome;
  uint64_t sequence = 0;
  v1::Reason reason = v1::REASON_UNSPECIFIED;
  v1::SuspenseReason suspense = v1::SUSPENSE_REASON_UNSPECIFIED;
};

void ExpectOutcomes(const v1::PushCollectionsResponse& response, const std::vector<Want>& want) {
  ASSERT_EQ(response.outcomes_size(), static_cast<int>(want.size()));
  uint32_t counts[5] = {0, 0, 0, 0, 0};
  for (size_t i = 0; i < want.size(); ++i) {
    SCOPED_TRACE(StrCat("record ", i));
    const v1::RecordOutcome& o = response.outcomes(static_cast<int>(i));
    EXPECT_EQ(o.index(), i);
    EXPECT_EQ(o.outcome(), want[i].outcome) << v1::Outcome_Name(o.outcome()) << " " << o.detail();
    EXPECT_EQ(o.sequence(), want[i].sequence);
    EXPECT_EQ(o.reason(), want[i].reason) << v1::Reason_Name(o.reason()) << " " << o.detail();
    if (want[i].outcome != v1::OUTCOME_DUPLICATE) {
      EXPECT_EQ(o.suspense_reason(), want[i].suspense)
          << v1::SuspenseReason_Name(o.suspense_reason());
    }
    if (want[i].outcome == v1::OUTCOME_REJECTED) {
      EXPECT_FALSE(o.detail().empty());
    }
    ExpectNoRawCitizenId(o.detail());
    ++counts[want[i].outcome];
  }
  EXPECT_EQ(response.accepted_count(), counts[v1::OUTCOME_ACCEPTED]);
  EXPECT_EQ(response.duplicate_count(), counts[v1::OUTCOME_DUPLICATE]);
  EXPECT_EQ(response.suspense_count(), counts[v1::OUTCOME_SUSPENSE]);
  EXPECT_EQ(response.rejected_count(), counts[v1::OUTCOME_REJECTED]);
}

// The same outcomes as `first` for a resend: everything committed comes back DUPLICATE with its
// original sequence; every rejection is rejected again for the same reason.
std::vector<Want> AsResent(const std::vector<Want>& first) {
  std::vector<Want> out;
  for (const Want& w : first) {
    if (w.outcome == v1::OUTCOME_REJECTED) {
      out.push_back(w);
    } else {
      out.push_back(Want{v1::OUTCOME_DUPLICATE, w.sequence});
    }
  }
  return out;
}

// A fresh ledger in its own temporary directory, served on a free loopback port.
class LedgerServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto policy = LoadDemoPolicy2025();
    ASSERT_TRUE(policy.ok()) << policy.status();
    demo_policy_ = *std::move(policy);
    node_ = std::make_unique<Node>(TestDir("ledger_it"),
                                   NodeOptions{.clock_us = Now2025Us,
                                               .max_receive_message_bytes = 64 * 1024 * 1024});
    dir_ = node_->dir();
    ASSERT_NO_FATAL_FAILURE(node_->Start());
  }

  void TearDown() override { node_.reset(); }

  // Stops the server, closes the ledger, reopens it from the same directory (verifying the whole
  // chain) and serves it again.
  void Restart() { ASSERT_NO_FATAL_FAILURE(node_->Restart()); }

  ledger::Ledger& ledger() { return node_->ledger(); }

  RpcResult AdoptPolicy(const v1::Policy& policy, v1::AdoptPolicyResponse* response) {
    return node_->AdoptPolicy(policy, response);
  }

  void AdoptDemoPolicy() {
    v1::AdoptPolicyResponse response;
    RpcResult r = AdoptPolicy(demo_policy_, &response);
    ASSERT_TRUE(r.status.ok()) << r.status.error_message();
    EXPECT_FALSE(response.duplicate());
    EXPECT_EQ(response.sequence(), ledger().Head().sequence);
  }

  // The demo policy under another region code.
  void AdoptOtherRegionPolicy() {
    v1::Policy other = demo_policy_;
    other.set_region_code(kOtherRegion);
    other.set_region_name("测试市");
    v1::AdoptPolicyResponse response;
    RpcResult r = AdoptPolicy(other, &response);
    ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  }

  RpcResult Enrol(const v1::ParticipantEnrolled& participant, v1::EnrolResponse* response) {
    return node_->Enrol(participant, response);
  }

  // Enrols and returns the enrolment's sequence (0 on failure, with a test failure recorded).
  uint64_t EnrolOk(const std::string& citizen_id, const std::string& name) {
    v1::EnrolResponse response;
    RpcResult r = Enrol(Participant(citizen_id, name), &response);
    EXPECT_TRUE(r.status.ok()) << r.status.error_message();
    EXPECT_FALSE(response.duplicate());
    return response.sequence();
  }

  RpcResult GetAccount(const std::string& citizen_id, v1::Account* account) {
    return node_->GetAccount(citizen_id, account);
  }

  v1::Account AccountOf(const std::string& citizen_id) {
    v1::Account account;
    RpcResult r = GetAccount(citizen_id, &account);
    EXPECT_TRUE(r.status.ok()) << r.status.error_message();
    return account;
  }

  RpcResult Push(const std::vector<v1::CollectionRecord>& records,
                 v1::PushCollectionsResponse* response) {
    return node_->Push(records, response);
  }

  v1::PushCollectionsResponse PushOk(const std::vector<v1::CollectionRecord>& records) {
    v1::PushCollectionsResponse response;
    RpcResult r = Push(records, &response);
    EXPECT_TRUE(r.status.ok()) << r.status.error_message();
    return response;
  }

  // Sends `messages` over one StreamCollections stream.
  RpcResult Stream(const std::vector<std::vector<v1::CollectionRecord>>& messages,
                   v1::PushCollectionsResponse* response) {
    return node_->Stream(messages, response);
  }

  std::string dir_;
  v1::Policy demo_policy_;
  std::unique_ptr<Node> node_;
};

// --- 1. a mixed batch -------------------------------------------------------------------------

TEST_F(LedgerServerTest, MixedBatchGivesOneOutcomePerRecordInOrder) {
  ASSERT_NO_FATAL_FAILURE(AdoptDemoPolicy());
  const uint64_t enrolled_a = EnrolOk(kIdA, "金哲");
  EnrolOk(kIdB, "李梅");
  const uint64_t head = ledger().Head().sequence;
  ASSERT_EQ(head, 3u);

  const v1::CollectionRecord paid = AddRecord("R0001", kIdA, 2024, 50000, "2024-03-01");
  v1::CollectionRecord conflicting = paid;
  conflicting.set_amount_fen(60000);
  v1::CollectionRecord untyped = AddRecord("R0010", kIdB, 2024, 50000, "2024-03-01");
  untyped.set_record_type(v1::RECORD_TYPE_UNSPECIFIED);
  const std::vector<v1::CollectionRecord> batch = {
      paid,                                                     // 0 accepted
      paid,                                                     // 1 exact resend
      conflicting,                                              // 2 same receipt, new amount
      AddRecord("R0004", kIdBadCheck, 2024, 50000, "2024-03-01"),     // 3 bad check digit
      AddRecord("R0005", kIdC, 2024, 50000, "2024-03-01"),            // 4 not enrolled
      AddRecord("R0006", kIdB, 2024, 25000, "2024-03-01"),            // 5 250 yuan: no such tier
      AddRecord("R0007", kIdB, 2024, 50000, "2024-03-01", "999999"),  // 6 unknown region
      AddRecord("R0008", kIdB, 2025, 50000, "2025-07-01"),            // 7 tomorrow
      AddRecord("R0009", kIdB, 2024, 0, "2024-03-01"),                // 8 zero amount
      untyped,                                                  // 9 no record type
      AddRecord("R0011", kIdA, 2024, 50000, "2024-04-01"),            // 10 2024 already paid
  };
  const std::vector<Want> want = {
      {v1::OUTCOME_ACCEPTED, head + 1},
      {v1::OUTCOME_DUPLICATE, head + 1},
      {v1::OUTCOME_REJECTED, 0, v1::REASON_DUPLICATE_RECEIPT_CONFLICT},
      {v1::OUTCOME_REJECTED, 0, v1::REASON_INVALID_CITIZEN_ID},
      {v1::OUTCOME_SUSPENSE, head + 2, v1::REASON_UNSPECIFIED, v1::SUSPENSE_REASON_NOT_ENROLLED},
      {v1::OUTCOME_REJECTED, 0, v1::REASON_AMOUNT_NOT_A_TIER},
      {v1::OUTCOME_REJECTED, 0, v1::REASON_UNKNOWN_REGION},
      {v1::OUTCOME_REJECTED, 0, v1::REASON_DATE_IN_FUTURE},
      {v1::OUTCOME_REJECTED, 0, v1::REASON_AMOUNT_NOT_POSITIVE},
      {v1::OUTCOME_REJECTED, 0, v1::REASON_INVALID_RECORD_TYPE},
      {v1::OUTCOME_SUSPENSE, head + 3, v1::REASON_UNSPECIFIED,
       v1::SUSPENSE_REASON_YEAR_ALREADY_PAID},
  };
  const v1::PushCollectionsResponse response = PushOk(batch);
  ASSERT_NO_FATAL_FAILURE(ExpectOutcomes(response, want));
  EXPECT_EQ(response.accepted_count(), 1u);
  EXPECT_EQ(response.duplicate_count(), 1u);
  EXPECT_EQ(response.suspense_count(), 2u);
  EXPECT_EQ(response.rejected_count(), 7u);
  EXPECT_EQ(ledger().Head().sequence, head + 3);

  // The committed events are the records, in order, recorded by the unauthenticated peer.
  auto first = ledger().ReadEvent(head + 1);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->contribution_collected().receipt_number(), "R0001");
  EXPECT_EQ(first->recorded_time_us(), Now2025Us());
  EXPECT_THAT(first->actor(), ::testing::StartsWith("plaintext-dev:"));
  auto suspense = ledger().ReadEvent(head + 2);
  ASSERT_TRUE(suspense.ok()) << suspense.status();
  EXPECT_EQ(suspense->contribution_collected().receipt_number(), "R0005");
  EXPECT_EQ(suspense->contribution_collected().suspense_reason(), v1::SUSPENSE_REASON_NOT_ENROLLED);

  const v1::Account a = AccountOf(kIdA);
  EXPECT_EQ(a.citizen_id(), kIdA);
  EXPECT_EQ(a.name(), "金哲");
  EXPECT_EQ(a.region_code(), kRegion);
  EXPECT_EQ(a.enrolment_date(), "2020-01-01");
  EXPECT_EQ(a.status(), v1::PARTICIPANT_STATUS_CONTRIBUTING);
  ASSERT_EQ(a.balances_size(), 1);
  EXPECT_EQ(a.balances(0).source(), v1::FUNDING_SOURCE_PERSONAL);
  EXPECT_EQ(a.balances(0).principal_fen(), 50000);
  EXPECT_EQ(a.balances(0).interest_fen(), 0);
  EXPECT_EQ(a.total_fen(), 50000);
  EXPECT_EQ(a.contribution_years(), 1u);
  ASSERT_EQ(a.contributions_size(), 1);
  EXPECT_EQ(a.contributions(0).year(), 2024);
  EXPECT_EQ(a.contributions(0).amount_fen(), 50000);
  EXPECT_EQ(a.contributions(0).receipt_number(), "R0001");
  EXPECT_EQ(a.enrolled_sequence(), enrolled_a);
  EXPECT_EQ(a.last_sequence(), head + 1);  // the suspense booking does not touch the account

  const v1::Account b = AccountOf(kIdB);
  EXPECT_EQ(b.balances_size(), 0);
  EXPECT_EQ(b.total_fen(), 0);
  EXPECT_EQ(b.contribution_years(), 0u);
  EXPECT_EQ(b.last_sequence(), b.enrolled_sequence());

  // Resending the whole batch: everything committed is DUPLICATE with its original sequence, the
  // same rejections, and nothing changes.
  const auto totals_before = ledger().LedgerAccountBalances();
  const v1::PushCollectionsResponse again = PushOk(batch);
  ASSERT_NO_FATAL_FAILURE(ExpectOutcomes(again, AsResent(want)));
  EXPECT_EQ(again.accepted_count(), 0u);
  EXPECT_EQ(again.suspense_count(), 0u);
  EXPECT_EQ(again.duplicate_count(), 4u);
  EXPECT_EQ(again.rejected_count(), 7u);
  EXPECT_EQ(ledger().Head().sequence, head + 3);
  EXPECT_TRUE(ProtoEquals(a, AccountOf(kIdA)));
  EXPECT_TRUE(ProtoEquals(b, AccountOf(kIdB)));
  EXPECT_EQ(ledger().LedgerAccountBalances(), totals_before);
}

TEST_F(LedgerServerTest, EmptyPushIsOkAndWritesNothing) {
  ASSERT_NO_FATAL_FAILURE(AdoptDemoPolicy());
  const uint64_t head = ledger().Head().sequence;
  const v1::PushCollectionsResponse response = PushOk({});
  EXPECT_EQ(response.outcomes_size(), 0);
  EXPECT_EQ(response.accepted_count() + response.duplicate_count() + response.suspense_count() +
                response.rejected_count(),
            0u);
  EXPECT_EQ(ledger().Head().sequence, head);
}

// "Not in the future" is judged on the Beijing calendar day (UTC+8), not the UTC day.
TEST_F(LedgerServerTest, FutureDateIsJudgedOnTheBeijingDay) {
  node_->Stop();
  // 2025-06-30 16:30 UTC is 2025-07-01 00:30 in Beijing.
  node_->options().clock_us = [] { return ClockAt(16, 30); };
  ASSERT_NO_FATAL_FAILURE(node_->Start(/*reopen=*/true));
  ASSERT_NO_FATAL_FAILURE(AdoptDemoPolicy());
  const uint64_t head = ledger().Head().sequence;
  const v1::PushCollectionsResponse response = PushOk({
      AddRecord("T1", kIdC, 2025, 10000, "2025-07-01"),
      AddRecord("T2", kIdC, 2026, 10000, "2025-07-02"),
  });
  ASSERT_NO_FATAL_FAILURE(ExpectOutcomes(
      response,
      {{v1::OUTCOME_SUSPENSE, head + 1, v1::REASON_UNSPECIFIED, v1::SUSPENSE_REASON_NOT_ENROLLED},
       {v1::OUTCOME_REJECTED, 0, v1::REASON_DATE_IN_FUTURE}}));
}

// --- 2. cancellations -------------------------------------------------------------------------

TEST_F(LedgerServerTest, CancellationReversesTheOriginalAndIsIdempotent) {
  ASSERT_NO_FATAL_FAILURE(AdoptDemoPolicy());
  EnrolOk(kIdA, "金哲");
  const uint64_t head = ledger().Head().sequence;

  const v1::CollectionRecord paid = AddRecord("C0001", kIdA, 2023, 20000, "2023-05-10");
  ASSERT_NO_FATAL_FAILURE(ExpectOutcomes(PushOk({paid}), {{v1::OUTCOME_ACCEPTED, head + 1}}));
  ASSERT_EQ(AccountOf(kIdA).total_fen(), 20000);

  const v1::CollectionRecord cancel = CancelOf(paid, "2023-06-01");
  ASSERT_NO_FATAL_FAILURE(ExpectOutcomes(PushOk({cancel}), {{v1::OUTCOME_ACCEPTED, head + 2}}));
  v1::Account a = AccountOf(kIdA);
  EXPECT_EQ(a.total_fen(), 0);
  EXPECT_EQ(a.contribution_years(), 0u);
  EXPECT_EQ(a.contributions_size(), 0);
  for (const v1::SourceBalance& b : a.balances()) EXPECT_EQ(b.principal_fen(), 0);
  EXPECT_EQ(a.last_sequence(), head + 2);
  auto event = ledger().ReadEvent(head + 2);
  ASSERT_TRUE(event.ok()) << event.status();
  ASSERT_TRUE(event->has_contribution_cancelled());
  EXPECT_EQ(event->contribution_cancelled().original_sequence(), head + 1);
  EXPECT_EQ(event->contribution_cancelled().cancel_date(), "2023-06-01");

  // The same cancellation again: DUPLICATE with the cancellation's sequence. The original ADD
  // again: DUPLICATE with its own sequence (it does not come back to life).
  ASSERT_NO_FATAL_FAILURE(
      ExpectOutcomes(PushOk({cancel, paid}),
                     {{v1::OUTCOME_DUPLICATE, head + 2}, {v1::OUTCOME_DUPLICATE, head + 1}}));
  EXPECT_EQ(AccountOf(kIdA).total_fen(), 0);

  // A different cancellation of the same receipt; cancelling a receipt never recorded; a
  // cancellation dated before the collection.
  const v1::CollectionRecord other_cancel = CancelOf(paid, "2023-07-01");
  const v1::CollectionRecord unknown =
      CancelOf(AddRecord("C9999", kIdA, 2023, 20000, "2023-05-10"), "2023-06-01");
  const v1::CollectionRecord paid_2022 = AddRecord("C0002", kIdA, 2022, 30000, "2022-05-10");
  ASSERT_NO_FATAL_FAILURE(
      ExpectOutcomes(PushOk({other_cancel, unknown, paid_2022, CancelOf(paid_2022, "2022-05-09")}),
                     {{v1::OUTCOME_REJECTED, 0, v1::REASON_ALREADY_CANCELLED},
                      {v1::OUTCOME_REJECTED, 0, v1::REASON_ORIGINAL_NOT_FOUND},
                      {v1::OUTCOME_ACCEPTED, head + 3},
                      {v1::OUTCOME_REJECTED, 0, v1::REASON_INVALID_DATE}}));

  // A cancellation whose amount (or year, or person) differs from the original.
  v1::CollectionRecord wrong_amount = CancelOf(paid_2022, "2022-06-01");
  wrong_amount.set_amount_fen(20000);
  v1::CollectionRecord wrong_year = CancelOf(paid_2022, "2022-06-01");
  wrong_year.set_contribution_year(2021);
  v1::CollectionRecord wrong_person = CancelOf(paid_2022, "2022-06-01");
  wrong_person.set_citizen_id(kIdB);
  ASSERT_NO_FATAL_FAILURE(ExpectOutcomes(PushOk({wrong_amount, wrong_year, wrong_person}),
                                         {{v1::OUTCOME_REJECTED, 0, v1::REASON_CANCEL_MISMATCH},
                                          {v1::OUTCOME_REJECTED, 0, v1::REASON_CANCEL_MISMATCH},
                                          {v1::OUTCOME_REJECTED, 0, v1::REASON_CANCEL_MISMATCH}}));
  a = AccountOf(kIdA);
  EXPECT_EQ(a.total_fen(), 30000);
  EXPECT_EQ(a.contribution_years(), 1u);

  // After the cancellation the year is free again: a new receipt for 2023 is credited.
  ASSERT_NO_FATAL_FAILURE(ExpectOutcomes(PushOk({AddRecord("C0003", kIdA, 2023, 10000, "2023-08-01")}),
                                         {{v1::OUTCOME_ACCEPTED, head + 4}}));
  a = AccountOf(kIdA);
  EXPECT_EQ(a.total_fen(), 40000);
  EXPECT_EQ(a.contribution_years(), 2u);
  EXPECT_EQ(ledger().Head().sequence, head + 4);
}

TEST_F(LedgerServerTest, CancellingASuspenseReceiptEmptiesSuspense) {
  ASSERT_NO_FATAL_FAILURE(AdoptDemoPolicy());
  const uint64_t head = ledger().Head().sequence;
  const v1::CollectionRecord parked = AddRecord("S0001", kIdC, 2024, 10000, "2024-02-01");
  ASSERT_NO_FATAL_FAILURE(
      ExpectOutcomes(PushOk({parked}), {{v1::OUTCOME_SUSPENSE, head + 1, v1::REASON_UNSPECIFIED,
                                         v1::SUSPENSE_REASON_NOT_ENROLLED}}));
  std::map<std::string, int64_t> totals = ledger().LedgerAccountBalances();
  EXPECT_EQ(totals["222401/suspense"], -10000);
  EXPECT_EQ(totals["222401/tax_receivable"], 10000);

  const v1::CollectionRecord cancel = CancelOf(parked, "2024-03-01");
  const v1::PushCollectionsResponse response = PushOk({cancel});
  ASSERT_EQ(response.outcomes_size(), 1);
  EXPECT_NE(response.outcomes(0).outcome(), v1::OUTCOME_REJECTED)
      << v1::Reason_Name(response.outcomes(0).reason()) << " " << response.outcomes(0).detail();
  EXPECT_EQ(response.outcomes(0).sequence(), head + 2);
  auto event = ledger().ReadEvent(head + 2);
  ASSERT_TRUE(event.ok()) << event.status();
  EXPECT_EQ(event->contribution_cancelled().original_suspense_reason(),
            v1::SUSPENSE_REASON_NOT_ENROLLED);
  totals = ledger().LedgerAccountBalances();
  EXPECT_EQ(totals["222401/suspense"], 0);
  EXPECT_EQ(totals["222401/tax_receivable"], 0);

  ASSERT_NO_FATAL_FAILURE(ExpectOutcomes(PushOk({cancel}), {{v1::OUTCOME_DUPLICATE, head + 2}}));
  // Still not enrolled: cancelling created no account.
  v1::Account account;
  EXPECT_EQ(GetAccount(kIdC, &account).status.error_code(), grpc::StatusCode::NOT_FOUND);
}

// --- 3. streaming and request limits ----------------------------------------------------------

TEST_F(LedgerServerTest, StreamReturnsOneOutcomePerRecordIndexedAcrossTheStream) {
  ASSERT_NO_FATAL_FAILURE(AdoptDemoPolicy());
  EnrolOk(kIdA, "金哲");
  const uint64_t head = ledger().Head().sequence;

  // 2,500 records in messages of 1,000 + 1,000 + 500. Every 250th is kIdA's contribution for a
  // new year (2014..2023: accepted); the last has amount 0 (rejected); the rest are people who
  // are not enrolled (suspense).
  constexpr int kRecords = 2500;
  std::vector<std::vector<v1::CollectionRecord>> messages(3);
  std::vector<Want> want;
  uint64_t next_sequence = head + 1;
  for (int i = 0; i < kRecords; ++i) {
    char receipt[32];
    std::snprintf(receipt, sizeof receipt, "STREAM%05d", i);
    v1::CollectionRecord r;
    if (i == kRecords - 1) {
      r = AddRecord(receipt, NumberedCitizenId(i), 2025, 0, "2025-01-15");
      want.push_back({v1::OUTCOME_REJECTED, 0, v1::REASON_AMOUNT_NOT_POSITIVE});
    } else if (i % 250 == 0) {
      r = AddRecord(receipt, kIdA, 2014 + i / 250, 10000, "2025-01-15");
      want.push_back({v1::OUTCOME_ACCEPTED, next_sequence++});
    } else {
      r = AddRecord(receipt, NumberedCitizenId(i), 2025, 10000, "2025-01-15");
      want.push_back({v1::OUTCOME_SUSPENSE, next_sequence++, v1::REASON_UNSPECIFIED,
                      v1::SUSPENSE_REASON_NOT_ENROLLED});
    }
    messages[i < 1000 ? 0 : i < 2000 ? 1 : 2].push_back(std::move(r));
  }
  ASSERT_EQ(messages[2].size(), 500u);

  v1::PushCollectionsResponse response;
  RpcResult r = Stream(messages, &response);
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  ASSERT_NO_FATAL_FAILURE(ExpectOutcomes(response, want));
  EXPECT_EQ(response.accepted_count(), 10u);
  EXPECT_EQ(response.suspense_count(), 2489u);
  EXPECT_EQ(response.rejected_count(), 1u);
  EXPECT_EQ(response.accepted_count() + response.duplicate_count() + response.suspense_count() +
                response.rejected_count(),
            static_cast<uint32_t>(kRecords));
  EXPECT_EQ(ledger().Head().sequence, head + kRecords - 1);
  const v1::Account a = AccountOf(kIdA);
  EXPECT_EQ(a.total_fen(), 10 * 10000);
  EXPECT_EQ(a.contribution_years(), 10u);

  // The same stream again, split differently: all DUPLICATE with the original sequences.
  std::vector<std::vector<v1::CollectionRecord>> regrouped(1);
  for (const auto& m : messages) regrouped[0].insert(regrouped[0].end(), m.begin(), m.end());
  v1::PushCollectionsResponse again;
  r = Stream(regrouped, &again);
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  ASSERT_NO_FATAL_FAILURE(ExpectOutcomes(again, AsResent(want)));
  EXPECT_EQ(ledger().Head().sequence, head + kRecords - 1);
}

// `count` valid, distinct, not-enrolled records (each would be booked to suspense).
std::vector<v1::CollectionRecord> SuspenseRecords(std::string_view prefix, int first, int count) {
  std::vector<v1::CollectionRecord> out;
  out.reserve(count);
  for (int i = first; i < first + count; ++i) {
    char receipt[32];
    std::snprintf(receipt, sizeof receipt, "%07d", i);
    out.push_back(AddRecord(StrCat(prefix, receipt), NumberedCitizenId(i), 2025, 10000, "2025-02-01"));
  }
  return out;
}

TEST_F(LedgerServerTest, UnaryPushOverTheBatchLimitFailsAndWritesNothing) {
  ASSERT_NO_FATAL_FAILURE(AdoptDemoPolicy());
  const uint64_t head = ledger().Head().sequence;
  const auto too_many = SuspenseRecords("U", 0, static_cast<int>(ledger::kBatchRecordsMax) + 1);
  v1::PushCollectionsResponse response;
  RpcResult r = Push(too_many, &response);
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << r.status.error_message();
  EXPECT_EQ(r.reason, "batch_records_max");
  EXPECT_EQ(response.outcomes_size(), 0);
  EXPECT_EQ(ledger().Head().sequence, head);

  // Exactly the limit is fine.
  const std::vector<v1::CollectionRecord> at_limit(too_many.begin(), too_many.end() - 1);
  const v1::PushCollectionsResponse ok = PushOk(at_limit);
  EXPECT_EQ(ok.outcomes_size(), static_cast<int>(ledger::kBatchRecordsMax));
  EXPECT_EQ(ok.suspense_count(), ledger::kBatchRecordsMax);
  EXPECT_EQ(ledger().Head().sequence, head + ledger::kBatchRecordsMax);
}

TEST_F(LedgerServerTest, StreamMessageOverTheBatchLimitFailsAfterEarlierMessagesCommit) {
  ASSERT_NO_FATAL_FAILURE(AdoptDemoPolicy());
  const uint64_t head = ledger().Head().sequence;
  const auto first = SuspenseRecords("F", 0, 3);
  const auto too_many = SuspenseRecords("G", 100, static_cast<int>(ledger::kBatchRecordsMax) + 1);
  v1::PushCollectionsResponse response;
  RpcResult r = Stream({first, too_many}, &response);
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << r.status.error_message();
  EXPECT_EQ(r.reason, "batch_records_max");
  // The first message was committed; nothing of the oversized one was.
  EXPECT_EQ(ledger().Head().sequence, head + 3);
  ASSERT_NO_FATAL_FAILURE(ExpectOutcomes(PushOk(first), {{v1::OUTCOME_DUPLICATE, head + 1},
                                                         {v1::OUTCOME_DUPLICATE, head + 2},
                                                         {v1::OUTCOME_DUPLICATE, head + 3}}));
}

TEST_F(LedgerServerTest, StreamOverTheStreamLimitFailsAfterCommittingTheFirstMessages) {
  ASSERT_NO_FATAL_FAILURE(AdoptDemoPolicy());
  const uint64_t head = ledger().Head().sequence;
  constexpr size_t kFull = ledger::kStreamRecordsMax / ledger::kBatchRecordsMax;
  std::vector<std::vector<v1::CollectionRecord>> messages;
  for (size_t m = 0; m < kFull; ++m) {
    messages.push_back(SuspenseRecords("L", static_cast<int>(m * ledger::kBatchRecordsMax),
                                       static_cast<int>(ledger::kBatchRecordsMax)));
  }
  messages.push_back(SuspenseRecords("L", static_cast<int>(ledger::kStreamRecordsMax), 1));
  v1::PushCollectionsResponse response;
  RpcResult r = Stream(messages, &response);
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << r.status.error_message();
  EXPECT_EQ(r.reason, "stream_records_max");
  EXPECT_EQ(ledger().Head().sequence, head + ledger::kStreamRecordsMax);
}

// --- 4. enrolment and account lookups ---------------------------------------------------------

TEST_F(LedgerServerTest, EnrolErrorsMapToStatusCodesWithReasons) {
  ASSERT_NO_FATAL_FAILURE(AdoptDemoPolicy());
  const uint64_t enrolled = EnrolOk(kIdA, "金哲");
  ASSERT_GT(enrolled, 0u);
  const uint64_t head = ledger().Head().sequence;

  struct Case {
    v1::ParticipantEnrolled participant;
    grpc::StatusCode code;
    std::string reason;
    std::string masked;  // the masked ID the message names, if any
  };
  const std::vector<Case> cases = {
      {Participant(kIdBadCheck, "李梅"), grpc::StatusCode::INVALID_ARGUMENT,
       "REASON_INVALID_CITIZEN_ID", "2224**********4569"},
      {Participant(kIdTooYoung, "小明", "2025-01-01"), grpc::StatusCode::FAILED_PRECONDITION,
       "REASON_TOO_YOUNG", "2224**********1230"},
      {Participant(kIdB, "李梅", "2020-01-01", "999999"), grpc::StatusCode::INVALID_ARGUMENT,
       "REASON_UNKNOWN_REGION", ""},
      {Participant(kIdA, "金哲二"), grpc::StatusCode::ALREADY_EXISTS, "REASON_ALREADY_ENROLLED",
       "2224**********123X"},
      {Participant(kIdB, "李梅", "2025-07-01"), grpc::StatusCode::INVALID_ARGUMENT,
       "REASON_DATE_IN_FUTURE", ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.reason);
    v1::EnrolResponse response;
    RpcResult r = Enrol(c.participant, &response);
    EXPECT_EQ(r.status.error_code(), c.code) << r.status.error_message();
    EXPECT_EQ(r.reason, c.reason);
    ExpectNoRawCitizenId(r.status.error_message());
    if (!c.masked.empty()) {
      EXPECT_THAT(r.status.error_message(), HasSubstr(c.masked));
    }
  }
  EXPECT_EQ(ledger().Head().sequence, head);

  // An identical resend is not an error.
  v1::EnrolResponse response;
  RpcResult r = Enrol(Participant(kIdA, "金哲"), &response);
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  EXPECT_TRUE(response.duplicate());
  EXPECT_EQ(response.sequence(), enrolled);
  EXPECT_EQ(ledger().Head().sequence, head);
}

TEST_F(LedgerServerTest, GetAccountErrors) {
  ASSERT_NO_FATAL_FAILURE(AdoptDemoPolicy());
  v1::Account account;
  RpcResult r = GetAccount(kIdC, &account);
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::NOT_FOUND) << r.status.error_message();
  EXPECT_THAT(r.status.error_message(), HasSubstr("2224**********7899"));
  ExpectNoRawCitizenId(r.status.error_message());

  for (const std::string& id : {std::string(kIdBadCheck), std::string("22240119800101456"),
                                std::string("2224011980010145X8"), std::string()}) {
    SCOPED_TRACE(id);
    r = GetAccount(id, &account);
    EXPECT_EQ(r.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << r.status.error_message();
    EXPECT_EQ(r.reason, "REASON_INVALID_CITIZEN_ID");
    if (!id.empty()) {
      EXPECT_THAT(r.status.error_message(), Not(HasSubstr(id)));
    }
  }
}

TEST_F(LedgerServerTest, PolicyServiceAdoptsOnceAndServesTheLatest) {
  v1::Policy served;
  {
    grpc::ClientContext context;
    v1::GetPolicyRequest request;
    request.set_region_code(kRegion);
    EXPECT_EQ(node_->policies().GetPolicy(&context, request, &served).error_code(),
              grpc::StatusCode::NOT_FOUND);
  }
  ASSERT_NO_FATAL_FAILURE(AdoptDemoPolicy());
  v1::AdoptPolicyResponse response;
  RpcResult r = AdoptPolicy(demo_policy_, &response);
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  EXPECT_TRUE(response.duplicate());
  EXPECT_EQ(response.sequence(), 1u);

  v1::Policy changed = demo_policy_;
  changed.set_region_name("改名");
  r = AdoptPolicy(changed, &response);
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(r.reason, "REASON_POLICY_VERSION_NOT_NEWER");

  v1::Policy invalid = demo_policy_;
  invalid.set_version(2);
  invalid.set_account_pension_divisor(0);
  r = AdoptPolicy(invalid, &response);
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(r.reason, "REASON_INVALID_POLICY");
  EXPECT_EQ(ledger().Head().sequence, 1u);

  grpc::ClientContext context;
  v1::GetPolicyRequest request;
  request.set_region_code(kRegion);
  grpc::Status status = node_->policies().GetPolicy(&context, request, &served);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(ProtoEquals(demo_policy_, served));
}

// Each record breaks several rules; the reason is the first in the documented order (record
// syntax; then the receipt; then region, policy in force, future date, year, tier).
TEST_F(LedgerServerTest, RecordRejectionsFollowTheDocumentedOrder) {
  ASSERT_NO_FATAL_FAILURE(AdoptDemoPolicy());
  EnrolOk(kIdA, "金哲");
  const uint64_t head = ledger().Head().sequence;
  const v1::CollectionRecord paid = AddRecord("O0001", kIdA, 2024, 50000, "2024-03-01");
  ASSERT_NO_FATAL_FAILURE(ExpectOutcomes(PushOk({paid}), {{v1::OUTCOME_ACCEPTED, head + 1}}));

  auto with = [](v1::CollectionRecord r, const std::function<void(v1::CollectionRecord&)>& f) {
    f(r);
    return r;
  };
  const v1::CollectionRecord base = AddRecord("O0002", kIdB, 2024, 50000, "2024-03-01");
  const std::vector<std::pair<v1::CollectionRecord, v1::Reason>> cases = {
      {with(base,
            [](auto& r) {
              r.set_record_type(static_cast<v1::RecordType>(7));
              r.set_receipt_number("");
            }),
       v1::REASON_INVALID_RECORD_TYPE},
      {with(base,
            [](auto& r) {
              r.set_receipt_number("");
              r.set_citizen_id(kIdBadCheck);
            }),
       v1::REASON_MISSING_RECEIPT_NUMBER},
      {with(base, [](auto& r) { r.set_receipt_number(std::string(41, '9')); }),
       v1::REASON_MISSING_RECEIPT_NUMBER},
      {with(base, [](auto& r) { r.set_receipt_number("O 0002"); }),
       v1::REASON_MISSING_RECEIPT_NUMBER},
      {with(base,
            [](auto& r) {
              r.set_citizen_id("22240119800101456");
              r.set_name("bad\nname");
            }),
       v1::REASON_INVALID_CITIZEN_ID},
      {with(base,
            [](auto& r) {
              r.set_name("bad\nname");
              r.set_amount_fen(0);
            }),
       v1::REASON_INVALID_FIELD},
      {with(base, [](auto& r) { r.set_name(std::string(65, 'x')); }), v1::REASON_INVALID_FIELD},
      // U+0085 is valid UTF-8 but a C1 control character.
      {with(base, [](auto& r) { r.set_tax_office("2224\xc2\x85"); }), v1::REASON_INVALID_FIELD},
      {with(base, [](auto& r) { r.set_amount_fen(ledger::kAmountFenMax + 1); }),
       v1::REASON_INVALID_FIELD},
      {with(base,
            [](auto& r) {
              r.set_amount_fen(-100);
              r.set_collection_date("2024-02-30");
            }),
       v1::REASON_AMOUNT_NOT_POSITIVE},
      {with(base,
            [](auto& r) {
              r.set_collection_date("2024-02-30");
              r.set_region_code("999999");
            }),
       v1::REASON_INVALID_DATE},
      {with(base, [](auto& r) { r.set_collection_date("2024-3-01"); }), v1::REASON_INVALID_DATE},
      // The receipt is known: a conflict, whatever else is wrong after the syntax.
      {with(paid,
            [](auto& r) {
              r.set_region_code("999999");
              r.set_collection_date("2026-01-01");
            }),
       v1::REASON_DUPLICATE_RECEIPT_CONFLICT},
      {with(base,
            [](auto& r) {
              r.set_region_code("999999");
              r.set_collection_date("2025-07-01");
            }),
       v1::REASON_UNKNOWN_REGION},
      {with(base,
            [](auto& r) {
              r.set_contribution_year(2009);
              r.set_collection_date("2008-12-31");  // the demo policy's v1 is from 2009
            }),
       v1::REASON_NO_POLICY_IN_FORCE},
      {with(base,
            [](auto& r) {
              r.set_collection_date("2025-07-01");
              r.set_contribution_year(2030);
              r.set_amount_fen(12345);
            }),
       v1::REASON_DATE_IN_FUTURE},
      {with(base,
            [](auto& r) {
              r.set_contribution_year(2026);
              r.set_amount_fen(12345);
            }),
       v1::REASON_IMPLAUSIBLE_YEAR},  // 2026 is not payable on 2024-03-01
      {with(base, [](auto& r) { r.set_contribution_year(2008); }), v1::REASON_IMPLAUSIBLE_YEAR},
      {with(base, [](auto& r) { r.set_contribution_year(2027); }), v1::REASON_IMPLAUSIBLE_YEAR},
      {with(base, [](auto& r) { r.set_amount_fen(300000); }),  // 3000 yuan: a tier from 2024 ...
       v1::REASON_UNSPECIFIED},
      {with(base,
            [](auto& r) {
              r.set_receipt_number("O0003");
              r.set_contribution_year(2023);
              r.set_amount_fen(300000);
              r.set_collection_date("2023-03-01");
            }),
       v1::REASON_AMOUNT_NOT_A_TIER},  // ... but not in 2023
  };
  std::vector<v1::CollectionRecord> records;
  std::vector<Want> want;
  uint64_t next = head + 2;
  for (const auto& [record, reason] : cases) {
    records.push_back(record);
    if (reason == v1::REASON_UNSPECIFIED) {
      want.push_back(
          {v1::OUTCOME_SUSPENSE, next++, v1::REASON_UNSPECIFIED, v1::SUSPENSE_REASON_NOT_ENROLLED});
    } else {
      want.push_back({v1::OUTCOME_REJECTED, 0, reason});
    }
  }
  ASSERT_NO_FATAL_FAILURE(ExpectOutcomes(PushOk(records), want));
  EXPECT_EQ(ledger().Head().sequence, next - 1);
}

TEST_F(LedgerServerTest, CancellationDatedInTheFutureIsRejected) {
  ASSERT_NO_FATAL_FAILURE(AdoptDemoPolicy());
  EnrolOk(kIdA, "金哲");
  const uint64_t head = ledger().Head().sequence;
  const v1::CollectionRecord paid = AddRecord("F0001", kIdA, 2025, 50000, "2025-06-30");
  ASSERT_NO_FATAL_FAILURE(ExpectOutcomes(PushOk({paid}), {{v1::OUTCOME_ACCEPTED, head + 1}}));
  const v1::PushCollectionsResponse response = PushOk({CancelOf(paid, "2025-07-01")});
  ASSERT_EQ(response.outcomes_size(), 1);
  EXPECT_EQ(response.outcomes(0).outcome(), v1::OUTCOME_REJECTED);
  // Same reason as an ADD dated in the future (ledger.h documents the order).
  EXPECT_EQ(response.outcomes(0).reason(), v1::REASON_DATE_IN_FUTURE);
  EXPECT_EQ(ledger().Head().sequence, head + 1);
  EXPECT_EQ(AccountOf(kIdA).total_fen(), 50000);
  // Dated today, it goes through.
  ASSERT_NO_FATAL_FAILURE(
      ExpectOutcomes(PushOk({CancelOf(paid, "2025-06-30")}), {{v1::OUTCOME_ACCEPTED, head + 2}}));
  EXPECT_EQ(AccountOf(kIdA).total_fen(), 0);
}

TEST_F(LedgerServerTest, EnrolmentRejectionsFollowTheDocumentedOrder) {
  ASSERT_NO_FATAL_FAILURE(AdoptDemoPolicy());
  const uint64_t head = ledger().Head().sequence;
  auto with = [](v1::ParticipantEnrolled p,
                 const std::function<void(v1::ParticipantEnrolled&)>& f) {
    f(p);
    return p;
  };
  const v1::ParticipantEnrolled base = Participant(kIdB, "李梅");
  struct Case {
    v1::ParticipantEnrolled participant;
    grpc::StatusCode code;
    std::string reason;
  };
  const std::vector<Case> cases = {
      {with(base,
            [](auto& p) {
              p.set_citizen_id("");
              p.set_name("");
            }),
       grpc::StatusCode::INVALID_ARGUMENT, "REASON_INVALID_CITIZEN_ID"},
      {with(base,
            [](auto& p) {
              p.set_name("");
              p.set_enrolment_date("2030-01-01");
            }),
       grpc::StatusCode::INVALID_ARGUMENT, "REASON_INVALID_FIELD"},
      {with(base, [](auto& p) { p.set_address(std::string(257, 'a')); }),
       grpc::StatusCode::INVALID_ARGUMENT, "REASON_INVALID_FIELD"},
      {with(base,
            [](auto& p) {
              p.set_enrolment_date("2020-13-01");
              p.set_region_code("999999");
            }),
       grpc::StatusCode::INVALID_ARGUMENT, "REASON_INVALID_DATE"},
      {with(base,
            [](auto& p) {
              p.set_enrolment_date("2025-07-01");
              p.set_region_code("999999");
            }),
       grpc::StatusCode::INVALID_ARGUMENT, "REASON_DATE_IN_FUTURE"},
      {with(base,
            [](auto& p) {
              p.set_special_group(static_cast<v1::SpecialGroup>(99));
              p.set_region_code("999999");
            }),
       grpc::StatusCode::INVALID_ARGUMENT, "REASON_INVALID_FIELD"},
      {with(base,
            [](auto& p) {
              p.set_region_code("999999");
              p.set_citizen_id(kIdTooYoung);
            }),
       grpc::StatusCode::INVALID_ARGUMENT, "REASON_UNKNOWN_REGION"},
      {with(base, [](auto& p) { p.set_enrolment_date("2008-12-31"); }),
       grpc::StatusCode::FAILED_PRECONDITION, "REASON_NO_POLICY_IN_FORCE"},
      // 16 tomorrow: too young today.
      {with(base, [](auto& p) { p.set_citizen_id(CitizenId("20090701")); }),
       grpc::StatusCode::FAILED_PRECONDITION, "REASON_TOO_YOUNG"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.reason);
    v1::EnrolResponse response;
    RpcResult r = Enrol(c.participant, &response);
    EXPECT_EQ(r.status.error_code(), c.code) << r.status.error_message();
    EXPECT_EQ(r.reason, c.reason) << r.status.error_message();
  }
  EXPECT_EQ(ledger().Head().sequence, head);

  // 16 today: old enough.
  v1::EnrolResponse response;
  RpcResult r = Enrol(
      Participant(CitizenId("20090630"), "小明", "2025-06-30"), &response);
  EXPECT_TRUE(r.status.ok()) << r.status.error_message();
  EXPECT_EQ(response.sequence(), head + 1);
}

// Many clients push overlapping batches at once (the writer groups them into shared commits):
// every receipt is committed exactly once and every other copy is its DUPLICATE.
TEST_F(LedgerServerTest, ConcurrentOverlappingPushesCommitEachReceiptOnce) {
  ASSERT_NO_FATAL_FAILURE(AdoptDemoPolicy());
  EnrolOk(kIdA, "金哲");
  const uint64_t head = ledger().Head().sequence;
  constexpr int kThreads = 8;
  constexpr int kShared = 300;
  std::vector<v1::CollectionRecord> shared;
  for (int i = 0; i < kShared; ++i) {
    if (i % 30 == 0) {  // kIdA's years 2014..2023
      shared.push_back(AddRecord(StrCat("SH", i), kIdA, 2014 + i / 30, 10000, "2025-01-02"));
    } else {
      shared.push_back(AddRecord(StrCat("SH", i), NumberedCitizenId(i), 2025, 10000, "2025-01-02"));
    }
  }
  std::vector<v1::PushCollectionsResponse> responses(kThreads);
  std::vector<std::vector<v1::CollectionRecord>> batches(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    // The shared records rotated, plus a receipt of this thread's own for kIdA's 2024.
    batches[t] = shared;
    std::rotate(batches[t].begin(), batches[t].begin() + t * 37, batches[t].end());
    batches[t].push_back(AddRecord(StrCat("OWN", t), kIdA, 2024, 50000, "2025-01-02"));
  }
  std::vector<grpc::Status> statuses(kThreads);
  {
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] { statuses[t] = Push(batches[t], &responses[t]).status; });
    }
    for (std::thread& th : threads) th.join();
  }

  std::map<std::string, std::set<uint64_t>> sequences;  // receipt → every sequence reported
  std::map<std::string, int> committed;                 // receipt → non-duplicate outcomes
  int own_accepted = 0;
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_TRUE(statuses[t].ok()) << statuses[t].error_message();
    ASSERT_EQ(responses[t].outcomes_size(), kShared + 1);
    for (int i = 0; i < responses[t].outcomes_size(); ++i) {
      const v1::RecordOutcome& o = responses[t].outcomes(i);
      const std::string& receipt = batches[t][i].receipt_number();
      EXPECT_EQ(o.index(), static_cast<uint32_t>(i));
      ASSERT_NE(o.outcome(), v1::OUTCOME_REJECTED) << receipt << ": " << o.detail();
      sequences[receipt].insert(o.sequence());
      if (o.outcome() != v1::OUTCOME_DUPLICATE) ++committed[receipt];
      if (receipt.starts_with("OWN") && o.outcome() == v1::OUTCOME_ACCEPTED) ++own_accepted;
    }
  }
  ASSERT_EQ(sequences.size(), static_cast<size_t>(kShared + kThreads));
  for (const auto& [receipt, seqs] : sequences) {
    EXPECT_EQ(seqs.size(), 1u) << receipt;
    EXPECT_EQ(committed[receipt], 1) << receipt;
  }
  EXPECT_EQ(own_accepted, 1);  // one thread's 2024 was credited; the others hit YEAR_ALREADY_PAID
  EXPECT_EQ(ledger().Head().sequence, head + kShared + kThreads);
  EXPECT_TRUE(ledger().VerifyChain().ok());

  const v1::Account a = AccountOf(kIdA);
  EXPECT_EQ(a.contribution_years(), 11u);
  EXPECT_EQ(a.total_fen(), 10 * 10000 + 50000);
  std::map<std::string, int64_t> totals = ledger().LedgerAccountBalances();
  EXPECT_EQ(totals["222401/individual_accounts/personal"], -a.total_fen());
  EXPECT_EQ(totals["222401/suspense"], -(290 * 10000 + (kThreads - 1) * 50000));
  EXPECT_EQ(totals["222401/tax_receivable"], 300 * 10000 + kThreads * 50000);
}

TEST_F(LedgerServerTest, APolicyVersionAppliesFromItsEffectiveDate) {
  ASSERT_NO_FATAL_FAILURE(AdoptDemoPolicy());
  // Version 2 from 2025-01-01 drops the 5000-yuan tier of 2025.
  v1::Policy v2 = demo_policy_;
  v2.set_version(2);
  v2.set_effective_from("2025-01-01");
  for (v1::YearRules& y : *v2.mutable_years()) {
    if (y.year() == 2025) {
      y.mutable_tiers()->RemoveLast();
      y.set_highest_tier_fen(y.tiers(y.tiers_size() - 1).amount_fen());
    }
  }
  v1::AdoptPolicyResponse adopted;
  RpcResult r = AdoptPolicy(v2, &adopted);
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  EXPECT_EQ(adopted.sequence(), 2u);
  ASSERT_TRUE(ledger().LatestPolicy(kRegion).has_value());
  EXPECT_EQ(ledger().LatestPolicy(kRegion)->version(), 2u);

  const uint64_t head = ledger().Head().sequence;
  ASSERT_NO_FATAL_FAILURE(ExpectOutcomes(
      PushOk({AddRecord("V0001", kIdC, 2025, 500000, "2024-12-31"),
              AddRecord("V0002", NumberedCitizenId(1), 2025, 500000, "2025-01-01")}),
      {{v1::OUTCOME_SUSPENSE, head + 1, v1::REASON_UNSPECIFIED, v1::SUSPENSE_REASON_NOT_ENROLLED},
       {v1::OUTCOME_REJECTED, 0, v1::REASON_AMOUNT_NOT_A_TIER}}));
  auto event = ledger().ReadEvent(head + 1);
  ASSERT_TRUE(event.ok()) << event.status();
  EXPECT_EQ(event->policy_version(), 1u);

  // An older version, or the same version with other content, is refused.
  v1::Policy v1_again = demo_policy_;
  v1_again.set_region_name("改名");
  r = AdoptPolicy(v1_again, &adopted);
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(r.reason, "REASON_POLICY_VERSION_NOT_NEWER");
  v1::Policy v3_earlier = v2;
  v3_earlier.set_version(3);
  v3_earlier.set_effective_from("2024-06-01");
  r = AdoptPolicy(v3_earlier, &adopted);
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(r.reason, "REASON_POLICY_VERSION_NOT_NEWER");

  // Both versions survive a restart, each still in force on its own dates.
  ASSERT_NO_FATAL_FAILURE(Restart());
  EXPECT_EQ(ledger().LatestPolicy(kRegion)->version(), 2u);
  ASSERT_NO_FATAL_FAILURE(ExpectOutcomes(
      PushOk({AddRecord("V0003", NumberedCitizenId(2), 2025, 500000, "2024-12-30"),
              AddRecord("V0004", NumberedCitizenId(3), 2025, 500000, "2025-01-02")}),
      {{v1::OUTCOME_SUSPENSE, head + 2, v1::REASON_UNSPECIFIED, v1::SUSPENSE_REASON_NOT_ENROLLED},
       {v1::OUTCOME_REJECTED, 0, v1::REASON_AMOUNT_NOT_A_TIER}}));
}

// --- 5. restart -------------------------------------------------------------------------------

TEST_F(LedgerServerTest, RestartKeepsEverything) {
  ASSERT_NO_FATAL_FAILURE(AdoptDemoPolicy());
  EnrolOk(kIdA, "金哲");
  EnrolOk(kIdB, "李梅");
  const std::vector<v1::CollectionRecord> batch = {
      AddRecord("P0001", kIdA, 2023, 20000, "2023-03-01"),
      AddRecord("P0002", kIdA, 2024, 50000, "2024-03-01"),
      AddRecord("P0003", kIdB, 2024, 100000, "2024-03-01"),
      AddRecord("P0004", kIdC, 2024, 10000, "2024-03-01"),
      AddRecord("P0005", kIdB, 2024, 100000, "2024-05-01"),
      CancelOf(AddRecord("P0002", kIdA, 2024, 50000, "2024-03-01"), "2024-04-01"),
  };
  const v1::PushCollectionsResponse first = PushOk(batch);
  ASSERT_EQ(first.outcomes_size(), static_cast<int>(batch.size()));
  EXPECT_EQ(first.rejected_count(), 0u);
  const v1::Account a = AccountOf(kIdA);
  const v1::Account b = AccountOf(kIdB);
  EXPECT_EQ(a.total_fen(), 20000);
  EXPECT_EQ(b.total_fen(), 100000);
  const ledger::ChainHead head = ledger().Head();
  const auto totals = ledger().LedgerAccountBalances();

  ASSERT_NO_FATAL_FAILURE(Restart());

  EXPECT_TRUE(ProtoEquals(a, AccountOf(kIdA)));
  EXPECT_TRUE(ProtoEquals(b, AccountOf(kIdB)));
  EXPECT_EQ(ledger().Head().sequence, head.sequence);
  EXPECT_EQ(ledger().Head().hash, head.hash);
  EXPECT_EQ(ledger().LedgerAccountBalances(), totals);
  EXPECT_TRUE(ledger().VerifyChain().ok()) << ledger().VerifyChain();
  auto policy = ledger().LatestPolicy(kRegion);
  ASSERT_TRUE(policy.has_value());
  EXPECT_TRUE(ProtoEquals(demo_policy_, *policy));

  std::vector<Want> want;
  for (const v1::RecordOutcome& o : first.outcomes()) {
    want.push_back({v1::OUTCOME_DUPLICATE, o.sequence()});
  }
  ASSERT_NO_FATAL_FAILURE(ExpectOutcomes(PushOk(batch), want));
  EXPECT_EQ(ledger().Head().sequence, head.sequence);

  // The chain continues from the old head.
  ASSERT_NO_FATAL_FAILURE(ExpectOutcomes(PushOk({AddRecord("P0006", kIdA, 2024, 30000, "2024-06-01")}),
                                         {{v1::OUTCOME_ACCEPTED, head.sequence + 1}}));
  auto next = ledger().ReadEvent(head.sequence + 1);
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(next->prev_hash(), head.hash);
  EXPECT_TRUE(ledger().VerifyChain().ok());
  v1::EnrolResponse response;
  RpcResult r = Enrol(Participant(kIdA, "金哲"), &response);
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  EXPECT_TRUE(response.duplicate());
  EXPECT_EQ(response.sequence(), a.enrolled_sequence());
}

// --- 6. double entry --------------------------------------------------------------------------

int64_t Sum(const std::map<std::string, int64_t>& totals) {
  int64_t sum = 0;
  for (const auto& [account, fen] : totals) sum += fen;
  return sum;
}

TEST_F(LedgerServerTest, LedgerAccountsBalanceAfterAMixedBatch) {
  ASSERT_NO_FATAL_FAILURE(AdoptDemoPolicy());
  ASSERT_NO_FATAL_FAILURE(AdoptOtherRegionPolicy());
  EnrolOk(kIdA, "金哲");
  EnrolOk(kIdB, "李梅");
  EXPECT_TRUE(ledger().LedgerAccountBalances().empty() ||
              Sum(ledger().LedgerAccountBalances()) == 0);

  const v1::CollectionRecord b_paid = AddRecord("D0003", kIdB, 2024, 100000, "2024-03-01");
  const v1::PushCollectionsResponse response = PushOk({
      AddRecord("D0001", kIdA, 2024, 50000, "2024-03-01"),                // accepted 500
      AddRecord("D0002", kIdA, 2024, 20000, "2024-04-01"),                // suspense: year paid
      b_paid,                                                       // accepted 1000
      AddRecord("D0004", kIdC, 2023, 30000, "2023-03-01"),                // suspense: not enrolled
      AddRecord("D0005", kIdB, 2024, 25000, "2024-03-01"),                // rejected: not a tier
      AddRecord("D0006", kIdB, 2024, 50000, "2024-03-01", "999999"),      // rejected: no region
      AddRecord("D0007", kIdB, 2023, 40000, "2023-03-01", kOtherRegion),  // suspense: other region
  });
  ASSERT_EQ(response.outcomes_size(), 7);
  EXPECT_EQ(response.outcomes(6).suspense_reason(), v1::SUSPENSE_REASON_REGION_MISMATCH);
  EXPECT_EQ(response.accepted_count(), 2u);
  EXPECT_EQ(response.suspense_count(), 3u);
  EXPECT_EQ(response.rejected_count(), 2u);

  const std::map<std::string, int64_t> expected = {
      {"222401/tax_receivable", 50000 + 20000 + 100000 + 30000},
      {"222401/suspense", -(20000 + 30000)},
      {"222401/individual_accounts/personal", -(50000 + 100000)},
      {"222402/tax_receivable", 40000},
      {"222402/suspense", -40000},
  };
  EXPECT_EQ(ledger().LedgerAccountBalances(), expected);
  EXPECT_EQ(Sum(ledger().LedgerAccountBalances()), 0);

  // The person accounts roll up into the control account.
  EXPECT_EQ(AccountOf(kIdA).total_fen() + AccountOf(kIdB).total_fen(), 150000);

  // Cancelling B's receipt reverses exactly its posting.
  const uint64_t head = ledger().Head().sequence;
  ASSERT_NO_FATAL_FAILURE(
      ExpectOutcomes(PushOk({CancelOf(b_paid, "2024-03-02")}), {{v1::OUTCOME_ACCEPTED, head + 1}}));
  std::map<std::string, int64_t> after = expected;
  after["222401/tax_receivable"] -= 100000;
  after["222401/individual_accounts/personal"] += 100000;
  EXPECT_EQ(ledger().LedgerAccountBalances(), after);
  EXPECT_EQ(Sum(ledger().LedgerAccountBalances()), 0);
}

// --- 7. rebuilding projections ----------------------------------------------------------------

using ColumnFamilies = std::map<int, std::vector<std::pair<std::string, std::string>>>;

// Every projection (every column family but the log), read straight from RocksDB. The ledger
// must be closed.
ColumnFamilies ReadProjections(const std::string& dir) {
  ColumnFamilies out;
  auto store = ledger::Store::Open(dir);
  EXPECT_TRUE(store.ok()) << store.status();
  if (!store.ok()) return out;
  for (ledger::Cf cf : {ledger::Cf::kIdempotency, ledger::Cf::kAccounts,
                        ledger::Cf::kLedgerAccounts, ledger::Cf::kPolicies, ledger::Cf::kMeta}) {
    auto rows = (*store)->Scan(cf);
    EXPECT_TRUE(rows.ok()) << rows.status();
    if (rows.ok()) out[static_cast<int>(cf)] = *std::move(rows);
  }
  return out;
}

TEST_F(LedgerServerTest, RebuildingProjectionsReproducesThemExactly) {
  ASSERT_NO_FATAL_FAILURE(AdoptDemoPolicy());
  ASSERT_NO_FATAL_FAILURE(AdoptOtherRegionPolicy());
  EnrolOk(kIdA, "金哲");
  EnrolOk(kIdB, "李梅");
  const v1::CollectionRecord a_2014 = AddRecord("E0001", kIdA, 2014, 10000, "2015-01-10");
  const v1::CollectionRecord c_parked = AddRecord("E0003", kIdC, 2024, 10000, "2024-02-01");
  const std::vector<v1::CollectionRecord> early = {
      a_2014,
      AddRecord("E0002", kIdB, 2020, 200000, "2020-06-01"),
      c_parked,
      AddRecord("E0004", kIdB, 2021, 40000, "2021-03-01", kOtherRegion),
  };
  const v1::PushCollectionsResponse early_response = PushOk(early);
  EXPECT_EQ(early_response.rejected_count(), 0u);
  // More events than the rebuild's batch (kTestReplayBatch below), so it replays in several
  // batches and the cancellations below are replayed in a later batch than what they cancel.
  for (int m = 0; m < 3; ++m) {
    const v1::PushCollectionsResponse bulk = PushOk(SuspenseRecords("BULK", m * 7000, 7000));
    EXPECT_EQ(bulk.suspense_count(), 7000u);
  }
  constexpr size_t kTestReplayBatch = 20'000;
  ASSERT_GT(ledger().Head().sequence, kTestReplayBatch);
  const std::vector<v1::CollectionRecord> late = {
      CancelOf(a_2014, "2015-02-01"),
      CancelOf(c_parked, "2024-03-01"),
      AddRecord("E0005", kIdA, 2015, 20000, "2015-03-01"),
      AddRecord("E0006", kIdA, 2016, 30000, "2016-03-01"),
  };
  const v1::PushCollectionsResponse late_response = PushOk(late);
  EXPECT_EQ(late_response.rejected_count(), 0u);

  const v1::Account a = AccountOf(kIdA);
  const v1::Account b = AccountOf(kIdB);
  EXPECT_EQ(a.total_fen(), 50000);
  EXPECT_EQ(a.contribution_years(), 2u);
  const ledger::ChainHead head = ledger().Head();
  const auto totals = ledger().LedgerAccountBalances();
  node_->Stop();

  const ColumnFamilies before = ReadProjections(dir_);
  ASSERT_EQ(before.size(), 5u);
  EXPECT_FALSE(before.at(static_cast<int>(ledger::Cf::kAccounts)).empty());
  const absl::Status rebuilt = ledger::Ledger::RebuildProjections(dir_, kTestReplayBatch);
  ASSERT_TRUE(rebuilt.ok()) << rebuilt;
  const ColumnFamilies after = ReadProjections(dir_);
  for (const auto& [cf, rows] : before) {
    SCOPED_TRACE(StrCat("column family ", cf));
    ASSERT_TRUE(after.contains(cf));
    EXPECT_EQ(after.at(cf).size(), rows.size());
    EXPECT_TRUE(after.at(cf) == rows) << "projection differs after rebuild";
  }

  ASSERT_NO_FATAL_FAILURE(node_->Start(/*reopen=*/true));
  EXPECT_TRUE(ProtoEquals(a, AccountOf(kIdA)));
  EXPECT_TRUE(ProtoEquals(b, AccountOf(kIdB)));
  v1::Account missing;
  EXPECT_EQ(GetAccount(kIdC, &missing).status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(ledger().Head().sequence, head.sequence);
  EXPECT_EQ(ledger().Head().hash, head.hash);
  EXPECT_EQ(ledger().LedgerAccountBalances(), totals);
  EXPECT_TRUE(ledger().VerifyChain().ok());
  for (const char* region : {kRegion, kOtherRegion}) {
    ASSERT_TRUE(ledger().LatestPolicy(region).has_value()) << region;
  }

  // The idempotency index was rebuilt too.
  std::vector<Want> want;
  for (const v1::RecordOutcome& o : early_response.outcomes()) {
    want.push_back({v1::OUTCOME_DUPLICATE, o.sequence()});
  }
  for (const v1::RecordOutcome& o : late_response.outcomes()) {
    want.push_back({v1::OUTCOME_DUPLICATE, o.sequence()});
  }
  std::vector<v1::CollectionRecord> resend = early;
  resend.insert(resend.end(), late.begin(), late.end());
  ASSERT_NO_FATAL_FAILURE(ExpectOutcomes(PushOk(resend), want));
  EXPECT_EQ(ledger().Head().sequence, head.sequence);
}

// --- the server itself -------------------------------------------------------------------------

TEST(StartServerTest, RefusesNonLoopbackAddresses) {
  EXPECT_TRUE(services::IsLoopbackAddress("127.0.0.1:50051"));
  EXPECT_TRUE(services::IsLoopbackAddress("127.1.2.3:0"));
  EXPECT_TRUE(services::IsLoopbackAddress("localhost:50051"));
  EXPECT_TRUE(services::IsLoopbackAddress("[::1]:50051"));
  EXPECT_FALSE(services::IsLoopbackAddress("0.0.0.0:50051"));
  EXPECT_FALSE(services::IsLoopbackAddress("[::]:50051"));
  EXPECT_FALSE(services::IsLoopbackAddress("10.0.0.1:50051"));
  EXPECT_FALSE(services::IsLoopbackAddress("128.0.0.1:50051"));

  const std::string dir =
      StrCat(::testing::TempDir(), "ledger_it_nonloopback_", static_cast<int64_t>(getpid()));
  std::filesystem::remove_all(dir);
  {
    auto ledger = ledger::Ledger::Open({.data_dir = dir, .clock_us = Now2025Us});
    ASSERT_TRUE(ledger.ok()) << ledger.status();
    auto running = services::StartServer(
        **ledger, {.listen_address = "0.0.0.0:0", .insecure_plaintext = true});
    EXPECT_EQ(running.status().code(), absl::StatusCode::kFailedPrecondition);
    // Neither TLS nor explicit plain text: refused even on loopback.
    auto neither = services::StartServer(**ledger, {.listen_address = "127.0.0.1:0"});
    EXPECT_EQ(neither.status().code(), absl::StatusCode::kFailedPrecondition);
  }
  std::filesystem::remove_all(dir);
}

// Regression: a host name that merely starts with "127." was taken for a loopback address, so the
// plain-text server could be bound to whatever that name resolves to.
TEST(StartServerTest, HostNameStartingWith127IsNotLoopback) {
  EXPECT_FALSE(services::IsLoopbackAddress("127.example.com:50051"));
}

// Regression: gRPC enables SO_REUSEPORT by default, so a second server (here: on another ledger)
// bound a port already in use and the kernel split connections between the two ledgers.
TEST(StartServerTest, SecondServerOnAPortInUseFails) {
  const std::string base =
      StrCat(::testing::TempDir(), "ledger_it_sameport_", static_cast<int64_t>(getpid()));
  std::filesystem::remove_all(base);
  {
    auto first = ledger::Ledger::Open({.data_dir = base + "_1", .clock_us = Now2025Us});
    auto second = ledger::Ledger::Open({.data_dir = base + "_2", .clock_us = Now2025Us});
    ASSERT_TRUE(first.ok() && second.ok());
    auto one = services::StartServer(
        **first, {.listen_address = "127.0.0.1:0", .insecure_plaintext = true});
    ASSERT_TRUE(one.ok()) << one.status();
    auto two = services::StartServer(
        **second, {.listen_address = StrCat("127.0.0.1:", one->port), .insecure_plaintext = true});
    EXPECT_EQ(two.status().code(), absl::StatusCode::kUnavailable);
    if (two.ok()) two->server->Shutdown();
    one->server->Shutdown();
  }
  std::filesystem::remove_all(base + "_1");
  std::filesystem::remove_all(base + "_2");
}

}  // namespace
