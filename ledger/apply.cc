#include "ledger/apply.h"

#include <algorithm>

#include "ledger/strings.h"
#include "ledger/status_macros.h"
#include "ledger/working_state.h"

namespace ledger {
namespace accounts {
std::string Person(std::string_view citizen_id, std::string_view source) {
  return StrCat(kPersonPrefix, citizen_id, "/", source);
}
}  // namespace accounts

namespace {

v1::Posting MakePosting(std::string debit, std::string credit, int64_t amount_fen) {
  v1::Posting p;
  p.set_debit_account(std::move(debit));
  p.set_credit_account(std::move(credit));
  p.set_amount_fen(amount_fen);
  return p;
}

// Where a collection's money sits: the personal source of the account, or suspense.
std::string CollectionHome(std::string_view citizen_id, v1::SuspenseReason suspense) {
  return suspense == v1::SUSPENSE_REASON_UNSPECIFIED
             ? accounts::Person(citizen_id, accounts::kPersonal)
             : std::string(accounts::kSuspense);
}

v1::FundingSource SourceByName(std::string_view name) {
  if (name == accounts::kPersonal) return v1::FUNDING_SOURCE_PERSONAL;
  LEDGER_CHECK(false, StrCat("unknown funding source ", name));
  return v1::FUNDING_SOURCE_UNSPECIFIED;
}

void RecomputeTotal(v1::Account& account) {
  int64_t total = 0;
  for (const auto& b : account.balances()) total += b.principal_fen() + b.interest_fen();
  account.set_total_fen(total);
}

absl::StatusOr<v1::Account*> MustFindAccount(WorkingState& state, std::string_view citizen_id) {
  LEDGER_ASSIGN_OR_RETURN(v1::Account * account, state.FindAccount(citizen_id));
  LEDGER_CHECK(account != nullptr, "money event for a participant who is not enrolled");
  return account;
}

// One leg: `delta_fen` debit-positive. Person legs move the account projection's source balance
// (a credit raises it) and roll up into the region's control account.
absl::Status PostLeg(const v1::EventEnvelope& event, std::string_view account_name,
                     int64_t delta_fen, WorkingState& state) {
  if (!account_name.starts_with(accounts::kPersonPrefix)) {
    state.Post(event.region_code(), account_name, delta_fen);
    return absl::OkStatus();
  }
  const std::string_view rest = account_name.substr(accounts::kPersonPrefix.size());
  const size_t slash = rest.find('/');
  const std::string_view id = rest.substr(0, slash);
  const std::string_view source_name = rest.substr(slash + 1);
  LEDGER_ASSIGN_OR_RETURN(v1::Account * account, MustFindAccount(state, id));
  const v1::FundingSource source = SourceByName(source_name);
  v1::SourceBalance* balance = nullptr;
  for (auto& b : *account->mutable_balances()) {
    if (b.source() == source) balance = &b;
  }
  if (balance == nullptr) {
    balance = account->add_balances();
    balance->set_source(source);
    std::sort(account->mutable_balances()->begin(), account->mutable_balances()->end(),
              [](const auto& a, const auto& b) { return a.source() < b.source(); });
    for (auto& b : *account->mutable_balances()) {
      if (b.source() == source) balance = &b;
    }
  }
  balance->set_principal_fen(balance->principal_fen() - delta_fen);
  LEDGER_CHECK(balance->principal_fen() >= 0, "an individual account source went below zero");
  RecomputeTotal(*account);
  account->set_last_sequence(event.sequence());
  state.MarkAccountDirty(id);
  state.Post(account->region_code(),
             StrCat(accounts::kIndividualControlPrefix, source_name), delta_fen);
  return absl::OkStatus();
}

void RecountYears(v1::Account& account) {
  std::vector<int32_t> years;
  for (const auto& c : account.contributions()) years.push_back(c.year());
  std::sort(years.begin(), years.end());
  years.erase(std::unique(years.begin(), years.end()), years.end());
  account.set_contribution_years(static_cast<uint32_t>(years.size()));
}

}  // namespace

std::vector<v1::Posting> PostingsFor(const v1::EventEnvelope& event) {
  std::vector<v1::Posting> out;
  switch (event.event_case()) {
    case v1::EventEnvelope::kContributionCollected: {
      const auto& c = event.contribution_collected();
      out.push_back(MakePosting(std::string(accounts::kTaxReceivable),
                                CollectionHome(c.citizen_id(), c.suspense_reason()),
                                c.amount_fen()));
      break;
    }
    case v1::EventEnvelope::kContributionCancelled: {
      const auto& c = event.contribution_cancelled();
      out.push_back(MakePosting(CollectionHome(c.citizen_id(), c.original_suspense_reason()),
                                std::string(accounts::kTaxReceivable), c.amount_fen()));
      break;
    }
    default:
      break;
  }
  return out;
}

absl::Status Apply(const v1::EventEnvelope& event, WorkingState& state) {
  for (const v1::Posting& p : PostingsFor(event)) {
    LEDGER_CHECK(p.amount_fen() > 0, "posting amount must be positive");
    LEDGER_CHECK(p.debit_account() != p.credit_account(), "posting to itself");
    LEDGER_RETURN_IF_ERROR(PostLeg(event, p.debit_account(), p.amount_fen(), state));
    LEDGER_RETURN_IF_ERROR(PostLeg(event, p.credit_account(), -p.amount_fen(), state));
  }
  switch (event.event_case()) {
    case v1::EventEnvelope::kPolicyAdopted:
      state.PutPolicy(event.policy_adopted().policy(), event.sequence());
      break;
    case v1::EventEnvelope::kParticipantEnrolled: {
      const auto& e = event.participant_enrolled();
      v1::Account& account = state.NewAccount(e.citizen_id());
      account.set_citizen_id(e.citizen_id());
      account.set_name(e.name());
      account.set_region_code(e.region_code());
      account.set_enrolment_date(e.enrolment_date());
      account.set_special_group(e.special_group());
      account.set_status(v1::PARTICIPANT_STATUS_CONTRIBUTING);
      account.set_enrolled_sequence(event.sequence());
      account.set_last_sequence(event.sequence());
      break;
    }
    case v1::EventEnvelope::kContributionCollected: {
      const auto& c = event.contribution_collected();
      state.PutReceipt(c.receipt_number(), ReceiptEntry{event.sequence(), 0});
      if (c.suspense_reason() == v1::SUSPENSE_REASON_UNSPECIFIED) {
        LEDGER_ASSIGN_OR_RETURN(v1::Account * account, MustFindAccount(state, c.citizen_id()));
        auto* year = account->add_contributions();
        year->set_year(c.contribution_year());
        year->set_amount_fen(c.amount_fen());
        year->set_receipt_number(c.receipt_number());
        RecountYears(*account);
      }
      break;
    }
    case v1::EventEnvelope::kContributionCancelled: {
      const auto& c = event.contribution_cancelled();
      state.PutReceipt(c.receipt_number(), ReceiptEntry{c.original_sequence(), event.sequence()});
      if (c.original_suspense_reason() == v1::SUSPENSE_REASON_UNSPECIFIED) {
        LEDGER_ASSIGN_OR_RETURN(v1::Account * account, MustFindAccount(state, c.citizen_id()));
        auto* list = account->mutable_contributions();
        auto it = std::find_if(list->begin(), list->end(), [&](const v1::YearContribution& y) {
          return y.receipt_number() == c.receipt_number();
        });
        LEDGER_CHECK(it != list->end(), "cancelling a contribution the account does not hold");
        list->erase(it);
        RecountYears(*account);
      }
      break;
    }
    case v1::EventEnvelope::EVENT_NOT_SET:
      LEDGER_CHECK(false, "event without a body");
  }
  return absl::OkStatus();
}

}  // namespace ledger
