// Fuzzes decode + validation + apply through the ledger's public, validating API.
//
// The input is a ledger::fuzz::Program (fuzz_program.proto) in protobuf text format, or else in
// binary: a few steps of AdoptPolicy, Enrol, PushCollections, Execute (every AccountCommand) and
// RunJob. They run against a copy of a small template ledger (built once at start: the Yanji demo
// policy, four participants, collections over several years, one of them to suspense, fiscal
// funds) on a temporary directory ($TMPDIR, else /dev/shm), with a fixed clock (2026-06-30,
// Beijing). While fuzzing, a session of inputs shares one copy (see Session below; its steps are
// kept as a reproducer); given files, the target runs each on a fresh copy with every check.
//
// Properties, after every step:
//   - The call succeeds (a non-OK status means storage trouble, which a tmpfs never has).
//   - A rejected command has a reason, sequence 0, and changes nothing: same chain head, same
//     ledger-account balances. A duplicate appends nothing and names an earlier sequence. An
//     accepted one appends exactly its events: the head is its last sequence.
//   - A push answers every record, in order; ACCEPTED/SUSPENSE records get new ascending
//     sequences whose event carries the receipt (and the suspense reason); DUPLICATE names an
//     existing event of the same receipt; REJECTED has a reason; nothing else changes the head.
//   - The events of a lifecycle command carry its document reference and command digest.
//   - Sent again (`resend`), an accepted or duplicate command is a duplicate of the same sequence,
//     a rejected one is rejected for the same reason, a committed record is a DUPLICATE of its
//     sequence, and a completed job moves no money again (only the government subsidy job, which
//     is re-runnable by design for late contributions, records another empty JobCompleted).
//   - Messages never show a citizen ID unmasked.
//   - Double entry: all ledger-account balances sum to zero, and so do each region's; the
//     individual-account control accounts balance exactly against the accounts (Σ control +
//     Σ account totals = 0); every account's total is the sum of its sources, none negative.
// After the program (while fuzzing: at the end of each session):
//   - The hash chain verifies (VerifyChain, FindChainBreak).
//   - Rebuilding every projection from the log gives byte-identical projections (ReplayCompare).
//   - The auditor's recomputations from the log agree with the projections: each participant's
//     balance as of now (by source), each ledger account's balance, the current year's statement.
#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/stubs/logging.h>
#include <google/protobuf/text_format.h>

#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "fuzz_check.h"
#include "fuzz_program.pb.h"
#include "ledger/citizen_id.h"
#include "ledger/ledger.h"
#include "ledger/policy.h"
#include "ledger/strings.h"

