// The services the server hosts, each made by its own file (<name>_service.cc) from the gate every
// one of its calls goes through. Internal to services/: server.cc registers them.
#ifndef SERVICES_SERVICE_IMPLS_H_
#define SERVICES_SERVICE_IMPLS_H_

#include <memory>
#include <string>

#include "grpcpp/grpcpp.h"
#include "services/call.h"

namespace services {

std::unique_ptr<grpc::Service> NewCollectionService(Gate gate);
std::unique_ptr<grpc::Service> NewAccountService(Gate gate);
std::unique_ptr<grpc::Service> NewFundService(Gate gate);
std::unique_ptr<grpc::Service> NewPolicyService(Gate gate);
// `scratch_dir`: where ReplayCompare rebuilds the projections; empty: a fresh temp directory.
std::unique_ptr<grpc::Service> NewAuditService(Gate gate, std::string scratch_dir);
std::unique_ptr<grpc::Service> NewAdminService(Gate gate);

}  // namespace services

#endif  // SERVICES_SERVICE_IMPLS_H_
