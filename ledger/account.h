// The individual account's arithmetic: balances by funding source, the yearly movements the
// interest formula needs, interest, and proportional splits. Pure functions on the account
// projection: apply() uses them to change the projection, and the rules use them on a copy to
// see what a command would do before deciding (so a rule and apply can never disagree).
//
// Roundings (both named, both tested):
//   - DivRoundHalfUp: every division of money rounds half away from zero to the fen.
//   - SplitLargestRemainder: a total split by weights gives each part its floor share, then one
//     fen each to the largest remainders, ties to the earlier source; parts add up exactly.
#ifndef LEDGER_ACCOUNT_H_
#define LEDGER_ACCOUNT_H_

#include <cstdint>
#include <string_view>
#include <vector>

#include "absl/time/civil_time.h"
#include "ledger/v1/events.pb.h"
#include "ledger/v1/records.pb.h"

namespace ledger {

__extension__ typedef __int128 Int128;

// Funding sources in their fixed order (the order of every split's tie-break).
inline constexpr v1::FundingSource kSources[] = {
    v1::FUNDING_SOURCE_PERSONAL, v1::FUNDING_SOURCE_GOVERNMENT, v1::FUNDING_SOURCE_COLLECTIVE,
    v1::FUNDING_SOURCE_SPONSORSHIP, v1::FUNDING_SOURCE_TRANSFER_IN};

// "personal", "government", … : the last segment of the ledger account person/<id>/<source>
// ("unspecified" for anything else).
std::string_view SourceName(v1::FundingSource source);
// The source for a name, or UNSPECIFIED.
v1::FundingSource SourceFromName(std::string_view name);

// numerator ÷ denominator rounded half away from zero. Precondition: denominator > 0.
int64_t DivRoundHalfUp(Int128 numerator, int64_t denominator);

// Splits `total` (≥ 0) in proportion to `weights` (each ≥ 0, sum > 0 unless total is 0).
std::vector<int64_t> SplitLargestRemainder(int64_t total, const std::vector<Int128>& weights);

// Balance of one source (principal + interest), and of the whole account.
int64_t SourceBalanceFen(const v1::Account& account, v1::FundingSource source);
// The account's balance by source, in source order, nonzero sources only.
std::vector<v1::SourceAmount> BalancesBySource(const v1::Account& account);

// The account's entry for a calendar year, created (in year order) if missing.
v1::AccountYear& YearOf(v1::Account& account, int year);
const v1::AccountYear* FindYear(const v1::Account& account, int year);
// Collective subsidy or sponsorship for contribution year `year` (a reversal: negative): the
// year's total and its entry for `source`.
void AddCollective(v1::Account& account, int year, v1::FundingSource source, int64_t delta_fen);
// The village cadre subsidy credited for `year`, net of reversals (0: none).
int64_t CadreSubsidyFor(const v1::Account& account, int year);
// What the collective subsidy + sponsorship cap of `year` counts: the year's collective subsidies
// and sponsorships and its cadre subsidy (also 集体补助).
int64_t CollectiveForCap(const v1::Account& account, int year);

// A movement of `delta_fen` (credit positive) on `source` dated `date`: changes the balance
// (a debit takes principal first, then interest) and the year's net and weighted fen-months
// (money earns interest from the month after it arrives: weight 12 − month).
void RecordMovement(v1::Account& account, v1::FundingSource source, int64_t delta_fen,
                    absl::CivilDay date);
// Interest of `year` on `source` (posted, or a signed adjustment): changes the interest balance
// (a negative amount takes interest first, then principal) and the year's interest.
void RecordInterest(v1::Account& account, v1::FundingSource source, int64_t delta_fen, int year);
// Interest accrued to the date an account closes (InterestAccrued): RecordInterest, and the
// amount joins the year's weighted fen-months as money arriving in `through_month`, so the
// year's interest computed later (a participant transferred back in) counts it from then on.
void RecordAccruedInterest(v1::Account& account, v1::FundingSource source, int64_t delta_fen,
                           int year, int through_month);
// True if any source's principal or interest is below zero.
bool AnyBalanceNegative(const v1::Account& account);
void RecomputeTotal(v1::Account& account);

// interest(Y) = round_half_up( Σ_s (opening_s × 12 + Σ ±amount × (12 − month)) × rate / 12 ),
// one rounding on the account total, then split by source in proportion to each source's own
// numerator (largest remainder). `parts` lists every source with a nonzero numerator.
struct YearInterest {
  int64_t total_fen = 0;
  std::vector<v1::SourceAmount> parts;
};
YearInterest ComputeInterest(const v1::Account& account, int year, uint32_t rate_bp);
// Balance by source at the start of `year` (every movement and interest of earlier years).
std::vector<int64_t> OpeningBySource(const v1::Account& account, int year);
// The last year with interest posted on this account (0 if none).
int LastInterestYear(const v1::Account& account);

// Distinct contribution years: personal contributions, payments on behalf, years transferred in.
uint32_t CountContributionYears(const v1::Account& account);

}  // namespace ledger

#endif  // LEDGER_ACCOUNT_H_
