#include "ledger/testing/lifecycle_model.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tests/support/fixtures.h"

namespace ledger::model {

std::string Fmt(Day d) { return absl::StrFormat("%04d-%02d-%02d", d.year(), d.month(), d.day()); }
std::optional<Day> ParseDay(const std::string& text) {
  int y = 0, m = 0, d = 0;
  if (text.size() != 10 || std::sscanf(text.c_str(), "%4d-%2d-%2d", &y, &m, &d) != 3)
    return std::nullopt;
  const Day day(y, m, d);
  if (day.year() != y || day.month() != m || day.day() != d) return std::nullopt;
  return day;
}
int Age(Day birth, Day on) {
  int age = static_cast<int>(on.year() - birth.year());
  if (on.month() < birth.month() || (on.month() == birth.month() && on.day() < birth.day())) --age;
  return age;
}
std::string Yuan(int64_t fen) {
  return absl::StrFormat("%s%d.%02d", fen < 0 ? "-" : "", std::abs(fen) / 100, std::abs(fen) % 100);
}

std::string MakeId(Day birth, int seq) {
  return testing::CitizenId(
      absl::StrFormat("%04d%02d%02d", birth.year(), birth.month(), birth.day()), seq, kRegion);
}

int64_t HalfUp(I128 numerator, int64_t denominator) {
  const bool negative = numerator < 0;
  const I128 magnitude = negative ? -numerator : numerator;
  const I128 q = (magnitude * 2 + denominator) / (I128{2} * denominator);
  return static_cast<int64_t>(negative ? -q : q);
}

std::vector<int64_t> LargestRemainder(int64_t total, const std::vector<I128>& weights) {
  std::vector<int64_t> parts(weights.size(), 0);
  if (total == 0) return parts;
  I128 sum = 0;
  for (I128 w : weights) sum += w;
  std::vector<std::pair<I128, size_t>> remainders;
  int64_t given = 0;
  for (size_t i = 0; i < weights.size(); ++i) {
    parts[i] = static_cast<int64_t>(weights[i] * total / sum);
    remainders.emplace_back(weights[i] * total % sum, i);
    given += parts[i];
  }
  std::sort(remainders.begin(), remainders.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  });
  for (size_t k = 0; given < total; ++k, ++given) ++parts[remainders[k].second];
  return parts;
}

std::string Ind(int s) { return absl::StrCat("individual_accounts/", kSourceName[s]); }
std::string Fund(v1::FiscalPurpose purpose, int year) {
  const char* name = purpose == v1::FISCAL_PURPOSE_CONTRIBUTION_SUBSIDY ? "contribution_subsidy"
                     : purpose == v1::FISCAL_PURPOSE_PAID_ON_BEHALF     ? "paid_on_behalf"
                                                                        : "basic_pension";
  return absl::StrCat("fiscal_funds/", name, "/", year);
}

v1::ParticipantStatus ToProto(St s) {
  switch (s) {
    case St::kContributing:
      return v1::PARTICIPANT_STATUS_CONTRIBUTING;
    case St::kDrawing:
      return v1::PARTICIPANT_STATUS_DRAWING_PENSION;
    case St::kSuspended:
      return v1::PARTICIPANT_STATUS_SUSPENDED;
    case St::kDeceased:
      return v1::PARTICIPANT_STATUS_DECEASED;
    case St::kTerminated:
      return v1::PARTICIPANT_STATUS_TERMINATED;
    case St::kTransferredOut:
      return v1::PARTICIPANT_STATUS_TRANSFERRED_OUT;
    case St::kAbsent:
      break;
  }
  return v1::PARTICIPANT_STATUS_UNSPECIFIED;
}

int64_t Person::Total() const {
  int64_t t = 0;
  for (int s = 0; s < kNumSources; ++s) t += Balance(s);
  return t;
}
std::set<int> Person::ContributionYears() const {
  std::set<int> years;
  for (const auto& [y, c] : contributions) years.insert(y);
  for (const auto& [y, fen] : on_behalf) {
    if (fen > 0) years.insert(y);
  }
  return years;
}

void Take(int64_t amount, int64_t& first, int64_t& second) {
  const int64_t from_first = std::min(amount, std::max<int64_t>(first, 0));
  first -= from_first;
  second -= amount - from_first;
}

int64_t BasicPension(int version, int month, uint32_t years) {
  const std::vector<BasicRule> rules = BasicRules(version);
  const BasicRule* rule = nullptr;
  for (const BasicRule& r : rules) {
    if (r.from <= FirstDay(month)) rule = &r;
  }
  const int64_t extra = years > 15 ? years - 15 : 0;
  return rule->central + rule->local + extra * rule->per_extra_year;
}

void Model::Move(Person& p, int s, int64_t delta, Day date, const std::string& other,
                 bool paid_out) {
  p.movements.push_back({s, delta, date, paid_out});
  if (delta >= 0) {
    p.principal[s] += delta;
  } else {
    Take(-delta, p.principal[s], p.interest[s]);
  }
  gl[Ind(s)] -= delta;
  gl[other] += delta;
}

