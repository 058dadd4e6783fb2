// The lifecycle model: a small, independent implementation of DOMAIN.md and of the decisions
// documented in ledger/lifecycle.h and ledger/account.h, against which lifecycle_model_test
// checks the ledger. It does not call the ledger's arithmetic: per participant and funding
// source it keeps the list of dated movements and the interest posted per year, and recomputes a
// year's interest from that list directly (Σ_source(opening × 12 + Σ ±amount × (12 − month)) ×
// rate ÷ 12, __int128, one half-up rounding on the total, largest-remainder split by source,
// ties to the earlier source). It also keeps every general-ledger account a command moves.
// Test-only.
#ifndef LEDGER_TESTING_LIFECYCLE_MODEL_H_
#define LEDGER_TESTING_LIFECYCLE_MODEL_H_

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "ledger/testing/model_policy.h"
#include "ledger/v1/events.pb.h"
#include "ledger/v1/records.pb.h"

namespace ledger::model {

__extension__ typedef __int128 I128;

// ---------------------------------------------------------------------------------------------
// Small helpers, written here rather than borrowed from the ledger.

std::string Fmt(Day d);
std::optional<Day> ParseDay(const std::string& text);
inline int MonthOf(Day d) { return static_cast<int>(d.year()) * 100 + d.month(); }
inline int NextMonth(int m) { return m % 100 == 12 ? (m / 100 + 1) * 100 + 1 : m + 1; }
inline int PrevMonth(int m) { return m % 100 == 1 ? (m / 100 - 1) * 100 + 12 : m - 1; }
inline Day FirstDay(int m) { return Day(m / 100, m % 100, 1); }
int Age(Day birth, Day on);
std::string Yuan(int64_t fen);

// A valid GB 11643 citizen ID of kRegion: birth date, sequence, check character.
std::string MakeId(Day birth, int seq);

// Half-up (away from zero) division, formulated independently: floor(|n| / d + 1/2).
int64_t HalfUp(I128 numerator, int64_t denominator);

// Largest remainder: floor shares, then one fen each to the largest remainders, ties to the
// earlier index. Weights ≥ 0, sum > 0 unless total is 0.
std::vector<int64_t> LargestRemainder(int64_t total, const std::vector<I128>& weights);

// ---------------------------------------------------------------------------------------------
// The model.

inline constexpr int kNumSources = 5;  // index = FundingSource − 1
inline constexpr int kPersonal = 0, kGovernment = 1, kCollective = 2, kSponsorship = 3;
inline constexpr std::array<const char*, kNumSources> kSourceName = {
    "personal", "government", "collective", "sponsorship", "transfer_in"};
using BySource = std::array<int64_t, kNumSources>;

std::string Ind(int s);
std::string Fund(v1::FiscalPurpose purpose, int year);

// A region outside the model, where transfers out go.
inline constexpr char kElsewhere[] = "222499";

enum class St { kAbsent, kContributing, kDrawing, kSuspended, kDeceased, kTerminated, kTransferredOut };

v1::ParticipantStatus ToProto(St s);

struct Movement {
  int source;
  int64_t amount;  // credit > 0, debit < 0
  Day date;
  bool paid_out;  // benefits, refunds, inheritance (and overpayments returned): the statement's
                  // paid_out
};
struct Contribution {
  std::string receipt;
  int64_t amount;
  Day date;
  bool back_payment;
};
struct Paid {
  int month;
  int64_t basic;
  BySource parts;
  int64_t pooled;
};
struct Benefit {
  int start = 0, next = 0;
  int64_t monthly = 0, balance = 0;
  uint32_t years = 0;
  int64_t paid_basic = 0, paid_account = 0, paid_pooled = 0;
  int suspended_from = 0;
  // Subsidies for years before the start credited after it, and the first month paid at the
  // recalculated amount (issue 16, point 3).
  int64_t late = 0;
  int recalculated_from = 0;
};

struct Person {
  std::string label, id;
  Day birth;
  v1::SpecialGroup group = v1::SPECIAL_GROUP_UNSPECIFIED;
  Day enrolled;
  St status = St::kAbsent;
  BySource principal{}, interest{};
  std::vector<Movement> movements;
  std::map<int, BySource> interest_by_year;               // posted + adjusted, per year
  std::set<int> interest_posted;                          // years with an InterestPosted event
  std::map<int, Contribution> contributions;              // by contribution year
  std::map<int, int64_t> subsidy, on_behalf, collective;  // credited FOR a year
  std::map<std::pair<int, int>, int64_t> collective_by_source;  // (year, source)
  std::optional<Benefit> benefit;
  std::vector<Paid> paid;
  std::string death;
  v1::TerminationReason termination = v1::TERMINATION_REASON_UNSPECIFIED;
  std::string transferred_to;

