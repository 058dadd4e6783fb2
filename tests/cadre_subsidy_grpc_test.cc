// Issue 16, point 8 through the gRPC seam (the in-process server, clock 2026-11-20): the
// Chongqing village cadre subsidy as a policy program (渝人社发〔2014〕65号). The paper policy of
// tests/support/fixtures gets the program: 900.00 per person per year from 2014, paid from the
// fiscal funds of FISCAL_PURPOSE_CADRE_SUBSIDY; a contribution at tier 100 earns 30.00 of
// government subsidy; the highest tier (the collective cap) is 2000.00.
#include <unistd.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ledger/policy.h"
#include "ledger/strings.h"
#include "ledger/v1/services.grpc.pb.h"
#include "tests/support/grpc_node.h"

namespace {

namespace v1 = ledger::v1;
using namespace ledger::testing;  // NOLINT: the shared fixtures of the gRPC tests
using ::ledger::StrCat;

constexpr int64_t kCadreFen = 90000;
constexpr char kProgram[] = "村专职工作人员参保缴费补贴";

v1::Policy WithCadreProgram(v1::Policy p) {
  v1::CadreSubsidyProgram* c = p.mutable_cadre_subsidy();
  c->set_name(kProgram);
  c->set_amount_per_year_fen(kCadreFen);
  c->set_first_year(2014);
  c->set_funded_from(v1::FISCAL_PURPOSE_CADRE_SUBSIDY);
  return p;
}

class CadreSubsidyGrpcTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_NO_FATAL_FAILURE(Start(WithCadreProgram(PaperPolicy()))); }

  void Start(const v1::Policy& policy) {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    node_ = std::make_unique<Node>(StrCat(::testing::TempDir(), "cadre_subsidy_grpc_",
                                          info->name(), "_", static_cast<int64_t>(getpid())));
    node_->Start();
    node_->Adopt(policy);
  }

  Node& A() { return *node_; }

  Rpc Role(const std::string& id, const std::string& from, const std::string& to,
           const std::string& ref, const std::string& replaces = "", bool withdrawn = false) {
    v1::RecordCadreRoleRequest r;
    r.set_citizen_id(id);
    if (!withdrawn) r.set_post("村委会主任");
    r.set_served_from(from);
    r.set_served_to(to);
    r.set_replaces_ref(replaces);
    r.set_withdrawn(withdrawn);
    r.set_date("2026-01-20");
    r.set_document_ref(ref);
    v1::CommandResponse response;
    return A().Call(&v1::AccountService::Stub::RecordCadreRole, r, &response);
  }

  Rpc Credit(const std::string& id, int year, const std::string& ref,
             int64_t fen = kCadreFen, v1::CommandResponse* response = nullptr) {
    v1::CreditCadreSubsidyRequest r;
    r.set_citizen_id(id);
    r.set_year(year);
    r.set_amount_fen(fen);
    r.set_date("2026-03-10");
    r.set_document_ref(ref);
    v1::CommandResponse ignored;
    return A().Call(&v1::AccountService::Stub::CreditCadreSubsidy, r,
                    response ? response : &ignored);
  }

  // `id` enrolled, a cadre from 2020 to 30 June 2025 (retired before the March credit), its
  // 2025 contribution (tier 100) collected.
  v1::CollectionRecord Cadre(const std::string& id) {
    A().Enrol(id, "2020-06-01");
    const Rpc rpc = Role(id, "2020-01-01", "2025-06-30", StrCat("ROLE-", id.substr(14)));
    EXPECT_TRUE(rpc.ok()) << Describe(rpc);
    const v1::CollectionRecord add =
        AddRecord(StrCat("R-", id.substr(14)), id, 2025, 10000, "2025-11-10");
    A().PushAccepted({add});
    return add;
  }

  // The cadre fund of `year`: received, used, and no break.
  void ExpectCadreFund(int year, int64_t received, int64_t used) {
    const v1::Reconciliation recon = A().Recon();
    bool found = false;
    for (const auto& f : recon.fiscal_funds()) {
      if (f.purpose() != v1::FISCAL_PURPOSE_CADRE_SUBSIDY || f.year() != year) continue;
      found = true;
      EXPECT_EQ(f.received_fen(), received);
      EXPECT_EQ(f.used_fen(), used);
      EXPECT_EQ(f.unused_fen(), received - used);
    }
    EXPECT_TRUE(found);
    EXPECT_EQ(recon.summary().fiscal_funds_in_break(), 0u);
    EXPECT_EQ(At(A().Balances(), StrCat("fiscal_funds/cadre_subsidy/", year)), used - received);
    EXPECT_EQ(Sum(A().Balances()), 0);
  }

  // The statement lines of `kind` in `year`: each must be the collective source only.
  std::vector<v1::StatementLine> Lines(const std::string& id, int year, const std::string& kind) {
    std::vector<v1::StatementLine> out;
    const v1::Statement statement = A().StatementOk(id, year);
    for (const auto& line : statement.lines()) {
      if (line.kind() != kind) continue;
      EXPECT_EQ(line.parts_size(), 1);
      if (line.parts_size() == 1) {
        EXPECT_EQ(line.parts(0).source(), v1::FUNDING_SOURCE_COLLECTIVE);
      }
      out.push_back(line);
    }
    return out;
  }

  std::unique_ptr<Node> node_;
};

