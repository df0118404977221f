#include "services/cluster/worker.h"

#include <tbb/global_control.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "filters/registry.h"
#include "pipeline/run/config.h"
#include "pipeline/run/task.h"
#include "proto/winnow.grpc.pb.h"
#include "services/cluster/auth.h"
#include "services/cluster/input_policy.h"
#include "services/cluster/remote_writer.h"
#include "services/cluster/training_task.h"

namespace winnow::services {
namespace {

// Errors no retry can fix: the task fails for good at once.
bool IsPermanent(const absl::Status& status) {
  return absl::IsNotFound(status) || absl::IsPermissionDenied(status) ||
         absl::IsInvalidArgument(status);
}

class WorkerLoop {
 public:
  WorkerLoop(const WorkerOptions& options, const std::atomic<bool>& stop)
      : options_(options), stop_(stop) {
    channel_ = MakeChannel(options.coordinator);
    coordinator_ = v1::Coordinator::NewStub(channel_);
    shard_ = v1::Shard::NewStub(channel_);
    if (options_.name.empty()) {
      char host[256] = {0};
      gethostname(host, sizeof(host) - 1);
      options_.name = absl::StrCat(host, ":", getpid());
    }
    if (options_.winnow_binary.empty()) {
      std::error_code ec;
      options_.winnow_binary = std::filesystem::read_symlink("/proc/self/exe", ec).string();
    }
    threads_ = options.threads > 0
                   ? options.threads
                   : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  }

  int Run() {
    tbb::global_control limit(tbb::global_control::max_allowed_parallelism,
                              static_cast<size_t>(threads_));
    int done = 0;
    double backoff = 0.2;
    bool reported_down = false;
    while (!stop_.load() && (options_.max_tasks < 0 || done < options_.max_tasks)) {
      grpc::ClientContext context;
      AddToken(&context, options_.token);
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
      v1::LeaseTaskRequest request;
      request.set_worker(options_.name);
      request.set_threads(threads_);
      v1::LeaseTaskReply reply;
      const grpc::Status status = coordinator_->LeaseTask(&context, request, &reply);
      if (!status.ok()) {
        if (status.error_code() == grpc::StatusCode::UNAUTHENTICATED) {
          Log(absl::StrCat("refused by the coordinator: ", status.error_message()));
          return done;
        }
        if (!reported_down)
          Log(absl::StrCat("coordinator unreachable (", status.error_message(), "); retrying"));
        reported_down = true;
        Sleep(backoff);
        backoff = std::min(5.0, backoff * 2);
        continue;
      }
      if (reported_down) Log("coordinator reachable again");
      reported_down = false;
      backoff = 0.2;
      if (!reply.has_task()) {
        Sleep(std::min(2.0, std::max(0.05, reply.retry_after_seconds())));
        continue;
      }
      if (RunTask(reply.task())) ++done;
    }
    return done;
  }

 private:
  void Log(const std::string& line) {
    if (options_.log) std::fprintf(stderr, "worker %s: %s\n", options_.name.c_str(), line.c_str());
  }

  void Sleep(double seconds) {
    const auto until = std::chrono::steady_clock::now() +
                       std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                           std::chrono::duration<double>(seconds));
    while (!stop_.load() && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }

  void Fail(const v1::Task& task, const absl::Status& error) {
    grpc::ClientContext context;
    AddToken(&context, options_.token);
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::FailTaskRequest request;
    request.set_lease_id(task.lease_id());
    request.set_error(std::string(error.message()));
    request.set_permanent(IsPermanent(error));
    v1::FailTaskReply reply;
    coordinator_->FailTask(&context, request, &reply).ok();  // lost: the lease expires instead
    Log(absl::StrCat(task.job_id(), " task ", task.index(), " failed: ", error.message()));
  }

  // Where a task's results go: its shard server, or the coordinator's own shard service.
  v1::Shard::Stub* ShardFor(const v1::Task& task) {
    if (task.shard_address().empty()) return shard_.get();
    auto& stub = shard_stubs_[task.shard_address()];
    if (stub == nullptr) stub = v1::Shard::NewStub(MakeChannel(task.shard_address()));
    return stub.get();
  }

  // The filter chain of a job's config, built once per config (loading models is slow).
  absl::StatusOr<std::shared_ptr<filters::FilterChain>> Chain(const pipeline::RunConfig& config,
                                                              const std::string& yaml) {
    auto it = chains_.find(yaml);
    if (it != chains_.end()) return it->second;
    absl::StatusOr<filters::FilterChain> chain =
        filters::BuildFilterChain(config.filters, {}, "the job's config");
    if (!chain.ok()) return absl::InvalidArgumentError(chain.status().message());
    if (chains_.size() > 4) chains_.clear();
    auto shared = std::make_shared<filters::FilterChain>(std::move(*chain));
    chains_[yaml] = shared;
    return shared;
  }

