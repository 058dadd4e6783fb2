#include "tools/recon_report.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <vector>

#include "ledger/money.h"
#include "ledger/strings.h"

namespace tools {
namespace {

namespace v1 = ledger::v1;
using ledger::FormatFen;
using ledger::StrCat;

std::string StatusName(v1::ReconStatus s) {
  switch (s) {
    case v1::RECON_STATUS_MATCHED: return "MATCHED";
    case v1::RECON_STATUS_BREAK: return "BREAK";
    case v1::RECON_STATUS_AWAITING_REPORT: return "AWAITING";
    default: return "?";
  }
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](char c) { return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c; });
  return s;
}

std::string PurposeName(v1::FiscalPurpose p) {
  return Lower(v1::FiscalPurpose_Name(p).substr(sizeof("FISCAL_PURPOSE_") - 1));
}

std::string BankName(v1::BankAccount a) {
  return Lower(v1::BankAccount_Name(a).substr(sizeof("BANK_ACCOUNT_") - 1));
}

std::string SourceName(v1::FundingSource s) {
  return Lower(v1::FundingSource_Name(s).substr(sizeof("FUNDING_SOURCE_") - 1));
}

std::string Scope(const v1::ReconciliationRequest& r) {
  return StrCat("region ", r.region_code().empty() ? "all" : r.region_code(), ", dates ",
                r.from_date().empty() ? "…" : r.from_date(), " to ",
                r.to_date().empty() ? "…" : r.to_date(), ", office ",
                r.tax_office().empty() ? "all" : r.tax_office());
}

std::string MonthLabel(int month) {
  return StrCat(month / 100, "-", month % 100 < 10 ? "0" : "", month % 100);
}

std::string SummaryLine(const v1::Reconciliation& r) {
  const v1::ReconSummary& s = r.summary();
  return StrCat("recon as_of_sequence=", r.as_of_sequence(), " breaks=", s.breaks(),
                " tax_days=", s.tax_days(), " tax_days_matched=", s.tax_days_matched(),
                " tax_days_in_break=", s.tax_days_in_break(),
                " tax_days_awaiting_report=", s.tax_days_awaiting_report(),
                " tax_difference=", FormatFen(s.tax_difference_fen()),
                " fiscal_funds=", s.fiscal_funds(), " fiscal_funds_in_break=", s.fiscal_funds_in_break(),
                " bank_statements=", s.bank_statements(),
                " bank_statements_in_break=", s.bank_statements_in_break(), " regions=", s.regions(),
                " regions_in_break=", s.regions_in_break());
}

// Pads (or keeps) `text` to `width` display columns (ASCII only; other text is left as is).
std::string Pad(std::string text, size_t width) {
  if (text.size() < width) text.append(width - text.size(), ' ');
  return text;
}

// --- SVG ----------------------------------------------------------------------------------

constexpr int kChartWidth = 760;
constexpr int kChartHeight = 240;
constexpr int kLeft = 90, kRight = 16, kTop = 30, kBottom = 40;

struct Series {
  std::string name;
  std::string color;
  std::vector<int64_t> values;
};

std::string Yuan(int64_t fen) { return FormatFen(fen); }

// Where a chart's values and months go: the value range (including 0) mapped onto the plot.
class ChartScale {
 public:
  ChartScale(const std::vector<Series>& series, size_t months, bool money) : money_(money) {
    for (const Series& s : series) {
      for (int64_t v : s.values) {
        lo_ = std::min(lo_, v);
        hi_ = std::max(hi_, v);
      }
    }
    if (hi_ == lo_) hi_ = lo_ + 1;
    step_ = plot_w_ / static_cast<double>(std::max<size_t>(months, 1));
  }

  int64_t lo() const { return lo_; }
  int64_t hi() const { return hi_; }
  double step() const { return step_; }
  double y(int64_t v) const {
    return kTop + plot_h_ * (1.0 - static_cast<double>(v - lo_) / static_cast<double>(hi_ - lo_));
  }
  double x(size_t i) const { return kLeft + step_ * (static_cast<double>(i) + 0.5); }
  std::string Format(int64_t v) const { return money_ ? Yuan(v) : StrCat(v); }

 private:
  const bool money_;
  const double plot_w_ = kChartWidth - kLeft - kRight;
  const double plot_h_ = kChartHeight - kTop - kBottom;
  int64_t lo_ = 0, hi_ = 0;
  double step_ = 0;
};

std::string Num(double d) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.1f", d);
  return std::string(buffer);
}

