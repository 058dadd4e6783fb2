#include "services/scoped_push.h"

#include <string>
#include <utility>

#include "ledger/strings.h"

namespace services {
namespace {

using ledger::StrCat;
namespace v1 = ledger::v1;

v1::RecordOutcome Rejected(uint32_t index, v1::Reason reason, std::string detail) {
  v1::RecordOutcome o;
  o.set_index(index);
  o.set_outcome(v1::OUTCOME_REJECTED);
  o.set_reason(reason);
  o.set_detail(std::move(detail));
  return o;
}

}  // namespace

ScopedPush ScopedPush::Submit(ledger::Ledger& ledger, const Caller& caller,
                              std::shared_ptr<const ledger::Ledger::Records> records,
                              std::function<void()> on_ready) {
  if (caller.regions.empty()) {
    return ScopedPush({}, {}, false,
                      ledger.SubmitCollections(std::move(records), caller.actor,
                                               std::move(on_ready)));
  }
  std::vector<v1::RecordOutcome> outcomes(records->size());
  auto permitted = std::make_shared<ledger::Ledger::Records>();
  std::vector<int> positions;
  for (int i = 0; i < records->size(); ++i) {
    const v1::CollectionRecord& r = records->Get(i);
    if (caller.MayAccessRegion(r.region_code())) {
      *permitted->Add() = r;
      positions.push_back(i);
    } else {
      outcomes[i] = Rejected(i, v1::REASON_REGION_NOT_PERMITTED,
                             StrCat("the caller's certificate does not cover region '",
                                    r.region_code(), "'"));
    }
  }
  return ScopedPush(std::move(outcomes), std::move(positions), true,
                    ledger.SubmitCollections(std::move(permitted), caller.actor,
                                             std::move(on_ready)));
}

absl::StatusOr<std::vector<v1::RecordOutcome>> ScopedPush::Wait() {
  auto pushed = pending_.Wait();
  if (!pushed.ok() || !scoped_) return pushed;
  for (size_t j = 0; j < pushed->size(); ++j) {
    outcomes_[positions_[j]] = std::move((*pushed)[j]);
    outcomes_[positions_[j]].set_index(positions_[j]);
  }
  return std::move(outcomes_);
}

void Count(const std::vector<v1::RecordOutcome>& outcomes, uint32_t index_offset,
           v1::PushCollectionsResponse* response) {
  for (const v1::RecordOutcome& o : outcomes) {
    switch (o.outcome()) {
      case v1::OUTCOME_ACCEPTED: response->set_accepted_count(response->accepted_count() + 1); break;
      case v1::OUTCOME_DUPLICATE: response->set_duplicate_count(response->duplicate_count() + 1); break;
      case v1::OUTCOME_SUSPENSE: response->set_suspense_count(response->suspense_count() + 1); break;
      default: response->set_rejected_count(response->rejected_count() + 1); break;
    }
    v1::RecordOutcome* added = response->add_outcomes();
    *added = o;
    added->set_index(o.index() + index_offset);
  }
}

}  // namespace services
