// Mutual TLS and role-based access, end to end: development certificates made by
// deploy/tls/make-dev-certs.sh, a real ledger on a temporary directory, the real server with TLS on
// a loopback port, and generated client stubs presenting each identity.
#include "services/auth.h"

#include <google/protobuf/descriptor.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
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
#include "ledger/hash.h"
#include "ledger/policy.h"
#include "ledger/strings.h"
#include "ledger/v1/services.grpc.pb.h"
#include "services/services.h"
#include "spdlog/sinks/ostream_sink.h"
#include "spdlog/spdlog.h"
#include "tests/support/dev_certs.h"
#include "tests/support/fixtures.h"
#include "tests/support/grpc_node.h"
#include "tests/support/rpc.h"
#include "tests/support/test_dir.h"

namespace {

namespace v1 = ledger::v1;
using ::ledger::StrCat;
using namespace ::ledger::testing;  // NOLINT: the shared test fixtures
using ::services::Role;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kOtherRegion[] = "222402";      // a copy of the demo policy, adopted by some tests
constexpr char kThirdRegion[] = "222403";  // the paper policy without a funeral subsidy
constexpr char kIdA[] = "22240119650315123X";  // born 1965; enrolled by every fixture
constexpr char kIdB[] = "222401198001014568";  // born 1980
constexpr char kIdC[] = "222401199211207899";  // born 1992; never enrolled
constexpr char kIdTooYoung[] = "222401201001011230";  // born 2010
constexpr char kIdBadCheck[] = "222401198001014569";  // kIdB with a wrong check digit


// The identities a client can present. Each but kNoCertificate is <name>.crt / <name>.key in the
// certificate directory.
constexpr char kTaxBureau[] = "tax-bureau";
constexpr char kFundAgency[] = "fund-agency";
constexpr char kAuditor[] = "auditor";
constexpr char kAdmin[] = "admin";
constexpr char kNoRole[] = "no-role";
constexpr char kNoCertificate[] = "no-certificate";
constexpr char kExpired[] = "expired";
constexpr char kOtherCa[] = "other-ca";
constexpr char kTaxBureauYanji[] = "tax-bureau-222401";
constexpr char kFundAgencyOtherRegion[] = "fund-agency-222402";  // limited to kOtherRegion

constexpr const char* kMatrixIdentities[] = {
    kTaxBureau, kFundAgency, kAuditor, kAdmin, kNoRole, kNoCertificate, kExpired, kOtherCa,
};

// Full names of the methods.
constexpr char kPushCollections[] = "/ledger.v1.CollectionService/PushCollections";
constexpr char kStreamCollections[] = "/ledger.v1.CollectionService/StreamCollections";
constexpr char kEnrol[] = "/ledger.v1.AccountService/Enrol";
constexpr char kGetAccount[] = "/ledger.v1.AccountService/GetAccount";
constexpr char kCreditCollectiveSubsidy[] = "/ledger.v1.AccountService/CreditCollectiveSubsidy";
constexpr char kRefundContribution[] = "/ledger.v1.AccountService/RefundContribution";
constexpr char kDetermineBenefit[] = "/ledger.v1.AccountService/DetermineBenefit";
constexpr char kSuspendBenefit[] = "/ledger.v1.AccountService/SuspendBenefit";
constexpr char kResumeBenefit[] = "/ledger.v1.AccountService/ResumeBenefit";
constexpr char kRecordDeath[] = "/ledger.v1.AccountService/RecordDeath";
constexpr char kRecordOverpaymentRecovery[] =
    "/ledger.v1.AccountService/RecordOverpaymentRecovery";
constexpr char kTerminateParticipant[] = "/ledger.v1.AccountService/TerminateParticipant";
constexpr char kTransferOut[] = "/ledger.v1.AccountService/TransferOut";
constexpr char kTransferIn[] = "/ledger.v1.AccountService/TransferIn";
constexpr char kRecordCadreRole[] = "/ledger.v1.AccountService/RecordCadreRole";
constexpr char kCreditCadreSubsidy[] = "/ledger.v1.AccountService/CreditCadreSubsidy";
constexpr char kRunJob[] = "/ledger.v1.AccountService/RunJob";
constexpr char kGetStatement[] = "/ledger.v1.AccountService/GetStatement";
constexpr char kAdoptPolicy[] = "/ledger.v1.PolicyService/AdoptPolicy";
constexpr char kGetPolicy[] = "/ledger.v1.PolicyService/GetPolicy";
constexpr char kBackup[] = "/ledger.v1.AdminService/Backup";
constexpr char kReceiveFiscalFunds[] = "/ledger.v1.FundService/ReceiveFiscalFunds";
constexpr char kGetLedgerBalances[] = "/ledger.v1.FundService/GetLedgerBalances";
constexpr char kReceiveTaxRemittance[] = "/ledger.v1.FundService/ReceiveTaxRemittance";
constexpr char kTransferBetweenFundAccounts[] =
    "/ledger.v1.FundService/TransferBetweenFundAccounts";
constexpr char kReceiveBankInterest[] = "/ledger.v1.FundService/ReceiveBankInterest";
constexpr char kReportBankBalance[] = "/ledger.v1.FundService/ReportBankBalance";
constexpr char kGetFundBalance[] = "/ledger.v1.FundService/GetFundBalance";
constexpr char kGetReconciliation[] = "/ledger.v1.FundService/GetReconciliation";
constexpr char kReportDailyTotals[] = "/ledger.v1.CollectionService/ReportDailyTotals";
constexpr char kStreamEvents[] = "/ledger.v1.AuditService/StreamEvents";
constexpr char kVerifyChain[] = "/ledger.v1.AuditService/VerifyChain";
constexpr char kGetCheckpoints[] = "/ledger.v1.AuditService/GetCheckpoints";
constexpr char kBalanceAsOf[] = "/ledger.v1.AuditService/BalanceAsOf";
constexpr char kReplayCompare[] = "/ledger.v1.AuditService/ReplayCompare";

// The access rules as the specification states them, written out independently of
// services::MethodRoles(): the tax bureau pushes collections and reads policy; the fund agency
// enrols, runs the account lifecycle (commands, batch jobs, fiscal funds) and reads accounts,
// statements, ledger balances and policy; the auditor reads accounts, statements, ledger
// balances and policy and writes nothing; admin adopts and reads policy and takes backups.
const std::map<std::string, std::set<std::string>>& SpecifiedAccess() {
  static const auto* kAccess = new std::map<std::string, std::set<std::string>>{
      {kTaxBureau, {kPushCollections, kStreamCollections, kReportDailyTotals, kGetPolicy}},
      {kFundAgency,
       {kEnrol, kGetAccount, kCreditCollectiveSubsidy, kRefundContribution, kDetermineBenefit,
        kSuspendBenefit, kResumeBenefit, kRecordDeath, kRecordOverpaymentRecovery,
        kTerminateParticipant, kTransferOut, kTransferIn, kRecordCadreRole, kCreditCadreSubsidy,
        kRunJob, kGetStatement, kGetPolicy, kReceiveFiscalFunds, kGetLedgerBalances, kStreamEvents,
        kVerifyChain, kGetCheckpoints, kBalanceAsOf, kReceiveTaxRemittance,
        kTransferBetweenFundAccounts, kReceiveBankInterest, kReportBankBalance, kGetFundBalance,
        kGetReconciliation}},
      {kAuditor,
       {kGetAccount, kGetStatement, kGetLedgerBalances, kGetPolicy, kStreamEvents, kVerifyChain,
        kGetCheckpoints, kBalanceAsOf, kReplayCompare, kGetFundBalance, kGetReconciliation}},
      {kAdmin, {kAdoptPolicy, kGetPolicy, kBackup, kVerifyChain, kGetCheckpoints, kReplayCompare}},
  };
  return *kAccess;
}

// The lifecycle commands: each acts in one region (the participant's, the receipt's, the fiscal
// funds', the transfer's destination or the job's), which a region-limited certificate must cover.
constexpr const char* kRegionScopedCommands[] = {
    kCreditCollectiveSubsidy, kRefundContribution, kDetermineBenefit, kSuspendBenefit,
    kResumeBenefit,           kRecordDeath,        kTransferOut,      kTransferIn,
    kRunJob,                  kReceiveFiscalFunds, kReceiveTaxRemittance,
    kTransferBetweenFundAccounts, kReceiveBankInterest, kReportBankBalance,
    kRecordOverpaymentRecovery, kTerminateParticipant, kRecordCadreRole, kCreditCadreSubsidy,
};

using RpcResult = Rpc;

void SetDeadline(grpc::ClientContext& context) {
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
}

// One helper per method. Each makes exactly one call on `channel`.
using Channel = std::shared_ptr<grpc::Channel>;

RpcResult Push(const Channel& channel, const std::vector<v1::CollectionRecord>& records,
               v1::PushCollectionsResponse* response) {
  grpc::ClientContext context;
  SetDeadline(context);
  return PushRecords(*v1::CollectionService::NewStub(channel), context, records, response);
}

RpcResult Stream(const Channel& channel,
                 const std::vector<std::vector<v1::CollectionRecord>>& messages,
                 v1::PushCollectionsResponse* response) {
  grpc::ClientContext context;
  SetDeadline(context);
  return StreamRecords(*v1::CollectionService::NewStub(channel), context, messages, response);
}

RpcResult Enrol(const Channel& channel, const v1::ParticipantEnrolled& participant,
                v1::EnrolResponse* response) {
  grpc::ClientContext context;
  SetDeadline(context);
  v1::EnrolRequest request;
  *request.mutable_participant() = participant;
  grpc::Status status = v1::AccountService::NewStub(channel)->Enrol(&context, request, response);
  return {status, ReasonOf(context)};
}

RpcResult GetAccount(const Channel& channel, const std::string& citizen_id, v1::Account* account) {
  grpc::ClientContext context;
  SetDeadline(context);
  v1::GetAccountRequest request;
  request.set_citizen_id(citizen_id);
  grpc::Status status =
      v1::AccountService::NewStub(channel)->GetAccount(&context, request, account);
  return {status, ReasonOf(context)};
}

RpcResult Adopt(const Channel& channel, const v1::Policy& policy,
                v1::AdoptPolicyResponse* response) {
  grpc::ClientContext context;
  SetDeadline(context);
  v1::AdoptPolicyRequest request;
  *request.mutable_policy() = policy;
  grpc::Status status =
      v1::PolicyService::NewStub(channel)->AdoptPolicy(&context, request, response);
  return {status, ReasonOf(context)};
}

RpcResult GetPolicy(const Channel& channel, const std::string& region, v1::Policy* policy) {
  grpc::ClientContext context;
  SetDeadline(context);
  v1::GetPolicyRequest request;
  request.set_region_code(region);
  grpc::Status status = v1::PolicyService::NewStub(channel)->GetPolicy(&context, request, policy);
  return {status, ReasonOf(context)};
}

// One unary call on a new `Service` stub: `call(stub, context)` makes it.
template <typename Service, typename Call>
RpcResult Unary(const Channel& channel, Call call) {
  grpc::ClientContext context;
  SetDeadline(context);
  auto stub = Service::NewStub(channel);
  grpc::Status status = call(*stub, context);
  return {status, ReasonOf(context)};
}

// The lifecycle commands, one helper each (AccountService, except ReceiveFiscalFunds: FundService).
#define LEDGER_TEST_COMMAND(Service, Method)                                                   \
  RpcResult Method(const Channel& channel, const v1::Method##Request& request,                 \
                   v1::CommandResponse* response) {                                            \
    return Unary<v1::Service>(channel, [&](auto& stub, grpc::ClientContext& context) {         \
      return stub.Method(&context, request, response);                                         \
    });                                                                                        \
  }
LEDGER_TEST_COMMAND(AccountService, CreditCollectiveSubsidy)
LEDGER_TEST_COMMAND(AccountService, RefundContribution)
LEDGER_TEST_COMMAND(AccountService, DetermineBenefit)
LEDGER_TEST_COMMAND(AccountService, SuspendBenefit)
LEDGER_TEST_COMMAND(AccountService, ResumeBenefit)
LEDGER_TEST_COMMAND(AccountService, RecordDeath)
LEDGER_TEST_COMMAND(AccountService, RecordOverpaymentRecovery)
LEDGER_TEST_COMMAND(AccountService, TerminateParticipant)
LEDGER_TEST_COMMAND(AccountService, TransferOut)
LEDGER_TEST_COMMAND(AccountService, TransferIn)
LEDGER_TEST_COMMAND(AccountService, RecordCadreRole)
LEDGER_TEST_COMMAND(AccountService, CreditCadreSubsidy)
LEDGER_TEST_COMMAND(FundService, ReceiveFiscalFunds)
LEDGER_TEST_COMMAND(FundService, ReceiveTaxRemittance)
LEDGER_TEST_COMMAND(FundService, TransferBetweenFundAccounts)
LEDGER_TEST_COMMAND(FundService, ReceiveBankInterest)
LEDGER_TEST_COMMAND(FundService, ReportBankBalance)
#undef LEDGER_TEST_COMMAND

// Runs a job to the end of its progress stream; `last` is the last progress message read.
RpcResult RunJob(const Channel& channel, const v1::JobRequest& request, v1::JobProgress* last) {
  grpc::ClientContext context;
  SetDeadline(context);
  auto reader = v1::AccountService::NewStub(channel)->RunJob(&context, request);
  for (v1::JobProgress progress; reader->Read(&progress);) *last = progress;
  grpc::Status status = reader->Finish();
  return {status, ReasonOf(context)};
}

RpcResult GetStatement(const Channel& channel, const std::string& citizen_id, int year,
                       v1::Statement* statement) {
  v1::GetStatementRequest request;
  request.set_citizen_id(citizen_id);
  request.set_year(year);
  return Unary<v1::AccountService>(channel, [&](auto& stub, grpc::ClientContext& context) {
    return stub.GetStatement(&context, request, statement);
  });
}

RpcResult GetLedgerBalances(const Channel& channel, const std::string& region,
                            v1::LedgerBalances* balances) {
  v1::GetLedgerBalancesRequest request;
  request.set_region_code(region);
  return Unary<v1::FundService>(channel, [&](auto& stub, grpc::ClientContext& context) {
    return stub.GetLedgerBalances(&context, request, balances);
  });
}

// Restores the default spdlog logger when it goes out of scope, however the test ends.
class CapturedLog {
 public:
  CapturedLog() : previous_(spdlog::default_logger()) {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(text_, /*force_flush=*/true);
    auto logger = std::make_shared<spdlog::logger>("auth_test_capture", sink);
    logger->set_level(spdlog::level::trace);
    spdlog::set_default_logger(std::move(logger));
  }
  ~CapturedLog() { spdlog::set_default_logger(previous_); }
  CapturedLog(const CapturedLog&) = delete;
  CapturedLog& operator=(const CapturedLog&) = delete;

