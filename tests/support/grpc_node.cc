#include "tests/support/grpc_node.h"

#include <cstdlib>
#include <filesystem>
#include <string_view>
#include <system_error>
#include <utility>

#include "gtest/gtest.h"
#include "ledger/strings.h"
#include "tests/support/pg_server.h"

namespace ledger::testing {

namespace {

bool PostgresBackendRequested() {
  const char* backend = std::getenv("LEDGER_TEST_LOG_BACKEND");
  return backend != nullptr && std::string_view(backend) == "postgres";
}

}  // namespace

Rpc PushRecords(v1::CollectionService::Stub& stub, grpc::ClientContext& context,
                const std::vector<v1::CollectionRecord>& records,
                v1::PushCollectionsResponse* response) {
  v1::PushCollectionsRequest request;
  for (const v1::CollectionRecord& r : records) *request.add_records() = r;
  grpc::Status status = stub.PushCollections(&context, request, response);
  return {status, ReasonOf(context)};
}

Rpc StreamRecords(v1::CollectionService::Stub& stub, grpc::ClientContext& context,
                  const std::vector<std::vector<v1::CollectionRecord>>& messages,
                  v1::PushCollectionsResponse* response) {
  auto writer = stub.StreamCollections(&context, response);
  for (const auto& records : messages) {
    v1::PushCollectionsRequest message;
    for (const v1::CollectionRecord& r : records) *message.add_records() = r;
    if (!writer->Write(message)) break;  // the server ended the stream; Finish says why
  }
  writer->WritesDone();
  grpc::Status status = writer->Finish();
  return {status, ReasonOf(context)};
}

Node::Node(std::string dir, NodeOptions options)
    : dir_(std::move(dir)), options_(std::move(options)) {}

Node::~Node() {
  Stop();
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
  if (!options_.replay_scratch_dir.empty()) {
    std::filesystem::remove_all(options_.replay_scratch_dir, ignored);
  }
}

void Node::Start(bool reopen) {
  if (!reopen) {
    std::filesystem::remove_all(dir_);
    ++fresh_starts_;
  }
  ledger::Options options{.data_dir = dir_,
                          .verify_chain_on_open = options_.verify_chain_on_open,
                          .clock_us = options_.clock_us,
                          .checkpoint_key_pem = options_.checkpoint_key_pem,
                          .checkpoint_interval_events = options_.checkpoint_interval_events};
  if (options_.postgres || PostgresBackendRequested()) {
    PgServer* pg = SharedPgServer();
    ASSERT_NE(pg, nullptr);
    options.log_backend = ledger::LogBackend::kPostgres;
    options.postgres_conninfo = pg->conninfo("grpc-node");
    options.postgres_ledger_id = options_.postgres_ledger_id.empty()
                                     ? StrCat(dir_, "#", fresh_starts_)
                                     : options_.postgres_ledger_id;
    options.postgres_is_primary = options_.postgres_is_primary;
  }
  auto opened = ledger::Ledger::Open(std::move(options));
  ASSERT_TRUE(opened.ok()) << opened.status();
  ledger_ = *std::move(opened);
  auto running = services::StartServer(*ledger_, {.listen_address = "127.0.0.1:0",
                                                  .insecure_plaintext = true,
                                                  .leader_hint = options_.leader_hint,
                                                  .replay_scratch_dir =
                                                      options_.replay_scratch_dir});
  ASSERT_TRUE(running.ok()) << running.status();
  server_ = std::make_unique<services::RunningServer>(*std::move(running));
  ASSERT_GT(server_->port, 0);
  grpc::ChannelArguments args;
  if (options_.max_receive_message_bytes != 0) {
    args.SetMaxReceiveMessageSize(options_.max_receive_message_bytes);
  }
  channel_ = grpc::CreateCustomChannel(StrCat("127.0.0.1:", server_->port),
                                       grpc::InsecureChannelCredentials(), args);
  collections_ = v1::CollectionService::NewStub(channel_);
  accounts_ = v1::AccountService::NewStub(channel_);
  policies_ = v1::PolicyService::NewStub(channel_);
  funds_ = v1::FundService::NewStub(channel_);
  audit_ = v1::AuditService::NewStub(channel_);
}

void Node::Stop() {
  collections_.reset();
  accounts_.reset();
  policies_.reset();
  funds_.reset();
  audit_.reset();
  channel_.reset();
  if (server_ != nullptr) {
    server_->server->Shutdown();
    server_->server->Wait();
    server_.reset();
  }
  ledger_.reset();
}

void Node::Restart() {
  Stop();
  Start(/*reopen=*/true);
}

Rpc Node::AdoptPolicy(const v1::Policy& policy, v1::AdoptPolicyResponse* response) {
  grpc::ClientContext context;
  v1::AdoptPolicyRequest request;
  *request.mutable_policy() = policy;
  grpc::Status status = policies_->AdoptPolicy(&context, request, response);
  return {status, ReasonOf(context)};
}

void Node::Adopt(const v1::Policy& policy) {
  v1::AdoptPolicyResponse response;
  const Rpc rpc = AdoptPolicy(policy, &response);
  ASSERT_TRUE(rpc.ok()) << rpc.status.error_message();
}

Rpc Node::Enrol(const v1::ParticipantEnrolled& participant, v1::EnrolResponse* response) {
  grpc::ClientContext context;
  v1::EnrolRequest request;
  *request.mutable_participant() = participant;
  grpc::Status status = accounts_->Enrol(&context, request, response);
  return {status, ReasonOf(context)};
}

void Node::Enrol(const std::string& id, const std::string& date, const std::string& region) {
  v1::ParticipantEnrolled p;
  p.set_citizen_id(id);
  p.set_name("孙");
  p.set_region_code(region);
  p.set_enrolment_date(date);
  v1::EnrolResponse response;
  const Rpc rpc = Enrol(p, &response);
  ASSERT_TRUE(rpc.ok()) << rpc.status.error_message();
  ASSERT_FALSE(response.duplicate());
}

Rpc Node::Push(const std::vector<v1::CollectionRecord>& records,
               v1::PushCollectionsResponse* response) {
  grpc::ClientContext context;
  return PushRecords(*collections_, context, records, response);
}

v1::PushCollectionsResponse Node::Push(const std::vector<v1::CollectionRecord>& records) {
  v1::PushCollectionsResponse response;
  const Rpc rpc = Push(records, &response);
  EXPECT_TRUE(rpc.ok()) << rpc.status.error_message();
  return response;
}

std::vector<uint64_t> Node::PushAccepted(const std::vector<v1::CollectionRecord>& records) {
  const v1::PushCollectionsResponse response = Push(records);
  std::vector<uint64_t> sequences;
  EXPECT_EQ(response.outcomes_size(), static_cast<int>(records.size()));
  for (const v1::RecordOutcome& o : response.outcomes()) {
    EXPECT_EQ(o.outcome(), v1::OUTCOME_ACCEPTED)
        << v1::Outcome_Name(o.outcome()) << " " << o.detail();
    sequences.push_back(o.sequence());
  }
  return sequences;
}

Rpc Node::Stream(const std::vector<std::vector<v1::CollectionRecord>>& messages,
                 v1::PushCollectionsResponse* response) {
  grpc::ClientContext context;
  return StreamRecords(*collections_, context, messages, response);
}

Rpc Node::Collective(const v1::CreditCollectiveSubsidyRequest& r, v1::CommandResponse* out) {
  return Call(&v1::AccountService::Stub::CreditCollectiveSubsidy, r, out);
}
Rpc Node::Refund(const v1::RefundContributionRequest& r, v1::CommandResponse* out) {
  return Call(&v1::AccountService::Stub::RefundContribution, r, out);
}
Rpc Node::Determine(const v1::DetermineBenefitRequest& r, v1::CommandResponse* out) {
  return Call(&v1::AccountService::Stub::DetermineBenefit, r, out);
}
Rpc Node::Suspend(const v1::SuspendBenefitRequest& r, v1::CommandResponse* out) {
  return Call(&v1::AccountService::Stub::SuspendBenefit, r, out);
}
Rpc Node::Resume(const v1::ResumeBenefitRequest& r, v1::CommandResponse* out) {
  return Call(&v1::AccountService::Stub::ResumeBenefit, r, out);
}
Rpc Node::Death(const v1::RecordDeathRequest& r, v1::CommandResponse* out) {
  return Call(&v1::AccountService::Stub::RecordDeath, r, out);
}
Rpc Node::TransferOut(const v1::TransferOutRequest& r, v1::CommandResponse* out) {
  return Call(&v1::AccountService::Stub::TransferOut, r, out);
}
Rpc Node::TransferIn(const v1::TransferInRequest& r, v1::CommandResponse* out) {
  return Call(&v1::AccountService::Stub::TransferIn, r, out);
}

Rpc Node::ReportTotals(const v1::ReportDailyTotalsRequest& r,
                       v1::ReportDailyTotalsResponse* out) {
  grpc::ClientContext context;
  grpc::Status status = collections_->ReportDailyTotals(&context, r, out);
  return {status, ReasonOf(context)};
}

v1::Reconciliation Node::Recon(const v1::ReconciliationRequest& request) {
  v1::Reconciliation recon;
  const Rpc rpc = Fund(&v1::FundService::Stub::GetReconciliation, request, &recon);
  EXPECT_TRUE(rpc.ok()) << Describe(rpc);
  return recon;
}

Rpc Node::Funds(const v1::ReceiveFiscalFundsRequest& r, v1::CommandResponse* out) {
  return Fund(&v1::FundService::Stub::ReceiveFiscalFunds, r, out);
}

v1::CommandResponse Node::FundsOk(v1::FiscalPurpose purpose, int year, int64_t fen,
                                  const std::string& date, const std::string& region) {
  v1::ReceiveFiscalFundsRequest r;
  r.set_region_code(region);
  r.set_purpose(purpose);
  r.set_year(year);
  r.set_amount_fen(fen);
  r.set_date(date);
  r.set_document_ref(
      StrCat("FUNDS-", region, "-", static_cast<int>(purpose), "-", year, "-", ++funds_refs_));
  v1::CommandResponse response;
  const Rpc rpc = Funds(r, &response);
  EXPECT_TRUE(rpc.ok()) << Describe(rpc);
  EXPECT_FALSE(response.duplicate());
  EXPECT_GT(response.first_sequence(), 0u);
  return response;
}

v1::CommandResponse Node::SweepToPaymentOk(int64_t fen, const std::string& date,
                                           const std::string& region) {
  v1::TransferBetweenFundAccountsRequest r;
  r.set_region_code(region);
  r.set_from_account(v1::BANK_ACCOUNT_SPECIAL);
  r.set_to_account(v1::BANK_ACCOUNT_PAYMENT);
  r.set_amount_fen(fen);
  r.set_date(date);
  r.set_document_ref(StrCat("SWEEP-", region, "-", ++funds_refs_));
  v1::CommandResponse response;
  const Rpc rpc = Fund(&v1::FundService::Stub::TransferBetweenFundAccounts, r, &response);
  EXPECT_TRUE(rpc.ok()) << Describe(rpc);
  EXPECT_FALSE(response.duplicate());
  return response;
}

v1::CommandResponse Node::RemitToSpecialOk(int64_t fen, const std::string& date,
                                           const std::string& region) {
  v1::ReceiveTaxRemittanceRequest r;
  r.set_region_code(region);
  r.set_bank_account(v1::BANK_ACCOUNT_SPECIAL);
  r.set_amount_fen(fen);
  r.set_date(date);
  r.set_document_ref(StrCat("REMIT-", region, "-", ++funds_refs_));
  v1::CommandResponse response;
  const Rpc rpc = Fund(&v1::FundService::Stub::ReceiveTaxRemittance, r, &response);
  EXPECT_TRUE(rpc.ok()) << Describe(rpc);
  EXPECT_FALSE(response.duplicate());
  return response;
}

Rpc Node::Job(v1::JobKind kind, int period, const std::string& date, v1::JobProgress* last,
              int* messages, const std::string& region) {
  grpc::ClientContext context;
  v1::JobRequest request;
  request.set_kind(kind);
  request.set_region_code(region);
  request.set_period(period);
  request.set_date(date);
  auto reader = accounts_->RunJob(&context, request);
  v1::JobProgress progress;
  int n = 0;
  while (reader->Read(&progress)) {
    ++n;
    if (last != nullptr) *last = progress;
  }
  grpc::Status status = reader->Finish();
  if (messages != nullptr) *messages = n;
  return {status, ReasonOf(context)};
}

v1::JobProgress Node::JobOk(v1::JobKind kind, int period, const std::string& date,
                            const std::string& region) {
  v1::JobProgress last;
  int messages = 0;
  const Rpc rpc = Job(kind, period, date, &last, &messages, region);
  EXPECT_TRUE(rpc.ok()) << v1::JobKind_Name(kind) << " " << period << ": " << Describe(rpc);
  EXPECT_GE(messages, 1);
  EXPECT_TRUE(last.completed()) << v1::JobKind_Name(kind) << " " << period;
  return last;
}

Rpc Node::GetAccount(const std::string& id, v1::Account* account) {
  grpc::ClientContext context;
  v1::GetAccountRequest request;
  request.set_citizen_id(id);
  grpc::Status status = accounts_->GetAccount(&context, request, account);
  return {status, ReasonOf(context)};
}

v1::Account Node::Account(const std::string& id) {
  v1::Account account;
  const Rpc rpc = GetAccount(id, &account);
  EXPECT_TRUE(rpc.ok()) << Describe(rpc);
  return account;
}

BalanceMap Node::Balances(const std::string& region) {
  grpc::ClientContext context;
  v1::GetLedgerBalancesRequest request;
  request.set_region_code(region);
  v1::LedgerBalances response;
  grpc::Status status = funds_->GetLedgerBalances(&context, request, &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return {response.balances_fen().begin(), response.balances_fen().end()};
}

Rpc Node::Statement(const std::string& id, int year, v1::Statement* statement) {
  grpc::ClientContext context;
  v1::GetStatementRequest request;
  request.set_citizen_id(id);
  request.set_year(year);
  grpc::Status status = accounts_->GetStatement(&context, request, statement);
  return {status, ReasonOf(context)};
}

v1::Statement Node::StatementOk(const std::string& id, int year) {
  v1::Statement statement;
  const Rpc rpc = Statement(id, year, &statement);
  EXPECT_TRUE(rpc.ok()) << Describe(rpc);
  return statement;
}

}  // namespace ledger::testing
