#include "ledger/read_ahead.h"

#include "ledger/working_state.h"

namespace ledger {

namespace {

// Events per chunk, and chunks decoded but not yet taken: the reader stays at most about 16k
// events (a few MiB) ahead.
constexpr size_t kReadAheadChunkEvents = 4096;
constexpr size_t kReadAheadChunks = 4;

}  // namespace

ReadAhead::ReadAhead(const EventLog& log, uint64_t last)
    : thread_([this, &log, last] { Run(log, last); }) {}

ReadAhead::~ReadAhead() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
}

std::unique_ptr<DecodedEvents> ReadAhead::Next() {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(this, &ReadAhead::ChunkReadyOrFinished));
  if (ready_.empty()) return nullptr;
  std::unique_ptr<DecodedEvents> chunk = std::move(ready_.front());
  ready_.pop_front();
  return chunk;
}

void ReadAhead::Recycle(std::unique_ptr<DecodedEvents> chunk) {
  chunk->events.clear();
  chunk->arena.Reset();
  absl::MutexLock lock(&mu_);
  spare_.push_back(std::move(chunk));
}

bool ReadAhead::ChunkReadyOrFinished() const { return !ready_.empty() || finished_; }

bool ReadAhead::RoomOrStopping() const { return ready_.size() < kReadAheadChunks || stopping_; }

absl::Status ReadAhead::status() const {
  absl::MutexLock lock(&mu_);
  return status_;
}

std::unique_ptr<DecodedEvents> ReadAhead::Hand(std::unique_ptr<DecodedEvents> chunk) {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(this, &ReadAhead::RoomOrStopping));
  if (stopping_) return nullptr;
  ready_.push_back(std::move(chunk));
  if (spare_.empty()) return std::make_unique<DecodedEvents>();
  std::unique_ptr<DecodedEvents> next = std::move(spare_.back());
  spare_.pop_back();
  return next;
}

void ReadAhead::Run(const EventLog& log, uint64_t last) {
  auto chunk = std::make_unique<DecodedEvents>();
  absl::Status failed;
  const absl::Status scanned = log.Scan(0, last, [&](uint64_t sequence, std::string_view stored) {
    auto* event = google::protobuf::Arena::CreateMessage<v1::EventEnvelope>(&chunk->arena);
    failed = DecodeStoredEvent(sequence, stored, *event);
    if (!failed.ok()) return false;
    chunk->events.emplace_back(sequence, event);
    if (chunk->events.size() < kReadAheadChunkEvents) return true;
    chunk = Hand(std::move(chunk));
    return chunk != nullptr;
  });
  if (failed.ok() && !scanned.ok()) failed = absl::DataLossError(scanned.message());
  if (chunk != nullptr && !chunk->events.empty()) chunk = Hand(std::move(chunk));
  absl::MutexLock lock(&mu_);
  finished_ = true;
  status_ = failed;
}

}  // namespace ledger
