// `ledgerctl rebuild|backup|health|restore|migrate-log`: the operator's care of a deployment.
// rebuild, restore and migrate-log are offline (they open the data directory themselves); backup
// and health ask the server.
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>

#include "ledger/hash.h"
#include "ledger/ledger.h"
#include "ledger/pg/migrate.h"
#include "ledger/strings.h"
#include "services/health_client.h"
#include "tools/ledgerctl/client.h"
#include "tools/ledgerctl/commands.h"

namespace ledgerctl {
namespace {

namespace v1 = ledger::v1;
using ledger::StrCat;

// grpc.health.v1.Health/Check for the whole server.
int Health(const Globals& globals) {
  Rpc rpc(globals, 5);
  int status = -1;
  if (auto st = services::CheckHealth(rpc.channel(), *rpc.context(), status); !st.ok()) {
    return rpc.Failed(st);
  }
  const bool serving = status == 1;
  std::printf("%s\n", serving ? "SERVING" : "NOT_SERVING");
  return serving ? 0 : kExitError;
}

int Backup(const Globals& globals, const std::string& directory) {
  v1::BackupRequest request;
  request.set_directory(directory);
  return CallUnary(
      globals, &v1::AdminService::Stub::Backup, request,
      [&](const v1::BackupResponse& response) {
        std::printf("backup written to %s (on the server): last_sequence=%llu chain_head=%s\n",
                    directory.c_str(), static_cast<unsigned long long>(response.sequence()),
                    ledger::HexEncode(response.chain_head()).c_str());
        return 0;
      },
      ledger::kClientStreamDeadlineSeconds);  // a checkpoint may flush memtables
}

// Offline: copies a backup into a new data directory, then opens it, which re-hashes the whole
// chain and checks the projections against it.
int Restore(const std::string& from, const std::string& data_dir) {
  namespace fs = std::filesystem;
  if (!fs::is_directory(from)) return Fail(StrCat(from, " is not a backup directory"));
  if (fs::exists(data_dir) && !fs::is_empty(data_dir)) {
    return Fail(StrCat(data_dir, " exists and is not empty; restore into a new directory"));
  }
  std::error_code error;
  fs::copy(from, data_dir, fs::copy_options::recursive, error);
  if (error) return Fail(StrCat("copying ", from, " to ", data_dir, ": ", error.message()));
  auto ledger = ledger::Ledger::Open({.data_dir = data_dir, .verify_chain_on_open = true});
  if (!ledger.ok())
    return Fail(StrCat("the restored copy does not open: ", ledger.status().ToString()));
  const ledger::ChainHead head = (*ledger)->Head();
  std::printf("restored %s into %s: last_sequence=%llu chain_head=%s; chain verified\n",
              from.c_str(), data_dir.c_str(), static_cast<unsigned long long>(head.sequence),
              ledger::HexEncode(head.hash).c_str());
  return 0;
}

// Offline: drops every projection and replays the log into them.
int Rebuild(const std::string& data_dir) {
  if (auto st = ledger::Ledger::RebuildProjections(data_dir); !st.ok()) {
    return Fail(std::string(st.ToString()));
  }
  std::cout << "projections rebuilt from the log in " << data_dir << "\n";
  return 0;
}

// Offline: the RocksDB log of `data_dir` into PostgreSQL (deploy/OPERATIONS.md, "Moving a
// ledger between backends").
int MigrateLog(const std::string& data_dir, const std::string& conninfo,
               const std::string& ledger_id) {
  auto copied = ledger::CopyLogToPostgres(data_dir, conninfo, ledger_id);
  if (!copied.ok()) return Fail(std::string(copied.status().ToString()));
  std::printf(
      "copied the log of %s into PostgreSQL as ledger '%s': last_sequence=%llu chain_head=%s "
      "references=%llu checkpoints=%llu; chain verified; start ledgerd with --log-backend "
      "postgres\n",
      data_dir.c_str(), ledger_id.c_str(), static_cast<unsigned long long>(copied->head.sequence),
      ledger::HexEncode(copied->head.hash).c_str(),
      static_cast<unsigned long long>(copied->refs),
      static_cast<unsigned long long>(copied->checkpoints));
  return 0;
}

}  // namespace

void RegisterAdminCommands(CLI::App& app, Commands& commands) {
  struct Options {
    std::string data_dir, backup_dir, restore_from, restore_to;
    std::string conninfo, ledger_id = "ledger";
  };
  auto o = std::make_shared<Options>();
  const Globals& g = commands.globals();
  auto* rebuild = app.add_subcommand(
      "rebuild", "offline: drop all projections and rebuild them by replaying the log");
  rebuild->add_option("--data-dir", o->data_dir, "ledgerd's data directory (server stopped)")
      ->required();
  commands.On(rebuild, [o] { return Rebuild(o->data_dir); });

  auto* backup = app.add_subcommand(
      "backup", "online backup: the server writes a consistent copy to a new directory");
  backup
      ->add_option("--to", o->backup_dir,
                   "absolute path on the SERVER's filesystem (must not exist)")
      ->required();
  commands.On(backup, [&g, o] { return Backup(g, o->backup_dir); });

  auto* health = app.add_subcommand(
      "health", "grpc.health.v1 check: prints SERVING (exit 0) or NOT_SERVING (exit 1)");
  commands.On(health, [&g] { return Health(g); });

  auto* restore = app.add_subcommand(
      "restore", "offline: copy a backup into a new data directory and verify it");
  restore->add_option("--from", o->restore_from, "backup directory")->required();
  restore->add_option("--data-dir", o->restore_to, "new data directory for ledgerd")->required();
  commands.On(restore, [o] { return Restore(o->restore_from, o->restore_to); });

  auto* migrate = app.add_subcommand(
      "migrate-log",
      "offline: copy a RocksDB ledger's log (chain verified) into PostgreSQL for log backend "
      "postgres; the way back is a fresh data directory opened once on postgres");
  migrate->add_option("--data-dir", o->data_dir, "ledgerd's data directory (server stopped)")
      ->required();
  migrate->add_option("--postgres-conninfo", o->conninfo, "libpq conninfo of the primary")
      ->required();
  migrate->add_option("--ledger-id", o->ledger_id, "the ledger's id in PostgreSQL (new)")
      ->capture_default_str();
  commands.On(migrate, [o] { return MigrateLog(o->data_dir, o->conninfo, o->ledger_id); });
}

}  // namespace ledgerctl