namespace {

namespace v1 = ledger::v1;
namespace fs = std::filesystem;
using ledger::StrCat;

constexpr char kActor[] = "CN=fuzz,OU=admin,O=Pension Ledger Fuzz";
constexpr char kRegion[] = "222401";
constexpr int kThisYear = 2026;
// Bounds that keep one input at a few milliseconds.
constexpr int kStepsMax = 24;
constexpr int kRecordsPerPushMax = 64;
// While fuzzing, inputs share a ledger for this many inputs or events (see Session).
constexpr int kInputsPerSession = 32;
constexpr uint64_t kEventsPerSessionMax = 1500;

// 2026-06-30 12:00 in Beijing (UTC+8).
int64_t FixedNow() {
  return absl::ToUnixMicros(
      absl::FromCivil(absl::CivilSecond(2026, 6, 30, 4, 0, 0), absl::UTCTimeZone()));
}

template <typename T>
T Must(absl::StatusOr<T> v, std::string_view what) {
  FUZZ_CHECK(v.ok(), StrCat(what, ": ", v.status().ToString()));
  return *std::move(v);
}
void Must(const absl::Status& s, std::string_view what) {
  FUZZ_CHECK(s.ok(), StrCat(what, ": ", s.ToString()));
}

std::string Brief(const google::protobuf::Message& m) {
  std::string s = m.ShortDebugString();
  return s.size() > 1500 ? s.substr(0, 1500) + "…" : s;
}

std::unique_ptr<ledger::Ledger> OpenLedger(const std::string& dir, bool verify) {
  ledger::Options options;
  options.data_dir = dir;
  options.verify_chain_on_open = verify;
  options.clock_us = FixedNow;
  return Must(ledger::Ledger::Open(std::move(options)), StrCat("open ", dir));
}

std::string MakeId(std::string_view first17) {
  return StrCat(first17, ledger::CitizenIdCheckChar(first17));
}

struct Env {
  std::string root;       // per-process scratch directory
  std::string template_dir;
  std::string run_dir;
  std::string scratch_dir;
  std::string history;           // the steps of the current session
  std::vector<std::string> ids;  // participants of the template (enrolled or not)
};
Env* env = nullptr;
// FUZZ_LEDGER_VERBOSE=1 prints what each step did (to check that seeds do what they mean).
bool verbose = false;

void Say(std::string_view what) {
  if (verbose) std::fprintf(stderr, "  %s\n", std::string(what).c_str());
}

std::string Outcome(const ledger::CommandResult& r) {
  if (r.rejection) {
    return StrCat("rejected ", v1::Reason_Name(r.rejection->reason), ": ", r.rejection->detail);
  }
  return StrCat(r.duplicate ? "duplicate of " : "accepted at ", r.sequence,
                r.last_sequence > r.sequence ? StrCat("..", r.last_sequence) : "");
}

void RemoveRoot() {
  if (env == nullptr) return;
  std::error_code error;
  fs::remove_all(env->root, error);
}

v1::CollectionRecord Record(std::string receipt, const std::string& id, std::string name,
                            int year, int64_t yuan, std::string date) {
  v1::CollectionRecord r;
  r.set_record_type(v1::RECORD_TYPE_ADD);
  r.set_receipt_number(std::move(receipt));
  r.set_citizen_id(id);
  r.set_name(std::move(name));
  r.set_region_code(kRegion);
  r.set_contribution_year(year);
  r.set_amount_fen(yuan * 100);
  r.set_collection_date(std::move(date));
  r.set_tax_office("12224010000");
  r.set_batch_id(StrCat("TX", year));
  return r;
}

// The template ledger every input starts from.
void BuildTemplate() {
  auto l = OpenLedger(env->template_dir, false);
  std::ifstream in(StrCat(LEDGER_SOURCE_DIR, "/deploy/policies/yanji-222401.json"));
  std::stringstream json;
  json << in.rdbuf();
  for (const v1::Policy& policy :
       Must(ledger::ParsePolicyFileJson(json.str()), "the Yanji policy")) {
    auto adopted = Must(l->AdoptPolicy(policy, kActor), "adopt");
    FUZZ_CHECK(!adopted.rejection, adopted.rejection->detail);
  }

  const std::string zhang = "22240119650315123X";            // 60 in March 2025
  const std::string li = "222401198001014568";
  const std::string old = MakeId("22240119520520001");      // 60 in 2012: 3 years needed
  const std::string disabled = MakeId("22240119900112002");  // a special group
  const std::string stranger = "222401199211207899";         // pays, never enrols
  env->ids = {zhang, li, old, disabled, stranger};
  struct Person {
    std::string id, name, date;
    v1::SpecialGroup group;
  };
  for (const Person& p : {Person{zhang, "张三", "2024-12-01", v1::SPECIAL_GROUP_UNSPECIFIED},
                          Person{li, "李四", "2024-12-01", v1::SPECIAL_GROUP_UNSPECIFIED},
                          Person{old, "王老汉", "2014-03-01", v1::SPECIAL_GROUP_UNSPECIFIED},
                          Person{disabled, "金哲", "2020-01-01",
                                 v1::SPECIAL_GROUP_SEVERELY_DISABLED}}) {
    v1::ParticipantEnrolled e;
    e.set_citizen_id(p.id);
    e.set_name(p.name);
    e.set_region_code(kRegion);
    e.set_enrolment_date(p.date);
    e.set_special_group(p.group);
    auto r = Must(l->Enrol(e, kActor), "enrol");
    FUZZ_CHECK(!r.rejection, StrCat(p.id, ": ", r.rejection->detail));
  }
  ledger::Ledger::Records records;
  *records.Add() = Record("322240125000000001", zhang, "张三", 2025, 500, "2025-03-14");
  *records.Add() = Record("322240125000000002", li, "李四", 2025, 200, "2025-03-14");
  *records.Add() = Record("322240126000000003", li, "李四", 2026, 300, "2026-02-01");
  *records.Add() = Record("322240114000000004", old, "王老汉", 2014, 100, "2014-05-06");
  *records.Add() = Record("322240115000000005", old, "王老汉", 2015, 200, "2015-05-06");
  *records.Add() = Record("322240116000000006", old, "王老汉", 2016, 100, "2016-05-06");
  *records.Add() = Record("322240124000000007", disabled, "金哲", 2024, 100, "2024-04-01");
  *records.Add() = Record("322240125000000008", stranger, "王五", 2025, 1000, "2025-03-15");
  auto outcomes = Must(l->PushCollections(records, kActor), "push");
  for (const v1::RecordOutcome& o : outcomes) {
    FUZZ_CHECK(o.outcome() == v1::OUTCOME_ACCEPTED || o.outcome() == v1::OUTCOME_SUSPENSE,
               Brief(o));
  }
  int n = 0;
  for (auto [purpose, year, yuan] :
       {std::tuple{v1::FISCAL_PURPOSE_CONTRIBUTION_SUBSIDY, 2014, 1000},
        std::tuple{v1::FISCAL_PURPOSE_CONTRIBUTION_SUBSIDY, 2024, 1000},
        std::tuple{v1::FISCAL_PURPOSE_CONTRIBUTION_SUBSIDY, 2025, 1000},
        std::tuple{v1::FISCAL_PURPOSE_PAID_ON_BEHALF, 2025, 500},
        std::tuple{v1::FISCAL_PURPOSE_BASIC_PENSION, 2025, 50000},
        std::tuple{v1::FISCAL_PURPOSE_BASIC_PENSION, 2026, 50000}}) {
    v1::AccountCommand c;
    auto* f = c.mutable_receive_fiscal_funds();
    f->set_region_code(kRegion);
    f->set_purpose(purpose);
    f->set_year(year);
    f->set_amount_fen(int64_t{yuan} * 100);
    f->set_date(StrCat(std::max(year, 2025), "-01-10"));
    f->set_document_ref(StrCat("CZ-TEMPLATE-", ++n));
    auto r = Must(l->Execute(c, kActor), "fiscal funds");
    FUZZ_CHECK(!r.rejection, StrCat(Brief(c), ": ", r.rejection->detail));
  }
}

// Every citizen ID the program names (the ones worth checking accounts for).
void CollectIds(const ledger::fuzz::Step& step, std::set<std::string>& ids) {
  auto add = [&](const std::string& id) {
    if (ledger::ValidateCitizenId(id).ok()) ids.insert(id);
  };
  switch (step.step_case()) {
    case ledger::fuzz::Step::kEnrol: add(step.enrol().citizen_id()); break;
    case ledger::fuzz::Step::kPush:
      for (const auto& r : step.push().records()) add(r.citizen_id());
      break;
    case ledger::fuzz::Step::kExecute: {
      // Every string field named citizen_id, whatever the command.
      const google::protobuf::Message* body = nullptr;
      const auto* reflection = step.execute().GetReflection();
      std::vector<const google::protobuf::FieldDescriptor*> fields;
      reflection->ListFields(step.execute(), &fields);
      for (const auto* f : fields) {
        if (f->type() == google::protobuf::FieldDescriptor::TYPE_MESSAGE && !f->is_repeated()) {
          body = &reflection->GetMessage(step.execute(), f);
        }
      }
      if (body == nullptr) break;
      const auto* id = body->GetDescriptor()->FindFieldByName("citizen_id");
      if (id != nullptr && id->type() == google::protobuf::FieldDescriptor::TYPE_STRING &&
          !id->is_repeated()) {
        add(body->GetReflection()->GetString(*body, id));
      }
      break;
    }
    default: break;
  }
}

// Every string in `m` except citizen IDs: a message may legitimately echo these (a receipt
// number, a name), so an ID inside one of them does not count as shown.
void OtherStrings(const google::protobuf::Message& m, std::vector<std::string>& out) {
  const auto* reflection = m.GetReflection();
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  reflection->ListFields(m, &fields);
  for (const auto* f : fields) {
    if (f->type() == google::protobuf::FieldDescriptor::TYPE_MESSAGE) {
      if (f->is_repeated()) {
        for (int i = 0; i < reflection->FieldSize(m, f); ++i) {
          OtherStrings(reflection->GetRepeatedMessage(m, f, i), out);
        }
      } else {
        OtherStrings(reflection->GetMessage(m, f), out);
      }
    } else if (f->type() == google::protobuf::FieldDescriptor::TYPE_STRING &&
               f->name() != "citizen_id") {
      if (f->is_repeated()) {
        for (int i = 0; i < reflection->FieldSize(m, f); ++i) {
          out.push_back(reflection->GetRepeatedString(m, f, i));
        }
      } else {
        out.push_back(reflection->GetString(m, f));
      }
    }
  }
}

class Run {
 public:
  Run(ledger::Ledger& l, std::set<std::string> ids) : l_(l), ids_(std::move(ids)) {}