  // Runs `body` while a thread renews the lease; a lost lease (or a stop) sets `cancel`.
  void WithHeartbeats(const v1::Task& task, std::atomic<bool>& cancel,
                      const std::function<void()>& body) {
    std::mutex mutex;
    std::condition_variable ended_cv;
    bool ended = false;
    std::thread heartbeat([&] {
      const auto period = std::chrono::duration<double>(std::max(0.1, task.lease_seconds() / 4));
      std::unique_lock<std::mutex> lock(mutex);
      while (!ended_cv.wait_for(lock, period, [&] { return ended; })) {
        lock.unlock();
        grpc::ClientContext context;
        AddToken(&context, options_.token);
        context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
        v1::HeartbeatRequest request;
        request.set_worker(options_.name);
        request.add_lease_ids(task.lease_id());
        v1::HeartbeatReply reply;
        if (coordinator_->Heartbeat(&context, request, &reply).ok() &&
            reply.lost_lease_ids_size() > 0) {
          cancel = true;
        }
        if (stop_.load()) cancel = true;
        lock.lock();
      }
    });
    body();
    {
      std::lock_guard<std::mutex> lock(mutex);
      ended = true;
    }
    ended_cv.notify_all();
    heartbeat.join();
  }

  // True when the training finished and the coordinator knows.
  bool RunTraining(const v1::Task& task) {
    Log(absl::StrCat(task.job_id(), ": training (attempt ", task.attempt(), ")"));
    TrainingTaskEnv env;
    env.coordinator = coordinator_.get();
    env.shard = [this](const std::string& address) {
      v1::Task t;
      t.set_shard_address(address);
      return ShardFor(t);
    };
    env.token = options_.token;
    env.work_dir = options_.work_dir;
    env.winnow_binary = options_.winnow_binary;
    env.log = [this](const std::string& line) { Log(line); };
    std::atomic<bool> cancel{false};
    absl::Status status;
    WithHeartbeats(task, cancel, [&] { status = RunTrainingTask(task, env, cancel); });
    if (status.ok()) {
      Log(absl::StrCat(task.job_id(), ": training done"));
      return true;
    }
    if (absl::IsFailedPrecondition(status) || (cancel.load() && !stop_.load())) {
      Log(absl::StrCat(task.job_id(), ": lease lost; training stopped (its checkpoints stay)"));
      return false;
    }
    if (stop_.load()) {
      Fail(task, absl::UnavailableError("the worker was stopped"));
      return false;
    }
    Fail(task, status);
    return false;
  }

  // True when the task's results were committed.
  bool RunTask(const v1::Task& task) {
    if (!task.train_config_yaml().empty()) return RunTraining(task);
    const auto start = std::chrono::steady_clock::now();
    Log(absl::StrCat(task.job_id(), " task ", task.index(), ": ", task.input(), " (attempt ",
                     task.attempt(), ")"));
    absl::StatusOr<pipeline::RunConfig> config =
        pipeline::ParseConfig(task.config_yaml(), "the job's config");
    if (!config.ok()) {
      Fail(task, absl::InvalidArgumentError(config.status().message()));
      return false;
    }
    const std::vector<std::string> roots(task.allowed_roots().begin(), task.allowed_roots().end());
    if (absl::Status allowed = CheckInputAllowed(task.input(), roots); !allowed.ok()) {
      Fail(task, allowed);
      return false;
    }
    absl::StatusOr<std::shared_ptr<filters::FilterChain>> chain =
        Chain(*config, task.config_yaml());
    if (!chain.ok()) {
      Fail(task, chain.status());
      return false;
    }

    // Heartbeats until the task ends; a lost lease cancels the task.
    std::atomic<bool> cancel{false};
    pipeline::InputFile input{task.input(), task.snapshot()};
    pipeline::Stats stats;
    absl::Status status;
    WithHeartbeats(task, cancel, [&] {
      RemoteInputWriter writer(ShardFor(task), options_.token, task.lease_id(), task.snapshot(),
                               task.input(), config->store.max_dropped_examples_per_reason,
                               &cancel);
      status = pipeline::ProcessInput(input, *config, (*chain)->filters, threads_, &writer, &stats,
                                      {}, &cancel);
      if (status.ok() && !cancel.load()) {
        status = writer.Commit(stats);
      } else {
        writer.Abort();
      }
    });

    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (status.ok() && !cancel.load()) {
      Log(absl::StrCat(task.job_id(), " task ", task.index(), " done: ", stats.Count("write/kept"),
                       " documents in ", absl::StrFormat("%.1f", seconds), " s"));
      return true;
    }
    if (absl::IsFailedPrecondition(status) || (cancel.load() && !stop_.load())) {
      Log(absl::StrCat(task.job_id(), " task ", task.index(),
                       ": lease lost; results dropped (another worker redoes it)"));
      return false;
    }
    if (stop_.load()) {
      Log(absl::StrCat(task.job_id(), " task ", task.index(), ": stopping; task given back"));
      Fail(task, absl::UnavailableError("the worker was stopped"));
      return false;
    }
    Fail(task, status);
    return false;
  }

  WorkerOptions options_;
  const std::atomic<bool>& stop_;
  int threads_ = 1;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Coordinator::Stub> coordinator_;
  std::unique_ptr<v1::Shard::Stub> shard_;
  std::map<std::string, std::shared_ptr<filters::FilterChain>> chains_;
  std::map<std::string, std::unique_ptr<v1::Shard::Stub>> shard_stubs_;
};

}  // namespace

int RunWorker(const WorkerOptions& options, const std::atomic<bool>& stop) {
  WorkerLoop loop(options, stop);
  return loop.Run();
}

}  // namespace winnow::services
