#include "services/services.h"

#include <arpa/inet.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <sstream>

#include "ledger/citizen_id.h"
#include "ledger/limits.h"
#include "ledger/strings.h"
#include "spdlog/spdlog.h"

namespace services {
namespace {

using ledger::StrCat;
namespace v1 = ledger::v1;

constexpr char kPushCollections[] = "/ledger.v1.CollectionService/PushCollections";
constexpr char kStreamCollections[] = "/ledger.v1.CollectionService/StreamCollections";
constexpr char kEnrol[] = "/ledger.v1.AccountService/Enrol";
constexpr char kGetAccount[] = "/ledger.v1.AccountService/GetAccount";
constexpr char kAdoptPolicy[] = "/ledger.v1.PolicyService/AdoptPolicy";
constexpr char kGetPolicy[] = "/ledger.v1.PolicyService/GetPolicy";

// One structured log line per call, written when the call ends. Carries no personal data: status
// messages from the ledger mask citizen IDs, and records are only counted.
class CallLog {
 public:
  explicit CallLog(std::string_view method)
      : method_(method), start_(std::chrono::steady_clock::now()) {}
  void set_actor(std::string actor) { actor_ = std::move(actor); }
  void set_records(size_t records) { records_ = records; }

  grpc::Status Done(grpc::Status status) {
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start_)
            .count();
    if (status.ok()) {
      spdlog::info("rpc method={} actor=\"{}\" code=OK ms={:.3f} records={}", method_, actor_, ms,
                   records_);
    } else {
      spdlog::info("rpc method={} actor=\"{}\" code={} ms={:.3f} records={} error=\"{}\"",
                   method_, actor_, static_cast<int>(status.error_code()), ms, records_,
                   status.error_message());
    }
    return status;
  }

