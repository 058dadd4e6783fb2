// The tax bureau's collection CSV: tools::CsvReader (RFC 4180 rows with line numbers) and
// tools::CollectionCsv (header mapping and row → CollectionRecord).
#include "tools/collection_csv.h"

#include <google/protobuf/util/message_differencer.h>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ledger/strings.h"

namespace tools {
namespace {

namespace v1 = ledger::v1;
using ::ledger::StrCat;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

using Row = std::vector<std::string>;

// A row as read, with the line it starts on.
struct ReadRow {
  size_t line;
  Row fields;
};

// Reads every row; stops at the first error, which it returns in `error`.
std::vector<ReadRow> ReadAll(std::string_view text, absl::Status* error = nullptr) {
  CsvReader reader(text);
  std::vector<ReadRow> rows;
  for (;;) {
    auto row = reader.Next();
    if (!row.ok()) {
      if (error != nullptr) *error = row.status();
      return rows;
    }
    if (!row->has_value()) return rows;
    rows.push_back({reader.line(), **row});
  }
}

constexpr char kHeader[] =
    "receipt_number,citizen_id,name,region_code,contribution_year,amount_yuan,collection_date,"
    "tax_office,batch_id";
constexpr char kGoodRow[] =
    "322240100000001,22240119650315123X,金哲,222401,2024,200.5,2024-03-01,22240100,B-2024-01";

v1::CollectionRecord GoodRecord() {
  v1::CollectionRecord r;
  r.set_record_type(v1::RECORD_TYPE_ADD);
  r.set_receipt_number("322240100000001");
  r.set_citizen_id("22240119650315123X");
  r.set_name("金哲");
  r.set_region_code("222401");
  r.set_contribution_year(2024);
  r.set_amount_fen(20050);
  r.set_collection_date("2024-03-01");
  r.set_tax_office("22240100");
  r.set_batch_id("B-2024-01");
  return r;
}

::testing::AssertionResult SameRecord(const v1::CollectionRecord& expected,
                                      const v1::CollectionRecord& actual) {
  std::string diff;
  google::protobuf::util::MessageDifferencer differencer;
  differencer.ReportDifferencesToString(&diff);
  if (differencer.Compare(expected, actual)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << diff;
}

// Parses a whole file the way `ledgerctl import` does: header, then one record per row.
absl::StatusOr<std::vector<v1::CollectionRecord>> ParseFile(std::string_view text) {
  CsvReader reader(text);
  auto header = reader.Next();
  if (!header.ok()) return header.status();
  if (!header->has_value()) return absl::InvalidArgumentError("no header");
  auto csv = CollectionCsv::FromHeader(**header);
  if (!csv.ok()) return csv.status();
  std::vector<v1::CollectionRecord> records;
  for (;;) {
    auto row = reader.Next();
    if (!row.ok()) return row.status();
    if (!row->has_value()) return records;
    auto record = csv->ParseRow(**row, reader.line());
    if (!record.ok()) return record.status();
    records.push_back(*std::move(record));
  }
}

// --- CsvReader --------------------------------------------------------------------------------

TEST(CsvReaderTest, SplitsFieldsAndCountsLines) {
  const auto rows = ReadAll("a,b,c\n1,,3\n,\n");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].line, 1u);
  EXPECT_THAT(rows[0].fields, ElementsAre("a", "b", "c"));
  EXPECT_EQ(rows[1].line, 2u);
  EXPECT_THAT(rows[1].fields, ElementsAre("1", "", "3"));
  EXPECT_EQ(rows[2].line, 3u);
  EXPECT_THAT(rows[2].fields, ElementsAre("", ""));
}

TEST(CsvReaderTest, LastRowWithoutNewline) {
  const auto rows = ReadAll("a,b\nc,d");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_THAT(rows[1].fields, ElementsAre("c", "d"));
  EXPECT_EQ(rows[1].line, 2u);
}

TEST(CsvReaderTest, EmptyTextHasNoRows) {
  EXPECT_TRUE(ReadAll("").empty());
  EXPECT_TRUE(ReadAll("\n\r\n\n").empty());
  EXPECT_TRUE(ReadAll("\xEF\xBB\xBF").empty());
}

TEST(CsvReaderTest, QuotedFieldsKeepCommasAndEscapedQuotes) {
  const auto rows = ReadAll("\"Kim, Jr.\",\"say \"\"hi\"\"\",\"\",plain\n\"\"\"\"\n");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_THAT(rows[0].fields, ElementsAre("Kim, Jr.", "say \"hi\"", "", "plain"));
  EXPECT_THAT(rows[1].fields, ElementsAre("\""));
}

TEST(CsvReaderTest, QuotedFieldMaySpanLines) {
  const auto rows = ReadAll("a,\"line one\nline two\",b\nnext,row\n");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].line, 1u);
  EXPECT_THAT(rows[0].fields, ElementsAre("a", "line one\nline two", "b"));
  EXPECT_EQ(rows[1].line, 3u);
  EXPECT_THAT(rows[1].fields, ElementsAre("next", "row"));
}

