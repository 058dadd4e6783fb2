// AuditService: the auditor's reads of the log itself: the events, the hash chain and its signed
// checkpoints, balances as of a point in the past, and a full replay compared with the live
// projections. The unary methods are on the callback API (services/unary_call.h); StreamEvents, a
// server stream, on the synchronous one.
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include "ledger/event_names.h"
#include "ledger/apply.h"
#include "ledger/dates.h"
#include "ledger/hash.h"
#include "ledger/strings.h"
#include "ledger/v1/services.grpc.pb.h"
#include "services/call.h"
#include "services/service_impls.h"
#include "services/unary_call.h"

namespace services {
namespace {

using ledger::StrCat;
namespace v1 = ledger::v1;

using S = v1::AuditService;

class AuditServiceImpl final
    : public RawCallback<S::Service, S::WithRawCallbackMethod_VerifyChain,
                         S::WithRawCallbackMethod_GetCheckpoints,
                         S::WithRawCallbackMethod_BalanceAsOf,
                         S::WithRawCallbackMethod_ReplayCompare> {
 public:
  AuditServiceImpl(Gate gate, std::string scratch_dir)
      : gate_(gate),
        scratch_dir_(!scratch_dir.empty()
                         ? std::move(scratch_dir)
                         : (std::filesystem::temp_directory_path() /
                            StrCat("ledger-replay-scratch-", getpid(), "-",
                                   reinterpret_cast<uintptr_t>(this)))
                               .string()) {}

  grpc::Status StreamEvents(grpc::ServerContext* context, const v1::StreamEventsRequest* request,
                            grpc::ServerWriter<v1::AuditEvent>* writer) override {
    return gate_.Call(context, methods::kStreamEvents,
                      [&](Gate::Admitted& call, CallLog& log) -> grpc::Status {
      const Caller& caller = call.caller;
      if (!request->region_code().empty() && !caller.MayAccessRegion(request->region_code())) {
        return RegionDenied(context, request->region_code());
      }
      size_t sent = 0;
      bool cancelled = false;
      absl::Status decode;
      // One event at a time: Write() returns once the message is handed to the transport (HTTP/2
      // flow control), so a slow reader keeps the server at one event in flight.
      auto status = call.ledger.ForEachEvent(
          request->from_sequence(), request->to_sequence(), [&](uint64_t, std::string_view stored) {
            if (context->IsCancelled()) {
              cancelled = true;
              return false;
            }
            v1::AuditEvent out;
            if (!out.mutable_event()->ParseFromArray(stored.data(),
                                                     static_cast<int>(stored.size()))) {
              decode = absl::DataLossError("an event does not decode");
              return false;
            }
            if (!Wanted(*request, caller, out.event())) return true;
            out.mutable_event()->set_hash(ledger::Sha256(stored));
            out.set_stored(std::string(stored));
            if (!writer->Write(out)) {  // the stream is gone: the reader cancelled or went away
              cancelled = true;
              return false;
            }
            ++sent;
            return true;
          });
      log.set_records(sent);
      if (!status.ok()) return FromAbsl(status);
      if (!decode.ok()) return FromAbsl(decode);
      if (cancelled) return grpc::Status(grpc::StatusCode::CANCELLED, "the reader went away");
      return grpc::Status::OK;
    });
  }

  // Re-hashes the log over the range: on a thread of its own.
  grpc::ServerUnaryReactor* VerifyChain(grpc::CallbackServerContext* context,
                                        const grpc::ByteBuffer* request,
                                        grpc::ByteBuffer* response) override {
    return ServeLong<v1::VerifyChainRequest, v1::VerifyChainResponse>(
        gate_, methods::kVerifyChain, context, request, response,
        [](Gate::Admitted& call, const v1::VerifyChainRequest& r,
           v1::VerifyChainResponse* answer) -> grpc::Status {
          const uint64_t to = r.to_sequence() == 0 ? call.ledger.Head().sequence : r.to_sequence();
          auto found = call.ledger.FindChainBreak(r.from_sequence(), to);
          if (!found.ok()) return FromAbsl(found.status());
          answer->set_from_sequence(r.from_sequence());
          answer->set_to_sequence(to);
          answer->set_ok(!found->has_value());
          if (found->has_value()) {
            answer->set_first_bad_sequence((*found)->sequence);
            answer->set_reason((*found)->reason);
          }
          return grpc::Status::OK;
        });
  }

  grpc::ServerUnaryReactor* GetCheckpoints(grpc::CallbackServerContext* context,
                                           const grpc::ByteBuffer* request,
                                           grpc::ByteBuffer* response) override {
    return ServeRead<v1::GetCheckpointsRequest, v1::Checkpoints>(
        gate_, methods::kGetCheckpoints, context, request, response,
        [](Gate::Admitted& call, const v1::GetCheckpointsRequest& r,
           v1::Checkpoints* answer) -> grpc::Status {
          auto checkpoints = call.ledger.Checkpoints(r.from_sequence(), r.to_sequence());
          if (!checkpoints.ok()) return FromAbsl(checkpoints.status());
          for (auto& c : *checkpoints) *answer->add_checkpoints() = std::move(c);
          answer->set_public_key_pem(call.ledger.CheckpointPublicKeyPem());
          return grpc::Status::OK;
        });
  }

  // Recomputed from the log: on a thread of its own.
  grpc::ServerUnaryReactor* BalanceAsOf(grpc::CallbackServerContext* context,
                                        const grpc::ByteBuffer* request,
                                        grpc::ByteBuffer* response) override {
    return ServeLong<v1::BalanceAsOfRequest, v1::BalanceAsOfResponse>(
        gate_, methods::kBalanceAsOf, context, request, response,
        [context](Gate::Admitted& call, const v1::BalanceAsOfRequest& r,
                  v1::BalanceAsOfResponse* answer) -> grpc::Status {
          ledger::Ledger& ledger = call.ledger;
          if (r.citizen_id().empty() == r.ledger_account().empty()) {
            return RejectionStatus(context, {v1::REASON_INVALID_FIELD,
                                             "give exactly one of citizen_id and ledger_account"});
          }
          if (!r.as_of_date().empty() && !ledger::ParseDate(r.as_of_date()).ok()) {
            return RejectionStatus(
                context, {v1::REASON_INVALID_DATE,
                          StrCat("as_of_date '", r.as_of_date(), "' is not YYYY-MM-DD")});
          }
          if (r.as_of_sequence() > ledger.Head().sequence) {
            return grpc::Status(grpc::StatusCode::OUT_OF_RANGE,
                                StrCat("as_of_sequence ", r.as_of_sequence(),
                                       " is beyond the head ", ledger.Head().sequence));
          }
          absl::StatusOr<ledger::Ledger::BalanceAsOf> balance;
          if (!r.citizen_id().empty()) {
            auto account = ledger.GetAccount(r.citizen_id());
            if (!account.ok()) return FromAbsl(account.status());
            if (!account->has_value() ||
                !call.caller.MayAccessRegion((*account)->region_code())) {
              return NotEnrolled(r.citizen_id());
            }
            balance = ledger.ParticipantBalanceAsOf(r.citizen_id(), r.as_of_sequence(),
                                                    r.as_of_date());
          } else {
            const std::string region = r.ledger_account().substr(0, r.ledger_account().find('/'));
            if (!call.caller.MayAccessRegion(region)) return RegionDenied(context, region);
            balance = ledger.LedgerAccountBalanceAsOf(r.ledger_account(), r.as_of_sequence(),
                                                      r.as_of_date());
          }
          if (!balance.ok()) return FromAbsl(balance.status());
          for (auto& b : balance->by_source) *answer->add_balances() = std::move(b);
          answer->set_total_fen(balance->total_fen);
          answer->set_events_applied(balance->events);
          return grpc::Status::OK;
        });
  }

  // Rebuilds the whole ledger into the scratch directory: on a thread of its own.
  grpc::ServerUnaryReactor* ReplayCompare(grpc::CallbackServerContext* context,
                                          const grpc::ByteBuffer* request,
                                          grpc::ByteBuffer* response) override {
    return ServeLong<v1::ReplayCompareRequest, v1::ReplayCompareResponse>(
        gate_, methods::kReplayCompare, context, request, response,
        [this](Gate::Admitted& call, const v1::ReplayCompareRequest&,
               v1::ReplayCompareResponse* answer) -> grpc::Status {
          // One comparison at a time: each rebuilds the whole ledger into the scratch directory.
          std::unique_lock lock(replay_mu_, std::try_to_lock);
          if (!lock.owns_lock()) {
            return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                                "a replay comparison is already running");
          }
          auto compared = call.ledger.ReplayCompare(scratch_dir_);
          if (!compared.ok()) return FromAbsl(compared.status());
          answer->set_equal(compared->equal);
          answer->set_sequence(compared->sequence);
          answer->set_events_replayed(compared->events_replayed);
          answer->set_seconds(compared->seconds);
          answer->set_rows_compared(compared->rows_compared);
          answer->set_first_difference(compared->first_difference);
          return grpc::Status::OK;
        });
  }

 private:
  // Whether StreamEvents sends `event`: it passes the request's filters and is in the caller's
  // regions.
  static bool Wanted(const v1::StreamEventsRequest& request, const Caller& caller,
                     const v1::EventEnvelope& e) {
    return (request.citizen_id().empty() || ledger::ParticipantOf(e) == request.citizen_id()) &&
           (request.event_type().empty() || ledger::EventTypeName(e) == request.event_type()) &&
           (request.region_code().empty() || e.region_code() == request.region_code()) &&
           caller.MayAccessRegion(e.region_code());
  }

  const Gate gate_;
  const std::string scratch_dir_;
  std::mutex replay_mu_;
};

}  // namespace

std::unique_ptr<grpc::Service> NewAuditService(Gate gate, std::string scratch_dir) {
  return std::make_unique<AuditServiceImpl>(gate, std::move(scratch_dir));
}

}  // namespace services
