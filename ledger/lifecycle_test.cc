// The account lifecycle through the ledger API: a whole life, with every balance asserted.
#include "ledger/lifecycle.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "absl/time/time.h"
#include "ledger/account.h"
#include "ledger/citizen_id.h"
#include "ledger/dates.h"
#include "ledger/ledger.h"
#include "ledger/strings.h"

namespace ledger {
namespace {

constexpr char kRegion[] = "222401";
constexpr char kActor[] = "CN=agency";

int64_t Now() {
  return absl::ToUnixMicros(
      absl::FromCivil(absl::CivilSecond(2026, 11, 20, 12, 0, 0), absl::UTCTimeZone()));
}

// The paper's assumptions as a policy: tiers 100 (+30) and 500 (+60) yuan, 1.5 %, basic pension
// 88 yuan, divisor 139, Yanji's funeral rule.
v1::Policy PaperPolicy() {
  v1::Policy p;
  p.set_region_code(kRegion);
  p.set_region_name("test");
  p.set_version(1);
  p.set_effective_from("2009-01-01");
  p.set_account_pension_divisor(139);
  p.set_scheme_start_year(2009);
  p.set_collective_requires_contribution(true);
  p.set_back_pay_on_resumption(true);
  p.set_exhausted_account_payer("pooled_account_pension");
  for (int year = 2009; year <= 2026; ++year) {
    auto* y = p.add_years();
    y->set_year(year);
    auto* t = y->add_tiers();
    t->set_amount_fen(10000);
    t->set_government_subsidy_fen(3000);
    t = y->add_tiers();
    t->set_amount_fen(50000);
    t->set_government_subsidy_fen(6000);
    y->set_highest_tier_fen(200000);
    y->set_interest_rate_bp(150);
  }
  auto* b = p.add_basic_pension();
  b->set_effective_from("2009-01-01");
  b->set_central_monthly_fen(8800);
  p.mutable_funeral_subsidy()->set_fixed_fen(120000);
  p.mutable_funeral_subsidy()->set_basic_pension_months(10);
  return p;
}

std::string Id(std::string birth) {
  std::string first17 = StrCat(kRegion, birth, "123");
  return first17 + CitizenIdCheckChar(first17);
}

class LifecycleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           StrCat("lifecycle_test_", ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    Open();
    auto adopted = ledger_->AdoptPolicy(PaperPolicy(), kActor);
    ASSERT_TRUE(adopted.ok() && !adopted->rejection);
  }
  void TearDown() override {
    ledger_.reset();
    std::filesystem::remove_all(dir_);
  }
  void Open() {
    ledger_.reset();
    auto opened = Ledger::Open({.data_dir = dir_.string(), .clock_us = Now});
    ASSERT_TRUE(opened.ok()) << opened.status();
    ledger_ = std::move(*opened);
  }

  void Enrol(const std::string& id, std::string date) {
    v1::ParticipantEnrolled p;
    p.set_citizen_id(id);
    p.set_name("孙");
    p.set_region_code(kRegion);
    p.set_enrolment_date(std::move(date));
    auto r = ledger_->Enrol(p, kActor);
    ASSERT_TRUE(r.ok() && !r->rejection);
  }
  void Collect(const std::string& id, int year, int64_t fen, std::string date) {
    Ledger::Records records;
    v1::CollectionRecord* r = records.Add();
    r->set_record_type(v1::RECORD_TYPE_ADD);
    r->set_receipt_number(StrCat("R", id, "-", year));
    r->set_citizen_id(id);
    r->set_name("孙");
    r->set_region_code(kRegion);
    r->set_contribution_year(year);
    r->set_amount_fen(fen);
    r->set_collection_date(std::move(date));
    auto out = ledger_->PushCollections(records, kActor);
    ASSERT_TRUE(out.ok());
    ASSERT_EQ((*out)[0].outcome(), v1::OUTCOME_ACCEPTED) << (*out)[0].detail();
  }
  CommandResult Run(v1::AccountCommand command) {
    auto r = ledger_->Execute(command, kActor);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : CommandResult{};
  }
  void Funds(v1::FiscalPurpose purpose, int year, int64_t fen, std::string date) {
    v1::AccountCommand c;
    auto* f = c.mutable_receive_fiscal_funds();
    f->set_region_code(kRegion);
    f->set_purpose(purpose);
    f->set_year(year);
    f->set_amount_fen(fen);
    f->set_date(std::move(date));
    f->set_document_ref(StrCat("funds-", static_cast<int>(purpose), "-", year, "-", ++funds_));
    const CommandResult r = Run(c);
    ASSERT_FALSE(r.rejection) << r.rejection->detail;
  }
  Ledger::JobOutcome Job(v1::JobKind kind, int period, std::string date = "") {
    v1::JobRequest j;
    j.set_kind(kind);
    j.set_region_code(kRegion);
    j.set_period(period);
    j.set_date(std::move(date));
    auto r = ledger_->RunJob(j, kActor);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : Ledger::JobOutcome{};
  }
  v1::Account Account(const std::string& id) {
    auto a = ledger_->GetAccount(id);
    EXPECT_TRUE(a.ok() && a->has_value());
    return a.ok() && a->has_value() ? **a : v1::Account();
  }
  int64_t Total(std::string_view account) {
    const auto totals = ledger_->LedgerAccountBalances();
    auto it = totals.find(StrCat(kRegion, "/", account));
    return it == totals.end() ? 0 : it->second;
  }

