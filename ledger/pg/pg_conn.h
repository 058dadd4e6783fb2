// One libpq connection driven with client-side deadlines, and the binary encodings the event log
// sends (parameters, arrays, COPY rows). Nothing here ever cancels a statement: PQcancel on a
// COMMIT waiting for the synchronous standby makes the server report success ("canceling wait
// for synchronous replication", a WARNING) for a commit that exists only locally; on a deposed
// primary such a row is discarded by pg_rewind after failover (the HA prototype's fence probe
// showed exactly that). A statement that misses its deadline leaves the connection unusable;
// the owner closes it (PQfinish sends Terminate, which the backend reads only after the
// statement finishes) and opens a new one.
#ifndef LEDGER_PG_PG_CONN_H_
#define LEDGER_PG_PG_CONN_H_

#include <libpq-fe.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace ledger::pg {

// Type OIDs of the parameters we send (pg_type.dat); fixed since PostgreSQL 7.
inline constexpr Oid kTextOid = 25;
inline constexpr Oid kByteaOid = 17;
inline constexpr Oid kInt8Oid = 20;
inline constexpr Oid kByteaArrayOid = 1001;
inline constexpr Oid kInt8ArrayOid = 1016;

// A query parameter in binary format.
struct Param {
  Oid type;
  std::string bytes;
};
Param Text(std::string_view text);
Param Bytea(std::string_view bytes);
Param Int8(int64_t value);
// One-dimensional arrays, binary array format (array_recv): ndim, has-null flag, element type,
// length, lower bound 1, then each element as i32 BE length + bytes.
Param ByteaArray(const std::vector<std::string>& elements);
Param Int8Array(const std::vector<int64_t>& elements);

// Binary COPY stream (the "PGCOPY" file format): the header, one tuple per AddRow, and the
// trailer from Finish(). Integers are big-endian.
class CopyBuffer {
 public:
  explicit CopyBuffer(int16_t fields);
  void AddInt8(int64_t value);
  void AddBytes(std::string_view bytes);  // text or bytea: raw bytes, i32 BE length first
  void EndRow();                          // checks the row had `fields` fields
  std::string Finish() &&;
  int64_t rows() const { return rows_; }

 private:
  const int16_t fields_;
  int16_t in_row_ = 0;
  int64_t rows_ = 0;
  std::string data_;
};

// Reads a binary-format int8 column value.
int64_t DecodeInt8(std::string_view bytes);

using ResultPtr = std::unique_ptr<PGresult, decltype(&PQclear)>;

// A result's cell as bytes (binary format: exact bytes; PQgetlength, not strlen).
std::string_view Cell(const PGresult* result, int row, int column);

class Conn {
 public:
  // Connects (PQconnectStart/PQconnectPoll) within `deadline` and switches to non-blocking mode.
  static absl::StatusOr<std::unique_ptr<Conn>> Connect(const std::string& conninfo,
                                                       absl::Time deadline);
  ~Conn();  // PQfinish: closes without cancelling whatever the backend is doing
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  // Runs `sql` (one statement with parameters, results in binary format) and returns its
  // result. Any error or a missed deadline is returned as a status; the caller then closes
  // the connection (a transaction left open is rolled back by the server when it goes).
  absl::StatusOr<ResultPtr> Exec(std::string_view sql, const std::vector<Param>& params,
                                 absl::Time deadline);
  // Several statements without parameters in one simple query; OK when every one succeeded.
  absl::Status ExecScript(std::string_view sql, absl::Time deadline);
  // COPY ... FROM STDIN (FORMAT binary): sends `data` and returns the row count the server
  // reports.
  absl::StatusOr<int64_t> CopyIn(std::string_view copy_sql, std::string_view data,
                                 absl::Time deadline);

  // Sends COMMIT and waits until `deadline`. OK only when the server answered the COMMIT tag
  // with no WARNING raised while it ran (a sync-rep wait cancelled by an operator, a shutdown
  // or a lost standby raises one and still reports success: the commit is then only local).
  // Anything else is in doubt: the transaction may or may not be committed; the status says
  // why and the connection must be closed.
  absl::Status Commit(absl::Time deadline);

  int BackendPid() const { return PQbackendPID(conn_); }

 private:
  explicit Conn(PGconn* conn) : conn_(conn) {}
  static void OnNotice(void* self, const PGresult* result);
  // Flushes the output buffer and waits for the complete response, within `deadline`.
  absl::Status Flush(absl::Time deadline);
  absl::Status AwaitResponse(absl::Time deadline);
  absl::Status Wait(bool for_write, absl::Time deadline);
  // Collects every result of the statement just sent; the last one is returned.
  absl::StatusOr<ResultPtr> Collect(absl::Time deadline);
  absl::Status ConnectionError(absl::string_view what) const;

  PGconn* const conn_;
  std::vector<std::string> warnings_;  // WARNING notices since the last Commit() began
};

// The status for a failed statement's result: UNAVAILABLE for what a retry on a fresh
// connection can fix (connection lost, server shutting down, read-only standby, serialization
// failure, deadlock), RESOURCE_EXHAUSTED for class 53, INTERNAL otherwise.
absl::Status ResultError(const PGresult* result, absl::string_view what);

}  // namespace ledger::pg

#endif  // LEDGER_PG_PG_CONN_H_
