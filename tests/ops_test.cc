// Operations through the real server: gRPC health checking, server reflection, and an online
// backup taken while writes continue, restored and verified.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <future>
#include <optional>
#include <sstream>
#include <thread>

#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "ledger/citizen_id.h"
#include "ledger/ledger.h"
#include "ledger/policy.h"
#include "ledger/store.h"
#include "ledger/strings.h"
#include "ledger/v1/services.grpc.pb.h"
#include "services/services.h"
#include "tests/support/fixtures.h"

namespace {

namespace v1 = ledger::v1;
using ledger::StrCat;
using namespace ::ledger::testing;  // NOLINT: the shared test fixtures
using ::testing::HasSubstr;

std::string Bytes(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  EXPECT_TRUE(buffer.Dump(&slices).ok());
  std::string out;
  for (const auto& s : slices) out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return out;
}

grpc::ByteBuffer Buffer(const std::string& bytes) {
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

// grpc.health.v1.Health/Check for the whole server: 1 SERVING, 2 NOT_SERVING.
int HealthStatus(const std::shared_ptr<grpc::Channel>& channel) {
  grpc::ClientContext context;
  int status = -1;
  const grpc::Status st = services::CheckHealth(channel, context, status);
  EXPECT_TRUE(st.ok()) << st.error_message();
  return status;
}

class OpsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = StrCat(::testing::TempDir(), "ledger_ops_",
                  ::testing::UnitTest::GetInstance()->current_test_info()->name(), "_",
                  static_cast<int64_t>(getpid()));
    std::filesystem::remove_all(dir_);
    auto ledger = ledger::Ledger::Open({.data_dir = dir_ + "/data"});
    ASSERT_TRUE(ledger.ok()) << ledger.status();
    ledger_ = std::move(*ledger);
    auto running = services::StartServer(
        *ledger_, {.listen_address = "127.0.0.1:0", .insecure_plaintext = true});
    ASSERT_TRUE(running.ok()) << running.status();
    server_ = std::move(*running);
    channel_ = grpc::CreateChannel(StrCat("127.0.0.1:", server_.port),
                                   grpc::InsecureChannelCredentials());
    auto policy = LoadDemoPolicy2025();
    ASSERT_TRUE(policy.ok()) << policy.status();
    auto adopted = ledger_->AdoptPolicy(*policy, "test");
    ASSERT_TRUE(adopted.ok() && !adopted->rejection);
  }

