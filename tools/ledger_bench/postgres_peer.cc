// ledger-bench postgres-peer: the ingest workload run against the event store a team would build
// on plain PostgreSQL 15 instead of this ledger, through libpq, on a private server started from
// initdb in a temporary directory (tests/support/pg_server.h: fsync and synchronous_commit on).
//
// The schema: events (sequence, receipt, citizen_id, amount_fen, payload, hash), receipts
// (receipt, unique: the idempotency), accounts (citizen_id, balance_fen), every account enrolled
// before the timing starts, as ingest enrols. One transaction per batch, acknowledged only when
// its COMMIT returns (the WAL flushed):
//   1. INSERT INTO receipts … FROM unnest($1) ON CONFLICT DO NOTHING RETURNING receipt: the
//      receipts not seen before; any other record is a duplicate and adds nothing;
//   2. the new records' events by COPY (FORMAT binary), each with its sequence and its hash,
//      SHA-256 over the previous event's hash and the payload (the serialized record), chained
//      here on the client as the ledger chains its events;
//   3. one upsert per account: INSERT … SELECT citizen_id, sum(amount) … GROUP BY citizen_id
//      ON CONFLICT (citizen_id) DO UPDATE SET balance_fen = balance_fen + EXCLUDED.balance_fen.
// Arrays and COPY rows travel in binary (ledger/pg/pg_conn.h, the ledger's own PostgreSQL log's
// encodings), so nothing is escaped or parsed as text.
#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "ledger/hash.h"
#include "ledger/pg/pg_conn.h"
#include "ledger/status_macros.h"
#include "ledger/strings.h"
#include "tests/support/pg_server.h"
#include "tools/ledger_bench/bench.h"

namespace bench {
namespace {

namespace pg = ledger::pg;
using ledger::StrCat;

// Every statement (the enrolment's COPY of every account included) ends within this.
constexpr absl::Duration kStatementTimeout = absl::Minutes(5);

// What a team would set on a server of its own for this load, over the test server's small
// defaults. Durability is untouched: fsync and synchronous_commit on (pg_server.h),
// full_page_writes at its default, on. The WAL may grow past the default 1 GB between
// checkpoints, so that a run does not measure when a checkpoint happens to start.
const std::vector<std::string> kServerSettings = {
    "shared_buffers = 256MB",
    "max_wal_size = 4GB",
};

// accounts' fillfactor leaves room on each page for a balance's new version, so most upserts are
// HOT updates, adding no index entry (86 % of them in a test at 200,000 accounts; none at the
// default fillfactor of 100).
constexpr char kSchema[] = R"sql(
CREATE TABLE events (
  sequence bigint PRIMARY KEY,
  receipt text NOT NULL,
  citizen_id text NOT NULL,
  amount_fen bigint NOT NULL,
  payload bytea NOT NULL,
  hash bytea NOT NULL);
CREATE TABLE receipts (receipt text PRIMARY KEY);
CREATE TABLE accounts (citizen_id text PRIMARY KEY, balance_fen bigint NOT NULL)
  WITH (fillfactor = 70);
)sql";

constexpr char kInsertReceipts[] =
    "INSERT INTO receipts (receipt) SELECT convert_from(r, 'UTF8') FROM unnest($1::bytea[]) r "
    "ON CONFLICT DO NOTHING RETURNING receipt";
constexpr char kCopyEvents[] =
    "COPY events (sequence, receipt, citizen_id, amount_fen, payload, hash) FROM STDIN "
    "(FORMAT binary)";
constexpr char kUpsertBalances[] =
    "INSERT INTO accounts (citizen_id, balance_fen) "
    "SELECT convert_from(c, 'UTF8'), sum(a) FROM unnest($1::bytea[], $2::int8[]) AS t(c, a) "
    "GROUP BY c "
    "ON CONFLICT (citizen_id) DO UPDATE SET balance_fen = accounts.balance_fen + "
    "EXCLUDED.balance_fen";

// The peer's client: one connection, the chain head it has committed.
class PeerStore {
 public:
  static absl::StatusOr<PeerStore> Open(const std::string& conninfo) {
    LEDGER_ASSIGN_OR_RETURN(std::unique_ptr<pg::Conn> conn,
                            pg::Conn::Connect(conninfo, absl::Now() + kStatementTimeout));
    LEDGER_RETURN_IF_ERROR(conn->ExecScript(kSchema, absl::Now() + kStatementTimeout));
    return PeerStore(std::move(conn));
  }

  // Accounts for CitizenId(0) … CitizenId(n - 1), balance 0.
  absl::Status Enrol(size_t n) {
    pg::CopyBuffer rows(2);
    for (size_t i = 0; i < n; ++i) {
      rows.AddBytes(CitizenId(i));
      rows.AddInt8(0);
      rows.EndRow();
    }
    return conn_
        ->CopyIn("COPY accounts (citizen_id, balance_fen) FROM STDIN (FORMAT binary)",
                 std::move(rows).Finish(), absl::Now() + kStatementTimeout)
        .status();
  }

