#include "ledger/event_names.h"
#include "ledger/statement.h"

#include <map>

#include "ledger/account.h"
#include "ledger/apply.h"
#include "ledger/dates.h"
#include "ledger/strings.h"

namespace ledger {
std::map<v1::FundingSource, int64_t> PersonDeltas(const v1::EventEnvelope& e,
                                                  std::string_view citizen_id) {
  std::map<v1::FundingSource, int64_t> out;
  const std::string prefix = StrCat(accounts::kPersonPrefix, citizen_id, "/");
  for (const v1::Posting& p : PostingsFor(e)) {
    if (p.credit_account().starts_with(prefix)) {
      out[SourceFromName(std::string_view(p.credit_account()).substr(prefix.size()))] += p.amount_fen();
    }
    if (p.debit_account().starts_with(prefix)) {
      out[SourceFromName(std::string_view(p.debit_account()).substr(prefix.size()))] -= p.amount_fen();
    }
  }
  return out;
}

namespace {

void Fill(google::protobuf::RepeatedPtrField<v1::SourceAmount>* out,
          const std::map<v1::FundingSource, int64_t>& amounts, int64_t* total) {
  *total = 0;
  for (const auto& [source, amount] : amounts) {
    if (amount == 0) continue;
    v1::SourceAmount* a = out->Add();
    a->set_source(source);
    a->set_amount_fen(amount);
    *total += amount;
  }
}

}  // namespace

v1::Statement BuildStatement(const v1::Account& account,
                             const std::vector<v1::EventEnvelope>& events, int year) {
  v1::Statement st;
  st.set_citizen_id(account.citizen_id());
  st.set_name(account.name());
  st.set_region_code(account.region_code());
  st.set_year(year);
  std::map<v1::FundingSource, int64_t> opening, closing;
  for (const v1::EventEnvelope& e : events) {
    const auto deltas = PersonDeltas(e, account.citizen_id());
    // A recalculation moves no money; it is listed (total 0, the month it applies from) under
    // the job that credited the late subsidy.
    const bool recalculated = e.has_benefit_recalculated() &&
                              e.benefit_recalculated().citizen_id() == account.citizen_id();
    if (deltas.empty() && !recalculated) continue;
    auto date = ParseDate(e.effective_date());
    if (!date.ok()) continue;
    if (date->year() > year) continue;  // events come in sequence order, not date order
    if (date->year() < year) {
      for (const auto& [source, amount] : deltas) opening[source] += amount;
      continue;
    }
    v1::StatementLine* line = st.add_lines();
    line->set_sequence(e.sequence());
    line->set_date(e.effective_date());
    line->set_kind(EventTypeName(e));
    line->set_reference(e.external_ref());
    int64_t total = 0;
    Fill(line->mutable_parts(), deltas, &total);
    line->set_total_fen(total);
    if (e.has_benefit_paid()) line->set_month(e.benefit_paid().month());
    if (recalculated) line->set_month(e.benefit_recalculated().effective_month());
    if (e.has_interest_posted() || e.has_interest_adjusted() || e.has_interest_accrued()) {
      st.set_interest_fen(st.interest_fen() + total);
    } else if (e.has_benefit_paid() || e.has_inheritance_paid() || e.has_contribution_refunded() ||
               e.has_participant_transferred_out() || e.has_benefit_overpayment_recognized() ||
               e.has_termination_subsidy_returned() || e.has_termination_balance_paid()) {
      // An overpayment recognised returns what was paid for months after death: it reduces
      // what was paid out.
      st.set_paid_out_fen(st.paid_out_fen() - total);
    }
    for (const auto& [source, amount] : deltas) closing[source] += amount;
  }
  for (const auto& [source, amount] : opening) closing[source] += amount;
  int64_t total = 0;
  Fill(st.mutable_opening(), opening, &total);
  st.set_opening_total_fen(total);
  Fill(st.mutable_closing(), closing, &total);
  st.set_closing_total_fen(total);
  return st;
}

}  // namespace ledger
