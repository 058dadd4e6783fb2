// `ledgerctl subsidy|refund|benefit|death|transfer`: the account lifecycle (AccountService,
// fund-agency certificate). Every command prints `<what>: sequence=<first>..<last>` (plus
// ` duplicate=true` when the server had already recorded the same command under its reference).
// Amounts are yuan with at most two decimals; dates YYYY-MM-DD; months YYYYMM; --ref is the
// agency's document number, which makes a resend harmless (it answers duplicate=true).
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_join.h"
#include "ledger/strings.h"
#include "tools/ledgerctl/client.h"
#include "tools/ledgerctl/commands.h"

namespace ledgerctl {
namespace {

namespace v1 = ledger::v1;
using ledger::StrCat;
using Stub = v1::AccountService::Stub;

const std::map<std::string, v1::RefundReason>& RefundReasons() {
  static const auto* kMap = new std::map<std::string, v1::RefundReason>{
      {"duplicate_enrolment", v1::REFUND_REASON_DUPLICATE_ENROLMENT},
      {"out_of_scope", v1::REFUND_REASON_OUT_OF_SCOPE},
      {"death", v1::REFUND_REASON_DEATH},
      {"paid_after_pension", v1::REFUND_REASON_PAID_AFTER_PENSION},
      {"other", v1::REFUND_REASON_OTHER}};
  return *kMap;
}

const std::map<std::string, v1::FundingSource>& FundingSources() {
  static const auto* kMap =
      new std::map<std::string, v1::FundingSource>{{"personal", v1::FUNDING_SOURCE_PERSONAL},
                                                   {"government", v1::FUNDING_SOURCE_GOVERNMENT},
                                                   {"collective", v1::FUNDING_SOURCE_COLLECTIVE},
                                                   {"sponsorship", v1::FUNDING_SOURCE_SPONSORSHIP},
                                                   {"transfer_in", v1::FUNDING_SOURCE_TRANSFER_IN}};
  return *kMap;
}

// Every option of the family; each subcommand uses some of them.
struct Options {
  std::string id, amount, date, ref, payer, reason_text, date_of_death, to_region, from_region;
  int year = 0, month = 0;
  std::string source, refund_reason, method, termination_reason;
  std::string post, served_from, served_to, replaces;
  bool withdrawn = false;
  std::vector<std::string> parts;
  std::vector<int> years;
};

// `--part SOURCE=YUAN` of a transfer in from another ledger.
absl::StatusOr<v1::SourceAmount> ParsePart(const std::string& text) {
  const size_t eq = text.find('=');
  if (eq == std::string::npos) {
    return absl::InvalidArgumentError(StrCat("--part '", text, "': expected SOURCE=YUAN"));
  }
  auto source = FundingSources().find(text.substr(0, eq));
  if (source == FundingSources().end()) {
    return absl::InvalidArgumentError(StrCat("--part '", text, "': unknown source (",
                                             absl::StrJoin(Names(FundingSources()), "|"), ")"));
  }
  auto fen = YuanOption("--part", text.substr(eq + 1));
  if (!fen.ok()) return fen.status();
  v1::SourceAmount part;
  part.set_source(source->second);
  part.set_amount_fen(*fen);
  return part;
}

// The request every lifecycle command sends: the fields `fill` sets, then its date and reference.
template <typename Request, typename Fill>
int Send(const Globals& g, const Options& o, std::string_view what,
         grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&, v1::CommandResponse*),
         Fill fill) {
  Request r;
  fill(r);
  r.set_date(o.date);
  r.set_document_ref(o.ref);
  return SendCommand(g, what, r, method);
}

// The wiring every lifecycle subcommand shares: the citizen ID argument, --date and --ref.
class Family {
 public:
  Family(Commands& commands, std::shared_ptr<Options> o) : commands_(commands), o_(std::move(o)) {}