  // One batch, one transaction; OK once its COMMIT has returned.
  absl::Status Append(const std::vector<v1::CollectionRecord>& batch) {
    const absl::Time deadline = absl::Now() + kStatementTimeout;
    LEDGER_RETURN_IF_ERROR(conn_->ExecScript("BEGIN", deadline));
    std::vector<std::string> receipts;
    receipts.reserve(batch.size());
    for (const v1::CollectionRecord& r : batch) receipts.push_back(r.receipt_number());
    LEDGER_ASSIGN_OR_RETURN(pg::ResultPtr inserted,
                            conn_->Exec(kInsertReceipts, {pg::ByteaArray(receipts)}, deadline));
    std::unordered_set<std::string_view> fresh;
    for (int row = 0; row < PQntuples(inserted.get()); ++row) {
      fresh.insert(pg::Cell(inserted.get(), row, 0));
    }
    uint64_t sequence = sequence_;
    std::string hash = hash_;
    pg::CopyBuffer events(6);
    std::vector<std::string> citizens;
    std::vector<int64_t> amounts;
    for (const v1::CollectionRecord& r : batch) {
      // A receipt the table held before, or one taken by an earlier record of this batch.
      if (fresh.erase(r.receipt_number()) == 0) continue;
      const std::string payload = r.SerializeAsString();
      hash = ledger::Sha256(StrCat(hash, payload));
      events.AddInt8(static_cast<int64_t>(++sequence));
      events.AddBytes(r.receipt_number());
      events.AddBytes(r.citizen_id());
      events.AddInt8(r.amount_fen());
      events.AddBytes(payload);
      events.AddBytes(hash);
      events.EndRow();
      citizens.push_back(r.citizen_id());
      amounts.push_back(r.amount_fen());
    }
    LEDGER_RETURN_IF_ERROR(
        conn_->CopyIn(kCopyEvents, std::move(events).Finish(), deadline).status());
    LEDGER_RETURN_IF_ERROR(
        conn_->Exec(kUpsertBalances, {pg::ByteaArray(citizens), pg::Int8Array(amounts)}, deadline)
            .status());
    LEDGER_RETURN_IF_ERROR(conn_->Commit(deadline));
    sequence_ = sequence;
    hash_ = std::move(hash);
    return absl::OkStatus();
  }

  // Every one of the n records sent, worth `amount_fen` in all, is there exactly once: n events
  // with n distinct receipts, n receipt rows, every account's balance the sum of its events, and
  // the last event's hash the chain head computed here.
  absl::Status Verify(size_t n, int64_t amount_fen) {
    LEDGER_ASSIGN_OR_RETURN(
        pg::ResultPtr r,
        conn_->Exec(
            "SELECT (SELECT count(*) FROM events), (SELECT count(DISTINCT receipt) FROM events), "
            "(SELECT coalesce(sum(amount_fen), 0)::bigint FROM events), "
            "(SELECT count(*) FROM receipts), "
            "(SELECT coalesce(sum(balance_fen), 0)::bigint FROM accounts), "
            "(SELECT count(*) FROM accounts a LEFT JOIN (SELECT citizen_id, sum(amount_fen) AS s "
            "  FROM events GROUP BY citizen_id) e USING (citizen_id) "
            "  WHERE a.balance_fen <> coalesce(e.s, 0)), "
            "(SELECT hash FROM events ORDER BY sequence DESC LIMIT 1)",
            {}, absl::Now() + kStatementTimeout));
    const auto count = [&](int column) { return pg::DecodeInt8(pg::Cell(r.get(), 0, column)); };
    const auto expected = static_cast<int64_t>(n);
    const bool head_matches = pg::Cell(r.get(), 0, 6) == hash_;
    const std::string found =
        StrCat("events=", count(0), " distinct_receipts=", count(1), " event_fen=", count(2),
               " receipts=", count(3), " balance_fen=", count(4), " accounts_off=", count(5),
               " head_matches=", head_matches ? "yes" : "no", " (expected ", n, " records of ",
               amount_fen, " fen)");
    if (count(0) != expected || count(1) != expected || count(2) != amount_fen ||
        count(3) != expected || count(4) != amount_fen || count(5) != 0 || !head_matches) {
      return absl::DataLossError(found);
    }
    return absl::OkStatus();
  }

 private:
  explicit PeerStore(std::unique_ptr<pg::Conn> conn) : conn_(std::move(conn)) {}

  std::unique_ptr<pg::Conn> conn_;
  uint64_t sequence_ = 0;
  std::string hash_ = ledger::GenesisHash();
};

// Enrols, then times the batches; verifies after the clock stops. Returns the batches' seconds.
absl::StatusOr<double> RunPeer(const std::string& conninfo, const std::string& run, size_t n,
                               size_t batch_size) {
  LEDGER_ASSIGN_OR_RETURN(PeerStore store, PeerStore::Open(conninfo));
  LEDGER_RETURN_IF_ERROR(store.Enrol(n));
  int64_t amount_fen = 0;
  std::vector<v1::CollectionRecord> batch;
  const auto start = Clock::now();
  for (size_t first = 0; first < n; first += batch_size) {
    batch.clear();
    for (size_t i = first; i < std::min(n, first + batch_size); ++i) {
      batch.push_back(MakeRecord(run, i));
      amount_fen += batch.back().amount_fen();
    }
    LEDGER_RETURN_IF_ERROR(store.Append(batch));
  }
  const double seconds = Seconds(start);
  LEDGER_RETURN_IF_ERROR(store.Verify(n, amount_fen));
  return seconds;
}

}  // namespace

void Bench::PostgresPeer() {
  const size_t n = std::min(config_.records, kDistinctIdsMax);
  auto server = ledger::testing::PgServer::Start({.settings = kServerSettings});
  if (!server.ok()) Die(StrCat("postgres-peer: ", server.status().ToString()));
  absl::StatusOr<double> seconds =
      RunPeer((*server)->conninfo("ledger-bench"), run_, n, config_.batch_size);
  server->reset();  // stops the server and removes its directory, also before Die()
  if (!seconds.ok()) Die(StrCat("postgres-peer: ", seconds.status().ToString()));
  postgres_records_per_s_ = n / *seconds;
  std::printf(
      "scenario=postgres-peer records=%zu batch_size=%zu seconds=%.3f "
      "postgres_records_per_s=%.0f\n",
      n, config_.batch_size, *seconds, postgres_records_per_s_);
}

}  // namespace bench