  void Step(const ledger::fuzz::Step& step) {
    CollectIds(step, ids_);
    where_ = StrCat("step ", ++steps_, " ", Brief(step));
    others_.clear();
    OtherStrings(step, others_);
    switch (step.step_case()) {
      case ledger::fuzz::Step::kAdoptPolicy:
        Command([&] { return l_.AdoptPolicy(step.adopt_policy(), kActor); }, step.resend(), false);
        break;
      case ledger::fuzz::Step::kEnrol:
        Command([&] { return l_.Enrol(step.enrol(), kActor); }, step.resend(), false);
        break;
      case ledger::fuzz::Step::kExecute:
        Command([&] { return l_.Execute(step.execute(), kActor); }, step.resend(), true);
        break;
      case ledger::fuzz::Step::kPush:
        Push(step.push().records(), step.resend());
        break;
      case ledger::fuzz::Step::kJob:
        Job(step.job(), step.resend());
        break;
      case ledger::fuzz::Step::STEP_NOT_SET:
        break;
    }
    Invariants();
  }

  // After the program (reproducing) or the session (fuzzing): the checks that read the whole log.
  void Final() {
    where_ = StrCat("after ", steps_, " steps");
    const ledger::ChainHead head = l_.Head();
    Must(l_.VerifyChain(), "VerifyChain");
    if (head.sequence > 0) {
      auto broken = Must(l_.FindChainBreak(1, head.sequence), "FindChainBreak");
      FUZZ_CHECK(!broken, StrCat(where_, ": chain break at ", broken->sequence, ": ",
                                 broken->reason));
    }
    const auto compared = Must(l_.ReplayCompare(env->scratch_dir), "ReplayCompare");
    FUZZ_CHECK(compared.equal && compared.sequence == head.sequence,
               StrCat(where_, ": projections differ from a replay of the log: ",
                      compared.first_difference));

    for (const auto& [key, balance] : l_.LedgerAccountBalances()) {
      const auto recomputed = Must(l_.LedgerAccountBalanceAsOf(key, 0, ""), key);
      FUZZ_CHECK(recomputed.total_fen == balance,
                 StrCat(where_, ": ledger account ", key, " is ", balance,
                        " but the log sums to ", recomputed.total_fen));
    }
    for (const std::string& id : ids_) {
      auto account = Must(l_.GetAccount(id), "GetAccount");
      if (!account) continue;
      std::map<int, int64_t> by_source;
      for (const v1::SourceBalance& b : account->balances()) {
        by_source[b.source()] += b.principal_fen() + b.interest_fen();
      }
      std::erase_if(by_source, [](const auto& kv) { return kv.second == 0; });
      const auto recomputed = Must(l_.ParticipantBalanceAsOf(id, 0, ""), "balance as of");
      std::map<int, int64_t> from_log;
      for (const v1::SourceAmount& a : recomputed.by_source) from_log[a.source()] += a.amount_fen();
      FUZZ_CHECK(from_log == by_source && recomputed.total_fen == account->total_fen(),
                 StrCat(where_, ": ", ledger::MaskCitizenId(id), " account ",
                        Brief(*account), " but the log sums to ", recomputed.total_fen));
      auto statement = Must(l_.GetStatement(id, kThisYear), "GetStatement");
      FUZZ_CHECK(statement && statement->closing_total_fen() == account->total_fen(),
                 StrCat(where_, ": ", ledger::MaskCitizenId(id), " statement ",
                        statement ? Brief(*statement) : "none", " vs total ",
                        account->total_fen()));
    }
  }

