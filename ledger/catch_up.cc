#include "ledger/catch_up.h"

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "ledger/hash.h"
#include "ledger/status_macros.h"
#include "ledger/strings.h"

namespace ledger {

namespace {

// Events per synced local batch: each batch holds the accounts it touches in memory.
constexpr uint64_t kCatchUpEventsPerBatch = 10'000;

// The local head must be an event of the authoritative log: same sequence, same bytes.
absl::Status CheckLocalHead(const EventLog& authoritative, const ChainHead& local,
                            const ChainHead& durable) {
  if (local.sequence > durable.sequence) {
    return absl::DataLossError(
        StrCat("the local store is at sequence ", local.sequence,
               ", ahead of the authoritative log's durable head ", durable.sequence,
               ": it holds events the log never acknowledged (another log, or a restored one)"));
  }
  if (local.sequence == 0) return absl::OkStatus();
  LEDGER_ASSIGN_OR_RETURN(auto stored, authoritative.Read(local.sequence));
  if (!stored || Sha256(*stored) != local.hash) {
    return absl::DataLossError(StrCat("the local head (sequence ", local.sequence,
                                      ") is not the authoritative log's event there"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<uint64_t> CatchUp(Store& store, EventLog& local, const EventLog& authoritative,
                                 CommittedState& committed, absl::Mutex* publish_mu) {
  LEDGER_ASSIGN_OR_RETURN(const ChainHead durable, authoritative.DurableHead());
  LEDGER_RETURN_IF_ERROR(CheckLocalHead(authoritative, committed.head, durable));
  uint64_t replayed = 0;
  while (committed.head.sequence < durable.sequence) {
    const uint64_t from = committed.head.sequence + 1;
    const uint64_t to = std::min<uint64_t>(durable.sequence, from + kCatchUpEventsPerBatch - 1);
    WorkingState state(store, local, committed);
    std::vector<std::string> stored;  // the local copy of the events
    absl::Status failed;
    LEDGER_RETURN_IF_ERROR(authoritative.Scan(from, to, [&](uint64_t seq, std::string_view e) {
      failed = state.Replay(seq, e);
      if (failed.ok()) stored.emplace_back(e);
      return failed.ok();
    }));
    LEDGER_RETURN_IF_ERROR(failed);
    if (state.head_sequence() != to) {
      return absl::DataLossError(StrCat("the authoritative log has no event ",
                                        state.head_sequence() + 1, " below its head ", to));
    }
    rocksdb::WriteBatch batch = state.ReserveBatch(/*with_events=*/true);
    const EventGroup group{.first_sequence = from, .stored = stored, .head = state.head()};
    LEDGER_RETURN_IF_ERROR(local.Append(committed.head, group, batch));
    state.AddProjections(batch);
    LEDGER_RETURN_IF_ERROR(store.WriteSynced(batch));
    if (publish_mu != nullptr) {
      absl::MutexLock lock(publish_mu);
      state.Publish(committed);
    } else {
      state.Publish(committed);
    }
    replayed += to - from + 1;
  }
  return replayed;
}

}  // namespace ledger
