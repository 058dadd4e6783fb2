// Hostile input at the gRPC seam (issue 7, "Reliability"): a real ledger on a temporary RocksDB
// directory, the real server in-process on a loopback port, and callers that send what no honest
// client would: bytes that are not a protobuf, strings over every limit, text that is not UTF-8,
// amounts whose sums would overflow, impossible dates, enum values that do not exist, empty and
// abandoned streams, too many streams at once.
//
// Every case must get a clean answer (a gRPC status, or a per-record rejection with its specific
// reason), must change nothing (the chain head and every ledger balance are compared before and
// after), and must leave the server serving (a resend of the baseline records still comes back
// DUPLICATE with the original sequences). For streams that break part-way, whatever was committed
// stays committed, whole messages at a time, and nothing else is applied.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "ledger/citizen_id.h"
#include "ledger/ledger.h"
#include "ledger/limits.h"
#include "ledger/policy.h"
#include "ledger/strings.h"
#include "ledger/v1/services.grpc.pb.h"
#include "services/methods.h"
#include "services/services.h"
#include "spdlog/sinks/base_sink.h"
#include "spdlog/spdlog.h"
#include "tests/support/grpc_node.h"

namespace {

namespace v1 = ledger::v1;
using ::ledger::StrCat;
using namespace ::ledger::testing;  // NOLINT: the shared test fixtures
using ::testing::HasSubstr;

constexpr char kIdA[] = "22240119650315123X";  // enrolled in SetUp
constexpr char kIdC[] = "222401199211207899";  // never enrolled
constexpr char kPushMethod[] = "/ledger.v1.CollectionService/PushCollections";
constexpr char kStreamMethod[] = "/ledger.v1.CollectionService/StreamCollections";
constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();
constexpr int64_t kInt64Min = std::numeric_limits<int64_t>::min();

v1::CollectionRecord Add(std::string receipt, std::string citizen_id, int year, int64_t fen,
                         std::string date) {
  v1::CollectionRecord r =
      AddRecord(std::move(receipt), std::move(citizen_id), year, fen, std::move(date));
  r.set_batch_id("HOSTILE-1");
  return r;
}

// `count` valid records of people who are not enrolled (each would go to suspense).
std::vector<v1::CollectionRecord> SuspenseRecords(std::string_view prefix, int first, int count) {
  std::vector<v1::CollectionRecord> out;
  out.reserve(count);
  for (int i = first; i < first + count; ++i) {
    char receipt[32];
    std::snprintf(receipt, sizeof receipt, "%07d", i);
    out.push_back(Add(StrCat(prefix, receipt), NumberedCitizenId(i), 2025, 10000, "2025-02-01"));
  }
  return out;
}

using RpcResult = Rpc;

grpc::ByteBuffer ToByteBuffer(const std::string& bytes) {
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

// Protobuf wire format by hand, for messages the typed stubs cannot (or will not) produce.
std::string Varint(uint64_t v) {
  std::string out;
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
  return out;
}
std::string LengthDelimited(int field, const std::string& payload) {
  return Varint((static_cast<uint64_t>(field) << 3) | 2) + Varint(payload.size()) + payload;
}
// A PushCollectionsRequest holding the given serialized records (field 1).
std::string RequestBytes(const std::vector<std::string>& records) {
  std::string out;
  for (const std::string& r : records) out += LengthDelimited(1, r);
  return out;
}

// What the ledger holds: the chain head and every ledger balance, and the enrolled account.
struct Snapshot {
  ledger::ChainHead head;
  std::map<std::string, int64_t> balances;
  std::string account_a;
};

// Counts the server's one log line per call ("rpc method=M actor=… code=…"), which a handler
// writes as it returns: for a stream, after everything it handed the writer is committed.
class CallLines final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  int Count(const std::string& method) {
    std::lock_guard lock(mu_);
    return counts_[method];
  }
  // Waits (up to 20 s) until `n` calls of `method` have ended.
  bool WaitFor(const std::string& method, int n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(20), [&] { return counts_[method] >= n; });
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    const std::string_view text(msg.payload.data(), msg.payload.size());
    constexpr std::string_view kPrefix = "rpc method=";
    if (!text.starts_with(kPrefix)) return;
    const size_t end = text.find(' ', kPrefix.size());
    const std::string method(text.substr(kPrefix.size(), end - kPrefix.size()));
    std::lock_guard lock(mu_);
    ++counts_[method];
    cv_.notify_all();
  }
  void flush_() override {}

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, int> counts_;
};

class HostileInputTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // The server logs one line per call (thousands here): only warnings reach the console; the
    // call lines go to call_lines_.
    call_lines_ = std::make_shared<CallLines>();
    auto logger = spdlog::default_logger();
    for (auto& sink : logger->sinks()) sink->set_level(spdlog::level::warn);
    logger->sinks().push_back(call_lines_);
    logger->set_level(spdlog::level::info);
    node_ = std::make_unique<Node>(TestDir("ledger_hostile"));
    node_->options() = NodeOptions{.clock_us = Now2025Us,
                                   .replay_scratch_dir = node_->dir() + ".replay-scratch",
                                   .max_receive_message_bytes = 64 * 1024 * 1024};
    ASSERT_NO_FATAL_FAILURE(node_->Start());

    // Baseline: the demo policy, one enrolled participant, one credited and one suspense receipt.
    auto policy = LoadDemoPolicy2025();
    ASSERT_TRUE(policy.ok()) << policy.status();
    {
      v1::AdoptPolicyResponse response;
      RpcResult r = node_->AdoptPolicy(*policy, &response);
      ASSERT_TRUE(r.status.ok()) << Describe(r.status);
    }
    {
      v1::EnrolResponse response;
      RpcResult r = Enrol(Participant(kIdA, "金哲"), &response);
      ASSERT_TRUE(r.status.ok()) << Describe(r.status);
    }
    baseline_ = {Add("BASE0001", kIdA, 2024, 50000, "2024-03-01"),
                 Add("BASE0002", kIdC, 2024, 10000, "2024-03-01")};
    v1::PushCollectionsResponse response;
    RpcResult r = Push(baseline_, &response);
    ASSERT_TRUE(r.status.ok()) << Describe(r.status);
    ASSERT_EQ(response.outcomes_size(), 2);
    ASSERT_EQ(response.accepted_count(), 1u);
    ASSERT_EQ(response.suspense_count(), 1u);
    for (const v1::RecordOutcome& o : response.outcomes())
      baseline_sequences_.push_back(o.sequence());
  }

  void TearDown() override {
    node_.reset();
    auto& sinks = spdlog::default_logger()->sinks();
    sinks.erase(std::remove(sinks.begin(), sinks.end(), call_lines_), sinks.end());
  }

  RpcResult Enrol(const v1::ParticipantEnrolled& participant, v1::EnrolResponse* response) {
    return node_->Enrol(participant, response);
  }

  RpcResult Push(const std::vector<v1::CollectionRecord>& records,
                 v1::PushCollectionsResponse* response) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    return PushRecords(node_->collections(), context, records, response);
  }

  RpcResult Stream(const std::vector<std::vector<v1::CollectionRecord>>& messages,
                   v1::PushCollectionsResponse* response) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    return StreamRecords(node_->collections(), context, messages, response);
  }

  RpcResult ReceiveFunds(const v1::ReceiveFiscalFundsRequest& request, v1::CommandResponse* out) {
    return node_->Funds(request, out);
  }

  // A unary call with raw request bytes, through the generic stub.
  RpcResult RawUnary(const std::string& method, const std::string& bytes,
                     std::string* response_bytes = nullptr) {
    grpc::GenericStub generic(node_->channel());
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    grpc::CompletionQueue cq;
    auto call = generic.PrepareUnaryCall(&context, method, ToByteBuffer(bytes), &cq);
    call->StartCall();
    grpc::ByteBuffer response;
    grpc::Status status;
    call->Finish(&response, &status, reinterpret_cast<void*>(1));
    void* tag = nullptr;
    bool ok = false;
    EXPECT_TRUE(cq.Next(&tag, &ok));
    if (response_bytes != nullptr && status.ok()) {
      std::vector<grpc::Slice> slices;
      (void)response.Dump(&slices);
      response_bytes->clear();
      for (const grpc::Slice& s : slices) {
        response_bytes->append(reinterpret_cast<const char*>(s.begin()), s.size());
      }
    }
    return {status, ReasonOf(context)};
  }

  // A client stream of raw messages through the generic stub; the response (if any) is parsed.
  RpcResult RawStream(const std::vector<std::string>& messages,
                      v1::PushCollectionsResponse* parsed) {
    grpc::GenericStub generic(node_->channel());
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    grpc::CompletionQueue cq;
    auto call = generic.PrepareCall(&context, kStreamMethod, &cq);
    void* tag = nullptr;
    bool ok = false;
    call->StartCall(reinterpret_cast<void*>(1));
    EXPECT_TRUE(cq.Next(&tag, &ok));
    for (const std::string& m : messages) {
      call->Write(ToByteBuffer(m), reinterpret_cast<void*>(2));
      EXPECT_TRUE(cq.Next(&tag, &ok));
      if (!ok) break;
    }
    call->WritesDone(reinterpret_cast<void*>(3));
    EXPECT_TRUE(cq.Next(&tag, &ok));
    grpc::ByteBuffer response;
    call->Read(&response, reinterpret_cast<void*>(4));
    EXPECT_TRUE(cq.Next(&tag, &ok));
    const bool got_response = ok;
    grpc::Status status;
    call->Finish(&status, reinterpret_cast<void*>(5));
    EXPECT_TRUE(cq.Next(&tag, &ok));
    if (got_response && parsed != nullptr) {
      std::vector<grpc::Slice> slices;
      (void)response.Dump(&slices);
      std::string bytes;
      for (const grpc::Slice& s : slices) {
        bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
      }
      EXPECT_TRUE(parsed->ParseFromString(bytes));
    }
    return {status, ReasonOf(context)};
  }

  std::string AccountBytes(const std::string& id) {
    auto account = ledger().GetAccount(id);
    EXPECT_TRUE(account.ok()) << account.status();
    if (!account.ok() || !account->has_value()) return "";
    return (*account)->SerializeAsString();
  }

  Snapshot Take() {
    return {ledger().Head(), ledger().LedgerAccountBalances(), AccountBytes(kIdA)};
  }

  // Nothing changed since `before`: the same head (sequence and hash), the same balances (the
  // in-process view and FundService's), the same account.
  void ExpectUnchanged(const Snapshot& before) {
    const ledger::ChainHead head = ledger().Head();
    EXPECT_EQ(head.sequence, before.head.sequence) << "an event was appended";
    EXPECT_EQ(head.hash, before.head.hash);
    EXPECT_EQ(ledger().LedgerAccountBalances(), before.balances);
    EXPECT_EQ(Sum(ledger().LedgerAccountBalances()), 0);
    EXPECT_EQ(AccountBytes(kIdA), before.account_a);
    grpc::ClientContext context;
    v1::GetLedgerBalancesRequest request;
    request.set_region_code(kRegion);
    v1::LedgerBalances served;
    grpc::Status status = node_->funds().GetLedgerBalances(&context, request, &served);
    ASSERT_TRUE(status.ok()) << Describe(status);
    std::map<std::string, int64_t> want;
    for (const auto& [key, fen] : before.balances) {
      if (key.starts_with(StrCat(kRegion, "/"))) want[key.substr(7)] = fen;
    }
    std::map<std::string, int64_t> got(served.balances_fen().begin(), served.balances_fen().end());
    EXPECT_EQ(got, want);
  }

  // The server still answers, and the writer still works: the baseline records come back
  // DUPLICATE with their original sequences.
  void ExpectAlive() {
    v1::PushCollectionsResponse response;
    RpcResult r = Push(baseline_, &response);
    ASSERT_TRUE(r.status.ok()) << "server not serving after hostile input: " << Describe(r.status);
    ASSERT_EQ(response.outcomes_size(), 2);
    for (int i = 0; i < 2; ++i) {
      EXPECT_EQ(response.outcomes(i).outcome(), v1::OUTCOME_DUPLICATE);
      EXPECT_EQ(response.outcomes(i).sequence(), baseline_sequences_[i]);
    }
    EXPECT_TRUE(ledger().VerifyChain().ok());
  }

  // Pushes `records` (unary) and expects each rejected for the reason at its position.
  void ExpectRejected(const std::vector<v1::CollectionRecord>& records,
                      const std::vector<v1::Reason>& reasons) {
    ASSERT_EQ(records.size(), reasons.size());
    v1::PushCollectionsResponse response;
    RpcResult r = Push(records, &response);
    ASSERT_TRUE(r.status.ok()) << Describe(r.status);
    ASSERT_EQ(response.outcomes_size(), static_cast<int>(records.size()));
    EXPECT_EQ(response.rejected_count(), records.size());
    for (size_t i = 0; i < records.size(); ++i) {
      const v1::RecordOutcome& o = response.outcomes(static_cast<int>(i));
      SCOPED_TRACE(
          StrCat("record ", i, " receipt '", records[i].receipt_number().substr(0, 48), "'"));
      EXPECT_EQ(o.index(), i);
      EXPECT_EQ(o.outcome(), v1::OUTCOME_REJECTED) << o.detail();
      EXPECT_EQ(o.reason(), reasons[i])
          << "got " << v1::Reason_Name(o.reason()) << ": " << o.detail();
      EXPECT_EQ(o.sequence(), 0u);
      EXPECT_FALSE(o.detail().empty());
      EXPECT_LT(o.detail().size(), 512u) << "the detail echoes hostile input back";
    }
  }

  ledger::Ledger& ledger() { return node_->ledger(); }

  std::unique_ptr<Node> node_;
  std::vector<v1::CollectionRecord> baseline_;
  std::vector<uint64_t> baseline_sequences_;
  std::shared_ptr<CallLines> call_lines_;
};

// --- bytes that are not a PushCollectionsRequest -----------------------------------------------

TEST_F(HostileInputTest, MalformedProtobufBytesFailCleanlyAndChangeNothing) {
  const Snapshot before = Take();
  std::mt19937 rng(7);
  std::string random_bytes(4096, '\0');
  for (char& c : random_bytes) c = static_cast<char>(rng());
  const std::string valid_record =
      Add("MALF0001", kIdC, 2025, 10000, "2025-02-01").SerializeAsString();
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"all 0xff", std::string(64, '\xff')},
      {"random bytes", random_bytes},
      {"truncated length varint", std::string("\x0a\xff", 2)},
      {"length beyond the buffer", std::string("\x0a\x10"
                                               "abc",
                                               5)},
      {"length near 2^31", std::string("\x0a\xff\xff\xff\xff\x07", 6) + "x"},
      {"varint longer than 10 bytes", std::string("\x08") + std::string(11, '\x80') + "\x01"},
      {"wire type 6", std::string("\x0e", 1)},
      {"wire type 7", std::string("\x0f", 1)},
      {"field number 0", std::string("\x02\x00", 2)},
      {"unterminated group", std::string("\x0b\x08\x01", 3)},
      {"mismatched end group", std::string("\x0b\x14", 2)},
      {"record truncated in its middle",
       LengthDelimited(1, valid_record).substr(0, valid_record.size() / 2)},
      {"record with a bad nested length", RequestBytes({std::string("\x12\x7f"
                                                                    "R1",
                                                                    4)})},
      {"a valid record then garbage", RequestBytes({valid_record}) + std::string("\xff\xff", 2)},
      {"non-UTF-8 in a string field (name)",
       RequestBytes({valid_record + LengthDelimited(4, "\xff\xfe\xfd")})},
      {"non-UTF-8 in the receipt number", RequestBytes({LengthDelimited(2, "R\xc0\xaf")})},
  };
  for (const auto& [what, bytes] : cases) {
    SCOPED_TRACE(what);
    RpcResult r = RawUnary(kPushMethod, bytes);
    EXPECT_EQ(r.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << Describe(r.status);
    EXPECT_EQ(r.reason, "malformed_message");
    ExpectUnchanged(before);
  }
  ASSERT_NO_FATAL_FAILURE(ExpectAlive());

  // Bytes that do parse (empty; unknown fields only; a known field with the wrong wire type,
  // which protobuf keeps as an unknown field) are an empty push: OK, no outcomes, nothing written.
  for (const std::string& bytes :
       {std::string(), std::string("\xf8\x07\x01", 3), std::string("\x0d\x01\x02\x03\x04", 5)}) {
    std::string response_bytes;
    RpcResult r = RawUnary(kPushMethod, bytes, &response_bytes);
    ASSERT_TRUE(r.status.ok()) << Describe(r.status);
    v1::PushCollectionsResponse response;
    ASSERT_TRUE(response.ParseFromString(response_bytes));
    EXPECT_EQ(response.outcomes_size(), 0);
    ExpectUnchanged(before);
  }

  // A method that does not exist.
  RpcResult r = RawUnary("/ledger.v1.CollectionService/DropEverything", "");
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::UNIMPLEMENTED) << Describe(r.status);
  ExpectUnchanged(before);
  ASSERT_NO_FATAL_FAILURE(ExpectAlive());
}

