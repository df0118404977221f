// `winnow dashboard --train-runs DIR` over real runs: a finished `winnow train` and one stopped
// half-way are listed with their state, step, losses and checkpoint; /api/training gives every
// metrics line; names outside DIR's runs are not read.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "nlohmann/json.hpp"
#include "tests/util/files.h"
#include "tests/util/process.h"
#include "tests/util/shell.h"
#include "tests/util/temp_dir.h"

namespace {

using nlohmann::json;
using winnow::testing::Process;
using winnow::testing::RunCommand;
using winnow::testing::TempDir;

const std::string kWinnow = std::string(WINNOW_BINARY_DIR) + "/services/winnow";

std::string Curl(const std::string& url, int* status) {
  std::string out;
  RunCommand("curl -s -w '\\n%{http_code}' '" + url + "'", &out);
  const size_t nl = out.rfind('\n');
  *status = std::atoi(out.substr(nl + 1).c_str());
  return out.substr(0, nl);
}

TEST(TrainingRuns, TheDashboardListsLocalRunsWithTheirCurves) {
  TempDir dir;
  std::string out;
  ASSERT_EQ(RunCommand("printf 'filters:\\n  order: []\\n' > " + dir.path() + "/nf.yaml", &out), 0);
  ASSERT_EQ(RunCommand(kWinnow + " run -q " + std::string(WINNOW_SHARED_DIR) +
                           "/data/commoncrawl --config " + dir.path() + "/nf.yaml --data-dir " +
                           dir.path() + "/data 2>&1",
                       &out),
            0)
      << out;
  const std::string tokenizer = winnow::testing::WriteByteTokenizer(dir.path());
  auto train = [&](const std::string& name, int steps) {
    std::ofstream(dir.path() + "/" + name + ".yaml")
        << "model: tiny\ndata_dir: " << dir.path() << "/data\ntokenizer: " << tokenizer
        << "\nsteps: " << steps
        << "\nbatch_size: 4\nseq_len: 32\neval_every: 10\neval_batches: 2\ncheckpoint_every: 10\n"
           "threads: 1\n";
    return RunCommand(kWinnow + " train --config " + dir.path() + "/" + name + ".yaml --out " +
                          dir.path() + "/runs/" + name + " 2>&1",
                      &out);
  };
  ASSERT_EQ(train("done", 20), 0) << out;
  ASSERT_EQ(train("half", 10), 0) << out;
  {  // as if stopped half-way: its config asks for more steps than it reached
    std::string config = winnow::testing::ReadFile(dir.path() + "/runs/half/config.yaml");
    config.replace(config.find("steps: 10"), 9, "steps: 40");
    std::ofstream(dir.path() + "/runs/half/config.yaml") << config;
    std::filesystem::last_write_time(
        dir.path() + "/runs/half/metrics.jsonl",
        std::filesystem::file_time_type::clock::now() - std::chrono::hours(1));
  }

  Process dashboard({kWinnow, "dashboard", "--data-dir", dir.path() + "/data", "--http",
                     "127.0.0.1:0", "--train-runs", dir.path() + "/runs", "--tokenizer", "none"},
                    dir.path() + "/dashboard.log");
  const std::optional<std::string> url = dashboard.WaitForLog("(http://127\\.0\\.0\\.1:\\d+/)");
  ASSERT_TRUE(url.has_value()) << dashboard.Log();
  int status = 0;
  const json jobs = json::parse(Curl(*url + "api/jobs", &status), nullptr, false);
  ASSERT_EQ(status, 200);
  ASSERT_TRUE(jobs.is_array() && jobs.size() == 2) << jobs;
  const json& done = jobs[0]["job_id"] == "done" ? jobs[0] : jobs[1];
  const json& half = jobs[0]["job_id"] == "done" ? jobs[1] : jobs[0];
  EXPECT_EQ(done["kind"], "train");
  EXPECT_EQ(done["state"], "succeeded");
  EXPECT_EQ(done["training"]["step"], 20);
  EXPECT_EQ(done["training"]["steps"], 20);
  EXPECT_EQ(done["training"]["model"], "tiny");
  EXPECT_TRUE(done["training"]["val_loss"].is_number());
  EXPECT_NE(done["training"]["checkpoint"].get<std::string>().find("step_000020"),
            std::string::npos);
  EXPECT_EQ(half["state"], "stopped");
  EXPECT_EQ(half["training"]["step"], 10);
  EXPECT_EQ(half["training"]["steps"], 40);

  const json curve = json::parse(Curl(*url + "api/training?job=done", &status), nullptr, false);
  ASSERT_EQ(status, 200);
  ASSERT_EQ(curve["metrics"].size(), 21u);  // step 0 (the untrained model) to 20
  EXPECT_EQ(curve["metrics"][20]["step"], 20);
  EXPECT_EQ(curve["metrics"][20]["loss"], done["training"]["loss"]);
  for (const char* bad : {"..", "..%2Fdata", "nope", "%2Fetc"}) {
    Curl(*url + "api/training?job=" + bad, &status);
    EXPECT_EQ(status, 404) << bad;
  }
  const json summary = json::parse(Curl(*url + "api/summary", &status), nullptr, false);
  EXPECT_EQ(summary["mode"], "embedded");
}

}  // namespace
