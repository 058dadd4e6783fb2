#include "ledger/rocksdb_log.h"

#include "absl/status/status.h"
#include "ledger/hash.h"
#include "ledger/status_macros.h"
#include "ledger/strings.h"

namespace ledger {

namespace {

// An iterator's failure: corruption is damage to the log, anything else a failed read.
absl::Status IteratorError(const rocksdb::Status& s) {
  if (s.IsCorruption()) return absl::DataLossError(s.ToString());
  return absl::UnavailableError(s.ToString());
}

}  // namespace

absl::StatusOr<ChainHead> RocksDbLog::DurableHead() const {
  auto it = store_.NewIterator(Cf::kEvents);
  it->SeekToLast();
  if (!it->status().ok()) return absl::DataLossError(it->status().ToString());
  if (!it->Valid()) return ChainHead{0, GenesisHash()};
  return ChainHead{keys::DecodeU64(it->key().ToStringView()), Sha256(it->value().ToStringView())};
}

absl::StatusOr<std::optional<std::string>> RocksDbLog::Read(uint64_t sequence) const {
  return store_.Get(Cf::kEvents, keys::Event(sequence));
}

absl::Status RocksDbLog::Scan(uint64_t from, uint64_t to, const Visitor& visit) const {
  auto it = store_.NewIterator(Cf::kEvents);
  for (it->Seek(keys::Event(from)); it->Valid(); it->Next()) {
    const uint64_t sequence = keys::DecodeU64(it->key().ToStringView());
    if ((to != 0 && sequence > to) || !visit(sequence, it->value().ToStringView())) break;
  }
  if (!it->status().ok()) return IteratorError(it->status());
  return absl::OkStatus();
}

absl::Status RocksDbLog::Append(const ChainHead& expected, const EventGroup& group,
                                rocksdb::WriteBatch& same_batch) {
  LEDGER_CHECK(group.first_sequence == expected.sequence + 1 &&
                   group.stored.size() == group.head.sequence - expected.sequence,
               "an event group that does not continue its expected head");
  // The single writer holds the database open exclusively, so these reads see the last
  // committed batch: the durable head.
  LEDGER_ASSIGN_OR_RETURN(auto next, Read(expected.sequence + 1));
  std::optional<std::string> last_hash = GenesisHash();
  if (expected.sequence > 0) {
    LEDGER_ASSIGN_OR_RETURN(auto last, Read(expected.sequence));
    last_hash = last ? std::optional<std::string>(Sha256(*last)) : std::nullopt;
  }
  if (next || last_hash != expected.hash) {
    return absl::AbortedError(StrCat("the log's durable head is not the expected sequence ",
                                     expected.sequence));
  }
  for (size_t i = 0; i < group.stored.size(); ++i) {
    const std::string& stored = group.stored[i];
    const auto s = same_batch.Put(store_.handle(Cf::kEvents), keys::Event(group.first_sequence + i),
                                  rocksdb::Slice(stored.data(), stored.size()));
    LEDGER_CHECK(s.ok(), s.ToString());
  }
  return absl::OkStatus();
}

}  // namespace ledger
