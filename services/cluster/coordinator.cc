#include "services/cluster/coordinator.h"

#include <google/protobuf/util/json_util.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <shared_mutex>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "filters/registry.h"
#include "nlohmann/json.hpp"
#include "pipeline/io/inputs.h"
#include "pipeline/io/latest_snapshot.h"
#include "pipeline/run/config.h"
#include "pipeline/run/dedup_stage.h"
#include "pipeline/stats.h"
#include "pipeline/store/shard_store.h"
#include "pipeline/warc/gzip_reader.h"
#include "proto/winnow.grpc.pb.h"
#include "rocksdb/db.h"
#include "rocksdb/write_batch.h"
#include "services/cluster/auth.h"
#include "services/cluster/input_policy.h"
#include "services/cluster/remote_shards.h"
#include "services/cluster/shard_reads.h"
#include "services/cluster/task_results.h"
#include "services/cluster/training_job_config.h"

namespace winnow::services {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using v1::JobState;
using v1::TaskState;

double UnixNow() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

grpc::Status ToGrpc(const absl::Status& status) { return ToGrpcStatus(status); }

struct TaskRecord {
  int64_t index = 0;
  std::string input, snapshot;
  TaskState state = v1::TASK_PENDING;
  int attempts = 0;
  std::string last_error, worker, stats_json;
  // Not persisted: the lease and the retry time.
  std::string lease_id;
  Clock::time_point deadline, not_before;
  bool committing = false;

  nlohmann::json ToJson() const {
    return {{"index", index},      {"input", input},          {"snapshot", snapshot},
            {"state", int(state)}, {"attempts", attempts},    {"last_error", last_error},
            {"worker", worker},    {"stats_json", stats_json}};
  }
  static TaskRecord FromJson(const nlohmann::json& j) {
    TaskRecord t;
    t.index = j.at("index");
    t.input = j.at("input");
    t.snapshot = j.at("snapshot");
    t.state = static_cast<TaskState>(j.at("state").get<int>());
    t.attempts = j.at("attempts");
    t.last_error = j.at("last_error");
    t.worker = j.at("worker");
    t.stats_json = j.at("stats_json");
    return t;
  }
};

struct JobRecord {
  std::string id, name, config_yaml, error, dedup_json;
  std::string kind = "curate";  // or "train": config_yaml is then the training config
  nlohmann::json training = nlohmann::json::object();  // TrainingStatus fields, for "train"
  std::vector<std::string> allowed_roots;
  JobState state = v1::JOB_RUNNING;
  double submitted = 0, finished = 0;
  std::vector<TaskRecord> tasks;
  std::set<int64_t> pending;  // indices of pending tasks
  pipeline::Stats merged;     // stats of done tasks

  nlohmann::json ToJson() const {
    return {{"id", id},
            {"name", name},
            {"config_yaml", config_yaml},
            {"error", error},
            {"dedup_json", dedup_json},
            {"kind", kind},
            {"training", training},
            {"allowed_roots", allowed_roots},
            {"state", int(state)},
            {"submitted", submitted},
            {"finished", finished},
            {"tasks", tasks.size()}};
  }
};

std::string JobKey(const std::string& id) { return "job/" + id; }
std::string TaskKey(const std::string& id, int64_t index) {
  return absl::StrFormat("task/%s/%010d", id, index);
}
// A training job's metrics line of one step.
std::string MetricsPrefix(const std::string& id) { return "metrics/" + id + "/"; }
std::string MetricsKey(const std::string& id, int64_t step) {
  return absl::StrFormat("metrics/%s/%010d", id, step);
}

std::string RandomId() {
  static thread_local std::mt19937_64 random(std::random_device{}() ^
                                             static_cast<uint64_t>(UnixNow() * 1e9));
  return absl::StrFormat("%016x%016x", random(), random());
}

}  // namespace

struct Coordinator::Impl {
  CoordinatorOptions options;
  TokenCheck auth{""};
  std::unique_ptr<rocksdb::DB> db;
  std::unique_ptr<pipeline::ShardStore> store;
  std::shared_mutex store_mutex;  // commits shared, dedup exclusive

  std::mutex mutex;  // everything below
  std::map<std::string, JobRecord> jobs;
  std::map<std::string, std::pair<std::string, int64_t>> leases;  // lease → (job, task)
  int64_t next_job = 1;
  std::deque<std::string> dedup_queue;
  std::condition_variable wake;
  bool stopping = false;

  std::unique_ptr<grpc::Server> server;
  std::unique_ptr<grpc::Service> coordinator_service, shard_service;
  int port = 0;
  std::thread expiry_thread, dedup_thread;

  void Log(const std::string& line) {
    if (options.log) std::fprintf(stderr, "coordinator: %s\n", line.c_str());
  }

  // ---- persistence (callers hold `mutex`) ----

  absl::Status Put(const std::string& key, const std::string& value) {
    rocksdb::WriteOptions w;
    w.sync = true;
    rocksdb::Status s = db->Put(w, key, value);
    if (!s.ok()) return absl::InternalError("coordinator state: " + s.ToString());
    return absl::OkStatus();
  }
  absl::Status SaveJob(const JobRecord& job) { return Put(JobKey(job.id), job.ToJson().dump()); }
  absl::Status SaveTask(const JobRecord& job, const TaskRecord& task) {
    return Put(TaskKey(job.id, task.index), task.ToJson().dump());
  }

