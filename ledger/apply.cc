#include "ledger/event_names.h"
#include "ledger/apply.h"

#include <algorithm>

#include "ledger/account.h"
#include "ledger/dates.h"
#include "ledger/recon.h"
#include "ledger/status_macros.h"
#include "ledger/strings.h"
#include "ledger/working_state.h"

namespace ledger {
namespace accounts {
std::string Person(std::string_view citizen_id, v1::FundingSource source) {
  return StrCat(kPersonPrefix, citizen_id, "/", SourceName(source));
}
std::string FiscalFund(v1::FiscalPurpose purpose, int year) {
  std::string name = v1::FiscalPurpose_Name(purpose).substr(sizeof("FISCAL_PURPOSE_") - 1);
  std::transform(name.begin(), name.end(), name.begin(),
                 [](char c) { return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c; });
  return StrCat("fiscal_funds/", name, "/", year);
}
}  // namespace accounts

namespace {

using accounts::Person;

void Add(std::vector<v1::Posting>& out, std::string debit, std::string credit, int64_t amount) {
  if (amount == 0) return;
  if (amount < 0) {
    std::swap(debit, credit);
    amount = -amount;
  }
  v1::Posting& p = out.emplace_back();
  p.set_debit_account(std::move(debit));
  p.set_credit_account(std::move(credit));
  p.set_amount_fen(amount);
}

// Where a collection's money sits: the personal source of the account, or suspense.
std::string CollectionHome(std::string_view citizen_id, v1::SuspenseReason suspense) {
  return suspense == v1::SUSPENSE_REASON_UNSPECIFIED
             ? Person(citizen_id, v1::FUNDING_SOURCE_PERSONAL)
             : std::string(accounts::kSuspense);
}

int YearOfMonth(int yyyymm) { return yyyymm / 100; }

// The enrolled participant's account, to change (written at the commit).
absl::StatusOr<v1::Account*> MustChangeAccount(WorkingState& state, std::string_view citizen_id) {
  LEDGER_ASSIGN_OR_RETURN(v1::Account * account, state.ChangeAccount(citizen_id));
  LEDGER_CHECK(account != nullptr, "event for a participant who is not enrolled");
  return account;
}

bool IsInterestEvent(const v1::EventEnvelope& e) {
  return e.has_interest_posted() || e.has_interest_adjusted() || e.has_interest_accrued();
}

int InterestYear(const v1::EventEnvelope& e) {
  if (e.has_interest_accrued()) return e.interest_accrued().year();
  return e.has_interest_posted() ? e.interest_posted().year() : e.interest_adjusted().year();
}

// One leg: `delta_fen` debit-positive. Person legs move the account projection (a credit raises
// the source's balance) and roll up into the region's control account.
absl::Status PostLeg(const v1::EventEnvelope& event, std::string_view account_name,
                     int64_t delta_fen, WorkingState& state) {
  if (!account_name.starts_with(accounts::kPersonPrefix)) {
    state.Post(event.region_code(), account_name, delta_fen);
    return ReconcilePostingLeg(event, account_name, delta_fen, state);
  }
  const std::string_view rest = account_name.substr(accounts::kPersonPrefix.size());
  const size_t slash = rest.find('/');
  const std::string_view id = rest.substr(0, slash);
  const std::string_view source_name = rest.substr(slash + 1);
  const v1::FundingSource source = SourceFromName(source_name);
  LEDGER_CHECK(source != v1::FUNDING_SOURCE_UNSPECIFIED, StrCat("unknown source ", source_name));
  LEDGER_ASSIGN_OR_RETURN(v1::Account * account, MustChangeAccount(state, id));
  if (event.has_interest_accrued()) {
    RecordAccruedInterest(*account, source, -delta_fen, event.interest_accrued().year(),
                          event.interest_accrued().through_month());
  } else if (IsInterestEvent(event)) {
    RecordInterest(*account, source, -delta_fen, InterestYear(event));
  } else {
    auto date = ParseDate(event.effective_date());
    LEDGER_CHECK(date.ok(), "money event without a valid effective date");
    RecordMovement(*account, source, -delta_fen, *date);
  }
  LEDGER_CHECK(!AnyBalanceNegative(*account), "an individual account source went below zero");
  account->set_last_sequence(event.sequence());
  state.Post(account->region_code(), accounts::kIndividualControlPrefix, source_name, delta_fen);
  return absl::OkStatus();
}

void Recount(v1::Account& account) {
  account.set_contribution_years(CountContributionYears(account));
}

}  // namespace

std::string_view ParticipantOf(const v1::EventEnvelope& e) {
  switch (e.event_case()) {
    case v1::EventEnvelope::kParticipantEnrolled: return e.participant_enrolled().citizen_id();
    case v1::EventEnvelope::kContributionCollected: return e.contribution_collected().citizen_id();
    case v1::EventEnvelope::kContributionCancelled: return e.contribution_cancelled().citizen_id();
    case v1::EventEnvelope::kGovernmentSubsidyCredited:
      return e.government_subsidy_credited().citizen_id();
    case v1::EventEnvelope::kCollectiveSubsidyCredited:
      return e.collective_subsidy_credited().citizen_id();
    case v1::EventEnvelope::kContributionRefunded: return e.contribution_refunded().citizen_id();
    case v1::EventEnvelope::kGovernmentSubsidyReversed:
      return e.government_subsidy_reversed().citizen_id();
    case v1::EventEnvelope::kCollectiveSubsidyReversed:
      return e.collective_subsidy_reversed().citizen_id();
    case v1::EventEnvelope::kCadreRoleRecorded: return e.cadre_role_recorded().citizen_id();
    case v1::EventEnvelope::kCadreSubsidyCredited: return e.cadre_subsidy_credited().citizen_id();
    case v1::EventEnvelope::kCadreSubsidyReversed: return e.cadre_subsidy_reversed().citizen_id();
    case v1::EventEnvelope::kInterestPosted: return e.interest_posted().citizen_id();
    case v1::EventEnvelope::kInterestAdjusted: return e.interest_adjusted().citizen_id();
    case v1::EventEnvelope::kInterestAccrued: return e.interest_accrued().citizen_id();
    case v1::EventEnvelope::kBenefitOverpaymentRecovered:
      return e.benefit_overpayment_recovered().citizen_id();
    case v1::EventEnvelope::kBenefitStarted: return e.benefit_started().citizen_id();
    case v1::EventEnvelope::kBenefitRecalculated: return e.benefit_recalculated().citizen_id();
    case v1::EventEnvelope::kBenefitPaid: return e.benefit_paid().citizen_id();
    case v1::EventEnvelope::kParticipantSuspended: return e.participant_suspended().citizen_id();
    case v1::EventEnvelope::kParticipantResumed: return e.participant_resumed().citizen_id();
    case v1::EventEnvelope::kParticipantDied: return e.participant_died().citizen_id();
    case v1::EventEnvelope::kBenefitOverpaymentRecognized:
      return e.benefit_overpayment_recognized().citizen_id();
    case v1::EventEnvelope::kFuneralSubsidyPaid: return e.funeral_subsidy_paid().citizen_id();
    case v1::EventEnvelope::kInheritancePaid: return e.inheritance_paid().citizen_id();
    case v1::EventEnvelope::kParticipantTerminated:
      return e.participant_terminated().citizen_id();
    case v1::EventEnvelope::kTerminationSubsidyReturned:
      return e.termination_subsidy_returned().citizen_id();
    case v1::EventEnvelope::kTerminationBalancePaid:
      return e.termination_balance_paid().citizen_id();
    case v1::EventEnvelope::kParticipantTransferredOut:
      return e.participant_transferred_out().citizen_id();
    case v1::EventEnvelope::kParticipantTransferredIn:
      return e.participant_transferred_in().citizen_id();
    default: return {};
  }
}

namespace {

// Postings of money arriving: collections and their reversals, fiscal funds and subsidies,
// and the fund's bank movements. False when `event` is not one of them.
bool AddInflowPostings(const v1::EventEnvelope& event, const std::string& id,
                       std::vector<v1::Posting>& out) {
  switch (event.event_case()) {
    case v1::EventEnvelope::kContributionCollected: {
      const auto& c = event.contribution_collected();
      Add(out, std::string(accounts::kTaxReceivable), CollectionHome(id, c.suspense_reason()),
          c.amount_fen());
      return true;
    }
    case v1::EventEnvelope::kContributionCancelled: {
      const auto& c = event.contribution_cancelled();
      Add(out, CollectionHome(id, c.original_suspense_reason()),
          std::string(accounts::kTaxReceivable), c.amount_fen());
      return true;
    }
    case v1::EventEnvelope::kFiscalFundsReceived: {
      const auto& f = event.fiscal_funds_received();
      Add(out, std::string(accounts::kFundSpecial), accounts::FiscalFund(f.purpose(), f.year()),
          f.amount_fen());
      return true;
    }
    case v1::EventEnvelope::kGovernmentSubsidyCredited: {
      const auto& g = event.government_subsidy_credited();
      Add(out, accounts::FiscalFund(g.purpose(), g.contribution_year()),
          Person(id, v1::FUNDING_SOURCE_GOVERNMENT), g.amount_fen());
      return true;
    }
    case v1::EventEnvelope::kCollectiveSubsidyCredited: {
      const auto& c = event.collective_subsidy_credited();
      Add(out, std::string(accounts::kFundSpecial), Person(id, c.source()), c.amount_fen());
      return true;
    }
    case v1::EventEnvelope::kGovernmentSubsidyReversed: {
      const auto& g = event.government_subsidy_reversed();
      Add(out, Person(id, v1::FUNDING_SOURCE_GOVERNMENT),
          accounts::FiscalFund(g.purpose(), g.contribution_year()), g.amount_fen());
      return true;
    }
    case v1::EventEnvelope::kCollectiveSubsidyReversed: {
      const auto& c = event.collective_subsidy_reversed();
      Add(out, Person(id, c.source()), std::string(accounts::kCollectiveRefundsPayable),
          c.amount_fen());
      return true;
    }
    case v1::EventEnvelope::kCadreSubsidyCredited: {
      const auto& c = event.cadre_subsidy_credited();
      Add(out, accounts::FiscalFund(c.purpose(), c.year()),
          Person(id, v1::FUNDING_SOURCE_COLLECTIVE), c.amount_fen());
      return true;
    }
    case v1::EventEnvelope::kCadreSubsidyReversed: {
      const auto& c = event.cadre_subsidy_reversed();
      Add(out, Person(id, v1::FUNDING_SOURCE_COLLECTIVE), accounts::FiscalFund(c.purpose(), c.year()),
          c.amount_fen());
      return true;
    }
    case v1::EventEnvelope::kContributionRefunded: {
      const auto& r = event.contribution_refunded();
      Add(out, CollectionHome(id, r.original_suspense_reason()),
          std::string(accounts::kRefundsPayable), r.amount_fen());
      return true;
    }
    case v1::EventEnvelope::kTaxRemittanceReceived: {
      const auto& t = event.tax_remittance_received();
      Add(out, std::string(accounts::BankLedgerAccount(t.bank_account())),
          std::string(accounts::kTaxReceivable), t.amount_fen());
      return true;
    }
    case v1::EventEnvelope::kFundTransferred: {
      const auto& t = event.fund_transferred();
      Add(out, std::string(accounts::BankLedgerAccount(t.to_account())),
          std::string(accounts::BankLedgerAccount(t.from_account())), t.amount_fen());
      return true;
    }
    case v1::EventEnvelope::kBankInterestReceived: {
      const auto& b = event.bank_interest_received();
      Add(out, std::string(accounts::BankLedgerAccount(b.bank_account())),
          std::string(accounts::kBankInterestIncome), b.amount_fen());
      return true;
    }
    default:
      return false;
  }
}

// Postings of interest and of money leaving the accounts: benefits, overpayments, death and
// transfers. False when `event` is not one of them.
bool AddOutflowPostings(const v1::EventEnvelope& event, const std::string& id,
                        std::vector<v1::Posting>& out) {
  switch (event.event_case()) {
    case v1::EventEnvelope::kInterestPosted:
      for (const auto& p : event.interest_posted().parts()) {
        Add(out, std::string(accounts::kInterestExpense), Person(id, p.source()), p.amount_fen());
      }
      return true;
    case v1::EventEnvelope::kInterestAdjusted:
      for (const auto& p : event.interest_adjusted().parts()) {
        Add(out, std::string(accounts::kInterestExpense), Person(id, p.source()), p.amount_fen());
      }
      return true;
    case v1::EventEnvelope::kInterestAccrued:
      for (const auto& p : event.interest_accrued().parts()) {
        Add(out, std::string(accounts::kInterestExpense), Person(id, p.source()), p.amount_fen());
      }
      return true;
    case v1::EventEnvelope::kBenefitOverpaymentRecovered: {
      const auto& r = event.benefit_overpayment_recovered();
      const bool recovered = r.method() == v1::OVERPAYMENT_RECOVERY_METHOD_RECOVERED;
      Add(out, std::string(recovered ? accounts::kFundPayment : accounts::kOverpaymentWrittenOff),
          std::string(accounts::kOverpaymentReceivable), r.amount_fen());
      return true;
    }
    case v1::EventEnvelope::kBenefitPaid: {
      const auto& b = event.benefit_paid();
      Add(out, accounts::FiscalFund(v1::FISCAL_PURPOSE_BASIC_PENSION, YearOfMonth(b.month())),
          std::string(accounts::kFundPayment), b.basic_fen());
      for (const auto& p : b.account_parts()) {
        Add(out, Person(id, p.source()), std::string(accounts::kFundPayment), p.amount_fen());
      }
      Add(out, b.pooled_payer(), std::string(accounts::kFundPayment), b.pooled_fen());
      return true;
    }
    case v1::EventEnvelope::kBenefitOverpaymentRecognized: {
      const auto& o = event.benefit_overpayment_recognized();
      for (const auto& p : o.account_parts()) {
        Add(out, std::string(accounts::kOverpaymentReceivable), Person(id, p.source()),
            p.amount_fen());
      }
      Add(out, std::string(accounts::kOverpaymentReceivable),
          std::string(accounts::kOverpaidBenefits), o.basic_fen() + o.pooled_fen());
      return true;
    }
    case v1::EventEnvelope::kFuneralSubsidyPaid:
      Add(out, std::string(accounts::kFuneralSubsidyPaid), std::string(accounts::kHeirsPayable),
          event.funeral_subsidy_paid().amount_fen());
      return true;
    case v1::EventEnvelope::kInheritancePaid: {
      const auto& i = event.inheritance_paid();
      int64_t to_pool = i.to_pool_fen();
      for (const auto& p : i.parts()) {
        // Only the government source can go to the pool (deaths before 2014-02-21).
        const int64_t pooled = p.source() == v1::FUNDING_SOURCE_GOVERNMENT ? to_pool : 0;
        to_pool -= pooled;
        Add(out, Person(id, p.source()), std::string(accounts::kPooledFund), pooled);
        Add(out, Person(id, p.source()), std::string(accounts::kHeirsPayable),
            p.amount_fen() - pooled);
      }
      Add(out, std::string(accounts::kHeirsPayable),
          std::string(accounts::kOverpaymentReceivable), i.overpayment_offset_fen());
      return true;
    }
    case v1::EventEnvelope::kTerminationSubsidyReturned: {
      const auto& t = event.termination_subsidy_returned();
      for (const auto& r : t.returns()) {
        Add(out, Person(id, v1::FUNDING_SOURCE_GOVERNMENT),
            accounts::FiscalFund(r.purpose(), r.year()), r.amount_fen());
      }
      Add(out, Person(id, v1::FUNDING_SOURCE_GOVERNMENT), std::string(accounts::kPooledFund),
          t.to_pool_fen());
      return true;
    }
    case v1::EventEnvelope::kTerminationBalancePaid: {
      const auto& t = event.termination_balance_paid();
      const std::string payee(t.payee() == v1::TERMINATION_PAYEE_EMPLOYEE_SCHEME
                                  ? accounts::kEmployeeSchemePayable
                                  : accounts::kRefundsPayable);
      for (const auto& p : t.parts()) Add(out, Person(id, p.source()), payee, p.amount_fen());
      Add(out, payee, std::string(accounts::kOverpaymentReceivable), t.overpayment_offset_fen());
      return true;
    }
    case v1::EventEnvelope::kParticipantTransferredOut:
      for (const auto& p : event.participant_transferred_out().parts()) {
        Add(out, Person(id, p.source()), std::string(accounts::kTransfersInTransit),
            p.amount_fen());
      }
      return true;
    case v1::EventEnvelope::kParticipantTransferredIn:
      for (const auto& p : event.participant_transferred_in().parts()) {
        Add(out, std::string(accounts::kTransfersInTransit), Person(id, p.source()),
            p.amount_fen());
      }
      return true;
    default:
      return false;
  }
}

}  // namespace

std::vector<v1::Posting> PostingsFor(const v1::EventEnvelope& event) {
  std::vector<v1::Posting> out;
  const std::string id(ParticipantOf(event));
  if (!AddInflowPostings(event, id, out)) AddOutflowPostings(event, id, out);
  return out;
}

namespace {

// The legs of the event's postings, and the idempotency index of lifecycle commands.
absl::Status ApplyPostings(const v1::EventEnvelope& event, WorkingState& state) {
  if (event.has_participant_transferred_in()) {
    // The money arrives in the new region: its person legs roll up into that region's controls.
    LEDGER_ASSIGN_OR_RETURN(v1::Account * a, MustChangeAccount(state, ParticipantOf(event)));
    a->set_region_code(event.region_code());
  }
  for (const v1::Posting& p : PostingsFor(event)) {
    LEDGER_CHECK(p.amount_fen() > 0, "posting amount must be positive");
    LEDGER_CHECK(p.debit_account() != p.credit_account(), "posting to itself");
    LEDGER_RETURN_IF_ERROR(PostLeg(event, p.debit_account(), p.amount_fen(), state));
    LEDGER_RETURN_IF_ERROR(PostLeg(event, p.credit_account(), -p.amount_fen(), state));
  }
  if (!event.command_digest().empty()) {
    // The idempotency index of lifecycle commands: document reference → first and last event.
    LEDGER_ASSIGN_OR_RETURN(auto document, state.FindDocument(event.external_ref()));
    if (document) {
      LEDGER_CHECK(document->digest == event.command_digest(),
                   "a document reference reused by a different command");
      document->last_sequence = event.sequence();
    } else {
      document = DocumentEntry{event.sequence(), event.sequence(), event.command_digest()};
    }
    state.PutDocument(event.external_ref(), *document);
  }
  return absl::OkStatus();
}

void Enrol(const v1::ParticipantEnrolled& e, uint64_t sequence, WorkingState& state) {
  v1::Account& a = state.NewAccount(e.citizen_id());
  a.set_citizen_id(e.citizen_id());
  a.set_name(e.name());
  a.set_region_code(e.region_code());
  a.set_enrolment_date(e.enrolment_date());
  a.set_special_group(e.special_group());
  a.set_eligibility_attestation(e.eligibility_attestation());
  a.set_status(v1::PARTICIPANT_STATUS_CONTRIBUTING);
  a.set_enrolled_sequence(sequence);
  a.set_last_sequence(sequence);
}

void AddContribution(const v1::ContributionCollected& c, v1::Account& a) {
  auto* year = a.add_contributions();
  year->set_year(c.contribution_year());
  year->set_amount_fen(c.amount_fen());
  year->set_receipt_number(c.receipt_number());
  year->set_collection_date(c.collection_date());
  auto date = ParseDate(c.collection_date());
  year->set_back_payment(date.ok() && date->year() > c.contribution_year());
  Recount(a);
}

void RemoveContribution(const std::string& receipt, v1::Account& a) {
  auto* list = a.mutable_contributions();
  auto it = std::find_if(list->begin(), list->end(), [&](const v1::YearContribution& y) {
    return y.receipt_number() == receipt;
  });
  LEDGER_CHECK(it != list->end(), "reversing a contribution the account does not hold");
  list->erase(it);
  Recount(a);
}

// What a cancelled or refunded contribution reverses.
struct Reversal {
  const std::string& receipt;
  uint64_t original_sequence;
  bool in_account;  // the money had reached the account (not suspense)
};

Reversal ReversalOf(const v1::EventEnvelope& event) {
  if (event.has_contribution_cancelled()) {
    const auto& c = event.contribution_cancelled();
    return Reversal{c.receipt_number(), c.original_sequence(),
                    c.original_suspense_reason() == v1::SUSPENSE_REASON_UNSPECIFIED};
  }
  const auto& r = event.contribution_refunded();
  return Reversal{r.receipt_number(), r.original_sequence(),
                  r.original_suspense_reason() == v1::SUSPENSE_REASON_UNSPECIFIED};
}

void CreditSubsidy(const v1::GovernmentSubsidyCredited& g, v1::Account& a) {
  v1::AccountYear& y = YearOf(a, g.contribution_year());
  if (g.purpose() == v1::FISCAL_PURPOSE_PAID_ON_BEHALF) {
    y.set_paid_on_behalf_fen(y.paid_on_behalf_fen() + g.amount_fen());
  } else {
    y.set_government_subsidy_fen(y.government_subsidy_fen() + g.amount_fen());
  }
  Recount(a);
}

// The roles in force: a record replacing another takes its place (a withdrawal just removes it).
void RecordCadreRole(const v1::CadreRoleRecorded& r, const v1::EventEnvelope& event,
                     v1::Account& a) {
  auto* roles = a.mutable_cadre_roles();
  if (!r.replaces_ref().empty()) {
    auto it = std::find_if(roles->begin(), roles->end(), [&](const v1::CadreRole& role) {
      return role.document_ref() == r.replaces_ref();
    });
    LEDGER_CHECK(it != roles->end(), "replacing a cadre role the account does not hold");
    roles->erase(it);
  }
  if (r.withdrawn()) return;
  v1::CadreRole* role = roles->Add();
  role->set_document_ref(event.external_ref());
  role->set_post(r.post());
  role->set_served_from(r.served_from());
  role->set_served_to(r.served_to());
  role->set_sequence(event.sequence());
}

void CreditCadreSubsidy(const v1::CadreSubsidyCredited& c, const v1::EventEnvelope& event,
                        v1::Account& a) {
  auto* list = a.mutable_cadre_subsidies();
  auto it = std::find_if(list->begin(), list->end(),
                         [&](const v1::CadreSubsidyYear& y) { return y.year() >= c.year(); });
  LEDGER_CHECK(it == list->end() || it->year() != c.year(), "a year's cadre subsidy credited twice");
  const int at = static_cast<int>(it - list->begin());
  v1::CadreSubsidyYear* y = list->Add();
  y->set_year(c.year());
  y->set_amount_fen(c.amount_fen());
  y->set_program(c.program());
  y->set_purpose(c.purpose());
  y->set_document_ref(event.external_ref());
  for (int i = list->size() - 1; i > at; --i) list->SwapElements(i, i - 1);
}

void ReverseCadreSubsidy(const v1::CadreSubsidyReversed& c, v1::Account& a) {
  auto* list = a.mutable_cadre_subsidies();
  auto it = std::find_if(list->begin(), list->end(),
                         [&](const v1::CadreSubsidyYear& y) { return y.year() == c.year(); });
  LEDGER_CHECK(it != list->end() && it->amount_fen() >= c.amount_fen(),
               "reversing more cadre subsidy than was credited");
  it->set_amount_fen(it->amount_fen() - c.amount_fen());
  if (it->amount_fen() == 0) list->erase(it);
}

void StartBenefit(const v1::BenefitStarted& b, v1::Account& a) {
  a.set_status(v1::PARTICIPANT_STATUS_DRAWING_PENSION);
  v1::Benefit* benefit = a.mutable_benefit();
  benefit->set_start_month(b.start_month());
  benefit->set_next_month(b.start_month());
  benefit->set_account_pension_monthly_fen(b.account_pension_monthly_fen());
  benefit->set_balance_at_start_fen(b.balance_fen());
  benefit->set_contribution_years(b.contribution_years());
}

void PayBenefit(const v1::BenefitPaid& b, v1::Account& a) {
  v1::Benefit* benefit = a.mutable_benefit();
  benefit->set_next_month(NextMonth(b.month()));
  benefit->set_paid_basic_fen(benefit->paid_basic_fen() + b.basic_fen());
  int64_t drawn = 0;
  for (const auto& p : b.account_parts()) drawn += p.amount_fen();
  benefit->set_paid_account_fen(benefit->paid_account_fen() + drawn);
  benefit->set_paid_pooled_fen(benefit->paid_pooled_fen() + b.pooled_fen());
}

void ResumeBenefit(const v1::ParticipantResumed& r, v1::Account& a) {
  a.set_status(v1::PARTICIPANT_STATUS_DRAWING_PENSION);
  v1::Benefit* benefit = a.mutable_benefit();
  benefit->set_suspended_from(0);
  if (!r.back_pay()) benefit->set_next_month(std::max(benefit->next_month(), r.month()));
}

void TransferIn(const v1::ParticipantTransferredIn& t, v1::Account& a) {
  a.set_status(v1::PARTICIPANT_STATUS_CONTRIBUTING);
  a.clear_transferred_to();
  for (int32_t year : t.contribution_years()) {
    const bool held = std::any_of(a.contributions().begin(), a.contributions().end(),
                                  [&](const auto& c) { return c.year() == year; });
    if (held) continue;
    auto* c = a.add_contributions();
    c->set_year(year);
    c->set_transferred_from(t.from_region());
  }
  Recount(a);
}

// The participant's account after an event that changes more than its balances (Apply routes
// only those here).
void ChangeAccount(const v1::EventEnvelope& event, v1::Account& a) {
  switch (event.event_case()) {
    case v1::EventEnvelope::kGovernmentSubsidyCredited:
      CreditSubsidy(event.government_subsidy_credited(), a);
      break;
    case v1::EventEnvelope::kCollectiveSubsidyCredited: {
      const auto& c = event.collective_subsidy_credited();
      AddCollective(a, c.contribution_year(), c.source(), c.amount_fen());
      break;
    }
    case v1::EventEnvelope::kGovernmentSubsidyReversed: {
      const auto& g = event.government_subsidy_reversed();
      v1::AccountYear& y = YearOf(a, g.contribution_year());
      y.set_government_subsidy_fen(y.government_subsidy_fen() - g.amount_fen());
      Recount(a);
      break;
    }
    case v1::EventEnvelope::kCollectiveSubsidyReversed: {
      const auto& c = event.collective_subsidy_reversed();
      AddCollective(a, c.contribution_year(), c.source(), -c.amount_fen());
      break;
    }
    case v1::EventEnvelope::kCadreRoleRecorded:
      RecordCadreRole(event.cadre_role_recorded(), event, a);
      break;
    case v1::EventEnvelope::kCadreSubsidyCredited:
      CreditCadreSubsidy(event.cadre_subsidy_credited(), event, a);
      break;
    case v1::EventEnvelope::kCadreSubsidyReversed:
      ReverseCadreSubsidy(event.cadre_subsidy_reversed(), a);
      break;
    case v1::EventEnvelope::kInterestPosted:
      YearOf(a, event.interest_posted().year()).set_interest_posted(true);
      break;
    case v1::EventEnvelope::kBenefitStarted:
      StartBenefit(event.benefit_started(), a);
      break;
    case v1::EventEnvelope::kBenefitPaid:
      PayBenefit(event.benefit_paid(), a);
      break;
    case v1::EventEnvelope::kBenefitRecalculated: {
      const auto& r = event.benefit_recalculated();
      v1::Benefit* benefit = a.mutable_benefit();
      benefit->set_late_credits_fen(benefit->late_credits_fen() + r.late_credit_fen());
      benefit->set_account_pension_monthly_fen(r.account_pension_monthly_fen());
      benefit->set_recalculated_from_month(r.effective_month());
      break;
    }
    case v1::EventEnvelope::kParticipantSuspended:
      a.set_status(v1::PARTICIPANT_STATUS_SUSPENDED);
      a.mutable_benefit()->set_suspended_from(event.participant_suspended().from_month());
      break;
    case v1::EventEnvelope::kParticipantResumed:
      ResumeBenefit(event.participant_resumed(), a);
      break;
    case v1::EventEnvelope::kParticipantDied:
      a.set_status(v1::PARTICIPANT_STATUS_DECEASED);
      a.set_date_of_death(event.participant_died().date_of_death());
      break;
    case v1::EventEnvelope::kParticipantTerminated:
      a.set_status(v1::PARTICIPANT_STATUS_TERMINATED);
      a.set_termination_reason(event.participant_terminated().reason());
      a.set_termination_date(event.effective_date());
      a.set_termination_document_ref(event.external_ref());
      break;
    case v1::EventEnvelope::kParticipantTransferredOut:
      a.set_status(v1::PARTICIPANT_STATUS_TRANSFERRED_OUT);
      a.set_transferred_to(event.participant_transferred_out().to_region());
      break;
    case v1::EventEnvelope::kParticipantTransferredIn:
      TransferIn(event.participant_transferred_in(), a);
      break;
    default:
      LEDGER_CHECK(false, StrCat("not an account change: ", EventTypeName(event)));
  }
}

}  // namespace

absl::Status Apply(const v1::EventEnvelope& event, WorkingState& state) {
  LEDGER_RETURN_IF_ERROR(ApplyPostings(event, state));
  const std::string_view id = ParticipantOf(event);
  // The participant's account, for the events that change more than balances.
  auto account = [&]() -> absl::StatusOr<v1::Account*> {
    LEDGER_ASSIGN_OR_RETURN(v1::Account * a, MustChangeAccount(state, id));
    a->set_last_sequence(event.sequence());
    return a;
  };
  switch (event.event_case()) {
    case v1::EventEnvelope::kPolicyAdopted:
      state.PutPolicy(event.policy_adopted().policy(), event.sequence());
      break;
    case v1::EventEnvelope::kParticipantEnrolled:
      Enrol(event.participant_enrolled(), event.sequence(), state);
      break;
    case v1::EventEnvelope::kContributionCollected: {
      const auto& c = event.contribution_collected();
      state.PutReceipt(c.receipt_number(), ReceiptEntry{event.sequence(), 0});
      if (c.suspense_reason() == v1::SUSPENSE_REASON_UNSPECIFIED) {
        LEDGER_ASSIGN_OR_RETURN(v1::Account * a, account());
        AddContribution(c, *a);
      }
      break;
    }
    case v1::EventEnvelope::kContributionCancelled:
    case v1::EventEnvelope::kContributionRefunded: {
      const Reversal r = ReversalOf(event);
      state.PutReceipt(r.receipt, ReceiptEntry{r.original_sequence, event.sequence()});
      if (r.in_account) {
        LEDGER_ASSIGN_OR_RETURN(v1::Account * a, account());
        RemoveContribution(r.receipt, *a);
      }
      break;
    }
    case v1::EventEnvelope::kJobCompleted:
      state.PutJobMark(event.region_code(), event.job_completed().kind(),
                       event.job_completed().period());
      break;
    case v1::EventEnvelope::kGovernmentSubsidyCredited:
    case v1::EventEnvelope::kCollectiveSubsidyCredited:
    case v1::EventEnvelope::kGovernmentSubsidyReversed:
    case v1::EventEnvelope::kCollectiveSubsidyReversed:
    case v1::EventEnvelope::kCadreRoleRecorded:
    case v1::EventEnvelope::kCadreSubsidyCredited:
    case v1::EventEnvelope::kCadreSubsidyReversed:
    case v1::EventEnvelope::kInterestPosted:
    case v1::EventEnvelope::kBenefitStarted:
    case v1::EventEnvelope::kBenefitPaid:
    case v1::EventEnvelope::kBenefitRecalculated:
    case v1::EventEnvelope::kParticipantSuspended:
    case v1::EventEnvelope::kParticipantResumed:
    case v1::EventEnvelope::kParticipantDied:
    case v1::EventEnvelope::kParticipantTerminated:
    case v1::EventEnvelope::kParticipantTransferredOut:
    case v1::EventEnvelope::kParticipantTransferredIn: {
      LEDGER_ASSIGN_OR_RETURN(v1::Account * a, account());
      ChangeAccount(event, *a);
      break;
    }
    case v1::EventEnvelope::kFiscalFundsReceived:
    case v1::EventEnvelope::kTaxRemittanceReceived:
    case v1::EventEnvelope::kFundTransferred:
    case v1::EventEnvelope::kBankInterestReceived:
    case v1::EventEnvelope::kBankBalanceReported:      // the reconciliation's, below
    case v1::EventEnvelope::kTaxDailyTotalsReported:  // the reconciliation's, below
    case v1::EventEnvelope::kInterestAdjusted:
    case v1::EventEnvelope::kBenefitOverpaymentRecognized:
    case v1::EventEnvelope::kFuneralSubsidyPaid:
    case v1::EventEnvelope::kInheritancePaid:
    case v1::EventEnvelope::kInterestAccrued:  // the account changes through its postings
    case v1::EventEnvelope::kBenefitOverpaymentRecovered:
    case v1::EventEnvelope::kTerminationSubsidyReturned:
    case v1::EventEnvelope::kTerminationBalancePaid:
      break;  // postings only
    case v1::EventEnvelope::EVENT_NOT_SET:
      LEDGER_CHECK(false, "event without a body");
  }
  return ApplyToReconciliation(event, state);
}

}  // namespace ledger