  std::string Text() const { return text_.str(); }

 private:
  std::shared_ptr<spdlog::logger> previous_;
  std::ostringstream text_;
};

// A fresh ledger (demo policy adopted, kIdA enrolled) served with mutual TLS on a free loopback
// port. The certificates are made once per test suite.
class AuthTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    certs_ = new DevCerts();
    ASSERT_NO_FATAL_FAILURE(certs_->Make(
        StrCat(::testing::TempDir(), "ledger_auth_certs_", static_cast<int64_t>(getpid()))));
    for (const char* name : {"ca", "server", kTaxBureau, kFundAgency, kAuditor, kAdmin, kNoRole,
                             kExpired, kOtherCa, kTaxBureauYanji, kFundAgencyOtherRegion}) {
      ASSERT_TRUE(std::filesystem::exists(CertFile(name))) << CertFile(name);
      if (std::string_view(name) != "ca") {
        ASSERT_TRUE(std::filesystem::exists(KeyFile(name))) << KeyFile(name);
      }
    }
    certs_ok_ = true;
  }

  static void TearDownTestSuite() {
    certs_->Remove();
    delete certs_;
    certs_ = nullptr;
    certs_ok_ = false;
  }

  static std::string CertFile(std::string_view name) { return certs_->CertFile(name); }
  static std::string KeyFile(std::string_view name) { return certs_->KeyFile(name); }
  static std::string Pem(const std::string& path) { return DevCerts::Pem(path); }

  void SetUp() override {
    ASSERT_TRUE(certs_ok_) << "the development certificates were not made";
    dir_ = TestDir("ledger_auth");
    std::filesystem::remove_all(dir_);
    auto policy = LoadDemoPolicy2025();
    ASSERT_TRUE(policy.ok()) << policy.status();
    demo_policy_ = *std::move(policy);

    auto opened = ledger::Ledger::Open(
        {.data_dir = dir_, .verify_chain_on_open = true, .clock_us = Now2025Us});
    ASSERT_TRUE(opened.ok()) << opened.status();
    ledger_ = *std::move(opened);
    auto adopted = ledger_->AdoptPolicy(demo_policy_, "test-setup");
    ASSERT_TRUE(adopted.ok() && !adopted->rejection) << "cannot adopt the demo policy";
    auto enrolled = ledger_->Enrol(Participant(kIdA, "金哲"), "test-setup");
    ASSERT_TRUE(enrolled.ok() && !enrolled->rejection) << "cannot enrol kIdA";

    auto running = services::StartServer(
        *ledger_, {.listen_address = "127.0.0.1:0", .tls = certs_->ServerFiles()});
    ASSERT_TRUE(running.ok()) << running.status();
    server_ = std::make_unique<services::RunningServer>(*std::move(running));
    ASSERT_GT(server_->port, 0);
  }

  void TearDown() override {
    if (server_ != nullptr) {
      server_->server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
      server_->server->Wait();
      server_.reset();
    }
    ledger_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  // A new channel to the server presenting `identity` (kNoCertificate: trusts the CA, presents
  // nothing). `host` is "127.0.0.1" or "localhost": the server certificate names both.
  Channel Connect(std::string_view identity, std::string_view host = "127.0.0.1",
                  int max_send_bytes = -1) {
    grpc::ChannelArguments args;
    // Each channel its own connection: no subchannel shared with another identity's channel.
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetMaxSendMessageSize(max_send_bytes);
    args.SetMaxReceiveMessageSize(64 * 1024 * 1024);
    return grpc::CreateCustomChannel(
        StrCat(host, ":", server_->port),
        certs_->ClientCredentials(identity == kNoCertificate ? "" : identity), args);
  }

  uint64_t Head() const { return ledger_->Head().sequence; }

  // The demo policy under region kOtherRegion, adopted as admin over TLS.
  // Setup as the fund agency, directly on the ledger: a command that must be accepted.
  void SetupCommand(const v1::AccountCommand& command) {
    auto r = ledger_->Execute(command, "test-setup");
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_FALSE(r->rejection) << r->rejection->detail;
  }

  // `fen` of basic pension funds for 2025 received into kRegion's special account and swept
  // into its payment account.
  void FundPaymentAccount(int64_t fen, const std::string& region = kRegion) {
    v1::AccountCommand funds;
    auto* f = funds.mutable_receive_fiscal_funds();
    f->set_region_code(region);
    f->set_purpose(v1::FISCAL_PURPOSE_BASIC_PENSION);
    f->set_year(2025);
    f->set_amount_fen(fen);
    f->set_date("2025-01-02");
    f->set_document_ref(StrCat("SETUP-FUNDS-", region));
    ASSERT_NO_FATAL_FAILURE(SetupCommand(funds));
    v1::AccountCommand sweep;
    auto* t = sweep.mutable_transfer_between_fund_accounts();
    t->set_region_code(region);
    t->set_from_account(v1::BANK_ACCOUNT_SPECIAL);
    t->set_to_account(v1::BANK_ACCOUNT_PAYMENT);
    t->set_amount_fen(fen);
    t->set_date("2025-01-02");
    t->set_document_ref(StrCat("SETUP-SWEEP-", region));
    ASSERT_NO_FATAL_FAILURE(SetupCommand(sweep));
  }

  // A pensioner of kThirdRegion (the paper policy without a funeral subsidy) paid January and
  // February 2025, who died in January: February's basic pension is an overpayment no estate
  // covers (the account is empty), outstanding for RecordOverpaymentRecovery.
  void SetUpOutstandingOverpayment(const std::string& id) {
    v1::Policy third = PaperPolicy(kThirdRegion);
    v1::CadreSubsidyProgram* cadre = third.mutable_cadre_subsidy();  // for SetUpCadre
    cadre->set_name("村专职工作人员参保缴费补贴");
    cadre->set_amount_per_year_fen(90000);
    cadre->set_first_year(2014);
    cadre->set_funded_from(v1::FISCAL_PURPOSE_CADRE_SUBSIDY);
    third.mutable_funeral_subsidy()->set_fixed_fen(0);
    third.mutable_funeral_subsidy()->set_basic_pension_months(0);
    auto adopted = ledger_->AdoptPolicy(third, "test-setup");
    ASSERT_TRUE(adopted.ok() && !adopted->rejection) << "cannot adopt the third region's policy";
    auto enrolled = ledger_->Enrol(Participant(id, "崔老", "2020-01-01", kThirdRegion), "test-setup");
    ASSERT_TRUE(enrolled.ok() && !enrolled->rejection) << "cannot enrol the pensioner";
    v1::AccountCommand determine;
    determine.mutable_determine_benefit()->set_citizen_id(id);
    determine.mutable_determine_benefit()->set_date("2025-01-05");
    determine.mutable_determine_benefit()->set_document_ref("SETUP-DETERMINE");
    ASSERT_NO_FATAL_FAILURE(SetupCommand(determine));
    ASSERT_NO_FATAL_FAILURE(FundPaymentAccount(2 * kBasic, kThirdRegion));
    for (int month : {202501, 202502}) {
      v1::JobRequest job;
      job.set_kind(v1::JOB_KIND_BENEFITS);
      job.set_region_code(kThirdRegion);
      job.set_period(month);
      job.set_date(StrCat(month / 100, "-0", month % 100, "-10"));
      auto ran = ledger_->RunJob(job, "test-setup");
      ASSERT_TRUE(ran.ok() && !ran->rejection) << "cannot pay " << month;
    }
    v1::AccountCommand death;
    death.mutable_record_death()->set_citizen_id(id);
    death.mutable_record_death()->set_date_of_death("2025-01-20");
    death.mutable_record_death()->set_date("2025-03-01");
    death.mutable_record_death()->set_document_ref("SETUP-DEATH");
    ASSERT_NO_FATAL_FAILURE(SetupCommand(death));
  }

  // A village cadre of kThirdRegion (after SetUpOutstandingOverpayment adopted its policy, with
  // the cadre program) who contributed for 2024, and the program's 2024 funds received: a
  // CreditCadreSubsidy for 2024 is valid.
  void SetUpCadre(const std::string& id) {
    auto enrolled = ledger_->Enrol(Participant(id, "冉书记", "2020-01-01", kThirdRegion), "test-setup");
    ASSERT_TRUE(enrolled.ok() && !enrolled->rejection) << "cannot enrol the cadre";
    v1::AccountCommand role;
    auto* r = role.mutable_record_cadre_role();
    r->set_citizen_id(id);
    r->set_served_from("2021-01-01");
    r->set_date("2025-01-05");
    r->set_document_ref("SETUP-CADRE-ROLE");
    ASSERT_NO_FATAL_FAILURE(SetupCommand(role));
    ledger::Ledger::Records records;
    *records.Add() = AddRecord("SETUP-CADRE-2024", id, 2024, 10000, "2024-11-10", kThirdRegion);
    auto pushed = ledger_->PushCollections(records, "test-setup");
    ASSERT_TRUE(pushed.ok() && pushed->size() == 1 &&
                (*pushed)[0].outcome() == v1::OUTCOME_ACCEPTED) << "cannot collect for the cadre";
    v1::AccountCommand funds;
    auto* f = funds.mutable_receive_fiscal_funds();
    f->set_region_code(kThirdRegion);
    f->set_purpose(v1::FISCAL_PURPOSE_CADRE_SUBSIDY);
    f->set_year(2024);
    f->set_amount_fen(90000);
    f->set_date("2025-02-20");
    f->set_document_ref("SETUP-CADRE-FUNDS");
    ASSERT_NO_FATAL_FAILURE(SetupCommand(funds));
  }

  void AdoptOtherRegionPolicy() {
    v1::Policy other = demo_policy_;
    other.set_region_code(kOtherRegion);
    other.set_region_name("测试市");
    v1::AdoptPolicyResponse response;
    RpcResult r = Adopt(Connect(kAdmin), other, &response);
    ASSERT_TRUE(r.status.ok()) << Describe(r.status);
    ASSERT_FALSE(response.duplicate());
  }

  static inline DevCerts* certs_ = nullptr;
  static inline bool certs_ok_ = false;

  std::string dir_;
  v1::Policy demo_policy_;
  std::unique_ptr<ledger::Ledger> ledger_;
  std::unique_ptr<services::RunningServer> server_;
};