  void TearDown() override {
    if (server_.server) server_.server->Shutdown();
    server_ = services::RunningServer();
    ledger_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::string dir_;
  std::unique_ptr<ledger::Ledger> ledger_;
  services::RunningServer server_;
  std::shared_ptr<grpc::Channel> channel_;
};

TEST_F(OpsTest, HealthIsServingOnceStartedAndNotServingWhenStopping) {
  EXPECT_EQ(HealthStatus(channel_), 1);
  // What ledgerd does on the first SIGTERM, before it stops accepting calls.
  server_.health->SetServing(false);
  EXPECT_EQ(HealthStatus(channel_), 2);
}

TEST(StartingServerTest, NotServingAndUnavailableUntilTheLedgerIsOpen) {
  auto running = services::StartServerStarting(
      {.listen_address = "127.0.0.1:0", .insecure_plaintext = true});
  ASSERT_TRUE(running.ok()) << running.status();
  auto channel = grpc::CreateChannel(StrCat("127.0.0.1:", running->port),
                                     grpc::InsecureChannelCredentials());
  auto get_policy = [&] {
    grpc::ClientContext context;
    v1::GetPolicyRequest request;
    request.set_region_code("222401");
    v1::Policy policy;
    return v1::PolicyService::NewStub(channel)->GetPolicy(&context, request, &policy);
  };
  EXPECT_EQ(HealthStatus(channel), 2) << "NOT_SERVING while starting";
  EXPECT_EQ(get_policy().error_code(), grpc::StatusCode::UNAVAILABLE);

  const std::string dir = StrCat(::testing::TempDir(), "ledger_starting_",
                                 static_cast<int64_t>(getpid()));
  std::filesystem::remove_all(dir);
  {
    auto ledger = ledger::Ledger::Open({.data_dir = dir});
    ASSERT_TRUE(ledger.ok()) << ledger.status();
    running->Serve(**ledger);
    EXPECT_EQ(HealthStatus(channel), 1) << "SERVING once open";
    EXPECT_EQ(get_policy().error_code(), grpc::StatusCode::NOT_FOUND) << "served by the ledger";
    running->StopHealthWatch();  // the ledger goes before the server here
    running->server->Shutdown();
  }
  std::filesystem::remove_all(dir);
}

TEST_F(OpsTest, ReflectionListsTheLedgerServices) {
  // grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo with one request,
  // list_services = "" (field 7, length 0).
  grpc::GenericStub stub(channel_);
  grpc::ClientContext context;
  grpc::CompletionQueue cq;
  auto call = stub.PrepareCall(&context, "/grpc.reflection.v1alpha.ServerReflection/"
                                         "ServerReflectionInfo", &cq);
  void* tag = nullptr;
  bool ok = false;
  auto step = [&](int expected) {
    ASSERT_TRUE(cq.Next(&tag, &ok));
    ASSERT_EQ(tag, reinterpret_cast<void*>(expected));
  };
  call->StartCall(reinterpret_cast<void*>(1));
  step(1);
  call->Write(Buffer(std::string("\x3a\x00", 2)), reinterpret_cast<void*>(2));
  step(2);
  call->WritesDone(reinterpret_cast<void*>(3));
  step(3);
  grpc::ByteBuffer response;
  call->Read(&response, reinterpret_cast<void*>(4));
  step(4);
  ASSERT_TRUE(ok);
  grpc::Status status;
  call->Finish(&status, reinterpret_cast<void*>(5));
  step(5);
  EXPECT_TRUE(status.ok()) << status.error_message();
  const std::string listed = Bytes(response);
  for (const char* service : {"ledger.v1.CollectionService", "ledger.v1.AccountService",
                              "ledger.v1.PolicyService", "ledger.v1.AdminService",
                              "grpc.health.v1.Health"}) {
    EXPECT_THAT(listed, HasSubstr(service));
  }
}

TEST_F(OpsTest, BackupDuringWritesRestoresToTheHeadItReports) {
  // A writer keeps pushing (suspense bookings for unenrolled payers) throughout the backup.
  std::atomic<bool> stop{false};
  std::atomic<int> batches{0};
  std::thread writer([&] {
    auto stub = v1::CollectionService::NewStub(channel_);
    for (int b = 0; !stop.load(); ++b) {
      v1::PushCollectionsRequest request;
      for (int i = 0; i < 200; ++i) {
        const int n = b * 200 + i;
        auto* r = request.add_records();
        r->set_record_type(v1::RECORD_TYPE_ADD);
        r->set_receipt_number(StrCat("BK", n));
        r->set_citizen_id(CitizenId(StrCat(1960 + n % 40, "0101"), 100 + n % 900));
        r->set_region_code("222401");
        r->set_contribution_year(2025);
        r->set_amount_fen(20000);
        r->set_collection_date("2025-03-14");
      }
      grpc::ClientContext context;
      v1::PushCollectionsResponse response;
      ASSERT_TRUE(stub->PushCollections(&context, request, &response).ok());
      ASSERT_EQ(response.suspense_count(), 200u);
      ++batches;
    }
  });
  while (batches.load() < 5) std::this_thread::sleep_for(std::chrono::milliseconds(5));

  const std::string backup = dir_ + "/backup";
  grpc::ClientContext context;
  v1::BackupRequest request;
  request.set_directory(backup);
  v1::BackupResponse response;
  const grpc::Status status =
      v1::AdminService::NewStub(channel_)->Backup(&context, request, &response);
  const int batches_at_backup = batches.load();
  while (batches.load() < batches_at_backup + 5) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  stop = true;
  writer.join();
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_GT(response.sequence(), 1u);
  EXPECT_GT(ledger_->Head().sequence, response.sequence()) << "writes went on after the backup";
  // The backup's head is the live ledger's event at that sequence.
  EXPECT_EQ(ledger_->ReadEvent(response.sequence())->hash(), response.chain_head());

  // A second backup into the same directory is refused, and so is a relative path.
  for (const std::string& bad : {backup, std::string("relative/dir")}) {
    grpc::ClientContext again;
    v1::BackupRequest r;
    r.set_directory(bad);
    v1::BackupResponse ignored;
    EXPECT_EQ(v1::AdminService::NewStub(channel_)->Backup(&again, r, &ignored).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }

  // Restore = open a copy. It holds exactly the reported head, the chain verifies, and its
  // projections are exactly what replaying its own log produces.
  const std::string restored = dir_ + "/restored", replayed = dir_ + "/replayed";
  std::filesystem::copy(backup, restored, std::filesystem::copy_options::recursive);
  std::filesystem::copy(backup, replayed, std::filesystem::copy_options::recursive);
  auto scan = [](const std::string& dir) {
    auto store = ledger::Store::Open(dir);
    EXPECT_TRUE(store.ok());
    std::vector<std::vector<std::pair<std::string, std::string>>> all;
    for (ledger::Cf cf : {ledger::Cf::kIdempotency, ledger::Cf::kAccounts,
                          ledger::Cf::kLedgerAccounts, ledger::Cf::kPolicies, ledger::Cf::kMeta}) {
      all.push_back(*(*store)->Scan(cf));
    }
    return all;
  };
  {
    auto opened = ledger::Ledger::Open({.data_dir = restored, .verify_chain_on_open = true});
    ASSERT_TRUE(opened.ok()) << opened.status();
    EXPECT_EQ((*opened)->Head().sequence, response.sequence());
    EXPECT_EQ((*opened)->Head().hash, response.chain_head());
    EXPECT_TRUE((*opened)->VerifyChain().ok());
    int64_t suspense = 0;
    for (const auto& [account, balance] : (*opened)->LedgerAccountBalances()) {
      if (account == "222401/suspense") suspense = balance;
    }
    // Every event after the policy is one 200-yuan suspense booking.
    EXPECT_EQ(suspense, -static_cast<int64_t>(response.sequence() - 1) * 20000);
  }
  ASSERT_TRUE(ledger::Ledger::RebuildProjections(replayed).ok());
  EXPECT_EQ(scan(restored), scan(replayed));
}

// GET http://127.0.0.1:<port><path> over a plain socket; the whole response, headers included.
std::string HttpGet(int port, const std::string& path) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    close(fd);
    return "";
  }
  const std::string request = StrCat("GET ", path, " HTTP/1.0\r\nHost: localhost\r\n\r\n");
  EXPECT_EQ(send(fd, request.data(), request.size(), 0), static_cast<ssize_t>(request.size()));
  std::string response;
  char buffer[4096];
  for (ssize_t n; (n = recv(fd, buffer, sizeof buffer, 0)) > 0;) response.append(buffer, n);
  close(fd);
  return response;
}

