#include "ledger/rules.h"

#include <google/protobuf/util/message_differencer.h>

#include "ledger/citizen_id.h"
#include "ledger/command_checks.h"
#include "ledger/dates.h"
#include "ledger/limits.h"
#include "ledger/money.h"
#include "ledger/policy.h"
#include "ledger/reversal.h"
#include "ledger/status_macros.h"
#include "ledger/strings.h"
#include "ledger/working_state.h"

namespace ledger {
namespace {

using google::protobuf::util::MessageDifferencer;
using command::Check;
using command::PolicyFor;

Decision Duplicate(uint64_t sequence) {
  Decision d;
  d.duplicate_of = sequence;
  return d;
}

bool IsReceiptNumber(std::string_view s) {
  if (s.empty() || s.size() > kReceiptNumberBytesMax) return false;
  for (char c : s) {
    if (c < 0x21 || c > 0x7e) return false;  // printable ASCII, no spaces
  }
  return true;
}

// The record a ContributionCollected / ContributionCancelled event was made from, to compare a
// resent record with the original exactly (field by field, no digests).
v1::CollectionRecord RecordOf(const v1::EventEnvelope& e) {
  v1::CollectionRecord r;
  r.set_region_code(e.region_code());
  if (e.has_contribution_collected()) {
    const auto& c = e.contribution_collected();
    r.set_record_type(v1::RECORD_TYPE_ADD);
    r.set_receipt_number(c.receipt_number());
    r.set_citizen_id(c.citizen_id());
    r.set_name(c.name());
    r.set_contribution_year(c.contribution_year());
    r.set_amount_fen(c.amount_fen());
    r.set_collection_date(c.collection_date());
    r.set_tax_office(c.tax_office());
    r.set_batch_id(c.batch_id());
  } else if (e.has_contribution_cancelled()) {
    const auto& c = e.contribution_cancelled();
    r.set_record_type(v1::RECORD_TYPE_CANCEL);
    r.set_receipt_number(c.receipt_number());
    r.set_citizen_id(c.citizen_id());
    r.set_name(c.name());
    r.set_contribution_year(c.contribution_year());
    r.set_amount_fen(c.amount_fen());
    r.set_collection_date(c.cancel_date());
    r.set_tax_office(c.tax_office());
    r.set_batch_id(c.batch_id());
  }
  return r;
}

std::string TierList(const v1::YearRules& year) {
  std::string out;
  for (const v1::Tier& t : year.tiers()) {
    out += StrCat(out.empty() ? "" : ", ", FormatFen(t.amount_fen()));
  }
  return out;
}

// Syntax shared by ADD and CANCEL records.
Check CheckRecordSyntax(const v1::CollectionRecord& r) {
  if (r.record_type() != v1::RECORD_TYPE_ADD && r.record_type() != v1::RECORD_TYPE_CANCEL) {
    return Reject(v1::REASON_INVALID_RECORD_TYPE, "record_type must be ADD or CANCEL");
  }
  if (!IsReceiptNumber(r.receipt_number())) {
    return Reject(v1::REASON_MISSING_RECEIPT_NUMBER,
                  StrCat("receipt_number must be 1-", kReceiptNumberBytesMax,
                               " printable ASCII characters"));
  }
  if (auto st = ValidateCitizenId(r.citizen_id()); !st.ok()) {
    return Reject(v1::REASON_INVALID_CITIZEN_ID, std::string(st.message()));
  }
  if (!command::IsRegionCode(r.region_code())) {
    return Reject(v1::REASON_INVALID_FIELD,
                  StrCat("region_code ", QuoteForDetail(r.region_code()), " is not 6 digits"));
  }
  if (!IsCleanText(r.name(), kNameBytesMax) || !IsCleanText(r.tax_office(), kTaxOfficeBytesMax) ||
      !IsCleanText(r.batch_id(), kBatchIdBytesMax)) {
    return Reject(v1::REASON_INVALID_FIELD,
                  StrCat("name (≤", kNameBytesMax, " bytes), tax_office (≤",
                               kTaxOfficeBytesMax, ") and batch_id (≤", kBatchIdBytesMax,
                               ") must be UTF-8 without control characters"));
  }
  if (auto rej = command::CheckAmount(r.amount_fen(), kAmountFenMax)) return rej;
  if (!ParseDate(r.collection_date()).ok()) {
    return Reject(v1::REASON_INVALID_DATE,
                  StrCat("collection_date ", QuoteForDetail(r.collection_date()),
                         " is not YYYY-MM-DD"));
  }
  return std::nullopt;
}

// A resend is the same record whatever fields unknown to this version it carries (a newer
// client's): they are neither compared nor stored.
bool SameRecord(const v1::CollectionRecord& stored, const v1::CollectionRecord& sent) {
  if (sent.GetReflection()->GetUnknownFields(sent).empty()) {
    return MessageDifferencer::Equals(stored, sent);
  }
  v1::CollectionRecord known = sent;
  known.DiscardUnknownFields();
  return MessageDifferencer::Equals(stored, known);
}

// Why an accepted ADD record's money goes to suspense instead of `account` (nullptr: not
// enrolled); UNSPECIFIED when it goes into the account.
v1::SuspenseReason SuspenseFor(const v1::CollectionRecord& r, const v1::Account* account) {
  if (account == nullptr) return v1::SUSPENSE_REASON_NOT_ENROLLED;
  switch (account->status()) {
    case v1::PARTICIPANT_STATUS_DECEASED:
      return v1::SUSPENSE_REASON_DECEASED;
    case v1::PARTICIPANT_STATUS_DRAWING_PENSION:
    case v1::PARTICIPANT_STATUS_SUSPENDED:
      return v1::SUSPENSE_REASON_DRAWING_PENSION;
    case v1::PARTICIPANT_STATUS_TERMINATED:
    case v1::PARTICIPANT_STATUS_TRANSFERRED_OUT:
      return v1::SUSPENSE_REASON_TERMINATED;
    default:
      break;
  }
  if (account->region_code() != r.region_code()) return v1::SUSPENSE_REASON_REGION_MISMATCH;
  int back_paid = 0;
  for (const auto& c : account->contributions()) {
    if (c.year() == r.contribution_year()) return v1::SUSPENSE_REASON_YEAR_ALREADY_PAID;
    if (c.back_payment()) ++back_paid;
  }
  // A back payment (补缴) beyond the 15 years allowed in total (国发〔2014〕8号 §七).
  if (StoredDate(r.collection_date()).year() > r.contribution_year() &&
      back_paid >= kBackPaymentYearsMax) {
    return v1::SUSPENSE_REASON_BACK_PAYMENT_LIMIT;
  }
  return v1::SUSPENSE_REASON_UNSPECIFIED;
}

absl::StatusOr<Decision> DecideAdd(const v1::CollectionRecord& r, WorkingState& state,
                                   absl::CivilDay today) {
  LEDGER_ASSIGN_OR_RETURN(auto receipt, state.FindReceipt(r.receipt_number()));
  if (receipt) {
    LEDGER_ASSIGN_OR_RETURN(auto original, state.Event(receipt->collected_sequence));
    if (SameRecord(RecordOf(original), r)) {
      return Duplicate(receipt->collected_sequence);
    }
    return Reject(v1::REASON_DUPLICATE_RECEIPT_CONFLICT,
                  StrCat("receipt ", r.receipt_number(), " was recorded at sequence ",
                               receipt->collected_sequence, " with different content"));
  }
  const absl::CivilDay date = StoredDate(r.collection_date());  // CheckRecordSyntax parsed it
  const Decided<const v1::Policy*> policy_or = PolicyFor(state, r.region_code(), date);
  if (auto* rej = std::get_if<Rejection>(&policy_or)) return *rej;
  const v1::Policy* policy = std::get<const v1::Policy*>(policy_or);
  if (date > today) {
    return Reject(v1::REASON_DATE_IN_FUTURE,
                  StrCat("collection_date ", r.collection_date(), " is after today ",
                               FormatDate(today)));
  }
  const v1::YearRules* year = PolicyBook::Year(*policy, r.contribution_year());
  if (r.contribution_year() < kFirstContributionYear || r.contribution_year() > date.year() + 1 ||
      year == nullptr) {
    return Reject(v1::REASON_IMPLAUSIBLE_YEAR,
                  StrCat("contribution_year ", r.contribution_year(),
                               " is not payable on ", r.collection_date(), " under policy ",
                               policy->region_code(), " v", policy->version()));
  }
  if (FindTier(*year, r.amount_fen()) == nullptr) {
    return Reject(v1::REASON_AMOUNT_NOT_A_TIER,
                  StrCat("amount ", FormatFen(r.amount_fen()), " is not a ",
                               r.contribution_year(), " tier of region ", r.region_code(), " (",
                               TierList(*year), ")"));
  }

  LEDGER_ASSIGN_OR_RETURN(const v1::Account* account, state.FindAccount(r.citizen_id()));
  const v1::SuspenseReason suspense = SuspenseFor(r, account);

  Decision d;
  v1::EventEnvelope& e = d.event.emplace();
  e.set_effective_date(r.collection_date());
  e.set_external_ref(r.receipt_number());
  e.set_region_code(r.region_code());
  e.set_policy_version(policy->version());
  *e.mutable_contribution_collected() = CollectedFrom(r, suspense);
  return d;
}

// A cancellation repeats the original's citizen ID, region, year and amount, and is not dated
// in the future (step 3 of the reversal checks, ledger/reversal.h).
Check RepeatsOriginal(const v1::CollectionRecord& r, const v1::EventEnvelope& original_event,
                      uint64_t original_sequence, absl::CivilDay date, absl::CivilDay today) {
  const auto& original = original_event.contribution_collected();
  if (original.citizen_id() != r.citizen_id() || original_event.region_code() != r.region_code() ||
      original.contribution_year() != r.contribution_year() ||
      original.amount_fen() != r.amount_fen()) {
    return Reject(v1::REASON_CANCEL_MISMATCH,
                  StrCat("cancellation of receipt ", r.receipt_number(),
                               " differs from the original (sequence ", original_sequence,
                               ") in citizen ID, region, year or amount"));
  }
  if (date > today) {
    return Reject(v1::REASON_DATE_IN_FUTURE, StrCat("cancel date ", r.collection_date(),
                                                    " is after today ", FormatDate(today)));
  }
  return std::nullopt;
}

// The ContributionCancelled event an allowed CANCEL record becomes.
Decision CancellationOf(const v1::CollectionRecord& r, uint64_t original_sequence,
                        const v1::EventEnvelope& original_event) {
  const auto& original = original_event.contribution_collected();
  Decision d;
  v1::EventEnvelope& e = d.event.emplace();
  e.set_effective_date(r.collection_date());
  e.set_external_ref(r.receipt_number());
  e.set_region_code(r.region_code());
  e.set_policy_version(original_event.policy_version());
  auto* c = e.mutable_contribution_cancelled();
  c->set_receipt_number(r.receipt_number());
  c->set_citizen_id(r.citizen_id());
  c->set_contribution_year(r.contribution_year());
  c->set_amount_fen(r.amount_fen());
  c->set_name(r.name());
  c->set_cancel_date(r.collection_date());
  c->set_tax_office(r.tax_office());
  c->set_batch_id(r.batch_id());
  c->set_original_sequence(original_sequence);
  c->set_original_suspense_reason(original.suspense_reason());
  c->set_original_collection_date(original.collection_date());
  c->set_original_tax_office(original.tax_office());
  return d;
}

absl::StatusOr<Decision> DecideCancel(const v1::CollectionRecord& r, WorkingState& state,
                                      absl::CivilDay today) {
  LEDGER_ASSIGN_OR_RETURN(auto receipt, state.FindReceipt(r.receipt_number()));
  if (receipt && receipt->cancelled_sequence != 0) {
    // A resent cancellation is a duplicate; CheckReversal rejects any other.
    LEDGER_ASSIGN_OR_RETURN(auto cancel, state.Event(receipt->cancelled_sequence));
    if (SameRecord(RecordOf(cancel), r)) return Duplicate(receipt->cancelled_sequence);
  }
  const absl::CivilDay date = StoredDate(r.collection_date());  // CheckRecordSyntax parsed it
  LEDGER_ASSIGN_OR_RETURN(
      auto checked,
      CheckReversal(ReversalKind::kCancellation, receipt, r.receipt_number(), date, state,
                    [&](const v1::EventEnvelope& original) {
                      return RepeatsOriginal(r, original, receipt->collected_sequence, date, today);
                    }));
  if (auto* rej = std::get_if<Rejection>(&checked)) return *rej;
  return CancellationOf(r, receipt->collected_sequence, std::get<v1::EventEnvelope>(checked));
}

}  // namespace

v1::ContributionCollected CollectedFrom(const v1::CollectionRecord& r,
                                        v1::SuspenseReason suspense) {
  v1::ContributionCollected c;
  c.set_receipt_number(r.receipt_number());
  c.set_citizen_id(r.citizen_id());
  c.set_name(r.name());
  c.set_contribution_year(r.contribution_year());
  c.set_amount_fen(r.amount_fen());
  c.set_collection_date(r.collection_date());
  c.set_tax_office(r.tax_office());
  c.set_batch_id(r.batch_id());
  c.set_suspense_reason(suspense);
  return c;
}

absl::StatusOr<Decision> DecideCollection(const v1::CollectionRecord& record, WorkingState& state,
                                          absl::CivilDay today) {
  if (auto rejected = CheckRecordSyntax(record)) return *std::move(rejected);
  if (record.record_type() == v1::RECORD_TYPE_ADD) return DecideAdd(record, state, today);
  return DecideCancel(record, state, today);
}

namespace {

bool IsExcludedFromScheme(v1::EligibilityAttestation attestation) {
  return attestation == v1::ELIGIBILITY_ATTESTATION_STUDENT ||
         attestation == v1::ELIGIBILITY_ATTESTATION_PUBLIC_SERVANT ||
         attestation == v1::ELIGIBILITY_ATTESTATION_EMPLOYEE_SCHEME_MEMBER;
}

}  // namespace

absl::StatusOr<Decision> DecideEnrolment(const v1::ParticipantEnrolled& p, WorkingState& state,
                                         absl::CivilDay today) {
  if (auto st = ValidateCitizenId(p.citizen_id()); !st.ok()) {
    return Reject(v1::REASON_INVALID_CITIZEN_ID, std::string(st.message()));
  }
  if (p.name().empty() || !IsCleanText(p.name(), kNameBytesMax) ||
      !IsCleanText(p.ethnicity(), kEthnicityBytesMax) ||
      !IsCleanText(p.address(), kAddressBytesMax) || !IsCleanText(p.phone(), kPhoneBytesMax)) {
    return Reject(v1::REASON_INVALID_FIELD,
                  StrCat("name (1-", kNameBytesMax, " bytes), ethnicity (≤",
                               kEthnicityBytesMax, "), address (≤", kAddressBytesMax,
                               ") and phone (≤", kPhoneBytesMax,
                               ") must be UTF-8 without control characters"));
  }
  auto date = ParseDate(p.enrolment_date());
  if (!date.ok()) {
    return Reject(v1::REASON_INVALID_DATE,
                  StrCat("enrolment_date '", p.enrolment_date(), "' is not YYYY-MM-DD"));
  }
  if (*date > today) {
    return Reject(v1::REASON_DATE_IN_FUTURE,
                  StrCat("enrolment_date ", p.enrolment_date(), " is after today"));
  }
  if (!v1::SpecialGroup_IsValid(p.special_group())) {
    return Reject(v1::REASON_INVALID_FIELD, "special_group is not a known value");
  }
  if (!v1::EligibilityAttestation_IsValid(p.eligibility_attestation())) {
    return Reject(v1::REASON_INVALID_FIELD, "eligibility_attestation is not a known value");
  }
  const Decided<const v1::Policy*> policy_or = PolicyFor(state, p.region_code(), *date);
  if (auto* rej = std::get_if<Rejection>(&policy_or)) return *rej;
  const v1::Policy* policy = std::get<const v1::Policy*>(policy_or);
  const int age = AgeOn(CitizenIdBirthDate(p.citizen_id()), *date);
  if (age < 16) {
    return Reject(v1::REASON_TOO_YOUNG,
                  StrCat("participants must be at least 16; ", MaskCitizenId(p.citizen_id()),
                               " is ", age, " on ", p.enrolment_date()));
  }
  // 延吉细则 第三条: students, public servants and members of the employees' scheme do not take part.
  if (IsExcludedFromScheme(p.eligibility_attestation())) {
    return Reject(v1::REASON_EXCLUDED_FROM_SCHEME,
                  StrCat(MaskCitizenId(p.citizen_id()), " is attested as ",
                         v1::EligibilityAttestation_Name(p.eligibility_attestation()),
                         ": excluded from the residents' scheme (延吉细则 第三条)"));
  }
  LEDGER_ASSIGN_OR_RETURN(const v1::Account* account, state.FindAccount(p.citizen_id()));
  if (account != nullptr) {
    if (account->name() == p.name() && account->region_code() == p.region_code() &&
        account->enrolment_date() == p.enrolment_date() &&
        account->special_group() == p.special_group()) {
      LEDGER_ASSIGN_OR_RETURN(auto original, state.Event(account->enrolled_sequence()));
      if (MessageDifferencer::Equals(original.participant_enrolled(), p)) {
        return Duplicate(account->enrolled_sequence());
      }
    }
    return Reject(v1::REASON_ALREADY_ENROLLED,
                  StrCat(MaskCitizenId(p.citizen_id()), " is already enrolled (sequence ",
                               account->enrolled_sequence(), ") with different details"));
  }
  Decision d;
  v1::EventEnvelope& e = d.event.emplace();
  e.set_effective_date(p.enrolment_date());
  e.set_external_ref(StrCat("enrolment/", p.citizen_id()));
  e.set_region_code(p.region_code());
  e.set_policy_version(policy->version());
  *e.mutable_participant_enrolled() = p;
  return d;
}

absl::StatusOr<Decision> DecidePolicy(const v1::Policy& policy, WorkingState& state) {
  if (auto st = ValidatePolicy(policy); !st.ok()) {
    return Reject(v1::REASON_INVALID_POLICY, std::string(st.message()));
  }
  LEDGER_ASSIGN_OR_RETURN(auto adopted,
                          state.FindPolicyAdoption(policy.region_code(), policy.version()));
  if (adopted) {
    LEDGER_ASSIGN_OR_RETURN(auto original, state.Event(*adopted));
    if (MessageDifferencer::Equals(original.policy_adopted().policy(), policy)) {
      return Duplicate(*adopted);
    }
    return Reject(v1::REASON_POLICY_VERSION_NOT_NEWER,
                  StrCat("region ", policy.region_code(), " version ", policy.version(),
                               " was adopted at sequence ", *adopted, " with different content"));
  }
  if (const v1::Policy* latest = state.policies().Latest(policy.region_code())) {
    if (policy.version() <= latest->version() ||
        StoredDate(policy.effective_from()) < StoredDate(latest->effective_from())) {
      return Reject(v1::REASON_POLICY_VERSION_NOT_NEWER,
                    StrCat("region ", policy.region_code(), " is at version ",
                                 latest->version(), " effective ", latest->effective_from(),
                                 "; a new version must be higher and not effective earlier"));
    }
  }
  Decision d;
  v1::EventEnvelope& e = d.event.emplace();
  e.set_effective_date(policy.effective_from());
  e.set_external_ref(StrCat("policy/", policy.region_code(), "/v", policy.version()));
  e.set_region_code(policy.region_code());
  e.set_policy_version(policy.version());
  *e.mutable_policy_adopted()->mutable_policy() = policy;
  return d;
}

}  // namespace ledger