void Model::AddInterest(Person& p, int s, int64_t delta, int year) {
  p.interest_by_year[year][s] += delta;
  if (delta >= 0) {
    p.interest[s] += delta;
  } else {
    Take(-delta, p.interest[s], p.principal[s]);
  }
  gl["interest_expense"] += delta;
  gl[Ind(s)] -= delta;
}

YearInterest Model::Compute(const Person& p, int year) {
  std::array<I128, kNumSources> num{};
  for (const Movement& m : p.movements) {
    if (m.date.year() < year) {
      num[m.source] += I128{m.amount} * 12;
    } else if (m.date.year() == year) {
      num[m.source] += I128{m.amount} * (12 - m.date.month());
    }
  }
  for (const auto& [y, parts] : p.interest_by_year) {
    if (y >= year) continue;
    for (int s = 0; s < kNumSources; ++s) num[s] += I128{parts[s]} * 12;
  }
  YearInterest out;
  I128 sum = 0;
  for (I128 n : num) {
    if (n < 0) out.negative_numerator = true;
    sum += n;
  }
  out.total = HalfUp(sum * InterestRate(year), 12 * 10000);
  if (out.total > 0 && !out.negative_numerator) {
    const std::vector<int64_t> parts =
        LargestRemainder(out.total, std::vector<I128>(num.begin(), num.end()));
    for (int s = 0; s < kNumSources; ++s) out.parts[s] = parts[s];
  }
  return out;
}

YearInterest Model::ComputeThrough(const Person& p, int year, int through, uint32_t rate_bp) {
  std::array<I128, kNumSources> num{};
  for (const Movement& m : p.movements) {
    if (m.date.year() < year) {
      num[m.source] += I128{m.amount} * through;
    } else if (m.date.year() == year && m.date.month() < through) {
      num[m.source] += I128{m.amount} * (through - m.date.month());
    }
  }
  for (const auto& [y, parts] : p.interest_by_year) {
    if (y >= year) continue;
    for (int s = 0; s < kNumSources; ++s) num[s] += I128{parts[s]} * through;
  }
  YearInterest out;
  I128 sum = 0;
  for (I128 n : num) {
    if (n < 0) out.negative_numerator = true;
    sum += n;
  }
  out.total = HalfUp(sum * rate_bp, 12 * 10000);
  if (out.total > 0 && !out.negative_numerator) {
    const std::vector<int64_t> parts =
        LargestRemainder(out.total, std::vector<I128>(num.begin(), num.end()));
    for (int s = 0; s < kNumSources; ++s) out.parts[s] = parts[s];
  }
  return out;
}

std::vector<Accrual> Model::AccrualsTo(const Person& p, Day event, Day date) const {
  int posted = interest_mark.value_or(0);
  if (!p.interest_posted.empty()) posted = std::max(posted, *p.interest_posted.rbegin());
  const int first = std::max(posted + 1, static_cast<int>(p.enrolled.year()));
  const int last = static_cast<int>(event.year());
  std::vector<Accrual> out;
  Person sim = p;
  for (int year = first; year <= last; ++year) {
    const Day dated = year == last ? event : Day(year, 12, 31);
    const uint32_t rate = RateBp(VersionOn(std::min(dated, date)), year);
    Accrual a{year, year == last ? static_cast<int>(event.month()) : 12, {}};
    const YearInterest yi = ComputeThrough(sim, year, a.through, rate);
    BySource held = sim.interest_by_year[year];
    bool any = false;
    for (int s = 0; s < kNumSources; ++s) {
      a.parts[s] = std::max<int64_t>(yi.parts[s] - held[s], 0);
      if (a.parts[s] == 0) continue;
      any = true;
      sim.interest[s] += a.parts[s];
      sim.interest_by_year[year][s] += a.parts[s];
    }
    if (any) out.push_back(a);
  }
  return out;
}

void Model::Adjust(Person& p, int from_year) {
  if (!interest_mark) return;
  for (int y = from_year; y <= *interest_mark; ++y) {
    const YearInterest now = Compute(p, y);
    if (now.negative_numerator) {
      anomalies.push_back(absl::StrCat(p.label, " has a negative interest numerator in ", y));
    }
    BySource posted = p.interest_by_year[y];
    for (int s = 0; s < kNumSources; ++s) {
      if (now.parts[s] == posted[s]) continue;
      ++events[now.parts[s] > posted[s] ? "interest adjusted up (source-year)"
                                        : "interest adjusted down (source-year)"];
      AddInterest(p, s, now.parts[s] - posted[s], y);
    }
  }
}

bool Model::DebitKeepsBalance(size_t k, int s, int64_t amount, Day date) const {
  return DebitsKeepBalance(k, {{s, amount}}, date);
}

bool Model::DebitsKeepBalance(size_t k, const std::vector<std::pair<int, int64_t>>& debits,
                              Day date) const {
  Model sim = *this;
  Person& q = sim.people[k];
  for (const auto& [s, amount] : debits) {
    if (q.Balance(s) < amount) return false;
    sim.Move(q, s, -amount, date, "simulation");
  }
  sim.Adjust(q, static_cast<int>(date.year()));
  for (int i = 0; i < kNumSources; ++i) {
    if (q.principal[i] < 0 || q.interest[i] < 0) return false;
  }
  return true;
}

}  // namespace ledger::model
