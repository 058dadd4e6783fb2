// The state one group commit (or one replay batch) works on: the committed state read through
// from RocksDB and memory, overlaid with the effects of the events appended so far in the group.
// Rules read it to decide; Apply() mutates it; Events() and AddProjections() turn it into the
// writes of one commit.
//
// The writer decides a group while the group before it is still being written (ledger/writer.h):
// that group's state is then this one's predecessor. It is read first, before RocksDB, for every
// projection row it holds, and its effects on the in-memory state (head, totals, job marks,
// policies) are part of this state's base. A predecessor's overlay is read, never changed, so the
// thread writing it may read it at the same time.
// Built and changed by one thread at a time.
#ifndef LEDGER_WORKING_STATE_H_
#define LEDGER_WORKING_STATE_H_

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash.h"
#include "absl/strings/string_view.h"
#include "absl/status/statusor.h"
#include "google/protobuf/arena.h"
#include "ledger/event_log.h"
#include "ledger/policy.h"
#include "ledger/types.h"
#include "ledger/store.h"
#include "rocksdb/write_batch.h"

namespace ledger {

// What the idempotency index knows of a receipt number.
struct ReceiptEntry {
  uint64_t collected_sequence = 0;  // the ContributionCollected event
  uint64_t cancelled_sequence = 0;  // its ContributionCancelled event, 0 if none
};

// What the idempotency index knows of a lifecycle command's document reference.
struct DocumentEntry {
  uint64_t first_sequence = 0;
  uint64_t last_sequence = 0;
  std::string digest;  // SHA-256 of the command's deterministic serialization
};

// Hashing and equality of std::string keys looked up by std::string_view without a copy
// (Debian's abseil has its own absl::string_view, so its default string hash does not take
// std::string_view).
struct StringKeyHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const {
    return absl::Hash<absl::string_view>{}(absl::string_view(s.data(), s.size()));
  }
};
struct StringKeyEq {
  using is_transparent = void;
  bool operator()(std::string_view a, std::string_view b) const { return a == b; }
};
template <typename V>
using StringKeyMap = absl::flat_hash_map<std::string, V, StringKeyHash, StringKeyEq>;
using StringKeySet = absl::flat_hash_set<std::string, StringKeyHash, StringKeyEq>;

// The in-memory part of the committed state, owned by the ledger and updated after each commit.
struct CommittedState {
  ChainHead head{0, std::string()};
  PolicyBook policies;
  std::map<std::string, int64_t> ledger_totals;  // "<region>/<account>" → debits − credits
  std::map<std::string, int32_t> job_marks;      // keys::JobMark → last completed period
};

class WorkingState {
 public:
  // Projections are read from `store`, committed events from `log`; both must outlive the state.
  // `committed` is copied: the state's base.
  WorkingState(const Store& store, const EventLog& log, const CommittedState& committed);
  // A state on top of `in_flight`, a group decided but not yet durable: its base is in_flight's
  // base with in_flight's effects, and in_flight's rows are read before the store's. `in_flight`
  // must outlive this state's decisions (until ForgetPredecessor()).
  WorkingState(const Store& store, const EventLog& log, const WorkingState& in_flight);
  // Once the predecessor is durable (or this state is done deciding): reads go to the store.
  void ForgetPredecessor() { predecessor_ = nullptr; }
  // Whether an event of this group created an account (enrolment, transfer in): a scan of the
  // store's accounts does not see it until the group is durable.
  bool created_accounts() const { return created_accounts_; }

  // Write path: assigns the next sequence and the predecessor hash, serializes deterministically,
  // hashes, applies. Returns the sequence. Non-OK only for a storage read failure.
  absl::StatusOr<uint64_t> Append(v1::EventEnvelope event);
  // Replay path: checks `stored` is the next event and links to the head, then applies it.
  // DATA_LOSS if it does not.
  absl::Status Replay(uint64_t sequence, std::string_view stored);

  // --- reads (overlay first, then the committed state) ---
  uint64_t head_sequence() const { return head_.sequence; }
  const ChainHead& head() const { return head_; }
  const PolicyBook& policies() const { return policies_ ? *policies_ : committed_.policies; }
  // The participant's account, or nullptr if not enrolled. Stable until the state is destroyed.
  absl::StatusOr<v1::Account*> FindAccount(std::string_view citizen_id);
  absl::StatusOr<std::optional<ReceiptEntry>> FindReceipt(std::string_view receipt_number);
  // Reads the accounts and receipt entries a batch of records is about to look up, those that
  // neither this group nor its predecessor holds, with one MultiGet per column family instead
  // of a Get each. Only a speed-up: FindAccount and FindReceipt answer the same without it.
  absl::Status Prefetch(std::span<const std::string_view> citizen_ids,
                        std::span<const std::string_view> receipt_numbers);
  absl::StatusOr<std::optional<uint64_t>> FindPolicyAdoption(std::string_view region,
                                                             uint32_t version);
  absl::StatusOr<v1::EventEnvelope> Event(uint64_t sequence);
  // The account stored as `row` (read by a job's scan), unless this group already changed it.
  absl::StatusOr<v1::Account*> AccountFromRow(std::string_view citizen_id, std::string_view row);
  // The same for reading only: this group's version if it has one, else `row` parsed into
  // `scratch`, without keeping it (a scan over every account must not hold them all).
  const v1::Account* PeekAccountRow(std::string_view citizen_id, std::string_view row,
                                    v1::Account& scratch) const;
  absl::StatusOr<std::optional<DocumentEntry>> FindDocument(std::string_view document_ref);
  // Last completed period of a region's job kind, or nullopt.
  std::optional<int32_t> JobMark(std::string_view region, v1::JobKind kind) const;
  // Balance of ledger account "<region>/<account>" (debits − credits) including this group.
  int64_t LedgerTotal(std::string_view region, std::string_view account) const;
  // A row of the reconciliation projection (ledger/recon.h), or nullopt.
  absl::StatusOr<std::optional<std::string>> ReconRow(std::string_view key);
  // Every event naming the participant, committed and appended, in sequence order.
  absl::StatusOr<std::vector<v1::EventEnvelope>> ParticipantEvents(std::string_view citizen_id);

