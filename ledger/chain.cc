#include "ledger/chain.h"

#include <string>
#include <string_view>
#include <utility>

#include "ledger/hash.h"
#include "ledger/status_macros.h"
#include "ledger/strings.h"
#include "ledger/v1/events.pb.h"

namespace ledger {

namespace {

using Break = std::optional<Ledger::ChainBreak>;

Break Broken(uint64_t sequence, std::string reason) {
  return Break(Ledger::ChainBreak{sequence, std::move(reason)});
}

// Event `expected`, stored under `key`, decodes, carries its sequence and links to `prev`.
Break CheckLink(uint64_t key, uint64_t expected, std::string_view stored, const std::string& prev) {
  if (key != expected) {
    return Broken(expected, StrCat("event ", expected, " is missing (next is ", key, ")"));
  }
  v1::EventEnvelope e;
  if (!e.ParseFromArray(stored.data(), static_cast<int>(stored.size()))) {
    return Broken(expected, StrCat("event ", expected, " does not decode"));
  }
  if (e.sequence() != expected) {
    return Broken(expected, StrCat("event ", expected, " carries sequence ", e.sequence()));
  }
  if (e.prev_hash() != prev) {
    return Broken(expected, StrCat("event ", expected, " does not link to the hash of event ",
                                   expected - 1));
  }
  return Break();
}

// The range's last event is vouched for by what follows it: the recorded chain head, or the
// next event's link.
absl::StatusOr<Break> CheckSuccessor(const EventLog& log, uint64_t to, const std::string& prev,
                                     const ChainHead& head) {
  if (to == head.sequence) {
    if (prev != head.hash) {
      return Broken(to, "the last event does not hash to the recorded chain head");
    }
    return Break();
  }
  // (A missing or undecodable successor is a break outside the range, not this event's.)
  LEDGER_ASSIGN_OR_RETURN(auto next_bytes, log.Read(to + 1));
  v1::EventEnvelope next;
  if (next_bytes && next.ParseFromString(*next_bytes) && next.prev_hash() != prev) {
    return Broken(to, StrCat("event ", to, " does not hash to the link event ", to + 1, " holds"));
  }
  return Break();
}

}  // namespace

absl::StatusOr<Break> FindBreak(const EventLog& log, uint64_t from, uint64_t to,
                                const ChainHead& head) {
  if (to == 0) to = head.sequence;
  if (from == 0 || from > to || to > head.sequence) {
    return absl::OutOfRangeError(
        StrCat("range [", from, ", ", to, "] is outside [1, ", head.sequence, "]"));
  }
  std::string prev = GenesisHash();
  if (from > 1) {
    LEDGER_ASSIGN_OR_RETURN(auto bytes, log.Read(from - 1));
    if (!bytes) return Broken(from - 1, StrCat("event ", from - 1, " is missing"));
    prev = Sha256(*bytes);
  }
  uint64_t expected = from;
  Break found;
  // Scans past `to` by one step, so a read failure just after the range is reported as today.
  const absl::Status scanned = log.Scan(from, 0, [&](uint64_t key, std::string_view stored) {
    if (expected > to) return false;
    found = CheckLink(key, expected, stored, prev);
    if (found) return false;
    prev = Sha256(stored);
    ++expected;
    return true;
  });
  if (found) return found;
  if (!scanned.ok()) {
    if (scanned.code() == absl::StatusCode::kDataLoss) {
      return Broken(expected, std::string(scanned.message()));
    }
    return scanned;
  }
  if (expected <= to) return Broken(expected, StrCat("event ", expected, " is missing"));
  return CheckSuccessor(log, to, prev, head);
}

absl::Status VerifyRange(const EventLog& log, uint64_t from, uint64_t to, const ChainHead& head) {
  LEDGER_ASSIGN_OR_RETURN(auto found, FindBreak(log, from, to, head));
  if (found) return absl::DataLossError(found->reason);
  return absl::OkStatus();
}

absl::Status CheckAgainstHead(const EventLog& log, const ChainHead& head) {
  LEDGER_ASSIGN_OR_RETURN(const ChainHead durable, log.DurableHead());
  if (durable.sequence != head.sequence) {
    return absl::DataLossError(StrCat(
        "the log ends at sequence ", durable.sequence, " but the projections are at ",
        head.sequence, "; run `ledgerctl rebuild` (offline) to rebuild projections from the log"));
  }
  if (head.sequence == 0) return absl::OkStatus();
  if (durable.hash != head.hash) {
    return absl::DataLossError(
        StrCat("event ", head.sequence, " does not hash to the recorded chain head"));
  }
  return absl::OkStatus();
}

}  // namespace ledger
