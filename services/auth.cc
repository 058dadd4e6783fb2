#include "services/auth.h"

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>

#include "absl/status/status.h"
#include "ledger/strings.h"

namespace services {
namespace {

using ledger::StrCat;

constexpr std::string_view kRegionUriPrefix = "urn:ledger:region:";

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;

void FreeGeneralNames(GENERAL_NAMES* names) { GENERAL_NAMES_free(names); }
using NamesPtr = std::unique_ptr<GENERAL_NAMES, Deleter<GENERAL_NAMES, FreeGeneralNames>>;

std::string SubjectRfc2253(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  X509_NAME_print_ex(bio.get(), X509_get_subject_name(cert), 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(size));
}

std::string AsString(const ASN1_STRING* s) {
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     static_cast<size_t>(ASN1_STRING_length(s)));
}

}  // namespace

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kTaxBureau: return "tax-bureau";
    case Role::kFundAgency: return "fund-agency";
    case Role::kAuditor: return "auditor";
    case Role::kAdmin: return "admin";
  }
  return "unknown";
}

std::optional<Role> RoleFromName(std::string_view name) {
  for (Role r : {Role::kTaxBureau, Role::kFundAgency, Role::kAuditor, Role::kAdmin}) {
    if (RoleName(r) == name) return r;
  }
  return std::nullopt;
}

bool Caller::MayAccessRegion(std::string_view region_code) const {
  if (regions.empty()) return true;
  for (const std::string& r : regions) {
    if (r == region_code) return true;
  }
  return false;
}

absl::StatusOr<Caller> CallerFromCertificate(std::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) return absl::InvalidArgumentError("client certificate does not parse");
  Caller caller;
  caller.actor = SubjectRfc2253(cert.get());
  X509_NAME* subject = X509_get_subject_name(cert.get());
  const int ou = X509_NAME_get_index_by_NID(subject, NID_organizationalUnitName, -1);
  if (ou >= 0) {
    caller.role = RoleFromName(AsString(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, ou))));
  }
  NamesPtr names(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert.get(), NID_subject_alt_name, nullptr, nullptr)));
  for (int i = 0; names && i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    if (name->type != GEN_URI) continue;
    const std::string uri = AsString(name->d.uniformResourceIdentifier);
    if (uri.starts_with(kRegionUriPrefix)) caller.regions.push_back(uri.substr(kRegionUriPrefix.size()));
  }
  return caller;
}

absl::StatusOr<Caller> Authorizer::CachedCaller(std::string_view pem) const {
  const std::string key(pem);
  {
    absl::MutexLock lock(&cache_mu_);
    if (auto it = cache_.find(key); it != cache_.end()) return it->second;
  }
  auto caller = CallerFromCertificate(pem);
  if (!caller.ok()) return caller;
  absl::MutexLock lock(&cache_mu_);
  if (cache_.size() >= kCachedCertificatesMax) cache_.clear();
  cache_.emplace(key, *caller);
  return caller;
}

absl::StatusOr<Caller> Authorizer::Authorize(grpc::ServerContextBase* context,
                                             std::string_view method) const {
  auto deny = [&](grpc::StatusCode code, const char* reason, std::string message) {
    context->AddTrailingMetadata("ledger-reason", reason);
    return absl::Status(static_cast<absl::StatusCode>(code), message);
  };
  const Method* entry = FindMethod(method);
  if (entry == nullptr) {
    return deny(grpc::StatusCode::PERMISSION_DENIED, "REASON_ROLE_NOT_PERMITTED",
                StrCat("method ", method, " is not open to any role"));
  }
  if (plaintext_dev_) {
    // Plain-text development: no identity to check, so every role passes (documented on the flag).
    return Caller{.actor = StrCat("plaintext-dev:", context->peer())};
  }
  const auto auth = context->auth_context();
  const auto pems = auth ? auth->FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME)
                         : std::vector<grpc::string_ref>();
  if (!auth || !auth->IsPeerAuthenticated() || pems.empty()) {
    return deny(grpc::StatusCode::UNAUTHENTICATED, "REASON_NO_CLIENT_CERTIFICATE",
                "a client certificate signed by the ledger's client CA is required");
  }
  auto caller = CachedCaller(std::string_view(pems[0].data(), pems[0].size()));
  if (!caller.ok()) {
    return deny(grpc::StatusCode::UNAUTHENTICATED, "REASON_NO_CLIENT_CERTIFICATE",
                std::string(caller.status().message()));
  }
  if (!caller->role || !entry->roles.contains(*caller->role)) {
    return deny(grpc::StatusCode::PERMISSION_DENIED, "REASON_ROLE_NOT_PERMITTED",
                StrCat("role '", caller->role ? RoleName(*caller->role) : "none", "' (",
                       caller->actor, ") may not call ", method));
  }
  return caller;
}

}  // namespace services
