#include "ledger/pg/pg_conn.h"

#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "ledger/status_macros.h"

namespace ledger::pg {
namespace {

using absl::StrCat;

// PGCOPY binary file header: signature, flags (no OIDs), header extension length 0.
constexpr char kCopySignature[] = "PGCOPY\n\377\r\n";  // + the terminating NUL: 11 bytes
constexpr size_t kCopyChunkBytes = 64 * 1024;

void PutU32(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>(v >> shift));
}
void PutU16(std::string& out, uint16_t v) {
  out.push_back(static_cast<char>(v >> 8));
  out.push_back(static_cast<char>(v));
}
void PutI64(std::string& out, int64_t v) {
  const auto u = static_cast<uint64_t>(v);
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>(u >> shift));
}
void PutLength(std::string& out, size_t n) {
  LEDGER_CHECK(n <= 0x7fffffff, "a PostgreSQL value is at most 2 GiB");
  PutU32(out, static_cast<uint32_t>(n));
}

// array_recv's layout for a one-dimensional array without NULLs.
std::string ArrayHeader(Oid element_type, size_t n) {
  std::string out;
  PutU32(out, n == 0 ? 0 : 1);  // ndim: the empty array has no dimensions
  PutU32(out, 0);               // has-null flag
  PutU32(out, element_type);
  if (n > 0) {
    PutLength(out, n);
    PutU32(out, 1);  // lower bound
  }
  return out;
}

std::string Trimmed(const char* message) {
  return std::string(absl::StripAsciiWhitespace(message == nullptr ? "" : message));
}

}  // namespace

Param Text(std::string_view text) { return Param{kTextOid, std::string(text)}; }
Param Bytea(std::string_view bytes) { return Param{kByteaOid, std::string(bytes)}; }
Param Int8(int64_t value) {
  Param p{kInt8Oid, {}};
  PutI64(p.bytes, value);
  return p;
}

Param ByteaArray(const std::vector<std::string>& elements) {
  Param p{kByteaArrayOid, ArrayHeader(kByteaOid, elements.size())};
  for (const std::string& e : elements) {
    PutLength(p.bytes, e.size());
    p.bytes += e;
  }
  return p;
}

Param Int8Array(const std::vector<int64_t>& elements) {
  Param p{kInt8ArrayOid, ArrayHeader(kInt8Oid, elements.size())};
  for (int64_t e : elements) {
    PutU32(p.bytes, 8);
    PutI64(p.bytes, e);
  }
  return p;
}

int64_t DecodeInt8(std::string_view bytes) {
  LEDGER_CHECK(bytes.size() == 8, "a binary int8 is 8 bytes");
  uint64_t v = 0;
  for (char c : bytes) v = (v << 8) | static_cast<unsigned char>(c);
  return static_cast<int64_t>(v);
}

std::string_view Cell(const PGresult* result, int row, int column) {
  return std::string_view(PQgetvalue(result, row, column),
                          static_cast<size_t>(PQgetlength(result, row, column)));
}

CopyBuffer::CopyBuffer(int16_t fields) : fields_(fields) {
  data_.append(kCopySignature, sizeof(kCopySignature));  // 11 bytes with the NUL
  PutU32(data_, 0);                                      // flags
  PutU32(data_, 0);                                      // header extension length
}

void CopyBuffer::AddInt8(int64_t value) {
  if (in_row_++ == 0) PutU16(data_, static_cast<uint16_t>(fields_));
  PutU32(data_, 8);
  PutI64(data_, value);
}

void CopyBuffer::AddBytes(std::string_view bytes) {
  if (in_row_++ == 0) PutU16(data_, static_cast<uint16_t>(fields_));
  PutLength(data_, bytes.size());
  data_.append(bytes);
}

void CopyBuffer::EndRow() {
  LEDGER_CHECK(in_row_ == fields_, "a COPY row has exactly the declared fields");
  in_row_ = 0;
  ++rows_;
}

std::string CopyBuffer::Finish() && {
  LEDGER_CHECK(in_row_ == 0, "the last COPY row is complete");
  PutU16(data_, 0xffff);  // trailer: field count -1
  return std::move(data_);
}

