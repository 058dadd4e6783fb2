// The auditor's reads of the Ledger facade: events and their chain, checkpoints, and balances
// recomputed from the log as of a sequence or a date.
#include <map>
#include <string>
#include <vector>

#include "ledger/apply.h"
#include "ledger/chain.h"
#include "ledger/dates.h"
#include "ledger/hash.h"
#include "ledger/ledger.h"
#include "ledger/ledger_impl.h"
#include "ledger/recon.h"
#include "ledger/statement.h"
#include "ledger/status_macros.h"
#include "ledger/strings.h"

namespace ledger {

namespace {

bool WithinAsOf(const v1::EventEnvelope& e, uint64_t as_of_sequence, std::string_view as_of_date) {
  return (as_of_sequence == 0 || e.sequence() <= as_of_sequence) &&
         (as_of_date.empty() || e.effective_date() <= as_of_date);
}

// The change `e` makes to ledger account `account` of its region. With `control`, person legs
// roll up, in the event's region, into individual_accounts/<source>.
int64_t AccountDelta(const v1::EventEnvelope& e, std::string_view account, bool control) {
  auto name = [&](const std::string& leg) -> std::string {
    if (!control || !leg.starts_with(accounts::kPersonPrefix)) return leg;
    return StrCat(accounts::kIndividualControlPrefix, leg.substr(leg.rfind('/') + 1));
  };
  int64_t delta = 0;
  for (const v1::Posting& p : PostingsFor(e)) {
    if (name(p.debit_account()) == account) delta += p.amount_fen();
    if (name(p.credit_account()) == account) delta -= p.amount_fen();
  }
  return delta;
}

}  // namespace

absl::StatusOr<v1::EventEnvelope> Ledger::ReadEvent(uint64_t sequence) const {
  if (sequence == 0 || sequence > Head().sequence) {
    return absl::NotFoundError(StrCat("no event ", sequence));
  }
  LEDGER_ASSIGN_OR_RETURN(auto bytes, impl_->log().Read(sequence));
  if (!bytes) return absl::DataLossError(StrCat("event ", sequence, " is missing"));
  v1::EventEnvelope e;
  if (!e.ParseFromString(*bytes)) {
    return absl::DataLossError(StrCat("event ", sequence, " does not decode"));
  }
  e.set_hash(Sha256(*bytes));
  return e;
}

absl::StatusOr<std::vector<v1::EventEnvelope>> Ledger::ParticipantEvents(
    std::string_view citizen_id) const {
  const ChainHead head = Head();
  std::vector<v1::EventEnvelope> out;
  auto it = impl_->store().NewIterator(Cf::kParticipantEvents);
  const rocksdb::Slice prefix(citizen_id.data(), citizen_id.size());
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    const uint64_t sequence = keys::DecodeU64(it->key().ToStringView().substr(citizen_id.size()));
    if (sequence > head.sequence) break;
    LEDGER_ASSIGN_OR_RETURN(v1::EventEnvelope e, ReadEvent(sequence));
    out.push_back(std::move(e));
  }
  if (!it->status().ok()) return absl::UnavailableError(it->status().ToString());
  return out;
}

absl::Status Ledger::VerifyChain(uint64_t from, uint64_t to) const {
  // Kept for callers that want a status: a break is DATA_LOSS.
  return VerifyRange(impl_->log(), from, to, Head());
}

absl::StatusOr<std::optional<Ledger::ChainBreak>> Ledger::FindChainBreak(uint64_t from,
                                                                         uint64_t to) const {
  return FindBreak(impl_->log(), from, to, Head());
}

absl::Status Ledger::ForEachEvent(
    uint64_t from, uint64_t to, const std::function<bool(uint64_t, std::string_view)>& visit) const {
  const ChainHead head = Head();
  if (to == 0) to = head.sequence;
  if (from == 0 || from > to || to > head.sequence) {
    return absl::OutOfRangeError(
        StrCat("range [", from, ", ", to, "] is outside [1, ", head.sequence, "]"));
  }
  const absl::Status scanned = impl_->log().Scan(from, to, visit);
  if (!scanned.ok()) return absl::DataLossError(scanned.message());
  return absl::OkStatus();
}

