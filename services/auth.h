// Who is calling, and may they. Identity comes from the client's TLS certificate, which gRPC has
// already verified against the configured CA (mutual TLS):
//   role    = the subject's organizational unit (OU): tax-bureau | fund-agency | auditor | admin
//   regions = SAN URIs "urn:ledger:region:<6-digit code>"; none means every region
//   actor   = the subject, RFC 2253 ("CN=tax-bureau-dev,OU=tax-bureau,O=Pension Ledger Dev")
// Who may call which method is the table in services/methods.h; a method not in it is denied to
// everyone.
#ifndef SERVICES_AUTH_H_
#define SERVICES_AUTH_H_

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "absl/synchronization/mutex.h"

#include "absl/status/statusor.h"
#include "grpcpp/grpcpp.h"
#include "services/methods.h"

namespace services {

std::string_view RoleName(Role role);
std::optional<Role> RoleFromName(std::string_view name);

struct Caller {
  std::string actor;                 // recorded on every event the call causes
  std::optional<Role> role;          // none: the certificate names no known role
  std::vector<std::string> regions;  // empty: every region

  bool MayAccessRegion(std::string_view region_code) const;
};

// Identity from a PEM certificate (exposed for tests). INVALID_ARGUMENT if it does not parse.
absl::StatusOr<Caller> CallerFromCertificate(std::string_view pem);

class Authorizer {
 public:
  // `plaintext_dev`: no TLS, loopback development; every caller is "plaintext-dev:<peer>" with
  // every role and region. Otherwise a verified client certificate is required.
  explicit Authorizer(bool plaintext_dev) : plaintext_dev_(plaintext_dev) {}

  // The caller of `context` if it may call `method`. Otherwise UNAUTHENTICATED (no verified
  // certificate) or PERMISSION_DENIED (role not in the table for the method), with the reason
  // attached to `context`'s trailing metadata.
  absl::StatusOr<Caller> Authorize(grpc::ServerContextBase* context, std::string_view method) const;

 private:
  // The identity of a verified certificate, parsed once: keyed by the PEM text gRPC hands us
  // (the same bytes for every call on a connection). Bounded: cleared when it reaches
  // kCachedCertificatesMax entries.
  absl::StatusOr<Caller> CachedCaller(std::string_view pem) const;
  static constexpr size_t kCachedCertificatesMax = 4096;

  bool plaintext_dev_;
  mutable absl::Mutex cache_mu_;
  mutable std::unordered_map<std::string, Caller> cache_ ABSL_GUARDED_BY(cache_mu_);
};

}  // namespace services

#endif  // SERVICES_AUTH_H_