// The chart's title, gridlines at lo, 0 (if inside) and hi, and month labels (at most ~12).
std::string ChartFrame(std::string_view title, const std::vector<std::string>& labels,
                       const ChartScale& c) {
  std::string svg =
      StrCat("<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" width=\"", kChartWidth,
             "\" height=\"", kChartHeight, "\" viewBox=\"0 0 ", kChartWidth, " ", kChartHeight,
             "\"><title>", HtmlEscape(title), "</title>");
  svg += StrCat("<text x=\"", kLeft, "\" y=\"18\" class=\"ct\">", HtmlEscape(title), "</text>");
  std::vector<int64_t> ticks = {c.lo(), c.hi()};
  if (c.lo() < 0 && c.hi() > 0) ticks.push_back(0);
  for (int64_t t : ticks) {
    svg += StrCat("<line x1=\"", kLeft, "\" x2=\"", kChartWidth - kRight, "\" y1=\"", Num(c.y(t)),
                  "\" y2=\"", Num(c.y(t)), "\" class=\"grid\"/><text x=\"", kLeft - 6, "\" y=\"",
                  Num(c.y(t) + 4), "\" class=\"yl\">", HtmlEscape(c.Format(t)), "</text>");
  }
  const size_t label_every = std::max<size_t>(1, labels.size() / 12);
  for (size_t i = 0; i < labels.size(); i += label_every) {
    svg += StrCat("<text x=\"", Num(c.x(i)), "\" y=\"", kChartHeight - kBottom + 16,
                  "\" class=\"xl\">", HtmlEscape(labels[i]), "</text>");
  }
  return svg;
}

std::string ChartBars(const std::vector<std::string>& labels, const Series& s,
                      const ChartScale& c) {
  std::string svg;
  for (size_t i = 0; i < s.values.size(); ++i) {
    const double top = c.y(std::max<int64_t>(s.values[i], 0));
    const double bottom = c.y(std::min<int64_t>(s.values[i], 0));
    svg += StrCat("<rect x=\"", Num(c.x(i) - c.step() * 0.35), "\" y=\"", Num(top), "\" width=\"",
                  Num(c.step() * 0.7), "\" height=\"", Num(std::max(bottom - top, 0.5)),
                  "\" fill=\"", s.color, "\"><title>", HtmlEscape(labels[i]), ": ",
                  HtmlEscape(c.Format(s.values[i])), "</title></rect>");
  }
  return svg;
}

// One line per series, a dot per month, and the legend along the top right.
std::string ChartLines(const std::vector<std::string>& labels, const std::vector<Series>& series,
                       const ChartScale& c) {
  std::string svg;
  int legend_x = kChartWidth - kRight - 110 * static_cast<int>(series.size());
  for (const Series& s : series) {
    std::string points;
    for (size_t i = 0; i < s.values.size(); ++i) {
      points += StrCat(i ? " " : "", Num(c.x(i)), ",", Num(c.y(s.values[i])));
    }
    svg += StrCat("<polyline fill=\"none\" stroke=\"", s.color, "\" stroke-width=\"2\" points=\"",
                  points, "\"/>");
    for (size_t i = 0; i < s.values.size(); ++i) {
      svg += StrCat("<circle cx=\"", Num(c.x(i)), "\" cy=\"", Num(c.y(s.values[i])),
                    "\" r=\"2.5\" fill=\"", s.color, "\"><title>", HtmlEscape(s.name), " ",
                    HtmlEscape(labels[i]), ": ", HtmlEscape(c.Format(s.values[i])),
                    "</title></circle>");
    }
    svg += StrCat("<rect x=\"", legend_x, "\" y=\"9\" width=\"12\" height=\"10\" fill=\"", s.color,
                  "\"/><text x=\"", legend_x + 16, "\" y=\"18\" class=\"lg\">", HtmlEscape(s.name),
                  "</text>");
    legend_x += 110;
  }
  return svg;
}

// A chart of monthly values: bars for one series, lines for several.
std::string Chart(std::string_view title, const std::vector<std::string>& labels,
                  const std::vector<Series>& series, bool bars, bool money) {
  const ChartScale scale(series, labels.size(), money);
  std::string svg = ChartFrame(title, labels, scale);
  svg += bars ? ChartBars(labels, series.front(), scale) : ChartLines(labels, series, scale);
  svg += "</svg>";
  return svg;
}

std::string Td(std::string_view text, bool number = false) {
  return StrCat(number ? "<td class=\"n\">" : "<td>", HtmlEscape(text), "</td>");
}

