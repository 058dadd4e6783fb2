// Fuzzes the collection import format (tools/collection_csv.h): CsvReader over the whole input,
// CollectionCsv::FromHeader on its first row, ParseRow on every row (under the file's own header
// when it is valid, and always under the documented column order, with and without record_type).
//
// Properties:
//   - Reading terminates: at most one Next() per input byte (plus the end), errors included, and
//     reading continues after an error as documented.
//   - Row line numbers ascend and lie within the text's lines; an error names "line N: ".
//   - Rows round-trip: each row read, written back as RFC 4180 CSV (quoting only where needed),
//     reads back as exactly the same fields; all rows written back as one file (LF or CRLF) read
//     back as the same rows, each on the line the written text puts it.
//   - FromHeader accepts exactly the headers naming each required column once, record_type at
//     most once, and nothing else.
//   - ParseRow: a record has record type ADD/CANCEL, a 4-digit year, 0 ≤ amount ≤ kAmountFenMax,
//     and the text fields as given; written back as a row (amount via FormatFen) it parses to an
//     equal record. A rejected row's error starts "line N: " with the line passed in.
#include <google/protobuf/util/message_differencer.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/match.h"
#include "fuzz_check.h"
#include "ledger/limits.h"
#include "ledger/money.h"
#include "ledger/strings.h"
#include "tools/collection_csv.h"

