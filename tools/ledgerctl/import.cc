#include "tools/ledgerctl/import.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <vector>

#include "ledger/limits.h"
#include "ledger/strings.h"
#include "tools/collection_csv.h"

namespace ledgerctl {
namespace {

namespace v1 = ledger::v1;
using ledger::StrCat;

// How many rejected rows an import prints before summarising the rest.
constexpr size_t kRejectedRowsPrintedMax = 100;

struct ImportTotals {
  size_t rows = 0, accepted = 0, duplicate = 0, suspense = 0, rejected = 0, printed = 0;
};

// `why` starts with "line N: ".
void ReportRejected(ImportTotals& t, const std::string& why) {
  ++t.rejected;
  if (t.printed++ < kRejectedRowsPrintedMax) std::cerr << "rejected " << why << "\n";
}

// The file's records in order, parsed as they are read: a row the parser rejects is reported and
// skipped.
class Rows {
 public:
  Rows(tools::CsvReader& reader, const tools::CollectionCsv& csv, ImportTotals& totals)
      : reader_(reader), csv_(csv), totals_(totals) {}

  // The next record into `record`; false at the end of the file.
  bool Next(v1::CollectionRecord& record) {
    for (;;) {
      auto row = reader_.Next();
      if (!row.ok()) {
        ++totals_.rows;
        ReportRejected(totals_, std::string(row.status().message()));
        continue;
      }
      if (!row->has_value()) return false;
      ++totals_.rows;
      auto parsed = csv_.ParseRow(**row, reader_.line());
      if (!parsed.ok()) {
        ReportRejected(totals_, std::string(parsed.status().message()));
        continue;
      }
      record = std::move(*parsed);
      return true;
    }
  }
  // The line the record last returned starts on.
  size_t line() const { return reader_.line(); }

 private:
  tools::CsvReader& reader_;
  const tools::CollectionCsv& csv_;
  ImportTotals& totals_;
};

// Rows sent, on stderr: on a terminal one line rewritten in place, else a line per 10 %.
class Progress {
 public:
  explicit Progress(size_t total_estimate)
      : total_estimate_(total_estimate), tty_(isatty(STDERR_FILENO)) {}

