#include "ledger/account.h"

#include <algorithm>
#include <numeric>
#include <set>

#include "ledger/status_macros.h"

namespace ledger {
namespace {

constexpr int64_t kMonthsPerYear = 12;
constexpr int64_t kBasisPoints = 10'000;

v1::SourceBalance& BalanceOf(v1::Account& account, v1::FundingSource source) {
  auto* list = account.mutable_balances();
  auto it = std::find_if(list->begin(), list->end(),
                         [&](const v1::SourceBalance& b) { return b.source() == source; });
  if (it != list->end()) return *it;
  v1::SourceBalance* added = account.add_balances();
  added->set_source(source);
  std::sort(list->begin(), list->end(),
            [](const auto& a, const auto& b) { return a.source() < b.source(); });
  return *std::find_if(list->begin(), list->end(),
                       [&](const v1::SourceBalance& b) { return b.source() == source; });
}

v1::SourceYear& SourceYearOf(v1::AccountYear& year, v1::FundingSource source) {
  auto* list = year.mutable_sources();
  auto it = std::find_if(list->begin(), list->end(),
                         [&](const v1::SourceYear& s) { return s.source() == source; });
  if (it != list->end()) return *it;
  v1::SourceYear* added = year.add_sources();
  added->set_source(source);
  std::sort(list->begin(), list->end(),
            [](const auto& a, const auto& b) { return a.source() < b.source(); });
  return *std::find_if(list->begin(), list->end(),
                       [&](const v1::SourceYear& s) { return s.source() == source; });
}

size_t SourceIndex(v1::FundingSource source) {
  for (size_t i = 0; i < std::size(kSources); ++i) {
    if (kSources[i] == source) return i;
  }
  LEDGER_CHECK(false, "unknown funding source");
  return 0;
}

// Takes `amount` (> 0) from `first`, then from `second`.
void Take(int64_t amount, int64_t& first, int64_t& second) {
  const int64_t from_first = std::min(amount, std::max<int64_t>(first, 0));
  first -= from_first;
  second -= amount - from_first;
}

}  // namespace

std::string_view SourceName(v1::FundingSource source) {
  switch (source) {
    case v1::FUNDING_SOURCE_PERSONAL: return "personal";
    case v1::FUNDING_SOURCE_GOVERNMENT: return "government";
    case v1::FUNDING_SOURCE_COLLECTIVE: return "collective";
    case v1::FUNDING_SOURCE_SPONSORSHIP: return "sponsorship";
    case v1::FUNDING_SOURCE_TRANSFER_IN: return "transfer_in";
    default: return "unspecified";  // never a person account's source (PostLeg checks)
  }
}

v1::FundingSource SourceFromName(std::string_view name) {
  for (v1::FundingSource s : kSources) {
    if (SourceName(s) == name) return s;
  }
  return v1::FUNDING_SOURCE_UNSPECIFIED;
}

int64_t DivRoundHalfUp(Int128 numerator, int64_t denominator) {
  LEDGER_CHECK(denominator > 0, "division by a non-positive denominator");
  const bool negative = numerator < 0;
  const Int128 magnitude = negative ? -numerator : numerator;
  const Int128 q = (magnitude + denominator / 2) / denominator;  // half up, on the magnitude
  return static_cast<int64_t>(negative ? -q : q);
}

std::vector<int64_t> SplitLargestRemainder(int64_t total, const std::vector<Int128>& weights) {
  std::vector<int64_t> parts(weights.size(), 0);
  if (total == 0) return parts;
  LEDGER_CHECK(total > 0, "splitting a negative total");
  Int128 sum = 0;
  for (Int128 w : weights) {
    LEDGER_CHECK(w >= 0, "negative split weight");
    sum += w;
  }
  LEDGER_CHECK(sum > 0, "splitting a total over zero weights");
  std::vector<Int128> remainders(weights.size(), 0);
  int64_t given = 0;
  for (size_t i = 0; i < weights.size(); ++i) {
    if (weights[i] == 0) continue;  // no share, no remainder (and no 128-bit division)
    const Int128 scaled = weights[i] * total;
    const Int128 share = scaled / sum;
    parts[i] = static_cast<int64_t>(share);
    remainders[i] = scaled - share * sum;
    given += parts[i];
  }
  // Largest remainder first, ties to the earlier source: a total order, so std::sort (which
  // for a handful of sources sorts in place) gives the one answer.
  std::vector<size_t> order(weights.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return remainders[a] != remainders[b] ? remainders[a] > remainders[b] : a < b;
  });
  for (size_t k = 0; given < total; ++k, ++given) ++parts[order[k % order.size()]];
  return parts;
}

