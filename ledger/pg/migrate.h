// Moving a ledger's log between backends, offline (ledgerd stopped; deploy/OPERATIONS.md):
//   RocksDB → PostgreSQL: CopyLogToPostgres, below. The data directory then opens with
//     log.backend = postgres as it is (its head is PostgreSQL's head: nothing to catch up).
//   PostgreSQL → RocksDB: open a new data directory once with log.backend = postgres (Open
//     catches it up from PostgreSQL, verifying the chain), stop, and run it with
//     log.backend = rocksdb: the directory holds every event and every projection.
#ifndef LEDGER_PG_MIGRATE_H_
#define LEDGER_PG_MIGRATE_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "ledger/types.h"

namespace ledger {

struct CopiedLog {
  ChainHead head;
  uint64_t refs = 0;
  uint64_t checkpoints = 0;
};

// Copies the RocksDB ledger in `data_dir` (not open elsewhere) into PostgreSQL as ledger
// `ledger_id`: the chain is verified first (every event re-hashed against the head), then the
// events, the idempotency rows and the signed checkpoints are appended in groups, each one
// transaction acknowledged by the synchronous standby, exactly as the writer appends them.
// FAILED_PRECONDITION when PostgreSQL already holds events for `ledger_id`; DATA_LOSS when the
// local chain does not verify (nothing is copied). A copy cut short (a lost connection) can
// be finished by running it again only after dropping the partial ledger; it never leaves a
// partial chain that does not verify.
absl::StatusOr<CopiedLog> CopyLogToPostgres(const std::string& data_dir,
                                            const std::string& conninfo,
                                            const std::string& ledger_id);

}  // namespace ledger

#endif  // LEDGER_PG_MIGRATE_H_
