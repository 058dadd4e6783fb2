// `ledgerctl enrol|import|account`: a resident's enrolment, the tax bureau's collection file, and
// a participant's account (AccountService; CollectionService through import.h).
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <utility>

#include "ledger/account.h"
#include "ledger/money.h"
#include "tools/ledgerctl/client.h"
#include "tools/ledgerctl/commands.h"
#include "tools/ledgerctl/import.h"

namespace ledgerctl {
namespace {

namespace v1 = ledger::v1;

struct EnrolOptions {
  std::string id, name, region_code, date, ethnicity, address, phone, group = "none",
      attest = "none";
};

// `--attest` values and what they record (延吉细则 第三条).
constexpr std::pair<const char*, v1::EligibilityAttestation> kAttestations[] = {
    {"none", v1::ELIGIBILITY_ATTESTATION_UNSPECIFIED},
    {"eligible", v1::ELIGIBILITY_ATTESTATION_ELIGIBLE},
    {"student", v1::ELIGIBILITY_ATTESTATION_STUDENT},
    {"public-servant", v1::ELIGIBILITY_ATTESTATION_PUBLIC_SERVANT},
    {"employee-scheme", v1::ELIGIBILITY_ATTESTATION_EMPLOYEE_SCHEME_MEMBER},
};

int Enrol(const Globals& globals, const EnrolOptions& o) {
  v1::EnrolRequest request;
  v1::ParticipantEnrolled& p = *request.mutable_participant();
  p.set_citizen_id(o.id);
  p.set_name(o.name);
  p.set_region_code(o.region_code);
  p.set_enrolment_date(o.date);
  p.set_ethnicity(o.ethnicity);
  p.set_address(o.address);
  p.set_phone(o.phone);
  if (o.group == "severely-disabled") p.set_special_group(v1::SPECIAL_GROUP_SEVERELY_DISABLED);
  if (o.group == "minimum-living") p.set_special_group(v1::SPECIAL_GROUP_MINIMUM_LIVING_ALLOWANCE);
  if (o.group == "extreme-hardship") p.set_special_group(v1::SPECIAL_GROUP_EXTREME_HARDSHIP);
  for (const auto& [name, value] : kAttestations) {
    if (o.attest == name) p.set_eligibility_attestation(value);
  }
  return CallUnary(globals, &v1::AccountService::Stub::Enrol, request,
                   [](const v1::EnrolResponse& response) {
                     std::cout << (response.duplicate() ? "already enrolled" : "enrolled")
                               << " at sequence " << response.sequence() << "\n";
                     return 0;
                   });
}

void PrintBenefit(const v1::Benefit& b) {
  std::printf("benefit from        %d\n", b.start_month());
  std::printf("account pension     %s yuan/month (balance %s at start, %u contribution years)\n",
              ledger::FormatFen(b.account_pension_monthly_fen()).c_str(),
              ledger::FormatFen(b.balance_at_start_fen()).c_str(), b.contribution_years());
  std::printf("next unpaid month   %d\n", b.next_month());
  std::printf("paid so far         basic %s, account %s, pooled %s\n",
              ledger::FormatFen(b.paid_basic_fen()).c_str(),
              ledger::FormatFen(b.paid_account_fen()).c_str(),
              ledger::FormatFen(b.paid_pooled_fen()).c_str());
  if (b.recalculated_from_month() != 0) {
    std::printf("recalculated from   %d (late subsidies %s in the base, BenefitRecalculated)\n",
                b.recalculated_from_month(), ledger::FormatFen(b.late_credits_fen()).c_str());
  }
  if (b.suspended_from() != 0) std::printf("suspended from      %d\n", b.suspended_from());
}

const char* AttestationText(v1::EligibilityAttestation a) {
  for (const auto& [name, value] : kAttestations) {
    if (value == a) return value == v1::ELIGIBILITY_ATTESTATION_UNSPECIFIED ? "not attested" : name;
  }
  return "unknown";
}

void PrintAccount(const v1::Account& a) {
  std::printf("citizen_id          %s\n", a.citizen_id().c_str());
  std::printf("name                %s\n", a.name().c_str());
  std::printf("region              %s\n", a.region_code().c_str());
  std::printf("status              %s\n",
              v1::ParticipantStatus_Name(a.status()).substr(19).c_str());
  std::printf("enrolled            %s (sequence %llu)\n", a.enrolment_date().c_str(),
              static_cast<unsigned long long>(a.enrolled_sequence()));
  std::printf("eligibility         %s\n", AttestationText(a.eligibility_attestation()));
  if (!a.date_of_death().empty())
    std::printf("date of death       %s\n", a.date_of_death().c_str());
  if (!a.transferred_to().empty())
    std::printf("transferred to      %s\n", a.transferred_to().c_str());
  if (!a.termination_date().empty()) {
    std::printf("terminated          %s (%s), document %s\n", a.termination_date().c_str(),
                v1::TerminationReason_Name(a.termination_reason()).substr(19).c_str(),
                a.termination_document_ref().c_str());
  }
  if (a.has_benefit()) PrintBenefit(a.benefit());
  std::printf("%-20s%14s %14s\n", "balance by source", "principal", "interest");
  for (const auto& b : a.balances()) {
    std::printf("  %-18s%14s %14s\n", std::string(ledger::SourceName(b.source())).c_str(),
                ledger::FormatFen(b.principal_fen()).c_str(),
                ledger::FormatFen(b.interest_fen()).c_str());
  }
  std::printf("total               %s yuan\n", ledger::FormatFen(a.total_fen()).c_str());
  std::printf("contribution years  %u\n", a.contribution_years());
  for (const auto& c : a.contributions()) {
    std::printf("  %d  %12s  receipt %s\n", c.year(), ledger::FormatFen(c.amount_fen()).c_str(),
                c.receipt_number().c_str());
  }
  // Subsidies for each contribution year, net of reversals (GovernmentSubsidyReversed,
  // CollectiveSubsidyReversed: `statement` shows each movement with its reference).
  for (const auto& y : a.years()) {
    if (y.government_subsidy_fen() == 0 && y.paid_on_behalf_fen() == 0 &&
        y.collective_sponsorship_fen() == 0)
      continue;
    std::printf("  subsidies %d  government %s, paid on behalf %s, collective/sponsorship %s\n",
                y.year(), ledger::FormatFen(y.government_subsidy_fen()).c_str(),
                ledger::FormatFen(y.paid_on_behalf_fen()).c_str(),
                ledger::FormatFen(y.collective_sponsorship_fen()).c_str());
  }
  // The village cadre program: the serving periods in force and the subsidy of each year, with
  // the fiscal funds it came from (`statement` shows cadre_subsidy_credited / _reversed).
  for (const auto& r : a.cadre_roles()) {
    std::printf("  cadre role  %s to %s  %s  (ref %s)\n", r.served_from().c_str(),
                r.served_to().empty() ? "now" : r.served_to().c_str(), r.post().c_str(),
                r.document_ref().c_str());
  }
  for (const auto& c : a.cadre_subsidies()) {
    std::printf("  cadre subsidy %d  %s collective (%s, fiscal funds %s %d, ref %s)\n", c.year(),
                ledger::FormatFen(c.amount_fen()).c_str(), c.program().c_str(),
                v1::FiscalPurpose_Name(c.purpose()).substr(15).c_str(), c.year(),
                c.document_ref().c_str());
  }
  std::printf("as of sequence      %llu\n", static_cast<unsigned long long>(a.last_sequence()));
}

int ShowAccount(const Globals& globals, const std::string& citizen_id, bool json) {
  v1::GetAccountRequest request;
  request.set_citizen_id(citizen_id);
  return CallUnary(globals, &v1::AccountService::Stub::GetAccount, request,
                   [json](const v1::Account& a) {
                     if (json) {
                       std::cout << ToJson(a);
                     } else {
                       PrintAccount(a);
                     }
                     return 0;
                   });
}

void AddEnrol(CLI::App& app, Commands& commands) {
  auto o = std::make_shared<EnrolOptions>();
  auto* enrol = app.add_subcommand("enrol", "enrol a resident (参保登记)");
  enrol->add_option("--id", o->id, "18-character citizen ID")->required();
  enrol->add_option("--name", o->name, "name")->required();
  enrol->add_option("--region", o->region_code, "household region code")->required();
  enrol->add_option("--date", o->date, "enrolment date YYYY-MM-DD")->required();
  enrol->add_option("--ethnicity", o->ethnicity, "ethnicity");
  enrol->add_option("--address", o->address, "address");
  enrol->add_option("--phone", o->phone, "phone");
  enrol
      ->add_option("--special-group", o->group,
                   "none|severely-disabled|minimum-living|extreme-hardship")
      ->check(CLI::IsMember({"none", "severely-disabled", "minimum-living", "extreme-hardship"}))
      ->capture_default_str();
  enrol
      ->add_option("--attest", o->attest,
                   "what the agency attests (延吉细则 第三条): none|eligible, or an exclusion "
                   "student|public-servant|employee-scheme (refused: REASON_EXCLUDED_FROM_SCHEME)")
      ->check(CLI::IsMember({"none", "eligible", "student", "public-servant", "employee-scheme"}))
      ->capture_default_str();
  commands.On(enrol, [&g = commands.globals(), o] { return Enrol(g, *o); });
}

}  // namespace

void RegisterParticipantCommands(CLI::App& app, Commands& commands) {
  AddEnrol(app, commands);

  struct Options {
    std::string csv_file;
    size_t batch_size = 1000;  // the best of 100..10000 measured (BENCHMARKS.md)
    std::string account_id;
    bool json = false;
  };
  auto o = std::make_shared<Options>();
  const Globals& g = commands.globals();
  auto* import = app.add_subcommand("import", "import a tax collection CSV file");
  import->add_option("file", o->csv_file, "CSV file with a header row")->required();
  import->add_option("--batch-size", o->batch_size, "records per stream message (1-10000)")
      ->capture_default_str();
  commands.On(import, [&g, o] { return Import(g, o->csv_file, o->batch_size); });

  auto* account = app.add_subcommand("account", "show a participant's account");
  account->add_option("citizen_id", o->account_id, "18-character citizen ID")->required();
  account->add_flag("--json", o->json, "print as JSON");
  commands.On(account, [&g, o] { return ShowAccount(g, o->account_id, o->json); });
}

}  // namespace ledgerctl
