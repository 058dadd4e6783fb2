#include "tests/support/pg_server.h"

#include "gtest/gtest.h"

#include <fcntl.h>
#include <libpq-fe.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace ledger::testing {
namespace {

using absl::StrCat;
using ConnPtr = std::unique_ptr<PGconn, decltype(&PQfinish)>;
using ResultPtr = std::unique_ptr<PGresult, decltype(&PQclear)>;

constexpr char kRunAsUser[] = "postgres";
constexpr absl::Duration kSettleTimeout = absl::Seconds(30);

std::string Tail(const std::string& path) {
  std::ifstream in(path);
  std::stringstream all;
  all << in.rdbuf();
  const std::string text = all.str();
  return text.size() > 2000 ? text.substr(text.size() - 2000) : text;
}

std::string Quoted(absl::string_view text) {
  return StrCat("'", absl::StrReplaceAll(text, {{"'", "''"}}), "'");
}

absl::StatusOr<ConnPtr> ConnectBlocking(const std::string& conninfo) {
  ConnPtr conn(PQconnectdb(conninfo.c_str()), &PQfinish);
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    return absl::UnavailableError(StrCat("connect: ", PQerrorMessage(conn.get())));
  }
  return conn;
}

// As root, the server's user must own its directories (PostgreSQL refuses to run as root).
absl::Status GiveToServerUser(const std::string& directory) {
  if (geteuid() != 0) return absl::OkStatus();
  const passwd* pw = getpwnam(kRunAsUser);
  if (pw == nullptr || chown(directory.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
    return absl::FailedPreconditionError("as root, the tests need a `postgres` user");
  }
  return absl::OkStatus();
}

}  // namespace

PgServer::PgServer(Options options, std::string directory)
    : options_(std::move(options)), directory_(std::move(directory)) {}

absl::StatusOr<std::unique_ptr<PgServer>> PgServer::Start(Options options) {
  if (access((options.bin_dir + "/initdb").c_str(), X_OK) != 0) {
    return absl::FailedPreconditionError(
        StrCat(options.bin_dir, "/initdb is missing: apt-get install postgresql-15"));
  }
  // Short, under /tmp: the socket path (directory + "/.s.PGSQL.5432") must fit in 107 bytes.
  std::string directory = "/tmp/ledger-pg-XXXXXX";
  if (mkdtemp(directory.data()) == nullptr) return absl::InternalError("mkdtemp failed");
  std::unique_ptr<PgServer> server(new PgServer(std::move(options), directory));
  if (absl::Status s = GiveToServerUser(directory); !s.ok()) return s;
  if (absl::Status s = server->InitDb(); !s.ok()) return s;
  if (absl::Status s = server->StartServer(); !s.ok()) return s;
  // The probe's table: a COMMIT waits for the standby only if its transaction wrote WAL.
  absl::StatusOr<std::vector<std::string>> created =
      server->Query("CREATE TABLE pg_server_probe (at timestamptz NOT NULL)");
  if (!created.ok()) return created.status();
  return server;
}

PgServer::~PgServer() {
  if (running_ && !StopServer("fast").ok()) (void)StopServer("immediate");
  std::error_code ignored;
  std::filesystem::remove_all(directory_, ignored);
}

absl::Status PgServer::RunProgram(const std::vector<std::string>& args) const {
  std::vector<std::string> argv;
  if (geteuid() == 0) argv = {"runuser", "-u", kRunAsUser, "--"};
  argv.push_back(args[0].front() == '/' ? args[0] : StrCat(options_.bin_dir, "/", args[0]));
  argv.insert(argv.end(), args.begin() + 1, args.end());
  std::vector<char*> raw;
  for (std::string& a : argv) raw.push_back(a.data());
  raw.push_back(nullptr);
  const std::string output = directory_ + "/program.out";
  const pid_t pid = fork();
  if (pid < 0) return absl::InternalError("fork failed");
  if (pid == 0) {
    // Only async-signal-safe calls until exec. The working directory must be one the
    // `postgres` user can enter (the caller's may not be).
    const int fd = open(output.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      dup2(fd, STDOUT_FILENO);
      dup2(fd, STDERR_FILENO);
    }
    if (chdir(directory_.c_str()) != 0) _exit(126);
    execvp(raw[0], raw.data());
    _exit(127);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return absl::InternalError("waitpid failed");
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::InternalError(StrCat(args[0], " failed (status ", status, "): ", Tail(output),
                                      "\nserver log: ", Tail(directory_ + "/server.log")));
  }
  return absl::OkStatus();
}

