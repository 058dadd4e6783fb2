#include "ledger/policy.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>

#include "absl/status/status.h"
#include "ledger/strings.h"
#include "ledger/dates.h"
#include "ledger/limits.h"
#include "ledger/rules.h"
#include "ledger/status_macros.h"

namespace ledger {
namespace {

absl::Status Invalid(std::string_view what) {
  return absl::InvalidArgumentError(StrCat("policy: ", what));
}

bool IsRegionCode(std::string_view code) {
  if (code.size() != 6) return false;
  for (char c : code) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// One year's rules; `previous_year`: the year before it in the policy (0 for the first).
absl::Status ValidateYear(const v1::YearRules& y, int previous_year) {
  const std::string at = StrCat("years[", y.year(), "]: ");
  if (y.year() < kFirstContributionYear || y.year() > 2999) {
    return Invalid(StrCat(at, "year out of range"));
  }
  if (y.year() <= previous_year) return Invalid(StrCat(at, "years must ascend"));
  if (y.tiers().empty() || y.tiers_size() > static_cast<int>(kPolicyTiersMax)) {
    return Invalid(StrCat(at, "needs 1..", kPolicyTiersMax, " tiers"));
  }
  int64_t previous_tier = 0;
  for (const v1::Tier& t : y.tiers()) {
    if (t.amount_fen() <= previous_tier || t.amount_fen() > kAmountFenMax) {
      return Invalid(StrCat(at, "tiers must be positive and strictly ascending"));
    }
    previous_tier = t.amount_fen();
    if (t.government_subsidy_fen() < 0 || t.government_subsidy_fen() > kAmountFenMax) {
      return Invalid(StrCat(at, "government_subsidy_fen out of range"));
    }
  }
  if (y.highest_tier_fen() < previous_tier || y.highest_tier_fen() > kAmountFenMax) {
    return Invalid(StrCat(at, "highest_tier_fen must be at least the largest tier"));
  }
  if (y.interest_rate_bp() > kInterestRateBpMax) {
    return Invalid(StrCat(at, "interest_rate_bp above ", kInterestRateBpMax));
  }
  for (const v1::PaidOnBehalf& b : y.paid_on_behalf()) {
    if (b.group() == v1::SPECIAL_GROUP_UNSPECIFIED || !v1::SpecialGroup_IsValid(b.group()) ||
        b.amount_fen() <= 0 || b.amount_fen() > kAmountFenMax) {
      return Invalid(StrCat(at, "paid_on_behalf needs a group and a positive amount"));
    }
  }
  return absl::OkStatus();
}

// The village cadre subsidy program: named, paid from its own fiscal purpose, an amount within
// the highest tier of every year it pays for (it is collective subsidy, under the same cap).
absl::Status ValidateCadreProgram(const v1::Policy& p) {
  const v1::CadreSubsidyProgram& c = p.cadre_subsidy();
  if (c.name().empty() || !IsCleanText(c.name(), 128)) {
    return Invalid("cadre_subsidy.name must be 1-128 bytes of UTF-8 text");
  }
  if (c.first_year() < kFirstContributionYear || c.first_year() > 2999) {
    return Invalid("cadre_subsidy.first_year out of range");
  }
  if (c.funded_from() != v1::FISCAL_PURPOSE_CADRE_SUBSIDY) {
    return Invalid("cadre_subsidy.funded_from must be FISCAL_PURPOSE_CADRE_SUBSIDY");
  }
  if (c.amount_per_year_fen() <= 0 || c.amount_per_year_fen() > kAmountFenMax) {
    return Invalid("cadre_subsidy.amount_per_year_fen must be positive");
  }
  for (const v1::YearRules& y : p.years()) {
    if (y.year() >= c.first_year() && c.amount_per_year_fen() > y.highest_tier_fen()) {
      return Invalid(StrCat("cadre_subsidy.amount_per_year_fen is above the highest tier of ",
                            y.year()));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidatePolicy(const v1::Policy& p) {
  if (!IsRegionCode(p.region_code())) return Invalid("region_code must be 6 digits");
  if (p.version() == 0) return Invalid("version must be at least 1");
  // Text must be UTF-8 (a proto3 string that is not could never be read back from the log).
  auto text_ok = [](std::string text) {
    std::replace_if(text.begin(), text.end(), [](char c) { return c == '\n' || c == '\r' || c == '\t'; }, ' ');
    return IsCleanText(text, text.size());
  };
  if (!text_ok(p.region_name()) || !text_ok(p.source_documents()) ||
      !text_ok(p.exhausted_account_payer())) {
    return Invalid("region_name, source_documents and exhausted_account_payer must be UTF-8 text");
  }
  if (!ParseDate(p.effective_from()).ok()) return Invalid("effective_from is not YYYY-MM-DD");
  if (p.account_pension_divisor() == 0) return Invalid("account_pension_divisor must be > 0");
  if (p.years().empty()) return Invalid("years must not be empty");
  if (p.years_size() > static_cast<int>(kPolicyYearsMax)) return Invalid("too many years");
  int previous_year = 0;
  for (const v1::YearRules& y : p.years()) {
    LEDGER_RETURN_IF_ERROR(ValidateYear(y, previous_year));
    previous_year = y.year();
  }
  absl::CivilDay previous_day(1900, 1, 1);
  for (int i = 0; i < p.basic_pension_size(); ++i) {
    const v1::BasicPensionRule& r = p.basic_pension(i);
    const std::string at = StrCat("basic_pension[", i, "]: ");
    auto day = ParseDate(r.effective_from());
    if (!day.ok()) return Invalid(StrCat(at, "effective_from is not YYYY-MM-DD"));
    if (i > 0 && *day <= previous_day) return Invalid(StrCat(at, "dates must ascend"));
    previous_day = *day;
    for (int64_t v : {r.central_monthly_fen(), r.local_monthly_fen(),
                      r.per_extra_year_monthly_fen()}) {
      if (v < 0 || v > kAmountFenMax) return Invalid(StrCat(at, "amount out of range"));
    }
  }
  const v1::FuneralSubsidyRule& f = p.funeral_subsidy();
  if (f.fixed_fen() < 0 || f.fixed_fen() > kAmountFenMax || f.basic_pension_months() > 120) {
    return Invalid("funeral_subsidy out of range");
  }
  if (p.has_cadre_subsidy()) LEDGER_RETURN_IF_ERROR(ValidateCadreProgram(p));
  if (p.region_name().size() > 64 || p.source_documents().size() > 4096 ||
      p.exhausted_account_payer().size() > 64) {
    return Invalid("a text field is too long");
  }
  return absl::OkStatus();
}

namespace {

// Protobuf JSON into `message`; unknown fields are an error.
absl::Status ParseStrictJson(std::string_view json, google::protobuf::Message* message) {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  const auto st = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), message, options);
  if (!st.ok()) return absl::InvalidArgumentError(StrCat("policy JSON: ", st.ToString()));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<v1::Policy> ParsePolicyJson(std::string_view json) {
  v1::Policy policy;
  LEDGER_RETURN_IF_ERROR(ParseStrictJson(json, &policy));
  if (absl::Status valid = ValidatePolicy(policy); !valid.ok()) return valid;
  return policy;
}

absl::StatusOr<std::vector<v1::Policy>> ParsePolicyFileJson(std::string_view json) {
  v1::PolicyVersions file;
  if (!ParseStrictJson(json, &file).ok()) {
    LEDGER_ASSIGN_OR_RETURN(v1::Policy single, ParsePolicyJson(json));
    return std::vector<v1::Policy>{std::move(single)};
  }
  if (file.versions().empty()) return Invalid("versions is empty");
  std::vector<v1::Policy> versions;
  for (const v1::Policy& p : file.versions()) {
    const std::string at = StrCat("versions[", versions.size(), "]: ");
    if (absl::Status valid = ValidatePolicy(p); !valid.ok()) {
      return absl::InvalidArgumentError(StrCat(at, valid.message()));
    }
    if (!versions.empty()) {
      const v1::Policy& before = versions.back();
      if (p.region_code() != before.region_code()) return Invalid(StrCat(at, "another region"));
      if (p.version() <= before.version() ||
          StoredDate(p.effective_from()) < StoredDate(before.effective_from())) {
        return Invalid(StrCat(at, "not after the version before it"));
      }
    }
    versions.push_back(p);
  }
  return versions;
}

const v1::Tier* FindTier(const v1::YearRules& year, int64_t amount_fen) {
  for (const v1::Tier& t : year.tiers()) {
    if (t.amount_fen() == amount_fen) return &t;
  }
  return nullptr;
}

void PolicyBook::Add(const v1::Policy& policy) {
  auto& versions = regions_[policy.region_code()];
  versions.push_back(
      std::make_shared<const Version>(Version{StoredDate(policy.effective_from()), policy}));
}

bool PolicyBook::HasRegion(std::string_view region_code) const {
  return regions_.find(region_code) != regions_.end();
}

const v1::Policy* PolicyBook::Latest(std::string_view region_code) const {
  auto it = regions_.find(region_code);
  if (it == regions_.end() || it->second.empty()) return nullptr;
  return &it->second.back()->policy;
}

const v1::Policy* PolicyBook::InForce(std::string_view region_code, absl::CivilDay day) const {
  auto it = regions_.find(region_code);
  if (it == regions_.end()) return nullptr;
  const v1::Policy* best = nullptr;
  for (const auto& v : it->second) {
    if (v->effective_from <= day) best = &v->policy;
  }
  return best;
}

const v1::YearRules* PolicyBook::Year(const v1::Policy& policy, int year) {
  for (const v1::YearRules& y : policy.years()) {
    if (y.year() == year) return &y;
  }
  return nullptr;
}

}  // namespace ledger
