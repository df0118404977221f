// The cluster as it runs: a real coordinator and real workers (the `winnow` binary) on loopback,
// Common Crawl files served by a local HTTP server, processes killed with SIGKILL. The curated
// documents and stats must equal those of an embedded `winnow run` over the same inputs.
#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "nlohmann/json.hpp"
#include "proto/grpc/health/v1/health.grpc.pb.h"
#include "proto/grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "tests/util/files.h"
#include "tests/util/process.h"
#include "tests/util/shell.h"
#include "tests/util/temp_dir.h"

namespace {

using winnow::testing::Process;
using winnow::testing::ReadFile;
using winnow::testing::RunCommand;
using winnow::testing::TempDir;
using winnow::testing::WriteByteTokenizer;

const std::string kWinnow = std::string(WINNOW_BINARY_DIR) + "/services/winnow";
const std::string kData = std::string(WINNOW_SHARED_DIR) + "/data/commoncrawl";
const std::string kServer = std::string(WINNOW_SOURCE_DIR) + "/tests/tools/http_server.py";

struct Result {
  int code;
  std::string out;
};

Result Winnow(const std::string& args) {
  Result r;
  r.code = RunCommand(kWinnow + " " + args + " 2>&1", &r.out);
  return r;
}

// A test's processes and folders; everything is killed and removed at the end.
class Cluster {
 public:
  explicit Cluster(int rate = 0, int slow_requests = -1) {
    std::ofstream(dir_.path() + "/no-filters.yaml") << "filters:\n  order: []\n";
    std::vector<std::string> argv = {"/usr/bin/python3", kServer, kData};
    if (rate > 0) {
      argv.insert(argv.end(), {"--rate", std::to_string(rate), "--slow-requests",
                               std::to_string(slow_requests)});
    }
    http_ = std::make_unique<Process>(argv, dir_.path() + "/http.log");
    http_port_ = http_->WaitForLog("port (\\d+)").value_or("0");
  }

  const std::string& dir() const { return dir_.path(); }
  std::string Url(const std::string& file) const {
    return "http://127.0.0.1:" + http_port_ + "/" + file;
  }
  std::string Config() const { return dir_.path() + "/no-filters.yaml"; }
  std::string Address() const { return "127.0.0.1:" + grpc_port_; }

