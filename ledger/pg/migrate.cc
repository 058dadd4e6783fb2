#include "ledger/pg/migrate.h"

#include <filesystem>
#include <memory>
#include <utility>
#include <vector>

#include "ledger/chain.h"
#include "ledger/hash.h"
#include "ledger/open.h"
#include "ledger/pg/pg_log.h"
#include "ledger/rocksdb_log.h"
#include "ledger/status_macros.h"
#include "ledger/store.h"
#include "ledger/strings.h"

namespace ledger {

namespace {

constexpr uint64_t kEventsPerGroup = 5'000;
constexpr size_t kRefsPerGroup = 20'000;

}  // namespace

absl::StatusOr<CopiedLog> CopyLogToPostgres(const std::string& data_dir,
                                            const std::string& conninfo,
                                            const std::string& ledger_id) {
  if (!std::filesystem::exists(std::filesystem::path(data_dir) / "CURRENT")) {
    return absl::NotFoundError(StrCat(data_dir, " holds no ledger"));
  }
  LEDGER_ASSIGN_OR_RETURN(std::unique_ptr<Store> store, Store::Open(data_dir));
  LEDGER_ASSIGN_OR_RETURN(CommittedState committed, LoadCommitted(*store));
  const RocksDbLog local(*store);
  LEDGER_RETURN_IF_ERROR(CheckAgainstHead(local, committed.head));
  if (committed.head.sequence > 0) {
    LEDGER_RETURN_IF_ERROR(VerifyRange(local, 1, 0, committed.head));
  }

  LEDGER_ASSIGN_OR_RETURN(std::unique_ptr<PgEventLog> pg,
                          PgEventLog::Open(conninfo, ledger_id, PgEventLog::Options()));
  LEDGER_ASSIGN_OR_RETURN(ChainHead pg_head, pg->DurableHead());
  if (pg_head.sequence != 0) {
    return absl::FailedPreconditionError(
        StrCat("PostgreSQL already holds ", pg_head.sequence, " events of ledger '", ledger_id,
               "'; copy into a new ledger id"));
  }

  CopiedLog copied{.head = pg_head};
  std::unique_ptr<rocksdb::Iterator> refs = store->NewIterator(Cf::kIdempotency);
  refs->SeekToFirst();
  std::unique_ptr<rocksdb::Iterator> checkpoints = store->NewIterator(Cf::kCheckpoints);
  checkpoints->SeekToFirst();
  while (copied.head.sequence < committed.head.sequence) {
    const uint64_t from = copied.head.sequence + 1;
    const uint64_t to = std::min(committed.head.sequence, from + kEventsPerGroup - 1);
    std::vector<std::string> envelopes;
    LEDGER_RETURN_IF_ERROR(local.Scan(from, to, [&](uint64_t, std::string_view stored) {
      envelopes.emplace_back(stored);
      return true;
    }));
    // The references ride along in slices (their seq column then says "by this group"); the
    // last group takes whatever is left. A checkpoint goes with the group of the event it signs.
    std::vector<std::pair<std::string, std::string>> group_refs;
    for (; refs->Valid() && (group_refs.size() < kRefsPerGroup || to == committed.head.sequence);
         refs->Next()) {
      group_refs.emplace_back(refs->key().ToString(), refs->value().ToString());
    }
    std::vector<std::pair<uint64_t, std::string>> group_checkpoints;
    for (; checkpoints->Valid(); checkpoints->Next()) {
      const uint64_t seq = keys::DecodeU64(checkpoints->key().ToStringView());
      if (seq > to) break;
      group_checkpoints.emplace_back(seq, checkpoints->value().ToString());
    }
    LEDGER_RETURN_IF_ERROR(refs->status().ok() && checkpoints->status().ok()
                               ? absl::OkStatus()
                               : absl::DataLossError("reading the local references"));
    copied.refs += group_refs.size();
    copied.checkpoints += group_checkpoints.size();
    LEDGER_ASSIGN_OR_RETURN(copied.head,
                            pg->Append(copied.head, envelopes, group_refs, group_checkpoints));
  }
  if (copied.head.hash != committed.head.hash) {
    return absl::DataLossError("PostgreSQL's head after the copy is not the local head");
  }
  // Published for followers at once (deploy/ha): the copy is acknowledged in full.
  LEDGER_RETURN_IF_ERROR(pg->PublishAcknowledged());
  return copied;
}

}  // namespace ledger