  absl::Status Load() {
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
    for (it->Seek("job/"); it->Valid() && it->key().starts_with("job/"); it->Next()) {
      const nlohmann::json j = nlohmann::json::parse(it->value().ToString(), nullptr, false);
      if (!j.is_object()) return absl::DataLossError("undecodable job record in coordinator state");
      JobRecord job;
      job.id = j["id"];
      job.name = j["name"];
      job.config_yaml = j["config_yaml"];
      job.error = j["error"];
      job.dedup_json = j["dedup_json"];
      job.kind = j.value("kind", "curate");
      job.training = j.value("training", nlohmann::json::object());
      job.allowed_roots = j["allowed_roots"].get<std::vector<std::string>>();
      job.state = static_cast<JobState>(j["state"].get<int>());
      job.submitted = j["submitted"];
      job.finished = j["finished"];
      job.tasks.resize(j["tasks"].get<size_t>());
      jobs[job.id] = std::move(job);
    }
    for (it->Seek("task/"); it->Valid() && it->key().starts_with("task/"); it->Next()) {
      const std::string key = it->key().ToString();
      const std::string id = key.substr(5, key.rfind('/') - 5);
      const nlohmann::json j = nlohmann::json::parse(it->value().ToString(), nullptr, false);
      auto job = jobs.find(id);
      if (job == jobs.end() || !j.is_object()) continue;
      TaskRecord task = TaskRecord::FromJson(j);
      if (task.index < 0 || task.index >= static_cast<int64_t>(job->second.tasks.size())) continue;
      job->second.tasks[task.index] = std::move(task);
    }
    std::string next;
    if (db->Get(rocksdb::ReadOptions(), "next_job", &next).ok()) next_job = std::stoll(next);
    for (auto& [id, job] : jobs) {
      bool all_ended = true;
      for (TaskRecord& task : job.tasks) {
        if (task.state == v1::TASK_LEASED) task.state = v1::TASK_PENDING;  // its lease died
        if (task.state == v1::TASK_PENDING) {
          job.pending.insert(task.index);
          all_ended = false;
        }
        if (task.state == v1::TASK_DONE && !task.stats_json.empty()) {
          job.merged.Merge(pipeline::Stats::FromJson(nlohmann::json::parse(task.stats_json)));
        }
      }
      if (all_ended && job.kind == "train") {
        FinishTraining(job);
      } else if (all_ended &&
                 (job.state == v1::JOB_RUNNING || job.state == v1::JOB_DEDUPLICATING)) {
        dedup_queue.push_back(id);
      }
    }
    return absl::OkStatus();
  }

  // ---- jobs ----

  grpc::Status Submit(const v1::SubmitJobRequest& request, v1::SubmitJobReply* reply) {
    if (!request.train_config_yaml().empty()) return SubmitTraining(request, reply);
    absl::StatusOr<pipeline::RunConfig> config =
        pipeline::ParseConfig(request.config_yaml(), "the job's config");
    if (!config.ok()) return ToGrpc(absl::InvalidArgumentError(config.status().message()));
    // The chain is built here too: a bad filters section fails the submit, not every task.
    absl::StatusOr<filters::FilterChain> chain =
        filters::BuildFilterChain(config->filters, {}, "the job's config");
    if (!chain.ok()) return ToGrpc(absl::InvalidArgumentError(chain.status().message()));
    config->filters = chain->effective;

    std::vector<std::string> args(request.inputs().begin(), request.inputs().end());
    std::string snapshot = request.snapshot();
    for (const std::string& arg : args) {
      if (absl::Status s = CheckInputAllowed(arg, options.allowed_roots); !s.ok()) {
        return ToGrpc(s);
      }
    }
    if (!snapshot.empty()) {
      absl::StatusOr<std::string> resolved = pipeline::ResolveSnapshotName(snapshot, config->fetch);
      if (!resolved.ok()) return ToGrpc(resolved.status());
      snapshot = *resolved;
      if (args.empty()) {
        absl::StatusOr<std::string> paths = pipeline::SnapshotPathsUrl(snapshot);
        if (!paths.ok()) return ToGrpc(paths.status());
        args.push_back(*paths);
      }
    }
    if (args.empty()) {
      return ToGrpc(
          absl::InvalidArgumentError("no input: give files, folders, URLs or a snapshot"));
    }
    absl::StatusOr<std::vector<pipeline::InputFile>> inputs =
        pipeline::ExpandInputs(args, config->fetch, [](std::unique_ptr<pipeline::ByteStream> s) {
          return pipeline::MaybeGunzip(std::move(s));
        });
    if (!inputs.ok()) return ToGrpc(inputs.status());
    if (inputs->empty())
      return ToGrpc(absl::InvalidArgumentError("the inputs hold no crawl files"));
    if (request.limit() > 0 && static_cast<int64_t>(inputs->size()) > request.limit()) {
      inputs->resize(static_cast<size_t>(request.limit()));
    }
    for (const pipeline::InputFile& input : *inputs) {  // a paths file may list anything
      if (absl::Status s = CheckInputAllowed(input.location, options.allowed_roots); !s.ok()) {
        return ToGrpc(s);
      }
    }

    std::lock_guard<std::mutex> lock(mutex);
    JobRecord job;
    job.id = absl::StrFormat("job-%06d", next_job);
    job.name = !request.name().empty()       ? request.name()
               : !request.snapshot().empty() ? snapshot
                                             : request.inputs(0);
    job.config_yaml = pipeline::ConfigToYaml(*config);
    job.allowed_roots = options.allowed_roots;
    job.submitted = UnixNow();
    for (const pipeline::InputFile& input : *inputs) {
      TaskRecord task;
      task.index = static_cast<int64_t>(job.tasks.size());
      task.input = input.location;
      task.snapshot = input.snapshot.empty() ? snapshot : input.snapshot;
      job.pending.insert(task.index);
      job.tasks.push_back(std::move(task));
    }
    // Tasks first, then the job record, then the counter: a crash in between leaves no job.
    for (const TaskRecord& task : job.tasks) {
      if (absl::Status s = SaveTask(job, task); !s.ok()) return ToGrpc(s);
    }
    if (absl::Status s = SaveJob(job); !s.ok()) return ToGrpc(s);
    if (absl::Status s = Put("next_job", std::to_string(next_job + 1)); !s.ok()) return ToGrpc(s);
    ++next_job;
    // The effective config, as `winnow run` saves it (winnow stats reads the filter order).
    {
      std::ofstream out(fs::path(options.data_dir) / "config.yaml");
      out << job.config_yaml;
    }
    reply->set_job_id(job.id);
    reply->set_tasks(static_cast<int64_t>(job.tasks.size()));
    Log(absl::StrCat(job.id, " submitted: ", job.tasks.size(), " task(s), ", job.name));
    jobs[job.id] = std::move(job);
    wake.notify_all();
    return grpc::Status::OK;
  }

