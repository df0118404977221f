// End-to-end tests of the `winnow` binary as a user runs it: real files, a real RocksDB data dir,
// a real HTTP server on loopback, exit codes of the CLI contract.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "tests/util/shell.h"
#include "tests/util/temp_dir.h"

namespace {

namespace fs = std::filesystem;

const std::string kWinnow = std::string(WINNOW_BINARY_DIR) + "/services/winnow";
const std::string kCommonCrawl = std::string(WINNOW_SHARED_DIR) + "/data/commoncrawl";

struct Result {
  int code = -1;
  std::string out;  // stdout and stderr together
};

Result Sh(const std::string& command) {
  Result r;
  r.code = winnow::testing::RunCommand(command + " 2>&1", &r.out);
  return r;
}

Result Winnow(const std::string& args) { return Sh(kWinnow + " " + args); }

using winnow::testing::TempDir;

nlohmann::json StatsJson(const std::string& data_dir) {
  Result r;
  r.code = winnow::testing::RunCommand(
      kWinnow + " stats --json --data-dir " + data_dir + " 2>/dev/null", &r.out);
  EXPECT_EQ(r.code, 0) << r.out;
  return nlohmann::json::parse(r.out, nullptr, false);
}

int64_t Counter(const nlohmann::json& stats, const std::string& name) {
  const auto& counters = stats["total"]["counters"];
  return counters.contains(name) ? counters[name].get<int64_t>() : 0;
}

TEST(Cli, RunOverRealCommonCrawlFilesPrintsASummaryAndStoresDocuments) {
  TempDir dir;
  Result r = Winnow("run -q " + kCommonCrawl + " --data-dir " + dir.path());
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("total"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("read/skipped/request"), std::string::npos) << r.out;
  EXPECT_TRUE(fs::exists(dir.path() + "/config.yaml"));
  EXPECT_TRUE(fs::exists(dir.path() + "/stats.json"));
  EXPECT_TRUE(fs::exists(dir.path() + "/shards"));

  nlohmann::json stats = StatsJson(dir.path());
  // Every record of the three WARC files plus the WET and WAT files is counted exactly once.
  const int64_t records = Counter(stats, "read/records");
  EXPECT_GT(records, 13 + 50);
  int64_t accounted = 0;
  for (const auto& [name, n] : stats["total"]["counters"].items()) {
    if (name.rfind("read/skipped/", 0) == 0 || name.rfind("read/damaged/", 0) == 0 ||
        name.rfind("extract/dropped/", 0) == 0 || name == "extract/kept") {
      accounted += n.get<int64_t>();
    }
  }
  EXPECT_EQ(accounted, records);
  // The FineWeb recipe ran: documents were filtered under named filters, and some survived.
  EXPECT_GT(Counter(stats, "write/kept"), 0);
  EXPECT_GT(Counter(stats, "language/dropped/zh"), 0);
  EXPECT_GT(Counter(stats, "url/kept"), 10);
  EXPECT_NE(r.out.find("gopher_quality"), std::string::npos) << r.out;
}

// A config that switches every filter off: reading, extraction and storage alone.
std::string NoFiltersConfig(const TempDir& dir) {
  const std::string path = dir.path() + "/no-filters.yaml";
  std::ofstream(path) << "filters:\n  order: []\n";
  return path;
}

TEST(Cli, RunningTheSameInputTwiceDuplicatesNothing) {
  TempDir dir;
  const std::string input =
      kCommonCrawl + "/CC-MAIN-2020-34-excerpt.warc.gz --config " + NoFiltersConfig(dir);
  ASSERT_EQ(Winnow("run -q " + input + " --data-dir " + dir.path() + "/data").code, 0);
  const int64_t first = Counter(StatsJson(dir.path() + "/data"), "write/kept");
  EXPECT_EQ(first, 16);
  Result again = Winnow("run -q " + input + " --data-dir " + dir.path() + "/data");
  ASSERT_EQ(again.code, 0) << again.out;
  EXPECT_NE(again.out.find("skipped"), std::string::npos) << again.out;
  Result redo = Winnow("run -q --redo " + input + " --data-dir " + dir.path() + "/data");
  ASSERT_EQ(redo.code, 0) << redo.out;
  EXPECT_EQ(Counter(StatsJson(dir.path() + "/data"), "write/kept"), first);

  TempDir out;
  Result exported =
      Winnow("export --data-dir " + dir.path() + "/data --format jsonl --out " + out.path());
  ASSERT_EQ(exported.code, 0) << exported.out;
  Result lines =
      Sh("python3 -c 'import gzip,glob,json,sys; rows=[json.loads(l) for f in "
         "sorted(glob.glob(sys.argv[1]+\"/*.jsonl.gz\")) for l in gzip.open(f,\"rt\")]; "
         "ids=[r[\"id\"] for r in rows]; assert len(ids)==len(set(ids)); "
         "assert all(r[\"text\"] and r[\"metadata\"][\"url\"] for r in rows); "
         "print(len(rows))' " +
         out.path());
  ASSERT_EQ(lines.code, 0) << lines.out;
  // The excerpt holds two pages whose main text is the same site boilerplate: one is exported.
  const nlohmann::json dedup = StatsJson(dir.path() + "/data")["dedup"]["CC-MAIN-2020-34"];
  EXPECT_EQ(dedup["exact_duplicates"], 1) << dedup.dump();
  EXPECT_EQ(std::stoll(lines.out), first - 1);
}

TEST(Cli, ReadsAWarcOverHttpFromALoopbackServer) {
  TempDir dir;
  // python's http.server prints the port it bound; port 0 lets the kernel pick a free one.
  const std::string log = dir.path() + "/server.log";
  Sh("cd " + kCommonCrawl + " && (python3 -u -m http.server 0 --bind 127.0.0.1 > " + log +
     " 2>&1 & echo $! > " + dir.path() + "/server.pid)");
  std::string port;
  for (int i = 0; i < 100 && port.empty(); ++i) {
    std::ifstream in(log);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const size_t at = text.find(" port ");
    if (at != std::string::npos) port = text.substr(at + 6, text.find(' ', at + 6) - at - 6);
    if (port.empty()) usleep(100000);
  }
  ASSERT_FALSE(port.empty());
  Result r = Winnow("run -q http://127.0.0.1:" + port +
                    "/CC-MAIN-2020-34-excerpt.warc.gz --data-dir " + dir.path() + "/data");
  Sh("kill $(cat " + dir.path() + "/server.pid)");
  ASSERT_EQ(r.code, 0) << r.out;
  nlohmann::json stats = StatsJson(dir.path() + "/data");
  EXPECT_EQ(Counter(stats, "read/records"), 50);
  EXPECT_EQ(Counter(stats, "read/skipped/request"), 17);
}

TEST(Cli, UnreachableInputFailsWithExitOneAndStoresNothingForIt) {
  TempDir dir;
  Result r = Winnow("run -q /nonexistent/file.warc.gz --data-dir " + dir.path());
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("/nonexistent/file.warc.gz"), std::string::npos) << r.out;
}

