#include "services/health_service.h"

#include <string>
#include <vector>

namespace services {

HealthService::HealthService() {
  AddMethod(new grpc::internal::RpcServiceMethod("/grpc.health.v1.Health/Check",
                                                 grpc::internal::RpcMethod::NORMAL_RPC, nullptr));
  MarkMethodRawCallback(
      0, new grpc::internal::CallbackUnaryHandler<grpc::ByteBuffer, grpc::ByteBuffer>(
             [this](grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
                    grpc::ByteBuffer* response) { return Check(context, request, response); }));
}

grpc::ServerUnaryReactor* HealthService::Check(grpc::CallbackServerContext* context,
                                               const grpc::ByteBuffer* request,
                                               grpc::ByteBuffer* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  std::vector<grpc::Slice> slices;
  std::string bytes;
  if (request->Dump(&slices).ok()) {
    for (const grpc::Slice& s : slices) {
      bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
    }
  }
  // HealthCheckRequest { string service = 1; }: empty (or a zero-length field 1) is the whole
  // server; anything else names a service we do not report on.
  if (!bytes.empty() && bytes != std::string("\x0a\x00", 2)) {
    reactor->Finish(grpc::Status(grpc::StatusCode::NOT_FOUND, "unknown service"));
    return reactor;
  }
  // HealthCheckResponse { ServingStatus status = 1; }: 1 SERVING, 2 NOT_SERVING.
  const char answer[2] = {'\x08', serving_.load() ? '\x01' : '\x02'};
  grpc::Slice slice(answer, sizeof answer);
  *response = grpc::ByteBuffer(&slice, 1);
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace services
