// The dashboard's HTTP API over real HTTP (curl on loopback) against a real run's data dir: its
// numbers equal the store's stats, dropped documents page, the metrics parse, tokens hold.
#include "services/dashboard/dashboard.h"

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <regex>
#include <sstream>

#include "filters/registry.h"
#include "nlohmann/json.hpp"
#include "pipeline/run/runner.h"
#include "services/dashboard/http_server.h"
#include "tests/util/shell.h"
#include "tests/util/temp_dir.h"

namespace winnow::services {
namespace {

using nlohmann::json;
using winnow::testing::RunCommand;
using winnow::testing::TempDir;

const std::string kData = std::string(WINNOW_SHARED_DIR) + "/data/commoncrawl";

struct Fetched {
  int status = 0;
  std::string body;
  std::string headers;
};

// GET with curl: status, headers and body.
Fetched Get(const std::string& url, const std::string& extra = "") {
  TempDir dir;
  Fetched f;
  std::string out;
  RunCommand("curl -s -o " + dir.path() + "/body -D " + dir.path() + "/headers -w '%{http_code}' " +
                 extra + " '" + url + "'",
             &out);
  f.status = std::atoi(out.c_str());
  std::ifstream body(dir.path() + "/body"), headers(dir.path() + "/headers");
  std::stringstream b, h;
  b << body.rdbuf();
  h << headers.rdbuf();
  f.body = b.str();
  f.headers = h.str();
  return f;
}

// One real run over the Common Crawl files, shared by the tests.
class DashboardTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    pipeline::RunOptions options;
    options.inputs = {kData};
    options.data_dir = dir_->path() + "/data";
    options.threads = 2;
    options.progress = false;
    auto config = pipeline::LoadConfig("");
    ASSERT_TRUE(config.ok());
    auto chain = filters::BuildFilterChain(config->filters, {}, "<default>");
    ASSERT_TRUE(chain.ok()) << chain.status();
    config->filters = chain->effective;
    auto report = pipeline::Run(options, *config, chain->filters);
    ASSERT_TRUE(report.ok()) << report.status();
    total_ = new json(report->total.ToJson());
  }
  static void TearDownTestSuite() {
    delete dir_;
    delete total_;
  }

  void StartServer(const std::string& token = "") {
    DashboardOptions options;
    options.title = "test";
    options.data_dir = dir_->path() + "/data";
    options.token = token;
    options.store = ReadOnlyStore(options.data_dir);
    auto tokenizer = trainer::Tokenizer::Load("gpt2");
    ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
    options.tokenizer = std::move(*tokenizer);
    auto server = HttpServer::Start("127.0.0.1:0", MakeDashboard(options));
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    base_ = "http://127.0.0.1:" + std::to_string(server_->port());
  }

  json Api(const std::string& path) {
    Fetched f = Get(base_ + path);
    EXPECT_EQ(f.status, 200) << path << ": " << f.body;
    EXPECT_NE(f.headers.find("application/json"), std::string::npos) << f.headers;
    return json::parse(f.body, nullptr, false);
  }

  int64_t Counter(const std::string& name) { return (*total_)["counters"].value(name, int64_t{0}); }

  static TempDir* dir_;
  static json* total_;
  std::unique_ptr<HttpServer> server_;
  std::string base_;
};

TempDir* DashboardTest::dir_ = nullptr;
json* DashboardTest::total_ = nullptr;