int64_t SourceBalanceFen(const v1::Account& account, v1::FundingSource source) {
  for (const auto& b : account.balances()) {
    if (b.source() == source) return b.principal_fen() + b.interest_fen();
  }
  return 0;
}

std::vector<v1::SourceAmount> BalancesBySource(const v1::Account& account) {
  std::vector<v1::SourceAmount> out;
  for (const auto& b : account.balances()) {
    const int64_t amount = b.principal_fen() + b.interest_fen();
    if (amount == 0) continue;
    v1::SourceAmount& a = out.emplace_back();
    a.set_source(b.source());
    a.set_amount_fen(amount);
  }
  return out;
}

v1::AccountYear& YearOf(v1::Account& account, int year) {
  auto* list = account.mutable_years();
  for (auto& y : *list) {
    if (y.year() == year) return y;
  }
  account.add_years()->set_year(year);
  std::sort(list->begin(), list->end(),
            [](const auto& a, const auto& b) { return a.year() < b.year(); });
  for (auto& y : *list) {
    if (y.year() == year) return y;
  }
  LEDGER_CHECK(false, "year vanished");
  return *list->begin();
}

void AddCollective(v1::Account& account, int year, v1::FundingSource source, int64_t delta_fen) {
  v1::AccountYear& y = YearOf(account, year);
  y.set_collective_sponsorship_fen(y.collective_sponsorship_fen() + delta_fen);
  auto* list = y.mutable_collective_by_source();
  auto it = std::find_if(list->begin(), list->end(),
                         [&](const v1::SourceAmount& s) { return s.source() >= source; });
  if (it == list->end() || it->source() != source) {
    const int at = static_cast<int>(it - list->begin());
    list->Add()->set_source(source);
    for (int i = list->size() - 1; i > at; --i) list->SwapElements(i, i - 1);
    it = list->begin() + at;
  }
  it->set_amount_fen(it->amount_fen() + delta_fen);
}

int64_t CadreSubsidyFor(const v1::Account& account, int year) {
  for (const auto& c : account.cadre_subsidies()) {
    if (c.year() == year) return c.amount_fen();
  }
  return 0;
}

int64_t CollectiveForCap(const v1::Account& account, int year) {
  const v1::AccountYear* y = FindYear(account, year);
  return (y ? y->collective_sponsorship_fen() : 0) + CadreSubsidyFor(account, year);
}

const v1::AccountYear* FindYear(const v1::Account& account, int year) {
  for (const auto& y : account.years()) {
    if (y.year() == year) return &y;
  }
  return nullptr;
}

void RecomputeTotal(v1::Account& account) {
  int64_t total = 0;
  for (const auto& b : account.balances()) total += b.principal_fen() + b.interest_fen();
  account.set_total_fen(total);
}

void RecordMovement(v1::Account& account, v1::FundingSource source, int64_t delta_fen,
                    absl::CivilDay date) {
  v1::SourceBalance& balance = BalanceOf(account, source);
  if (delta_fen >= 0) {
    balance.set_principal_fen(balance.principal_fen() + delta_fen);
  } else {
    int64_t principal = balance.principal_fen(), interest = balance.interest_fen();
    Take(-delta_fen, principal, interest);
    balance.set_principal_fen(principal);
    balance.set_interest_fen(interest);
  }
  v1::SourceYear& year = SourceYearOf(YearOf(account, static_cast<int>(date.year())), source);
  year.set_net_fen(year.net_fen() + delta_fen);
  year.set_weighted_fen_months(year.weighted_fen_months() +
                               delta_fen * (kMonthsPerYear - date.month()));
  RecomputeTotal(account);
}

