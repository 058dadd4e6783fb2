// A RocksDB FileSystem for tests that makes writes fail on demand: from the moment Inject() is
// called until Clear(), every Append (and PositionedAppend, Flush) and/or Sync (and Fsync,
// RangeSync) of a file whose name ends with the chosen suffix fails with ENOSPC
// (IOStatus::NoSpace) or EIO (IOStatus::IOError). Files opened before the fault are affected too:
// the switch is checked on every call. Everything else is passed to the wrapped filesystem.
// HoldNextSync() makes the next WAL sync wait until ReleaseSync(), so a test can act while a
// commit is between its write and its sync (the writer deciding the next group meanwhile).
#ifndef LEDGER_TESTS_RELIABILITY_FAULTY_FS_H_
#define LEDGER_TESTS_RELIABILITY_FAULTY_FS_H_

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>

#include "rocksdb/file_system.h"
#include "rocksdb/io_status.h"

namespace ledger_test {

class FaultyFileSystem : public rocksdb::FileSystemWrapper {
 public:
  enum class Kind { kNoSpace, kIOError };
  enum class Op { kAppend, kSync, kBoth };

  explicit FaultyFileSystem(std::shared_ptr<rocksdb::FileSystem> target =
                                rocksdb::FileSystem::Default())
      : rocksdb::FileSystemWrapper(std::move(target)) {}

  static const char* kClassName() { return "LedgerTestFaultyFileSystem"; }
  const char* Name() const override { return kClassName(); }

  // From now on, `op` on files named "*<suffix>" fails with `kind`. ".log": the WAL only; "": all.
  void Inject(Kind kind, Op op, std::string suffix = ".log") {
    std::lock_guard lock(mu_);
    kind_ = kind;
    op_ = op;
    suffix_ = std::move(suffix);
    active_ = true;
  }
  void Clear() {
    std::lock_guard lock(mu_);
    active_ = false;
  }
  // Calls failed so far.
  uint64_t injected() const { return injected_.load(); }

