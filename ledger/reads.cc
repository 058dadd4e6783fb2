// The Ledger facade's reads of the current state: accounts, policies, the published head and
// counters, statements, reconciliations, and the region a command acts in (for authorization).
// Each sees a committed state, concurrently with the writer.
#include <map>
#include <string>

#include "ledger/funds.h"
#include "ledger/ledger.h"
#include "ledger/ledger_impl.h"
#include "ledger/recon.h"
#include "ledger/statement.h"
#include "ledger/status_macros.h"

namespace ledger {

absl::StatusOr<std::optional<v1::Account>> Ledger::GetAccount(std::string_view citizen_id) const {
  LEDGER_ASSIGN_OR_RETURN(auto bytes, impl_->store().Get(Cf::kAccounts, citizen_id));
  if (!bytes) return std::nullopt;
  v1::Account account;
  if (!account.ParseFromString(*bytes)) {
    return absl::DataLossError("the account projection does not decode");
  }
  return account;
}

std::optional<v1::Policy> Ledger::LatestPolicy(std::string_view region_code) const {
  return impl_->writer().LatestPolicy(region_code);
}

ChainHead Ledger::Head() const { return impl_->writer().Head(); }
WriterStats Ledger::Stats() const { return impl_->writer().Stats(); }
absl::Status Ledger::WriteState() const { return impl_->writer().WriteState(); }

StorageStats Ledger::Storage() const {
  const Store& store = impl_->store();
  return StorageStats{store.SumProperty("rocksdb.total-sst-files-size"),
                      store.SumProperty("rocksdb.cur-size-all-mem-tables"),
                      store.SumProperty("rocksdb.estimate-pending-compaction-bytes")};
}

std::map<std::string, int64_t> Ledger::LedgerAccountBalances() const {
  return impl_->writer().Totals();
}

absl::StatusOr<std::optional<v1::Statement>> Ledger::GetStatement(std::string_view citizen_id,
                                                                  int year) const {
  LEDGER_ASSIGN_OR_RETURN(auto account, GetAccount(citizen_id));
  if (!account) return std::nullopt;
  LEDGER_ASSIGN_OR_RETURN(auto events, ParticipantEvents(citizen_id));
  return BuildStatement(*account, events, year);
}

absl::StatusOr<v1::Reconciliation> Ledger::Reconcile(
    const v1::ReconciliationRequest& request) const {
  const Store& store = impl_->store();
  const auto snapshot = store.Snapshot();
  LEDGER_ASSIGN_OR_RETURN(auto last, store.Get(Cf::kMeta, keys::kLastSequence, snapshot.get()));
  return BuildReconciliation(store, snapshot.get(), last ? keys::DecodeU64(*last) : 0, request);
}

absl::StatusOr<std::optional<v1::TaxDayReconciliation>> Ledger::ReconcileTaxDay(
    std::string_view region, std::string_view collection_date, std::string_view tax_office) const {
  const auto snapshot = impl_->store().Snapshot();
  return ledger::ReconcileTaxDay(impl_->store(), snapshot.get(), region, collection_date,
                                 tax_office);
}

absl::StatusOr<std::string> Ledger::CommandRegion(const v1::AccountCommand& command) const {
  auto account_region = [&](std::string_view id) -> absl::StatusOr<std::string> {
    LEDGER_ASSIGN_OR_RETURN(auto account, GetAccount(id));
    return account ? account->region_code() : std::string();
  };
  if (IsFundCommand(command)) return std::string(FundCommandRegion(command));
  switch (command.command_case()) {
    case v1::AccountCommand::kTransferIn:
      return command.transfer_in().to_region();
    case v1::AccountCommand::kRefundContribution: {
      const std::string& receipt = command.refund_contribution().receipt_number();
      LEDGER_ASSIGN_OR_RETURN(auto entry,
                              impl_->store().Get(Cf::kIdempotency, keys::Receipt(receipt)));
      if (!entry || entry->size() != 16) return std::string();
      LEDGER_ASSIGN_OR_RETURN(auto event, ReadEvent(keys::DecodeU64(*entry)));
      return event.region_code();
    }
    case v1::AccountCommand::kCreditCollectiveSubsidy:
      return account_region(command.credit_collective_subsidy().citizen_id());
    case v1::AccountCommand::kDetermineBenefit:
      return account_region(command.determine_benefit().citizen_id());
    case v1::AccountCommand::kSuspendBenefit:
      return account_region(command.suspend_benefit().citizen_id());
    case v1::AccountCommand::kResumeBenefit:
      return account_region(command.resume_benefit().citizen_id());
    case v1::AccountCommand::kRecordDeath:
      return account_region(command.record_death().citizen_id());
    case v1::AccountCommand::kTransferOut:
      return account_region(command.transfer_out().citizen_id());
    case v1::AccountCommand::kRecordOverpaymentRecovery:
      return account_region(command.record_overpayment_recovery().citizen_id());
    case v1::AccountCommand::kTerminateParticipant:
      return account_region(command.terminate_participant().citizen_id());
    case v1::AccountCommand::kRecordCadreRole:
      return account_region(command.record_cadre_role().citizen_id());
    case v1::AccountCommand::kCreditCadreSubsidy:
      return account_region(command.credit_cadre_subsidy().citizen_id());
    default:
      break;  // the fund commands above; COMMAND_NOT_SET
  }
  return std::string();
}

}  // namespace ledger
