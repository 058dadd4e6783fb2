// The account commands' way in (ExecuteAccountCommand): the field checks of every command, its
// document reference (idempotence), and dispatch to the command's handler, in the order
// documented in ledger/lifecycle.h. The handlers of the collective subsidy and the refund live
// here; the others have a file each (lifecycle_internal.h lists them).
#include <algorithm>
#include <optional>
#include <variant>

#include "ledger/account.h"
#include "ledger/apply.h"
#include "ledger/citizen_id.h"
#include "ledger/dates.h"
#include "ledger/funds.h"
#include "ledger/hash.h"
#include "ledger/lifecycle.h"
#include "ledger/lifecycle_internal.h"
#include "ledger/limits.h"
#include "ledger/money.h"
#include "ledger/policy.h"
#include "ledger/reversal.h"
#include "ledger/text.h"
#include "ledger/status_macros.h"
#include "ledger/strings.h"
#include "ledger/subsidy_reversal.h"
#include "ledger/working_state.h"

namespace ledger {
namespace lifecycle {

absl::Status Recorder::Add(v1::EventEnvelope e, bool adjust_interest) {
  const std::string id(ParticipantOf(e));
  const std::string ref = e.external_ref();
  const int year = static_cast<int>(StoredDate(e.effective_date()).year());
  LEDGER_ASSIGN_OR_RETURN(uint64_t seq, append(std::move(e)));
  if (result.sequence == 0) result.sequence = seq;
  result.last_sequence = seq;
  if (adjust_interest) {
    LEDGER_RETURN_IF_ERROR(AppendInterestAdjustments(state, id, year, seq, ref, append));
    result.last_sequence = state.head_sequence();
  }
  return absl::OkStatus();
}

absl::Status Recorder::AddUnder(std::string_view external_ref,
                                std::vector<v1::EventEnvelope>& events) {
  for (v1::EventEnvelope& e : events) {
    e.set_external_ref(std::string(external_ref));
    LEDGER_RETURN_IF_ERROR(Add(std::move(e), false));
  }
  return absl::OkStatus();
}

namespace {

using command::IsReference;

// ---------------------------------------------------------------------------------------------
// Field checks

Check CheckCitizenId(std::string_view id) {
  if (auto st = ValidateCitizenId(id); !st.ok()) {
    return Reject(v1::REASON_INVALID_CITIZEN_ID, std::string(st.message()));
  }
  return std::nullopt;
}

Check CheckMonth(int month, std::string_view field) {
  if (!IsValidMonth(month)) {
    return Reject(v1::REASON_INVALID_PERIOD, StrCat(field, " ", month, " is not a YYYYMM month"));
  }
  return std::nullopt;
}

// The fields of the commands that name a participant and a date and nothing else to check.
template <class Request>
Check CheckIdAndDate(const Request& r, absl::CivilDay today, absl::CivilDay& date) {
  if (auto rej = CheckCitizenId(r.citizen_id())) return rej;
  return CheckDate(r.date(), "date", today, date);
}

Check CheckCollectiveFields(const v1::CreditCollectiveSubsidyRequest& r, absl::CivilDay today,
                            absl::CivilDay& date) {
  if (auto rej = CheckCitizenId(r.citizen_id())) return rej;
  if (r.source() != v1::FUNDING_SOURCE_COLLECTIVE && r.source() != v1::FUNDING_SOURCE_SPONSORSHIP) {
    return Reject(v1::REASON_INVALID_FIELD, "source must be COLLECTIVE or SPONSORSHIP");
  }
  if (r.payer().empty() || !IsCleanText(r.payer(), kNameBytesMax * 2)) {
    return Reject(v1::REASON_INVALID_FIELD, StrCat("payer must be 1-", kNameBytesMax * 2,
                                                   " bytes of UTF-8 text"));
  }
  if (auto rej = CheckAmount(r.amount_fen(), kAmountFenMax)) return rej;
  if (auto rej = CheckDate(r.date(), "date", today, date)) return rej;
  if (r.contribution_year() < kFirstContributionYear || r.contribution_year() > date.year() + 1) {
    return Reject(v1::REASON_IMPLAUSIBLE_YEAR, StrCat("contribution_year ", r.contribution_year(),
                                                      " is implausible on ", r.date()));
  }
  return std::nullopt;
}

Check CheckRefundFields(const v1::RefundContributionRequest& r, absl::CivilDay today,
                        absl::CivilDay& date) {
  if (!IsReference(r.receipt_number()) || r.receipt_number().size() > kReceiptNumberBytesMax) {
    return Reject(v1::REASON_MISSING_RECEIPT_NUMBER, "receipt_number is missing or malformed");
  }
  if (r.reason() == v1::REFUND_REASON_UNSPECIFIED || !v1::RefundReason_IsValid(r.reason())) {
    return Reject(v1::REASON_INVALID_FIELD, "reason must be a known refund reason");
  }
  return CheckDate(r.date(), "date", today, date);
}

Check CheckSuspendFields(const v1::SuspendBenefitRequest& r, absl::CivilDay today,
                         absl::CivilDay& date) {
  if (auto rej = CheckCitizenId(r.citizen_id())) return rej;
  if (auto rej = CheckMonth(r.from_month(), "from_month")) return rej;
  if (!IsCleanText(r.reason(), kAddressBytesMax)) {
    return Reject(v1::REASON_INVALID_FIELD, "reason must be UTF-8 text");
  }
  return CheckDate(r.date(), "date", today, date);
}

Check CheckResumeFields(const v1::ResumeBenefitRequest& r, absl::CivilDay today,
                        absl::CivilDay& date) {
  if (auto rej = CheckCitizenId(r.citizen_id())) return rej;
  if (auto rej = CheckMonth(r.month(), "month")) return rej;
  return CheckDate(r.date(), "date", today, date);
}

Check CheckDeathFields(const v1::RecordDeathRequest& r, absl::CivilDay today,
                       absl::CivilDay& date) {
  if (auto rej = CheckCitizenId(r.citizen_id())) return rej;
  absl::CivilDay death;
  if (auto rej = CheckDate(r.date_of_death(), "date_of_death", today, death)) return rej;
  return CheckDate(r.date(), "date", today, date);
}

Check CheckTerminationFields(const v1::TerminateParticipantRequest& r, absl::CivilDay today,
                             absl::CivilDay& date) {
  if (auto rej = CheckCitizenId(r.citizen_id())) return rej;
  if (r.reason() == v1::TERMINATION_REASON_UNSPECIFIED || !v1::TerminationReason_IsValid(r.reason())) {
    return Reject(v1::REASON_INVALID_FIELD, "reason must be a known termination reason");
  }
  if (r.reason() == v1::TERMINATION_REASON_DOUBLE_RECEIPT) {
    if (auto rej = CheckMonth(r.employee_pension_from_month(), "employee_pension_from_month")) {
      return rej;
    }
  } else if (r.employee_pension_from_month() != 0) {
    return Reject(v1::REASON_INVALID_FIELD,
                  "employee_pension_from_month is for a DOUBLE_RECEIPT termination only");
  }
  return CheckDate(r.date(), "date", today, date);
}

// Field checks of every command: the citizen ID (where there is one), the dates, amounts and
// texts. Fills `date` (the command's business date).
Check CheckFields(const v1::AccountCommand& command, absl::CivilDay today, absl::CivilDay& date) {
  if (IsFundCommand(command)) return CheckFundFields(command, today, date);
  switch (command.command_case()) {
    case v1::AccountCommand::kCreditCollectiveSubsidy:
      return CheckCollectiveFields(command.credit_collective_subsidy(), today, date);
    case v1::AccountCommand::kRefundContribution:
      return CheckRefundFields(command.refund_contribution(), today, date);
    case v1::AccountCommand::kDetermineBenefit:
      return CheckIdAndDate(command.determine_benefit(), today, date);
    case v1::AccountCommand::kSuspendBenefit:
      return CheckSuspendFields(command.suspend_benefit(), today, date);
    case v1::AccountCommand::kResumeBenefit:
      return CheckResumeFields(command.resume_benefit(), today, date);
    case v1::AccountCommand::kRecordDeath:
      return CheckDeathFields(command.record_death(), today, date);
    case v1::AccountCommand::kRecordOverpaymentRecovery:
      return CheckRecoveryFields(command.record_overpayment_recovery(), today, date);
    case v1::AccountCommand::kTerminateParticipant:
      return CheckTerminationFields(command.terminate_participant(), today, date);
    case v1::AccountCommand::kRecordCadreRole:
      return CheckCadreRoleFields(command.record_cadre_role(), today, date);
    case v1::AccountCommand::kCreditCadreSubsidy:
      return CheckCadreSubsidyFields(command.credit_cadre_subsidy(), today, date);
    case v1::AccountCommand::kTransferOut:
      return CheckIdAndDate(command.transfer_out(), today, date);
    case v1::AccountCommand::kTransferIn:
      return CheckIdAndDate(command.transfer_in(), today, date);
    default:
      break;
  }
  return Reject(v1::REASON_INVALID_FIELD, "no command given");
}

std::string_view DocumentRef(const v1::AccountCommand& command) {
  switch (command.command_case()) {
    case v1::AccountCommand::kReceiveFiscalFunds: return command.receive_fiscal_funds().document_ref();
    case v1::AccountCommand::kCreditCollectiveSubsidy: return command.credit_collective_subsidy().document_ref();
    case v1::AccountCommand::kRefundContribution: return command.refund_contribution().document_ref();
    case v1::AccountCommand::kDetermineBenefit: return command.determine_benefit().document_ref();
    case v1::AccountCommand::kSuspendBenefit: return command.suspend_benefit().document_ref();
    case v1::AccountCommand::kResumeBenefit: return command.resume_benefit().document_ref();
    case v1::AccountCommand::kRecordDeath: return command.record_death().document_ref();
    case v1::AccountCommand::kRecordOverpaymentRecovery: return command.record_overpayment_recovery().document_ref();
    case v1::AccountCommand::kTerminateParticipant: return command.terminate_participant().document_ref();
    case v1::AccountCommand::kRecordCadreRole: return command.record_cadre_role().document_ref();
    case v1::AccountCommand::kCreditCadreSubsidy: return command.credit_cadre_subsidy().document_ref();
    case v1::AccountCommand::kTransferOut: return command.transfer_out().document_ref();
    case v1::AccountCommand::kTransferIn: return command.transfer_in().document_ref();
    case v1::AccountCommand::kReceiveTaxRemittance: return command.receive_tax_remittance().document_ref();
    case v1::AccountCommand::kTransferBetweenFundAccounts: return command.transfer_between_fund_accounts().document_ref();
    case v1::AccountCommand::kReceiveBankInterest: return command.receive_bank_interest().document_ref();
    case v1::AccountCommand::kReportBankBalance: return command.report_bank_balance().document_ref();
    case v1::AccountCommand::kReportDailyTotals: return command.report_daily_totals().document_ref();
    case v1::AccountCommand::COMMAND_NOT_SET: break;
  }
  return {};
}

// A document reference already used: by this command (a resend: the original's sequences,
// duplicate), or by another (DUPLICATE_REFERENCE_CONFLICT). nullopt for a new reference.
absl::StatusOr<std::optional<CommandResult>> UsedReference(std::string_view ref,
                                                           std::string_view digest,
                                                           WorkingState& state) {
  LEDGER_ASSIGN_OR_RETURN(auto document, state.FindDocument(ref));
  if (!document) return std::nullopt;
  CommandResult result;
  if (document->digest == digest) {
    result.sequence = document->first_sequence;
    result.last_sequence = document->last_sequence;
    result.duplicate = true;
  } else {
    result.rejection = Reject(v1::REASON_DUPLICATE_REFERENCE_CONFLICT,
                              StrCat("document_ref ", ref, " was used at sequence ",
                                     document->first_sequence, " by a different command"));
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// Collective subsidy and refund

// The collective subsidy's own rules against the policy: the year has rules, the participant
// contributed that year (where the policy requires it), and the year's total stays within the
// highest tier.
Check CheckCollectiveRules(const v1::CreditCollectiveSubsidyRequest& r, const v1::Account& a,
                           const v1::Policy& policy) {
  const v1::YearRules* rules = PolicyBook::Year(policy, r.contribution_year());
  if (rules == nullptr) {
    return Reject(v1::REASON_IMPLAUSIBLE_YEAR,
                  StrCat("policy ", policy.region_code(), " v", policy.version(), " has no rules for ",
                         r.contribution_year()));
  }
  const v1::AccountYear* y = FindYear(a, r.contribution_year());
  if (policy.collective_requires_contribution()) {
    const bool contributed =
        std::any_of(a.contributions().begin(), a.contributions().end(),
                    [&](const auto& c) { return c.year() == r.contribution_year(); });
    if (!contributed && (y == nullptr || y->paid_on_behalf_fen() == 0)) {
      return Reject(v1::REASON_NO_CONTRIBUTION_FOR_YEAR,
                    StrCat(MaskCitizenId(a.citizen_id()), " has no contribution for ",
                           r.contribution_year(), "; the policy credits collective subsidy and "
                           "sponsorship only for a year the participant contributed"));
    }
  }
  const int64_t already = CollectiveForCap(a, r.contribution_year());
  if (already + r.amount_fen() > rules->highest_tier_fen()) {
    return Reject(v1::REASON_OVER_CAP,
                  StrCat("collective subsidy + sponsorship for ", r.contribution_year(),
                         " is capped at the highest tier ", FormatFen(rules->highest_tier_fen()),
                         "; already credited ", FormatFen(already), ", this would add ",
                         FormatFen(r.amount_fen())));
  }
  return std::nullopt;
}

Outcome CreditCollective(const v1::CreditCollectiveSubsidyRequest& r, Context& c,
                         absl::CivilDay date) {
  LEDGER_ASSIGN_OR_RETURN(const v1::Account* a, c.state.FindAccount(r.citizen_id()));
  if (a == nullptr) return UnknownParticipant(r.citizen_id());
  if (a->status() != v1::PARTICIPANT_STATUS_CONTRIBUTING) {
    return WrongState(*a, "subsidies are credited only before the pension starts");
  }
  auto policy_or = PolicyFor(c.state, a->region_code(), date);
  if (auto* rej = std::get_if<Rejection>(&policy_or)) return *rej;
  const v1::Policy& policy = *std::get<const v1::Policy*>(policy_or);
  if (auto rej = CheckCollectiveRules(r, *a, policy)) return *rej;
  v1::EventEnvelope e = Envelope(a->region_code(), date, c.document_ref, policy.version());
  auto* s = e.mutable_collective_subsidy_credited();
  s->set_citizen_id(r.citizen_id());
  s->set_contribution_year(r.contribution_year());
  s->set_amount_fen(r.amount_fen());
  s->set_source(r.source());
  s->set_payer(r.payer());
  Recorder rec{c.state, c.append};
  LEDGER_RETURN_IF_ERROR(rec.Add(std::move(e), true));
  return rec.result;
}

Outcome Refund(const v1::RefundContributionRequest& r, Context& c, absl::CivilDay date) {
  LEDGER_ASSIGN_OR_RETURN(auto receipt, c.state.FindReceipt(r.receipt_number()));
  LEDGER_ASSIGN_OR_RETURN(
      auto checked,
      CheckReversal(ReversalKind::kRefund, receipt, r.receipt_number(), date, c.state,
                    [](const v1::EventEnvelope&) { return Check(); }));
  if (auto* rej = std::get_if<Rejection>(&checked)) return *rej;
  const v1::EventEnvelope& original_event = std::get<v1::EventEnvelope>(checked);
  const auto& original = original_event.contribution_collected();
  v1::EventEnvelope e = Envelope(original_event.region_code(), date, c.document_ref,
                                 original_event.policy_version());
  auto* f = e.mutable_contribution_refunded();
  f->set_citizen_id(original.citizen_id());
  f->set_receipt_number(r.receipt_number());
  f->set_original_sequence(receipt->collected_sequence);
  f->set_contribution_year(original.contribution_year());
  f->set_amount_fen(original.amount_fen());
  f->set_reason(r.reason());
  f->set_original_suspense_reason(original.suspense_reason());
  Recorder rec{c.state, c.append};
  LEDGER_RETURN_IF_ERROR(rec.Add(std::move(e), InAccount(original)));
  if (InAccount(original)) {  // the year's subsidies go with it (ledger/subsidy_reversal.h)
    LEDGER_RETURN_IF_ERROR(AppendSubsidyReversals(
        c.state, original, original_event.region_code(), date, rec.result.sequence,
        c.document_ref, original_event.policy_version(), c.append));
    rec.result.last_sequence = c.state.head_sequence();
  }
  return rec.result;
}

Outcome Dispatch(const v1::AccountCommand& command, Context& c, absl::CivilDay date) {
  if (IsFundCommand(command)) {
    return ExecuteFundCommand(command, c.state, date, c.document_ref, c.append);
  }
  switch (command.command_case()) {
    case v1::AccountCommand::kCreditCollectiveSubsidy: return CreditCollective(command.credit_collective_subsidy(), c, date);
    case v1::AccountCommand::kRefundContribution: return Refund(command.refund_contribution(), c, date);
    case v1::AccountCommand::kDetermineBenefit: return Determine(command.determine_benefit(), c, date);
    case v1::AccountCommand::kSuspendBenefit: return Suspend(command.suspend_benefit(), c, date);
    case v1::AccountCommand::kResumeBenefit: return Resume(command.resume_benefit(), c, date);
    case v1::AccountCommand::kRecordDeath: return Death(command.record_death(), c, date);
    case v1::AccountCommand::kRecordOverpaymentRecovery: return RecoverOverpayment(command.record_overpayment_recovery(), c, date);
    case v1::AccountCommand::kTerminateParticipant: return Terminate(command.terminate_participant(), c, date);
    case v1::AccountCommand::kRecordCadreRole: return RecordCadreRole(command.record_cadre_role(), c, date);
    case v1::AccountCommand::kCreditCadreSubsidy: return CreditCadreSubsidy(command.credit_cadre_subsidy(), c, date);
    case v1::AccountCommand::kTransferOut: return TransferOutOf(command.transfer_out(), c, date);
    case v1::AccountCommand::kTransferIn: return TransferInto(command.transfer_in(), c, date);
    default: return absl::UnknownError("no command given");  // CheckFields rejected it
  }
}

}  // namespace
}  // namespace lifecycle

absl::StatusOr<CommandResult> ExecuteAccountCommand(const v1::AccountCommand& command,
                                                    WorkingState& state, absl::CivilDay today,
                                                    const Appender& append) {
  CommandResult result;
  absl::CivilDay date;
  if (auto rej = lifecycle::CheckFields(command, today, date)) {
    result.rejection = *rej;
    return result;
  }
  const std::string_view ref = lifecycle::DocumentRef(command);
  if (!command::IsReference(ref)) {
    result.rejection = Reject(v1::REASON_INVALID_FIELD,
                              StrCat("document_ref must be 1-", kDocumentRefBytesMax,
                                     " printable ASCII characters"));
    return result;
  }
  const std::string digest = Sha256(SerializeDeterministic(command));
  LEDGER_ASSIGN_OR_RETURN(auto used, lifecycle::UsedReference(ref, digest, state));
  if (used) return *used;
  // Every event of the command carries its digest: apply() records the document reference.
  const Appender with_digest = [&](v1::EventEnvelope e) {
    e.set_command_digest(digest);
    return append(std::move(e));
  };
  lifecycle::Context c{state, with_digest, ref};
  LEDGER_ASSIGN_OR_RETURN(Decided<CommandResult> outcome, lifecycle::Dispatch(command, c, date));
  if (auto* rej = std::get_if<Rejection>(&outcome)) {
    result.rejection = *rej;
    return result;
  }
  return std::get<CommandResult>(std::move(outcome));
}

}  // namespace ledger
