// `winnow submit --coordinator HOST:PORT (--snapshot NAME | INPUT...) [--config FILE] [--wait]`,
// `winnow submit --coordinator HOST:PORT --train FILE [--snapshot NAME] [--wait]` and
// `winnow status --coordinator HOST:PORT [JOB [--tasks] [--metrics]]`: a cluster's jobs from the
// command line.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "pipeline/run/config.h"
#include "proto/winnow.grpc.pb.h"
#include "services/cluster/auth.h"
#include "services/cluster/job_report.h"
#include "services/cluster/training_job_config.h"
#include "services/commands.h"

namespace winnow::services {
namespace {

struct ClientFlags {
  std::string coordinator = "127.0.0.1:7070";
  std::string token_file;
  std::vector<std::string> inputs;
  std::string snapshot, config_path, name, job, train_path;
  int64_t limit = 0;
  bool wait = false, json = false, tasks = false, metrics = false;
};

int ExitFor(const grpc::Status& status) {
  switch (status.error_code()) {
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::PERMISSION_DENIED:
    case grpc::StatusCode::UNAUTHENTICATED:
    case grpc::StatusCode::NOT_FOUND:
    case grpc::StatusCode::FAILED_PRECONDITION:
      return kExitUsage;
    default:
      return kExitIoError;
  }
}

bool Token(const ClientFlags& flags, const char* who, std::string* token) {
  if (flags.token_file.empty()) return true;
  absl::StatusOr<std::string> read = ReadTokenFile(flags.token_file);
  if (!read.ok()) {
    std::fprintf(stderr, "winnow %s: %s\n", who, std::string(read.status().message()).c_str());
    return false;
  }
  *token = *read;
  return true;
}

grpc::Status GetJob(v1::Coordinator::Stub& stub, const std::string& token, const std::string& id,
                    bool tasks, v1::GetJobReply* reply, bool metrics = false) {
  grpc::ClientContext context;
  AddToken(&context, token);
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  v1::GetJobRequest request;
  request.set_job_id(id);
  request.set_with_tasks(tasks);
  request.set_with_metrics(metrics);
  return stub.GetJob(&context, request, reply);
}

// Follows a job until it ends: a line whenever it changes. Exit 0 only if it succeeded.
int WaitFor(v1::Coordinator::Stub& stub, const std::string& token, const std::string& job_id,
            const char* who) {
  std::string last;
  int unreachable = 0;
  for (;;) {
    v1::GetJobReply job;
    const grpc::Status status = GetJob(stub, token, job_id, false, &job);
    if (!status.ok()) {
      // A coordinator restart is survivable: keep asking for a while.
      if (status.error_code() == grpc::StatusCode::UNAVAILABLE && ++unreachable < 600) {
        std::this_thread::sleep_for(std::chrono::seconds(1));
        continue;
      }
      std::fprintf(stderr, "winnow %s: %s\n", who, status.error_message().c_str());
      return ExitFor(status);
    }
    unreachable = 0;
    const std::string line = JobLine(job.job());
    if (line != last) std::fprintf(stderr, "%s\n", line.c_str());
    last = line;
    if (job.job().state() == v1::JOB_SUCCEEDED) return kExitOk;
    if (job.job().state() == v1::JOB_FAILED || job.job().state() == v1::JOB_CANCELLED) {
      std::fprintf(stderr, "%s", JobDetails(job).c_str());
      return kExitIoError;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

int Submit(const std::string& coordinator, const std::string& token,
           const v1::SubmitJobRequest& request, bool wait, const char* who) {
  auto stub = v1::Coordinator::NewStub(MakeChannel(coordinator));
  v1::SubmitJobReply reply;
  {
    grpc::ClientContext context;
    AddToken(&context, token);
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
    const grpc::Status status = stub->SubmitJob(&context, request, &reply);
    if (!status.ok()) {
      std::fprintf(stderr, "winnow %s: %s\n", who, status.error_message().c_str());
      return ExitFor(status);
    }
  }
  std::printf("%s\n", reply.job_id().c_str());
  std::fflush(stdout);
  std::fprintf(stderr, "winnow %s: %s: %lld task(s)\n", who, reply.job_id().c_str(),
               static_cast<long long>(reply.tasks()));
  return wait ? WaitFor(*stub, token, reply.job_id(), who) : kExitOk;
}

int SubmitMain(const ClientFlags& flags) {
  if (!flags.train_path.empty()) {
    if (!flags.inputs.empty() || !flags.config_path.empty() || flags.limit != 0) {
      std::fprintf(stderr,
                   "winnow submit: --train trains on curated documents (--snapshot picks them); "
                   "INPUT, --config and --limit belong to curation jobs\n");
      return kExitUsage;
    }
    return SubmitTraining({flags.coordinator, flags.token_file, flags.train_path, flags.snapshot,
                           flags.name, flags.wait});
  }
  std::string token;
  if (!Token(flags, "submit", &token)) return kExitUsage;
  if (flags.inputs.empty() && flags.snapshot.empty()) {
    std::fprintf(stderr, "winnow submit: give INPUT files, folders, URLs or --snapshot NAME\n");
    return kExitUsage;
  }
  v1::SubmitJobRequest request;
  if (!flags.config_path.empty()) {
    std::ifstream in(flags.config_path);
    if (!in) {
      std::fprintf(stderr, "winnow submit: cannot read config file %s\n",
                   flags.config_path.c_str());
      return kExitUsage;
    }
    std::stringstream text;
    text << in.rdbuf();
    // Checked here too, so a typo is named with the file before anything is sent.
    absl::StatusOr<pipeline::RunConfig> config =
        pipeline::ParseConfig(text.str(), flags.config_path);
    if (!config.ok()) {
      std::fprintf(stderr, "winnow submit: %s\n", std::string(config.status().message()).c_str());
      return kExitUsage;
    }
    request.set_config_yaml(text.str());
  }
  for (const std::string& input : flags.inputs) {
    // Local paths travel absolute: the coordinator and workers do not share our directory.
    const bool url = absl::StrContains(input, "://");
    request.add_inputs(url ? input : std::filesystem::absolute(input).lexically_normal().string());
  }
  request.set_snapshot(flags.snapshot);
  request.set_limit(flags.limit);
  request.set_name(flags.name);
  return Submit(flags.coordinator, token, request, flags.wait, "submit");
}

int StatusMain(const ClientFlags& flags) {
  std::string token;
  if (!Token(flags, "status", &token)) return kExitUsage;
  auto stub = v1::Coordinator::NewStub(MakeChannel(flags.coordinator));
  if (!flags.job.empty()) {
    v1::GetJobReply job;
    const grpc::Status status = GetJob(*stub, token, flags.job, flags.tasks, &job, flags.metrics);
    if (!status.ok()) {
      std::fprintf(stderr, "winnow status: %s\n", status.error_message().c_str());
      return ExitFor(status);
    }
    std::printf("%s", JobDetails(job).c_str());
    if (flags.metrics) {
      for (const std::string& line : job.metrics()) std::printf("%s\n", line.c_str());
    }
    return kExitOk;
  }
  grpc::ClientContext context;
  AddToken(&context, token);
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  v1::ListJobsReply jobs;
  const grpc::Status status = stub->ListJobs(&context, v1::ListJobsRequest(), &jobs);
  if (!status.ok()) {
    std::fprintf(stderr, "winnow status: %s\n", status.error_message().c_str());
    return ExitFor(status);
  }
  if (jobs.jobs().empty()) std::printf("no jobs\n");
  for (const v1::JobStatus& job : jobs.jobs()) std::printf("%s\n", JobLine(job).c_str());
  return kExitOk;
}

}  // namespace

int SubmitTraining(const TrainingSubmission& submission) {
  ClientFlags flags;
  flags.token_file = submission.token_file;
  std::string token;
  if (!Token(flags, "submit", &token)) return kExitUsage;
  std::ifstream in(submission.config_path);
  if (!in) {
    std::fprintf(stderr, "winnow submit: cannot read training config %s\n",
                 submission.config_path.c_str());
    return kExitUsage;
  }
  std::stringstream text;
  text << in.rdbuf();
  // Checked here too, so a typo is named with the file before anything is sent.
  if (absl::StatusOr<trainer::TrainConfig> config = CheckTrainingJobConfig(text.str());
      !config.ok()) {
    std::fprintf(stderr, "winnow submit: %s: %s\n", submission.config_path.c_str(),
                 std::string(config.status().message()).c_str());
    return kExitUsage;
  }
  v1::SubmitJobRequest request;
  request.set_train_config_yaml(text.str());
  request.set_snapshot(submission.snapshot);
  request.set_name(submission.name);
  return Submit(submission.coordinator, token, request, submission.wait, "submit");
}

void AddSubmitCommand(CLI::App& app, CommandFn* run) {
  auto flags = std::make_shared<ClientFlags>();
  CLI::App* sub = app.add_subcommand("submit", "submit a job to a coordinator");
  sub->add_option("--coordinator", flags->coordinator, "HOST:PORT")->required();
  sub->add_option("inputs", flags->inputs, "files, folders, URLs or paths files");
  sub->add_option("--snapshot", flags->snapshot, "a Common Crawl snapshot (or latest)");
  sub->add_option("--limit", flags->limit, "at most this many input files");
  sub->add_option("--config", flags->config_path, "YAML config of the run");
  sub->add_option("--train", flags->train_path,
                  "a training config (YAML, as winnow train reads, without data_dir/shards/out): "
                  "train on the kept documents of --snapshot (default: all)");
  sub->add_option("--name", flags->name, "shown in status");
  sub->add_option("--token-file", flags->token_file, "bearer token of the coordinator");
  sub->add_flag("--wait", flags->wait, "block until the job ends; exit 0 only if it succeeded");
  sub->callback([flags, run] { *run = [flags] { return SubmitMain(*flags); }; });
}

int CancelMain(const ClientFlags& flags) {
  std::string token;
  if (!Token(flags, "cancel", &token)) return kExitUsage;
  auto stub = v1::Coordinator::NewStub(MakeChannel(flags.coordinator));
  grpc::ClientContext context;
  AddToken(&context, token);
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  v1::CancelJobRequest request;
  request.set_job_id(flags.job);
  v1::CancelJobReply reply;
  const grpc::Status status = stub->CancelJob(&context, request, &reply);
  if (!status.ok()) {
    std::fprintf(stderr, "winnow cancel: %s\n", status.error_message().c_str());
    return ExitFor(status);
  }
  std::printf("%s cancelled: %lld task(s) stopped\n", flags.job.c_str(),
              static_cast<long long>(reply.tasks_stopped()));
  return kExitOk;
}

void AddCancelCommand(CLI::App& app, CommandFn* run) {
  auto flags = std::make_shared<ClientFlags>();
  CLI::App* sub = app.add_subcommand(
      "cancel", "stop a running job (a training run keeps its checkpoints; stored results stay)");
  sub->add_option("--coordinator", flags->coordinator, "HOST:PORT")->required();
  sub->add_option("job", flags->job, "the job id")->required();
  sub->add_option("--token-file", flags->token_file, "bearer token of the coordinator");
  sub->callback([flags, run] { *run = [flags] { return CancelMain(*flags); }; });
}

void AddStatusCommand(CLI::App& app, CommandFn* run) {
  auto flags = std::make_shared<ClientFlags>();
  CLI::App* sub = app.add_subcommand("status", "jobs of a coordinator, or one job in detail");
  sub->add_option("--coordinator", flags->coordinator, "HOST:PORT")->required();
  sub->add_option("job", flags->job, "a job id: its tasks, failures and dedup result");
  sub->add_flag("--tasks", flags->tasks, "with JOB: every task");
  sub->add_flag("--metrics", flags->metrics,
                "with JOB: a training job's metrics, one JSON line per step");
  sub->add_option("--token-file", flags->token_file, "bearer token of the coordinator");
  sub->callback([flags, run] { *run = [flags] { return StatusMain(*flags); }; });
}

}  // namespace winnow::services
