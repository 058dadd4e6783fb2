// FundService: the fund's own money (fiscal funds, tax remittances, transfers between its bank
// accounts, bank interest and statements), recorded by the fund agency, and the reads of its
// balances and the reconciliation.
#include <memory>
#include <string>
#include <utility>

#include "ledger/recon.h"
#include "ledger/strings.h"
#include "ledger/v1/services.grpc.pb.h"
#include "services/call.h"
#include "services/service_impls.h"

namespace services {
namespace {

using ledger::StrCat;
namespace v1 = ledger::v1;

class FundServiceImpl final : public v1::FundService::Service {
 public:
  explicit FundServiceImpl(Gate gate) : gate_(gate) {}

  LEDGER_COMMAND_METHOD(ReceiveFiscalFunds, receive_fiscal_funds)
  LEDGER_COMMAND_METHOD(ReceiveTaxRemittance, receive_tax_remittance)
  LEDGER_COMMAND_METHOD(TransferBetweenFundAccounts, transfer_between_fund_accounts)
  LEDGER_COMMAND_METHOD(ReceiveBankInterest, receive_bank_interest)
  LEDGER_COMMAND_METHOD(ReportBankBalance, report_bank_balance)

  grpc::Status GetFundBalance(grpc::ServerContext* context,
                              const v1::GetFundBalanceRequest* request,
                              v1::FundBalance* response) override {
    return gate_.Call(context, methods::kGetFundBalance,
                      [&](Gate::Admitted& call, CallLog&) -> grpc::Status {
      if (!call.caller.MayAccessRegion(request->region_code())) {
        return RegionDenied(context, request->region_code());
      }
      auto balance = call.ledger.FundBalanceAsOf(request->region_code(), request->bank_account(),
                                                 request->as_of_date());
      if (!balance.ok()) return FromAbsl(balance.status());
      response->set_region_code(request->region_code());
      response->set_bank_account(request->bank_account());
      response->set_as_of_date(request->as_of_date());
      response->set_balance_fen(balance->balance_fen);
      response->set_ledger_account(
          std::string(ledger::accounts::BankLedgerAccount(request->bank_account())));
      response->set_as_of_sequence(balance->as_of_sequence);
      return grpc::Status::OK;
    });
  }

  grpc::Status GetReconciliation(grpc::ServerContext* context,
                                 const v1::ReconciliationRequest* request,
                                 v1::Reconciliation* response) override {
    return gate_.Call(context, methods::kGetReconciliation,
                      [&](Gate::Admitted& call, CallLog&) -> grpc::Status {
      v1::ReconciliationRequest scoped = *request;
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
      *response = std::move(*recon);
      return grpc::Status::OK;
    });
  }

  grpc::Status GetLedgerBalances(grpc::ServerContext* context,
                                 const v1::GetLedgerBalancesRequest* request,
                                 v1::LedgerBalances* response) override {
    return gate_.Call(context, methods::kGetLedgerBalances,
                      [&](Gate::Admitted& call, CallLog&) -> grpc::Status {
      if (!call.caller.MayAccessRegion(request->region_code())) {
        return RegionDenied(context, request->region_code());
      }
      const std::string prefix = StrCat(request->region_code(), "/");
      for (const auto& [key, balance] : call.ledger.LedgerAccountBalances()) {
        if (key.starts_with(prefix)) {
          (*response->mutable_balances_fen())[key.substr(prefix.size())] = balance;
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