TEST(CsvReaderTest, CrlfLineEndings) {
  const auto rows = ReadAll("a,b\r\n1,2\r\n\"q\",3\r\n");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_THAT(rows[0].fields, ElementsAre("a", "b"));
  EXPECT_THAT(rows[1].fields, ElementsAre("1", "2"));
  EXPECT_THAT(rows[2].fields, ElementsAre("q", "3"));
  EXPECT_EQ(rows[2].line, 3u);
}

TEST(CsvReaderTest, ByteOrderMarkIsSkipped) {
  const auto rows = ReadAll("\xEF\xBB\xBFreceipt_number,name\n1,x\n");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_THAT(rows[0].fields, ElementsAre("receipt_number", "name"));
  EXPECT_EQ(rows[0].line, 1u);
  // Only at the very start: elsewhere it is data.
  const auto later = ReadAll(
      "a\n\xEF\xBB\xBF"
      "b\n");
  ASSERT_EQ(later.size(), 2u);
  EXPECT_THAT(later[1].fields, ElementsAre("\xEF\xBB\xBF"
                                           "b"));
}

TEST(CsvReaderTest, BlankLinesAreSkippedAndLinesStillCounted) {
  const auto rows = ReadAll("\n\nh1,h2\n\n\r\nr1,x\n\n\nr2,y\n\n");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].line, 3u);
  EXPECT_EQ(rows[1].line, 6u);
  EXPECT_EQ(rows[2].line, 9u);
  EXPECT_THAT(rows[2].fields, ElementsAre("r2", "y"));
}

TEST(CsvReaderTest, UnterminatedQuoteNamesItsLine) {
  absl::Status error;
  const auto rows = ReadAll("h\n\nok\n\"never closed,\nstill open\n", &error);
  EXPECT_EQ(rows.size(), 2u);
  EXPECT_EQ(error.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(error.message()), StartsWith("line 4: "));
  EXPECT_THAT(std::string(error.message()), HasSubstr("unterminated"));
}

TEST(CsvReaderTest, TextAfterClosingQuoteNamesItsLineAndReadingContinues) {
  CsvReader reader("a,b\n\"x\"y,z\nc,d\n");
  auto header = reader.Next();
  ASSERT_TRUE(header.ok());
  auto bad = reader.Next();
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.status().message()), StartsWith("line 2: "));
  auto next = reader.Next();
  ASSERT_TRUE(next.ok()) << next.status();
  ASSERT_TRUE(next->has_value());
  EXPECT_THAT(**next, ElementsAre("c", "d"));
  EXPECT_EQ(reader.line(), 3u);
}

// --- CollectionCsv header ---------------------------------------------------------------------

TEST(CollectionCsvTest, GoodRowParsesExactly) {
  auto records = ParseFile(StrCat(kHeader, "\n", kGoodRow, "\n"));
  ASSERT_TRUE(records.ok()) << records.status();
  ASSERT_EQ(records->size(), 1u);
  EXPECT_TRUE(SameRecord(GoodRecord(), (*records)[0]));
}

TEST(CollectionCsvTest, HeaderInAnyOrder) {
  const std::string text =
      "batch_id,amount_yuan,record_type,tax_office,name,collection_date,citizen_id,"
      "contribution_year,region_code,receipt_number\n"
      "B-2024-01,200.50,新增,22240100,金哲,2024-03-01,22240119650315123X,2024,222401,"
      "322240100000001\n";
  auto records = ParseFile(text);
  ASSERT_TRUE(records.ok()) << records.status();
  ASSERT_EQ(records->size(), 1u);
  EXPECT_TRUE(SameRecord(GoodRecord(), (*records)[0]));
}

