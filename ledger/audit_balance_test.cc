// Balances recomputed from the log as of a sequence or a date
// (ParticipantBalanceAsOf, LedgerAccountBalanceAsOf) against the projections
// kept at every point of a long workload and of a transfer between regions.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "ledger/account.h"
#include "ledger/ledger.h"
#include "ledger/strings.h"
#include "ledger/testing/audit_fixture.h"

namespace ledger::testing {
namespace {

// ---------------------------------------------------------------------------------------------
// Balances as of a sequence or a date.

TEST_F(AuditTest, BalancesAsOfASequenceOrADateAreTheBalancesThen) {
  ASSERT_NO_FATAL_FAILURE(OpenFresh());
  const auto started = std::chrono::steady_clock::now();
  const std::vector<Point> points = RunWorkload(/*backdated=*/false);
  ASSERT_FALSE(HasFatalFailure());
  ASSERT_GE(points.size(), 20u);
  const std::string control = StrCat(kRegion, "/individual_accounts/personal");
  ASSERT_NE(points.back().totals.count(control), 0u);
  ASSERT_NE(points.back().totals.at(control), 0);
  std::printf(
      "[ info ] workload: %llu events (%zu cancellations, %zu paid again) in "
      "%.2f s\n",
      static_cast<unsigned long long>(ledger_->Head().sequence), cancelled_,
      paid_again_,
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started)
          .count());

  auto expect_participant = [&](const Point &p, const std::string &id,
                                uint64_t seq, const std::string &date) {
    auto b = ledger_->ParticipantBalanceAsOf(id, seq, date);
    ASSERT_TRUE(b.ok()) << b.status();
    const v1::Account &a = p.accounts.at(id);
    EXPECT_EQ(b->total_fen, a.total_fen())
        << id << " at " << p.sequence << " " << date;
    EXPECT_EQ(SourceMap(b->by_source), SourceMap(BalancesBySource(a)))
        << id << " at " << p.sequence << " " << date;
  };
  auto expect_ledger_account = [&](const Point &p, const std::string &name,
                                   uint64_t seq, const std::string &date) {
    auto b = ledger_->LedgerAccountBalanceAsOf(name, seq, date);
    ASSERT_TRUE(b.ok()) << b.status();
    auto it = p.totals.find(name);
    EXPECT_EQ(b->total_fen, it == p.totals.end() ? 0 : it->second)
        << name << " at " << p.sequence << " " << date;
  };

  size_t checked_dates = 0;
  for (size_t i = 0; i < points.size(); ++i) {
    const Point &p = points[i];
    SCOPED_TRACE(
        StrCat("point ", i, " sequence ", p.sequence, " ", p.as_of_date));
    for (const std::string &id : ids_)
      expect_participant(p, id, p.sequence, "");
    // The control account and the fund at every point; every ledger account at
    // a few.
    for (const char *account :
         {"individual_accounts/personal", "individual_accounts/government",
          "fund.special", "suspense"}) {
      expect_ledger_account(p, StrCat(kRegion, "/", account), p.sequence, "");
    }
    if (i % 5 == 0 || i + 1 == points.size()) {
      for (const auto &[name, total] : p.totals)
        expect_ledger_account(p, name, p.sequence, "");
    }
    if (!p.as_of_date.empty() && (i % 3 == 0 || i == 9)) {
      ++checked_dates;
      for (const std::string &id : ids_)
        expect_participant(p, id, 0, p.as_of_date);
      for (const auto &[name, total] : p.totals)
        expect_ledger_account(p, name, 0, p.as_of_date);
      // Both limits together: the earlier one wins.
      expect_participant(p, ids_[3], p.sequence, "2099-01-01");
      expect_ledger_account(p, control, ledger_->Head().sequence, p.as_of_date);
    }
  }
  EXPECT_GE(checked_dates, 4u);

  // The retiree who died has nothing left; `events` counts only the events that
  // moved money.
  const std::string died = ids_[31];
  auto now = ledger_->ParticipantBalanceAsOf(died, 0, "");
  ASSERT_TRUE(now.ok());
  EXPECT_EQ(now->total_fen, 0);
  EXPECT_TRUE(now->by_source.empty());
  EXPECT_GT(now->events, 10u);
  // Before any event, and for someone never enrolled: nothing.
  auto first = ledger_->ParticipantBalanceAsOf(ids_[0], 1, "");
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->total_fen, 0);
  EXPECT_EQ(first->events, 0u);
  auto stranger =
      ledger_->ParticipantBalanceAsOf(CitizenId(Birth(1999, 9, 9), 999), 0, "");
  ASSERT_TRUE(stranger.ok());
  EXPECT_EQ(stranger->total_fen, 0);
  // A ledger account must be named <region>/<account>.
  EXPECT_EQ(
      ledger_->LedgerAccountBalanceAsOf("fund.special", 0, "").status().code(),
      absl::StatusCode::kInvalidArgument);
}

