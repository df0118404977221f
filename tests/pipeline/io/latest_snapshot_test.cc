#include "pipeline/io/latest_snapshot.h"

#include <gtest/gtest.h>

#include "tests/pipeline/io/loopback_server.h"

namespace winnow::pipeline {
namespace {

constexpr char kCollinfo[] =
    R"([{"id": "CC-MAIN-2024-46", "name": "November 2024 Index"},
        {"id": "CC-MAIN-2024-51", "name": "December 2024 Index"},
        {"id": "CC-MAIN-2009-2010", "name": "legacy"},
        {"id": "CC-MAIN-2023-50"}])";

TEST(LatestSnapshot, PicksTheNewestValidName) {
  absl::StatusOr<std::string> latest = LatestSnapshotFromCollinfo(kCollinfo);
  ASSERT_TRUE(latest.ok()) << latest.status();
  EXPECT_EQ(*latest, "CC-MAIN-2024-51");
}

TEST(LatestSnapshot, RejectsTextThatIsNotACrawlList) {
  EXPECT_FALSE(LatestSnapshotFromCollinfo("<html>").ok());
  EXPECT_FALSE(LatestSnapshotFromCollinfo(R"([{"id": "nope"}])").ok());
}

TEST(LatestSnapshot, ResolvesLatestOverHttpAndPassesNamesThrough) {
  test::LoopbackServer server;
  server.Serve("/collinfo.json", kCollinfo);
  FetchOptions fetch;
  fetch.initial_backoff_seconds = 0.01;
  auto latest = ResolveSnapshotName("latest", fetch, server.Url("/collinfo.json"));
  ASSERT_TRUE(latest.ok()) << latest.status();
  EXPECT_EQ(*latest, "CC-MAIN-2024-51");
  auto named = ResolveSnapshotName("CC-MAIN-2020-34", fetch, server.Url("/collinfo.json"));
  ASSERT_TRUE(named.ok());
  EXPECT_EQ(*named, "CC-MAIN-2020-34");
  EXPECT_EQ(server.requests(), 1);
}

}  // namespace
}  // namespace winnow::pipeline