// --- 1. the access matrix ----------------------------------------------------------------------

enum class Expect { kAllowed, kRoleDenied, kNoCertificate, kHandshakeRefused };

Expect Expected(std::string_view identity, const std::string& method) {
  if (identity == kNoCertificate) return Expect::kNoCertificate;
  if (identity == kExpired || identity == kOtherCa) return Expect::kHandshakeRefused;
  const auto& access = SpecifiedAccess();
  const auto row = access.find(std::string(identity));
  if (row == access.end()) return Expect::kRoleDenied;  // no-role: no rights at all
  return row->second.contains(method) ? Expect::kAllowed : Expect::kRoleDenied;
}

TEST_F(AuthTest, AccessMatrixForEveryMethodAndIdentity) {
  // What the lifecycle calls act on: a resident who was 60 before the scheme started (so draws a
  // pension without contribution years), and a second region to transfer kIdB to.
  const std::string old_id = CitizenId("19450501");
  auto enrolled_old = ledger_->Enrol(Participant(old_id, "朴老"), "test-setup");
  ASSERT_TRUE(enrolled_old.ok() && !enrolled_old->rejection) << "cannot enrol the old resident";
  // A resident who settles abroad (issue 16, point 5): nothing in the account, so the
  // termination is its one event.
  const std::string leaving_id = CitizenId("19800101", 888);
  auto enrolled_leaving = ledger_->Enrol(Participant(leaving_id, "赵离"), "test-setup");
  ASSERT_TRUE(enrolled_leaving.ok() && !enrolled_leaving->rejection) << "cannot enrol";
  ASSERT_NO_FATAL_FAILURE(AdoptOtherRegionPolicy());
  // The payment account holds what the old resident's death pays (issue 16, point 4), and a
  // pensioner of a third region owes an overpayment the estate could not cover (point 6).
  ASSERT_NO_FATAL_FAILURE(FundPaymentAccount(1000000));
  const std::string overpaid_id = CitizenId("19450501", 777, kThirdRegion);
  ASSERT_NO_FATAL_FAILURE(SetUpOutstandingOverpayment(overpaid_id));
  const std::string cadre_id = CitizenId("19700808", 778, kThirdRegion);
  ASSERT_NO_FATAL_FAILURE(SetUpCadre(cadre_id));
  v1::Policy version2 = demo_policy_;
  version2.set_version(2);

  // Every request is valid when its first allowed caller sends it, in the order below (the tax
  // bureau's row runs first, so its two receipts for kIdA exist when the fund agency's runs).
  v1::CreditCollectiveSubsidyRequest collective;
  collective.set_citizen_id(kIdA);
  collective.set_contribution_year(2023);  // the tax bureau's PushCollections pays 2023
  collective.set_amount_fen(90000);
  collective.set_source(v1::FUNDING_SOURCE_COLLECTIVE);
  collective.set_payer("村集体");
  collective.set_date("2025-03-01");
  collective.set_document_ref("AUTH-COLLECTIVE");
  v1::RefundContributionRequest refund;
  refund.set_receipt_number("STREAM-tax-bureau");  // the tax bureau's stream pays 2022
  refund.set_reason(v1::REFUND_REASON_DUPLICATE_ENROLMENT);
  refund.set_date("2025-03-01");
  refund.set_document_ref("AUTH-REFUND");
  v1::DetermineBenefitRequest determine;
  determine.set_citizen_id(old_id);
  determine.set_date("2025-05-01");
  determine.set_document_ref("AUTH-DETERMINE");
  v1::SuspendBenefitRequest suspend;
  suspend.set_citizen_id(old_id);
  suspend.set_from_month(202505);
  suspend.set_reason("未通过资格认证");
  suspend.set_date("2025-06-01");
  suspend.set_document_ref("AUTH-SUSPEND");
  v1::ResumeBenefitRequest resume;
  resume.set_citizen_id(old_id);
  resume.set_month(202506);
  resume.set_date("2025-06-15");
  resume.set_document_ref("AUTH-RESUME");
  v1::RecordDeathRequest death;
  death.set_citizen_id(old_id);
  death.set_date_of_death("2025-06-20");
  death.set_date("2025-06-25");
  death.set_document_ref("AUTH-DEATH");
  v1::RecordOverpaymentRecoveryRequest recovery;  // the overpayment set up above
  recovery.set_citizen_id(overpaid_id);
  recovery.set_amount_fen(kBasic);
  recovery.set_date("2025-06-01");
  recovery.set_method(v1::OVERPAYMENT_RECOVERY_METHOD_RECOVERED);
  recovery.set_document_ref("AUTH-RECOVERY");
  v1::TerminateParticipantRequest terminate;
  terminate.set_citizen_id(leaving_id);
  terminate.set_reason(v1::TERMINATION_REASON_SETTLED_ABROAD);
  terminate.set_date("2025-06-01");
  terminate.set_document_ref("AUTH-TERMINATE");
  v1::RecordCadreRoleRequest cadre_role;
  cadre_role.set_citizen_id(kIdA);
  cadre_role.set_post("村党组织书记");
  cadre_role.set_served_from("2023-01-01");
  cadre_role.set_date("2025-03-01");
  cadre_role.set_document_ref("AUTH-CADRE-ROLE");
  v1::CreditCadreSubsidyRequest cadre_credit;  // the cadre set up above
  cadre_credit.set_citizen_id(cadre_id);
  cadre_credit.set_year(2024);
  cadre_credit.set_amount_fen(90000);
  cadre_credit.set_date("2025-03-01");
  cadre_credit.set_document_ref("AUTH-CADRE-CREDIT");
  v1::TransferOutRequest transfer_out;  // kIdB is enrolled by the fund agency's Enrol
  transfer_out.set_citizen_id(kIdB);
  transfer_out.set_to_region(kOtherRegion);
  transfer_out.set_date("2025-06-01");
  transfer_out.set_document_ref("AUTH-TRANSFER-OUT");
  v1::TransferInRequest transfer_in;
  transfer_in.set_citizen_id(kIdB);
  transfer_in.set_from_region(kRegion);
  transfer_in.set_to_region(kOtherRegion);
  transfer_in.set_date("2025-06-02");
  transfer_in.set_document_ref("AUTH-TRANSFER-IN");
  v1::JobRequest interest;
  interest.set_kind(v1::JOB_KIND_INTEREST);
  interest.set_region_code(kRegion);
  interest.set_period(2024);
  v1::ReceiveFiscalFundsRequest funds;
  funds.set_region_code(kRegion);
  funds.set_purpose(v1::FISCAL_PURPOSE_BASIC_PENSION);
  funds.set_year(2025);
  funds.set_amount_fen(100000);
  funds.set_date("2025-06-01");
  funds.set_document_ref("AUTH-FUNDS");

  // A command: an allowed call records new events (never a resend).
  auto command = [](auto helper, const auto& request) {
    return [helper, &request](const Channel& channel, std::string_view) {
      v1::CommandResponse response;
      RpcResult r = helper(channel, request, &response);
      if (r.status.ok()) {
        EXPECT_FALSE(response.duplicate());
        EXPECT_GT(response.first_sequence(), 0u);
        EXPECT_GE(response.last_sequence(), response.first_sequence());
      }
      return r;
    };
  };

  struct Method {
    std::string name;
    int events;  // events an allowed call commits
    std::function<RpcResult(const Channel&, std::string_view identity)> call;
  };
  std::vector<Method> methods = {
      {kPushCollections, 1,
       [](const Channel& channel, std::string_view identity) {
         v1::PushCollectionsResponse response;
         return Push(channel, {AddRecord(StrCat("PUSH-", identity), kIdA, 2023, 50000, "2023-03-01")},
                     &response);
       }},
      {kStreamCollections, 1,
       [](const Channel& channel, std::string_view identity) {
         v1::PushCollectionsResponse response;
         return Stream(channel,
                       {{AddRecord(StrCat("STREAM-", identity), kIdA, 2022, 50000, "2022-03-01")}},
                       &response);
       }},
      {kEnrol, 1,
       [](const Channel& channel, std::string_view) {
         v1::EnrolResponse response;
         return Enrol(channel, Participant(kIdB, "李梅"), &response);
       }},
      {kGetAccount, 0,
       [](const Channel& channel, std::string_view) {
         v1::Account account;
         RpcResult r = GetAccount(channel, kIdA, &account);
         if (r.status.ok()) {
           EXPECT_EQ(account.citizen_id(), kIdA);
         }
         return r;
       }},
      {kCreditCollectiveSubsidy, 1, command(CreditCollectiveSubsidy, collective)},
      {kRefundContribution, 1, command(RefundContribution, refund)},
      {kDetermineBenefit, 1, command(DetermineBenefit, determine)},
      {kSuspendBenefit, 1, command(SuspendBenefit, suspend)},
      {kResumeBenefit, 1, command(ResumeBenefit, resume)},
      {kReceiveFiscalFunds, 1, command(ReceiveFiscalFunds, funds)},
      // Died; the two months due (May, June: no benefit run yet) paid from the funds above. No
      // funeral subsidy: the demo policy's v1 is in force in 2025 (the Yanji rules, v2, from
      // 2026-01-01); no balance: no inheritance.
      {kRecordDeath, 3, command(RecordDeath, death)},
      {kRecordOverpaymentRecovery, 1, command(RecordOverpaymentRecovery, recovery)},
      {kTerminateParticipant, 1, command(TerminateParticipant, terminate)},
      {kTransferOut, 1, command(TransferOut, transfer_out)},
      {kTransferIn, 1, command(TransferIn, transfer_in)},
      {kRecordCadreRole, 1, command(RecordCadreRole, cadre_role)},
      {kCreditCadreSubsidy, 1, command(CreditCadreSubsidy, cadre_credit)},
      // kIdA's 2024 interest and JobCompleted.
      {kRunJob, 2,
       [&interest](const Channel& channel, std::string_view) {
         v1::JobProgress progress;
         RpcResult r = RunJob(channel, interest, &progress);
         if (r.status.ok()) {
           EXPECT_TRUE(progress.completed());
           EXPECT_EQ(progress.accounts_credited(), 1u);
           EXPECT_EQ(progress.total_fen(), 2620);  // 1000 yuan × 2.62 %
         }
         return r;
       }},
      {kGetStatement, 0,
       [](const Channel& channel, std::string_view) {
         v1::Statement statement;
         RpcResult r = GetStatement(channel, kIdA, 2023, &statement);
         if (r.status.ok()) {
           EXPECT_EQ(statement.citizen_id(), kIdA);
           EXPECT_EQ(statement.opening_total_fen(), 50000);
           EXPECT_EQ(statement.closing_total_fen(), 100000);
         }
         return r;
       }},
      {kAdoptPolicy, 1,
       [&version2](const Channel& channel, std::string_view) {
         v1::AdoptPolicyResponse response;
         return Adopt(channel, version2, &response);
       }},
      {kGetPolicy, 0,
       [](const Channel& channel, std::string_view) {
         v1::Policy policy;
         RpcResult r = GetPolicy(channel, kRegion, &policy);
         if (r.status.ok()) {
           EXPECT_EQ(policy.region_code(), kRegion);
         }
         return r;
       }},
      {kBackup, 0,
       [](const Channel& channel, std::string_view identity) {
         const std::string dir = StrCat(::testing::TempDir(), "auth_backup_", identity, "_",
                                        static_cast<int64_t>(getpid()));
         std::filesystem::remove_all(dir);
         grpc::ClientContext context;
         SetDeadline(context);
         v1::BackupRequest request;
         request.set_directory(dir);
         v1::BackupResponse response;
         grpc::Status status =
             v1::AdminService::NewStub(channel)->Backup(&context, request, &response);
         EXPECT_EQ(std::filesystem::exists(dir), status.ok()) << "only an allowed backup writes";
         std::filesystem::remove_all(dir);
         return RpcResult{status, ReasonOf(context)};
       }},
      {kGetLedgerBalances, 0,
       [](const Channel& channel, std::string_view identity) {
         v1::LedgerBalances balances;
         RpcResult r = GetLedgerBalances(channel, kRegion, &balances);
         if (r.status.ok()) {
           // The tax bureau's two receipts, less what the fund agency's remittance (below, so
           // after this call as the agency, before it as the auditor) took off.
           const int64_t remitted = identity == std::string_view(kAuditor) ? 30000 : 0;
           EXPECT_EQ(balances.balances_fen().at("tax_receivable"), 100000 - remitted);
         }
         return r;
       }},
  };
  const std::vector<Method> audit_methods = {
      {kStreamEvents, 0,
       [](const Channel& channel, std::string_view) {
         grpc::ClientContext context;
         SetDeadline(context);
         v1::StreamEventsRequest request;
         request.set_from_sequence(1);
         request.set_to_sequence(3);
         auto reader = v1::AuditService::NewStub(channel)->StreamEvents(&context, request);
         std::vector<uint64_t> sequences;
         for (v1::AuditEvent e; reader->Read(&e);) {
           sequences.push_back(e.event().sequence());
           EXPECT_EQ(e.event().hash(), ledger::Sha256(e.stored()));
         }
         grpc::Status status = reader->Finish();
         if (status.ok()) {
           EXPECT_EQ(sequences, (std::vector<uint64_t>{1, 2, 3}));
         }
         return RpcResult{status, ReasonOf(context)};
       }},
      {kVerifyChain, 0,
       [](const Channel& channel, std::string_view) {
         v1::VerifyChainRequest request;
         request.set_from_sequence(1);
         v1::VerifyChainResponse response;
         RpcResult r = Unary<v1::AuditService>(channel, [&](auto& stub, grpc::ClientContext& c) {
           return stub.VerifyChain(&c, request, &response);
         });
         if (r.status.ok()) {
           EXPECT_TRUE(response.ok()) << response.reason();
         }
         return r;
       }},
      {kGetCheckpoints, 0,
       [](const Channel& channel, std::string_view) {
         v1::GetCheckpointsRequest request;
         v1::Checkpoints response;
         return Unary<v1::AuditService>(channel, [&](auto& stub, grpc::ClientContext& c) {
           return stub.GetCheckpoints(&c, request, &response);
         });
       }},
      {kBalanceAsOf, 0,
       [](const Channel& channel, std::string_view) {
         v1::BalanceAsOfRequest request;
         request.set_ledger_account(StrCat(kRegion, "/tax_receivable"));
         request.set_as_of_date("2025-05-31");  // before the fund methods' remittance
         v1::BalanceAsOfResponse response;
         RpcResult r = Unary<v1::AuditService>(channel, [&](auto& stub, grpc::ClientContext& c) {
           return stub.BalanceAsOf(&c, request, &response);
         });
         if (r.status.ok()) {
           EXPECT_EQ(response.total_fen(), 100000);  // the two receipts
         }
         return r;
       }},
      {kReplayCompare, 0,
       [](const Channel& channel, std::string_view) {
         v1::ReplayCompareRequest request;
         v1::ReplayCompareResponse response;
         RpcResult r = Unary<v1::AuditService>(channel, [&](auto& stub, grpc::ClientContext& c) {
           return stub.ReplayCompare(&c, request, &response);
         });
         if (r.status.ok()) {
           EXPECT_TRUE(response.equal()) << response.first_difference();
         }
         return r;
       }},
  };
  methods.insert(methods.end(), audit_methods.begin(), audit_methods.end());
  // The fund's own money and the reconciliation.
  v1::ReceiveTaxRemittanceRequest remit;
  remit.set_region_code(kRegion);
  remit.set_bank_account(v1::BANK_ACCOUNT_INCOME);
  remit.set_amount_fen(30000);
  remit.set_date("2025-06-01");
  remit.set_document_ref("AUTH-REMIT");
  v1::TransferBetweenFundAccountsRequest sweep;
  sweep.set_region_code(kRegion);
  sweep.set_from_account(v1::BANK_ACCOUNT_INCOME);
  sweep.set_to_account(v1::BANK_ACCOUNT_SPECIAL);
  sweep.set_amount_fen(20000);
  sweep.set_date("2025-06-02");
  sweep.set_document_ref("AUTH-SWEEP");
  v1::ReceiveBankInterestRequest bank_interest;
  bank_interest.set_region_code(kRegion);
  bank_interest.set_bank_account(v1::BANK_ACCOUNT_INCOME);
  bank_interest.set_amount_fen(15);
  bank_interest.set_date("2025-06-20");
  bank_interest.set_document_ref("AUTH-BANK-INTEREST");
  v1::ReportBankBalanceRequest statement_balance;
  statement_balance.set_region_code(kRegion);
  statement_balance.set_bank_account(v1::BANK_ACCOUNT_INCOME);
  statement_balance.set_balance_fen(10015);
  statement_balance.set_date("2025-06-30");
  statement_balance.set_document_ref("AUTH-BANK-BALANCE");
  const std::vector<Method> fund_methods = {
      {kReportDailyTotals, 1,
       [](const Channel& channel, std::string_view) {
         v1::ReportDailyTotalsRequest request;
         request.set_region_code(kRegion);
         request.set_collection_date("2023-03-01");
         request.set_tax_office("22240100");
         request.set_record_count(1);
         request.set_total_fen(50000);
         request.set_document_ref("AUTH-TOTALS");
         v1::ReportDailyTotalsResponse response;
         RpcResult r = Unary<v1::CollectionService>(channel, [&](auto& stub, grpc::ClientContext& c) {
           return stub.ReportDailyTotals(&c, request, &response);
         });
         if (r.status.ok()) {
           EXPECT_EQ(response.reconciliation().status(), v1::RECON_STATUS_MATCHED);
         }
         return r;
       }},
      {kReceiveTaxRemittance, 1, command(ReceiveTaxRemittance, remit)},
      {kTransferBetweenFundAccounts, 1, command(TransferBetweenFundAccounts, sweep)},
      {kReceiveBankInterest, 1, command(ReceiveBankInterest, bank_interest)},
      {kReportBankBalance, 1, command(ReportBankBalance, statement_balance)},
      {kGetFundBalance, 0,
       [](const Channel& channel, std::string_view) {
         v1::GetFundBalanceRequest request;
         request.set_region_code(kRegion);
         request.set_bank_account(v1::BANK_ACCOUNT_INCOME);
         request.set_as_of_date("2025-06-30");
         v1::FundBalance response;
         RpcResult r = Unary<v1::FundService>(channel, [&](auto& stub, grpc::ClientContext& c) {
           return stub.GetFundBalance(&c, request, &response);
         });
         if (r.status.ok()) {
           EXPECT_EQ(response.balance_fen(), 30000 - 20000 + 15);
         }
         return r;
       }},
      {kGetReconciliation, 0,
       [](const Channel& channel, std::string_view) {
         v1::ReconciliationRequest request;
         request.set_region_code(kRegion);
         v1::Reconciliation response;
         RpcResult r = Unary<v1::FundService>(channel, [&](auto& stub, grpc::ClientContext& c) {
           return stub.GetReconciliation(&c, request, &response);
         });
         if (r.status.ok()) {
           EXPECT_EQ(response.summary().tax_days_matched(), 1u);
           EXPECT_EQ(response.summary().bank_statements(), 1u);
           EXPECT_EQ(response.summary().bank_statements_in_break(), 0u);
           EXPECT_EQ(response.summary().regions_in_break(), 0u);
         }
         return r;
       }},
  };
  methods.insert(methods.end(), fund_methods.begin(), fund_methods.end());
  ASSERT_EQ(methods.size(), services::MethodRoles().size()) << "a method is missing here";
  for (const Method& method : methods) {
    EXPECT_TRUE(services::MethodRoles().contains(method.name)) << method.name;
  }

  int allowed = 0;
  for (const char* identity : kMatrixIdentities) {
    const Channel channel = Connect(identity);
    for (const Method& method : methods) {
      SCOPED_TRACE(StrCat(method.name, " as ", identity));
      const uint64_t head = Head();
      const RpcResult r = method.call(channel, identity);
      switch (Expected(identity, method.name)) {
        case Expect::kAllowed:
          ++allowed;
          EXPECT_NE(r.status.error_code(), grpc::StatusCode::PERMISSION_DENIED)
              << Describe(r.status);
          EXPECT_NE(r.status.error_code(), grpc::StatusCode::UNAUTHENTICATED) << Describe(r.status);
          EXPECT_NE(r.status.error_code(), grpc::StatusCode::UNAVAILABLE) << Describe(r.status);
          // Every request here is valid, so an allowed call succeeds outright.
          EXPECT_TRUE(r.status.ok()) << Describe(r.status) << " [" << r.reason << "]";
          EXPECT_EQ(Head(), head + method.events);
          continue;
        case Expect::kRoleDenied:
          EXPECT_EQ(r.status.error_code(), grpc::StatusCode::PERMISSION_DENIED)
              << Describe(r.status);
          EXPECT_EQ(r.reason, "REASON_ROLE_NOT_PERMITTED");
          break;
        case Expect::kNoCertificate:
          EXPECT_EQ(r.status.error_code(), grpc::StatusCode::UNAUTHENTICATED) << Describe(r.status);
          EXPECT_EQ(r.reason, "REASON_NO_CLIENT_CERTIFICATE");
          break;
        case Expect::kHandshakeRefused:
          // Not UNAUTHENTICATED: the server verifies the client certificate (against the client
          // CA, including its validity period) during the TLS handshake and aborts the
          // handshake, so no HTTP/2 connection exists, no method runs and no ledger-reason
          // trailer can be sent. The client sees a connection failure: UNAVAILABLE.
          EXPECT_EQ(r.status.error_code(), grpc::StatusCode::UNAVAILABLE) << Describe(r.status);
          EXPECT_EQ(r.reason, "");
          break;
      }
      EXPECT_EQ(Head(), head) << "a denied call changed the ledger";
    }
  }
  // tax-bureau 4, fund-agency 29, auditor 11, admin 6.
  EXPECT_EQ(allowed, 50);

  // The allowed calls did what they say (each ran once, as the fund agency).
  auto old = ledger_->GetAccount(old_id);
  ASSERT_TRUE(old.ok() && old->has_value());
  EXPECT_EQ((*old)->status(), v1::PARTICIPANT_STATUS_DECEASED);
  auto b = ledger_->GetAccount(kIdB);
  ASSERT_TRUE(b.ok() && b->has_value());
  EXPECT_EQ((*b)->status(), v1::PARTICIPANT_STATUS_CONTRIBUTING);
  EXPECT_EQ((*b)->region_code(), kOtherRegion);
  auto a = ledger_->GetAccount(kIdA);
  ASSERT_TRUE(a.ok() && a->has_value());
  // 2023's 500 yuan, its 900 yuan collective subsidy and 2024's interest (2022's was refunded).
  EXPECT_EQ((*a)->total_fen(), 50000 + 90000 + 2620);
}

