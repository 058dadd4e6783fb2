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
  Impl(std::unique_ptr<Store> store, CommittedState committed, WriterOptions options)
      : store_(std::move(store)),
        log_(*store_),
        writer_(*store_, log_, std::move(committed), std::move(options)) {}

  const Store& store() const { return *store_; }
  const EventLog& log() const { return log_; }
  Writer& writer() { return writer_; }
  const Writer& writer() const { return writer_; }

 private:
  // In this order: the writer (destroyed first) answers what is queued while the log and the
  // store are still open.
  std::unique_ptr<Store> store_;
  RocksDbLog log_;
  Writer writer_;
};

}  // namespace ledger

#endif  // LEDGER_LEDGER_IMPL_H_