  // A training job: one task, leased to a worker that copies the snapshot's kept documents and
  // runs `winnow train` on them, reporting its metrics as it goes.
  grpc::Status SubmitTraining(const v1::SubmitJobRequest& request, v1::SubmitJobReply* reply) {
    absl::StatusOr<trainer::TrainConfig> config =
        CheckTrainingJobConfig(request.train_config_yaml());
    if (!config.ok()) return ToGrpc(config.status());
    if (!request.inputs().empty()) {
      return ToGrpc(absl::InvalidArgumentError(
          "a training job reads the curated documents of --snapshot, not input files"));
    }
    std::lock_guard<std::mutex> lock(mutex);
    if (!request.snapshot().empty()) {
      // Only what this cluster curated: a typo would otherwise train on nothing.
      bool known = false;
      for (const auto& [id, job] : jobs) {
        for (const TaskRecord& task : job.tasks)
          known = known || task.snapshot == request.snapshot();
      }
      if (!known) {
        return ToGrpc(absl::InvalidArgumentError(absl::StrCat(
            "--snapshot ", request.snapshot(), ": no job of this coordinator curated it")));
      }
    }
    JobRecord job;
    job.id = absl::StrFormat("job-%06d", next_job);
    job.kind = "train";
    job.name = !request.name().empty()
                   ? request.name()
                   : absl::StrCat("train ", ModelName(*config), " on ",
                                  request.snapshot().empty() ? std::string("all snapshots")
                                                             : request.snapshot());
    job.config_yaml = request.train_config_yaml();
    job.submitted = UnixNow();
    job.training = {{"steps", config->steps},
                    {"model", ModelName(*config)},
                    {"tokens_per_step", TokensPerStep(*config)}};
    TaskRecord task;
    task.input = "train";
    task.snapshot = request.snapshot();
    job.pending.insert(0);
    job.tasks.push_back(std::move(task));
    if (absl::Status s = SaveTask(job, job.tasks[0]); !s.ok()) return ToGrpc(s);
    if (absl::Status s = SaveJob(job); !s.ok()) return ToGrpc(s);
    if (absl::Status s = Put("next_job", std::to_string(next_job + 1)); !s.ok()) return ToGrpc(s);
    ++next_job;
    reply->set_job_id(job.id);
    reply->set_tasks(1);
    Log(absl::StrCat(job.id, " submitted: training, ", job.name));
    jobs[job.id] = std::move(job);
    wake.notify_all();
    return grpc::Status::OK;
  }