// The server certificate names both localhost and 127.0.0.1: clients may use either.
TEST_F(AuthTest, ClientsMayNameTheServerLocalhostOr127001) {
  for (std::string_view host : {"localhost", "127.0.0.1"}) {
    SCOPED_TRACE(host);
    v1::Policy policy;
    RpcResult r = GetPolicy(Connect(kAuditor, host), kRegion, &policy);
    ASSERT_TRUE(r.status.ok()) << Describe(r.status);
    EXPECT_EQ(policy.version(), demo_policy_.version());
  }
}

// A certificate of the ledger's own CA that is not for client authentication (the server's: its
// extended key usage is serverAuth only) is refused in the handshake like a foreign one.
TEST_F(AuthTest, CertificateWithoutClientAuthUsageIsRefusedInTheHandshake) {
  const uint64_t head = Head();
  v1::Policy policy;
  RpcResult r = GetPolicy(Connect("server"), kRegion, &policy);
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::UNAVAILABLE) << Describe(r.status);
  v1::PushCollectionsResponse response;
  r = Push(Connect("server"), {AddRecord("SERVER-1", kIdA, 2024, 50000, "2024-03-01")}, &response);
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::UNAVAILABLE) << Describe(r.status);
  EXPECT_EQ(Head(), head);
}

