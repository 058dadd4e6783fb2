// Fixtures of the auditor's-toolkit tests (ledger/audit_*_test.cc): Ed25519 keys generated in
// code (OpenSSL, never read from files), the AuditTest ledger (the paper policy, the clock fixed
// at 2026-11-20, a long seeded workload whose every step is kept as a Point) and the
// CheckpointLedgerTest ledger (a short log with a checkpoint key and an interval of 5). Test-only.
#ifndef LEDGER_TESTING_AUDIT_FIXTURE_H_
#define LEDGER_TESTING_AUDIT_FIXTURE_H_

#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "ledger/ledger.h"
#include "ledger/v1/events.pb.h"
#include "tests/support/fixtures.h"
#include "tests/support/opened_ledger.h"

namespace ledger::testing {

inline constexpr char kAuditActor[] = "CN=auditor-test";

// 2026-11-20 12:00 UTC, the clock of every audit test.
int64_t Now();

struct TestKey {
  std::string private_pem;
  std::string public_pem;
};

// type: "ED25519" or "EC" (P-256), the latter to prove a non-Ed25519 key is refused.
TestKey GenerateKey(const char* type = "ED25519");

// YYYYMMDD and YYYY-MM-DD.
std::string Birth(int year, int month, int day);
std::string Date(int year, int month, int day);

std::map<v1::FundingSource, int64_t> SourceMap(const std::vector<v1::SourceAmount>& amounts);

// The checkpoints' sequences.
std::vector<uint64_t> Sequences(const std::vector<v1::Checkpoint>& checkpoints);

// A ledger with the paper policy, a fixed clock and (optionally) a checkpoint key.
class AuditTest : public OpenedLedgerTest {
 protected:
  void SetUp() override;

  // Open() and adopt the paper policy.
  void OpenFresh();
  void Enrol(const std::string& id, const std::string& date = "2014-01-01") {
    OpenedLedgerTest::Enrol(id, date);
  }

  // Overwrites the stored bytes of event `sequence` (the ledger must be closed).
  void OverwriteEvent(uint64_t sequence, const std::string& bytes);
  std::string StoredEvent(uint64_t sequence);

  // --- the long workload -----------------------------------------------------------------------

  // A point of the workload: the head then, every account and every ledger account total, and
  // (at a year end) the date up to which the log then held every event and nothing later.
  struct Point {
    uint64_t sequence = 0;
    std::string as_of_date;
    std::map<std::string, v1::Account> accounts;
    std::map<std::string, int64_t> totals;
  };

  Point Snapshot(const std::string& as_of_date = "");

  // 36 participants (6 born in 1955 who retire in 2025), contributions 2015–2024 (random tiers,
  // dates and batch splits; ~1 in 8 cancelled within the year, half of those paid again;
  // unenrolled payers in suspense), subsidy funds and jobs, interest jobs; then a collective
  // subsidy, refunds, benefit determination, six months of benefits with a suspension and
  // resumption, and a death. With `backdated`, finally a cancellation dated in a posted year
  // (interest adjustments for 2023 and 2024). Returns the points (year ends carry their date).
  std::vector<Point> RunWorkload(bool backdated);

  std::string scratch_;
  std::vector<std::string> ids_;
  size_t cancelled_ = 0;
  size_t paid_again_ = 0;

 private:
  // The workload's parts: one contribution year; 2025's lifecycle commands and benefits.
  void WorkloadYear(int year, std::vector<Point>& points);
  void WorkloadRetirement(std::vector<Point>& points);
  int Pick(int n) { return static_cast<int>(rng_() % static_cast<unsigned>(n)); }

  std::mt19937 rng_;
  std::vector<std::string> young_, old_;
  std::map<std::string, v1::CollectionRecord> receipts_;
};

// Signed checkpoints every 5 events over a short log of commits of different sizes.
class CheckpointLedgerTest : public AuditTest {
 protected:
  void SetUp() override;

  // Commits of different sizes up to about 23 events; records each commit's [first, last].
  // The policy adoption was commit 1 (sequence 1).
  void Build();

  // The commits that reach a multiple of 5: their last sequence.
  std::vector<uint64_t> ExpectedCheckpoints() const;

  TestKey key_;
  std::vector<std::pair<uint64_t, uint64_t>> commits_;
};

}  // namespace ledger::testing

#endif  // LEDGER_TESTING_AUDIT_FIXTURE_H_
