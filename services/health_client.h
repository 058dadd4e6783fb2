// The client side of the gRPC health check, for ledgerctl and the tests: it links gRPC only, not
// the server or the ledger core.
#ifndef SERVICES_HEALTH_CLIENT_H_
#define SERVICES_HEALTH_CLIENT_H_

#include <memory>

#include "grpcpp/grpcpp.h"

namespace services {

// A client's grpc.health.v1.Health/Check for the whole server. Debian ships no generated code for
// the health proto and its messages are tiny, so they are encoded by hand: the request is empty;
// the response's field 1 is the status. On OK, `serving_status` is 1 (SERVING), 2 (NOT_SERVING),
// or -1 if the answer is not that.
grpc::Status CheckHealth(const std::shared_ptr<grpc::ChannelInterface>& channel,
                         grpc::ClientContext& context, int& serving_status);

}  // namespace services

#endif  // SERVICES_HEALTH_CLIENT_H_
