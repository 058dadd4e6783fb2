#include "ledger/pg/postgres_log.h"

#include <utility>
#include <vector>

#include "ledger/status_macros.h"
#include "ledger/store.h"
#include "ledger/strings.h"

namespace ledger {

namespace {

// The group's rows PostgreSQL keeps besides the events: the idempotency rows (key → value, as
// RocksDB's) and the signed checkpoints (seq → serialized v1::Checkpoint).
class GroupRows : public rocksdb::WriteBatch::Handler {
 public:
  GroupRows(uint32_t idempotency_cf, uint32_t checkpoints_cf)
      : idempotency_cf_(idempotency_cf), checkpoints_cf_(checkpoints_cf) {}

  rocksdb::Status PutCF(uint32_t cf, const rocksdb::Slice& key,
                        const rocksdb::Slice& value) override {
    if (cf == idempotency_cf_) refs.emplace_back(key.ToString(), value.ToString());
    if (cf == checkpoints_cf_) {
      checkpoints.emplace_back(keys::DecodeU64(key.ToStringView()), value.ToString());
    }
    return rocksdb::Status::OK();
  }
  // References and checkpoints are never removed: a delete would leave PostgreSQL behind.
  rocksdb::Status DeleteCF(uint32_t cf, const rocksdb::Slice&) override {
    return cf == idempotency_cf_ || cf == checkpoints_cf_
               ? rocksdb::Status::NotSupported("a reference or checkpoint deleted")
               : rocksdb::Status::OK();
  }

  std::vector<std::pair<std::string, std::string>> refs;
  std::vector<std::pair<uint64_t, std::string>> checkpoints;

 private:
  const uint32_t idempotency_cf_;
  const uint32_t checkpoints_cf_;
};

}  // namespace

absl::StatusOr<ChainHead> PostgresLog::DurableHead() const { return pg_->DurableHead(); }

absl::StatusOr<std::optional<std::string>> PostgresLog::Read(uint64_t sequence) const {
  LEDGER_ASSIGN_OR_RETURN(ChainHead head, pg_->DurableHead());
  std::optional<std::string> out;
  if (sequence == 0 || sequence > head.sequence) return out;
  LEDGER_RETURN_IF_ERROR(pg_->ReadRange(sequence, sequence, [&](uint64_t, std::string_view e) {
    out = std::string(e);
    return absl::OkStatus();
  }));
  return out;
}

absl::Status PostgresLog::Scan(uint64_t from, uint64_t to, const Visitor& visit) const {
  LEDGER_ASSIGN_OR_RETURN(ChainHead head, pg_->DurableHead());
  from = std::max<uint64_t>(from, 1);
  to = to == 0 ? head.sequence : std::min(to, head.sequence);
  if (from > to) return absl::OkStatus();
  // A visitor's "stop" ends ReadRange through a status only this scan returns.
  const absl::Status stop = absl::CancelledError("scan stopped by its visitor");
  const absl::Status s = pg_->ReadRange(from, to, [&](uint64_t seq, std::string_view e) {
    return visit(seq, e) ? absl::OkStatus() : stop;
  });
  return s.code() == absl::StatusCode::kCancelled && s.message() == stop.message()
             ? absl::OkStatus()
             : s;
}

absl::Status PostgresLog::Append(const ChainHead& expected, const EventGroup& group,
                                 rocksdb::WriteBatch& same_batch) {
  LEDGER_CHECK(group.first_sequence == expected.sequence + 1 &&
                   group.stored.size() == group.head.sequence - expected.sequence,
               "an event group that does not continue its expected head");
  GroupRows rows(idempotency_cf_, checkpoints_cf_);
  if (const rocksdb::Status s = same_batch.Iterate(&rows); !s.ok()) {
    return absl::InternalError(StrCat("the group's batch: ", s.ToString()));
  }
  const std::vector<std::string> envelopes(group.stored.begin(), group.stored.end());
  LEDGER_ASSIGN_OR_RETURN(ChainHead head,
                          pg_->Append(expected, envelopes, rows.refs, rows.checkpoints));
  LEDGER_CHECK(head.sequence == group.head.sequence && head.hash == group.head.hash,
               "PostgreSQL's head after the append is not the group's");
  return absl::OkStatus();
}

}  // namespace ledger
