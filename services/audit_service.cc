// AuditService: the auditor's reads of the log itself: the events, the hash chain and its signed
// checkpoints, balances as of a point in the past, and a full replay compared with the live
// projections.
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

namespace services {
namespace {

using ledger::StrCat;
namespace v1 = ledger::v1;

class AuditServiceImpl final : public v1::AuditService::Service {
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

  grpc::Status VerifyChain(grpc::ServerContext* context, const v1::VerifyChainRequest* request,
                           v1::VerifyChainResponse* response) override {
    return gate_.Call(context, methods::kVerifyChain,
                      [&](Gate::Admitted& call, CallLog&) -> grpc::Status {
      const uint64_t to =
          request->to_sequence() == 0 ? call.ledger.Head().sequence : request->to_sequence();
      auto found = call.ledger.FindChainBreak(request->from_sequence(), to);
      if (!found.ok()) return FromAbsl(found.status());
      response->set_from_sequence(request->from_sequence());
      response->set_to_sequence(to);
      response->set_ok(!found->has_value());
      if (found->has_value()) {
        response->set_first_bad_sequence((*found)->sequence);
        response->set_reason((*found)->reason);
      }
      return grpc::Status::OK;
    });
  }

  grpc::Status GetCheckpoints(grpc::ServerContext* context,
                              const v1::GetCheckpointsRequest* request,
                              v1::Checkpoints* response) override {
    return gate_.Call(context, methods::kGetCheckpoints,
                      [&](Gate::Admitted& call, CallLog&) -> grpc::Status {
      auto checkpoints = call.ledger.Checkpoints(request->from_sequence(), request->to_sequence());
      if (!checkpoints.ok()) return FromAbsl(checkpoints.status());
      for (auto& c : *checkpoints) *response->add_checkpoints() = std::move(c);
      response->set_public_key_pem(call.ledger.CheckpointPublicKeyPem());
      return grpc::Status::OK;
    });
  }

  grpc::Status BalanceAsOf(grpc::ServerContext* context, const v1::BalanceAsOfRequest* request,
                           v1::BalanceAsOfResponse* response) override {
    return gate_.Call(context, methods::kBalanceAsOf,
                      [&](Gate::Admitted& call, CallLog&) -> grpc::Status {
      ledger::Ledger& ledger = call.ledger;
      if (request->citizen_id().empty() == request->ledger_account().empty()) {
        return RejectionStatus(
            context, {v1::REASON_INVALID_FIELD, "give exactly one of citizen_id and ledger_account"});
      }
      if (!request->as_of_date().empty() && !ledger::ParseDate(request->as_of_date()).ok()) {
        return RejectionStatus(
            context, {v1::REASON_INVALID_DATE,
                      StrCat("as_of_date '", request->as_of_date(), "' is not YYYY-MM-DD")});
      }
      if (request->as_of_sequence() > ledger.Head().sequence) {
        return grpc::Status(grpc::StatusCode::OUT_OF_RANGE,
                            StrCat("as_of_sequence ", request->as_of_sequence(),
                                   " is beyond the head ", ledger.Head().sequence));
      }
      absl::StatusOr<ledger::Ledger::BalanceAsOf> balance;
      if (!request->citizen_id().empty()) {
        auto account = ledger.GetAccount(request->citizen_id());
        if (!account.ok()) return FromAbsl(account.status());
        if (!account->has_value() || !call.caller.MayAccessRegion((*account)->region_code())) {
          return NotEnrolled(request->citizen_id());
        }
        balance = ledger.ParticipantBalanceAsOf(request->citizen_id(), request->as_of_sequence(),
                                                request->as_of_date());
      } else {
        const std::string region =
            request->ledger_account().substr(0, request->ledger_account().find('/'));
        if (!call.caller.MayAccessRegion(region)) return RegionDenied(context, region);
        balance = ledger.LedgerAccountBalanceAsOf(request->ledger_account(),
                                                  request->as_of_sequence(), request->as_of_date());
      }
      if (!balance.ok()) return FromAbsl(balance.status());
      for (auto& b : balance->by_source) *response->add_balances() = std::move(b);
      response->set_total_fen(balance->total_fen);
      response->set_events_applied(balance->events);
      return grpc::Status::OK;
    });
  }

  grpc::Status ReplayCompare(grpc::ServerContext* context, const v1::ReplayCompareRequest* request,
                             v1::ReplayCompareResponse* response) override {
    return gate_.Call(context, methods::kReplayCompare,
                      [&](Gate::Admitted& call, CallLog&) -> grpc::Status {
      // One comparison at a time: each rebuilds the whole ledger into the scratch directory.
      std::unique_lock lock(replay_mu_, std::try_to_lock);
      if (!lock.owns_lock()) {
        return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                            "a replay comparison is already running");
      }
      auto compared = call.ledger.ReplayCompare(scratch_dir_);
      if (!compared.ok()) return FromAbsl(compared.status());
      response->set_equal(compared->equal);
      response->set_sequence(compared->sequence);
      response->set_events_replayed(compared->events_replayed);
      response->set_seconds(compared->seconds);
      response->set_rows_compared(compared->rows_compared);
      response->set_first_difference(compared->first_difference);
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