  // New metrics lines from a training task's worker. A line for step s replaces every stored
  // line of a step ≥ s: a resumed run rewrites the steps after its checkpoint.
  grpc::Status ReportTraining(const v1::ReportTrainingRequest& request,
                              v1::ReportTrainingReply* reply) {
    std::lock_guard<std::mutex> lock(mutex);
    JobRecord* job = nullptr;
    TaskRecord* task = FindLease(request.lease_id(), &job);
    reply->set_held(task != nullptr);
    if (task == nullptr || job->kind != "train") return grpc::Status::OK;
    rocksdb::WriteBatch batch;
    nlohmann::json& training = job->training;
    for (const std::string& line : request.metrics()) {
      const nlohmann::json m = nlohmann::json::parse(line, nullptr, false);
      if (!m.is_object() || !m.contains("step") || !m["step"].is_number_integer()) {
        return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                            "a metrics line is not a JSON object with an integer step");
      }
      const int64_t step = m["step"].get<int64_t>();
      batch.DeleteRange(MetricsKey(job->id, step), MetricsPrefix(job->id) + "\xff");
      batch.Put(MetricsKey(job->id, step), m.dump());
      if (step < training.value("step", int64_t{0})) {
        training.erase("val_loss");  // a resumed run: these are about to be reported again
        training.erase("val_bpb");
      }
      training["step"] = step;
      for (const char* key : {"loss", "lr", "tokens_per_s", "mfu", "val_loss", "val_bpb"}) {
        if (m.contains(key) && m[key].is_number()) training[key] = m[key];
      }
    }
    if (!request.checkpoint().empty()) training["checkpoint"] = request.checkpoint();
    if (!request.out_dir().empty()) training["out_dir"] = request.out_dir();
    training["worker"] = task->worker;
    rocksdb::WriteOptions w;
    w.sync = true;
    if (rocksdb::Status s = db->Write(w, &batch); !s.ok()) {
      return ToGrpc(absl::InternalError("coordinator state: " + s.ToString()));
    }
    if (absl::Status s = SaveJob(*job); !s.ok()) return ToGrpc(s);
    return grpc::Status::OK;
  }

  // A training job's task ended: the job did. Caller holds `mutex`.
  void FinishTraining(JobRecord& job) {
    const TaskRecord& task = job.tasks.at(0);
    if (task.state != v1::TASK_DONE && task.state != v1::TASK_FAILED) return;
    if (job.state != v1::JOB_RUNNING) return;  // ended already (or cancelled)
    job.state = task.state == v1::TASK_DONE ? v1::JOB_SUCCEEDED : v1::JOB_FAILED;
    if (task.state == v1::TASK_FAILED) job.error = absl::StrCat("training: ", task.last_error);
    job.finished = UnixNow();
    if (absl::Status s = SaveJob(job); !s.ok()) Log(std::string(s.message()));
    Log(absl::StrCat(job.id,
                     job.state == v1::JOB_SUCCEEDED ? " succeeded" : " failed: ", job.error));
  }

  static void FillTraining(const nlohmann::json& t, v1::TrainingStatus* out) {
    out->set_steps(t.value("steps", int64_t{0}));
    out->set_step(t.value("step", int64_t{0}));
    out->set_loss(t.value("loss", 0.0));
    if (t.contains("val_loss")) out->set_val_loss(t["val_loss"].get<double>());
    if (t.contains("val_bpb")) out->set_val_bpb(t["val_bpb"].get<double>());
    out->set_lr(t.value("lr", 0.0));
    out->set_tokens_per_s(t.value("tokens_per_s", 0.0));
    out->set_mfu(t.value("mfu", 0.0));
    out->set_checkpoint(t.value("checkpoint", ""));
    out->set_out_dir(t.value("out_dir", ""));
    out->set_worker(t.value("worker", ""));
    out->set_model(t.value("model", ""));
  }

  static void FillTask(const TaskRecord& task, v1::TaskStatus* out) {
    out->set_index(task.index);
    out->set_input(task.input);
    out->set_snapshot(task.snapshot);
    out->set_state(task.state);
    out->set_attempts(task.attempts);
    out->set_last_error(task.last_error);
    out->set_worker(task.worker);
    if (!task.stats_json.empty() && task.input != "train") {
      const pipeline::Stats stats =
          pipeline::Stats::FromJson(nlohmann::json::parse(task.stats_json));
      out->set_documents_in(stats.Count("read/records"));
      out->set_documents_out(stats.Count("write/kept"));
    }
  }

  void FillJob(const JobRecord& job, v1::JobStatus* out) {
    out->set_job_id(job.id);
    out->set_name(job.name);
    out->set_state(job.state);
    out->set_tasks_total(static_cast<int64_t>(job.tasks.size()));
    int64_t pending = 0, leased = 0, done = 0, failed = 0;
    for (const TaskRecord& task : job.tasks) {
      switch (task.state) {
        case v1::TASK_PENDING:
          ++pending;
          break;
        case v1::TASK_LEASED:
          ++leased;
          break;
        case v1::TASK_DONE:
          ++done;
          break;
        case v1::TASK_FAILED:
          ++failed;
          FillTask(task, out->add_failed_tasks());
          break;
        default:
          break;
      }
    }
    out->set_tasks_pending(pending);
    out->set_tasks_leased(leased);
    out->set_tasks_done(done);
    out->set_tasks_failed(failed);
    out->set_records(job.merged.Count("read/records"));
    out->set_documents(job.merged.Count("write/kept"));
    out->set_bytes(job.merged.Count("read/bytes"));
    out->set_submitted_unix(job.submitted);
    out->set_finished_unix(job.finished);
    const double elapsed = (job.finished > 0 ? job.finished : UnixNow()) - job.submitted;
    out->set_records_per_second(elapsed > 0 ? out->records() / elapsed : 0);
    const int64_t ended = done + failed;
    out->set_eta_seconds(job.finished > 0 ? 0
                         : ended > 0      ? elapsed / static_cast<double>(ended) *
                                           static_cast<double>(job.tasks.size() - ended)
                                     : -1);
    out->set_error(job.error);
    out->set_stats_json(job.merged.ToJson().dump());
    out->set_dedup_json(job.dedup_json);
    out->set_kind(job.kind);
    if (job.kind == "train") {
      FillTraining(job.training, out->mutable_training());
      // The steps left at the newest reported speed.
      const double tokens_per_s = job.training.value("tokens_per_s", 0.0);
      const int64_t left =
          job.training.value("steps", int64_t{0}) - job.training.value("step", int64_t{0});
      out->set_eta_seconds(job.finished > 0 ? 0
                           : tokens_per_s > 0
                               ? static_cast<double>(left) *
                                     job.training.value("tokens_per_step", 0.0) / tokens_per_s
                               : -1);
    }
  }

  grpc::Status GetJob(const v1::GetJobRequest& request, v1::GetJobReply* reply) {
    std::lock_guard<std::mutex> lock(mutex);
    auto it = jobs.find(request.job_id());
    if (it == jobs.end()) {
      return grpc::Status(grpc::StatusCode::NOT_FOUND, "no job " + request.job_id());
    }
    FillJob(it->second, reply->mutable_job());
    if (request.with_tasks()) {
      for (const TaskRecord& task : it->second.tasks) FillTask(task, reply->add_tasks());
    }
    if (request.with_metrics()) {
      const std::string prefix = MetricsPrefix(it->first);
      std::unique_ptr<rocksdb::Iterator> m(db->NewIterator(rocksdb::ReadOptions()));
      for (m->Seek(prefix); m->Valid() && m->key().starts_with(prefix); m->Next()) {
        reply->add_metrics(m->value().ToString());
      }
    }
    return grpc::Status::OK;
  }

  grpc::Status Cancel(const v1::CancelJobRequest& request, v1::CancelJobReply* reply) {
    std::lock_guard<std::mutex> lock(mutex);
    auto it = jobs.find(request.job_id());
    if (it == jobs.end()) {
      return grpc::Status(grpc::StatusCode::NOT_FOUND, "no job " + request.job_id());
    }
    JobRecord& job = it->second;
    if (job.state != v1::JOB_RUNNING) {
      return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                          absl::StrCat(job.id, " is not running"));
    }
    int64_t stopped = 0;
    for (TaskRecord& task : job.tasks) {
      if (task.state != v1::TASK_PENDING && task.state != v1::TASK_LEASED) continue;
      if (task.committing) continue;  // its results are being stored: let that finish
      leases.erase(task.lease_id);    // the worker's next heartbeat learns the lease is gone
      task.lease_id.clear();
      task.state = v1::TASK_FAILED;
      task.last_error = "cancelled";
      ++stopped;
      if (absl::Status s = SaveTask(job, task); !s.ok()) return ToGrpc(s);
    }
    job.pending.clear();
    job.state = v1::JOB_CANCELLED;
    job.error = "cancelled";
    job.finished = UnixNow();
    if (absl::Status s = SaveJob(job); !s.ok()) return ToGrpc(s);
    reply->set_tasks_stopped(stopped);
    Log(absl::StrCat(job.id, " cancelled: ", stopped, " task(s) stopped"));
    return grpc::Status::OK;
  }

  grpc::Status ListJobs(v1::ListJobsReply* reply) {
    std::lock_guard<std::mutex> lock(mutex);
    for (const auto& [id, job] : jobs) FillJob(job, reply->add_jobs());
    return grpc::Status::OK;
  }

  // ---- leases ----

  grpc::Status Lease(const v1::LeaseTaskRequest& request, v1::LeaseTaskReply* reply) {
    std::lock_guard<std::mutex> lock(mutex);
    const auto now = Clock::now();
    double wait = 1.0;
    for (auto& [id, job] : jobs) {
      for (int64_t index : job.pending) {
        TaskRecord& task = job.tasks[index];
        if (task.not_before > now) {
          wait = std::min(wait, std::chrono::duration<double>(task.not_before - now).count());
          continue;
        }
        task.state = v1::TASK_LEASED;
        task.attempts += 1;
        task.worker = request.worker();
        task.lease_id = RandomId();
        task.deadline = now + std::chrono::duration_cast<Clock::duration>(
                                  std::chrono::duration<double>(options.lease_seconds));
        if (absl::Status s = SaveTask(job, task); !s.ok()) {
          task.state = v1::TASK_PENDING;
          task.attempts -= 1;
          return ToGrpc(s);
        }
        job.pending.erase(index);
        leases[task.lease_id] = {id, index};
        v1::Task* out = reply->mutable_task();
        out->set_job_id(id);
        out->set_index(index);
        out->set_input(task.input);
        out->set_snapshot(task.snapshot);
        if (job.kind == "train") {
          out->set_train_config_yaml(job.config_yaml);
          for (const std::string& shard : options.shards) out->add_shard_addresses(shard);
        } else {
          out->set_config_yaml(job.config_yaml);
        }
        out->set_lease_id(task.lease_id);
        out->set_lease_seconds(options.lease_seconds);
        out->set_attempt(task.attempts);
        for (const std::string& root : job.allowed_roots) out->add_allowed_roots(root);
        if (!options.shards.empty()) {
          out->set_shard_address(options.shards[ShardIndexOf(
              task.snapshot, task.input, static_cast<int>(options.shards.size()))]);
        }
        Log(absl::StrCat(id, " task ", index, " leased to ", request.worker(), " (attempt ",
                         task.attempts, ")"));
        return grpc::Status::OK;
      }
    }
    reply->set_retry_after_seconds(std::max(0.05, wait));
    return grpc::Status::OK;
  }

  TaskRecord* FindLease(const std::string& lease_id, JobRecord** job_out) {
    auto it = leases.find(lease_id);
    if (it == leases.end()) return nullptr;
    JobRecord& job = jobs.at(it->second.first);
    TaskRecord& task = job.tasks[it->second.second];
    if (task.state != v1::TASK_LEASED || task.lease_id != lease_id) return nullptr;
    if (job_out != nullptr) *job_out = &job;
    return &task;
  }

  grpc::Status Heartbeat(const v1::HeartbeatRequest& request, v1::HeartbeatReply* reply) {
    std::lock_guard<std::mutex> lock(mutex);
    const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                             std::chrono::duration<double>(options.lease_seconds));
    for (const std::string& lease_id : request.lease_ids()) {
      TaskRecord* task = FindLease(lease_id, nullptr);
      if (task == nullptr) {
        reply->add_lost_lease_ids(lease_id);
      } else {
        task->deadline = deadline;
      }
    }
    return grpc::Status::OK;
  }

  // Back to pending with backoff, or failed for good. Caller holds `mutex`.
  void Retry(JobRecord& job, TaskRecord& task, const std::string& error, bool permanent) {
    leases.erase(task.lease_id);
    task.lease_id.clear();
    task.committing = false;
    task.last_error = error;
    if (permanent || task.attempts >= options.max_attempts) {
      task.state = v1::TASK_FAILED;
      Log(absl::StrCat(job.id, " task ", task.index, " failed for good after ", task.attempts,
                       " attempt(s): ", error));
    } else {
      task.state = v1::TASK_PENDING;
      const double backoff =
          std::min(options.max_retry_backoff_seconds,
                   options.retry_backoff_seconds *
                       static_cast<double>(1 << std::min(task.attempts - 1, 20)));
      task.not_before = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                           std::chrono::duration<double>(backoff));
      job.pending.insert(task.index);
      Log(absl::StrCat(job.id, " task ", task.index, " will be retried in ",
                       absl::StrFormat("%.1f", backoff), " s: ", error));
    }
    if (absl::Status s = SaveTask(job, task); !s.ok()) Log(std::string(s.message()));
    MaybeFinish(job);
  }

  grpc::Status Fail(const v1::FailTaskRequest& request) {
    std::lock_guard<std::mutex> lock(mutex);
    JobRecord* job = nullptr;
    TaskRecord* task = FindLease(request.lease_id(), &job);
    if (task == nullptr) return grpc::Status::OK;  // already re-leased: nothing to record
    Retry(*job, *task, request.error(), request.permanent());
    return grpc::Status::OK;
  }

  // When every task ended, the job goes to dedup. Caller holds `mutex`.
  void MaybeFinish(JobRecord& job) {
    if (job.state != v1::JOB_RUNNING) return;
    for (const TaskRecord& task : job.tasks) {
      if (task.state == v1::TASK_PENDING || task.state == v1::TASK_LEASED) return;
    }
    if (job.kind == "train") return FinishTraining(job);
    job.state = v1::JOB_DEDUPLICATING;
    if (absl::Status s = SaveJob(job); !s.ok()) Log(std::string(s.message()));
    dedup_queue.push_back(job.id);
    wake.notify_all();
  }

  void ExpiryLoop() {
    std::unique_lock<std::mutex> lock(mutex);
    while (!stopping) {
      wake.wait_for(lock, std::chrono::milliseconds(200));
      const auto now = Clock::now();
      std::vector<std::string> expired;
      for (const auto& [lease_id, where] : leases) {
        const TaskRecord& task = jobs.at(where.first).tasks[where.second];
        if (!task.committing && task.deadline < now) expired.push_back(lease_id);
      }
      for (const std::string& lease_id : expired) {
        JobRecord* job = nullptr;
        TaskRecord* task = FindLease(lease_id, &job);
        if (task != nullptr) {
          Retry(*job, *task,
                absl::StrCat("lease expired: worker ", task->worker, " stopped sending heartbeats"),
                false);
        }
      }
    }
  }

  // ---- results ----

  // A training task finished all its steps. Caller holds `mutex`.
  void MarkTrainingDone(JobRecord& job, TaskRecord& task) {
    task.committing = false;
    task.state = v1::TASK_DONE;
    task.last_error.clear();
    leases.erase(task.lease_id);
    task.lease_id.clear();
    if (absl::Status s = SaveTask(job, task); !s.ok()) Log(std::string(s.message()));
    Log(absl::StrCat(job.id, " training done by ", task.worker, ": step ",
                     job.training.value("step", int64_t{0})));
    MaybeFinish(job);
  }

  // A task's results are stored: done, its stats merged. Caller holds `mutex`.
  void MarkDone(JobRecord& job, TaskRecord& task, const pipeline::Stats& stats) {
    task.committing = false;
    task.state = v1::TASK_DONE;
    task.stats_json = stats.ToJson().dump();
    task.last_error.clear();
    leases.erase(task.lease_id);
    task.lease_id.clear();
    job.merged.Merge(stats);
    if (absl::Status s = SaveTask(job, task); !s.ok()) Log(std::string(s.message()));
    // With shard servers the dedup state lives here: the input changed, so its snapshot's did.
    for (const std::string& name : {"meta/dedup/" + task.snapshot, std::string("meta/dedup/*")}) {
      rocksdb::WriteOptions w;
      w.sync = true;
      db->Delete(w, name).PermitUncheckedError();
    }
    Log(absl::StrCat(job.id, " task ", task.index, " done by ", task.worker, ": ",
                     stats.Count("write/kept"), " documents"));
    MaybeFinish(job);
  }

  grpc::Status CheckLease(const v1::CheckLeaseRequest& request, v1::CheckLeaseReply* reply) {
    std::lock_guard<std::mutex> lock(mutex);
    TaskRecord* task = FindLease(request.lease_id(), nullptr);
    reply->set_held(task != nullptr);
    if (task != nullptr) {
      reply->set_snapshot(task->snapshot);
      reply->set_input(task->input);
    }
    return grpc::Status::OK;
  }

  grpc::Status Complete(const v1::CompleteTaskRequest& request) {
    std::lock_guard<std::mutex> lock(mutex);
    JobRecord* job = nullptr;
    TaskRecord* task = FindLease(request.lease_id(), &job);
    if (task == nullptr) {
      return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "the lease was lost");
    }
    if (job->kind == "train") {
      MarkTrainingDone(*job, *task);
      return grpc::Status::OK;
    }
    pipeline::Stats stats;
    try {
      stats = pipeline::Stats::FromJson(nlohmann::json::parse(request.stats_json()));
    } catch (const std::exception&) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "undecodable stats");
    }
    MarkDone(*job, *task, stats);
    return grpc::Status::OK;
  }

  grpc::Status Commit(grpc::ServerReader<v1::TaskResultChunk>* reader, v1::CommitTaskReply* reply) {
    v1::TaskResultChunk chunk;
    if (!reader->Read(&chunk) || !chunk.has_header()) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "a result stream starts with a header");
    }
    const v1::TaskResultChunk::Header header = chunk.header();
    {
      std::lock_guard<std::mutex> lock(mutex);
      TaskRecord* task = FindLease(header.lease_id(), nullptr);
      if (task == nullptr) {
        return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "the lease was lost");
      }
      if (task->input != header.input() || task->snapshot != header.snapshot()) {
        return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                            "the header names another input than the lease's task");
      }
    }
    std::shared_lock<std::shared_mutex> store_lock(store_mutex);
    std::unique_ptr<pipeline::ShardStore::InputWriter> writer =
        store->StartInput(header.snapshot(), header.input());
    int64_t documents = 0;
    absl::StatusOr<pipeline::Stats> stats =
        ReceiveTaskResults(reader, header, writer.get(), &documents);
    if (!stats.ok()) return ToGrpc(stats.status());
    // Fence: the lease must still be held; the expiry thread then leaves the task alone.
    {
      std::lock_guard<std::mutex> lock(mutex);
      TaskRecord* task = FindLease(header.lease_id(), nullptr);
      if (task == nullptr) {
        return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "the lease was lost");
      }
      task->committing = true;
    }
    const absl::Status written = writer->Commit(*stats);
    std::lock_guard<std::mutex> lock(mutex);
    JobRecord* job = nullptr;
    TaskRecord* task = FindLease(header.lease_id(), &job);
    if (task == nullptr) return grpc::Status(grpc::StatusCode::ABORTED, "lease vanished");
    if (!written.ok()) {
      Retry(*job, *task, absl::StrCat("storing results: ", written.message()), false);
      return ToGrpc(written);
    }
    MarkDone(*job, *task, *stats);
    reply->set_documents(documents);
    return grpc::Status::OK;
  }

  // ---- dedup ----

  void DedupLoop() {
    std::unique_lock<std::mutex> lock(mutex);
    while (!stopping) {
      if (dedup_queue.empty()) {
        wake.wait(lock);
        continue;
      }
      const std::string id = dedup_queue.front();
      dedup_queue.pop_front();
      auto it = jobs.find(id);
      if (it == jobs.end()) continue;
      absl::StatusOr<pipeline::RunConfig> config =
          pipeline::ParseConfig(it->second.config_yaml, "job config");
      it->second.state = v1::JOB_DEDUPLICATING;
      lock.unlock();
      absl::Status status = config.status();
      nlohmann::json reports = nlohmann::json::object();
      if (status.ok()) {
        std::unique_lock<std::shared_mutex> store_lock(store_mutex);
        const int threads =
            options.dedup_threads > 0
                ? options.dedup_threads
                : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
        std::unique_ptr<pipeline::DedupTarget> target =
            options.shards.empty() ? pipeline::StoreTarget(*store)
                                   : RemoteShardsTarget(options.shards, options.token, db.get());
        absl::StatusOr<std::vector<pipeline::DedupGroupResult>> results = pipeline::DedupStore(
            *target, config->dedup, options.data_dir + "/dedup-work", threads, options.log);
        status = results.status();
        if (results.ok()) {
          for (const auto& group : *results) reports[group.group] = group.report.ToJson();
        }
        if (status.ok()) {
          status = options.shards.empty()
                       ? store->WriteStatsJson()
                       : WriteShardStats(options.shards, options.token, reports.dump());
        }
      }
      lock.lock();
      it = jobs.find(id);
      if (it == jobs.end()) continue;
      JobRecord& job = it->second;
      job.dedup_json = reports.dump();
      int64_t failed = 0;
      for (const TaskRecord& task : job.tasks) failed += task.state == v1::TASK_FAILED;
      if (!status.ok()) {
        job.state = v1::JOB_FAILED;
        job.error = absl::StrCat("dedup: ", status.message());
      } else if (failed > 0) {
        job.state = v1::JOB_FAILED;
        for (const TaskRecord& task : job.tasks) {
          if (task.state == v1::TASK_FAILED) {
            job.error =
                absl::StrCat(failed, " task(s) failed; first: ", task.input, ": ", task.last_error);
            break;
          }
        }
      } else {
        job.state = v1::JOB_SUCCEEDED;
      }
      job.finished = UnixNow();
      if (absl::Status s = SaveJob(job); !s.ok()) Log(std::string(s.message()));
      Log(absl::StrCat(job.id,
                       job.state == v1::JOB_SUCCEEDED ? " succeeded" : " failed: ", job.error));
    }
  }
};

