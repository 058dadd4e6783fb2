// Test support for ledger-bench's storage scenarios: a store filled straight through RocksDB,
// bypassing gRPC, validation and the group-commit writer, and the full compaction of a stopped
// ledger's store. It reaches the ledger's internals (the store's column families and keys); it is
// test support, never product code.
#ifndef TESTS_SUPPORT_BULK_LOG_H_
#define TESTS_SUPPORT_BULK_LOG_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "ledger/v1/records.pb.h"

namespace ledger {
class Store;
}  // namespace ledger

namespace ledger::testing {

// Writes what the ledger writes for accepted collections: per record the event, its idempotency
// entry and the account projection; per batch the region's ledger-account totals, the last
// sequence and the chain head. Same keys, byte sizes, column families and options as the ledger,
// one synced WriteBatch per call: the physical limit the ingest path is measured against. The
// rows are stand-ins (a fixed chain head, zero totals): the result is not a ledger to open.
class BulkLogWriter {
 public:
  // A fresh store in `dir`; every event and account is in `region`.
  static absl::StatusOr<std::unique_ptr<BulkLogWriter>> Open(const std::string& dir,
                                                             std::string_view region);
  ~BulkLogWriter();

  // `records` as events first_sequence, first_sequence + 1, …, in one synced write.
  absl::Status WriteBatch(const std::vector<v1::CollectionRecord>& records,
                          uint64_t first_sequence);

 private:
  BulkLogWriter(std::unique_ptr<Store> store, std::string_view region);

  std::unique_ptr<Store> store_;
  std::string region_;
};

// Compacts every column family of the (stopped) ledger in `data_dir` fully and waits: the disk
// use its data settles to.
absl::Status CompactStore(const std::string& data_dir);

}  // namespace ledger::testing

#endif  // TESTS_SUPPORT_BULK_LOG_H_
