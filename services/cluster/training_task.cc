#include "services/cluster/training_task.h"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "pipeline/document.h"
#include "pipeline/stats.h"
#include "pipeline/store/shard_store.h"
#include "services/cluster/auth.h"
#include "services/cluster/child_process.h"
#include "services/cluster/training_job_config.h"
#include "trainer/train/checkpoint.h"

namespace winnow::services {
namespace {

namespace fs = std::filesystem;

absl::Status FromGrpc(const grpc::Status& status, const std::string& what) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      absl::StrCat(what, ": ", status.error_message()));
}

// Copies the kept documents under the task's snapshot from every shard into a local store, keys
// unchanged (so `winnow train` sees them in the same order as on the cluster).
absl::StatusOr<int64_t> CopyDocuments(const v1::Task& task, const TrainingTaskEnv& env,
                                      const std::string& data_dir,
                                      const std::atomic<bool>& cancel) {
  std::error_code ec;
  fs::remove_all(data_dir, ec);
  absl::StatusOr<std::unique_ptr<pipeline::ShardStore>> store =
      pipeline::ShardStore::Open(data_dir);
  if (!store.ok()) return store.status();
  std::vector<std::string> addresses(task.shard_addresses().begin(), task.shard_addresses().end());
  if (addresses.empty()) addresses.push_back("");
  int64_t documents = 0;
  for (const std::string& address : addresses) {
    grpc::ClientContext context;
    AddToken(&context, env.token);
    v1::ScanDocumentsRequest request;
    if (!task.snapshot().empty()) request.set_key_prefix(task.snapshot() + std::string(1, '\0'));
    request.set_kept_only(true);
    std::unique_ptr<grpc::ClientReader<v1::ScannedDocument>> reader =
        env.shard(address)->ScanDocuments(&context, request);
    std::unique_ptr<pipeline::ShardStore::InputWriter> writer;
    pipeline::DocumentKey current;
    absl::Status status;
    v1::ScannedDocument scanned;
    while (reader->Read(&scanned)) {
      if (cancel.load()) {
        context.TryCancel();
        break;
      }
      pipeline::Document doc;
      if (!pipeline::DocumentKey::Decode(scanned.key(), &doc.key)) continue;
      if (writer == nullptr || doc.key.snapshot != current.snapshot ||
          doc.key.input != current.input) {
        if (writer != nullptr) status.Update(writer->Commit(pipeline::Stats()));
        current = doc.key;
        writer = (*store)->StartInput(current.snapshot, current.input);
      }
      doc.text = scanned.text();
      writer->Add(doc);
      ++documents;
    }
    const grpc::Status finished = reader->Finish();
    if (cancel.load()) return absl::CancelledError("the task was cancelled");
    if (!finished.ok()) {
      return FromGrpc(finished, absl::StrCat("reading the curated documents from ",
                                             address.empty() ? "the coordinator" : address));
    }
    if (writer != nullptr) status.Update(writer->Commit(pipeline::Stats()));
    if (!status.ok()) return status;
  }
  return documents;
}

// metrics.jsonl lines not sent yet (complete lines only).
class MetricsTail {
 public:
  explicit MetricsTail(std::string path) : path_(std::move(path)) {}
  std::vector<std::string> NewLines() {
    std::vector<std::string> lines;
    std::ifstream in(path_, std::ios::binary);
    if (!in) return lines;
    in.seekg(0, std::ios::end);
    const std::streamoff size = in.tellg();
    if (size < offset_) offset_ = 0;  // rewritten by a resumed run: everything again
    in.seekg(offset_);
    std::string line;
    while (std::getline(in, line)) {
      if (in.eof()) break;  // no newline yet: the trainer is still writing it
      offset_ += static_cast<std::streamoff>(line.size()) + 1;
      if (!line.empty()) lines.push_back(line);
    }
    return lines;
  }

 private:
  std::string path_;
  std::streamoff offset_ = 0;
};

}  // namespace