TEST(CollectionCsvTest, RequiredColumnsAreTheDocumentedOnes) {
  EXPECT_THAT(
      CollectionCsv::RequiredColumns(),
      ElementsAre("receipt_number", "citizen_id", "name", "region_code", "contribution_year",
                  "amount_yuan", "collection_date", "tax_office", "batch_id"));
  // The documented header parses.
  Row header(CollectionCsv::RequiredColumns().begin(), CollectionCsv::RequiredColumns().end());
  EXPECT_TRUE(CollectionCsv::FromHeader(header).ok());
}

TEST(CollectionCsvTest, MissingColumnIsNamed) {
  for (std::string_view missing : CollectionCsv::RequiredColumns()) {
    SCOPED_TRACE(missing);
    Row header;
    for (std::string_view c : CollectionCsv::RequiredColumns()) {
      if (c != missing) header.emplace_back(c);
    }
    auto csv = CollectionCsv::FromHeader(header);
    ASSERT_FALSE(csv.ok());
    EXPECT_EQ(csv.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(csv.status().message()), HasSubstr("missing"));
    EXPECT_THAT(std::string(csv.status().message()), HasSubstr(std::string(missing)));
  }
}

TEST(CollectionCsvTest, UnknownColumnIsNamed) {
  Row header(CollectionCsv::RequiredColumns().begin(), CollectionCsv::RequiredColumns().end());
  header.push_back("amount_fen");
  auto csv = CollectionCsv::FromHeader(header);
  ASSERT_FALSE(csv.ok());
  EXPECT_EQ(csv.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(csv.status().message()), HasSubstr("unknown column"));
  EXPECT_THAT(std::string(csv.status().message()), HasSubstr("amount_fen"));
}

TEST(CollectionCsvTest, RepeatedColumnIsNamed) {
  for (const char* repeated : {"name", "record_type"}) {
    SCOPED_TRACE(repeated);
    Row header(CollectionCsv::RequiredColumns().begin(), CollectionCsv::RequiredColumns().end());
    header.push_back(repeated);
    header.push_back(repeated);
    auto csv = CollectionCsv::FromHeader(header);
    ASSERT_FALSE(csv.ok());
    EXPECT_EQ(csv.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(csv.status().message()), HasSubstr(repeated));
    EXPECT_THAT(std::string(csv.status().message()), HasSubstr("repeated"));
  }
}

// --- CollectionCsv rows -----------------------------------------------------------------------

TEST(CollectionCsvTest, QuotedFieldsCrlfAndBomInAFile) {
  const std::string text =
      StrCat("\xEF\xBB\xBF", kHeader, "\r\n",
             "\"322240100000001\",22240119650315123X,\"Kim, \"\"Jr\"\"\",222401,2024,\"200.5\","
             "2024-03-01,22240100,B-2024-01\r\n");
  auto records = ParseFile(text);
  ASSERT_TRUE(records.ok()) << records.status();
  ASSERT_EQ(records->size(), 1u);
  v1::CollectionRecord want = GoodRecord();
  want.set_name("Kim, \"Jr\"");
  EXPECT_TRUE(SameRecord(want, (*records)[0]));
}

// Parses `header` + one row at line `line` (blank lines in between), returning the row's error.
absl::Status RowError(std::string_view header, std::string_view row, size_t line) {
  std::string text = StrCat(header, "\n");
  for (size_t i = 2; i < line; ++i) text += "\n";
  text += StrCat(row, "\n");
  auto records = ParseFile(text);
  return records.status();
}

// The good row with field `column` (0-based, in kHeader order) replaced by `value`.
std::string GoodRowWith(size_t column, std::string_view value) {
  CsvReader reader(kGoodRow);
  auto row = reader.Next();
  Row fields = **row;
  fields.at(column) = std::string(value);
  std::string out;
  for (size_t i = 0; i < fields.size(); ++i) out += StrCat(i ? "," : "", fields[i]);
  return out;
}

constexpr size_t kYearColumn = 4;
constexpr size_t kAmountColumn = 5;

TEST(CollectionCsvTest, BadAmountsAreRejectedWithTheLine) {
  for (std::string_view amount :
       {"1.234", "-5", "1e3", "", "+5", ".5", "5.", "1,5", " 5", "100000000.01", "abc"}) {
    SCOPED_TRACE(amount);
    // Quote the field so "1,5" stays one field.
    const absl::Status st =
        RowError(kHeader, GoodRowWith(kAmountColumn, StrCat("\"", amount, "\"")), 7);
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(st.message()), StartsWith("line 7: amount_yuan: "));
  }
}