absl::StatusOr<std::vector<v1::Checkpoint>> Ledger::Checkpoints(uint64_t from, uint64_t to) const {
  std::vector<v1::Checkpoint> out;
  auto it = impl_->store().NewIterator(Cf::kCheckpoints);
  for (it->Seek(keys::EncodeU64(from)); it->Valid(); it->Next()) {
    if (to != 0 && keys::DecodeU64(it->key().ToStringView()) > to) break;
    v1::Checkpoint c;
    if (!c.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return absl::DataLossError("a stored checkpoint does not decode");
    }
    out.push_back(std::move(c));
  }
  if (!it->status().ok()) return absl::DataLossError(it->status().ToString());
  return out;
}

std::string Ledger::CheckpointPublicKeyPem() const {
  const CheckpointSigner* signer = impl_->writer().signer();
  return signer ? signer->public_key_pem() : std::string();
}

absl::StatusOr<Ledger::BalanceAsOf> Ledger::ParticipantBalanceAsOf(
    std::string_view citizen_id, uint64_t as_of_sequence, std::string_view as_of_date) const {
  LEDGER_ASSIGN_OR_RETURN(auto events, ParticipantEvents(citizen_id));
  std::map<v1::FundingSource, int64_t> by_source;
  BalanceAsOf out;
  for (const v1::EventEnvelope& e : events) {
    if (!WithinAsOf(e, as_of_sequence, as_of_date)) continue;
    const auto deltas = PersonDeltas(e, citizen_id);
    if (deltas.empty()) continue;
    ++out.events;
    for (const auto& [source, amount] : deltas) by_source[source] += amount;
  }
  for (const auto& [source, amount] : by_source) {
    if (amount == 0) continue;
    v1::SourceAmount& a = out.by_source.emplace_back();
    a.set_source(source);
    a.set_amount_fen(amount);
    out.total_fen += amount;
  }
  return out;
}

absl::StatusOr<Ledger::BalanceAsOf> Ledger::LedgerAccountBalanceAsOf(
    std::string_view ledger_account, uint64_t as_of_sequence, std::string_view as_of_date) const {
  const size_t slash = ledger_account.find('/');
  if (slash == std::string_view::npos) {
    return absl::InvalidArgumentError("a ledger account is named <region>/<account>");
  }
  const std::string_view region = ledger_account.substr(0, slash);
  const std::string_view account = ledger_account.substr(slash + 1);
  const bool control = account.starts_with(accounts::kIndividualControlPrefix);
  BalanceAsOf out;
  if (Head().sequence == 0) return out;
  absl::Status failed;
  LEDGER_RETURN_IF_ERROR(ForEachEvent(1, as_of_sequence, [&](uint64_t, std::string_view stored) {
    v1::EventEnvelope e;
    if (!e.ParseFromArray(stored.data(), static_cast<int>(stored.size()))) {
      failed = absl::DataLossError("an event does not decode");
      return false;
    }
    if (e.region_code() != region || !WithinAsOf(e, as_of_sequence, as_of_date)) return true;
    if (const int64_t delta = AccountDelta(e, account, control); delta != 0) {
      out.total_fen += delta;
      ++out.events;
    }
    return true;
  }));
  LEDGER_RETURN_IF_ERROR(failed);
  return out;
}

absl::StatusOr<Ledger::FundBalance> Ledger::FundBalanceAsOf(std::string_view region,
                                                            v1::BankAccount account,
                                                            std::string_view as_of_date) const {
  if (accounts::BankLedgerAccount(account).empty()) {
    return absl::InvalidArgumentError("bank_account must be INCOME, SPECIAL or PAYMENT");
  }
  std::string date;
  if (!as_of_date.empty()) {
    auto day = ParseDate(as_of_date);
    if (!day.ok()) {
      return absl::InvalidArgumentError(StrCat("as_of_date '", as_of_date, "' is not YYYY-MM-DD"));
    }
    date = FormatDate(*day);
  }
  const Store& store = impl_->store();
  const auto snapshot = store.Snapshot();
  LEDGER_ASSIGN_OR_RETURN(auto last, store.Get(Cf::kMeta, keys::kLastSequence, snapshot.get()));
  FundBalance out;
  out.as_of_sequence = last ? keys::DecodeU64(*last) : 0;
  LEDGER_ASSIGN_OR_RETURN(out.balance_fen,
                          ledger::FundBalanceAsOf(store, snapshot.get(), region, account, date));
  return out;
}

}  // namespace ledger