TEST_F(DashboardTest, FunnelAndFiltersEqualTheRunsStats) {
  StartServer();
  const json funnel = Api("/api/funnel");
  ASSERT_TRUE(funnel["steps"].is_array());
  std::map<std::string, int64_t> steps;
  int64_t previous = -1;
  for (const json& step : funnel["steps"]) {
    steps[step["name"]] = step["count"];
    if (previous >= 0) {
      EXPECT_EQ(previous - step["dropped"].get<int64_t>(), step["count"]) << step;
    }
    previous = step["count"];
  }
  EXPECT_EQ(steps["records"], Counter("read/records"));
  EXPECT_EQ(steps["extracted"], Counter("extract/kept"));
  // The last filter's survivors are what was written; dedup comes after.
  EXPECT_EQ(funnel["written"], Counter("write/kept"));
  EXPECT_EQ(steps["after pii"], Counter("write/kept"));
  EXPECT_LE(steps["curated"], Counter("write/kept"));
  EXPECT_GT(funnel["tokens_curated"].get<int64_t>(), 0);
  EXPECT_LT(funnel["tokens_curated"].get<int64_t>(), funnel["chars_curated"].get<int64_t>());

  const json filters = Api("/api/filters");
  bool saw_language = false;
  for (const json& f : filters["filters"]) {
    const std::string name = f["filter"];
    EXPECT_EQ(f["kept"], Counter(name + "/kept")) << name;
    int64_t dropped = 0;
    for (const json& r : f["reasons"]) {
      EXPECT_EQ(r["count"], Counter(name + "/dropped/" + r["reason"].get<std::string>()));
      dropped += r["count"].get<int64_t>();
    }
    EXPECT_EQ(f["dropped"], dropped);
    saw_language |= name == "language";
  }
  EXPECT_TRUE(saw_language);
}

TEST_F(DashboardTest, DroppedDocumentsPageWithTheirScores) {
  StartServer();
  const json first = Api("/api/dropped?filter=language&per_page=2&page=0");
  ASSERT_GE(first["examples"].get<int64_t>(), 3);
  ASSERT_EQ(first["items"].size(), 2u);
  const json& doc = first["items"][0];
  EXPECT_EQ(doc["filter"], "language");
  EXPECT_FALSE(doc["url"].get<std::string>().empty());
  EXPECT_FALSE(doc["text"].get<std::string>().empty());
  EXPECT_TRUE(doc["scores"].contains("language_score")) << doc["scores"];
  const json second = Api("/api/dropped?filter=language&per_page=2&page=1");
  EXPECT_NE(second["items"][0]["id"], doc["id"]);
  const json past = Api("/api/dropped?filter=language&per_page=2&page=1000");
  EXPECT_TRUE(past["items"].empty());
  // A reason narrows the list.
  const std::string reason = doc["reason"];
  const json narrow = Api("/api/dropped?filter=language&reason=" + reason + "&per_page=100");
  for (const json& d : narrow["items"]) EXPECT_EQ(d["reason"], reason);
  EXPECT_EQ(Get(base_ + "/api/dropped?page=x").status, 400);
}

TEST_F(DashboardTest, DistributionsSummaryAndRunsAnswer) {
  StartServer();
  const json dist = Api("/api/distributions");
  EXPECT_EQ(
      dist["documents_scanned"], Counter("write/kept") - [&] {
        int64_t dups = 0;
        for (const auto& [g, r] : Api("/api/summary")["dedup"].items()) {
          dups += r["exact_duplicates"].get<int64_t>() + r["near_duplicates"].get<int64_t>();
        }
        return dups;
      }());
  EXPECT_TRUE(dist["length"]["counts"].is_array());
  EXPECT_FALSE(dist["top_domains_dropped"].empty());
  const json runs = Api("/api/runs");
  EXPECT_EQ(runs["inputs"].size(), 5u);
  ASSERT_FALSE(runs["runs"].empty());  // runs.jsonl written by the run
  EXPECT_EQ(runs["runs"].back()["records"], Counter("read/records"));
  EXPECT_EQ(Api("/api/jobs"), json::array());
}

