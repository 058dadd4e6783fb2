// The development certificates of deploy/tls/make-dev-certs.sh (with --test-extras: the test
// identities, an expired and a foreign-CA certificate) made in a directory of the test's own, and
// the server files and client credentials built from them.
#ifndef TESTS_SUPPORT_DEV_CERTS_H_
#define TESTS_SUPPORT_DEV_CERTS_H_

#include <memory>
#include <string>
#include <string_view>

#include "grpcpp/grpcpp.h"
#include "services/services.h"

namespace ledger::testing {

class DevCerts {
 public:
  // Runs make-dev-certs.sh into `dir` (replaced); records a fatal failure, with the script's
  // output, if it fails. Use under ASSERT_NO_FATAL_FAILURE.
  void Make(std::string dir);
  // Removes the directory and the script's log.
  void Remove();

  const std::string& dir() const { return dir_; }
  std::string CertFile(std::string_view name) const;  // <dir>/<name>.crt
  std::string KeyFile(std::string_view name) const;   // <dir>/<name>.key
  // The file's text; a test failure (and "") if it cannot be read.
  static std::string Pem(const std::string& path);

  // The server's certificate and key, and the CA that client certificates must chain to.
  services::TlsFiles ServerFiles() const;
  // Client credentials that trust the CA and present `identity`'s certificate ("" presents none).
  std::shared_ptr<grpc::ChannelCredentials> ClientCredentials(std::string_view identity) const;

 private:
  std::string dir_;
};

}  // namespace ledger::testing

#endif  // TESTS_SUPPORT_DEV_CERTS_H_