  // Starts (or restarts, on the same port) the coordinator.
  void StartCoordinator(std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {kWinnow,
                                     "serve",
                                     "coordinator",
                                     "--data-dir",
                                     DataDir(),
                                     "--grpc",
                                     "127.0.0.1:" + grpc_port_,
                                     "--lease-seconds",
                                     "2",
                                     "--retry-backoff-seconds",
                                     "0.2"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    coordinator_ = std::make_unique<Process>(
        argv, dir_.path() + "/coordinator-" + std::to_string(++coordinators_) + ".log");
    grpc_port_ = coordinator_->WaitForLog("gRPC on 127\\.0\\.0\\.1:(\\d+)").value_or("0");
    ASSERT_NE(grpc_port_, "0") << coordinator_->Log();
  }
  Process& coordinator() { return *coordinator_; }
  void UsePort(int port) { grpc_port_ = std::to_string(port); }

  Process& StartShard(const std::string& name, int port) {
    workers_.push_back(std::make_unique<Process>(
        std::vector<std::string>{kWinnow, "serve", "shard", "--data-dir", dir_.path() + "/" + name,
                                 "--grpc", "127.0.0.1:" + std::to_string(port), "--coordinator",
                                 Address()},
        dir_.path() + "/" + name + ".log"));
    return *workers_.back();
  }

  // Workers share WORK_DIR (as on one machine, or a shared file system).
  Process& StartWorker(const std::string& name, std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {kWinnow,   "serve",      "worker", "--coordinator",
                                     Address(), "--threads",  "1",      "--name",
                                     name,      "--work-dir", WorkDir()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    workers_.push_back(std::make_unique<Process>(argv, dir_.path() + "/" + name + ".log"));
    return *workers_.back();
  }
  std::string WorkDir() const { return dir_.path() + "/work"; }

  std::string DataDir() const { return dir_.path() + "/cluster-data"; }

  // Polls `winnow status JOB` until the job ends; returns the last output.
  std::string WaitForJob(const std::string& job,
                         std::chrono::seconds timeout = std::chrono::seconds(90)) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    std::string out;
    while (std::chrono::steady_clock::now() < until) {
      out = Winnow("status --coordinator " + Address() + " " + job + " --tasks").out;
      // The job's line starts "job-NNNNNN  STATE  ".
      static const std::regex ended("^job-\\d+\\s+(succeeded|failed|cancelled)\\s");
      if (std::regex_search(out, ended)) return out;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return out;
  }

 private:
  TempDir dir_;
  std::unique_ptr<Process> http_, coordinator_;
  std::vector<std::unique_ptr<Process>> workers_;
  std::string http_port_, grpc_port_ = "0";
  int coordinators_ = 0;
};

// Everything a data dir holds that a user sees: every document (duplicates included, marked),
// the per-input stats and the dedup reports.
std::string Snapshot(const std::string& data_dir, const std::string& out_dir) {
  Result exported = Winnow("export --data-dir " + data_dir + " --format jsonl --out " + out_dir +
                           " --include-duplicates");
  EXPECT_EQ(exported.code, 0) << exported.out;
  std::string docs;
  RunCommand("zcat " + out_dir + "/*.jsonl.gz", &docs);
  std::string stats_text;
  RunCommand(kWinnow + " stats --json --data-dir " + data_dir, &stats_text);
  nlohmann::json stats = nlohmann::json::parse(stats_text, nullptr, false);
  EXPECT_TRUE(stats.is_object()) << stats_text;
  for (auto& [group, report] : stats["dedup"].items()) {
    report.erase("exact_seconds");
    report.erase("near_seconds");
  }
  return docs + "\n" + stats.dump(1);
}

std::vector<std::string> PageFiles() {
  return {"CC-MAIN-20140820021334-00006-ip-10-180-136-8.ec2.internal.warc",
          "CC-MAIN-20140820021334-00006-ip-10-180-136-8.ec2.internal.warc.wet",
          "CC-MAIN-2020-34-excerpt.warc.gz", "CC-MAIN-2024-22-whirlwind.warc.gz",
          "CC-MAIN-2024-22-whirlwind.warc.wet.gz"};
}

std::string Urls(const Cluster& cluster, const std::vector<std::string>& files) {
  std::string out;
  for (const std::string& f : files) out += " " + cluster.Url(f);
  return out;
}

// Equal, or a short note on where the two first differ.
::testing::AssertionResult Same(const std::string& a, const std::string& b) {
  if (a == b) return ::testing::AssertionSuccess();
  size_t at = 0;
  while (at < a.size() && at < b.size() && a[at] == b[at]) ++at;
  const size_t from = at < 200 ? 0 : at - 200;
  return ::testing::AssertionFailure()
         << "sizes " << a.size() << " vs " << b.size() << "; first difference at " << at
         << ":\n  cluster:  " << a.substr(from, 400) << "\n  embedded: " << b.substr(from, 400);
}

// The reference: `winnow run` over the same URLs.
std::string Embedded(const Cluster& cluster, const std::vector<std::string>& files) {
  const std::string data = cluster.dir() + "/embedded-data";
  Result run = Winnow("run -q" + Urls(cluster, files) + " --config " + cluster.Config() +
                      " --data-dir " + data);
  EXPECT_EQ(run.code, 0) << run.out;
  return Snapshot(data, cluster.dir() + "/embedded-export");
}

// A port nobody listens on now (the kernel's pick; released at once).
int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

std::vector<std::string> SortedLines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  std::sort(lines.begin(), lines.end());
  return lines;
}

std::string JobId(const std::string& submit_out) {
  const size_t at = submit_out.find("job-");
  return at == std::string::npos ? "" : submit_out.substr(at, 10);
}

TEST(Cluster, ThreeWorkersProduceWhatAnEmbeddedRunProduces) {
  // The first download crawls, so one worker is busy with it while the others take the rest.
  Cluster cluster(60000, 1);
  cluster.StartCoordinator();
  for (const char* name : {"w1", "w2", "w3"}) cluster.StartWorker(name);
  Result submit = Winnow("submit --coordinator " + cluster.Address() + Urls(cluster, PageFiles()) +
                         " --config " + cluster.Config() + " --wait");
  ASSERT_EQ(submit.code, 0) << submit.out << cluster.coordinator().Log();
  EXPECT_NE(submit.out.find("succeeded"), std::string::npos) << submit.out;
  const std::string cluster_result = Snapshot(cluster.DataDir(), cluster.dir() + "/cluster-export");
  EXPECT_NE(cluster_result.find("\"write/kept\""), std::string::npos);
  EXPECT_TRUE(Same(cluster_result, Embedded(cluster, PageFiles())));
  // Several workers took part.
  const std::string log = cluster.coordinator().Log();
  int workers = 0;
  for (const char* name : {"w1", "w2", "w3"}) {
    workers += log.find(std::string("done by ") + name) != std::string::npos;
  }
  EXPECT_GE(workers, 2) << log;
}

// A coordinator whose results go to two standalone shard servers, "shard1" and "shard2" (their
// data dirs are DIR/shard1, DIR/shard2).
void StartWithTwoShardServers(Cluster& cluster) {
  const int coordinator_port = FreePort(), shard1 = FreePort(), shard2 = FreePort();
  cluster.UsePort(coordinator_port);
  cluster.StartCoordinator(
      {"--shards", "127.0.0.1:" + std::to_string(shard1) + ",127.0.0.1:" + std::to_string(shard2)});
  for (auto [name, port] : {std::pair{"shard1", shard1}, std::pair{"shard2", shard2}}) {
    Process& shard = cluster.StartShard(name, port);
    ASSERT_TRUE(shard.WaitForLog("gRPC on").has_value()) << shard.Log();
  }
}

TEST(Cluster, StandaloneShardServersTogetherHoldWhatAnEmbeddedRunHolds) {
  Cluster cluster;
  ASSERT_NO_FATAL_FAILURE(StartWithTwoShardServers(cluster));
  cluster.StartWorker("w1");
  cluster.StartWorker("w2");
  Result submit = Winnow("submit --coordinator " + cluster.Address() + Urls(cluster, PageFiles()) +
                         " --config " + cluster.Config() + " --wait");
  ASSERT_EQ(submit.code, 0) << submit.out << cluster.coordinator().Log();

  // Documents: both shards' together, each input in exactly one of them.
  std::string docs, part;
  for (const char* name : {"shard1", "shard2"}) {
    const std::string out = cluster.dir() + "/export-" + name;
    ASSERT_EQ(Winnow("export --data-dir " + cluster.dir() + "/" + name +
                     " --format jsonl --include-duplicates --out " + out)
                  .code,
              0);
    RunCommand("zcat " + out + "/*.jsonl.gz 2>/dev/null", &part);
    EXPECT_FALSE(part.empty()) << name << " holds nothing: the inputs were not spread";
    docs += part;
  }
  const std::string embedded = Embedded(cluster, PageFiles());
  EXPECT_EQ(SortedLines(docs), SortedLines(embedded.substr(0, embedded.find("\n\n{"))));
  // Stats per input, and the dedup reports each shard's stats.json now carries.
  nlohmann::json inputs = nlohmann::json::object(), dedup;
  for (const char* name : {"shard1", "shard2"}) {
    std::string text;
    RunCommand(kWinnow + " stats --json --data-dir " + cluster.dir() + "/" + name, &text);
    const nlohmann::json stats = nlohmann::json::parse(text);
    inputs.update(stats["inputs"]);
    dedup = stats["dedup"];
  }
  const nlohmann::json reference =
      nlohmann::json::parse(embedded.substr(embedded.find("\n\n{") + 2));
  EXPECT_EQ(inputs, reference["inputs"]);
  for (auto& [group, report] : dedup.items()) {
    report.erase("exact_seconds");
    report.erase("near_seconds");
  }
  EXPECT_EQ(dedup, reference["dedup"]);
}

TEST(Cluster, AWorkerKilledMidTaskLosesNothing) {
  // The first two downloads crawl (40 kB/s: the 256 kB WARC takes ~6 s); later ones are fast.
  Cluster cluster(40000, 2);
  cluster.StartCoordinator();
  const std::vector<std::string> files = {PageFiles()[0], PageFiles()[2]};
  Result submit = Winnow("submit --coordinator " + cluster.Address() + Urls(cluster, files) +
                         " --config " + cluster.Config());
  ASSERT_EQ(submit.code, 0) << submit.out;
  const std::string job = JobId(submit.out);
  Process& doomed = cluster.StartWorker("doomed");
  ASSERT_TRUE(doomed.WaitForLog("task 0: ").has_value()) << doomed.Log();
  std::this_thread::sleep_for(std::chrono::seconds(1));
  doomed.Kill(SIGKILL);
  cluster.StartWorker("survivor");
  const std::string status = cluster.WaitForJob(job);
  EXPECT_NE(status.find(" succeeded "), std::string::npos) << status << cluster.coordinator().Log();
  EXPECT_NE(cluster.coordinator().Log().find("lease expired: worker doomed"), std::string::npos)
      << cluster.coordinator().Log();
  EXPECT_TRUE(Same(Snapshot(cluster.DataDir(), cluster.dir() + "/cluster-export"),
                   Embedded(cluster, files)));
}

TEST(Cluster, ACoordinatorKilledMidJobCarriesOnAfterARestart) {
  Cluster cluster(40000, 3);
  cluster.StartCoordinator();
  cluster.StartWorker("w1");
  cluster.StartWorker("w2");
  Process waiter(
      {kWinnow, "submit", "--coordinator", cluster.Address(), "--config", cluster.Config(),
       "--wait", cluster.Url(PageFiles()[0]), cluster.Url(PageFiles()[1]),
       cluster.Url(PageFiles()[2]), cluster.Url(PageFiles()[3]), cluster.Url(PageFiles()[4])},
      cluster.dir() + "/submit.log");
  ASSERT_TRUE(cluster.coordinator().WaitForLog("done by").has_value())
      << cluster.coordinator().Log();
  cluster.coordinator().Kill(SIGKILL);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  cluster.StartCoordinator();
  EXPECT_EQ(waiter.Wait(), 0) << waiter.Log() << cluster.coordinator().Log();
  EXPECT_NE(waiter.Log().find("succeeded"), std::string::npos) << waiter.Log();
  // The restarted coordinator finished tasks the first one had not.
  EXPECT_NE(cluster.coordinator().Log().find("done by"), std::string::npos)
      << cluster.coordinator().Log();
  EXPECT_TRUE(Same(Snapshot(cluster.DataDir(), cluster.dir() + "/cluster-export"),
                   Embedded(cluster, PageFiles())));
}

TEST(Cluster, ABadInputFailsOnlyItsTaskWithTheReasonInStatus) {
  Cluster cluster;
  const std::string root = cluster.dir() + "/inputs";
  std::filesystem::create_directories(root);
  std::filesystem::copy_file(kData + "/CC-MAIN-2024-22-whirlwind.warc.gz",
                             root + "/vanishing.warc.gz");
  cluster.StartCoordinator({"--allow-root", root});
  Result submit = Winnow("submit --coordinator " + cluster.Address() + " " +
                         cluster.Url("no-such-file.warc.gz") + " " + root + "/vanishing.warc.gz " +
                         cluster.Url(PageFiles()[2]) + " --config " + cluster.Config());
  ASSERT_EQ(submit.code, 0) << submit.out;
  const std::string job = JobId(submit.out);
  std::filesystem::remove(root + "/vanishing.warc.gz");  // unreadable by the time a worker comes
  cluster.StartWorker("w1");
  const std::string status = cluster.WaitForJob(job);
  EXPECT_NE(status.find(" failed "), std::string::npos) << status;
  EXPECT_NE(status.find("tasks 1/3 done"), std::string::npos) << status;
  EXPECT_NE(status.find("no-such-file.warc.gz"), std::string::npos) << status;
  EXPECT_NE(status.find("404"), std::string::npos) << status;
  EXPECT_NE(status.find("vanishing.warc.gz"), std::string::npos) << status;
  // --wait exits 1 for a failed job.
  Result again = Winnow("submit --coordinator " + cluster.Address() + " " +
                        cluster.Url("no-such-file.warc.gz") + " --wait");
  EXPECT_EQ(again.code, 1) << again.out;
  EXPECT_NE(again.out.find("failed task"), std::string::npos) << again.out;
}

TEST(Cluster, JobsMayNotReadTheCoordinatorsDisk) {
  Cluster cluster;
  cluster.StartCoordinator();
  Result local = Winnow("submit --coordinator " + cluster.Address() + " " + kData);
  EXPECT_EQ(local.code, 2) << local.out;
  EXPECT_NE(local.out.find("local paths are refused"), std::string::npos) << local.out;
  Result file = Winnow("submit --coordinator " + cluster.Address() + " file:///etc/passwd");
  EXPECT_EQ(file.code, 2) << file.out;
  Result traversal = Winnow("submit --coordinator " + cluster.Address() + " " + cluster.dir() +
                            "/../../etc/passwd");
  EXPECT_EQ(traversal.code, 2) << traversal.out;
}

TEST(Cluster, AWrongOrMissingTokenIsRefused) {
  Cluster cluster;
  std::ofstream(cluster.dir() + "/token") << "s3cret-token\n";
  std::ofstream(cluster.dir() + "/wrong") << "guess\n";
  cluster.StartCoordinator({"--token-file", cluster.dir() + "/token"});
  const std::string inputs = " " + cluster.Url(PageFiles()[2]);
  Result none = Winnow("submit --coordinator " + cluster.Address() + inputs);
  EXPECT_EQ(none.code, 2) << none.out;
  EXPECT_NE(none.out.find("bearer token"), std::string::npos) << none.out;
  Result wrong = Winnow("submit --coordinator " + cluster.Address() + inputs + " --token-file " +
                        cluster.dir() + "/wrong");
  EXPECT_EQ(wrong.code, 2) << wrong.out;
  EXPECT_EQ(Winnow("status --coordinator " + cluster.Address()).code, 2);
  Result right = Winnow("submit --coordinator " + cluster.Address() + inputs + " --token-file " +
                        cluster.dir() + "/token");
  EXPECT_EQ(right.code, 0) << right.out;
  // A worker without the token gives up instead of spinning.
  Process& worker = cluster.StartWorker("tokenless");
  EXPECT_TRUE(worker.WaitForLog("refused by the coordinator").has_value()) << worker.Log();
  // Off loopback, a coordinator without a token does not start.
  Result open = Winnow("serve coordinator --data-dir " + cluster.dir() + "/open --grpc 0.0.0.0:0");
  EXPECT_EQ(open.code, 2) << open.out;
  EXPECT_NE(open.out.find("--token-file"), std::string::npos) << open.out;
}

TEST(Cluster, HealthCheckingAndReflectionAreServed) {
  Cluster cluster;
  cluster.StartCoordinator();
  auto channel = grpc::CreateChannel(cluster.Address(), grpc::InsecureChannelCredentials());
  auto health = grpc::health::v1::Health::NewStub(channel);
  grpc::ClientContext context;
  grpc::health::v1::HealthCheckRequest request;
  grpc::health::v1::HealthCheckResponse response;
  ASSERT_TRUE(health->Check(&context, request, &response).ok());
  EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING);

