// The random driver of the lifecycle model test: one seeded run plays a stream of commands
// against a ledger and against the model (ledger/testing/lifecycle_model.h) and compares them
// after every command. Test-only.
//
// A seeded std::mt19937 plays a stream of commands against the ledger and the model: tax
// collections (single records and batches decided in order; yearly campaigns; back-payments,
// advance payments, records backdated into years whose interest is posted, resends, receipt
// conflicts, invalid years and amounts), cancellations (also in the same batch as the ADD),
// refunds, fiscal funds, government subsidy jobs (with and without enough funds), collective
// subsidy / sponsorship (over the cap, without a contribution), interest jobs (in order, out of
// order, repeated, not yet due), benefit determination (too young, too few years, in a posted
// year), monthly benefit jobs (catch-up, out of order, funds short), suspension / resumption with
// back pay, death (overpaid months offset against the estate, funeral subsidy, the pre-2014 pool
// rule), termination (settled abroad, employees' scheme, 双领 with its overpayment), transfer out
// (with the interest to its date), and resent / conflicting document references. Two policy versions are in force (v2
// from 2024-01-01), so every rule must come from the version in force on the right date.
//
// For every command the model predicts acceptance or the exact rejection reason (and a job's
// total); after every command the participants (total, principal and interest by source,
// status, contribution years, benefit) and every general-ledger balance must match, all balances
// must sum to zero and Σ account totals must equal −Σ individual_accounts/*. Halfway the ledger
// is closed and reopened; at the end it is closed (every fourth seed rebuilds its projections
// from the log with Ledger::RebuildProjections), reopened, compared again (projections byte for
// byte, chain head, balances) and every participant's annual statement for 2019–2026 is checked.
//
// The simulated business calendar moves forward from 2019-01-01 to the clock date 2026-11-20;
// interest for a year is run only once the calendar has left it, so benefits, deaths and
// determinations dated "today" never fall into a posted year (lifecycle.h forbids that; the
// benefits job does not check it: see LifecycleModelProbe in lifecycle_model_test.cc). Where the
// ledger's behaviour differs from DOMAIN.md the model follows the ledger and says so ("KNOWN
// GAP"), and a probe in lifecycle_model_test.cc shows the difference.
//
// The member functions are defined in model_run.cc (the run, comparison, enrolment and the step
// choice), model_run_records.cc (collections, cancellations, refunds), model_run_jobs.cc (fiscal
// funds and the subsidy, interest and benefits jobs) and model_run_commands.cc (the participants'
// commands).
#ifndef LEDGER_TESTING_MODEL_RUN_H_
#define LEDGER_TESTING_MODEL_RUN_H_

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "ledger/ledger.h"
#include "ledger/testing/lifecycle_model.h"

namespace ledger::model {

// One seeded run.
class ModelRun {
 public:
  ModelRun(uint32_t seed, int steps, std::filesystem::path dir, std::map<std::string, int>& stats)
      : seed_(seed),
        steps_(steps),
        rng_(seed),
        side_rng_(seed ^ 0x5eedu),
        dir_(std::move(dir)),
        stats_(stats) {}
  ~ModelRun();

  // Returns false at the first discrepancy (already reported).
  bool Run();

 private:
  // ----- plumbing

  bool Open();

  // Closes and reopens (optionally rebuilding every projection from the log first); the state
  // must be the same as before, byte for byte, and still match the model.
  bool Reopen(bool rebuild);
  void AddPerson(std::string label, Day birth, v1::SpecialGroup group);
  int FindPerson(const std::string& id) const;

  void Log(std::string line) { log_.push_back(std::move(line)); }

  bool Fail(const std::string& what);

  template <typename T>
  T Pick(const std::vector<T>& v) {
    return v[std::uniform_int_distribution<size_t>(0, v.size() - 1)(rng_)];
  }
  int Uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  bool Chance(int percent) { return Uniform(0, 99) < percent; }
  Day RandomDay(Day from, Day to);
  std::string NextRef(const std::string& kind) {
    return absl::StrCat(kind, "-", seed_, "-", ++refs_);
  }

  // Compares a command's result with the model's expectation.
  bool Check(const std::string& what, const Expect& e, const absl::StatusOr<CommandResult>& r);

  // ----- comparison

  bool Compare(const std::string& when);

  // The annual statements (对账单) of every participant for every year of the calendar:
  // opening and closing by source, interest of the year, paid out in the year.
  bool CompareStatements(const std::string& when);

  // ----- commands

  bool Enrol(size_t k);
  bool Step();

  // -- collections (the tax bureau's pushes: one record, or a batch decided in order)

  // A record with the model's prediction; planning it has already applied its effect.
  struct RecordPlan {
    v1::CollectionRecord r;
    v1::Outcome outcome = v1::OUTCOME_ACCEPTED;
    v1::SuspenseReason suspense = v1::SUSPENSE_REASON_UNSPECIFIED;
    v1::Reason reason = v1::REASON_UNSPECIFIED;
    std::string what;
  };

  v1::CollectionRecord AddRecord(const Person& p, int year, int64_t amount, Day date);

  // Any amount that is a tier in some version (2000 yuan only under v2 from 2023).
  int64_t RandomTier() { return kAllTiers[Uniform(0, 4)]; }

  // A random ADD: usually this year's, sometimes a back-payment, backdated, in advance, invalid.
  v1::CollectionRecord RandomAdd();