absl::Status ResultError(const PGresult* result, absl::string_view what) {
  const char* state = PQresultErrorField(result, PG_DIAG_SQLSTATE);
  const std::string sqlstate = state == nullptr ? "" : state;
  const std::string message =
      StrCat(what, ": ", Trimmed(PQresultErrorMessage(result)), " (SQLSTATE ", sqlstate, ")");
  // 08: connection exception; 57P: operator intervention (shutdown); 25006: read-only
  // transaction (a standby); 40001/40P01: serialization failure, deadlock.
  if (sqlstate.empty() || absl::StartsWith(sqlstate, "08") || absl::StartsWith(sqlstate, "57P") ||
      sqlstate == "25006" || sqlstate == "40001" || sqlstate == "40P01") {
    return absl::UnavailableError(message);
  }
  if (absl::StartsWith(sqlstate, "53")) return absl::ResourceExhaustedError(message);
  return absl::InternalError(message);
}

absl::StatusOr<std::unique_ptr<Conn>> Conn::Connect(const std::string& conninfo,
                                                    absl::Time deadline) {
  PGconn* raw = PQconnectStart(conninfo.c_str());
  if (raw == nullptr) return absl::ResourceExhaustedError("libpq: out of memory");
  std::unique_ptr<Conn> conn(new Conn(raw));
  if (PQstatus(raw) == CONNECTION_BAD) return conn->ConnectionError("connecting");
  for (;;) {
    const PostgresPollingStatusType state = PQconnectPoll(raw);
    if (state == PGRES_POLLING_OK) break;
    if (state == PGRES_POLLING_FAILED) return conn->ConnectionError("connecting");
    LEDGER_RETURN_IF_ERROR(conn->Wait(state == PGRES_POLLING_WRITING, deadline));
  }
  if (PQsetnonblocking(raw, 1) != 0) return conn->ConnectionError("PQsetnonblocking");
  PQsetNoticeReceiver(raw, &Conn::OnNotice, conn.get());
  return conn;
}

Conn::~Conn() { PQfinish(conn_); }

void Conn::OnNotice(void* self, const PGresult* result) {
  const char* severity = PQresultErrorField(result, PG_DIAG_SEVERITY_NONLOCALIZED);
  if (severity != nullptr && std::strcmp(severity, "WARNING") == 0) {
    static_cast<Conn*>(self)->warnings_.push_back(Trimmed(PQresultErrorMessage(result)));
  }
}

absl::Status Conn::ConnectionError(absl::string_view what) const {
  return absl::UnavailableError(StrCat(what, ": ", Trimmed(PQerrorMessage(conn_))));
}

absl::Status Conn::Wait(bool for_write, absl::Time deadline) {
  for (;;) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) return absl::UnavailableError("deadline passed");
    pollfd fd{PQsocket(conn_), static_cast<short>(for_write ? POLLOUT | POLLIN : POLLIN), 0};
    if (fd.fd < 0) return ConnectionError("no socket");
    const int timeout_ms = static_cast<int>(absl::ToInt64Milliseconds(
        absl::Ceil(std::min(left, absl::Seconds(1)), absl::Milliseconds(1))));
    const int n = poll(&fd, 1, timeout_ms);
    if (n > 0) return absl::OkStatus();
    if (n < 0 && errno != EINTR) {
      return absl::UnavailableError(StrCat("poll: ", std::strerror(errno)));
    }
  }
}

absl::Status Conn::Flush(absl::Time deadline) {
  for (;;) {
    const int r = PQflush(conn_);
    if (r == 0) return absl::OkStatus();
    if (r < 0) return ConnectionError("sending");
    // Write-blocked: the server may be waiting for us to read (libpq's documented loop).
    LEDGER_RETURN_IF_ERROR(Wait(/*for_write=*/true, deadline));
    if (PQconsumeInput(conn_) == 0) return ConnectionError("receiving");
  }
}

absl::Status Conn::AwaitResponse(absl::Time deadline) {
  while (PQisBusy(conn_)) {
    LEDGER_RETURN_IF_ERROR(Wait(/*for_write=*/false, deadline));
    if (PQconsumeInput(conn_) == 0) return ConnectionError("receiving");
  }
  return absl::OkStatus();
}

