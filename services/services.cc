#include "services/services.h"

#include <arpa/inet.h>

#include "ledger/citizen_id.h"
#include "ledger/limits.h"
#include "ledger/strings.h"

namespace services {
namespace {

using ledger::StrCat;
namespace v1 = ledger::v1;

grpc::Status LimitExceeded(grpc::ServerContext* context, const char* limit, std::string message) {
  context->AddTrailingMetadata(kReasonMetadataKey, limit);
  return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, message);
}

void Count(const std::vector<v1::RecordOutcome>& outcomes, uint32_t index_offset,
           v1::PushCollectionsResponse* response) {
  for (const v1::RecordOutcome& o : outcomes) {
    switch (o.outcome()) {
      case v1::OUTCOME_ACCEPTED: response->set_accepted_count(response->accepted_count() + 1); break;
      case v1::OUTCOME_DUPLICATE: response->set_duplicate_count(response->duplicate_count() + 1); break;
      case v1::OUTCOME_SUSPENSE: response->set_suspense_count(response->suspense_count() + 1); break;
      default: response->set_rejected_count(response->rejected_count() + 1); break;
    }
    v1::RecordOutcome* added = response->add_outcomes();
    *added = o;
    added->set_index(o.index() + index_offset);
  }
}

class CollectionServiceImpl final : public v1::CollectionService::Service {
 public:
  explicit CollectionServiceImpl(ledger::Ledger& ledger) : ledger_(ledger) {}

  grpc::Status PushCollections(grpc::ServerContext* context,
                               const v1::PushCollectionsRequest* request,
                               v1::PushCollectionsResponse* response) override {
    if (static_cast<size_t>(request->records_size()) > ledger::kBatchRecordsMax) {
      return LimitExceeded(context, "batch_records_max",
                           StrCat(request->records_size(), " records in one request; at most ",
                                  ledger::kBatchRecordsMax));
    }
    auto outcomes = ledger_.PushCollections(request->records(), ActorOf(context));
    if (!outcomes.ok()) return FromAbsl(outcomes.status());
    Count(*outcomes, 0, response);
    return grpc::Status::OK;
  }

  grpc::Status StreamCollections(grpc::ServerContext* context,
                                 grpc::ServerReader<v1::PushCollectionsRequest>* reader,
                                 v1::PushCollectionsResponse* response) override {
    const std::string actor = ActorOf(context);
    v1::PushCollectionsRequest message;
    size_t total = 0;
    while (reader->Read(&message)) {
      if (static_cast<size_t>(message.records_size()) > ledger::kBatchRecordsMax) {
        return LimitExceeded(context, "batch_records_max",
                             StrCat(message.records_size(), " records in one stream message; at most ",
                                    ledger::kBatchRecordsMax, " (earlier messages are committed)"));
      }
      if (total + message.records_size() > ledger::kStreamRecordsMax) {
        return LimitExceeded(context, "stream_records_max",
                             StrCat("more than ", ledger::kStreamRecordsMax,
                                    " records in one stream (the first ", total,
                                    " are committed); open a new stream"));
      }
      auto outcomes = ledger_.PushCollections(message.records(), actor);
      if (!outcomes.ok()) return FromAbsl(outcomes.status());
      Count(*outcomes, static_cast<uint32_t>(total), response);
      total += message.records_size();
    }
    return grpc::Status::OK;
  }

 private:
  ledger::Ledger& ledger_;
};

class AccountServiceImpl final : public v1::AccountService::Service {
 public:
  explicit AccountServiceImpl(ledger::Ledger& ledger) : ledger_(ledger) {}

  grpc::Status Enrol(grpc::ServerContext* context, const v1::EnrolRequest* request,
                     v1::EnrolResponse* response) override {
    auto result = ledger_.Enrol(request->participant(), ActorOf(context));
    if (!result.ok()) return FromAbsl(result.status());
    if (result->rejection) return RejectionStatus(context, *result->rejection);
    response->set_sequence(result->sequence);
    response->set_duplicate(result->duplicate);
    return grpc::Status::OK;
  }

