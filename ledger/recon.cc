#include "ledger/recon.h"

#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <tuple>

#include "ledger/account.h"
#include "ledger/apply.h"
#include "ledger/dates.h"
#include "ledger/status_macros.h"
#include "ledger/store.h"
#include "ledger/strings.h"
#include "ledger/working_state.h"

namespace ledger {
namespace accounts {
std::string_view BankLedgerAccount(v1::BankAccount account) {
  switch (account) {
    case v1::BANK_ACCOUNT_INCOME: return kFundIncome;
    case v1::BANK_ACCOUNT_SPECIAL: return kFundSpecial;
    case v1::BANK_ACCOUNT_PAYMENT: return kFundPayment;
    default: return {};
  }
}
}  // namespace accounts

namespace {

constexpr char kTagDay = 'c';
constexpr char kTagReceipt = 'r';
constexpr char kTagTaxReport = 't';
constexpr char kTagFiscal = 'f';
constexpr char kTagBankReport = 'b';
constexpr char kTagMovement = 'm';
constexpr size_t kRegionBytes = 6;
constexpr size_t kDateBytes = 10;
constexpr std::string_view kFiscalPrefix = "fiscal_funds/";

std::string DayKey(char tag, std::string_view region, std::string_view date,
                   std::string_view office) {
  return StrCat(std::string(1, tag), region, date,
                std::string(1, static_cast<char>(office.size())), office);
}

std::string BankKey(char tag, std::string_view region, v1::BankAccount account,
                    std::string_view date) {
  return StrCat(std::string(1, tag), region, std::string(1, static_cast<char>(account)), date);
}

v1::BankAccount BankAccountOf(std::string_view ledger_account) {
  for (auto a : {v1::BANK_ACCOUNT_INCOME, v1::BANK_ACCOUNT_SPECIAL, v1::BANK_ACCOUNT_PAYMENT}) {
    if (accounts::BankLedgerAccount(a) == ledger_account) return a;
  }
  return v1::BANK_ACCOUNT_UNSPECIFIED;
}

// A day key's parts (after the tag): region, date, office, and what follows (a receipt number).
struct DayKeyParts {
  std::string_view region, date, office, rest;
};
std::optional<DayKeyParts> ParseDayKey(std::string_view key) {
  if (key.size() < 1 + kRegionBytes + kDateBytes + 1) return std::nullopt;
  DayKeyParts p;
  p.region = key.substr(1, kRegionBytes);
  p.date = key.substr(1 + kRegionBytes, kDateBytes);
  const size_t len = static_cast<unsigned char>(key[1 + kRegionBytes + kDateBytes]);
  const size_t office_at = 2 + kRegionBytes + kDateBytes;
  if (key.size() < office_at + len) return std::nullopt;
  p.office = key.substr(office_at, len);
  p.rest = key.substr(office_at + len);
  return p;
}

// Adds (count, amount) to a tax day's held receipts.
absl::Status AddToDay(WorkingState& state, std::string_view key, int64_t count, int64_t amount) {
  LEDGER_ASSIGN_OR_RETURN(auto row, state.ReconRow(key));
  uint64_t held = 0;
  int64_t total = 0;
  if (row) {
    LEDGER_CHECK(row->size() == 16, "tax day row has the wrong size");
    held = keys::DecodeU64(*row);
    total = keys::DecodeI64(std::string_view(*row).substr(8));
  }
  LEDGER_CHECK(count >= 0 || held >= static_cast<uint64_t>(-count), "tax day count below zero");
  held = static_cast<uint64_t>(static_cast<int64_t>(held) + count);
  total += amount;
  state.PutReconRow(key, held == 0 && total == 0
                             ? std::nullopt
                             : std::optional<std::string>(keys::EncodeU64(held) +
                                                          keys::EncodeI64(total)));
  return absl::OkStatus();
}

absl::Status AddI64(WorkingState& state, const std::string& key, int64_t delta, size_t at,
                    size_t width) {
  LEDGER_ASSIGN_OR_RETURN(auto row, state.ReconRow(key));
  std::string value = row ? *row : std::string(width, '\0');
  LEDGER_CHECK(value.size() == width, "reconciliation row has the wrong size");
  const int64_t before = keys::DecodeI64(std::string_view(value).substr(at, 8));
  value.replace(at, 8, keys::EncodeI64(before + delta));
  state.PutReconRow(key, std::move(value));
  return absl::OkStatus();
}

// --- reading ------------------------------------------------------------------------------

// Calls visit(key, value) for every row of `prefix` at the snapshot.
absl::Status ScanPrefix(const Store& store, const rocksdb::Snapshot* snapshot, Cf cf,
                        std::string_view prefix,
                        const std::function<absl::Status(std::string_view, std::string_view)>& visit) {
  auto it = store.NewIterator(cf, snapshot);
  const rocksdb::Slice p(prefix.data(), prefix.size());
  for (it->Seek(p); it->Valid() && it->key().starts_with(p); it->Next()) {
    LEDGER_RETURN_IF_ERROR(visit(it->key().ToStringView(), it->value().ToStringView()));
  }
  if (!it->status().ok()) return absl::UnavailableError(it->status().ToString());
  return absl::OkStatus();
}

struct Filter {
  std::string region;  // "" = all
  std::string from, to;  // "" = unbounded (dates compare as text)
  std::string office;
  bool office_given = false;
  bool InRange(std::string_view date) const {
    return (from.empty() || date >= from) && (to.empty() || date <= to);
  }
};

absl::StatusOr<Filter> ParseFilter(const v1::ReconciliationRequest& r) {
  Filter f;
  if (!r.region_code().empty()) {
    if (r.region_code().size() != kRegionBytes ||
        !std::all_of(r.region_code().begin(), r.region_code().end(),
                     [](char c) { return c >= '0' && c <= '9'; })) {
      return absl::InvalidArgumentError(
          StrCat("region_code '", r.region_code(), "' is not a 6-digit code"));
    }
    f.region = r.region_code();
  }
  for (const auto& [text, name, out] : {std::tuple(&r.from_date(), "from_date", &f.from),
                                        std::tuple(&r.to_date(), "to_date", &f.to)}) {
    if (text->empty()) continue;
    auto day = ParseDate(*text);
    if (!day.ok()) return absl::InvalidArgumentError(StrCat(name, " '", *text, "' is not YYYY-MM-DD"));
    *out = FormatDate(*day);
  }
  if (!f.from.empty() && !f.to.empty() && f.from > f.to) {
    return absl::InvalidArgumentError(StrCat("from_date ", f.from, " is after to_date ", f.to));
  }
  f.office = r.tax_office();
  f.office_given = !r.tax_office().empty();
  return f;
}

using DayId = std::tuple<std::string, std::string, std::string>;  // region, date, office

// The day's held receipts (receipt → amount).
absl::StatusOr<std::map<std::string, int64_t>> HeldReceipts(const Store& store,
                                                            const rocksdb::Snapshot* snapshot,
                                                            const DayId& day) {
  std::map<std::string, int64_t> out;
  const std::string& region = std::get<0>(day);
  const std::string& date = std::get<1>(day);
  const std::string& office = std::get<2>(day);
  LEDGER_RETURN_IF_ERROR(ScanPrefix(store, snapshot, Cf::kRecon,
                                    DayKey(kTagReceipt, region, date, office),
                                    [&](std::string_view key, std::string_view value) {
                                      auto parts = ParseDayKey(key);
                                      if (!parts || parts->office != office || value.size() != 8) {
                                        return absl::OkStatus();
                                      }
                                      out.emplace(parts->rest, keys::DecodeI64(value));
                                      return absl::OkStatus();
                                    }));
  return out;
}

// Decides one tax day from the held totals and the report in force.
absl::StatusOr<v1::TaxDayReconciliation> DecideTaxDay(const Store& store,
                                                      const rocksdb::Snapshot* snapshot,
                                                      const DayId& day,
                                                      std::optional<std::string_view> held_row,
                                                      std::optional<std::string_view> report_row) {
  v1::TaxDayReconciliation r;
  r.set_region_code(std::get<0>(day));
  r.set_collection_date(std::get<1>(day));
  r.set_tax_office(std::get<2>(day));
  if (held_row) {
    LEDGER_CHECK(held_row->size() == 16, "tax day row has the wrong size");
    r.set_ledger_count(keys::DecodeU64(*held_row));
    r.set_ledger_total_fen(keys::DecodeI64(held_row->substr(8)));
  }
  if (!report_row) {
    r.set_status(v1::RECON_STATUS_AWAITING_REPORT);
    return r;
  }
  LEDGER_CHECK(report_row->size() >= 8, "tax report row has the wrong size");
  v1::TaxDailyTotalsReported report;
  LEDGER_CHECK(report.ParseFromArray(report_row->data() + 8, static_cast<int>(report_row->size() - 8)),
               "tax report row does not decode");
  r.set_reported(true);
  r.set_report_sequence(keys::DecodeU64(*report_row));
  r.set_reported_count(report.record_count());
  r.set_reported_total_fen(report.total_fen());
  r.set_difference_fen(report.total_fen() - r.ledger_total_fen());
  const bool listed = !report.receipt_numbers().empty() || report.record_count() == 0;
  r.set_receipts_listed(listed);
  bool same = report.record_count() == r.ledger_count() && r.difference_fen() == 0;
  if (listed) {
    LEDGER_ASSIGN_OR_RETURN(auto held, HeldReceipts(store, snapshot, day));
    std::set<std::string_view> reported(report.receipt_numbers().begin(),
                                        report.receipt_numbers().end());
    for (std::string_view receipt : reported) {
      if (!held.contains(std::string(receipt))) r.add_missing_in_ledger(std::string(receipt));
    }
    for (const auto& [receipt, amount] : held) {
      if (reported.contains(receipt)) continue;
      v1::ReceiptAmount* a = r.add_not_reported();
      a->set_receipt_number(receipt);
      a->set_amount_fen(amount);
    }
    same = same && r.missing_in_ledger().empty() && r.not_reported().empty();
  }
  r.set_status(same ? v1::RECON_STATUS_MATCHED : v1::RECON_STATUS_BREAK);
  return r;
}

std::optional<std::string_view> AsView(const std::optional<std::string>& s) {
  return s ? std::optional<std::string_view>(*s) : std::nullopt;
}

int MonthOfDate(std::string_view date) {
  return (date[0] - '0') * 100000 + (date[1] - '0') * 10000 + (date[2] - '0') * 1000 +
         (date[3] - '0') * 100 + (date[5] - '0') * 10 + (date[6] - '0');
}

std::string MonthEndDate(int month) { return FormatDate(LastDayOf(month)); }

v1::FiscalPurpose PurposeFromName(std::string_view name) {
  std::string upper = "FISCAL_PURPOSE_";
  for (char c : name) upper += (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
  v1::FiscalPurpose purpose = v1::FISCAL_PURPOSE_UNSPECIFIED;
  v1::FiscalPurpose_Parse(upper, &purpose);
  return purpose;
}

absl::StatusOr<int64_t> LedgerBalance(const Store& store, const rocksdb::Snapshot* snapshot,
                                      std::string_view region, std::string_view account) {
  LEDGER_ASSIGN_OR_RETURN(auto row,
                          store.Get(Cf::kLedgerAccounts, keys::LedgerAccount(region, account), snapshot));
  if (!row) return 0;
  LEDGER_CHECK(row->size() == 8, "ledger account row has the wrong size");
  return keys::DecodeI64(*row);
}

}  // namespace

absl::Status ApplyToReconciliation(const v1::EventEnvelope& event, WorkingState& state) {
  switch (event.event_case()) {
    case v1::EventEnvelope::kContributionCollected: {
      const auto& c = event.contribution_collected();
      const std::string day = DayKey(kTagDay, event.region_code(), c.collection_date(), c.tax_office());
      state.PutReconRow(DayKey(kTagReceipt, event.region_code(), c.collection_date(), c.tax_office()) +
                            c.receipt_number(),
                        keys::EncodeI64(c.amount_fen()));
      return AddToDay(state, day, 1, c.amount_fen());
    }
    case v1::EventEnvelope::kContributionCancelled: {
      const auto& c = event.contribution_cancelled();
      const std::string& date = c.original_collection_date();
      LEDGER_CHECK(!date.empty(), "cancellation without the original's collection date");
      state.PutReconRow(DayKey(kTagReceipt, event.region_code(), date, c.original_tax_office()) +
                            c.receipt_number(),
                        std::nullopt);
      return AddToDay(state, DayKey(kTagDay, event.region_code(), date, c.original_tax_office()), -1,
                      -c.amount_fen());
    }
    case v1::EventEnvelope::kTaxDailyTotalsReported: {
      const auto& t = event.tax_daily_totals_reported();
      state.PutReconRow(DayKey(kTagTaxReport, event.region_code(), event.effective_date(), t.tax_office()),
                        keys::EncodeU64(event.sequence()) + t.SerializeAsString());
      return absl::OkStatus();
    }
    case v1::EventEnvelope::kBankBalanceReported: {
      const auto& b = event.bank_balance_reported();
      state.PutReconRow(BankKey(kTagBankReport, event.region_code(), b.bank_account(),
                                event.effective_date()),
                        keys::EncodeU64(event.sequence()) + keys::EncodeI64(b.balance_fen()));
      return absl::OkStatus();
    }
    default:
      return absl::OkStatus();
  }
}

absl::Status ReconcilePostingLeg(const v1::EventEnvelope& event, std::string_view account,
                                 int64_t delta_fen, WorkingState& state) {
  if (const v1::BankAccount bank = BankAccountOf(account); bank != v1::BANK_ACCOUNT_UNSPECIFIED) {
    return AddI64(state, BankKey(kTagMovement, event.region_code(), bank, event.effective_date()),
                  delta_fen, 0, 8);
  }
  if (account.starts_with(kFiscalPrefix)) {
    // Credited when received, debited when used.
    const std::string key = StrCat(std::string(1, kTagFiscal), event.region_code(), account);
    if (event.has_government_subsidy_reversed() || event.has_termination_subsidy_returned() ||
        event.has_cadre_subsidy_reversed()) {
      return AddI64(state, key, delta_fen, 8, 16);  // given back: "used" goes down
    }
    return delta_fen < 0 ? AddI64(state, key, -delta_fen, 0, 16) : AddI64(state, key, delta_fen, 8, 16);
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> FundBalanceAsOf(const Store& store, const rocksdb::Snapshot* snapshot,
                                        std::string_view region, v1::BankAccount account,
                                        std::string_view as_of_date) {
  int64_t balance = 0;
  const std::string prefix = BankKey(kTagMovement, region, account, "");
  LEDGER_RETURN_IF_ERROR(ScanPrefix(store, snapshot, Cf::kRecon, prefix,
                                    [&](std::string_view key, std::string_view value) {
                                      const std::string_view date = key.substr(prefix.size());
                                      if (as_of_date.empty() || date <= as_of_date) {
                                        balance += keys::DecodeI64(value);
                                      }
                                      return absl::OkStatus();
                                    }));
  return balance;
}

absl::StatusOr<std::optional<v1::TaxDayReconciliation>> ReconcileTaxDay(
    const Store& store, const rocksdb::Snapshot* snapshot, std::string_view region,
    std::string_view collection_date, std::string_view tax_office) {
  LEDGER_ASSIGN_OR_RETURN(auto held,
                          store.Get(Cf::kRecon, DayKey(kTagDay, region, collection_date, tax_office), snapshot));
  LEDGER_ASSIGN_OR_RETURN(auto report, store.Get(Cf::kRecon, DayKey(kTagTaxReport, region, collection_date, tax_office), snapshot));
  if (!held && !report) return std::nullopt;
  return DecideTaxDay(store, snapshot,
                      DayId(std::string(region), std::string(collection_date), std::string(tax_office)),
                      AsView(held), AsView(report));
}

absl::StatusOr<v1::Reconciliation> BuildReconciliation(const Store& store,
                                                       const rocksdb::Snapshot* snapshot,
                                                       uint64_t as_of_sequence,
                                                       const v1::ReconciliationRequest& request) {
  LEDGER_ASSIGN_OR_RETURN(const Filter f, ParseFilter(request));
  v1::Reconciliation out;
  out.set_as_of_sequence(as_of_sequence);
  *out.mutable_request() = request;
  v1::ReconSummary& sum = *out.mutable_summary();
  std::map<int, v1::MonthlyFigures> months;

  // 1. Tax days: the held totals and the reports, merged by (region, date, office).
  std::map<DayId, std::pair<std::optional<std::string>, std::optional<std::string>>> days;
  for (const char tag : {kTagDay, kTagTaxReport}) {
    LEDGER_RETURN_IF_ERROR(ScanPrefix(
        store, snapshot, Cf::kRecon, StrCat(std::string(1, tag), f.region),
        [&](std::string_view key, std::string_view value) {
          auto p = ParseDayKey(key);
          if (!p || !p->rest.empty() || !f.InRange(p->date)) return absl::OkStatus();
          if (f.office_given && p->office != f.office) return absl::OkStatus();
          auto& slot = days[DayId(std::string(p->region), std::string(p->date), std::string(p->office))];
          (tag == kTagDay ? slot.first : slot.second) = std::string(value);
          return absl::OkStatus();
        }));
  }
  for (const auto& [day, rows] : days) {
    LEDGER_ASSIGN_OR_RETURN(v1::TaxDayReconciliation r,
                            DecideTaxDay(store, snapshot, day, AsView(rows.first), AsView(rows.second)));
    v1::MonthlyFigures& m = months[MonthOfDate(r.collection_date())];
    m.set_collections_fen(m.collections_fen() + r.ledger_total_fen());
    m.set_collection_receipts(m.collection_receipts() + r.ledger_count());
    sum.set_tax_days(sum.tax_days() + 1);
    switch (r.status()) {
      case v1::RECON_STATUS_MATCHED: sum.set_tax_days_matched(sum.tax_days_matched() + 1); break;
      case v1::RECON_STATUS_BREAK:
        sum.set_tax_days_in_break(sum.tax_days_in_break() + 1);
        sum.set_tax_difference_fen(sum.tax_difference_fen() + r.difference_fen());
        m.set_tax_breaks(m.tax_breaks() + 1);
        break;
      default: sum.set_tax_days_awaiting_report(sum.tax_days_awaiting_report() + 1); break;
    }
    *out.add_tax_days() = std::move(r);
  }

  // 2. Fiscal funds.
  LEDGER_RETURN_IF_ERROR(ScanPrefix(
      store, snapshot, Cf::kRecon, StrCat(std::string(1, kTagFiscal), f.region),
      [&](std::string_view key, std::string_view value) -> absl::Status {
        LEDGER_CHECK(value.size() == 16 && key.size() > 1 + kRegionBytes, "fiscal row malformed");
        const std::string_view region = key.substr(1, kRegionBytes);
        const std::string_view account = key.substr(1 + kRegionBytes);
        const std::string_view rest = account.substr(kFiscalPrefix.size());
        const size_t slash = rest.rfind('/');
        v1::FiscalFundReconciliation& r = *out.add_fiscal_funds();
        r.set_region_code(std::string(region));
        r.set_purpose(PurposeFromName(rest.substr(0, slash)));
        r.set_year(std::atoi(std::string(rest.substr(slash + 1)).c_str()));
        r.set_received_fen(keys::DecodeI64(value));
        r.set_used_fen(keys::DecodeI64(value.substr(8)));
        LEDGER_ASSIGN_OR_RETURN(int64_t balance, LedgerBalance(store, snapshot, region, account));
        r.set_unused_fen(-balance);
        const bool ok = r.received_fen() - r.used_fen() == r.unused_fen();
        r.set_status(ok ? v1::RECON_STATUS_MATCHED : v1::RECON_STATUS_BREAK);
        sum.set_fiscal_funds(sum.fiscal_funds() + 1);
        if (!ok) sum.set_fiscal_funds_in_break(sum.fiscal_funds_in_break() + 1);
        return absl::OkStatus();
      }));

  // 3. Bank statements against the ledger's balance on the statement date; month-end balances.
  std::map<std::pair<std::string, v1::BankAccount>, std::map<std::string, int64_t>> movements;
  LEDGER_RETURN_IF_ERROR(ScanPrefix(
      store, snapshot, Cf::kRecon, StrCat(std::string(1, kTagMovement), f.region),
      [&](std::string_view key, std::string_view value) {
        const auto account = static_cast<v1::BankAccount>(key[1 + kRegionBytes]);
        movements[{std::string(key.substr(1, kRegionBytes)), account}]
                 [std::string(key.substr(2 + kRegionBytes))] = keys::DecodeI64(value);
        return absl::OkStatus();
      }));
  auto balance_at = [&](const std::string& region, v1::BankAccount account, std::string_view date) {
    int64_t balance = 0;
    auto it = movements.find({region, account});
    if (it == movements.end()) return balance;
    for (const auto& [d, delta] : it->second) {
      if (d > date) break;
      balance += delta;
    }
    return balance;
  };
  LEDGER_RETURN_IF_ERROR(ScanPrefix(
      store, snapshot, Cf::kRecon, StrCat(std::string(1, kTagBankReport), f.region),
      [&](std::string_view key, std::string_view value) {
        const std::string_view date = key.substr(2 + kRegionBytes);
        if (!f.InRange(date) || value.size() != 16) return absl::OkStatus();
        v1::BankReconciliation& r = *out.add_bank_statements();
        r.set_region_code(std::string(key.substr(1, kRegionBytes)));
        r.set_bank_account(static_cast<v1::BankAccount>(key[1 + kRegionBytes]));
        r.set_statement_date(std::string(date));
        r.set_report_sequence(keys::DecodeU64(value));
        r.set_reported_fen(keys::DecodeI64(value.substr(8)));
        r.set_ledger_fen(balance_at(r.region_code(), r.bank_account(), date));
        r.set_difference_fen(r.reported_fen() - r.ledger_fen());
        const bool ok = r.difference_fen() == 0;
        r.set_status(ok ? v1::RECON_STATUS_MATCHED : v1::RECON_STATUS_BREAK);
        sum.set_bank_statements(sum.bank_statements() + 1);
        if (!ok) {
          sum.set_bank_statements_in_break(sum.bank_statements_in_break() + 1);
          v1::MonthlyFigures& m = months[MonthOfDate(date)];
          m.set_bank_breaks(m.bank_breaks() + 1);
        }
        return absl::OkStatus();
      }));
  for (const auto& [key, by_date] : movements) {
    for (const auto& [date, delta] : by_date) {
      if (f.InRange(date)) months[MonthOfDate(date)];
    }
  }

  // 4. Individual accounts: Σ of the account projection against the journal's control accounts.
  struct RegionSums {
    uint64_t accounts = 0;
    std::map<v1::FundingSource, int64_t> accounts_by_source, control_by_source;
  };
  std::map<std::string, RegionSums> regions;
  {
    auto it = store.NewIterator(Cf::kAccounts, snapshot);
    v1::Account account;
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      LEDGER_CHECK(account.ParseFromArray(it->value().data(), static_cast<int>(it->value().size())),
                   "account projection does not decode");
      if (!f.region.empty() && account.region_code() != f.region) continue;
      RegionSums& r = regions[account.region_code()];
      ++r.accounts;
      for (const auto& b : BalancesBySource(account)) r.accounts_by_source[b.source()] += b.amount_fen();
    }
    if (!it->status().ok()) return absl::UnavailableError(it->status().ToString());
  }
  LEDGER_RETURN_IF_ERROR(ScanPrefix(
      store, snapshot, Cf::kLedgerAccounts, f.region,
      [&](std::string_view key, std::string_view value) {
        const size_t slash = key.find('/');
        if (slash == std::string_view::npos) return absl::OkStatus();
        const std::string_view account = key.substr(slash + 1);
        if (!account.starts_with(accounts::kIndividualControlPrefix)) return absl::OkStatus();
        const v1::FundingSource source =
            SourceFromName(account.substr(accounts::kIndividualControlPrefix.size()));
        regions[std::string(key.substr(0, slash))].control_by_source[source] -= keys::DecodeI64(value);
        return absl::OkStatus();
      }));
  for (auto& [region, sums] : regions) {
    v1::IndividualAccountsReconciliation& r = *out.add_individual_accounts();
    r.set_region_code(region);
    r.set_accounts(sums.accounts);
    std::set<v1::FundingSource> sources;
    for (const auto& [s, _] : sums.accounts_by_source) sources.insert(s);
    for (const auto& [s, _] : sums.control_by_source) sources.insert(s);
    bool ok = true;
    for (v1::FundingSource s : sources) {
      const int64_t a = sums.accounts_by_source[s];
      const int64_t c = sums.control_by_source[s];
      ok = ok && a == c;
      auto* pa = r.add_accounts_by_source();
      pa->set_source(s);
      pa->set_amount_fen(a);
      auto* pc = r.add_control_by_source();
      pc->set_source(s);
      pc->set_amount_fen(c);
      r.set_accounts_total_fen(r.accounts_total_fen() + a);
      r.set_control_total_fen(r.control_total_fen() + c);
    }
    r.set_difference_fen(r.accounts_total_fen() - r.control_total_fen());
    r.set_status(ok ? v1::RECON_STATUS_MATCHED : v1::RECON_STATUS_BREAK);
    sum.set_regions(sum.regions() + 1);
    if (!ok) sum.set_regions_in_break(sum.regions_in_break() + 1);
  }
  sum.set_breaks(sum.tax_days_in_break() + sum.fiscal_funds_in_break() +
                 sum.bank_statements_in_break() + sum.regions_in_break());

  // Monthly figures: every month from the first to the last that has any, with month-end
  // balances of the bank accounts (summed over the regions in scope).
  if (!months.empty()) {
    const int first = months.begin()->first;
    const int last = months.rbegin()->first;
    for (int month = first; month <= last; month = NextMonth(month)) {
      v1::MonthlyFigures m = months[month];
      m.set_month(month);
      const std::string end = MonthEndDate(month);
      for (const auto& [key, _] : movements) {
        const int64_t b = balance_at(key.first, key.second, end);
        switch (key.second) {
          case v1::BANK_ACCOUNT_INCOME: m.set_income_balance_fen(m.income_balance_fen() + b); break;
          case v1::BANK_ACCOUNT_SPECIAL: m.set_special_balance_fen(m.special_balance_fen() + b); break;
          case v1::BANK_ACCOUNT_PAYMENT: m.set_payment_balance_fen(m.payment_balance_fen() + b); break;
          default: break;
        }
      }
      *out.add_months() = std::move(m);
    }
  }
  return out;
}

}  // namespace ledger
