#include "tools/collection_csv.h"

#include "absl/status/status.h"
#include "ledger/money.h"
#include "ledger/text.h"
#include "ledger/strings.h"

namespace tools {
namespace {

using ledger::StrCat;

enum Column {
  kReceiptNumber, kCitizenId, kName, kRegionCode, kContributionYear, kAmountYuan,
  kCollectionDate, kTaxOffice, kBatchId
};

absl::Status LineError(size_t line, std::string_view column, std::string_view why) {
  return absl::InvalidArgumentError(StrCat("line ", line, ": ", column, ": ", why));
}

}  // namespace

CsvReader::CsvReader(std::string_view text) : text_(text) {
  if (text_.starts_with("\xEF\xBB\xBF")) pos_ = 3;
}

CsvReader::CsvReader(std::istream& in) : in_(&in) {
  while (text_.size() < 3 && ReadChunk()) {
  }
  if (text_.starts_with("\xEF\xBB\xBF")) pos_ = 3;
}

bool CsvReader::ReadChunk() {
  // Large enough that refilling costs nothing next to parsing; a row may span chunks.
  constexpr size_t kChunkBytes = 64 * 1024;
  if (in_ == nullptr || !*in_) return false;
  chunk_.erase(0, pos_);
  pos_ = 0;
  const size_t kept = chunk_.size();
  chunk_.resize(kept + kChunkBytes);
  in_->read(chunk_.data() + kept, kChunkBytes);
  chunk_.resize(kept + static_cast<size_t>(in_->gcount()));
  text_ = chunk_;
  return chunk_.size() > kept;
}

bool CsvReader::More() { return pos_ < text_.size() || ReadChunk(); }

absl::StatusOr<std::optional<std::vector<std::string>>> CsvReader::Next() {
  // Skip blank lines.
  while (More() && (text_[pos_] == '\n' || text_[pos_] == '\r')) {
    if (text_[pos_] == '\n') ++current_line_;
    ++pos_;
  }
  if (!More()) return std::nullopt;
  row_line_ = current_line_;
  std::vector<std::string> fields;
  std::string field;
  auto skip_rest_of_row = [&] {
    while (More() && text_[pos_] != '\n') ++pos_;
  };
  for (;;) {
    field.clear();
    if (More() && text_[pos_] == '"') {
      ++pos_;
      for (;;) {
        if (!More()) {
          return absl::InvalidArgumentError(
              StrCat("line ", row_line_, ": unterminated quoted field"));
        }
        const char c = text_[pos_++];
        if (c == '"') {
          if (More() && text_[pos_] == '"') {
            field.push_back('"');
            ++pos_;
          } else {
            break;
          }
        } else {
          if (c == '\n') ++current_line_;
          field.push_back(c);
        }
      }
      if (More() && text_[pos_] != ',' && text_[pos_] != '\n' && text_[pos_] != '\r') {
        skip_rest_of_row();
        return absl::InvalidArgumentError(
            StrCat("line ", row_line_, ": text after a closing quote"));
      }
    } else {
      while (More() && text_[pos_] != ',' && text_[pos_] != '\n' && text_[pos_] != '\r') {
        field.push_back(text_[pos_++]);
      }
    }
    fields.push_back(field);
    if (More() && text_[pos_] == ',') {
      ++pos_;
      continue;
    }
    // End of row: CRLF, LF or end of text.
    if (More() && text_[pos_] == '\r') ++pos_;
    if (More() && text_[pos_] == '\n') {
      ++pos_;
      ++current_line_;
    }
    return fields;
  }
}

const std::array<std::string_view, 9>& CollectionCsv::RequiredColumns() {
  static const std::array<std::string_view, 9> kColumns = {
      "receipt_number", "citizen_id", "name",     "region_code", "contribution_year",
      "amount_yuan",    "collection_date", "tax_office", "batch_id"};
  return kColumns;
}

absl::StatusOr<CollectionCsv> CollectionCsv::FromHeader(const std::vector<std::string>& header) {
  CollectionCsv csv;
  csv.columns_ = header.size();
  std::array<bool, 9> seen{};
  for (size_t i = 0; i < header.size(); ++i) {
    const std::string& name = header[i];
    if (name == "record_type") {
      if (csv.record_type_) return absl::InvalidArgumentError("header: record_type repeated");
      csv.record_type_ = i;
      continue;
    }
    bool known = false;
    for (size_t c = 0; c < RequiredColumns().size(); ++c) {
      if (name == RequiredColumns()[c]) {
        if (seen[c]) return absl::InvalidArgumentError(StrCat("header: ", name, " repeated"));
        seen[c] = true;
        csv.required_[c] = i;
        known = true;
      }
    }
    if (!known) return absl::InvalidArgumentError(StrCat("header: unknown column '", name, "'"));
  }
  for (size_t c = 0; c < RequiredColumns().size(); ++c) {
    if (!seen[c]) {
      return absl::InvalidArgumentError(
          StrCat("header: missing column ", RequiredColumns()[c]));
    }
  }
  return csv;
}

absl::StatusOr<ledger::v1::CollectionRecord> CollectionCsv::ParseRow(
    const std::vector<std::string>& fields, size_t line) const {
  if (fields.size() != columns_) {
    return absl::InvalidArgumentError(
        StrCat("line ", line, ": ", fields.size(), " fields, the header has ", columns_));
  }
  // Protobuf strings must be UTF-8: a row in another encoding (a GBK name) is this row's error,
  // not a message the server cannot parse.
  for (size_t i = 0; i < fields.size(); ++i) {
    if (!ledger::IsCleanText(fields[i], fields[i].size())) {
      return absl::InvalidArgumentError(
          StrCat("line ", line, ": field ", i + 1,
                 " is not UTF-8 text (save the file as UTF-8) or holds control characters"));
    }
  }
  auto at = [&](Column c) -> const std::string& { return fields[required_[c]]; };
  ledger::v1::CollectionRecord r;
  r.set_record_type(ledger::v1::RECORD_TYPE_ADD);
  if (record_type_) {
    const std::string& t = fields[*record_type_];
    if (t == "CANCEL" || t == "撤销") {
      r.set_record_type(ledger::v1::RECORD_TYPE_CANCEL);
    } else if (!t.empty() && t != "ADD" && t != "新增") {
      return LineError(line, "record_type", StrCat("'", t, "' is not ADD, CANCEL, 新增 or 撤销"));
    }
  }
  r.set_receipt_number(at(kReceiptNumber));
  r.set_citizen_id(at(kCitizenId));
  r.set_name(at(kName));
  r.set_region_code(at(kRegionCode));
  const std::string& year = at(kContributionYear);
  if (year.size() != 4 || year.find_first_not_of("0123456789") != std::string::npos) {
    return LineError(line, "contribution_year", StrCat("'", year, "' is not a 4-digit year"));
  }
  r.set_contribution_year(std::stoi(year));
  auto fen = ledger::ParseYuanToFen(at(kAmountYuan));
  if (!fen.ok()) return LineError(line, "amount_yuan", std::string(fen.status().message()));
  r.set_amount_fen(*fen);
  r.set_collection_date(at(kCollectionDate));
  r.set_tax_office(at(kTaxOffice));
  r.set_batch_id(at(kBatchId));
  return r;
}

}  // namespace tools