// --- 2. the one table covers exactly the real methods -------------------------------------------

TEST(MethodRolesTest, EveryServiceMethodHasAnEntryAndEveryEntryIsARealMethod) {
  const auto* pool = google::protobuf::DescriptorPool::generated_pool();
  std::set<std::string> methods;
  for (const char* name :
       {v1::CollectionService::service_full_name(), v1::AccountService::service_full_name(),
        v1::PolicyService::service_full_name(), v1::AdminService::service_full_name(),
        v1::FundService::service_full_name(), v1::AuditService::service_full_name()}) {
    const google::protobuf::ServiceDescriptor* service = pool->FindServiceByName(name);
    ASSERT_NE(service, nullptr) << name;
    // Any service added to the same file is covered too.
    const google::protobuf::FileDescriptor* file = service->file();
    EXPECT_EQ(file->service_count(), 6) << "a new service: add it to this test";
    for (int s = 0; s < file->service_count(); ++s) {
      const google::protobuf::ServiceDescriptor* in_file = file->service(s);
      for (int m = 0; m < in_file->method_count(); ++m) {
        methods.insert(StrCat("/", in_file->full_name(), "/", in_file->method(m)->name()));
      }
    }
  }
  EXPECT_EQ(methods.size(), 35u);
  for (const char* method :
       {kPushCollections, kStreamCollections, kEnrol, kGetAccount, kCreditCollectiveSubsidy,
        kRecordCadreRole, kCreditCadreSubsidy,
        kRefundContribution, kDetermineBenefit, kSuspendBenefit, kResumeBenefit, kRecordDeath,
        kRecordOverpaymentRecovery, kTerminateParticipant, kTransferOut, kTransferIn, kRunJob, kGetStatement, kAdoptPolicy, kGetPolicy, kBackup,
        kReceiveFiscalFunds, kGetLedgerBalances, kStreamEvents, kVerifyChain, kGetCheckpoints,
        kBalanceAsOf, kReplayCompare, kReceiveTaxRemittance, kTransferBetweenFundAccounts,
        kReceiveBankInterest, kReportBankBalance, kGetFundBalance, kGetReconciliation,
        kReportDailyTotals}) {
    EXPECT_TRUE(methods.contains(method)) << method;
  }
  // RunJob and StreamEvents stream from the server.
  const auto* run_job = pool->FindMethodByName("ledger.v1.AccountService.RunJob");
  ASSERT_NE(run_job, nullptr);
  EXPECT_TRUE(run_job->server_streaming());
  EXPECT_FALSE(run_job->client_streaming());

  const auto& table = services::MethodRoles();
  for (const std::string& method : methods) {
    EXPECT_TRUE(table.contains(method)) << method << " has no entry in MethodRoles()";
  }
  for (const auto& [method, roles] : table) {
    EXPECT_TRUE(methods.contains(method)) << method << " in MethodRoles() is not a real method";
    EXPECT_FALSE(roles.empty()) << method << " is open to nobody";
  }
}

TEST(MethodRolesTest, TableMatchesTheSpecification) {
  std::map<std::string, std::set<std::string>> from_table;
  for (const auto& [method, roles] : services::MethodRoles()) {
    for (Role role : roles) from_table[std::string(services::RoleName(role))].insert(method);
  }
  EXPECT_EQ(from_table, SpecifiedAccess());
}