namespace {

class CoordinatorServiceImpl final : public v1::Coordinator::Service {
 public:
  explicit CoordinatorServiceImpl(Coordinator::Impl* impl) : impl_(impl) {}
  grpc::Status SubmitJob(grpc::ServerContext* context, const v1::SubmitJobRequest* request,
                         v1::SubmitJobReply* reply) override {
    if (grpc::Status s = impl_->auth.Check(*context); !s.ok()) return s;
    return impl_->Submit(*request, reply);
  }
  grpc::Status GetJob(grpc::ServerContext* context, const v1::GetJobRequest* request,
                      v1::GetJobReply* reply) override {
    if (grpc::Status s = impl_->auth.Check(*context); !s.ok()) return s;
    return impl_->GetJob(*request, reply);
  }
  grpc::Status ListJobs(grpc::ServerContext* context, const v1::ListJobsRequest*,
                        v1::ListJobsReply* reply) override {
    if (grpc::Status s = impl_->auth.Check(*context); !s.ok()) return s;
    return impl_->ListJobs(reply);
  }
  grpc::Status CancelJob(grpc::ServerContext* context, const v1::CancelJobRequest* request,
                         v1::CancelJobReply* reply) override {
    if (grpc::Status s = impl_->auth.Check(*context); !s.ok()) return s;
    return impl_->Cancel(*request, reply);
  }
  grpc::Status LeaseTask(grpc::ServerContext* context, const v1::LeaseTaskRequest* request,
                         v1::LeaseTaskReply* reply) override {
    if (grpc::Status s = impl_->auth.Check(*context); !s.ok()) return s;
    return impl_->Lease(*request, reply);
  }
  grpc::Status Heartbeat(grpc::ServerContext* context, const v1::HeartbeatRequest* request,
                         v1::HeartbeatReply* reply) override {
    if (grpc::Status s = impl_->auth.Check(*context); !s.ok()) return s;
    return impl_->Heartbeat(*request, reply);
  }
  grpc::Status FailTask(grpc::ServerContext* context, const v1::FailTaskRequest* request,
                        v1::FailTaskReply*) override {
    if (grpc::Status s = impl_->auth.Check(*context); !s.ok()) return s;
    return impl_->Fail(*request);
  }
  grpc::Status CheckLease(grpc::ServerContext* context, const v1::CheckLeaseRequest* request,
                          v1::CheckLeaseReply* reply) override {
    if (grpc::Status s = impl_->auth.Check(*context); !s.ok()) return s;
    return impl_->CheckLease(*request, reply);
  }
  grpc::Status CompleteTask(grpc::ServerContext* context, const v1::CompleteTaskRequest* request,
                            v1::CompleteTaskReply*) override {
    if (grpc::Status s = impl_->auth.Check(*context); !s.ok()) return s;
    return impl_->Complete(*request);
  }
  grpc::Status ReportTraining(grpc::ServerContext* context,
                              const v1::ReportTrainingRequest* request,
                              v1::ReportTrainingReply* reply) override {
    if (grpc::Status s = impl_->auth.Check(*context); !s.ok()) return s;
    return impl_->ReportTraining(*request, reply);
  }

