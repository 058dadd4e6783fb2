// Fuzzes policy documents (ledger/policy.h): the input as protobuf JSON through ParsePolicyJson,
// and the same bytes as a binary v1::Policy through ValidatePolicy.
//
// Properties:
//   - ParsePolicyJson's result passes ValidatePolicy, and each rule ValidatePolicy documents holds
//     when checked here directly (6-digit region, version ≥ 1, divisor > 0, 1..kPolicyYearsMax
//     years strictly ascending in [kFirstContributionYear, 2999], 1..kPolicyTiersMax tiers
//     strictly ascending and positive, highest tier ≥ every tier, rate ≤ kInterestRateBpMax, basic
//     pension rules ascending by date with amounts in range, valid special groups).
//   - A rejection is INVALID_ARGUMENT starting "policy".
//   - A valid policy (from JSON or binary) round-trips: printed as JSON and parsed again it is
//     equal and still valid; its binary form parses back equal.
//   - PolicyBook with the valid policy: Latest is it; InForce is it on effective_from and nothing
//     the day before; Year finds every year; FindTier finds every tier and no amount between.
#include <google/protobuf/stubs/logging.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/strings/match.h"
#include "fuzz_check.h"
#include "ledger/dates.h"
#include "ledger/limits.h"
#include "ledger/policy.h"
#include "ledger/strings.h"

namespace {

using google::protobuf::util::MessageDifferencer;
using ledger::StrCat;
namespace v1 = ledger::v1;

std::string Brief(const v1::Policy& p) {
  std::string s = p.ShortDebugString();
  return s.size() > 2000 ? s.substr(0, 2000) + "…" : s;
}

// The rules ValidatePolicy documents, checked on an accepted policy.
void CheckRules(const v1::Policy& p) {
  const std::string& region = p.region_code();
  FUZZ_CHECK(region.size() == 6 &&
                 region.find_first_not_of("0123456789") == std::string::npos,
             Brief(p));
  FUZZ_CHECK(p.version() >= 1 && p.account_pension_divisor() > 0, Brief(p));
  FUZZ_CHECK(ledger::ParseDate(p.effective_from()).ok(), Brief(p));
  FUZZ_CHECK(p.years_size() >= 1 && p.years_size() <= static_cast<int>(ledger::kPolicyYearsMax),
             Brief(p));
  int previous_year = 0;
  for (const v1::YearRules& y : p.years()) {
    FUZZ_CHECK(y.year() > previous_year && y.year() >= ledger::kFirstContributionYear &&
                   y.year() <= 2999,
               StrCat("year ", y.year(), " after ", previous_year));
    previous_year = y.year();
    FUZZ_CHECK(y.tiers_size() >= 1 && y.tiers_size() <= static_cast<int>(ledger::kPolicyTiersMax),
               y.ShortDebugString());
    int64_t previous_tier = 0;
    for (const v1::Tier& t : y.tiers()) {
      FUZZ_CHECK(t.amount_fen() > previous_tier && t.amount_fen() <= ledger::kAmountFenMax &&
                     t.government_subsidy_fen() >= 0 &&
                     t.government_subsidy_fen() <= ledger::kAmountFenMax,
                 y.ShortDebugString());
      FUZZ_CHECK(y.highest_tier_fen() >= t.amount_fen(), y.ShortDebugString());
      previous_tier = t.amount_fen();
    }
    FUZZ_CHECK(y.highest_tier_fen() <= ledger::kAmountFenMax, y.ShortDebugString());
    FUZZ_CHECK(y.interest_rate_bp() <= ledger::kInterestRateBpMax, y.ShortDebugString());
    for (const v1::PaidOnBehalf& b : y.paid_on_behalf()) {
      FUZZ_CHECK(b.group() != v1::SPECIAL_GROUP_UNSPECIFIED &&
                     v1::SpecialGroup_IsValid(b.group()) && b.amount_fen() > 0 &&
                     b.amount_fen() <= ledger::kAmountFenMax,
                 y.ShortDebugString());
    }
  }
  std::string previous_date;
  for (const v1::BasicPensionRule& r : p.basic_pension()) {
    auto day = ledger::ParseDate(r.effective_from());
    FUZZ_CHECK(day.ok(), r.ShortDebugString());
    // YYYY-MM-DD strings order as the dates do.
    FUZZ_CHECK(previous_date.empty() || r.effective_from() > previous_date, r.ShortDebugString());
    previous_date = r.effective_from();
    for (int64_t v : {r.central_monthly_fen(), r.local_monthly_fen(),
                      r.per_extra_year_monthly_fen()}) {
      FUZZ_CHECK(v >= 0 && v <= ledger::kAmountFenMax, r.ShortDebugString());
    }
  }
  FUZZ_CHECK(p.funeral_subsidy().fixed_fen() >= 0 &&
                 p.funeral_subsidy().fixed_fen() <= ledger::kAmountFenMax,
             p.funeral_subsidy().ShortDebugString());
}

void CheckBook(const v1::Policy& p) {
  ledger::PolicyBook book;
  FUZZ_CHECK(!book.HasRegion(p.region_code()) && book.Latest(p.region_code()) == nullptr,
             "empty book");
  book.Add(p);
  FUZZ_CHECK(book.HasRegion(p.region_code()), Brief(p));
  const v1::Policy* latest = book.Latest(p.region_code());
  FUZZ_CHECK(latest != nullptr && MessageDifferencer::Equals(*latest, p), Brief(p));
  const absl::CivilDay from = *ledger::ParseDate(p.effective_from());
  FUZZ_CHECK(book.InForce(p.region_code(), from) == latest, p.effective_from());
  FUZZ_CHECK(book.InForce(p.region_code(), from - 1) == nullptr, p.effective_from());
  for (const v1::YearRules& y : p.years()) {
    const v1::YearRules* found = ledger::PolicyBook::Year(p, y.year());
    FUZZ_CHECK(found != nullptr && found->year() == y.year(), StrCat("year ", y.year()));
    int64_t previous = 0;
    for (const v1::Tier& t : y.tiers()) {
      const v1::Tier* tier = ledger::FindTier(y, t.amount_fen());
      FUZZ_CHECK(tier == &t, StrCat("tier ", t.amount_fen()));
      // Strictly ascending tiers: just below a tier is a tier only if it is the previous one.
      if (t.amount_fen() - 1 != previous) {
        FUZZ_CHECK(ledger::FindTier(y, t.amount_fen() - 1) == nullptr,
                   StrCat("no tier ", t.amount_fen() - 1));
      }
      previous = t.amount_fen();
    }
  }
}

// A valid policy prints as JSON that parses back to the same policy.
void CheckJsonRoundTrip(const v1::Policy& p) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = (p.version() & 1) != 0;
  const auto printed = google::protobuf::util::MessageToJsonString(p, &json, options);
  FUZZ_CHECK(printed.ok(), printed.ToString());
  auto again = ledger::ParsePolicyJson(json);
  FUZZ_CHECK(again.ok(), StrCat(again.status().ToString(), " for ", json.substr(0, 2000)));
  FUZZ_CHECK(MessageDifferencer::Equals(p, *again),
             StrCat(Brief(p), " came back as ", Brief(*again)));

