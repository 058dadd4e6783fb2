// Replaying the log into projections: the offline rebuild (Ledger::RebuildProjections) and the
// online replay-and-compare check (Ledger::ReplayCompare).
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <future>
#include <memory>
#include <optional>
#include <string>

#include "ledger/hash.h"
#include "ledger/ledger.h"
#include "ledger/ledger_impl.h"
#include "ledger/open.h"
#include "ledger/rocksdb_log.h"
#include "ledger/status_macros.h"
#include "ledger/strings.h"
#include "ledger/working_state.h"

namespace ledger {

namespace {

// Replays the log's events from its first up to sequence `last` (0: to the end) into `target`'s
// projections, `per_batch` events per unlogged write, verifying the chain as it goes. Returns the
// number replayed.
//
// Pipelined as the writer is (ledger/writer.h): while a helper thread builds and writes batch N,
// this thread replays batch N+1 on a WorkingState over N, which reads N's rows before the store's.
// N+1 is handed to the helper only once N is written; N is freed there, off this thread.
absl::StatusOr<uint64_t> ReplayInto(const EventLog& log, uint64_t last, Store& target,
                                    size_t per_batch) {
  per_batch = std::max<size_t>(1, per_batch);
  CommittedState genesis;
  genesis.head.hash = GenesisHash();
  uint64_t replayed = 0;
  std::unique_ptr<WorkingState> state;      // the batch being replayed
  std::unique_ptr<WorkingState> in_flight;  // the batch being written, state's predecessor
  std::future<absl::Status> written;        // in_flight's write
  size_t in_batch = 0;
  // Hands the full `state` over to be written, once its predecessor is.
  auto hand_over = [&]() -> absl::Status {
    if (written.valid()) LEDGER_RETURN_IF_ERROR(written.get());
    state->ForgetPredecessor();
    written = std::async(std::launch::async, [&target, batch_state = state.get(),
                                              done = std::move(in_flight)]() mutable {
      done.reset();
      rocksdb::WriteBatch batch = batch_state->ReserveBatch(/*with_events=*/false);
      batch_state->AddProjections(batch);
      return target.WriteUnlogged(batch);
    });
    in_flight = std::move(state);
    in_batch = 0;
    return absl::OkStatus();
  };
  absl::Status failed;
  const absl::Status scanned = log.Scan(0, last, [&](uint64_t sequence, std::string_view stored) {
    if (!state) {
      state = in_flight ? std::make_unique<WorkingState>(target, log, *in_flight)
                        : std::make_unique<WorkingState>(target, log, genesis);
    }
    failed = state->Replay(sequence, stored);
    if (failed.ok()) ++replayed;
    if (failed.ok() && ++in_batch >= per_batch) failed = hand_over();
    return failed.ok();
  });
  if (failed.ok() && scanned.ok() && state) failed = hand_over();
  // Whatever happened, nothing is left writing when this returns.
  const absl::Status last_write = written.valid() ? written.get() : absl::OkStatus();
  LEDGER_RETURN_IF_ERROR(failed);
  if (!scanned.ok()) return absl::DataLossError(scanned.message());
  LEDGER_RETURN_IF_ERROR(last_write);
  return replayed;
}

// Compares one projection column family of the live store (at `snapshot`) with the rebuilt one,
// counting rows into `out`; records the first difference there.
absl::Status CompareFamily(Cf cf, const Store& live, const rocksdb::Snapshot* snapshot,
                           const Store& rebuilt, Ledger::ReplayComparison& out) {
  auto a = live.NewIterator(cf, snapshot);
  auto b = rebuilt.NewIterator(cf);
  a->SeekToFirst();
  b->SeekToFirst();
  while (out.equal && (a->Valid() || b->Valid())) {
    ++out.rows_compared;
    const int order = !a->Valid() ? 1 : !b->Valid() ? -1 : a->key().compare(b->key());
    const std::string cf_name = StrCat("column family ", CfName(cf));
    if (order != 0) {
      const auto& side = order < 0 ? a : b;
      out.first_difference = StrCat(cf_name, " key ", HexEncode(side->key().ToStringView()),
                                    order < 0 ? " is live but not rebuilt"
                                              : " is rebuilt but not live");
      out.equal = false;
    } else if (a->value() != b->value()) {
      out.first_difference =
          StrCat(cf_name, " key ", HexEncode(a->key().ToStringView()), ": live ",
                 a->value().size(), " bytes ", HexEncode(a->value().ToStringView().substr(0, 64)),
                 " != rebuilt ", b->value().size(), " bytes ",
                 HexEncode(b->value().ToStringView().substr(0, 64)));
      out.equal = false;
    } else {
      a->Next();
      b->Next();
    }
  }
  if (!a->status().ok() || !b->status().ok()) {
    return absl::DataLossError(StrCat(a->status().ToString(), " ", b->status().ToString()));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status Ledger::RebuildProjections(const std::string& data_dir, size_t events_per_batch) {
  LEDGER_ASSIGN_OR_RETURN(auto store, Store::Open(data_dir));
  LEDGER_RETURN_IF_ERROR(store->DropProjections());
  // Marked in progress (durably) before anything is rebuilt, cleared only after every rebuilt
  // projection is flushed: a crash in between leaves a ledger that refuses to open.
  rocksdb::WriteBatch mark;
  mark.Put(store->handle(Cf::kMeta), std::string(keys::kRebuildInProgress), "1");
  LEDGER_RETURN_IF_ERROR(store->WriteSynced(mark));
  LEDGER_RETURN_IF_ERROR(EnsureSchema(*store));
  const RocksDbLog log(*store);
  LEDGER_RETURN_IF_ERROR(ReplayInto(log, 0, *store, events_per_batch).status());
  LEDGER_RETURN_IF_ERROR(store->FlushProjections());
  rocksdb::WriteBatch done;
  done.Delete(store->handle(Cf::kMeta), std::string(keys::kRebuildInProgress));
  return store->WriteSynced(done);
}

absl::StatusOr<Ledger::ReplayComparison> Ledger::ReplayCompare(
    const std::string& scratch_dir) const {
  const auto start = std::chrono::steady_clock::now();
  const Store& live = impl_->store();
  // One snapshot holds whole commits only: its own last_sequence is the head it shows. Events
  // up to it never change, so the log is read without the snapshot.
  const auto snapshot = live.Snapshot();
  LEDGER_ASSIGN_OR_RETURN(auto last, live.Get(Cf::kMeta, keys::kLastSequence, snapshot.get()));
  ReplayComparison out;
  out.sequence = last ? keys::DecodeU64(*last) : 0;
  std::error_code error;
  std::filesystem::remove_all(scratch_dir, error);
  {
    LEDGER_ASSIGN_OR_RETURN(auto scratch, Store::Open(scratch_dir));
    LEDGER_RETURN_IF_ERROR(EnsureSchema(*scratch));
    if (out.sequence > 0) {
      LEDGER_ASSIGN_OR_RETURN(out.events_replayed, ReplayInto(impl_->log(), out.sequence,
                                                              *scratch, kReplayEventsPerBatchMax));
    }
    out.equal = true;
    for (Cf cf : {Cf::kIdempotency, Cf::kAccounts, Cf::kLedgerAccounts, Cf::kPolicies,
                  Cf::kParticipantEvents, Cf::kJobs, Cf::kRecon, Cf::kMeta}) {
      LEDGER_RETURN_IF_ERROR(CompareFamily(cf, live, snapshot.get(), *scratch, out));
      if (!out.equal) break;
    }
  }
  std::filesystem::remove_all(scratch_dir, error);
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return out;
}

}  // namespace ledger
