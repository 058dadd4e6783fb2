// `ledgerctl statement`: a participant's annual account statement (对账单), as aligned text or,
// with --csv, RFC 4180 CSV (AccountService; fund-agency or auditor certificate).
#include <algorithm>
#include <cstdio>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "ledger/account.h"
#include "ledger/citizen_id.h"
#include "ledger/money.h"
#include "ledger/strings.h"
#include "tools/ledgerctl/client.h"
#include "tools/ledgerctl/commands.h"

namespace ledgerctl {
namespace {

namespace v1 = ledger::v1;
using ledger::StrCat;
using Amounts = google::protobuf::RepeatedPtrField<v1::SourceAmount>;

constexpr int kAmountWidth = 12;

// The funding sources a statement shows: those in its opening, lines or closing, in enum order.
std::vector<v1::FundingSource> StatementSources(const v1::Statement& s) {
  std::set<int> seen;
  for (const auto& a : s.opening()) seen.insert(a.source());
  for (const auto& a : s.closing()) seen.insert(a.source());
  for (const auto& line : s.lines()) {
    for (const auto& a : line.parts()) seen.insert(a.source());
  }
  std::vector<v1::FundingSource> out;
  for (int source : seen) out.push_back(static_cast<v1::FundingSource>(source));
  return out;
}

int64_t AmountOf(const Amounts& amounts, v1::FundingSource source) {
  int64_t fen = 0;
  for (const auto& a : amounts) {
    if (a.source() == source) fen += a.amount_fen();
  }
  return fen;
}

// RFC 4180: a field with a comma, quote or line break is quoted, its quotes doubled.
std::string CsvField(const std::string& field) {
  if (field.find_first_of(",\"\r\n") == std::string::npos) return field;
  std::string out = "\"";
  for (char c : field) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

void PrintStatementCsv(const v1::Statement& s) {
  static constexpr v1::FundingSource kColumns[] = {
      v1::FUNDING_SOURCE_PERSONAL, v1::FUNDING_SOURCE_GOVERNMENT, v1::FUNDING_SOURCE_COLLECTIVE,
      v1::FUNDING_SOURCE_SPONSORSHIP, v1::FUNDING_SOURCE_TRANSFER_IN};
  std::printf(
      "date,sequence,kind,reference,personal,government,collective,sponsorship,"
      "transfer_in,total\n");
  auto row = [&](const std::string& date, const std::string& sequence, const std::string& kind,
                 const std::string& reference, const Amounts& parts, int64_t total) {
    std::string out = StrCat(date, ",", sequence, ",", CsvField(kind), ",", CsvField(reference));
    for (v1::FundingSource source : kColumns) {
      out += StrCat(",", ledger::FormatFen(AmountOf(parts, source)));
    }
    std::printf("%s,%s\n", out.c_str(), ledger::FormatFen(total).c_str());
  };
  row(StrCat(s.year(), "-01-01"), "", "opening", "", s.opening(), s.opening_total_fen());
  for (const auto& line : s.lines()) {
    row(line.date(), std::to_string(line.sequence()), line.kind(), line.reference(), line.parts(),
        line.total_fen());
  }
  row(StrCat(s.year(), "-12-31"), "", "closing", "", s.closing(), s.closing_total_fen());
}

// A line's kind, with the month a benefit payment is for ("benefit_paid 202605").
std::string KindLabel(const v1::StatementLine& line) {
  return line.month() == 0 ? line.kind() : StrCat(line.kind(), " ", line.month());
}

void PrintBalances(const char* title, const std::vector<v1::FundingSource>& sources,
                   const Amounts& amounts, int64_t total) {
  std::printf("%s\n", title);
  for (v1::FundingSource source : sources) {
    std::printf("  %-18s%*s\n", std::string(ledger::SourceName(source)).c_str(), kAmountWidth,
                ledger::FormatFen(AmountOf(amounts, source)).c_str());
  }
  std::printf("  %-18s%*s\n", "total", kAmountWidth, ledger::FormatFen(total).c_str());
}

// The movements table: a header row, then one row per line with an amount column per source.
void PrintMovements(const v1::Statement& s, const std::vector<v1::FundingSource>& sources) {
  size_t kind_width = 4, reference_width = 9;
  for (const auto& line : s.lines()) {
    kind_width = std::max(kind_width, KindLabel(line).size());
    reference_width = std::max(reference_width, line.reference().size());
  }
  std::printf("movements (%d)\n", s.lines_size());
  std::string header = StrCat("  ", "date      ", "  ", "kind", std::string(kind_width - 4, ' '),
                              "  ", "reference", std::string(reference_width - 9, ' '));
  for (v1::FundingSource source : sources) {
    const std::string name(ledger::SourceName(source));
    header += StrCat(
        " ", std::string(kAmountWidth - std::min<size_t>(kAmountWidth, name.size()), ' '), name);
  }
  header += StrCat(" ", std::string(kAmountWidth - 5, ' '), "total");
  std::printf("%s\n", header.c_str());
  for (const auto& line : s.lines()) {
    std::printf("  %-10s  %-*s  %-*s", line.date().c_str(), static_cast<int>(kind_width),
                KindLabel(line).c_str(), static_cast<int>(reference_width),
                line.reference().c_str());
    for (v1::FundingSource source : sources) {
      const bool moved = std::any_of(line.parts().begin(), line.parts().end(),
                                     [&](const auto& a) { return a.source() == source; });
      std::printf(" %*s", kAmountWidth,
                  moved ? ledger::FormatFen(AmountOf(line.parts(), source)).c_str() : "");
    }
    std::printf(" %*s\n", kAmountWidth, ledger::FormatFen(line.total_fen()).c_str());
  }
}

void PrintStatementText(const v1::Statement& s) {
  const std::vector<v1::FundingSource> sources = StatementSources(s);
  std::printf("annual account statement (对账单) %d\n", s.year());
  std::printf("citizen_id          %s\n", ledger::MaskCitizenId(s.citizen_id()).c_str());
  std::printf("name                %s\n", s.name().c_str());
  std::printf("region              %s\n", s.region_code().c_str());
  std::printf("year                %d\n", s.year());
  PrintBalances("opening balance", sources, s.opening(), s.opening_total_fen());
  PrintMovements(s, sources);
  std::printf("interest            %s\n", ledger::FormatFen(s.interest_fen()).c_str());
  std::printf("paid out            %s\n", ledger::FormatFen(s.paid_out_fen()).c_str());
  PrintBalances("closing balance", sources, s.closing(), s.closing_total_fen());
}

}  // namespace

void RegisterStatementCommand(CLI::App& app, Commands& commands) {
  struct Options {
    std::string id;
    int year = 0;
    bool csv = false;
  };
  auto o = std::make_shared<Options>();
  auto* statement = app.add_subcommand("statement", "annual account statement (对账单)");
  statement->add_option("citizen_id", o->id, "18-character citizen ID")->required();
  statement->add_option("--year", o->year, "calendar year")->required();
  statement->add_flag("--csv", o->csv, "CSV with a header row, opening and closing rows");
  commands.On(statement, [&g = commands.globals(), o] {
    v1::GetStatementRequest request;
    request.set_citizen_id(o->id);
    request.set_year(o->year);
    return CallUnary(g, &v1::AccountService::Stub::GetStatement, request,
                     [o](const v1::Statement& s) {
                       if (o->csv) {
                         PrintStatementCsv(s);
                       } else {
                         PrintStatementText(s);
                       }
                       return 0;
                     });
  });
}

}  // namespace ledgerctl
