#include "ledger/pg/acknowledged_log.h"

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "ledger/hash.h"
#include "ledger/pg/pg_log.h"
#include "ledger/status_macros.h"
#include "ledger/strings.h"

namespace ledger {

namespace {

constexpr int kPageEvents = 1'000;

// Read-only, and never a server-side timeout (the client's deadlines rule).
constexpr char kFollowerSession[] =
    "SET statement_timeout = 0; SET default_transaction_read_only = on;"
    "SET default_transaction_isolation = 'repeatable read'; SET client_encoding = 'UTF8'";

}  // namespace

absl::StatusOr<pg::Conn*> PgAcknowledgedLog::Connection() const {
  if (conn_ != nullptr) return conn_.get();
  const absl::Time deadline = absl::Now() + absl::Milliseconds(statement_deadline_ms_);
  LEDGER_ASSIGN_OR_RETURN(std::unique_ptr<pg::Conn> conn, pg::Conn::Connect(conninfo_, deadline));
  LEDGER_RETURN_IF_ERROR(conn->ExecScript(kFollowerSession, deadline));
  conn_ = std::move(conn);
  return conn_.get();
}

absl::StatusOr<ChainHead> PgAcknowledgedLog::HeadLocked() const {
  LEDGER_ASSIGN_OR_RETURN(pg::Conn * conn, Connection());
  const absl::Time deadline = absl::Now() + absl::Milliseconds(statement_deadline_ms_);
  // Before the first writer's term the schema may not exist yet: an empty log.
  absl::StatusOr<pg::ResultPtr> r = conn->Exec(
      "SELECT c.acked_seq, e.hash FROM ledger_log.chain_head c LEFT JOIN ledger_log.events e "
      "ON e.ledger = c.ledger AND e.seq = c.acked_seq WHERE c.ledger = $1",
      {pg::Text(ledger_id_)}, deadline);
  if (!r.ok() && absl::StrContains(r.status().message(), "SQLSTATE 42P01")) {
    return ChainHead{0, GenesisHash()};
  }
  if (!r.ok()) {
    conn_.reset();
    return absl::UnavailableError(StrCat("reading the acknowledged head: ", r.status().message()));
  }
  if (PQntuples(r->get()) == 0) return ChainHead{0, GenesisHash()};
  const auto seq = static_cast<uint64_t>(pg::DecodeInt8(pg::Cell(r->get(), 0, 0)));
  if (seq == 0) return ChainHead{0, GenesisHash()};
  if (PQgetisnull(r->get(), 0, 1)) {
    return absl::DataLossError(StrCat("acked_seq ", seq, " names no event"));
  }
  return ChainHead{seq, std::string(pg::Cell(r->get(), 0, 1))};
}

absl::StatusOr<ChainHead> PgAcknowledgedLog::DurableHead() const {
  absl::MutexLock lock(&mu_);
  return HeadLocked();
}

absl::StatusOr<std::optional<std::string>> PgAcknowledgedLog::Read(uint64_t sequence) const {
  std::optional<std::string> out;
  LEDGER_RETURN_IF_ERROR(Scan(sequence, sequence, [&](uint64_t, std::string_view e) {
    out = std::string(e);
    return false;
  }));
  return out;
}

absl::Status PgAcknowledgedLog::Scan(uint64_t from, uint64_t to, const Visitor& visit) const {
  absl::MutexLock lock(&mu_);
  return ScanLocked(from, to, visit);
}

absl::Status PgAcknowledgedLog::ScanLocked(uint64_t from, uint64_t to,
                                           const Visitor& visit) const {
  LEDGER_ASSIGN_OR_RETURN(const ChainHead head, HeadLocked());
  from = std::max<uint64_t>(from, 1);
  to = to == 0 ? head.sequence : std::min(to, head.sequence);
  if (from > to) return absl::OkStatus();
  LEDGER_ASSIGN_OR_RETURN(pg::Conn * conn, Connection());
  const absl::Status stop = absl::CancelledError("scan stopped by its visitor");
  std::string last_hash;
  bool connection_failed = false;
  absl::Status s = ReadCheckedEvents(
      *conn, ledger_id_, from, to, kPageEvents, statement_deadline_ms_,
      [&](uint64_t seq, std::string_view e) { return visit(seq, e) ? absl::OkStatus() : stop; },
      last_hash, connection_failed);
  if (connection_failed) conn_.reset();
  if (s.code() == absl::StatusCode::kCancelled && s.message() == stop.message()) {
    return absl::OkStatus();
  }
  LEDGER_RETURN_IF_ERROR(s);
  if (to == head.sequence && last_hash != head.hash) {
    return absl::DataLossError("the last acknowledged event does not hash to acked_seq's event");
  }
  return absl::OkStatus();
}

absl::Status PgAcknowledgedLog::Append(const ChainHead&, const EventGroup&,
                                       rocksdb::WriteBatch&) {
  return absl::FailedPreconditionError("a follower's view of the log is read-only");
}

}  // namespace ledger