 private:
  template <typename Call>
  void Command(Call call, bool resend, bool lifecycle) {
    const ledger::ChainHead before = l_.Head();
    const auto balances = l_.LedgerAccountBalances();
    const ledger::CommandResult r = Must(call(), where_);
    const ledger::ChainHead after = l_.Head();
    Say(StrCat(where_.substr(0, 60), ": ", Outcome(r)));
    if (r.rejection) {
      FUZZ_CHECK(r.rejection->reason != v1::REASON_UNSPECIFIED && r.sequence == 0 && !r.duplicate,
                 StrCat(where_, ": rejection ", r.rejection->detail));
      FUZZ_CHECK(after.sequence == before.sequence && after.hash == before.hash &&
                     l_.LedgerAccountBalances() == balances,
                 StrCat(where_, ": rejected (", r.rejection->detail, ") but the ledger changed"));
      Masked(r.rejection->detail);
    } else if (r.duplicate) {
      FUZZ_CHECK(r.sequence >= 1 && r.sequence <= before.sequence &&
                     after.sequence == before.sequence,
                 StrCat(where_, ": duplicate of ", r.sequence, ", head ", before.sequence, " → ",
                        after.sequence));
    } else {
      FUZZ_CHECK(r.sequence == before.sequence + 1 &&
                     after.sequence == std::max(r.sequence, r.last_sequence),
                 StrCat(where_, ": accepted at ", r.sequence, "..", r.last_sequence, ", head ",
                        before.sequence, " → ", after.sequence));
      if (lifecycle) {
        // Every event of the command carries its reference and digest.
        const v1::EventEnvelope first = Must(l_.ReadEvent(r.sequence), "ReadEvent");
        FUZZ_CHECK(!first.command_digest().empty() && !first.external_ref().empty(),
                   StrCat(where_, ": ", Brief(first)));
        for (uint64_t s = r.sequence + 1; s <= after.sequence; ++s) {
          const v1::EventEnvelope e = Must(l_.ReadEvent(s), "ReadEvent");
          FUZZ_CHECK(e.command_digest() == first.command_digest() &&
                         e.external_ref() == first.external_ref(),
                     StrCat(where_, ": event ", s, " ", Brief(e), " vs ", Brief(first)));
        }
      }
    }
    if (!resend) return;
    const ledger::CommandResult again = Must(call(), where_);
    FUZZ_CHECK(l_.Head().sequence == after.sequence,
               StrCat(where_, ": sent again, it appended events"));
    if (r.rejection) {
      FUZZ_CHECK(again.rejection && again.rejection->reason == r.rejection->reason,
                 StrCat(where_, ": rejected (", r.rejection->detail, "), then ",
                        again.rejection ? again.rejection->detail : "not rejected"));
    } else {
      FUZZ_CHECK(!again.rejection && again.duplicate && again.sequence == r.sequence,
                 StrCat(where_, ": sent again: ",
                        again.rejection ? again.rejection->detail
                                        : StrCat("duplicate=", again.duplicate ? 1 : 0,
                                                 " sequence ", again.sequence, " vs ",
                                                 r.sequence)));
    }
  }

