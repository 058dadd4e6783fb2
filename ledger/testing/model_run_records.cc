// The model run's collection records (ADD and CANCEL, one at a time, in batches and in yearly
// campaigns) and refunds, each predicted against the model.
#include <google/protobuf/util/message_differencer.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "ledger/testing/model_run.h"

namespace ledger::model {

namespace {

// What a reversed contribution of `year` takes with it (issue 16, point 1), the model's way: the
// year's contribution subsidy (one contribution a year: nothing remains to earn it), and, with no
// 代缴 for the year (every model policy requires a contribution), its collective subsidies and
// sponsorships. Debits (source, amount) in source order, the government's first.
std::vector<std::pair<int, int64_t>> Clawback(const Person& p, int year) {
  std::vector<std::pair<int, int64_t>> out;
  if (auto it = p.subsidy.find(year); it != p.subsidy.end() && it->second > 0) {
    out.emplace_back(kGovernment, it->second);
  }
  if (auto ob = p.on_behalf.find(year); ob != p.on_behalf.end() && ob->second > 0) return out;
  for (int s : {kCollective, kSponsorship}) {
    if (auto it = p.collective_by_source.find({year, s});
        it != p.collective_by_source.end() && it->second > 0) {
      out.emplace_back(s, it->second);
    }
  }
  return out;
}

// Personal `amount` and the clawback of `year` keep the balances at or above zero.
bool ReversalKeepsBalance(const Model& m, int k, int year, int64_t amount, Day date) {
  auto debits = Clawback(m.people[k], year);
  debits.insert(debits.begin(), {kPersonal, amount});
  return m.DebitsKeepBalance(k, debits, date);
}

}  // namespace


using google::protobuf::util::MessageDifferencer;
v1::CollectionRecord ModelRun::AddRecord(const Person& p, int year, int64_t amount, Day date) {
  v1::CollectionRecord r;
  r.set_record_type(v1::RECORD_TYPE_ADD);
  r.set_receipt_number(absl::StrCat("R", seed_, "-", ++refs_));
  r.set_citizen_id(p.id);
  r.set_name("参保人");
  r.set_region_code(kRegion);
  r.set_contribution_year(year);
  r.set_amount_fen(amount);
  r.set_collection_date(Fmt(date));
  r.set_tax_office("TAX01");
  r.set_batch_id(absl::StrCat("B", refs_));
  return r;
}

v1::CollectionRecord ModelRun::RandomAdd() {
  static const std::vector<int> kWho = {4, 4, 4, 2, 2, 3, 2, 1};
  std::discrete_distribution<int> who(kWho.begin(), kWho.end());
  const Person& p = model_.people[who(rng_)];
  Day date = cur_;
  int year = static_cast<int>(cur_.year());
  const int u = Uniform(0, 99);
  if (u < 55) {
    // this year's contribution, collected today
  } else if (u < 75) {
    year -= Uniform(1, 4);  // back-payment (补缴)
  } else if (u < 88) {
    date = RandomDay(kStart, cur_);  // backdated, often into a posted year
    year = static_cast<int>(date.year()) - Uniform(0, 1);
  } else if (u < 94) {
    year += 1;  // paid in advance
  } else {
    year = Chance(50) ? 2008 : static_cast<int>(cur_.year()) + 2;  // implausible
  }
  return AddRecord(p, year, Chance(8) ? 12345 : RandomTier(), date);
}

Day ModelRun::ReversalDate(Day original) {
  const int u = Uniform(0, 99);
  if (u < 65) return cur_;
  if (u < 90) return RandomDay(original, cur_);
  return original - 1;
}

v1::CollectionRecord ModelRun::CancelRecord(const ReceiptModel& rm, Day date) {
  v1::CollectionRecord r = rm.add;
  r.set_record_type(v1::RECORD_TYPE_CANCEL);
  r.set_collection_date(Fmt(date));
  r.set_batch_id(absl::StrCat("C", ++refs_));
  return r;
}

v1::CollectionRecord ModelRun::RandomCancel() {
  if (receipt_order_.empty() || Chance(6)) {
    v1::CollectionRecord r =
        AddRecord(model_.people[0], static_cast<int>(cur_.year()), kAllTiers[0], cur_);
    r.set_record_type(v1::RECORD_TYPE_CANCEL);
    r.set_receipt_number(absl::StrCat("NOPE-", seed_, "-", refs_));
    return r;
  }
  const ReceiptModel* rm = &receipts_.at(Pick(receipt_order_));
  std::vector<const ReceiptModel*> pensioners;
  for (const std::string& n : receipt_order_) {
    const ReceiptModel& x = receipts_.at(n);
    if (x.person >= 0 && model_.people[x.person].benefit && !x.reversed &&
        x.suspense == v1::SUSPENSE_REASON_UNSPECIFIED) {
      pensioners.push_back(&x);
    }
  }
  if (!pensioners.empty() && Chance(40)) {
    rm = *std::max_element(pensioners.begin(), pensioners.end(), [](const auto* a, const auto* b) {
      return a->add.amount_fen() < b->add.amount_fen();
    });
  }
  if (rm->cancel && Chance(50)) return *rm->cancel;  // identical resend
  v1::CollectionRecord r = CancelRecord(*rm, ReversalDate(rm->date));
  if (Chance(8)) r.set_amount_fen(r.amount_fen() + 10000);  // mismatch
  return r;
}

ModelRun::RecordPlan ModelRun::PlanAdd(const v1::CollectionRecord& r) {
  RecordPlan plan;
  plan.r = r;
  const int k = FindPerson(r.citizen_id());
  const Person& p = model_.people[k];
  const Day date = *ParseDay(r.collection_date());
  const int year = r.contribution_year();
  const int64_t amount = r.amount_fen();
  plan.what =
      absl::StrCat("collect ", p.label, " year ", year, " ", Yuan(amount), " dated ", Fmt(date),
                   " receipt ", r.receipt_number(),
                   model_.PostedYear(static_cast<int>(date.year())) ? " (in a posted year)" : "");
  if (auto it = receipts_.find(r.receipt_number()); it != receipts_.end()) {
    if (MessageDifferencer::Equals(it->second.add, r)) {
      plan.outcome = v1::OUTCOME_DUPLICATE;
      plan.what = absl::StrCat("collect IDENTICAL resend of ", r.receipt_number());
    } else {
      plan.outcome = v1::OUTCOME_REJECTED;
      plan.reason = v1::REASON_DUPLICATE_RECEIPT_CONFLICT;
      plan.what = absl::StrCat("collect CONFLICTING record under ", r.receipt_number());
    }
    return plan;
  }
  const std::vector<TierRule> tiers = Tiers(VersionOn(date), year);
  const bool is_tier = std::any_of(tiers.begin(), tiers.end(),
                                   [&](const TierRule& t) { return t.amount == amount; });
  if (year < kEarliestContributionYear || year > date.year() + 1 || year < kFirstPolicyYear ||
      year > kLastPolicyYear) {
    plan.outcome = v1::OUTCOME_REJECTED, plan.reason = v1::REASON_IMPLAUSIBLE_YEAR;
    return plan;
  }
  if (!is_tier) {
    plan.outcome = v1::OUTCOME_REJECTED, plan.reason = v1::REASON_AMOUNT_NOT_A_TIER;
    return plan;
  }
  if (!p.Enrolled()) {
    plan.outcome = v1::OUTCOME_SUSPENSE, plan.suspense = v1::SUSPENSE_REASON_NOT_ENROLLED;
  } else if (p.status == St::kDeceased) {
    plan.outcome = v1::OUTCOME_SUSPENSE, plan.suspense = v1::SUSPENSE_REASON_DECEASED;
  } else if (p.Closed()) {
    plan.outcome = v1::OUTCOME_SUSPENSE, plan.suspense = v1::SUSPENSE_REASON_TERMINATED;
  } else if (p.status == St::kDrawing || p.status == St::kSuspended) {
    plan.outcome = v1::OUTCOME_SUSPENSE, plan.suspense = v1::SUSPENSE_REASON_DRAWING_PENSION;
  } else if (p.contributions.count(year)) {
    plan.outcome = v1::OUTCOME_SUSPENSE, plan.suspense = v1::SUSPENSE_REASON_YEAR_ALREADY_PAID;
  }
  ReceiptModel rm;
  rm.add = r;
  rm.person = p.Enrolled() ? k : -1;
  rm.date = date;
  rm.suspense = plan.suspense;
  if (plan.suspense != v1::SUSPENSE_REASON_UNSPECIFIED) {
    model_.Post("tax_receivable", "suspense", amount);
  } else {
    Person& q = model_.people[k];
    if (model_.PostedYear(static_cast<int>(date.year())))
      ++model_.events["collection credited into a posted year"];
    model_.Move(q, kPersonal, amount, date, "tax_receivable");
    q.contributions[year] = {r.receipt_number(), amount, date, date.year() > year};
    model_.Adjust(q, static_cast<int>(date.year()));
  }
  receipts_[r.receipt_number()] = rm;
  receipt_order_.push_back(r.receipt_number());
  return plan;
}

ModelRun::RecordPlan ModelRun::PlanCancel(const v1::CollectionRecord& r) {
  RecordPlan plan;
  plan.r = r;
  const Day date = *ParseDay(r.collection_date());
  auto it = receipts_.find(r.receipt_number());
  if (it == receipts_.end()) {
    plan.what = absl::StrCat("cancel unknown receipt ", r.receipt_number());
    plan.outcome = v1::OUTCOME_REJECTED, plan.reason = v1::REASON_ORIGINAL_NOT_FOUND;
    return plan;
  }
  ReceiptModel& rm = it->second;
  const bool in_account = rm.suspense == v1::SUSPENSE_REASON_UNSPECIFIED;
  plan.what =
      absl::StrCat("cancel ", r.receipt_number(), " (", Label(rm.person), " year ",
                   rm.add.contribution_year(), " ", Yuan(rm.add.amount_fen()), ", ",
                   in_account ? "in the account" : "in suspense", ") dated ", Fmt(date),
                   r.amount_fen() != rm.add.amount_fen() ? " with a different amount" : "",
                   model_.PostedYear(static_cast<int>(date.year())) ? " (in a posted year)" : "");
  if (rm.reversed) {
    if (rm.cancel && MessageDifferencer::Equals(*rm.cancel, r)) {
      plan.outcome = v1::OUTCOME_DUPLICATE;
      plan.what = absl::StrCat("cancel IDENTICAL resend for ", r.receipt_number());
    } else {
      plan.outcome = v1::OUTCOME_REJECTED, plan.reason = v1::REASON_ALREADY_CANCELLED;
    }
    return plan;
  }
  if (r.citizen_id() != rm.add.citizen_id() || r.region_code() != rm.add.region_code() ||
      r.contribution_year() != rm.add.contribution_year() ||
      r.amount_fen() != rm.add.amount_fen()) {
    plan.outcome = v1::OUTCOME_REJECTED, plan.reason = v1::REASON_CANCEL_MISMATCH;
    return plan;
  }
  if (date < rm.date) {
    plan.outcome = v1::OUTCOME_REJECTED, plan.reason = v1::REASON_INVALID_DATE;
    return plan;
  }
  if (in_account && !ReversalKeepsBalance(model_, rm.person, rm.add.contribution_year(),
                                          rm.add.amount_fen(), date)) {
    plan.outcome = v1::OUTCOME_REJECTED, plan.reason = v1::REASON_INSUFFICIENT_BALANCE;
    return plan;
  }
  Reverse(rm, date, "tax_receivable");
  rm.cancel = r;
  return plan;
}

bool ModelRun::Push(const std::vector<RecordPlan>& plans) {
  Ledger::Records records;
  for (const RecordPlan& p : plans) *records.Add() = p.r;
  if (plans.size() > 1) Log(absl::StrCat("push of ", plans.size(), " records:"));
  for (const RecordPlan& p : plans) Log(absl::StrCat(plans.size() > 1 ? "  " : "", p.what));
  auto out = ledger_->PushCollections(records, kActor);
  ++stats_["~ ledger calls"];
  stats_["~ collection records"] += static_cast<int>(plans.size());
  if (!out.ok()) return Fail(absl::StrCat("PushCollections: ", out.status().ToString()));
  if (out->size() != plans.size()) return Fail("PushCollections: wrong number of outcomes");
  for (size_t i = 0; i < plans.size(); ++i) {
    const RecordPlan& p = plans[i];
    const v1::RecordOutcome& got = (*out)[i];
    ++stats_[absl::StrCat(p.what.substr(0, p.what.find(' ')), " → ", v1::Outcome_Name(p.outcome),
                          p.outcome == v1::OUTCOME_SUSPENSE
                              ? "/" + v1::SuspenseReason_Name(p.suspense)
                          : p.outcome == v1::OUTCOME_REJECTED ? "/" + ReasonName(p.reason)
                                                              : "")];
    if (got.outcome() != p.outcome || got.suspense_reason() != p.suspense ||
        (p.outcome == v1::OUTCOME_REJECTED && got.reason() != p.reason)) {
      return Fail(absl::StrCat(
          "record ", i, " (", p.what, "): expected ", v1::Outcome_Name(p.outcome), " ",
          v1::SuspenseReason_Name(p.suspense), " ", ReasonName(p.reason), ", got ",
          v1::Outcome_Name(got.outcome()), " ", v1::SuspenseReason_Name(got.suspense_reason()), " ",
          ReasonName(got.reason()), " (", got.detail(), ")"));
    }
  }
  return true;
}

bool ModelRun::Collect() {
  v1::CollectionRecord r;
  if (!receipt_order_.empty() && Chance(8)) {
    r = receipts_.at(Pick(receipt_order_)).add;  // a resend, or a conflict under a used number
    if (Chance(40)) r.set_amount_fen(r.amount_fen() == kAllTiers[0] ? kAllTiers[1] : kAllTiers[0]);
  } else {
    r = RandomAdd();
  }
  return Push({Plan(r)});
}

bool ModelRun::Batch() {
  std::vector<RecordPlan> plans;
  const int n = Uniform(2, 6);
  for (int i = 0; i < n; ++i) {
    if (!plans.empty() && plans.back().r.record_type() == v1::RECORD_TYPE_ADD && Chance(20)) {
      v1::CollectionRecord again = plans.back().r;  // the same person and year again
      again.set_receipt_number(absl::StrCat("R", seed_, "-", ++refs_));
      plans.push_back(Plan(again));
    } else if (!plans.empty() && plans.back().r.record_type() == v1::RECORD_TYPE_ADD &&
               receipts_.count(plans.back().r.receipt_number()) && Chance(20)) {
      const ReceiptModel& rm = receipts_.at(plans.back().r.receipt_number());
      plans.push_back(Plan(CancelRecord(rm, *ParseDay(rm.add.collection_date()))));
    } else {
      plans.push_back(Plan(Chance(80) ? RandomAdd() : RandomCancel()));
    }
  }
  return Push(plans);
}

bool ModelRun::Campaign() {
  std::vector<RecordPlan> plans;
  for (const Person& p : model_.people) {
    if (p.label == "X" && Chance(50)) continue;
    if (Chance(85)) {
      const int64_t tier = p.label == "P3" || p.label == "P2" ? kAllTiers[3] : RandomTier();
      plans.push_back(Plan(AddRecord(p, static_cast<int>(cur_.year()), tier, cur_)));
    }
    if (Chance(35)) {
      const int year = Uniform(2015, static_cast<int>(cur_.year()) - 1);
      plans.push_back(Plan(AddRecord(p, year, RandomTier(), cur_)));
    }
  }
  if (plans.empty()) return Funds();
  return Push(plans);
}

void ModelRun::Reverse(ReceiptModel& rm, Day date, const std::string& other) {
  rm.reversed = true;
  const int64_t amount = rm.add.amount_fen();
  if (rm.suspense != v1::SUSPENSE_REASON_UNSPECIFIED) {
    model_.Post("suspense", other, amount);
    return;
  }
  Person& p = model_.people[rm.person];
  if (model_.PostedYear(static_cast<int>(date.year())))
    ++model_.events["reversal from an account dated in a posted year"];
  model_.Move(p, kPersonal, -amount, date, other, other == "refunds_payable");
  auto it = p.contributions.find(rm.add.contribution_year());
  if (it != p.contributions.end() && it->second.receipt == rm.add.receipt_number()) {
    p.contributions.erase(it);
  } else {
    model_.anomalies.push_back(absl::StrCat("reversed receipt ", rm.add.receipt_number(),
                                            " is not among ", p.label, "'s contributions"));
  }
  const int year = rm.add.contribution_year();
  if (auto ob = p.on_behalf.find(year);
      ob != p.on_behalf.end() && ob->second > 0 && p.collective.count(year) &&
      p.collective.at(year) > 0) {
    ++model_.events["reversal kept the collective subsidy (代缴 remains)"];
  }
  for (const auto& [s, back] : Clawback(p, year)) {
    ++model_.events[s == kGovernment ? "contribution subsidy reversed"
                                     : "collective subsidy reversed"];
    if (s == kGovernment) {
      model_.Move(p, s, -back, date, Fund(v1::FISCAL_PURPOSE_CONTRIBUTION_SUBSIDY, year));
      p.subsidy[year] = 0;
    } else {
      model_.Move(p, s, -back, date, "collective_refunds_payable");
      p.collective_by_source[{year, s}] = 0;
      p.collective[year] -= back;
    }
  }
  model_.Adjust(p, static_cast<int>(date.year()));
}

bool ModelRun::Refund() {
  if (receipt_order_.empty()) return Collect();
  ReceiptModel& rm = receipts_.at(Pick(receipt_order_));
  const Day date = ReversalDate(rm.date);
  const bool before = date < rm.date;
  v1::AccountCommand c;
  auto* f = c.mutable_refund_contribution();
  f->set_receipt_number(rm.add.receipt_number());
  f->set_reason(v1::REFUND_REASON_DUPLICATE_ENROLMENT);
  f->set_date(Fmt(date));
  f->set_document_ref(NextRef("REFUND"));
  Expect e;
  const bool in_account = rm.suspense == v1::SUSPENSE_REASON_UNSPECIFIED;
  if (rm.reversed) {
    e = Reject(v1::REASON_ALREADY_CANCELLED);
  } else if (before) {
    e = Reject(v1::REASON_INVALID_DATE);
  } else if (in_account && model_.people[rm.person].status != St::kContributing) {
    e = Reject(v1::REASON_WRONG_STATE);
  } else if (in_account &&
             !ReversalKeepsBalance(model_, rm.person, rm.add.contribution_year(),
                                   rm.add.amount_fen(), date)) {
    e = Reject(v1::REASON_INSUFFICIENT_BALANCE);
  }
  const std::string label = rm.person >= 0 ? model_.people[rm.person].label : "X";
  const std::string what = absl::StrCat(
      "refund ", rm.add.receipt_number(), " (", label, " year ", rm.add.contribution_year(), " ",
      Yuan(rm.add.amount_fen()), ", ", in_account ? "in the account" : "in suspense", ") dated ",
      Fmt(date), model_.PostedYear(static_cast<int>(date.year())) ? " (in a posted year)" : "");
  Log(what);
  if (!Check(what, e, ledger_->Execute(c, kActor))) return false;
  if (!e.accept) return true;
  Reverse(rm, date, "refunds_payable");
  accepted_.push_back(c);
  return true;
}

}  // namespace ledger::model
