// The region-wide batch jobs: the government subsidy of a year, the interest of a year and the
// benefits of a month. A job is checked, then (for the jobs that spend fiscal funds) its whole
// need is checked against the funds, then it runs in chunks of accounts, each chunk one commit.
#include <map>
#include <string>

#include "ledger/account.h"
#include "ledger/apply.h"
#include "ledger/dates.h"
#include "ledger/lifecycle.h"
#include "ledger/lifecycle_internal.h"
#include "ledger/limits.h"
#include "ledger/money.h"
#include "ledger/policy.h"
#include "ledger/status_macros.h"
#include "ledger/store.h"
#include "ledger/strings.h"
#include "ledger/working_state.h"

namespace ledger {
namespace lifecycle {
namespace {

// The kind's part of its events' external reference: "job/<kind>/<period>".
std::string_view JobRefKind(v1::JobKind kind) {
  switch (kind) {
    case v1::JOB_KIND_GOVERNMENT_SUBSIDY: return "government_subsidy";
    case v1::JOB_KIND_INTEREST: return "interest";
    case v1::JOB_KIND_BENEFITS: return "benefits";
    default: return "unknown";
  }
}

bool Closed(const v1::Account& a) {
  return a.status() == v1::PARTICIPANT_STATUS_DECEASED ||
         a.status() == v1::PARTICIPANT_STATUS_TRANSFERRED_OUT ||
         a.status() == v1::PARTICIPANT_STATUS_TERMINATED;
}

// The account pension of a pensioner whose account receives `late_fen` for `year` (a year before
// the start: a pensioner's contributions all predate it) after the determination:
// round_half_up((balance at start + every late credit) ÷ divisor), paid from the first unpaid
// month. Months already paid are not revisited (docs/RULES.md, point 3).
v1::EventEnvelope Recalculation(const v1::Account& a, const JobContext& j, int year,
                                int64_t late_fen) {
  const v1::Benefit& b = a.benefit();
  v1::EventEnvelope e = Envelope(a.region_code(), j.date_text, j.ref, j.policy->version());
  auto* r = e.mutable_benefit_recalculated();
  r->set_citizen_id(a.citizen_id());
  r->set_late_credit_fen(late_fen);
  r->set_contribution_year(year);
  r->set_base_fen(b.balance_at_start_fen() + b.late_credits_fen() + late_fen);
  r->set_divisor(j.policy->account_pension_divisor());
  r->set_previous_monthly_fen(b.account_pension_monthly_fen());
  r->set_account_pension_monthly_fen(DivRoundHalfUp(r->base_fen(), r->divisor()));
  r->set_effective_month(b.next_month());
  return e;
}

AccountPlan PlanSubsidy(const v1::Account& a, const JobContext& j) {
  AccountPlan plan;
  const int year = j.request.period();
  const v1::YearRules* rules = PolicyBook::Year(*j.policy, year);
  if (rules == nullptr || Closed(a)) return plan;
  const v1::AccountYear* y = FindYear(a, year);
  auto add = [&](v1::FiscalPurpose purpose, int64_t amount, int64_t tier) {
    v1::EventEnvelope e = Envelope(a.region_code(), j.date_text, j.ref, j.policy->version());
    auto* g = e.mutable_government_subsidy_credited();
    g->set_citizen_id(a.citizen_id());
    g->set_contribution_year(year);
    g->set_amount_fen(amount);
    g->set_purpose(purpose);
    g->set_tier_fen(tier);
    plan.fiscal[accounts::FiscalFund(purpose, year)] += amount;
    plan.total_fen += amount;
    plan.events.push_back(std::move(e));
  };
  if (y == nullptr || y->government_subsidy_fen() == 0) {
    for (const auto& c : a.contributions()) {
      // Back-payments (补缴) and years transferred in earn no subsidy here.
      if (c.year() != year || c.back_payment() || !c.transferred_from().empty()) continue;
      if (const v1::Tier* tier = FindTier(*rules, c.amount_fen());
          tier != nullptr && tier->government_subsidy_fen() > 0) {
        add(v1::FISCAL_PURPOSE_CONTRIBUTION_SUBSIDY, tier->government_subsidy_fen(), c.amount_fen());
        // A subsidy for a contribution made before the pension started, credited after it:
        // the account pension is recomputed with it in the base (issue 16 point 3).
        if (a.has_benefit()) {
          plan.events.push_back(Recalculation(a, j, year, tier->government_subsidy_fen()));
        }
      }
      break;
    }
  }
  // 代缴 only for people still contributing: not drawing a pension (or suspended from it).
  if (a.special_group() != v1::SPECIAL_GROUP_UNSPECIFIED &&
      a.status() == v1::PARTICIPANT_STATUS_CONTRIBUTING &&
      (y == nullptr || y->paid_on_behalf_fen() == 0) &&
      StoredDate(a.enrolment_date()).year() <= year) {
    for (const auto& p : rules->paid_on_behalf()) {
      if (p.group() == a.special_group() && p.amount_fen() > 0) {
        add(v1::FISCAL_PURPOSE_PAID_ON_BEHALF, p.amount_fen(), 0);
      }
    }
  }
  return plan;
}

AccountPlan PlanInterest(const v1::Account& a, const JobContext& j) {
  AccountPlan plan;
  const int year = j.request.period();
  if (Closed(a)) return plan;
  if (const v1::AccountYear* y = FindYear(a, year); y != nullptr && y->interest_posted()) return plan;
  const YearInterest interest = DeductAccrued(a, year, ComputeInterest(a, year, j.rate_bp));
  if (interest.total_fen == 0) return plan;
  v1::EventEnvelope e = Envelope(a.region_code(), j.date_text, j.ref, j.policy->version());
  auto* p = e.mutable_interest_posted();
  p->set_citizen_id(a.citizen_id());
  p->set_year(year);
  p->set_rate_bp(j.rate_bp);
  p->set_total_fen(interest.total_fen);
  for (const auto& part : interest.parts) *p->add_parts() = part;
  plan.total_fen = interest.total_fen;
  plan.events.push_back(std::move(e));
  return plan;
}

// The date the job's money moves: 31 December for interest, else the request's date (default
// today). INVALID_PERIOD for a year not over yet; the request's date is checked like any date.
Decided<absl::CivilDay> JobDate(const v1::JobRequest& r, absl::CivilDay today) {
  absl::CivilDay date = today;
  if (r.kind() == v1::JOB_KIND_INTEREST) {
    date = absl::CivilDay(r.period(), 12, 31);
    if (date > today) {
      return Reject(v1::REASON_INVALID_PERIOD, StrCat("interest for ", r.period(),
                                                      " is posted on 31 December, after the year"));
    }
  } else if (!r.date().empty()) {
    if (auto rej = CheckDate(r.date(), "date", today, date)) return *rej;
  }
  return date;
}

// The period against the date: no subsidy for a later year, no benefits paid before their
// month, no payment dated in a year whose interest is posted.
Check CheckPeriodOn(const v1::JobRequest& r, absl::CivilDay date, const WorkingState& state) {
  const bool monthly = r.kind() == v1::JOB_KIND_BENEFITS;
  if (r.kind() == v1::JOB_KIND_GOVERNMENT_SUBSIDY && r.period() > date.year()) {
    return Reject(v1::REASON_INVALID_PERIOD, StrCat("subsidy for ", r.period(),
                                                    " cannot be credited on ", FormatDate(date)));
  }
  if (monthly && date < FirstDayOf(r.period())) {
    return Reject(v1::REASON_INVALID_PERIOD, StrCat("benefits for ", r.period(),
                                                    " cannot be paid on ", FormatDate(date)));
  }
  if (monthly && date.year() <= state.JobMark(r.region_code(), v1::JOB_KIND_INTEREST).value_or(0)) {
    return Reject(v1::REASON_INVALID_DATE, StrCat("payment date ", FormatDate(date), " falls in ",
                                                  date.year(), ", whose interest is already posted"));
  }
  return std::nullopt;
}

// Interest and benefits run period after period: after a completed period only the next one
// (a period already completed is allowed: it does nothing).
Check CheckPeriodOrder(const v1::JobRequest& r, const WorkingState& state) {
  if (r.kind() == v1::JOB_KIND_GOVERNMENT_SUBSIDY) return std::nullopt;
  if (auto mark = state.JobMark(r.region_code(), r.kind()); mark && r.period() > *mark) {
    const int next = r.kind() == v1::JOB_KIND_BENEFITS ? NextMonth(*mark) : *mark + 1;
    if (r.period() != next) {
      return Reject(v1::REASON_PERIOD_OUT_OF_ORDER,
                    StrCat("region ", r.region_code(), " completed ", *mark, "; the next period is ", next));
    }
  }
  return std::nullopt;
}

// Validates the request, in order: kind, period, date, the policy for the region on the date
// and its rules for the period, the order of periods.
Decided<JobContext> CheckJob(const v1::JobRequest& r, const WorkingState& state,
                             absl::CivilDay today) {
  const bool monthly = r.kind() == v1::JOB_KIND_BENEFITS;
  if (r.kind() != v1::JOB_KIND_GOVERNMENT_SUBSIDY && r.kind() != v1::JOB_KIND_INTEREST && !monthly) {
    return Reject(v1::REASON_INVALID_FIELD, "kind must be GOVERNMENT_SUBSIDY, INTEREST or BENEFITS");
  }
  if (monthly ? !IsValidMonth(r.period())
              : (r.period() < kFirstContributionYear || r.period() > 2999)) {
    return Reject(v1::REASON_INVALID_PERIOD,
                  StrCat("period ", r.period(), monthly ? " is not a YYYYMM month" : " is not a plausible year"));
  }
  const Decided<absl::CivilDay> dated = JobDate(r, today);
  if (auto* rej = std::get_if<Rejection>(&dated)) return *rej;
  const absl::CivilDay date = std::get<absl::CivilDay>(dated);
  if (auto rej = CheckPeriodOn(r, date, state)) return *rej;
  auto policy_or = PolicyFor(state, r.region_code(), date);
  if (auto* rej = std::get_if<Rejection>(&policy_or)) return *rej;
  const v1::Policy* policy = std::get<const v1::Policy*>(policy_or);
  const v1::YearRules* rules = PolicyBook::Year(*policy, r.period());
  if (r.kind() != v1::JOB_KIND_BENEFITS && rules == nullptr) {
    return Reject(v1::REASON_IMPLAUSIBLE_YEAR, StrCat("policy ", r.region_code(), " v", policy->version(),
                                                      " has no rules for ", r.period()));
  }
  if (auto rej = CheckPeriodOrder(r, state)) return *rej;
  JobContext j{r, date, policy};
  if (r.kind() == v1::JOB_KIND_INTEREST) j.rate_bp = rules->interest_rate_bp();
  j.date_text = FormatDate(date);
  j.ref = StrCat("job/", JobRefKind(r.kind()), "/", r.period());
  return j;
}

AccountPlan Plan(const v1::Account& a, const JobContext& j) {
  if (a.region_code() != j.request.region_code()) return {};
  switch (j.request.kind()) {
    case v1::JOB_KIND_GOVERNMENT_SUBSIDY: return PlanSubsidy(a, j);
    case v1::JOB_KIND_INTEREST: return PlanInterest(a, j);
    case v1::JOB_KIND_BENEFITS: return PlanBenefits(a, j);
    default: return {};
  }
}

// Appends one account's planned events, each money movement with the adjustments it causes.
absl::Status Credit(std::string_view citizen_id, AccountPlan& plan, WorkingState& state,
                    const Appender& append, v1::JobProgress& progress) {
  for (v1::EventEnvelope& e : plan.events) {
    const bool adjusts = !e.has_interest_posted();  // interest causes no interest adjustment
    const int year = adjusts ? static_cast<int>(StoredDate(e.effective_date()).year()) : 0;
    const std::string ref = adjusts ? e.external_ref() : std::string();
    LEDGER_ASSIGN_OR_RETURN(uint64_t seq, append(std::move(e)));
    progress.set_events(progress.events() + 1);
    if (adjusts) {
      LEDGER_RETURN_IF_ERROR(AppendInterestAdjustments(state, citizen_id, year, seq, ref, append));
    }
  }
  progress.set_accounts_credited(progress.accounts_credited() + 1);
  progress.set_total_fen(progress.total_fen() + plan.total_fen);
  return absl::OkStatus();
}

// Appends JobCompleted once every account was processed.
absl::Status Complete(const JobContext& j, const Appender& append, v1::JobProgress& progress) {
  const v1::JobRequest& request = j.request;
  v1::EventEnvelope e = Envelope(request.region_code(), j.date,
                                 StrCat("job/", static_cast<int>(request.kind()), "/", request.period()), j.policy->version());
  auto* done = e.mutable_job_completed();
  done->set_kind(request.kind());
  done->set_period(request.period());
  done->set_accounts(progress.accounts_credited());
  done->set_total_fen(progress.total_fen());
  LEDGER_RETURN_IF_ERROR(append(std::move(e)).status());
  progress.set_events(progress.events() + 1);
  progress.set_completed(true);
  return absl::OkStatus();
}

}  // namespace

std::string Shortfalls(const std::map<std::string, int64_t>& need, const WorkingState& state,
                       std::string_view region) {
  std::string out;
  for (const auto& [fund, amount] : need) {
    const int64_t available = -state.LedgerTotal(region, fund);
    if (amount > available) {
      out += StrCat(out.empty() ? "" : "; ", fund, " needs ", FormatFen(amount), ", has ",
                    FormatFen(available), ", short by ", FormatFen(amount - available));
    }
  }
  return out;
}

std::string PaymentShortfall(int64_t amount, const WorkingState& state, std::string_view region) {
  const int64_t available = state.LedgerTotal(region, accounts::kFundPayment);
  if (amount == 0 || amount <= available) return "";
  return StrCat(accounts::kFundPayment, " needs ", FormatFen(amount), ", has ",
                FormatFen(available), ", short by ", FormatFen(amount - available),
                " (sweep money into the payment account first)");
}

}  // namespace lifecycle

using lifecycle::AccountPlan;
using lifecycle::JobContext;

absl::StatusOr<std::variant<Rejection, JobCursor>> StartJob(const v1::JobRequest& request,
                                                           WorkingState& state, const Store& store,
                                                           absl::CivilDay today) {
  const Decided<JobContext> checked = lifecycle::CheckJob(request, state, today);
  if (auto* rej = std::get_if<Rejection>(&checked)) return *rej;
  const JobContext& j = std::get<JobContext>(checked);
  JobCursor cursor;
  if (request.kind() != v1::JOB_KIND_GOVERNMENT_SUBSIDY) {
    if (auto mark = state.JobMark(request.region_code(), request.kind()); mark && request.period() <= *mark) {
      cursor.progress.set_completed(true);  // done before: nothing to do
      return cursor;
    }
  }
  if (request.kind() == v1::JOB_KIND_INTEREST) return cursor;
  // Jobs that spend fiscal funds: the whole job must be covered before anything is credited.
  // A benefits job also pays out of the payment account: the whole job must be covered too.
  std::map<std::string, int64_t> need;
  int64_t paid_out = 0;
  auto it = store.NewIterator(Cf::kAccounts);
  v1::Account scratch;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const v1::Account* a =
        state.PeekAccountRow(it->key().ToStringView(), it->value().ToStringView(), scratch);
    if (a == nullptr) continue;
    const AccountPlan plan = lifecycle::Plan(*a, j);
    for (const auto& [fund, amount] : plan.fiscal) need[fund] += amount;
    if (request.kind() == v1::JOB_KIND_BENEFITS) paid_out += plan.total_fen;
  }
  if (!it->status().ok()) return absl::UnavailableError(it->status().ToString());
  if (const std::string shortfalls = lifecycle::Shortfalls(need, state, request.region_code());
      !shortfalls.empty()) {
    return Reject(v1::REASON_INSUFFICIENT_FISCAL_FUNDS, StrCat("nothing credited: ", shortfalls));
  }
  if (const std::string short_by = lifecycle::PaymentShortfall(paid_out, state, request.region_code());
      !short_by.empty()) {
    return Reject(v1::REASON_INSUFFICIENT_PAYMENT_ACCOUNT, StrCat("nothing paid: ", short_by));
  }
  return cursor;
}