absl::StatusOr<ResultPtr> Conn::Collect(absl::Time deadline) {
  ResultPtr last(nullptr, &PQclear);
  absl::Status first_error;
  for (;;) {
    LEDGER_RETURN_IF_ERROR(AwaitResponse(deadline));
    ResultPtr r(PQgetResult(conn_), &PQclear);
    if (r == nullptr) break;
    const ExecStatusType status = PQresultStatus(r.get());
    if (status == PGRES_COPY_IN) return r;  // the caller sends the data next
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK && first_error.ok()) {
      first_error = ResultError(r.get(), "statement failed");
    }
    last = std::move(r);
  }
  if (!first_error.ok()) return first_error;
  if (last == nullptr) return ConnectionError("no result");
  return last;
}

absl::StatusOr<ResultPtr> Conn::Exec(std::string_view sql, const std::vector<Param>& params,
                                     absl::Time deadline) {
  std::vector<Oid> types;
  std::vector<const char*> values;
  std::vector<int> lengths;
  std::vector<int> formats(params.size(), 1);
  for (const Param& p : params) {
    types.push_back(p.type);
    values.push_back(p.bytes.data());
    lengths.push_back(static_cast<int>(p.bytes.size()));
  }
  if (PQsendQueryParams(conn_, std::string(sql).c_str(), static_cast<int>(params.size()),
                        types.data(), values.data(), lengths.data(), formats.data(),
                        /*resultFormat=*/1) == 0) {
    return ConnectionError("sending a statement");
  }
  LEDGER_RETURN_IF_ERROR(Flush(deadline));
  return Collect(deadline);
}

absl::Status Conn::ExecScript(std::string_view sql, absl::Time deadline) {
  if (PQsendQuery(conn_, std::string(sql).c_str()) == 0) return ConnectionError("sending");
  LEDGER_RETURN_IF_ERROR(Flush(deadline));
  return Collect(deadline).status();
}

absl::StatusOr<int64_t> Conn::CopyIn(std::string_view copy_sql, std::string_view data,
                                     absl::Time deadline) {
  if (PQsendQuery(conn_, std::string(copy_sql).c_str()) == 0) return ConnectionError("sending");
  LEDGER_RETURN_IF_ERROR(Flush(deadline));
  LEDGER_ASSIGN_OR_RETURN(ResultPtr start, Collect(deadline));
  if (PQresultStatus(start.get()) != PGRES_COPY_IN) {
    return absl::InternalError("COPY did not enter COPY IN mode");
  }
  for (size_t at = 0; at < data.size();) {
    const size_t n = std::min(kCopyChunkBytes, data.size() - at);
    const int r = PQputCopyData(conn_, data.data() + at, static_cast<int>(n));
    if (r < 0) return ConnectionError("sending COPY data");
    if (r == 1) at += n;
    LEDGER_RETURN_IF_ERROR(Flush(deadline));  // r == 0: buffer full, flush and try again
  }
  for (;;) {
    const int r = PQputCopyEnd(conn_, nullptr);
    if (r < 0) return ConnectionError("ending COPY");
    LEDGER_RETURN_IF_ERROR(Flush(deadline));
    if (r == 1) break;
  }
  LEDGER_ASSIGN_OR_RETURN(ResultPtr done, Collect(deadline));
  const char* tuples = PQcmdTuples(done.get());
  return static_cast<int64_t>(std::strtoll(tuples, nullptr, 10));
}

absl::Status Conn::Commit(absl::Time deadline) {
  warnings_.clear();
  auto in_doubt = [](absl::string_view why) {
    return absl::UnavailableError(StrCat("commit_in_doubt: ", why));
  };
  if (PQsendQuery(conn_, "COMMIT") == 0) return in_doubt(Trimmed(PQerrorMessage(conn_)));
  absl::Status sent = Flush(deadline);
  if (!sent.ok()) return in_doubt(sent.message());
  absl::StatusOr<ResultPtr> result = Collect(deadline);
  if (!result.ok()) return in_doubt(result.status().message());
  if (!warnings_.empty()) {
    return in_doubt(StrCat("COMMIT returned with a warning: ", absl::StrJoin(warnings_, "; ")));
  }
  const absl::string_view tag = PQcmdStatus(result->get());
  if (tag != "COMMIT") return in_doubt(StrCat("COMMIT answered ", tag));
  return absl::OkStatus();
}

}  // namespace ledger::pg
