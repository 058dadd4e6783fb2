// Bulk loading rebuilt projections: the rows one replay run produced (the WriteBatch
// WorkingState::AddProjections fills) become sorted SST files, a series per column family,
// ingested into the store as one atomic change. Loading a large run this way costs a sort and a
// sequential write, where writing the batch cost a memtable insert per row and a flush.
#ifndef LEDGER_BULK_LOAD_H_
#define LEDGER_BULK_LOAD_H_

#include "absl/status/status.h"
#include "ledger/store.h"
#include "rocksdb/write_batch.h"

namespace ledger {

// Loads `batch`'s puts and deletes into `store`, newer than everything it holds: afterwards the
// store reads as if `batch` had been written. Within the batch, rows may come in any order and a
// later write of a key replaces an earlier one. The files are written (on two threads when the
// machine has the cores) in a directory under the store's, removed afterwards; durable when this
// returns. All or nothing: on failure the store is as it was. Offline only: no writer may run
// on `store`.
absl::Status BulkLoad(Store& store, const rocksdb::WriteBatch& batch);

}  // namespace ledger

#endif  // LEDGER_BULK_LOAD_H_
