// A private PostgreSQL 15 server for tests: a cluster from initdb in a fresh temporary
// directory, listening only on a unix socket inside it (no TCP port, nothing shared with a
// system service or /var/lib/postgresql), fsync on, stopped (pg_ctl stop -m fast) and removed
// by the destructor. initdb runs once per machine into /tmp/ledger-pg-template-<hash>, which
// every server copies (ctest runs each test in its own process). PostgreSQL refuses to run as
// root, so as root the directories belong to the `postgres` user and initdb, cp, pg_ctl and
// the server run as that user (runuser -u postgres --).
#ifndef TESTS_SUPPORT_PG_SERVER_H_
#define TESTS_SUPPORT_PG_SERVER_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace ledger::testing {

class PgServer {
 public:
  struct Options {
    // The server's binaries.
    std::string bin_dir = "/usr/lib/postgresql/15/bin";
    // synchronous_standby_names at start (empty: commits wait only for the local flush).
    std::string synchronous_standby_names;
    // More postgresql.conf lines ("name = value"), written after the test defaults (a small
    // server: shared_buffers = 16MB) and so overriding them: ledger-bench's PostgreSQL peer
    // sizes its buffers and WAL for a bulk load. Not for durability: every server here runs
    // with fsync and synchronous_commit on.
    std::vector<std::string> settings;
  };

  static absl::StatusOr<std::unique_ptr<PgServer>> Start(Options options);
  ~PgServer();
  PgServer(const PgServer&) = delete;
  PgServer& operator=(const PgServer&) = delete;

  // A libpq conninfo for the server as superuser `postgres`; `application_name` tags the
  // connection so a test can find its backends in pg_stat_activity.
  std::string conninfo(std::string_view application_name) const;

  // ALTER SYSTEM SET synchronous_standby_names and a reload; returns once it is in effect:
  // with `names` set (e.g. a standby that does not exist), once a probe COMMIT is seen waiting
  // for it (wait_event SyncRep); with `names` empty, once no backend waits any more (every
  // waiting COMMIT has been released and has committed).
  absl::Status SetSynchronousStandbyNames(std::string_view names);

  // pg_ctl stop -m fast, then start again on the same directory and socket.
  absl::Status Restart();

  // Runs `sql` (simple query) as superuser and returns the first column of every row, as text.
  absl::StatusOr<std::vector<std::string>> Query(std::string_view sql) const;

  // The backends of connections tagged `application_name` that wait for the synchronous
  // standby (a COMMIT in progress that nobody cancelled).
  absl::StatusOr<int> SyncRepWaiters(std::string_view application_name) const;

  const std::string& directory() const { return directory_; }

 private:
  PgServer(Options options, std::string directory);
  // Runs a program of bin_dir, or one named by its absolute path, in directory() (as
  // `postgres` when we are root); OK on exit status 0.
  absl::Status RunProgram(const std::vector<std::string>& args) const;
  absl::Status InitDb();
  absl::Status StartServer();
  absl::Status StopServer(std::string_view mode);
  // Starts a probe COMMIT and reports whether it waits for the synchronous standby.
  absl::StatusOr<bool> ProbeCommitWaits() const;
  std::string data_dir() const { return directory_ + "/data"; }

  const Options options_;
  const std::string directory_;
  bool running_ = false;
};

// The process's server, shared by every suite that needs one: started on first use and stopped
// at exit. Null (after recording a test failure) when it does not start. A test that changes
// its settings (synchronous_standby_names) sets them back.
PgServer* SharedPgServer();

}  // namespace ledger::testing

#endif  // TESTS_SUPPORT_PG_SERVER_H_
