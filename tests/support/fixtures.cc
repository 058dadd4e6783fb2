#include "tests/support/fixtures.h"

#include <cstdio>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/status/status.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "ledger/citizen_id.h"
#include "ledger/policy.h"
#include "ledger/strings.h"

namespace ledger::testing {

v1::Policy PaperPolicy(std::string_view region, bool back_pay_on_resumption) {
  v1::Policy p;
  p.set_region_code(std::string(region));
  p.set_region_name(StrCat("paper ", region));
  p.set_version(1);
  p.set_effective_from("2009-01-01");
  p.set_source_documents("Sun, Su & Xian 2020, Table 3");
  p.set_account_pension_divisor(139);
  p.set_scheme_start_year(2009);
  p.set_collective_requires_contribution(true);
  p.set_back_pay_on_resumption(back_pay_on_resumption);
  p.set_exhausted_account_payer("pooled_account_pension");
  for (int year = 2009; year <= 2026; ++year) {
    v1::YearRules* y = p.add_years();
    y->set_year(year);
    v1::Tier* t = y->add_tiers();
    t->set_amount_fen(10000);
    t->set_government_subsidy_fen(3000);
    t = y->add_tiers();
    t->set_amount_fen(50000);
    t->set_government_subsidy_fen(6000);
    y->set_highest_tier_fen(200000);
    y->set_interest_rate_bp(150);
  }
  v1::BasicPensionRule* b = p.add_basic_pension();
  b->set_effective_from("2009-01-01");
  b->set_central_monthly_fen(kBasic);
  p.mutable_funeral_subsidy()->set_fixed_fen(kFuneralFixed);
  p.mutable_funeral_subsidy()->set_basic_pension_months(10);
  return p;
}

std::string SourcePath(std::string_view relative) {
  return StrCat(LEDGER_SOURCE_DIR, "/", relative);
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(StrCat("cannot open ", path));
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

absl::StatusOr<std::vector<v1::Policy>> LoadDemoPolicies() {
  auto text = ReadFile(SourcePath("deploy/policies/yanji-222401.json"));
  if (!text.ok()) return text.status();
  return ParsePolicyFileJson(*text);
}

absl::StatusOr<v1::Policy> LoadDemoPolicy2025() {
  auto versions = LoadDemoPolicies();
  if (!versions.ok()) return versions.status();
  return versions->front();
}

std::string CitizenId(std::string_view birth, int sequence, std::string_view region) {
  char seq[16];
  std::snprintf(seq, sizeof seq, "%03d", sequence % 1000);
  const std::string first17 = StrCat(region, birth, seq);
  return first17 + CitizenIdCheckChar(first17);
}

std::string NumberedCitizenId(int n, std::string_view region) {
  const absl::CivilDay birth = absl::CivilDay(1970, 1, 1) + n / 1000;
  char buffer[16];
  std::snprintf(buffer, sizeof buffer, "%04d%02d%02d", static_cast<int>(birth.year()),
                birth.month(), birth.day());
  return CitizenId(buffer, n % 1000, region);
}

std::string BadCheck(const std::string& id) {
  std::string bad = id;
  bad.back() = bad.back() == '0' ? '1' : '0';
  return bad;
}

v1::CollectionRecord AddRecord(std::string receipt, std::string citizen_id, int year, int64_t fen,
                               std::string date, std::string region) {
  v1::CollectionRecord r;
  r.set_record_type(v1::RECORD_TYPE_ADD);
  r.set_receipt_number(std::move(receipt));
  r.set_citizen_id(std::move(citizen_id));
  r.set_name("金哲");
  r.set_region_code(std::move(region));
  r.set_contribution_year(year);
  r.set_amount_fen(fen);
  r.set_collection_date(std::move(date));
  r.set_tax_office("22240100");
  r.set_batch_id("BATCH-1");
  return r;
}

v1::CollectionRecord CancelOf(v1::CollectionRecord add, std::string date) {
  add.set_record_type(v1::RECORD_TYPE_CANCEL);
  add.set_collection_date(std::move(date));
  return add;
}

v1::ParticipantEnrolled Participant(std::string citizen_id, std::string name, std::string date,
                                    std::string region) {
  v1::ParticipantEnrolled p;
  p.set_citizen_id(std::move(citizen_id));
  p.set_name(std::move(name));
  p.set_ethnicity("朝鲜族");
  p.set_address("延吉市公园路1号");
  p.set_phone("13800000000");
  p.set_region_code(std::move(region));
  p.set_enrolment_date(std::move(date));
  return p;
}

int64_t UtcMicros(int year, int month, int day, int hour, int minute) {
  return absl::ToUnixMicros(
      absl::FromCivil(absl::CivilSecond(year, month, day, hour, minute, 0), absl::UTCTimeZone()));
}

int64_t Now2025Us() { return UtcMicros(2025, 6, 30, 12, 0); }
int64_t Now2026Us() { return UtcMicros(2026, 11, 20, 12, 0); }

}  // namespace ledger::testing