  v1::Policy binary;
  FUZZ_CHECK(binary.ParseFromString(p.SerializeAsString()) && MessageDifferencer::Equals(p, binary),
             Brief(p));
}

void CheckValid(const v1::Policy& p) {
  FUZZ_CHECK(ledger::ValidatePolicy(p).ok(), Brief(p));
  CheckRules(p);
  CheckBook(p);
  CheckJsonRoundTrip(p);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // Binary inputs with invalid UTF-8 strings make protobuf log an error per parse; the parse
  // result is what matters.
  google::protobuf::SetLogHandler([](google::protobuf::LogLevel, const char*, int,
                                     const std::string&) {});
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);

  // As a JSON document.
  auto parsed = ledger::ParsePolicyJson(bytes);
  if (parsed.ok()) {
    CheckValid(*parsed);
  } else {
    FUZZ_CHECK(absl::IsInvalidArgument(parsed.status()) &&
                   absl::StartsWith(parsed.status().message(), "policy"),
               parsed.status().ToString());
  }

  // As a binary message (what a PolicyAdopted event or the gRPC request carries).
  v1::Policy binary;
  if (binary.ParseFromArray(data, static_cast<int>(size))) {
    binary.DiscardUnknownFields();  // JSON cannot carry them
    const absl::Status valid = ledger::ValidatePolicy(binary);
    if (valid.ok()) {
      CheckValid(binary);
    } else {
      FUZZ_CHECK(absl::IsInvalidArgument(valid) && absl::StartsWith(valid.message(), "policy: "),
                 valid.ToString());
    }
  }
  return 0;
}