  void Push(const google::protobuf::RepeatedPtrField<v1::CollectionRecord>& all, bool resend) {
    ledger::Ledger::Records records;
    for (int i = 0; i < all.size() && i < kRecordsPerPushMax; ++i) *records.Add() = all[i];
    const ledger::ChainHead before = l_.Head();
    const auto balances = l_.LedgerAccountBalances();
    const auto outcomes = Must(l_.PushCollections(records, kActor), where_);
    const ledger::ChainHead after = l_.Head();
    for (const v1::RecordOutcome& o : outcomes) Say(StrCat("record ", Brief(o)));
    FUZZ_CHECK(outcomes.size() == static_cast<size_t>(records.size()),
               StrCat(where_, ": ", outcomes.size(), " outcomes for ", records.size()));
    uint64_t last_new = before.sequence;
    bool committed = false;
    for (size_t i = 0; i < outcomes.size(); ++i) {
      const v1::RecordOutcome& o = outcomes[i];
      const v1::CollectionRecord& r = records[static_cast<int>(i)];
      const std::string at = StrCat(where_, ": record ", i, " ", Brief(o));
      FUZZ_CHECK(o.index() == i, at);
      Masked(o.detail());
      switch (o.outcome()) {
        case v1::OUTCOME_ACCEPTED:
        case v1::OUTCOME_SUSPENSE: {
          committed = true;
          FUZZ_CHECK(o.sequence() > last_new && o.sequence() <= after.sequence, at);
          last_new = o.sequence();
          FUZZ_CHECK((o.outcome() == v1::OUTCOME_SUSPENSE) ==
                         (o.suspense_reason() != v1::SUSPENSE_REASON_UNSPECIFIED),
                     at);
          const v1::EventEnvelope e = Must(l_.ReadEvent(o.sequence()), "ReadEvent");
          if (r.record_type() == v1::RECORD_TYPE_ADD) {
            FUZZ_CHECK(e.has_contribution_collected() &&
                           e.contribution_collected().receipt_number() == r.receipt_number() &&
                           e.contribution_collected().amount_fen() == r.amount_fen() &&
                           e.contribution_collected().suspense_reason() == o.suspense_reason(),
                       StrCat(at, " event ", Brief(e)));
          } else {
            FUZZ_CHECK(e.has_contribution_cancelled() &&
                           e.contribution_cancelled().receipt_number() == r.receipt_number() &&
                           e.contribution_cancelled().amount_fen() == r.amount_fen(),
                       StrCat(at, " event ", Brief(e)));
          }
          break;
        }
        case v1::OUTCOME_DUPLICATE: {
          FUZZ_CHECK(o.sequence() >= 1 && o.sequence() <= after.sequence, at);
          const v1::EventEnvelope e = Must(l_.ReadEvent(o.sequence()), "ReadEvent");
          const std::string& receipt = e.has_contribution_collected()
                                           ? e.contribution_collected().receipt_number()
                                           : e.contribution_cancelled().receipt_number();
          FUZZ_CHECK((e.has_contribution_collected() || e.has_contribution_cancelled()) &&
                         receipt == r.receipt_number(),
                     StrCat(at, " event ", Brief(e)));
          break;
        }
        case v1::OUTCOME_REJECTED:
          FUZZ_CHECK(o.sequence() == 0 && o.reason() != v1::REASON_UNSPECIFIED, at);
          break;
        default:
          FUZZ_CHECK(false, at);
      }
    }
    if (!committed) {
      FUZZ_CHECK(after.sequence == before.sequence && l_.LedgerAccountBalances() == balances,
                 StrCat(where_, ": nothing committed but the ledger changed"));
    }
    if (!resend) return;
    const auto again = Must(l_.PushCollections(records, kActor), where_);
    FUZZ_CHECK(again.size() == outcomes.size(), where_);
    for (size_t i = 0; i < outcomes.size(); ++i) {
      if (outcomes[i].outcome() == v1::OUTCOME_REJECTED) continue;
      FUZZ_CHECK(again[i].outcome() == v1::OUTCOME_DUPLICATE &&
                     again[i].sequence() == outcomes[i].sequence(),
                 StrCat(where_, ": record ", i, " was ", Brief(outcomes[i]), ", sent again ",
                        Brief(again[i])));
    }
  }

