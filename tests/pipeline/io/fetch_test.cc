#include "pipeline/io/fetch.h"

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <random>
#include <string>

#include "absl/strings/match.h"
#include "tests/pipeline/io/loopback_server.h"

namespace winnow::pipeline {
namespace {

using test::LoopbackServer;

// Options for loopback tests: retries in milliseconds, a small read-ahead to exercise backpressure.
FetchOptions FastOptions() {
  FetchOptions options;
  options.initial_backoff_seconds = 0.001;
  options.max_backoff_seconds = 0.01;
  options.connect_timeout_seconds = 5;
  options.buffer_bytes = 64 << 10;
  return options;
}

std::string RandomBytes(size_t n, unsigned seed = 7) {
  std::mt19937 rng(seed);
  std::string out(n, '\0');
  for (char& c : out) c = static_cast<char>(rng());
  return out;
}

// Reads to the end in deliberately odd-sized pieces.
absl::StatusOr<std::string> ReadInPieces(ByteStream& stream) {
  std::string out;
  char buf[12345];
  while (true) {
    absl::StatusOr<size_t> got = stream.Read(buf, sizeof(buf));
    if (!got.ok()) return got.status();
    if (*got == 0) return out;
    out.append(buf, *got);
  }
}

TEST(Fetch, StreamsAFileOverHttpByteForByte) {
  LoopbackServer server;
  const std::string file = RandomBytes(5 << 20);
  server.Serve("/crawl/a.warc.gz", file);
  auto stream = OpenInput(server.Url("/crawl/a.warc.gz"), FastOptions());
  ASSERT_TRUE(stream.ok()) << stream.status();
  EXPECT_EQ((*stream)->name(), server.Url("/crawl/a.warc.gz"));
  auto bytes = ReadInPieces(**stream);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  EXPECT_TRUE(*bytes == file);
  EXPECT_EQ(server.requests(), 1);
  EXPECT_EQ(server.ranges()[0], "");
}

TEST(Fetch, ReturnsBytesBeforeTheBodyHasArrived) {
  LoopbackServer server;
  const std::string file = RandomBytes(1 << 20);
  server.Serve("/a.warc", file);
  server.HoldAfter(1000);  // the server sends 1000 bytes, then waits for Release()
  auto stream = OpenInput(server.Url("/a.warc"), FastOptions());
  ASSERT_TRUE(stream.ok()) << stream.status();
  std::string first(1000, '\0');
  size_t have = 0;
  while (have < first.size()) {
    auto got = (*stream)->Read(first.data() + have, first.size() - have);
    ASSERT_TRUE(got.ok()) << got.status();
    ASSERT_GT(*got, 0u);
    have += *got;
  }
  EXPECT_EQ(first, file.substr(0, 1000));
  server.Release();
  auto rest = ReadInPieces(**stream);
  ASSERT_TRUE(rest.ok()) << rest.status();
  EXPECT_TRUE(first + *rest == file);
}

TEST(Fetch, RetriesAfter503sAndCountsAttempts) {
  LoopbackServer server;
  server.Serve("/a.warc", "hello, crawl");
  server.FailNext(3, 503);
  auto stream = OpenInput(server.Url("/a.warc"), FastOptions());
  ASSERT_TRUE(stream.ok()) << stream.status();
  auto bytes = ReadAll(**stream);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  EXPECT_EQ(*bytes, "hello, crawl");  // the error pages are not part of the body
  EXPECT_EQ(server.requests(), 4);
}

TEST(Fetch, RetriesEachTransientHttpCode) {
  for (int code : {408, 429, 500, 502, 504}) {
    LoopbackServer server;
    server.Serve("/a.warc", "body");
    server.FailNext(1, code);
    auto stream = OpenInput(server.Url("/a.warc"), FastOptions());
    ASSERT_TRUE(stream.ok()) << code << ": " << stream.status();
    EXPECT_EQ(*ReadAll(**stream), "body");
    EXPECT_EQ(server.requests(), 2) << code;
  }
}

TEST(Fetch, GivesUpAfterMaxAttemptsNamingUrlAndCode) {
  LoopbackServer server;
  server.Serve("/a.warc", "never seen");
  server.FailNext(100, 503);
  FetchOptions options = FastOptions();
  options.max_attempts = 3;
  auto stream = OpenInput(server.Url("/a.warc"), options);
  ASSERT_FALSE(stream.ok());
  EXPECT_EQ(stream.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(absl::StrContains(stream.status().message(), server.Url("/a.warc")))
      << stream.status();
  EXPECT_TRUE(absl::StrContains(stream.status().message(), "503")) << stream.status();
  EXPECT_EQ(server.requests(), 3);
}

TEST(Fetch, ResumesACutConnectionWithRange) {
  LoopbackServer server;
  const std::string file = RandomBytes(1 << 20);
  server.Serve("/a.warc.gz", file);
  server.CutAfter(100000, 2);  // the first two responses stop early
  auto stream = OpenInput(server.Url("/a.warc.gz"), FastOptions());
  ASSERT_TRUE(stream.ok()) << stream.status();
  auto bytes = ReadInPieces(**stream);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  EXPECT_TRUE(*bytes == file);
  EXPECT_EQ(server.ranges(), (std::vector<std::string>{"", "bytes=100000-", "bytes=200000-"}));
}

TEST(Fetch, SkipsDeliveredBytesWhenTheServerIgnoresRange) {
  LoopbackServer server;
  const std::string file = RandomBytes(300000);
  server.Serve("/a.warc", file);
  server.CutAfter(70000);
  server.IgnoreRange(true);  // the resumed request gets 200 and the whole body again
  auto stream = OpenInput(server.Url("/a.warc"), FastOptions());
  ASSERT_TRUE(stream.ok()) << stream.status();
  auto bytes = ReadInPieces(**stream);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  EXPECT_TRUE(*bytes == file);
  EXPECT_EQ(server.ranges(), (std::vector<std::string>{"", "bytes=70000-"}));
}

TEST(Fetch, NotFoundFailsAtOnceNamingUrlAndCode) {
  LoopbackServer server;
  const auto start = std::chrono::steady_clock::now();
  FetchOptions options = FastOptions();
  options.initial_backoff_seconds = 10;  // a retry would show in the elapsed time
  auto stream = OpenInput(server.Url("/missing.warc.gz"), options);
  ASSERT_FALSE(stream.ok());
  EXPECT_EQ(stream.status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(absl::StrContains(stream.status().message(), server.Url("/missing.warc.gz")))
      << stream.status();
  EXPECT_TRUE(absl::StrContains(stream.status().message(), "HTTP 404")) << stream.status();
  EXPECT_EQ(server.requests(), 1);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST(Fetch, ForbiddenFailsAtOnce) {
  LoopbackServer server;
  server.Serve("/a.warc", "secret");
  server.FailNext(1, 403);
  auto stream = OpenInput(server.Url("/a.warc"), FastOptions());
  ASSERT_FALSE(stream.ok());
  EXPECT_EQ(stream.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(absl::StrContains(stream.status().message(), "HTTP 403")) << stream.status();
  EXPECT_EQ(server.requests(), 1);
}

TEST(Fetch, RefusedConnectionIsRetriedThenFails) {
  std::string url;
  {
    LoopbackServer closed;  // take a loopback port, then free it: connecting is refused
    url = closed.Url("/a.warc");
  }
  FetchOptions options = FastOptions();
  options.max_attempts = 2;
  auto stream = OpenInput(url, options);
  ASSERT_FALSE(stream.ok());
  EXPECT_EQ(stream.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(absl::StrContains(stream.status().message(), url)) << stream.status();
  EXPECT_TRUE(absl::StrContains(stream.status().message(), "2 attempts")) << stream.status();
}

TEST(Fetch, ClosingEarlyStopsTheDownload) {
  LoopbackServer server;
  server.Serve("/big.warc", RandomBytes(8 << 20));
  const auto start = std::chrono::steady_clock::now();
  {
    auto stream = OpenInput(server.Url("/big.warc"), FastOptions());
    ASSERT_TRUE(stream.ok()) << stream.status();
    char buf[100];
    ASSERT_TRUE((*stream)->Read(buf, sizeof(buf)).ok());
  }  // destroyed with most of the body unread: must not wait for it
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST(Fetch, EmptyBodyIsAnEmptyStream) {
  LoopbackServer server;
  server.Serve("/empty.warc", "");
  auto stream = OpenInput(server.Url("/empty.warc"), FastOptions());
  ASSERT_TRUE(stream.ok()) << stream.status();
  char buf[16];
  auto got = (*stream)->Read(buf, sizeof(buf));
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, 0u);
}

TEST(Fetch, OpensLocalPathsAndFileUrls) {
  const std::string path = ::testing::TempDir() + "/fetch_test_local.warc";
  std::ofstream(path) << "local bytes";
  auto plain = OpenInput(path);
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(*ReadAll(**plain), "local bytes");
  auto url = OpenInput("file://" + path);
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_EQ(*ReadAll(**url), "local bytes");
  auto missing = OpenInput("/nonexistent/x.warc.gz");
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(absl::StrContains(missing.status().message(), "/nonexistent/x.warc.gz"));
}

TEST(Fetch, RejectsUnsupportedSchemes) {
  auto stream = OpenInput("ftp://example.invalid/a.warc");
  ASSERT_FALSE(stream.ok());
  EXPECT_EQ(stream.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(stream.status().message(), "ftp://example.invalid/a.warc"));
}

TEST(Fetch, MapsS3UrlsToHttps) {
  EXPECT_EQ(*S3ToHttps("s3://commoncrawl/crawl-data/CC-MAIN-2024-22/warc.paths.gz"),
            "https://data.commoncrawl.org/crawl-data/CC-MAIN-2024-22/warc.paths.gz");
  EXPECT_EQ(*S3ToHttps("s3://my-bucket/dir/a.warc.gz"),
            "https://my-bucket.s3.amazonaws.com/dir/a.warc.gz");
  EXPECT_FALSE(S3ToHttps("s3://commoncrawl").ok());
  EXPECT_FALSE(S3ToHttps("s3://commoncrawl/").ok());
  EXPECT_FALSE(S3ToHttps("s3:///key").ok());
  EXPECT_FALSE(S3ToHttps("https://commoncrawl/key").ok());
}

}  // namespace
}  // namespace winnow::pipeline