  std::filesystem::path dir_;
  std::unique_ptr<ledger::Ledger> ledger_;
  int funds_ = 0;
};

TEST_F(LifecycleTest, AWholeLifeMatchesThePaperAndSettlesOnDeath) {
  const std::string id = Id("19650615");  // 60 on 2025-06-15: pension from July 2025
  Enrol(id, "2009-06-01");
  for (int year = 2010; year <= 2024; ++year) {
    Collect(id, year, 10000, StrCat(year, "-12-20"));
    Funds(v1::FISCAL_PURPOSE_CONTRIBUTION_SUBSIDY, year, 3000, StrCat(year, "-12-01"));
    auto subsidy = Job(v1::JOB_KIND_GOVERNMENT_SUBSIDY, year, StrCat(year, "-12-20"));
    ASSERT_FALSE(subsidy.rejection) << subsidy.rejection->detail;
    EXPECT_EQ(subsidy.progress.total_fen(), 3000);
    auto interest = Job(v1::JOB_KIND_INTEREST, year);
    ASSERT_FALSE(interest.rejection) << interest.rejection->detail;
    EXPECT_TRUE(interest.progress.completed());
  }
  v1::Account a = Account(id);
  EXPECT_EQ(a.total_fen(), 216868);  // the paper: 2168.68 yuan
  EXPECT_EQ(a.contribution_years(), 15u);
  EXPECT_EQ(SourceBalanceFen(a, v1::FUNDING_SOURCE_PERSONAL) +
                SourceBalanceFen(a, v1::FUNDING_SOURCE_GOVERNMENT),
            216868);

  v1::AccountCommand determine;
  determine.mutable_determine_benefit()->set_citizen_id(id);
  determine.mutable_determine_benefit()->set_date("2025-07-01");
  determine.mutable_determine_benefit()->set_document_ref("D-1");
  ASSERT_FALSE(Run(determine).rejection);
  a = Account(id);
  EXPECT_EQ(a.status(), v1::PARTICIPANT_STATUS_DRAWING_PENSION);
  EXPECT_EQ(a.benefit().account_pension_monthly_fen(), 1560);  // + 88 basic = 103.60
  EXPECT_EQ(a.benefit().start_month(), 202507);

  Funds(v1::FISCAL_PURPOSE_BASIC_PENSION, 2025, 12 * 8800, "2025-07-01");
  for (int month = 202507; month <= 202510; ++month) {
    auto paid = Job(v1::JOB_KIND_BENEFITS, month, FormatDate(FirstDayOf(month) + 9));
    ASSERT_FALSE(paid.rejection) << paid.rejection->detail;
    EXPECT_EQ(paid.progress.accounts_credited(), 1u);
  }
  a = Account(id);
  EXPECT_EQ(a.total_fen(), 216868 - 4 * 1560);
  EXPECT_EQ(a.benefit().paid_basic_fen(), 4 * 8800);
  EXPECT_EQ(a.benefit().next_month(), 202511);

  // Died in August; September and October were paid and become an overpayment, offset against
  // what the heirs receive.
  v1::AccountCommand death;
  death.mutable_record_death()->set_citizen_id(id);
  death.mutable_record_death()->set_date_of_death("2025-08-20");
  death.mutable_record_death()->set_date("2025-11-01");
  death.mutable_record_death()->set_document_ref("DEATH-1");
  const CommandResult settled = Run(death);
  ASSERT_FALSE(settled.rejection) << settled.rejection->detail;
  EXPECT_EQ(settled.last_sequence - settled.sequence, 3u);  // died, overpayment, funeral, inheritance
  a = Account(id);
  EXPECT_EQ(a.status(), v1::PARTICIPANT_STATUS_DECEASED);
  EXPECT_EQ(a.total_fen(), 0);
  const int64_t funeral = 120000 + 10 * 8800;
  const int64_t overpaid = 2 * 8800 + 2 * 1560;
  const int64_t estate = 216868 - 4 * 1560 + 2 * 1560;
  EXPECT_EQ(Total("heirs_payable"), -(estate + funeral - overpaid));
  EXPECT_EQ(Total("overpayment_receivable"), 0);  // fully offset
  EXPECT_EQ(Total("funeral_subsidy_paid"), funeral);
  EXPECT_EQ(Total("individual_accounts/personal") + Total("individual_accounts/government"), 0);

  // Anything after closure is rejected, except the tax bureau's money (suspense).
  EXPECT_EQ(Run(determine).duplicate, true);  // same document: the original answer
  determine.mutable_determine_benefit()->set_document_ref("D-2");
  EXPECT_EQ(Run(determine).rejection->reason, v1::REASON_WRONG_STATE);

  // Statement for 2025: opening 2168.68, four payments, two returned, the inheritance.
  auto statement = ledger_->GetStatement(id, 2025);
  ASSERT_TRUE(statement.ok() && statement->has_value());
  EXPECT_EQ((*statement)->opening_total_fen(), 216868);
  EXPECT_EQ((*statement)->closing_total_fen(), 0);

  // Replaying the log rebuilds every projection byte for byte, the idempotency index included.
  auto compared = ledger_->ReplayCompare((dir_ / "scratch").string());
  ASSERT_TRUE(compared.ok()) << compared.status();
  EXPECT_TRUE(compared->equal) << compared->first_difference;
  EXPECT_EQ(compared->events_replayed, ledger_->Head().sequence);
  ledger_.reset();
  ASSERT_TRUE(Ledger::RebuildProjections(dir_.string()).ok());
  Open();
  v1::Account rebuilt = Account(id);
  EXPECT_EQ(rebuilt.SerializeAsString(), a.SerializeAsString());
  const CommandResult resent = Run(death);
  EXPECT_TRUE(resent.duplicate);
  EXPECT_EQ(resent.sequence, settled.sequence);
  EXPECT_EQ(resent.last_sequence, settled.last_sequence);
}

}  // namespace
}  // namespace ledger