  // A date for a reversal of a receipt dated `original`: usually today, sometimes between, and
  // sometimes (invalid) the day before the original.
  Day ReversalDate(Day original);
  v1::CollectionRecord CancelRecord(const ReceiptModel& rm, Day date);

  // A random CANCEL: of a known receipt (often a pensioner's largest, so that the account runs
  // out before the pension does), an identical resend, a mismatch, or an unknown receipt.
  v1::CollectionRecord RandomCancel();

  std::string Label(int person) const { return person >= 0 ? model_.people[person].label : "X"; }

  // Predicts an ADD record against the model and applies its effect there.
  RecordPlan PlanAdd(const v1::CollectionRecord& r);

  // Predicts a CANCEL record against the model and applies its effect there.
  RecordPlan PlanCancel(const v1::CollectionRecord& r);

  RecordPlan Plan(const v1::CollectionRecord& r) {
    return r.record_type() == v1::RECORD_TYPE_ADD ? PlanAdd(r) : PlanCancel(r);
  }

  // Pushes the planned records in one call and compares every outcome.
  bool Push(const std::vector<RecordPlan>& plans);
  bool Collect();

  bool Cancel() { return Push({Plan(RandomCancel())}); }

  // A batch of random records, decided in order against the effects of the earlier ones: a
  // second record for a year is YEAR_ALREADY_PAID, an ADD can be cancelled in the same push.
  bool Batch();

  // The yearly collection campaign: most participants pay this year's contribution, some
  // back-pay an earlier year, in one push.
  bool Campaign();
  void Reverse(ReceiptModel& rm, Day date, const std::string& other);
  bool Refund();

  // -- fiscal funds

  bool ReceiveFunds(v1::FiscalPurpose purpose, int year, int64_t amount);
  // Remits `amount` into the special account and sweeps it into the payment account.
  bool FundPayment(int64_t amount);
  bool Funds();

  // -- jobs

  struct JobExpect {
    Expect e;
    bool noop = false;  // a completed period: nothing happens
    int64_t total = 0;  // progress.total_fen
  };

  bool CheckJob(const std::string& what, const JobExpect& x,
                const absl::StatusOr<Ledger::JobOutcome>& r);
  absl::StatusOr<Ledger::JobOutcome> RunJob(v1::JobKind kind, int period, Day date);

  // The government subsidy job's credits: (person, purpose, amount).
  struct Credit {
    size_t person;
    v1::FiscalPurpose purpose;
    int64_t amount;
  };
  std::vector<Credit> PlanSubsidy(int year, Day date) const;
  bool SubsidyJob();
  bool InterestChoice();
  bool InterestJob(int year);

  // One pensioner's unpaid months up to `last`, paid on `date` under the policy in force then.
  std::vector<Paid> PlanPerson(const Person& p, int last, Day date,
                               std::map<std::string, int64_t>& need) const;

  // The benefits job for `month`: each pensioner's unpaid months up to it.
  std::vector<std::pair<size_t, Paid>> PlanBenefits(int month,
                                                    std::map<std::string, int64_t>& need) const;

  // Books one paid month in the model.
  void BookPaid(Person& p, const Paid& paid, Day date);
  bool BenefitsJob(int month, bool top_up);
  bool Benefits();

  // -- participants' commands

  int PickPerson(const std::vector<int>& weights);
  bool Collective();

  // A command date: today, or (sometimes) a day in a year whose interest is posted.
  Day MaybePostedDate(bool& posted);
  bool Determine();
  bool Suspend();
  bool Resume();
  bool Death();
  // Books an accepted death in the model: the arrears up to the death, the overpaid months back,
  // the funeral subsidy, the inheritance and the offset of the overpayment against it.
  void SettleDeath(Person& q, Day died, Day date, const std::vector<Paid>& arrears,
                   const std::vector<Accrual>& accruals);

  // Termination (issue 16, point 5): settled abroad or joined the employees' scheme (a
  // contributor), 双领 (a pensioner, from a random month of the employees' pension).
  bool Terminate();
  // Books an accepted termination: the interest to the date, 双领's arrears and overpayment, the
  // government money back to its funds (the rest to the pool), the balance to the payee.
  void SettleTermination(Person& q, v1::TerminationReason reason, int from, Day date,
                         const std::vector<Paid>& arrears, const std::vector<Accrual>& accruals);
  // Transfer out to a region outside the model: the interest to the date (point 6) and the
  // whole balance to transfers_in_transit.
  bool TransferOut();
  void BookAccruals(Person& q, const std::vector<Accrual>& accruals, const char* what);

  // A resent command (same document, same content → the original answer) or a different command
  // under a used document reference (→ DUPLICATE_REFERENCE_CONFLICT).
  bool Resend();

  uint32_t seed_;
  int steps_;
  std::mt19937 rng_;
  std::mt19937 side_rng_;  // termination and transfer out (Step)
  std::filesystem::path dir_;
  std::map<std::string, int>& stats_;
  std::unique_ptr<Ledger> ledger_;
  Model model_;
  Day cur_ = kStart;
  int step_ = -1;
  int refs_ = 0;
  int last_campaign_year_ = 0;
  std::vector<std::string> log_;
  std::map<std::string, ReceiptModel> receipts_;
  std::vector<std::string> receipt_order_;
  std::vector<v1::AccountCommand> accepted_;
};

}  // namespace ledger::model

#endif  // LEDGER_TESTING_MODEL_RUN_H_