  // `sent_in_stream` rows of the current stream are sent.
  void Report(size_t sent_in_stream) {
    const size_t sent = sent_before_ + sent_in_stream;
    const size_t percent = std::min<size_t>(100, sent * 100 / std::max<size_t>(1, total_estimate_));
    if (tty_) {
      std::fprintf(stderr, "\rsent %zu/%zu rows (%zu%%) %.0f rows/s   ", sent, total_estimate_,
                   percent, sent / std::max(seconds(), 1e-9));
    } else if (percent / 10 > last_decile_) {
      std::fprintf(stderr, "sent %zu/%zu rows (%zu%%)\n", sent, total_estimate_, percent);
      last_decile_ = percent / 10;
    }
  }
  void StreamDone(size_t rows) { sent_before_ += rows; }
  // Ends the line a terminal's display rewrites.
  void EndLine() const {
    if (tty_) std::fputc('\n', stderr);
  }
  size_t sent() const { return sent_before_; }
  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  const size_t total_estimate_;
  const bool tty_;
  const std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  size_t sent_before_ = 0, last_decile_ = 0;
};

// Line ends in `file`, read a chunk at a time: the progress display's total.
size_t CountLineEnds(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  std::vector<char> chunk(64 * 1024);
  size_t count = 0;
  while (in) {
    in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    count += std::count(chunk.data(), chunk.data() + in.gcount(), '\n');
  }
  return count;
}

// Tallies a finished stream's outcomes; `lines` are the lines of the records it was sent.
absl::Status Tally(const v1::PushCollectionsResponse& response, const std::vector<size_t>& lines,
                   ImportTotals& totals) {
  totals.accepted += response.accepted_count();
  totals.duplicate += response.duplicate_count();
  totals.suspense += response.suspense_count();
  for (const auto& o : response.outcomes()) {
    if (o.outcome() == v1::OUTCOME_REJECTED && o.index() < lines.size()) {
      ReportRejected(totals, StrCat("line ", lines[o.index()], ": ", v1::Reason_Name(o.reason()),
                                    ": ", o.detail()));
    }
  }
  // Every row sent must have its outcome: a stream the server ended early (a message it could
  // not read ends a gRPC stream like a clean end) must not pass for success.
  const size_t answered = static_cast<size_t>(response.outcomes_size());
  if (answered != lines.size()) {
    return absl::DataLossError(
        StrCat("the server answered ", answered, " of ", lines.size(), " rows; rows from line ",
               lines[std::min(answered, lines.size() - 1)], " were not processed"));
  }
  return absl::OkStatus();
}

// The file's next records (at most kStreamRecordsMax) in messages of `batch_size`; `lines` gets
// each record's line. Both are left empty at the end of the file.
void ReadStream(Rows& rows, size_t batch_size, std::vector<v1::PushCollectionsRequest>& messages,
                std::vector<size_t>& lines) {
  messages.clear();
  lines.clear();
  v1::CollectionRecord record;
  while (lines.size() < ledger::kStreamRecordsMax && rows.Next(record)) {
    if (messages.empty() || static_cast<size_t>(messages.back().records_size()) == batch_size) {
      messages.emplace_back();
    }
    lines.push_back(rows.line());
    *messages.back().add_records() = std::move(record);
  }
}

// One StreamCollections call of `messages` to `server`. A message the server stops reading ends
// the writes (Finish says why).
grpc::Status SendStream(const Globals& globals, const std::string& server,
                        const std::vector<v1::PushCollectionsRequest>& messages,
                        Progress& progress, v1::PushCollectionsResponse& response,
                        std::string& leader_hint) {
  Rpc rpc(Connect(globals, server), ledger::kClientStreamDeadlineSeconds);
  auto writer = rpc.Stub<v1::CollectionService>()->StreamCollections(rpc.context(), &response);
  size_t sent = 0;
  for (const v1::PushCollectionsRequest& message : messages) {
    if (!writer->Write(message)) break;
    sent += static_cast<size_t>(message.records_size());
    progress.Report(sent);
  }
  writer->WritesDone();
  grpc::Status st = writer->Finish();
  leader_hint = st.ok() ? "" : LeaderHint(*rpc.context());
  return st;
}

// Sends one stream until it is answered: a retryable failure (Retryable) resends the whole stream
// for up to --retry-for seconds, to the leader the answer names or the next --server; rows it
// had committed come back as duplicates of their sequences.
absl::Status SendUntilAnswered(const Globals& globals,
                               const std::vector<v1::PushCollectionsRequest>& messages,
                               const std::vector<size_t>& lines, Progress& progress,
                               ImportTotals& totals, size_t& next_server) {
  for (Resender resender(globals, next_server);;) {
    v1::PushCollectionsResponse response;
    std::string hint;
    const grpc::Status st =
        SendStream(globals, resender.server(), messages, progress, response, hint);
    next_server = resender.position();
    if (st.ok()) return Tally(response, lines, totals);
    if (!resender.Resend(st, std::move(hint))) {
      return absl::Status(static_cast<absl::StatusCode>(st.error_code()), st.error_message());
    }
  }
}

}  // namespace

int Import(const Globals& globals, const std::string& file, size_t batch_size) {
  batch_size = std::clamp<size_t>(batch_size, 1, ledger::kBatchRecordsMax);
  std::ifstream in(file, std::ios::binary);
  if (!in) return Fail(StrCat("cannot open ", file));
  tools::CsvReader reader(in);
  auto header = reader.Next();
  if (!header.ok() || !header->has_value()) return Fail(StrCat(file, ": no header row"));
  auto csv = tools::CollectionCsv::FromHeader(**header);
  if (!csv.ok()) return Fail(StrCat(file, ": ", std::string(csv.status().message())));

  // The total for the progress display counts line ends (the header's among them).
  Progress progress(std::max<size_t>(1, CountLineEnds(file)) - 1);
  ImportTotals totals;
  Rows rows(reader, *csv, totals);
  std::vector<v1::PushCollectionsRequest> messages;
  std::vector<size_t> lines;
  size_t next_server = 0;
  for (ReadStream(rows, batch_size, messages, lines); !lines.empty();
       ReadStream(rows, batch_size, messages, lines)) {
    if (auto st = SendUntilAnswered(globals, messages, lines, progress, totals, next_server);
        !st.ok()) {
      progress.EndLine();
      return Fail(StrCat("import stopped; rows before line ", lines.front(),
                         " are committed: ", std::string(st.message()),
                         " (re-run the import: committed rows come back as duplicate)"));
    }
    progress.StreamDone(lines.size());
  }
  progress.EndLine();
  if (totals.printed > kRejectedRowsPrintedMax) {
    std::cerr << "... and " << totals.printed - kRejectedRowsPrintedMax << " more rejected rows\n";
  }
  const double s = progress.seconds();
  std::printf(
      "imported %s: rows=%zu accepted=%zu duplicate=%zu suspense=%zu rejected=%zu seconds=%.2f "
      "rows_per_s=%.0f\n",
      file.c_str(), totals.rows, totals.accepted, totals.duplicate, totals.suspense,
      totals.rejected, s, progress.sent() / std::max(s, 1e-9));
  return totals.rejected > 0 ? kExitRowsRejected : 0;
}

}  // namespace ledgerctl