TEST(RoleNameTest, RoundTripsAndRejectsUnknownNames) {
  for (Role role : {Role::kTaxBureau, Role::kFundAgency, Role::kAuditor, Role::kAdmin}) {
    EXPECT_EQ(services::RoleFromName(services::RoleName(role)), role);
  }
  EXPECT_EQ(services::RoleName(Role::kTaxBureau), "tax-bureau");
  EXPECT_FALSE(services::RoleFromName("server").has_value());
  EXPECT_FALSE(services::RoleFromName("Tax-Bureau").has_value());
  EXPECT_FALSE(services::RoleFromName("").has_value());
}

// Authorize() consults the table before looking at the caller, so a bare ServerContext is enough
// to check that a method not in the table is denied, even in plain-text development mode.
TEST(AuthorizerTest, DeniesAMethodNotInTheTable) {
  for (bool plaintext_dev : {false, true}) {
    for (const char* method : {"/ledger.v1.CollectionService/DeleteEverything",
                               "/ledger.v1.collectionservice/pushcollections",
                               "/ledger.v1.CollectionService/PushCollections/", ""}) {
      SCOPED_TRACE(StrCat(method, plaintext_dev ? " (plain text)" : " (TLS)"));
      grpc::ServerContext context;
      const services::Authorizer authorizer(plaintext_dev);
      const auto caller = authorizer.Authorize(&context, method);
      EXPECT_EQ(caller.status().code(), absl::StatusCode::kPermissionDenied) << caller.status();
    }
  }
}

// --- 3. identity: the actor, role and regions --------------------------------------------------

TEST_F(AuthTest, EventsRecordTheCertificateSubjectAsActor) {
  const uint64_t head = Head();
  v1::PushCollectionsResponse pushed;
  RpcResult r = Push(Connect(kTaxBureau, "localhost"),
                     {AddRecord("ACTOR-1", kIdA, 2024, 50000, "2024-03-01")}, &pushed);
  ASSERT_TRUE(r.status.ok()) << Describe(r.status);
  ASSERT_EQ(pushed.outcomes_size(), 1);
  ASSERT_EQ(pushed.outcomes(0).outcome(), v1::OUTCOME_ACCEPTED) << pushed.outcomes(0).detail();
  EXPECT_EQ(pushed.outcomes(0).sequence(), head + 1);

  v1::EnrolResponse enrolled;
  r = Enrol(Connect(kFundAgency), Participant(kIdB, "李梅"), &enrolled);
  ASSERT_TRUE(r.status.ok()) << Describe(r.status);
  EXPECT_EQ(enrolled.sequence(), head + 2);

  v1::Policy version2 = demo_policy_;
  version2.set_version(2);
  v1::AdoptPolicyResponse adopted;
  r = Adopt(Connect(kAdmin), version2, &adopted);
  ASSERT_TRUE(r.status.ok()) << Describe(r.status);
  EXPECT_EQ(adopted.sequence(), head + 3);

  v1::PushCollectionsResponse streamed;
  r = Stream(Connect(kTaxBureauYanji), {{AddRecord("ACTOR-2", kIdB, 2024, 50000, "2024-03-01")}},
             &streamed);
  ASSERT_TRUE(r.status.ok()) << Describe(r.status);
  ASSERT_EQ(streamed.outcomes_size(), 1);
  EXPECT_EQ(streamed.outcomes(0).sequence(), head + 4);

  const std::pair<uint64_t, std::string> want[] = {
      {head + 1, "CN=tax-bureau-dev,OU=tax-bureau,O=Pension Ledger Dev"},
      {head + 2, "CN=fund-agency-dev,OU=fund-agency,O=Pension Ledger Dev"},
      {head + 3, "CN=admin-dev,OU=admin,O=Pension Ledger Dev"},
      {head + 4, "CN=tax-bureau-yanji-dev,OU=tax-bureau,O=Pension Ledger Dev"},
  };
  for (const auto& [sequence, actor] : want) {
    SCOPED_TRACE(sequence);
    auto event = ledger_->ReadEvent(sequence);
    ASSERT_TRUE(event.ok()) << event.status();
    EXPECT_EQ(event->actor(), actor);
  }
  EXPECT_EQ(Head(), head + 4);
}