 private:
  Coordinator::Impl* impl_;
};

class ShardServiceImpl final : public v1::Shard::Service {
 public:
  explicit ShardServiceImpl(Coordinator::Impl* impl) : impl_(impl) {}
  grpc::Status CommitTask(grpc::ServerContext* context,
                          grpc::ServerReader<v1::TaskResultChunk>* reader,
                          v1::CommitTaskReply* reply) override {
    if (grpc::Status s = impl_->auth.Check(*context); !s.ok()) return s;
    return impl_->Commit(reader, reply);
  }
  grpc::Status Stats(grpc::ServerContext* context, const v1::ShardStatsRequest*,
                     v1::ShardStatsReply* reply) override {
    if (grpc::Status s = impl_->auth.Check(*context); !s.ok()) return s;
    std::shared_lock<std::shared_mutex> lock(impl_->store_mutex);
    return FillShardStats(*impl_->store, reply);
  }
  // Training tasks read the curated documents through this.
  grpc::Status ScanDocuments(grpc::ServerContext* context, const v1::ScanDocumentsRequest* request,
                             grpc::ServerWriter<v1::ScannedDocument>* writer) override {
    if (grpc::Status s = impl_->auth.Check(*context); !s.ok()) return s;
    std::shared_lock<std::shared_mutex> lock(impl_->store_mutex);
    return StreamDocuments(*impl_->store, *request, context, writer);
  }

