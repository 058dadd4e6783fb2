#include "tests/support/accounts.h"

#include <cstdio>

namespace ledger::testing {

int64_t At(const BalanceMap& balances, const std::string& key) {
  auto it = balances.find(key);
  return it == balances.end() ? 0 : it->second;
}

int64_t SumPrefix(const BalanceMap& balances, std::string_view prefix) {
  int64_t sum = 0;
  for (const auto& [key, value] : balances) {
    if (key.starts_with(prefix)) sum += value;
  }
  return sum;
}

int64_t Sum(const BalanceMap& balances) { return SumPrefix(balances, ""); }

int64_t SourceFen(const v1::Account& a, v1::FundingSource source) {
  for (const v1::SourceBalance& b : a.balances()) {
    if (b.source() == source) return b.principal_fen() + b.interest_fen();
  }
  return 0;
}

int64_t YearInterest(const v1::Account& a, int year, v1::FundingSource source) {
  for (const v1::AccountYear& y : a.years()) {
    if (y.year() != year) continue;
    for (const v1::SourceYear& s : y.sources()) {
      if (s.source() == source) return s.interest_fen();
    }
  }
  return 0;
}

int64_t YearInterestTotal(const v1::Account& a, int year) {
  int64_t sum = 0;
  for (const v1::AccountYear& y : a.years()) {
    if (y.year() != year) continue;
    for (const v1::SourceYear& s : y.sources()) sum += s.interest_fen();
  }
  return sum;
}

std::string DayOf(int yyyymm, int day) {
  char buffer[48];
  std::snprintf(buffer, sizeof buffer, "%04d-%02d-%02d", yyyymm / 100, yyyymm % 100, day);
  return buffer;
}

}  // namespace ledger::testing