  void Job(const v1::JobRequest& request, bool resend) {
    const ledger::ChainHead before = l_.Head();
    const auto balances = l_.LedgerAccountBalances();
    const auto outcome = Must(l_.RunJob(request, kActor), where_);
    const ledger::ChainHead after = l_.Head();
    Say(StrCat(where_.substr(0, 60), ": ",
               outcome.rejection ? StrCat("rejected ", v1::Reason_Name(outcome.rejection->reason),
                                          ": ", outcome.rejection->detail)
                                 : Brief(outcome.progress)));
    if (outcome.rejection) {
      // The template has far fewer accounts than one chunk: a rejection means nothing committed.
      FUZZ_CHECK(outcome.rejection->reason != v1::REASON_UNSPECIFIED &&
                     after.sequence == before.sequence && l_.LedgerAccountBalances() == balances,
                 StrCat(where_, ": rejected (", outcome.rejection->detail,
                        ") but the ledger changed"));
      Masked(outcome.rejection->detail);
    } else {
      FUZZ_CHECK(outcome.progress.completed() &&
                     outcome.progress.events() <= after.sequence - before.sequence &&
                     outcome.progress.accounts_credited() <= outcome.progress.accounts_scanned(),
                 StrCat(where_, ": ", Brief(outcome.progress), ", head ", before.sequence,
                        " → ", after.sequence));
    }
    if (!resend) return;
    const auto balances_after = l_.LedgerAccountBalances();
    const auto again = Must(l_.RunJob(request, kActor), where_);
    Say(StrCat("  again: ",
               again.rejection ? StrCat("rejected ", v1::Reason_Name(again.rejection->reason),
                                        ": ", again.rejection->detail)
                               : Brief(again.progress)));
    // Idempotent per (account, period): no money moves again. Only the government subsidy job
    // runs again by design (late contributions of the year), and then records just another
    // JobCompleted; the other kinds do nothing for a completed period.
    FUZZ_CHECK(l_.LedgerAccountBalances() == balances_after,
               StrCat(where_, ": run again, the job moved money"));
    for (uint64_t s = after.sequence + 1; s <= l_.Head().sequence; ++s) {
      const v1::EventEnvelope e = Must(l_.ReadEvent(s), "ReadEvent");
      FUZZ_CHECK(request.kind() == v1::JOB_KIND_GOVERNMENT_SUBSIDY && e.has_job_completed() &&
                     e.job_completed().accounts() == 0,
                 StrCat(where_, ": run again, the job appended ", Brief(e)));
    }
    if (outcome.rejection) {
      FUZZ_CHECK(again.rejection && again.rejection->reason == outcome.rejection->reason,
                 StrCat(where_, ": rejected (", outcome.rejection->detail, "), then ",
                        again.rejection ? again.rejection->detail : "not rejected"));
    }
  }

