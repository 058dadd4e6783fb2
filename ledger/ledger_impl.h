// Ledger::Impl: what an open ledger owns (the store, the log over it, the writer), shared by the
// files that implement the Ledger facade (ledger.cc, open.cc, reads.cc, audit_reads.cc,
// replay.cc). Internal to ledger_core.
#ifndef LEDGER_LEDGER_IMPL_H_
#define LEDGER_LEDGER_IMPL_H_

#include <memory>
#include <utility>

#include "ledger/ledger.h"
#include "ledger/rocksdb_log.h"
#include "ledger/store.h"
#include "ledger/working_state.h"
#include "ledger/writer.h"

namespace ledger {

class Ledger::Impl {
 public:
  // `authoritative`: the log.backend = postgres log the writer appends to first; null: the
  // store's own log (RocksDB) is the log.
  // `replication`: with `authoritative`, on a node under Patroni (ledger/replication.h).
  Impl(std::unique_ptr<Store> store, CommittedState committed, WriterOptions options,
       std::unique_ptr<EventLog> authoritative = nullptr,
       std::unique_ptr<Replication> replication = nullptr)
      : store_(std::move(store)),
        log_(*store_),
        authoritative_(std::move(authoritative)),
        replication_(std::move(replication)),
        writer_(*store_, log_, std::move(committed),
                WithAuthoritative(std::move(options), authoritative_.get(), replication_.get())) {}

  const Store& store() const { return *store_; }
  // The local copy of the log (every backend keeps one): what readers and replays read.
  const EventLog& log() const { return log_; }
  Writer& writer() { return writer_; }
  const Writer& writer() const { return writer_; }

 private:
  static WriterOptions WithAuthoritative(WriterOptions options, EventLog* authoritative,
                                         Replication* replication) {
    options.authoritative = authoritative;
    options.replication = replication;
    return options;
  }

  // In this order: the writer (destroyed first) answers what is queued while the log and the
  // store are still open.
  std::unique_ptr<Store> store_;
  RocksDbLog log_;
  std::unique_ptr<EventLog> authoritative_;
  std::unique_ptr<Replication> replication_;
  Writer writer_;
};

}  // namespace ledger

#endif  // LEDGER_LEDGER_IMPL_H_