absl::Status RunTrainingTask(const v1::Task& task, const TrainingTaskEnv& env,
                             const std::atomic<bool>& cancel) {
  const fs::path dir = fs::absolute(fs::path(env.work_dir) / "training" / task.job_id());
  const std::string data_dir = (dir / "data").string();
  const std::string out_dir = (dir / "out").string();
  const fs::path copied = dir / "data.complete";
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("creating ", dir.string(), ": ", ec.message()));

  // 1. The documents (once per job on this disk: the snapshot does not change under a job).
  if (!fs::exists(copied)) {
    env.log(absl::StrCat(task.job_id(), ": copying the kept documents of ",
                         task.snapshot().empty() ? "every snapshot" : task.snapshot()));
    absl::StatusOr<int64_t> documents = CopyDocuments(task, env, data_dir, cancel);
    if (!documents.ok()) return documents.status();
    if (*documents == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("no kept documents to train on in ",
                       task.snapshot().empty() ? "the cluster" : task.snapshot()));
    }
    std::ofstream(copied) << *documents << "\n";
    env.log(absl::StrCat(task.job_id(), ": ", *documents, " documents copied"));
  }

  // 2. The run.
  absl::StatusOr<std::string> yaml = WorkerTrainingConfig(task.train_config_yaml(), data_dir);
  if (!yaml.ok()) return yaml.status();
  const std::string config_path = (dir / "config.yaml").string();
  {
    std::ofstream out(config_path, std::ios::trunc);
    out << *yaml;
    if (!out) return absl::InternalError(absl::StrCat("writing ", config_path));
  }
  std::vector<std::string> argv = {env.winnow_binary, "train", "--config",
                                   config_path,       "--out", out_dir};
  const bool resume = trainer::LatestCheckpoint(out_dir).ok();
  if (resume) argv.push_back("--resume");
  const std::string log_path = (dir / "train.log").string();
  env.log(absl::StrCat(task.job_id(), ": winnow train", resume ? " --resume" : "", " (log ",
                       log_path, ")"));
  absl::StatusOr<std::unique_ptr<ChildProcess>> child = ChildProcess::Start(argv, log_path);
  if (!child.ok()) return child.status();

  // 3. Progress, until the run ends or the task is cancelled.
  MetricsTail metrics(out_dir + "/metrics.jsonl");
  auto report = [&]() -> absl::Status {
    v1::ReportTrainingRequest request;
    request.set_lease_id(task.lease_id());
    for (std::string& line : metrics.NewLines()) request.add_metrics(std::move(line));
    if (absl::StatusOr<std::string> latest = trainer::LatestCheckpoint(out_dir); latest.ok()) {
      request.set_checkpoint(*latest);
    }
    request.set_out_dir(out_dir);
    grpc::ClientContext context;
    AddToken(&context, env.token);
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::ReportTrainingReply reply;
    const grpc::Status status = env.coordinator->ReportTraining(&context, request, &reply);
    if (!status.ok()) return FromGrpc(status, "reporting progress");
    if (!reply.held()) return absl::FailedPreconditionError("the lease was lost");
    return absl::OkStatus();
  };
  std::optional<int> exit_code;
  auto last_report = std::chrono::steady_clock::now();
  while (!(exit_code = (*child)->Poll())) {
    if (cancel.load()) {
      (*child)->Kill();
      return absl::CancelledError("the task was cancelled");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (std::chrono::steady_clock::now() - last_report < std::chrono::milliseconds(500)) continue;
    last_report = std::chrono::steady_clock::now();
    // An unreachable coordinator is not fatal (the lease decides); a lost lease is.
    if (absl::Status s = report(); absl::IsFailedPrecondition(s)) {
      (*child)->Kill();
      return s;
    }
  }
  if (*exit_code != 0) {
    const std::string message =
        absl::StrCat("winnow train exited with ", *exit_code, ":\n", TailOfFile(log_path, 5));
    return *exit_code == 2 ? absl::InvalidArgumentError(message) : absl::InternalError(message);
  }
  if (absl::Status s = report(); !s.ok()) return s;
  grpc::ClientContext context;
  AddToken(&context, env.token);
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  v1::CompleteTaskRequest request;
  request.set_lease_id(task.lease_id());
  v1::CompleteTaskReply reply;
  const grpc::Status completed = env.coordinator->CompleteTask(&context, request, &reply);
  if (!completed.ok()) return FromGrpc(completed, "completing the task");
  return absl::OkStatus();
}

}  // namespace winnow::services
