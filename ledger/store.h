// RocksDB storage: column families and the byte layout of every key and value.
//
// Column families (the log is the truth; all but `events` are projections and can be dropped and
// rebuilt by replaying `events`):
//   events          key: u64 BE sequence (8 bytes)      value: stored EventEnvelope bytes
//                   (deterministic serialization, `hash` empty; see events.proto)
//   idempotency     key: 'r' + receipt number           value: u64 BE sequence of the
//                   ContributionCollected + u64 BE sequence of its ContributionCancelled (0: none)
//                   key: 'p' + region code + u32 BE ver value: u64 BE sequence of PolicyAdopted
//                   key: 'd' + document reference       value: u64 BE first + u64 BE last
//                   sequence the command recorded + 32-byte SHA-256 of the command
//   accounts        key: citizen ID (18 bytes)          value: v1::Account (serialized)
//   ledger_accounts key: region code + '/' + account    value: i64 BE two's complement, the
//                   account's debits minus credits, in fen
//   policies        key: region code + u32 BE version   value: v1::Policy (serialized)
//   participant_events key: citizen ID + u64 BE sequence value: empty. Every event that names
//                   the participant, in order (statements, overpayments, the auditor's filter).
//   jobs            key: region code + '/' + u32 BE JobKind value: i32 BE last completed period
//   checkpoints     key: u64 BE sequence                value: v1::Checkpoint (serialized). Not a
//                   projection: signatures cannot be rebuilt from the log, so a rebuild keeps them.
//   recon           the reconciliation projection; keys and values in ledger/recon.h.
//   meta            key: "last_sequence"                value: u64 BE
//                   key: "chain_head"                   value: 32-byte SHA-256 of the last event
//                   key: "schema_version"               value: decimal text, currently "3"
//                   key: "rebuild_in_progress"          value: "1" while projections are being
//                   rebuilt from the log (absent otherwise; the ledger refuses to open with it)
// Big-endian integers make RocksDB's bytewise order equal to numeric order.
#ifndef LEDGER_STORE_H_
#define LEDGER_STORE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "rocksdb/cache.h"
#include "rocksdb/db.h"
#include "rocksdb/env.h"
#include "rocksdb/file_system.h"

namespace ledger {

namespace keys {
std::string EncodeU64(uint64_t v);
uint64_t DecodeU64(std::string_view bytes);  // precondition: 8 bytes
std::string EncodeI64(int64_t v);
int64_t DecodeI64(std::string_view bytes);  // precondition: 8 bytes
std::string EncodeU32(uint32_t v);

std::string Event(uint64_t sequence);
std::string Receipt(std::string_view receipt_number);
std::string PolicyAdoption(std::string_view region_code, uint32_t version);
std::string LedgerAccount(std::string_view region_code, std::string_view account);
// LedgerAccount into `out` (replacing what it held), for a caller that reuses one buffer.
void LedgerAccountInto(std::string& out, std::string_view region_code, std::string_view account);
std::string Policy(std::string_view region_code, uint32_t version);
std::string Document(std::string_view document_ref);
std::string ParticipantEvent(std::string_view citizen_id, uint64_t sequence);
std::string JobMark(std::string_view region_code, uint32_t kind);

inline constexpr std::string_view kLastSequence = "last_sequence";
inline constexpr std::string_view kChainHead = "chain_head";
inline constexpr std::string_view kSchemaVersion = "schema_version";
inline constexpr std::string_view kRebuildInProgress = "rebuild_in_progress";
inline constexpr std::string_view kCurrentSchemaVersion = "3";
}  // namespace keys

enum class Cf {
  kEvents,
  kIdempotency,
  kAccounts,
  kLedgerAccounts,
  kPolicies,
  kMeta,
  kParticipantEvents,
  kJobs,
  kCheckpoints,
  kRecon
};
inline constexpr int kCfCount = 10;
// The column family's name in RocksDB ("accounts", …).
std::string_view CfName(Cf cf);

// Owns the RocksDB instance. Thread-safe (RocksDB is).
class Store {
 public:
  // `fs`: the filesystem RocksDB uses for every file; null = the default (POSIX) one. Tests pass a
  // fault-injecting wrapper (tests/reliability/faulty_fs.h).
  static absl::StatusOr<std::unique_ptr<Store>> Open(
      const std::string& path, std::shared_ptr<rocksdb::FileSystem> fs = nullptr);
  // A clean close: memtables above kCloseFlushBytesMin are flushed first (see there).
  ~Store();

