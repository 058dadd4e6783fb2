#include "ledger/bulk_load.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <filesystem>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "ledger/status_macros.h"
#include "ledger/strings.h"

namespace ledger {

namespace {

// Threads writing SST files: a column family each at a time.
constexpr unsigned kWriterThreadsMax = 2;
// More ascending runs than this in one column family's rows and they are sorted instead of
// merged run by run (AddProjections writes each family in a few runs).
constexpr size_t kMergedRunsMax = 16;

struct Row {
  rocksdb::Slice key;
  rocksdb::Slice value;
  bool deleted = false;
};

bool KeyLess(const Row& a, const Row& b) { return a.key.compare(b.key) < 0; }

// A batch's rows by column family, pointing into the batch. Iterated twice: first to count
// each family's rows, then to collect them into vectors of that size.
class RowsByFamily : public rocksdb::WriteBatch::Handler {
 public:
  explicit RowsByFamily(const Store& store) {
    for (int i = 0; i < kCfCount; ++i) ids_[i] = store.handle(static_cast<Cf>(i))->GetID();
  }

  rocksdb::Status Collect(const rocksdb::WriteBatch& batch) {
    if (rocksdb::Status s = batch.Iterate(this); !s.ok()) return s;
    for (int i = 0; i < kCfCount; ++i) rows[i].reserve(counts_[i]);
    counting_ = false;
    return batch.Iterate(this);
  }

  rocksdb::Status PutCF(uint32_t id, const rocksdb::Slice& key,
                        const rocksdb::Slice& value) override {
    return Add(id, Row{key, value, false});
  }
  rocksdb::Status DeleteCF(uint32_t id, const rocksdb::Slice& key) override {
    return Add(id, Row{key, rocksdb::Slice(), true});
  }
  // Any other kind of write (merge, single delete, range delete) fails the iteration: the
  // Handler's defaults answer "not implemented".

  std::array<std::vector<Row>, kCfCount> rows;

 private:
  rocksdb::Status Add(uint32_t id, Row row) {
    auto it = std::find(ids_.begin(), ids_.end(), id);
    if (it == ids_.end()) return rocksdb::Status::InvalidArgument("unknown column family");
    if (counting_) {
      ++counts_[it - ids_.begin()];
    } else {
      rows[it - ids_.begin()].push_back(row);
    }
    return rocksdb::Status::OK();
  }

  std::array<uint32_t, kCfCount> ids_;
  std::array<size_t, kCfCount> counts_{};
  bool counting_ = true;
};

// Puts `rows` in key order, keeping only the last write of each key.
void SortRows(std::vector<Row>& rows) {
  std::vector<size_t> run_starts;
  for (size_t i = 1; i < rows.size(); ++i) {
    if (KeyLess(rows[i], rows[i - 1])) run_starts.push_back(i);
  }
  // Stable either way: equal keys keep their batch order, so the last of them is the last write.
  if (run_starts.size() > kMergedRunsMax) {
    std::stable_sort(rows.begin(), rows.end(), KeyLess);
  } else {
    run_starts.push_back(rows.size());
    for (size_t r = 0; r + 1 < run_starts.size(); ++r) {
      std::inplace_merge(rows.begin(), rows.begin() + run_starts[r],
                         rows.begin() + run_starts[r + 1], KeyLess);
    }
  }
  size_t kept = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    if (i + 1 < rows.size() && rows[i + 1].key == rows[i].key) continue;
    rows[kept++] = rows[i];
  }
  rows.resize(kept);
}

// Writes one column family's rows (sorted, unique keys) as SST files of about the family's
// target file size under `directory`; appends their paths to `files`.
absl::Status WriteFiles(const Store& store, Cf cf, const std::vector<Row>& rows,
                        const std::string& directory, std::vector<std::string>& files) {
  const uint64_t target_bytes = store.TargetFileBytes(cf);
  std::unique_ptr<rocksdb::SstFileWriter> writer;
  auto finish = [&]() -> absl::Status {
    const rocksdb::Status s = writer->Finish();
    writer.reset();
    if (!s.ok()) return absl::UnavailableError(StrCat("finishing an SST file: ", s.ToString()));
    return absl::OkStatus();
  };
  for (const Row& row : rows) {
    if (writer == nullptr) {
      files.push_back(StrCat(directory, "/", CfName(cf), "-", files.size(), ".sst"));
      writer = store.NewSstFileWriter(cf);
      const rocksdb::Status s = writer->Open(files.back());
      if (!s.ok()) return absl::UnavailableError(StrCat("opening an SST file: ", s.ToString()));
    }
    const rocksdb::Status s = row.deleted ? writer->Delete(row.key) : writer->Put(row.key, row.value);
    if (!s.ok()) return absl::InternalError(StrCat("writing an SST file: ", s.ToString()));
    if (writer->FileSize() >= target_bytes) LEDGER_RETURN_IF_ERROR(finish());
  }
  if (writer != nullptr) LEDGER_RETURN_IF_ERROR(finish());
  return absl::OkStatus();
}

}  // namespace

absl::Status BulkLoad(Store& store, const rocksdb::WriteBatch& batch) {
  RowsByFamily by_family(store);
  if (rocksdb::Status s = by_family.Collect(batch); !s.ok()) {
    return absl::InternalError(StrCat("reading the rows to load: ", s.ToString()));
  }
  const std::string directory = StrCat(store.path(), "/bulk_load");
  std::error_code error;
  std::filesystem::remove_all(directory, error);  // what a crash in the middle left
  if (!std::filesystem::create_directory(directory, error)) {
    return absl::UnavailableError(StrCat("creating ", directory, ": ", error.message()));
  }
  // The largest families first, so the two threads finish close together.
  std::vector<int> order;
  for (int i = 0; i < kCfCount; ++i) {
    if (!by_family.rows[i].empty()) order.push_back(i);
  }
  std::sort(order.begin(), order.end(), [&](int a, int b) {
    return by_family.rows[a].size() > by_family.rows[b].size();
  });
  std::array<std::vector<std::string>, kCfCount> files;
  std::atomic<size_t> next{0};
  absl::Mutex mu;
  absl::Status failed;
  auto work = [&] {
    for (size_t n = next++; n < order.size(); n = next++) {
      const int i = order[n];
      SortRows(by_family.rows[i]);
      absl::Status s = WriteFiles(store, static_cast<Cf>(i), by_family.rows[i], directory, files[i]);
      if (!s.ok()) {
        absl::MutexLock lock(&mu);
        failed.Update(s);
      }
    }
  };
  const unsigned helpers =
      std::min<unsigned>({kWriterThreadsMax, std::thread::hardware_concurrency(),
                          static_cast<unsigned>(order.size())});
  std::vector<std::thread> threads;
  for (unsigned t = 1; t < helpers; ++t) threads.emplace_back(work);
  work();
  for (std::thread& t : threads) t.join();
  absl::Status loaded = failed;
  if (loaded.ok()) {
    std::vector<std::pair<Cf, std::string>> all;
    for (int i = 0; i < kCfCount; ++i) {
      for (std::string& f : files[i]) all.emplace_back(static_cast<Cf>(i), std::move(f));
    }
    loaded = store.IngestFiles(all);
  }
  std::filesystem::remove_all(directory, error);
  return loaded;
}

}  // namespace ledger