TEST_F(AuthTest, CallerFromCertificateReadsRoleRegionsAndSubject) {
  struct Case {
    std::string file;
    std::optional<Role> role;
    std::vector<std::string> regions;
    std::string actor;
  };
  const std::vector<Case> cases = {
      {kTaxBureau, Role::kTaxBureau, {}, "CN=tax-bureau-dev,OU=tax-bureau,O=Pension Ledger Dev"},
      {kFundAgency,
       Role::kFundAgency,
       {},
       "CN=fund-agency-dev,OU=fund-agency,O=Pension Ledger Dev"},
      {kAuditor, Role::kAuditor, {}, "CN=auditor-dev,OU=auditor,O=Pension Ledger Dev"},
      {kAdmin, Role::kAdmin, {}, "CN=admin-dev,OU=admin,O=Pension Ledger Dev"},
      {kTaxBureauYanji,
       Role::kTaxBureau,
       {"222401"},
       "CN=tax-bureau-yanji-dev,OU=tax-bureau,O=Pension Ledger Dev"},
      {kNoRole, std::nullopt, {}, "CN=no-role-dev,O=Pension Ledger Dev"},
      // OU=server is not a role.
      {"server", std::nullopt, {}, "CN=localhost,OU=server,O=Pension Ledger Dev"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.file);
    auto caller = services::CallerFromCertificate(Pem(CertFile(c.file)));
    ASSERT_TRUE(caller.ok()) << caller.status();
    EXPECT_EQ(caller->role, c.role);
    EXPECT_EQ(caller->regions, c.regions);
    EXPECT_EQ(caller->actor, c.actor);
  }

  auto yanji = services::CallerFromCertificate(Pem(CertFile(kTaxBureauYanji)));
  ASSERT_TRUE(yanji.ok()) << yanji.status();
  EXPECT_TRUE(yanji->MayAccessRegion(kRegion));
  EXPECT_FALSE(yanji->MayAccessRegion(kOtherRegion));
  EXPECT_FALSE(yanji->MayAccessRegion(""));
  auto everywhere = services::CallerFromCertificate(Pem(CertFile(kTaxBureau)));
  ASSERT_TRUE(everywhere.ok()) << everywhere.status();
  EXPECT_TRUE(everywhere->MayAccessRegion(kRegion));
  EXPECT_TRUE(everywhere->MayAccessRegion(kOtherRegion));

  for (const std::string& garbage :
       {std::string(), std::string("not a certificate"),
        std::string("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
        Pem(KeyFile(kTaxBureau))}) {
    EXPECT_EQ(services::CallerFromCertificate(garbage).status().code(),
              absl::StatusCode::kInvalidArgument);
  }
}

// --- 4. a certificate limited to one region ----------------------------------------------------

TEST_F(AuthTest, RegionLimitedCertificateIsRejectedPerRecordOutsideItsRegion) {
  ASSERT_NO_FATAL_FAILURE(AdoptOtherRegionPolicy());
  const uint64_t head = Head();
  const v1::CollectionRecord mine = AddRecord("REG-1", kIdA, 2024, 50000, "2024-03-01");
  const v1::CollectionRecord other = AddRecord("REG-2", kIdC, 2024, 50000, "2024-03-01", kOtherRegion);

  v1::PushCollectionsResponse response;
  RpcResult r = Push(Connect(kTaxBureauYanji), {mine, other}, &response);
  ASSERT_TRUE(r.status.ok()) << Describe(r.status);
  ASSERT_EQ(response.outcomes_size(), 2);
  EXPECT_EQ(response.outcomes(0).index(), 0u);
  EXPECT_EQ(response.outcomes(0).outcome(), v1::OUTCOME_ACCEPTED) << response.outcomes(0).detail();
  EXPECT_EQ(response.outcomes(0).sequence(), head + 1);
  EXPECT_EQ(response.outcomes(1).index(), 1u);
  EXPECT_EQ(response.outcomes(1).outcome(), v1::OUTCOME_REJECTED);
  EXPECT_EQ(response.outcomes(1).reason(), v1::REASON_REGION_NOT_PERMITTED)
      << v1::Reason_Name(response.outcomes(1).reason());
  EXPECT_EQ(response.outcomes(1).sequence(), 0u);
  EXPECT_THAT(response.outcomes(1).detail(), HasSubstr(kOtherRegion));
  EXPECT_EQ(response.accepted_count(), 1u);
  EXPECT_EQ(response.rejected_count(), 1u);
  EXPECT_EQ(Head(), head + 1);

  // Nothing was written for the second record: the unrestricted tax bureau's identical push is new
  // (SUSPENSE: not enrolled), not a DUPLICATE.
  v1::PushCollectionsResponse unrestricted;
  r = Push(Connect(kTaxBureau), {other}, &unrestricted);
  ASSERT_TRUE(r.status.ok()) << Describe(r.status);
  ASSERT_EQ(unrestricted.outcomes_size(), 1);
  EXPECT_EQ(unrestricted.outcomes(0).outcome(), v1::OUTCOME_SUSPENSE)
      << unrestricted.outcomes(0).detail();
  EXPECT_EQ(unrestricted.outcomes(0).sequence(), head + 2);
}

TEST_F(AuthTest, RegionLimitedCertificateOnAStreamKeepsIndicesAcrossMessages) {
  ASSERT_NO_FATAL_FAILURE(AdoptOtherRegionPolicy());
  const uint64_t head = Head();
  const v1::CollectionRecord other1 = AddRecord("SREG-1", kIdC, 2024, 50000, "2024-03-01", kOtherRegion);
  const v1::CollectionRecord mine = AddRecord("SREG-2", kIdA, 2023, 50000, "2023-03-01");
  const v1::CollectionRecord other2 = AddRecord("SREG-3", kIdC, 2023, 50000, "2023-03-01", kOtherRegion);

  v1::PushCollectionsResponse response;
  RpcResult r = Stream(Connect(kTaxBureauYanji), {{other1}, {mine, other2}}, &response);
  ASSERT_TRUE(r.status.ok()) << Describe(r.status);
  ASSERT_EQ(response.outcomes_size(), 3);
  for (uint32_t i : {0u, 2u}) {
    SCOPED_TRACE(i);
    EXPECT_EQ(response.outcomes(i).index(), i);
    EXPECT_EQ(response.outcomes(i).outcome(), v1::OUTCOME_REJECTED);
    EXPECT_EQ(response.outcomes(i).reason(), v1::REASON_REGION_NOT_PERMITTED)
        << v1::Reason_Name(response.outcomes(i).reason());
    EXPECT_EQ(response.outcomes(i).sequence(), 0u);
  }
  EXPECT_EQ(response.outcomes(1).index(), 1u);
  EXPECT_EQ(response.outcomes(1).outcome(), v1::OUTCOME_ACCEPTED) << response.outcomes(1).detail();
  EXPECT_EQ(response.outcomes(1).sequence(), head + 1);
  EXPECT_EQ(response.accepted_count(), 1u);
  EXPECT_EQ(response.rejected_count(), 2u);
  EXPECT_EQ(Head(), head + 1);

  v1::PushCollectionsResponse unrestricted;
  r = Push(Connect(kTaxBureau), {other1, other2}, &unrestricted);
  ASSERT_TRUE(r.status.ok()) << Describe(r.status);
  ASSERT_EQ(unrestricted.outcomes_size(), 2);
  EXPECT_EQ(unrestricted.suspense_count(), 2u);
  EXPECT_EQ(unrestricted.duplicate_count(), 0u);
  EXPECT_EQ(Head(), head + 3);
}

// A fund agency limited to kOtherRegion may run the lifecycle there, and nowhere else: every
// lifecycle command acting in kRegion (the participant's region, the receipt's, ReceiveFiscalFunds'
// region_code, TransferIn's to_region, RunJob's region_code) is PERMISSION_DENIED before the
// ledger sees it, and changes nothing.
TEST_F(AuthTest, RegionLimitedFundAgencyIsDeniedLifecycleCommandsOutsideItsRegion) {
  ASSERT_NO_FATAL_FAILURE(AdoptOtherRegionPolicy());
  v1::PushCollectionsResponse pushed;
  RpcResult r = Push(Connect(kTaxBureau), {AddRecord("SCOPE-1", kIdA, 2024, 50000, "2024-03-01")},
                     &pushed);
  ASSERT_TRUE(r.status.ok()) << Describe(r.status);
  ASSERT_EQ(pushed.accepted_count(), 1u);

  const Channel limited = Connect(kFundAgencyOtherRegion);
  const Channel agency = Connect(kFundAgency);
  v1::Account account_before;
  ASSERT_TRUE(GetAccount(agency, kIdA, &account_before).status.ok());
  const auto balances_before = ledger_->LedgerAccountBalances();
  const uint64_t head = Head();

  v1::CreditCollectiveSubsidyRequest collective;
  collective.set_citizen_id(kIdA);
  collective.set_contribution_year(2024);
  collective.set_amount_fen(90000);
  collective.set_source(v1::FUNDING_SOURCE_COLLECTIVE);
  collective.set_payer("村集体");
  collective.set_date("2025-03-01");
  collective.set_document_ref("SCOPE-COLLECTIVE");
  v1::RefundContributionRequest refund;
  refund.set_receipt_number("SCOPE-1");
  refund.set_reason(v1::REFUND_REASON_OTHER);
  refund.set_date("2025-03-01");
  refund.set_document_ref("SCOPE-REFUND");
  v1::DetermineBenefitRequest determine;
  determine.set_citizen_id(kIdA);
  determine.set_date("2025-06-01");
  determine.set_document_ref("SCOPE-DETERMINE");
  v1::SuspendBenefitRequest suspend;
  suspend.set_citizen_id(kIdA);
  suspend.set_from_month(202507);
  suspend.set_date("2025-06-01");
  suspend.set_document_ref("SCOPE-SUSPEND");
  v1::ResumeBenefitRequest resume;
  resume.set_citizen_id(kIdA);
  resume.set_month(202507);
  resume.set_date("2025-06-01");
  resume.set_document_ref("SCOPE-RESUME");
  v1::RecordDeathRequest death;
  death.set_citizen_id(kIdA);
  death.set_date_of_death("2025-05-01");
  death.set_date("2025-06-01");
  death.set_document_ref("SCOPE-DEATH");
  v1::RecordOverpaymentRecoveryRequest recovery;
  recovery.set_citizen_id(kIdA);
  recovery.set_amount_fen(100);
  recovery.set_date("2025-06-01");
  recovery.set_method(v1::OVERPAYMENT_RECOVERY_METHOD_WRITTEN_OFF);
  recovery.set_document_ref("SCOPE-RECOVERY");
  v1::TerminateParticipantRequest terminate;
  terminate.set_citizen_id(kIdA);
  terminate.set_reason(v1::TERMINATION_REASON_SETTLED_ABROAD);
  terminate.set_date("2025-06-01");
  terminate.set_document_ref("SCOPE-TERMINATE");
  v1::RecordCadreRoleRequest cadre_role;
  cadre_role.set_citizen_id(kIdA);
  cadre_role.set_served_from("2024-01-01");
  cadre_role.set_date("2025-06-01");
  cadre_role.set_document_ref("SCOPE-CADRE-ROLE");
  v1::CreditCadreSubsidyRequest cadre_credit;
  cadre_credit.set_citizen_id(kIdA);
  cadre_credit.set_year(2024);
  cadre_credit.set_amount_fen(90000);
  cadre_credit.set_date("2025-06-01");
  cadre_credit.set_document_ref("SCOPE-CADRE-CREDIT");
  v1::TransferOutRequest transfer_out;  // even towards the certificate's own region
  transfer_out.set_citizen_id(kIdA);
  transfer_out.set_to_region(kOtherRegion);
  transfer_out.set_date("2025-06-01");
  transfer_out.set_document_ref("SCOPE-TRANSFER-OUT");
  v1::TransferInRequest transfer_in;  // even from the certificate's own region
  transfer_in.set_citizen_id(kIdA);
  transfer_in.set_from_region(kOtherRegion);
  transfer_in.set_to_region(kRegion);
  transfer_in.set_date("2025-06-01");
  transfer_in.set_document_ref("SCOPE-TRANSFER-IN");
  v1::JobRequest job;
  job.set_kind(v1::JOB_KIND_INTEREST);
  job.set_region_code(kRegion);
  job.set_period(2024);
  v1::ReceiveFiscalFundsRequest funds;
  funds.set_region_code(kRegion);
  funds.set_purpose(v1::FISCAL_PURPOSE_CONTRIBUTION_SUBSIDY);
  funds.set_year(2024);
  funds.set_amount_fen(6000);
  funds.set_date("2025-01-10");
  funds.set_document_ref("SCOPE-FUNDS");

  v1::ReceiveTaxRemittanceRequest remit;
  remit.set_region_code(kRegion);
  remit.set_bank_account(v1::BANK_ACCOUNT_SPECIAL);
  remit.set_amount_fen(100);
  remit.set_date("2025-01-10");
  remit.set_document_ref("SCOPE-REMIT");
  v1::TransferBetweenFundAccountsRequest sweep;
  sweep.set_region_code(kRegion);
  sweep.set_from_account(v1::BANK_ACCOUNT_SPECIAL);
  sweep.set_to_account(v1::BANK_ACCOUNT_PAYMENT);
  sweep.set_amount_fen(1);
  sweep.set_date("2025-01-10");
  sweep.set_document_ref("SCOPE-SWEEP");
  v1::ReceiveBankInterestRequest bank_interest;
  bank_interest.set_region_code(kRegion);
  bank_interest.set_bank_account(v1::BANK_ACCOUNT_SPECIAL);
  bank_interest.set_amount_fen(1);
  bank_interest.set_date("2025-01-10");
  bank_interest.set_document_ref("SCOPE-BANK-INTEREST");
  v1::ReportBankBalanceRequest statement_balance;
  statement_balance.set_region_code(kRegion);
  statement_balance.set_bank_account(v1::BANK_ACCOUNT_SPECIAL);
  statement_balance.set_balance_fen(0);
  statement_balance.set_date("2025-01-10");
  statement_balance.set_document_ref("SCOPE-BANK-BALANCE");

  v1::CommandResponse response;
  v1::JobProgress progress;
  const std::vector<std::pair<std::string, std::function<RpcResult()>>> calls = {
      {kReceiveTaxRemittance, [&] { return ReceiveTaxRemittance(limited, remit, &response); }},
      {kTransferBetweenFundAccounts,
       [&] { return TransferBetweenFundAccounts(limited, sweep, &response); }},
      {kReceiveBankInterest, [&] { return ReceiveBankInterest(limited, bank_interest, &response); }},
      {kReportBankBalance, [&] { return ReportBankBalance(limited, statement_balance, &response); }},
      {kCreditCollectiveSubsidy, [&] { return CreditCollectiveSubsidy(limited, collective, &response); }},
      {kRefundContribution, [&] { return RefundContribution(limited, refund, &response); }},
      {kDetermineBenefit, [&] { return DetermineBenefit(limited, determine, &response); }},
      {kSuspendBenefit, [&] { return SuspendBenefit(limited, suspend, &response); }},
      {kResumeBenefit, [&] { return ResumeBenefit(limited, resume, &response); }},
      {kRecordDeath, [&] { return RecordDeath(limited, death, &response); }},
      {kRecordOverpaymentRecovery,
       [&] { return RecordOverpaymentRecovery(limited, recovery, &response); }},
      {kTerminateParticipant, [&] { return TerminateParticipant(limited, terminate, &response); }},
      {kRecordCadreRole, [&] { return RecordCadreRole(limited, cadre_role, &response); }},
      {kCreditCadreSubsidy, [&] { return CreditCadreSubsidy(limited, cadre_credit, &response); }},
      {kTransferOut, [&] { return TransferOut(limited, transfer_out, &response); }},
      {kTransferIn, [&] { return TransferIn(limited, transfer_in, &response); }},
      {kRunJob, [&] { return RunJob(limited, job, &progress); }},
      {kReceiveFiscalFunds, [&] { return ReceiveFiscalFunds(limited, funds, &response); }},
  };
  std::set<std::string> covered;
  for (const auto& [method, call] : calls) {
    SCOPED_TRACE(method);
    covered.insert(method);
    response.Clear();
    progress.Clear();
    const RpcResult denied = call();
    EXPECT_EQ(denied.status.error_code(), grpc::StatusCode::PERMISSION_DENIED)
        << Describe(denied.status);
    EXPECT_EQ(denied.reason, "REASON_REGION_NOT_PERMITTED");
    EXPECT_THAT(denied.status.error_message(), HasSubstr(kRegion));
    EXPECT_EQ(response.first_sequence(), 0u);
    EXPECT_FALSE(progress.completed()) << "a denied job sent progress";
    EXPECT_EQ(Head(), head) << "a denied command changed the ledger";
  }
  EXPECT_EQ(covered, std::set<std::string>(std::begin(kRegionScopedCommands),
                                           std::end(kRegionScopedCommands)));

  // The region's balances are as closed to it as its commands.
  v1::LedgerBalances balances;
  r = GetLedgerBalances(limited, kRegion, &balances);
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << Describe(r.status);
  EXPECT_EQ(r.reason, "REASON_REGION_NOT_PERMITTED");
  EXPECT_EQ(balances.balances_fen_size(), 0);
  // So are its reconciliation and fund balances; naming no region means the certificate's own.
  v1::ReconciliationRequest recon_request;
  recon_request.set_region_code(kRegion);
  v1::Reconciliation recon;
  r = Unary<v1::FundService>(limited, [&](auto& stub, grpc::ClientContext& c) {
    return stub.GetReconciliation(&c, recon_request, &recon);
  });
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << Describe(r.status);
  EXPECT_EQ(r.reason, "REASON_REGION_NOT_PERMITTED");
  recon_request.clear_region_code();
  r = Unary<v1::FundService>(limited, [&](auto& stub, grpc::ClientContext& c) {
    return stub.GetReconciliation(&c, recon_request, &recon);
  });
  ASSERT_TRUE(r.status.ok()) << Describe(r.status);
  EXPECT_EQ(recon.request().region_code(), kOtherRegion);
  for (const auto& section : recon.individual_accounts()) {
    EXPECT_EQ(section.region_code(), kOtherRegion);
  }
  v1::GetFundBalanceRequest fund_request;
  fund_request.set_region_code(kRegion);
  fund_request.set_bank_account(v1::BANK_ACCOUNT_SPECIAL);
  v1::FundBalance fund_balance;
  r = Unary<v1::FundService>(limited, [&](auto& stub, grpc::ClientContext& c) {
    return stub.GetFundBalance(&c, fund_request, &fund_balance);
  });
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << Describe(r.status);
  // Reads of kRegion's people look like "not enrolled" (no existence oracle).
  v1::Account hidden;
  r = GetAccount(limited, kIdA, &hidden);
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::NOT_FOUND) << Describe(r.status);
  v1::Statement statement;
  r = GetStatement(limited, kIdA, 2024, &statement);
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::NOT_FOUND) << Describe(r.status);

  // Nothing changed.
  EXPECT_EQ(Head(), head);
  v1::Account account_after;
  ASSERT_TRUE(GetAccount(agency, kIdA, &account_after).status.ok());
  EXPECT_EQ(account_after.SerializeAsString(), account_before.SerializeAsString());
  EXPECT_EQ(ledger_->LedgerAccountBalances(), balances_before);

  // The certificate works in its own region ...
  v1::ReceiveFiscalFundsRequest own = funds;
  own.set_region_code(kOtherRegion);
  own.set_document_ref("SCOPE-FUNDS-OWN");
  r = ReceiveFiscalFunds(limited, own, &response);
  ASSERT_TRUE(r.status.ok()) << Describe(r.status);
  EXPECT_EQ(response.first_sequence(), head + 1);
  r = GetLedgerBalances(limited, kOtherRegion, &balances);
  ASSERT_TRUE(r.status.ok()) << Describe(r.status);
  EXPECT_EQ(balances.balances_fen().at("fiscal_funds/contribution_subsidy/2024"), -6000);
  EXPECT_EQ(balances.balances_fen().at("fund.special"), 6000);
  // ... and the denied requests were valid: the unrestricted agency's identical one succeeds.
  r = CreditCollectiveSubsidy(agency, collective, &response);
  ASSERT_TRUE(r.status.ok()) << Describe(r.status);
  EXPECT_EQ(response.first_sequence(), head + 2);
  EXPECT_FALSE(response.duplicate());
}

