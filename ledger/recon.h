// Reconciliation (对账): the projection behind the four reconciliations, kept current by Apply()
// in the same WriteBatch as every other projection, and the report built from it.
//
//   1. Tax daily totals: the receipts the ledger holds per (region, collection date, tax office)
//      against the tax bureau's control totals for that day and office (TaxDailyTotalsReported).
//   2. Fiscal funds: per purpose and year, received vs used vs the unused balance of the ledger
//      account fiscal_funds/<purpose>/<year>.
//   3. Bank balances: each reported statement balance of a fund bank account against the ledger's
//      balance of that account at the end of the statement date.
//   4. Individual accounts: Σ of the account projection against the control accounts
//      individual_accounts/<source>, per region (scanned when asked, at one snapshot).
//
// Column family `recon` (u8 tag first; region codes are 6 digits, dates YYYY-MM-DD, the tax
// office is length-prefixed so no office is a prefix of another's key):
//   'c' region date u8 len office             → u64 BE receipts + i64 BE total fen (held now)
//   'r' region date u8 len office receipt     → i64 BE amount fen (a receipt held now)
//   't' region date u8 len office             → u64 BE sequence + TaxDailyTotalsReported bytes
//   'f' region account                        → i64 BE received + i64 BE used, of the ledger
//                                               account "fiscal_funds/<purpose>/<year>"
//   'b' region u8 bank account date           → u64 BE sequence + i64 BE reported balance
//   'm' region u8 bank account date           → i64 BE net movement of that date (debit +)
// A cancelled receipt leaves its collection day ('r' deleted, 'c' reduced); a refunded one stays
// (the money was collected; the refund is the agency's).
#ifndef LEDGER_RECON_H_
#define LEDGER_RECON_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "ledger/v1/events.pb.h"
#include "ledger/v1/reconciliation.pb.h"

namespace rocksdb {
class Snapshot;
}

namespace ledger {

class Store;
class WorkingState;

namespace accounts {
// The ledger account of a fund bank account: "fund.income", "fund.special", "fund.payment";
// empty for UNSPECIFIED or an unknown value.
std::string_view BankLedgerAccount(v1::BankAccount account);
}  // namespace accounts

// Apply's hooks (deterministic, like Apply).
// The event's effect on the tax days and the reports (collections, cancellations, tax and bank
// reports).
absl::Status ApplyToReconciliation(const v1::EventEnvelope& event, WorkingState& state);
// A posting leg of `delta_fen` (debit positive) on a non-person ledger account: fund bank
// account movements by date, fiscal funds received and used.
absl::Status ReconcilePostingLeg(const v1::EventEnvelope& event, std::string_view account,
                                 int64_t delta_fen, WorkingState& state);

// The reconciliation report at `snapshot` (whose head is `as_of_sequence`). An unknown region,
// date or office gives empty sections. INVALID_ARGUMENT for malformed dates or region.
absl::StatusOr<v1::Reconciliation> BuildReconciliation(const Store& store,
                                                       const rocksdb::Snapshot* snapshot,
                                                       uint64_t as_of_sequence,
                                                       const v1::ReconciliationRequest& request);

// One tax day's reconciliation (for the answer to a daily totals report); nullopt if the ledger
// holds no receipts and no report for it.
absl::StatusOr<std::optional<v1::TaxDayReconciliation>> ReconcileTaxDay(
    const Store& store, const rocksdb::Snapshot* snapshot, std::string_view region,
    std::string_view collection_date, std::string_view tax_office);

// A fund bank account's ledger balance at the end of `as_of_date` (empty: all movements).
absl::StatusOr<int64_t> FundBalanceAsOf(const Store& store, const rocksdb::Snapshot* snapshot,
                                        std::string_view region, v1::BankAccount account,
                                        std::string_view as_of_date);

}  // namespace ledger

#endif  // LEDGER_RECON_H_
