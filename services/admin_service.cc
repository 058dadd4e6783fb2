// AdminService: operations on the running ledger (a consistent backup).
#include <filesystem>
#include <memory>

#include "ledger/strings.h"
#include "ledger/v1/services.grpc.pb.h"
#include "services/call.h"
#include "services/service_impls.h"
#include "spdlog/spdlog.h"

namespace services {
namespace {

using ledger::StrCat;
namespace v1 = ledger::v1;

class AdminServiceImpl final : public v1::AdminService::Service {
 public:
  explicit AdminServiceImpl(Gate gate) : gate_(gate) {}

  grpc::Status Backup(grpc::ServerContext* context, const v1::BackupRequest* request,
                      v1::BackupResponse* response) override {
    return gate_.Call(context, methods::kBackup, [&](Gate::Admitted& call, CallLog&) {
      const std::filesystem::path dir(request->directory());
      if (!dir.is_absolute() || std::filesystem::exists(dir)) {
        return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                            StrCat("backup directory '", request->directory(),
                                   "' must be an absolute path that does not exist"));
      }
      auto head = call.ledger.Backup(request->directory());
      if (!head.ok()) return FromAbsl(head.status());
      response->set_sequence(head->sequence);
      response->set_chain_head(head->hash);
      spdlog::info("backup directory=\"{}\" sequence={}", request->directory(), head->sequence);
      return grpc::Status::OK;
    });
  }

 private:
  const Gate gate_;
};

}  // namespace

std::unique_ptr<grpc::Service> NewAdminService(Gate gate) {
  return std::make_unique<AdminServiceImpl>(gate);
}

}  // namespace services
