// FundService: the fund's own money (fiscal funds, tax remittances, transfers between its bank
// accounts, bank interest and statements), recorded by the fund agency, and the reads of its
// balances and the reconciliation. Every method is on the callback API (services/unary_call.h).
#include <memory>
#include <string>
#include <utility>

#include "ledger/recon.h"
#include "ledger/strings.h"
#include "ledger/v1/services.grpc.pb.h"
#include "services/call.h"
#include "services/service_impls.h"
#include "services/unary_call.h"

namespace services {
namespace {

using ledger::StrCat;
namespace v1 = ledger::v1;

using S = v1::FundService;

class FundServiceImpl final
    : public RawCallback<S::Service, S::WithRawCallbackMethod_ReceiveFiscalFunds,
                         S::WithRawCallbackMethod_ReceiveTaxRemittance,
                         S::WithRawCallbackMethod_TransferBetweenFundAccounts,
                         S::WithRawCallbackMethod_ReceiveBankInterest,
                         S::WithRawCallbackMethod_ReportBankBalance,
                         S::WithRawCallbackMethod_GetLedgerBalances,
                         S::WithRawCallbackMethod_GetFundBalance,
                         S::WithRawCallbackMethod_GetReconciliation> {
 public:
  explicit FundServiceImpl(Gate gate) : gate_(gate) {}

  LEDGER_COMMAND_METHOD(ReceiveFiscalFunds, receive_fiscal_funds)
  LEDGER_COMMAND_METHOD(ReceiveTaxRemittance, receive_tax_remittance)
  LEDGER_COMMAND_METHOD(TransferBetweenFundAccounts, transfer_between_fund_accounts)
  LEDGER_COMMAND_METHOD(ReceiveBankInterest, receive_bank_interest)
  LEDGER_COMMAND_METHOD(ReportBankBalance, report_bank_balance)

  grpc::ServerUnaryReactor* GetFundBalance(grpc::CallbackServerContext* context,
                                           const grpc::ByteBuffer* request,
                                           grpc::ByteBuffer* response) override {
    return ServeRead<v1::GetFundBalanceRequest, v1::FundBalance>(
        gate_, methods::kGetFundBalance, context, request, response,
        [context](Gate::Admitted& call, const v1::GetFundBalanceRequest& r,
                  v1::FundBalance* answer) -> grpc::Status {
          if (!call.caller.MayAccessRegion(r.region_code())) {
            return RegionDenied(context, r.region_code());
          }
          auto balance =
              call.ledger.FundBalanceAsOf(r.region_code(), r.bank_account(), r.as_of_date());
          if (!balance.ok()) return FromAbsl(balance.status());
          answer->set_region_code(r.region_code());
          answer->set_bank_account(r.bank_account());
          answer->set_as_of_date(r.as_of_date());
          answer->set_balance_fen(balance->balance_fen);
          answer->set_ledger_account(
              std::string(ledger::accounts::BankLedgerAccount(r.bank_account())));
          answer->set_as_of_sequence(balance->as_of_sequence);
          return grpc::Status::OK;
        });
  }

  // Every tax day of the region in range, each with its receipts: on a thread of its own.
  grpc::ServerUnaryReactor* GetReconciliation(grpc::CallbackServerContext* context,
                                              const grpc::ByteBuffer* request,
                                              grpc::ByteBuffer* response) override {
    return ServeLong<v1::ReconciliationRequest, v1::Reconciliation>(
        gate_, methods::kGetReconciliation, context, request, response,
        [context](Gate::Admitted& call, const v1::ReconciliationRequest& r,
                  v1::Reconciliation* answer) -> grpc::Status {
          v1::ReconciliationRequest scoped = r;
          const Caller& caller = call.caller;
          if (scoped.region_code().empty() && caller.regions.size() == 1) {
            scoped.set_region_code(caller.regions.front());
          }
          if (scoped.region_code().empty() && !caller.regions.empty()) {
            return RejectionStatus(context,
                                   {v1::REASON_REGION_NOT_PERMITTED,
                                    "the caller's certificate covers several regions: name one"});
          }
          if (!caller.MayAccessRegion(scoped.region_code())) {
            return RegionDenied(context, scoped.region_code());
          }
          auto recon = call.ledger.Reconcile(scoped);
          if (!recon.ok()) return FromAbsl(recon.status());
          *answer = std::move(*recon);
          return grpc::Status::OK;
        });
  }

  grpc::ServerUnaryReactor* GetLedgerBalances(grpc::CallbackServerContext* context,
                                              const grpc::ByteBuffer* request,
                                              grpc::ByteBuffer* response) override {
    return ServeRead<v1::GetLedgerBalancesRequest, v1::LedgerBalances>(
        gate_, methods::kGetLedgerBalances, context, request, response,
        [context](Gate::Admitted& call, const v1::GetLedgerBalancesRequest& r,
                  v1::LedgerBalances* answer) -> grpc::Status {
          if (!call.caller.MayAccessRegion(r.region_code())) {
            return RegionDenied(context, r.region_code());
          }
          const std::string prefix = StrCat(r.region_code(), "/");
          for (const auto& [key, balance] : call.ledger.LedgerAccountBalances()) {
            if (key.starts_with(prefix)) {
              (*answer->mutable_balances_fen())[key.substr(prefix.size())] = balance;
            }
          }
          return grpc::Status::OK;
        });
  }

 private:
  const Gate gate_;
};

}  // namespace

std::unique_ptr<grpc::Service> NewFundService(Gate gate) {
  return std::make_unique<FundServiceImpl>(gate);
}

}  // namespace services