  auto reflection = grpc::reflection::v1alpha::ServerReflection::NewStub(channel);
  grpc::ClientContext rcontext;
  auto stream = reflection->ServerReflectionInfo(&rcontext);
  grpc::reflection::v1alpha::ServerReflectionRequest list;
  list.set_list_services("*");
  ASSERT_TRUE(stream->Write(list));
  stream->WritesDone();
  grpc::reflection::v1alpha::ServerReflectionResponse listed;
  ASSERT_TRUE(stream->Read(&listed));
  std::vector<std::string> names;
  for (const auto& s : listed.list_services_response().service()) names.push_back(s.name());
  EXPECT_NE(std::find(names.begin(), names.end(), "winnow.v1.Coordinator"), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), "winnow.v1.Shard"), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), "grpc.health.v1.Health"), names.end());
  stream->Finish().ok();
}

// ---- training jobs ----

std::string TrainingYaml(const std::string& tokenizer) {
  return "model: tiny\ntokenizer: " + tokenizer +
         "\nsteps: 400\nbatch_size: 4\nseq_len: 32\nlr: 0.003\nwarmup_steps: 5\n"
         "eval_every: 100\neval_batches: 2\ncheckpoint_every: 25\nthreads: 1\n";
}

// True once no `winnow train` of `job` runs any more, false if one still does after `timeout`.
bool TrainingStopsWithin(const Cluster& cluster, const std::string& job,
                         std::chrono::milliseconds timeout) {
  // "confi[g]" keeps pgrep from matching the shell that runs it.
  const std::string pgrep =
      "pgrep -f '" + cluster.WorkDir() + "/training/" + job + "/confi[g].yaml'";
  const auto until = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    std::string found;
    if (RunCommand(pgrep, &found) != 0) return true;
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

// metrics.jsonl lines as JSON, without the fields that measure speed.
std::vector<nlohmann::json> Metrics(const std::string& text) {
  std::vector<nlohmann::json> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_object() || !j.contains("step")) continue;
    j.erase("tokens_per_s");
    j.erase("mfu");
    out.push_back(std::move(j));
  }
  return out;
}