TEST_F(CadreSubsidyGrpcTest, CreditedFromItsFiscalFundsForAYearServedEvenAfterRetiring) {
  const std::string id = CitizenId("19700303", 801);
  Cadre(id);
  // Funds first: the district has not paid into the special account yet.
  Rpc rpc = Credit(id, 2025, "CADRE-2025-1");
  EXPECT_EQ(rpc.status.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << Describe(rpc);
  EXPECT_EQ(rpc.reason, "REASON_INSUFFICIENT_FISCAL_FUNDS");
  A().FundsOk(v1::FISCAL_PURPOSE_CADRE_SUBSIDY, 2025, kCadreFen, "2026-02-25");
  // The program's amount, nothing else.
  rpc = Credit(id, 2025, "CADRE-2025-1", kCadreFen - 1);
  EXPECT_EQ(rpc.reason, "REASON_CADRE_AMOUNT_MISMATCH") << Describe(rpc);
  v1::CommandResponse response;
  rpc = Credit(id, 2025, "CADRE-2025-1", kCadreFen, &response);
  ASSERT_TRUE(rpc.ok()) << Describe(rpc);
  // A resend is the same credit; another document for the same year is refused.
  v1::CommandResponse again;
  rpc = Credit(id, 2025, "CADRE-2025-1", kCadreFen, &again);
  ASSERT_TRUE(rpc.ok()) << Describe(rpc);
  EXPECT_TRUE(again.duplicate());
  EXPECT_EQ(again.first_sequence(), response.first_sequence());
  rpc = Credit(id, 2025, "CADRE-2025-2");
  EXPECT_EQ(rpc.reason, "REASON_CADRE_SUBSIDY_ALREADY_CREDITED") << Describe(rpc);

  const v1::Account a = A().Account(id);
  EXPECT_EQ(SourceFen(a, v1::FUNDING_SOURCE_COLLECTIVE), kCadreFen);  // 集体补助
  ASSERT_EQ(a.cadre_subsidies_size(), 1);
  EXPECT_EQ(a.cadre_subsidies(0).year(), 2025);
  EXPECT_EQ(a.cadre_subsidies(0).amount_fen(), kCadreFen);
  EXPECT_EQ(a.cadre_subsidies(0).program(), kProgram);
  EXPECT_EQ(a.cadre_subsidies(0).purpose(), v1::FISCAL_PURPOSE_CADRE_SUBSIDY);
  EXPECT_EQ(a.cadre_subsidies(0).document_ref(), "CADRE-2025-1");
  ExpectCadreFund(2025, kCadreFen, kCadreFen);
  const auto lines = Lines(id, 2026, "cadre_subsidy_credited");
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].reference(), "CADRE-2025-1");
  EXPECT_EQ(lines[0].total_fen(), kCadreFen);
  EXPECT_EQ(lines[0].date(), "2026-03-10");
}

