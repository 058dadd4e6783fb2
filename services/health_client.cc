#include "services/health_client.h"

#include <future>
#include <string>
#include <vector>

#include "grpcpp/generic/generic_stub.h"

namespace services {

grpc::Status CheckHealth(const std::shared_ptr<grpc::ChannelInterface>& channel,
                         grpc::ClientContext& context, int& serving_status) {
  grpc::GenericStub stub(channel);
  grpc::Slice empty("");
  grpc::ByteBuffer request(&empty, 1), response;
  std::promise<grpc::Status> done;
  stub.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request,
                 &response, [&](grpc::Status st) { done.set_value(std::move(st)); });
  grpc::Status status = done.get_future().get();
  serving_status = -1;
  if (!status.ok()) return status;
  std::vector<grpc::Slice> slices;
  std::string bytes;
  if (response.Dump(&slices).ok()) {
    for (const grpc::Slice& slice : slices) {
      bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
    }
  }
  if (bytes.size() == 2 && bytes[0] == '\x08') serving_status = bytes[1];
  return status;
}

}  // namespace services
