// Renders a reconciliation (v1::Reconciliation) for people: plain text for the terminal, and a
// self-contained HTML page (inline CSS and SVG charts, no external assets) for a fund manager or
// auditor to open in a browser.
#ifndef TOOLS_RECON_REPORT_H_
#define TOOLS_RECON_REPORT_H_

#include <string>
#include <string_view>

#include "ledger/v1/reconciliation.pb.h"

namespace tools {

// Text: a machine-readable summary line ("recon breaks=… tax_days=…") first, then each section.
std::string ReconText(const ledger::v1::Reconciliation& recon);

// HTML: summary on top, breaks highlighted, charts of monthly collections, month-end fund
// balances and break counts. `generated` is printed as the report's time.
std::string ReconHtml(const ledger::v1::Reconciliation& recon, std::string_view generated);

// Escapes & < > " ' for HTML text and attributes.
std::string HtmlEscape(std::string_view text);

}  // namespace tools

#endif  // TOOLS_RECON_REPORT_H_