namespace ledger {
namespace {

// Events come in sequence order, not date order: a statement must pick its year's movements out
// of a log where later-dated money was recorded first.
TEST_F(LifecycleTest, StatementTakesEveryMovementOfItsYearWhateverTheRecordingOrder) {
  const std::string id = Id("19700101");
  Enrol(id, "2013-01-01");
  Collect(id, 2014, 10000, "2014-03-01");
  Collect(id, 2015, 50000, "2015-03-01");
  Funds(v1::FISCAL_PURPOSE_CONTRIBUTION_SUBSIDY, 2014, 3000, "2014-12-01");
  ASSERT_FALSE(Job(v1::JOB_KIND_GOVERNMENT_SUBSIDY, 2014, "2014-12-20").rejection);
  ASSERT_FALSE(Job(v1::JOB_KIND_INTEREST, 2014).rejection);
  auto statement = ledger_->GetStatement(id, 2014);
  ASSERT_TRUE(statement.ok() && statement->has_value());
  const v1::Statement& s = **statement;
  ASSERT_EQ(s.lines_size(), 3) << s.DebugString();  // contribution, subsidy, interest
  EXPECT_EQ(s.lines(0).kind(), "contribution_collected");
  EXPECT_EQ(s.lines(1).kind(), "government_subsidy_credited");
  EXPECT_EQ(s.lines(2).kind(), "interest_posted");
  // 100 yuan from March (9 months) at 1.5 % = 1.125 → 1.13 yuan; the subsidy arrives in December.
  EXPECT_EQ(s.interest_fen(), 113);
  EXPECT_EQ(s.closing_total_fen(), 10000 + 3000 + 113);
  // The next year opens where this one closed, and holds the 2015 contribution.
  auto next = ledger_->GetStatement(id, 2015);
  ASSERT_TRUE(next.ok() && next->has_value());
  EXPECT_EQ((*next)->opening_total_fen(), s.closing_total_fen());
  EXPECT_EQ((*next)->closing_total_fen(), s.closing_total_fen() + 50000);
}

}  // namespace
}  // namespace ledger
