#include "tests/support/dev_certs.h"

#include <cstdlib>
#include <filesystem>
#include <system_error>
#include <utility>

#include "gtest/gtest.h"
#include "ledger/strings.h"
#include "tests/support/fixtures.h"

namespace ledger::testing {

void DevCerts::Make(std::string dir) {
  dir_ = std::move(dir);
  std::filesystem::remove_all(dir_);
  const std::string log = StrCat(dir_, ".log");
  const std::string command = StrCat("'", SourcePath("deploy/tls/make-dev-certs.sh"), "' '", dir_,
                                     "' --test-extras >'", log, "' 2>&1");
  const int rc = std::system(command.c_str());
  auto output = ReadFile(log);
  ASSERT_EQ(rc, 0) << "making the development certificates failed: " << command << "\n"
                   << (output.ok() ? *output : std::string("(no output)"));
}

void DevCerts::Remove() {
  if (dir_.empty()) return;
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
  std::filesystem::remove(StrCat(dir_, ".log"), ignored);
  dir_.clear();
}

std::string DevCerts::CertFile(std::string_view name) const {
  return StrCat(dir_, "/", name, ".crt");
}

std::string DevCerts::KeyFile(std::string_view name) const {
  return StrCat(dir_, "/", name, ".key");
}

std::string DevCerts::Pem(const std::string& path) {
  auto text = ReadFile(path);
  EXPECT_TRUE(text.ok()) << text.status();
  return text.ok() ? *text : std::string();
}

services::TlsFiles DevCerts::ServerFiles() const {
  return services::TlsFiles{.cert_file = CertFile("server"),
                            .key_file = KeyFile("server"),
                            .client_ca_file = CertFile("ca")};
}

std::shared_ptr<grpc::ChannelCredentials> DevCerts::ClientCredentials(
    std::string_view identity) const {
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = Pem(CertFile("ca"));
  if (!identity.empty()) {
    ssl.pem_private_key = Pem(KeyFile(identity));
    ssl.pem_cert_chain = Pem(CertFile(identity));
  }
  return grpc::SslCredentials(ssl);
}

}  // namespace ledger::testing
