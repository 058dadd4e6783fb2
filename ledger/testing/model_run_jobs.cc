// The model run's fiscal funds and jobs (government subsidy, interest, monthly benefits), each
// predicted against the model.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "ledger/testing/model_run.h"

namespace ledger::model {
bool ModelRun::ReceiveFunds(v1::FiscalPurpose purpose, int year, int64_t amount) {
  v1::AccountCommand c;
  auto* f = c.mutable_receive_fiscal_funds();
  f->set_region_code(kRegion);
  f->set_purpose(purpose);
  f->set_year(year);
  f->set_amount_fen(amount);
  f->set_date(Fmt(cur_));
  f->set_document_ref(NextRef("FUNDS"));
  const Expect e = year < kEarliestContributionYear || year > cur_.year() + 1
                       ? Reject(v1::REASON_INVALID_PERIOD)
                       : Accept();
  const std::string what = absl::StrCat("funds ", Fund(purpose, year), " ", Yuan(amount));
  Log(what);
  if (!Check(what, e, ledger_->Execute(c, kActor))) return false;
  if (e.accept) {
    model_.Post("fund.special", Fund(purpose, year), amount);
    accepted_.push_back(c);
  }
  return true;
}

bool ModelRun::FundPayment(int64_t amount) {
  v1::AccountCommand remit;
  auto* r = remit.mutable_receive_tax_remittance();
  r->set_region_code(kRegion);
  r->set_bank_account(v1::BANK_ACCOUNT_SPECIAL);
  r->set_amount_fen(amount);
  r->set_date(Fmt(cur_));
  r->set_document_ref(NextRef("REMIT"));
  std::string what = absl::StrCat("remit ", Yuan(amount), " into fund.special");
  Log(what);
  if (!Check(what, Accept(), ledger_->Execute(remit, kActor))) return false;
  model_.Post("fund.special", "tax_receivable", amount);
  accepted_.push_back(remit);
  v1::AccountCommand sweep;
  auto* t = sweep.mutable_transfer_between_fund_accounts();
  t->set_region_code(kRegion);
  t->set_from_account(v1::BANK_ACCOUNT_SPECIAL);
  t->set_to_account(v1::BANK_ACCOUNT_PAYMENT);
  t->set_amount_fen(amount);
  t->set_date(Fmt(cur_));
  t->set_document_ref(NextRef("SWEEP"));
  what = absl::StrCat("sweep ", Yuan(amount), " fund.special → fund.payment");
  Log(what);
  if (!Check(what, Accept(), ledger_->Execute(sweep, kActor))) return false;
  model_.Post("fund.payment", "fund.special", amount);
  accepted_.push_back(sweep);
  ++model_.events["payment account topped up"];
  return true;
}

bool ModelRun::Funds() {
  const int u = Uniform(0, 99);
  const int y = static_cast<int>(cur_.year());
  if (u < 50) {
    return ReceiveFunds(v1::FISCAL_PURPOSE_BASIC_PENSION,
                        cur_.month() >= 10 ? y + Uniform(0, 1) : y, Uniform(1000, 8000) * 100);
  }
  if (u < 78)
    return ReceiveFunds(v1::FISCAL_PURPOSE_CONTRIBUTION_SUBSIDY, y - Uniform(0, 3),
                        Uniform(30, 300) * 100);
  if (u < 95)
    return ReceiveFunds(v1::FISCAL_PURPOSE_PAID_ON_BEHALF, y - Uniform(0, 3),
                        Uniform(50, 300) * 100);
  return ReceiveFunds(v1::FISCAL_PURPOSE_BASIC_PENSION, y + 2, 100000);  // implausible year
}

bool ModelRun::CheckJob(const std::string& what, const JobExpect& x,
                        const absl::StatusOr<Ledger::JobOutcome>& r) {
  ++stats_["~ ledger calls"];
  ++stats_[absl::StrCat(what.substr(0, what.find(' ')), " → ",
                        x.noop ? "ALREADY COMPLETED" : ExpectName(x.e))];
  if (!r.ok()) return Fail(absl::StrCat(what, ": status ", r.status().ToString()));
  if (x.e.accept) {
    if (r->rejection) {
      return Fail(absl::StrCat(what, ": expected ACCEPTED, got ", ReasonName(r->rejection->reason),
                               " (", r->rejection->detail, ")"));
    }
    if (!r->progress.completed()) return Fail(absl::StrCat(what, ": job not completed"));
    if (!x.noop && r->progress.total_fen() != x.total) {
      return Fail(absl::StrCat(what, ": job total ", r->progress.total_fen(), ", model ", x.total));
    }
    return true;
  }
  if (!r->rejection || r->rejection->reason != x.e.reason) {
    return Fail(absl::StrCat(
        what, ": expected ", ReasonName(x.e.reason), ", got ",
        r->rejection ? ReasonName(r->rejection->reason) + " (" + r->rejection->detail + ")"
                     : "ACCEPTED"));
  }
  return true;
}

absl::StatusOr<Ledger::JobOutcome> ModelRun::RunJob(v1::JobKind kind, int period, Day date) {
  v1::JobRequest j;
  j.set_kind(kind);
  j.set_region_code(kRegion);
  j.set_period(period);
  if (kind != v1::JOB_KIND_INTEREST) j.set_date(Fmt(date));
  return ledger_->RunJob(j, kActor);
}

std::vector<ModelRun::Credit> ModelRun::PlanSubsidy(int year, Day date) const {
  std::vector<Credit> plan;
  for (size_t k = 0; k < model_.people.size(); ++k) {
    const Person& p = model_.people[k];
    if (!p.Enrolled() || p.Closed()) continue;
    const auto sub = p.subsidy.find(year);
    if (sub == p.subsidy.end() || sub->second == 0) {
      const auto c = p.contributions.find(year);
      if (c != p.contributions.end() && !c->second.back_payment) {
        for (const TierRule& t : Tiers(VersionOn(date), year)) {
          if (t.amount == c->second.amount && t.subsidy > 0) {
            plan.push_back({k, v1::FISCAL_PURPOSE_CONTRIBUTION_SUBSIDY, t.subsidy});
          }
        }
      }
    }
    const auto ob = p.on_behalf.find(year);
    // 代缴 only for people still contributing (issue 16, point 2).
    if (p.group != v1::SPECIAL_GROUP_UNSPECIFIED && p.status == St::kContributing &&
        (ob == p.on_behalf.end() || ob->second == 0) &&
        p.enrolled.year() <= year) {
      plan.push_back({k, v1::FISCAL_PURPOSE_PAID_ON_BEHALF, kPaidOnBehalfFen});
    }
  }
  return plan;
}

bool ModelRun::SubsidyJob() {
  int year = static_cast<int>(cur_.year()) - Uniform(0, 3);
  if (Chance(5)) year = static_cast<int>(cur_.year()) + 1;
  Day date = cur_;
  if (year <= cur_.year() && Chance(20)) date = RandomDay(std::max(kStart, Day(year, 1, 1)), cur_);
  JobExpect x;
  std::vector<Credit> plan;
  if (year > date.year()) {
    x.e = Reject(v1::REASON_INVALID_PERIOD);
  } else {
    plan = PlanSubsidy(year, date);
    std::map<std::string, int64_t> need;
    for (const Credit& c : plan) need[Fund(c.purpose, year)] += c.amount;
    // Usually the treasury has sent enough first.
    for (const auto& [fund, amount] : need) {
      const int64_t available = model_.Available(fund);
      if (amount > available && Chance(75)) {
        const auto purpose = fund.find("paid_on_behalf") != std::string::npos
                                 ? v1::FISCAL_PURPOSE_PAID_ON_BEHALF
                                 : v1::FISCAL_PURPOSE_CONTRIBUTION_SUBSIDY;
        if (!ReceiveFunds(purpose, year, amount - available + Uniform(0, 3) * 1000)) return false;
      }
    }
    for (const auto& [fund, amount] : need) {
      if (amount > model_.Available(fund)) x.e = Reject(v1::REASON_INSUFFICIENT_FISCAL_FUNDS);
    }
    for (const Credit& c : plan) x.total += c.amount;
  }
  const std::string what =
      absl::StrCat("subsidy-job ", year, " dated ", Fmt(date),
                   model_.PostedYear(static_cast<int>(date.year())) ? " (in a posted year)" : "");
  Log(what);
  if (!CheckJob(what, x, RunJob(v1::JOB_KIND_GOVERNMENT_SUBSIDY, year, date))) return false;
  if (!x.e.accept) return true;
  for (const Credit& c : plan) {
    Person& p = model_.people[c.person];
    ++model_
          .events[c.purpose == v1::FISCAL_PURPOSE_PAID_ON_BEHALF ? "paid on behalf credited"
                                                                 : "contribution subsidy credited"];
    if (model_.PostedYear(static_cast<int>(date.year())))
      ++model_.events["subsidy credited into a posted year"];
    model_.Move(p, kGovernment, c.amount, date, Fund(c.purpose, year));
    (c.purpose == v1::FISCAL_PURPOSE_PAID_ON_BEHALF ? p.on_behalf : p.subsidy)[year] += c.amount;
    model_.Adjust(p, static_cast<int>(date.year()));
    // A contribution subsidy reaching a pensioner is late (the contribution predates the
    // pension): the account pension is recomputed on balance at start + late credits, from the
    // first unpaid month (issue 16, point 3).
    if (c.purpose == v1::FISCAL_PURPOSE_CONTRIBUTION_SUBSIDY && p.benefit) {
      Benefit& b = *p.benefit;
      b.late += c.amount;
      b.monthly = HalfUp(b.balance + b.late, kDivisor);
      b.recalculated_from = b.next;
      ++model_.events["benefit recalculated (late subsidy)"];
    }
  }
  // 代缴 withheld from special-group members who no longer contribute (issue 16, point 2).
  for (const Person& p : model_.people) {
    if (p.group != v1::SPECIAL_GROUP_UNSPECIFIED && p.Enrolled() &&
        p.status != St::kContributing && p.enrolled.year() <= year) {
      ++model_.events["paid on behalf withheld (not contributing)"];
    }
  }
  return true;
}

bool ModelRun::InterestChoice() {
  const int next = model_.interest_mark ? *model_.interest_mark + 1 : kFirstInterestYear;
  if (next < cur_.year() && Chance(80)) return InterestJob(next);
  const int u = Uniform(0, 2);
  if (u == 0 && model_.interest_mark)
    return InterestJob(*model_.interest_mark - Uniform(0, 1));                       // done
  if (u == 1 && model_.interest_mark) return InterestJob(next + 1 + Uniform(0, 1));  // out of order
  return InterestJob(2026);  // 31 December 2026 is after the clock
}

bool ModelRun::InterestJob(int year) {
  JobExpect x;
  const std::optional<int>& mark = model_.interest_mark;
  if (Day(year, 12, 31) > kToday) {
    x.e = Reject(v1::REASON_INVALID_PERIOD);
  } else if (year < kFirstPolicyYear || year > kLastPolicyYear) {
    x.e = Reject(v1::REASON_IMPLAUSIBLE_YEAR);
  } else if (mark && year > *mark && year != *mark + 1) {
    x.e = Reject(v1::REASON_PERIOD_OUT_OF_ORDER);
  } else if (mark && year <= *mark) {
    x.noop = true;
  }
  // The plan: every open account not yet credited for the year.
  std::vector<std::pair<size_t, YearInterest>> plan;
  if (x.e.accept && !x.noop) {
    for (size_t k = 0; k < model_.people.size(); ++k) {
      const Person& p = model_.people[k];
      if (!p.Enrolled() || p.Closed() || p.interest_posted.count(year)) continue;
      YearInterest yi = Model::Compute(p, year);
      if (yi.negative_numerator) {
        model_.anomalies.push_back(
            absl::StrCat(p.label, " has a negative interest numerator in ", year));
      }
      if (yi.total == 0) continue;
      x.total += yi.total;
      plan.emplace_back(k, yi);
    }
  }
  const std::string what =
      absl::StrCat("interest-job ", year, " (rate ", InterestRate(year), " bp)");
  Log(what);
  if (!CheckJob(what, x, RunJob(v1::JOB_KIND_INTEREST, year, cur_))) return false;
  if (!x.e.accept || x.noop) return true;
  for (const auto& [k, yi] : plan) {
    Person& p = model_.people[k];
    for (int s = 0; s < kNumSources; ++s) {
      if (yi.parts[s] != 0) model_.AddInterest(p, s, yi.parts[s], year);
    }
    p.interest_posted.insert(year);
    ++model_.events["interest posted (person-year)"];
  }
  model_.interest_mark = year;
  return true;
}

std::vector<Paid> ModelRun::PlanPerson(const Person& p, int last, Day date,
                                       std::map<std::string, int64_t>& need) const {
  std::vector<Paid> out;
  if (!p.benefit || (p.status != St::kDrawing && p.status != St::kSuspended)) return out;
  if (p.status == St::kSuspended) last = std::min(last, PrevMonth(p.benefit->suspended_from));
  BySource balance{};
  for (int s = 0; s < kNumSources; ++s) balance[s] = p.Balance(s);
  for (int m = p.benefit->next; m <= last; m = NextMonth(m)) {
    Paid paid{m, BasicPension(VersionOn(date), m, p.benefit->years), {}, 0};
    int64_t total = 0;
    for (int64_t b : balance) total += b;
    const int64_t drawn = std::min(p.benefit->monthly, total);
    const std::vector<int64_t> parts =
        LargestRemainder(drawn, std::vector<I128>(balance.begin(), balance.end()));
    for (int s = 0; s < kNumSources; ++s) {
      paid.parts[s] = parts[s];
      balance[s] -= parts[s];
    }
    paid.pooled = p.benefit->monthly - drawn;
    need[Fund(v1::FISCAL_PURPOSE_BASIC_PENSION, m / 100)] += paid.basic;
    out.push_back(paid);
  }
  return out;
}

std::vector<std::pair<size_t, Paid>> ModelRun::PlanBenefits(
    int month, std::map<std::string, int64_t>& need) const {
  std::vector<std::pair<size_t, Paid>> plan;
  for (size_t k = 0; k < model_.people.size(); ++k) {
    for (const Paid& paid : PlanPerson(model_.people[k], month, cur_, need))
      plan.emplace_back(k, paid);
  }
  return plan;
}

void ModelRun::BookPaid(Person& p, const Paid& paid, Day date) {
  const std::string basic_fund = Fund(v1::FISCAL_PURPOSE_BASIC_PENSION, paid.month / 100);
  model_.Post(basic_fund, "fund.payment", paid.basic);
  int64_t drawn = 0;
  for (int s = 0; s < kNumSources; ++s) {
    if (paid.parts[s] == 0) continue;
    model_.Move(p, s, -paid.parts[s], date, "fund.payment", true);
    drawn += paid.parts[s];
  }
  if (paid.pooled > 0) model_.Post(kPooledPayer, "fund.payment", paid.pooled);
  p.benefit->next = NextMonth(paid.month);
  p.benefit->paid_basic += paid.basic;
  p.benefit->paid_account += drawn;
  p.benefit->paid_pooled += paid.pooled;
  p.paid.push_back(paid);
}

bool ModelRun::BenefitsJob(int month, bool top_up) {
  const Day date = cur_;
  JobExpect x;
  const std::optional<int>& mark = model_.benefits_mark;
  std::map<std::string, int64_t> need;
  std::vector<std::pair<size_t, Paid>> plan;
  if (date < FirstDay(month)) {
    x.e = Reject(v1::REASON_INVALID_PERIOD);
  } else if (model_.PostedYear(static_cast<int>(date.year()))) {
    x.e = Reject(v1::REASON_INVALID_DATE);  // benefits may not be dated in a posted year
  } else if (mark && month > *mark && month != NextMonth(*mark)) {
    x.e = Reject(v1::REASON_PERIOD_OUT_OF_ORDER);
  } else if (mark && month <= *mark) {
    x.noop = true;
  } else {
    plan = PlanBenefits(month, need);
    if (top_up) {
      for (const auto& [fund, amount] : need) {
        const int64_t available = model_.Available(fund);
        if (amount > available && Chance(90)) {
          // Usually enough for the rest of the year; sometimes just enough.
          const int year = std::stoi(fund.substr(fund.rfind('/') + 1));
          if (!ReceiveFunds(v1::FISCAL_PURPOSE_BASIC_PENSION, year,
                            amount - available + (Chance(70) ? 12 * amount : 0))) {
            return false;
          }
        }
      }
    }
    for (const auto& [fund, amount] : need) {
      if (amount > model_.Available(fund)) x.e = Reject(v1::REASON_INSUFFICIENT_FISCAL_FUNDS);
    }
    for (const auto& [k, paid] : plan) x.total += paid.basic + model_.people[k].benefit->monthly;
    // The payment account pays the whole run (issue 16, point 4): usually topped up first.
    const int64_t balance = model_.PaymentBalance();
    if (top_up && x.e.accept && x.total > balance && Chance(90)) {
      if (!FundPayment(x.total - balance + (Chance(70) ? 6 * x.total : 0))) return false;
    }
    if (x.e.accept && x.total > model_.PaymentBalance()) {
      x.e = Reject(v1::REASON_INSUFFICIENT_PAYMENT_ACCOUNT);
      ++model_.events["benefits refused: payment account short"];
    }
  }
  const std::string what = absl::StrCat("benefits-job ", month, " paid ", Fmt(date), " (",
                                        plan.size(), " payments planned)");
  Log(what);
  if (!CheckJob(what, x, RunJob(v1::JOB_KIND_BENEFITS, month, date))) return false;
  if (!x.e.accept || x.noop) return true;
  for (const auto& [k, paid] : plan) {
    Person& p = model_.people[k];
    int64_t drawn = 0;
    for (int s = 0; s < kNumSources; ++s) drawn += paid.parts[s];
    ++model_.events["benefit month paid"];
    if (paid.pooled > 0)
      ++model_.events[drawn > 0 ? "benefit month: account exhausted, partly pooled"
                                : "benefit month: wholly pooled"];
    if (paid.month < MonthOf(date) && PrevMonth(paid.month) >= p.benefit->start &&
        paid.month != month)
      ++model_.events["benefit month paid late (catch-up / back pay)"];
    BookPaid(p, paid, date);
    model_.Adjust(p, static_cast<int>(date.year()));
  }
  model_.benefits_mark = month;
  return true;
}

bool ModelRun::Benefits() {
  const int now = MonthOf(cur_);
  if (!model_.benefits_mark) {
    const bool any = std::any_of(model_.people.begin(), model_.people.end(),
                                 [](const Person& p) { return p.benefit.has_value(); });
    if (!any) return Funds();
    return BenefitsJob(Chance(50) ? now : PrevMonth(now), true);
  }
  if (Chance(12)) {
    switch (Uniform(0, 2)) {
      case 0:
        return BenefitsJob(*model_.benefits_mark, true);  // already completed
      case 1:
        return BenefitsJob(NextMonth(NextMonth(*model_.benefits_mark)), true);  // skips one
      default:
        return BenefitsJob(NextMonth(now), true);  // not yet payable
    }
  }
  // Catch up month by month, up to three years at a time.
  for (int i = 0; i < 36; ++i) {
    const int m = NextMonth(*model_.benefits_mark);
    if (FirstDay(m) > cur_) break;
    const int before = *model_.benefits_mark;
    if (!BenefitsJob(m, true)) return false;
    if (*model_.benefits_mark == before) break;  // rejected (funds)
  }
  return true;
}

}  // namespace ledger::model
