// The village cadre subsidy (issue 16, point 8; docs/RULES.md §8): the serving periods the fund
// agency records for village cadres, and the crediting of the policy's program for a year
// (渝人社发〔2014〕65号: 900 yuan per person per year, paid from district and township finance
// through the special account, credited as collective subsidy 集体补助). Its reversal with the
// year's contribution is in subsidy_reversal.cc.
#include <algorithm>
#include <string>

#include "ledger/apply.h"
#include "ledger/citizen_id.h"
#include "ledger/dates.h"
#include "ledger/lifecycle_internal.h"
#include "ledger/limits.h"
#include "ledger/money.h"
#include "ledger/policy.h"
#include "ledger/status_macros.h"
#include "ledger/strings.h"
#include "ledger/text.h"
#include "ledger/working_state.h"

namespace ledger::lifecycle {
namespace {

using command::IsReference;

Check CheckId(std::string_view id) {
  if (auto st = ValidateCitizenId(id); !st.ok()) {
    return Reject(v1::REASON_INVALID_CITIZEN_ID, std::string(st.message()));
  }
  return std::nullopt;
}

const v1::CadreRole* FindRole(const v1::Account& a, std::string_view ref) {
  for (const auto& role : a.cadre_roles()) {
    if (role.document_ref() == ref) return &role;
  }
  return nullptr;
}

// The last day of `year` on which the participant could serve as a subsidised cadre: 31
// December, or the day before the pension's first month ("未领取养老保险待遇的在职村专职工作人员").
absl::CivilDay LastEligibleDay(const v1::Account& a, int year) {
  const absl::CivilDay year_end(year, 12, 31);
  if (!a.has_benefit() || a.benefit().start_month() == 0) return year_end;
  return std::min(year_end, FirstDayOf(a.benefit().start_month()) - 1);
}

// A role overlaps `year` up to `last` (any day counts, even if the role ended before the credit).
bool ServedIn(const v1::Account& a, int year) {
  const absl::CivilDay first(year, 1, 1);
  const absl::CivilDay last = LastEligibleDay(a, year);
  if (last < first) return false;
  return std::any_of(a.cadre_roles().begin(), a.cadre_roles().end(), [&](const v1::CadreRole& r) {
    const absl::CivilDay from = StoredDate(r.served_from());
    return from <= last && (r.served_to().empty() || StoredDate(r.served_to()) >= first);
  });
}

bool ContributedFor(const v1::Account& a, int year) {
  return std::any_of(a.contributions().begin(), a.contributions().end(),
                     [&](const auto& c) { return c.year() == year; });
}

// The program's rules for the credit, in the order docs/RULES.md §8 lists them after the
// policy: program, amount, year rules, service, contribution, not yet credited, cap.
Check CheckCadreRules(const v1::CreditCadreSubsidyRequest& r, const v1::Account& a,
                      const v1::Policy& policy) {
  const int year = r.year();
  if (!policy.has_cadre_subsidy()) {
    return Reject(v1::REASON_NO_CADRE_PROGRAM,
                  StrCat("policy ", policy.region_code(), " v", policy.version(),
                         " has no village cadre subsidy program"));
  }
  const v1::CadreSubsidyProgram& program = policy.cadre_subsidy();
  if (year < program.first_year()) {
    return Reject(v1::REASON_NO_CADRE_PROGRAM,
                  StrCat(program.name(), " pays from ", program.first_year(), ", not for ", year));
  }
  if (r.amount_fen() != program.amount_per_year_fen()) {
    return Reject(v1::REASON_CADRE_AMOUNT_MISMATCH,
                  StrCat(program.name(), " pays ", FormatFen(program.amount_per_year_fen()),
                         " per person per year, not ", FormatFen(r.amount_fen())));
  }
  const v1::YearRules* rules = PolicyBook::Year(policy, year);
  if (rules == nullptr) {
    return Reject(v1::REASON_IMPLAUSIBLE_YEAR,
                  StrCat("policy ", policy.region_code(), " v", policy.version(),
                         " has no rules for ", year));
  }
  if (!ServedIn(a, year)) {
    return Reject(v1::REASON_NOT_CADRE_IN_YEAR,
                  StrCat(MaskCitizenId(a.citizen_id()), " has no cadre role in ", year,
                         " before drawing a pension"));
  }
  if (!ContributedFor(a, year)) {
    return Reject(v1::REASON_NO_CONTRIBUTION_FOR_YEAR,
                  StrCat(MaskCitizenId(a.citizen_id()), " has no personal contribution for ", year,
                         "; the cadre subsidy is credited only after the person contributed "
                         "(须在本人参保并按规定选择缴费后方可享受补贴)"));
  }
  if (const int64_t credited = CadreSubsidyFor(a, year); credited > 0) {
    return Reject(v1::REASON_CADRE_SUBSIDY_ALREADY_CREDITED,
                  StrCat("the cadre subsidy for ", year, " is already credited (",
                         FormatFen(credited), ")"));
  }
  if (const int64_t already = CollectiveForCap(a, year);
      already + r.amount_fen() > rules->highest_tier_fen()) {
    return Reject(v1::REASON_OVER_CAP,
                  StrCat("collective subsidy + sponsorship for ", year,
                         " is capped at the highest tier ", FormatFen(rules->highest_tier_fen()),
                         "; already credited ", FormatFen(already), ", this would add ",
                         FormatFen(r.amount_fen())));
  }
  return std::nullopt;
}

}  // namespace

Check CheckCadreRoleFields(const v1::RecordCadreRoleRequest& r, absl::CivilDay today,
                           absl::CivilDay& date) {
  if (auto rej = CheckId(r.citizen_id())) return rej;
  if (!IsCleanText(r.post(), kNameBytesMax * 2)) {
    return Reject(v1::REASON_INVALID_FIELD,
                  StrCat("post must be at most ", kNameBytesMax * 2, " bytes of UTF-8 text"));
  }
  if (!r.replaces_ref().empty() && !IsReference(r.replaces_ref())) {
    return Reject(v1::REASON_INVALID_FIELD, "replaces_ref is not a document reference");
  }
  if (r.withdrawn()) {
    if (r.replaces_ref().empty() || !r.served_from().empty() || !r.served_to().empty() ||
        !r.post().empty()) {
      return Reject(v1::REASON_INVALID_FIELD,
                    "a withdrawal names replaces_ref and no post or serving dates");
    }
  } else {
    absl::CivilDay from, to;
    if (auto rej = CheckDate(r.served_from(), "served_from", today, from)) return rej;
    if (!r.served_to().empty()) {
      if (auto rej = CheckDate(r.served_to(), "served_to", today, to)) return rej;
      if (to < from) {
        return Reject(v1::REASON_INVALID_DATE, "served_to is before served_from");
      }
    }
  }
  return CheckDate(r.date(), "date", today, date);
}

Check CheckCadreSubsidyFields(const v1::CreditCadreSubsidyRequest& r, absl::CivilDay today,
                              absl::CivilDay& date) {
  if (auto rej = CheckId(r.citizen_id())) return rej;
  if (auto rej = CheckAmount(r.amount_fen(), kAmountFenMax)) return rej;
  if (auto rej = CheckDate(r.date(), "date", today, date)) return rej;
  if (r.year() < kFirstContributionYear || r.year() > date.year()) {
    return Reject(v1::REASON_IMPLAUSIBLE_YEAR,
                  StrCat("year ", r.year(), " is implausible on ", r.date()));
  }
  return std::nullopt;
}

Outcome RecordCadreRole(const v1::RecordCadreRoleRequest& r, Context& c, absl::CivilDay date) {
  LEDGER_ASSIGN_OR_RETURN(const v1::Account* a, c.state.FindAccount(r.citizen_id()));
  if (a == nullptr) return UnknownParticipant(r.citizen_id());
  if (!r.replaces_ref().empty() && FindRole(*a, r.replaces_ref()) == nullptr) {
    return Reject(v1::REASON_ORIGINAL_NOT_FOUND,
                  StrCat(MaskCitizenId(a->citizen_id()), " has no cadre role recorded under ",
                         r.replaces_ref(), " (or it was already replaced)"));
  }
  auto policy_or = PolicyFor(c.state, a->region_code(), date);
  if (auto* rej = std::get_if<Rejection>(&policy_or)) return *rej;
  v1::EventEnvelope e = Envelope(a->region_code(), date, c.document_ref,
                                 std::get<const v1::Policy*>(policy_or)->version());
  auto* role = e.mutable_cadre_role_recorded();
  role->set_citizen_id(a->citizen_id());
  role->set_post(r.post());
  role->set_served_from(r.served_from());
  role->set_served_to(r.served_to());
  role->set_replaces_ref(r.replaces_ref());
  role->set_withdrawn(r.withdrawn());
  Recorder rec{c.state, c.append};
  LEDGER_RETURN_IF_ERROR(rec.Add(std::move(e), false));
  return rec.result;
}

Outcome CreditCadreSubsidy(const v1::CreditCadreSubsidyRequest& r, Context& c,
                           absl::CivilDay date) {
  LEDGER_ASSIGN_OR_RETURN(const v1::Account* a, c.state.FindAccount(r.citizen_id()));
  if (a == nullptr) return UnknownParticipant(r.citizen_id());
  // A cadre who retired (or started drawing the pension) before the credit still gets the
  // year served; a closed account cannot receive it.
  if (a->status() != v1::PARTICIPANT_STATUS_CONTRIBUTING &&
      a->status() != v1::PARTICIPANT_STATUS_DRAWING_PENSION &&
      a->status() != v1::PARTICIPANT_STATUS_SUSPENDED) {
    return WrongState(*a, "the cadre subsidy is credited only to an open account");
  }
  auto policy_or = PolicyFor(c.state, a->region_code(), date);
  if (auto* rej = std::get_if<Rejection>(&policy_or)) return *rej;
  const v1::Policy& policy = *std::get<const v1::Policy*>(policy_or);
  if (auto rej = CheckCadreRules(r, *a, policy)) return *rej;
  const v1::CadreSubsidyProgram& program = policy.cadre_subsidy();
  const std::string fund = accounts::FiscalFund(program.funded_from(), r.year());
  if (const std::string shortfalls = Shortfalls({{fund, r.amount_fen()}}, c.state, a->region_code());
      !shortfalls.empty()) {
    return Reject(v1::REASON_INSUFFICIENT_FISCAL_FUNDS, StrCat("nothing credited: ", shortfalls));
  }
  v1::EventEnvelope e = Envelope(a->region_code(), date, c.document_ref, policy.version());
  auto* s = e.mutable_cadre_subsidy_credited();
  s->set_citizen_id(a->citizen_id());
  s->set_year(r.year());
  s->set_amount_fen(r.amount_fen());
  s->set_purpose(program.funded_from());
  s->set_program(program.name());
  Recorder rec{c.state, c.append};
  LEDGER_RETURN_IF_ERROR(rec.Add(std::move(e), true));
  return rec.result;
}

}  // namespace ledger::lifecycle