TEST_F(DashboardTest, MetricsAreValidPrometheusText) {
  StartServer();
  const Fetched metrics = Get(base_ + "/metrics");
  ASSERT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.headers.find("text/plain; version=0.0.4"), std::string::npos);
  const std::regex sample(
      R"(^(winnow_[a-z_]+)(\{[a-z_]+="[^"\\]*(\\.[^"\\]*)*"(,[a-z_]+="[^"]*")*\})? (-?[0-9.e+]+)$)");
  const std::regex comment(R"(^# (HELP|TYPE) winnow_[a-z_]+ .+$)");
  std::istringstream in(metrics.body);
  int samples = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    std::smatch m;
    if (std::regex_match(line, comment)) {
      if (line.rfind("# TYPE", 0) == 0 && line.find(" counter") != std::string::npos) {
        EXPECT_NE(line.find("_total counter"), std::string::npos) << line;
      }
      continue;
    }
    ASSERT_TRUE(std::regex_match(line, m, sample)) << line;
    ++samples;
  }
  EXPECT_GT(samples, 10);
  EXPECT_NE(metrics.body.find("winnow_records_total " + std::to_string(Counter("read/records"))),
            std::string::npos);
  EXPECT_NE(metrics.body.find("winnow_filter_dropped_total{filter=\"language\",reason=\"zh\"} " +
                              std::to_string(Counter("language/dropped/zh"))),
            std::string::npos)
      << metrics.body;
}

TEST_F(DashboardTest, PageAndAssetsAreServedReadOnlyWithAStrictPolicy) {
  StartServer();
  const Fetched page = Get(base_ + "/");
  EXPECT_EQ(page.status, 200);
  EXPECT_NE(page.body.find("<script src=\"/app.js\""), std::string::npos);
  EXPECT_NE(page.headers.find("Content-Security-Policy: default-src 'self'"), std::string::npos);
  EXPECT_EQ(Get(base_ + "/app.js").status, 200);
  EXPECT_EQ(Get(base_ + "/style.css").status, 200);
  EXPECT_EQ(Get(base_ + "/nope").status, 404);
  EXPECT_EQ(Get(base_ + "/api/summary", "-X POST").status, 405);
  EXPECT_EQ(Get(base_ + "/api/summary", "-X DELETE").status, 405);
  // No page pulls anything from elsewhere.
  EXPECT_EQ(page.body.find("http://"), std::string::npos);
  EXPECT_EQ(page.body.find("https://"), std::string::npos);
}

TEST_F(DashboardTest, ATokenIsRequiredWhenSet) {
  StartServer("sesame-123");
  EXPECT_EQ(Get(base_ + "/api/summary").status, 401);
  EXPECT_EQ(Get(base_ + "/api/summary", "-H 'Authorization: Bearer wrong'").status, 401);
  EXPECT_EQ(Get(base_ + "/api/summary", "-H 'Authorization: Bearer sesame-123'").status, 200);
  const Fetched with_query = Get(base_ + "/?token=sesame-123");
  EXPECT_EQ(with_query.status, 200);
  EXPECT_NE(with_query.headers.find("Set-Cookie: winnow_token=sesame-123"), std::string::npos);
  EXPECT_EQ(Get(base_ + "/metrics", "-H 'Cookie: a=b; winnow_token=sesame-123'").status, 200);
}

TEST(HttpServer, BoundsHeadersAndDecodesQueries) {
  HttpRequest seen;
  auto server = HttpServer::Start("127.0.0.1:0", [&](const HttpRequest& r) {
    seen = r;
    return HttpResponse{200, "text/plain", "ok", {}};
  });
  ASSERT_TRUE(server.ok());
  const std::string base = "http://127.0.0.1:" + std::to_string((*server)->port());
  EXPECT_EQ(Get(base + "/a%20b?x=1&y=h%C3%A9llo+world&x=2").status, 200);
  EXPECT_EQ(seen.path, "/a b");
  EXPECT_EQ(seen.query["x"], "2");
  EXPECT_EQ(seen.query["y"], "héllo world");
  const std::string huge(20000, 'a');
  EXPECT_NE(Get(base + "/", "-H 'X-Big: " + huge + "'").status, 200);
  EXPECT_FALSE(
      HttpServer::Start("not-an-address", [](const HttpRequest&) { return HttpResponse{}; }).ok());
}

}  // namespace
}  // namespace winnow::services