absl::StatusOr<std::variant<Rejection, JobCursor>> RunJobChunk(
    const v1::JobRequest& request, JobCursor cursor, size_t max_accounts, WorkingState& state,
    const Store& store, absl::CivilDay today, const Appender& append) {
  const Decided<JobContext> checked = lifecycle::CheckJob(request, state, today);
  if (auto* rej = std::get_if<Rejection>(&checked)) return *rej;
  const JobContext& j = std::get<JobContext>(checked);
  auto it = store.NewIterator(Cf::kAccounts);
  if (cursor.after_key.empty()) {
    it->SeekToFirst();
  } else {
    it->Seek(cursor.after_key);
    if (it->Valid() && it->key().ToStringView() == cursor.after_key) it->Next();
  }
  v1::JobProgress& progress = cursor.progress;
  for (size_t n = 0; it->Valid() && n < max_accounts; ++n, it->Next()) {
    const std::string_view id = it->key().ToStringView();  // valid until the iterator moves
    LEDGER_ASSIGN_OR_RETURN(v1::Account * a, state.AccountFromRow(id, it->value().ToStringView()));
    cursor.after_key.assign(id);
    progress.set_accounts_scanned(progress.accounts_scanned() + 1);
    if (a == nullptr) continue;
    AccountPlan plan = lifecycle::Plan(*a, j);
    if (plan.events.empty()) continue;
    if (const std::string shortfalls = lifecycle::Shortfalls(plan.fiscal, state, request.region_code());
        !shortfalls.empty()) {
      return Reject(v1::REASON_INSUFFICIENT_FISCAL_FUNDS,
                    StrCat("stopped after ", progress.accounts_scanned() - 1,
                           " accounts (what was credited stays; re-run after funds arrive): ", shortfalls));
    }
    if (request.kind() == v1::JOB_KIND_BENEFITS) {
      if (const std::string short_by =
              lifecycle::PaymentShortfall(plan.total_fen, state, request.region_code());
          !short_by.empty()) {
        return Reject(v1::REASON_INSUFFICIENT_PAYMENT_ACCOUNT,
                      StrCat("stopped after ", progress.accounts_scanned() - 1,
                             " accounts (what was paid stays; re-run after a sweep): ", short_by));
      }
    }
    LEDGER_RETURN_IF_ERROR(lifecycle::Credit(id, plan, state, append, progress));
  }
  if (!it->status().ok()) return absl::UnavailableError(it->status().ToString());
  if (!it->Valid()) LEDGER_RETURN_IF_ERROR(lifecycle::Complete(j, append, progress));
  return cursor;
}

}  // namespace ledger
