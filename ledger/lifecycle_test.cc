// The account lifecycle through the ledger API: a whole life, with every balance asserted.
#include "ledger/lifecycle.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "ledger/account.h"
#include "ledger/dates.h"
#include "ledger/ledger.h"
#include "ledger/strings.h"
#include "tests/support/fixtures.h"
#include "tests/support/opened_ledger.h"

namespace ledger {
namespace {

constexpr char kActor[] = "CN=agency";

using testing::CitizenId;
using testing::PaperPolicy;

// The paper policy (tests/support/fixtures.h), commands by the agency, the clock at 2026-11-20.
class LifecycleTest : public testing::OpenedLedgerTest {
 protected:
  void SetUp() override {
    actor_ = kActor;
    ASSERT_NO_FATAL_FAILURE(Open());
    ASSERT_NO_FATAL_FAILURE(AdoptPolicy(PaperPolicy()));
  }

  // An accepted contribution of `fen` for `year`, receipt R<id>-<year>.
  void Collect(const std::string& id, int year, int64_t fen, std::string date) {
    const std::vector<v1::RecordOutcome> out =
        Push({testing::AddRecord(StrCat("R", id, "-", year), id, year, fen, date)});
    ASSERT_EQ(out.size(), 1u);
    ASSERT_EQ(out[0].outcome(), v1::OUTCOME_ACCEPTED) << out[0].detail();
  }
};

TEST_F(LifecycleTest, AWholeLifeMatchesThePaperAndSettlesOnDeath) {
  const std::string id = CitizenId("19650615");  // 60 on 2025-06-15: pension from July 2025
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
  // The payment account pays the four months and the funeral subsidy (issue 16, point 4): the
  // contributions remitted into the special account, then swept with the basic pension funds.
  constexpr int64_t kSwept = 4 * (8800 + 1560) + 120000 + 10 * 8800;
  v1::AccountCommand remit;
  remit.mutable_receive_tax_remittance()->set_region_code(testing::kRegion);
  remit.mutable_receive_tax_remittance()->set_bank_account(v1::BANK_ACCOUNT_SPECIAL);
  remit.mutable_receive_tax_remittance()->set_amount_fen(150000);
  remit.mutable_receive_tax_remittance()->set_date("2025-07-01");
  remit.mutable_receive_tax_remittance()->set_document_ref("REMIT-1");
  ASSERT_FALSE(Run(remit).rejection);
  v1::AccountCommand sweep;
  sweep.mutable_transfer_between_fund_accounts()->set_region_code(testing::kRegion);
  sweep.mutable_transfer_between_fund_accounts()->set_from_account(v1::BANK_ACCOUNT_SPECIAL);
  sweep.mutable_transfer_between_fund_accounts()->set_to_account(v1::BANK_ACCOUNT_PAYMENT);
  sweep.mutable_transfer_between_fund_accounts()->set_amount_fen(kSwept);
  sweep.mutable_transfer_between_fund_accounts()->set_date("2025-07-01");
  sweep.mutable_transfer_between_fund_accounts()->set_document_ref("SWEEP-1");
  ASSERT_FALSE(Run(sweep).rejection);
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
  // Interest to the date of death (issue 16, point 6), died, overpayment, funeral, inheritance.
  EXPECT_EQ(settled.last_sequence - settled.sequence, 4u);
  a = Account(id);
  EXPECT_EQ(a.status(), v1::PARTICIPANT_STATUS_DECEASED);
  EXPECT_EQ(a.total_fen(), 0);
  const int64_t funeral = 120000 + 10 * 8800;
  const int64_t overpaid = 2 * 8800 + 2 * 1560;
  // 2025's interest for January to August: 2168.68 × 8 months, less July's 15.60 for one month,
  // × 1.5 % / 12 = 21.6673 → 21.67 (August's payment and later earn nothing before the death).
  const int64_t accrued = 2167;
  const int64_t estate = 216868 + accrued - 4 * 1560 + 2 * 1560;
  EXPECT_EQ(Total("heirs_payable"), -(estate + funeral - overpaid));
  EXPECT_EQ(Total("fund.payment"), kSwept - 4 * (8800 + 1560));
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
  EXPECT_EQ((*statement)->interest_fen(), accrued);

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

// Events come in sequence order, not date order: a statement must pick its year's movements out
// of a log where later-dated money was recorded first.
TEST_F(LifecycleTest, StatementTakesEveryMovementOfItsYearWhateverTheRecordingOrder) {
  const std::string id = CitizenId("19700101");
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
