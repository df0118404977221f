#include "pipeline/run/config.h"

#include <gtest/gtest.h>

namespace winnow::pipeline {
namespace {

TEST(Config, EmptyConfigGivesDefaults) {
  absl::StatusOr<RunConfig> config = ParseConfig("", "<test>");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->store.num_shards, StoreOptions{}.num_shards);
  EXPECT_TRUE(config->filters.IsNull());
}

TEST(Config, SetsFieldsOfEverySection) {
  absl::StatusOr<RunConfig> config = ParseConfig(
      "store: {num_shards: 7}\nextract: {include_tables: false, max_seconds: 0.5}\n"
      "fetch: {max_attempts: 2, user_agent: test-agent}\nfilters: {url: {enabled: false}}\n",
      "<test>");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->store.num_shards, 7);
  EXPECT_FALSE(config->extract.include_tables);
  EXPECT_DOUBLE_EQ(config->extract.max_seconds, 0.5);
  EXPECT_EQ(config->fetch.max_attempts, 2);
  EXPECT_EQ(config->fetch.user_agent, "test-agent");
  EXPECT_TRUE(config->filters["url"]);
}

TEST(Config, ErrorsNameTheOriginKeyAndValue) {
  auto bad_value = ParseConfig("store:\n  num_shards: many\n", "my.yaml");
  ASSERT_FALSE(bad_value.ok());
  EXPECT_NE(bad_value.status().message().find("my.yaml"), std::string::npos);
  EXPECT_NE(bad_value.status().message().find("num_shards"), std::string::npos);
  EXPECT_NE(bad_value.status().message().find("many"), std::string::npos);

  auto bad_key = ParseConfig("store:\n  shards: 3\n", "my.yaml");
  ASSERT_FALSE(bad_key.ok());
  EXPECT_NE(bad_key.status().message().find("store.shards"), std::string::npos);

  auto bad_section = ParseConfig("storage: {}\n", "my.yaml");
  ASSERT_FALSE(bad_section.ok());
  EXPECT_NE(bad_section.status().message().find("storage"), std::string::npos);

  EXPECT_FALSE(ParseConfig("store: {num_shards: 0}\n", "x").ok());
  EXPECT_FALSE(ParseConfig("[1, 2]\n", "x").ok());
  EXPECT_FALSE(ParseConfig("store: {num_shards: [1\n", "x").ok());
  EXPECT_FALSE(LoadConfig("/nonexistent/config.yaml").ok());
}

TEST(Config, EffectiveConfigRoundTrips) {
  absl::StatusOr<RunConfig> config =
      ParseConfig("store: {num_shards: 3}\nfetch: {user_agent: 'a b'}\n", "<test>");
  ASSERT_TRUE(config.ok());
  const std::string yaml = ConfigToYaml(*config);
  absl::StatusOr<RunConfig> back = ParseConfig(yaml, "<saved>");
  ASSERT_TRUE(back.ok()) << back.status() << "\n" << yaml;
  EXPECT_EQ(back->store.num_shards, 3);
  EXPECT_EQ(back->fetch.user_agent, "a b");
  EXPECT_EQ(ConfigToYaml(*back), yaml);
}

}  // namespace
}  // namespace winnow::pipeline
