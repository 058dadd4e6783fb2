// Two nodes on one replicated log (log.backend = postgres under Patroni, with the test in
// Patroni's place) through the gRPC seam: the node that is not primary refuses a write with
// UNAVAILABLE, reason `not_leader` and the leader's address in `ledger-leader`, so a client
// knows where to resend; and a read may name the sequence it must see (`ledger-min-sequence`),
// which a follower answers once it has applied it, or refuses with reason `behind`.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "ledger/strings.h"
#include "ledger/v1/services.grpc.pb.h"
#include "tests/support/grpc_node.h"

namespace {

namespace v1 = ledger::v1;
using namespace ledger::testing;  // NOLINT: the shared fixtures of the gRPC tests
using ::ledger::StrCat;

class ReplicationGrpcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    const std::string base = StrCat(::testing::TempDir(), "replication_grpc_", info->name(), "_",
                                    static_cast<int64_t>(getpid()));
    const std::string ledger_id = StrCat(base, "#log");
    leader_ = std::make_unique<Node>(base + "_a");
    leader_->options().postgres = true;
    leader_->options().postgres_ledger_id = ledger_id;
    leader_->options().postgres_is_primary = [] { return true; };
    ASSERT_NO_FATAL_FAILURE(leader_->Start());
    follower_ = std::make_unique<Node>(base + "_b");
    follower_->options().postgres = true;
    follower_->options().postgres_ledger_id = ledger_id;
    follower_->options().postgres_is_primary = [] { return false; };
    follower_->options().leader_hint = [this] { return StrCat("127.0.0.1:", leader_->port()); };
    ASSERT_NO_FATAL_FAILURE(follower_->Start());
    ASSERT_NO_FATAL_FAILURE(leader_->Adopt(PaperPolicy()));
    ASSERT_NO_FATAL_FAILURE(leader_->Enrol(id_, "2026-01-05"));
  }

  std::vector<v1::CollectionRecord> Records(const std::string& receipt) {
    return {AddRecord(receipt, id_, 2026, 10'000, "2026-03-01")};
  }

  std::unique_ptr<Node> leader_, follower_;
  const std::string id_ = CitizenId("19700101", 7);
};

TEST_F(ReplicationGrpcTest, TheFollowerRefusesWritesNamingTheLeader) {
  grpc::ClientContext context;
  v1::PushCollectionsResponse response;
  const Rpc refused = PushRecords(follower_->collections(), context, Records("R1"), &response);
  EXPECT_EQ(refused.status.error_code(), grpc::StatusCode::UNAVAILABLE) << Describe(refused);
  EXPECT_EQ(refused.reason, "not_leader");
  EXPECT_EQ(TrailerOf(context, "ledger-leader"), StrCat("127.0.0.1:", leader_->port()));

  // Resent where the answer says: taken once.
  grpc::ClientContext again;
  const Rpc taken = PushRecords(leader_->collections(), again, Records("R1"), &response);
  ASSERT_TRUE(taken.ok()) << Describe(taken);
  EXPECT_EQ(response.outcomes(0).outcome(), v1::OUTCOME_ACCEPTED);
}

TEST_F(ReplicationGrpcTest, AReadWaitsForTheSequenceItNames) {
  grpc::ClientContext push;
  v1::PushCollectionsResponse pushed;
  ASSERT_TRUE(PushRecords(leader_->collections(), push, Records("R1"), &pushed).ok());
  const uint64_t written = pushed.outcomes(0).sequence();

  grpc::ClientContext read;
  read.AddMetadata("ledger-min-sequence", std::to_string(written));
  read.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  v1::GetAccountRequest request;
  request.set_citizen_id(id_);
  v1::Account account;
  const grpc::Status st = follower_->accounts().GetAccount(&read, request, &account);
  ASSERT_TRUE(st.ok()) << Describe(st);
  EXPECT_EQ(account.contribution_years(), 1u);  // the write is there
  EXPECT_GE(follower_->Head().sequence, written);

  grpc::ClientContext ahead;
  ahead.AddMetadata("ledger-min-sequence", std::to_string(written + 1'000));
  ahead.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(1));
  const grpc::Status behind = follower_->accounts().GetAccount(&ahead, request, &account);
  EXPECT_EQ(behind.error_code(), grpc::StatusCode::UNAVAILABLE) << Describe(behind);
  EXPECT_EQ(ReasonOf(ahead), "behind");

  grpc::ClientContext malformed;
  malformed.AddMetadata("ledger-min-sequence", "soon");
  EXPECT_EQ(follower_->accounts().GetAccount(&malformed, request, &account).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

}  // namespace