// The value of the sample line that starts with `series` (name plus labels) in a scrape.
std::optional<double> Sample(const std::string& scrape, const std::string& series) {
  std::istringstream lines(scrape);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return std::nullopt;
}

TEST(MetricsTest, ScrapeShowsCallsCommitsEventsAndTheHead) {
  const std::string dir = StrCat(::testing::TempDir(), "ledger_metrics_",
                                 static_cast<int64_t>(getpid()));
  std::filesystem::remove_all(dir);
  auto metrics = services::Metrics::Start("127.0.0.1:0");
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  services::Metrics* m = metrics->get();
  auto ledger = ledger::Ledger::Open(
      {.data_dir = dir, .on_commit = [m](const ledger::CommitInfo& c) { m->ObserveCommit(c); }});
  ASSERT_TRUE(ledger.ok()) << ledger.status();
  m->Watch(ledger->get());
  auto server = services::StartServer(**ledger, {.listen_address = "127.0.0.1:0",
                                                 .insecure_plaintext = true, .metrics = m});
  ASSERT_TRUE(server.ok()) << server.status();
  auto channel = grpc::CreateChannel(StrCat("127.0.0.1:", server->port),
                                     grpc::InsecureChannelCredentials());
  {
    grpc::ClientContext context;
    v1::AdoptPolicyRequest request;
    *request.mutable_policy() = *LoadDemoPolicy2025();
    v1::AdoptPolicyResponse response;
    ASSERT_TRUE(v1::PolicyService::NewStub(channel)->AdoptPolicy(&context, request, &response).ok());
  }
  for (int i = 0; i < 2; ++i) {  // one found, one NOT_FOUND
    grpc::ClientContext context;
    v1::GetPolicyRequest request;
    request.set_region_code(i == 0 ? "222401" : "999999");
    v1::Policy policy;
    (void)v1::PolicyService::NewStub(channel)->GetPolicy(&context, request, &policy);
  }

  const std::string scrape = HttpGet(m->port(), "/metrics");
  ASSERT_THAT(scrape, HasSubstr("200 OK"));
  EXPECT_EQ(Sample(scrape, "ledger_last_sequence"), 1.0);
  EXPECT_EQ(Sample(scrape, "ledger_events_total{type=\"policy_adopted\"}"), 1.0);
  EXPECT_EQ(Sample(scrape, "ledger_commit_events_count"), 1.0);
  EXPECT_EQ(Sample(scrape, "ledger_commit_fsync_seconds_count"), 1.0);
  EXPECT_EQ(Sample(scrape, "ledger_rpc_requests_total{code=\"0\",method=\"/ledger.v1.PolicyService/"
                           "GetPolicy\"}"),
            1.0);
  EXPECT_EQ(Sample(scrape, "ledger_rpc_requests_total{code=\"5\",method=\"/ledger.v1.PolicyService/"
                           "GetPolicy\"}"),
            1.0);
  EXPECT_EQ(Sample(scrape, "ledger_rpc_duration_seconds_count{method=\"/ledger.v1.PolicyService/"
                           "GetPolicy\"}"),
            2.0);
  EXPECT_TRUE(Sample(scrape, "ledger_rocksdb_memtable_bytes").has_value());
  EXPECT_TRUE(Sample(scrape, "ledger_rocksdb_pending_compaction_bytes").has_value());

  server->server->Shutdown();
  m->Watch(nullptr);
  ledger->reset();
  std::filesystem::remove_all(dir);
}

}  // namespace
