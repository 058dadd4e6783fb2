#include "tests/support/rpc.h"

#include <google/protobuf/util/message_differencer.h>

#include "ledger/strings.h"
#include "services/services.h"

namespace ledger::testing {

std::string TrailerOf(const grpc::ClientContext& context, const std::string& key) {
  const auto& trailers = context.GetServerTrailingMetadata();
  auto it = trailers.find(key);
  return it == trailers.end() ? std::string() : std::string(it->second.data(), it->second.size());
}

std::string ReasonOf(const grpc::ClientContext& context) {
  return TrailerOf(context, services::kReasonMetadataKey);
}

std::string Describe(const Rpc& r) {
  return StrCat(static_cast<int>(r.status.error_code()), " ", r.reason, " ",
                r.status.error_message());
}

std::string Describe(const grpc::Status& status) {
  return StrCat("code ", static_cast<int>(status.error_code()), ": ", status.error_message());
}

::testing::AssertionResult ProtoEquals(const google::protobuf::Message& expected,
                                       const google::protobuf::Message& actual) {
  std::string diff;
  google::protobuf::util::MessageDifferencer differencer;
  differencer.ReportDifferencesToString(&diff);
  if (differencer.Compare(expected, actual)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << diff;
}

}  // namespace ledger::testing