std::string StatusTd(v1::ReconStatus s) {
  return StrCat("<td class=\"st ", Lower(StatusName(s)), "\">", StatusName(s), "</td>");
}

std::string RowClass(v1::ReconStatus s) {
  return s == v1::RECON_STATUS_BREAK ? "<tr class=\"break\">" : "<tr>";
}

std::string Card(std::string_view label, std::string_view value, bool alert) {
  return StrCat("<div class=\"card", alert ? " alert" : "", "\"><div class=\"v\">", HtmlEscape(value),
                "</div><div class=\"l\">", HtmlEscape(label), "</div></div>");
}

constexpr std::string_view kStyle = R"(
body{font-family:"Noto Sans CJK SC","WenQuanYi Micro Hei","Microsoft YaHei",Arial,sans-serif;margin:24px;color:#1d2733;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ccd}
.meta{color:#556;font-size:13px}
.cards{display:flex;flex-wrap:wrap;gap:10px;margin:16px 0}
.card{border:1px solid #cfd8e3;border-radius:6px;padding:10px 14px;min-width:120px;background:#f5f8fb}
.card.alert{border-color:#c62828;background:#fdecea}
.card .v{font-size:22px;font-weight:bold}.card .l{font-size:12px;color:#556}
table{border-collapse:collapse;font-size:13px;margin:6px 0}
th,td{border:1px solid #d5dbe3;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#eef2f7}td.n{text-align:right;font-variant-numeric:tabular-nums}
tr.break td{background:#fdecea}td.st.break{color:#b71c1c;font-weight:bold}
td.st.matched{color:#1b5e20}td.st.awaiting{color:#8a6d00}
.detail{font-size:12px;color:#7f1d1d}
svg{display:block;margin:8px 0;border:1px solid #e3e8ef;background:#fcfdff}
svg .ct{font-size:13px;font-weight:bold;fill:#1d2733}svg .grid{stroke:#dde3ea}
svg .yl{font-size:10px;text-anchor:end;fill:#556}svg .xl{font-size:10px;text-anchor:middle;fill:#556}
svg .lg{font-size:11px;fill:#1d2733}
)";

// The summary cards; a card with a break is marked.
std::string HtmlSummary(const v1::Reconciliation& r) {
  std::string h;
  const v1::ReconSummary& s = r.summary();
  h += "<div class=\"cards\" id=\"summary\">";
  h += Card("breaks, all sections", StrCat(s.breaks()), s.breaks() > 0);
  h += Card("tax days matched", StrCat(s.tax_days_matched(), " / ", s.tax_days()), false);
  h += Card("tax days in break", StrCat(s.tax_days_in_break()), s.tax_days_in_break() > 0);
  h += Card("tax days awaiting report", StrCat(s.tax_days_awaiting_report()), false);
  h +=
      Card("tax difference (yuan)", FormatFen(s.tax_difference_fen()), s.tax_difference_fen() != 0);
  h += Card("fiscal funds in break", StrCat(s.fiscal_funds_in_break(), " / ", s.fiscal_funds()),
            s.fiscal_funds_in_break() > 0);
  h += Card("bank statements in break",
            StrCat(s.bank_statements_in_break(), " / ", s.bank_statements()),
            s.bank_statements_in_break() > 0);
  h += Card("regions in break (accounts vs control)",
            StrCat(s.regions_in_break(), " / ", s.regions()), s.regions_in_break() > 0);
  h += "</div>\n";
  return h;
}

// The three monthly charts: collections, fund bank balances, breaks.
std::string HtmlCharts(const v1::Reconciliation& r) {
  std::string h;
  std::vector<std::string> labels;
  Series collections{"collections", "#2e6bb0", {}}, receipts_breaks{"breaks", "#c62828", {}};
  Series income{"income", "#8e6cc0", {}}, special{"special", "#2e7d32", {}},
      payment{"payment", "#ef6c00", {}};
  for (const auto& m : r.months()) {
    labels.push_back(MonthLabel(m.month()));
    collections.values.push_back(m.collections_fen());
    income.values.push_back(m.income_balance_fen());
    special.values.push_back(m.special_balance_fen());
    payment.values.push_back(m.payment_balance_fen());
    receipts_breaks.values.push_back(m.tax_breaks() + m.bank_breaks());
  }
  h += "<h2>Charts</h2>\n";
  if (labels.empty()) {
    h += "<p>No monthly figures in scope.</p>\n";
  } else {
    h += Chart("Monthly collections held by the ledger (yuan)", labels, {collections}, true, true);
    h += Chart("Month-end fund bank balances per the ledger (yuan)", labels,
               {income, special, payment}, false, true);
    h += Chart("Breaks per month (tax days and bank statements)", labels, {receipts_breaks}, true,
               false);
  }
  return h;
}

// Section 1: a row per tax office and collection date, with the receipts that differ.
std::string HtmlTaxDays(const v1::Reconciliation& r) {
  std::string h;
  h += "<h2>1. Tax daily totals</h2>\n<table><tr><th>Collection date</th><th>Region</th><th>Tax "
       "office</th><th>Status</th><th>Reported count</th><th>Reported total</th><th>Ledger "
       "count</th><th>Ledger total</th><th>Difference</th><th>Receipts</th></tr>\n";
  for (const auto& d : r.tax_days()) {
    std::string detail;
    if (!d.missing_in_ledger().empty()) {
      detail += "missing in ledger:";
      for (const auto& m : d.missing_in_ledger()) detail += StrCat(" ", m);
    }
    if (!d.not_reported().empty()) {
      detail += StrCat(detail.empty() ? "" : "; ", "not reported:");
      for (const auto& m : d.not_reported()) {
        detail += StrCat(" ", m.receipt_number(), " (", FormatFen(m.amount_fen()), ")");
      }
    }
    h += StrCat(RowClass(d.status()), Td(d.collection_date()), Td(d.region_code()),
                Td(d.tax_office()), StatusTd(d.status()),
                Td(d.reported() ? StrCat(d.reported_count()) : "—", true),
                Td(d.reported() ? FormatFen(d.reported_total_fen()) : "—", true),
                Td(StrCat(d.ledger_count()), true), Td(FormatFen(d.ledger_total_fen()), true),
                Td(d.reported() ? FormatFen(d.difference_fen()) : "—", true),
                "<td class=\"detail\">", HtmlEscape(detail), "</td></tr>\n");
  }
  h += "</table>\n";
  return h;
}

// Section 2: a row per fiscal fund purpose and year.
std::string HtmlFiscalFunds(const v1::Reconciliation& r) {
  std::string h;
  h += "<h2>2. Fiscal funds</h2>\n<table><tr><th>Region</th><th>Purpose</th><th>Year</th>"
       "<th>Status</th><th>Received</th><th>Used</th><th>Unused</th></tr>\n";
  for (const auto& f : r.fiscal_funds()) {
    h += StrCat(RowClass(f.status()), Td(f.region_code()), Td(PurposeName(f.purpose())),
                Td(StrCat(f.year())), StatusTd(f.status()), Td(FormatFen(f.received_fen()), true),
                Td(FormatFen(f.used_fen()), true), Td(FormatFen(f.unused_fen()), true), "</tr>\n");
  }
  h += "</table>\n";
  return h;
}

// Section 3: a row per bank statement.
std::string HtmlBankStatements(const v1::Reconciliation& r) {
  std::string h;
  h += "<h2>3. Bank statements</h2>\n<table><tr><th>Statement date</th><th>Region</th>"
       "<th>Account</th><th>Status</th><th>Reported</th><th>Ledger</th><th>Difference</th></tr>\n";
  for (const auto& b : r.bank_statements()) {
    h += StrCat(RowClass(b.status()), Td(b.statement_date()), Td(b.region_code()),
                Td(BankName(b.bank_account())), StatusTd(b.status()),
                Td(FormatFen(b.reported_fen()), true), Td(FormatFen(b.ledger_fen()), true),
                Td(FormatFen(b.difference_fen()), true), "</tr>\n");
  }
  h += "</table>\n";
  return h;
}

// Section 4: per region, a row per funding source and the total.
std::string HtmlIndividualAccounts(const v1::Reconciliation& r) {
  std::string h;
  h += "<h2>4. Individual accounts vs control accounts</h2>\n<table><tr><th>Region</th>"
       "<th>Status</th><th>Accounts</th><th>Source</th><th>Σ accounts</th><th>Control</th></tr>\n";
  for (const auto& i : r.individual_accounts()) {
    for (int k = 0; k < i.accounts_by_source_size(); ++k) {
      h += StrCat(RowClass(i.status()), Td(i.region_code()), StatusTd(i.status()),
                  Td(StrCat(i.accounts()), true), Td(SourceName(i.accounts_by_source(k).source())),
                  Td(FormatFen(i.accounts_by_source(k).amount_fen()), true),
                  Td(FormatFen(i.control_by_source(k).amount_fen()), true), "</tr>\n");
    }
    h += StrCat(RowClass(i.status()), Td(i.region_code()), StatusTd(i.status()),
                Td(StrCat(i.accounts()), true), "<td><b>total</b></td>",
                Td(FormatFen(i.accounts_total_fen()), true),
                Td(FormatFen(i.control_total_fen()), true), "</tr>\n");
  }
  h += "</table>\n";
  return h;
}

}  // namespace

std::string HtmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string ReconText(const v1::Reconciliation& r) {
  std::string out = SummaryLine(r) + "\n";
  out += StrCat("scope: ", Scope(r.request()), "\n");
  out += "\ntax daily totals (reported by the tax bureau vs held by the ledger)\n";
  if (r.tax_days().empty()) out += "  none\n";
  for (const auto& d : r.tax_days()) {
    out += StrCat("  ", d.collection_date(), "  ", d.region_code(), "  ", Pad(d.tax_office(), 12),
                  Pad(StatusName(d.status()), 10),
                  Pad(d.reported() ? StrCat("reported ", d.reported_count(), " / ",
                                            FormatFen(d.reported_total_fen()))
                                   : std::string("not reported"),
                      30),
                  Pad(StrCat("ledger ", d.ledger_count(), " / ", FormatFen(d.ledger_total_fen())), 28),
                  d.reported() ? StrCat("difference ", FormatFen(d.difference_fen())) : "", "\n");
    if (!d.missing_in_ledger().empty()) {
      out += "      missing in ledger:";
      for (const auto& m : d.missing_in_ledger()) out += StrCat(" ", m);
      out += "\n";
    }
    if (!d.not_reported().empty()) {
      out += "      not reported:";
      for (const auto& m : d.not_reported()) {
        out += StrCat(" ", m.receipt_number(), " (", FormatFen(m.amount_fen()), ")");
      }
      out += "\n";
    }
  }
  out += "\nfiscal funds (received vs used vs unused)\n";
  if (r.fiscal_funds().empty()) out += "  none\n";
  for (const auto& f : r.fiscal_funds()) {
    out += StrCat("  ", f.region_code(), "  ", Pad(PurposeName(f.purpose()), 22), f.year(), "  ",
                  Pad(StatusName(f.status()), 10), "received ", FormatFen(f.received_fen()),
                  "  used ", FormatFen(f.used_fen()), "  unused ", FormatFen(f.unused_fen()), "\n");
  }
  out += "\nbank statements (reported vs ledger balance on the statement date)\n";
  if (r.bank_statements().empty()) out += "  none\n";
  for (const auto& b : r.bank_statements()) {
    out += StrCat("  ", b.statement_date(), "  ", b.region_code(), "  ", Pad(BankName(b.bank_account()), 9),
                  Pad(StatusName(b.status()), 10), "reported ", FormatFen(b.reported_fen()),
                  "  ledger ", FormatFen(b.ledger_fen()), "  difference ",
                  FormatFen(b.difference_fen()), "\n");
  }
  out += "\nindividual accounts vs control accounts (per region)\n";
  if (r.individual_accounts().empty()) out += "  none\n";
  for (const auto& i : r.individual_accounts()) {
    out += StrCat("  ", i.region_code(), "  ", Pad(StatusName(i.status()), 10), "accounts ",
                  i.accounts(), "  sum of accounts ", FormatFen(i.accounts_total_fen()),
                  "  control ", FormatFen(i.control_total_fen()), "  difference ",
                  FormatFen(i.difference_fen()), "\n");
  }
  return out;
}

std::string ReconHtml(const v1::Reconciliation& r, std::string_view generated) {
  std::string h = StrCat(
      "<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
      "<title>基金对账 Reconciliation report</title><style>",
      kStyle, "</style></head><body>\n");
  h += StrCat("<h1>基金对账 Fund reconciliation</h1><div class=\"meta\">As of sequence ",
              r.as_of_sequence(), " · ", HtmlEscape(Scope(r.request())), " · generated ",
              HtmlEscape(generated), "</div>\n");
  h += HtmlSummary(r);
  h += HtmlCharts(r);
  h += HtmlTaxDays(r);
  h += HtmlFiscalFunds(r);
  h += HtmlBankStatements(r);
  h += HtmlIndividualAccounts(r);
  h += "</body></html>\n";
  return h;
}

}  // namespace tools