  // --- mutations, for Apply() ---
  v1::Account& NewAccount(std::string_view citizen_id);
  // The participant's account to change, as FindAccount finds it; written at the commit.
  absl::StatusOr<v1::Account*> ChangeAccount(std::string_view citizen_id);
  void PutReceipt(std::string_view receipt_number, ReceiptEntry entry);
  void PutPolicy(const v1::Policy& policy, uint64_t sequence);
  void PutDocument(std::string_view document_ref, DocumentEntry entry);
  void PutJobMark(std::string_view region, v1::JobKind kind, int32_t period);
  // Sets (nullopt: deletes) a row of the reconciliation projection.
  void PutReconRow(std::string_view key, std::optional<std::string> value);
  // Adds `delta_fen` (debit positive) to the ledger account "<region>/<account><account_rest>".
  void Post(std::string_view region, std::string_view account, int64_t delta_fen) {
    Post(region, account, "", delta_fen);
  }
  void Post(std::string_view region, std::string_view account, std::string_view account_rest,
            int64_t delta_fen);

  // Room for about `events` appends and as many accounts, so a large group's events and
  // accounts are not moved as it grows.
  void ReserveEvents(size_t events);
  bool empty() const { return head_.sequence == committed_.head.sequence; }
  size_t appended() const { return head_.sequence - committed_.head.sequence; }
  const std::vector<v1::EventEnvelope>& appended_events() const { return appended_events_; }
  // An empty batch with room reserved for this group's rows, and for its events' bytes when the
  // log's append rides in the same batch.
  rocksdb::WriteBatch ReserveBatch(bool with_events) const;
  // The events appended in this group, for EventLog::Append. Valid while the state lives.
  EventGroup Events() const;
  // Adds every changed projection row, then the projections' head (meta: last sequence, chain
  // head), to `batch`. Checks the double-entry invariant: all ledger accounts sum to zero.
  void AddProjections(rocksdb::WriteBatch& batch) const;
  // Applies this group's effects to `committed` (a copy of the state it was built on) in
  // place, once its writes are durable: the new head, the changed ledger-account totals and,
  // only if a policy was adopted, the new policy book.
  void Publish(CommittedState& committed) const;

 private:
  // The changed ledger-account balances; checks double entry overall and per region.
  void AddLedgerTotals(rocksdb::WriteBatch& batch) const;

  // The durable state's head: events after it are the predecessor's or this group's.
  uint64_t durable_sequence() const;
  struct AccountEntry {
    v1::Account* account = nullptr;  // nullptr: known not enrolled
    bool changed = false;            // written at the commit
  };
  // The entry of an account this group reads, loaded from the predecessor or the store first.
  absl::StatusOr<AccountEntry*> LoadAccount(std::string_view citizen_id);
  // The predecessor's entry for `key` in one of its overlay maps, or nullptr (or no predecessor).
  template <typename Map, typename Key>
  const typename Map::mapped_type* Predecessors(Map WorkingState::*map, const Key& key) const {
    if (predecessor_ == nullptr) return nullptr;
    const Map& theirs = predecessor_->*map;
    auto it = theirs.find(key);
    return it == theirs.end() ? nullptr : &it->second;
  }
  // A copy of a predecessor's account on this state's arena (nullptr stays nullptr).
  v1::Account* OwnCopy(const v1::Account* theirs);
  // A stored account row parsed onto this state's arena (a row that does not decode is fatal).
  v1::Account* ParseAccount(std::string_view row);

  const Store& store_;
  const EventLog& log_;
  const WorkingState* predecessor_ = nullptr;
  CommittedState committed_;  // the base: the committed state (and the predecessor's effects)
  bool created_accounts_ = false;
  ChainHead head_;
  std::optional<PolicyBook> policies_;  // copy-on-write when a policy is adopted
  std::map<std::string, int64_t, std::less<>> totals_delta_;
  std::string post_key_;  // Post's key, built here: nearly every posting is to a known account
  // The accounts this group read or changed live on the arena, freed at once with the state
  // (freeing them one by one was a sixth of a rebuild's time).
  google::protobuf::Arena arena_;
  StringKeyMap<AccountEntry> accounts_;
  StringKeyMap<std::optional<ReceiptEntry>> receipts_;
  StringKeySet dirty_receipts_;
  std::vector<std::pair<std::string, std::string>> new_policy_rows_;  // (key, value) per CF row
  std::vector<std::pair<std::string, std::string>> new_adoption_rows_;
  std::map<std::string, std::optional<DocumentEntry>> documents_;
  std::set<std::string> dirty_documents_;
  std::map<std::string, int32_t> job_marks_delta_;
  std::map<std::string, std::optional<std::string>> recon_;  // read-through cache and changes
  std::set<std::string> dirty_recon_;
  std::vector<std::string> participant_index_rows_;  // keys::ParticipantEvent of each new event
  std::vector<std::string> stored_events_;          // stored bytes of appended events, in order
  std::vector<v1::EventEnvelope> appended_events_;  // the same, parsed, with hash
};

// Deterministic serialization: for an envelope, the stored bytes the hash covers.
std::string SerializeDeterministic(const google::protobuf::Message& message);

}  // namespace ledger

#endif  // LEDGER_WORKING_STATE_H_
