#include "pipeline/io/inputs.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "tests/pipeline/io/loopback_server.h"

namespace winnow::pipeline {
namespace {

namespace fs = std::filesystem;
using test::LoopbackServer;

// A fresh empty folder under the test temp dir.
std::string MakeTempDir() {
  std::string pattern = ::testing::TempDir() + "/inputs_test_XXXXXX";
  EXPECT_NE(::mkdtemp(pattern.data()), nullptr);
  return fs::path(pattern).lexically_normal().string();
}

void WriteFile(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

std::string Shell(const std::string& command) {
  std::string out;
  FILE* pipe = ::popen(command.c_str(), "r");
  EXPECT_NE(pipe, nullptr);
  char buf[4096];
  size_t got;
  while ((got = std::fread(buf, 1, sizeof(buf), pipe)) > 0) out.append(buf, got);
  EXPECT_EQ(::pclose(pipe), 0) << command;
  return out;
}

// gzip-compresses `text` with /bin/gzip.
std::string Gzip(const std::string& text) {
  const std::string path = MakeTempDir() + "/plain";
  WriteFile(path, text);
  return Shell("gzip -c '" + path + "'");
}

// The gunzip the tests hand to ExpandInputs: /bin/gzip -dc over a temp file.
std::unique_ptr<ByteStream> ShellGunzip(std::unique_ptr<ByteStream> in) {
  const std::string path = MakeTempDir() + "/in.gz";
  WriteFile(path, *ReadAll(*in));
  return StringStream(Shell("gzip -dc '" + path + "'"), in->name());
}

std::vector<std::string> Locations(const std::vector<InputFile>& files) {
  std::vector<std::string> out;
  for (const InputFile& file : files) out.push_back(file.location);
  return out;
}

FetchOptions FastOptions() {
  FetchOptions options;
  options.initial_backoff_seconds = 0.001;
  options.max_backoff_seconds = 0.01;
  return options;
}

constexpr char kPaths[] =
    "# Common Crawl style paths file\n"
    "crawl-data/CC-MAIN-2024-22/segments/1715971057216.39/warc/"
    "CC-MAIN-20240517233122-20240518023122-00000.warc.gz\n"
    "\n"
    "  crawl-data/CC-MAIN-2024-22/segments/1715971057216.39/warc/"
    "CC-MAIN-20240517233122-20240518023122-00001.warc.gz\r\n"
    "s3://commoncrawl/crawl-data/CC-MAIN-2023-50/segments/x/warc/b.warc.gz\n"
    "/data/local.warc\n";

const std::vector<std::string> kExpandedPaths = {
    "https://data.commoncrawl.org/crawl-data/CC-MAIN-2024-22/segments/1715971057216.39/warc/"
    "CC-MAIN-20240517233122-20240518023122-00000.warc.gz",
    "https://data.commoncrawl.org/crawl-data/CC-MAIN-2024-22/segments/1715971057216.39/warc/"
    "CC-MAIN-20240517233122-20240518023122-00001.warc.gz",
    "s3://commoncrawl/crawl-data/CC-MAIN-2023-50/segments/x/warc/b.warc.gz",
    "/data/local.warc",
};

TEST(ExpandInputs, WalksAFolderSortedKeepingOnlyCrawlFiles) {
  const std::string dir = MakeTempDir() + "/CC-MAIN-2024-10";
  for (const char* name :
       {"b.warc.gz", "a/c.wet", "a/d.wet.gz", "z.arc.gz", "y.arc", "m.warc", "notes.txt",
        "x.warc.gz.tmp", ".hidden.warc", ".git/e.warc.gz", "a/.cache/f.warc"}) {
    WriteFile(dir + "/" + name, "x");
  }
  auto files = ExpandInputs({dir + "/"}, FastOptions(), nullptr);
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_EQ(Locations(*files),
            (std::vector<std::string>{dir + "/a/c.wet", dir + "/a/d.wet.gz", dir + "/b.warc.gz",
                                      dir + "/m.warc", dir + "/y.arc", dir + "/z.arc.gz"}));
  for (const InputFile& file : *files) EXPECT_EQ(file.snapshot, "CC-MAIN-2024-10");
}

TEST(ExpandInputs, KeepsArgumentOrderAndDropsDuplicates) {
  const std::string dir = MakeTempDir();
  WriteFile(dir + "/a.warc", "x");
  WriteFile(dir + "/b.warc", "x");
  auto files = ExpandInputs({dir + "/b.warc", "https://example.test/u.warc.gz", dir,
                             "https://example.test/u.warc.gz", dir + "/./a.warc"},
                            FastOptions(), nullptr);
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_EQ(Locations(*files),
            (std::vector<std::string>{dir + "/b.warc", "https://example.test/u.warc.gz",
                                      dir + "/a.warc"}));
}

TEST(ExpandInputs, ErrorsNameTheOffendingArgument) {
  auto missing = ExpandInputs({"/nonexistent/CC-MAIN-2024-22/x.warc"}, FastOptions(), nullptr);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(absl::StrContains(missing.status().message(), "/nonexistent/CC-MAIN-2024-22/x.warc"));

  const std::string empty = MakeTempDir();
  WriteFile(empty + "/readme.txt", "x");
  auto no_crawl = ExpandInputs({empty}, FastOptions(), nullptr);
  ASSERT_FALSE(no_crawl.ok());
  EXPECT_TRUE(absl::StrContains(no_crawl.status().message(), empty)) << no_crawl.status();

  auto scheme = ExpandInputs({"ftp://host/a.warc"}, FastOptions(), nullptr);
  ASSERT_FALSE(scheme.ok());
  EXPECT_TRUE(absl::StrContains(scheme.status().message(), "ftp://host/a.warc"));

  auto bad_s3 = ExpandInputs({"s3://commoncrawl"}, FastOptions(), nullptr);
  ASSERT_FALSE(bad_s3.ok());
  EXPECT_TRUE(absl::StrContains(bad_s3.status().message(), "s3://commoncrawl"));

  EXPECT_FALSE(ExpandInputs({""}, FastOptions(), nullptr).ok());
}

TEST(ExpandInputs, KeepsUrlsAndReadsTheirSnapshot) {
  auto files =
      ExpandInputs({"s3://commoncrawl/crawl-data/CC-MAIN-2024-22/segments/s/warc/a.warc.gz",
                    "https://example.test/plain.warc"},
                   FastOptions(), nullptr);
  ASSERT_TRUE(files.ok()) << files.status();
  ASSERT_EQ(files->size(), 2u);
  EXPECT_EQ((*files)[0].location,
            "s3://commoncrawl/crawl-data/CC-MAIN-2024-22/segments/s/warc/a.warc.gz");
  EXPECT_EQ((*files)[0].snapshot, "CC-MAIN-2024-22");
  EXPECT_EQ((*files)[1].snapshot, "");
}

TEST(ExpandInputs, ExpandsAPathsFileServedOverHttp) {
  LoopbackServer server;
  server.Serve("/crawl-data/CC-MAIN-2024-22/warc.paths", kPaths);
  auto files =
      ExpandInputs({server.Url("/crawl-data/CC-MAIN-2024-22/warc.paths")}, FastOptions(), nullptr);
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_EQ(Locations(*files), kExpandedPaths);
  EXPECT_EQ((*files)[0].snapshot, "CC-MAIN-2024-22");
  EXPECT_EQ((*files)[2].snapshot, "CC-MAIN-2023-50");
  EXPECT_EQ((*files)[3].snapshot, "CC-MAIN-2024-22");  // none in the line: the paths file's
  EXPECT_EQ(server.requests(), 1);
}

TEST(ExpandInputs, ExpandsAGzippedPathsFileOverHttp) {
  LoopbackServer server;
  server.Serve("/warc.paths.gz", Gzip(kPaths));
  auto files = ExpandInputs({server.Url("/warc.paths.gz")}, FastOptions(), ShellGunzip);
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_EQ(Locations(*files), kExpandedPaths);
}

TEST(ExpandInputs, ExpandsALocalGzippedPathsFile) {
  const std::string path = MakeTempDir() + "/CC-MAIN-2024-22/warc.paths.gz";
  WriteFile(path, Gzip(kPaths));
  auto files = ExpandInputs({path}, FastOptions(), ShellGunzip);
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_EQ(Locations(*files), kExpandedPaths);
  EXPECT_EQ(files->back().snapshot, "CC-MAIN-2024-22");

  auto no_gunzip = ExpandInputs({path}, FastOptions(), nullptr);
  ASSERT_FALSE(no_gunzip.ok());
  EXPECT_TRUE(absl::StrContains(no_gunzip.status().message(), path)) << no_gunzip.status();
}

TEST(ExpandInputs, MissingRemotePathsFileNamesTheArgument) {
  LoopbackServer server;
  auto files = ExpandInputs({server.Url("/gone.paths")}, FastOptions(), nullptr);
  ASSERT_FALSE(files.ok());
  EXPECT_EQ(files.status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(absl::StrContains(files.status().message(), "input '" + server.Url("/gone.paths")))
      << files.status();
}

TEST(SnapshotPathsUrl, ResolvesValidNames) {
  EXPECT_EQ(*SnapshotPathsUrl("CC-MAIN-2024-22"),
            "https://data.commoncrawl.org/crawl-data/CC-MAIN-2024-22/warc.paths.gz");
  EXPECT_EQ(*SnapshotPathsUrl("CC-MAIN-2008-01", "wet"),
            "https://data.commoncrawl.org/crawl-data/CC-MAIN-2008-01/wet.paths.gz");
  EXPECT_EQ(*SnapshotPathsUrl("CC-MAIN-2099-53", "wat"),
            "https://data.commoncrawl.org/crawl-data/CC-MAIN-2099-53/wat.paths.gz");
}

TEST(SnapshotPathsUrl, RejectsMalformedNamesAndKinds) {
  for (const char* bad :
       {"", "CC-MAIN-2024", "CC-MAIN-2024-2", "CC-MAIN-2024-221", "CC-MAIN-2007-10",
        "CC-MAIN-2100-10", "CC-MAIN-2024-00", "CC-MAIN-2024-54", "cc-main-2024-22",
        "CC-MAIN-2024_22", " CC-MAIN-2024-22", "CC-MAIN-20a4-22"}) {
    auto url = SnapshotPathsUrl(bad);
    ASSERT_FALSE(url.ok()) << bad;
    EXPECT_EQ(url.status().code(), absl::StatusCode::kInvalidArgument);
  }
  EXPECT_FALSE(SnapshotPathsUrl("CC-MAIN-2024-22", "cdx").ok());
}

TEST(SnapshotOf, FindsTheFirstValidName) {
  EXPECT_EQ(SnapshotOf("crawl-data/CC-MAIN-2024-22/segments/1/warc/"
                       "CC-MAIN-20240517233122-20240518023122-00000.warc.gz"),
            "CC-MAIN-2024-22");
  EXPECT_EQ(SnapshotOf("CC-MAIN-20240517233122-x/CC-MAIN-2023-06"), "CC-MAIN-2023-06");
  EXPECT_EQ(SnapshotOf("/data/crawl/a.warc.gz"), "");
}

}  // namespace
}  // namespace winnow::pipeline
