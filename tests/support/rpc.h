// What a test reads from a finished gRPC call: its status and the machine-readable reason the
// server puts in the trailers, described for a failure message; protobuf equality with a diff.
#ifndef TESTS_SUPPORT_RPC_H_
#define TESTS_SUPPORT_RPC_H_

#include <string>

#include "google/protobuf/message.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"

namespace ledger::testing {

// The trailer `key` of a finished call, or "".
std::string TrailerOf(const grpc::ClientContext& context, const std::string& key);
// The ledger-reason trailer of a finished call, or "".
std::string ReasonOf(const grpc::ClientContext& context);

// A finished RPC: its status and the machine-readable reason from the trailers.
struct Rpc {
  grpc::Status status;
  std::string reason;
  bool ok() const { return status.ok(); }
};

// "<code> <reason> <message>".
std::string Describe(const Rpc& r);
// "code <code>: <message>".
std::string Describe(const grpc::Status& status);

// Equal messages, or a failure carrying the field-by-field difference.
::testing::AssertionResult ProtoEquals(const google::protobuf::Message& expected,
                                       const google::protobuf::Message& actual);

}  // namespace ledger::testing

#endif  // TESTS_SUPPORT_RPC_H_
