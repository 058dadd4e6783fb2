// Policy documents: validation, and the book of adopted versions per region.
#ifndef LEDGER_POLICY_H_
#define LEDGER_POLICY_H_

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "ledger/v1/policy.pb.h"

namespace ledger {

// Checks a document on its own (not against earlier versions): region is 6 digits; version ≥ 1;
// dates valid; divisor > 0; years unique and ascending, each with 1..kPolicyTiersMax tiers
// strictly ascending and positive, non-negative subsidies, highest tier ≥ every tier, rate ≤
// kInterestRateBpMax; basic pension rules ascending by date with non-negative amounts.
// INVALID_ARGUMENT naming the first offending field.
absl::Status ValidatePolicy(const v1::Policy& policy);

// Parses a policy document written as protobuf JSON (field names as in policy.proto) and
// validates it. Unknown fields are an error: a typo must not silently drop a rule.
absl::StatusOr<v1::Policy> ParsePolicyJson(std::string_view json);

// Parses a policy file: either one document (as ParsePolicyJson) or a `PolicyVersions` document
// (`{"versions": [...]}`) whose versions are each valid, of one region, and ascending by version
// and effective_from, so that adopting them in order succeeds. INVALID_ARGUMENT otherwise.
absl::StatusOr<std::vector<v1::Policy>> ParsePolicyFileJson(std::string_view json);

// The tier with exactly `amount_fen` in `year`'s rules, or nullptr.
const v1::Tier* FindTier(const v1::YearRules& year, int64_t amount_fen);

// All adopted versions, per region. Not thread-safe; the ledger guards it.
class PolicyBook {
 public:
  // Adds a version. Precondition: higher than the region's latest (checked by the caller).
  void Add(const v1::Policy& policy);

  bool HasRegion(std::string_view region_code) const;
  // Latest adopted version of the region, or nullptr.
  const v1::Policy* Latest(std::string_view region_code) const;
  // The version in force on `day`: the highest version whose effective_from ≤ day; nullptr if
  // none is in force yet.
  const v1::Policy* InForce(std::string_view region_code, absl::CivilDay day) const;
  // The rules for `year` in `policy`, or nullptr.
  static const v1::YearRules* Year(const v1::Policy& policy, int year);

 private:
  struct Version {
    absl::CivilDay effective_from;
    v1::Policy policy;
  };
  // Region → versions ascending by version number. Shared and immutable, so that copying the
  // book (every group's working state holds a copy of the committed one) copies no policy.
  std::map<std::string, std::vector<std::shared_ptr<const Version>>, std::less<>> regions_;
};

}  // namespace ledger

#endif  // LEDGER_POLICY_H_