TEST_F(CadreSubsidyGrpcTest, NeedsTheProgramItsFirstYearServiceAndAContribution) {
  const std::string id = CitizenId("19700303", 802);
  Cadre(id);
  A().FundsOk(v1::FISCAL_PURPOSE_CADRE_SUBSIDY, 2013, kCadreFen, "2026-02-25");
  A().FundsOk(v1::FISCAL_PURPOSE_CADRE_SUBSIDY, 2019, kCadreFen, "2026-02-25");
  A().FundsOk(v1::FISCAL_PURPOSE_CADRE_SUBSIDY, 2024, kCadreFen, "2026-02-25");
  Rpc rpc = Credit(id, 2013, "C-2013");  // before the program's first year
  EXPECT_EQ(rpc.reason, "REASON_NO_CADRE_PROGRAM") << Describe(rpc);
  rpc = Credit(id, 2019, "C-2019");  // not a cadre in 2019 (served from 2020)
  EXPECT_EQ(rpc.status.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << Describe(rpc);
  EXPECT_EQ(rpc.reason, "REASON_NOT_CADRE_IN_YEAR");
  rpc = Credit(id, 2024, "C-2024");  // served in 2024 but did not contribute for it
  EXPECT_EQ(rpc.reason, "REASON_NO_CONTRIBUTION_FOR_YEAR") << Describe(rpc);
  // A pensioner since 2010 never serves "未领取养老保险待遇" in 2025.
  const std::string pensioner = CitizenId("19490315", 803);
  A().Enrol(pensioner, "2009-06-01");
  v1::DetermineBenefitRequest d;
  d.set_citizen_id(pensioner);
  d.set_date("2010-01-10");
  d.set_document_ref("DET-803");
  v1::CommandResponse response;
  rpc = A().Determine(d, &response);
  ASSERT_TRUE(rpc.ok()) << Describe(rpc);
  ASSERT_TRUE(Role(pensioner, "2024-01-01", "", "ROLE-803").ok());
  rpc = Credit(pensioner, 2024, "C-803");
  EXPECT_EQ(rpc.reason, "REASON_NOT_CADRE_IN_YEAR") << Describe(rpc);
  const v1::Account a = A().Account(id);
  EXPECT_EQ(SourceFen(a, v1::FUNDING_SOURCE_COLLECTIVE), 0);
  EXPECT_EQ(a.cadre_subsidies_size(), 0);
  ExpectCadreFund(2024, kCadreFen, 0);
}

TEST_F(CadreSubsidyGrpcTest, WithoutAProgramInThePolicyNothingIsCredited) {
  ASSERT_NO_FATAL_FAILURE(Start(PaperPolicy()));
  const std::string id = CitizenId("19700303", 804);
  Cadre(id);
  A().FundsOk(v1::FISCAL_PURPOSE_CADRE_SUBSIDY, 2025, kCadreFen, "2026-02-25");
  const Rpc rpc = Credit(id, 2025, "C-804");
  EXPECT_EQ(rpc.status.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << Describe(rpc);
  EXPECT_EQ(rpc.reason, "REASON_NO_CADRE_PROGRAM");
}

TEST_F(CadreSubsidyGrpcTest, ARoleIsEndedOrCorrectedByANewRecord) {
  const std::string id = CitizenId("19700303", 805);
  A().Enrol(id, "2020-06-01");
  A().PushAccepted({AddRecord("R-805", id, 2025, 10000, "2025-11-10")});
  A().FundsOk(v1::FISCAL_PURPOSE_CADRE_SUBSIDY, 2025, kCadreFen, "2026-02-25");
  ASSERT_TRUE(Role(id, "2020-01-01", "", "ROLE-A").ok());
  // Corrected: the person really started in 2026; the first record no longer counts.
  Rpc rpc = Role(id, "2026-01-01", "", "ROLE-B", "ROLE-A");
  ASSERT_TRUE(rpc.ok()) << Describe(rpc);
  v1::Account a = A().Account(id);
  ASSERT_EQ(a.cadre_roles_size(), 1);
  EXPECT_EQ(a.cadre_roles(0).document_ref(), "ROLE-B");
  EXPECT_EQ(a.cadre_roles(0).served_from(), "2026-01-01");
  rpc = Credit(id, 2025, "C-805");
  EXPECT_EQ(rpc.reason, "REASON_NOT_CADRE_IN_YEAR") << Describe(rpc);
  // The replaced record cannot be replaced again.
  rpc = Role(id, "2020-01-01", "", "ROLE-C", "ROLE-A");
  EXPECT_EQ(rpc.reason, "REASON_ORIGINAL_NOT_FOUND") << Describe(rpc);
  // Ended, then the correction withdrawn: no role left.
  ASSERT_TRUE(Role(id, "2026-01-01", "2026-02-28", "ROLE-D", "ROLE-B").ok());
  a = A().Account(id);
  ASSERT_EQ(a.cadre_roles_size(), 1);
  EXPECT_EQ(a.cadre_roles(0).served_to(), "2026-02-28");
  rpc = Role(id, "", "", "ROLE-E", "ROLE-D", true);
  ASSERT_TRUE(rpc.ok()) << Describe(rpc);
  EXPECT_EQ(A().Account(id).cadre_roles_size(), 0);
  // An end before the start is malformed.
  rpc = Role(id, "2025-01-01", "2024-12-31", "ROLE-F");
  EXPECT_EQ(rpc.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << Describe(rpc);
}

TEST_F(CadreSubsidyGrpcTest, CancelledContributionTakesTheCadreSubsidyBackToItsFund) {
  const std::string id = CitizenId("19700303", 806);
  const v1::CollectionRecord add = Cadre(id);
  A().FundsOk(v1::FISCAL_PURPOSE_CADRE_SUBSIDY, 2025, kCadreFen, "2026-02-25");
  ASSERT_TRUE(Credit(id, 2025, "C-806").ok());
  A().PushAccepted({CancelOf(add, "2026-05-06")});
  const v1::Account a = A().Account(id);
  EXPECT_EQ(SourceFen(a, v1::FUNDING_SOURCE_COLLECTIVE), 0);
  EXPECT_EQ(a.cadre_subsidies_size(), 0);
  // Back to the fiscal fund, not owed to a village: received 900.00, used 0.
  EXPECT_EQ(At(A().Balances(), "collective_refunds_payable"), 0);
  ExpectCadreFund(2025, kCadreFen, 0);
  const auto lines = Lines(id, 2026, "cadre_subsidy_reversed");
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].reference(), add.receipt_number());
  EXPECT_EQ(lines[0].total_fen(), -kCadreFen);
  // A new contribution for the year earns it again.
  A().PushAccepted({AddRecord("R-806-2", id, 2025, 10000, "2026-06-01")});
  const Rpc rpc = Credit(id, 2025, "C-806-2");
  ASSERT_TRUE(rpc.ok()) << Describe(rpc);
  ExpectCadreFund(2025, kCadreFen, kCadreFen);
}

TEST_F(CadreSubsidyGrpcTest, CountsAgainstTheCollectiveCap) {
  const std::string id = CitizenId("19700303", 807);
  Cadre(id);
  A().FundsOk(v1::FISCAL_PURPOSE_CADRE_SUBSIDY, 2025, kCadreFen, "2026-02-25");
  ASSERT_TRUE(Credit(id, 2025, "C-807").ok());
  // 900.00 + 1100.01 > the highest tier 2000.00.
  v1::CreditCollectiveSubsidyRequest c;
  c.set_citizen_id(id);
  c.set_contribution_year(2025);
  c.set_amount_fen(110001);
  c.set_source(v1::FUNDING_SOURCE_SPONSORSHIP);
  c.set_payer("某基金会");
  c.set_date("2026-03-20");
  c.set_document_ref("SPONSOR-807");
  v1::CommandResponse response;
  Rpc rpc = A().Collective(c, &response);
  EXPECT_EQ(rpc.reason, "REASON_OVER_CAP") << Describe(rpc);
  c.set_amount_fen(110000);
  rpc = A().Collective(c, &response);
  EXPECT_TRUE(rpc.ok()) << Describe(rpc);
}

TEST_F(CadreSubsidyGrpcTest, APolicyProgramMustNameTheCadreFund) {
  v1::Policy p = WithCadreProgram(PaperPolicy());
  p.set_version(2);
  p.mutable_cadre_subsidy()->set_funded_from(v1::FISCAL_PURPOSE_CONTRIBUTION_SUBSIDY);
  v1::AdoptPolicyResponse response;
  Rpc rpc = A().AdoptPolicy(p, &response);
  EXPECT_EQ(rpc.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << Describe(rpc);
  p.mutable_cadre_subsidy()->set_funded_from(v1::FISCAL_PURPOSE_CADRE_SUBSIDY);
  p.mutable_cadre_subsidy()->set_amount_per_year_fen(200001);  // above the highest tier
  rpc = A().AdoptPolicy(p, &response);
  EXPECT_EQ(rpc.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << Describe(rpc);
}

// The Chongqing demo policy (deploy/policies/) adopts and pays its program end to end.
TEST_F(CadreSubsidyGrpcTest, ChongqingDemoPolicyPaysItsProgram) {
  auto text = ReadFile(SourcePath("deploy/policies/chongqing-500233.json"));
  ASSERT_TRUE(text.ok()) << text.status();
  auto policy = ledger::ParsePolicyJson(*text);
  ASSERT_TRUE(policy.ok()) << policy.status();
  ASSERT_TRUE(policy->has_cadre_subsidy());
  EXPECT_EQ(policy->cadre_subsidy().amount_per_year_fen(), 90000);
  EXPECT_EQ(policy->cadre_subsidy().first_year(), 2014);
  A().Adopt(*policy);
  const std::string region = policy->region_code();
  const std::string id = CitizenId("19700303", 808, region);
  A().Enrol(id, "2015-03-01", region);
  ASSERT_TRUE(Role(id, "2014-01-01", "", "ROLE-808").ok());
  A().PushAccepted({AddRecord("R-808", id, 2025, 10000, "2025-11-10", region)});
  A().FundsOk(v1::FISCAL_PURPOSE_CADRE_SUBSIDY, 2025, 90000, "2026-02-25", region);
  const Rpc rpc = Credit(id, 2025, "C-808");
  ASSERT_TRUE(rpc.ok()) << Describe(rpc);
  EXPECT_EQ(SourceFen(A().Account(id), v1::FUNDING_SOURCE_COLLECTIVE), 90000);
}

}  // namespace