 private:
  Coordinator::Impl* impl_;
};

}  // namespace

Coordinator::Coordinator(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Coordinator::~Coordinator() { Shutdown(); }

int Coordinator::port() const { return impl_->port; }

std::shared_ptr<pipeline::ShardStore> Coordinator::store() const {
  // Not owning: the store lives as long as the coordinator.
  return std::shared_ptr<pipeline::ShardStore>(impl_->store.get(), [](pipeline::ShardStore*) {});
}

nlohmann::json Coordinator::JobsJson() const {
  v1::ListJobsReply reply;
  impl_->ListJobs(&reply);
  nlohmann::json out = nlohmann::json::array();
  for (const v1::JobStatus& job : reply.jobs()) {
    std::string text;
    google::protobuf::util::JsonPrintOptions options;
    options.preserve_proto_field_names = true;
    options.always_print_primitive_fields = true;
    if (!google::protobuf::util::MessageToJsonString(job, &text, options).ok()) continue;
    nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
    if (!j.is_object()) continue;
    // Plain names and numbers for the page ("running", 12 rather than "JOB_RUNNING", "12").
    std::string state = j.value("state", "");
    if (absl::StartsWith(state, "JOB_")) state = state.substr(4);
    std::transform(state.begin(), state.end(), state.begin(), ::tolower);
    j["state"] = state;
    // proto3 JSON writes int64 as strings.
    const auto numbers = [](nlohmann::json& object, std::initializer_list<const char*> keys) {
      for (const char* key : keys) {
        if (object.contains(key) && object[key].is_string()) {
          object[key] = std::stoll(object[key].get<std::string>());
        }
      }
    };
    numbers(j, {"tasks_total", "tasks_pending", "tasks_leased", "tasks_done", "tasks_failed",
                "records", "documents", "bytes"});
    if (j.contains("training")) numbers(j["training"], {"steps", "step"});
    j.erase("stats_json");
    out.push_back(std::move(j));
  }
  return out;
}

absl::StatusOr<nlohmann::json> Coordinator::TrainingMetricsJson(const std::string& job_id) const {
  v1::GetJobRequest request;
  request.set_job_id(job_id);
  request.set_with_metrics(true);
  v1::GetJobReply reply;
  const grpc::Status status = impl_->GetJob(request, &reply);
  if (!status.ok()) return absl::NotFoundError(status.error_message());
  nlohmann::json out = nlohmann::json::array();
  for (const std::string& line : reply.metrics()) {
    nlohmann::json m = nlohmann::json::parse(line, nullptr, false);
    if (m.is_object()) out.push_back(std::move(m));
  }
  return out;
}

void Coordinator::Wait() {
  if (impl_->server != nullptr) impl_->server->Wait();
}

void Coordinator::Shutdown() {
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    if (impl_->stopping) return;
    impl_->stopping = true;
  }
  impl_->wake.notify_all();
  if (impl_->server != nullptr) {
    impl_->server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  }
  if (impl_->expiry_thread.joinable()) impl_->expiry_thread.join();
  if (impl_->dedup_thread.joinable()) impl_->dedup_thread.join();
}