TEST(CollectionCsvTest, AmountsParseExactlyIntoFen) {
  const std::pair<std::string_view, int64_t> cases[] = {{"200.5", 20050},
                                                        {"200.50", 20050},
                                                        {"200", 20000},
                                                        {"0.01", 1},
                                                        {"0", 0},
                                                        {"3000.00", 300000},
                                                        {"100000000", 10'000'000'000}};
  for (const auto& [text, fen] : cases) {
    SCOPED_TRACE(text);
    auto records = ParseFile(StrCat(kHeader, "\n", GoodRowWith(kAmountColumn, text), "\n"));
    ASSERT_TRUE(records.ok()) << records.status();
    ASSERT_EQ(records->size(), 1u);
    EXPECT_EQ((*records)[0].amount_fen(), fen);
  }
}

TEST(CollectionCsvTest, BadContributionYearIsRejectedWithTheLine) {
  for (std::string_view year : {"20x4", "", "24", "02024", "2024.0", "-202", " 202"}) {
    SCOPED_TRACE(year);
    const absl::Status st = RowError(kHeader, GoodRowWith(kYearColumn, year), 3);
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(st.message()), StartsWith("line 3: contribution_year: "));
  }
}

TEST(CollectionCsvTest, WrongFieldCountNamesTheLine) {
  const std::string text = StrCat(kHeader, "\n", kGoodRow, "\n\n", kGoodRow, ",extra\n");
  auto records = ParseFile(text);
  ASSERT_FALSE(records.ok());
  EXPECT_EQ(records.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(records.status().message()), StartsWith("line 4: "));
  EXPECT_THAT(std::string(records.status().message()), HasSubstr("10 fields"));

  const absl::Status short_row = RowError(kHeader, "a,b,c", 2);
  EXPECT_EQ(short_row.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(short_row.message()), StartsWith("line 2: "));
}

TEST(CollectionCsvTest, ErrorLineCountsBlankLinesAndBom) {
  const std::string text = StrCat("\xEF\xBB\xBF\r\n", kHeader, "\r\n\r\n", kGoodRow, "\r\n\r\n",
                                  GoodRowWith(kAmountColumn, "1.234"), "\r\n");
  auto records = ParseFile(text);
  ASSERT_FALSE(records.ok());
  EXPECT_THAT(std::string(records.status().message()), StartsWith("line 6: amount_yuan: "));
}

TEST(CollectionCsvTest, RecordType) {
  const std::string header = StrCat(kHeader, ",record_type");
  const std::pair<std::string_view, v1::RecordType> cases[] = {
      {"ADD", v1::RECORD_TYPE_ADD},     {"新增", v1::RECORD_TYPE_ADD},
      {"", v1::RECORD_TYPE_ADD},        {"CANCEL", v1::RECORD_TYPE_CANCEL},
      {"撤销", v1::RECORD_TYPE_CANCEL},
  };
  for (const auto& [text, type] : cases) {
    SCOPED_TRACE(text);
    auto records = ParseFile(StrCat(header, "\n", kGoodRow, ",", text, "\n"));
    ASSERT_TRUE(records.ok()) << records.status();
    ASSERT_EQ(records->size(), 1u);
    v1::CollectionRecord want = GoodRecord();
    want.set_record_type(type);
    EXPECT_TRUE(SameRecord(want, (*records)[0]));
  }
  for (std::string_view bad : {"cancel", "DELETE", " ADD", "1"}) {
    SCOPED_TRACE(bad);
    const absl::Status st = RowError(header, StrCat(kGoodRow, ",", bad), 5);
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(st.message()), StartsWith("line 5: record_type: "));
  }
}

TEST(CollectionCsvTest, WithoutRecordTypeColumnEveryRowIsAnAdd) {
  auto records = ParseFile(StrCat(kHeader, "\n", kGoodRow, "\n", kGoodRow, "\n"));
  ASSERT_TRUE(records.ok()) << records.status();
  ASSERT_EQ(records->size(), 2u);
  for (const v1::CollectionRecord& r : *records) EXPECT_EQ(r.record_type(), v1::RECORD_TYPE_ADD);
}

}  // namespace
}  // namespace tools
