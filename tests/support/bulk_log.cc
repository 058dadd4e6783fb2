#include "tests/support/bulk_log.h"

#include <utility>

#include "ledger/rules.h"
#include "ledger/store.h"
#include "ledger/working_state.h"

namespace ledger::testing {
namespace {

// The projection of an account enrolled on 2024-12-01 whose one contribution is `r`, as of
// `sequence`.
v1::Account AccountAfter(const v1::CollectionRecord& r, std::string_view region,
                         uint64_t sequence) {
  v1::Account account;
  account.set_citizen_id(r.citizen_id());
  account.set_name(r.name());
  account.set_region_code(std::string(region));
  account.set_enrolment_date("2024-12-01");
  account.set_status(v1::PARTICIPANT_STATUS_CONTRIBUTING);
  auto* b = account.add_balances();
  b->set_source(v1::FUNDING_SOURCE_PERSONAL);
  b->set_principal_fen(r.amount_fen());
  account.set_total_fen(r.amount_fen());
  account.set_contribution_years(1);
  auto* y = account.add_contributions();
  y->set_year(2025);
  y->set_amount_fen(r.amount_fen());
  y->set_receipt_number(r.receipt_number());
  account.set_last_sequence(sequence);
  account.set_enrolled_sequence(sequence);
  return account;
}

// A collection event's fields that do not depend on the record.
v1::EventEnvelope EventTemplate(std::string_view region) {
  v1::EventEnvelope event;
  event.set_effective_date("2025-03-14");
  event.set_recorded_time_us(1'750'000'000'000'000);
  event.set_actor("CN=tax-bureau-dev,OU=tax-bureau,O=Pension Ledger Dev");
  event.set_region_code(std::string(region));
  event.set_policy_version(1);
  event.set_prev_hash(std::string(32, 'h'));
  return event;
}

}  // namespace

BulkLogWriter::BulkLogWriter(std::unique_ptr<Store> store, std::string_view region)
    : store_(std::move(store)), region_(region) {}

BulkLogWriter::~BulkLogWriter() = default;

absl::StatusOr<std::unique_ptr<BulkLogWriter>> BulkLogWriter::Open(const std::string& dir,
                                                                   std::string_view region) {
  auto store = Store::Open(dir);
  if (!store.ok()) return store.status();
  return std::unique_ptr<BulkLogWriter>(new BulkLogWriter(std::move(*store), region));
}

absl::Status BulkLogWriter::WriteBatch(const std::vector<v1::CollectionRecord>& records,
                                       uint64_t first_sequence) {
  rocksdb::WriteBatch batch;
  rocksdb::Status put;
  auto add = [&](Cf cf, const std::string& key, const std::string& value) {
    if (put.ok()) put = batch.Put(store_->handle(cf), key, value);
  };
  v1::EventEnvelope event = EventTemplate(region_);
  uint64_t sequence = first_sequence;
  for (const v1::CollectionRecord& r : records) {
    event.set_sequence(sequence);
    event.set_external_ref(r.receipt_number());
    *event.mutable_contribution_collected() = CollectedFrom(r, v1::SUSPENSE_REASON_UNSPECIFIED);
    add(Cf::kEvents, keys::Event(sequence), SerializeDeterministic(event));
    add(Cf::kIdempotency, keys::Receipt(r.receipt_number()),
        keys::EncodeU64(sequence) + keys::EncodeU64(0));
    add(Cf::kAccounts, r.citizen_id(), AccountAfter(r, region_, sequence).SerializeAsString());
    ++sequence;
  }
  for (const char* account : {"tax_receivable", "individual_accounts/personal", "suspense"}) {
    add(Cf::kLedgerAccounts, keys::LedgerAccount(region_, account), keys::EncodeI64(0));
  }
  add(Cf::kMeta, std::string(keys::kLastSequence), keys::EncodeU64(first_sequence - 1));
  add(Cf::kMeta, std::string(keys::kChainHead), std::string(32, 'h'));
  if (!put.ok()) return absl::InternalError("WriteBatch::Put: " + put.ToString());
  return store_->WriteSynced(batch);
}

absl::Status CompactStore(const std::string& data_dir) {
  auto store = Store::Open(data_dir);
  if (!store.ok()) return store.status();
  return (*store)->CompactAll();
}

}  // namespace ledger::testing
