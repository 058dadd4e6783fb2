#include "ledger/pg/pg_log.h"

#include <unistd.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "ledger/hash.h"
#include "ledger/status_macros.h"
#include "ledger/v1/events.pb.h"

namespace ledger {
namespace {

using absl::StrCat;

// Serializes schema creation between writers starting at once (CREATE ... IF NOT EXISTS races
// on the catalog otherwise). Any constant no other application uses as an advisory lock key.
constexpr int64_t kSchemaLockKey = 0x4c45444745524c47;  // "LEDGERLG"

// Every connection's settings. Durability is explicit here: synchronous_commit = on makes a
// COMMIT return only once the synchronous standby has flushed it (when
// synchronous_standby_names names one; otherwise once it is flushed locally). No server-side
// timeout may cut a statement short: statement_timeout cancels a COMMIT's sync-rep wait, which
// the server then reports as success. Read committed: a CAS that loses to a concurrent writer
// sees the winner's row and updates nothing (REPEATABLE READ would raise an error instead).
constexpr char kSessionSettings[] =
    "SET statement_timeout = 0; SET lock_timeout = 0; SET idle_in_transaction_session_timeout = 0;"
    "SET synchronous_commit = on; SET default_transaction_isolation = 'read committed';"
    "SET default_transaction_read_only = off; SET client_encoding = 'UTF8'";

constexpr char kSchema[] = R"sql(
CREATE SCHEMA IF NOT EXISTS ledger_log;
CREATE TABLE IF NOT EXISTS ledger_log.events (
  ledger    text   NOT NULL,
  seq       bigint NOT NULL CHECK (seq > 0),
  envelope  bytea  NOT NULL,
  prev_hash bytea  NOT NULL CHECK (octet_length(prev_hash) = 32),
  hash      bytea  NOT NULL CHECK (octet_length(hash) = 32),
  PRIMARY KEY (ledger, seq));
CREATE TABLE IF NOT EXISTS ledger_log.refs (
  ledger  text   NOT NULL,
  ref_key bytea  NOT NULL,
  value   bytea  NOT NULL,
  seq     bigint NOT NULL,
  PRIMARY KEY (ledger, ref_key));
CREATE TABLE IF NOT EXISTS ledger_log.chain_head (
  ledger text   PRIMARY KEY,
  seq    bigint NOT NULL CHECK (seq >= 0),
  hash   bytea  NOT NULL CHECK (octet_length(hash) = 32),
  epoch  bigint NOT NULL,
  writer text   NOT NULL,
  acked_seq bigint NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS ledger_log.checkpoints (
  ledger     text   NOT NULL,
  seq        bigint NOT NULL,
  checkpoint bytea  NOT NULL,
  PRIMARY KEY (ledger, seq));
)sql";

constexpr char kCopyEvents[] =
    "COPY ledger_log.events (ledger, seq, envelope, prev_hash, hash) FROM STDIN (FORMAT binary)";

bool SameHead(const ChainHead& a, const ChainHead& b) {
  return a.sequence == b.sequence && a.hash == b.hash;
}

std::string HeadText(const ChainHead& h) {
  return StrCat("(", h.sequence, ", ", HexEncode(h.hash).substr(0, 16), "…)");
}

// The hashes of `envelopes` after checking that they extend `expected` (the precondition of
// Append: a violation is a bug in the writer, and writing it would break the chain for good).
std::vector<std::string> CheckChain(const ChainHead& expected,
                                    const std::vector<std::string>& envelopes) {
  LEDGER_CHECK(!envelopes.empty(), "an appended group has at least one event");
  std::vector<std::string> hashes;
  hashes.reserve(envelopes.size());
  const std::string* prev = &expected.hash;
  uint64_t seq = expected.sequence;
  for (const std::string& bytes : envelopes) {
    v1::EventEnvelope e;
    LEDGER_CHECK(e.ParseFromString(bytes), "an appended envelope parses");
    LEDGER_CHECK(e.sequence() == ++seq, "appended sequences are dense and follow the head");
    LEDGER_CHECK(e.prev_hash() == *prev, "an appended event links to its predecessor's hash");
    LEDGER_CHECK(e.hash().empty(), "a stored envelope has an empty hash");
    hashes.push_back(Sha256(bytes));
    prev = &hashes.back();
  }
  return hashes;
}

void CheckCheckpoints(const ChainHead& expected, const std::vector<std::string>& hashes,
                      const std::vector<std::pair<uint64_t, std::string>>& checkpoints) {
  for (const auto& [seq, bytes] : checkpoints) {
    LEDGER_CHECK(seq > expected.sequence && seq <= expected.sequence + hashes.size(),
                 "a checkpoint signs an event of its own group");
    v1::Checkpoint c;
    LEDGER_CHECK(c.ParseFromString(bytes) && c.sequence() == seq &&
                     c.chain_hash() == hashes[seq - expected.sequence - 1],
                 "a checkpoint names its sequence and that event's hash");
  }
}

}  // namespace

PgEventLog::PgEventLog(std::string conninfo, std::string ledger_id, Options options)
    : conninfo_(std::move(conninfo)), ledger_id_(std::move(ledger_id)), options_([&] {
        if (options.writer_name.empty()) options.writer_name = StrCat("pid ", getpid());
        return std::move(options);
      }()) {}

PgEventLog::~PgEventLog() = default;

absl::StatusOr<std::unique_ptr<PgEventLog>> PgEventLog::Open(std::string conninfo,
                                                             std::string ledger_id,
                                                             Options options) {
  if (ledger_id.empty()) return absl::InvalidArgumentError("empty ledger id");
  std::unique_ptr<PgEventLog> log(
      new PgEventLog(std::move(conninfo), std::move(ledger_id), std::move(options)));
  if (!log->options_.defer_term) {
    absl::MutexLock lock(&log->mu_);
    LEDGER_RETURN_IF_ERROR(log->EnsureTerm());
  }
  return log;
}

absl::Time PgEventLog::StatementDeadline() const {
  return absl::Now() + absl::Milliseconds(options_.statement_deadline_ms);
}

absl::Status PgEventLog::CheckUsable() const {
  if (!fenced_.empty()) return absl::AbortedError(StrCat("fenced: ", fenced_));
  return absl::OkStatus();
}

absl::Status PgEventLog::EndTerm(absl::Status status) {
  conn_.reset();  // PQfinish: no cancel; an open transaction is rolled back by the server
  epoch_ = 0;
  return status;
}

absl::Status PgEventLog::Fence(absl::string_view why) {
  fenced_ = std::string(why);
  return EndTerm(absl::AbortedError(StrCat("fenced: ", why)));
}

absl::Status PgEventLog::EnsureTerm() {
  LEDGER_RETURN_IF_ERROR(CheckUsable());
  if (conn_ != nullptr) return absl::OkStatus();
  LEDGER_ASSIGN_OR_RETURN(conn_, pg::Conn::Connect(conninfo_, StatementDeadline()));
  absl::Status s = conn_->ExecScript(kSessionSettings, StatementDeadline());
  if (s.ok()) s = CreateSchema();
  if (s.ok()) s = BeginTerm();
  if (!s.ok()) return EndTerm(std::move(s));
  return absl::OkStatus();
}

absl::Status PgEventLog::CreateSchema() {
  LEDGER_RETURN_IF_ERROR(conn_->ExecScript(
      StrCat("BEGIN; SELECT pg_advisory_xact_lock(", kSchemaLockKey, ");", kSchema),
      StatementDeadline()));
  return conn_->Commit(absl::Now() + absl::Milliseconds(options_.commit_deadline_ms));
}

absl::Status PgEventLog::BeginTerm() {
  const absl::Time deadline = StatementDeadline();
  LEDGER_RETURN_IF_ERROR(conn_->Exec("BEGIN", {}, deadline).status());
  LEDGER_RETURN_IF_ERROR(
      conn_
          ->Exec("INSERT INTO ledger_log.chain_head (ledger, seq, hash, epoch, writer) "
                 "VALUES ($1, 0, $2, 0, '') ON CONFLICT (ledger) DO NOTHING",
                 {pg::Text(ledger_id_), pg::Bytea(GenesisHash())}, deadline)
          .status());
  // Waits for the row lock of any transaction still moving the head (an in-doubt COMMIT of an
  // earlier term that is waiting for the standby), then reads the head it left.
  LEDGER_ASSIGN_OR_RETURN(
      pg::ResultPtr term,
      conn_->Exec("UPDATE ledger_log.chain_head SET epoch = epoch + 1, writer = $2 "
                  "WHERE ledger = $1 RETURNING seq, hash, epoch, acked_seq",
                  {pg::Text(ledger_id_), pg::Text(options_.writer_name)}, deadline));
  if (PQntuples(term.get()) != 1) return absl::DataLossError("the ledger's chain_head row is gone");
  ChainHead head{static_cast<uint64_t>(pg::DecodeInt8(pg::Cell(term.get(), 0, 0))),
                 std::string(pg::Cell(term.get(), 0, 1))};
  const auto epoch = static_cast<uint64_t>(pg::DecodeInt8(pg::Cell(term.get(), 0, 2)));
  const auto acked = static_cast<uint64_t>(pg::DecodeInt8(pg::Cell(term.get(), 0, 3)));
  std::string head_event_hash = GenesisHash();
  if (head.sequence > 0) {
    LEDGER_ASSIGN_OR_RETURN(
        pg::ResultPtr last,
        conn_->Exec("SELECT hash FROM ledger_log.events WHERE ledger = $1 AND seq = $2",
                    {pg::Text(ledger_id_), pg::Int8(static_cast<int64_t>(head.sequence))},
                    deadline));
    head_event_hash = PQntuples(last.get()) == 1 ? std::string(pg::Cell(last.get(), 0, 0)) : "";
  }
  if (head_event_hash != head.hash) {
    return absl::DataLossError(
        StrCat("chain_head ", HeadText(head), " is not the hash of the event at its sequence"));
  }
  LEDGER_RETURN_IF_ERROR(
      conn_->Commit(absl::Now() + absl::Milliseconds(options_.commit_deadline_ms)));
  head_ = std::move(head);
  epoch_ = epoch;
  published_ = acked;
  return absl::OkStatus();
}

absl::Status PgEventLog::CompareAndSet(const ChainHead& next, absl::string_view what) {
  LEDGER_ASSIGN_OR_RETURN(
      pg::ResultPtr r,
      conn_->Exec("UPDATE ledger_log.chain_head SET seq = $5, hash = $6, acked_seq = $2 "
                  "WHERE ledger = $1 AND seq = $2 AND hash = $3 AND epoch = $4",
                  {pg::Text(ledger_id_), pg::Int8(static_cast<int64_t>(head_.sequence)),
                   pg::Bytea(head_.hash), pg::Int8(static_cast<int64_t>(epoch_)),
                   pg::Int8(static_cast<int64_t>(next.sequence)), pg::Bytea(next.hash)},
                  StatementDeadline()));
  if (std::string_view(PQcmdTuples(r.get())) != "1") {
    return Fence(StrCat(what, ": chain_head is no longer ", HeadText(head_), " in epoch ", epoch_,
                        " (another writer began a term or moved the head)"));
  }
  return absl::OkStatus();
}

absl::Status PgEventLog::WriteGroup(
    const ChainHead& expected, const std::vector<std::string>& envelopes,
    const std::vector<std::pair<std::string, std::string>>& refs,
    const std::vector<std::pair<uint64_t, std::string>>& checkpoints, uint64_t new_seq) {
  const absl::Time deadline = StatementDeadline();
  std::vector<std::string> hashes = CheckChain(expected, envelopes);
  CheckCheckpoints(expected, hashes, checkpoints);
  LEDGER_RETURN_IF_ERROR(conn_->Exec("BEGIN", {}, deadline).status());
  // The CAS first: it takes chain_head's row lock, so a competing writer waits here and then
  // updates nothing, before it has written a single row.
  LEDGER_RETURN_IF_ERROR(CompareAndSet(ChainHead{new_seq, hashes.back()}, "append"));

  pg::CopyBuffer copy(5);
  const std::string* prev = &expected.hash;
  for (size_t i = 0; i < envelopes.size(); ++i) {
    copy.AddBytes(ledger_id_);
    copy.AddInt8(static_cast<int64_t>(expected.sequence + 1 + i));
    copy.AddBytes(envelopes[i]);
    copy.AddBytes(*prev);
    copy.AddBytes(hashes[i]);
    copy.EndRow();
    prev = &hashes[i];
  }
  LEDGER_ASSIGN_OR_RETURN(int64_t copied,
                          conn_->CopyIn(kCopyEvents, std::move(copy).Finish(), deadline));
  if (copied != static_cast<int64_t>(envelopes.size())) {
    return absl::InternalError(StrCat("COPY stored ", copied, " of ", envelopes.size(), " events"));
  }

  LEDGER_RETURN_IF_ERROR(UpsertRefs(refs, new_seq, deadline));
  return InsertCheckpoints(checkpoints, deadline);
}

absl::Status PgEventLog::UpsertRefs(const std::vector<std::pair<std::string, std::string>>& refs,
                                    uint64_t new_seq, absl::Time deadline) {
  if (refs.empty()) return absl::OkStatus();
  // A key written twice in one group keeps its last value (ON CONFLICT cannot update one row
  // twice in a statement, so the group is deduplicated here).
  absl::flat_hash_map<std::string_view, size_t> slot;
  std::vector<std::string> keys, values;
  for (const auto& [key, value] : refs) {
    auto [it, inserted] = slot.try_emplace(key, keys.size());
    if (inserted) {
      keys.push_back(key);
      values.push_back(value);
    } else {
      values[it->second] = value;
    }
  }
  return conn_
      ->Exec(
          "INSERT INTO ledger_log.refs (ledger, ref_key, value, seq) "
          "SELECT $1, k, v, $4 FROM unnest($2::bytea[], $3::bytea[]) AS u(k, v) "
          "ON CONFLICT (ledger, ref_key) DO UPDATE "
          "SET value = EXCLUDED.value, seq = EXCLUDED.seq",
          {pg::Text(ledger_id_), pg::ByteaArray(keys), pg::ByteaArray(values),
           pg::Int8(static_cast<int64_t>(new_seq))},
          deadline)
      .status();
}

absl::Status PgEventLog::InsertCheckpoints(
    const std::vector<std::pair<uint64_t, std::string>>& checkpoints, absl::Time deadline) {
  if (checkpoints.empty()) return absl::OkStatus();
  std::vector<int64_t> seqs;
  std::vector<std::string> bytes;
  for (const auto& [seq, checkpoint] : checkpoints) {
    seqs.push_back(static_cast<int64_t>(seq));
    bytes.push_back(checkpoint);
  }
  return conn_
      ->Exec(
          "INSERT INTO ledger_log.checkpoints (ledger, seq, checkpoint) "
          "SELECT $1, s, c FROM unnest($2::bigint[], $3::bytea[]) AS u(s, c)",
          {pg::Text(ledger_id_), pg::Int8Array(seqs), pg::ByteaArray(bytes)}, deadline)
      .status();
}

absl::StatusOr<ChainHead> PgEventLog::Append(
    const ChainHead& expected, const std::vector<std::string>& envelopes,
    const std::vector<std::pair<std::string, std::string>>& refs,
    const std::vector<std::pair<uint64_t, std::string>>& checkpoints) {
  absl::MutexLock lock(&mu_);
  LEDGER_RETURN_IF_ERROR(EnsureTerm());
  if (!SameHead(expected, head_)) {
    return absl::AbortedError(StrCat("head_moved: expected ", HeadText(expected),
                                     ", the durable head is ", HeadText(head_)));
  }
  const uint64_t new_seq = expected.sequence + envelopes.size();
  if (absl::Status s = WriteGroup(expected, envelopes, refs, checkpoints, new_seq); !s.ok()) {
    return conn_ == nullptr ? s : EndTerm(std::move(s));  // Fence() already ended it
  }
  if (absl::Status s = conn_->Commit(absl::Now() + absl::Milliseconds(options_.commit_deadline_ms));
      !s.ok()) {
    return EndTerm(std::move(s));  // in doubt: the next term's head tells
  }
  published_ = expected.sequence;
  head_ = ChainHead{new_seq, Sha256(envelopes.back())};
  return head_;
}

absl::StatusOr<absl::flat_hash_map<std::string, std::string>> PgEventLog::ResolveRefs(
    const std::vector<std::string>& keys) {
  absl::MutexLock lock(&mu_);
  LEDGER_RETURN_IF_ERROR(EnsureTerm());
  absl::flat_hash_map<std::string, std::string> found;
  if (keys.empty()) return found;
  absl::StatusOr<pg::ResultPtr> r = conn_->Exec(
      "SELECT ref_key, value FROM ledger_log.refs "
      "WHERE ledger = $1 AND ref_key = ANY($2::bytea[])",
      {pg::Text(ledger_id_), pg::ByteaArray(keys)}, StatementDeadline());
  if (!r.ok()) return EndTerm(r.status());
  for (int row = 0; row < PQntuples(r->get()); ++row) {
    found.emplace(pg::Cell(r->get(), row, 0), pg::Cell(r->get(), row, 1));
  }
  if (found.empty()) return found;
  // A synchronous commit of this term, later than every row the read saw.
  LEDGER_RETURN_IF_ERROR(TouchHead("resolving references"));
  return found;
}

absl::Status PgEventLog::PublishAcknowledged() {
  absl::MutexLock lock(&mu_);
  LEDGER_RETURN_IF_ERROR(CheckUsable());
  if (conn_ == nullptr || published_ >= head_.sequence) return absl::OkStatus();
  return TouchHead("publishing the acknowledged head");
}

absl::Status PgEventLog::TouchHead(absl::string_view what) {
  absl::Status s = conn_->Exec("BEGIN", {}, StatementDeadline()).status();
  if (s.ok()) s = CompareAndSet(head_, what);
  if (conn_ == nullptr) return s;  // fenced
  if (s.ok()) s = conn_->Commit(absl::Now() + absl::Milliseconds(options_.commit_deadline_ms));
  if (!s.ok()) return EndTerm(std::move(s));
  published_ = head_.sequence;
  return absl::OkStatus();
}

void PgEventLog::Resign() {
  absl::MutexLock lock(&mu_);
  fenced_.clear();
  EndTerm(absl::OkStatus()).IgnoreError();
}

absl::Status PgEventLog::ReadRange(
    uint64_t from, uint64_t to,
    const std::function<absl::Status(uint64_t, std::string_view)>& visit) {
  absl::MutexLock lock(&mu_);
  LEDGER_RETURN_IF_ERROR(EnsureTerm());
  if (from == 0 || from > to || to > head_.sequence) {
    return absl::OutOfRangeError(
        StrCat("range [", from, ", ", to, "] is outside [1, ", head_.sequence, "]"));
  }
  std::string last_hash;
  bool connection_failed = false;
  absl::Status s = ReadCheckedEvents(*conn_, ledger_id_, from, to, options_.read_page_events,
                                     options_.statement_deadline_ms, visit, last_hash,
                                     connection_failed);
  if (connection_failed) return EndTerm(std::move(s));
  LEDGER_RETURN_IF_ERROR(s);
  if (to == head_.sequence && last_hash != head_.hash) {
    return absl::DataLossError("the last event does not hash to the chain head");
  }
  return absl::OkStatus();
}

absl::Status ReadCheckedEvents(
    pg::Conn& conn, std::string_view ledger_id, uint64_t from, uint64_t to, int page_events,
    int statement_deadline_ms,
    const std::function<absl::Status(uint64_t, std::string_view)>& visit,
    std::string& last_hash, bool& connection_failed) {
  // The event before the range is read too (not visited), so the first link is checked.
  uint64_t next = from > 1 ? from - 1 : 1;
  std::string prev = GenesisHash();
  bool link_known = from == 1;
  while (next <= to) {
    absl::StatusOr<pg::ResultPtr> page =
        conn.Exec("SELECT seq, envelope, prev_hash, hash FROM ledger_log.events "
                  "WHERE ledger = $1 AND seq BETWEEN $2 AND $3 ORDER BY seq LIMIT $4",
                  {pg::Text(ledger_id), pg::Int8(static_cast<int64_t>(next)),
                   pg::Int8(static_cast<int64_t>(to)), pg::Int8(page_events)},
                  absl::Now() + absl::Milliseconds(statement_deadline_ms));
    if (!page.ok()) {
      connection_failed = true;
      return page.status();
    }
    const PGresult* rows = page->get();
    if (PQntuples(rows) == 0) return absl::DataLossError(StrCat("event ", next, " is missing"));
    for (int row = 0; row < PQntuples(rows); ++row, ++next) {
      const auto seq = static_cast<uint64_t>(pg::DecodeInt8(pg::Cell(rows, row, 0)));
      const std::string_view envelope = pg::Cell(rows, row, 1);
      v1::EventEnvelope e;
      std::string hash = Sha256(envelope);
      if (seq != next) return absl::DataLossError(StrCat("event ", next, " is missing"));
      if (!e.ParseFromArray(envelope.data(), static_cast<int>(envelope.size())) ||
          e.sequence() != seq || hash != pg::Cell(rows, row, 3) ||
          e.prev_hash() != pg::Cell(rows, row, 2) || (link_known && e.prev_hash() != prev)) {
        return absl::DataLossError(StrCat("event ", seq, " does not decode, hash or link"));
      }
      prev = std::move(hash);
      link_known = true;
      if (seq >= from) LEDGER_RETURN_IF_ERROR(visit(seq, envelope));
    }
  }
  last_hash = std::move(prev);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::pair<uint64_t, std::string>>> PgEventLog::ReadCheckpoints(
    uint64_t from, uint64_t to) {
  absl::MutexLock lock(&mu_);
  LEDGER_RETURN_IF_ERROR(EnsureTerm());
  absl::StatusOr<pg::ResultPtr> r = conn_->Exec(
      "SELECT seq, checkpoint FROM ledger_log.checkpoints "
      "WHERE ledger = $1 AND seq BETWEEN $2 AND $3 AND seq <= $4 ORDER BY seq",
      {pg::Text(ledger_id_), pg::Int8(static_cast<int64_t>(from)),
       pg::Int8(static_cast<int64_t>(to)), pg::Int8(static_cast<int64_t>(head_.sequence))},
      StatementDeadline());
  if (!r.ok()) return EndTerm(r.status());
  std::vector<std::pair<uint64_t, std::string>> out;
  for (int row = 0; row < PQntuples(r->get()); ++row) {
    out.emplace_back(static_cast<uint64_t>(pg::DecodeInt8(pg::Cell(r->get(), row, 0))),
                     pg::Cell(r->get(), row, 1));
  }
  return out;
}

absl::StatusOr<ChainHead> PgEventLog::DurableHead() {
  absl::MutexLock lock(&mu_);
  LEDGER_RETURN_IF_ERROR(EnsureTerm());
  return head_;
}

uint64_t PgEventLog::Epoch() const {
  absl::MutexLock lock(&mu_);
  return conn_ == nullptr ? 0 : epoch_;
}

bool PgEventLog::fenced() const {
  absl::MutexLock lock(&mu_);
  return !fenced_.empty();
}

}  // namespace ledger