absl::Status PgServer::InitDb() {
  // initdb takes seconds on a busy machine and every test process needs a cluster: it runs
  // once per machine, into a template directory (named after the binaries and the arguments,
  // renamed into place only when complete), which each server then copies.
  const std::vector<std::string> initdb = absl::StrSplit(
      "initdb -U postgres -A trust -E UTF8 --locale=C --no-sync --no-instructions", ' ');
  uint64_t fnv = 14695981039346656037ull;
  for (const std::string& part :
       std::vector<std::string>{options_.bin_dir, absl::StrJoin(initdb, " ")}) {
    for (unsigned char c : part) fnv = (fnv ^ c) * 1099511628211ull;
  }
  const std::string template_dir = StrCat("/tmp/ledger-pg-template-", absl::Hex(fnv));
  if (access((template_dir + "/data/PG_VERSION").c_str(), F_OK) != 0) {
    std::string fresh = "/tmp/ledger-pg-template-new-XXXXXX";
    if (mkdtemp(fresh.data()) == nullptr) return absl::InternalError("mkdtemp failed");
    if (absl::Status s = GiveToServerUser(fresh); !s.ok()) return s;
    std::vector<std::string> args = initdb;
    args.insert(args.begin() + 1, {"-D", fresh + "/data"});
    if (absl::Status s = RunProgram(args); !s.ok()) return s;
    std::error_code ignored;
    if (rename(fresh.c_str(), template_dir.c_str()) != 0) {
      std::filesystem::remove_all(fresh, ignored);  // another test process made it first
    }
  }
  if (absl::Status s = RunProgram({"/bin/cp", "-a", template_dir + "/data", data_dir()}); !s.ok()) {
    return s;
  }
  // Appended to the file initdb wrote (owned by `postgres`; appending keeps the owner).
  std::ofstream conf(data_dir() + "/postgresql.conf", std::ios::app);
  conf << "listen_addresses = ''\n"
       << "unix_socket_directories = " << Quoted(directory_) << "\n"
       << "port = 5432\n"
       << "fsync = on\n"
       << "synchronous_commit = on\n"
       << "shared_buffers = 16MB\n"
       << "max_connections = 40\n"
       << "synchronous_standby_names = " << Quoted(options_.synchronous_standby_names) << "\n";
  for (const std::string& setting : options_.settings) conf << setting << "\n";
  conf.close();
  return conf ? absl::OkStatus() : absl::InternalError("writing postgresql.conf failed");
}

absl::Status PgServer::StartServer() {
  absl::Status s = RunProgram(
      {"pg_ctl", "-D", data_dir(), "-l", directory_ + "/server.log", "-w", "-t", "60", "start"});
  running_ = s.ok();
  return s;
}

absl::Status PgServer::StopServer(std::string_view mode) {
  absl::Status s =
      RunProgram({"pg_ctl", "-D", data_dir(), "-m", std::string(mode), "-w", "-t", "60", "stop"});
  if (s.ok()) running_ = false;
  return s;
}

absl::Status PgServer::Restart() {
  if (absl::Status s = StopServer("fast"); !s.ok()) return s;
  return StartServer();
}

std::string PgServer::conninfo(std::string_view application_name) const {
  return StrCat("host=", directory_, " port=5432 user=postgres dbname=postgres application_name=",
                std::string(application_name));
}