  Options& o() { return *o_; }
  void AddId(CLI::App* command) {
    command->add_option("citizen_id", o_->id, "18-character citizen ID")->required();
  }
  void AddDateRef(CLI::App* command) { ledgerctl::AddDateRef(command, o_->date, o_->ref); }
  // `command` runs `run` on the parsed options.
  void On(CLI::App* command, std::function<int(const Globals&, const Options&)> run) {
    commands_.On(command, [&g = commands_.globals(), o = o_, run] { return run(g, *o); });
  }
  // `command` sends `method`'s request, which `fill` completes from the parsed options.
  template <typename Request, typename Fill>
  void OnSend(CLI::App* command, std::string_view what,
              grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&,
                                           v1::CommandResponse*),
              Fill fill) {
    On(command, [what, method, fill](const Globals& g, const Options& o) {
      return Send(g, o, what, method, [&](Request& r) { fill(o, r); });
    });
  }

 private:
  Commands& commands_;
  std::shared_ptr<Options> o_;
};

void AddSubsidyAndRefund(CLI::App& app, Family& f) {
  auto* subsidy = app.add_subcommand("subsidy", "collective subsidy and sponsorship");
  subsidy->require_subcommand(1);
  auto* credit = subsidy->add_subcommand(
      "credit", "credit a collective subsidy (集体补助) or sponsorship (其他资助)");
  f.AddId(credit);
  credit->add_option("--year", f.o().year, "contribution year")->required();
  credit->add_option("--amount", f.o().amount, "yuan")->required();
  credit->add_option("--source", f.o().source, "collective (集体补助) or sponsorship (其他资助)")
      ->required()
      ->check(CLI::IsMember({"collective", "sponsorship"}));
  credit->add_option("--payer", f.o().payer, "who pays (village committee, sponsor)")->required();
  f.AddDateRef(credit);
  f.On(credit, [](const Globals& g, const Options& o) {
    auto fen = YuanOption("--amount", o.amount);
    if (!fen.ok()) return Fail(std::string(fen.status().message()));
    return Send(g, o, "subsidy credited", &Stub::CreditCollectiveSubsidy,
                [&](v1::CreditCollectiveSubsidyRequest& r) {
                  r.set_citizen_id(o.id);
                  r.set_contribution_year(o.year);
                  r.set_amount_fen(*fen);
                  r.set_source(FundingSources().at(o.source));
                  r.set_payer(o.payer);
                });
  });

  // The village cadre subsidy program of the policy (渝人社发〔2014〕65号).
  auto* role = subsidy->add_subcommand(
      "cadre-role",
      "record a village cadre's serving period, or end/correct/withdraw one (--replaces)");
  f.AddId(role);
  role->add_option("--from", f.o().served_from, "first day served, YYYY-MM-DD");
  role->add_option("--to", f.o().served_to, "last day served, YYYY-MM-DD (none: still serving)");
  role->add_option("--post", f.o().post, "post held, e.g. 村委会主任");
  role->add_option("--replaces", f.o().replaces, "--ref of the role record this one replaces");
  role->add_flag("--withdrawn", f.o().withdrawn, "with --replaces: that record is withdrawn");
  f.AddDateRef(role);
  f.OnSend(role, "cadre role recorded", &Stub::RecordCadreRole,
           [](const Options& o, v1::RecordCadreRoleRequest& r) {
             r.set_citizen_id(o.id);
             r.set_post(o.post);
             r.set_served_from(o.served_from);
             r.set_served_to(o.served_to);
             r.set_replaces_ref(o.replaces);
             r.set_withdrawn(o.withdrawn);
           });
  auto* cadre = subsidy->add_subcommand(
      "cadre-credit",
      "credit the policy's village cadre subsidy for a year served (集体补助, from its fiscal funds)");
  f.AddId(cadre);
  cadre->add_option("--year", f.o().year, "the year served")->required();
  cadre->add_option("--amount", f.o().amount, "yuan: the program's amount per year")->required();
  f.AddDateRef(cadre);
  f.On(cadre, [](const Globals& g, const Options& o) {
    auto fen = YuanOption("--amount", o.amount);
    if (!fen.ok()) return Fail(std::string(fen.status().message()));
    return Send(g, o, "cadre subsidy credited", &Stub::CreditCadreSubsidy,
                [&](v1::CreditCadreSubsidyRequest& r) {
                  r.set_citizen_id(o.id);
                  r.set_year(o.year);
                  r.set_amount_fen(*fen);
                });
  });

  auto* refund =
      app.add_subcommand("refund", "refund a collected contribution (the whole receipt)");
  refund->add_option("receipt_number", f.o().id, "e-tax receipt number")->required();
  refund->add_option("--reason", f.o().refund_reason, "why the contribution is refunded")
      ->required()
      ->check(CLI::IsMember(Names(RefundReasons())));
  f.AddDateRef(refund);
  f.OnSend(refund, "refunded", &Stub::RefundContribution,
           [](const Options& o, v1::RefundContributionRequest& r) {
             r.set_receipt_number(o.id);
             r.set_reason(RefundReasons().at(o.refund_reason));
           });
}

