// ledgerd's configuration file (services/config.h).
#include "services/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "ledger/strings.h"
#include "services/patroni.h"

namespace {

using ::testing::HasSubstr;

class ConfigTest : public ::testing::Test {
 protected:
  std::string Write(const std::string& text) {
    const std::string path = ledger::StrCat(
        ::testing::TempDir(), "ledgerd_config_",
        ::testing::UnitTest::GetInstance()->current_test_info()->name(), ".toml");
    std::ofstream(path) << text;
    paths_.push_back(path);
    return path;
  }
  void TearDown() override {
    for (const auto& p : paths_) std::filesystem::remove(p);
  }
  std::vector<std::string> paths_;
};

TEST_F(ConfigTest, TheShippedExampleLoadsWithEveryKey) {
  auto config = services::LoadConfig(
      ledger::StrCat(LEDGER_SOURCE_DIR, "/deploy/ledgerd.toml"), services::LedgerdConfig());
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->data_dir, "/var/lib/ledger");
  EXPECT_EQ(config->listen, "0.0.0.0:50051");
  EXPECT_EQ(config->tls_client_ca, "/etc/ledger/tls/client-ca.crt");
  EXPECT_EQ(config->log_format, "json");
  EXPECT_FALSE(config->insecure_plaintext);
  EXPECT_TRUE(config->verify_chain_on_start);
}

TEST_F(ConfigTest, AbsentKeysKeepTheirDefaults) {
  auto config = services::LoadConfig(Write("[server]\nlisten = \"127.0.0.1:7000\"\n"),
                                     services::LedgerdConfig());
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->listen, "127.0.0.1:7000");
  EXPECT_EQ(config->data_dir, services::LedgerdConfig().data_dir);
  EXPECT_EQ(config->metrics_listen, services::LedgerdConfig().metrics_listen);
}

TEST_F(ConfigTest, ErrorsNameTheFileTheKeyAndTheReason) {
  struct Case {
    std::string text, key, reason;
  };
  for (const Case& c : std::vector<Case>{
           {"[server]\nlisen = \"x:1\"\n", "server.lisen", "unknown key"},
           {"date_dir = \"/x\"\n", "date_dir", "unknown key"},
           {"verify_chain_on_start = \"yes\"\n", "verify_chain_on_start", "true or false"},
           {"[metrics]\nlisten = 9464\n", "metrics.listen", "expected a string"},
           {"log_format = \"xml\"\n", "log_format", "\"text\" or \"json\""},
           {"[tls]\ncert = \"/a\"\n", "tls.cert", "go together"},
           {"server = 1\n", "server", "expected a table"},
       }) {
    SCOPED_TRACE(c.text);
    const std::string path = Write(c.text);
    auto config = services::LoadConfig(path, services::LedgerdConfig());
    ASSERT_FALSE(config.ok());
    EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
    const std::string message(config.status().message());
    EXPECT_THAT(message, HasSubstr(path));
    EXPECT_THAT(message, HasSubstr(c.key));
    EXPECT_THAT(message, HasSubstr(c.reason));
  }
}

TEST_F(ConfigTest, SyntaxErrorsGiveTheLineAndAMissingFileIsNotFound) {
  auto broken = services::LoadConfig(Write("data_dir = \"/x\"\n[server\n"), {});
  ASSERT_FALSE(broken.ok());
  EXPECT_THAT(std::string(broken.status().message()), HasSubstr("line 2"));
  EXPECT_EQ(services::LoadConfig("/nonexistent/ledgerd.toml", {}).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(ConfigTest, PrintedConfigurationReadsBackUnchanged) {
  services::LedgerdConfig c;
  c.data_dir = "/data/with \"quotes\"";
  c.listen = "127.0.0.1:1234";
  c.tls_cert = "/c";
  c.tls_key = "/k";
  c.tls_client_ca = "/ca";
  c.metrics_listen = "";
  c.verify_chain_on_start = false;
  c.log_format = "json";
  auto back = services::LoadConfig(Write(services::ToToml(c)), services::LedgerdConfig());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(services::ToToml(*back), services::ToToml(c));
  EXPECT_EQ(back->data_dir, c.data_dir);
  EXPECT_FALSE(back->verify_chain_on_start);
}

}  // namespace

namespace {

// [ha]: a node under Patroni (deploy/ha/). The shipped three-machine example loads; Patroni
// without the PostgreSQL log, a URL that is not http://host:port or a malformed peer list stop
// start-up with the key.
TEST_F(ConfigTest, HaKeysAreCheckedAndTheHaExampleLoads) {
  auto ha = services::LoadConfig(ledger::StrCat(LEDGER_SOURCE_DIR, "/deploy/ha/ledgerd-ha.toml"),
                                 services::LedgerdConfig());
  ASSERT_TRUE(ha.ok()) << ha.status();
  EXPECT_EQ(ha->log_backend, "postgres");
  EXPECT_EQ(ha->patroni_url, "http://127.0.0.1:8008");
  auto peers = services::ParsePeers(ha->ha_peers);
  ASSERT_TRUE(peers.ok()) << peers.status();
  EXPECT_EQ(peers->at("pg2"), "10.0.0.2:50051");

  const auto message = [&](const std::string& toml) {
    auto c = services::LoadConfig(Write(toml), services::LedgerdConfig());
    return c.ok() ? std::string("loaded") : std::string(c.status().message());
  };
  EXPECT_THAT(message("[ha]\npatroni_url = \"http://127.0.0.1:8008\"\n"),
              ::testing::HasSubstr("'ha.patroni_url': needs log.backend postgres"));
  EXPECT_THAT(message("[log]\nbackend = \"postgres\"\npostgres_conninfo = \"host=x\"\n"
                      "[ha]\npatroni_url = \"127.0.0.1:8008\"\n"),
              ::testing::HasSubstr("'ha.patroni_url': must be http://host:port"));
  EXPECT_THAT(message("[log]\nbackend = \"postgres\"\npostgres_conninfo = \"host=x\"\n"
                      "[ha]\npatroni_url = \"http://127.0.0.1:8008\"\npeers = \"pg1\"\n"),
              ::testing::HasSubstr("'ha.peers': peer 'pg1'"));
}

TEST(PatroniTest, TheLeaderIsFoundInTheClusterAnswer) {
  EXPECT_EQ(services::LeaderOf(R"({"members": [
      {"name": "pg1", "role": "replica", "state": "streaming"},
      {"name": "pg2", "role": "leader", "state": "running"},
      {"name": "pg3", "role": "sync_standby", "state": "streaming"}]})"),
            "pg2");
  EXPECT_EQ(services::LeaderOf(R"({"members": [{"name": "pg1", "role": "replica"}]})"), "");
  EXPECT_EQ(services::LeaderOf("not json"), "");
}

}  // namespace
