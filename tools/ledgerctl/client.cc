#include "tools/ledgerctl/client.h"

#include <google/protobuf/util/json_util.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>
#include <algorithm>
#include <utility>

#include "ledger/strings.h"

namespace ledgerctl {
namespace {

using ledger::StrCat;

std::string ReadOrDie(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream out;
  out << in.rdbuf();
  if (!in || out.str().empty()) {
    std::cerr << "error: cannot read " << path << "\n";
    std::exit(1);
  }
  return out.str();
}

}  // namespace

int Fail(const std::string& what) {
  std::cerr << "error: " << what << "\n";
  return kExitError;
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(StrCat("cannot open ", path));
  std::ostringstream out;
  out << in.rdbuf();
  return std::move(out).str();
}

std::string ToJson(const google::protobuf::Message& message) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(message, &json, options);
  return json;
}

std::shared_ptr<grpc::Channel> Connect(const Globals& globals, const std::string& server) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 * 1024 * 1024);  // a full stream's outcomes
  const Globals& c = globals;
  const std::string& address = server.empty() ? c.servers.front() : server;
  if (c.ca_file.empty() && c.cert_file.empty() && c.key_file.empty()) {
    return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
  }
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = ReadOrDie(c.ca_file);
  ssl.pem_cert_chain = ReadOrDie(c.cert_file);
  ssl.pem_private_key = ReadOrDie(c.key_file);
  return grpc::CreateCustomChannel(address, grpc::SslCredentials(ssl), args);
}

bool Retryable(const grpc::Status& status) {
  return status.error_code() == grpc::StatusCode::UNAVAILABLE ||
         status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
}

std::string LeaderHint(const grpc::ClientContext& context) {
  const auto& trailers = context.GetServerTrailingMetadata();
  const auto it = trailers.find("ledger-leader");
  return it == trailers.end() ? "" : std::string(it->second.data(), it->second.size());
}

Resender::Resender(const Globals& globals, size_t first)
    : globals_(globals),
      give_up_(std::chrono::steady_clock::now() +
               std::chrono::seconds(globals.retry_for_seconds >= 0 ? globals.retry_for_seconds
                                    : globals.servers.size() > 1   ? 60
                                                                   : 0)),
      next_(first % globals.servers.size()),
      server_(globals.servers[next_]) {}

bool Resender::Resend(const grpc::Status& status, std::string leader_hint) {
  if (!Retryable(status) || std::chrono::steady_clock::now() >= give_up_) return false;
  const std::string failed = std::move(server_);
  if (leader_hint.empty()) {
    next_ = (next_ + 1) % globals_.servers.size();
    server_ = globals_.servers[next_];
  } else {
    server_ = std::move(leader_hint);
  }
  const int ms = std::min(2'000, 100 << std::min(attempt_++, 5));
  std::cerr << "retry: " << failed << " answered code " << status.error_code() << " ("
            << status.error_message() << "); resending to " << server_ << " in " << ms
            << " ms\n";
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return true;
}

Rpc::Rpc(const Globals& globals, int deadline_seconds) : Rpc(Connect(globals), deadline_seconds) {}

Rpc::Rpc(std::shared_ptr<grpc::Channel> channel, int deadline_seconds)
    : channel_(std::move(channel)) {
  context_.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(deadline_seconds));
}

int Rpc::Failed(const grpc::Status& status) const {
  std::string reason;
  const auto& trailers = context_.GetServerTrailingMetadata();
  if (auto it = trailers.find("ledger-reason"); it != trailers.end()) {
    reason = StrCat(" [reason=", std::string(it->second.data(), it->second.size()), "]");
  }
  return Fail(StrCat("rpc failed: code ", static_cast<int>(status.error_code()), ": ",
                     status.error_message(), reason));
}

int PrintCommandResult(std::string_view what, const ledger::v1::CommandResponse& response) {
  std::printf("%.*s: sequence=%llu..%llu%s\n", static_cast<int>(what.size()), what.data(),
              static_cast<unsigned long long>(response.first_sequence()),
              static_cast<unsigned long long>(response.last_sequence()),
              response.duplicate() ? " duplicate=true" : "");
  return 0;
}

}  // namespace ledgerctl
