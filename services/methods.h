// The access table: every RPC method the server offers, by its full gRPC name, with the roles
// allowed to call it. Written once: each handler names its entry here (its gate authorizes
// against it) and Authorizer looks callers up in the same entries. A method not here is denied
// to everyone.
#ifndef SERVICES_METHODS_H_
#define SERVICES_METHODS_H_

#include <cstdint>
#include <initializer_list>
#include <map>
#include <set>
#include <span>
#include <string>
#include <string_view>

namespace services {

enum class Role { kTaxBureau, kFundAgency, kAuditor, kAdmin };

// A set of roles that can be written in a constant expression.
class Roles {
 public:
  constexpr Roles(std::initializer_list<Role> roles) {
    for (Role role : roles) bits_ |= Bit(role);
  }
  constexpr bool contains(Role role) const { return (bits_ & Bit(role)) != 0; }

 private:
  static constexpr uint32_t Bit(Role role) { return uint32_t{1} << static_cast<int>(role); }
  uint32_t bits_ = 0;
};

struct Method {
  const char* path;  // "/ledger.v1.<Service>/<Method>"; also the name in logs and metrics
  Roles roles;       // who may call it; nobody else
};

namespace methods {

// The tax bureau pushes collections (and cancellations); nothing else writes them.
inline constexpr Method kPushCollections{"/ledger.v1.CollectionService/PushCollections",
                                         {Role::kTaxBureau}};
inline constexpr Method kStreamCollections{"/ledger.v1.CollectionService/StreamCollections",
                                           {Role::kTaxBureau}};
inline constexpr Method kReportDailyTotals{"/ledger.v1.CollectionService/ReportDailyTotals",
                                           {Role::kTaxBureau}};

// The fund agency runs accounts; the auditor reads them.
inline constexpr Method kEnrol{"/ledger.v1.AccountService/Enrol", {Role::kFundAgency}};
inline constexpr Method kGetAccount{"/ledger.v1.AccountService/GetAccount",
                                    {Role::kFundAgency, Role::kAuditor}};
inline constexpr Method kCreditCollectiveSubsidy{
    "/ledger.v1.AccountService/CreditCollectiveSubsidy", {Role::kFundAgency}};
inline constexpr Method kRefundContribution{"/ledger.v1.AccountService/RefundContribution",
                                            {Role::kFundAgency}};
inline constexpr Method kDetermineBenefit{"/ledger.v1.AccountService/DetermineBenefit",
                                          {Role::kFundAgency}};
inline constexpr Method kSuspendBenefit{"/ledger.v1.AccountService/SuspendBenefit",
                                        {Role::kFundAgency}};
inline constexpr Method kResumeBenefit{"/ledger.v1.AccountService/ResumeBenefit",
                                       {Role::kFundAgency}};
inline constexpr Method kRecordDeath{"/ledger.v1.AccountService/RecordDeath",
                                     {Role::kFundAgency}};
inline constexpr Method kRecordOverpaymentRecovery{
    "/ledger.v1.AccountService/RecordOverpaymentRecovery", {Role::kFundAgency}};
inline constexpr Method kTerminateParticipant{
    "/ledger.v1.AccountService/TerminateParticipant", {Role::kFundAgency}};
inline constexpr Method kTransferOut{"/ledger.v1.AccountService/TransferOut",
                                     {Role::kFundAgency}};
inline constexpr Method kRecordCadreRole{"/ledger.v1.AccountService/RecordCadreRole",
                                         {Role::kFundAgency}};
inline constexpr Method kCreditCadreSubsidy{"/ledger.v1.AccountService/CreditCadreSubsidy",
                                            {Role::kFundAgency}};
inline constexpr Method kTransferIn{"/ledger.v1.AccountService/TransferIn", {Role::kFundAgency}};
inline constexpr Method kRunJob{"/ledger.v1.AccountService/RunJob", {Role::kFundAgency}};
inline constexpr Method kGetStatement{"/ledger.v1.AccountService/GetStatement",
                                      {Role::kFundAgency, Role::kAuditor}};

// The fund's own money: the agency records it; the auditor reads the balances.
inline constexpr Method kReceiveFiscalFunds{"/ledger.v1.FundService/ReceiveFiscalFunds",
                                            {Role::kFundAgency}};
inline constexpr Method kReceiveTaxRemittance{"/ledger.v1.FundService/ReceiveTaxRemittance",
                                              {Role::kFundAgency}};
inline constexpr Method kTransferBetweenFundAccounts{
    "/ledger.v1.FundService/TransferBetweenFundAccounts", {Role::kFundAgency}};
inline constexpr Method kReceiveBankInterest{"/ledger.v1.FundService/ReceiveBankInterest",
                                             {Role::kFundAgency}};
inline constexpr Method kReportBankBalance{"/ledger.v1.FundService/ReportBankBalance",
                                           {Role::kFundAgency}};
inline constexpr Method kGetLedgerBalances{"/ledger.v1.FundService/GetLedgerBalances",
                                           {Role::kFundAgency, Role::kAuditor}};
inline constexpr Method kGetFundBalance{"/ledger.v1.FundService/GetFundBalance",
                                        {Role::kFundAgency, Role::kAuditor}};
inline constexpr Method kGetReconciliation{"/ledger.v1.FundService/GetReconciliation",
                                           {Role::kFundAgency, Role::kAuditor}};

// Admin adopts policy; every role may read the rules it works under.
inline constexpr Method kAdoptPolicy{"/ledger.v1.PolicyService/AdoptPolicy", {Role::kAdmin}};
inline constexpr Method kGetPolicy{
    "/ledger.v1.PolicyService/GetPolicy",
    {Role::kTaxBureau, Role::kFundAgency, Role::kAuditor, Role::kAdmin}};

// The auditor replays and verifies; the fund agency may too (it answers to auditors).
inline constexpr Method kStreamEvents{"/ledger.v1.AuditService/StreamEvents",
                                      {Role::kAuditor, Role::kFundAgency}};
inline constexpr Method kVerifyChain{"/ledger.v1.AuditService/VerifyChain",
                                     {Role::kAuditor, Role::kFundAgency, Role::kAdmin}};
inline constexpr Method kGetCheckpoints{"/ledger.v1.AuditService/GetCheckpoints",
                                        {Role::kAuditor, Role::kFundAgency, Role::kAdmin}};
inline constexpr Method kBalanceAsOf{"/ledger.v1.AuditService/BalanceAsOf",
                                     {Role::kAuditor, Role::kFundAgency}};
inline constexpr Method kReplayCompare{"/ledger.v1.AuditService/ReplayCompare",
                                       {Role::kAuditor, Role::kAdmin}};

// Operations.
inline constexpr Method kBackup{"/ledger.v1.AdminService/Backup", {Role::kAdmin}};

}  // namespace methods

// Every entry above, once (tests/auth_test.cc checks they are exactly the services' methods).
std::span<const Method* const> AllMethods();

// The entry for a full method name; nullptr if there is none (the method is open to nobody).
const Method* FindMethod(std::string_view path);

// The table as full method name → roles allowed, for tests and documentation.
const std::map<std::string, std::set<Role>, std::less<>>& MethodRoles();

}  // namespace services

#endif  // SERVICES_METHODS_H_
