// The server side of grpc.health.v1 Check, answered by our own service instead of gRPC's
// default health service: the default reports SERVING from the moment the port opens until the
// server sets it otherwise, so a client polling during start-up could be told SERVING while the
// ledger was still opening. This one is NOT_SERVING from its construction until SetServing(true).
//
// Check for the whole server (service name "") answers SERVING or NOT_SERVING; a named service
// is NOT_FOUND, as the default does; Watch is not offered (UNIMPLEMENTED). The service is
// registered like the ledger's own (reflection lists it), on the raw callback API with messages
// encoded by hand: Debian ships no generated code for the health proto.
#ifndef SERVICES_HEALTH_SERVICE_H_
#define SERVICES_HEALTH_SERVICE_H_

#include <atomic>

#include "grpcpp/grpcpp.h"
#include "grpcpp/impl/service_type.h"
#include "grpcpp/impl/codegen/server_callback_handlers.h"

namespace services {

class HealthService final : public grpc::Service {
 public:
  HealthService();
  void SetServing(bool serving) { serving_.store(serving); }

 private:
  grpc::ServerUnaryReactor* Check(grpc::CallbackServerContext* context,
                                  const grpc::ByteBuffer* request, grpc::ByteBuffer* response);

  std::atomic<bool> serving_{false};
};

}  // namespace services

#endif  // SERVICES_HEALTH_SERVICE_H_