void AddBenefitAndDeath(CLI::App& app, Family& f) {
  auto* benefit = app.add_subcommand("benefit", "determine, suspend or resume a pension");
  benefit->require_subcommand(1);
  auto* determine = benefit->add_subcommand("determine", "determine the pension (待遇核定)");
  f.AddId(determine);
  f.AddDateRef(determine);
  f.OnSend(determine, "benefit determined", &Stub::DetermineBenefit,
           [](const Options& o, v1::DetermineBenefitRequest& r) { r.set_citizen_id(o.id); });
  auto* suspend = benefit->add_subcommand("suspend", "suspend payment from a month");
  f.AddId(suspend);
  suspend->add_option("--from-month", f.o().month, "first month not paid, YYYYMM")->required();
  suspend->add_option("--reason", f.o().reason_text, "why (free text)")->required();
  f.AddDateRef(suspend);
  f.OnSend(suspend, "benefit suspended", &Stub::SuspendBenefit,
           [](const Options& o, v1::SuspendBenefitRequest& r) {
             r.set_citizen_id(o.id);
             r.set_from_month(o.month);
             r.set_reason(o.reason_text);
           });
  auto* resume = benefit->add_subcommand("resume", "resume a suspended pension");
  f.AddId(resume);
  resume->add_option("--month", f.o().month, "first month paid again, YYYYMM")->required();
  f.AddDateRef(resume);
  f.OnSend(resume, "benefit resumed", &Stub::ResumeBenefit,
           [](const Options& o, v1::ResumeBenefitRequest& r) {
             r.set_citizen_id(o.id);
             r.set_month(o.month);
           });

  auto* death = app.add_subcommand(
      "death", "record a death: overpayment, funeral subsidy and inheritance settle the account");
  f.AddId(death);
  death->add_option("--date-of-death", f.o().date_of_death, "YYYY-MM-DD")->required();
  f.AddDateRef(death);
  f.OnSend(death, "death recorded", &Stub::RecordDeath,
           [](const Options& o, v1::RecordDeathRequest& r) {
             r.set_citizen_id(o.id);
             r.set_date_of_death(o.date_of_death);
           });

  auto* recover = app.add_subcommand(
      "recover-overpayment",
      "record an outstanding overpayment recovered (into the payment account) or written off");
  f.AddId(recover);
  recover->add_option("--amount", f.o().amount, "yuan")->required();
  recover->add_option("--method", f.o().method, "recovered or written_off")
      ->required()
      ->check(CLI::IsMember({"recovered", "written_off"}));
  f.AddDateRef(recover);
  f.On(recover, [](const Globals& g, const Options& o) {
    auto fen = YuanOption("--amount", o.amount);
    if (!fen.ok()) return Fail(std::string(fen.status().message()));
    return Send(g, o, "overpayment recovery recorded", &Stub::RecordOverpaymentRecovery,
                [&](v1::RecordOverpaymentRecoveryRequest& r) {
                  r.set_citizen_id(o.id);
                  r.set_amount_fen(*fen);
                  r.set_method(o.method == "recovered"
                                   ? v1::OVERPAYMENT_RECOVERY_METHOD_RECOVERED
                                   : v1::OVERPAYMENT_RECOVERY_METHOD_WRITTEN_OFF);
                });
  });
}

