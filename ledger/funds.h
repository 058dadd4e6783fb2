// The fund's own money and the reports it is reconciled against: fiscal funds from the treasury,
// tax remittances, sweeps between the fund's bank accounts, bank interest, bank statement
// balances and the tax bureau's daily control totals. Each is an AccountCommand with a document
// reference (idempotent like every lifecycle command) recording one event.
//
// Checks, in order: fields (INVALID_*), then the document reference, then the region's policy
// on the date (UNKNOWN_REGION, NO_POLICY_IN_FORCE), then the command's own rule: a sweep may not
// take its source account below zero (INSUFFICIENT_FUND_BALANCE).
#ifndef LEDGER_FUNDS_H_
#define LEDGER_FUNDS_H_

#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "ledger/command_checks.h"
#include "ledger/types.h"
#include "ledger/v1/commands.pb.h"

namespace ledger {

class WorkingState;

bool IsFundCommand(const v1::AccountCommand& command);

// The field checks of a fund command; fills `date` (the command's business date).
command::Check CheckFundFields(const v1::AccountCommand& command, absl::CivilDay today,
                               absl::CivilDay& date);

// Decides a fund command whose fields and document reference are checked, and appends its event.
absl::StatusOr<Decided<CommandResult>> ExecuteFundCommand(
    const v1::AccountCommand& command, WorkingState& state, absl::CivilDay date,
    std::string_view document_ref, const Appender& append);

// The region a fund command acts in.
std::string_view FundCommandRegion(const v1::AccountCommand& command);

}  // namespace ledger

#endif  // LEDGER_FUNDS_H_
