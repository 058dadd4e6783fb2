#include "services/methods.h"

#include <array>

namespace services {
namespace {

constexpr Role kAllRoles[] = {Role::kTaxBureau, Role::kFundAgency, Role::kAuditor, Role::kAdmin};

constexpr std::array<const Method*, 35> kAllMethods = {
    &methods::kPushCollections,
    &methods::kStreamCollections,
    &methods::kReportDailyTotals,
    &methods::kEnrol,
    &methods::kGetAccount,
    &methods::kCreditCollectiveSubsidy,
    &methods::kRefundContribution,
    &methods::kDetermineBenefit,
    &methods::kSuspendBenefit,
    &methods::kResumeBenefit,
    &methods::kRecordDeath,
    &methods::kRecordOverpaymentRecovery,
    &methods::kTerminateParticipant,
    &methods::kTransferOut,
    &methods::kTransferIn,
    &methods::kRecordCadreRole,
    &methods::kCreditCadreSubsidy,
    &methods::kRunJob,
    &methods::kGetStatement,
    &methods::kReceiveFiscalFunds,
    &methods::kReceiveTaxRemittance,
    &methods::kTransferBetweenFundAccounts,
    &methods::kReceiveBankInterest,
    &methods::kReportBankBalance,
    &methods::kGetLedgerBalances,
    &methods::kGetFundBalance,
    &methods::kGetReconciliation,
    &methods::kAdoptPolicy,
    &methods::kGetPolicy,
    &methods::kStreamEvents,
    &methods::kVerifyChain,
    &methods::kGetCheckpoints,
    &methods::kBalanceAsOf,
    &methods::kReplayCompare,
    &methods::kBackup,
};

}  // namespace

std::span<const Method* const> AllMethods() { return kAllMethods; }

const Method* FindMethod(std::string_view path) {
  static const auto* kByPath = [] {
    auto* by_path = new std::map<std::string_view, const Method*>();
    for (const Method* method : kAllMethods) by_path->emplace(method->path, method);
    return by_path;
  }();
  const auto it = kByPath->find(path);
  return it == kByPath->end() ? nullptr : it->second;
}

const std::map<std::string, std::set<Role>, std::less<>>& MethodRoles() {
  static const auto* kTable = [] {
    auto* table = new std::map<std::string, std::set<Role>, std::less<>>();
    for (const Method* method : kAllMethods) {
      std::set<Role>& roles = (*table)[method->path];
      for (Role role : kAllRoles) {
        if (method->roles.contains(role)) roles.insert(role);
      }
    }
    return table;
  }();
  return *kTable;
}

}  // namespace services
