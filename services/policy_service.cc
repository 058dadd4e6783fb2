// PolicyService: admin adopts a region's policy; every role reads the policy it works under.
#include <memory>
#include <utility>

#include "ledger/strings.h"
#include "ledger/v1/services.grpc.pb.h"
#include "services/call.h"
#include "services/service_impls.h"

namespace services {
namespace {

using ledger::StrCat;
namespace v1 = ledger::v1;

class PolicyServiceImpl final : public v1::PolicyService::Service {
 public:
  explicit PolicyServiceImpl(Gate gate) : gate_(gate) {}

  grpc::Status AdoptPolicy(grpc::ServerContext* context, const v1::AdoptPolicyRequest* request,
                           v1::AdoptPolicyResponse* response) override {
    return gate_.Call(context, methods::kAdoptPolicy, [&](Gate::Admitted& call, CallLog&) {
      if (!call.caller.MayAccessRegion(request->policy().region_code())) {
        return RegionDenied(context, request->policy().region_code());
      }
      auto result = call.ledger.AdoptPolicy(request->policy(), call.caller.actor);
      return CommandAnswer(context, result, response);
    });
  }

  grpc::Status GetPolicy(grpc::ServerContext* context, const v1::GetPolicyRequest* request,
                         v1::Policy* response) override {
    return gate_.Call(context, methods::kGetPolicy, [&](Gate::Admitted& call, CallLog&) {
      auto policy = call.ledger.LatestPolicy(request->region_code());
      if (!policy) {
        return grpc::Status(grpc::StatusCode::NOT_FOUND,
                            StrCat("no policy adopted for region '", request->region_code(), "'"));
      }
      *response = std::move(*policy);
      return grpc::Status::OK;
    });
  }

 private:
  const Gate gate_;
};

}  // namespace

std::unique_ptr<grpc::Service> NewPolicyService(Gate gate) {
  return std::make_unique<PolicyServiceImpl>(gate);
}

}  // namespace services