  // Point read; nullopt when absent.
  absl::StatusOr<std::optional<std::string>> Get(Cf cf, std::string_view key) const;
  // Point reads of many keys at once (RocksDB's MultiGet, which looks the keys up file by file
  // and shares the index and filter work): calls `found(i, value)` for each keys[i] present.
  absl::Status MultiGet(Cf cf, std::span<const std::string_view> keys,
                        absl::FunctionRef<void(size_t i, std::string_view value)> found) const;

  // Commits `batch` atomically and durably: WriteOptions::sync = true, so when this returns OK
  // the batch is on stable storage (fsync'd WAL) and survives a crash or power loss.
  // A failed write (ENOSPC: RESOURCE_EXHAUSTED, EIO: UNAVAILABLE) leaves RocksDB read-only (its
  // "background error"); Resume() clears that once the cause is gone, when RocksDB can (ENOSPC
  // while syncing the WAL; not after a failed WAL append or EIO: then only a reopen does).
  absl::Status WriteSynced(rocksdb::WriteBatch& batch);

  // DB::Resume(): after a write error, flushes the memtables to new files (so nothing of the
  // failed write is kept or replayed later) and makes the database writable again. OK when there
  // is no error to clear; the error again while its cause persists.
  absl::Status Resume();

  // Applies `batch` without the WAL: it reaches disk only at FlushProjections(). For the offline
  // rebuild, which marks itself in progress (keys::kRebuildInProgress) until the flush is done.
  absl::Status WriteUnlogged(rocksdb::WriteBatch& batch);
  // Flushes every projection's memtable to SST files and waits: after this the unlogged writes
  // are durable.
  absl::Status FlushProjections();

  // A consistent point-in-time copy of the whole database in `directory` (which must not exist),
  // hard-linked where the filesystem allows. Safe while the database is open.
  absl::Status Checkpoint(const std::string& directory);

  // Compacts every column family fully (bottommost level too) and waits. Offline tools only.
  absl::Status CompactAll();

  // A consistent point-in-time view for reads (released when the last copy goes).
  std::shared_ptr<const rocksdb::Snapshot> Snapshot() const;
  absl::StatusOr<std::optional<std::string>> Get(Cf cf, std::string_view key,
                                                 const rocksdb::Snapshot* snapshot) const;
  std::unique_ptr<rocksdb::Iterator> NewIterator(Cf cf, const rocksdb::Snapshot* snapshot) const;

  // Drops and recreates every column family except `events` and `checkpoints`. Only with no
  // writer running.
  absl::Status DropProjections();

  // Every (key, value) of a column family, in key order. For tests and tools on small ledgers.
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> Scan(Cf cf) const;

  // Sum of a RocksDB integer property (e.g. "rocksdb.total-sst-files-size") over every column
  // family.
  uint64_t SumProperty(const std::string& property) const;

  std::unique_ptr<rocksdb::Iterator> NewIterator(Cf cf) const;
  rocksdb::ColumnFamilyHandle* handle(Cf cf) const { return handles_[static_cast<int>(cf)]; }

 private:
  Store() = default;
  std::unique_ptr<rocksdb::Env> env_;  // wraps an injected FileSystem; outlives db_
  std::shared_ptr<rocksdb::Cache> cache_;  // the block cache of every column family
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;  // indexed by Cf; owned, freed in ~Store
};

}  // namespace ledger

#endif  // LEDGER_STORE_H_