namespace {

using ledger::StrCat;
using Row = std::vector<std::string>;

struct ReadRow {
  size_t line;
  Row fields;
};

std::string Printable(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  return out;
}

std::string Describe(const Row& row) {
  std::string out = "[";
  for (const std::string& f : row) {
    out += StrCat(out.size() > 1 ? ", " : "", "'", Printable(f), "'");
  }
  return out + "]";
}

// One row as RFC 4180 text, quoting a field only when it needs it.
std::string WriteRow(const Row& row) {
  std::string out;
  for (size_t i = 0; i < row.size(); ++i) {
    const std::string& f = row[i];
    const bool quote = f.find_first_of(",\"\r\n") != std::string::npos ||
                       // A lone empty field would be a blank line; a leading BOM would be skipped.
                       (row.size() == 1 && f.empty()) || (i == 0 && f.starts_with("\xEF\xBB\xBF"));
    if (i > 0) out.push_back(',');
    if (!quote) {
      out += f;
      continue;
    }
    out.push_back('"');
    for (char c : f) {
      if (c == '"') out.push_back('"');
      out.push_back(c);
    }
    out.push_back('"');
  }
  return out;
}

// Reads every row of `text`, skipping (and checking) errors.
std::vector<ReadRow> ReadAll(std::string_view text, size_t* errors) {
  tools::CsvReader reader(text);
  std::vector<ReadRow> rows;
  const size_t lines = 1 + static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
  size_t last_line = 0;
  for (size_t calls = 0;; ++calls) {
    FUZZ_CHECK(calls <= text.size() + 1, "CsvReader::Next() makes no progress");
    auto row = reader.Next();
    if (row.ok() && !row->has_value()) break;
    FUZZ_CHECK(reader.line() >= 1 && reader.line() <= lines && reader.line() >= last_line,
               StrCat("row line ", reader.line(), " after line ", last_line, " in a text of ",
                      lines, " lines"));
    last_line = reader.line();
    if (!row.ok()) {
      ++*errors;
      FUZZ_CHECK(absl::IsInvalidArgument(row.status()) &&
                     absl::StartsWith(row.status().message(), StrCat("line ", reader.line(), ": ")),
                 row.status().ToString());
      continue;
    }
    rows.push_back({reader.line(), **row});
  }
  return rows;
}

void CheckRowsRoundTrip(const std::vector<ReadRow>& rows, bool crlf) {
  std::string file;
  std::vector<size_t> expected_lines;
  size_t line = 1;
  for (const ReadRow& r : rows) {
    const std::string text = WriteRow(r.fields);
    // Alone.
    size_t errors = 0;
    const std::vector<ReadRow> again = ReadAll(text, &errors);
    FUZZ_CHECK(errors == 0 && again.size() == 1 && again[0].fields == r.fields &&
                   again[0].line == 1,
               StrCat(Describe(r.fields), " written as '", Printable(text), "' reads back as ",
                      again.empty() ? "nothing" : Describe(again[0].fields)));
    // In one file.
    expected_lines.push_back(line);
    line += static_cast<size_t>(std::count(text.begin(), text.end(), '\n')) + 1;
    file += text;
    file += crlf ? "\r\n" : "\n";
  }
  size_t errors = 0;
  const std::vector<ReadRow> again = ReadAll(file, &errors);
  FUZZ_CHECK(errors == 0 && again.size() == rows.size(),
             StrCat(rows.size(), " rows written back read as ", again.size(), " rows and ",
                    errors, " errors: '", Printable(file), "'"));
  for (size_t i = 0; i < rows.size(); ++i) {
    FUZZ_CHECK(again[i].fields == rows[i].fields && again[i].line == expected_lines[i],
               StrCat("row ", i, " ", Describe(rows[i].fields), " read back on line ",
                      again[i].line, " (expected ", expected_lines[i], ") as ",
                      Describe(again[i].fields)));
  }
}

// FromHeader's documented contract, decided independently.
bool HeaderShouldBeValid(const Row& header) {
  const auto& required = tools::CollectionCsv::RequiredColumns();
  std::array<int, 9> seen{};
  int record_type = 0;
  for (const std::string& name : header) {
    if (name == "record_type") {
      ++record_type;
      continue;
    }
    const auto it = std::find(required.begin(), required.end(), name);
    if (it == required.end()) return false;
    ++seen[static_cast<size_t>(it - required.begin())];
  }
  return record_type <= 1 && std::all_of(seen.begin(), seen.end(), [](int n) { return n == 1; });
}

// The value `record` has for the column `name`, as the import file writes it.
std::string ColumnValue(const ledger::v1::CollectionRecord& r, std::string_view name) {
  if (name == "receipt_number") return r.receipt_number();
  if (name == "citizen_id") return r.citizen_id();
  if (name == "name") return r.name();
  if (name == "region_code") return r.region_code();
  if (name == "contribution_year") {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%04d", r.contribution_year());
    return buf;
  }
  if (name == "amount_yuan") return ledger::FormatFen(r.amount_fen());
  if (name == "collection_date") return r.collection_date();
  if (name == "tax_office") return r.tax_office();
  if (name == "batch_id") return r.batch_id();
  if (name == "record_type") {
    return r.record_type() == ledger::v1::RECORD_TYPE_CANCEL ? "CANCEL" : "ADD";
  }
  return "?";
}

void CheckRecords(const Row& header, const std::vector<ReadRow>& rows) {
  auto csv = tools::CollectionCsv::FromHeader(header);
  FUZZ_CHECK(csv.ok() == HeaderShouldBeValid(header),
             StrCat("header ", Describe(header), ": ", csv.status().ToString()));
  if (!csv.ok()) return;
  for (const ReadRow& row : rows) {
    auto record = csv->ParseRow(row.fields, row.line);
    if (!record.ok()) {
      FUZZ_CHECK(absl::IsInvalidArgument(record.status()) &&
                     absl::StartsWith(record.status().message(), StrCat("line ", row.line, ": ")),
                 record.status().ToString());
      continue;
    }
    const ledger::v1::CollectionRecord& r = *record;
    FUZZ_CHECK(row.fields.size() == header.size(), Describe(row.fields));
    FUZZ_CHECK(r.record_type() == ledger::v1::RECORD_TYPE_ADD ||
                   r.record_type() == ledger::v1::RECORD_TYPE_CANCEL,
               r.ShortDebugString());
    FUZZ_CHECK(r.contribution_year() >= 0 && r.contribution_year() <= 9999, r.ShortDebugString());
    FUZZ_CHECK(r.amount_fen() >= 0 && r.amount_fen() <= ledger::kAmountFenMax,
               r.ShortDebugString());
    // Written back under the same header, the row parses to the same record.
    Row written;
    for (const std::string& name : header) written.push_back(ColumnValue(r, name));
    // The text fields are copied as they are.
    for (size_t i = 0; i < header.size(); ++i) {
      if (header[i] != "contribution_year" && header[i] != "amount_yuan" &&
          header[i] != "record_type") {
        FUZZ_CHECK(written[i] == row.fields[i],
                   StrCat("column ", header[i], ": '", Printable(row.fields[i]),
                          "' became '", Printable(written[i]), "'"));
      }
    }
    size_t errors = 0;
    const std::vector<ReadRow> reread = ReadAll(WriteRow(written), &errors);
    FUZZ_CHECK(errors == 0 && reread.size() == 1, Describe(written));
    auto again = csv->ParseRow(reread[0].fields, 7);
    FUZZ_CHECK(again.ok(), StrCat(Describe(written), ": ", again.status().ToString()));
    FUZZ_CHECK(google::protobuf::util::MessageDifferencer::Equals(r, *again),
               StrCat(r.ShortDebugString(), " written back as ", Describe(written),
                      " parses as ", again->ShortDebugString()));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  size_t errors = 0;
  const std::vector<ReadRow> rows = ReadAll(text, &errors);
  CheckRowsRoundTrip(rows, size > 0 && (data[0] & 1));
  if (rows.empty()) return 0;

  // The file's own header, then the documented column order (with and without record_type) for
  // every row, so rows get parsed even when the fuzzer has broken the header.
  CheckRecords(rows[0].fields, std::vector<ReadRow>(rows.begin() + 1, rows.end()));
  Row documented(tools::CollectionCsv::RequiredColumns().begin(),
                 tools::CollectionCsv::RequiredColumns().end());
  CheckRecords(documented, rows);
  documented.push_back("record_type");
  CheckRecords(documented, rows);
  return 0;
}
