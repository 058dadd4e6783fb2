// Bringing the local store up to the authoritative log (log.backend = postgres): the events
// after the local head are read from the authoritative log, checked against the chain, and
// committed locally (their copy in the `events` column family and every projection), synced,
// in batches. Used on open, and by the writer after a group whose append failed or was in
// doubt, before it decides anything else.
#ifndef LEDGER_CATCH_UP_H_
#define LEDGER_CATCH_UP_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "ledger/event_log.h"
#include "ledger/store.h"
#include "ledger/working_state.h"

namespace ledger {

// Replays the authoritative log's events after `committed.head` up to its durable head into
// `store` (local copy of the events through `local`, then the projections), publishing each
// batch into `committed` under `publish_mu` (null: no lock). Returns the number of events
// replayed. DATA_LOSS when the local head is not in the authoritative log (a different chain,
// or a local store ahead of it: it was never acknowledged by this log) or the chain breaks.
absl::StatusOr<uint64_t> CatchUp(Store& store, EventLog& local, const EventLog& authoritative,
                                 CommittedState& committed, absl::Mutex* publish_mu);

}  // namespace ledger

#endif  // LEDGER_CATCH_UP_H_
