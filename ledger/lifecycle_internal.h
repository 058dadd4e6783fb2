// Declarations the files of the account lifecycle share among themselves, and nothing else
// includes: ledger/lifecycle.h is the writer's view. The files, one job each:
//   account_commands.cc      field checks, document reference and dispatch of every command;
//                            collective subsidy and refund
//   benefits.cc              benefit determination, suspension, resumption; the monthly benefit
//   death.cc                 a death and the settlement of the estate
//   transfers.cc             transfers out of and into a region
//   jobs.cc                  the region-wide batch jobs
//   interest_adjustments.cc  the interest a backdated movement changes in posted years
//   interest_to_date.cc      the interest to the date an account closes (death, transfer out,
//                            termination)
//   termination.cc           termination (关系注销) and the settlement of the balance
//   overpayment_recovery.cc  recovery or write-off of an outstanding overpayment
//   cadre_subsidy.cc         village cadre roles and the cadre subsidy program's credit
//   reversal.cc              cancellation and refund of a contribution (shared with rules.cc)
#ifndef LEDGER_LIFECYCLE_INTERNAL_H_
#define LEDGER_LIFECYCLE_INTERNAL_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "ledger/account.h"
#include "ledger/command_checks.h"
#include "ledger/types.h"
#include "ledger/v1/commands.pb.h"
#include "ledger/v1/events.pb.h"
#include "ledger/v1/policy.pb.h"
#include "ledger/v1/records.pb.h"

namespace ledger {

class WorkingState;

namespace lifecycle {

// The shared checks, by their short names in every file of the lifecycle.
using command::Check;
using command::CheckAmount;
using command::CheckDate;
using command::Envelope;
using command::PolicyFor;
using command::UnknownParticipant;
using command::WrongState;

constexpr int kPensionAge = 60;
constexpr uint32_t kFullContributionYears = 15;

// ---------------------------------------------------------------------------------------------
// Interest adjustments (interest_adjustments.cc)

// The last year whose interest is posted for this account: the region's completed interest
// jobs, or a year this account was already credited in a job still running.
int PostedThrough(const v1::Account& account, const WorkingState& state);

// Money events of a command dated in a posted year are allowed for credits and reversals only:
// INVALID_DATE for the others.
command::Check NotInPostedYear(const v1::Account& account, absl::CivilDay date,
                               const WorkingState& state);

// ---------------------------------------------------------------------------------------------
// Interest to the date an account closes (interest_to_date.cc)

// `year`'s interest on `account` for January to `through_month`: the annual formula with the
// months counted up to the month of the event (each of `events`, the participant's, moves money
// from the month after its effective date), one half-up rounding, split by source by largest
// remainder; less what was already credited for the year by source (never below zero).
YearInterest InterestThrough(const v1::Account& account,
                             const std::vector<v1::EventEnvelope>& events, int year,
                             int through_month, uint32_t rate_bp);

// The year's interest of the annual job less what an accrual already credited for the year (a
// participant transferred out and back in the same year): unchanged for every other account.
YearInterest DeductAccrued(const v1::Account& account, int year, const YearInterest& interest);

struct AccrualContext {
  WorkingState& state;
  const v1::Policy& policy;  // in force on the recording date (the rates' fallback)
  absl::CivilDay date;       // the recording date
  std::string_view document_ref;
};

// The InterestAccrued events of every year the region has not posted, from the enrolment up to
// the year of `event_day` (through its month), applied to `account` as they are decided. Each is
// dated 31 December of its year, the last one `event_day`; each year's rate is that of the rules
// in force on that date (or on the recording date, if earlier).
absl::StatusOr<std::vector<v1::EventEnvelope>> AccrueInterestTo(v1::Account& account,
                                                                absl::CivilDay event_day,
                                                                const AccrualContext& c);

// ---------------------------------------------------------------------------------------------
// Commands

// A command being executed: its events are appended with `append` (which stamps the command's
// digest) under `document_ref`.
struct Context {
  WorkingState& state;
  const Appender& append;
  std::string_view document_ref;
};

// What a command handler decided; an error status aborts the whole commit.
using Outcome = absl::StatusOr<Decided<CommandResult>>;

// Appends a command's events and, after each money movement, the adjustments it causes
// (account_commands.cc).
struct Recorder {
  WorkingState& state;
  const Appender& append;
  CommandResult result;