const std::map<std::string, v1::TerminationReason>& TerminationReasons() {
  static const auto* kMap = new std::map<std::string, v1::TerminationReason>{
      {"employee-scheme", v1::TERMINATION_REASON_EMPLOYEE_SCHEME},
      {"settled-abroad", v1::TERMINATION_REASON_SETTLED_ABROAD},
      {"double-receipt", v1::TERMINATION_REASON_DOUBLE_RECEIPT}};
  return *kMap;
}

void AddTermination(CLI::App& app, Family& f) {
  auto* terminate = app.add_subcommand(
      "terminate",
      "end the relationship (关系注销): interest to the date, then the balance refunded less the "
      "government subsidies (settled abroad, 双领) or moved to the employees' scheme; for 双领 "
      "the basic pension of the overlap is recovered");
  f.AddId(terminate);
  terminate->add_option("--reason", f.o().termination_reason, "why")
      ->required()
      ->check(CLI::IsMember(Names(TerminationReasons())));
  terminate->add_option("--employee-pension-from", f.o().month,
                        "double-receipt: first month of the employees' pension, YYYYMM");
  f.AddDateRef(terminate);
  f.OnSend(terminate, "terminated", &Stub::TerminateParticipant,
           [](const Options& o, v1::TerminateParticipantRequest& r) {
             r.set_citizen_id(o.id);
             r.set_reason(TerminationReasons().at(o.termination_reason));
             r.set_employee_pension_from_month(o.month);
           });
}

void AddTransfer(CLI::App& app, Family& f) {
  auto* transfer = app.add_subcommand("transfer", "move an account between regions");
  transfer->require_subcommand(1);
  auto* out = transfer->add_subcommand("out", "transfer an account out of its region");
  f.AddId(out);
  out->add_option("--to-region", f.o().to_region, "6-digit region code")->required();
  f.AddDateRef(out);
  f.OnSend(out, "transferred out", &Stub::TransferOut,
           [](const Options& o, v1::TransferOutRequest& r) {
             r.set_citizen_id(o.id);
             r.set_to_region(o.to_region);
           });
  auto* in = transfer->add_subcommand(
      "in",
      "transfer an account in (same ledger: after transfer out; else enrol first and give "
      "--part/--years from the transfer document)");
  f.AddId(in);
  in->add_option("--from-region", f.o().from_region, "6-digit region code")->required();
  in->add_option("--to-region", f.o().to_region, "6-digit region code")->required();
  in->add_option("--part", f.o().parts, "SOURCE=YUAN, repeatable (from another ledger)");
  in->add_option("--years", f.o().years, "contribution years, comma-separated")->delimiter(',');
  f.AddDateRef(in);
  f.On(in, [](const Globals& g, const Options& o) {
    std::vector<v1::SourceAmount> parts;
    for (const std::string& text : o.parts) {
      auto part = ParsePart(text);
      if (!part.ok()) return Fail(std::string(part.status().message()));
      parts.push_back(*part);
    }
    return Send(g, o, "transferred in", &Stub::TransferIn, [&](v1::TransferInRequest& r) {
      r.set_citizen_id(o.id);
      r.set_from_region(o.from_region);
      r.set_to_region(o.to_region);
      for (const v1::SourceAmount& part : parts) *r.add_parts() = part;
      for (int y : o.years) r.add_contribution_years(y);
    });
  });
}

}  // namespace

void RegisterLifecycleCommands(CLI::App& app, Commands& commands) {
  Family family(commands, std::make_shared<Options>());
  AddSubsidyAndRefund(app, family);
  AddBenefitAndDeath(app, family);
  AddTermination(app, family);
  AddTransfer(app, family);
}

}  // namespace ledgerctl