 private:
  std::string_view method_;
  std::chrono::steady_clock::time_point start_;
  std::string actor_ = "-";
  size_t records_ = 0;
};

grpc::Status LimitExceeded(grpc::ServerContext* context, grpc::StatusCode code, const char* limit,
                           std::string message) {
  context->AddTrailingMetadata(kReasonMetadataKey, limit);
  return grpc::Status(code, message);
}

v1::RecordOutcome Rejected(uint32_t index, v1::Reason reason, std::string detail) {
  v1::RecordOutcome o;
  o.set_index(index);
  o.set_outcome(v1::OUTCOME_REJECTED);
  o.set_reason(reason);
  o.set_detail(std::move(detail));
  return o;
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

grpc::Status RegionDenied(grpc::ServerContext* context, std::string_view region) {
  return RejectionStatus(context, {v1::REASON_REGION_NOT_PERMITTED,
                                   StrCat("the caller's certificate does not cover region '",
                                          region, "'")});
}

// Commits `records` for `caller`; records for regions outside the caller's certificate are
// rejected (REGION_NOT_PERMITTED) without reaching the ledger.
absl::StatusOr<std::vector<v1::RecordOutcome>> PushScoped(ledger::Ledger& ledger,
                                                          const Caller& caller,
                                                          const ledger::Ledger::Records& records) {
  if (caller.regions.empty()) return ledger.PushCollections(records, caller.actor);
  std::vector<v1::RecordOutcome> outcomes(records.size());
  ledger::Ledger::Records permitted;
  std::vector<int> positions;
  for (int i = 0; i < records.size(); ++i) {
    if (caller.MayAccessRegion(records[i].region_code())) {
      *permitted.Add() = records[i];
      positions.push_back(i);
    } else {
      outcomes[i] = Rejected(i, v1::REASON_REGION_NOT_PERMITTED,
                             StrCat("the caller's certificate does not cover region '",
                                    records[i].region_code(), "'"));
    }
  }
  auto pushed = ledger.PushCollections(permitted, caller.actor);
  if (!pushed.ok()) return pushed.status();
  for (size_t j = 0; j < pushed->size(); ++j) {
    outcomes[positions[j]] = std::move((*pushed)[j]);
    outcomes[positions[j]].set_index(positions[j]);
  }
  return outcomes;
}

class CollectionServiceImpl final : public v1::CollectionService::Service {
 public:
  CollectionServiceImpl(ledger::Ledger& ledger, const Authorizer& auth)
      : ledger_(ledger), auth_(auth) {}

  grpc::Status PushCollections(grpc::ServerContext* context,
                               const v1::PushCollectionsRequest* request,
                               v1::PushCollectionsResponse* response) override {
    CallLog log(kPushCollections);
    log.set_records(request->records_size());
    auto caller = auth_.Authorize(context, kPushCollections);
    if (!caller.ok()) return log.Done(FromAbsl(caller.status()));
    log.set_actor(caller->actor);
    if (static_cast<size_t>(request->records_size()) > ledger::kBatchRecordsMax) {
      return log.Done(LimitExceeded(context, grpc::StatusCode::RESOURCE_EXHAUSTED,
                                    "batch_records_max",
                                    StrCat(request->records_size(),
                                           " records in one request; at most ",
                                           ledger::kBatchRecordsMax)));
    }
    auto outcomes = PushScoped(ledger_, *caller, request->records());
    if (!outcomes.ok()) return log.Done(FromAbsl(outcomes.status()));
    Count(*outcomes, 0, response);
    return log.Done(grpc::Status::OK);
  }

  grpc::Status StreamCollections(grpc::ServerContext* context,
                                 grpc::ServerReader<v1::PushCollectionsRequest>* reader,
                                 v1::PushCollectionsResponse* response) override {
    CallLog log(kStreamCollections);
    auto caller = auth_.Authorize(context, kStreamCollections);
    if (!caller.ok()) return log.Done(FromAbsl(caller.status()));
    log.set_actor(caller->actor);
    // Counts this stream while it runs; released on every return path.
    struct Slot {
      std::atomic<int>& open;
      ~Slot() { open.fetch_sub(1); }
    } slot{open_streams_};
    if (open_streams_.fetch_add(1) >= ledger::kConcurrentStreamsMax) {
      return log.Done(LimitExceeded(context, grpc::StatusCode::RESOURCE_EXHAUSTED,
                                    "concurrent_streams_max",
                                    StrCat(ledger::kConcurrentStreamsMax,
                                           " collection streams are already open; retry later")));
    }
    const auto deadline = std::chrono::steady_clock::now() +
                          std::chrono::seconds(ledger::kStreamDurationSecondsMax);
    v1::PushCollectionsRequest message;
    size_t total = 0;
    while (reader->Read(&message)) {
      log.set_records(total + message.records_size());
      if (std::chrono::steady_clock::now() > deadline) {
        return log.Done(LimitExceeded(context, grpc::StatusCode::DEADLINE_EXCEEDED,
                                      "stream_duration_max",
                                      StrCat("a stream may stay open ",
                                             ledger::kStreamDurationSecondsMax, " s (the first ",
                                             total, " records are committed); open a new one")));
      }
      if (static_cast<size_t>(message.records_size()) > ledger::kBatchRecordsMax) {
        return log.Done(LimitExceeded(
            context, grpc::StatusCode::RESOURCE_EXHAUSTED, "batch_records_max",
            StrCat(message.records_size(), " records in one stream message; at most ",
                   ledger::kBatchRecordsMax, " (earlier messages are committed)")));
      }
      if (total + message.records_size() > ledger::kStreamRecordsMax) {
        return log.Done(LimitExceeded(context, grpc::StatusCode::RESOURCE_EXHAUSTED,
                                      "stream_records_max",
                                      StrCat("more than ", ledger::kStreamRecordsMax,
                                             " records in one stream (the first ", total,
                                             " are committed); open a new stream")));
      }
      auto outcomes = PushScoped(ledger_, *caller, message.records());
      if (!outcomes.ok()) return log.Done(FromAbsl(outcomes.status()));
      Count(*outcomes, static_cast<uint32_t>(total), response);
      total += message.records_size();
    }
    return log.Done(grpc::Status::OK);
  }

 private:
  ledger::Ledger& ledger_;
  const Authorizer& auth_;
  std::atomic<int> open_streams_{0};
};

class AccountServiceImpl final : public v1::AccountService::Service {
 public:
  AccountServiceImpl(ledger::Ledger& ledger, const Authorizer& auth)
      : ledger_(ledger), auth_(auth) {}

  grpc::Status Enrol(grpc::ServerContext* context, const v1::EnrolRequest* request,
                     v1::EnrolResponse* response) override {
    CallLog log(kEnrol);
    auto caller = auth_.Authorize(context, kEnrol);
    if (!caller.ok()) return log.Done(FromAbsl(caller.status()));
    log.set_actor(caller->actor);
    if (!caller->MayAccessRegion(request->participant().region_code())) {
      return log.Done(RegionDenied(context, request->participant().region_code()));
    }
    auto result = ledger_.Enrol(request->participant(), caller->actor);
    if (!result.ok()) return log.Done(FromAbsl(result.status()));
    if (result->rejection) return log.Done(RejectionStatus(context, *result->rejection));
    response->set_sequence(result->sequence);
    response->set_duplicate(result->duplicate);
    return log.Done(grpc::Status::OK);
  }

  grpc::Status GetAccount(grpc::ServerContext* context, const v1::GetAccountRequest* request,
                          v1::Account* response) override {
    CallLog log(kGetAccount);
    auto caller = auth_.Authorize(context, kGetAccount);
    if (!caller.ok()) return log.Done(FromAbsl(caller.status()));
    log.set_actor(caller->actor);
    if (auto st = ledger::ValidateCitizenId(request->citizen_id()); !st.ok()) {
      return log.Done(RejectionStatus(
          context, {v1::REASON_INVALID_CITIZEN_ID, std::string(st.message())}));
    }
    auto account = ledger_.GetAccount(request->citizen_id());
    if (!account.ok()) return log.Done(FromAbsl(account.status()));
    if (!account->has_value() || !caller->MayAccessRegion((*account)->region_code())) {
      // Outside the caller's regions looks exactly like "not enrolled": no existence oracle.
      return log.Done(grpc::Status(
          grpc::StatusCode::NOT_FOUND,
          StrCat(ledger::MaskCitizenId(request->citizen_id()), " is not enrolled")));
    }
    *response = std::move(**account);
    return log.Done(grpc::Status::OK);
  }

 private:
  ledger::Ledger& ledger_;
  const Authorizer& auth_;
};

class PolicyServiceImpl final : public v1::PolicyService::Service {
 public:
  PolicyServiceImpl(ledger::Ledger& ledger, const Authorizer& auth)
      : ledger_(ledger), auth_(auth) {}

  grpc::Status AdoptPolicy(grpc::ServerContext* context, const v1::AdoptPolicyRequest* request,
                           v1::AdoptPolicyResponse* response) override {
    CallLog log(kAdoptPolicy);
    auto caller = auth_.Authorize(context, kAdoptPolicy);
    if (!caller.ok()) return log.Done(FromAbsl(caller.status()));
    log.set_actor(caller->actor);
    if (!caller->MayAccessRegion(request->policy().region_code())) {
      return log.Done(RegionDenied(context, request->policy().region_code()));
    }
    auto result = ledger_.AdoptPolicy(request->policy(), caller->actor);
    if (!result.ok()) return log.Done(FromAbsl(result.status()));
    if (result->rejection) return log.Done(RejectionStatus(context, *result->rejection));
    response->set_sequence(result->sequence);
    response->set_duplicate(result->duplicate);
    return log.Done(grpc::Status::OK);
  }

  grpc::Status GetPolicy(grpc::ServerContext* context, const v1::GetPolicyRequest* request,
                         v1::Policy* response) override {
    CallLog log(kGetPolicy);
    auto caller = auth_.Authorize(context, kGetPolicy);
    if (!caller.ok()) return log.Done(FromAbsl(caller.status()));
    log.set_actor(caller->actor);
    auto policy = ledger_.LatestPolicy(request->region_code());
    if (!policy) {
      return log.Done(grpc::Status(
          grpc::StatusCode::NOT_FOUND,
          StrCat("no policy adopted for region '", request->region_code(), "'")));
    }
    *response = std::move(*policy);
    return log.Done(grpc::Status::OK);
  }

 private:
  ledger::Ledger& ledger_;
  const Authorizer& auth_;
};

absl::StatusOr<std::string> ReadPem(const std::string& path, std::string_view what) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  if (!in || text.str().empty()) {
    return absl::InvalidArgumentError(StrCat("cannot read the ", what, " from '", path, "'"));
  }
  return text.str();
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> Credentials(const ServerOptions& o) {
  if (o.insecure_plaintext) {
    if (!IsLoopbackAddress(o.listen_address)) {
      return absl::FailedPreconditionError(
          StrCat("refusing plain text on ", o.listen_address,
                 ": --insecure-plaintext is for loopback only (127.0.0.1, [::1], localhost)"));
    }
    return grpc::InsecureServerCredentials();
  }
  if (!o.tls) {
    return absl::FailedPreconditionError(
        "TLS is required: give the server certificate, key and client CA (deploy/tls/"
        "make-dev-certs.sh makes development ones), or --insecure-plaintext on loopback");
  }
  grpc::SslServerCredentialsOptions ssl(GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY);
  auto ca = ReadPem(o.tls->client_ca_file, "client CA");
  auto cert = ReadPem(o.tls->cert_file, "server certificate");
  auto key = ReadPem(o.tls->key_file, "server key");
  for (const auto* s : {&ca, &cert, &key}) {
    if (!s->ok()) return s->status();
  }
  ssl.pem_root_certs = *ca;
  ssl.pem_key_cert_pairs.push_back({*key, *cert});
  return grpc::SslServerCredentials(ssl);
}

}  // namespace

grpc::StatusCode ReasonCode(v1::Reason reason) {
  const int n = static_cast<int>(reason);
  if (n >= 50) return grpc::StatusCode::UNAUTHENTICATED;
  if (n >= 40) return grpc::StatusCode::PERMISSION_DENIED;
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
  auto credentials = Credentials(options);
  if (!credentials.ok()) return credentials.status();
  RunningServer running;
  running.authorizer = std::make_unique<Authorizer>(options.insecure_plaintext);
  running.collection = std::make_unique<CollectionServiceImpl>(ledger, *running.authorizer);
  running.account = std::make_unique<AccountServiceImpl>(ledger, *running.authorizer);
  running.policy = std::make_unique<PolicyServiceImpl>(ledger, *running.authorizer);
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen_address, *credentials, &running.port);
  builder.SetMaxReceiveMessageSize(ledger::kReceiveMessageBytesMax);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, ledger::kStreamsPerConnectionMax);
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
