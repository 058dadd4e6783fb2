// The tax bureau's collection file: UTF-8 CSV with a header row, one paid receipt per row.
//
// Columns (matched by header name, any order): receipt_number, citizen_id, name, region_code,
// contribution_year, amount_yuan, collection_date, tax_office, batch_id; optional record_type
// (ADD or CANCEL, also 新增 / 撤销; default ADD). Fields follow RFC 4180: separated by ',',
// optionally enclosed in '"' with "" for a quote; lines end in LF or CRLF; a UTF-8 byte-order
// mark at the start is skipped; blank lines are skipped. Amounts are decimal yuan with at most two
// decimals, parsed exactly into fen (ledger/money.h).
#ifndef TOOLS_COLLECTION_CSV_H_
#define TOOLS_COLLECTION_CSV_H_

#include <array>
#include <cstddef>
#include <istream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "ledger/v1/records.pb.h"

namespace tools {

// Splits CSV text into rows of fields, tracking 1-based line numbers. It reads a text held in
// memory or a stream; both give the same rows, errors and line numbers.
class CsvReader {
 public:
  // `text` must outlive the reader.
  explicit CsvReader(std::string_view text);
  // Reads `in` (which must outlive the reader) a chunk at a time: memory stays bounded by the
  // chunk and the longest row, whatever the stream's length.
  explicit CsvReader(std::istream& in);
  // Next non-blank row; nullopt at the end. A malformed row (unterminated quote, text after a
  // closing quote) is an INVALID_ARGUMENT error naming its line; reading can continue after it.
  absl::StatusOr<std::optional<std::vector<std::string>>> Next();
  // Line number where the row last returned by Next() starts.
  size_t line() const { return row_line_; }

 private:
  // True when text_[pos_] is a character, reading the stream's next chunk first if needed.
  bool More();
  // Stream only: drops the characters before pos_ and appends the next chunk; false at the end.
  bool ReadChunk();

  std::istream* in_ = nullptr;  // null: the whole text is text_
  std::string chunk_;           // stream only: what text_ views
  std::string_view text_;
  size_t pos_ = 0;
  size_t current_line_ = 1;
  size_t row_line_ = 0;
};

class CollectionCsv {
 public:
  // Maps the header row to columns; INVALID_ARGUMENT naming a missing or repeated column.
  static absl::StatusOr<CollectionCsv> FromHeader(const std::vector<std::string>& header);
  // One data row → record. INVALID_ARGUMENT "line N: <column>: <why>".
  absl::StatusOr<ledger::v1::CollectionRecord> ParseRow(const std::vector<std::string>& fields,
                                                       size_t line) const;

  // The required columns, in the documented order (also the header `ledgerctl` writes).
  static const std::array<std::string_view, 9>& RequiredColumns();

 private:
  std::array<size_t, 9> required_{};
  std::optional<size_t> record_type_;
  size_t columns_ = 0;
};

}  // namespace tools

#endif  // TOOLS_COLLECTION_CSV_H_