// Every unary method parses its own request (services/unary_call.h): bytes that are not its
// request message get INVALID_ARGUMENT "malformed_message" from a read, a lifecycle command, a
// fund command and every other unary method alike (gRPC's own parsing answered INTERNAL), and
// change nothing.
TEST_F(HostileInputTest, UnparseableRequestToAnyUnaryMethodIsMalformedMessage) {
  const Snapshot before = Take();
  std::set<std::string> tried;
  for (const services::Method* method : services::AllMethods()) {
    const std::string path = method->path;  // "/ledger.v1.<Service>/<Method>"
    std::string name = path.substr(1);
    std::replace(name.begin(), name.end(), '/', '.');
    const auto* descriptor =
        google::protobuf::DescriptorPool::generated_pool()->FindMethodByName(name);
    ASSERT_NE(descriptor, nullptr) << path;
    if (descriptor->client_streaming() || descriptor->server_streaming()) continue;
    SCOPED_TRACE(path);
    RpcResult r = RawUnary(path, std::string(64, '\xff'));
    EXPECT_EQ(r.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << Describe(r.status);
    EXPECT_EQ(r.reason, "malformed_message");
    ExpectUnchanged(before);
    tried.insert(path);
  }
  EXPECT_THAT(tried, ::testing::IsSupersetOf({"/ledger.v1.AccountService/GetAccount",
                                              "/ledger.v1.AccountService/RecordDeath",
                                              "/ledger.v1.FundService/ReceiveFiscalFunds",
                                              "/ledger.v1.AuditService/VerifyChain"}));
  ASSERT_NO_FATAL_FAILURE(ExpectAlive());
}

// A stream whose first message is garbage: the stream fails and nothing is written.
TEST_F(HostileInputTest, MalformedFirstStreamMessageWritesNothing) {
  const Snapshot before = Take();
  const std::string next =
      RequestBytes({Add("MALS0001", kIdC, 2025, 10000, "2025-02-01").SerializeAsString()});
  v1::PushCollectionsResponse response;
  RpcResult r = RawStream({std::string(64, '\xff'), next}, &response);
  // Whatever the status, the record after the garbage must not be applied: the server cannot
  // know the stream's remaining messages were meant to follow something it could not read.
  ExpectUnchanged(before);
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << Describe(r.status);
  EXPECT_EQ(r.reason, "malformed_message");
  ASSERT_NO_FATAL_FAILURE(ExpectAlive());
}

// A stream message that does not parse (garbage bytes, or a record whose name is not UTF-8, e.g.
// a GBK-encoded file) ends the stream with INVALID_ARGUMENT naming the message and how many
// records before it are committed, so the caller knows where to resume. (Found by this suite: the
// typed server API took such a message for the end of the stream and answered OK, silently
// dropping the rest; StreamCollections now parses each message itself.)
TEST_F(HostileInputTest, MalformedMessageMidStreamFailsTheStream) {
  const auto first = SuspenseRecords("MID", 0, 3);
  const auto third = SuspenseRecords("MID", 100, 3);
  std::vector<std::string> first_bytes, third_bytes;
  for (const auto& rec : first) first_bytes.push_back(rec.SerializeAsString());
  for (const auto& rec : third) third_bytes.push_back(rec.SerializeAsString());
  {
    SCOPED_TRACE("garbage bytes as the second message");
    const Snapshot before = Take();
    v1::PushCollectionsResponse response;
    RpcResult r = RawStream(
        {RequestBytes(first_bytes), std::string(64, '\xff'), RequestBytes(third_bytes)}, &response);
    EXPECT_EQ(r.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << Describe(r.status);
    EXPECT_EQ(r.reason, "malformed_message");
    EXPECT_THAT(r.status.error_message(), HasSubstr("stream message 2 "));
    EXPECT_THAT(r.status.error_message(), HasSubstr("the 3 records before it are committed"));
    // The first message is committed whole; nothing of the third.
    EXPECT_EQ(ledger().Head().sequence, before.head.sequence + 3);
  }
  {
    SCOPED_TRACE("a GBK-encoded name in the second message (typed client)");
    const Snapshot before = Take();
    v1::CollectionRecord gbk = Add("MIDGBK01", kIdC, 2025, 10000, "2025-02-01");
    gbk.set_name("\xd5\xc5\xc8\xfd");  // 张三 in GBK
    const auto fourth = SuspenseRecords("MID", 200, 3);
    v1::PushCollectionsResponse response;
    RpcResult r = Stream({SuspenseRecords("MID", 300, 3), {gbk}, fourth}, &response);
    EXPECT_EQ(r.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << Describe(r.status);
    EXPECT_EQ(r.reason, "malformed_message");
    EXPECT_EQ(ledger().Head().sequence, before.head.sequence + 3);
  }
  ASSERT_NO_FATAL_FAILURE(ExpectAlive());
}

// The safety half of the case above, which holds today: nothing after the unreadable message is
// applied, the message before it is applied whole or not at all, and every record the response
// does report is what the ledger holds.
TEST_F(HostileInputTest, MalformedMessageMidStreamAppliesNothingAfterIt) {
  const Snapshot before = Take();
  const auto first = SuspenseRecords("MID", 0, 3);
  const auto third = SuspenseRecords("MID", 100, 3);
  std::vector<std::string> first_bytes, third_bytes;
  for (const auto& rec : first) first_bytes.push_back(rec.SerializeAsString());
  for (const auto& rec : third) third_bytes.push_back(rec.SerializeAsString());
  v1::PushCollectionsResponse response;
  const int streams_ended = call_lines_->Count(kStreamMethod);
  RpcResult r = RawStream(
      {RequestBytes(first_bytes), std::string(64, '\xff'), RequestBytes(third_bytes)}, &response);
  ASSERT_TRUE(call_lines_->WaitFor(kStreamMethod, streams_ended + 1));
  const uint64_t head = ledger().Head().sequence;
  ASSERT_TRUE(head == before.head.sequence || head == before.head.sequence + 3)
      << "partially applied: head moved by " << head - before.head.sequence;
  for (uint64_t s = before.head.sequence + 1; s <= head; ++s) {
    auto e = ledger().ReadEvent(s);
    ASSERT_TRUE(e.ok()) << e.status();
    EXPECT_EQ(e->contribution_collected().receipt_number(),
              first[s - before.head.sequence - 1].receipt_number());
  }
  if (r.status.ok()) {
    ASSERT_LE(response.outcomes_size(), 3);
    for (const v1::RecordOutcome& o : response.outcomes()) {
      EXPECT_EQ(o.outcome(), v1::OUTCOME_SUSPENSE);
      EXPECT_EQ(o.sequence(), before.head.sequence + 1 + o.index());
    }
  }
  // Resending the third message: never seen, so new (not DUPLICATE).
  v1::PushCollectionsResponse again;
  ASSERT_TRUE(Push(third, &again).status.ok());
  EXPECT_EQ(again.suspense_count(), 3u);
  EXPECT_EQ(again.duplicate_count(), 0u);
  EXPECT_EQ(Sum(ledger().LedgerAccountBalances()), 0);
  ASSERT_NO_FATAL_FAILURE(ExpectAlive());
}

// A message over the server's receive limit (16 MiB) is refused by gRPC itself.
TEST_F(HostileInputTest, MessageOverTheSizeLimitIsResourceExhausted) {
  const Snapshot before = Take();
  v1::CollectionRecord huge = Add("HUGE0001", kIdC, 2025, 10000, "2025-02-01");
  huge.set_name(std::string(ledger::kReceiveMessageBytesMax + 1024, 'x'));
  v1::PushCollectionsResponse response;
  RpcResult r = Push({huge}, &response);
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << Describe(r.status);
  ExpectUnchanged(before);

  // In a stream: the messages before it are committed (whole), the stream fails, nothing after.
  const auto first = SuspenseRecords("BIG", 0, 5);
  const auto after = SuspenseRecords("BIG", 100, 5);
  const int streams_ended = call_lines_->Count(kStreamMethod);
  r = Stream({first, {huge}, after}, &response);
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << Describe(r.status);
  // The server's handler may still be finishing the first message.
  ASSERT_TRUE(call_lines_->WaitFor(kStreamMethod, streams_ended + 1));
  const uint64_t head = ledger().Head().sequence;
  EXPECT_TRUE(head == before.head.sequence || head == before.head.sequence + 5) << head;
  v1::PushCollectionsResponse again;
  ASSERT_TRUE(Push(after, &again).status.ok());
  EXPECT_EQ(again.suspense_count(), 5u) << "records after the oversize message were applied";
  ASSERT_NO_FATAL_FAILURE(ExpectAlive());
}

// --- records with hostile fields ---------------------------------------------------------------

TEST_F(HostileInputTest, OversizeStringsAreRejectedPerRecord) {
  const Snapshot before = Take();
  auto with = [](std::function<void(v1::CollectionRecord&)> f) {
    v1::CollectionRecord r = Add("LONG0001", kIdC, 2025, 10000, "2025-02-01");
    f(r);
    return r;
  };
  std::string cjk_65;  // 21 three-byte characters + 2 ASCII = 65 bytes
  for (int i = 0; i < 21; ++i) cjk_65 += "金";
  cjk_65 += "ab";
  const std::vector<v1::CollectionRecord> records = {
      with([](auto& r) { r.set_name(std::string(ledger::kNameBytesMax + 1, 'x')); }),
      with([&](auto& r) { r.set_name(cjk_65); }),
      with([](auto& r) { r.set_name(std::string(1 << 20, 'x')); }),
      with([](auto& r) {
        r.set_receipt_number(std::string(ledger::kReceiptNumberBytesMax + 1, '9'));
      }),
      with([](auto& r) { r.set_receipt_number(std::string(1 << 20, '9')); }),
      with([](auto& r) { r.set_receipt_number(""); }),
      with([](auto& r) { r.set_tax_office(std::string(ledger::kTaxOfficeBytesMax + 1, '1')); }),
      with([](auto& r) { r.set_batch_id(std::string(ledger::kBatchIdBytesMax + 1, 'B')); }),
      with([](auto& r) { r.set_citizen_id(std::string(kIdC) + "0"); }),
      with([](auto& r) { r.set_citizen_id(std::string(1 << 16, '1')); }),
      with([](auto& r) { r.set_region_code("2224011"); }),
      with([](auto& r) { r.set_region_code(""); }),
  };
  ExpectRejected(records, {v1::REASON_INVALID_FIELD, v1::REASON_INVALID_FIELD,
                           v1::REASON_INVALID_FIELD, v1::REASON_MISSING_RECEIPT_NUMBER,
                           v1::REASON_MISSING_RECEIPT_NUMBER, v1::REASON_MISSING_RECEIPT_NUMBER,
                           v1::REASON_INVALID_FIELD, v1::REASON_INVALID_FIELD,
                           v1::REASON_INVALID_CITIZEN_ID, v1::REASON_INVALID_CITIZEN_ID,
                           v1::REASON_INVALID_FIELD, v1::REASON_INVALID_FIELD});
  ExpectUnchanged(before);

  // Enrolment: the same limits, as a call-level INVALID_ARGUMENT.
  for (auto f : std::vector<std::function<void(v1::ParticipantEnrolled&)>>{
           [](auto& p) { p.set_name(std::string(ledger::kNameBytesMax + 1, 'x')); },
           [](auto& p) { p.set_address(std::string(ledger::kAddressBytesMax + 1, 'a')); },
           [](auto& p) { p.set_phone(std::string(ledger::kPhoneBytesMax + 1, '1')); },
           [](auto& p) { p.set_ethnicity(std::string(ledger::kEthnicityBytesMax + 1, 'e')); },
       }) {
    v1::ParticipantEnrolled p = Participant("222401198001014568", "李梅");
    f(p);
    v1::EnrolResponse response;
    RpcResult r = Enrol(p, &response);
    EXPECT_EQ(r.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << Describe(r.status);
    EXPECT_EQ(r.reason, "REASON_INVALID_FIELD");
  }
  ExpectUnchanged(before);

  // Exactly at the limits is fine.
  std::string cjk_63;
  for (int i = 0; i < 21; ++i) cjk_63 += "金";
  v1::CollectionRecord at_limit =
      Add(std::string(ledger::kReceiptNumberBytesMax, '7'), kIdC, 2025, 10000, "2025-02-01");
  at_limit.set_name(cjk_63 + "x");
  at_limit.set_tax_office(std::string(ledger::kTaxOfficeBytesMax, '1'));
  at_limit.set_batch_id(std::string(ledger::kBatchIdBytesMax, 'B'));
  v1::PushCollectionsResponse response;
  ASSERT_TRUE(Push({at_limit}, &response).status.ok());
  ASSERT_EQ(response.outcomes_size(), 1);
  EXPECT_EQ(response.outcomes(0).outcome(), v1::OUTCOME_SUSPENSE)
      << v1::Reason_Name(response.outcomes(0).reason()) << " " << response.outcomes(0).detail();
  ASSERT_NO_FATAL_FAILURE(ExpectAlive());
}

TEST_F(HostileInputTest, OversizeBatchesAreRefusedWhole) {
  const Snapshot before = Take();
  const auto too_many = SuspenseRecords("OVR", 0, static_cast<int>(ledger::kBatchRecordsMax) + 1);
  v1::PushCollectionsResponse response;
  RpcResult r = Push(too_many, &response);
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << Describe(r.status);
  EXPECT_EQ(r.reason, "batch_records_max");
  EXPECT_EQ(response.outcomes_size(), 0);
  ExpectUnchanged(before);

  // As the first message of a stream: nothing is written.
  r = Stream({too_many}, &response);
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << Describe(r.status);
  EXPECT_EQ(r.reason, "batch_records_max");
  ExpectUnchanged(before);

  // A batch of many empty records (cheap to send, 10,001 of them): refused the same way.
  std::vector<v1::CollectionRecord> empties(ledger::kBatchRecordsMax + 1);
  r = Push(empties, &response);
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << Describe(r.status);
  ExpectUnchanged(before);
  // At the limit, all of them empty: one rejection each, nothing written.
  empties.pop_back();
  r = Push(empties, &response);
  ASSERT_TRUE(r.status.ok()) << Describe(r.status);
  EXPECT_EQ(response.rejected_count(), ledger::kBatchRecordsMax);
  ExpectUnchanged(before);
  ASSERT_NO_FATAL_FAILURE(ExpectAlive());
}

// Text that is not UTF-8 never reaches the ledger through gRPC: a proto3 `string` that is not
// UTF-8 fails to parse, so the whole call fails (INVALID_ARGUMENT, "malformed_message").
// Valid UTF-8 holding control characters parses, and is rejected per record.
TEST_F(HostileInputTest, TextThatIsNotCleanUtf8IsRefused) {
  const Snapshot before = Take();
  const std::vector<std::string> not_utf8 = {
      "\xff",                              // never valid
      "\xc0\xaf",                          // overlong '/'
      "\xed\xa0\x80",                      // a UTF-16 surrogate
      "\xe9\x87",                          // truncated 3-byte sequence
      "\xf4\x90\x80\x80",                  // beyond U+10FFFF
      std::string("\xe9\x87\x91\x80", 4),  // a stray continuation byte after 金
  };
  for (const std::string& bad : not_utf8) {
    for (int field = 0; field < 3; ++field) {
      SCOPED_TRACE(StrCat("field ", field, " bytes ", bad.size()));
      v1::CollectionRecord r = Add("UTF80001", kIdC, 2025, 10000, "2025-02-01");
      if (field == 0) r.set_name(StrCat("金", bad));
      if (field == 1) r.set_tax_office(bad);
      if (field == 2) r.set_batch_id(bad);
      v1::PushCollectionsResponse response;
      RpcResult result = Push({r}, &response);
      if (result.status.ok()) {
        // Accepted by the parser: then the ledger must reject the record.
        ASSERT_EQ(response.outcomes_size(), 1);
        EXPECT_EQ(response.outcomes(0).outcome(), v1::OUTCOME_REJECTED);
        EXPECT_EQ(response.outcomes(0).reason(), v1::REASON_INVALID_FIELD);
      } else {
        EXPECT_EQ(result.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
            << Describe(result.status);
        EXPECT_EQ(result.reason, "malformed_message");
      }
      ExpectUnchanged(before);
    }
  }
  // Enrolment with a name that is not UTF-8.
  v1::EnrolResponse enrolled;
  RpcResult r = Enrol(Participant("222401198001014568", "李\xff"), &enrolled);
  EXPECT_FALSE(r.status.ok());
  ExpectUnchanged(before);

  // Valid UTF-8 with control characters, and the ledger's own check of bytes that never came
  // through gRPC (defence in depth: the core rejects them too).
  std::vector<v1::CollectionRecord> records;
  for (const std::string& name : {std::string("a\x01"
                                              "b"),
                                  std::string("a\x7f"), std::string("a\xc2\x85"),
                                  std::string("tab\there"), std::string("nul\0in", 6),
                                  std::string("\xe2\x80\xae"
                                              "rtl")}) {
    v1::CollectionRecord rec = Add("CTRL0001", kIdC, 2025, 10000, "2025-02-01");
    rec.set_name(name);
    records.push_back(rec);
  }
  // U+202E (right-to-left override) is a format character, not a control: allowed. Everything
  // else here is a control character.
  records.pop_back();
  ExpectRejected(records, std::vector<v1::Reason>(records.size(), v1::REASON_INVALID_FIELD));
  ledger::Ledger::Records core;
  for (const std::string& bad : not_utf8) {
    v1::CollectionRecord rec = Add("CORE0001", kIdC, 2025, 10000, "2025-02-01");
    rec.set_name(bad);
    *core.Add() = rec;
  }
  auto outcomes = ledger().PushCollections(core, "test");
  ASSERT_TRUE(outcomes.ok()) << outcomes.status();
  for (const v1::RecordOutcome& o : *outcomes) {
    EXPECT_EQ(o.outcome(), v1::OUTCOME_REJECTED);
    EXPECT_EQ(o.reason(), v1::REASON_INVALID_FIELD);
  }
  ExpectUnchanged(before);
  ASSERT_NO_FATAL_FAILURE(ExpectAlive());
}

TEST_F(HostileInputTest, ZeroNegativeAndOverflowingAmountsAreRejected) {
  const Snapshot before = Take();
  auto amount = [](std::string receipt, int64_t fen) {
    return Add(std::move(receipt), kIdC, 2025, fen, "2025-02-01");
  };
  const int64_t half_plus = kInt64Max / 2 + 1;  // two of them overflow int64
  v1::CollectionRecord cancel_max = amount("BASE0002", kInt64Max);
  cancel_max.set_record_type(v1::RECORD_TYPE_CANCEL);
  ExpectRejected({amount("AMT0001", 0), amount("AMT0002", -1), amount("AMT0003", kInt64Min),
                  amount("AMT0004", -10000), amount("AMT0005", ledger::kAmountFenMax + 1),
                  amount("AMT0006", kInt64Max), amount("AMT0007", half_plus),
                  amount("AMT0008", half_plus), cancel_max},
                 {v1::REASON_AMOUNT_NOT_POSITIVE, v1::REASON_AMOUNT_NOT_POSITIVE,
                  v1::REASON_AMOUNT_NOT_POSITIVE, v1::REASON_AMOUNT_NOT_POSITIVE,
                  v1::REASON_INVALID_FIELD, v1::REASON_INVALID_FIELD, v1::REASON_INVALID_FIELD,
                  v1::REASON_INVALID_FIELD, v1::REASON_INVALID_FIELD});
  ExpectUnchanged(before);

  // The largest single amount allowed is not a tier: rejected for that, nothing booked.
  ExpectRejected({amount("AMT0009", ledger::kAmountFenMax)}, {v1::REASON_AMOUNT_NOT_A_TIER});
  ExpectUnchanged(before);

  // Fiscal funds: at most kFiscalAmountFenMax per transfer.
  auto funds = [](int64_t fen, std::string ref) {
    v1::ReceiveFiscalFundsRequest r;
    r.set_region_code(kRegion);
    r.set_purpose(v1::FISCAL_PURPOSE_CONTRIBUTION_SUBSIDY);
    r.set_year(2025);
    r.set_amount_fen(fen);
    r.set_date("2025-06-01");
    r.set_document_ref(std::move(ref));
    return r;
  };
  const std::vector<std::pair<int64_t, std::string>> bad_funds = {
      {0, "REASON_AMOUNT_NOT_POSITIVE"},
      {-1, "REASON_AMOUNT_NOT_POSITIVE"},
      {kInt64Min, "REASON_AMOUNT_NOT_POSITIVE"},
      {ledger::kFiscalAmountFenMax + 1, "REASON_INVALID_FIELD"},
      {half_plus, "REASON_INVALID_FIELD"},
      {kInt64Max, "REASON_INVALID_FIELD"},
  };
  for (const auto& [fen, reason] : bad_funds) {
    SCOPED_TRACE(fen);
    v1::CommandResponse response;
    RpcResult r = ReceiveFunds(funds(fen, StrCat("CZ-BAD-", fen)), &response);
    EXPECT_EQ(r.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << Describe(r.status);
    EXPECT_EQ(r.reason, reason);
  }
  ExpectUnchanged(before);

  // At the cap, twice: both are recorded, and the sums are exact.
  for (const char* ref : {"CZ-MAX-1", "CZ-MAX-2"}) {
    v1::CommandResponse response;
    RpcResult r = ReceiveFunds(funds(ledger::kFiscalAmountFenMax, ref), &response);
    ASSERT_TRUE(r.status.ok()) << Describe(r.status);
  }
  const auto balances = ledger().LedgerAccountBalances();
  EXPECT_EQ(balances.at("222401/fiscal_funds/contribution_subsidy/2025"),
            -2 * ledger::kFiscalAmountFenMax);
  EXPECT_EQ(Sum(balances), 0);
  EXPECT_EQ(ledger().Head().sequence, before.head.sequence + 2);

  // A collective subsidy of INT64_MAX, and a transfer in whose parts would overflow when summed.
  v1::CreditCollectiveSubsidyRequest subsidy;
  subsidy.set_citizen_id(kIdA);
  subsidy.set_contribution_year(2024);
  subsidy.set_amount_fen(kInt64Max);
  subsidy.set_source(v1::FUNDING_SOURCE_COLLECTIVE);
  subsidy.set_payer("村委会");
  subsidy.set_date("2025-01-10");
  subsidy.set_document_ref("JT-MAX");
  {
    grpc::ClientContext context;
    v1::CommandResponse response;
    grpc::Status status = node_->accounts().CreditCollectiveSubsidy(&context, subsidy, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << Describe(status);
    EXPECT_EQ(ReasonOf(context), "REASON_INVALID_FIELD");
  }
  v1::TransferInRequest transfer;
  transfer.set_citizen_id(kIdA);
  transfer.set_from_region("220102");
  transfer.set_to_region(kRegion);
  transfer.set_date("2025-01-10");
  transfer.set_document_ref("ZR-MAX");
  for (v1::FundingSource s : {v1::FUNDING_SOURCE_PERSONAL, v1::FUNDING_SOURCE_GOVERNMENT}) {
    v1::SourceAmount* part = transfer.add_parts();
    part->set_source(s);
    part->set_amount_fen(half_plus);
  }
  {
    grpc::ClientContext context;
    v1::CommandResponse response;
    grpc::Status status = node_->accounts().TransferIn(&context, transfer, &response);
    EXPECT_FALSE(status.ok());
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << Describe(status);
  }
  EXPECT_EQ(ledger().Head().sequence, before.head.sequence + 2);
  EXPECT_EQ(ledger().LedgerAccountBalances(), balances);
  ASSERT_NO_FATAL_FAILURE(ExpectAlive());
}

// Found here and fixed (ledger/rules.cc CheckRecordSyntax, QuoteForDetail): region_code was never
// checked for its form and details quoted hostile fields whole, control characters included, to
// be printed on the operator's terminal. A region code that is not 6 ASCII digits is
// REASON_INVALID_FIELD, and details quote at most a short, printable prefix of what was sent.
TEST_F(HostileInputTest, HostileFieldsAreNotEchoedWhole) {
  const Snapshot before = Take();
  v1::CollectionRecord long_region = Add("ECHO0001", kIdC, 2025, 10000, "2025-02-01");
  long_region.set_region_code(std::string(100000, '2'));
  v1::CollectionRecord escape_region = Add("ECHO0002", kIdC, 2025, 10000, "2025-02-01");
  escape_region.set_region_code("\x1b[2J\x1b[31mOK\n");
  v1::CollectionRecord long_date = Add("ECHO0003", kIdC, 2025, 10000, std::string(100000, '9'));
  v1::CollectionRecord escape_date = Add("ECHO0004", kIdC, 2025, 10000, "\x1b[2J2025-02-01");
  v1::PushCollectionsResponse response;
  ASSERT_TRUE(Push({long_region, escape_region, long_date, escape_date}, &response).status.ok());
  ASSERT_EQ(response.outcomes_size(), 4);
  EXPECT_EQ(response.outcomes(0).reason(), v1::REASON_INVALID_FIELD);
  EXPECT_EQ(response.outcomes(1).reason(), v1::REASON_INVALID_FIELD);
  for (const v1::RecordOutcome& o : response.outcomes()) {
    SCOPED_TRACE(o.index());
    EXPECT_EQ(o.outcome(), v1::OUTCOME_REJECTED);
    EXPECT_LT(o.detail().size(), 512u);
    EXPECT_EQ(o.detail().find('\x1b'), std::string::npos) << "a control character is echoed";
    EXPECT_EQ(o.detail().find('\n'), std::string::npos) << "a control character is echoed";
  }
  ExpectUnchanged(before);
}

TEST_F(HostileInputTest, ImpossibleAndFutureDatesAreRejected) {
  const Snapshot before = Take();
  auto dated = [](std::string receipt, std::string date, int year = 2024) {
    return Add(std::move(receipt), kIdC, year, 10000, std::move(date));
  };
  ExpectRejected(
      {dated("D01", "0000-00-00"), dated("D02", "2023-02-30", 2023), dated("D03", "9999-12-31"),
       dated("D04", "2024-13-01"), dated("D05", "2024-00-10"), dated("D06", "2024-04-31"),
       dated("D07", "2023-02-29", 2023), dated("D08", ""), dated("D09", "2024/03/01"),
       dated("D10", "2024-3-1"), dated("D11", " 2024-03-01"), dated("D12", "2024-03-01 "),
       dated("D13", std::string("2024-03-01\0", 11)), dated("D14", "+024-03-01"),
       dated("D15", "1899-12-31"), dated("D16", "２０２４-03-01"), dated("D17", "-001-01-01"),
       dated("D18", "2024-03-0a")},
      std::vector<v1::Reason>(18, v1::REASON_INVALID_DATE));
  // Well-formed but after "today" (2025-06-30 in Beijing).
  ExpectRejected({dated("F01", "2025-07-01", 2025), dated("F02", "2999-12-31", 2025),
                  dated("F03", "2026-01-01", 2026)},
                 {v1::REASON_DATE_IN_FUTURE, v1::REASON_DATE_IN_FUTURE, v1::REASON_DATE_IN_FUTURE});
  // Years that no policy allows.
  ExpectRejected({dated("Y01", "2024-03-01", 0), dated("Y02", "2024-03-01", -2024),
                  dated("Y03", "2024-03-01", std::numeric_limits<int32_t>::max()),
                  dated("Y04", "2024-03-01", std::numeric_limits<int32_t>::min())},
                 std::vector<v1::Reason>(4, v1::REASON_IMPLAUSIBLE_YEAR));
  ExpectUnchanged(before);

  // The same dates for an enrolment and a fiscal transfer.
  for (const std::string date : {"0000-00-00", "2023-02-30", "9999-12-31", "2025-07-01"}) {
    SCOPED_TRACE(date);
    v1::ParticipantEnrolled p = Participant("222401198001014568", "李梅");
    p.set_enrolment_date(date);
    v1::EnrolResponse enrolled;
    RpcResult r = Enrol(p, &enrolled);
    EXPECT_EQ(r.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << Describe(r.status);
    EXPECT_EQ(r.reason, date == "2025-07-01" ? "REASON_DATE_IN_FUTURE" : "REASON_INVALID_DATE");
    v1::ReceiveFiscalFundsRequest f;
    f.set_region_code(kRegion);
    f.set_purpose(v1::FISCAL_PURPOSE_BASIC_PENSION);
    f.set_year(2025);
    f.set_amount_fen(100);
    f.set_date(date);
    f.set_document_ref(StrCat("CZ-DATE-", date));
    v1::CommandResponse response;
    r = ReceiveFunds(f, &response);
    EXPECT_EQ(r.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << Describe(r.status);
    EXPECT_EQ(r.reason, date == "2025-07-01" ? "REASON_DATE_IN_FUTURE" : "REASON_INVALID_DATE");
  }
  ExpectUnchanged(before);
  ASSERT_NO_FATAL_FAILURE(ExpectAlive());
}

TEST_F(HostileInputTest, UnknownEnumValuesAreRejected) {
  const Snapshot before = Take();
  auto typed = [](std::string receipt, int type) {
    v1::CollectionRecord r = Add(std::move(receipt), kIdC, 2025, 10000, "2025-02-01");
    r.set_record_type(static_cast<v1::RecordType>(type));
    return r;
  };
  ExpectRejected({typed("E01", 99), typed("E02", -1), typed("E03", 0), typed("E04", 3),
                  typed("E05", std::numeric_limits<int32_t>::max()),
                  typed("E06", std::numeric_limits<int32_t>::min())},
                 std::vector<v1::Reason>(6, v1::REASON_INVALID_RECORD_TYPE));
  ExpectUnchanged(before);

  for (int purpose : {0, 5, 99, -1}) {  // 5: the first unknown (4 is CADRE_SUBSIDY)
    SCOPED_TRACE(purpose);
    v1::ReceiveFiscalFundsRequest f;
    f.set_region_code(kRegion);
    f.set_purpose(static_cast<v1::FiscalPurpose>(purpose));
    f.set_year(2025);
    f.set_amount_fen(100);
    f.set_date("2025-06-01");
    f.set_document_ref(StrCat("CZ-PURPOSE-", purpose));
    v1::CommandResponse response;
    RpcResult r = ReceiveFunds(f, &response);
    EXPECT_EQ(r.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << Describe(r.status);
    EXPECT_EQ(r.reason, "REASON_INVALID_FIELD");
  }
  {
    v1::ParticipantEnrolled p = Participant("222401198001014568", "李梅");
    p.set_special_group(static_cast<v1::SpecialGroup>(99));
    v1::EnrolResponse enrolled;
    RpcResult r = Enrol(p, &enrolled);
    EXPECT_EQ(r.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << Describe(r.status);
    EXPECT_EQ(r.reason, "REASON_INVALID_FIELD");
  }
  {
    v1::CreditCollectiveSubsidyRequest s;
    s.set_citizen_id(kIdA);
    s.set_contribution_year(2024);
    s.set_amount_fen(100);
    s.set_source(static_cast<v1::FundingSource>(99));
    s.set_payer("村委会");
    s.set_date("2025-01-10");
    s.set_document_ref("JT-ENUM");
    grpc::ClientContext context;
    v1::CommandResponse response;
    grpc::Status status = node_->accounts().CreditCollectiveSubsidy(&context, s, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << Describe(status);
    EXPECT_EQ(ReasonOf(context), "REASON_INVALID_FIELD");
  }
  {
    v1::RefundContributionRequest refund;
    refund.set_receipt_number("BASE0001");
    refund.set_reason(static_cast<v1::RefundReason>(99));
    refund.set_date("2025-01-10");
    refund.set_document_ref("TK-ENUM");
    grpc::ClientContext context;
    v1::CommandResponse response;
    grpc::Status status = node_->accounts().RefundContribution(&context, refund, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << Describe(status);
  }
  {
    v1::JobRequest job;
    job.set_kind(static_cast<v1::JobKind>(99));
    job.set_region_code(kRegion);
    job.set_period(2024);
    grpc::ClientContext context;
    auto reader = node_->accounts().RunJob(&context, job);
    v1::JobProgress progress;
    while (reader->Read(&progress)) {
    }
    grpc::Status status = reader->Finish();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << Describe(status);
  }
  ExpectUnchanged(before);
  ASSERT_NO_FATAL_FAILURE(ExpectAlive());
}

// Found here and fixed (ledger/rules.cc SameRecord): the resend check compared unknown fields too,
// so an identical resend from a newer tax-bureau client ("ledger.v1 only ever gains fields") was
// DUPLICATE_RECEIPT_CONFLICT. It is DUPLICATE with the original sequence.
TEST_F(HostileInputTest, ResendWithUnknownFieldIsDuplicate) {
  v1::CollectionRecord r = Add("UNK0001", kIdC, 2025, 10000, "2025-02-01");
  r.GetReflection()->MutableUnknownFields(&r)->AddVarint(99, 1);
  v1::PushCollectionsResponse first;
  ASSERT_TRUE(Push({r}, &first).status.ok());
  ASSERT_EQ(first.outcomes_size(), 1);
  EXPECT_EQ(first.outcomes(0).outcome(), v1::OUTCOME_SUSPENSE);
  v1::PushCollectionsResponse again;
  ASSERT_TRUE(Push({r}, &again).status.ok());
  ASSERT_EQ(again.outcomes_size(), 1);
  EXPECT_EQ(again.outcomes(0).outcome(), v1::OUTCOME_DUPLICATE)
      << v1::Reason_Name(again.outcomes(0).reason()) << ": " << again.outcomes(0).detail();
  EXPECT_EQ(again.outcomes(0).sequence(), first.outcomes(0).sequence());
}

// The same for an enrolment and a policy document resent with a field this server does not know.
TEST_F(HostileInputTest, ResentEnrolmentAndPolicyWithUnknownFieldAreDuplicates) {
  v1::ParticipantEnrolled p = Participant("222401198001014568", "李梅");
  v1::EnrolResponse first;
  ASSERT_TRUE(Enrol(p, &first).status.ok());
  p.GetReflection()->MutableUnknownFields(&p)->AddVarint(99, 1);
  v1::EnrolResponse again;
  RpcResult r = Enrol(p, &again);
  EXPECT_TRUE(r.status.ok()) << Describe(r.status);
  EXPECT_TRUE(again.duplicate());
  EXPECT_EQ(again.sequence(), first.sequence());

  v1::Policy policy;
  {
    grpc::ClientContext context;
    v1::GetPolicyRequest request;
    request.set_region_code(kRegion);
    ASSERT_TRUE(node_->policies().GetPolicy(&context, request, &policy).ok());
  }
  policy.GetReflection()->MutableUnknownFields(&policy)->AddVarint(99, 1);
  grpc::ClientContext context;
  v1::AdoptPolicyRequest request;
  *request.mutable_policy() = policy;
  v1::AdoptPolicyResponse adopted;
  grpc::Status status = node_->policies().AdoptPolicy(&context, request, &adopted);
  EXPECT_TRUE(status.ok()) << Describe(status);
  EXPECT_TRUE(adopted.duplicate());
  EXPECT_EQ(adopted.sequence(), 1u);
}

// Found here and fixed (Ledger::Enrol, AdoptPolicy, Execute drop unknown fields first): events
// were built by copying the request whole, so a caller could write arbitrary bytes into the
// immutable, hash-chained log. Stored events hold only the fields this version knows.
TEST_F(HostileInputTest, UnknownFieldsAreNotStoredInTheLog) {
  v1::ParticipantEnrolled p = Participant("222401198001014568", "李梅");
  p.GetReflection()->MutableUnknownFields(&p)->AddLengthDelimited(99, std::string(64 * 1024, 'u'));
  v1::EnrolResponse enrolled;
  RpcResult r = Enrol(p, &enrolled);
  ASSERT_TRUE(r.status.ok()) << Describe(r.status);
  auto event = ledger().ReadEvent(enrolled.sequence());
  ASSERT_TRUE(event.ok()) << event.status();
  const v1::ParticipantEnrolled& stored = event->participant_enrolled();
  EXPECT_TRUE(stored.GetReflection()->GetUnknownFields(stored).empty())
      << "the log holds " << event->ByteSizeLong() << " bytes for one enrolment";
}

// What holds today for unknown fields: the record is validated on its known fields and committed
// once; a resend never books it twice.
TEST_F(HostileInputTest, UnknownFieldsNeverBookTwice) {
  const Snapshot before = Take();
  v1::CollectionRecord r = Add("UNK0002", kIdC, 2025, 10000, "2025-02-01");
  r.GetReflection()->MutableUnknownFields(&r)->AddLengthDelimited(1000, std::string(100, 'u'));
  v1::PushCollectionsResponse first;
  ASSERT_TRUE(Push({r}, &first).status.ok());
  ASSERT_EQ(first.outcomes_size(), 1);
  EXPECT_EQ(first.outcomes(0).outcome(), v1::OUTCOME_SUSPENSE);
  for (int i = 0; i < 3; ++i) {
    v1::PushCollectionsResponse again;
    ASSERT_TRUE(Push({r}, &again).status.ok());
    ASSERT_EQ(again.outcomes_size(), 1);
    EXPECT_NE(again.outcomes(0).outcome(), v1::OUTCOME_SUSPENSE);
    EXPECT_NE(again.outcomes(0).outcome(), v1::OUTCOME_ACCEPTED);
  }
  EXPECT_EQ(ledger().Head().sequence, before.head.sequence + 1);
  EXPECT_EQ(Sum(ledger().LedgerAccountBalances()), 0);
  // The same record without the unknown field is its exact resend.
  v1::CollectionRecord plain = r;
  plain.GetReflection()->MutableUnknownFields(&plain)->Clear();
  v1::PushCollectionsResponse again;
  ASSERT_TRUE(Push({plain}, &again).status.ok());
  EXPECT_EQ(again.outcomes(0).outcome(), v1::OUTCOME_DUPLICATE);
  EXPECT_EQ(again.outcomes(0).sequence(), first.outcomes(0).sequence());
}

// Found here and fixed (ledger/funds.cc, kLedgerBalanceFenMax): each fiscal transfer was capped
// but not their sum, so fund.special wrapped past INT64_MAX (or the writer's check aborted ledgerd
// on every resend). A fund command that would take any ledger account past kLedgerBalanceFenMax is
// OVER_CAP, changes nothing, and the server keeps serving. (10,000 commands to fill.)
TEST_F(HostileInputTest, FiscalFundsNeverOverflow) {
  const int64_t fill = ledger::kLedgerBalanceFenMax / ledger::kFiscalAmountFenMax;  // still fit
  std::atomic<int64_t> next{0};
  std::atomic<int> errors{0};
  auto worker = [&] {
    for (int64_t i; (i = next.fetch_add(1)) < fill;) {
      v1::AccountCommand command;
      v1::ReceiveFiscalFundsRequest* f = command.mutable_receive_fiscal_funds();
      f->set_region_code(kRegion);
      f->set_purpose(static_cast<v1::FiscalPurpose>(1 + i % 3));
      f->set_year(2009 + static_cast<int>(i / 3 % 18));
      f->set_amount_fen(ledger::kFiscalAmountFenMax);
      f->set_date("2025-06-01");
      f->set_document_ref(StrCat("CZ-FILL-", i));
      auto result = ledger().Execute(command, "test");
      if (!result.ok() || result->rejection) ++errors;
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < 64; ++t) threads.emplace_back(worker);
  for (std::thread& t : threads) t.join();
  ASSERT_EQ(errors.load(), 0);
  const Snapshot before = Take();
  ASSERT_EQ(before.balances.at("222401/fund.special"), fill * ledger::kFiscalAmountFenMax);

  v1::ReceiveFiscalFundsRequest one_more;
  one_more.set_region_code(kRegion);
  one_more.set_purpose(v1::FISCAL_PURPOSE_BASIC_PENSION);
  one_more.set_year(2025);
  one_more.set_amount_fen(ledger::kFiscalAmountFenMax);
  one_more.set_date("2025-06-01");
  one_more.set_document_ref("CZ-OVERFLOW");
  v1::CommandResponse response;
  RpcResult r = ReceiveFunds(one_more, &response);
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::FAILED_PRECONDITION)
      << "accepted: fund.special is now " << ledger().LedgerAccountBalances()["222401/fund.special"];
  EXPECT_THAT(r.status.error_message(), ::testing::HasSubstr("fund.special would pass"));
  EXPECT_EQ(ledger().Head().sequence, before.head.sequence);
  for (const auto& [account, fen] : ledger().LedgerAccountBalances()) {
    if (account.ends_with("/fund.special")) {
      EXPECT_GE(fen, 0) << account << " wrapped around";
    }
  }
  ASSERT_NO_FATAL_FAILURE(ExpectAlive());
}

// --- streams that are empty, abandoned, or too many -------------------------------------------

TEST_F(HostileInputTest, EmptyStreamsAreOkAndWriteNothing) {
  const Snapshot before = Take();
  v1::PushCollectionsResponse response;
  RpcResult r = Stream({}, &response);
  ASSERT_TRUE(r.status.ok()) << Describe(r.status);
  EXPECT_EQ(response.outcomes_size(), 0);
  r = Stream({{}, {}, {}}, &response);
  ASSERT_TRUE(r.status.ok()) << Describe(r.status);
  EXPECT_EQ(response.outcomes_size(), 0);
  // Raw: no messages at all, and a stream of zero-length messages.
  r = RawStream({}, &response);
  ASSERT_TRUE(r.status.ok()) << Describe(r.status);
  EXPECT_EQ(response.outcomes_size(), 0);
  r = RawStream({"", "", ""}, &response);
  ASSERT_TRUE(r.status.ok()) << Describe(r.status);
  EXPECT_EQ(response.outcomes_size(), 0);
  // A stream opened and cancelled before sending anything.
  {
    grpc::ClientContext context;
    v1::PushCollectionsResponse ignored;
    auto writer = node_->collections().StreamCollections(&context, &ignored);
    context.TryCancel();
    EXPECT_EQ(writer->Finish().error_code(), grpc::StatusCode::CANCELLED);
  }
  ExpectUnchanged(before);
  ASSERT_NO_FATAL_FAILURE(ExpectAlive());
}

// A client that goes away mid-stream (cancel, or its deadline): whatever the server committed
// stays committed, in whole messages, as a prefix of what was sent; nothing else is applied; a
// resend of everything returns DUPLICATE with the original sequences for the committed part and
// books the rest once.
TEST_F(HostileInputTest, AbandonedStreamsApplyWholeMessagesOnly) {
  constexpr int kMessages = 8;
  constexpr int kPerMessage = 250;
  std::mt19937 rng(20250630);
  int next_id = 0;
  for (int round = 0; round < 6; ++round) {
    SCOPED_TRACE(StrCat("round ", round));
    const Snapshot before = Take();
    std::vector<std::vector<v1::CollectionRecord>> messages;
    std::map<std::string, int> message_of;
    for (int m = 0; m < kMessages; ++m) {
      messages.push_back(SuspenseRecords(StrCat("AB", round, "-"), next_id, kPerMessage));
      for (const auto& rec : messages.back()) message_of[rec.receipt_number()] = m;
      next_id += kPerMessage;
    }
    const int written = 1 + static_cast<int>(rng() % (kMessages - 1));
    const bool by_deadline = round % 3 == 2;
    const int streams_ended = call_lines_->Count(kStreamMethod);
    grpc::Status status;
    {
      grpc::ClientContext context;
      if (by_deadline) {
        context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(300));
      }
      v1::PushCollectionsResponse response;
      auto writer = node_->collections().StreamCollections(&context, &response);
      for (int m = 0; m < written; ++m) {
        v1::PushCollectionsRequest message;
        for (const auto& rec : messages[m]) *message.add_records() = rec;
        if (!writer->Write(message)) break;
      }
      if (by_deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(400));  // never half-closes
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 30));
        context.TryCancel();
      }
      status = writer->Finish();
      EXPECT_EQ(status.error_code(),
                by_deadline ? grpc::StatusCode::DEADLINE_EXCEEDED : grpc::StatusCode::CANCELLED)
          << Describe(status);
      EXPECT_EQ(response.outcomes_size(), 0);
    }
    // The handler finishes what it handed the writer after its caller has gone.
    ASSERT_TRUE(call_lines_->WaitFor(kStreamMethod, streams_ended + 1));

    // What was committed: whole messages, a prefix of those written, in order.
    const uint64_t head = ledger().Head().sequence;
    const uint64_t added = head - before.head.sequence;
    ASSERT_EQ(added % kPerMessage, 0u) << "a message was partly applied: " << added << " events";
    const int committed_messages = static_cast<int>(added / kPerMessage);
    EXPECT_LE(committed_messages, written);
    std::printf("round %d: %s after %d of %d messages written: %d committed\n", round,
                by_deadline ? "deadline" : "cancelled", written, kMessages, committed_messages);
    std::map<std::string, uint64_t> committed;
    for (uint64_t s = before.head.sequence + 1; s <= head; ++s) {
      auto e = ledger().ReadEvent(s);
      ASSERT_TRUE(e.ok()) << e.status();
      ASSERT_TRUE(e->has_contribution_collected()) << "unexpected event at " << s;
      const std::string& receipt = e->contribution_collected().receipt_number();
      ASSERT_TRUE(message_of.contains(receipt)) << "a receipt nobody sent: " << receipt;
      const int m = message_of[receipt];
      EXPECT_EQ(static_cast<uint64_t>(m), (s - before.head.sequence - 1) / kPerMessage);
      EXPECT_TRUE(committed.emplace(receipt, s).second) << "booked twice: " << receipt;
    }
    auto balances = ledger().LedgerAccountBalances();
    EXPECT_EQ(balances["222401/suspense"],
              before.balances.at("222401/suspense") - static_cast<int64_t>(added) * 10000);
    EXPECT_EQ(Sum(balances), 0);
    EXPECT_TRUE(ledger().VerifyChain().ok());

    // Resend everything: the committed part is DUPLICATE with its sequence, the rest new.
    v1::PushCollectionsResponse resent;
    RpcResult r = Stream(messages, &resent);
    ASSERT_TRUE(r.status.ok()) << Describe(r.status);
    ASSERT_EQ(resent.outcomes_size(), kMessages * kPerMessage);
    for (int m = 0, i = 0; m < kMessages; ++m) {
      for (const auto& rec : messages[m]) {
        const v1::RecordOutcome& o = resent.outcomes(i++);
        auto it = committed.find(rec.receipt_number());
        if (it != committed.end()) {
          ASSERT_EQ(o.outcome(), v1::OUTCOME_DUPLICATE) << rec.receipt_number();
          ASSERT_EQ(o.sequence(), it->second);
        } else {
          ASSERT_EQ(o.outcome(), v1::OUTCOME_SUSPENSE) << rec.receipt_number();
        }
      }
    }
    EXPECT_EQ(ledger().Head().sequence, before.head.sequence + kMessages * kPerMessage);
    EXPECT_EQ(Sum(ledger().LedgerAccountBalances()), 0);
  }
  ASSERT_NO_FATAL_FAILURE(ExpectAlive());
}

// More collection streams at once than the server allows (kConcurrentStreamsMax), held open
// without a single record: exactly the excess is refused with RESOURCE_EXHAUSTED
// (concurrent_streams_max), one more stream is refused while they are held, and the slots come
// back when the streams finish or are cancelled, so abandoned streams do not lock the tax bureau
// out.
TEST_F(HostileInputTest, StreamSlotsAreLimitedAndReleased) {
  const Snapshot before = Take();
  constexpr int kExcess = 8;
  constexpr int kStreams = ledger::kConcurrentStreamsMax + kExcess;
  enum Op { kStart, kFinish, kWritesDone };
  auto tag = [](int i, Op op) {
    return reinterpret_cast<void*>(static_cast<intptr_t>(i * 4 + op + 1));
  };
  for (bool cancel : {false, true}) {
    SCOPED_TRACE(cancel ? "released by cancelling" : "released by finishing");
    struct Held {
      grpc::ClientContext context;
      v1::PushCollectionsResponse response;
      std::unique_ptr<grpc::ClientAsyncWriter<v1::PushCollectionsRequest>> writer;
      grpc::Status status;
      bool finished = false;
    };
    grpc::CompletionQueue cq;
    std::vector<std::unique_ptr<Held>> held;
    for (int i = 0; i < kStreams; ++i) {
      auto h = std::make_unique<Held>();
      h->context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
      h->writer =
          node_->collections().AsyncStreamCollections(&h->context, &h->response, &cq, tag(i, kStart));
      h->writer->Finish(&h->status, tag(i, kFinish));
      held.push_back(std::move(h));
    }
    // Handles completions until `done()` or 20 s; refused streams finish on their own.
    int finished = 0;
    auto pump = [&](const std::function<bool()>& done) {
      const auto give_up = std::chrono::system_clock::now() + std::chrono::seconds(20);
      while (!done()) {
        void* t = nullptr;
        bool ok = false;
        if (cq.AsyncNext(&t, &ok, give_up) != grpc::CompletionQueue::GOT_EVENT) return;
        const auto n = reinterpret_cast<intptr_t>(t) - 1;
        if (n % 4 == kFinish) {
          held[n / 4]->finished = true;
          ++finished;
        }
      }
    };
    pump([&] { return finished >= kExcess; });
    ASSERT_EQ(finished, kExcess) << "the excess streams were not refused";
    for (const auto& h : held) {
      if (!h->finished) continue;
      EXPECT_EQ(h->status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
          << Describe(h->status);
      EXPECT_EQ(ReasonOf(h->context), "concurrent_streams_max");
    }
    // Full: one more is refused.
    v1::PushCollectionsResponse response;
    RpcResult refused = Stream({}, &response);
    EXPECT_EQ(refused.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
        << Describe(refused.status);
    EXPECT_EQ(refused.reason, "concurrent_streams_max");

    // Release the held ones.
    for (int i = 0; i < kStreams; ++i) {
      if (held[i]->finished) continue;
      if (cancel) {
        held[i]->context.TryCancel();
      } else {
        held[i]->writer->WritesDone(tag(i, kWritesDone));
      }
    }
    pump([&] { return finished == kStreams; });
    ASSERT_EQ(finished, kStreams);
    int released = 0;
    for (const auto& h : held) {
      if (h->status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) continue;
      ++released;
      EXPECT_EQ(h->status.error_code(), cancel ? grpc::StatusCode::CANCELLED : grpc::StatusCode::OK)
          << Describe(h->status);
    }
    EXPECT_EQ(released, ledger::kConcurrentStreamsMax);
    cq.Shutdown();
    void* ignored_tag = nullptr;
    bool ignored_ok = false;
    while (cq.Next(&ignored_tag, &ignored_ok)) {
    }

    // A finished stream's slot is free before its caller hears the answer; a cancelled one's
    // once its handler returns.
    RpcResult again;
    for (int attempt = 0; attempt < 250; ++attempt) {
      again = Stream({}, &response);
      if (again.status.ok() || !cancel) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    EXPECT_TRUE(again.status.ok()) << "stream slots leaked: " << Describe(again.status);
  }
  ExpectUnchanged(before);
  ASSERT_NO_FATAL_FAILURE(ExpectAlive());
}

// Audit reads with ranges and filters no honest auditor sends.
TEST_F(HostileInputTest, HostileAuditRangesAreRefusedCleanly) {
  const Snapshot before = Take();
  const uint64_t head = before.head.sequence;
  const uint64_t u64max = std::numeric_limits<uint64_t>::max();
  for (const auto& [from, to] : std::vector<std::pair<uint64_t, uint64_t>>{
           {head + 1, 0}, {u64max, 0}, {1, u64max}, {1, head + 1}, {u64max, u64max}}) {
    SCOPED_TRACE(StrCat(from, "..", to));
    {
      grpc::ClientContext context;
      v1::VerifyChainRequest request;
      request.set_from_sequence(from);
      request.set_to_sequence(to);
      v1::VerifyChainResponse response;
      grpc::Status status = node_->audit().VerifyChain(&context, request, &response);
      EXPECT_EQ(status.error_code(), grpc::StatusCode::OUT_OF_RANGE) << Describe(status);
    }
    {
      grpc::ClientContext context;
      v1::StreamEventsRequest request;
      request.set_from_sequence(from);
      request.set_to_sequence(to);
      auto reader = node_->audit().StreamEvents(&context, request);
      v1::AuditEvent event;
      int n = 0;
      while (reader->Read(&event)) ++n;
      grpc::Status status = reader->Finish();
      EXPECT_EQ(status.error_code(), grpc::StatusCode::OUT_OF_RANGE) << Describe(status);
      EXPECT_EQ(n, 0);
    }
  }
  {
    grpc::ClientContext context;
    v1::BalanceAsOfRequest request;
    request.set_ledger_account("222401/suspense");
    request.set_as_of_sequence(u64max);
    v1::BalanceAsOfResponse response;
    EXPECT_EQ(node_->audit().BalanceAsOf(&context, request, &response).error_code(),
              grpc::StatusCode::OUT_OF_RANGE);
  }
  {
    grpc::ClientContext context;
    v1::BalanceAsOfRequest request;
    request.set_ledger_account(std::string(100000, '/'));
    request.set_as_of_date("9999-99-99");
    v1::BalanceAsOfResponse response;
    EXPECT_EQ(node_->audit().BalanceAsOf(&context, request, &response).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }
  {
    grpc::ClientContext context;
    v1::GetAccountRequest request;
    request.set_citizen_id(std::string(1 << 20, '1'));
    v1::Account account;
    grpc::Status status = node_->accounts().GetAccount(&context, request, &account);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_LT(status.error_message().size(), 512u) << "the error echoes hostile input back";
  }
  ExpectUnchanged(before);
  ASSERT_NO_FATAL_FAILURE(ExpectAlive());
}

}  // namespace
