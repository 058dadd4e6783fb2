// The in-process server harness of the gRPC tests: one ledger on a temporary RocksDB directory,
// served in plain text on a free loopback port with a fixed clock, with stubs for every service
// and helpers for the commands and reads the tests make.
// With LEDGER_TEST_LOG_BACKEND=postgres in the environment every node keeps its log in
// PostgreSQL (log.backend = postgres): one private server per process (tests/support/pg_server.h,
// started by the first node), one ledger id per node and fresh start.
#ifndef TESTS_SUPPORT_GRPC_NODE_H_
#define TESTS_SUPPORT_GRPC_NODE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "grpcpp/grpcpp.h"
#include "ledger/ledger.h"
#include "ledger/v1/services.grpc.pb.h"
#include "services/services.h"
#include "tests/support/accounts.h"
#include "tests/support/fixtures.h"
#include "tests/support/rpc.h"
#include "tests/support/test_dir.h"

namespace ledger::testing {

// One PushCollections / StreamCollections call of `records` (`messages`: one stream message each)
// on `context`, which may carry a deadline.
Rpc PushRecords(v1::CollectionService::Stub& stub, grpc::ClientContext& context,
                const std::vector<v1::CollectionRecord>& records,
                v1::PushCollectionsResponse* response);
Rpc StreamRecords(v1::CollectionService::Stub& stub, grpc::ClientContext& context,
                  const std::vector<std::vector<v1::CollectionRecord>>& messages,
                  v1::PushCollectionsResponse* response);

// How a Node opens its ledger and connects. May be changed between Stop() and Start().
struct NodeOptions {
  std::function<int64_t()> clock_us = Now2026Us;
  bool verify_chain_on_open = true;
  std::string checkpoint_key_pem;  // empty: no checkpoints
  uint64_t checkpoint_interval_events = 10'000;
  std::string replay_scratch_dir;  // for AuditService.ReplayCompare; removed with the node
  int max_receive_message_bytes = 0;  // the client channel's limit; 0: gRPC's default (4 MiB)
  // The log in the process's PostgreSQL whatever LEDGER_TEST_LOG_BACKEND says, as ledger
  // `postgres_ledger_id` (empty: one of the node's own), on a node under Patroni when
  // `postgres_is_primary` is set (ledger::Options), answering refused writes with `leader_hint`.
  bool postgres = false;
  std::string postgres_ledger_id;
  std::function<bool()> postgres_is_primary;
  std::function<std::string()> leader_hint;
};

// One ledger in its own temporary directory, served on a free loopback port, with stubs. The
// directory is removed when the node is destroyed. Helpers that "must" succeed record a test
// failure (EXPECT/ASSERT) when they do not.
class Node {
 public:
  explicit Node(std::string dir, NodeOptions options = {});
  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // Opens the ledger (from scratch unless `reopen`: then from what the directory holds,
  // verifying the chain as the options say) and serves it. Use under ASSERT_NO_FATAL_FAILURE.
  void Start(bool reopen = false);
  // Stops serving and closes the ledger; the directory stays.
  void Stop();
  // Stop, then Start(/*reopen=*/true).
  void Restart();

  NodeOptions& options() { return options_; }
  const std::string& dir() const { return dir_; }
  int port() const { return server_->port; }
  services::RunningServer& server() { return *server_; }
  ledger::ChainHead Head() const { return ledger_->Head(); }
  ledger::Ledger& ledger() { return *ledger_; }
  const std::shared_ptr<grpc::Channel>& channel() { return channel_; }
  v1::CollectionService::Stub& collections() { return *collections_; }
  v1::AccountService::Stub& accounts() { return *accounts_; }
  v1::PolicyService::Stub& policies() { return *policies_; }
  v1::FundService::Stub& funds() { return *funds_; }
  v1::AuditService::Stub& audit() { return *audit_; }

  // Adopts `policy`, which must be accepted.
  void Adopt(const v1::Policy& policy);
  Rpc AdoptPolicy(const v1::Policy& policy, v1::AdoptPolicyResponse* response);

  // Enrols a new participant named 孙, which must be accepted.
  void Enrol(const std::string& id, const std::string& date, const std::string& region = kRegion);
  Rpc Enrol(const v1::ParticipantEnrolled& participant, v1::EnrolResponse* response);

