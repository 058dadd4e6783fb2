// `ledgerctl policy adopt|show`: a region's policy document (PolicyService).
#include "ledger/policy.h"

#include <iostream>
#include <memory>
#include <string>

#include "ledger/strings.h"
#include "tools/ledgerctl/client.h"
#include "tools/ledgerctl/commands.h"

namespace ledgerctl {
namespace {

namespace v1 = ledger::v1;
using ledger::StrCat;

// Adopts every version of the file in order (a file of versions, or one document); stops at the
// first one refused.
int AdoptPolicy(const Globals& globals, const std::string& file) {
  auto text = ReadFile(file);
  if (!text.ok()) return Fail(std::string(text.status().message()));
  auto versions = ledger::ParsePolicyFileJson(*text);
  if (!versions.ok()) return Fail(StrCat(file, ": ", std::string(versions.status().message())));
  for (const v1::Policy& policy : *versions) {
    v1::AdoptPolicyRequest request;
    *request.mutable_policy() = policy;
    const int rc = CallUnary(globals, &v1::PolicyService::Stub::AdoptPolicy, request,
                             [&](const v1::AdoptPolicyResponse& response) {
                               std::cout << (response.duplicate() ? "already adopted: " : "adopted: ")
                                         << "policy " << policy.region_code() << " v"
                                         << policy.version() << " (" << policy.region_name()
                                         << ") from " << policy.effective_from() << " at sequence "
                                         << response.sequence() << "\n";
                               return 0;
                             });
    if (rc != 0) return rc;
  }
  return 0;
}

int ShowPolicy(const Globals& globals, const std::string& region) {
  v1::GetPolicyRequest request;
  request.set_region_code(region);
  return CallUnary(globals, &v1::PolicyService::Stub::GetPolicy, request,
                   [](const v1::Policy& policy) {
                     std::cout << ToJson(policy);
                     return 0;
                   });
}

}  // namespace

void RegisterPolicyCommands(CLI::App& app, Commands& commands) {
  struct Options {
    std::string file, region;
  };
  auto o = std::make_shared<Options>();
  const Globals& g = commands.globals();
  auto* policy = app.add_subcommand("policy", "adopt or show a region's policy");
  policy->require_subcommand(1);
  auto* adopt = policy->add_subcommand("adopt", "adopt a policy document, or a file of versions (JSON), in order");
  adopt->add_option("file", o->file, "policy JSON file")->required();
  auto* show = policy->add_subcommand("show", "print the latest policy of a region");
  show->add_option("region", o->region, "6-digit region code")->required();
  commands.On(adopt, [&g, o] { return AdoptPolicy(g, o->file); });
  commands.On(show, [&g, o] { return ShowPolicy(g, o->region); });
}

}  // namespace ledgerctl
