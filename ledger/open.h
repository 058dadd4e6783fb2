// Opening a data directory: the schema version and the committed state the writer starts from.
#ifndef LEDGER_OPEN_H_
#define LEDGER_OPEN_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "ledger/store.h"
#include "ledger/working_state.h"

namespace ledger {

// Records the current schema version in a new store; FAILED_PRECONDITION for another version.
absl::Status EnsureSchema(Store& store);

// The projections' head (meta), policies, job marks and ledger-account totals. DATA_LOSS when
// they are damaged or the totals do not sum to zero.
absl::StatusOr<CommittedState> LoadCommitted(const Store& store);

}  // namespace ledger

#endif  // LEDGER_OPEN_H_
