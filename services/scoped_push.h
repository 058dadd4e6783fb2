// One collection message's records submitted for a caller limited to some regions, and the
// counting of their outcomes into a PushCollectionsResponse. Used by both collection calls
// (PushCollections, StreamCollections).
#ifndef SERVICES_SCOPED_PUSH_H_
#define SERVICES_SCOPED_PUSH_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "ledger/ledger.h"
#include "ledger/v1/services.pb.h"
#include "services/auth.h"

namespace services {

// Records for regions outside the caller's certificate are rejected here (REGION_NOT_PERMITTED)
// and never reach the ledger; the rest are queued for the writer at once, and Wait() merges both
// back into request order.
class ScopedPush {
 public:
  // `on_ready` runs on the writer's thread once the push is decided (see Ledger::SubmitCollections).
  static ScopedPush Submit(ledger::Ledger& ledger, const Caller& caller,
                           std::shared_ptr<const ledger::Ledger::Records> records,
                           std::function<void()> on_ready = {});

  bool Ready() const { return pending_.Ready(); }

  // Each record's outcome, indexed by its position in the message.
  absl::StatusOr<std::vector<ledger::v1::RecordOutcome>> Wait();

 private:
  ScopedPush(std::vector<ledger::v1::RecordOutcome> outcomes, std::vector<int> positions,
             bool scoped, ledger::PendingPush pending)
      : outcomes_(std::move(outcomes)),
        positions_(std::move(positions)),
        scoped_(scoped),
        pending_(std::move(pending)) {}

  std::vector<ledger::v1::RecordOutcome> outcomes_;  // rejections found here (scoped callers only)
  std::vector<int> positions_;                       // request index of each submitted record
  bool scoped_;
  ledger::PendingPush pending_;
};

// Adds `outcomes` to `response`'s counts and outcomes, their indexes shifted by `index_offset`
// (the message's first record within the call).
void Count(const std::vector<ledger::v1::RecordOutcome>& outcomes, uint32_t index_offset,
           ledger::v1::PushCollectionsResponse* response);

}  // namespace services

#endif  // SERVICES_SCOPED_PUSH_H_