// --- 5. limits over TLS ------------------------------------------------------------------------

TEST_F(AuthTest, RequestOverTheMessageSizeLimitIsResourceExhausted) {
  constexpr int kMiB = 1024 * 1024;
  static_assert(ledger::kReceiveMessageBytesMax == 16 * kMiB);
  const Channel channel = Connect(kTaxBureau, "127.0.0.1", 64 * kMiB);
  const uint64_t head = Head();

  v1::CollectionRecord huge = AddRecord("HUGE-1", kIdA, 2024, 50000, "2024-03-01");
  huge.set_name(std::string(17 * kMiB, 'x'));
  v1::PushCollectionsResponse response;
  RpcResult r = Push(channel, {huge}, &response);
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << Describe(r.status);
  EXPECT_EQ(response.outcomes_size(), 0);
  EXPECT_EQ(Head(), head);

  // The same in a stream.
  v1::PushCollectionsResponse streamed;
  r = Stream(channel, {{huge}}, &streamed);
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << Describe(r.status);
  EXPECT_EQ(streamed.outcomes_size(), 0);
  EXPECT_EQ(Head(), head);

  // Under the limit (and far over gRPC's default 4 MiB) the message reaches the ledger, which
  // rejects the record for its name; nothing is written either.
  v1::CollectionRecord large = huge;
  large.set_name(std::string(15 * kMiB, 'x'));
  r = Push(channel, {large}, &response);
  ASSERT_TRUE(r.status.ok()) << Describe(r.status);
  ASSERT_EQ(response.outcomes_size(), 1);
  EXPECT_EQ(response.outcomes(0).outcome(), v1::OUTCOME_REJECTED);
  EXPECT_EQ(response.outcomes(0).reason(), v1::REASON_INVALID_FIELD)
      << v1::Reason_Name(response.outcomes(0).reason());
  EXPECT_EQ(Head(), head);

  // The connection is still usable.
  v1::PushCollectionsResponse ok;
  r = Push(channel, {AddRecord("HUGE-2", kIdA, 2024, 50000, "2024-03-01")}, &ok);
  ASSERT_TRUE(r.status.ok()) << Describe(r.status);
  EXPECT_EQ(ok.accepted_count(), 1u);
  EXPECT_EQ(Head(), head + 1);
}

TEST_F(AuthTest, UnaryPushOverTheBatchLimitIsResourceExhausted) {
  const uint64_t head = Head();
  std::vector<v1::CollectionRecord> too_many;
  for (size_t i = 0; i <= ledger::kBatchRecordsMax; ++i) {
    too_many.push_back(AddRecord(StrCat("BATCH-", i), kIdC, 2024, 10000, "2024-03-01"));
  }
  ASSERT_EQ(too_many.size(), ledger::kBatchRecordsMax + 1);
  v1::PushCollectionsResponse response;
  RpcResult r = Push(Connect(kTaxBureau), too_many, &response);
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << Describe(r.status);
  EXPECT_EQ(r.reason, "batch_records_max");
  EXPECT_EQ(response.outcomes_size(), 0);
  EXPECT_EQ(Head(), head);
}

// --- 6. personal data stays out of the logs ----------------------------------------------------

TEST_F(AuthTest, CallLogsCarryNoRawCitizenIds) {
  const std::string raw_ids[] = {kIdA, kIdB, kIdC, kIdTooYoung, kIdBadCheck};
  std::string log;
  {
    CapturedLog captured;
    const Channel tax = Connect(kTaxBureau);
    const Channel fund = Connect(kFundAgency);
    const Channel auditor = Connect(kAuditor);

    v1::EnrolResponse enrolled;
    RpcResult r = Enrol(fund, Participant(kIdB, "李梅"), &enrolled);
    EXPECT_TRUE(r.status.ok()) << Describe(r.status);
    r = Enrol(fund, Participant(kIdTooYoung, "小明", "2025-01-01"), &enrolled);
    EXPECT_EQ(r.reason, "REASON_TOO_YOUNG") << Describe(r.status);
    r = Enrol(fund, Participant(kIdA, "金哲二"), &enrolled);
    EXPECT_EQ(r.reason, "REASON_ALREADY_ENROLLED") << Describe(r.status);
    r = Enrol(fund, Participant(kIdBadCheck, "李梅"), &enrolled);
    EXPECT_EQ(r.reason, "REASON_INVALID_CITIZEN_ID") << Describe(r.status);

    const v1::CollectionRecord paid = AddRecord("LOG-1", kIdA, 2024, 50000, "2024-03-01");
    v1::CollectionRecord conflicting = paid;
    conflicting.set_amount_fen(60000);
    const std::vector<v1::CollectionRecord> batch = {
        paid,                                                  // accepted
        AddRecord("LOG-2", kIdC, 2024, 50000, "2024-03-01"),         // suspense: not enrolled
        AddRecord("LOG-3", kIdBadCheck, 2024, 50000, "2024-03-01"),  // bad check digit
        conflicting,                                           // same receipt, other amount
    };
    v1::PushCollectionsResponse pushed;
    r = Push(tax, batch, &pushed);
    ASSERT_TRUE(r.status.ok()) << Describe(r.status);
    EXPECT_EQ(pushed.accepted_count(), 1u);
    EXPECT_EQ(pushed.suspense_count(), 1u);
    EXPECT_EQ(pushed.rejected_count(), 2u);
    r = Stream(tax, {batch}, &pushed);
    EXPECT_TRUE(r.status.ok()) << Describe(r.status);

    v1::Account account;
    r = GetAccount(auditor, kIdA, &account);
    EXPECT_TRUE(r.status.ok()) << Describe(r.status);
    r = GetAccount(fund, kIdC, &account);
    EXPECT_EQ(r.status.error_code(), grpc::StatusCode::NOT_FOUND) << Describe(r.status);
    r = GetAccount(fund, kIdBadCheck, &account);
    EXPECT_EQ(r.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << Describe(r.status);
    // A denied caller naming an ID.
    r = GetAccount(tax, kIdB, &account);
    EXPECT_EQ(r.status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << Describe(r.status);
    log = captured.Text();
  }

  for (const std::string& id : raw_ids) {
    EXPECT_THAT(log, Not(HasSubstr(id))) << "raw citizen ID in the log";
  }
  // Names are personal data too.
  for (const char* name : {"李梅", "小明", "金哲"}) {
    EXPECT_THAT(log, Not(HasSubstr(name))) << "a name in the log";
  }
  // Not vacuous: the calls were logged, with IDs in masked form.
  EXPECT_THAT(log, HasSubstr("2224**********123X"));  // ALREADY_ENROLLED
  EXPECT_THAT(log, HasSubstr("2224**********7899"));  // GetAccount: not enrolled
  EXPECT_THAT(log, HasSubstr("2224**********1230"));  // TOO_YOUNG
  std::istringstream lines(log);
  int count = 0;
  for (std::string line; std::getline(lines, line);) {
    if (line.empty()) continue;
    ++count;
    EXPECT_THAT(line, HasSubstr("rpc method=")) << line;
  }
  EXPECT_EQ(count, 10) << log;  // one line per call
  EXPECT_THAT(log, HasSubstr("actor=\"CN=fund-agency-dev,OU=fund-agency,O=Pension Ledger Dev\""));
}

}  // namespace
