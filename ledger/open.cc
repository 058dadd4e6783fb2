// Ledger::Open and the checks it runs before the writer starts.
#include "ledger/open.h"

#include <string>

#include "absl/time/clock.h"
#include "ledger/audit.h"
#include "ledger/catch_up.h"
#include "ledger/chain.h"
#include "ledger/hash.h"
#include "ledger/ledger.h"
#include "ledger/ledger_impl.h"
#include "ledger/pg/pg_log.h"
#include "ledger/pg/pg_replication.h"
#include "ledger/pg/postgres_log.h"
#include "ledger/status_macros.h"
#include "ledger/strings.h"

namespace ledger {

namespace {

// Under Patroni (options.postgres_is_primary set) no term is begun here: the writer begins one
// once this node is primary, and until then follows the acknowledged log.
absl::StatusOr<std::unique_ptr<PostgresLog>> OpenPostgresLog(const Options& options,
                                                             const Store& store) {
  if (options.postgres_conninfo.empty()) {
    return absl::InvalidArgumentError("log backend postgres needs a PostgreSQL conninfo");
  }
  PgEventLog::Options pg_options;
  pg_options.commit_deadline_ms = options.postgres_commit_deadline_ms;
  pg_options.defer_term = static_cast<bool>(options.postgres_is_primary);
  LEDGER_ASSIGN_OR_RETURN(auto pg, PgEventLog::Open(options.postgres_conninfo,
                                                    options.postgres_ledger_id, pg_options));
  return std::make_unique<PostgresLog>(std::move(pg), store.handle(Cf::kIdempotency)->GetID(),
                                       store.handle(Cf::kCheckpoints)->GetID());
}

}  // namespace

absl::StatusOr<CommittedState> LoadCommitted(const Store& store) {
  CommittedState state;
  state.head.hash = GenesisHash();
  LEDGER_ASSIGN_OR_RETURN(auto last, store.Get(Cf::kMeta, keys::kLastSequence));
  LEDGER_ASSIGN_OR_RETURN(auto head, store.Get(Cf::kMeta, keys::kChainHead));
  if (last.has_value() != head.has_value() || (last && (last->size() != 8 || head->size() != 32))) {
    return absl::DataLossError("meta: last_sequence and chain_head are damaged");
  }
  if (last) state.head = ChainHead{keys::DecodeU64(*last), *head};
  LEDGER_ASSIGN_OR_RETURN(auto policies, store.Scan(Cf::kPolicies));
  for (const auto& [key, value] : policies) {
    v1::Policy p;
    if (!p.ParseFromString(value)) return absl::DataLossError("a stored policy does not decode");
    state.policies.Add(p);
  }
  LEDGER_ASSIGN_OR_RETURN(auto marks, store.Scan(Cf::kJobs));
  for (const auto& [key, value] : marks) {
    if (value.size() != 4) return absl::DataLossError("a job mark is damaged");
    state.job_marks[key] = static_cast<int32_t>(keys::DecodeU64(std::string(4, '\0') + value));
  }
  LEDGER_ASSIGN_OR_RETURN(auto totals, store.Scan(Cf::kLedgerAccounts));
  int64_t sum = 0;
  for (const auto& [key, value] : totals) {
    if (value.size() != 8) return absl::DataLossError("a ledger account balance is damaged");
    state.ledger_totals[key] = keys::DecodeI64(value);
    sum += keys::DecodeI64(value);
  }
  if (sum != 0) return absl::DataLossError("ledger accounts do not sum to zero");
  return state;
}

absl::Status EnsureSchema(Store& store) {
  LEDGER_ASSIGN_OR_RETURN(auto schema, store.Get(Cf::kMeta, keys::kSchemaVersion));
  if (schema) {
    if (*schema != keys::kCurrentSchemaVersion) {
      return absl::FailedPreconditionError(
          StrCat("data directory has schema version ", *schema, "; this build reads ",
                 keys::kCurrentSchemaVersion));
    }
    return absl::OkStatus();
  }
  rocksdb::WriteBatch batch;
  batch.Put(store.handle(Cf::kMeta), std::string(keys::kSchemaVersion),
            std::string(keys::kCurrentSchemaVersion));
  return store.WriteSynced(batch);
}

absl::StatusOr<std::unique_ptr<Ledger>> Ledger::Open(Options options) {
  if (options.data_dir.empty()) return absl::InvalidArgumentError("data_dir is required");
  if (!options.clock_us) options.clock_us = [] { return absl::ToUnixMicros(absl::Now()); };
  LEDGER_ASSIGN_OR_RETURN(auto store, Store::Open(options.data_dir, options.file_system));
  LEDGER_RETURN_IF_ERROR(EnsureSchema(*store));
  LEDGER_ASSIGN_OR_RETURN(auto rebuilding, store->Get(Cf::kMeta, keys::kRebuildInProgress));
  if (rebuilding) {
    return absl::FailedPreconditionError(
        "a projection rebuild did not finish; run `ledgerctl rebuild` (offline) again");
  }
  LEDGER_ASSIGN_OR_RETURN(CommittedState committed, LoadCommitted(*store));
  {
    const RocksDbLog log(*store);
    LEDGER_RETURN_IF_ERROR(CheckAgainstHead(log, committed.head));
    if (options.verify_chain_on_open && committed.head.sequence > 0) {
      LEDGER_RETURN_IF_ERROR(VerifyRange(log, 1, 0, committed.head));
    }
  }
  std::unique_ptr<PostgresLog> authoritative;
  std::unique_ptr<Replication> replication;
  if (options.log_backend == LogBackend::kPostgres) {
    LEDGER_ASSIGN_OR_RETURN(authoritative, OpenPostgresLog(options, *store));
    if (options.postgres_is_primary) {
      replication = std::make_unique<PgReplication>(
          authoritative->pg(), options.postgres_is_primary, options.postgres_conninfo,
          options.postgres_ledger_id, PgEventLog::Options().statement_deadline_ms);
    } else {
      RocksDbLog local(*store);
      LEDGER_RETURN_IF_ERROR(CatchUp(*store, local, *authoritative, committed, nullptr).status());
    }
  }
  WriterOptions writer{.clock_us = std::move(options.clock_us),
                       .on_commit = std::move(options.on_commit),
                       .checkpoint_interval_events = options.checkpoint_interval_events};
  if (!options.checkpoint_key_pem.empty()) {
    LEDGER_ASSIGN_OR_RETURN(writer.signer, CheckpointSigner::FromPem(options.checkpoint_key_pem));
  }
  return std::unique_ptr<Ledger>(new Ledger(
      std::make_unique<Impl>(std::move(store), std::move(committed), std::move(writer),
                             std::move(authoritative), std::move(replication))));
}

}  // namespace ledger
