#include "tests/support/opened_ledger.h"

#include <gmock/gmock.h>
#include <unistd.h>

#include <utility>

#include "ledger/strings.h"

namespace ledger::testing {

int64_t CivilMicros(absl::CivilSecond when, absl::TimeZone zone) {
  return absl::ToUnixMicros(absl::FromCivil(when, zone));
}


OpenedLedgerTest::OpenedLedgerTest()
    : now_us_(CivilMicros(absl::CivilSecond(2026, 11, 20, 12, 0, 0))) {
  const ::testing::TestInfo* test = ::testing::UnitTest::GetInstance()->current_test_info();
  // The process id keeps parallel ctest runs of the same test apart.
  dir_ = std::filesystem::path(::testing::TempDir()) / StrCat("ledger_", test->test_suite_name(),
                                                              "_", test->name(), "_",
                                                              static_cast<int64_t>(getpid()));
  std::filesystem::remove_all(dir_);
}

void OpenedLedgerTest::TearDown() {
  ledger_.reset();
  std::filesystem::remove_all(dir_);
  for (const std::string& sibling : siblings_) std::filesystem::remove_all(sibling);
}

void OpenedLedgerTest::Open(bool verify_chain) {
  ledger_.reset();
  Options options{.data_dir = dir_.string(),
                  .verify_chain_on_open = verify_chain,
                  .clock_us = [this] { return NowUs(); },
                  .checkpoint_key_pem = checkpoint_key_pem_,
                  .checkpoint_interval_events = checkpoint_interval_events_};
  if (configure_) configure_(options);
  auto opened = Ledger::Open(std::move(options));
  ASSERT_TRUE(opened.ok()) << opened.status();
  ledger_ = std::move(*opened);
}

std::string OpenedLedgerTest::Sibling(std::string_view suffix) {
  std::string path = StrCat(dir_.string(), suffix);
  std::filesystem::remove_all(path);
  siblings_.push_back(path);
  return path;
}

void OpenedLedgerTest::AdoptPolicy(const v1::Policy& policy) {
  auto adopted = ledger_->AdoptPolicy(policy, actor_);
  ASSERT_TRUE(adopted.ok() && !adopted->rejection);
}

void OpenedLedgerTest::Enrol(const std::string& id, const std::string& date,
                             const std::string& name) {
  v1::ParticipantEnrolled p;
  p.set_citizen_id(id);
  p.set_name(name);
  p.set_region_code(region_);
  p.set_enrolment_date(date);
  auto r = ledger_->Enrol(p, actor_);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_FALSE(r->rejection) << r->rejection->detail;
}

std::vector<v1::RecordOutcome> OpenedLedgerTest::Push(
    const std::vector<v1::CollectionRecord>& records) {
  return Push(records, actor_);
}

std::vector<v1::RecordOutcome> OpenedLedgerTest::Push(
    const std::vector<v1::CollectionRecord>& records, std::string_view actor) {
  Ledger::Records batch(records.begin(), records.end());
  auto out = ledger_->PushCollections(batch, actor);
  EXPECT_TRUE(out.ok()) << out.status();
  return out.ok() ? *out : std::vector<v1::RecordOutcome>();
}

void OpenedLedgerTest::PushOk(const std::vector<v1::CollectionRecord>& records) {
  const auto outcomes = Push(records);
  ASSERT_EQ(outcomes.size(), records.size());
  for (size_t i = 0; i < outcomes.size(); ++i) {
    ASSERT_THAT(outcomes[i].outcome(), ::testing::AnyOf(v1::OUTCOME_ACCEPTED, v1::OUTCOME_SUSPENSE))
        << records[i].receipt_number() << ": " << v1::Reason_Name(outcomes[i].reason()) << " "
        << outcomes[i].detail();
  }
}

CommandResult OpenedLedgerTest::Run(const v1::AccountCommand& command) {
  auto r = ledger_->Execute(command, actor_);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : CommandResult{};
}

void OpenedLedgerTest::RunOk(const v1::AccountCommand& command) {
  auto r = ledger_->Execute(command, actor_);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_FALSE(r->rejection) << command.ShortDebugString() << ": " << r->rejection->detail;
  ASSERT_FALSE(r->duplicate);
}

void OpenedLedgerTest::Funds(v1::FiscalPurpose purpose, int year, int64_t fen,
                             const std::string& date) {
  v1::AccountCommand c;
  auto* f = c.mutable_receive_fiscal_funds();
  f->set_region_code(region_);
  f->set_purpose(purpose);
  f->set_year(year);
  f->set_amount_fen(fen);
  f->set_date(date);
  f->set_document_ref(StrCat("funds-", static_cast<int>(purpose), "-", year, "-", ++funds_refs_));
  ASSERT_NO_FATAL_FAILURE(RunOk(c));
}

v1::JobRequest OpenedLedgerTest::JobRequest(v1::JobKind kind, int period,
                                            const std::string& date) const {
  v1::JobRequest j;
  j.set_kind(kind);
  j.set_region_code(region_);
  j.set_period(period);
  j.set_date(date);
  return j;
}

Ledger::JobOutcome OpenedLedgerTest::Job(v1::JobKind kind, int period, const std::string& date) {
  auto r = ledger_->RunJob(JobRequest(kind, period, date), actor_);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : Ledger::JobOutcome{};
}

void OpenedLedgerTest::JobOk(v1::JobKind kind, int period, const std::string& date) {
  auto r = ledger_->RunJob(JobRequest(kind, period, date), actor_);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_FALSE(r->rejection) << v1::JobKind_Name(kind) << " " << period << ": "
                             << r->rejection->detail;
  ASSERT_TRUE(r->progress.completed());
}

v1::Account OpenedLedgerTest::Account(const std::string& id) {
  auto a = ledger_->GetAccount(id);
  EXPECT_TRUE(a.ok() && a->has_value()) << id;
  return a.ok() && a->has_value() ? **a : v1::Account();
}

int64_t OpenedLedgerTest::Total(std::string_view account) {
  const auto totals = ledger_->LedgerAccountBalances();
  auto it = totals.find(StrCat(region_, "/", account));
  return it == totals.end() ? 0 : it->second;
}

}  // namespace ledger::testing
