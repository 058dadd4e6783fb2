// The model run's participant commands (collective subsidy, benefit determination, suspension,
// resumption, death, resent documents), each predicted against the model.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "ledger/testing/model_run.h"

namespace ledger::model {
int ModelRun::PickPerson(const std::vector<int>& weights) {
  std::discrete_distribution<int> d(weights.begin(), weights.end());
  return d(rng_);
}

bool ModelRun::Collective() {
  const int k = PickPerson({3, 3, 3, 2, 3, 3, 2, 1});
  const Person& p = model_.people[k];
  int year = static_cast<int>(cur_.year()) - Uniform(0, 2);
  if (!p.contributions.empty() && Chance(70)) {
    std::vector<int> years;
    for (const auto& [y, c] : p.contributions) years.push_back(y);
    year = Pick(years);
  }
  static const std::vector<int64_t> kAmounts = {50000, 100000, 150000, 200000, 250000};
  int64_t amount = Pick(kAmounts);
  const int source = Chance(50) ? kCollective : kSponsorship;
  Day date = cur_;
  if (Chance(20)) date = RandomDay(std::max(kStart, Day(year - 1, 1, 1)), cur_);
  if (auto c = p.contributions.find(year); c != p.contributions.end() && Chance(30)) {
    // The same amount on the same day as the contribution: equal numerators, so interest and
    // benefit splits tie between sources (ties go to the earlier source).
    amount = c->second.amount;
    date = c->second.date;
  }
  v1::AccountCommand c;
  auto* f = c.mutable_credit_collective_subsidy();
  f->set_citizen_id(p.id);
  f->set_contribution_year(year);
  f->set_amount_fen(amount);
  f->set_source(static_cast<v1::FundingSource>(source + 1));
  f->set_payer("村集体");
  f->set_date(Fmt(date));
  f->set_document_ref(NextRef("COLL"));
  Expect e;
  const auto already = p.collective.count(year) ? p.collective.at(year) : 0;
  const bool contributed =
      p.contributions.count(year) || (p.on_behalf.count(year) && p.on_behalf.at(year) > 0);
  if (year < kEarliestContributionYear || year > date.year() + 1) {
    e = Reject(v1::REASON_IMPLAUSIBLE_YEAR);
  } else if (!p.Enrolled()) {
    e = Reject(v1::REASON_UNKNOWN_PARTICIPANT);
  } else if (p.status != St::kContributing) {
    e = Reject(v1::REASON_WRONG_STATE);
  } else if (year < kFirstPolicyYear || year > kLastPolicyYear) {
    e = Reject(v1::REASON_IMPLAUSIBLE_YEAR);
  } else if (!contributed) {
    e = Reject(v1::REASON_NO_CONTRIBUTION_FOR_YEAR);
  } else if (already + amount > HighestTier(VersionOn(date), year)) {
    e = Reject(v1::REASON_OVER_CAP);
  }
  const std::string what =
      absl::StrCat("collective ", p.label, " ", kSourceName[source], " year ", year, " ",
                   Yuan(amount), " (already ", Yuan(already), ") dated ", Fmt(date),
                   model_.PostedYear(static_cast<int>(date.year())) ? " (in a posted year)" : "");
  Log(what);
  if (!Check(what, e, ledger_->Execute(c, kActor))) return false;
  if (!e.accept) return true;
  Person& q = model_.people[k];
  model_.Move(q, source, amount, date, "fund.special");
  q.collective[year] += amount;
  q.collective_by_source[{year, source}] += amount;
  model_.Adjust(q, static_cast<int>(date.year()));
  accepted_.push_back(c);
  return true;
}

Day ModelRun::MaybePostedDate(bool& posted) {
  posted = false;
  if (model_.interest_mark && Chance(12)) {
    posted = true;
    return RandomDay(kStart, Day(*model_.interest_mark, 12, 31));
  }
  return cur_;
}

bool ModelRun::Determine() {
  const int k = PickPerson({4, 4, 4, 4, 1, 3, 1, 1});
  const Person& p = model_.people[k];
  bool posted;
  const Day date = MaybePostedDate(posted);
  v1::AccountCommand c;
  auto* f = c.mutable_determine_benefit();
  f->set_citizen_id(p.id);
  f->set_date(Fmt(date));
  f->set_document_ref(NextRef("DET"));
  const int year60 = static_cast<int>(p.birth.year()) + 60;
  const uint32_t required = static_cast<uint32_t>(std::clamp(year60 - kSchemeStart, 0, 15));
  const uint32_t years = static_cast<uint32_t>(p.ContributionYears().size());
  Expect e;
  if (!p.Enrolled()) {
    e = Reject(v1::REASON_UNKNOWN_PARTICIPANT);
  } else if (p.status != St::kContributing) {
    e = Reject(v1::REASON_WRONG_STATE);
  } else if (model_.PostedYear(static_cast<int>(date.year()))) {
    e = Reject(v1::REASON_INVALID_DATE);
  } else if (Age(p.birth, date) < 60) {
    e = Reject(v1::REASON_NOT_ELIGIBLE);
  } else if (years < required) {
    e = Reject(v1::REASON_NOT_ELIGIBLE);
  }
  const std::string what =
      absl::StrCat("determine ", p.label, " dated ", Fmt(date), " (age ", Age(p.birth, date),
                   ", years ", years, "/", required, ", balance ", Yuan(p.Total()), ")");
  Log(what);
  if (!Check(what, e, ledger_->Execute(c, kActor))) return false;
  if (!e.accept) return true;
  Person& q = model_.people[k];
  Benefit b;
  // The month after the 60th birthday, or the determination's month if later.
  const int after60 = NextMonth((year60)*100 + p.birth.month());
  b.start = std::max(after60, MonthOf(date));
  b.next = b.start;
  b.balance = q.Total();
  b.monthly = HalfUp(q.Total(), kDivisor);
  b.years = years;
  q.benefit = b;
  q.status = St::kDrawing;
  accepted_.push_back(c);
  return true;
}

bool ModelRun::Suspend() {
  std::vector<int> drawing;
  for (size_t k = 0; k < model_.people.size(); ++k) {
    if (model_.people[k].status == St::kDrawing) drawing.push_back(static_cast<int>(k));
  }
  const int k = !drawing.empty() && Chance(85) ? Pick(drawing) : Uniform(0, 7);
  const Person& p = model_.people[k];
  int from = p.benefit ? p.benefit->next : MonthOf(cur_);
  const bool early = p.benefit && Chance(10);
  if (early) {
    from = PrevMonth(from);
  } else {
    for (int i = Uniform(0, 2); i > 0; --i) from = NextMonth(from);
  }
  v1::AccountCommand c;
  auto* f = c.mutable_suspend_benefit();
  f->set_citizen_id(p.id);
  f->set_from_month(from);
  f->set_reason("未通过待遇资格认证");
  f->set_date(Fmt(cur_));
  f->set_document_ref(NextRef("SUSP"));
  Expect e;
  if (!p.Enrolled()) {
    e = Reject(v1::REASON_UNKNOWN_PARTICIPANT);
  } else if (p.status != St::kDrawing) {
    e = Reject(v1::REASON_WRONG_STATE);
  } else if (from < p.benefit->next) {
    e = Reject(v1::REASON_INVALID_PERIOD);
  }
  const std::string what = absl::StrCat("suspend ", p.label, " from ", from);
  Log(what);
  if (!Check(what, e, ledger_->Execute(c, kActor))) return false;
  if (!e.accept) return true;
  Person& q = model_.people[k];
  q.status = St::kSuspended;
  q.benefit->suspended_from = from;
  accepted_.push_back(c);
  return true;
}

bool ModelRun::Resume() {
  std::vector<int> suspended;
  for (size_t k = 0; k < model_.people.size(); ++k) {
    if (model_.people[k].status == St::kSuspended) suspended.push_back(static_cast<int>(k));
  }
  const int k = !suspended.empty() && Chance(85) ? Pick(suspended) : Uniform(0, 7);
  const Person& p = model_.people[k];
  int month = p.benefit && p.benefit->suspended_from ? p.benefit->suspended_from : MonthOf(cur_);
  if (p.benefit && p.benefit->suspended_from && Chance(10)) {
    month = PrevMonth(month);
  } else {
    for (int i = Uniform(0, 3); i > 0; --i) month = NextMonth(month);
  }
  v1::AccountCommand c;
  auto* f = c.mutable_resume_benefit();
  f->set_citizen_id(p.id);
  f->set_month(month);
  f->set_date(Fmt(cur_));
  f->set_document_ref(NextRef("RES"));
  Expect e;
  if (!p.Enrolled()) {
    e = Reject(v1::REASON_UNKNOWN_PARTICIPANT);
  } else if (p.status != St::kSuspended) {
    e = Reject(v1::REASON_WRONG_STATE);
  } else if (month < p.benefit->suspended_from) {
    e = Reject(v1::REASON_INVALID_PERIOD);
  }
  const std::string what = absl::StrCat("resume ", p.label, " month ", month);
  Log(what);
  if (!Check(what, e, ledger_->Execute(c, kActor))) return false;
  if (!e.accept) return true;
  Person& q = model_.people[k];
  if (q.benefit->next < month) ++model_.events["resumed with suspended months to back-pay"];
  q.status = St::kDrawing;
  q.benefit->suspended_from = 0;  // back pay: the suspended months are paid by the next run
  accepted_.push_back(c);
  return true;
}

bool ModelRun::Death() {
  std::vector<int> pensioners;
  for (size_t i = 0; i < model_.people.size(); ++i) {
    if (model_.people[i].benefit && !model_.people[i].Closed())
      pensioners.push_back(static_cast<int>(i));
  }
  const int k =
      !pensioners.empty() && Chance(70) ? Pick(pensioners) : PickPerson({2, 2, 2, 3, 1, 1, 1, 1});
  const Person& p = model_.people[k];
  bool posted;
  Day date = MaybePostedDate(posted);
  Day died;
  const int u = Uniform(0, 99);
  if (u < 55) {
    died = date - Uniform(0, 40);
  } else if (u < 80) {
    died = date - Uniform(40, 400);  // months already paid become an overpayment
  } else if (u < 88) {
    died = Day(2014, 1, 15);  // before 2014-02-21: the government part returns to the pool
  } else {
    died = date;
    date = date - Uniform(1, 5);  // recorded before the death: invalid
  }
  v1::AccountCommand c;
  auto* f = c.mutable_record_death();
  f->set_citizen_id(p.id);
  f->set_date_of_death(Fmt(died));
  f->set_date(Fmt(date));
  f->set_document_ref(NextRef("DEATH"));
  Expect e;
  if (died > date) {
    e = Reject(v1::REASON_INVALID_DATE);
  } else if (!p.Enrolled()) {
    e = Reject(v1::REASON_UNKNOWN_PARTICIPANT);
  } else if (p.Closed()) {
    e = Reject(v1::REASON_WRONG_STATE);
  } else if (died < p.enrolled) {
    e = Reject(v1::REASON_INVALID_DATE);
  } else if (model_.PostedYear(static_cast<int>(date.year()))) {
    e = Reject(v1::REASON_INVALID_DATE);
  }
  // The interest to the date of death first (issue 16, point 6), then the months up to and
  // including the month of death not paid yet are paid in the settlement.
  const std::vector<Accrual> accruals =
      e.accept ? model_.AccrualsTo(p, died, date) : std::vector<Accrual>();
  Person accrued = p;
  for (const Accrual& a : accruals) {
    for (int s = 0; s < kNumSources; ++s) accrued.interest[s] += a.parts[s];
  }
  std::map<std::string, int64_t> arrears_need;
  const std::vector<Paid> arrears =
      e.accept ? PlanPerson(accrued, MonthOf(died), date, arrears_need) : std::vector<Paid>();
  for (const auto& [fund, amount] : arrears_need) {
    if (amount > model_.Available(fund)) e = Reject(v1::REASON_INSUFFICIENT_FISCAL_FUNDS);
  }
  // The arrears and the funeral subsidy come out of the payment account (point 4).
  int64_t pay = 0;
  for (const Paid& paid : arrears) pay += paid.basic + p.benefit->monthly;
  if (e.accept && p.benefit) {
    const int version = VersionOn(died);
    pay += FuneralFixed(version) +
           kFuneralMonths * BasicPension(version, MonthOf(died), p.benefit->years);
  }
  if (e.accept && pay > model_.PaymentBalance()) {
    if (Chance(85) && !FundPayment(pay - model_.PaymentBalance() + Uniform(0, 1) * pay)) {
      return false;
    }
    if (pay > model_.PaymentBalance()) {
      e = Reject(v1::REASON_INSUFFICIENT_PAYMENT_ACCOUNT);
      ++model_.events["death refused: payment account short"];
    }
  }
  const std::string what = absl::StrCat("death ", p.label, " died ", Fmt(died), " recorded ",
                                        Fmt(date), " (balance ", Yuan(p.Total()), ")");
  Log(what);
  if (!Check(what, e, ledger_->Execute(c, kActor))) return false;
  if (!e.accept) return true;
  SettleDeath(model_.people[k], died, date, arrears, accruals);
  accepted_.push_back(c);
  return true;
}

void ModelRun::SettleDeath(Person& q, Day died, Day date, const std::vector<Paid>& arrears,
                           const std::vector<Accrual>& accruals) {
  const int death_month = MonthOf(died);
  BookAccruals(q, accruals, "death");
  for (const Paid& paid : arrears) {
    BookPaid(q, paid, date);
    ++model_.events["death: months due up to the death paid"];
  }
  // Months paid after the month of death come back: the account part to the account.
  int64_t over_basic = 0, over_pooled = 0;
  BySource over_parts{};
  for (const Paid& paid : q.paid) {
    if (paid.month <= death_month) continue;
    over_basic += paid.basic;
    over_pooled += paid.pooled;
    for (int s = 0; s < kNumSources; ++s) over_parts[s] += paid.parts[s];
  }
  int64_t over_total = over_basic + over_pooled;
  std::string months;
  for (const Paid& paid : q.paid) absl::StrAppend(&months, months.empty() ? "" : ",", paid.month);
  if (q.benefit) Log(absl::StrCat("  (months paid: ", months.empty() ? "none" : months, ")"));
  for (int s = 0; s < kNumSources; ++s) {
    if (over_parts[s] == 0) continue;
    model_.Move(q, s, over_parts[s], date, "overpayment_receivable", true);
    over_total += over_parts[s];
  }
  model_.Post("overpayment_receivable", "overpaid_benefits", over_basic + over_pooled);
  // Funeral subsidy for a pensioner.
  int64_t funeral = 0;
  if (q.benefit) {
    const int version = VersionOn(died);  // the rules in force at the death
    funeral = FuneralFixed(version) +
              kFuneralMonths * BasicPension(version, death_month, q.benefit->years);
    model_.Post("funeral_subsidy_paid", "heirs_payable", funeral);
  }
  // The whole balance is inherited (the government part to the pool before 2014-02-21).
  int64_t estate = 0, to_pool = 0;
  for (int s = 0; s < kNumSources; ++s) {
    const int64_t b = q.Balance(s);
    if (b == 0) continue;
    estate += b;
    const bool pooled = s == kGovernment && died < kWholeBalanceInheritable;
    if (pooled) to_pool += b;
    model_.Move(q, s, -b, date, pooled ? "pooled_fund" : "heirs_payable", true);
  }
  const int64_t offset = std::min(over_total, estate - to_pool + funeral);
  if (q.benefit) ++model_.events["death of a pensioner"];
  if (over_total > 0)
    ++model_.events[offset < over_total ? "death: overpayment partly offset"
                                        : "death: overpayment fully offset"];
  if (to_pool > 0) ++model_.events["death before 2014-02-21: government part to the pool"];
  model_.Post("heirs_payable", "overpayment_receivable", offset);
  q.status = St::kDeceased;
  q.death = Fmt(died);
}

void ModelRun::BookAccruals(Person& q, const std::vector<Accrual>& accruals, const char* what) {
  for (const Accrual& a : accruals) {
    for (int s = 0; s < kNumSources; ++s) {
      if (a.parts[s] != 0) model_.AddInterest(q, s, a.parts[s], a.year);
    }
    ++model_.events[absl::StrCat(what, a.through < 12 ? ": interest to the month of the event"
                                                      : ": a whole unposted year's interest")];
  }
}

bool ModelRun::Terminate() {
  std::vector<int> pensioners;
  for (size_t i = 0; i < model_.people.size(); ++i) {
    const St st = model_.people[i].status;
    if (st == St::kDrawing || st == St::kSuspended) pensioners.push_back(static_cast<int>(i));
  }
  int k;
  v1::TerminationReason reason;
  if (!pensioners.empty() && Chance(50)) {
    k = Pick(pensioners);
    reason = Chance(90) ? v1::TERMINATION_REASON_DOUBLE_RECEIPT
                        : v1::TERMINATION_REASON_SETTLED_ABROAD;  // a pensioner: WRONG_STATE
  } else {
    k = PickPerson({2, 2, 2, 3, 1, 1, 1, 1});
    const int u = Uniform(0, 99);
    reason = u < 45   ? v1::TERMINATION_REASON_SETTLED_ABROAD
             : u < 90 ? v1::TERMINATION_REASON_EMPLOYEE_SCHEME
                      : v1::TERMINATION_REASON_DOUBLE_RECEIPT;
  }
  const Person& p = model_.people[k];
  bool posted;
  const Day date = MaybePostedDate(posted);
  int from = 0;
  if (reason == v1::TERMINATION_REASON_DOUBLE_RECEIPT) {
    // Usually months already paid overlap; sometimes months still due come first; rarely the
    // employees' pension starts after the date (INVALID_PERIOD).
    from = Chance(95) ? MonthOf(date - Uniform(0, 500)) : NextMonth(MonthOf(date));
  }
  v1::AccountCommand c;
  auto* f = c.mutable_terminate_participant();
  f->set_citizen_id(p.id);
  f->set_reason(reason);
  f->set_employee_pension_from_month(from);
  f->set_date(Fmt(date));
  f->set_document_ref(NextRef("TERM"));
  const bool double_receipt = reason == v1::TERMINATION_REASON_DOUBLE_RECEIPT;
  Expect e;
  if (!p.Enrolled()) {
    e = Reject(v1::REASON_UNKNOWN_PARTICIPANT);
  } else if (double_receipt ? (p.status != St::kDrawing && p.status != St::kSuspended)
                            : p.status != St::kContributing) {
    e = Reject(v1::REASON_WRONG_STATE);
  } else if (date < p.enrolled || model_.PostedYear(static_cast<int>(date.year()))) {
    e = Reject(v1::REASON_INVALID_DATE);
  } else if (from > MonthOf(date)) {
    e = Reject(v1::REASON_INVALID_PERIOD);
  }
  const std::vector<Accrual> accruals =
      e.accept ? model_.AccrualsTo(p, date, date) : std::vector<Accrual>();
  Person accrued = p;
  for (const Accrual& a : accruals) {
    for (int s = 0; s < kNumSources; ++s) accrued.interest[s] += a.parts[s];
  }
  std::map<std::string, int64_t> need;
  const std::vector<Paid> arrears = e.accept && double_receipt
                                        ? PlanPerson(accrued, PrevMonth(from), date, need)
                                        : std::vector<Paid>();
  for (const auto& [fund, amount] : need) {
    if (amount > model_.Available(fund)) e = Reject(v1::REASON_INSUFFICIENT_FISCAL_FUNDS);
  }
  int64_t pay = 0;
  for (const Paid& paid : arrears) pay += paid.basic + p.benefit->monthly;
  if (e.accept && pay > model_.PaymentBalance()) {
    if (Chance(85) && !FundPayment(pay - model_.PaymentBalance())) return false;
    if (pay > model_.PaymentBalance()) {
      e = Reject(v1::REASON_INSUFFICIENT_PAYMENT_ACCOUNT);
      ++model_.events["termination refused: payment account short"];
    }
  }
  const std::string what = absl::StrCat("terminate ", p.label, " ",
                                        v1::TerminationReason_Name(reason), " from ", from, " on ",
                                        Fmt(date), " (balance ", Yuan(p.Total()), ")");
  Log(what);
  if (!Check(what, e, ledger_->Execute(c, kActor))) return false;
  if (!e.accept) return true;
  SettleTermination(model_.people[k], reason, from, date, arrears, accruals);
  accepted_.push_back(c);
  return true;
}

void ModelRun::SettleTermination(Person& q, v1::TerminationReason reason, int from, Day date,
                                 const std::vector<Paid>& arrears,
                                 const std::vector<Accrual>& accruals) {
  BookAccruals(q, accruals, "termination");
  for (const Paid& paid : arrears) {
    BookPaid(q, paid, date);
    ++model_.events["双领: months due before the employees' pension paid"];
  }
  // 双领: the basic pension of the months paid from the employees' pension on.
  int64_t over = 0;
  if (reason == v1::TERMINATION_REASON_DOUBLE_RECEIPT) {
    for (const Paid& paid : q.paid) {
      if (paid.month >= from) over += paid.basic;
    }
  }
  model_.Post("overpayment_receivable", "overpaid_benefits", over);
  const bool to_scheme = reason == v1::TERMINATION_REASON_EMPLOYEE_SCHEME;
  if (!to_scheme) {
    // The government principal back to its funds, the latest years first (代缴 before the
    // contribution subsidy of the same year); its interest and the rest to the pool.
    int64_t principal = q.principal[kGovernment];
    std::map<std::pair<int, int>, int64_t> credited;
    for (const auto& [year, amount] : q.subsidy) {
      credited[{year, v1::FISCAL_PURPOSE_CONTRIBUTION_SUBSIDY}] += amount;
    }
    for (const auto& [year, amount] : q.on_behalf) {
      credited[{year, v1::FISCAL_PURPOSE_PAID_ON_BEHALF}] += amount;
    }
    for (auto it = credited.rbegin(); it != credited.rend() && principal > 0; ++it) {
      const int64_t amount = std::min(principal, it->second);
      if (amount <= 0) continue;
      model_.Move(q, kGovernment, -amount, date,
                  Fund(static_cast<v1::FiscalPurpose>(it->first.second), it->first.first), true);
      principal -= amount;
      ++model_.events["termination: government subsidy back to its fund"];
    }
    if (const int64_t rest = q.Balance(kGovernment); rest > 0) {
      model_.Move(q, kGovernment, -rest, date, "pooled_fund", true);
      ++model_.events["termination: government interest to the pool"];
    }
  }
  const std::string payee = to_scheme ? "employee_scheme_payable" : "refunds_payable";
  int64_t owed = 0;
  for (int s = 0; s < kNumSources; ++s) {
    const int64_t b = q.Balance(s);
    if (b == 0) continue;
    owed += b;
    model_.Move(q, s, -b, date, payee, true);
  }
  const int64_t offset = std::min(over, owed);
  model_.Post(payee, "overpayment_receivable", offset);
  ++model_.events[absl::StrCat("termination ", v1::TerminationReason_Name(reason))];
  if (over > 0) {
    ++model_.events[offset < over ? "双领: overpayment partly offset"
                                  : "双领: overpayment fully offset"];
  }
  q.status = St::kTerminated;
  q.termination = reason;
}

bool ModelRun::TransferOut() {
  const int k = PickPerson({2, 2, 2, 3, 1, 1, 1, 1});
  const Person& p = model_.people[k];
  bool posted;
  const Day date = MaybePostedDate(posted);
  v1::AccountCommand c;
  auto* f = c.mutable_transfer_out();
  f->set_citizen_id(p.id);
  f->set_to_region(kElsewhere);
  f->set_date(Fmt(date));
  f->set_document_ref(NextRef("OUT"));
  Expect e;
  if (!p.Enrolled()) {
    e = Reject(v1::REASON_UNKNOWN_PARTICIPANT);
  } else if (p.status != St::kContributing) {
    e = Reject(v1::REASON_WRONG_STATE);
  } else if (model_.PostedYear(static_cast<int>(date.year()))) {
    e = Reject(v1::REASON_INVALID_DATE);
  }
  const std::string what = absl::StrCat("transfer out ", p.label, " on ", Fmt(date),
                                        " (balance ", Yuan(p.Total()), ")");
  Log(what);
  if (!Check(what, e, ledger_->Execute(c, kActor))) return false;
  if (!e.accept) return true;
  Person& q = model_.people[k];
  BookAccruals(q, model_.AccrualsTo(q, date, date), "transfer out");
  for (int s = 0; s < kNumSources; ++s) {
    if (const int64_t b = q.Balance(s); b != 0) {
      model_.Move(q, s, -b, date, "transfers_in_transit", true);
    }
  }
  ++model_.events["transfer out"];
  q.status = St::kTransferredOut;
  q.transferred_to = kElsewhere;
  accepted_.push_back(c);
  return true;
}

bool ModelRun::Resend() {
  if (accepted_.empty()) return Funds();
  v1::AccountCommand c = Pick(accepted_);
  const bool conflict = Chance(50);
  if (conflict) {
    switch (c.command_case()) {
      case v1::AccountCommand::kReceiveFiscalFunds:
        c.mutable_receive_fiscal_funds()->set_amount_fen(c.receive_fiscal_funds().amount_fen() + 1);
        break;
      case v1::AccountCommand::kCreditCollectiveSubsidy:
        c.mutable_credit_collective_subsidy()->set_payer("另一个资助人");
        break;
      case v1::AccountCommand::kRefundContribution:
        c.mutable_refund_contribution()->set_reason(v1::REFUND_REASON_OTHER);
        break;
      case v1::AccountCommand::kSuspendBenefit:
        c.mutable_suspend_benefit()->set_reason("另一个原因");
        break;
      default:
        return Funds();
    }
  }
  const std::string what =
      absl::StrCat("resend ", conflict ? "CONFLICTING " : "IDENTICAL ",
                   v1::AccountCommand::descriptor()->FindFieldByNumber(c.command_case())->name());
  Log(what);
  auto r = ledger_->Execute(c, kActor);
  ++stats_["~ ledger calls"];
  ++stats_[absl::StrCat("resend → ", conflict ? "DUPLICATE_REFERENCE_CONFLICT" : "DUPLICATE")];
  if (!r.ok()) return Fail(absl::StrCat(what, ": status ", r.status().ToString()));
  if (conflict) {
    if (!r->rejection || r->rejection->reason != v1::REASON_DUPLICATE_REFERENCE_CONFLICT) {
      return Fail(absl::StrCat(what, ": expected DUPLICATE_REFERENCE_CONFLICT"));
    }
  } else if (r->rejection || !r->duplicate) {
    return Fail(absl::StrCat(what, ": expected a duplicate, got ",
                             r->rejection ? ReasonName(r->rejection->reason) : "a new command"));
  }
  return true;
}

}  // namespace ledger::model
