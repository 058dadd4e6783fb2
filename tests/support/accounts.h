// Reading what the ledger reports in tests: ledger balances by key or prefix, an account's
// balance by funding source, the interest credited for a year; dates of a month.
#ifndef TESTS_SUPPORT_ACCOUNTS_H_
#define TESTS_SUPPORT_ACCOUNTS_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "ledger/v1/records.pb.h"

namespace ledger::testing {

using BalanceMap = std::map<std::string, int64_t>;

// The balance under `key`, 0 when there is none.
int64_t At(const BalanceMap& balances, const std::string& key);

// Σ of the balances whose key starts with `prefix`.
int64_t SumPrefix(const BalanceMap& balances, std::string_view prefix);

// Σ of every balance (0 when the ledger balances).
int64_t Sum(const BalanceMap& balances);

// Principal plus interest held for `source`.
int64_t SourceFen(const v1::Account& a, v1::FundingSource source);

// The interest credited to `source` for `year` (posted plus adjustments).
int64_t YearInterest(const v1::Account& a, int year, v1::FundingSource source);

// The interest credited for `year`, every source.
int64_t YearInterestTotal(const v1::Account& a, int year);

// "YYYY-MM-DD" for day `day` of month `yyyymm`.
std::string DayOf(int yyyymm, int day);

}  // namespace ledger::testing

#endif  // TESTS_SUPPORT_ACCOUNTS_H_