void RecordInterest(v1::Account& account, v1::FundingSource source, int64_t delta_fen, int year) {
  v1::SourceBalance& balance = BalanceOf(account, source);
  if (delta_fen >= 0) {
    balance.set_interest_fen(balance.interest_fen() + delta_fen);
  } else {
    int64_t principal = balance.principal_fen(), interest = balance.interest_fen();
    Take(-delta_fen, interest, principal);
    balance.set_principal_fen(principal);
    balance.set_interest_fen(interest);
  }
  v1::SourceYear& y = SourceYearOf(YearOf(account, year), source);
  y.set_interest_fen(y.interest_fen() + delta_fen);
  RecomputeTotal(account);
}

void RecordAccruedInterest(v1::Account& account, v1::FundingSource source, int64_t delta_fen,
                           int year, int through_month) {
  RecordInterest(account, source, delta_fen, year);
  v1::SourceYear& y = SourceYearOf(YearOf(account, year), source);
  y.set_weighted_fen_months(y.weighted_fen_months() + delta_fen * (kMonthsPerYear - through_month));
}

bool AnyBalanceNegative(const v1::Account& account) {
  for (const auto& b : account.balances()) {
    if (b.principal_fen() < 0 || b.interest_fen() < 0) return true;
  }
  return false;
}

std::vector<int64_t> OpeningBySource(const v1::Account& account, int year) {
  std::vector<int64_t> opening(std::size(kSources), 0);
  for (const auto& y : account.years()) {
    if (y.year() >= year) break;
    for (const auto& s : y.sources()) opening[SourceIndex(s.source())] += s.net_fen() + s.interest_fen();
  }
  return opening;
}

YearInterest ComputeInterest(const v1::Account& account, int year, uint32_t rate_bp) {
  const std::vector<int64_t> opening = OpeningBySource(account, year);
  std::vector<Int128> numerators(std::size(kSources), 0);  // fen-months
  for (size_t i = 0; i < opening.size(); ++i) numerators[i] = Int128{opening[i]} * kMonthsPerYear;
  if (const v1::AccountYear* y = FindYear(account, year)) {
    for (const auto& s : y->sources()) numerators[SourceIndex(s.source())] += s.weighted_fen_months();
  }
  Int128 sum = 0;
  for (Int128& n : numerators) {
    n = std::max<Int128>(n, 0);  // balances never go below zero, so neither can a numerator
    sum += n;
  }
  YearInterest out;
  out.total_fen = DivRoundHalfUp(sum * rate_bp, kMonthsPerYear * kBasisPoints);
  if (out.total_fen == 0) return out;
  const std::vector<int64_t> parts = SplitLargestRemainder(out.total_fen, numerators);
  for (size_t i = 0; i < parts.size(); ++i) {
    if (parts[i] == 0) continue;
    v1::SourceAmount& p = out.parts.emplace_back();
    p.set_source(kSources[i]);
    p.set_amount_fen(parts[i]);
  }
  return out;
}

int LastInterestYear(const v1::Account& account) {
  int last = 0;
  for (const auto& y : account.years()) {
    if (y.interest_posted()) last = y.year();
  }
  return last;
}

uint32_t CountContributionYears(const v1::Account& account) {
  std::set<int> years;
  for (const auto& c : account.contributions()) years.insert(c.year());
  for (const auto& y : account.years()) {
    if (y.paid_on_behalf_fen() > 0) years.insert(y.year());
  }
  return static_cast<uint32_t>(years.size());
}

}  // namespace ledger