  // PushCollections, which must be served.
  v1::PushCollectionsResponse Push(const std::vector<v1::CollectionRecord>& records);
  Rpc Push(const std::vector<v1::CollectionRecord>& records, v1::PushCollectionsResponse* out);
  // Pushes records that must all be accepted; returns their sequences.
  std::vector<uint64_t> PushAccepted(const std::vector<v1::CollectionRecord>& records);
  // Sends `messages` over one StreamCollections stream.
  Rpc Stream(const std::vector<std::vector<v1::CollectionRecord>>& messages,
             v1::PushCollectionsResponse* response);

  // Any AccountService command with a CommandResponse.
  template <typename Request>
  Rpc Call(grpc::Status (v1::AccountService::Stub::*method)(grpc::ClientContext*, const Request&,
                                                            v1::CommandResponse*),
           const Request& request, v1::CommandResponse* response) {
    grpc::ClientContext context;
    grpc::Status status = (accounts_.get()->*method)(&context, request, response);
    return {status, ReasonOf(context)};
  }

  Rpc Collective(const v1::CreditCollectiveSubsidyRequest& r, v1::CommandResponse* out);
  Rpc Refund(const v1::RefundContributionRequest& r, v1::CommandResponse* out);
  Rpc Determine(const v1::DetermineBenefitRequest& r, v1::CommandResponse* out);
  Rpc Suspend(const v1::SuspendBenefitRequest& r, v1::CommandResponse* out);
  Rpc Resume(const v1::ResumeBenefitRequest& r, v1::CommandResponse* out);
  Rpc Death(const v1::RecordDeathRequest& r, v1::CommandResponse* out);
  Rpc TransferOut(const v1::TransferOutRequest& r, v1::CommandResponse* out);
  Rpc TransferIn(const v1::TransferInRequest& r, v1::CommandResponse* out);

  // Any FundService call.
  template <typename Request, typename Response>
  Rpc Fund(grpc::Status (v1::FundService::Stub::*method)(grpc::ClientContext*, const Request&,
                                                         Response*),
           const Request& request, Response* response) {
    grpc::ClientContext context;
    grpc::Status status = (funds_.get()->*method)(&context, request, response);
    return {status, ReasonOf(context)};
  }

  // The tax bureau's daily control totals.
  Rpc ReportTotals(const v1::ReportDailyTotalsRequest& r, v1::ReportDailyTotalsResponse* out);
  // The reconciliation, which must be served.
  v1::Reconciliation Recon(const v1::ReconciliationRequest& request = {});

  Rpc Funds(const v1::ReceiveFiscalFundsRequest& r, v1::CommandResponse* out);
  // Fiscal funds that must be accepted (a fresh document reference each time).
  v1::CommandResponse FundsOk(v1::FiscalPurpose purpose, int year, int64_t fen,
                              const std::string& date, const std::string& region = kRegion);

  // A sweep special → payment of `fen` that must be accepted: the money a benefits job or a
  // death's payments need in the payment account.
  v1::CommandResponse SweepToPaymentOk(int64_t fen, const std::string& date,
                                       const std::string& region = kRegion);
  // The tax bureau remits `fen` of collected contributions into the special account (must be
  // accepted): the money behind the account pensions a payment run pays.
  v1::CommandResponse RemitToSpecialOk(int64_t fen, const std::string& date,
                                       const std::string& region = kRegion);

  // Runs a job through the server stream; `last` gets the last progress message.
  Rpc Job(v1::JobKind kind, int period, const std::string& date, v1::JobProgress* last,
          int* messages = nullptr, const std::string& region = kRegion);
  // A job that must complete; returns its final progress.
  v1::JobProgress JobOk(v1::JobKind kind, int period, const std::string& date = "",
                        const std::string& region = kRegion);

  Rpc GetAccount(const std::string& id, v1::Account* account);
  // An account that must be served.
  v1::Account Account(const std::string& id);
  // The ledger balances of `region`, which must be served.
  BalanceMap Balances(const std::string& region = kRegion);

  Rpc Statement(const std::string& id, int year, v1::Statement* statement);
  v1::Statement StatementOk(const std::string& id, int year);

 private:
  std::string dir_;
  NodeOptions options_;
  std::unique_ptr<ledger::Ledger> ledger_;
  std::unique_ptr<services::RunningServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::CollectionService::Stub> collections_;
  std::unique_ptr<v1::AccountService::Stub> accounts_;
  std::unique_ptr<v1::PolicyService::Stub> policies_;
  std::unique_ptr<v1::FundService::Stub> funds_;
  std::unique_ptr<v1::AuditService::Stub> audit_;
  int funds_refs_ = 0;
  int fresh_starts_ = 0;  // names the node's PostgreSQL ledger: a fresh start begins a new log
};

}  // namespace ledger::testing

#endif  // TESTS_SUPPORT_GRPC_NODE_H_