TEST(Cli, BadFlagOrConfigStopsAtStartUpWithExitTwo) {
  TempDir dir;
  EXPECT_EQ(Winnow("run --no-such-flag x").code, 2);
  EXPECT_EQ(Winnow("run --limit -3 x").code, 2);
  EXPECT_EQ(Winnow("frobnicate").code, 2);
  const std::string config = dir.path() + "/bad.yaml";
  std::ofstream(config) << "extract:\n  max_html_bytes: lots\n";
  Result r = Winnow("run --config " + config + " " + kCommonCrawl);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.out.find("max_html_bytes"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("lots"), std::string::npos) << r.out;
  std::ofstream(config) << "extrct:\n  max_html_bytes: 10\n";
  r = Winnow("run --config " + config + " " + kCommonCrawl);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.out.find("extrct"), std::string::npos) << r.out;
  r = Winnow("run --snapshot CC-MAIN-1999-99 --data-dir " + dir.path());
  EXPECT_EQ(r.code, 2) << r.out;
}

TEST(Cli, ExtractPrintsTheMainTextOfAPage) {
  const std::string page = std::string(WINNOW_SHARED_DIR) + "/data/extraction-dev/001/source.html";
  Result r = Winnow("extract " + page);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_GT(r.out.size(), 500u);
  Result stdin_run =
      Sh("echo '<html><body><nav>Home About</nav><article><p>The quick brown fox "
         "jumps over the lazy dog, again and again, for the benefit of all the "
         "readers who came here.</p></article></body></html>' | " +
         kWinnow + " extract -");
  ASSERT_EQ(stdin_run.code, 0) << stdin_run.out;
  EXPECT_NE(stdin_run.out.find("quick brown fox"), std::string::npos) << stdin_run.out;
  EXPECT_EQ(stdin_run.out.find("Home About"), std::string::npos) << stdin_run.out;
}

