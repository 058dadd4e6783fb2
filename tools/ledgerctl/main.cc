// ledgerctl: the operator's command line for the pension ledger. Its global options say how to
// reach the server; each command family (commands.h) adds its subcommands. Exit codes: client.h.
#include "CLI/CLI.hpp"
#include "tools/ledgerctl/client.h"
#include "tools/ledgerctl/commands.h"

int main(int argc, char** argv) {
  using namespace ledgerctl;  // NOLINT(build/namespaces): main only wires the families together
  CLI::App app{"ledgerctl: operate the pension account ledger"};
  app.require_subcommand(1);
  Globals globals;
  app.add_option("--server", globals.servers,
                 "ledgerd address host:port; once per node of a replicated ledger (a unary call "
                 "goes to the leader the others name, or to the next one)")
      ->capture_default_str();
  app.add_option("--retry-for", globals.retry_for_seconds,
                 "seconds a unary call keeps resending while the server is unavailable "
                 "(default: 60 with several --server, 0 with one)");
  app.add_option("--min-sequence", globals.min_sequence,
                 "read on a node only once it has applied this sequence (a write's answer)");
  app.add_option("--ca", globals.ca_file, "CA that signed the server certificate (PEM)");
  app.add_option("--cert", globals.cert_file, "client certificate (PEM); its OU is the role");
  app.add_option("--key", globals.key_file, "client private key (PEM)");

  Commands commands(globals);
  RegisterPolicyCommands(app, commands);
  RegisterParticipantCommands(app, commands);
  RegisterAdminCommands(app, commands);
  RegisterFundCommands(app, commands);
  RegisterLifecycleCommands(app, commands);
  RegisterJobCommands(app, commands);
  RegisterStatementCommand(app, commands);
  RegisterExportCommands(app, commands);
  RegisterAuditCommands(app, commands);

  CLI11_PARSE(app, argc, argv);
  const Globals& g = globals;
  if ((g.ca_file.empty() || g.cert_file.empty() || g.key_file.empty()) &&
      !(g.ca_file.empty() && g.cert_file.empty() && g.key_file.empty())) {
    return Fail("--ca, --cert and --key go together (mutual TLS), or none of them (plain text)");
  }
  return commands.RunParsed();
}