// Curates one Common Crawl file through the cluster (a worker that leaves after it).
void Curate(Cluster& cluster) {
  cluster.StartWorker("curator", {"--max-tasks", "1"});
  Result curate =
      Winnow("submit --coordinator " + cluster.Address() + Urls(cluster, {PageFiles()[2]}) +
             " --config " + cluster.Config() + " --wait");
  ASSERT_EQ(curate.code, 0) << curate.out << cluster.coordinator().Log();
}

TEST(ClusterTraining, AKilledTrainingWorkerIsResumedFromItsCheckpointBitForBit) {
  Cluster cluster;
  cluster.StartCoordinator();
  ASSERT_NO_FATAL_FAILURE(Curate(cluster));
  const std::string yaml_path = cluster.dir() + "/train.yaml";
  std::ofstream(yaml_path) << TrainingYaml(WriteByteTokenizer(cluster.dir()));
  Result submit = Winnow("train --coordinator " + cluster.Address() + " --config " + yaml_path +
                         " --snapshot CC-MAIN-2020-34");
  ASSERT_EQ(submit.code, 0) << submit.out;
  const std::string job = JobId(submit.out);

  // The first worker dies (SIGKILL to it alone, not its process group) once a checkpoint exists;
  // its `winnow train` child must die with it.
  Process& doomed = cluster.StartWorker("doomed");
  std::string status;
  for (int i = 0; i < 600; i++) {
    status = Winnow("status --coordinator " + cluster.Address() + " " + job).out;
    if (status.find("checkpoints/step_") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_NE(status.find("checkpoints/step_"), std::string::npos) << status << doomed.Log();
  ::kill(doomed.pid(), SIGKILL);
  doomed.Wait();
  // No orphan trains on: the child dies with its worker, within half a second (an orphan would
  // train on for seconds).
  EXPECT_TRUE(TrainingStopsWithin(cluster, job, std::chrono::milliseconds(500)))
      << "the killed worker's winnow train still runs";
  EXPECT_EQ(status.find(" succeeded "), std::string::npos) << "too late to test a resume";
  Process& survivor = cluster.StartWorker("survivor");
  status = cluster.WaitForJob(job);
  ASSERT_NE(status.find(" succeeded "), std::string::npos)
      << status << survivor.Log() << cluster.coordinator().Log();
  EXPECT_NE(status.find("step 400/400"), std::string::npos) << status;
  EXPECT_NE(cluster.coordinator().Log().find("lease expired: worker doomed"), std::string::npos)
      << cluster.coordinator().Log();
  EXPECT_NE(survivor.Log().find("winnow train --resume"), std::string::npos) << survivor.Log();

  // Every step once, in order, in the coordinator's copy of the metrics …
  const std::vector<nlohmann::json> cluster_metrics =
      Metrics(Winnow("status --coordinator " + cluster.Address() + " " + job + " --metrics").out);
  ASSERT_EQ(cluster_metrics.size(), 401u);
  for (size_t i = 0; i < cluster_metrics.size(); i++) {
    ASSERT_EQ(cluster_metrics[i]["step"], static_cast<int>(i));
  }
  // … and equal, bit for bit, to an uninterrupted local run on the documents the job trained on.
  const std::string local_yaml = cluster.dir() + "/local.yaml";
  std::ofstream(local_yaml) << TrainingYaml(cluster.dir() + "/bytes.tiktoken")
                            << "data_dir: " << cluster.WorkDir() << "/training/" << job
                            << "/data\n";
  Result local = Winnow("train --config " + local_yaml + " --out " + cluster.dir() + "/local");
  ASSERT_EQ(local.code, 0) << local.out;
  EXPECT_EQ(Metrics(ReadFile(cluster.dir() + "/local/metrics.jsonl")), cluster_metrics);
  EXPECT_LT(cluster_metrics.back()["val_loss"].get<double>(),
            cluster_metrics.front()["val_loss"].get<double>() - 1.0);
}

TEST(ClusterTraining, BadTrainingJobsAreRefusedAtSubmitNamingTheProblem) {
  Cluster cluster;
  cluster.StartCoordinator();
  const std::string path = cluster.dir() + "/bad.yaml";
  auto submit = [&](const std::string& yaml, const std::string& flags = "") {
    std::ofstream(path) << yaml;
    return Winnow("submit --coordinator " + cluster.Address() + " --train " + path + flags);
  };
  Result r = submit("model: tiny\nbatch_size: -3\n");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.out.find("batch_size"), std::string::npos) << r.out;
  r = submit("model: tiny\ndata_dir: /tmp\n");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.out.find("data_dir"), std::string::npos) << r.out;
  r = submit("model: tiny\n", " --snapshot CC-MAIN-1999-01");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.out.find("CC-MAIN-1999-01"), std::string::npos) << r.out;
  // The checks of the client can be skipped; the coordinator makes them too.
  r = Winnow("train --coordinator " + cluster.Address() + " --config " + path + " --out x");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.out.find("--out"), std::string::npos) << r.out;
  EXPECT_NE(Winnow("status --coordinator " + cluster.Address()).out.find("no jobs"),
            std::string::npos);
}

