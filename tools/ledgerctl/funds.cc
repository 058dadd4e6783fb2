// `ledgerctl funds …|tax report-totals|recon`: the fiscal and bank money around the accounts
// (FundService) and the tax bureau's control totals (CollectionService), and the reconciliations
// that tie them together. Amounts are yuan with at most two decimals; --ref is the document
// number, which makes a resend harmless (it answers duplicate=true).
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "ledger/money.h"
#include "ledger/strings.h"
#include "tools/ledgerctl/client.h"
#include "tools/ledgerctl/commands.h"
#include "tools/recon_report.h"

namespace ledgerctl {
namespace {

namespace v1 = ledger::v1;
using ledger::StrCat;

const std::map<std::string, v1::FiscalPurpose>& FiscalPurposes() {
  static const auto* kMap = new std::map<std::string, v1::FiscalPurpose>{
      {"contribution_subsidy", v1::FISCAL_PURPOSE_CONTRIBUTION_SUBSIDY},
      {"paid_on_behalf", v1::FISCAL_PURPOSE_PAID_ON_BEHALF},
      {"basic_pension", v1::FISCAL_PURPOSE_BASIC_PENSION},
      {"cadre_subsidy", v1::FISCAL_PURPOSE_CADRE_SUBSIDY}};
  return *kMap;
}

const std::map<std::string, v1::BankAccount>& BankAccounts() {
  static const auto* kMap =
      new std::map<std::string, v1::BankAccount>{{"income", v1::BANK_ACCOUNT_INCOME},
                                                 {"special", v1::BANK_ACCOUNT_SPECIAL},
                                                 {"payment", v1::BANK_ACCOUNT_PAYMENT}};
  return *kMap;
}

// Every option of the family; each subcommand uses some of them.
struct Options {
  std::string region, purpose, amount, date, ref;
  int year = 0;
  std::string account, from, to, office, balance, as_of, html_file;
  uint64_t count = 0;
  std::vector<std::string> receipts;
};

int PrintFundBalance(const v1::FundBalance& response) {
  std::printf("%s %s as_of=%s balance=%s as_of_sequence=%llu\n", response.region_code().c_str(),
              response.ledger_account().c_str(),
              response.as_of_date().empty() ? "latest" : response.as_of_date().c_str(),
              ledger::FormatFen(response.balance_fen()).c_str(),
              static_cast<unsigned long long>(response.as_of_sequence()));
  return 0;
}

int PrintDailyTotals(const v1::ReportDailyTotalsResponse& response) {
  const auto& d = response.reconciliation();
  std::printf(
      "daily totals reported: sequence=%llu%s status=%s ledger=%llu/%s reported=%llu/%s "
      "difference=%s missing_in_ledger=%d not_reported=%d\n",
      static_cast<unsigned long long>(response.result().first_sequence()),
      response.result().duplicate() ? " duplicate=true" : "",
      v1::ReconStatus_Name(d.status()).c_str(), static_cast<unsigned long long>(d.ledger_count()),
      ledger::FormatFen(d.ledger_total_fen()).c_str(),
      static_cast<unsigned long long>(d.reported_count()),
      ledger::FormatFen(d.reported_total_fen()).c_str(),
      ledger::FormatFen(d.difference_fen()).c_str(), d.missing_in_ledger_size(),
      d.not_reported_size());
  return 0;
}

int PrintLedgerBalances(const v1::LedgerBalances& response) {
  const std::map<std::string, int64_t> sorted(response.balances_fen().begin(),
                                              response.balances_fen().end());
  for (const auto& [account, fen] : sorted) {
    std::printf("%s=%s\n", account.c_str(), ledger::FormatFen(fen).c_str());
  }
  return 0;
}

// The four reconciliations: text on stdout, or (with --html) a self-contained HTML report
// written to `html_file` and the summary line on stdout.
int PrintReconciliation(const v1::Reconciliation& response, const std::string& html_file) {
  const std::string text = tools::ReconText(response);
  if (html_file.empty()) {
    std::fputs(text.c_str(), stdout);
    return 0;
  }
  std::ofstream out(html_file, std::ios::binary | std::ios::trunc);
  const std::string generated =
      absl::FormatTime("%Y-%m-%d %H:%M:%S %Z", absl::Now(), absl::LocalTimeZone());
  out << tools::ReconHtml(response, generated);
  out.close();
  if (!out) return Fail(StrCat("cannot write ", html_file));
  std::printf("%s", text.substr(0, text.find('\n') + 1).c_str());
  std::printf("html report: %s\n", html_file.c_str());
  return 0;
}

// The fund commands that post money: `fen` is the amount option parsed; `fill` sets the rest of
// the request from the options.
template <typename Request, typename Fill>
int PostFunds(const Globals& g, const Options& o, const absl::StatusOr<int64_t>& fen,
              std::string_view what,
              grpc::Status (v1::FundService::Stub::*method)(grpc::ClientContext*, const Request&,
                                                            v1::CommandResponse*),
              Fill fill) {
  if (!fen.ok()) return Fail(std::string(fen.status().message()));
  Request r;
  r.set_region_code(o.region);
  fill(*fen, r);
  r.set_date(o.date);
  r.set_document_ref(o.ref);
  return SendCommand(g, what, r, method);
}

// --account of a bank account, one of `names`.
void AddAccount(CLI::App* command, Options& o, const std::string& description,
                const std::vector<std::string>& names) {
  command->add_option("--account", o.account, description)->required()->check(CLI::IsMember(names));
}

void AddReceiveAndBalances(CLI::App* funds, Commands& commands, std::shared_ptr<Options> o) {
  const Globals& g = commands.globals();
  auto* receive =
      funds->add_subcommand("receive", "record fiscal funds received from the treasury");
  receive->add_option("--region", o->region, "6-digit region code")->required();
  receive->add_option("--purpose", o->purpose, "what the funds are for")
      ->required()
      ->check(CLI::IsMember(Names(FiscalPurposes())));
  receive->add_option("--year", o->year, "year the funds are for")->required();
  receive->add_option("--amount", o->amount, "yuan, e.g. 120000.00")->required();
  AddDateRef(receive, o->date, o->ref);
  commands.On(receive, [&g, o] {
    return PostFunds(g, *o, YuanOption("--amount", o->amount), "funds received",
                     &v1::FundService::Stub::ReceiveFiscalFunds,
                     [&](int64_t fen, v1::ReceiveFiscalFundsRequest& r) {
                       r.set_purpose(FiscalPurposes().at(o->purpose));
                       r.set_year(o->year);
                       r.set_amount_fen(fen);
                     });
  });
  auto* balances = funds->add_subcommand(
      "balances", "double-entry account balances of a region (debits minus credits, yuan)");
  balances->add_option("--region", o->region, "6-digit region code")->required();
  commands.On(balances, [&g, o] {
    v1::GetLedgerBalancesRequest request;
    request.set_region_code(o->region);
    return CallUnary(g, &v1::FundService::Stub::GetLedgerBalances, request, PrintLedgerBalances);
  });
}

void AddRemitAndSweep(CLI::App* funds, Commands& commands, std::shared_ptr<Options> o) {
  const Globals& g = commands.globals();
  auto* remit = funds->add_subcommand(
      "remit", "record a tax remittance (解缴) into the income or special account");
  remit->add_option("--region", o->region, "6-digit region code")->required();
  AddAccount(remit, *o, "bank account it arrived in", {"income", "special"});
  remit->add_option("--amount", o->amount, "yuan")->required();
  remit->add_option("--office", o->office, "remitting tax office (optional)");
  AddDateRef(remit, o->date, o->ref);
  commands.On(remit, [&g, o] {
    return PostFunds(g, *o, YuanOption("--amount", o->amount), "remittance received",
                     &v1::FundService::Stub::ReceiveTaxRemittance,
                     [&](int64_t fen, v1::ReceiveTaxRemittanceRequest& r) {
                       r.set_bank_account(BankAccounts().at(o->account));
                       r.set_amount_fen(fen);
                       r.set_tax_office(o->office);
                     });
  });
  auto* sweep = funds->add_subcommand(
      "sweep",
      "move money between fund accounts: income→special, special→payment, payment→special");
  sweep->add_option("--region", o->region, "6-digit region code")->required();
  sweep->add_option("--from", o->from, "source account")
      ->required()
      ->check(CLI::IsMember(Names(BankAccounts())));
  sweep->add_option("--to", o->to, "destination account")
      ->required()
      ->check(CLI::IsMember(Names(BankAccounts())));
  sweep->add_option("--amount", o->amount, "yuan")->required();
  AddDateRef(sweep, o->date, o->ref);
  commands.On(sweep, [&g, o] {
    return PostFunds(g, *o, YuanOption("--amount", o->amount), "swept",
                     &v1::FundService::Stub::TransferBetweenFundAccounts,
                     [&](int64_t fen, v1::TransferBetweenFundAccountsRequest& r) {
                       r.set_from_account(BankAccounts().at(o->from));
                       r.set_to_account(BankAccounts().at(o->to));
                       r.set_amount_fen(fen);
                     });
  });
}

void AddBankCommands(CLI::App* funds, Commands& commands, std::shared_ptr<Options> o) {
  const Globals& g = commands.globals();
  auto* interest = funds->add_subcommand("bank-interest", "record interest the bank paid");
  interest->add_option("--region", o->region, "6-digit region code")->required();
  AddAccount(interest, *o, "bank account", Names(BankAccounts()));
  interest->add_option("--amount", o->amount, "yuan")->required();
  AddDateRef(interest, o->date, o->ref);
  commands.On(interest, [&g, o] {
    return PostFunds(g, *o, YuanOption("--amount", o->amount), "bank interest received",
                     &v1::FundService::Stub::ReceiveBankInterest,
                     [&](int64_t fen, v1::ReceiveBankInterestRequest& r) {
                       r.set_bank_account(BankAccounts().at(o->account));
                       r.set_amount_fen(fen);
                     });
  });
  auto* statement = funds->add_subcommand(
      "bank-balance", "record a bank statement's closing balance (reconciled, not posted)");
  statement->add_option("--region", o->region, "6-digit region code")->required();
  AddAccount(statement, *o, "bank account", Names(BankAccounts()));
  statement->add_option("--balance", o->balance, "yuan, may be negative")->required();
  AddDateRef(statement, o->date, o->ref);
  commands.On(statement, [&g, o] {
    return PostFunds(g, *o, SignedYuanOption("--balance", o->balance), "bank balance reported",
                     &v1::FundService::Stub::ReportBankBalance,
                     [&](int64_t fen, v1::ReportBankBalanceRequest& r) {
                       r.set_bank_account(BankAccounts().at(o->account));
                       r.set_balance_fen(fen);
                     });
  });
  auto* balance =
      funds->add_subcommand("balance", "a fund bank account's ledger balance at the end of a date");
  balance->add_option("--region", o->region, "6-digit region code")->required();
  AddAccount(balance, *o, "bank account", Names(BankAccounts()));
  balance->add_option("--as-of", o->as_of, "YYYY-MM-DD (default: every movement so far)");
  commands.On(balance, [&g, o] {
    v1::GetFundBalanceRequest r;
    r.set_region_code(o->region);
    r.set_bank_account(BankAccounts().at(o->account));
    r.set_as_of_date(o->as_of);
    return CallUnary(g, &v1::FundService::Stub::GetFundBalance, r, PrintFundBalance);
  });
}

void AddTax(CLI::App& app, Commands& commands, std::shared_ptr<Options> o) {
  auto* tax = app.add_subcommand("tax", "the tax bureau's reports (tax-bureau certificate)");
  tax->require_subcommand(1);
  auto* totals = tax->add_subcommand(
      "report-totals", "report one collection date's control totals for a tax office");
  totals->add_option("--region", o->region, "6-digit region code")->required();
  totals->add_option("--date", o->date, "collection date YYYY-MM-DD")->required();
  totals->add_option("--office", o->office, "tax office code")->required();
  totals->add_option("--count", o->count, "receipts sent for the day")->required();
  totals->add_option("--total", o->amount, "their total, yuan")->required();
  totals->add_option("--receipts", o->receipts, "their receipt numbers (optional)")->delimiter(',');
  totals->add_option("--ref", o->ref, "report number (1-64 printable ASCII)")->required();
  commands.On(totals, [&g = commands.globals(), o] {
    auto fen = YuanOption("--total", o->amount);
    if (!fen.ok()) return Fail(std::string(fen.status().message()));
    v1::ReportDailyTotalsRequest r;
    r.set_region_code(o->region);
    r.set_collection_date(o->date);
    r.set_tax_office(o->office);
    r.set_record_count(o->count);
    r.set_total_fen(*fen);
    for (const std::string& receipt : o->receipts) r.add_receipt_numbers(receipt);
    r.set_document_ref(o->ref);
    return CallUnary(g, &v1::CollectionService::Stub::ReportDailyTotals, r, PrintDailyTotals);
  });
}

void AddRecon(CLI::App& app, Commands& commands, std::shared_ptr<Options> o) {
  auto* recon = app.add_subcommand(
      "recon",
      "reconciliation: tax daily totals, fiscal funds, bank balances, accounts vs control");
  recon->add_option("--region", o->region, "6-digit region code (default: all the caller may see)");
  recon->add_option("--from", o->from, "first collection/statement date YYYY-MM-DD");
  recon->add_option("--to", o->to, "last collection/statement date YYYY-MM-DD");
  recon->add_option("--office", o->office, "tax office");
  recon->add_option("--html", o->html_file, "write a self-contained HTML report to this file");
  commands.On(recon, [&g = commands.globals(), o] {
    v1::ReconciliationRequest r;
    r.set_region_code(o->region);
    r.set_from_date(o->from);
    r.set_to_date(o->to);
    r.set_tax_office(o->office);
    return CallUnary(g, &v1::FundService::Stub::GetReconciliation, r,
                     [o](const v1::Reconciliation& response) {
                       return PrintReconciliation(response, o->html_file);
                     });
  });
}

}  // namespace

void RegisterFundCommands(CLI::App& app, Commands& commands) {
  auto o = std::make_shared<Options>();
  auto* funds = app.add_subcommand("funds", "fiscal funds (财政专户) and ledger balances");
  funds->require_subcommand(1);
  AddReceiveAndBalances(funds, commands, o);
  AddRemitAndSweep(funds, commands, o);
  AddBankCommands(funds, commands, o);
  AddTax(app, commands, o);
  AddRecon(app, commands, o);
}

}  // namespace ledgerctl