// A participant moving between two regions of the same ledger: the transfer's
// person legs roll up into each region's control accounts, as of every point,
// exactly as the projection has them.
TEST_F(AuditTest, BalancesAsOfFollowATransferBetweenRegions) {
  ASSERT_NO_FATAL_FAILURE(OpenFresh());
  auto adopted = ledger_->AdoptPolicy(PaperPolicy(kRegion2), kAuditActor);
  ASSERT_TRUE(adopted.ok() && !adopted->rejection);
  const std::string mover = CitizenId(Birth(1985, 5, 5), 333),
                    stayer = CitizenId(Birth(1985, 5, 5), 444);
  ids_ = {mover, stayer};
  std::vector<Point> points;
  for (const std::string &id : ids_)
    ASSERT_NO_FATAL_FAILURE(Enrol(id, "2017-01-01"));
  for (int year = 2018; year <= 2020; ++year) {
    PushOk(
        {AddRecord(StrCat("M-", year), mover, year, 50000, Date(year, 3, 1)),
         AddRecord(StrCat("S-", year), stayer, year, 10000, Date(year, 4, 1))});
    ASSERT_NO_FATAL_FAILURE(Funds(v1::FISCAL_PURPOSE_CONTRIBUTION_SUBSIDY, year,
                                  9000, Date(year, 6, 1)));
    ASSERT_NO_FATAL_FAILURE(
        JobOk(v1::JOB_KIND_GOVERNMENT_SUBSIDY, year, Date(year, 6, 20)));
    ASSERT_NO_FATAL_FAILURE(JobOk(v1::JOB_KIND_INTEREST, year));
  }
  points.push_back(Snapshot());
  v1::AccountCommand out;
  out.mutable_transfer_out()->set_citizen_id(mover);
  out.mutable_transfer_out()->set_to_region(kRegion2);
  out.mutable_transfer_out()->set_date("2021-03-01");
  out.mutable_transfer_out()->set_document_ref("TO-1");
  ASSERT_NO_FATAL_FAILURE(RunOk(out));
  points.push_back(Snapshot());
  v1::AccountCommand in;
  in.mutable_transfer_in()->set_citizen_id(mover);
  in.mutable_transfer_in()->set_from_region(kRegion);
  in.mutable_transfer_in()->set_to_region(kRegion2);
  in.mutable_transfer_in()->set_date("2021-04-01");
  in.mutable_transfer_in()->set_document_ref("TI-1");
  ASSERT_NO_FATAL_FAILURE(RunOk(in));
  points.push_back(Snapshot());
  ASSERT_EQ(Account(mover).region_code(), kRegion2);
  v1::CollectionRecord later =
      AddRecord("M-2021", mover, 2021, 10000, "2021-05-01");
  later.set_region_code(kRegion2);
  PushOk({later});
  points.push_back(Snapshot());

  for (const Point &p : points) {
    SCOPED_TRACE(StrCat("sequence ", p.sequence));
    for (const std::string &id : ids_) {
      auto b = ledger_->ParticipantBalanceAsOf(id, p.sequence, "");
      ASSERT_TRUE(b.ok());
      EXPECT_EQ(b->total_fen, p.accounts.at(id).total_fen()) << id;
      EXPECT_EQ(SourceMap(b->by_source),
                SourceMap(BalancesBySource(p.accounts.at(id))))
          << id;
    }
    for (const std::string region : {kRegion, kRegion2}) {
      for (const char *account :
           {"individual_accounts/personal", "individual_accounts/government",
            "transfers_in_transit", "fund.special"}) {
        const std::string name = StrCat(region, "/", account);
        auto b = ledger_->LedgerAccountBalanceAsOf(name, p.sequence, "");
        ASSERT_TRUE(b.ok());
        auto it = p.totals.find(name);
        EXPECT_EQ(b->total_fen, it == p.totals.end() ? 0 : it->second) << name;
      }
    }
    for (const auto &[name, total] : p.totals) {
      auto b = ledger_->LedgerAccountBalanceAsOf(name, p.sequence, "");
      ASSERT_TRUE(b.ok());
      EXPECT_EQ(b->total_fen, total) << name;
    }
  }
  // In transit between the two transfers: region 1's controls hold the stayer
  // only.
  const Point &in_transit = points[1];
  EXPECT_EQ(in_transit.accounts.at(mover).total_fen(), 0);
  EXPECT_NE(in_transit.totals.at(StrCat(kRegion, "/transfers_in_transit")), 0);
}

} // namespace
} // namespace ledger::testing
