// Reading the log ahead of a replay: a thread of its own scans the log, decodes each event and
// hashes its stored bytes (DecodeStoredEvent), so the replaying thread only links and applies.
// Events come in chunks, at most kReadAheadChunks of them waiting.
#ifndef LEDGER_READ_AHEAD_H_
#define LEDGER_READ_AHEAD_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "google/protobuf/arena.h"
#include "ledger/event_log.h"
#include "ledger/v1/events.pb.h"

namespace ledger {

// Consecutive events, decoded with their hash set, on an arena of their own (freed as a whole).
struct DecodedEvents {
  google::protobuf::Arena arena;
  std::vector<std::pair<uint64_t, const v1::EventEnvelope*>> events;  // (sequence, event)
};

class ReadAhead {
 public:
  // Starts reading `log` from its first event up to sequence `last` (0: to the end). `log` must
  // outlive this object.
  ReadAhead(const EventLog& log, uint64_t last);
  // Stops the reader (wherever it is) and waits for it.
  ~ReadAhead();
  ReadAhead(const ReadAhead&) = delete;
  ReadAhead& operator=(const ReadAhead&) = delete;

  // The next chunk of events in sequence order, waiting for it; nullptr once the reader has
  // finished, then status() says why.
  std::unique_ptr<DecodedEvents> Next();
  // Hands a chunk back for reuse once its events have been applied.
  void Recycle(std::unique_ptr<DecodedEvents> chunk);
  // After Next() returned nullptr: OK at the end of the range; DATA_LOSS when an event did not
  // decode or the log could not be read (the scan's message kept).
  absl::Status status() const;

 private:
  void Run(const EventLog& log, uint64_t last);
  // Queues a full chunk; an empty one to fill next, or nullptr when the consumer has gone.
  std::unique_ptr<DecodedEvents> Hand(std::unique_ptr<DecodedEvents> chunk);
  bool ChunkReadyOrFinished() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool RoomOrStopping() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  std::deque<std::unique_ptr<DecodedEvents>> ready_ ABSL_GUARDED_BY(mu_);
  std::vector<std::unique_ptr<DecodedEvents>> spare_ ABSL_GUARDED_BY(mu_);
  bool finished_ ABSL_GUARDED_BY(mu_) = false;  // the reader has handed its last chunk
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;  // the consumer has gone
  absl::Status status_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;  // last: starts once everything above is constructed
};

}  // namespace ledger

#endif  // LEDGER_READ_AHEAD_H_