absl::StatusOr<std::vector<std::string>> PgServer::Query(std::string_view sql) const {
  absl::StatusOr<ConnPtr> conn = ConnectBlocking(conninfo("pg_server_admin"));
  if (!conn.ok()) return conn.status();
  ResultPtr r(PQexec(conn->get(), std::string(sql).c_str()), &PQclear);
  const ExecStatusType status = PQresultStatus(r.get());
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    return absl::InternalError(StrCat(std::string(sql), ": ", PQresultErrorMessage(r.get())));
  }
  std::vector<std::string> out;
  for (int row = 0; row < PQntuples(r.get()); ++row) out.emplace_back(PQgetvalue(r.get(), row, 0));
  return out;
}

absl::StatusOr<int> PgServer::SyncRepWaiters(std::string_view application_name) const {
  absl::StatusOr<std::vector<std::string>> rows =
      Query(StrCat("SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'SyncRep'",
                   application_name.empty() ? "" : " AND application_name = ",
                   application_name.empty() ? "" : Quoted(std::string(application_name))));
  if (!rows.ok()) return rows.status();
  return std::atoi(rows->at(0).c_str());
}

absl::StatusOr<bool> PgServer::ProbeCommitWaits() const {
  absl::StatusOr<ConnPtr> probe = ConnectBlocking(conninfo("pg_server_probe"));
  if (!probe.ok()) return probe.status();
  ResultPtr begin(PQexec(probe->get(), "BEGIN; INSERT INTO pg_server_probe VALUES (now())"),
                  &PQclear);
  if (PQresultStatus(begin.get()) != PGRES_COMMAND_OK || PQsendQuery(probe->get(), "COMMIT") == 0) {
    return absl::InternalError(StrCat("probe: ", PQerrorMessage(probe->get())));
  }
  const std::string pid = StrCat(PQbackendPID(probe->get()));
  const absl::Time deadline = absl::Now() + kSettleTimeout;
  while (absl::Now() < deadline) {
    if (PQconsumeInput(probe->get()) == 0) return absl::InternalError("probe connection lost");
    if (!PQisBusy(probe->get())) return false;  // the COMMIT returned
    absl::StatusOr<std::vector<std::string>> wait =
        Query(StrCat("SELECT coalesce(wait_event, '') FROM pg_stat_activity WHERE pid = ", pid));
    if (!wait.ok()) return wait.status();
    // Closing the probe's connection leaves its COMMIT waiting (no cancel): it completes
    // when the standby names are cleared, like any other waiter.
    if (!wait->empty() && wait->front() == "SyncRep") return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return absl::DeadlineExceededError("probe COMMIT neither returned nor waited");
}

absl::Status PgServer::SetSynchronousStandbyNames(std::string_view names) {
  for (const std::string& sql :
       {StrCat("ALTER SYSTEM SET synchronous_standby_names = ", Quoted(std::string(names))),
        std::string("SELECT pg_reload_conf()")}) {
    if (absl::StatusOr<std::vector<std::string>> r = Query(sql); !r.ok()) return r.status();
  }
  // The reload reaches every process asynchronously (the checkpointer publishes whether
  // standbys are defined); wait until a commit behaves the new way.
  const bool want_wait = !names.empty();
  const absl::Time deadline = absl::Now() + kSettleTimeout;
  while (absl::Now() < deadline) {
    absl::StatusOr<bool> waits = ProbeCommitWaits();
    if (!waits.ok()) return waits.status();
    absl::StatusOr<int> waiters = SyncRepWaiters("");
    if (!waiters.ok()) return waiters.status();
    if (*waits == want_wait && (want_wait || *waiters == 0)) return absl::OkStatus();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return absl::DeadlineExceededError("synchronous_standby_names did not take effect");
}

PgServer* SharedPgServer() {
  static const std::unique_ptr<PgServer> server = [] {
    auto started = PgServer::Start({});
    EXPECT_TRUE(started.ok()) << started.status();
    return started.ok() ? std::move(started).value() : nullptr;
  }();
  return server.get();
}

}  // namespace ledger::testing
