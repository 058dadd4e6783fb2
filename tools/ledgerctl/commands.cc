#include "tools/ledgerctl/commands.h"

#include "ledger/money.h"
#include "ledger/strings.h"

namespace ledgerctl {

void Commands::On(const CLI::App* command, std::function<int()> run) {
  actions_.emplace_back(command, std::move(run));
}

int Commands::RunParsed() const {
  for (const auto& [command, run] : actions_) {
    if (command->parsed()) return run();
  }
  return kExitError;
}

void AddDateRef(CLI::App* command, std::string& date, std::string& ref) {
  command->add_option("--date", date, "business date YYYY-MM-DD (not in the future)")->required();
  command->add_option("--ref", ref, "document reference (1-64 printable ASCII)")->required();
}

void AddSequenceRange(CLI::App* command, uint64_t& from, uint64_t& to, std::string_view what) {
  command->add_option("--from", from, ledger::StrCat("first sequence ", what))
      ->capture_default_str();
  command->add_option("--to", to, ledger::StrCat("last sequence ", what, " (0: the head)"))
      ->capture_default_str();
}

absl::StatusOr<int64_t> YuanOption(std::string_view option, const std::string& text) {
  auto fen = ledger::ParseYuanToFen(text);
  if (!fen.ok()) {
    return absl::InvalidArgumentError(
        ledger::StrCat(option, ": ", std::string(fen.status().message())));
  }
  return *fen;
}

absl::StatusOr<int64_t> SignedYuanOption(std::string_view option, const std::string& text) {
  const bool negative = !text.empty() && text[0] == '-';
  auto fen = YuanOption(option, negative ? text.substr(1) : text);
  if (!fen.ok()) return fen.status();
  return negative ? -*fen : *fen;
}

}  // namespace ledgerctl
