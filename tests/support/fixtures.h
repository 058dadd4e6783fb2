// Test fixtures shared by the unit, gRPC, reliability and fuzz tests and by ledger-bench: the
// "paper" policy (Sun, Su & Xian 2020) and valid citizen IDs. Written once, here.
#ifndef TESTS_SUPPORT_FIXTURES_H_
#define TESTS_SUPPORT_FIXTURES_H_

#include <string>
#include <string_view>

#include "ledger/v1/policy.pb.h"

namespace ledger::testing {

inline constexpr char kRegion[] = "222401";

// The paper's assumptions as a policy for `region`: tiers 100 (+30) and 500 (+60) yuan, highest
// tier 2000 yuan, interest 1.5 %, divisor 139, basic pension 88 yuan from 2009, Yanji's funeral
// rule (1200 yuan + 10 months of basic pension), years 2009–2026, version 1 from 2009-01-01.
v1::Policy PaperPolicy(std::string_view region = kRegion, bool back_pay_on_resumption = true);

// A valid 18-character citizen ID: `region` (6 digits), `birth` (YYYYMMDD), `sequence` (its last
// three digits are used) and the check character.
std::string CitizenId(std::string_view birth, int sequence = 123,
                      std::string_view region = kRegion);

}  // namespace ledger::testing

#endif  // TESTS_SUPPORT_FIXTURES_H_