TEST(ClusterTraining, ATrainingJobWithNothingToTrainOnFailsWithTheReason) {
  Cluster cluster;
  cluster.StartCoordinator();
  cluster.StartWorker("w1");
  const std::string yaml_path = cluster.dir() + "/train.yaml";
  std::ofstream(yaml_path) << TrainingYaml(WriteByteTokenizer(cluster.dir()));
  Result submit = Winnow("submit --coordinator " + cluster.Address() + " --train " + yaml_path);
  ASSERT_EQ(submit.code, 0) << submit.out;
  const std::string status = cluster.WaitForJob(JobId(submit.out));
  EXPECT_NE(status.find(" failed "), std::string::npos) << status;
  EXPECT_NE(status.find("no kept documents"), std::string::npos) << status;
}

TEST(ClusterTraining, ACancelledTrainingJobStopsItsRunAndTheWorkerTakesTheNextJob) {
  Cluster cluster;
  cluster.StartCoordinator();
  ASSERT_NO_FATAL_FAILURE(Curate(cluster));
  const std::string yaml_path = cluster.dir() + "/train.yaml";
  std::string yaml = TrainingYaml(WriteByteTokenizer(cluster.dir()));
  yaml.replace(yaml.find("steps: 400"), 10, "steps: 1000000");
  std::ofstream(yaml_path) << yaml;
  Result submit = Winnow("submit --coordinator " + cluster.Address() + " --train " + yaml_path +
                         " --snapshot CC-MAIN-2020-34");
  ASSERT_EQ(submit.code, 0) << submit.out;
  const std::string job = JobId(submit.out);
  Process& worker = cluster.StartWorker("w1");
  std::string status;
  for (int i = 0; i < 600; i++) {
    status = Winnow("status --coordinator " + cluster.Address() + " " + job).out;
    if (std::regex_search(status, std::regex("step [1-9]\\d*/1000000"))) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(std::regex_search(status, std::regex("step [1-9]\\d*/1000000"))) << status;
  // 999,999+ steps left at the reported speed: a positive estimate.
  EXPECT_TRUE(std::regex_search(status, std::regex("ETA [1-9]\\d* s"))) << status;

  Result cancel = Winnow("cancel --coordinator " + cluster.Address() + " " + job);
  ASSERT_EQ(cancel.code, 0) << cancel.out;
  EXPECT_NE(cancel.out.find("1 task(s) stopped"), std::string::npos) << cancel.out;
  status = cluster.WaitForJob(job);
  EXPECT_NE(status.find(" cancelled "), std::string::npos) << status;
  // The run stops (within a report period of the worker), and the worker stays to take more work.
  EXPECT_TRUE(TrainingStopsWithin(cluster, job, std::chrono::seconds(10)))
      << "the cancelled job's winnow train still runs";
  EXPECT_TRUE(std::filesystem::exists(cluster.WorkDir() + "/training/" + job + "/out/checkpoints"))
      << "the cancelled run's checkpoints were removed";
  EXPECT_EQ(Winnow("cancel --coordinator " + cluster.Address() + " " + job).code, 2);
  Result next =
      Winnow("submit --coordinator " + cluster.Address() + Urls(cluster, {PageFiles()[0]}) +
             " --config " + cluster.Config() + " --wait");
  EXPECT_EQ(next.code, 0) << next.out << worker.Log();
}

TEST(ClusterTraining, OnStandaloneShardServersItTrainsAsOnTheEmbeddedRunsDocuments) {
  Cluster cluster;
  ASSERT_NO_FATAL_FAILURE(StartWithTwoShardServers(cluster));
  cluster.StartWorker("w1");
  Result curate = Winnow("submit --coordinator " + cluster.Address() + Urls(cluster, PageFiles()) +
                         " --config " + cluster.Config() + " --wait");
  ASSERT_EQ(curate.code, 0) << curate.out << cluster.coordinator().Log();
  // Every snapshot (no --snapshot): the kept documents of both shard servers, duplicates left out.
  std::string yaml = TrainingYaml(WriteByteTokenizer(cluster.dir()));
  yaml.replace(yaml.find("steps: 400"), 10, "steps: 30");
  std::ofstream(cluster.dir() + "/train.yaml") << yaml;
  Result train = Winnow("submit --coordinator " + cluster.Address() + " --train " + cluster.dir() +
                        "/train.yaml --wait");
  ASSERT_EQ(train.code, 0) << train.out << cluster.coordinator().Log();
  const std::string job = JobId(train.out);
  const std::vector<nlohmann::json> cluster_metrics =
      Metrics(Winnow("status --coordinator " + cluster.Address() + " " + job + " --metrics").out);
  ASSERT_EQ(cluster_metrics.size(), 31u);

  // The reference: `winnow run` over the same URLs (dedup included), then `winnow train` on it.
  Embedded(cluster, PageFiles());
  std::ofstream(cluster.dir() + "/local.yaml")
      << yaml << "data_dir: " << cluster.dir() << "/embedded-data\n";
  Result local =
      Winnow("train --config " + cluster.dir() + "/local.yaml --out " + cluster.dir() + "/local");
  ASSERT_EQ(local.code, 0) << local.out;
  EXPECT_EQ(Metrics(ReadFile(cluster.dir() + "/local/metrics.jsonl")), cluster_metrics);
}

}  // namespace