  // A message shows no citizen ID in full.
  void Masked(std::string_view message) const {
    for (const std::string& id : ids_) {
      if (std::any_of(others_.begin(), others_.end(),
                      [&](const std::string& s) { return s.find(id) != std::string::npos; })) {
        continue;
      }
      FUZZ_CHECK(message.find(id) == std::string_view::npos,
                 StrCat(where_, ": message shows an ID: ", message));
    }
  }

  void Invariants() const {
    const auto balances = l_.LedgerAccountBalances();
    int64_t sum = 0;
    int64_t control = 0;
    std::map<std::string, int64_t> by_region;
    for (const auto& [key, balance] : balances) {
      sum += balance;
      by_region[key.substr(0, key.find('/'))] += balance;
      if (key.find("/individual_accounts/") != std::string::npos) control += balance;
    }
    FUZZ_CHECK(sum == 0, StrCat(where_, ": ledger accounts sum to ", sum));
    // Every event posts within its region, so each region's books balance too.
    for (const auto& [region, region_sum] : by_region) {
      FUZZ_CHECK(region_sum == 0,
                 StrCat(where_, ": the ledger accounts of region ", region, " sum to ",
                        region_sum));
    }
    int64_t accounts = 0;
    for (const std::string& id : ids_) {
      auto account = Must(l_.GetAccount(id), "GetAccount");
      if (!account) continue;
      int64_t total = 0;
      for (const v1::SourceBalance& b : account->balances()) {
        FUZZ_CHECK(b.principal_fen() + b.interest_fen() >= 0,
                   StrCat(where_, ": negative source in ", Brief(*account)));
        total += b.principal_fen() + b.interest_fen();
      }
      FUZZ_CHECK(total == account->total_fen() && total >= 0,
                 StrCat(where_, ": total of ", Brief(*account)));
      accounts += total;
    }
    FUZZ_CHECK(control + accounts == 0,
               StrCat(where_, ": control accounts ", control, " vs individual accounts ",
                      accounts));
  }

