#include "ledger/funds.h"

#include <map>
#include <set>
#include <utility>

#include "ledger/apply.h"
#include "ledger/command_checks.h"
#include "ledger/dates.h"
#include "ledger/limits.h"
#include "ledger/money.h"
#include "ledger/policy.h"
#include "ledger/recon.h"
#include "ledger/text.h"
#include "ledger/status_macros.h"
#include "ledger/strings.h"
#include "ledger/working_state.h"

namespace ledger {
namespace {

using command::Check;
using command::CheckAmount;
using command::CheckDate;
using command::Envelope;
using command::IsReference;
using command::Reject;

Check CheckBankAccount(v1::BankAccount account, std::string_view field) {
  if (accounts::BankLedgerAccount(account).empty()) {
    return Reject(v1::REASON_INVALID_FIELD,
                  StrCat(field, " must be INCOME, SPECIAL or PAYMENT"));
  }
  return std::nullopt;
}

bool SweepAllowed(v1::BankAccount from, v1::BankAccount to) {
  return (from == v1::BANK_ACCOUNT_INCOME && to == v1::BANK_ACCOUNT_SPECIAL) ||
         (from == v1::BANK_ACCOUNT_SPECIAL && to == v1::BANK_ACCOUNT_PAYMENT) ||
         (from == v1::BANK_ACCOUNT_PAYMENT && to == v1::BANK_ACCOUNT_SPECIAL);
}

Check CheckDailyTotals(const v1::ReportDailyTotalsRequest& r) {
  if (!IsCleanText(r.tax_office(), kTaxOfficeBytesMax)) {
    return Reject(v1::REASON_INVALID_FIELD,
                  StrCat("tax_office must be at most ", kTaxOfficeBytesMax, " bytes of UTF-8 text"));
  }
  if (r.record_count() > kDailyTotalsReceiptsMax) {
    return Reject(v1::REASON_INVALID_FIELD,
                  StrCat("record_count above ", kDailyTotalsReceiptsMax, " per day and office"));
  }
  if (r.total_fen() < 0 ||
      r.total_fen() > kAmountFenMax * static_cast<int64_t>(kDailyTotalsReceiptsMax)) {
    return Reject(v1::REASON_INVALID_FIELD, StrCat("total_fen must be 0 to ",
                                                   kAmountFenMax * static_cast<int64_t>(kDailyTotalsReceiptsMax)));
  }
  if (r.receipt_numbers().empty()) return std::nullopt;
  if (static_cast<uint64_t>(r.receipt_numbers_size()) != r.record_count()) {
    return Reject(v1::REASON_INVALID_FIELD,
                  StrCat(r.receipt_numbers_size(), " receipt numbers listed but record_count is ",
                         r.record_count()));
  }
  std::set<std::string_view> seen;
  for (const std::string& receipt : r.receipt_numbers()) {
    if (!IsReference(receipt) || receipt.size() > kReceiptNumberBytesMax) {
      return Reject(v1::REASON_MISSING_RECEIPT_NUMBER,
                    StrCat("receipt number '", receipt.substr(0, kReceiptNumberBytesMax),
                           "' is malformed"));
    }
    if (!seen.insert(receipt).second) {
      return Reject(v1::REASON_INVALID_FIELD, StrCat("receipt number ", receipt, " listed twice"));
    }
  }
  return std::nullopt;
}

// Appends the command's single event: the policy in force for the region on the date, then
// `fill` sets the body.
template <typename Fill>
absl::StatusOr<Decided<CommandResult>> Record(WorkingState& state, std::string_view region,
                                              absl::CivilDay date, std::string_view ref,
                                              const Appender& append, Fill fill) {
  auto policy = command::PolicyFor(state, region, date);
  if (auto* rej = std::get_if<Rejection>(&policy)) return *rej;
  v1::EventEnvelope e =
      Envelope(region, date, ref, std::get<const v1::Policy*>(policy)->version());
  fill(e);
  // No ledger account may pass kLedgerBalanceFenMax (each amount is capped; their sums are not).
  std::map<std::string, int64_t> after;
  for (const v1::Posting& p : PostingsFor(e)) {
    for (const auto& [account, delta] :
         {std::pair(p.debit_account(), p.amount_fen()), std::pair(p.credit_account(), -p.amount_fen())}) {
      auto [it, fresh] = after.try_emplace(account, 0);
      if (fresh) it->second = state.LedgerTotal(region, account);
      it->second += delta;
      if (it->second > kLedgerBalanceFenMax || it->second < -kLedgerBalanceFenMax) {
        return Reject(v1::REASON_OVER_CAP,
                      StrCat(account, " would pass the largest balance a ledger account may hold, ",
                             FormatFen(kLedgerBalanceFenMax)));
      }
    }
  }
  LEDGER_ASSIGN_OR_RETURN(uint64_t sequence, append(std::move(e)));
  CommandResult result;
  result.sequence = sequence;
  result.last_sequence = sequence;
  return result;
}

// A sweep between the fund's bank accounts: the policy for the region on the date, then the
// source account must hold the amount (INSUFFICIENT_FUND_BALANCE).
absl::StatusOr<Decided<CommandResult>> Sweep(const v1::TransferBetweenFundAccountsRequest& r,
                                             WorkingState& state, const std::string& region,
                                             absl::CivilDay date, std::string_view ref,
                                             const Appender& append) {
  auto policy = command::PolicyFor(state, region, date);
  if (auto* rej = std::get_if<Rejection>(&policy)) return *rej;
  const std::string_view from = accounts::BankLedgerAccount(r.from_account());
  const int64_t balance = state.LedgerTotal(region, from);
  if (balance < r.amount_fen()) {
    return Reject(v1::REASON_INSUFFICIENT_FUND_BALANCE,
                  StrCat(from, " holds ", FormatFen(balance), ", cannot transfer ",
                         FormatFen(r.amount_fen())));
  }
  return Record(state, region, date, ref, append, [&](v1::EventEnvelope& e) {
    auto* t = e.mutable_fund_transferred();
    t->set_from_account(r.from_account());
    t->set_to_account(r.to_account());
    t->set_amount_fen(r.amount_fen());
  });
}

}  // namespace

bool IsFundCommand(const v1::AccountCommand& command) {
  switch (command.command_case()) {
    case v1::AccountCommand::kReceiveFiscalFunds:
    case v1::AccountCommand::kReceiveTaxRemittance:
    case v1::AccountCommand::kTransferBetweenFundAccounts:
    case v1::AccountCommand::kReceiveBankInterest:
    case v1::AccountCommand::kReportBankBalance:
    case v1::AccountCommand::kReportDailyTotals:
      return true;
    default:
      return false;
  }
}

std::string_view FundCommandRegion(const v1::AccountCommand& command) {
  switch (command.command_case()) {
    case v1::AccountCommand::kReceiveFiscalFunds: return command.receive_fiscal_funds().region_code();
    case v1::AccountCommand::kReceiveTaxRemittance: return command.receive_tax_remittance().region_code();
    case v1::AccountCommand::kTransferBetweenFundAccounts: return command.transfer_between_fund_accounts().region_code();
    case v1::AccountCommand::kReceiveBankInterest: return command.receive_bank_interest().region_code();
    case v1::AccountCommand::kReportBankBalance: return command.report_bank_balance().region_code();
    case v1::AccountCommand::kReportDailyTotals: return command.report_daily_totals().region_code();
    default: return {};
  }
}

Check CheckFundFields(const v1::AccountCommand& command, absl::CivilDay today,
                      absl::CivilDay& date) {
  switch (command.command_case()) {
    case v1::AccountCommand::kReceiveFiscalFunds: {
      const auto& r = command.receive_fiscal_funds();
      if (r.purpose() == v1::FISCAL_PURPOSE_UNSPECIFIED || !v1::FiscalPurpose_IsValid(r.purpose())) {
        return Reject(v1::REASON_INVALID_FIELD, "purpose must be a known fiscal purpose");
      }
      if (auto rej = CheckAmount(r.amount_fen(), kFiscalAmountFenMax)) return rej;
      if (auto rej = CheckDate(r.date(), "date", today, date)) return rej;
      if (r.year() < kFirstContributionYear || r.year() > date.year() + 1) {
        return Reject(v1::REASON_INVALID_PERIOD, StrCat("year ", r.year(), " is implausible on ", r.date()));
      }
      return std::nullopt;
    }
    case v1::AccountCommand::kReceiveTaxRemittance: {
      const auto& r = command.receive_tax_remittance();
      if (r.bank_account() != v1::BANK_ACCOUNT_INCOME && r.bank_account() != v1::BANK_ACCOUNT_SPECIAL) {
        return Reject(v1::REASON_INVALID_FIELD, "bank_account must be INCOME or SPECIAL");
      }
      if (!IsCleanText(r.tax_office(), kTaxOfficeBytesMax)) {
        return Reject(v1::REASON_INVALID_FIELD,
                      StrCat("tax_office must be at most ", kTaxOfficeBytesMax, " bytes of UTF-8 text"));
      }
      if (auto rej = CheckAmount(r.amount_fen(), kFiscalAmountFenMax)) return rej;
      return CheckDate(r.date(), "date", today, date);
    }
    case v1::AccountCommand::kTransferBetweenFundAccounts: {
      const auto& r = command.transfer_between_fund_accounts();
      if (auto rej = CheckBankAccount(r.from_account(), "from_account")) return rej;
      if (auto rej = CheckBankAccount(r.to_account(), "to_account")) return rej;
      if (!SweepAllowed(r.from_account(), r.to_account())) {
        return Reject(v1::REASON_INVALID_FIELD,
                      "sweeps go income → special, special → payment, or payment → special");
      }
      if (auto rej = CheckAmount(r.amount_fen(), kFiscalAmountFenMax)) return rej;
      return CheckDate(r.date(), "date", today, date);
    }
    case v1::AccountCommand::kReceiveBankInterest: {
      const auto& r = command.receive_bank_interest();
      if (auto rej = CheckBankAccount(r.bank_account(), "bank_account")) return rej;
      if (auto rej = CheckAmount(r.amount_fen(), kFiscalAmountFenMax)) return rej;
      return CheckDate(r.date(), "date", today, date);
    }
    case v1::AccountCommand::kReportBankBalance: {
      const auto& r = command.report_bank_balance();
      if (auto rej = CheckBankAccount(r.bank_account(), "bank_account")) return rej;
      if (r.balance_fen() < -kFiscalAmountFenMax || r.balance_fen() > kFiscalAmountFenMax) {
        return Reject(v1::REASON_INVALID_FIELD,
                      StrCat("balance_fen must be within ±", kFiscalAmountFenMax));
      }
      return CheckDate(r.date(), "date", today, date);
    }
    case v1::AccountCommand::kReportDailyTotals: {
      const auto& r = command.report_daily_totals();
      if (auto rej = CheckDate(r.collection_date(), "collection_date", today, date)) return rej;
      return CheckDailyTotals(r);
    }
    default:
      return Reject(v1::REASON_INVALID_FIELD, "not a fund command");
  }
}

absl::StatusOr<Decided<CommandResult>> ExecuteFundCommand(
    const v1::AccountCommand& command, WorkingState& state, absl::CivilDay date,
    std::string_view ref, const Appender& append) {
  const std::string region(FundCommandRegion(command));
  switch (command.command_case()) {
    case v1::AccountCommand::kReceiveFiscalFunds: {
      const auto& r = command.receive_fiscal_funds();
      return Record(state, region, date, ref, append, [&](v1::EventEnvelope& e) {
        auto* f = e.mutable_fiscal_funds_received();
        f->set_purpose(r.purpose());
        f->set_year(r.year());
        f->set_amount_fen(r.amount_fen());
      });
    }
    case v1::AccountCommand::kReceiveTaxRemittance: {
      const auto& r = command.receive_tax_remittance();
      return Record(state, region, date, ref, append, [&](v1::EventEnvelope& e) {
        auto* t = e.mutable_tax_remittance_received();
        t->set_bank_account(r.bank_account());
        t->set_amount_fen(r.amount_fen());
        t->set_tax_office(r.tax_office());
      });
    }
    case v1::AccountCommand::kTransferBetweenFundAccounts:
      return Sweep(command.transfer_between_fund_accounts(), state, region, date, ref, append);
    case v1::AccountCommand::kReceiveBankInterest: {
      const auto& r = command.receive_bank_interest();
      return Record(state, region, date, ref, append, [&](v1::EventEnvelope& e) {
        auto* b = e.mutable_bank_interest_received();
        b->set_bank_account(r.bank_account());
        b->set_amount_fen(r.amount_fen());
      });
    }
    case v1::AccountCommand::kReportBankBalance: {
      const auto& r = command.report_bank_balance();
      return Record(state, region, date, ref, append, [&](v1::EventEnvelope& e) {
        auto* b = e.mutable_bank_balance_reported();
        b->set_bank_account(r.bank_account());
        b->set_balance_fen(r.balance_fen());
      });
    }
    case v1::AccountCommand::kReportDailyTotals: {
      const auto& r = command.report_daily_totals();
      return Record(state, region, date, ref, append, [&](v1::EventEnvelope& e) {
        auto* t = e.mutable_tax_daily_totals_reported();
        t->set_tax_office(r.tax_office());
        t->set_record_count(r.record_count());
        t->set_total_fen(r.total_fen());
        *t->mutable_receipt_numbers() = r.receipt_numbers();
      });
    }
    default:
      return Reject(v1::REASON_INVALID_FIELD, "not a fund command");
  }
}

}  // namespace ledger