TEST(Cli, StatsOnAMissingDataDirFailsClearly) {
  Result r = Winnow("stats --data-dir /nonexistent/winnow-data");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.out.find("/nonexistent/winnow-data"), std::string::npos) << r.out;
}

}  // namespace

namespace {

// Standard output alone (stderr dropped): decisions must not be interleaved with messages.
Result Stdout(const std::string& command) {
  Result r;
  r.code = winnow::testing::RunCommand(command + " 2>/dev/null", &r.out);
  return r;
}

std::vector<nlohmann::json> JsonLines(const std::string& text) {
  std::vector<nlohmann::json> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    if (end > start) {
      out.push_back(nlohmann::json::parse(text.substr(start, end - start), nullptr, false));
    }
    start = end + 1;
  }
  return out;
}

TEST(Cli, FilterWritesOneDecisionPerDocumentWithScores) {
  TempDir dir;
  const std::string in = dir.path() + "/in.jsonl";
  {
    std::ofstream f(in);
    const std::string english =
        "The river runs past the old mill, and the people of the town walk along it with their "
        "dogs in the evening. In spring the water rises and covers the lower meadows, so the "
        "farmers move their sheep to the hills above the church. Children from the school have "
        "planted willows on the bank to hold the soil together. Last year a storm brought down "
        "the wooden bridge, and the council is still arguing about who should pay for a new one. "
        "Until then, anyone who wants to reach the market on the other side has to drive around "
        "through the next village, which takes almost half an hour.";
    f << nlohmann::json{{"id", "a"}, {"text", english}, {"metadata", {{"url", "https://a.org/x"}}}}
             .dump()
      << "\n";
    f << nlohmann::json{{"id", "b"},
                        {"text", "too short"},
                        {"metadata", {{"url", "https://b.org"}}}}
             .dump()
      << "\n";
    f << "this line is not json\n";
  }
  Result all = Stdout(kWinnow + " filter < " + in);
  ASSERT_EQ(all.code, 0) << all.out;
  std::vector<nlohmann::json> rows = JsonLines(all.out);
  ASSERT_EQ(rows.size(), 3u) << all.out;
  EXPECT_EQ(rows[0]["id"], "a");
  EXPECT_EQ(rows[0]["metadata"]["language"], "en");
  EXPECT_TRUE(rows[0]["metadata"].contains("language_score"));
  EXPECT_EQ(rows[1]["kept"], false);
  EXPECT_FALSE(rows[1]["filter"].is_null());
  EXPECT_EQ(rows[2]["reason"], "invalid_input");

  // One filter, one parameter: the short document passes a lowered word minimum.
  Result only = Stdout(kWinnow +
                       " filter --only gopher_quality --set gopher_quality.min_doc_words=1 "
                       "--set gopher_quality.min_stop_words=0 < " +
                       in);
  ASSERT_EQ(only.code, 0) << only.out;
  rows = JsonLines(only.out);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[1]["kept"], true) << rows[1].dump();
  Result strict = Stdout(kWinnow + " filter --only gopher_quality < " + in);
  rows = JsonLines(strict.out);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[1]["filter"], "gopher_quality");
  EXPECT_EQ(rows[1]["reason"], "gopher_short_doc");

  EXPECT_EQ(Winnow("filter --set gopher_quality.no_such_param=1 < " + in).code, 2);
  EXPECT_EQ(Winnow("filter --only no_such_filter < " + in).code, 2);
}

}  // namespace
