// The subcommand table: each command family adds its subcommands to the CLI and says what each
// one runs; main parses, checks the global options, then runs the one subcommand parsed.
#ifndef TOOLS_LEDGERCTL_COMMANDS_H_
#define TOOLS_LEDGERCTL_COMMANDS_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/statusor.h"
#include "tools/ledgerctl/client.h"

namespace ledgerctl {

class Commands {
 public:
  // `globals` must outlive the table; it is read when a command runs, after parsing.
  explicit Commands(const Globals& globals) : globals_(globals) {}

  const Globals& globals() const { return globals_; }
  // `run` is what `command` does when it is the subcommand parsed; it returns the exit code.
  void On(const CLI::App* command, std::function<int()> run);
  // Runs the parsed subcommand; kExitError if none was.
  int RunParsed() const;

 private:
  const Globals& globals_;
  std::vector<std::pair<const CLI::App*, std::function<int()>>> actions_;
};

// The command families, in the order main registers them (the order `--help` lists them in).
void RegisterPolicyCommands(CLI::App& app, Commands& commands);       // policy adopt|show
void RegisterParticipantCommands(CLI::App& app, Commands& commands);  // enrol, import, account
void RegisterAdminCommands(CLI::App& app, Commands& commands);  // rebuild, backup, health, restore
void RegisterFundCommands(CLI::App& app, Commands& commands);   // funds …, tax, recon
void RegisterLifecycleCommands(CLI::App& app, Commands& commands);  // subsidy … transfer
void RegisterJobCommands(CLI::App& app, Commands& commands);        // job run
void RegisterStatementCommand(CLI::App& app, Commands& commands);   // statement
void RegisterExportCommands(CLI::App& app, Commands& commands);     // export, verify
void RegisterAuditCommands(CLI::App& app, Commands& commands);      // audit …

// Names operators type for the API's enums (snake case of the enum value without its prefix),
// for CLI::IsMember.
template <typename Enum>
std::vector<std::string> Names(const std::map<std::string, Enum>& map) {
  std::vector<std::string> names;
  for (const auto& [name, value] : map) names.push_back(name);
  return names;
}

// The --date (business date) and --ref (document reference) every posting command requires.
void AddDateRef(CLI::App* command, std::string& date, std::string& ref);

// --from and --to of a sequence range (`what`: "to export", "to list", …); --to 0 is the head.
void AddSequenceRange(CLI::App* command, uint64_t& from, uint64_t& to, std::string_view what);

// An amount typed in yuan ("1234.5") → fen, or the error naming the option.
absl::StatusOr<int64_t> YuanOption(std::string_view option, const std::string& text);
// A signed amount in yuan ("-12.50" allowed), for bank statement balances.
absl::StatusOr<int64_t> SignedYuanOption(std::string_view option, const std::string& text);

}  // namespace ledgerctl

#endif  // TOOLS_LEDGERCTL_COMMANDS_H_