absl::StatusOr<std::unique_ptr<Coordinator>> Coordinator::Start(const CoordinatorOptions& options) {
  if (options.lease_seconds <= 0 || options.max_attempts < 1) {
    return absl::InvalidArgumentError("lease seconds must be > 0 and max attempts >= 1");
  }
  if (options.token.empty() && !IsLoopbackAddress(options.grpc_address)) {
    return absl::FailedPreconditionError(
        absl::StrCat("--grpc ", options.grpc_address,
                     " is not a loopback address: give --token-file so only holders of the "
                     "token can submit jobs and take tasks"));
  }
  for (const std::string& root : options.allowed_roots) {
    std::error_code ec;
    if (!fs::is_directory(root, ec)) {
      return absl::InvalidArgumentError(absl::StrCat("--allow-root ", root, " is not a folder"));
    }
  }
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  for (std::string& root : impl->options.allowed_roots) root = fs::weakly_canonical(root).string();
  impl->auth = TokenCheck(options.token);
  pipeline::StoreOptions store_options;
  absl::StatusOr<std::unique_ptr<pipeline::ShardStore>> store =
      pipeline::ShardStore::Open(options.data_dir, store_options);
  if (!store.ok()) return store.status();
  impl->store = std::move(*store);
  rocksdb::Options db_options;
  db_options.create_if_missing = true;
  db_options.keep_log_file_num = 4;
  rocksdb::DB* db = nullptr;
  const std::string state_dir = (fs::path(options.data_dir) / "coordinator").string();
  rocksdb::Status s = rocksdb::DB::Open(db_options, state_dir, &db);
  if (!s.ok()) {
    return absl::UnavailableError(
        absl::StrCat("opening coordinator state ", state_dir, ": ", s.ToString()));
  }
  impl->db.reset(db);
  if (absl::Status loaded = impl->Load(); !loaded.ok()) return loaded;

  impl->coordinator_service = std::make_unique<CoordinatorServiceImpl>(impl.get());
  impl->shard_service = std::make_unique<ShardServiceImpl>(impl.get());
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.grpc_address, grpc::InsecureServerCredentials(), &impl->port);
  builder.SetMaxReceiveMessageSize(kMaxMessageBytes);
  builder.SetMaxSendMessageSize(kMaxMessageBytes);
  builder.RegisterService(impl->coordinator_service.get());
  builder.RegisterService(impl->shard_service.get());
  impl->server = builder.BuildAndStart();
  if (impl->server == nullptr || impl->port == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", options.grpc_address));
  }
  impl->expiry_thread = std::thread([p = impl.get()] { p->ExpiryLoop(); });
  impl->dedup_thread = std::thread([p = impl.get()] { p->DedupLoop(); });
  return std::unique_ptr<Coordinator>(new Coordinator(std::move(impl)));
}

}  // namespace winnow::services