  ledger::Ledger& l_;
  std::set<std::string> ids_;
  int steps_ = 0;
  std::string where_;
  std::vector<std::string> others_;  // the step's strings other than citizen IDs
};

bool ParseProgram(const uint8_t* data, size_t size, ledger::fuzz::Program& program) {
  class Silent : public google::protobuf::io::ErrorCollector {
    void AddError(int, int, const std::string&) override {}
    void AddWarning(int, int, const std::string&) override {}
  } silent;
  google::protobuf::TextFormat::Parser parser;
  parser.RecordErrorsTo(&silent);
  const std::string text(reinterpret_cast<const char*>(data), size);
  if (parser.ParseFromString(text, &program)) return true;
  program.Clear();
  return program.ParseFromArray(data, static_cast<int>(size));
}

// The ledger inputs run against. Opening a ledger costs ~0.2 s here (RocksDB allocates and
// clears its memtables), so while fuzzing, kInputsPerSession inputs share one ledger: each runs
// on the state the previous ones left, the cheap checks run after every step, and the whole-log
// checks (Run::Final) when the session ends. Every step is first appended to `history.txtpb`
// beside the ledger: if a session fails, that file is a program that reproduces it from the
// template on its own (run.sh keeps it). When the target is given files to run (reproducing),
// every file gets a fresh ledger and all the checks, with no bound on its steps.
struct Session {
  std::unique_ptr<ledger::Ledger> ledger;
  std::unique_ptr<Run> run;
  int inputs = 0;
};
Session* session = nullptr;
bool reproducing = false;

void StartSession() {
  std::error_code error;
  fs::remove_all(env->run_dir, error);
  fs::copy(env->template_dir, env->run_dir, fs::copy_options::recursive, error);
  FUZZ_CHECK(!error, StrCat("copy the template: ", error.message()));
  std::ofstream(env->history, std::ios::trunc)
      << "# fuzz_ledger_commands: the steps since the template ledger, in order\n";
  session = new Session;
  session->ledger = OpenLedger(env->run_dir, true);
  session->run = std::make_unique<Run>(*session->ledger,
                                       std::set<std::string>(env->ids.begin(), env->ids.end()));
}

void EndSession() {
  session->run->Final();
  delete session;
  session = nullptr;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  verbose = std::getenv("FUZZ_LEDGER_VERBOSE") != nullptr;
  // Invalid UTF-8 in binary inputs makes protobuf log an error per parse: noise.
  google::protobuf::SetLogHandler([](google::protobuf::LogLevel, const char*, int,
                                     const std::string&) {});
  const char* tmp = std::getenv("TMPDIR");
  std::string parent = tmp != nullptr && *tmp != '\0' ? tmp
                       : fs::is_directory("/dev/shm")  ? "/dev/shm"
                                                       : "/tmp";
  env = new Env;
  env->root = StrCat(parent, "/ledger-fuzz-", static_cast<int64_t>(getpid()));
  env->template_dir = env->root + "/template";
  env->run_dir = env->root + "/run";
  env->scratch_dir = env->root + "/scratch";
  env->history = env->root + "/history.txtpb";
  // Files (not directories) on the command line: libFuzzer runs just those inputs.
  for (int i = 1; argc != nullptr && i < *argc; ++i) {
    const std::string arg = (*argv)[i];
    if (!arg.starts_with("-") && fs::is_regular_file(arg)) reproducing = true;
  }
  RemoveRoot();
  fs::create_directories(env->root);
  std::atexit(RemoveRoot);
  BuildTemplate();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ledger::fuzz::Program program;
  if (!ParseProgram(data, size, program) || program.steps().empty()) return 0;
  if (session != nullptr && (session->inputs >= kInputsPerSession ||
                             session->ledger->Head().sequence > kEventsPerSessionMax)) {
    EndSession();
  }
  if (session == nullptr) StartSession();
  ++session->inputs;

  // The steps this input adds, bounded, recorded before they run.
  ledger::fuzz::Program added;
  for (const ledger::fuzz::Step& step : program.steps()) {
    if (!reproducing && added.steps_size() == kStepsMax) break;
    ledger::fuzz::Step* s = added.add_steps();
    *s = step;
    // Fields a binary input carries beyond the schema: the text history cannot hold them.
    s->DiscardUnknownFields();
    if (!reproducing && s->has_push() && s->push().records_size() > kRecordsPerPushMax) {
      s->mutable_push()->mutable_records()->DeleteSubrange(
          kRecordsPerPushMax, s->push().records_size() - kRecordsPerPushMax);
    }
  }
  if (!reproducing) {
    std::string text;
    google::protobuf::TextFormat::PrintToString(added, &text);
    std::ofstream(env->history, std::ios::app) << "# input " << session->inputs << "\n" << text;
  }
  for (const ledger::fuzz::Step& step : added.steps()) session->run->Step(step);
  if (reproducing) EndSession();
  return 0;
}