  int64_t Balance(int s) const { return principal[s] + interest[s]; }
  int64_t Total() const;
  std::set<int> ContributionYears() const;
  bool Enrolled() const { return status != St::kAbsent; }
  // Deceased, terminated or transferred out: no job, collection or command changes it.
  bool Closed() const {
    return status == St::kDeceased || status == St::kTerminated || status == St::kTransferredOut;
  }
};

// Takes `amount` from `first` (as far as it is positive), the rest from `second`.
void Take(int64_t amount, int64_t& first, int64_t& second);

// The basic pension for `month` under the rules of policy `version` (the version in force when
// it is paid): the rule in force on the month's first day.
int64_t BasicPension(int version, int month, uint32_t years);

struct YearInterest {
  int64_t total = 0;
  BySource parts{};
  bool negative_numerator = false;
};

// Interest to the date an account closes: `year`'s interest for January to `through`.
struct Accrual {
  int year = 0;
  int through = 12;
  BySource parts{};
};

struct Model {
  std::vector<Person> people;
  std::map<std::string, int64_t> gl;  // general ledger, debits − credits, without region prefix
  std::optional<int> interest_mark, benefits_mark;
  std::vector<std::string> anomalies;  // model-side surprises (negative numerators)
  std::map<std::string, int> events;   // what happened, for the coverage summary

  void Post(const std::string& debit, const std::string& credit, int64_t amount) {
    gl[debit] += amount;
    gl[credit] -= amount;
  }
  // A movement of a person's source dated `date`; `other` is the general-ledger account on the
  // other side (debited for a credit to the person, credited for a debit).
  void Move(Person& p, int s, int64_t delta, Day date, const std::string& other,
            bool paid_out = false);
  void AddInterest(Person& p, int s, int64_t delta, int year);
  static YearInterest Compute(const Person& p, int year);
  // `year`'s interest for January to `through` at `rate_bp`: the opening earns `through` months,
  // money arriving in month m earns through − m (none from the month of the event on).
  static YearInterest ComputeThrough(const Person& p, int year, int through, uint32_t rate_bp);
  // The interest to `event` (death, transfer) recorded on `date`: every year not yet posted for
  // the account, from its enrolment, each year's rate that of the rules in force on 31 December
  // (or on the event's day in its year), or on `date` if earlier; less what the year holds.
  std::vector<Accrual> AccrualsTo(const Person& p, Day event, Day date) const;
  // The payment account's balance (fund.payment, debits − credits).
  int64_t PaymentBalance() const {
    auto it = gl.find("fund.payment");
    return it == gl.end() ? 0 : it->second;
  }
  // After a movement dated in `from_year`: re-post every posted year from then on.
  void Adjust(Person& p, int from_year);
  // Would debiting `amount` from source `s` on `date` (with the interest adjustments it causes)
  // keep every principal and interest of the account at or above zero?
  bool DebitKeepsBalance(size_t k, int s, int64_t amount, Day date) const;
  // The same for several debits (source, amount) on the same date.
  bool DebitsKeepBalance(size_t k, const std::vector<std::pair<int, int64_t>>& debits,
                         Day date) const;
  int64_t Available(const std::string& fund) const {
    auto it = gl.find(fund);
    return it == gl.end() ? 0 : -it->second;
  }
  bool PostedYear(int year) const { return interest_mark && year <= *interest_mark; }
};

// What a command should do.
struct Expect {
  bool accept = true;
  v1::Reason reason = v1::REASON_UNSPECIFIED;
};
inline Expect Accept() { return {}; }
inline Expect Reject(v1::Reason r) { return {false, r}; }

// A collection record the ledger knows.
struct ReceiptModel {
  v1::CollectionRecord add;
  int person = -1;  // index into Model::people, -1 for an ID nobody enrolled
  Day date;
  v1::SuspenseReason suspense = v1::SUSPENSE_REASON_UNSPECIFIED;
  bool reversed = false;
  std::optional<v1::CollectionRecord> cancel;  // the cancellation that reversed it
};

inline std::string ReasonName(v1::Reason r) { return v1::Reason_Name(r); }
inline std::string ExpectName(const Expect& e) {
  return e.accept ? "ACCEPTED" : ReasonName(e.reason);
}

}  // namespace ledger::model

#endif  // LEDGER_TESTING_LIFECYCLE_MODEL_H_
