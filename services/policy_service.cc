// PolicyService: admin adopts a region's policy; every role reads the policy it works under.
#include <functional>
#include <memory>
#include <utility>

#include "ledger/strings.h"
#include "ledger/v1/services.grpc.pb.h"
#include "services/call.h"
#include "services/service_impls.h"
#include "services/unary_call.h"

namespace services {
namespace {

using ledger::StrCat;
namespace v1 = ledger::v1;

using S = v1::PolicyService;

class PolicyServiceImpl final : public RawCallback<S::Service, S::WithRawCallbackMethod_AdoptPolicy,
                                                   S::WithRawCallbackMethod_GetPolicy> {
 public:
  explicit PolicyServiceImpl(Gate gate) : gate_(gate) {}

  grpc::ServerUnaryReactor* AdoptPolicy(grpc::CallbackServerContext* context,
                                        const grpc::ByteBuffer* request,
                                        grpc::ByteBuffer* response) override {
    return ServeCommand<v1::AdoptPolicyRequest, v1::AdoptPolicyResponse>(
        gate_, methods::kAdoptPolicy, context, request, response,
        [context](Gate::Admitted& call, CallLog&, v1::AdoptPolicyRequest& r,
                  std::function<void()> on_ready) -> Submitted<ledger::PendingCommand> {
          if (!call.caller.MayAccessRegion(r.policy().region_code())) {
            return RegionDenied(context, r.policy().region_code());
          }
          return call.ledger.SubmitPolicy(std::move(*r.mutable_policy()), call.caller.actor,
                                          std::move(on_ready));
        },
        [context](Gate::Admitted&, const v1::AdoptPolicyRequest&, ledger::PendingCommand& pending,
                  v1::AdoptPolicyResponse* answer) {
          return CommandAnswer(context, pending.Wait(), answer);
        });
  }

  grpc::ServerUnaryReactor* GetPolicy(grpc::CallbackServerContext* context,
                                      const grpc::ByteBuffer* request,
                                      grpc::ByteBuffer* response) override {
    return ServeRead<v1::GetPolicyRequest, v1::Policy>(
        gate_, methods::kGetPolicy, context, request, response,
        [](Gate::Admitted& call, const v1::GetPolicyRequest& r, v1::Policy* answer) {
          auto policy = call.ledger.LatestPolicy(r.region_code());
          if (!policy) {
            return grpc::Status(grpc::StatusCode::NOT_FOUND,
                                StrCat("no policy adopted for region '", r.region_code(), "'"));
          }
          *answer = std::move(*policy);
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
