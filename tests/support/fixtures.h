// Test fixtures shared by the unit, gRPC, reliability and fuzz tests and by ledger-bench: the
// "paper" policy (Sun, Su & Xian 2020), the demo policy from deploy/policies/, valid citizen IDs,
// collection records and enrolments, and the fixed clocks. Written once, here.
#ifndef TESTS_SUPPORT_FIXTURES_H_
#define TESTS_SUPPORT_FIXTURES_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "ledger/v1/events.pb.h"
#include "ledger/v1/policy.pb.h"
#include "ledger/v1/records.pb.h"

namespace ledger::testing {

inline constexpr char kRegion[] = "222401";
inline constexpr char kRegion2[] = "222402";  // a second region with its own policy

// The paper policy's basic pension (fen a month) and the fixed part of its funeral subsidy
// (1200 yuan, plus 10 months of basic pension).
inline constexpr int64_t kBasic = 8800;
inline constexpr int64_t kFuneralFixed = 120000;

// The paper's assumptions as a policy for `region`: tiers 100 (+30) and 500 (+60) yuan, highest
// tier 2000 yuan, interest 1.5 %, divisor 139, basic pension 88 yuan from 2009, Yanji's funeral
// rule (1200 yuan + 10 months of basic pension), years 2009–2026, version 1 from 2009-01-01.
v1::Policy PaperPolicy(std::string_view region = kRegion, bool back_pay_on_resumption = true);

// `relative` under the source tree (LEDGER_SOURCE_DIR, compiled into this library).
std::string SourcePath(std::string_view relative);

// The whole file, or NOT_FOUND naming it.
absl::StatusOr<std::string> ReadFile(const std::string& path);

// The demo policy's versions, deploy/policies/yanji-222401.json, parsed (and validated) as
// ledgerctl does: v1 from 2009-01-01, v2 (the Yanji rules, funeral subsidy) from 2026-01-01.
absl::StatusOr<std::vector<v1::Policy>> LoadDemoPolicies();
// Its version 1 alone: the demo policy of a test whose clock stays before 2026.
absl::StatusOr<v1::Policy> LoadDemoPolicy2025();

// A valid 18-character citizen ID: `region` (6 digits), `birth` (YYYYMMDD), `sequence` (its last
// three digits are used) and the check character.
std::string CitizenId(std::string_view birth, int sequence = 123,
                      std::string_view region = kRegion);

// A valid citizen ID for n in [0, 9'999'999]: born 1970-01-01 plus n / 1000 days, sequence
// n % 1000. Distinct n give distinct IDs.
std::string NumberedCitizenId(int n, std::string_view region = kRegion);

// The same ID with a wrong check character.
std::string BadCheck(const std::string& id);

// A collection record (RECORD_TYPE_ADD) paid by "金哲" at tax office 22240100 in batch BATCH-1.
v1::CollectionRecord AddRecord(std::string receipt, std::string citizen_id, int year, int64_t fen,
                               std::string date, std::string region = kRegion);

// The CANCEL (撤销) of `add`, dated `date`.
v1::CollectionRecord CancelOf(v1::CollectionRecord add, std::string date);

// An enrolment of `citizen_id` with a name, ethnicity, address and phone.
v1::ParticipantEnrolled Participant(std::string citizen_id, std::string name,
                                    std::string date = "2020-01-01",
                                    std::string region = kRegion);

// The fixed clocks: 12:00 UTC = 20:00 in Beijing, so "today" is 2025-06-30, or 2026-11-20.
int64_t UtcMicros(int year, int month, int day, int hour, int minute);
int64_t Now2025Us();
int64_t Now2026Us();

}  // namespace ledger::testing

#endif  // TESTS_SUPPORT_FIXTURES_H_