  absl::Status Add(v1::EventEnvelope e, bool adjust_interest);
  // Adds `events` (prepared before the command's own event: interest to a date, arrears) under
  // the command's reference `external_ref`, without interest adjustments.
  absl::Status AddUnder(std::string_view external_ref, std::vector<v1::EventEnvelope>& events);
};

// The handlers. `date` is the command's checked business date.
Outcome Determine(const v1::DetermineBenefitRequest& r, Context& c, absl::CivilDay date);
Outcome Suspend(const v1::SuspendBenefitRequest& r, Context& c, absl::CivilDay date);
Outcome Resume(const v1::ResumeBenefitRequest& r, Context& c, absl::CivilDay date);
Outcome Death(const v1::RecordDeathRequest& r, Context& c, absl::CivilDay date);
Check CheckRecoveryFields(const v1::RecordOverpaymentRecoveryRequest& r, absl::CivilDay today,
                          absl::CivilDay& date);
Outcome RecoverOverpayment(const v1::RecordOverpaymentRecoveryRequest& r, Context& c,
                           absl::CivilDay date);
Outcome Terminate(const v1::TerminateParticipantRequest& r, Context& c, absl::CivilDay date);
Check CheckCadreRoleFields(const v1::RecordCadreRoleRequest& r, absl::CivilDay today,
                           absl::CivilDay& date);
Outcome RecordCadreRole(const v1::RecordCadreRoleRequest& r, Context& c, absl::CivilDay date);
Check CheckCadreSubsidyFields(const v1::CreditCadreSubsidyRequest& r, absl::CivilDay today,
                              absl::CivilDay& date);
Outcome CreditCadreSubsidy(const v1::CreditCadreSubsidyRequest& r, Context& c,
                           absl::CivilDay date);
Outcome TransferOutOf(const v1::TransferOutRequest& r, Context& c, absl::CivilDay date);
Outcome TransferInto(const v1::TransferInRequest& r, Context& c, absl::CivilDay date);

// ---------------------------------------------------------------------------------------------
// Jobs and the monthly benefit

// What a job does for one account: its events, and what they take from each fiscal fund.
struct AccountPlan {
  std::vector<v1::EventEnvelope> events;
  std::map<std::string, int64_t> fiscal;  // fiscal fund account → amount used
  int64_t total_fen = 0;
};

struct JobContext {
  const v1::JobRequest& request;
  absl::CivilDay date;       // the date the money moves
  const v1::Policy* policy;  // in force on `date`
  uint32_t rate_bp = 0;      // the interest job's rate
  // The subsidy and interest events' effective date and external reference
  // ("job/interest/2024"), formatted once per chunk by CheckJob instead of once per event.
  std::string date_text;
  std::string ref;
};

// Basic pension per month for a pensioner with `years` contribution years, from the rule in
// force on the first day of `month` (benefits.cc).
int64_t BasicPension(const v1::Policy& policy, int month, uint32_t years);

// The benefits due to `a` up to the job's period, not paid yet (benefits.cc).
AccountPlan PlanBenefits(const v1::Account& a, const JobContext& j);

// The months up to and including `through_month` not yet paid, when an account closes (death,
// termination): still due, paid now before the balance is settled, against the basic-pension
// funds like any month (INSUFFICIENT_FISCAL_FUNDS naming `event` when short) (benefits.cc).
Decided<AccountPlan> PlanArrears(const v1::Account& a, int through_month, absl::CivilDay date,
                                 const v1::Policy& policy, const WorkingState& state,
                                 std::string_view event);

// The account as a closing settlement sees it: the arrears paid out of it, then the overpaid
// account parts back in (benefits.cc).
v1::Account Settled(const v1::Account& a, const AccountPlan& arrears,
                    const v1::BenefitOverpaymentRecognized& over, absl::CivilDay date);

// What the fiscal funds of `region` lack for `need` ("<fund> needs A, has B, short by C", "; "
// between funds); empty when they cover it (jobs.cc).
std::string Shortfalls(const std::map<std::string, int64_t>& need, const WorkingState& state,
                       std::string_view region);

// What the payment account (fund.payment) of `region` lacks to pay `amount`: empty when it holds
// enough, else a sentence naming the balance and the shortfall.
std::string PaymentShortfall(int64_t amount, const WorkingState& state, std::string_view region);

}  // namespace lifecycle
}  // namespace ledger

#endif  // LEDGER_LIFECYCLE_INTERNAL_H_
