// The opened-ledger test fixture: a ledger in a data directory of its own (named after the
// running test and the process), opened with a clock the test sets, plus the few commands every
// ledger test issues (enrol, push records, a lifecycle command, a job) with the assertions that
// they committed. Written once, here; ledger/*_test.cc derive from it.
#ifndef TESTS_SUPPORT_OPENED_LEDGER_H_
#define TESTS_SUPPORT_OPENED_LEDGER_H_

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "ledger/ledger.h"
#include "ledger/types.h"
#include "ledger/v1/commands.pb.h"
#include "ledger/v1/policy.pb.h"
#include "ledger/v1/records.pb.h"
#include "tests/support/fixtures.h"

namespace ledger::testing {

// Microseconds since the Unix epoch of `when` in `zone` (the form Ledger::Options::clock_us
// returns).
int64_t CivilMicros(absl::CivilSecond when, absl::TimeZone zone = absl::UTCTimeZone());

class OpenedLedgerTest : public ::testing::Test {
 protected:
  // The clock starts at 2026-11-20 12:00 UTC; the data directory is removed if a crashed run
  // left it behind. Nothing is opened yet: a derived SetUp configures and calls Open().
  OpenedLedgerTest();
  // Closes the ledger and removes the data directory and every Sibling().
  void TearDown() override;

  // (Re)opens the ledger in dir_ with the fixture's clock, key and interval (closing it first).
  void Open(bool verify_chain = true);
  // Closes the ledger; the data stays for the next Open().
  void Close() { ledger_.reset(); }
  // Close() then Open().
  void Reopen() { Open(); }

  // A path next to the data directory (dir_ + suffix), removed now and at TearDown.
  std::string Sibling(std::string_view suffix);

  // The fixed clock the ledger reads. Safe while the ledger's writer runs.
  int64_t NowUs() const { return now_us_.load(); }
  void SetNow(int64_t now_us) { now_us_.store(now_us); }
  void Advance(absl::Duration by) { now_us_.fetch_add(absl::ToInt64Microseconds(by)); }

  // Adopts `policy` as actor_; it must be taken (a first adoption or a duplicate).
  void AdoptPolicy(const v1::Policy& policy);
  // Enrols `id` in region_ on `date` as actor_; it must be taken and not rejected.
  void Enrol(const std::string& id, const std::string& date, const std::string& name = "孙");
  // Pushes `records` in one call as `actor` (default actor_); the call must succeed (an empty
  // result if it did not). Outcomes are not checked.
  std::vector<v1::RecordOutcome> Push(const std::vector<v1::CollectionRecord>& records);
  std::vector<v1::RecordOutcome> Push(const std::vector<v1::CollectionRecord>& records,
                                      std::string_view actor);
  // Push(), and every record must be accepted or go to suspense.
  void PushOk(const std::vector<v1::CollectionRecord>& records);
  // Executes `command` as actor_; the call must succeed. The result is returned unchecked.
  CommandResult Run(const v1::AccountCommand& command);
  // Executes `command`; it must commit: no rejection, not a duplicate.
  void RunOk(const v1::AccountCommand& command);
  // Receives fiscal funds for region_ (a fresh document reference each time); must commit.
  void Funds(v1::FiscalPurpose purpose, int year, int64_t fen, const std::string& date);
  // A job request for region_ (date may be empty: the job's default).
  v1::JobRequest JobRequest(v1::JobKind kind, int period, const std::string& date) const;
  // Runs a job for region_; the call must succeed. The outcome is returned unchecked.
  Ledger::JobOutcome Job(v1::JobKind kind, int period, const std::string& date = "");
  // Runs a job; it must be accepted and complete.
  void JobOk(v1::JobKind kind, int period, const std::string& date = "");
  // The account of `id`, which must exist (an empty account if not).
  v1::Account Account(const std::string& id);
  // The balance of region_'s ledger account `account` (e.g. "suspense"); 0 if it has none.
  int64_t Total(std::string_view account);

  // Configuration read by Open(); set in a derived constructor or SetUp.
  std::string actor_ = "CN=test";
  std::string region_ = kRegion;
  std::string checkpoint_key_pem_;
  uint64_t checkpoint_interval_events_ = 10'000;
  // Applied last to the options Open() builds (e.g. the log backend); empty: none.
  std::function<void(Options&)> configure_;

  std::filesystem::path dir_;
  std::unique_ptr<Ledger> ledger_;

 private:
  std::atomic<int64_t> now_us_;
  std::vector<std::string> siblings_;
  int funds_refs_ = 0;
};

}  // namespace ledger::testing

#endif  // TESTS_SUPPORT_OPENED_LEDGER_H_
