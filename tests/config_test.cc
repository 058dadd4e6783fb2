// ledgerd's configuration file (services/config.h).
#include "services/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "ledger/strings.h"

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
