// AdminService: operations on the running ledger (a consistent backup).
#include <filesystem>
#include <memory>

#include "ledger/strings.h"
#include "ledger/v1/services.grpc.pb.h"
#include "services/call.h"
#include "services/service_impls.h"
#include "services/unary_call.h"
#include "spdlog/spdlog.h"

namespace services {
namespace {

using ledger::StrCat;
namespace v1 = ledger::v1;

class AdminServiceImpl final : public RawCallback<v1::AdminService::Service,
                                                  v1::AdminService::WithRawCallbackMethod_Backup> {
 public:
  explicit AdminServiceImpl(Gate gate) : gate_(gate) {}

  // Waits for the writer's checkpoint and copies files: on a thread of its own.
  grpc::ServerUnaryReactor* Backup(grpc::CallbackServerContext* context,
                                   const grpc::ByteBuffer* request,
                                   grpc::ByteBuffer* response) override {
    return ServeLong<v1::BackupRequest, v1::BackupResponse>(
        gate_, methods::kBackup, context, request, response,
        [](Gate::Admitted& call, const v1::BackupRequest& r, v1::BackupResponse* answer) {
          const std::filesystem::path dir(r.directory());
          if (!dir.is_absolute() || std::filesystem::exists(dir)) {
            return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                StrCat("backup directory '", r.directory(),
                                       "' must be an absolute path that does not exist"));
          }
          auto head = call.ledger.Backup(r.directory());
          if (!head.ok()) return FromAbsl(head.status());
          answer->set_sequence(head->sequence);
          answer->set_chain_head(head->hash);
          spdlog::info("backup directory=\"{}\" sequence={}", r.directory(), head->sequence);
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