  // The next sync of a WAL file waits, until ReleaseSync(), before it is checked for a fault.
  void HoldNextSync() {
    std::lock_guard lock(mu_);
    hold_ = Hold::kArmed;
  }
  // Waits until a sync is being held.
  void WaitUntilHeld() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return hold_ == Hold::kHolding; });
  }
  void ReleaseSync() {
    std::lock_guard lock(mu_);
    hold_ = Hold::kOff;
    cv_.notify_all();
  }

  // The status a call of `op` on `file` gets now: a fault, or OK to pass it on.
  rocksdb::IOStatus Check(Op op, const std::string& file) {
    std::unique_lock lock(mu_);
    if (op == Op::kSync && hold_ == Hold::kArmed && file.ends_with(".log")) {
      hold_ = Hold::kHolding;
      cv_.notify_all();
      cv_.wait(lock, [&] { return hold_ == Hold::kOff; });
    }
    if (!active_ || (op_ != Op::kBoth && op_ != op)) return rocksdb::IOStatus::OK();
    if (file.size() < suffix_.size() ||
        file.compare(file.size() - suffix_.size(), suffix_.size(), suffix_) != 0) {
      return rocksdb::IOStatus::OK();
    }
    ++injected_;
    const std::string what = "injected fault writing " + file;
    return kind_ == Kind::kNoSpace ? rocksdb::IOStatus::NoSpace(what)
                                   : rocksdb::IOStatus::IOError(what);
  }

  rocksdb::IOStatus NewWritableFile(const std::string& f, const rocksdb::FileOptions& o,
                                    std::unique_ptr<rocksdb::FSWritableFile>* r,
                                    rocksdb::IODebugContext* dbg) override {
    auto s = target()->NewWritableFile(f, o, r, dbg);
    if (s.ok()) Wrap(f, r);
    return s;
  }
  rocksdb::IOStatus ReopenWritableFile(const std::string& f, const rocksdb::FileOptions& o,
                                       std::unique_ptr<rocksdb::FSWritableFile>* r,
                                       rocksdb::IODebugContext* dbg) override {
    auto s = target()->ReopenWritableFile(f, o, r, dbg);
    if (s.ok()) Wrap(f, r);
    return s;
  }
  // RocksDB recycles old WAL files through this (Options::recycle_log_file_num).
  rocksdb::IOStatus ReuseWritableFile(const std::string& f, const std::string& old,
                                      const rocksdb::FileOptions& o,
                                      std::unique_ptr<rocksdb::FSWritableFile>* r,
                                      rocksdb::IODebugContext* dbg) override {
    auto s = target()->ReuseWritableFile(f, old, o, r, dbg);
    if (s.ok()) Wrap(f, r);
    return s;
  }

 private:
  class File : public rocksdb::FSWritableFileOwnerWrapper {
   public:
    File(std::unique_ptr<rocksdb::FSWritableFile> t, FaultyFileSystem* fs, std::string name)
        : rocksdb::FSWritableFileOwnerWrapper(std::move(t)), fs_(fs), name_(std::move(name)) {}
    rocksdb::IOStatus Append(const rocksdb::Slice& d, const rocksdb::IOOptions& o,
                             rocksdb::IODebugContext* dbg) override {
      auto s = fs_->Check(Op::kAppend, name_);
      return s.ok() ? target()->Append(d, o, dbg) : s;
    }
    rocksdb::IOStatus Append(const rocksdb::Slice& d, const rocksdb::IOOptions& o,
                             const rocksdb::DataVerificationInfo& v,
                             rocksdb::IODebugContext* dbg) override {
      auto s = fs_->Check(Op::kAppend, name_);
      return s.ok() ? target()->Append(d, o, v, dbg) : s;
    }
    rocksdb::IOStatus PositionedAppend(const rocksdb::Slice& d, uint64_t off,
                                       const rocksdb::IOOptions& o,
                                       rocksdb::IODebugContext* dbg) override {
      auto s = fs_->Check(Op::kAppend, name_);
      return s.ok() ? target()->PositionedAppend(d, off, o, dbg) : s;
    }
    rocksdb::IOStatus PositionedAppend(const rocksdb::Slice& d, uint64_t off,
                                       const rocksdb::IOOptions& o,
                                       const rocksdb::DataVerificationInfo& v,
                                       rocksdb::IODebugContext* dbg) override {
      auto s = fs_->Check(Op::kAppend, name_);
      return s.ok() ? target()->PositionedAppend(d, off, o, v, dbg) : s;
    }
    rocksdb::IOStatus Flush(const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg) override {
      auto s = fs_->Check(Op::kAppend, name_);
      return s.ok() ? target()->Flush(o, dbg) : s;
    }
    rocksdb::IOStatus Sync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg) override {
      auto s = fs_->Check(Op::kSync, name_);
      return s.ok() ? target()->Sync(o, dbg) : s;
    }
    rocksdb::IOStatus Fsync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg) override {
      auto s = fs_->Check(Op::kSync, name_);
      return s.ok() ? target()->Fsync(o, dbg) : s;
    }
    rocksdb::IOStatus RangeSync(uint64_t off, uint64_t n, const rocksdb::IOOptions& o,
                                rocksdb::IODebugContext* dbg) override {
      auto s = fs_->Check(Op::kSync, name_);
      return s.ok() ? target()->RangeSync(off, n, o, dbg) : s;
    }

   private:
    FaultyFileSystem* fs_;
    const std::string name_;
  };

  void Wrap(const std::string& name, std::unique_ptr<rocksdb::FSWritableFile>* r) {
    *r = std::make_unique<File>(std::move(*r), this, name);
  }

  std::mutex mu_;
  std::condition_variable cv_;
  enum class Hold { kOff, kArmed, kHolding } hold_ = Hold::kOff;
  bool active_ = false;
  Kind kind_ = Kind::kNoSpace;
  Op op_ = Op::kBoth;
  std::string suffix_;
  std::atomic<uint64_t> injected_{0};
};

}  // namespace ledger_test

#endif  // LEDGER_TESTS_RELIABILITY_FAULTY_FS_H_