  grpc::Status GetAccount(grpc::ServerContext* context, const v1::GetAccountRequest* request,
                          v1::Account* response) override {
    if (auto st = ledger::ValidateCitizenId(request->citizen_id()); !st.ok()) {
      return RejectionStatus(context, {v1::REASON_INVALID_CITIZEN_ID, std::string(st.message())});
    }
    auto account = ledger_.GetAccount(request->citizen_id());
    if (!account.ok()) return FromAbsl(account.status());
    if (!account->has_value()) {
      return grpc::Status(grpc::StatusCode::NOT_FOUND,
                          StrCat(ledger::MaskCitizenId(request->citizen_id()), " is not enrolled"));
    }
    *response = std::move(**account);
    return grpc::Status::OK;
  }

 private:
  ledger::Ledger& ledger_;
};

class PolicyServiceImpl final : public v1::PolicyService::Service {
 public:
  explicit PolicyServiceImpl(ledger::Ledger& ledger) : ledger_(ledger) {}

  grpc::Status AdoptPolicy(grpc::ServerContext* context, const v1::AdoptPolicyRequest* request,
                           v1::AdoptPolicyResponse* response) override {
    auto result = ledger_.AdoptPolicy(request->policy(), ActorOf(context));
    if (!result.ok()) return FromAbsl(result.status());
    if (result->rejection) return RejectionStatus(context, *result->rejection);
    response->set_sequence(result->sequence);
    response->set_duplicate(result->duplicate);
    return grpc::Status::OK;
  }

  grpc::Status GetPolicy(grpc::ServerContext* context, const v1::GetPolicyRequest* request,
                         v1::Policy* response) override {
    auto policy = ledger_.LatestPolicy(request->region_code());
    if (!policy) {
      return grpc::Status(grpc::StatusCode::NOT_FOUND,
                          StrCat("no policy adopted for region '", request->region_code(), "'"));
    }
    *response = std::move(*policy);
    return grpc::Status::OK;
  }

 private:
  ledger::Ledger& ledger_;
};

}  // namespace

grpc::StatusCode ReasonCode(v1::Reason reason) {
  const int n = static_cast<int>(reason);
  if (n >= 30) return grpc::StatusCode::ALREADY_EXISTS;
  if (n >= 20) return grpc::StatusCode::FAILED_PRECONDITION;
  return grpc::StatusCode::INVALID_ARGUMENT;
}

grpc::Status RejectionStatus(grpc::ServerContext* context, const ledger::Rejection& rejection) {
  context->AddTrailingMetadata(kReasonMetadataKey, v1::Reason_Name(rejection.reason));
  return grpc::Status(ReasonCode(rejection.reason),
                      StrCat(v1::Reason_Name(rejection.reason), ": ", rejection.detail));
}

grpc::Status FromAbsl(const absl::Status& status) {
  // absl status codes are numerically the gRPC codes.
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

std::string ActorOf(const grpc::ServerContext* context) {
  return StrCat("unauthenticated:", context->peer());
}

bool IsLoopbackAddress(const std::string& listen_address) {
  const size_t colon = listen_address.rfind(':');
  if (colon == std::string::npos) return false;
  const std::string host = listen_address.substr(0, colon);
  if (host == "localhost" || host == "[::1]") return true;
  // Only an IPv4 literal in 127.0.0.0/8: a host *name* could resolve anywhere.
  in_addr address{};
  return inet_pton(AF_INET, host.c_str(), &address) == 1 &&
         (ntohl(address.s_addr) >> 24) == 127;
}

absl::StatusOr<RunningServer> StartServer(ledger::Ledger& ledger, const ServerOptions& options) {
  if (!IsLoopbackAddress(options.listen_address)) {
    return absl::FailedPreconditionError(
        StrCat("refusing to listen on ", options.listen_address,
               ": without TLS the server listens on loopback only (127.0.0.1, [::1], localhost)"));
  }
  RunningServer running;
  running.collection = std::make_unique<CollectionServiceImpl>(ledger);
  running.account = std::make_unique<AccountServiceImpl>(ledger);
  running.policy = std::make_unique<PolicyServiceImpl>(ledger);
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen_address, grpc::InsecureServerCredentials(),
                           &running.port);
  builder.SetMaxReceiveMessageSize(options.max_receive_message_bytes);
  // gRPC enables SO_REUSEPORT by default: a second ledgerd on the same port would then split
  // clients between two different ledgers. Binding a port in use must fail instead.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.RegisterService(running.collection.get());
  builder.RegisterService(running.account.get());
  builder.RegisterService(running.policy.get());
  running.server = builder.BuildAndStart();
  if (!running.server || running.port == 0) {
    return absl::UnavailableError(StrCat("cannot listen on ", options.listen_address));
  }
  return running;
}

}  // namespace services
