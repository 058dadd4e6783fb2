// Deterministic apply: event → postings → projection changes. Reads no clock, no randomness, no
// configuration: only the event and the state. The write path and replay both run exactly this,
// so replaying the log on another machine yields byte-identical projections.
#ifndef LEDGER_APPLY_H_
#define LEDGER_APPLY_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "ledger/v1/events.pb.h"

namespace ledger {

class WorkingState;

// The fund's bank accounts are fund.income, fund.special and fund.payment (BankLedgerAccount in
// ledger/recon.h); tax_receivable holds what the tax bureau collected and has not remitted yet.
// Chart of accounts used by postings (per region; balances are debits − credits). Person
// accounts are "person/<citizen id>/<source>" (source: personal, government, collective,
// sponsorship, transfer_in); their balances live in the account projection and roll up, per
// region, into the control accounts "individual_accounts/<source>".
namespace accounts {
inline constexpr std::string_view kTaxReceivable = "tax_receivable";
inline constexpr std::string_view kSuspense = "suspense";
inline constexpr std::string_view kFundSpecial = "fund.special";    // 财政专户
inline constexpr std::string_view kFundPayment = "fund.payment";    // 支出户
inline constexpr std::string_view kFundIncome = "fund.income";      // 收入户
inline constexpr std::string_view kBankInterestIncome = "bank_interest_income";
inline constexpr std::string_view kInterestExpense = "interest_expense";
inline constexpr std::string_view kRefundsPayable = "refunds_payable";
// Collective subsidies and sponsorships owed back to their payer after a reversal.
inline constexpr std::string_view kCollectiveRefundsPayable = "collective_refunds_payable";
inline constexpr std::string_view kHeirsPayable = "heirs_payable";
// A terminated account's balance owed to the employees' scheme it joined.
inline constexpr std::string_view kEmployeeSchemePayable = "employee_scheme_payable";
inline constexpr std::string_view kOverpaymentReceivable = "overpayment_receivable";
inline constexpr std::string_view kOverpaidBenefits = "overpaid_benefits";
// Overpayments found unrecoverable (an expense).
inline constexpr std::string_view kOverpaymentWrittenOff = "overpayment_written_off";
inline constexpr std::string_view kFuneralSubsidyPaid = "funeral_subsidy_paid";
inline constexpr std::string_view kPooledFund = "pooled_fund";
inline constexpr std::string_view kTransfersInTransit = "transfers_in_transit";
inline constexpr std::string_view kPersonPrefix = "person/";
inline constexpr std::string_view kIndividualControlPrefix = "individual_accounts/";
std::string Person(std::string_view citizen_id, v1::FundingSource source);
// "fiscal_funds/<purpose>/<year>": fiscal funds received for a purpose and year, not yet used.
// Credited on receipt, debited when used; its balance never goes above zero.
std::string FiscalFund(v1::FiscalPurpose purpose, int year);
}  // namespace accounts

// The participant an event concerns (empty for region-level events).
std::string_view ParticipantOf(const v1::EventEnvelope& event);

// The double-entry postings of an event (empty for non-money events). Every posting has a
// positive amount; each one debits and credits the same amount, so every event balances.
std::vector<v1::Posting> PostingsFor(const v1::EventEnvelope& event);

// Applies a committed (or replayed) event to the state. Invariant violations (a person bucket
// below zero, an event for an account that does not exist) crash: validation must have
// prevented them, and continuing would serve wrong balances. Non-OK only for storage reads.
absl::Status Apply(const v1::EventEnvelope& event, WorkingState& state);

}  // namespace ledger

#endif  // LEDGER_APPLY_H_
